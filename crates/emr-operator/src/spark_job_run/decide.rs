//! The SparkJobRun state machine, pure: from the object (spec, status, deletion), what EMR last
//! said about its job run, its virtual cluster and the time, to the next status and the one
//! effect the reconciler must carry out.
//!
//! Exactly-once rests on one rule kept here: a new attempt's number is written to status
//! (the `Submitting` status) before its StartJobRun is sent, and StartJobRun's client token is
//! derived from that number. Whatever happens in between (crash, lost answer, stale cache), the
//! next reconcile sends the same token again and EMR answers with the same job run.

use std::time::Duration;

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use emr_api::SparkJobRunSpec;
use emr_api::check;
use emr_api::condition;
use emr_api::patterns::MAX_TAGS;
use emr_api::spark_job_run::{AttemptRecord, SparkJobRunStatus, condition_types as types, reasons};
use emr_api::time::Timestamp;
use emr_aws::{JobRunInfo, JobRunState};

use super::conditions as show;
use super::logs;
use super::request::OPERATOR_TAG_COUNT;
use super::target::Resolution;
use super::text;
use super::tracker::{JobKey, Observation};
use super::transitions::Note;

/// How many attempts status keeps (older ones are dropped first).
pub const MAX_ATTEMPT_RECORDS: usize = 10;
/// How long a deletion waits for EMR to confirm a cancellation before letting go anyway, so
/// that throttling or an outage never keeps an object from being deleted.
pub const DELETION_GIVE_UP: TimeDelta = TimeDelta::minutes(10);
/// A reconcile of a running job, in case no poll result arrives (e.g. EMR keeps throttling).
const ACTIVE_RESYNC: Duration = Duration::from_secs(600);
/// While deleting: how often to check whether to give up.
const DELETION_RECHECK: Duration = Duration::from_secs(15);
/// Longest stateDetails quoted in a message.
const MAX_DETAILS: usize = 300;
/// The schema's bound on `spec.resubmitPolicy.backoffSeconds` and `maxBackoffSeconds`.
const MAX_BACKOFF_SECONDS: i64 = 86_400;
/// Why no further attempt can start: the attempt counter is at its end (a forged status).
pub const ATTEMPTS_EXHAUSTED: &str = "AttemptsExhausted";

/// Everything a decision depends on.
#[derive(Clone, Debug)]
pub struct Facts<'a> {
    pub spec: &'a SparkJobRunSpec,
    pub status: &'a SparkJobRunStatus,
    pub generation: Option<i64>,
    pub created: Option<DateTime<Utc>>,
    pub has_finalizer: bool,
    pub deleting_since: Option<DateTime<Utc>>,
    /// The virtual cluster verdict, once looked up (see [`Effect::NeedVirtualCluster`]).
    pub target: Option<&'a Resolution>,
    /// What the poller last saw of the current job run.
    pub observed: Option<&'a Observation>,
    /// Whether a cancellation of the current job run was sent for deletion.
    pub cancel_requested: bool,
    pub now: DateTime<Utc>,
}

/// Starting (or re-sending) an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submit {
    pub attempt: i32,
    pub virtual_cluster_id: String,
    /// Set when the attempt may already have reached EMR (it was recorded earlier): look for a
    /// run with its token created since then before sending StartJobRun again.
    pub recover_since: Option<DateTime<Utc>>,
}

/// The one thing the reconciler does besides writing status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    /// Look up the VirtualCluster and decide again with [`Facts::target`] set.
    NeedVirtualCluster,
    /// Write the status (the attempt is then durable), then StartJobRun.
    Submit(Submit),
    /// Write the status and keep the run polled.
    Track {
        key: JobKey,
        since: DateTime<Utc>,
    },
    /// Write the status; the poller may drop what it knows of the run.
    Forget(JobKey),
    /// CancelJobRun, then write the status (which records the deadline as the reason).
    CancelForDeadline(JobKey),
    /// CancelJobRun because the object is being deleted; then wait for EMR to confirm.
    CancelForDeletion(JobKey),
    /// Deleted while an attempt was being submitted: find its run by token, if any.
    FindForDeletion {
        virtual_cluster_id: String,
        attempt: i32,
        since: DateTime<Utc>,
    },
    /// Remove the finalizer: nothing in EMR needs the object any more.
    Release {
        forget: Option<JobKey>,
        note: Option<Note>,
    },
}

