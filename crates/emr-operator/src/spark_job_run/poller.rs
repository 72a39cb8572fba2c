//! The one task that asks EMR how job runs are doing: per due virtual cluster one ListJobRuns of
//! its active runs, then the few that just finished. What changed is handed to the controller's
//! tracking queue as reconcile requests for exactly those objects; reconciles never poll EMR.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use emr_api::SparkJobRun;
use emr_aws::{Aws, JobRunState};
use futures::StreamExt;
use futures::channel::mpsc::UnboundedSender;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::Notify;

use super::cache::JobCache;
use super::tracker::{Cadence, JobKey, MissingPlan, Observation, PollRequest, Tracker};
use crate::kit::backoff;
use crate::metrics::Metrics;

/// Virtual clusters polled at once.
const POLL_CONCURRENCY: usize = 4;
/// DescribeJobRuns in flight at once.
const DESCRIBE_CONCURRENCY: usize = 4;
/// Longest sleep between ticks (the state gauge is refreshed every tick).
const IDLE_TICK: Duration = Duration::from_secs(5);
/// Shortest sleep between ticks, so a burst of tracking requests is taken in one tick.
const MIN_TICK: Duration = Duration::from_millis(200);
/// Longest pause after failed polls of a virtual cluster (throttling, an outage).
const MAX_POLL_BACKOFF: Duration = Duration::from_secs(300);
/// How long a final observation waits for its object's reconcile before it is dropped.
const OBSERVATION_TTL: TimeDelta = TimeDelta::hours(1);

/// The [`Tracker`] shared by the poller and the reconciles, with a wake-up for the poller.
pub struct SharedTracker {
    tracker: Mutex<Tracker>,
    wake: Notify,
}

impl SharedTracker {
    pub fn new(cadence: Cadence) -> Self {
        Self {
            tracker: Mutex::new(Tracker::new(cadence)),
            wake: Notify::new(),
        }
    }

    /// Runs `f` on the tracker. A panic elsewhere cannot leave it half-updated in a way that
    /// matters (every entry is self-contained), so a poisoned lock is used as it is.
    pub fn with<R>(&self, f: impl FnOnce(&mut Tracker) -> R) -> R {
        let mut tracker = self.tracker.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut tracker)
    }

    /// Like [`SharedTracker::with`], then wakes the poller to reconsider its schedule.
    pub fn change<R>(&self, f: impl FnOnce(&mut Tracker) -> R) -> R {
        let result = self.with(f);
        self.wake.notify_one();
        result
    }
}

/// Where reconcile requests go: the tracking queue of the controller for the object's namespace
/// (one per watched namespace, or one for all).
#[derive(Clone, Default)]
pub struct Triggers {
    routes: Vec<(Option<String>, UnboundedSender<ObjectRef<SparkJobRun>>)>,
}

impl Triggers {
    pub fn add(
        &mut self,
        namespace: Option<String>,
        sender: UnboundedSender<ObjectRef<SparkJobRun>>,
    ) {
        self.routes.push((namespace, sender));
    }

    fn send(&self, objects: Vec<ObjectRef<SparkJobRun>>) {
        for object in objects {
            let route = self
                .routes
                .iter()
                .find(|(ns, _)| ns.is_none() || *ns == object.namespace);
            if let Some((_, sender)) = route {
                // A closed channel means the controller is shutting down.
                let _ = sender.unbounded_send(object);
            }
        }
    }
}

/// The polling task.
pub struct Poller {
    pub tracker: Arc<SharedTracker>,
    pub aws: Aws,
    pub metrics: Arc<Metrics>,
    pub cadence: Cadence,
    pub triggers: Triggers,
    pub stores: Vec<JobCache>,
}

