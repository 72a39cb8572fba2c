//! Bounded memory per tenant: what the controller keeps per object (serial slots, failure
//! streaks, the poller's runs and observations) is dropped once the object is no longer in the
//! watch cache, however it went (released by the operator, its finalizer removed by hand,
//! deleted while the operator was down). The sizes are exported as `tracked_objects{map}`.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

use emr_api::SparkJobRun;
use kube::runtime::reflector::ObjectRef;

use super::cache::JobCache;
use super::state::State;
use crate::metrics::Metrics;

/// How often the maps are compared with the caches: cheap (one lookup per entry), and soon
/// enough that a mass deletion shows in memory within seconds.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Whether any of the controller's caches holds `object`.
fn present(stores: &[JobCache], object: &ObjectRef<SparkJobRun>) -> bool {
    stores.iter().any(|store| store.contains(object))
}

/// Publishes the map sizes, then sweeps every [`SWEEP_INTERVAL`] once every cache has its first
/// full list (an empty cache before that would wipe everything), until `shutdown` resolves.
pub async fn run(
    state: Arc<State>,
    metrics: Arc<Metrics>,
    stores: Vec<JobCache>,
    shutdown: impl Future<Output = ()>,
) {
    // Weak: the metrics outlive the controller (and a controller started again replaces it).
    let weak: Weak<State> = Arc::downgrade(&state);
    let caches = stores.clone();
    metrics.set_map_sizes(
        "sparkjobrun",
        Box::new(move || {
            let Some(state) = weak.upgrade() else {
                return Vec::new();
            };
            let mut sizes = state.map_sizes();
            let (settled, all) = caches
                .iter()
                .map(JobCache::sizes)
                .fold((0_usize, 0_usize), |a, b| {
                    (a.0.saturating_add(b.0), a.1.saturating_add(b.1))
                });
            sizes.push(("sparkjobrun_cache_settled", settled));
            sizes.push(("sparkjobrun_cache_whole", all.saturating_sub(settled)));
            sizes
        }),
    );
    let sweeping = async {
        for store in &stores {
            if store.wait_until_ready().await.is_err() {
                return;
            }
        }
        loop {
            tokio::time::sleep(SWEEP_INTERVAL).await;
            state.forget_absent(|object| present(&stores, object));
        }
    };
    tokio::select! {
        () = shutdown => {}
        () = sweeping => {}
    }
}
