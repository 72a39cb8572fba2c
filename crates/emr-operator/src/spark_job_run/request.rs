//! The StartJobRun request a SparkJobRun stands for, built with the SDK's own types so that what
//! is unit-tested here is exactly what `emr_aws` sends (it forwards the input unchanged).
//!
//! Empty lists and maps are left out rather than sent empty: EMR treats both the same, and the
//! request the emulator records then reads like the manifest.

use std::collections::{BTreeMap, HashMap};

use emr_api::SparkJobRun;
use emr_api::labels::{TAG_OBJECT, TAG_UID};
use emr_api::patterns::MAX_TAG_VALUE;
use emr_api::spark_job_run::{
    ApplicationConfiguration, ConfigurationOverrides, JobDriver, LeafConfiguration,
    MonitoringConfiguration, NestedConfiguration, PersistentAppUi,
};
use emr_aws::aws_sdk_emrcontainers::error::BuildError;
use emr_aws::aws_sdk_emrcontainers::operation::start_job_run::StartJobRunInput;
use emr_aws::aws_sdk_emrcontainers::types as sdk;
use kube::ResourceExt;

/// How many tags the operator adds to every job run ([`TAG_OBJECT`], [`TAG_UID`]); the user's
/// tags must leave room for them under EMR's limit.
pub use emr_api::check::OPERATOR_TAG_COUNT;

/// EMR's limit on a client token's length.
const MAX_CLIENT_TOKEN: usize = 64;

/// Why a request could not be built. Cannot happen for an object the apiserver validated; kept
/// as an error rather than a panic all the same.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("the object has no metadata.uid, so no idempotency token can be derived")]
    MissingUid,
    #[error("{0}")]
    Build(#[from] BuildError),
}

/// The idempotency token of one attempt: the object's UID and the attempt number. Starting the
/// same attempt again (after a crash, a lost answer or a stale cache) returns the run EMR
/// already started instead of starting a second one. UIDs are 36 characters, so the token
/// stays within EMR's 64; an unusually long UID is cut from the front, keeping the attempt.
pub fn client_token(uid: &str, attempt: i32) -> String {
    let suffix = format!("-{attempt}");
    let keep = MAX_CLIENT_TOKEN.saturating_sub(suffix.len());
    let uid: String = uid.chars().take(keep).collect();
    format!("{uid}{suffix}")
}

/// The tags the operator puts on every job run, naming the object that started it.
pub fn operator_tags(job: &SparkJobRun) -> [(String, String); OPERATOR_TAG_COUNT] {
    let object = format!("{}/{}", job.namespace().unwrap_or_default(), job.name_any());
    [
        (
            TAG_OBJECT.to_owned(),
            object.chars().take(MAX_TAG_VALUE).collect(),
        ),
        (TAG_UID.to_owned(), job.uid().unwrap_or_default()),
    ]
}

/// The StartJobRun request for `attempt` of `job` in the virtual cluster `virtual_cluster_id`.
pub fn start_job_run_input(
    job: &SparkJobRun,
    virtual_cluster_id: &str,
    attempt: i32,
) -> Result<StartJobRunInput, RequestError> {
    let uid = job.uid().ok_or(RequestError::MissingUid)?;
    let spec = &job.spec;
    let mut tags: HashMap<String, String> = spec.tags.clone().into_iter().collect();
    tags.extend(operator_tags(job));
    let input = StartJobRunInput::builder()
        .name(job.job_run_name())
        .virtual_cluster_id(virtual_cluster_id)
        .client_token(client_token(&uid, attempt))
        .set_execution_role_arn(spec.execution_role_arn.clone())
        .set_release_label(spec.release_label.clone())
        .set_job_driver(spec.job_driver.as_ref().map(job_driver).transpose()?)
        .set_configuration_overrides(
            spec.configuration_overrides
                .as_ref()
                .map(configuration_overrides)
                .transpose()?,
        )
        .set_tags(Some(tags))
        .set_job_template_id(template_id(job))
        .set_job_template_parameters(non_empty_map(&spec.job_template_parameters))
        .set_retry_policy_configuration(
            spec.retry_policy_configuration
                .as_ref()
                .map(|r| {
                    sdk::RetryPolicyConfiguration::builder()
                        .max_attempts(r.max_attempts)
                        .build()
                })
                .transpose()?,
        )
        .build()?;
    Ok(input)
}

/// The EMR job template to start from: spec.jobTemplateId, or for spec.jobTemplateRef the one
/// the attempt recorded in status (resolved and checked before the attempt was recorded).
fn template_id(job: &SparkJobRun) -> Option<String> {
    match &job.spec.job_template_ref {
        Some(_) => job.status.as_ref()?.job_template_id.clone(),
        None => job.spec.job_template_id.clone(),
    }
}

