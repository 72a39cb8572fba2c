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
/// Backoff by the kind of trouble. What clears by itself is retried soon and never waits more
/// than a minute (throttling starts slower so a burst spreads out; an apiserver that could not
/// answer is looked at again within 30 s); a conflict is redone within seconds on a fresh read.
/// What a person must fix (invalid input, access denied, an RBAC refusal, anything else) waits
/// longer from the start and backs off to five minutes: a spec edit triggers a reconcile anyway,
/// and IAM or RBAC fixes are noticed within the cap. A panic waits as in every controller.
pub(super) const BACKOFF: Backoff = Backoff {
    throttled: Bounds::secs(5, 60),
    transient_aws: Bounds::secs(2, 60),
    apiserver_unreachable: Bounds::secs(2, 30),
    conflict: Bounds::secs(1, 10),
    terminal_input: Bounds::secs(10, 300),
    panicked: Backoff::DEFAULT.panicked,
    other: Bounds::secs(5, 300),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Trouble that clears by itself, and trouble a person must fix.
    const CLEARS: [Category; 3] = [
        Category::Throttled,
        Category::TransientAws,
        Category::ApiserverUnreachable,
    ];
    const NEEDS_A_PERSON: [Category; 2] = [Category::TerminalInput, Category::Other];

    #[test]
    fn trouble_that_clears_by_itself_is_retried_sooner_than_what_a_person_must_fix() {
        for quick in CLEARS {
            for slow in NEEDS_A_PERSON {
                let (q, s) = (BACKOFF.bounds(quick), BACKOFF.bounds(slow));
                assert!(q.cap < s.cap, "{quick:?} {q:?} vs {slow:?} {s:?}");
            }
        }
        // Jittered: each bound is checked on many draws.
        for streak in 1..=20 {
            for _ in 0..20 {
                for quick in CLEARS {
                    let delay = BACKOFF.delay(quick, streak);
                    assert!(delay <= Duration::from_secs(60), "{quick:?} {delay:?}");
                }
                let conflict = BACKOFF.delay(Category::Conflict, streak);
                assert!(conflict <= Duration::from_secs(10), "{conflict:?}");
                for slow in NEEDS_A_PERSON {
                    let delay = BACKOFF.delay(slow, streak);
                    assert!(delay >= Duration::from_millis(2500), "{slow:?} {delay:?}");
                    assert!(delay <= Duration::from_secs(300), "{slow:?} {delay:?}");
                }
            }
        }
        for _ in 0..50 {
            let first_transient = BACKOFF.delay(Category::TransientAws, 1);
            let first_invalid = BACKOFF.delay(Category::TerminalInput, 1);
            assert!(
                first_transient <= Duration::from_secs(2),
                "{first_transient:?}"
            );
            assert!(first_invalid >= Duration::from_secs(5), "{first_invalid:?}");
        }
        assert_eq!(
            BACKOFF.bounds(Category::Panicked),
            Backoff::DEFAULT.panicked
        );
    }
}