impl Poller {
    /// Polls until `shutdown` resolves.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        self.register_state_counts();
        loop {
            let now = Utc::now();
            let due = self.tracker.with(|r| r.due(now));
            futures::stream::iter(due)
                .for_each_concurrent(POLL_CONCURRENCY, |request| self.poll(request))
                .await;
            self.tracker.with(|r| r.prune(Utc::now(), OBSERVATION_TTL));
            let sleep = self
                .tracker
                .with(|r| r.next_poll_at())
                .map_or(IDLE_TICK, |at| {
                    (at - Utc::now()).to_std().unwrap_or(Duration::ZERO)
                })
                .clamp(MIN_TICK, IDLE_TICK);
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(sleep) => {}
                () = self.tracker.wake.notified() => {
                    // Let a burst of new runs (e.g. a sync of many objects) gather first.
                    tokio::time::sleep(MIN_TICK).await;
                }
            }
        }
    }

    async fn poll(&self, request: PollRequest) {
        let vc = request.virtual_cluster_id.as_str();
        let listed = self
            .aws
            .emr
            .list_job_runs(vc, &JobRunState::ACTIVE, Some(request.created_after))
            .await;
        match listed {
            Ok(runs) => {
                let (changed, missing) = self
                    .tracker
                    .with(|r| r.record_active(vc, &runs, Utc::now()));
                self.triggers.send(changed);
                self.fetch_missing(vc, missing).await;
            }
            Err(error) if error.is_not_found() => {
                // The virtual cluster is gone, and with it its runs: each describe says so.
                tracing::info!(
                    virtual_cluster = vc,
                    "virtual cluster not found; checking its runs one by one"
                );
                let (changed, missing) =
                    self.tracker.with(|r| r.record_active(vc, &[], Utc::now()));
                self.triggers.send(changed);
                self.describe(missing).await;
            }
            Err(error) => {
                let retry_in = self.tracker.with(|r| {
                    let delay = backoff::jittered(
                        r.failures(vc),
                        self.cadence.young_poll_interval,
                        MAX_POLL_BACKOFF,
                    );
                    r.record_failure(vc, delay, Utc::now());
                    delay
                });
                tracing::warn!(%error, virtual_cluster = vc, retry_in_ms = retry_in.as_millis() as u64, "polling job runs failed");
            }
        }
    }

    async fn fetch_missing(&self, vc: &str, missing: Vec<JobKey>) {
        match self.tracker.with(|r| r.plan_missing(missing, Utc::now())) {
            MissingPlan::Nothing => {}
            MissingPlan::Describe(keys) => self.describe(keys).await,
            MissingPlan::ListFinished {
                created_after,
                keys,
            } => {
                let finished = [
                    JobRunState::Completed,
                    JobRunState::Failed,
                    JobRunState::Cancelled,
                ];
                match self
                    .aws
                    .emr
                    .list_job_runs(vc, &finished, Some(created_after))
                    .await
                {
                    Ok(runs) => {
                        let (changed, still_missing) = self
                            .tracker
                            .with(|r| r.record_finished(vc, &runs, keys, Utc::now()));
                        self.triggers.send(changed);
                        self.describe(still_missing).await;
                    }
                    // They are still tracked: the next tick finds them missing again.
                    Err(error) => {
                        tracing::warn!(%error, virtual_cluster = vc, "listing finished job runs failed")
                    }
                }
            }
        }
    }

    async fn describe(&self, keys: Vec<JobKey>) {
        futures::stream::iter(keys)
            .for_each_concurrent(DESCRIBE_CONCURRENCY, |key| async move {
                let described = self
                    .aws
                    .emr
                    .describe_job_run(&key.virtual_cluster_id, &key.job_run_id)
                    .await;
                let observation = match described {
                    Ok(info) => Observation::Seen(info),
                    Err(error) if error.is_not_found() => Observation::NotFound,
                    Err(error) => {
                        tracing::warn!(%error, "describing a job run failed");
                        return;
                    }
                };
                let changed = self
                    .tracker
                    .with(|r| r.record_described(&key, observation, Utc::now()));
                self.triggers.send(changed);
            })
            .await;
    }

    /// Lets `/metrics` count jobs by state from the controllers' caches when it is scraped.
    fn register_state_counts(&self) {
        let stores = self.stores.clone();
        self.metrics.set_job_run_counter(Box::new(move || {
            let mut counts: BTreeMap<String, i64> = BTreeMap::new();
            for store in &stores {
                store.count_states(&mut counts);
            }
            counts
        }));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn requests_go_to_the_controller_of_their_namespace() {
        let (a_tx, mut a_rx) = futures::channel::mpsc::unbounded();
        let (b_tx, mut b_rx) = futures::channel::mpsc::unbounded();
        let mut triggers = Triggers::default();
        triggers.add(Some("a".into()), a_tx);
        triggers.add(Some("b".into()), b_tx);
        triggers.send(vec![
            ObjectRef::new("x").within("a"),
            ObjectRef::new("y").within("b"),
            ObjectRef::new("z").within("elsewhere"),
        ]);
        assert_eq!(a_rx.try_recv().unwrap(), ObjectRef::new("x").within("a"));
        assert_eq!(b_rx.try_recv().unwrap(), ObjectRef::new("y").within("b"));
        assert!(a_rx.try_recv().is_err() && b_rx.try_recv().is_err());

        let (all_tx, mut all_rx) = futures::channel::mpsc::unbounded();
        let mut triggers = Triggers::default();
        triggers.add(None, all_tx);
        triggers.send(vec![ObjectRef::new("z").within("elsewhere")]);
        assert!(all_rx.try_recv().is_ok());
    }
}