/// The next status and what to do.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub status: SparkJobRunStatus,
    pub effect: Effect,
    /// Reconcile again after this long even if nothing changes; `None` waits for a change.
    pub wake: Option<Duration>,
}

impl Decision {
    fn new(status: SparkJobRunStatus, effect: Effect, wake: Option<Duration>) -> Self {
        Self {
            status,
            effect,
            wake,
        }
    }
}

/// Where a SparkJobRun stands, read from its status alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Nothing of the current spec reached EMR (new, waiting or refused).
    Unsubmitted,
    /// An attempt is recorded but its job run id is not: StartJobRun is due or may have happened.
    Submitting,
    /// The current attempt's job run has not been seen finished.
    Active,
    /// The last attempt failed retryably; the next one is due at `nextAttemptAt`.
    WaitingToResubmit,
    /// The current attempt ended and nothing else is scheduled.
    Finished,
}

pub fn phase(status: &SparkJobRunStatus) -> Phase {
    if status.submitted_spec_fingerprint.is_none() {
        Phase::Unsubmitted
    } else if status.job_run_id.is_none() {
        Phase::Submitting
    } else if status.next_attempt_at.is_some() {
        Phase::WaitingToResubmit
    } else if run_ended(status) {
        Phase::Finished
    } else {
        Phase::Active
    }
}

