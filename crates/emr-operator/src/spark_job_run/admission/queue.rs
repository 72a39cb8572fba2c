//! The admission rule, pure: from what every SparkJobRun of a VirtualCluster holds or waits for,
//! whether one more may start a job run, and its place in the queue otherwise.

use std::cmp::Reverse;
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use emr_api::SparkJobRun;
use emr_api::condition;
use emr_api::spark_job_run::condition_types as types;

use crate::spark_job_run::decide::{Phase, phase};

/// What a job wants of its VirtualCluster's slots, read from one copy of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    /// It holds (or may hold) an EMR job run: an attempt is recorded (StartJobRun due or done)
    /// or its run has not been seen finished. A deleted job holds until its run is cancelled.
    Holding,
    /// It waits for a slot (condition Queued), or has never been reconciled (it may want one).
    Waiting,
    /// Neither.
    Idle,
}

/// What `job` wants of its VirtualCluster's slots.
pub fn interest(job: &SparkJobRun) -> Interest {
    let Some(status) = &job.status else {
        let deleted = job.metadata.deletion_timestamp.is_some();
        return if deleted || job.spec.suspend == Some(true) {
            Interest::Idle
        } else {
            Interest::Waiting
        };
    };
    if matches!(phase(status), Phase::Submitting | Phase::Active) {
        Interest::Holding
    } else if job.metadata.deletion_timestamp.is_none()
        && condition::is_true(&status.conditions, types::QUEUED)
    {
        Interest::Waiting
    } else {
        Interest::Idle
    }
}

/// Admission order: higher `spec.priority` first, then the older object, then the name (so two
/// replicas, or two reconciles, always agree).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Order {
    priority: Reverse<i32>,
    /// `None` (no creation time, which the apiserver always sets) sorts last.
    created: (bool, Option<DateTime<Utc>>),
    name: String,
}

impl Order {
    pub fn of(job: &SparkJobRun) -> Self {
        let created = job.metadata.creation_timestamp.as_ref().and_then(|t| {
            let nanos = u32::try_from(t.0.subsec_nanosecond()).unwrap_or(0);
            DateTime::from_timestamp(t.0.as_second(), nanos)
        });
        Self::new(
            job.spec.priority.unwrap_or(0),
            created,
            job.metadata.name.clone().unwrap_or_default(),
        )
    }

    pub fn new(priority: i32, created: Option<DateTime<Utc>>, name: String) -> Self {
        Self {
            priority: Reverse(priority),
            created: (created.is_none(), created),
            name,
        }
    }
}

/// Another job of the same VirtualCluster, as the store shows it.
#[derive(Clone, Debug)]
pub struct Other {
    pub name: String,
    pub order: Order,
    pub interest: Interest,
}

/// The answer for one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub admitted: bool,
    /// 1 for the next job to be admitted.
    pub position: usize,
    /// Jobs waiting, this one included.
    pub waiting: usize,
    /// Jobs holding a slot, this one not included.
    pub holding: usize,
    pub limit: u32,
}

/// Whether the job `me` (in `order`) may take a slot now. `reserved` are jobs this process
/// admitted that the store may not show holding yet; `queued` those it told to wait (the store
/// may not show that yet either). `me` is left out of all of them.
pub fn verdict(
    me: &str,
    order: &Order,
    others: &[Other],
    reserved: &BTreeSet<String>,
    queued: &BTreeSet<String>,
    limit: u32,
) -> Verdict {
    let others = || others.iter().filter(|o| o.name != me);
    let holders: BTreeSet<&str> = others()
        .filter(|o| o.interest == Interest::Holding)
        .map(|o| o.name.as_str())
        .chain(reserved.iter().map(String::as_str).filter(|n| *n != me))
        .collect();
    let waiting: Vec<&Other> = others()
        .filter(|o| !holders.contains(o.name.as_str()))
        .filter(|o| o.interest == Interest::Waiting || queued.contains(&o.name))
        .collect();
    let ahead = waiting.iter().filter(|o| o.order < *order).count();
    let limit_slots = usize::try_from(limit).unwrap_or(usize::MAX);
    Verdict {
        admitted: holders.len().saturating_add(ahead) < limit_slots,
        position: ahead.saturating_add(1),
        waiting: waiting.len().saturating_add(1),
        holding: holders.len(),
        limit,
    }
}

/// The jobs to wake when a slot may have freed or the queue moved: the waiting ones, first in
/// order, at most `max` (those further back keep their place and are woken as it nears).
pub fn to_wake(others: &[Other], queued: &BTreeSet<String>, max: usize) -> Vec<String> {
    let mut waiting: Vec<&Other> = others
        .iter()
        .filter(|o| o.interest == Interest::Waiting || queued.contains(&o.name))
        .filter(|o| o.interest != Interest::Holding)
        .collect();
    waiting.sort_by(|a, b| a.order.cmp(&b.order));
    waiting
        .into_iter()
        .take(max)
        .map(|o| o.name.clone())
        .collect()
}

#[cfg(test)]
mod tests;
