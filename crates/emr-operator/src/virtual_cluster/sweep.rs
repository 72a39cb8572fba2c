//! Bounded memory per tenant: the failure streak kept per VirtualCluster is dropped once the
//! object is no longer in the watch cache, however it went (its finalizer removed by hand, say).
//! The size is exported as `tracked_objects{map="virtualcluster_failures"}`.

use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

use emr_api::VirtualCluster;
use kube::runtime::reflector::Store;

use super::state::{State, key};

/// How often the streaks are compared with the cache.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Publishes the map size, then sweeps every [`SWEEP_INTERVAL`] once the cache has its first
/// full list. Never returns: it is dropped with the controller.
pub async fn run(state: Arc<State>, store: Store<VirtualCluster>) {
    let weak: Weak<State> = Arc::downgrade(&state);
    state.ctx.metrics.set_map_sizes(
        "virtualcluster",
        Box::new(move || weak.upgrade().map(|s| s.map_sizes()).unwrap_or_default()),
    );
    if store.wait_until_ready().await.is_err() {
        // The controller is going away; it ends the wait.
        return std::future::pending().await;
    }
    loop {
        tokio::time::sleep(SWEEP_INTERVAL).await;
        let keys: HashSet<String> = store.state().iter().map(|vc| key(vc)).collect();
        state.forget_absent(|k| keys.contains(k));
    }
}
