//! Bounded memory per tenant: what the controller keeps per object (serial slots, failure
//! streaks, the poller's runs and observations) is dropped once the object is no longer in the
//! watch cache, however it went (released by the operator, its finalizer removed by hand,
//! deleted while the operator was down). The sizes are exported as `tracked_objects{map}`.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

use emr_api::SparkJobRun;
use kube::runtime::reflector::{ObjectRef, Store};

use super::state::State;
use crate::metrics::Metrics;

/// How often the maps are compared with the caches: cheap (one lookup per entry), and soon
/// enough that a mass deletion shows in memory within seconds.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Whether any of the controller's caches holds `object`.
fn present(stores: &[Store<SparkJobRun>], object: &ObjectRef<SparkJobRun>) -> bool {
    stores.iter().any(|store| store.get(object).is_some())
}

/// Publishes the map sizes, then sweeps every [`SWEEP_INTERVAL`] once every cache has its first
/// full list (an empty cache before that would wipe everything), until `shutdown` resolves.
pub async fn run(
    state: Arc<State>,
    metrics: Arc<Metrics>,
    stores: Vec<Store<SparkJobRun>>,
    shutdown: impl Future<Output = ()>,
) {
    // Weak: the metrics outlive the controller (and a controller started again replaces it).
    let weak: Weak<State> = Arc::downgrade(&state);
    metrics.set_map_sizes(
        "sparkjobrun",
        Box::new(move || weak.upgrade().map(|s| s.map_sizes()).unwrap_or_default()),
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
