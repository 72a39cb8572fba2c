//! Step 2: EMR's access to the namespace: the RoleBinding `emr-containers` from the user
//! `emr-containers` to the chart's ClusterRole of EMR's rules (the operator holds `bind` on it,
//! not its rules), the end of the Role `emr-containers` earlier operators created, and (for
//! clusters that authenticate through aws-auth) the mapRoles entry for EMR's service-linked role.

use emr_api::VirtualCluster;
use emr_api::virtual_cluster::EmrAccessMode;
use k8s_openapi::api::rbac::v1::{ClusterRole, Role, RoleBinding};
use kube::api::{Api, DeleteParams, ListParams, Preconditions};
use kube::{Resource, ResourceExt};

use super::aws_auth;
use super::aws_auth_io::{self, Ensured};
use super::cluster::ClusterFacts;
use super::desired;
use super::emr_role;
use super::error::Error;
use super::names::{EMR_ROLE, EMR_USER};
use super::namespace_step::converge_child;
use super::outcome::Outcome;
use super::pass::Pass;

pub async fn converge(pass: &mut Pass<'_>, facts: &Result<ClusterFacts, Outcome>) -> Outcome {
    if let Err(e) = role_binding(pass).await {
        return e.outcome();
    }
    let cluster_role = pass.ctx.config.emr_containers_cluster_role.clone();
    match pass.vc.spec.emr_access.mode {
        EmrAccessMode::AccessEntry => match release_on_mode_switch(pass, facts).await {
            Ok(()) => Outcome::ready(
                "EmrAccessReady",
                format!(
                    "RoleBinding {EMR_ROLE} to ClusterRole {cluster_role} in namespace {}; the cluster uses access entries, which EMR creates itself",
                    pass.namespace()
                ),
            ),
            Err(e) => e.outcome(),
        },
        EmrAccessMode::AwsAuthConfigMap => {
            let facts = match facts {
                Ok(f) => f,
                Err(o) => return o.clone(),
            };
            match entry(pass, facts).await {
                Ok(outcome) => outcome,
                Err(e) => e.outcome(),
            }
        }
    }
}

/// The RoleBinding `emr-containers` to EMR's ClusterRole, checked before it is written; then
/// the Role an earlier operator made in its place goes.
async fn role_binding(pass: &mut Pass<'_>) -> Result<(), Error> {
    let ns = pass.namespace().to_owned();
    let cluster_role = pass.ctx.config.emr_containers_cluster_role.clone();
    require_cluster_role(pass, &cluster_role).await?;
    let wanted = desired::emr_role_binding(&pass.owner, &ns, &cluster_role);
    emr_role::check_binding(
        &wanted,
        pass.status.managed.namespace.as_deref(),
        &cluster_role,
    )
    .map_err(|problem| Error::UnsafeRoleBinding {
        namespace: ns.clone(),
        problem,
    })?;
    replace_if_elsewhere(pass, &wanted).await?;
    converge_child::<RoleBinding>(pass, "RoleBinding", EMR_ROLE, Some(wanted)).await?;
    retire_old_role(pass, &ns).await
}

