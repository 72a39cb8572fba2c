//! Wiring: the VirtualCluster watch (honouring `--selector`), watches on the children that map
//! them back to their VirtualCluster, and the run loop.

use std::future::Future;
use std::sync::Arc;

use emr_api::VirtualCluster;
use emr_api::labels::VIRTUAL_CLUSTER_LABEL;
use emr_api::virtual_cluster::EmrAccessMode;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, LimitRange, Namespace, ResourceQuota, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::Api;
use kube::runtime::controller::{Action, Config};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{Controller, watcher};
use kube::{Resource, ResourceExt};

use super::error::Error;
use super::names::{AWS_AUTH_NAME, AWS_AUTH_NAMESPACE};
use super::panic_report;
use super::reconcile::State;
use super::sweep;
use crate::Context;

/// Runs the controller until `shutdown` completes.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let client = ctx.client.clone();
    let controller = Controller::new(
        Api::<VirtualCluster>::all(client.clone()),
        ctx.watcher_config(),
    );
    let store = controller.store();
    // Children are found by the operator's label, not by owner references: the runtime maps an
    // owner reference to an owner in the child's namespace, and a VirtualCluster has none.
    let children = watcher::Config::default()
        .any_semantic()
        .labels(VIRTUAL_CLUSTER_LABEL);
    let aws_auth = watcher::Config::default()
        .any_semantic()
        .fields(&format!("metadata.name={AWS_AUTH_NAME}"));
    let state = Arc::new(State::new(ctx.clone()));
    let sweeper = sweep::run(state.clone(), store.clone());
    let controller = controller
        .watches(
            Api::<Namespace>::all(client.clone()),
            children.clone(),
            by_label,
        )
        .watches(Api::<Role>::all(client.clone()), children.clone(), by_label)
        .watches(
            Api::<RoleBinding>::all(client.clone()),
            children.clone(),
            by_label,
        )
        .watches(
            Api::<ServiceAccount>::all(client.clone()),
            children.clone(),
            by_label,
        )
        .watches(
            Api::<ResourceQuota>::all(client.clone()),
            children.clone(),
            by_label,
        )
        .watches(
            Api::<LimitRange>::all(client.clone()),
            children.clone(),
            by_label,
        )
        .watches(
            Api::<NetworkPolicy>::all(client.clone()),
            children,
            by_label,
        )
        .watches(
            Api::<ConfigMap>::namespaced(client, AWS_AUTH_NAMESPACE),
            aws_auth,
            move |_| aws_auth_users(&store),
        )
        .with_config(Config::default().concurrency(ctx.config.concurrency))
        .graceful_shutdown_on(shutdown)
        .run(panic_report::guarded, error_policy, state)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "virtualcluster controller event");
            }
        });
    // The sweep runs as long as the controller does.
    tokio::select! {
        () = controller => {}
        () = sweeper => {}
    }
}

fn by_label<K: Resource>(child: K) -> Option<ObjectRef<VirtualCluster>> {
    child
        .labels()
        .get(VIRTUAL_CLUSTER_LABEL)
        .map(|name| ObjectRef::new(name))
}

/// Every VirtualCluster that keeps an aws-auth entry: any edit of aws-auth may have removed it.
fn aws_auth_users(store: &Store<VirtualCluster>) -> Vec<ObjectRef<VirtualCluster>> {
    store
        .state()
        .iter()
        .filter(|vc| vc.spec.emr_access.mode == EmrAccessMode::AwsAuthConfigMap)
        .map(|vc| ObjectRef::from_obj(vc.as_ref()))
        .collect()
}

fn error_policy(vc: Arc<VirtualCluster>, error: &Error, state: Arc<State>) -> Action {
    if matches!(error, Error::ReconcilePanicked { .. }) {
        return Action::requeue(state.after_panic(&vc));
    }
    Action::requeue(state.after_error(&vc))
}
