//! Step 2, effects: the RoleBinding `emr-containers` from the user `emr-containers` to the
//! chart's ClusterRole of EMR's rules (the operator holds `bind` on it, not its rules), the end
//! of the Role `emr-containers` earlier operators created, and (for clusters that authenticate
//! through aws-auth) the mapRoles entry for EMR's service-linked role ([`super::aws_auth`]).

use emr_api::virtual_cluster::EmrAccessMode;
use k8s_openapi::api::rbac::v1::{ClusterRole, Role, RoleBinding};
use kube::api::{Api, DeleteParams, Preconditions};
use kube::{Resource, ResourceExt};

use super::{aws_auth, plan};
use crate::kit;
use crate::virtual_cluster::children::converge_child;
use crate::virtual_cluster::error::Error;
use crate::virtual_cluster::names::EMR_ROLE;
use crate::virtual_cluster::outcome::Outcome;
use crate::virtual_cluster::reconciliation::Reconciliation;
use crate::virtual_cluster::steps::cluster_facts::ClusterFacts;

pub async fn converge(
    recon: &mut Reconciliation<'_>,
    facts: &Result<ClusterFacts, Outcome>,
) -> Outcome {
    if let Err(e) = role_binding(recon).await {
        return e.outcome();
    }
    let cluster_role = recon.ctx.config.emr_containers_cluster_role.clone();
    match recon.vc.spec.emr_access.mode {
        EmrAccessMode::AccessEntry => {
            match aws_auth::apply::release_on_mode_switch(recon, facts).await {
                Ok(()) => Outcome::ready(
                    "EmrAccessReady",
                    format!(
                        "RoleBinding {EMR_ROLE} to ClusterRole {cluster_role} in namespace {}; the cluster uses access entries, which EMR creates itself",
                        recon.namespace()
                    ),
                ),
                Err(e) => e.outcome(),
            }
        }
        EmrAccessMode::AwsAuthConfigMap => {
            let facts = match facts {
                Ok(f) => f,
                Err(o) => return o.clone(),
            };
            match aws_auth::apply::entry(recon, facts).await {
                Ok(outcome) => outcome,
                Err(e) => e.outcome(),
            }
        }
    }
}

/// The RoleBinding `emr-containers` to EMR's ClusterRole, checked before it is written; then
/// the Role an earlier operator made in its place goes.
async fn role_binding(recon: &mut Reconciliation<'_>) -> Result<(), Error> {
    let ns = recon.namespace().to_owned();
    let cluster_role = recon.ctx.config.emr_containers_cluster_role.clone();
    require_cluster_role(recon, &cluster_role).await?;
    let wanted = plan::emr_role_binding(&recon.owner, &ns, &cluster_role);
    plan::check_binding(
        &wanted,
        recon.status.managed.namespace.as_deref(),
        &cluster_role,
    )
    .map_err(|problem| Error::UnsafeRoleBinding {
        namespace: ns.clone(),
        problem,
    })?;
    replace_if_elsewhere(recon, &wanted).await?;
    converge_child::<RoleBinding>(recon, "RoleBinding", EMR_ROLE, Some(wanted)).await?;
    retire_old_role(recon, &ns).await
}

/// A binding to a ClusterRole that does not exist grants nothing: say so instead of Ready. When
/// the operator may not read it (RBAC set up by hand without `get`), it cannot tell, and goes on.
async fn require_cluster_role(recon: &Reconciliation<'_>, name: &str) -> Result<(), Error> {
    let api: Api<ClusterRole> = Api::all(recon.client());
    match api.get_opt(name).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(Error::EmrClusterRoleMissing {
            name: name.to_owned(),
        }),
        Err(e) if kit::error::is_forbidden(&e) => {
            tracing::debug!(
                clusterrole = name,
                "may not read EMR's ClusterRole; not checked"
            );
            Ok(())
        }
        Err(source) => Err(Error::GetClusterRole {
            name: name.to_owned(),
            source,
        }),
    }
}

