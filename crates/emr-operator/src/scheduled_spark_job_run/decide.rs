//! The pure half of a reconcile: from the schedule, its status, its children and the time, what
//! to create, what to delete, which slots were skipped and why, the status to write and when
//! to look again. No I/O and no clock: `now` is passed in.
//!
//! Every slot in `(status.decidedUntil, now]` is decided exactly once: it starts a run (its child
//! is named after it, so a decision redone after a crash finds the child and starts nothing
//! more), or it is recorded as skipped. After downtime only the latest slot may start a run.
//!
//! (One file over 400 lines on purpose: the slot walk, the concurrency policy and the history
//! limits decide one status together and must agree; its tests are in `decide/tests.rs`.)

use std::time::Duration;

use chrono::{DateTime, Utc};
use emr_api::condition::{self, Condition, ConditionStatus};
use emr_api::labels::ARGOCD_COMPARE_OPTIONS_ANNOTATION;
use emr_api::scheduled_spark_job_run::{
    ChildRef, ConcurrencyPolicy, MAX_NAME_LENGTH, SCHEDULE_LABEL, SLOT_ANNOTATION,
    ScheduledSparkJobRunSpec, ScheduledSparkJobRunStatus, SkippedSlot, condition_types, reasons,
    results,
};
use emr_api::time::Timestamp;

use super::schedule::{Schedule, plus_seconds};
use crate::kit::Event;

/// Skipped slots kept in status.
pub const MAX_SKIPPED: usize = 10;
/// The longest sleep between two looks at a schedule (a monthly schedule is still looked at
/// hourly, which also corrects a clock that jumped).
pub const MAX_SLEEP: Duration = Duration::from_secs(3600);
/// The Event action of this controller.
pub const ACTION: &str = "Schedule";

/// What a child SparkJobRun is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Active,
    Succeeded {
        finished: DateTime<Utc>,
    },
    Failed {
        finished: DateTime<Utc>,
        cancelled: bool,
    },
}

/// A child SparkJobRun, as the decision needs it (only children owned by this schedule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Child {
    pub name: String,
    pub slot: DateTime<Utc>,
    pub phase: Phase,
    /// Being deleted (its finalizer is cancelling the EMR run): neither active nor history.
    pub deleting: bool,
}

/// Everything a decision reads.
#[derive(Clone, Debug)]
pub struct Facts<'a> {
    pub now: DateTime<Utc>,
    pub name: &'a str,
    pub created: DateTime<Utc>,
    pub generation: Option<i64>,
    pub spec: &'a ScheduledSparkJobRunSpec,
    /// `None` before the operator first wrote status.
    pub status: Option<&'a ScheduledSparkJobRunStatus>,
    pub children: &'a [Child],
}

/// A child to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewChild {
    pub name: String,
    pub slot: DateTime<Utc>,
    /// Started by `runNow` rather than by a slot.
    pub manual: bool,
}

/// Why a child is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deletion {
    /// Replace: the active run is cancelled before the new one starts.
    Replaced,
    /// Beyond the history limits.
    History,
}

/// What one reconcile does, in order: delete, create, write status, publish Events, sleep.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub delete: Vec<(String, Deletion)>,
    pub create: Option<NewChild>,
    pub status: ScheduledSparkJobRunStatus,
    pub events: Vec<Event>,
    pub requeue_after: Duration,
}

/// The child name for a slot: `<schedule>-<unix seconds>` (sub-minute slots stay distinct).
pub fn slot_child_name(schedule: &str, slot: DateTime<Utc>) -> String {
    format!("{schedule}-{}", slot.timestamp())
}

/// The child name for a `runNow` value, per generation: the same request always gives the same
/// name, and the same value set again later (a new generation) gives a new one.
pub fn manual_child_name(schedule: &str, generation: Option<i64>, value: &str) -> String {
    let key = format!("{}/{value}", generation.unwrap_or(0));
    let hash = key.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    format!("{schedule}-manual-{hash:08x}")
}

/// The schedule text a status was computed with: the zone and the schedule.
pub fn schedule_key(spec: &ScheduledSparkJobRunSpec) -> String {
    format!(
        "{} {}",
        spec.time_zone.as_deref().unwrap_or("UTC"),
        spec.schedule.trim()
    )
}

/// The keys the operator sets on each child, which the template may not set: the schedule label
/// is how children are found, the slot annotation what they are matched to.
const OPERATOR_KEYS: [&str; 3] = [
    SCHEDULE_LABEL,
    SLOT_ANNOTATION,
    ARGOCD_COMPARE_OPTIONS_ANNOTATION,
];

