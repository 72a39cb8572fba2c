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
mod tests {
    use super::*;

    fn get(status: &SparkJobRunStatus, type_: &str) -> (ConditionStatus, String) {
        let c = condition::find(&status.conditions, type_).cloned();
        c.map_or((ConditionStatus::Unknown, "-".into()), |c| {
            (c.status, c.reason)
        })
    }

    #[test]
    fn ready_follows_succeeded_in_every_situation() {
        let mut s = SparkJobRunStatus::default();
        let checks: [fn(&mut SparkJobRunStatus); 8] = [
            |s| waiting_for_virtual_cluster(s, Some(1), "VirtualClusterNotReady", "m"),
            |s| refused(s, Some(1), "InvalidSpec", "m"),
            |s| submitting(s, Some(1), "m"),
            |s| started(s, Some(1), "m"),
            |s| active(s, Some(1), "RUNNING", "m"),
            |s| completed(s, Some(1), "m"),
            |s| failed(s, Some(1), "UserError", "m"),
            |s| waiting_to_resubmit(s, Some(1), "InternalError", "m"),
        ];
        for set in checks {
            set(&mut s);
            let succeeded = get(&s, types::SUCCEEDED).0;
            let failed = get(&s, types::FAILED).0;
            let ready = get(&s, types::READY).0;
            assert_eq!(
                ready == ConditionStatus::True,
                succeeded == ConditionStatus::True
            );
            assert!(!(succeeded == ConditionStatus::True && failed == ConditionStatus::True));
        }
    }

    #[test]
    fn running_is_true_only_while_emr_says_running() {
        let mut s = SparkJobRunStatus::default();
        active(&mut s, Some(1), "PENDING", "m");
        assert_eq!(
            get(&s, types::RUNNING),
            (ConditionStatus::False, "Pending".into())
        );
        active(&mut s, Some(1), "RUNNING", "m");
        assert_eq!(
            get(&s, types::RUNNING),
            (ConditionStatus::True, "Running".into())
        );
        completed(&mut s, Some(1), "m");
        assert_eq!(get(&s, types::RUNNING).0, ConditionStatus::False);
        assert_eq!(
            get(&s, types::SUCCEEDED),
            (ConditionStatus::True, "Completed".into())
        );
    }

    #[test]
    fn the_submitted_message_keeps_telling_the_start() {
        let mut s = SparkJobRunStatus::default();
        started(&mut s, Some(1), "job run a started");
        active(&mut s, Some(1), "RUNNING", "job run a RUNNING");
        let c = condition::find(&s.conditions, types::SUBMITTED).cloned();
        assert_eq!(c.map(|c| c.message), Some("job run a started".into()));
        assert_eq!(s.message.as_deref(), Some("job run a RUNNING"));
    }

    #[test]
    fn spec_refusal_appears_and_goes() {
        let mut s = SparkJobRunStatus::default();
        spec_change_refused(&mut s, Some(2), Some("changed"));
        assert_eq!(get(&s, types::SPEC_CHANGE_REFUSED).0, ConditionStatus::True);
        spec_change_refused(&mut s, Some(3), None);
        assert!(condition::find(&s.conditions, types::SPEC_CHANGE_REFUSED).is_none());
    }
}
