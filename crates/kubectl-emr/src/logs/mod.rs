//! `kubectl emr logs`: reads a job run's container logs from CloudWatch Logs or S3.

mod cloudwatch;
mod s3;
pub mod target;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use crate::aws::Aws;
use crate::error::Error;
use target::{Container, Location};

/// Which of a container's two streams to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Stream {
    Stdout,
    Stderr,
    All,
}

impl Stream {
    fn wants(self, name: &str) -> bool {
        let file = name.rsplit('/').next().unwrap_or(name);
        let file = file.strip_suffix(".gz").unwrap_or(file);
        match self {
            Self::Stdout => file == "stdout",
            Self::Stderr => file == "stderr",
            Self::All => file == "stdout" || file == "stderr",
        }
    }
}

/// Reads what is new in the logs of one container on every `poll`.
pub struct Reader<'a> {
    aws: &'a Aws,
    location: Location,
    container: Container,
    stream: Stream,
    /// CloudWatch: the forward token reached in each stream.
    tokens: BTreeMap<String, Option<String>>,
    /// S3: the objects already printed (EMR writes each object whole).
    printed: BTreeSet<String>,
    last_header: Option<String>,
}

impl<'a> Reader<'a> {
    pub fn new(aws: &'a Aws, location: Location, container: Container, stream: Stream) -> Self {
        Self {
            aws,
            location,
            container,
            stream,
            tokens: BTreeMap::new(),
            printed: BTreeSet::new(),
            last_header: None,
        }
    }

    /// Whether any log stream or object of the container was found so far.
    pub fn found_any(&self) -> bool {
        !self.tokens.is_empty() || !self.printed.is_empty()
    }

    /// Prints what is new; a header names the stream or object when there are several.
    pub async fn poll(&mut self, out: &mut impl Write) -> Result<(), Error> {
        match self.location.clone() {
            Location::CloudWatch { group, prefix } => {
                let streams = cloudwatch::list_streams(self.aws, &group, &prefix).await?;
                let wanted: Vec<String> = streams
                    .into_iter()
                    .filter(|s| self.container.matches(s) && self.stream.wants(s))
                    .collect();
                for name in wanted {
                    let token = self.tokens.get(&name).cloned().flatten();
                    let (lines, next) =
                        cloudwatch::read_stream(self.aws, &group, &name, token).await?;
                    self.tokens.insert(name.clone(), next);
                    self.print(out, &name, &lines)?;
                }
            }
            Location::S3 { bucket, prefix } => {
                let keys = s3::list_keys(self.aws, &bucket, &prefix).await?;
                for key in keys {
                    if !self.container.matches(&key)
                        || !self.stream.wants(&key)
                        || self.printed.contains(&key)
                    {
                        continue;
                    }
                    let lines = s3::read_object(self.aws, &bucket, &key).await?;
                    self.printed.insert(key.clone());
                    self.print(out, &key, &lines)?;
                }
            }
        }
        out.flush()?;
        Ok(())
    }

    fn print(&mut self, out: &mut impl Write, name: &str, lines: &[String]) -> Result<(), Error> {
        if lines.is_empty() {
            return Ok(());
        }
        if self.stream == Stream::All && self.last_header.as_deref() != Some(name) {
            writeln!(out, "==> {name} <==")?;
            self.last_header = Some(name.to_owned());
        }
        for line in lines {
            writeln!(out, "{line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_chosen_by_file_name_with_or_without_gz() {
        let cw = "pi/vc/jobs/jr/containers/app/spark-jr-driver/stdout";
        let s3 = "logs/vc/jobs/jr/containers/app/spark-jr-driver/stderr.gz";
        assert!(Stream::Stdout.wants(cw) && !Stream::Stdout.wants(s3));
        assert!(Stream::Stderr.wants(s3) && !Stream::Stderr.wants(cw));
        assert!(Stream::All.wants(cw) && Stream::All.wants(s3));
        // Rotated or other files of a pod are not one of the two streams.
        assert!(!Stream::All.wants("logs/vc/jobs/jr/containers/app/spark-jr-driver/stdout-1.gz"));
    }
}