/// Why the spec cannot be scheduled: (reason, message).
fn invalid(facts: &Facts<'_>) -> Result<Schedule, (&'static str, String)> {
    if facts.name.chars().count() > MAX_NAME_LENGTH {
        return Err((
            reasons::NAME_TOO_LONG,
            format!("the name is longer than {MAX_NAME_LENGTH} characters"),
        ));
    }
    let meta = &facts.spec.template.metadata;
    if let Some(key) = meta
        .labels
        .keys()
        .chain(meta.annotations.keys())
        .find(|k| OPERATOR_KEYS.contains(&k.as_str()))
    {
        return Err((
            reasons::INVALID_TEMPLATE,
            format!("spec.template.metadata: the key {key:?} is reserved for the operator"),
        ));
    }
    Schedule::parse(
        &facts.spec.schedule,
        facts.spec.time_zone.as_deref(),
        facts.created,
    )
    .map_err(|e| match e {
        super::schedule::ScheduleError::TimeZone { .. } => {
            (reasons::INVALID_TIME_ZONE, format!("spec.timeZone: {e}"))
        }
        super::schedule::ScheduleError::Schedule { .. } => {
            (reasons::INVALID_SCHEDULE, format!("spec.schedule: {e}"))
        }
    })
}

/// Decides one reconcile.
pub fn decide(facts: &Facts<'_>) -> Plan {
    let old = facts.status.cloned().unwrap_or_default();
    let mut status = ScheduledSparkJobRunStatus {
        observed_generation: facts.generation,
        ..old.clone()
    };
    let mut events = Vec::new();
    let mut delete = Vec::new();
    let mut create = None;
    let mut pending = false;

    let live: Vec<&Child> = facts.children.iter().filter(|c| !c.deleting).collect();
    let active: Vec<&Child> = live
        .iter()
        .copied()
        .filter(|c| c.phase == Phase::Active)
        .collect();
    let exists = |name: &str| facts.children.iter().any(|c| c.name == name);

    let key = schedule_key(facts.spec);
    let parsed = invalid(facts);
    match &parsed {
        Err((reason, message)) => {
            let already = condition::find(&old.conditions, condition_types::SCHEDULE_VALID)
                .is_some_and(|c| c.status == ConditionStatus::False && c.message == *message);
            if !already {
                events.push(Event::warning(*reason, ACTION, message.clone()));
            }
            set(
                &mut status,
                condition_types::SCHEDULE_VALID,
                false,
                reason,
                message,
                facts,
            );
            set(
                &mut status,
                condition_types::READY,
                false,
                reason,
                message,
                facts,
            );
            status.next_schedule_time = None;
            status.message = Some(message.clone());
            // Fixed, the schedule counts from the fix: no catch-up of the invalid one's time.
            status.observed_schedule = Some(key.clone());
        }
        Ok(schedule) => {
            // Where this decision starts: after the last decided slot; from now for a schedule
            // just edited (the old schedule's slots are not caught up); from the creation for a
            // new one.
            // A schedule resumed counts from now too: the slots passed while it was suspended
            // are not caught up (a suspended schedule is not looked at at each slot).
            let resumed = !facts.spec.suspend
                && condition::find(&old.conditions, condition_types::READY)
                    .is_some_and(|c| c.reason == reasons::SUSPENDED);
            let start = match (&old.observed_schedule, old.decided_until) {
                _ if resumed => facts.now,
                (Some(seen), _) if *seen != key => facts.now,
                (_, Some(until)) => until.as_datetime(),
                (_, None) => facts.created,
            };
            let mut decided = start.max(facts.created).min(facts.now);
            if facts.spec.suspend {
                decided = facts.now;
                status.next_schedule_time = None;
            } else if let Some(due) = schedule.due(decided, facts.now) {
                decided = due.latest;
                if due.count > 1 {
                    let missed = due.count - 1;
                    let at_least = if due.count >= super::schedule::MAX_COUNTED_SLOTS {
                        "at least "
                    } else {
                        ""
                    };
                    let message = format!(
                        "{at_least}{missed} earlier slot(s) passed while the operator was not \
                         running or was busy; only the latest may start a run"
                    );
                    skip(&mut status, due.latest, reasons::MISSED, &message);
                    events.push(Event::warning("MissedSlots", ACTION, message));
                }
                let late = facts.now.signed_duration_since(due.latest).num_seconds();
                let name = slot_child_name(facts.name, due.latest);
                match facts.spec.starting_deadline_seconds {
                    _ if exists(&name) => {
                        // Decided before, and the record of it was lost (a crash, a refused
                        // write): the run exists.
                        status.last_schedule_time = Some(due.latest.into());
                    }
                    Some(deadline) if late > deadline => {
                        let message = format!(
                            "the slot was {late}s late, more than startingDeadlineSeconds ({deadline})"
                        );
                        skip(
                            &mut status,
                            due.latest,
                            reasons::MISSED_STARTING_DEADLINE,
                            &message,
                        );
                        events.push(Event::warning(
                            reasons::MISSED_STARTING_DEADLINE,
                            ACTION,
                            message,
                        ));
                    }
                    _ => {
                        if start_run(
                            facts,
                            &active,
                            &mut delete,
                            &mut status,
                            &mut events,
                            due.latest,
                        ) {
                            create = Some(NewChild {
                                name,
                                slot: due.latest,
                                manual: false,
                            });
                            status.last_schedule_time = Some(due.latest.into());
                        }
                    }
                }
            }
            status.decided_until = Some(decided.into());
            status.observed_schedule = Some(key);
            if !facts.spec.suspend {
                status.next_schedule_time = schedule.next_after(decided).map(Timestamp::from);
            }
            let (reason, message) = if facts.spec.suspend {
                (
                    reasons::SUSPENDED,
                    "suspended: no slot starts a run".to_owned(),
                )
            } else {
                let next = status
                    .next_schedule_time
                    .map_or_else(|| "none".to_owned(), |t| t.to_string());
                (reasons::SCHEDULED, format!("next run at {next}"))
            };
            set(
                &mut status,
                condition_types::SCHEDULE_VALID,
                true,
                reasons::SCHEDULED,
                "the schedule and time zone are valid",
                facts,
            );
            set(
                &mut status,
                condition_types::READY,
                true,
                reason,
                &message,
                facts,
            );
            status.message = Some(message);
        }
    }

    // runNow: a new value starts one run, whatever the schedule says; the value present when the
    // schedule is first seen is only noted.
    if let Some(value) = &facts.spec.run_now
        && old.observed_run_now.as_ref() != Some(value)
    {
        if facts.status.is_none() || parsed.is_err() {
            status.observed_run_now = Some(value.clone());
        } else if create.is_some() || !delete.is_empty() {
            // One run per reconcile: the request waits for the next one, right after.
            pending = true;
        } else {
            let name = manual_child_name(facts.name, facts.generation, value);
            if !exists(&name)
                && start_run(
                    facts,
                    &active,
                    &mut delete,
                    &mut status,
                    &mut events,
                    facts.now,
                )
            {
                create = Some(NewChild {
                    name,
                    slot: facts.now,
                    manual: true,
                });
            }
            status.observed_run_now = Some(value.clone());
        }
    }

    prune_history(facts, &live, &mut delete);
    summarize(facts, &live, &delete, create.as_ref(), &mut status);

    let requeue_after = if pending {
        Duration::from_secs(1)
    } else {
        sleep_until(
            facts.now,
            status.next_schedule_time.map(|t| t.as_datetime()),
        )
    };
    Plan {
        delete,
        create,
        status,
        events,
        requeue_after,
    }
}

