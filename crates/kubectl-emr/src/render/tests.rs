#![allow(clippy::unwrap_used)]

use super::*;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[test]
fn durations_read_like_kubectl() {
    let now = at("2026-01-01T01:00:00Z");
    assert_eq!(duration(None, None, now), "-");
    assert_eq!(duration(Some(at("2026-01-01T00:59:30Z")), None, now), "30s");
    assert_eq!(
        duration(
            Some(at("2026-01-01T00:00:00Z")),
            Some(at("2026-01-01T00:02:05Z")),
            now
        ),
        "2m5s"
    );
    assert_eq!(
        duration(Some(at("2025-12-31T22:30:00Z")), None, now),
        "2h30m"
    );
    // A clock behind EMR's never gives a negative duration.
    assert_eq!(duration(Some(at("2026-01-01T01:00:10Z")), None, now), "0s");
}

#[test]
fn the_request_carries_the_operator_tags_and_the_attempt_token() {
    let job: SparkJobRun = serde_json::from_value(json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
            "metadata": {"name": "pi", "namespace": "team-a", "uid": "0a1b2c3d-0000-0000-0000-000000000000"},
            "spec": {"virtualCluster": {"name": "vc"}, "executionRoleArn": "arn:aws:iam::123456789012:role/r",
                     "releaseLabel": "emr-7.2.0-latest", "tags": {"team": "a"},
                     "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": "local:///pi.py"}}}
        })).unwrap();
    let body = start_job_run_body(&job, 3);
    assert_eq!(
        body["clientToken"],
        "0a1b2c3d-0000-0000-0000-000000000000-3"
    );
    assert_eq!(body["tags"]["team"], "a");
    assert_eq!(body["tags"][TAG_OBJECT], "team-a/pi");
    assert_eq!(
        body["jobDriver"]["sparkSubmitJobDriver"]["entryPoint"],
        "local:///pi.py"
    );
    assert!(
        body.get("configurationOverrides").is_none() && body.get("jobTemplateParameters").is_none()
    );
}
