//! Which job run's logs, where, and which container: pure logic over the SparkJobRun's status.
//!
//! EMR on EKS lays a job run's container logs out as
//! `<prefix>/<virtualClusterId>/jobs/<jobRunId>/containers/<sparkAppId>/<pod>/{stdout,stderr}`
//! (CloudWatch streams; S3 objects end in `.gz`). The driver pod is `spark-<jobRunId>-driver`,
//! executor pods end in `-exec-<N>`.

use emr_api::SparkJobRun;
use emr_api::spark_job_run::{AttemptRecord, LogLocations};

use crate::error::Error;

/// The container whose logs are wanted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Container {
    Driver,
    Executor(String),
}

impl Container {
    /// Whether a CloudWatch stream or S3 key (without its `stdout`/`stderr` tail) is this
    /// container's: its pod is the second-to-last path segment.
    pub fn matches(&self, name: &str) -> bool {
        let mut segments = name.rsplit('/');
        let (Some(_file), Some(pod)) = (segments.next(), segments.next()) else {
            return false;
        };
        match self {
            Self::Driver => pod.ends_with("-driver"),
            Self::Executor(id) => pod.ends_with(&format!("-exec-{id}")),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Driver => "driver".into(),
            Self::Executor(id) => format!("executor {id}"),
        }
    }
}

/// Where the logs are read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    Cloudwatch,
    S3,
}

/// One job run's log locations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub job_run_id: String,
    pub attempt: i32,
    /// EMR's state of that job run, when known.
    pub state: Option<String>,
    pub location: Location,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// Log group and the stream prefix of the run's containers (ending in `/containers/`).
    CloudWatch { group: String, prefix: String },
    /// Bucket and key prefix of the run's containers (ending in `/containers/`).
    S3 { bucket: String, prefix: String },
}

impl Location {
    pub fn describe(&self) -> String {
        match self {
            Self::CloudWatch { group, prefix } => {
                format!("CloudWatch log group {group}, streams {prefix}")
            }
            Self::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}"),
        }
    }
}

/// The job run of `attempt` (default: the current one) and where its logs are.
pub fn resolve(
    job: &SparkJobRun,
    attempt: Option<i32>,
    source: Option<Source>,
) -> Result<Target, Error> {
    let name = job.metadata.name.clone().unwrap_or_default();
    let status = job.status.clone().unwrap_or_default();
    let Some(current_run) = status.job_run_id.clone() else {
        let why = status
            .message
            .clone()
            .or(status.state.clone())
            .unwrap_or_else(|| "the operator has not reported on it".into());
        return Err(Error::NotStarted { name, why });
    };
    let (job_run_id, number, state) = match attempt {
        None => (current_run.clone(), status.attempt, status.state.clone()),
        Some(n) => {
            let record = find_attempt(&status.attempts, n).ok_or_else(|| Error::NoSuchAttempt {
                name: name.clone(),
                attempt: n,
                recorded: recorded(&status.attempts),
            })?;
            let id = record.job_run_id.clone().ok_or_else(|| Error::NotStarted {
                name: name.clone(),
                why: format!("attempt {n} never got a job run id"),
            })?;
            (id, n, record.state.clone())
        }
    };
    let logs = status
        .logs
        .clone()
        .ok_or_else(|| Error::NoLogConfiguration { name: name.clone() })?;
    let location = location(&logs, &current_run, &job_run_id, source).ok_or_else(|| {
        Error::NoSuchLogSource {
            name: name.clone(),
            source_kind: match source {
                Some(Source::S3) => "S3",
                _ => "CloudWatch",
            },
            available: available(&logs),
        }
    })?;
    Ok(Target {
        job_run_id,
        attempt: number,
        state,
        location,
    })
}

fn find_attempt(attempts: &[AttemptRecord], n: i32) -> Option<&AttemptRecord> {
    attempts.iter().find(|a| a.attempt == n)
}

fn recorded(attempts: &[AttemptRecord]) -> String {
    if attempts.is_empty() {
        return "none".into();
    }
    let numbers: Vec<String> = attempts.iter().map(|a| a.attempt.to_string()).collect();
    format!("{}; only the last 10 are kept", numbers.join(", "))
}

fn available(logs: &LogLocations) -> String {
    let mut kinds = Vec::new();
    if logs.cloud_watch_log_group.is_some() {
        kinds.push("cloudwatch");
    }
    if logs.s3_prefix.is_some() {
        kinds.push("s3");
    }
    kinds.join(", ")
}

