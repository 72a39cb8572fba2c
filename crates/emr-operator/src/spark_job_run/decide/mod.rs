//! The SparkJobRun state machine, pure: from the object (spec, status, deletion), what EMR last
//! said about its job run, its virtual cluster and the time, to the next status and the one
//! effect the reconciler must carry out.
//!
//! Exactly-once rests on one rule kept here: before a StartJobRun is sent, something durable
//! says that this attempt may have reached EMR, and StartJobRun's client token is derived from
//! the attempt's number. Whatever happens in between (crash, lost answer, stale cache), the next
//! reconcile looks for a run with that token first and sends the same token again if none.
//! What is durable depends on the attempt, to spend as few writes as that allows:
//! - a first attempt: the finalizer, added just before. An object with the finalizer and no
//!   recorded attempt ([`first_attempt_unrecorded`]) may have been sent attempt 1; its status
//!   records the attempt together with the job run id, in one write after StartJobRun;
//! - a later attempt (re-run, resubmission), and any attempt of a VirtualCluster with
//!   `maxConcurrentJobRuns` (its count of holders must be exact across restarts, and a job
//!   holds a slot from the recorded attempt on): the attempt's number, written to status (the
//!   `Submitting` status) before its StartJobRun.

use std::time::Duration;

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use emr_api::SparkJobRunSpec;
use emr_api::check;
use emr_api::condition;
use emr_api::patterns::MAX_TAGS;
use emr_api::spark_job_run::{AttemptRecord, SparkJobRunStatus, condition_types as types, reasons};
use emr_api::time::Timestamp;
use emr_aws::{JobRunInfo, JobRunState};

use super::admission;
use super::conditions;
use super::logs;
use super::request::OPERATOR_TAG_COUNT;
use super::target::Resolution;
use super::text;
use super::tracker::{JobKey, Observation};
use super::ttl;
use crate::kit::Event;

mod active;
mod deleting;
mod new_attempt;
mod reading;
mod submitting;
mod suspend;

use active::*;
use deleting::*;
use new_attempt::*;
use reading::*;
use submitting::*;

pub(super) use reading::clear_run;
pub use reading::{current_run, deadline_marked, submitting_since, waits_for_virtual_cluster};
pub use submitting::{access_denied, refused_before_start, rejected, started};

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
    /// Whether `spec.ttlSecondsAfterFinished` governs the object (see [`ttl::applies`]).
    pub ttl_applies: bool,
    pub now: DateTime<Utc>,
}

/// Starting (or re-sending) an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submit {
    pub attempt: i32,
    pub virtual_cluster_id: String,
    /// Set when the attempt may already have reached EMR (it was recorded earlier, or it is a
    /// first attempt whose finalizer is there): look for a run with its token created since
    /// then before sending StartJobRun again.
    pub recover_since: Option<DateTime<Utc>>,
}

/// The one thing the reconciler does besides writing status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    /// Look up the VirtualCluster and decide again with [`Facts::target`] set.
    NeedVirtualCluster,
    /// Make the attempt durable (see the module's doc), then StartJobRun.
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
    /// Write the status, publish the Event, then delete the object: its TTL after the run
    /// finished has passed (the finalizer then lets it go without an EMR call).
    DeleteExpired(Event),
    /// Remove the finalizer: nothing in EMR needs the object any more.
    Release {
        forget: Option<JobKey>,
        event: Option<Event>,
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

/// Whether attempt 1 may have reached EMR though status records no attempt: the finalizer is
/// added just before a first StartJobRun, and the attempt is written only with its job run id.
pub fn first_attempt_unrecorded(status: &SparkJobRunStatus, has_finalizer: bool) -> bool {
    has_finalizer && status.attempt == 0 && phase(status) == Phase::Unsubmitted
}

/// The decision for this moment.
pub fn decide(f: &Facts) -> Decision {
    let mut status = f.status.clone();
    status.observed_generation = f.generation;
    let refusal = spec_changed(f.spec, f.status);
    conditions::spec_change_refused(&mut status, f.generation, refusal.as_deref());
    let refused = refusal.is_some();
    if let Some(since) = f.deleting_since {
        return deleting(f, status, since);
    }
    if first_attempt_unrecorded(f.status, f.has_finalizer) {
        return unrecorded(f, status);
    }
    match phase(f.status) {
        Phase::Unsubmitted => unsubmitted(f, status),
        Phase::Submitting => submitting(f, status, refused),
        Phase::Active => active(f, status, refused),
        Phase::WaitingToResubmit => waiting_to_resubmit(f, status, refused),
        Phase::Finished => finished(f, status, refused),
    }
}

fn finished(f: &Facts, status: SparkJobRunStatus, refused: bool) -> Decision {
    if rerun_pending(f.spec, f.status) && !refused {
        return next_attempt(f, status, true);
    }
    let effect = current_run(f.status).map_or(Effect::None, Effect::Forget);
    let Some((finished, expiry)) = ttl_expiry(f) else {
        return Decision::new(status, effect, None);
    };
    if f.now >= expiry {
        let seconds = f.spec.ttl_seconds_after_finished.unwrap_or_default();
        let event = ttl::expired_event(seconds, finished);
        return Decision::new(status, Effect::DeleteExpired(event), None);
    }
    // Woken when it expires (a timer, not a poll); at least a second later, so a clock a moment
    // behind does not spin.
    let wake = until(f.now, expiry).max(Duration::from_secs(1));
    Decision::new(status, effect, Some(wake))
}

/// When a finished object's TTL lets it go, with when it finished; `None` without a TTL.
fn ttl_expiry(f: &Facts) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let seconds = f.spec.ttl_seconds_after_finished.filter(|_| f.ttl_applies);
    ttl::finished_at(f.status)
        .and_then(|finished| Some((finished, ttl::expires_at(seconds, finished)?)))
}

/// What is left to do for a finished object that needs nothing more (see [`settled`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
    /// The ended run, which the poller must have forgotten for the object to need nothing.
    pub run: Option<JobKey>,
    /// When its TTL lets it go (then it needs a delete): `None` without a TTL.
    pub expires: Option<DateTime<Utc>>,
}

/// Whether the object needs nothing until its TTL expires, whatever the time until then: it
/// finished, nothing is pending (re-run, deletion, spec change to refuse) and its status is
/// what [`decide`] would write. Such an object can be cached without its spec
/// (`spark_job_run::cache`); deciding on it again could only forget `run` or delete it at
/// `expires`.
pub fn settled(f: &Facts) -> Option<Settlement> {
    if f.deleting_since.is_some() || phase(f.status) != Phase::Finished {
        return None;
    }
    let decision = decide(f);
    if decision.status != *f.status {
        return None;
    }
    let run = match decision.effect {
        Effect::None => None,
        Effect::Forget(key) => Some(key),
        _ => return None,
    };
    let expires = match (decision.wake, ttl_expiry(f)) {
        (None, None) => None,
        (Some(_), Some((_, expires))) => Some(expires),
        // Woken for anything but its TTL: not settled.
        _ => return None,
    };
    Some(Settlement { run, expires })
}

#[cfg(test)]
mod tests;