fn run_ended(status: &SparkJobRunStatus) -> bool {
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
pub(super) fn clear_run(status: &mut SparkJobRunStatus) {
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

fn rerun_pending(spec: &SparkJobRunSpec, status: &SparkJobRunStatus) -> bool {
    spec.rerun != status.submitted_rerun
}

fn spec_changed(spec: &SparkJobRunSpec, status: &SparkJobRunStatus) -> Option<String> {
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
        .filter(|c| c.reason == show::extra_reasons::SUBMITTING)
        .map(|c| c.last_transition_time.as_datetime())
}

fn current_record(status: &mut SparkJobRunStatus) -> Option<&mut AttemptRecord> {
    let attempt = status.attempt;
    status
        .attempts
        .iter_mut()
        .rev()
        .find(|a| a.attempt == attempt)
}

fn deadline_marked(status: &SparkJobRunStatus) -> bool {
    status
        .attempts
        .iter()
        .rev()
        .find(|a| a.attempt == status.attempt)
        .is_some_and(|a| a.reason.as_deref() == Some(reasons::DEADLINE_EXCEEDED))
}

/// When the current attempt runs out of time; `None` also when that lies beyond any date chrono
/// can hold (a deadline no run reaches is no deadline: the schema bounds it, an old CRD may not).
fn deadline(spec: &SparkJobRunSpec, status: &SparkJobRunStatus) -> Option<DateTime<Utc>> {
    let seconds = spec.active_deadline_seconds?;
    let start = status
        .created_at
        .map(|t| t.as_datetime())
        .or_else(|| submitting_since(status))?;
    start.checked_add_signed(TimeDelta::try_seconds(seconds)?)
}

/// `spec.activeDeadlineSeconds` for a message, whatever its value.
fn deadline_text(spec: &SparkJobRunSpec) -> String {
    let seconds = spec.active_deadline_seconds.unwrap_or_default();
    text::duration(TimeDelta::try_seconds(seconds).unwrap_or(TimeDelta::MAX))
}

/// `at` moved back by `by`, or the earliest date chrono holds.
fn before(at: DateTime<Utc>, by: TimeDelta) -> DateTime<Utc> {
    at.checked_sub_signed(by)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn until(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    (to - from).to_std().unwrap_or(Duration::ZERO)
}

/// Spec problems no schema can state on every apiserver, plus the operator's own tag budget.
fn spec_problems(spec: &SparkJobRunSpec) -> Option<String> {
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

fn run_label(status: &SparkJobRunStatus) -> String {
    format!(
        "job run {}",
        status.job_run_id.as_deref().unwrap_or("(unknown)")
    )
}

fn took(status: &SparkJobRunStatus) -> String {
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

/// The decision for this moment.
pub fn decide(f: &Facts) -> Decision {
    let mut status = f.status.clone();
    status.observed_generation = f.generation;
    let refusal = spec_changed(f.spec, f.status);
    show::spec_change_refused(&mut status, f.generation, refusal.as_deref());
    let refused = refusal.is_some();
    if let Some(since) = f.deleting_since {
        return deleting(f, status, since);
    }
    match phase(f.status) {
        Phase::Unsubmitted => unsubmitted(f, status),
        Phase::Submitting => submitting(f, status, refused),
        Phase::Active => active(f, status, refused),
        Phase::WaitingToResubmit => waiting_to_resubmit(f, status, refused),
        Phase::Finished => finished(f, status, refused),
    }
}

fn unsubmitted(f: &Facts, mut status: SparkJobRunStatus) -> Decision {
    if let Some(problems) = spec_problems(f.spec) {
        show::refused(&mut status, f.generation, reasons::INVALID_SPEC, &problems);
        return Decision::new(status, Effect::None, None);
    }
    // EMR refused this very spec: sending it again cannot help until the spec changes.
    let rejected_as_is = condition::find(&f.status.conditions, types::FAILED).is_some_and(|c| {
        c.is_true()
            && c.reason == reasons::EMR_VALIDATION_ERROR
            && c.observed_generation == f.generation
    });
    if rejected_as_is {
        return Decision::new(status, Effect::None, None);
    }
    submit_when_ready(f, status, true, show::waiting_for_virtual_cluster)
}

/// Records attempt `attempt` as the current one (before StartJobRun is sent).
fn begin_attempt(
    f: &Facts,
    status: &mut SparkJobRunStatus,
    attempt: i32,
    virtual_cluster_id: &str,
    new_series: bool,
) {
    status.attempt = attempt;
    if new_series {
        status.resubmissions = 0;
        status.submitted_rerun = f.spec.rerun.clone();
    } else {
        status.resubmissions = status.resubmissions.saturating_add(1);
    }
    status.submitted_spec_fingerprint = Some(f.spec.submission_fingerprint());
    status.virtual_cluster_id = Some(virtual_cluster_id.to_owned());
    clear_run(status);
    status.next_attempt_at = None;
    status.attempts.push(AttemptRecord {
        attempt,
        ..Default::default()
    });
    let excess = status.attempts.len().saturating_sub(MAX_ATTEMPT_RECORDS);
    status.attempts.drain(..excess);
    let message =
        format!("starting a job run in virtual cluster {virtual_cluster_id} (attempt {attempt})");
    show::submitting(status, f.generation, &message);
}

fn submitting(f: &Facts, mut status: SparkJobRunStatus, refused: bool) -> Decision {
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
            show::next_attempt_waiting(&mut status, f.generation, reason, message);
            return Decision::new(status, Effect::None, None);
        }
        Some(Resolution::Refused { reason, message }) => {
            show::next_attempt_waiting(&mut status, f.generation, reason, message);
            return Decision::new(status, Effect::None, None);
        }
    };
    let since = submitting_since(f.status)
        .or(f.created)
        .unwrap_or_else(|| before(f.now, TimeDelta::hours(1)));
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
    if let Some(record) = current_record(&mut status) {
        record.job_run_id = Some(job_run_id.to_owned());
    }
    let message = format!(
        "job run {job_run_id} started in virtual cluster {virtual_cluster_id} (attempt {})",
        status.attempt
    );
    show::started(&mut status, generation, &message);
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
    show::refused(
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
            show::refused(&mut status, generation, reason, &message);
        }
        Phase::Unsubmitted => show::refused(&mut status, generation, reason, &message),
        Phase::Active | Phase::WaitingToResubmit | Phase::Finished => {
            show::next_attempt_waiting(&mut status, generation, reason, &message)
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
    show::next_attempt_waiting(&mut status, generation, reasons::ACCESS_DENIED, &message);
    status
}

fn mirror(status: &mut SparkJobRunStatus, info: &JobRunInfo) {
    if let Some(arn) = &info.arn {
        status.arn = Some(arn.clone());
    }
    if !info.state.as_str().is_empty() {
        status.state = Some(info.state.as_str().to_owned());
    }
    status.failure_reason = info.failure_reason.clone();
    status.state_details = info.state_details.clone();
    if let Some(created) = info.created_at {
        status.created_at = Some(Timestamp::from(created));
    }
    status.finished_at = info.finished_at.map(Timestamp::from);
    status.emr_attempt_count = info.retry_attempts;
    let state = status.state.clone();
    let (created, finished) = (status.created_at, status.finished_at);
    let failure = info.failure_reason.clone();
    if let Some(record) = current_record(status) {
        record.job_run_id = Some(info.id.clone());
        record.state = state;
        record.created_at = created;
        record.finished_at = finished;
        if record.reason.as_deref() != Some(reasons::DEADLINE_EXCEEDED) {
            record.reason = failure;
        }
    }
}

/// When the current run started, as well as known: EMR's createdAt, else when it was recorded.
fn run_since(f: &Facts, status: &SparkJobRunStatus) -> DateTime<Utc> {
    status
        .created_at
        .map(|t| t.as_datetime())
        .or_else(|| submitting_since(status))
        .or(f.created)
        .unwrap_or(f.now)
}

fn active(f: &Facts, mut status: SparkJobRunStatus, refused: bool) -> Decision {
    let Some(key) = current_run(f.status) else {
        return Decision::new(status, Effect::None, None);
    };
    match f.observed {
        None => {
            let since = run_since(f, &status);
            let wake = wake_for_deadline(f, &status);
            Decision::new(status, Effect::Track { key, since }, Some(wake))
        }
        Some(Observation::NotFound) => {
            let message = format!(
                "{} no longer exists in EMR (attempt {})",
                run_label(&status),
                status.attempt
            );
            show::failed(
                &mut status,
                f.generation,
                reasons::JOB_RUN_NOT_FOUND,
                &message,
            );
            Decision::new(status, Effect::Forget(key), None)
        }
        Some(Observation::Seen(info)) => {
            mirror(&mut status, info);
            if info.state.is_terminal() {
                return conclude(f, status, key, &info.state, refused);
            }
            let state = info.state.as_str().to_owned();
            let mut message = format!(
                "{} {state} (attempt {})",
                run_label(&status),
                status.attempt
            );
            let past_deadline = deadline(f.spec, &status).is_some_and(|d| f.now >= d);
            let cancel_now = past_deadline
                && !deadline_marked(&status)
                && info.state != JobRunState::CancelPending;
            if cancel_now || (deadline_marked(&status) && info.state != JobRunState::Cancelled) {
                message = format!(
                    "{} exceeded its deadline of {}; cancelling it (attempt {})",
                    run_label(&status),
                    deadline_text(f.spec),
                    status.attempt
                );
            }
            if cancel_now {
                if let Some(record) = current_record(&mut status) {
                    record.reason = Some(reasons::DEADLINE_EXCEEDED.into());
                }
                show::active(&mut status, f.generation, &state, &message);
                return Decision::new(status, Effect::CancelForDeadline(key), Some(ACTIVE_RESYNC));
            }
            show::active(&mut status, f.generation, &state, &message);
            let wake = wake_for_deadline(f, &status);
            let since = run_since(f, &status);
            Decision::new(status, Effect::Track { key, since }, Some(wake))
        }
    }
}

fn wake_for_deadline(f: &Facts, status: &SparkJobRunStatus) -> Duration {
    match deadline(f.spec, status) {
        Some(d) if !deadline_marked(status) => {
            until(f.now, d).clamp(Duration::from_secs(1), ACTIVE_RESYNC)
        }
        _ => ACTIVE_RESYNC,
    }
}

/// A final state was observed.
fn conclude(
    f: &Facts,
    mut status: SparkJobRunStatus,
    key: JobKey,
    state: &JobRunState,
    refused: bool,
) -> Decision {
    let label = run_label(&status);
    let attempt = status.attempt;
    let elapsed = took(&status);
    let rerun = rerun_pending(f.spec, &status) && !refused;
    // A re-run asked for meanwhile starts right after the result is recorded.
    let wake = rerun.then_some(Duration::from_secs(1));
    match state {
        JobRunState::Completed => {
            let message = format!("{label} COMPLETED{elapsed} (attempt {attempt})");
            show::completed(&mut status, f.generation, &message);
        }
        JobRunState::Cancelled => {
            let by_deadline = deadline_marked(&status)
                || matches!(
                    (deadline(f.spec, &status), status.finished_at),
                    (Some(d), Some(fin)) if fin.as_datetime() >= d
                );
            if by_deadline {
                if let Some(record) = current_record(&mut status) {
                    record.reason = Some(reasons::DEADLINE_EXCEEDED.into());
                }
                let limit = deadline_text(f.spec);
                let message = format!(
                    "{label} cancelled: it exceeded its deadline of {limit} (attempt {attempt})"
                );
                show::failed(
                    &mut status,
                    f.generation,
                    reasons::DEADLINE_EXCEEDED,
                    &message,
                );
            } else {
                let message = format!("{label} CANCELLED{elapsed} (attempt {attempt})");
                show::failed(&mut status, f.generation, reasons::CANCELLED, &message);
            }
        }
        _ => {
            let emr_reason = status
                .failure_reason
                .clone()
                .unwrap_or_else(|| state.as_str().to_owned());
            let details = status
                .state_details
                .as_deref()
                .map(|d| format!(": {}", text::one_line(d, MAX_DETAILS)))
                .unwrap_or_default();
            let reason = text::camel_case(&emr_reason);
            match resubmit_at(f, &status, &emr_reason).filter(|_| !refused && !rerun) {
                Some(at) => {
                    status.next_attempt_at = Some(Timestamp::from(at));
                    let message = format!(
                        "{label} {} with {emr_reason}{elapsed} (attempt {attempt}); resubmitting at {} as attempt {}{details}",
                        state.as_str(),
                        Timestamp::from(at),
                        attempt.saturating_add(1)
                    );
                    show::waiting_to_resubmit(&mut status, f.generation, &reason, &message);
                    let wake = until(f.now, at).max(Duration::from_secs(1));
                    return Decision::new(status, Effect::Forget(key), Some(wake));
                }
                None => {
                    let message = format!(
                        "{label} {} with {emr_reason}{elapsed} (attempt {attempt}){details}",
                        state.as_str()
                    );
                    show::failed(&mut status, f.generation, &reason, &message);
                }
            }
        }
    }
    Decision::new(status, Effect::Forget(key), wake)
}

/// When the next attempt may start after a failure for `emr_reason`, if the policy allows one.
fn resubmit_at(f: &Facts, status: &SparkJobRunStatus, emr_reason: &str) -> Option<DateTime<Utc>> {
    let policy = f.spec.resubmit_policy.as_ref()?;
    let listed = policy
        .on_failure_reasons
        .iter()
        .any(|r| r.as_str() == emr_reason);
    if !listed || status.resubmissions >= policy.limit {
        return None;
    }
    let doublings = u32::try_from(status.resubmissions).unwrap_or(0).min(30);
    // Within the schema's bounds even when the CRD in the cluster is older than them.
    let backoff = policy
        .backoff_seconds
        .clamp(0, MAX_BACKOFF_SECONDS)
        .saturating_mul(1_i64 << doublings)
        .min(policy.max_backoff_seconds.clamp(0, MAX_BACKOFF_SECONDS));
    let failed_at = status.finished_at.map(|t| t.as_datetime()).unwrap_or(f.now);
    // Status holds RFC 3339 times (years 0-9999): a later one could never be written.
    failed_at
        .checked_add_signed(TimeDelta::try_seconds(backoff)?)
        .filter(|at| at.year() <= 9999)
}

/// Starts the next attempt (re-run or resubmission) once the virtual cluster allows it.
fn next_attempt(f: &Facts, status: SparkJobRunStatus, new_series: bool) -> Decision {
    submit_when_ready(f, status, new_series, show::next_attempt_waiting)
}

/// Submits attempt `status.attempt + 1` if the virtual cluster is ready, otherwise shows why
/// not (`waiting` words it for a first submission or a later attempt).
fn submit_when_ready(
    f: &Facts,
    mut status: SparkJobRunStatus,
    new_series: bool,
    waiting: fn(&mut SparkJobRunStatus, Option<i64>, &str, &str),
) -> Decision {
    match f.target {
        None => Decision::new(status, Effect::NeedVirtualCluster, None),
        Some(Resolution::Waiting { reason, message }) => {
            waiting(&mut status, f.generation, reason, message);
            Decision::new(status, Effect::None, None)
        }
        Some(Resolution::Refused { reason, message }) => {
            show::refused(&mut status, f.generation, reason, message);
            Decision::new(status, Effect::None, None)
        }
        Some(Resolution::Ready { virtual_cluster_id }) => {
            // Only a status written by hand gets here: the token of a wrapped-around number
            // could name an earlier attempt's job run.
            let Some(attempt) = f.status.attempt.checked_add(1).filter(|a| *a > 0) else {
                let message = format!(
                    "attempt {} is the last the operator can number; no further job run is \
                     started (delete and recreate the SparkJobRun)",
                    f.status.attempt
                );
                show::refused(&mut status, f.generation, ATTEMPTS_EXHAUSTED, &message);
                return Decision::new(status, Effect::None, None);
            };
            begin_attempt(f, &mut status, attempt, virtual_cluster_id, new_series);
            Decision::new(
                status,
                Effect::Submit(Submit {
                    attempt,
                    virtual_cluster_id: virtual_cluster_id.clone(),
                    recover_since: None,
                }),
                None,
            )
        }
    }
}

fn waiting_to_resubmit(f: &Facts, status: SparkJobRunStatus, refused: bool) -> Decision {
    if refused {
        return Decision::new(status, Effect::None, None);
    }
    if rerun_pending(f.spec, f.status) {
        return next_attempt(f, status, true);
    }
    let due = f
        .status
        .next_attempt_at
        .map(|t| t.as_datetime())
        .unwrap_or(f.now);
    if f.now >= due {
        return next_attempt(f, status, false);
    }
    Decision::new(
        status,
        Effect::None,
        Some(until(f.now, due).max(Duration::from_secs(1))),
    )
}

fn finished(f: &Facts, status: SparkJobRunStatus, refused: bool) -> Decision {
    if rerun_pending(f.spec, f.status) && !refused {
        return next_attempt(f, status, true);
    }
    let effect = current_run(f.status).map_or(Effect::None, Effect::Forget);
    Decision::new(status, effect, None)
}

fn deleting(f: &Facts, mut status: SparkJobRunStatus, since: DateTime<Utc>) -> Decision {
    let key = current_run(f.status);
    if !f.has_finalizer {
        return Decision::new(status, Effect::None, None);
    }
    if f.now - since >= DELETION_GIVE_UP {
        let note = key.as_ref().map(|k| {
            Note::warning(
                "CancellationUnconfirmed",
                "Delete",
                format!(
                    "EMR did not confirm the cancellation of job run {} within {}; letting the object \
                     go (the job run may still be running)",
                    k.job_run_id,
                    text::duration(DELETION_GIVE_UP)
                ),
            )
        });
        let forget = key.filter(|_| phase(f.status) == Phase::Active);
        return Decision::new(status, Effect::Release { forget, note }, None);
    }
    match phase(f.status) {
        Phase::Unsubmitted | Phase::WaitingToResubmit | Phase::Finished => Decision::new(
            status,
            Effect::Release {
                forget: key,
                note: None,
            },
            None,
        ),
        Phase::Submitting => match &f.status.virtual_cluster_id {
            Some(vc) => Decision::new(
                status,
                Effect::FindForDeletion {
                    virtual_cluster_id: vc.clone(),
                    attempt: f.status.attempt,
                    since: submitting_since(f.status)
                        .or(f.created)
                        .unwrap_or_else(|| before(f.now, TimeDelta::hours(1))),
                },
                Some(DELETION_RECHECK),
            ),
            None => Decision::new(
                status,
                Effect::Release {
                    forget: None,
                    note: None,
                },
                None,
            ),
        },
        Phase::Active => {
            let Some(key) = key else {
                return Decision::new(
                    status,
                    Effect::Release {
                        forget: None,
                        note: None,
                    },
                    None,
                );
            };
            match f.observed {
                Some(o) if o.is_final() => Decision::new(
                    status,
                    Effect::Release {
                        forget: Some(key),
                        note: None,
                    },
                    None,
                ),
                observed => {
                    let cancelling = match observed {
                        Some(Observation::Seen(info)) => {
                            mirror(&mut status, info);
                            let message = format!(
                                "{} {} while the SparkJobRun is being deleted (attempt {})",
                                run_label(&status),
                                info.state.as_str(),
                                status.attempt
                            );
                            show::active(&mut status, f.generation, info.state.as_str(), &message);
                            info.state == JobRunState::CancelPending
                        }
                        _ => false,
                    };
                    let effect = if cancelling || f.cancel_requested {
                        Effect::Track {
                            key,
                            since: run_since(f, &status),
                        }
                    } else {
                        Effect::CancelForDeletion(key)
                    };
                    Decision::new(status, effect, Some(DELETION_RECHECK))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
