//! Which SparkJobRuns still use an EMR job template. Pure.

use emr_api::SparkJobRun;
use emr_api::condition;
use emr_api::spark_job_run::condition_types::{FAILED, SUCCEEDED};
use kube::ResourceExt;

/// The unfinished runs (`namespace/name`) that were started from template `id` or name it in
/// spec.jobTemplateId. A run is finished once Succeeded or Failed is True (a run waiting to be
/// resubmitted is not: its next attempt resolves its template again).
pub fn template_users(runs: &[SparkJobRun], id: &str) -> Vec<String> {
    runs.iter()
        .filter(|run| {
            let status = run.status.as_ref();
            let started_from = status.and_then(|s| s.job_template_id.as_deref()) == Some(id);
            let names = run.spec.job_template_id.as_deref() == Some(id);
            let finished = status.is_some_and(|s| {
                condition::is_true(&s.conditions, SUCCEEDED)
                    || condition::is_true(&s.conditions, FAILED)
            });
            (started_from || names) && !finished && run.metadata.deletion_timestamp.is_none()
        })
        .map(|run| format!("{}/{}", run.namespace().unwrap_or_default(), run.name_any()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(name: &str, status: serde_json::Value, spec_id: Option<&str>) -> SparkJobRun {
        let mut spec = json!({"virtualCluster": {"name": "vc"}, "jobTemplateRef": {"name": "t"}});
        if let Some(id) = spec_id {
            spec = json!({"virtualCluster": {"name": "vc"}, "executionRoleArn": "arn:aws:iam::123456789012:role/r", "jobTemplateId": id});
        }
        serde_json::from_value(json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
            "metadata": {"name": name, "namespace": "ns"}, "spec": spec, "status": status
        }))
        .unwrap()
    }

    fn done(type_: &str) -> serde_json::Value {
        json!({"jobTemplateId": "old", "conditions": [{"type": type_, "status": "True",
            "reason": "x", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]})
    }

    #[test]
    fn only_unfinished_runs_of_that_template_use_it() {
        let runs = vec![
            run(
                "running",
                json!({"jobTemplateId": "old", "state": "RUNNING"}),
                None,
            ),
            run(
                "recorded",
                json!({"jobTemplateId": "old", "attempt": 1}),
                None,
            ),
            run("succeeded", done("Succeeded"), None),
            run("failed", done("Failed"), None),
            run("newer", json!({"jobTemplateId": "new"}), None),
            run("by-id", json!({}), Some("old")),
            run("not-started", json!({}), None),
        ];
        assert_eq!(
            template_users(&runs, "old"),
            vec!["ns/running", "ns/recorded", "ns/by-id"]
        );
        assert_eq!(template_users(&runs, "new"), vec!["ns/newer"]);
    }
}
