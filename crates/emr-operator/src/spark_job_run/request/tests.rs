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
