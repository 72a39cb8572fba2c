//! What a status says: its phase facts, the current run, the deadline, the spec's problems.

use super::*;

pub(super) fn run_ended(status: &SparkJobRunStatus) -> bool {
    let terminal = status
        .state
        .as_deref()
        .is_some_and(|s| s.parse::<JobRunState>().is_ok_and(|s| s.is_terminal()));
    // A panicked reconcile is reported as Failed but decides nothing: the run goes on being
    // tracked (and cancelled on deletion) once reconciles succeed again.
    let failed = condition::find(&status.conditions, types::FAILED)
        .is_some_and(|c| c.is_true() && c.reason != reasons::RECONCILE_PANICKED);
    terminal || condition::is_true(&status.conditions, types::SUCCEEDED) || failed
}

/// Whether a change of the VirtualCluster could unblock this job (so its watch should wake it).
pub fn waits_for_virtual_cluster(status: &SparkJobRunStatus) -> bool {
    phase(status) == Phase::Unsubmitted
        || condition::find(&status.conditions, types::SUBMITTED)
            .is_some_and(|c| c.status == condition::ConditionStatus::False)
}

/// The current attempt's job run, when it has one.
pub fn current_run(status: &SparkJobRunStatus) -> Option<JobKey> {
    Some(JobKey {
        virtual_cluster_id: status.virtual_cluster_id.clone()?,
        job_run_id: status.job_run_id.clone()?,
    })
}

/// Forgets everything status says about a job run (before a new attempt, or when what it says
/// is not this object's).
pub(in crate::spark_job_run) fn clear_run(status: &mut SparkJobRunStatus) {
    status.job_run_id = None;
    status.arn = None;
    status.state = None;
    status.failure_reason = None;
    status.state_details = None;
    status.created_at = None;
    status.finished_at = None;
    status.emr_attempt_count = None;
    status.logs = None;
}

pub(super) fn rerun_pending(spec: &SparkJobRunSpec, status: &SparkJobRunStatus) -> bool {
    spec.rerun != status.submitted_rerun
}

pub(super) fn spec_changed(spec: &SparkJobRunSpec, status: &SparkJobRunStatus) -> Option<String> {
    let submitted = status.submitted_spec_fingerprint.as_deref()?;
    let now = spec.submission_fingerprint();
    (submitted != now).then(|| {
        format!(
            "spec changed after the job was submitted (fingerprint {submitted}, now {now}); the \
             change is not applied: revert it, change only spec.rerun, or delete and recreate the \
             SparkJobRun"
        )
    })
}

/// When the operator recorded the current attempt (the Submitted condition turned Unknown).
pub fn submitting_since(status: &SparkJobRunStatus) -> Option<DateTime<Utc>> {
    condition::find(&status.conditions, types::SUBMITTED)
        .filter(|c| c.reason == conditions::extra_reasons::SUBMITTING)
        .map(|c| c.last_transition_time.as_datetime())
}

/// Since when an attempt may have reached EMR (where its run is looked for): when it was
/// `recorded`, else when the object was created, else an hour ago.
pub(super) fn sent_since(f: &Facts, recorded: Option<DateTime<Utc>>) -> DateTime<Utc> {
    recorded
        .or(f.created)
        .unwrap_or_else(|| before(f.now, TimeDelta::hours(1)))
}

/// When the operator recorded that EMR accepted the current attempt (the Submitted condition
/// turned True).
pub(super) fn started_since(status: &SparkJobRunStatus) -> Option<DateTime<Utc>> {
    condition::find(&status.conditions, types::SUBMITTED)
        .filter(|c| c.is_true())
        .map(|c| c.last_transition_time.as_datetime())
}

pub(super) fn current_record(status: &mut SparkJobRunStatus) -> Option<&mut AttemptRecord> {
    let attempt = status.attempt;
    status
        .attempts
        .iter_mut()
        .rev()
        .find(|a| a.attempt == attempt)
}

/// Whether the current attempt's record says its deadline ended it.
pub fn deadline_marked(status: &SparkJobRunStatus) -> bool {
    status
        .attempts
        .iter()
        .rev()
        .find(|a| a.attempt == status.attempt)
        .is_some_and(|a| a.reason.as_deref() == Some(reasons::DEADLINE_EXCEEDED))
}

/// When the current attempt runs out of time; `None` also when that lies beyond any date chrono
/// can hold (a deadline no run reaches is no deadline: the schema bounds it, an old CRD may not).
pub(super) fn deadline(
    spec: &SparkJobRunSpec,
    status: &SparkJobRunStatus,
) -> Option<DateTime<Utc>> {
    let seconds = spec.active_deadline_seconds?;
    let start = status
        .created_at
        .map(|t| t.as_datetime())
        .or_else(|| submitting_since(status))
        .or_else(|| started_since(status))?;
    start.checked_add_signed(TimeDelta::try_seconds(seconds)?)
}

/// `spec.activeDeadlineSeconds` for a message, whatever its value.
pub(super) fn deadline_text(spec: &SparkJobRunSpec) -> String {
    let seconds = spec.active_deadline_seconds.unwrap_or_default();
    text::duration(TimeDelta::try_seconds(seconds).unwrap_or(TimeDelta::MAX))
}

/// `at` moved back by `by`, or the earliest date chrono holds.
pub(super) fn before(at: DateTime<Utc>, by: TimeDelta) -> DateTime<Utc> {
    at.checked_sub_signed(by)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

pub(super) fn until(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    (to - from).to_std().unwrap_or(Duration::ZERO)
}

/// Spec problems no schema can state on every apiserver, plus the operator's own tag budget.
pub(super) fn spec_problems(spec: &SparkJobRunSpec) -> Option<String> {
    let mut errors = check::spark_job_run(spec);
    if spec.tags.len().saturating_add(OPERATOR_TAG_COUNT) > MAX_TAGS {
        errors.push(check::FieldError {
            field: "spec.tags".into(),
            message: format!(
                "at most {} tags are allowed: EMR takes {MAX_TAGS} and the operator adds {OPERATOR_TAG_COUNT}",
                MAX_TAGS - OPERATOR_TAG_COUNT
            ),
        });
    }
    (!errors.is_empty()).then(|| check::summarize(&errors))
}

pub(super) fn run_label(status: &SparkJobRunStatus) -> String {
    format!(
        "job run {}",
        status.job_run_id.as_deref().unwrap_or("(unknown)")
    )
}

pub(super) fn took(status: &SparkJobRunStatus) -> String {
    match (status.created_at, status.finished_at) {
        (Some(created), Some(finished)) => {
            format!(
                " after {}",
                text::duration(finished.as_datetime() - created.as_datetime())
            )
        }
        _ => String::new(),
    }
}