/// `roleRef` cannot change: a binding `emr-containers` that refers to anything else (the Role of
/// an earlier operator or of eksctl) is deleted, so that applying creates it anew. The delete is
/// conditional on the version read: one replaced meanwhile is looked at on the next pass.
async fn replace_if_elsewhere(
    recon: &mut Reconciliation<'_>,
    wanted: &RoleBinding,
) -> Result<(), Error> {
    let ns = recon.namespace().to_owned();
    let api: Api<RoleBinding> = Api::namespaced(recon.client(), &ns);
    let Some(current) = get_child(&api, "RoleBinding", &ns).await? else {
        return Ok(());
    };
    if current.role_ref == wanted.role_ref {
        return Ok(());
    }
    if delete_child_as_read(&api, &current, "RoleBinding", &ns).await? {
        recon.changed(
            "RoleBindingReplaced",
            format!(
                "deleted RoleBinding {ns}/{EMR_ROLE}, which referred to {} {}, to create it for ClusterRole {} (a roleRef cannot change)",
                current.role_ref.kind, current.role_ref.name, wanted.role_ref.name
            ),
        );
    }
    Ok(())
}

/// Deletes the Role `emr-containers` in `namespace` if an earlier operator made it for this
/// VirtualCluster (see [`plan::is_old_operator_role`]); anyone else's stays.
pub async fn retire_old_role(recon: &mut Reconciliation<'_>, namespace: &str) -> Result<(), Error> {
    let api: Api<Role> = Api::namespaced(recon.client(), namespace);
    let role = old_operator_role(recon, &api, namespace).await?;
    let Some(role) = role.filter(|r| r.meta().deletion_timestamp.is_none()) else {
        return Ok(());
    };
    if delete_child_as_read(&api, &role, "Role", namespace).await? {
        recon.changed(
            "OldRoleDeleted",
            format!(
                "deleted Role {namespace}/{EMR_ROLE}, which an earlier version of the operator created; EMR's rules now come from a ClusterRole through the RoleBinding"
            ),
        );
    }
    Ok(())
}

/// For a `Retain` deletion: a namespace still holding the old Role would lose EMR's access when
/// the garbage collector follows the Role's owner reference, so its binding is moved to the
/// ClusterRole first. Nothing is created where no old Role is.
pub async fn migrate_before_retain(
    recon: &mut Reconciliation<'_>,
    namespace: &str,
) -> Result<(), Error> {
    let api: Api<Role> = Api::namespaced(recon.client(), namespace);
    let old = old_operator_role(recon, &api, namespace).await?.is_some();
    if old && namespace == recon.namespace() {
        role_binding(recon).await?;
    }
    Ok(())
}

/// The `emr-containers` child of `kind` in `namespace`, if there is one.
async fn get_child<K>(api: &Api<K>, kind: &'static str, namespace: &str) -> Result<Option<K>, Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.get_opt(EMR_ROLE)
        .await
        .map_err(|source| Error::GetChild {
            kind,
            namespace: namespace.to_owned(),
            name: EMR_ROLE.to_owned(),
            source,
        })
}

/// The Role `emr-containers` in `namespace` when an earlier operator made it for this
/// VirtualCluster (see [`plan::is_old_operator_role`]).
async fn old_operator_role(
    recon: &Reconciliation<'_>,
    api: &Api<Role>,
    namespace: &str,
) -> Result<Option<Role>, Error> {
    Ok(get_child(api, "Role", namespace)
        .await?
        .filter(|r| plan::is_old_operator_role(r, &recon.owner)))
}

/// [`delete_as_read`] of the operator's `emr-containers` child of `kind` in `namespace`.
async fn delete_child_as_read<K>(
    api: &Api<K>,
    obj: &K,
    kind: &'static str,
    namespace: &str,
) -> Result<bool, Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    delete_as_read(api, obj)
        .await
        .map_err(|source| Error::DeleteChild {
            kind,
            namespace: namespace.to_owned(),
            name: EMR_ROLE.to_owned(),
            source,
        })
}

/// Deletes `obj` only if it is still the version read; `true` when a delete was sent and taken.
async fn delete_as_read<K>(api: &Api<K>, obj: &K) -> Result<bool, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: obj.uid(),
            resource_version: obj.resource_version(),
        }),
        ..DeleteParams::background()
    };
    match api.delete(&obj.name_any(), &params).await {
        Ok(_) => Ok(true),
        Err(e) if kit::error::is_not_found(&e) => Ok(false),
        Err(e) => Err(e),
    }
}