fn job_driver(driver: &JobDriver) -> Result<sdk::JobDriver, BuildError> {
    let submit = driver
        .spark_submit_job_driver
        .as_ref()
        .map(|d| {
            sdk::SparkSubmitJobDriver::builder()
                .entry_point(&d.entry_point)
                .set_entry_point_arguments(
                    (!d.entry_point_arguments.is_empty()).then(|| d.entry_point_arguments.clone()),
                )
                .set_spark_submit_parameters(d.spark_submit_parameters.clone())
                .build()
        })
        .transpose()?;
    let sql = driver.spark_sql_job_driver.as_ref().map(|d| {
        sdk::SparkSqlJobDriver::builder()
            .set_entry_point(d.entry_point.clone())
            .set_spark_sql_parameters(d.spark_sql_parameters.clone())
            .build()
    });
    Ok(sdk::JobDriver::builder()
        .set_spark_submit_job_driver(submit)
        .set_spark_sql_job_driver(sql)
        .build())
}

fn configuration_overrides(
    overrides: &ConfigurationOverrides,
) -> Result<sdk::ConfigurationOverrides, BuildError> {
    let application = overrides
        .application_configuration
        .iter()
        .map(application_configuration)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(sdk::ConfigurationOverrides::builder()
        .set_application_configuration((!application.is_empty()).then_some(application))
        .set_monitoring_configuration(
            overrides
                .monitoring_configuration
                .as_ref()
                .map(monitoring_configuration)
                .transpose()?,
        )
        .build())
}

// The CRD spells EMR's recursive Configuration as three levels; each maps onto the same SDK type.

pub(crate) fn application_configuration(
    c: &ApplicationConfiguration,
) -> Result<sdk::Configuration, BuildError> {
    let nested = c
        .configurations
        .iter()
        .map(nested_configuration)
        .collect::<Result<Vec<_>, _>>()?;
    configuration(&c.classification, &c.properties, nested)
}

fn nested_configuration(c: &NestedConfiguration) -> Result<sdk::Configuration, BuildError> {
    let leaves = c
        .configurations
        .iter()
        .map(leaf_configuration)
        .collect::<Result<Vec<_>, _>>()?;
    configuration(&c.classification, &c.properties, leaves)
}

fn leaf_configuration(c: &LeafConfiguration) -> Result<sdk::Configuration, BuildError> {
    configuration(&c.classification, &c.properties, Vec::new())
}

fn configuration(
    classification: &str,
    properties: &BTreeMap<String, String>,
    configurations: Vec<sdk::Configuration>,
) -> Result<sdk::Configuration, BuildError> {
    sdk::Configuration::builder()
        .classification(classification)
        .set_properties(non_empty_map(properties))
        .set_configurations((!configurations.is_empty()).then_some(configurations))
        .build()
}

fn monitoring_configuration(
    m: &MonitoringConfiguration,
) -> Result<sdk::MonitoringConfiguration, BuildError> {
    let cloud_watch = m
        .cloud_watch_monitoring_configuration
        .as_ref()
        .map(|c| {
            sdk::CloudWatchMonitoringConfiguration::builder()
                .log_group_name(&c.log_group_name)
                .set_log_stream_name_prefix(c.log_stream_name_prefix.clone())
                .build()
        })
        .transpose()?;
    let s3 = m
        .s3_monitoring_configuration
        .as_ref()
        .map(|s| {
            sdk::S3MonitoringConfiguration::builder()
                .log_uri(&s.log_uri)
                .build()
        })
        .transpose()?;
    let rotation = m
        .container_log_rotation_configuration
        .as_ref()
        .map(|r| {
            sdk::ContainerLogRotationConfiguration::builder()
                .rotation_size(&r.rotation_size)
                .max_files_to_keep(r.max_files_to_keep)
                .build()
        })
        .transpose()?;
    Ok(sdk::MonitoringConfiguration::builder()
        .set_persistent_app_ui(m.persistent_app_ui.map(|ui| match ui {
            PersistentAppUi::Enabled => sdk::PersistentAppUi::Enabled,
            PersistentAppUi::Disabled => sdk::PersistentAppUi::Disabled,
        }))
        .set_cloud_watch_monitoring_configuration(cloud_watch)
        .set_s3_monitoring_configuration(s3)
        .set_container_log_rotation_configuration(rotation)
        .build())
}

