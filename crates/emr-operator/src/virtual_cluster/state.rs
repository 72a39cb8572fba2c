//! What the VirtualCluster controller keeps between reconciles, per object: the failure streak
//! (the kit's [`Streaks`], for the backoff) and what a refused status write had recorded (carried
//! into the next try).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use emr_api::{VirtualCluster, VirtualClusterStatus};
use kube::ResourceExt;

use super::outcome::{self, Retry};
use super::steps::fargate::ClusterSlots;
use crate::Context;
use crate::kit::{Backoff, Bounds, Category, Streaks};

/// How soon a step that waits on something moving by itself is looked at again.
const POLL: Duration = Duration::from_secs(5);
/// Every kind of trouble backs off from 2 s to 5 min, as this controller always did; a panic
/// waits as long as in every controller. One table, so a kind of trouble can get its own bounds.
const FAILING: Bounds = Bounds::secs(2, 300);
const BACKOFF: Backoff = Backoff {
    throttled: FAILING,
    transient_aws: FAILING,
    apiserver_unreachable: FAILING,
    conflict: FAILING,
    terminal_input: FAILING,
    panicked: Backoff::DEFAULT.panicked,
    other: FAILING,
};

/// What the controller keeps between reconciles: the shared context and, per object (by
/// [`key`]), its failure streak and what a pass recorded that no status write has kept yet.
pub struct State {
    pub ctx: Arc<Context>,
    failures: Streaks<String>,
    /// The status of a pass whose write was refused as stale on every try of a reconcile: what
    /// it recorded (above all that the operator created the namespace, which no later pass can
    /// see from outside) is carried into the next reconcile until a status write keeps it.
    unrecorded: Mutex<HashMap<String, Box<VirtualClusterStatus>>>,
    /// EKS's one Fargate profile operation per cluster, kept across reconciles.
    pub fargate_slots: ClusterSlots,
}

/// A map whose holder panicked is still consistent here (each entry is written whole), so the
/// poison is ignored.
fn locked<T>(map: &Mutex<T>) -> MutexGuard<'_, T> {
    map.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    pub fn new(ctx: Arc<Context>) -> Self {
        Self {
            ctx,
            failures: Streaks::default(),
            unrecorded: Mutex::new(HashMap::new()),
            fargate_slots: ClusterSlots::default(),
        }
    }

    /// The delay before the next look for `retry`; a failure (of `category`) lengthens the
    /// object's streak, anything else ends it.
    pub fn next(&self, key: &str, retry: Retry, category: Category) -> Duration {
        if retry != Retry::Backoff {
            self.failures.succeeded(&key.to_owned());
        }
        outcome::requeue_after(retry, self.ctx.config.resync_interval, POLL, || {
            self.failures.next_delay(key.to_owned(), category, &BACKOFF)
        })
    }

    pub fn forget(&self, key: &str) {
        self.failures.succeeded(&key.to_owned());
        locked(&self.unrecorded).remove(key);
    }

    /// What an earlier reconcile of `key` recorded and could not write.
    pub fn unrecorded(&self, key: &str) -> Option<Box<VirtualClusterStatus>> {
        locked(&self.unrecorded).get(key).cloned()
    }

    /// Keeps `status` (or, with `None`, forgets what was kept) for the next reconcile of `key`.
    pub fn keep_unrecorded(&self, key: &str, status: Option<Box<VirtualClusterStatus>>) {
        let mut kept = locked(&self.unrecorded);
        match status {
            Some(status) => {
                kept.insert(key.to_owned(), status);
            }
            None => {
                kept.remove(key);
            }
        }
    }

    /// The requeue after a reconcile that returned an error of `category`.
    pub fn after_error(&self, vc: &VirtualCluster, category: Category) -> Duration {
        self.next(&key(vc), Retry::Backoff, category)
    }

    /// Forgets the failure streaks of objects whose key (uid, else name) `present` rejects.
    pub fn forget_absent(&self, present: impl Fn(&str) -> bool) {
        self.failures.retain(|key| present(key));
        locked(&self.unrecorded).retain(|key, _| present(key));
    }

    /// Entries per in-memory map, for the `tracked_objects` metric.
    pub fn map_sizes(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("virtualcluster_failures", self.failures.len()),
            ("virtualcluster_unrecorded", locked(&self.unrecorded).len()),
            (
                "virtualcluster_fargate_slots",
                self.fargate_slots.with(|s| s.len()),
            ),
        ]
    }

    /// The requeue after a reconcile that panicked: minutes, growing with the streak.
    pub fn after_panic(&self, vc: &VirtualCluster) -> Duration {
        self.failures
            .next_delay(key(vc), Category::Panicked, &BACKOFF)
    }
}

pub(super) fn key(vc: &VirtualCluster) -> String {
    vc.metadata.uid.clone().unwrap_or_else(|| vc.name_any())
}
