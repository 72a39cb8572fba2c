//! Deletion (behind the finalizer). `Delete`: wait for or cancel the namespace's SparkJobRuns,
//! then delete the EMR virtual cluster, take back the trust statements and the aws-auth entry
//! the operator added, and delete the namespace if the operator created it (or, for an adopted
//! one, the operator's objects in it and its labels). `Retain`: only let go, leaving everything
//! in place and taking the owner references and the operator's ownership labels off the children
//! and the namespace, so garbage collection keeps them and a later VirtualCluster can adopt them.
//!
//! Whether the namespace is deleted is decided by this object's own status (the operator
//! recorded that it created it, with its UID), never by labels or annotations on the namespace,
//! which anyone allowed to edit it could set.

use emr_api::SparkJobRun;
use emr_api::labels::TAG_UID;
use emr_api::virtual_cluster::{DeletionPolicy, ManagedParts, RunningJobsOnDelete};
use emr_aws::VirtualClusterState;
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::access_step;
use super::cluster::{self, ClusterFacts};
use super::desired;
use super::error::{Error, aws_outcome};
use super::job_runs;
use super::kube_io;
use super::outcome::Outcome;
use super::pass::Pass;
use super::trust::{self, Family, TrustTarget};
use super::trust_step;
use crate::kit::status::FIELD_MANAGER;

/// Undoes what the policy says; `None` when everything is done and the finalizer may go,
/// otherwise what deletion is waiting for or failed at.
pub async fn finish(pass: &mut Pass<'_>) -> Option<Outcome> {
    match pass.vc.spec.deletion_policy {
        DeletionPolicy::Retain => orphan_children(pass).await.err().map(|e| e.outcome()),
        DeletionPolicy::Delete => delete_everything(pass).await,
    }
}

async fn delete_everything(pass: &mut Pass<'_>) -> Option<Outcome> {
    if let Some(waiting) = job_runs(pass).await {
        return Some(waiting);
    }
    let mut problems = Vec::new();
    if let Err(o) = delete_virtual_cluster(pass).await {
        problems.push(o);
    }
    record_wanted_statements(pass);
    for reference in pass.status.managed.trust_statements.clone() {
        if let Err(e) = trust_step::remove_recorded(pass, &reference).await {
            problems.push(e.outcome());
        }
    }
    if let Err(o) = aws_auth_entry(pass).await {
        problems.push(o);
    }
    if let Err(e) = namespace(pass).await {
        problems.push(e.outcome());
    }
    problems.into_iter().next()
}

/// Adds the statements the spec asks for in the bound namespace to the ones to remove: a pass
/// that added one may have stopped before its status write, and converging records them anyway
/// (found present), so deletion answers for the same set. Removing one that is absent is a no-op.
fn record_wanted_statements(pass: &mut Pass<'_>) {
    let managed = &pass.status.managed;
    let (Some(namespace), Some(account_id), Some(provider)) = (
        managed.namespace.clone(),
        pass.status.account_id.clone(),
        pass.status.oidc_provider.clone(),
    ) else {
        return;
    };
    let partition = pass.ctx.aws.partition();
    let target = TrustTarget {
        partition,
        account_id: &account_id,
        oidc_provider: &provider,
        namespace: &namespace,
    };
    for family in [Family::ExecutionRoles, Family::ServiceAccounts] {
        for stmt in trust::wanted(&pass.vc.spec, &target, family)
            .into_iter()
            .flatten()
        {
            trust::record(&mut pass.status.managed.trust_statements, &stmt.reference);
        }
    }
}

/// `Some` while SparkJobRuns in the namespace have not finished.
async fn job_runs(pass: &mut Pass<'_>) -> Option<Outcome> {
    let namespace = pass.status.managed.namespace.clone()?;
    let api: Api<SparkJobRun> = Api::namespaced(pass.client(), &namespace);
    let runs = match api.list(&ListParams::default()).await {
        Ok(list) => list.items,
        Err(source) => {
            return Some(Error::ListSparkJobRuns { namespace, source }.outcome());
        }
    };
    let policy = pass.vc.spec.running_jobs_on_delete;
    let open = job_runs::holding(&runs, policy);
    if open.is_empty() {
        return None;
    }
    if policy == RunningJobsOnDelete::Cancel {
        for run in job_runs::to_cancel(&open) {
            let name = run.name_any();
            match kube_io::delete(&api, &name).await {
                Ok(true) => pass.changed(
                    "SparkJobRunCancelled",
                    format!("deleted SparkJobRun {namespace}/{name} (its finalizer cancels the EMR job run)"),
                ),
                Ok(false) => {}
                Err(source) => {
                    return Some(
                        Error::DeleteSparkJobRun {
                            namespace,
                            name,
                            source,
                        }
                        .outcome(),
                    );
                }
            }
        }
    }
    Some(Outcome::waiting(
        "WaitingForJobRuns",
        job_runs::waiting_message(&namespace, &open, policy),
    ))
}

