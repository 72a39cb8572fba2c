//! The five conditions (Submitted, Running, Succeeded, Failed, Ready) for each situation a
//! SparkJobRun can be in, set together so they never contradict each other. Argo CD's health
//! check reads them: Succeeded=True is Healthy, Failed=True is Degraded, anything else is
//! Progressing; Ready is True exactly when Succeeded is.

use emr_api::condition::{self, Condition, ConditionStatus};
use emr_api::spark_job_run::{SparkJobRunStatus, condition_types as types, reasons};

use super::text;

/// Reasons this module writes besides those in [`reasons`].
pub mod extra_reasons {
    pub const SUBMITTING: &str = "Submitting";
    pub const JOB_RUN_STARTED: &str = "JobRunStarted";
    pub const NOT_STARTED: &str = "NotStarted";
    pub const IN_PROGRESS: &str = "InProgress";
}

use extra_reasons::*;

fn put(
    status: &mut SparkJobRunStatus,
    generation: Option<i64>,
    type_: &str,
    value: ConditionStatus,
    reason: &str,
    message: &str,
) {
    condition::set(
        &mut status.conditions,
        Condition::new(type_, value, reason, message, generation),
    );
}

/// Succeeded, Failed and Ready from one verdict, so Ready always mirrors Succeeded.
fn outcome(
    status: &mut SparkJobRunStatus,
    generation: Option<i64>,
    succeeded: ConditionStatus,
    failed: ConditionStatus,
    reason: &str,
    message: &str,
) {
    put(
        status,
        generation,
        types::SUCCEEDED,
        succeeded,
        reason,
        message,
    );
    put(status, generation, types::FAILED, failed, reason, message);
    let ready = if succeeded == ConditionStatus::True {
        ConditionStatus::True
    } else {
        ConditionStatus::False
    };
    put(status, generation, types::READY, ready, reason, message);
}

fn set_message(status: &mut SparkJobRunStatus, message: &str) {
    status.message = Some(message.to_owned());
}

/// Nothing submitted yet, the VirtualCluster is not Ready: progressing, not failed.
pub fn waiting_for_virtual_cluster(
    status: &mut SparkJobRunStatus,
    generation: Option<i64>,
    reason: &str,
    message: &str,
) {
    put(
        status,
        generation,
        types::SUBMITTED,
        ConditionStatus::False,
        reason,
        message,
    );
    put(
        status,
        generation,
        types::RUNNING,
        ConditionStatus::False,
        NOT_STARTED,
        message,
    );
    outcome(
        status,
        generation,
        ConditionStatus::Unknown,
        ConditionStatus::False,
        reason,
        message,
    );
    set_message(status, message);
}

/// A new attempt (re-run or resubmission) waits for the VirtualCluster; the last result stands.
pub fn next_attempt_waiting(
    status: &mut SparkJobRunStatus,
    generation: Option<i64>,
    reason: &str,
    message: &str,
) {
    put(
        status,
        generation,
        types::SUBMITTED,
        ConditionStatus::False,
        reason,
        message,
    );
    set_message(status, message);
}

/// Refused before anything ran (bad spec, VirtualCluster rules, EMR validation): failed until
/// the user changes something.
pub fn refused(
    status: &mut SparkJobRunStatus,
    generation: Option<i64>,
    reason: &str,
    message: &str,
) {
    put(
        status,
        generation,
        types::SUBMITTED,
        ConditionStatus::False,
        reason,
        message,
    );
    put(
        status,
        generation,
        types::RUNNING,
        ConditionStatus::False,
        reason,
        message,
    );
    outcome(
        status,
        generation,
        ConditionStatus::False,
        ConditionStatus::True,
        reason,
        message,
    );
    set_message(status, message);
}

/// The attempt number is recorded; StartJobRun is being (or about to be) sent.
pub fn submitting(status: &mut SparkJobRunStatus, generation: Option<i64>, message: &str) {
    before_running(
        status,
        generation,
        ConditionStatus::Unknown,
        SUBMITTING,
        message,
    );
}

