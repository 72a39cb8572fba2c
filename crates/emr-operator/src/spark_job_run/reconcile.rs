//! The edge of one reconcile, as the fair queue runs it: one at a time per object, inside a span
//! naming the controller, object and attempt, bounded in time, a panic caught; and the error
//! policy that picks the retry from the error's [`Category`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use emr_api::SparkJobRun;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use tracing::Instrument;

use super::cache::{Cached, Settled};
use super::error::Error;
use super::io::Reconcile;
use super::panic_report;
use super::serial::{self, BeyondCache, WhichCopy};
use super::state::State;
use crate::fair_queue::Action;
use crate::kit::{self, Backoff, Category, ReconcileError, panic_guard};

/// The controller's name in metrics and spans (the kind).
pub const CONTROLLER: &str = "SparkJobRun";
/// Longest a reconcile may take; AWS calls have their own timeouts, apiserver calls do not.
const RECONCILE_TIMEOUT: Duration = Duration::from_secs(120);
/// A reconcile taking this long is logged: normally they take milliseconds.
const SLOW_RECONCILE: Duration = Duration::from_secs(10);
/// After a stale-object conflict: the fresh copy is normally in the cache by then.
const STALE_RETRY: Duration = Duration::from_secs(1);

/// Reconciles what the cache holds of an object: a settled one (see [`cache`](super::cache))
/// without reading it when the cache is all it needs, else the object itself.
pub async fn reconcile_cached(cached: Cached, state: Arc<State>) -> Result<Action, Error> {
    // Boxed, both calls: a reconcile's future is large, and inline here it would be part of
    // every task's future, which overflows a worker's stack in a debug build.
    let settled = match cached {
        Cached::Whole(job) => return Box::pin(reconcile(job, state)).await,
        Cached::Settled(settled) => settled,
    };
    let started = Instant::now();
    if let Some(action) = settled_action(&settled, &state, Utc::now()).await {
        state
            .ctx
            .metrics
            .reconciled(CONTROLLER, started.elapsed(), None);
        state.failures.succeeded(&settled.object);
        return Ok(action);
    }
    let object = &settled.object;
    let namespace = object.namespace.clone().unwrap_or_default();
    let name = format!("{namespace}/{}", object.name);
    let api = Api::<SparkJobRun>::namespaced(state.ctx.client.clone(), &namespace);
    // Bounded like a whole reconcile: a read that never answers must not hold the object.
    let read = tokio::time::timeout(RECONCILE_TIMEOUT, api.get_opt(&object.name)).await;
    match read {
        Ok(Ok(Some(job))) => Box::pin(reconcile(Arc::new(super::cache::trimmed(job)), state)).await,
        Ok(Ok(None)) => Ok(Action::await_change()),
        Ok(Err(source)) => Err(Error::ReadJob {
            object: name,
            source,
        }),
        Err(_) => Err(Error::TimedOut {
            object: name,
            seconds: RECONCILE_TIMEOUT.as_secs(),
        }),
    }
}