async fn delete_virtual_cluster(pass: &mut Pass<'_>) -> Result<(), Outcome> {
    let emr = pass.ctx.aws.emr.clone();
    let id = match pass.status.virtual_cluster_id.clone() {
        Some(id) => id,
        None => match created_but_unrecorded(pass).await? {
            Some(id) => id,
            None => return Ok(()),
        },
    };
    match emr.describe_virtual_cluster(&id).await {
        Ok(info)
            if matches!(
                info.state,
                VirtualClusterState::Terminated | VirtualClusterState::Terminating
            ) =>
        {
            pass.status.state = Some(info.state.as_str().to_owned());
            return Ok(());
        }
        Ok(_) => {}
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(aws_outcome(&e)),
    }
    match emr.delete_virtual_cluster(&id).await {
        Ok(()) => {
            pass.status.state = Some(VirtualClusterState::Terminating.as_str().to_owned());
            pass.changed(
                "VirtualClusterDeleted",
                format!("deleted EMR virtual cluster {id}"),
            );
            Ok(())
        }
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(aws_outcome(&e)),
    }
}

/// A virtual cluster this object created whose id never reached the status (the operator
/// stopped in between), found by the operator's uid tag.
async fn created_but_unrecorded(pass: &Pass<'_>) -> Result<Option<String>, Outcome> {
    if pass.status.managed.namespace.is_none() {
        return Ok(None);
    }
    let holding = [VirtualClusterState::Running, VirtualClusterState::Arrested];
    let list = pass
        .ctx
        .aws
        .emr
        .list_virtual_clusters(&pass.vc.spec.eks_cluster_name, &holding)
        .await
        .map_err(|e| aws_outcome(&e))?;
    Ok(list
        .into_iter()
        .find(|c| {
            c.namespace.as_deref() == Some(pass.namespace())
                && c.tags.get(TAG_UID).map(String::as_str) == Some(pass.owner.uid.as_str())
        })
        .map(|c| c.id))
}

async fn aws_auth_entry(pass: &mut Pass<'_>) -> Result<(), Outcome> {
    if !pass.status.managed.aws_auth_entry_added {
        return Ok(());
    }
    let facts = match pass
        .status
        .account_id
        .clone()
        .or_else(|| pass.vc.spec.account_id.clone())
    {
        Some(account_id) => ClusterFacts {
            partition: pass.ctx.aws.partition(),
            account_id,
            oidc_provider: None,
        },
        None => cluster::resolve(pass.ctx, &pass.vc.spec)
            .await
            .map_err(|e| e.outcome())?,
    };
    access_step::release(pass, &facts)
        .await
        .map_err(|e| e.outcome())
}

async fn namespace(pass: &mut Pass<'_>) -> Result<(), Error> {
    let Some(name) = pass.status.managed.namespace.clone() else {
        return Ok(());
    };
    let api: Api<Namespace> = Api::all(pass.client());
    let Some(ns) = api
        .get_opt(&name)
        .await
        .map_err(|source| Error::GetNamespace {
            namespace: name.clone(),
            source,
        })?
    else {
        return Ok(());
    };
    if !kube_io::is_ours(&ns, &pass.owner.name) {
        return Ok(());
    }
    if may_delete_namespace(pass.vc.spec.namespace.create, &pass.status.managed, &ns) {
        if ns.meta().deletion_timestamp.is_none()
            && kube_io::delete(&api, &name)
                .await
                .map_err(|source| Error::DeleteNamespace {
                    namespace: name.clone(),
                    source,
                })?
        {
            pass.changed(
                "NamespaceDeleted",
                format!("deleted namespace {name}, which the operator created"),
            );
        }
        return Ok(());
    }
    delete_children::<RoleBinding>(pass, &name, "RoleBinding").await?;
    // The operator lists no Roles (it holds only get/delete on emr-containers): an earlier
    // operator's Role is looked up by name.
    access_step::retire_old_role(pass, &name).await?;
    delete_children::<ServiceAccount>(pass, &name, "ServiceAccount").await?;
    delete_children::<ResourceQuota>(pass, &name, "ResourceQuota").await?;
    delete_children::<LimitRange>(pass, &name, "LimitRange").await?;
    delete_children::<NetworkPolicy>(pass, &name, "NetworkPolicy").await?;
    // Applying the bare namespace as the operator's field manager drops exactly the labels and
    // annotations the operator set; the namespace itself stays, as it was adopted.
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(
        &name,
        &params,
        &Patch::Apply(&desired::released_namespace(&name)),
    )
    .await
    .map_err(|source| Error::ApplyNamespace {
        namespace: name.clone(),
        source,
    })?;
    pass.changed(
        "NamespaceReleased",
        format!(
            "removed the operator's objects, labels and annotations from adopted namespace {name}"
        ),
    );
    Ok(())
}

