//! What every reconcile gets: the Kubernetes client, the AWS layer, settings, metrics, events.

use std::sync::Arc;

use emr_aws::Aws;

use crate::config::OperatorConfig;
use crate::kit::events::EventPublisher;
use crate::metrics::Metrics;

/// Shared by all reconciles of all controllers.
pub struct Context {
    pub client: kube::Client,
    pub aws: Aws,
    pub config: OperatorConfig,
    pub metrics: Arc<Metrics>,
    pub events: EventPublisher,
}

impl Context {
    /// Bundles the parts; `events` reports as `identity`.
    pub fn new(
        client: kube::Client,
        aws: Aws,
        config: OperatorConfig,
        metrics: Arc<Metrics>,
        identity: Option<String>,
    ) -> Self {
        let events = EventPublisher::new(client.clone(), identity);
        Self {
            client,
            aws,
            config,
            metrics,
            events,
        }
    }

    /// Watcher settings honouring `--selector`.
    pub fn watcher_config(&self) -> kube::runtime::watcher::Config {
        let config = kube::runtime::watcher::Config::default().any_semantic();
        match &self.config.selector {
            Some(selector) => config.labels(selector),
            None => config,
        }
    }
}
