//! Deletion's decisions: which SparkJobRuns hold it up, and whether the namespace may be deleted.
//! Pure.

use emr_api::SparkJobRun;
use emr_api::condition;
use emr_api::spark_job_run::condition_types::{FAILED, SUCCEEDED};
use emr_api::virtual_cluster::{ManagedParts, RunningJobsOnDelete};
use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;

/// A SparkJobRun is finished once it succeeded or failed.
pub fn is_finished(run: &SparkJobRun) -> bool {
    run.status.as_ref().is_some_and(|s| {
        condition::is_true(&s.conditions, SUCCEEDED) || condition::is_true(&s.conditions, FAILED)
    })
}

pub fn unfinished(runs: &[SparkJobRun]) -> Vec<&SparkJobRun> {
    runs.iter().filter(|r| !is_finished(r)).collect()
}

/// Whether `Wait` waits for this run: it is unfinished and EMR may be running it, i.e. an
/// attempt was recorded (its StartJobRun may be on the way) or started. A run never submitted
/// (no attempt, refused, failed before submission, or waiting for this very VirtualCluster,
/// which refuses new submissions while it is deleted) or one between attempts (its next attempt
/// cannot start either) has nothing in EMR to wait for; waiting on it would hang the deletion on
/// whoever wrote it.
pub fn may_be_running(run: &SparkJobRun) -> bool {
    if is_finished(run) {
        return false;
    }
    let Some(status) = run.status.as_ref() else {
        return false;
    };
    if status.next_attempt_at.is_some() {
        return false;
    }
    let ended = status
        .state
        .as_deref()
        .is_some_and(|s| matches!(s, "COMPLETED" | "FAILED" | "CANCELLED"));
    !ended && (status.job_run_id.is_some() || status.submitted_spec_fingerprint.is_some())
}

/// The runs deletion waits for under `policy`: under `Cancel` every unfinished one (each is
/// deleted, and its finalizer cancels what runs); under `Wait` those EMR may be running.
pub fn holding(runs: &[SparkJobRun], policy: RunningJobsOnDelete) -> Vec<&SparkJobRun> {
    match policy {
        RunningJobsOnDelete::Cancel => unfinished(runs),
        RunningJobsOnDelete::Wait => runs.iter().filter(|r| may_be_running(r)).collect(),
    }
}

/// Unfinished runs to delete under `Cancel` (their own finalizer cancels them in EMR); those
/// already being deleted are left to finish deleting.
pub fn to_cancel<'a>(unfinished: &[&'a SparkJobRun]) -> Vec<&'a SparkJobRun> {
    unfinished
        .iter()
        .filter(|r| r.metadata.deletion_timestamp.is_none())
        .copied()
        .collect()
}

/// The condition message while deletion waits for runs.
pub fn waiting_message(
    namespace: &str,
    unfinished: &[&SparkJobRun],
    policy: RunningJobsOnDelete,
) -> String {
    const SHOWN: usize = 5;
    let mut names: Vec<String> = unfinished
        .iter()
        .take(SHOWN)
        .map(|r| r.name_any())
        .collect();
    if unfinished.len() > SHOWN {
        names.push(format!("and {} more", unfinished.len() - SHOWN));
    }
    let what = match policy {
        RunningJobsOnDelete::Wait => {
            "to finish (runningJobsOnDelete: Wait; set it to Cancel to cancel them)"
        }
        RunningJobsOnDelete::Cancel => "to be cancelled and deleted (runningJobsOnDelete: Cancel)",
    };
    format!(
        "waiting for {} SparkJobRun(s) in namespace {namespace} {what}: {}",
        unfinished.len(),
        names.join(", ")
    )
}