/// What a reconcile of the settled object would come to (forget its ended run, or wait for its
/// TTL), when the cache is all it needs; `None` when the object must be read: its TTL expired
/// (it is to be deleted), the poller still holds its run (only a whole reconcile may drop it),
/// or this process knows a newer version than the cache (its own write).
async fn settled_action(settled: &Settled, state: &State, now: DateTime<Utc>) -> Option<Action> {
    let object = &settled.object;
    let current = {
        let mut known = state.serial.lock(object).await;
        let current =
            serial::copy_of_version(object.extra.resource_version.as_deref(), known.as_ref())
                == WhichCopy::Cached;
        if current {
            // The cache shows what this process last wrote: nothing newer to remember (as
            // `serial::remember` after a reconcile that wrote nothing).
            *known = None;
        }
        current
    };
    state.serial.release(object);
    let untracked = settled.run.as_ref().is_none_or(|run| {
        state
            .tracker
            .with(|r| r.tracked_by(run).is_none() && r.observation(run).is_none())
    });
    if !current || !untracked {
        return None;
    }
    match settled.expires {
        None => Some(Action::await_change()),
        Some(expires) if expires <= now => None,
        // As a whole reconcile: woken when it expires, at least a second later.
        Some(expires) => Some(Action::requeue(
            (expires - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
                .max(Duration::from_secs(1)),
        )),
    }
}

/// Reconciles `job`: decides on the freshest copy and carries out the one effect.
pub async fn reconcile(job: Arc<SparkJobRun>, state: Arc<State>) -> Result<Action, Error> {
    let object = ObjectRef::from_obj(job.as_ref());
    let attempt = job
        .status
        .as_ref()
        .map(|s| i64::from(s.attempt))
        .filter(|a| *a > 0);
    let span = kit::span::reconcile(CONTROLLER, &object, attempt);
    guarded(job, state, object).instrument(span).await
}

async fn guarded(
    job: Arc<SparkJobRun>,
    state: Arc<State>,
    object: ObjectRef<SparkJobRun>,
) -> Result<Action, Error> {
    let started = Instant::now();
    let mut known = state.serial.lock(&object).await;
    // A call that never answers (a half-open connection) must not hold the object, in both
    // queues, forever. Stopping a reconcile at any await is as safe as a crash there: the
    // recorded attempt and the client token find the run a cut-off StartJobRun may have started.
    let name = || format!("{}/{}", job.namespace().unwrap_or_default(), job.name_any());
    // A panic (an operator bug some input reaches) ends this reconcile only; see `panic_guard`.
    let result = match tokio::time::timeout(
        RECONCILE_TIMEOUT,
        panic_guard::catch(async { Reconcile::new(&job, &state).run(&mut known).await }),
    )
    .await
    {
        Ok(Ok(result)) => result,
        Ok(Err(panicked)) => {
            // It may have written something before it panicked: read afresh next time.
            *known = Some(BeyondCache::Stale);
            panic_report::report(&state.ctx, &job, &panicked).await;
            Err(Error::Panicked {
                object: name(),
                message: panicked.message,
            })
        }
        Err(_) => Err(Error::TimedOut {
            object: name(),
            seconds: RECONCILE_TIMEOUT.as_secs(),
        }),
    };
    drop(known);
    state.serial.release(&object);
    let error = result.as_ref().err().map(Error::metric_label);
    let took = started.elapsed();
    if took >= SLOW_RECONCILE {
        // Includes the wait for the other queue's reconcile of the same object.
        tracing::warn!(
            took_ms = took.as_millis() as u64,
            error = error.unwrap_or("none"),
            "slow reconcile"
        );
    }
    state.ctx.metrics.reconciled(CONTROLLER, took, error);
    if result.is_ok() {
        state.failures.succeeded(&object);
    }
    result
}

/// The error policy: a stale copy is retried at once on a fresh read; anything else backs off
/// per object along [`Backoff::DEFAULT`], the streak restarting when the kind of trouble changes.
pub fn error_policy(object: ObjectRef<SparkJobRun>, error: &Error, state: Arc<State>) -> Action {
    let category = error.category();
    if category == Category::Conflict {
        tracing::debug!(%error, "retrying on a fresh copy");
        return Action::requeue(STALE_RETRY);
    }
    let delay = state
        .failures
        .next_delay(object, category, &Backoff::DEFAULT);
    tracing::warn!(%error, category = category.reason(), retry_in_ms = delay.as_millis() as u64, "reconcile failed");
    Action::requeue(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_reconcile_is_an_error_retried_after_minutes() {
        let caught = panic_guard::catch(async {
            // The old deadline arithmetic on issue 10's reproducer.
            let seconds = std::hint::black_box(9_000_000_000_000_i64);
            Utc::now() + chrono::TimeDelta::seconds(seconds)
        })
        .await
        .expect_err("the panic ends the reconcile only");
        let error = Error::Panicked {
            object: "ns/j".into(),
            message: caught.message,
        };
        assert_eq!(error.metric_label(), "ReconcilePanicked");
        assert_eq!(error.category(), Category::Panicked);
        let bounds = Backoff::DEFAULT.bounds(Category::Panicked);
        assert!(bounds.base >= Duration::from_secs(60) && bounds.cap >= Duration::from_secs(3600));
        // The streak grows while the panics go on, so the delay does too.
        let streaks = kit::Streaks::default();
        for _ in 0..4 {
            streaks.failed("ns/j", Category::Panicked);
        }
        assert_eq!(streaks.failed("ns/j", Category::Panicked).count, 5);
    }
}
