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
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::Api;
use kube::runtime::controller::{Action, Config};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};

use super::error::Error;
use super::names::{AWS_AUTH_NAME, AWS_AUTH_NAMESPACE};
use super::panic_report;
use super::state::State;
use super::sweep;
use crate::Context;
use crate::kit::{Category, ReconcileError};
use crate::lean;

/// Runs the controller until `shutdown` completes.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let client = ctx.client.clone();
    // As Controller::new builds it, but trimmed before the store (see crate::lean).
    let (store, writer) = reflector::store();
    let vcs = reflector::reflector(
        writer,
        watcher(
            Api::<VirtualCluster>::all(client.clone()),
            ctx.watcher_config(),
        )
        .modify(lean::trim),
    )
    .applied_objects();
    let controller = Controller::for_stream(vcs, store.clone());
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
            owner_in(&store),
        )
        .watches(
            Api::<RoleBinding>::all(client.clone()),
            children.clone(),
            owner_in(&store),
        )
        .watches(
            Api::<ServiceAccount>::all(client.clone()),
            children.clone(),
            owner_in(&store),
        )
        .watches(
            Api::<ResourceQuota>::all(client.clone()),
            children.clone(),
            owner_in(&store),
        )
        .watches(
            Api::<LimitRange>::all(client.clone()),
            children.clone(),
            owner_in(&store),
        )
        .watches(
            Api::<NetworkPolicy>::all(client.clone()),
            children,
            owner_in(&store),
        );
    // Without rights on aws-auth (--aws-auth=false) its watch would only ever be refused, and
    // each refusal would hold back the controller's other triggers with the runtime's backoff.
    let controller = if ctx.config.aws_auth {
        controller.watches(
            Api::<ConfigMap>::namespaced(client, AWS_AUTH_NAMESPACE),
            aws_auth,
            move |_| aws_auth_users(&store),
        )
    } else {
        controller
    };
    let controller = controller
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

/// A watch mapper for children of kind `K`, reading VirtualClusters from `store`.
fn owner_in<K: Resource>(
    store: &Store<VirtualCluster>,
) -> impl Fn(K) -> Option<ObjectRef<VirtualCluster>> + Send + Sync + 'static {
    let store = store.clone();
    move |child| by_label(&store, child)
}

/// The VirtualCluster a child's label names, only if the child is in that VirtualCluster's own
/// namespace (a namespace: is it). Anyone can put the label on an object in their own
/// namespace; without this check it would make another team's VirtualCluster reconcile (each
/// pass calling IAM, EKS and EMR) whenever they liked.
fn by_label<K: Resource>(
    store: &Store<VirtualCluster>,
    child: K,
) -> Option<ObjectRef<VirtualCluster>> {
    let name = child.labels().get(VIRTUAL_CLUSTER_LABEL)?;
    let vc = store.get(&ObjectRef::new(name))?;
    let place = child
        .meta()
        .namespace
        .clone()
        .unwrap_or_else(|| child.name_any());
    (place == bound_namespace(&vc)).then(|| ObjectRef::from_obj(vc.as_ref()))
}

/// The namespace a VirtualCluster's children live in: the one it is bound to, else the one its
/// spec names (before the first pass binds it).
fn bound_namespace(vc: &VirtualCluster) -> &str {
    vc.status
        .as_ref()
        .and_then(|s| s.managed.namespace.as_deref())
        .unwrap_or(&vc.spec.namespace.name)
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

/// The requeue after a failed reconcile, by the kind of trouble it met.
fn error_policy(vc: Arc<VirtualCluster>, error: &Error, state: Arc<State>) -> Action {
    match error.category() {
        Category::Panicked => Action::requeue(state.after_panic(&vc)),
        category => Action::requeue(state.after_error(&vc, category)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::watcher::Event;

    fn vc(name: &str, spec_namespace: &str, bound: Option<&str>) -> VirtualCluster {
        let mut vc: VirtualCluster = serde_json::from_value(serde_json::json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "VirtualCluster",
            "metadata": {"name": name, "uid": format!("uid-{name}")},
            "spec": {"eksClusterName": "prod", "namespace": {"name": spec_namespace}}
        }))
        .unwrap();
        if let Some(bound) = bound {
            let mut status = emr_api::VirtualClusterStatus::default();
            status.managed.namespace = Some(bound.to_owned());
            vc.status = Some(status);
        }
        vc
    }

    fn store(vcs: Vec<VirtualCluster>) -> Store<VirtualCluster> {
        let (reader, mut writer) = reflector::store();
        for vc in vcs {
            writer.apply_watcher_event(&Event::Apply(vc));
        }
        reader
    }

    fn labelled<K: Resource + Default>(namespace: Option<&str>, name: &str, owner: &str) -> K {
        let mut obj = K::default();
        obj.meta_mut().name = Some(name.to_owned());
        obj.meta_mut().namespace = namespace.map(str::to_owned);
        obj.meta_mut().labels = Some(
            [(VIRTUAL_CLUSTER_LABEL.to_owned(), owner.to_owned())]
                .into_iter()
                .collect(),
        );
        obj
    }

    #[test]
    fn a_child_maps_to_its_virtual_cluster_only_from_that_ones_namespace() {
        let store = store(vec![
            vc("team-a", "spark-a", Some("spark-a")),
            vc("fresh", "spark-f", None),
            vc("moved", "new-ns", Some("old-ns")),
        ]);
        let to = |r: Option<ObjectRef<VirtualCluster>>| r.map(|r| r.name);
        let sa = |ns: &str, owner: &str| labelled::<ServiceAccount>(Some(ns), "sa", owner);
        assert_eq!(
            to(by_label(&store, sa("spark-a", "team-a"))),
            Some("team-a".into())
        );
        assert_eq!(to(by_label(&store, sa("tenant-b", "team-a"))), None);
        assert_eq!(
            to(by_label(&store, sa("spark-f", "fresh"))),
            Some("fresh".into())
        );
        assert_eq!(to(by_label(&store, sa("new-ns", "moved"))), None);
        assert_eq!(
            to(by_label(&store, sa("old-ns", "moved"))),
            Some("moved".into())
        );
        assert_eq!(to(by_label(&store, sa("spark-a", "nobody"))), None);
        let ns = |name: &str, owner: &str| labelled::<Namespace>(None, name, owner);
        assert_eq!(
            to(by_label(&store, ns("spark-a", "team-a"))),
            Some("team-a".into())
        );
        assert_eq!(to(by_label(&store, ns("tenant-b", "team-a"))), None);
    }
}