/// Whether deletion may delete the namespace: this object's status records that the operator
/// created exactly this namespace (same UID; a record from before UIDs were kept is trusted), and
/// the spec still says `create: true` (an adopted namespace, `create: false`, is never deleted).
pub fn may_delete_namespace(create: bool, managed: &ManagedParts, ns: &Namespace) -> bool {
    let same = match managed.namespace_uid.as_deref() {
        Some(uid) => ns.metadata.uid.as_deref() == Some(uid),
        None => true,
    };
    create && managed.namespace_created && same
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, conditions: &str, deleting: bool) -> SparkJobRun {
        let deletion = if deleting {
            "deletionTimestamp: '2024-01-01T00:00:00Z'"
        } else {
            ""
        };
        serde_saphyr::from_str(&format!(
            r#"
apiVersion: emr-on-eks.dev/v1alpha1
kind: SparkJobRun
metadata: {{name: {name}, namespace: spark, {deletion}}}
spec:
  virtualCluster: {{name: team-a}}
  executionRoleArn: arn:aws:iam::123456789012:role/emr-job-role
  releaseLabel: emr-7.2.0-latest
  jobDriver: {{sparkSubmitJobDriver: {{entryPoint: 'local:///x.py'}}}}
status:
  conditions: {conditions}
"#
        ))
        .unwrap()
    }

    fn cond(type_: &str, status: &str) -> String {
        format!(
            "[{{type: {type_}, status: '{status}', reason: r, message: m, lastTransitionTime: '2024-01-01T00:00:00Z'}}]"
        )
    }

    #[test]
    fn finished_means_succeeded_or_failed() {
        let runs = vec![
            run("done", &cond("Succeeded", "True"), false),
            run("broke", &cond("Failed", "True"), false),
            run("going", &cond("Running", "True"), false),
            run("new", "[]", false),
            run("not-yet", &cond("Succeeded", "False"), false),
        ];
        let names: Vec<_> = unfinished(&runs).iter().map(|r| r.name_any()).collect();
        assert_eq!(names, ["going", "new", "not-yet"]);
    }

    /// A run with a status, as its controller writes one at each phase.
    fn with_status(name: &str, status: serde_json::Value) -> SparkJobRun {
        let mut run = run(name, "[]", false);
        run.status = Some(serde_json::from_value(status).unwrap());
        run
    }

    #[test]
    fn wait_holds_only_runs_emr_may_be_running() {
        let runs = vec![
            run("never-reconciled", "[]", false),
            with_status(
                "waiting-for-vc",
                serde_json::json!({"conditions": [{"type": "Submitted", "status": "False",
                    "reason": "VirtualClusterNotReady", "message": "VirtualCluster a is being deleted",
                    "lastTransitionTime": "2024-01-01T00:00:00Z"}]}),
            ),
            with_status(
                "refused-before-submission",
                serde_json::json!({"attempt": 1, "conditions": [{"type": "Failed", "status": "True",
                    "reason": "ExecutionRoleNotAllowed", "message": "m",
                    "lastTransitionTime": "2024-01-01T00:00:00Z"}]}),
            ),
            with_status(
                "rejected-by-emr",
                serde_json::json!({"attempt": 1, "virtualClusterId": "vc"}),
            ),
            with_status(
                "submitting",
                serde_json::json!({"attempt": 1, "submittedSpecFingerprint": "f", "virtualClusterId": "vc"}),
            ),
            with_status(
                "running",
                serde_json::json!({"attempt": 1, "submittedSpecFingerprint": "f", "jobRunId": "j", "state": "RUNNING"}),
            ),
            with_status(
                "ended-not-yet-shown",
                serde_json::json!({"attempt": 1, "submittedSpecFingerprint": "f", "jobRunId": "j", "state": "COMPLETED"}),
            ),
            with_status(
                "between-attempts",
                serde_json::json!({"attempt": 1, "submittedSpecFingerprint": "f", "jobRunId": "j",
                    "state": "FAILED", "nextAttemptAt": "2024-01-01T00:00:00Z"}),
            ),
        ];
        let names = |policy| -> Vec<String> {
            holding(&runs, policy)
                .iter()
                .map(|r| r.name_any())
                .collect()
        };
        assert_eq!(names(RunningJobsOnDelete::Wait), ["submitting", "running"]);
        assert_eq!(
            names(RunningJobsOnDelete::Cancel).len(),
            runs.len() - 1,
            "Cancel deletes every unfinished run"
        );
    }

    #[test]
    fn cancel_skips_runs_already_being_deleted() {
        let runs = vec![run("a", "[]", false), run("b", "[]", true)];
        let open = unfinished(&runs);
        let names: Vec<_> = to_cancel(&open).iter().map(|r| r.name_any()).collect();
        assert_eq!(names, ["a"]);
    }

    #[test]
    fn message_lists_a_few_names() {
        let runs: Vec<_> = (0..7).map(|i| run(&format!("j{i}"), "[]", false)).collect();
        let open = unfinished(&runs);
        let m = waiting_message("spark", &open, RunningJobsOnDelete::Wait);
        assert!(
            m.starts_with("waiting for 7 SparkJobRun(s) in namespace spark to finish"),
            "{m}"
        );
        assert!(m.ends_with("j0, j1, j2, j3, j4, and 2 more"), "{m}");
    }
}
