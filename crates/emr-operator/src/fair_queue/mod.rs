//! A work queue that is fair between tenants, in place of kube-runtime's Controller queue.
//!
//! kube-runtime serves objects first come, first served: when a tenant's thousands of objects
//! are queued (the operator restarts, or a nightly batch lands), another tenant's one object
//! waits for all of them (`make bench`, `fairness` scenario). Here objects wait per tenant (the
//! namespace: a tenant cannot choose it) and tenants are served in turn, weighted by their
//! VirtualCluster's `share`, so one object waits for at most `share` objects of each other
//! tenant with work. The rest is what kube-runtime's applier guarantees: one reconcile per object
//! at a time on the newest copy in the cache, requeue-after per object, no reconcile before the
//! cache is filled, in-flight reconciles finish on shutdown.
//!
//! - [`queue`]: the pure queue (per-tenant FIFOs, turns, lanes, requeue timers).
//! - [`runner`]: feeds it from trigger streams and runs reconciles on a bounded number of tasks.

pub mod queue;
pub mod runner;

use std::time::Duration;

pub use queue::{Dispatch, FairQueue, Lane, TenantInfo, TenantLoad};
pub use runner::{Runner, SharedQueue};

/// What a reconcile asks of the queue: another reconcile after a delay, or none until something
/// changes. (kube-runtime's `Action` does not let its delay be read.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    requeue_after: Option<Duration>,
}

impl Action {
    /// Reconcile again after `after`, unless something else asks for it sooner.
    pub const fn requeue(after: Duration) -> Self {
        Self {
            requeue_after: Some(after),
        }
    }

    /// Reconcile again only when a change asks for it.
    pub const fn await_change() -> Self {
        Self {
            requeue_after: None,
        }
    }

    pub const fn requeue_after(self) -> Option<Duration> {
        self.requeue_after
    }
}
