//! What every reconcile of the SparkJobRun controller shares, and the per-object memory it keeps
//! (serial slots, failure streaks, the fair queue's entries, the poller's runs), forgotten once
//! the object is gone (see [`sweep`](super::sweep)).

use std::sync::Arc;

use emr_api::SparkJobRun;
use kube::runtime::reflector::ObjectRef;

use super::admission::Admission;
use super::poller::SharedTracker;
use super::preflight::cache::NamespaceLimits;
use super::serial::Serial;
use crate::context::Context;
use crate::fair_queue::SharedQueue;
use crate::kit::Streaks;

/// What every reconcile of this controller shares.
pub struct State {
    pub ctx: Arc<Context>,
    pub tracker: Arc<SharedTracker>,
    /// The fair queue the reconciles come from.
    pub queue: SharedQueue<SparkJobRun>,
    pub(super) serial: Serial,
    /// Each failing object's streak, for its backoff.
    pub(super) failures: Streaks<ObjectRef<SparkJobRun>>,
    /// The namespaces' LimitRanges and ResourceQuotas, for the preflight.
    pub namespace_limits: Arc<NamespaceLimits>,
    /// Per-VirtualCluster job run limits (`maxConcurrentJobRuns`).
    pub admission: Admission,
}

impl State {
    pub fn new(ctx: Arc<Context>, tracker: Arc<SharedTracker>) -> Self {
        Self {
            ctx,
            tracker,
            queue: SharedQueue::default(),
            serial: Serial::default(),
            failures: Streaks::default(),
            namespace_limits: Arc::default(),
            admission: Admission::default(),
        }
    }

    /// Forgets everything kept per object for objects `present` no longer finds.
    pub fn forget_absent(&self, present: impl Fn(&ObjectRef<SparkJobRun>) -> bool) {
        self.failures.retain(&present);
        self.serial.forget_absent(&present);
        self.queue.lock().retain(&present);
        self.tracker.with(|r| r.forget_objects(&present));
        self.admission.forget_absent(&present);
    }

    /// Entries per in-memory map, for the `tracked_objects` metric.
    pub fn map_sizes(&self) -> Vec<(&'static str, usize)> {
        let (queued, timers) = {
            let queue = self.queue.lock();
            (queue.len(), queue.timers_len())
        };
        let mut sizes = vec![
            ("sparkjobrun_serial", self.serial.len()),
            ("sparkjobrun_failures", self.failures.len()),
            ("sparkjobrun_queue", queued),
            ("sparkjobrun_queue_timers", timers),
            ("sparkjobrun_admission", self.admission.len()),
        ];
        sizes.extend(self.tracker.with(|r| r.sizes()));
        sizes
    }
}