/// Applies the concurrency policy to a run about to start at `slot`: whether it starts, and the
/// active runs to cancel first (Replace).
fn start_run(
    facts: &Facts<'_>,
    active: &[&Child],
    delete: &mut Vec<(String, Deletion)>,
    status: &mut ScheduledSparkJobRunStatus,
    events: &mut Vec<Event>,
    slot: DateTime<Utc>,
) -> bool {
    if active.is_empty() {
        return true;
    }
    let names = active
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    match facts.spec.concurrency_policy {
        ConcurrencyPolicy::Allow => true,
        ConcurrencyPolicy::Forbid => {
            let message = format!("concurrencyPolicy Forbid: {names} still running");
            skip(status, slot, reasons::CONCURRENCY_FORBIDDEN, &message);
            events.push(Event::normal("SlotSkipped", ACTION, message));
            false
        }
        ConcurrencyPolicy::Replace => {
            for child in active {
                delete.push((child.name.clone(), Deletion::Replaced));
            }
            events.push(Event::normal(
                "RunReplaced",
                ACTION,
                format!("concurrencyPolicy Replace: cancelling {names}"),
            ));
            true
        }
    }
}

/// Finished children beyond the history limits, oldest first out.
fn prune_history(facts: &Facts<'_>, live: &[&Child], delete: &mut Vec<(String, Deletion)>) {
    let mut succeeded: Vec<&Child> = live
        .iter()
        .copied()
        .filter(|c| matches!(c.phase, Phase::Succeeded { .. }))
        .collect();
    let mut failed: Vec<&Child> = live
        .iter()
        .copied()
        .filter(|c| matches!(c.phase, Phase::Failed { .. }))
        .collect();
    for (list, limit) in [
        (&mut succeeded, facts.spec.successful_runs_history_limit),
        (&mut failed, facts.spec.failed_runs_history_limit),
    ] {
        // Newest first; the slot, then the name, orders them the same way every time.
        list.sort_by(|a, b| (b.slot, &b.name).cmp(&(a.slot, &a.name)));
        let keep = usize::try_from(limit.max(0)).unwrap_or(0);
        for child in list.iter().skip(keep) {
            if !delete.iter().any(|(name, _)| *name == child.name) {
                delete.push((child.name.clone(), Deletion::History));
            }
        }
    }
}

