//! Which SparkJobRuns still use an EMR job template. Pure.

use emr_api::SparkJobRun;
use emr_api::condition;
use emr_api::spark_job_run::condition_types::{FAILED, SUCCEEDED};
use kube::ResourceExt;

/// The unfinished runs (`namespace/name`) that were started from template `id`, name it in
/// spec.jobTemplateId, or name SparkJobTemplate `template` in spec.jobTemplateRef and have not
/// recorded a template yet: such a run may have resolved `id` already and be on its way to
/// StartJobRun (a first attempt is recorded only with EMR's answer), so `id` is kept for it.
/// A run is finished once Succeeded or Failed is True (a run waiting to be resubmitted is not:
/// its next attempt resolves its template again).
pub fn template_users(runs: &[SparkJobRun], template: &str, id: &str) -> Vec<String> {
    runs.iter()
        .filter(|run| {
            let status = run.status.as_ref();
            let recorded = status.and_then(|s| s.job_template_id.as_deref());
            let started_from = recorded == Some(id);
            let names = run.spec.job_template_id.as_deref() == Some(id);
            let may_have_resolved = recorded.is_none()
                && run.spec.job_template_ref.as_ref().map(|r| r.name.as_str()) == Some(template);
            let finished = status.is_some_and(|s| {
                condition::is_true(&s.conditions, SUCCEEDED)
                    || condition::is_true(&s.conditions, FAILED)
            });
            (started_from || names || may_have_resolved)
                && !finished
                && run.metadata.deletion_timestamp.is_none()
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
            run(
                "refused",
                json!({"conditions": [{"type": "Failed", "status": "True", "reason": "x",
                    "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}),
                None,
            ),
        ];
        // Of another SparkJobTemplate: only what names the id.
        assert_eq!(
            template_users(&runs, "other", "old"),
            vec!["ns/running", "ns/recorded", "ns/by-id"]
        );
        assert_eq!(template_users(&runs, "other", "new"), vec!["ns/newer"]);
        // Of the one the runs reference: a run that has not recorded a template may hold any
        // of its ids on its way to StartJobRun; a finished one holds none.
        assert_eq!(
            template_users(&runs, "t", "old"),
            vec!["ns/running", "ns/recorded", "ns/by-id", "ns/not-started"]
        );
        assert_eq!(
            template_users(&runs, "t", "new"),
            vec!["ns/newer", "ns/not-started"]
        );
    }
}
