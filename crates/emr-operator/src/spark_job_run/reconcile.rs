//! The edge of one reconcile, as the fair queue runs it: one at a time per object, inside a span
//! naming the controller, object and attempt, bounded in time, a panic caught; and the error
//! policy that picks the retry from the error's [`Category`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use emr_api::SparkJobRun;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use tracing::Instrument;

use super::error::Error;
use super::io::Reconcile;
use super::panic_report;
use super::serial::BeyondCache;
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
pub fn error_policy(job: Arc<SparkJobRun>, error: &Error, state: Arc<State>) -> Action {
    let category = error.category();
    if category == Category::Conflict {
        tracing::debug!(%error, "retrying on a fresh copy");
        return Action::requeue(STALE_RETRY);
    }
    let object = ObjectRef::from_obj(job.as_ref());
    let delay = state
        .failures
        .next_delay(object, category, &Backoff::DEFAULT);
    tracing::warn!(%error, category = category.reason(), retry_in_ms = delay.as_millis() as u64, "reconcile failed");
    Action::requeue(delay)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

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
