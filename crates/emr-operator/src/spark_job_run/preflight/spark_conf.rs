//! The Spark properties a job run will have, as EMR resolves them: the `spark-defaults`
//! classification is written to `spark-defaults.conf`, then `sparkSubmitParameters` (or
//! `sparkSqlParameters`) go to spark-submit, where `--conf` overrides the file and the dedicated
//! options (`--executor-cores` ...) override `--conf`.
//!
//! Not known to the operator, so not read: `--properties-file`, the release's own
//! spark-defaults (EMR's image values), a job template's parameters.

use std::collections::BTreeMap;

use emr_api::SparkJobRunSpec;

/// spark-submit options that set a property, and the property they set.
const DEDICATED_OPTIONS: [(&str, &str); 5] = [
    ("--driver-memory", "spark.driver.memory"),
    ("--driver-cores", "spark.driver.cores"),
    ("--executor-memory", "spark.executor.memory"),
    ("--executor-cores", "spark.executor.cores"),
    ("--num-executors", "spark.executor.instances"),
];

/// spark-submit options that take no value.
const FLAGS: [&str; 6] = [
    "--verbose",
    "-v",
    "--supervise",
    "--help",
    "-h",
    "--version",
];

/// The resolved properties, and whether the application runs Python or R (Spark gives those
/// a larger memory overhead by default).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SparkConf {
    properties: BTreeMap<String, String>,
    pub non_jvm: bool,
}

impl SparkConf {
    /// The properties of a job run's spec.
    pub fn of(spec: &SparkJobRunSpec) -> Self {
        let mut properties = BTreeMap::new();
        let classifications = spec
            .configuration_overrides
            .iter()
            .flat_map(|o| &o.application_configuration)
            .filter(|c| c.classification == "spark-defaults");
        for c in classifications {
            properties.extend(c.properties.clone());
        }
        let driver = spec.job_driver.as_ref();
        let submit = driver.and_then(|d| d.spark_submit_job_driver.as_ref());
        let sql = driver.and_then(|d| d.spark_sql_job_driver.as_ref());
        let parameters = submit
            .and_then(|s| s.spark_submit_parameters.as_deref())
            .or_else(|| sql.and_then(|s| s.spark_sql_parameters.as_deref()))
            .unwrap_or_default();
        apply_parameters(&mut properties, parameters);
        let non_jvm = submit.is_some_and(|s| {
            let entry = s.entry_point.to_ascii_lowercase();
            entry.ends_with(".py") || entry.ends_with(".r")
        });
        Self {
            properties,
            non_jvm,
        }
    }

    /// From properties directly (tests).
    #[cfg(test)]
    pub fn from_pairs(pairs: &[(&str, &str)], non_jvm: bool) -> Self {
        Self {
            properties: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            non_jvm,
        }
    }

    /// A property's value, trimmed as Spark trims it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(|v| v.trim())
    }
}

/// Applies spark-submit's parameters over the file's properties.
fn apply_parameters(properties: &mut BTreeMap<String, String>, parameters: &str) {
    let words = split_words(parameters);
    let mut dedicated = Vec::new();
    let mut i = 0;
    while let Some(word) = words.get(i) {
        let next = words.get(i.saturating_add(1));
        let (option, inline) = match word.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (o, Some(v.to_owned())),
            _ => (word.as_str(), None),
        };
        let takes_value = inline.is_none();
        let value = inline.or_else(|| next.cloned());
        match option {
            "--conf" | "-c" => {
                if let Some((key, v)) = value.as_deref().and_then(|kv| kv.split_once('=')) {
                    properties.insert(key.trim().to_owned(), v.to_owned());
                }
            }
            _ => {
                if let Some((_, key)) = DEDICATED_OPTIONS.iter().find(|(o, _)| *o == option)
                    && let Some(v) = value
                {
                    dedicated.push((*key, v));
                }
            }
        }
        let consumed =
            if takes_value && option.starts_with('-') && !FLAGS.contains(&option) && next.is_some()
            {
                2
            } else {
                1
            };
        i = i.saturating_add(consumed);
    }
    for (key, value) in dedicated {
        properties.insert(key.to_owned(), value);
    }
}

/// Splits like a shell: whitespace separates words, single and double quotes group them (EMR
/// hands the string to spark-submit through a shell).
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => current.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            None => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn spec(yaml: &str) -> SparkJobRunSpec {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn parameters_override_spark_defaults_and_options_override_conf() {
        let conf = SparkConf::of(&spec(
            r#"
virtualCluster: {name: vc}
executionRoleArn: arn:aws:iam::123456789012:role/r
releaseLabel: emr-7.2.0-latest
jobDriver:
  sparkSubmitJobDriver:
    entryPoint: s3://b/job.py
    sparkSubmitParameters: --executor-cores 3 --conf spark.executor.cores=5 --conf "spark.driver.memory=2g" --conf=spark.executor.instances=7 --num-executors=9
configurationOverrides:
  applicationConfiguration:
    - classification: spark-defaults
      properties: {spark.executor.cores: "1", spark.executor.memory: 3G}
    - classification: spark-env
      properties: {spark.executor.memory: 99G}
"#,
        ));
        assert_eq!(conf.get("spark.executor.cores"), Some("3"));
        assert_eq!(conf.get("spark.executor.memory"), Some("3G"));
        assert_eq!(conf.get("spark.driver.memory"), Some("2g"));
        assert_eq!(conf.get("spark.executor.instances"), Some("9"));
        assert!(conf.non_jvm);
    }

    #[test]
    fn sql_parameters_are_read_and_sql_runs_on_the_jvm() {
        let conf = SparkConf::of(&spec(
            r#"
virtualCluster: {name: vc}
executionRoleArn: arn:aws:iam::123456789012:role/r
releaseLabel: emr-7.2.0-latest
jobDriver:
  sparkSqlJobDriver:
    entryPoint: s3://b/q.sql
    sparkSqlParameters: --conf spark.executor.cores=2
"#,
        ));
        assert_eq!(conf.get("spark.executor.cores"), Some("2"));
        assert!(!conf.non_jvm);
    }

    #[test]
    fn odd_parameters_are_read_without_panicking() {
        let mut p = BTreeMap::new();
        for text in [
            "--conf",
            "--conf =",
            "--conf spark.x",
            "\"unterminated --conf a=b",
            "--executor-cores",
            "-- --conf=",
            "--conf a=b=c",
            "'' \"\" --conf ''",
            "--verbose --conf v=1",
        ] {
            apply_parameters(&mut p, text);
        }
        assert_eq!(p.get("a").map(String::as_str), Some("b=c"));
        assert_eq!(
            p.get("v").map(String::as_str),
            Some("1"),
            "a flag takes no value"
        );
    }
}
