//! The I/O around [`FairQueue`]: takes requests from trigger streams, fires requeues, hands
//! objects to at most `concurrency` reconcile tasks per lane, and on shutdown lets the running
//! ones finish.

use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{FutureExt, Stream, StreamExt};
use kube::Resource;
use kube::runtime::reflector::ObjectRef;
use tokio::time::Instant;
use tracing::Instrument;

use super::Action;
use super::queue::{Dispatch, FairQueue, Lane};

/// After a reconcile task died without an answer (it cannot panic past its guard, but its
/// runtime may cancel it): try again after this long.
const LOST_TASK_RETRY: Duration = Duration::from_secs(5);

/// The queue, shared with whoever updates tenants or reads its load for metrics.
pub struct SharedQueue<K: Resource>(Arc<Mutex<FairQueue<ObjectRef<K>>>>);

impl<K: Resource> Clone for SharedQueue<K> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<K> Default for SharedQueue<K>
where
    K: Resource,
    K::DynamicType: Hash + Eq + Clone,
{
    fn default() -> Self {
        Self(Arc::new(Mutex::new(FairQueue::default())))
    }
}

impl<K: Resource> SharedQueue<K> {
    /// The queue's methods never panic halfway, so a poisoned lock holds a consistent queue.
    pub fn lock(&self) -> MutexGuard<'_, FairQueue<ObjectRef<K>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs reconciles out of a [`SharedQueue`].
pub struct Runner<K: Resource> {
    pub queue: SharedQueue<K>,
    /// Reconciles at once per lane.
    pub concurrency: usize,
}

impl<K> Runner<K>
where
    K: Resource + Send + Sync + 'static,
    K::DynamicType: Hash + Eq + Clone + Send + Sync,
{
    /// Serves requests until `shutdown` resolves (or every trigger stream ends), then waits for
    /// the reconciles still running. Nothing is reconciled before `ready` (the cache is filled):
    /// a request for an object the cache does not hold is dropped, like kube-runtime does.
    /// `lookup` gives what the cache holds of an object (the object itself, or less).
    pub async fn run<T, Fut>(
        self,
        lookup: impl Fn(&ObjectRef<K>) -> Option<T>,
        ready: impl Future<Output = ()>,
        triggers: impl Stream<Item = (ObjectRef<K>, Lane)>,
        reconcile: impl Fn(T) -> Fut,
        on_dispatch: impl Fn(&Dispatch<ObjectRef<K>>),
        shutdown: impl Future<Output = ()>,
    ) where
        Fut: Future<Output = Action> + Send + 'static,
    {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut ready = std::pin::pin!(ready);
        let mut triggers = std::pin::pin!(triggers);
        let mut running = FuturesUnordered::new();
        let mut in_flight = [0usize; 2];
        let mut is_ready = false;
        let mut stopping = false;
        loop {
            if is_ready && !stopping {
                let now = Instant::now().into_std();
                for (l, lane) in Lane::ALL.into_iter().enumerate() {
                    while in_flight[l] < self.concurrency.max(1) {
                        let Some(dispatch) = self.queue.lock().pop(lane, now) else {
                            break;
                        };
                        on_dispatch(&dispatch);
                        let Some(object) = lookup(&dispatch.key) else {
                            // Deleted meanwhile: nothing to reconcile.
                            self.queue.lock().done(&dispatch.key, now, None);
                            continue;
                        };
                        in_flight[l] = in_flight[l].saturating_add(1);
                        let span = tracing::info_span!(
                            "reconcile",
                            object = %dispatch.key,
                            lane = lane.as_str(),
                        );
                        let key = dispatch.key;
                        running.push(
                            tokio::spawn(reconcile(object).instrument(span))
                                .map(move |result| (key, l, result)),
                        );
                    }
                }
            }
            if stopping && running.is_empty() {
                return;
            }
            let next_due = self.queue.lock().next_due();
            let sleep =
                tokio::time::sleep_until(next_due.map_or_else(far_future, Instant::from_std));
            tokio::select! {
                () = &mut shutdown, if !stopping => stopping = true,
                () = &mut ready, if !is_ready => is_ready = true,
                Some((key, l, result)) = running.next(), if !running.is_empty() => {
                    in_flight[l] = in_flight[l].saturating_sub(1);
                    let requeue = match result {
                        Ok(action) => action.requeue_after(),
                        Err(error) => {
                            tracing::error!(object = %key, %error, "reconcile task lost");
                            Some(LOST_TASK_RETRY)
                        }
                    };
                    self.queue.lock().done(&key, Instant::now().into_std(), requeue);
                }
                trigger = triggers.next(), if !stopping => match trigger {
                    Some((key, lane)) => {
                        let tenant = key.namespace.clone().unwrap_or_default();
                        self.queue.lock().push(key, &tenant, lane, Instant::now().into_std());
                    }
                    None => stopping = true,
                },
                () = sleep, if next_due.is_some() && !stopping => {
                    self.queue.lock().promote_due(Instant::now().into_std());
                }
            }
        }
    }
}

/// Never, for a `select!` arm that is disabled anyway.
fn far_future() -> Instant {
    let now = Instant::now();
    now.checked_add(Duration::from_secs(86_400 * 365))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests;
