//! Where a job run's logs land, derived from its monitoring configuration the way EMR lays them
//! out: `<logStreamNamePrefix>/<virtualClusterId>/jobs/<jobRunId>` in CloudWatch and
//! `<logUri>/<virtualClusterId>/jobs/<jobRunId>/` in S3.

use emr_api::SparkJobRunSpec;
use emr_api::spark_job_run::LogLocations;

/// The log locations of job run `job_run_id`, or `None` when the spec sends logs nowhere.
pub fn locations(
    spec: &SparkJobRunSpec,
    virtual_cluster_id: &str,
    job_run_id: &str,
) -> Option<LogLocations> {
    let monitoring = spec
        .configuration_overrides
        .as_ref()?
        .monitoring_configuration
        .as_ref()?;
    let run_path = format!("{virtual_cluster_id}/jobs/{job_run_id}");
    let cloud_watch = monitoring.cloud_watch_monitoring_configuration.as_ref();
    let logs = LogLocations {
        cloud_watch_log_group: cloud_watch.map(|c| c.log_group_name.clone()),
        cloud_watch_log_stream_prefix: cloud_watch.map(|c| {
            match c
                .log_stream_name_prefix
                .as_deref()
                .map(|p| p.trim_matches('/'))
            {
                Some(prefix) if !prefix.is_empty() => format!("{prefix}/{run_path}"),
                _ => run_path.clone(),
            }
        }),
        s3_prefix: monitoring
            .s3_monitoring_configuration
            .as_ref()
            .map(|s| format!("{}/{run_path}/", s.log_uri.trim_end_matches('/'))),
    };
    (logs != LogLocations::default()).then_some(logs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn spec(monitoring: &str) -> SparkJobRunSpec {
        serde_saphyr::from_str(&format!(
            r#"
virtualCluster: {{name: vc}}
executionRoleArn: arn:aws:iam::123456789012:role/r
releaseLabel: emr-7.2.0-latest
jobDriver: {{sparkSubmitJobDriver: {{entryPoint: "local:///x.py"}}}}
configurationOverrides:
  monitoringConfiguration: {monitoring}
"#
        ))
        .unwrap()
    }

    #[test]
    fn cloud_watch_and_s3_paths_follow_emr_layout() {
        let logs = locations(
            &spec(
                r#"{cloudWatchMonitoringConfiguration: {logGroupName: /aws/emr-eks/sample, logStreamNamePrefix: pi}, s3MonitoringConfiguration: {logUri: "s3://bucket"}}"#,
            ),
            "vc1",
            "jr1",
        )
        .unwrap();
        assert_eq!(
            logs.cloud_watch_log_group.as_deref(),
            Some("/aws/emr-eks/sample")
        );
        assert_eq!(
            logs.cloud_watch_log_stream_prefix.as_deref(),
            Some("pi/vc1/jobs/jr1")
        );
        assert_eq!(logs.s3_prefix.as_deref(), Some("s3://bucket/vc1/jobs/jr1/"));
    }

    #[test]
    fn slashes_are_normalized() {
        let logs = locations(
            &spec(
                r#"{cloudWatchMonitoringConfiguration: {logGroupName: g, logStreamNamePrefix: "/pi/"}, s3MonitoringConfiguration: {logUri: "s3://bucket/logs//"}}"#,
            ),
            "vc1",
            "jr1",
        )
        .unwrap();
        assert_eq!(
            logs.cloud_watch_log_stream_prefix.as_deref(),
            Some("pi/vc1/jobs/jr1")
        );
        assert_eq!(
            logs.s3_prefix.as_deref(),
            Some("s3://bucket/logs/vc1/jobs/jr1/")
        );
    }

    #[test]
    fn no_prefix_and_no_destinations() {
        let logs = locations(
            &spec(r#"{cloudWatchMonitoringConfiguration: {logGroupName: g}}"#),
            "vc1",
            "jr1",
        )
        .unwrap();
        assert_eq!(
            logs.cloud_watch_log_stream_prefix.as_deref(),
            Some("vc1/jobs/jr1")
        );
        assert_eq!(logs.s3_prefix, None);
        assert_eq!(
            locations(&spec(r#"{persistentAppUI: ENABLED}"#), "vc1", "jr1"),
            None
        );
    }
}
