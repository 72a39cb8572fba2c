//! Phase `Active`: mirroring what EMR says of the run, the deadline, and how an attempt ends
//! (finished, or due for a resubmission).

use super::*;

pub(super) fn mirror(status: &mut SparkJobRunStatus, info: &JobRunInfo) {
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
pub(super) fn run_since(f: &Facts, status: &SparkJobRunStatus) -> DateTime<Utc> {
    status
        .created_at
        .map(|t| t.as_datetime())
        .or_else(|| submitting_since(status))
        .or(f.created)
        .unwrap_or(f.now)
}

pub(super) fn active(f: &Facts, mut status: SparkJobRunStatus, refused: bool) -> Decision {
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
            conditions::failed(
                &mut status,
                f.generation,
                reasons::JOB_RUN_NOT_FOUND,
                &message,
            );
            Decision::new(status, Effect::Forget(key), None)
        }
        Some(Observation::Seen(info)) => {
            if let Some(left) = settling(f, &status, info) {
                // Not written yet: most runs pass through these states in seconds, and the
                // next one (or the answer to "still there?") is written instead.
                let mut seen = status.clone();
                if let Some(created) = info.created_at {
                    seen.created_at = Some(Timestamp::from(created));
                }
                let wake = wake_for_deadline(f, &seen).min(left);
                let since = run_since(f, &status);
                return Decision::new(status, Effect::Track { key, since }, Some(wake));
            }
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
                conditions::active(&mut status, f.generation, &state, &message);
                // Sent already, its status write lost (refused as stale): write the mark only.
                let effect = if f.cancel_requested {
                    Effect::Track {
                        key,
                        since: run_since(f, &status),
                    }
                } else {
                    Effect::CancelForDeadline(key)
                };
                return Decision::new(status, effect, Some(ACTIVE_RESYNC));
            }
            conditions::active(&mut status, f.generation, &state, &message);
            let wake = wake_for_deadline(f, &status);
            let since = run_since(f, &status);
            Decision::new(status, Effect::Track { key, since }, Some(wake))
        }
    }
}

/// While a run is younger than this, the states before RUNNING (PENDING, SUBMITTED) are not
/// written to status: a run that reaches RUNNING sooner costs no write for them, and one that
/// hangs there shows it after this long.
pub const PRE_RUNNING_SETTLE: Duration = Duration::from_secs(10);

/// How long until a PENDING or SUBMITTED run seen now is written, if it is not written yet: the
/// run is younger than [`PRE_RUNNING_SETTLE`] (since EMR's createdAt, else since the operator
/// recorded it started), status shows no later state, and no deadline is due.
fn settling(f: &Facts, status: &SparkJobRunStatus, info: &JobRunInfo) -> Option<Duration> {
    if !matches!(info.state, JobRunState::Pending | JobRunState::Submitted) {
        return None;
    }
    let shown = status
        .state
        .as_deref()
        .and_then(|s| s.parse::<JobRunState>().ok());
    if !matches!(
        shown,
        None | Some(JobRunState::Pending | JobRunState::Submitted)
    ) {
        return None;
    }
    let started = info.created_at.or_else(|| started_since(status))?;
    let mut seen = status.clone();
    seen.created_at = Some(Timestamp::from(started));
    if deadline_marked(status) || deadline(f.spec, &seen).is_some_and(|d| f.now >= d) {
        return None;
    }
    let settled = started.checked_add_signed(TimeDelta::from_std(PRE_RUNNING_SETTLE).ok()?)?;
    (f.now < settled).then(|| until(f.now, settled).max(Duration::from_secs(1)))
}

pub(super) fn wake_for_deadline(f: &Facts, status: &SparkJobRunStatus) -> Duration {
    match deadline(f.spec, status) {
        Some(d) if !deadline_marked(status) => {
            until(f.now, d).clamp(Duration::from_secs(1), ACTIVE_RESYNC)
        }
        _ => ACTIVE_RESYNC,
    }
}

/// A final state was observed.
pub(super) fn conclude(
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
            conditions::completed(&mut status, f.generation, &message);
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
                conditions::failed(
                    &mut status,
                    f.generation,
                    reasons::DEADLINE_EXCEEDED,
                    &message,
                );
            } else {
                let message = format!("{label} CANCELLED{elapsed} (attempt {attempt})");
                conditions::failed(&mut status, f.generation, reasons::CANCELLED, &message);
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
                    conditions::waiting_to_resubmit(&mut status, f.generation, &reason, &message);
                    let wake = until(f.now, at).max(Duration::from_secs(1));
                    return Decision::new(status, Effect::Forget(key), Some(wake));
                }
                None => {
                    let message = format!(
                        "{label} {} with {emr_reason}{elapsed} (attempt {attempt}){details}",
                        state.as_str()
                    );
                    conditions::failed(&mut status, f.generation, &reason, &message);
                }
            }
        }
    }
    Decision::new(status, Effect::Forget(key), wake)
}

/// When the next attempt may start after a failure for `emr_reason`, if the policy allows one.
pub(super) fn resubmit_at(
    f: &Facts,
    status: &SparkJobRunStatus,
    emr_reason: &str,
) -> Option<DateTime<Utc>> {
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