/// EMR accepted the job run.
pub fn started(status: &mut SparkJobRunStatus, generation: Option<i64>, message: &str) {
    before_running(
        status,
        generation,
        ConditionStatus::True,
        JOB_RUN_STARTED,
        message,
    );
}

/// Submitted as given, not running yet, no outcome yet.
fn before_running(
    status: &mut SparkJobRunStatus,
    generation: Option<i64>,
    submitted: ConditionStatus,
    submitted_reason: &str,
    message: &str,
) {
    put(
        status,
        generation,
        types::SUBMITTED,
        submitted,
        submitted_reason,
        message,
    );
    put(
        status,
        generation,
        types::RUNNING,
        ConditionStatus::False,
        NOT_STARTED,
        message,
    );
    outcome(
        status,
        generation,
        ConditionStatus::Unknown,
        ConditionStatus::False,
        IN_PROGRESS,
        message,
    );
    set_message(status, message);
}

/// EMR reports a state that is not final (PENDING, SUBMITTED, RUNNING, CANCEL_PENDING).
pub fn active(status: &mut SparkJobRunStatus, generation: Option<i64>, state: &str, message: &str) {
    let running = if state == "RUNNING" {
        ConditionStatus::True
    } else {
        ConditionStatus::False
    };
    put(
        status,
        generation,
        types::SUBMITTED,
        ConditionStatus::True,
        JOB_RUN_STARTED,
        &submitted_message(status, message),
    );
    put(
        status,
        generation,
        types::RUNNING,
        running,
        &text::camel_case(state),
        message,
    );
    outcome(
        status,
        generation,
        ConditionStatus::Unknown,
        ConditionStatus::False,
        IN_PROGRESS,
        message,
    );
    set_message(status, message);
}

/// Keeps the Submitted condition's message about the start, not about the latest state.
fn submitted_message(status: &SparkJobRunStatus, fallback: &str) -> String {
    condition::find(&status.conditions, types::SUBMITTED)
        .filter(|c| c.is_true())
        .map_or_else(|| fallback.to_owned(), |c| c.message.clone())
}

/// The job completed.
pub fn completed(status: &mut SparkJobRunStatus, generation: Option<i64>, message: &str) {
    put(
        status,
        generation,
        types::RUNNING,
        ConditionStatus::False,
        reasons::COMPLETED,
        message,
    );
    outcome(
        status,
        generation,
        ConditionStatus::True,
        ConditionStatus::False,
        reasons::COMPLETED,
        message,
    );
    set_message(status, message);
}

/// The job failed, was cancelled or vanished, and will not be resubmitted.
pub fn failed(
    status: &mut SparkJobRunStatus,
    generation: Option<i64>,
    reason: &str,
    message: &str,
) {
    put(
        status,
        generation,
        types::RUNNING,
        ConditionStatus::False,
        reason,
        message,
    );
    outcome(
        status,
        generation,
        ConditionStatus::False,
        ConditionStatus::True,
        reason,
        message,
    );
    set_message(status, message);
}

/// The attempt failed for a retryable reason; the next one starts later.
pub fn waiting_to_resubmit(
    status: &mut SparkJobRunStatus,
    generation: Option<i64>,
    reason: &str,
    message: &str,
) {
    put(
        status,
        generation,
        types::RUNNING,
        ConditionStatus::False,
        reason,
        message,
    );
    outcome(
        status,
        generation,
        ConditionStatus::Unknown,
        ConditionStatus::False,
        reasons::WAITING_TO_RESUBMIT,
        message,
    );
    set_message(status, message);
}

/// Shows (or clears) that the spec differs from the submitted one.
pub fn spec_change_refused(
    status: &mut SparkJobRunStatus,
    generation: Option<i64>,
    message: Option<&str>,
) {
    match message {
        Some(message) => put(
            status,
            generation,
            types::SPEC_CHANGE_REFUSED,
            ConditionStatus::True,
            reasons::SPEC_CHANGED_AFTER_SUBMISSION,
            message,
        ),
        None => status
            .conditions
            .retain(|c| c.type_ != types::SPEC_CHANGE_REFUSED),
    }
}

#[cfg(test)]
mod tests;