/// The locations are recorded for the current job run; another attempt's differ only in the
/// job run id, which ends the recorded prefix.
fn location(
    logs: &LogLocations,
    current_run: &str,
    run: &str,
    source: Option<Source>,
) -> Option<Location> {
    let swap = |prefix: &str| -> Option<String> {
        let trimmed = prefix.trim_end_matches('/');
        let base = trimmed.strip_suffix(current_run)?;
        Some(format!("{base}{run}/containers/"))
    };
    let cloudwatch = || {
        Some(Location::CloudWatch {
            group: logs.cloud_watch_log_group.clone()?,
            prefix: swap(logs.cloud_watch_log_stream_prefix.as_deref()?)?,
        })
    };
    let s3 = || {
        let uri = logs.s3_prefix.as_deref()?.strip_prefix("s3://")?;
        let (bucket, key) = uri.split_once('/')?;
        Some(Location::S3 {
            bucket: bucket.to_owned(),
            prefix: swap(key)?,
        })
    };
    match source {
        Some(Source::Cloudwatch) => cloudwatch(),
        Some(Source::S3) => s3(),
        None => cloudwatch().or_else(s3),
    }
}

/// Whether EMR is done with the job run (no more logs will come).
pub fn is_final(state: Option<&str>) -> bool {
    matches!(state, Some("COMPLETED" | "FAILED" | "CANCELLED"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn job(status: &str) -> SparkJobRun {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
            "metadata": {"name": "pi", "namespace": "team-a"},
            "spec": {"virtualCluster": {"name": "vc"}, "executionRoleArn": "arn:aws:iam::123456789012:role/r"},
            "status": serde_json::from_str::<serde_json::Value>(status).unwrap(),
        }))
        .unwrap()
    }

    const BOTH: &str = r#"{"jobRunId": "jr3", "attempt": 3, "state": "RUNNING",
        "attempts": [{"attempt": 2, "jobRunId": "jr2", "state": "FAILED"}, {"attempt": 3, "jobRunId": "jr3", "state": "RUNNING"}],
        "logs": {"cloudWatchLogGroup": "/emr/a", "cloudWatchLogStreamPrefix": "pi/vc1/jobs/jr3", "s3Prefix": "s3://b/logs/vc1/jobs/jr3/"}}"#;

    #[test]
    fn current_attempt_prefers_cloudwatch_and_another_attempt_swaps_the_run_id() {
        let t = resolve(&job(BOTH), None, None).unwrap();
        assert_eq!(
            t.location,
            Location::CloudWatch {
                group: "/emr/a".into(),
                prefix: "pi/vc1/jobs/jr3/containers/".into()
            }
        );
        let t = resolve(&job(BOTH), Some(2), Some(Source::S3)).unwrap();
        assert_eq!(
            (t.job_run_id.as_str(), t.state.as_deref()),
            ("jr2", Some("FAILED"))
        );
        assert_eq!(
            t.location,
            Location::S3 {
                bucket: "b".into(),
                prefix: "logs/vc1/jobs/jr2/containers/".into()
            }
        );
    }

    #[test]
    fn what_is_missing_is_named() {
        let err = resolve(
            &job(r#"{"state": "PENDING", "message": "waiting for the VirtualCluster"}"#),
            None,
            None,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("has not started a job run yet (waiting for the VirtualCluster)"),
            "{err}"
        );
        let err = resolve(&job(r#"{"jobRunId": "jr1", "attempt": 1}"#), None, None).unwrap_err();
        assert!(err.to_string().contains("sends its logs nowhere"), "{err}");
        let err = resolve(&job(BOTH), Some(1), None).unwrap_err();
        assert!(
            err.to_string()
                .contains("attempt 1 of SparkJobRun pi is not recorded (recorded attempts: 2, 3"),
            "{err}"
        );
        let only_s3 =
            r#"{"jobRunId": "jr1", "attempt": 1, "logs": {"s3Prefix": "s3://b/l/vc/jobs/jr1/"}}"#;
        let err = resolve(&job(only_s3), None, Some(Source::Cloudwatch)).unwrap_err();
        assert!(
            err.to_string()
                .contains("has no CloudWatch log destination (it has: s3)"),
            "{err}"
        );
    }

    #[test]
    fn containers_match_by_pod_name() {
        let driver = "pi/vc/jobs/jr/containers/spark-abc/spark-jr-driver/stderr";
        let exec = "pi/vc/jobs/jr/containers/spark-abc/pythonpi-0123-exec-12/stdout.gz";
        assert!(Container::Driver.matches(driver) && !Container::Driver.matches(exec));
        assert!(Container::Executor("12".into()).matches(exec));
        assert!(!Container::Executor("1".into()).matches(exec));
        assert!(!Container::Driver.matches("stderr"));
    }
}
