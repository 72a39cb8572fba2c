//! What the VirtualCluster controller keeps between reconciles, per object: the failure streak
//! (for the backoff) and what a refused status write had recorded (carried into the next try).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use emr_api::{VirtualCluster, VirtualClusterStatus};
use kube::ResourceExt;

use super::outcome::{self, Retry};
use crate::Context;
use crate::kit::backoff;

/// How soon a step that waits on something moving by itself is looked at again.
const POLL: Duration = Duration::from_secs(5);
const BACKOFF_BASE: Duration = Duration::from_secs(2);
const BACKOFF_CAP: Duration = Duration::from_secs(300);

/// What the controller keeps between reconciles: the shared context and, per object, how many
/// reconciles in a row failed (for the backoff) and what a pass recorded that no status write
/// has kept yet.
pub struct State {
    pub ctx: Arc<Context>,
    failures: Mutex<HashMap<String, u32>>,
    /// The status of a pass whose write was refused as stale on every try of a reconcile: what
    /// it recorded (above all that the operator created the namespace, which no later pass can
    /// see from outside) is carried into the next reconcile until a status write keeps it.
    unrecorded: Mutex<HashMap<String, Box<VirtualClusterStatus>>>,
}

/// A map whose holder panicked is still consistent here (each entry is written whole), so the
/// poison is ignored rather than turning every later backoff into the cap.
fn locked<T>(map: &Mutex<T>) -> MutexGuard<'_, T> {
    map.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    pub fn new(ctx: Arc<Context>) -> Self {
        Self {
            ctx,
            failures: Mutex::new(HashMap::new()),
            unrecorded: Mutex::new(HashMap::new()),
        }
    }

    /// The delay before the next look for `retry`, remembering the failure streak.
    pub fn next(&self, key: &str, retry: Retry) -> Duration {
        let mut failures = locked(&self.failures);
        let streak = failures.get(key).copied().unwrap_or(0);
        let (delay, streak) =
            outcome::requeue_after(retry, streak, self.ctx.config.resync_interval, POLL, |n| {
                backoff::jittered(n, BACKOFF_BASE, BACKOFF_CAP)
            });
        if streak == 0 {
            failures.remove(key);
        } else {
            failures.insert(key.to_owned(), streak);
        }
        delay
    }

    pub fn forget(&self, key: &str) {
        locked(&self.failures).remove(key);
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

    /// The requeue after a reconcile that returned an error.
    pub fn after_error(&self, vc: &VirtualCluster) -> Duration {
        self.next(&key(vc), Retry::Backoff)
    }

    /// Forgets the failure streaks of objects whose key (uid, else name) `present` rejects.
    pub fn forget_absent(&self, present: impl Fn(&str) -> bool) {
        locked(&self.failures).retain(|key, _| present(key));
        locked(&self.unrecorded).retain(|key, _| present(key));
    }

    /// Entries per in-memory map, for the `tracked_objects` metric.
    pub fn map_sizes(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("virtualcluster_failures", locked(&self.failures).len()),
            ("virtualcluster_unrecorded", locked(&self.unrecorded).len()),
        ]
    }

    /// The requeue after a reconcile that panicked: minutes, growing with the streak.
    pub fn after_panic(&self, vc: &VirtualCluster) -> Duration {
        let mut failures = locked(&self.failures);
        let streak = failures.entry(key(vc)).or_default();
        *streak = streak.saturating_add(1);
        crate::kit::panic_guard::backoff(*streak)
    }
}

pub(super) fn key(vc: &VirtualCluster) -> String {
    vc.metadata.uid.clone().unwrap_or_else(|| vc.name_any())
}
