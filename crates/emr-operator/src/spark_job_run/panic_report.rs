//! What the user sees when a reconcile of their SparkJobRun panicked: `Failed=True` with reason
//! `ReconcilePanicked` (which [`decide`](super::decide) does not take for the end of the run, so a
//! running job is still tracked and cancelled on deletion) and a Warning Event.

use emr_api::SparkJobRun;
use emr_api::condition::{self, Condition, ConditionStatus};
use emr_api::spark_job_run::{SparkJobRunStatus, condition_types as types, reasons};
use kube::ResourceExt;
use kube::api::Api;

use crate::context::Context;
use crate::kit::panic_guard::{self, Panicked};
use crate::kit::status::{self, Precondition};

/// The status after a panic: the job's own facts kept, the verdict conditions saying what happened.
pub fn status_after(
    status: &SparkJobRunStatus,
    generation: Option<i64>,
    message: &str,
) -> SparkJobRunStatus {
    let mut status = status.clone();
    let reason = reasons::RECONCILE_PANICKED;
    for (type_, value) in [
        (types::SUCCEEDED, ConditionStatus::Unknown),
        (types::FAILED, ConditionStatus::True),
        (types::READY, ConditionStatus::False),
    ] {
        condition::set(
            &mut status.conditions,
            Condition::new(type_, value, reason, message, generation),
        );
    }
    status.message = Some(message.to_owned());
    status
}

/// Logs the panic with the object, records it in status (best effort, guarded by the copy's
/// resourceVersion so that nothing newer is overwritten) and publishes a Warning Event.
pub async fn report(ctx: &Context, job: &SparkJobRun, panicked: &Panicked) {
    let namespace = job.namespace().unwrap_or_default();
    let name = job.name_any();
    tracing::error!(object = %format!("{namespace}/{name}"), panic = %panicked.message, "reconcile panicked");
    let message = panic_guard::condition_message("SparkJobRun", panicked);
    let status = status_after(
        &job.status.clone().unwrap_or_default(),
        job.metadata.generation,
        &message,
    );
    let api: Api<SparkJobRun> = Api::namespaced(ctx.client.clone(), &namespace);
    if let Err(error) = status::apply(&api, job, Precondition::of(job), &status).await {
        tracing::warn!(%error, object = %format!("{namespace}/{name}"), "could not record the panic in status");
    }
    ctx.events
        .warning(job, panic_guard::REASON, "Reconcile", message)
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spark_job_run::decide::{self, Phase};

    #[test]
    fn a_panic_on_a_running_job_fails_it_visibly_but_keeps_it_tracked() {
        let running = SparkJobRunStatus {
            submitted_spec_fingerprint: Some("f".into()),
            virtual_cluster_id: Some("vc".into()),
            job_run_id: Some("jr".into()),
            state: Some("RUNNING".into()),
            attempt: 1,
            ..Default::default()
        };
        let after = status_after(&running, Some(3), "boom");
        let failed = condition::find(&after.conditions, types::FAILED).expect("Failed is set");
        assert!(failed.is_true());
        assert_eq!(failed.reason, reasons::RECONCILE_PANICKED);
        assert!(!condition::is_true(&after.conditions, types::READY));
        assert_eq!(decide::phase(&after), Phase::Active);
        assert_eq!(after.job_run_id.as_deref(), Some("jr"));
    }
}
