//! The namespaces' LimitRanges and ResourceQuotas, kept by two reflectors (list + watch, all
//! namespaces, every object: an administrator's hand-made `cpu-min-max` counts as much as the
//! operator's own guard rails). The chart's ClusterRole already lets the operator read both
//! kinds cluster-wide (it watches its guard rails for drift); the preflight only reads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{LimitRange, ResourceQuota};
use kube::runtime::reflector::{self, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};

use super::NamespaceRules;

/// How long a reconcile waits for the first lists before it tries again later.
const SYNC_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The cache. Made with the controller's state; fed once [`NamespaceLimits::run`] runs.
pub struct NamespaceLimits {
    limit_ranges: Store<LimitRange>,
    quotas: Store<ResourceQuota>,
    writers: Mutex<Option<(Writer<LimitRange>, Writer<ResourceQuota>)>>,
    running: AtomicBool,
}

/// What the cache can say about a namespace.
#[derive(Debug)]
pub enum Lookup {
    /// Nothing feeds the cache (unit tests of the I/O layer): nothing is checked.
    NotRunning,
    /// The first list has not arrived yet.
    NotSynced,
    Rules(NamespaceRules),
}

impl Default for NamespaceLimits {
    fn default() -> Self {
        let (limit_ranges, lr_writer) = reflector::store();
        let (quotas, q_writer) = reflector::store();
        Self {
            limit_ranges,
            quotas,
            writers: Mutex::new(Some((lr_writer, q_writer))),
            running: AtomicBool::new(false),
        }
    }
}

impl NamespaceLimits {
    /// The namespace's LimitRanges and ResourceQuotas, once both lists have arrived (waiting
    /// for them a little: right after a start, the first reconciles come before the lists).
    pub async fn rules(&self, namespace: &str) -> Lookup {
        if !self.running.load(Ordering::Acquire) {
            return Lookup::NotRunning;
        }
        let both = async {
            self.limit_ranges.wait_until_ready().await.is_ok()
                && self.quotas.wait_until_ready().await.is_ok()
        };
        if !matches!(tokio::time::timeout(SYNC_WAIT, both).await, Ok(true)) {
            return Lookup::NotSynced;
        }
        let in_namespace = |ns: Option<String>| ns.as_deref() == Some(namespace);
        Lookup::Rules(NamespaceRules {
            limit_ranges: self
                .limit_ranges
                .state_filter(|o| in_namespace(o.namespace()))
                .iter()
                .map(|o| LimitRange::clone(o))
                .collect(),
            quotas: self
                .quotas
                .state_filter(|o| in_namespace(o.namespace()))
                .iter()
                .map(|o| ResourceQuota::clone(o))
                .collect(),
        })
    }

    /// Feeds the cache until `shutdown`; a second call returns at once.
    pub async fn run(
        self: Arc<Self>,
        client: kube::Client,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) {
        let taken = self.writers.lock().ok().and_then(|mut w| w.take());
        let Some((lr_writer, q_writer)) = taken else {
            return;
        };
        self.running.store(true, Ordering::Release);
        let config = || watcher::Config::default().any_semantic();
        let limit_ranges = reflector::reflector(
            lr_writer,
            watcher(Api::<LimitRange>::all(client.clone()), config()).default_backoff(),
        )
        .for_each(|event| async move {
            if let Err(error) = event {
                tracing::warn!(%error, "LimitRange watch (preflight)");
            }
        });
        let quotas = reflector::reflector(
            q_writer,
            watcher(Api::<ResourceQuota>::all(client), config()).default_backoff(),
        )
        .for_each(|event| async move {
            if let Err(error) = event {
                tracing::warn!(%error, "ResourceQuota watch (preflight)");
            }
        });
        tokio::select! {
            _ = futures::future::join(limit_ranges, quotas) => {}
            () = shutdown => {}
        }
    }
}
