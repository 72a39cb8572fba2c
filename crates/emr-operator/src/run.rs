//! Runs the operator: HTTP endpoints, leader election, and both controllers until SIGTERM.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::OperatorConfig;
use crate::context::Context;
use crate::kube_client::{self, KubeClientError, KubeTimeouts};
use crate::leader::{LeaderElector, LeaderError, LeaderTiming, TimingError};
use crate::metrics::Metrics;
use crate::server::{self, Health, ServeError};

/// How long in-flight reconciles may take to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Why the operator stopped other than by a requested shutdown.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("invalid leader-election settings: {0}")]
    LeaderTiming(#[from] TimingError),
    #[error(transparent)]
    KubeClient(#[from] KubeClientError),
    #[error("cannot reach the Kubernetes apiserver: {0}")]
    ReachApiserver(#[source] kube::Error),
    #[error(transparent)]
    Leadership(#[from] LeaderError),
    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// A future that resolves once shutdown was requested. Cheap to clone and hand to every task.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Resolves when shutdown is requested (or the sender is gone).
    pub fn wait(&self) -> impl Future<Output = ()> + Send + Sync + 'static {
        let mut rx = self.0.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }
}

/// Resolves on SIGTERM (Kubernetes stopping the pod) or SIGINT (Ctrl-C).
async fn termination_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the operator");
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn identity(config: &OperatorConfig) -> String {
    config
        .identity
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| format!("emr-on-eks-operator-{}", std::process::id()))
}

/// Runs until SIGTERM/SIGINT (graceful: in-flight reconciles finish, the Lease is released) or
/// until leadership is lost: then the controllers are dropped at once, in-flight reconciles
/// included, and the error is returned; the process must exit without waiting for anything
/// (the Deployment restarts it as a standby).
pub async fn run(config: OperatorConfig) -> Result<(), RunError> {
    // Refuse bad settings before serving anything.
    let timing = LeaderTiming::new(
        config.lease_duration,
        config.lease_renew_deadline,
        config.lease_retry_period,
    )?;
    let timeouts = KubeTimeouts {
        connect: config.kube_connect_timeout,
        read: config.kube_read_timeout,
        write: config.kube_write_timeout,
    };
    timeouts.check()?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let shutdown = Shutdown(stop_rx);
    tokio::spawn(async move {
        termination_signal().await;
        tracing::info!("shutdown requested");
        let _ = stop_tx.send(true);
    });

    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::default());
    let server = tokio::spawn(server::serve(
        config.metrics_address,
        metrics.clone(),
        health.clone(),
        shutdown.wait(),
    ));

    let client = kube_client::client(timeouts).await?;
    client
        .apiserver_version()
        .await
        .map_err(RunError::ReachApiserver)?;

    let aws_options = emr_aws::ClientOptions {
        region: config.aws_region.clone(),
        endpoint_url: config.aws_endpoint_url.clone(),
        max_attempts: config.aws_max_attempts.max(1),
        ..Default::default()
    };
    let mut aws = emr_aws::Aws::from_env(aws_options, metrics.clone())
        .await
        .with_pacer(config.aws_pacer());
    aws.iam = aws
        .iam
        .with_trust_policy_max_chars(config.iam_trust_policy_max_chars);
    let me = identity(&config);
    let elector = config.leader_election.then(|| {
        let namespace = config
            .lease_namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .unwrap_or_else(|| "default".into());
        LeaderElector::new(client.clone(), &namespace, &config.lease_name, &me, timing)
    });
    let ctx = Arc::new(Context::new(
        client,
        aws,
        config,
        metrics.clone(),
        Some(me.clone()),
    ));
    health.set_ready(true);

    let leadership = match elector {
        Some(elector) => {
            let renewed = tokio::select! {
                renewed = elector.acquire() => renewed,
                () = shutdown.wait() => return finish(server).await,
            };
            tracing::info!(identity = %me, "leading");
            Some((elector, renewed))
        }
        None => None,
    };
    metrics.set_leader(true);

    let controllers = async {
        // The SparkJobRun watch tells the SparkJobTemplate controller which templates changed
        // runs name.
        let (template_wakes, templates_named) = futures::channel::mpsc::unbounded();
        let both = async {
            tokio::join!(
                crate::virtual_cluster::run(ctx.clone(), shutdown.wait()),
                crate::spark_job_run::run(ctx.clone(), shutdown.clone(), template_wakes),
                crate::spark_job_template::run(ctx.clone(), shutdown.wait(), templates_named),
                crate::security_configuration::run(ctx.clone(), shutdown.wait()),
                crate::scheduled_spark_job_run::run(ctx.clone(), shutdown.wait()),
            );
        };
        // kube-runtime does not notice a shutdown that arrives before its caches are filled, and
        // a reconcile can be stuck on a slow call: bound the wait so SIGTERM always ends the
        // process well inside Kubernetes' default 30 s grace period.
        let deadline = async {
            shutdown.wait().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
            tracing::warn!(grace = ?SHUTDOWN_GRACE, "controllers did not stop in time; exiting anyway");
        };
        tokio::select! {
            () = both => {}
            () = deadline => {}
        }
    };
    match &leadership {
        Some((elector, renewed)) => {
            // Whichever ends first drops the other: on a lost Lease, the controllers (and every
            // reconcile in flight, with its AWS call) are dropped here, before the deadline
            // after which a standby may act.
            tokio::select! {
                () = controllers => {
                    elector.release().await;
                }
                lost = elector.keep(*renewed) => {
                    metrics.set_leader(false);
                    tracing::error!(error = %lost, "stopping: leadership lost");
                    return Err(lost.into());
                }
            }
        }
        None => controllers.await,
    }
    metrics.set_leader(false);
    finish(server).await
}

async fn finish(server: tokio::task::JoinHandle<Result<(), ServeError>>) -> Result<(), RunError> {
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(Ok(result)) => result.map_err(RunError::from),
        _ => Ok(()),
    }
}
