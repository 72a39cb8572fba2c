//! Phases `Unsubmitted` and `WaitingToResubmit`: when a new attempt begins, and recording it
//! before anything reaches EMR.

use super::*;

pub(super) fn unsubmitted(f: &Facts, mut status: SparkJobRunStatus) -> Decision {
    // First: a suspended job is not looked at (its spec is checked when it is resumed).
    if let Some(suspended) = suspend::held(f, &mut status) {
        return suspended;
    }
    if let Some(problems) = spec_problems(f.spec) {
        conditions::refused(&mut status, f.generation, reasons::INVALID_SPEC, &problems);
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
    submit_when_ready(f, status, true, conditions::waiting_for_virtual_cluster)
}

/// Records attempt `attempt` as the current one (before StartJobRun is sent).
pub(super) fn begin_attempt(
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
    conditions::submitting(status, f.generation, &message);
    admission::admitted(status, f.generation);
}

/// Submits attempt `status.attempt + 1` if the virtual cluster is ready, otherwise shows why
/// not (`waiting` words it for a first submission or a later attempt).
pub(super) fn submit_when_ready(
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
            conditions::refused(&mut status, f.generation, reason, message);
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
                conditions::refused(&mut status, f.generation, ATTEMPTS_EXHAUSTED, &message);
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

/// Starts the next attempt (re-run or resubmission) once the virtual cluster allows it.
pub(super) fn next_attempt(f: &Facts, status: SparkJobRunStatus, new_series: bool) -> Decision {
    submit_when_ready(f, status, new_series, conditions::next_attempt_waiting)
}

pub(super) fn waiting_to_resubmit(f: &Facts, status: SparkJobRunStatus, refused: bool) -> Decision {
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