fn non_empty_map(map: &BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    (!map.is_empty()).then(|| map.clone().into_iter().collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const UID: &str = "6f1c2a4e-1b7d-4c55-9a43-0d4e2b1f9c21";

    fn job(namespace: &str, name: &str, spec: &str) -> SparkJobRun {
        let mut job = SparkJobRun::new(name, serde_saphyr::from_str(spec).unwrap());
        job.metadata.namespace = Some(namespace.into());
        job.metadata.uid = Some(UID.into());
        job
    }

    fn full() -> SparkJobRun {
        job("analytics", "nightly-report", FULL)
    }

    /// Every field the CRD has, at every nesting level.
    const FULL: &str = r#"
virtualCluster: {name: analytics}
name: nightly
executionRoleArn: arn:aws:iam::123456789012:role/emr-job-role
releaseLabel: emr-7.2.0-latest
jobDriver:
  sparkSubmitJobDriver:
    entryPoint: s3://bucket/app.py
    entryPointArguments: ["--day", "2024-01-01"]
    sparkSubmitParameters: --conf spark.executor.instances=2
configurationOverrides:
  applicationConfiguration:
  - classification: spark-defaults
    properties: {spark.driver.memory: 2G, spark.dynamicAllocation.enabled: "false"}
  - classification: spark-env
    configurations:
    - classification: export
      properties: {PYSPARK_PYTHON: /usr/bin/python3}
      configurations:
      - classification: deep
        properties: {k: v}
  monitoringConfiguration:
    persistentAppUI: ENABLED
    cloudWatchMonitoringConfiguration: {logGroupName: /emr/jobs, logStreamNamePrefix: nightly}
    s3MonitoringConfiguration: {logUri: "s3://bucket/logs/"}
    containerLogRotationConfiguration: {rotationSize: 2GB, maxFilesToKeep: 5}
retryPolicyConfiguration: {maxAttempts: 3}
tags: {team: analytics}
jobTemplateId: tmpl1
jobTemplateParameters: {day: "2024-01-01"}
activeDeadlineSeconds: 600
resubmitPolicy: {limit: 1}
rerun: "2024-01-02"
"#;

    fn props(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expected_full() -> StartJobRunInput {
        let export = sdk::Configuration::builder()
            .classification("export")
            .set_properties(Some(props(&[("PYSPARK_PYTHON", "/usr/bin/python3")])))
            .configurations(
                sdk::Configuration::builder()
                    .classification("deep")
                    .set_properties(Some(props(&[("k", "v")])))
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        StartJobRunInput::builder()
            .name("nightly")
            .virtual_cluster_id("vc1")
            .client_token(format!("{UID}-3"))
            .execution_role_arn("arn:aws:iam::123456789012:role/emr-job-role")
            .release_label("emr-7.2.0-latest")
            .job_driver(
                sdk::JobDriver::builder()
                    .spark_submit_job_driver(
                        sdk::SparkSubmitJobDriver::builder()
                            .entry_point("s3://bucket/app.py")
                            .entry_point_arguments("--day")
                            .entry_point_arguments("2024-01-01")
                            .spark_submit_parameters("--conf spark.executor.instances=2")
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .configuration_overrides(
                sdk::ConfigurationOverrides::builder()
                    .application_configuration(
                        sdk::Configuration::builder()
                            .classification("spark-defaults")
                            .set_properties(Some(props(&[
                                ("spark.driver.memory", "2G"),
                                ("spark.dynamicAllocation.enabled", "false"),
                            ])))
                            .build()
                            .unwrap(),
                    )
                    .application_configuration(
                        sdk::Configuration::builder()
                            .classification("spark-env")
                            .configurations(export)
                            .build()
                            .unwrap(),
                    )
                    .monitoring_configuration(
                        sdk::MonitoringConfiguration::builder()
                            .persistent_app_ui(sdk::PersistentAppUi::Enabled)
                            .cloud_watch_monitoring_configuration(
                                sdk::CloudWatchMonitoringConfiguration::builder()
                                    .log_group_name("/emr/jobs")
                                    .log_stream_name_prefix("nightly")
                                    .build()
                                    .unwrap(),
                            )
                            .s3_monitoring_configuration(
                                sdk::S3MonitoringConfiguration::builder()
                                    .log_uri("s3://bucket/logs/")
                                    .build()
                                    .unwrap(),
                            )
                            .container_log_rotation_configuration(
                                sdk::ContainerLogRotationConfiguration::builder()
                                    .rotation_size("2GB")
                                    .max_files_to_keep(5)
                                    .build()
                                    .unwrap(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .tags("team", "analytics")
            .tags(TAG_OBJECT, "analytics/nightly-report")
            .tags(TAG_UID, UID)
            .job_template_id("tmpl1")
            .job_template_parameters("day", "2024-01-01")
            .retry_policy_configuration(
                sdk::RetryPolicyConfiguration::builder()
                    .max_attempts(3)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    #[test]
    fn every_field_reaches_the_request() {
        let input = start_job_run_input(&full(), "vc1", 3).unwrap();
        assert_eq!(input, expected_full());
    }

    #[test]
    fn spark_sql_driver_and_defaults() {
        let input = start_job_run_input(
            &job(
                "bi",
                "daily-sql",
                r#"
virtualCluster: {id: abc123}
executionRoleArn: arn:aws:iam::123456789012:role/r
releaseLabel: emr-6.15.0-20240105
jobDriver:
  sparkSqlJobDriver: {entryPoint: "s3://b/q.sql", sparkSqlParameters: "--conf spark.executor.instances=1"}
"#,
            ),
            "abc123",
            1,
        )
        .unwrap();
        let expected = StartJobRunInput::builder()
            .name("daily-sql")
            .virtual_cluster_id("abc123")
            .client_token(format!("{UID}-1"))
            .execution_role_arn("arn:aws:iam::123456789012:role/r")
            .release_label("emr-6.15.0-20240105")
            .job_driver(
                sdk::JobDriver::builder()
                    .spark_sql_job_driver(
                        sdk::SparkSqlJobDriver::builder()
                            .entry_point("s3://b/q.sql")
                            .spark_sql_parameters("--conf spark.executor.instances=1")
                            .build(),
                    )
                    .build(),
            )
            .tags(TAG_OBJECT, "bi/daily-sql")
            .tags(TAG_UID, UID)
            .build()
            .unwrap();
        assert_eq!(input, expected);
    }

    #[test]
    fn a_template_job_sends_only_the_template() {
        let input = start_job_run_input(
            &job(
                "ns",
                "t",
                r#"
virtualCluster: {name: vc}
executionRoleArn: arn:aws:iam::123456789012:role/r
jobTemplateId: tmpl1
jobTemplateParameters: {a: "1", b: "2"}
"#,
            ),
            "vc1",
            2,
        )
        .unwrap();
        assert_eq!(input.job_template_id(), Some("tmpl1"));
        assert_eq!(
            input.job_template_parameters(),
            Some(&props(&[("a", "1"), ("b", "2")]))
        );
        assert_eq!(input.release_label(), None);
        assert_eq!(input.job_driver(), None);
        assert_eq!(input.configuration_overrides(), None);
        assert_eq!(input.retry_policy_configuration(), None);
    }

    #[test]
    fn empty_collections_are_left_out() {
        let input = start_job_run_input(
            &job(
                "ns",
                "e",
                r#"
virtualCluster: {name: vc}
executionRoleArn: arn:aws:iam::123456789012:role/r
releaseLabel: emr-7.2.0-latest
jobDriver: {sparkSubmitJobDriver: {entryPoint: "local:///x.py"}}
configurationOverrides:
  applicationConfiguration: [{classification: spark-defaults}]
  monitoringConfiguration: {}
"#,
            ),
            "vc1",
            1,
        )
        .unwrap();
        let driver = input
            .job_driver()
            .and_then(|d| d.spark_submit_job_driver())
            .unwrap();
        assert_eq!(driver.entry_point_arguments, None);
        let overrides = input.configuration_overrides().unwrap();
        assert_eq!(overrides.application_configuration()[0].properties(), None);
        assert_eq!(
            overrides.application_configuration()[0].configurations,
            None
        );
        assert_eq!(input.job_template_parameters(), None);
    }

    #[test]
    fn tokens_are_per_attempt_and_fit_emr() {
        assert_eq!(client_token(UID, 1), format!("{UID}-1"));
        assert_ne!(client_token(UID, 1), client_token(UID, 2));
        let long = "u".repeat(100);
        let token = client_token(&long, 12);
        assert_eq!(token.len(), 64);
        assert!(token.ends_with("-12"));
    }

    #[test]
    fn the_object_tag_fits_emr_limits() {
        let mut long = full();
        long.metadata.name = Some("n".repeat(253));
        let [(_, object), (_, uid)] = operator_tags(&long);
        assert_eq!(object.chars().count(), MAX_TAG_VALUE);
        assert_eq!(uid, UID);
    }

    #[test]
    fn a_long_object_name_becomes_a_job_run_name_emr_takes() {
        let mut long = job("ns", &"n".repeat(253), BASE_JOB);
        let input = start_job_run_input(&long, "vc1", 1).unwrap();
        let name = input.name().unwrap();
        assert_eq!(name.len(), 64);
        assert!(name.starts_with(&"n".repeat(55)));
        long.spec.name = Some("explicit".into());
        let input = start_job_run_input(&long, "vc1", 1).unwrap();
        assert_eq!(input.name(), Some("explicit"));
    }

    const BASE_JOB: &str = r#"
virtualCluster: {name: vc}
executionRoleArn: arn:aws:iam::123456789012:role/r
releaseLabel: emr-7.2.0-latest
jobDriver: {sparkSubmitJobDriver: {entryPoint: "local:///x.py"}}
"#;

    #[test]
    fn an_object_without_uid_is_an_error() {
        let mut j = full();
        j.metadata.uid = None;
        assert!(matches!(
            start_job_run_input(&j, "vc1", 1),
            Err(RequestError::MissingUid)
        ));
    }
}
