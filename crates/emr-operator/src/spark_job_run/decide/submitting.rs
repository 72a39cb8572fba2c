//! Phase `Submitting`: an attempt is recorded, its StartJobRun due or maybe done; and the
//! statuses the reconciler writes once EMR answered it (started, rejected, refused, denied).

use super::*;

pub(super) fn submitting(f: &Facts, mut status: SparkJobRunStatus, refused: bool) -> Decision {
    if refused {
        // The recorded attempt was for the old spec, which is not kept: sending the new one
        // would apply the change. Wait until the spec is reverted.
        return Decision::new(status, Effect::None, None);
    }
    // Re-sent only where the spec resolves to now (status is not trusted to say where): the
    // reconciler has proven that a recorded virtual cluster is this one.
    let virtual_cluster_id = match f.target {
        None => return Decision::new(status, Effect::NeedVirtualCluster, None),
        Some(Resolution::Ready { virtual_cluster_id }) => virtual_cluster_id.clone(),
        Some(Resolution::Waiting { reason, message }) => {
            conditions::next_attempt_waiting(&mut status, f.generation, reason, message);
            return Decision::new(status, Effect::None, None);
        }
        Some(Resolution::Refused { reason, message }) => {
            conditions::next_attempt_waiting(&mut status, f.generation, reason, message);
            return Decision::new(status, Effect::None, None);
        }
    };
    let since = sent_since(f, submitting_since(f.status));
    Decision::new(
        status,
        Effect::Submit(Submit {
            attempt: f.status.attempt,
            virtual_cluster_id,
            recover_since: Some(since),
        }),
        None,
    )
}

/// Attempt 1 may have been sent without being recorded ([`first_attempt_unrecorded`]): record
/// it now, as a first submission would, and look for its run before sending it again.
pub(super) fn unrecorded(f: &Facts, mut status: SparkJobRunStatus) -> Decision {
    let virtual_cluster_id = match f.target {
        None => return Decision::new(status, Effect::NeedVirtualCluster, None),
        Some(Resolution::Ready { virtual_cluster_id }) => virtual_cluster_id.clone(),
        Some(Resolution::Waiting { reason, message } | Resolution::Refused { reason, message }) => {
            conditions::waiting_for_virtual_cluster(&mut status, f.generation, reason, message);
            return Decision::new(status, Effect::None, None);
        }
    };
    begin_attempt(f, &mut status, 1, &virtual_cluster_id, true);
    let since = sent_since(f, None);
    Decision::new(
        status,
        Effect::Submit(Submit {
            attempt: 1,
            virtual_cluster_id,
            recover_since: Some(since),
        }),
        None,
    )
}

/// The status once EMR accepted attempt `status.attempt` as job run `job_run_id`.
pub fn started(
    spec: &SparkJobRunSpec,
    status: &SparkJobRunStatus,
    generation: Option<i64>,
    virtual_cluster_id: &str,
    job_run_id: &str,
    arn: Option<&str>,
) -> SparkJobRunStatus {
    let mut status = status.clone();
    status.observed_generation = generation;
    status.virtual_cluster_id = Some(virtual_cluster_id.to_owned());
    status.job_run_id = Some(job_run_id.to_owned());
    status.arn = arn.map(str::to_owned);
    status.logs = logs::locations(spec, virtual_cluster_id, job_run_id);
    // Where every EMR job run begins; the poller's answers replace it.
    if status.state.is_none() {
        status.state = Some(JobRunState::Pending.as_str().to_owned());
    }
    if let Some(record) = current_record(&mut status) {
        record.job_run_id = Some(job_run_id.to_owned());
    }
    let message = format!(
        "job run {job_run_id} started in virtual cluster {virtual_cluster_id} (attempt {})",
        status.attempt
    );
    conditions::started(&mut status, generation, &message);
    status
}

/// The status once EMR refused to start the current attempt (ValidationException and the
/// like). The spec is released (no longer frozen) so that it can be fixed; the attempt number
/// stays used, so the fix is sent with a new token.
pub fn rejected(
    status: &SparkJobRunStatus,
    generation: Option<i64>,
    message: &str,
) -> SparkJobRunStatus {
    let mut status = status.clone();
    status.observed_generation = generation;
    status.submitted_spec_fingerprint = None;
    status.submitted_rerun = None;
    if let Some(record) = current_record(&mut status) {
        record.reason = Some(reasons::EMR_VALIDATION_ERROR.into());
    }
    let message = format!(
        "EMR refused to start the job run (attempt {}): {}",
        status.attempt,
        text::one_line(message, MAX_DETAILS)
    );
    conditions::refused(
        &mut status,
        generation,
        reasons::EMR_VALIDATION_ERROR,
        &message,
    );
    status
}

/// The status when the operator refuses to send StartJobRun as the spec stands (its job
/// template's execution role is not allowed, or the template cannot be used). A recorded
/// attempt is released like an EMR refusal, so a fixed spec goes out under a new token; a
/// first submission shows the refusal; a later attempt waits with it, the last result standing.
pub fn refused_before_start(
    status: &SparkJobRunStatus,
    generation: Option<i64>,
    reason: &str,
    message: &str,
) -> SparkJobRunStatus {
    let mut status = status.clone();
    status.observed_generation = generation;
    let message = text::one_line(message, MAX_DETAILS);
    match phase(&status) {
        Phase::Submitting => {
            status.submitted_spec_fingerprint = None;
            status.submitted_rerun = None;
            if let Some(record) = current_record(&mut status) {
                record.reason = Some(reason.to_owned());
            }
            conditions::refused(&mut status, generation, reason, &message);
        }
        Phase::Unsubmitted => conditions::refused(&mut status, generation, reason, &message),
        Phase::Active | Phase::WaitingToResubmit | Phase::Finished => {
            conditions::next_attempt_waiting(&mut status, generation, reason, &message)
        }
    }
    status
}

/// The status while StartJobRun is denied to the operator (its IAM permissions, not the job).
pub fn access_denied(
    status: &SparkJobRunStatus,
    generation: Option<i64>,
    message: &str,
) -> SparkJobRunStatus {
    let mut status = status.clone();
    status.observed_generation = generation;
    let message = text::one_line(message, MAX_DETAILS);
    conditions::next_attempt_waiting(&mut status, generation, reasons::ACCESS_DENIED, &message);
    status
}