/// A binding to a ClusterRole that does not exist grants nothing: say so instead of Ready. When
/// the operator may not read it (RBAC set up by hand without `get`), it cannot tell, and goes on.
async fn require_cluster_role(pass: &Pass<'_>, name: &str) -> Result<(), Error> {
    let api: Api<ClusterRole> = Api::all(pass.client());
    match api.get_opt(name).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(Error::EmrClusterRoleMissing {
            name: name.to_owned(),
        }),
        Err(kube::Error::Api(status)) if status.code == 403 => {
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
async fn replace_if_elsewhere(pass: &mut Pass<'_>, wanted: &RoleBinding) -> Result<(), Error> {
    let ns = pass.namespace().to_owned();
    let api: Api<RoleBinding> = Api::namespaced(pass.client(), &ns);
    let Some(current) = get_child(&api, "RoleBinding", &ns).await? else {
        return Ok(());
    };
    if current.role_ref == wanted.role_ref {
        return Ok(());
    }
    if delete_child_as_read(&api, &current, "RoleBinding", &ns).await? {
        pass.changed(
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
/// VirtualCluster (see [`emr_role::is_old_operator_role`]); anyone else's stays.
pub async fn retire_old_role(pass: &mut Pass<'_>, namespace: &str) -> Result<(), Error> {
    let api: Api<Role> = Api::namespaced(pass.client(), namespace);
    let role = old_operator_role(pass, &api, namespace).await?;
    let Some(role) = role.filter(|r| r.meta().deletion_timestamp.is_none()) else {
        return Ok(());
    };
    if delete_child_as_read(&api, &role, "Role", namespace).await? {
        pass.changed(
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
pub async fn migrate_before_retain(pass: &mut Pass<'_>, namespace: &str) -> Result<(), Error> {
    let api: Api<Role> = Api::namespaced(pass.client(), namespace);
    let old = old_operator_role(pass, &api, namespace).await?.is_some();
    if old && namespace == pass.namespace() {
        role_binding(pass).await?;
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
/// VirtualCluster (see [`emr_role::is_old_operator_role`]).
async fn old_operator_role(
    pass: &Pass<'_>,
    api: &Api<Role>,
    namespace: &str,
) -> Result<Option<Role>, Error> {
    Ok(get_child(api, "Role", namespace)
        .await?
        .filter(|r| emr_role::is_old_operator_role(r, &pass.owner)))
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
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

async fn entry(pass: &mut Pass<'_>, facts: &ClusterFacts) -> Result<Outcome, Error> {
    let role_arn = aws_auth::emr_role_arn(facts.partition, &facts.account_id);
    let cluster_role = pass.ctx.config.emr_containers_cluster_role.clone();
    let ready = |ns: &str| {
        Outcome::ready(
            "EmrAccessReady",
            format!(
                "RoleBinding {EMR_ROLE} to ClusterRole {cluster_role} in namespace {ns}; kube-system/aws-auth maps {role_arn} to {EMR_USER}"
            ),
        )
    };
    if !pass.ctx.config.aws_auth {
        return Ok(Outcome::failed(
            "AwsAuthDisabled",
            "the operator runs without rights on kube-system/aws-auth (--aws-auth=false, the chart's rbac.awsAuthConfigMap: false): set spec.emrAccess.mode to AccessEntry, or let the operator maintain aws-auth",
        ));
    }
    match aws_auth_io::ensure(pass.client(), &role_arn).await? {
        Ensured::Added => {
            pass.status.managed.aws_auth_entry_added = true;
            pass.changed(
                "AwsAuthEntryAdded",
                format!("added {role_arn} -> {EMR_USER} to mapRoles in kube-system/aws-auth"),
            );
        }
        Ensured::Present { by_operator } => {
            pass.status.managed.aws_auth_entry_added |= by_operator;
        }
        Ensured::Missing => {
            return Ok(Outcome::failed(
                "AwsAuthMissing",
                "kube-system/aws-auth does not exist, so the cluster authenticates through access entries: set spec.emrAccess.mode to AccessEntry (EMR then creates its own access entry), or create aws-auth; the operator does not create it (that would take the right to create any ConfigMap in kube-system)",
            ));
        }
        Ensured::MappedElsewhere { username } => {
            return Ok(Outcome::failed(
                "AwsAuthEntryConflict",
                format!(
                    "kube-system/aws-auth maps {role_arn} to user {username:?}, but EMR acts as {EMR_USER}; the operator does not change an entry it did not make: fix it by hand"
                ),
            ));
        }
    }
    Ok(ready(pass.namespace()))
}

/// A VirtualCluster switched to access entries gives back the aws-auth entry it added, as
/// deletion would.
async fn release_on_mode_switch(
    pass: &mut Pass<'_>,
    facts: &Result<ClusterFacts, Outcome>,
) -> Result<(), Error> {
    if !pass.status.managed.aws_auth_entry_added {
        return Ok(());
    }
    let Ok(facts) = facts else {
        // Without the account the entry cannot be named; try again on the next pass.
        return Ok(());
    };
    release(pass, facts).await
}

/// Removes EMR's aws-auth entry if the operator added it and no other VirtualCluster still
/// relies on it (the entry is cluster-wide, one for every namespace).
pub async fn release(pass: &mut Pass<'_>, facts: &ClusterFacts) -> Result<(), Error> {
    let role_arn = aws_auth::emr_role_arn(facts.partition, &facts.account_id);
    // The flag mirrors aws-auth's "added by the operator" mark as of the last reconcile, and
    // is cleared once this object has given the entry up, so a retried deletion stays quiet.
    if !pass.status.managed.aws_auth_entry_added {
        return Ok(());
    }
    if let Some(other) = other_user(pass).await? {
        pass.status.managed.aws_auth_entry_added = false;
        pass.changed(
            "AwsAuthEntryKept",
            format!("kept {role_arn} -> {EMR_USER} in kube-system/aws-auth: VirtualCluster {other} still needs it"),
        );
        return Ok(());
    }
    if aws_auth_io::remove(pass.client(), &role_arn).await? {
        pass.changed(
            "AwsAuthEntryRemoved",
            format!("removed {role_arn} -> {EMR_USER} from mapRoles in kube-system/aws-auth"),
        );
    }
    pass.status.managed.aws_auth_entry_added = false;
    Ok(())
}

/// Another VirtualCluster (not being deleted) that uses the aws-auth entry, if any.
async fn other_user(pass: &Pass<'_>) -> Result<Option<String>, Error> {
    let api: Api<VirtualCluster> = Api::all(pass.client());
    let all = api
        .list(&ListParams::default())
        .await
        .map_err(|source| Error::ListVirtualClusters { source })?;
    Ok(all
        .items
        .into_iter()
        .find(|vc| {
            vc.name_any() != pass.owner.name
                && vc.metadata.deletion_timestamp.is_none()
                && vc.spec.emr_access.mode == EmrAccessMode::AwsAuthConfigMap
        })
        .map(|vc| vc.name_any()))
}