/// Whether deletion may delete the namespace: this object's status records that the operator
/// created exactly this namespace (same UID; a record from before UIDs were kept is trusted), and
/// the spec still says `create: true` (an adopted namespace, `create: false`, is never deleted).
fn may_delete_namespace(create: bool, managed: &ManagedParts, ns: &Namespace) -> bool {
    let same = match managed.namespace_uid.as_deref() {
        Some(uid) => ns.metadata.uid.as_deref() == Some(uid),
        None => true,
    };
    create && managed.namespace_created && same
}

/// A namespaced kind the VirtualCluster may own in its namespace (Role, ServiceAccount, ...).
trait Child:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + std::fmt::Debug
{
}

impl<K> Child for K where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
{
}

/// The children of kind `K` this VirtualCluster owns in `namespace`, with the API to act on them.
async fn list_children<K: Child>(
    pass: &Pass<'_>,
    namespace: &str,
    kind: &'static str,
) -> Result<(Api<K>, Vec<K>), Error> {
    let api: Api<K> = Api::namespaced(pass.client(), namespace);
    let ours = kube_io::list_ours(&api, &pass.owner.name)
        .await
        .map_err(|source| Error::ListChildren {
            kind,
            namespace: namespace.to_owned(),
            source,
        })?;
    Ok((api, ours))
}

async fn delete_children<K: Child>(
    pass: &mut Pass<'_>,
    namespace: &str,
    kind: &'static str,
) -> Result<(), Error> {
    let (api, ours) = list_children::<K>(pass, namespace, kind).await?;
    for child in ours {
        let name = child.name_any();
        if kube_io::delete(&api, &name)
            .await
            .map_err(|source| Error::DeleteChild {
                kind,
                namespace: namespace.to_owned(),
                name: name.clone(),
                source,
            })?
        {
            pass.changed(
                &format!("{kind}Deleted"),
                format!("deleted {kind} {namespace}/{name}"),
            );
        }
    }
    Ok(())
}

/// `Retain`: every child stays, without its owner reference and the operator's ownership
/// labels, and so does the namespace, without the operator's markers.
async fn orphan_children(pass: &mut Pass<'_>) -> Result<(), Error> {
    let Some(namespace) = pass.status.managed.namespace.clone() else {
        return Ok(());
    };
    release_namespace_markers(pass, &namespace).await?;
    access_step::migrate_before_retain(pass, &namespace).await?;
    orphan::<RoleBinding>(pass, &namespace, "RoleBinding").await?;
    orphan::<ServiceAccount>(pass, &namespace, "ServiceAccount").await?;
    orphan::<ResourceQuota>(pass, &namespace, "ResourceQuota").await?;
    orphan::<LimitRange>(pass, &namespace, "LimitRange").await?;
    orphan::<NetworkPolicy>(pass, &namespace, "NetworkPolicy").await?;
    Ok(())
}

/// Re-applies the namespace as the operator's field manager with the spec's own labels and
/// annotations only: server-side apply drops the markers the operator set before (its label,
/// managed-by, created-by) and leaves what the spec asked for and what others set.
async fn release_namespace_markers(pass: &mut Pass<'_>, name: &str) -> Result<(), Error> {
    let api: Api<Namespace> = Api::all(pass.client());
    let Some(ns) = api
        .get_opt(name)
        .await
        .map_err(|source| Error::GetNamespace {
            namespace: name.to_owned(),
            source,
        })?
    else {
        return Ok(());
    };
    if !kube_io::is_ours(&ns, &pass.owner.name) || ns.metadata.deletion_timestamp.is_some() {
        return Ok(());
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(
        name,
        &params,
        &Patch::Apply(&desired::retained_namespace(&pass.vc.spec)),
    )
    .await
    .map_err(|source| Error::ApplyNamespace {
        namespace: name.to_owned(),
        source,
    })?;
    pass.changed(
        "NamespaceReleased",
        format!("removed the operator's ownership markers from namespace {name}, which stays"),
    );
    Ok(())
}

async fn orphan<K: Child>(
    pass: &mut Pass<'_>,
    namespace: &str,
    kind: &'static str,
) -> Result<(), Error> {
    let (api, ours) = list_children::<K>(pass, namespace, kind).await?;
    for child in ours {
        let name = child.name_any();
        kube_io::orphan(&api, &child, &pass.owner.uid)
            .await
            .map_err(|source| Error::OrphanChild {
                kind,
                namespace: namespace.to_owned(),
                name,
                source,
            })?;
    }
    Ok(())
}