/// `active`, `activeCount`, `lastResult` and `lastSuccessfulTime` from the children.
fn summarize(
    facts: &Facts<'_>,
    live: &[&Child],
    delete: &[(String, Deletion)],
    create: Option<&NewChild>,
    status: &mut ScheduledSparkJobRunStatus,
) {
    let deleted = |name: &str| delete.iter().any(|(n, _)| n == name);
    let mut active: Vec<ChildRef> = live
        .iter()
        .filter(|c| c.phase == Phase::Active && !deleted(&c.name))
        .map(|c| ChildRef {
            name: c.name.clone(),
            schedule_time: Some(c.slot.into()),
        })
        .collect();
    if let Some(new) = create
        && !active.iter().any(|c| c.name == new.name)
    {
        active.push(ChildRef {
            name: new.name.clone(),
            schedule_time: Some(new.slot.into()),
        });
    }
    active.sort_by(|a, b| (a.schedule_time, &a.name).cmp(&(b.schedule_time, &b.name)));
    active.truncate(100);
    status.active_count = i32::try_from(active.len()).unwrap_or(i32::MAX);
    status.active = active;
    let latest_finished = live
        .iter()
        .filter(|c| c.phase != Phase::Active)
        .max_by(|a, b| (a.slot, &a.name).cmp(&(b.slot, &b.name)));
    if let Some(child) = latest_finished {
        status.last_result = Some(
            match child.phase {
                Phase::Succeeded { .. } => results::SUCCEEDED,
                Phase::Failed {
                    cancelled: true, ..
                } => results::CANCELLED,
                _ => results::FAILED,
            }
            .to_owned(),
        );
    }
    let newest_success = live
        .iter()
        .filter_map(|c| match c.phase {
            Phase::Succeeded { finished } => Some(finished),
            _ => None,
        })
        .max();
    if let Some(finished) = newest_success {
        let finished = Timestamp::from(finished);
        if status.last_successful_time.is_none_or(|t| t < finished) {
            status.last_successful_time = Some(finished);
        }
    }
    let _ = facts;
}

/// Records a slot that started no run, keeping the last [`MAX_SKIPPED`].
pub fn skip(
    status: &mut ScheduledSparkJobRunStatus,
    slot: DateTime<Utc>,
    reason: &str,
    message: &str,
) {
    status.skipped.push(SkippedSlot {
        schedule_time: slot.into(),
        reason: reason.to_owned(),
        message: message.to_owned(),
    });
    let extra = status.skipped.len().saturating_sub(MAX_SKIPPED);
    status.skipped.drain(..extra);
}

fn set(
    status: &mut ScheduledSparkJobRunStatus,
    type_: &str,
    ok: bool,
    reason: &str,
    message: &str,
    facts: &Facts<'_>,
) {
    let value = if ok {
        ConditionStatus::True
    } else {
        ConditionStatus::False
    };
    let mut new = Condition::new(type_, value, reason, message, facts.generation);
    new.last_transition_time = facts.now.into();
    condition::set(&mut status.conditions, new);
}

/// The sleep until `next` (whole milliseconds, rounded up so the wake-up is never early), at
/// most [`MAX_SLEEP`].
fn sleep_until(now: DateTime<Utc>, next: Option<DateTime<Utc>>) -> Duration {
    let Some(next) = next else {
        return MAX_SLEEP;
    };
    let millis = next.signed_duration_since(now).num_milliseconds();
    let millis = u64::try_from(millis).unwrap_or(0).saturating_add(1);
    Duration::from_millis(millis).min(MAX_SLEEP)
}

/// The slot of a child, from its annotation, else its creation.
pub fn slot_of(annotation: Option<&str>, created: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    annotation
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|t| t.with_timezone(&Utc))
        .or(created)
}

/// `at` moved by `seconds`, saturating at chrono's range (for tests and callers that add).
pub fn shifted(at: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    plus_seconds(at, seconds).unwrap_or(at)
}

#[cfg(test)]
mod tests;
