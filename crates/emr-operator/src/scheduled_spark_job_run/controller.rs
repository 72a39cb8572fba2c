//! Wiring: the ScheduledSparkJobRun watch (honouring `--selector`), a watch on the labelled
//! SparkJobRuns that fills the children's cache and maps each to its owner, and the run loop.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

use emr_api::scheduled_spark_job_run::SCHEDULE_LABEL;
use emr_api::{ScheduledSparkJobRun, SparkJobRun};
use futures::{StreamExt, stream};
use kube::api::Api;
use kube::runtime::controller::{Action, Config};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};

use super::error::Error;
use super::reconcile::guarded;
use super::state::{State, key};
use crate::Context;
use crate::kit::{ReconcileError, relist};

/// How often failure streaks of deleted schedules are dropped.
const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// Runs the controller until `shutdown` completes.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let client = ctx.client.clone();
    let labelled = watcher::Config::default()
        .any_semantic()
        .labels(SCHEDULE_LABEL);
    // One watch both fills the children's cache and wakes their owners. The reflector applies
    // each change to the cache before passing it on (a list's objects at its end, see
    // `kit::relist`), so a woken schedule reads the child as it is now. (Two watches raced: a
    // finished child could wake its schedule before the cache knew, and the schedule then slept
    // until its next slot with the run shown as active.) The watch runs on its own and hands
    // the changes over a channel: polled by the controller instead, it would stall whenever
    // every reconcile slot is busy, and the cache's first list with it.
    let (children, writer) = reflector::store();
    let (wake, woken) = futures::channel::mpsc::unbounded();
    let cache = kube::runtime::reflector(
        writer,
        // Trimmed like every other cache (crate::lean): managedFields and the last-applied
        // copy are never read here.
        watcher(Api::<SparkJobRun>::all(client.clone()), labelled).modify(crate::lean::trim),
    )
    .default_backoff()
    .scan(Vec::new(), |listed, event| {
        let woken = match event {
            // Every change wakes the owner, a deletion too (the child's slot is free again).
            Ok(event) => relist::triggered(listed, event, |child, _| Some(Ok(child))),
            Err(error) => {
                tracing::debug!(%error, "scheduled children watch");
                Vec::new()
            }
        };
        futures::future::ready(Some(stream::iter(woken)))
    })
    .flatten()
    .for_each(move |child| {
        // The controller gone (shutdown): nothing to wake.
        let _ = wake.unbounded_send(child);
        futures::future::ready(())
    });
    let controller = Controller::new(
        Api::<ScheduledSparkJobRun>::all(client.clone()),
        ctx.watcher_config(),
    );
    let schedules = controller.store();
    let state = Arc::new(State::new(ctx.clone(), children.clone()));
    let sweeper = sweep(state.clone(), schedules);
    // A child's change (it finished, it was deleted) wakes its owner: the owner reference maps
    // it, only to a schedule in the child's namespace.
    let controller = controller
        .owns_stream(woken)
        .with_config(Config::default().concurrency(ctx.config.concurrency))
        .graceful_shutdown_on(shutdown)
        .run(guarded, error_policy, state)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "scheduledsparkjobrun controller event");
            }
        });
    // No decision before the children's cache has its first full list: on an empty cache after
    // a restart, Forbid would start a second run and the history limits would count nothing.
    let controller = async move {
        if children.wait_until_ready().await.is_ok() {
            tracing::info!("ScheduledSparkJobRun controller started");
            controller.await;
        }
    };
    tokio::select! {
        () = controller => {}
        () = cache => {}
        () = sweeper => {}
    }
}

fn error_policy(obj: Arc<ScheduledSparkJobRun>, error: &Error, state: Arc<State>) -> Action {
    Action::requeue(state.after_error(&obj, error.category()))
}

/// Publishes the streak map's size and drops the streaks of schedules gone from the cache.
async fn sweep(state: Arc<State>, store: Store<ScheduledSparkJobRun>) {
    let weak: Weak<State> = Arc::downgrade(&state);
    state.ctx.metrics.set_map_sizes(
        "scheduledsparkjobrun",
        Box::new(move || weak.upgrade().map(|s| s.map_sizes()).unwrap_or_default()),
    );
    if store.wait_until_ready().await.is_err() {
        return std::future::pending().await;
    }
    loop {
        tokio::time::sleep(SWEEP_INTERVAL).await;
        let keys: std::collections::HashSet<String> =
            store.state().iter().map(|s| key(s)).collect();
        state.forget_absent(|k| keys.contains(k));
    }
}
