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
use emr_api::virtual_cluster::{DeletionPolicy, RunningJobsOnDelete};
use emr_aws::VirtualClusterState;
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};

use super::plan;
use crate::kit::FIELD_MANAGER;
use crate::virtual_cluster::children::{self, delete_children};
use crate::virtual_cluster::error::{Error, aws_outcome};
use crate::virtual_cluster::outcome::Outcome;
use crate::virtual_cluster::reconciliation::Reconciliation;
use crate::virtual_cluster::steps::cluster_facts::{self, ClusterFacts};
use crate::virtual_cluster::steps::fargate::{self, ClusterSlots};
use crate::virtual_cluster::steps::trust::plan::{Family, TrustTarget};
use crate::virtual_cluster::steps::{access, trust};

/// Undoes what the policy says; `None` when everything is done and the finalizer may go,
/// otherwise what deletion is waiting for or failed at.
pub async fn finish(recon: &mut Reconciliation<'_>, slots: &ClusterSlots) -> Option<Outcome> {
    match recon.vc.spec.deletion_policy {
        DeletionPolicy::Retain => orphan_children(recon).await.err().map(|e| e.outcome()),
        DeletionPolicy::Delete => delete_everything(recon, slots).await,
    }
}

async fn delete_everything(
    recon: &mut Reconciliation<'_>,
    slots: &ClusterSlots,
) -> Option<Outcome> {
    if let Some(waiting) = job_runs(recon).await {
        return Some(waiting);
    }
    let mut problems = Vec::new();
    if let Err(o) = delete_virtual_cluster(recon).await {
        problems.push(o);
    }
    record_wanted_statements(recon);
    for reference in recon.status.managed.trust_statements.clone() {
        if let Err(e) = trust::apply::remove_recorded(recon, &reference).await {
            problems.push(e.outcome());
        }
    }
    if let Err(o) = aws_auth_entry(recon).await {
        problems.push(o);
    }
    if let Err(e) = namespace(recon).await {
        problems.push(e.outcome());
    }
    // The Fargate profile is deleted (only if EKS shows it as ours) and waited for until gone.
    if let Err(o) = fargate::release_all(recon, slots).await {
        problems.push(o);
    }
    problems.into_iter().next()
}

/// Adds the statements the spec asks for in the bound namespace to the ones to remove: a pass
/// that added one may have stopped before its status write, and converging records them anyway
/// (found present), so deletion answers for the same set. Removing one that is absent is a no-op.
fn record_wanted_statements(recon: &mut Reconciliation<'_>) {
    let managed = &recon.status.managed;
    let (Some(namespace), Some(account_id), Some(provider)) = (
        managed.namespace.clone(),
        recon.status.account_id.clone(),
        recon.status.oidc_provider.clone(),
    ) else {
        return;
    };
    let partition = recon.ctx.aws.partition();
    let target = TrustTarget {
        partition,
        account_id: &account_id,
        oidc_provider: &provider,
        namespace: &namespace,
    };
    for family in [Family::ExecutionRoles, Family::ServiceAccounts] {
        for stmt in trust::plan::wanted(&recon.vc.spec, &target, family)
            .into_iter()
            .flatten()
        {
            trust::plan::record(&mut recon.status.managed.trust_statements, &stmt.reference);
        }
    }
}

/// `Some` while SparkJobRuns in the namespace have not finished.
async fn job_runs(recon: &mut Reconciliation<'_>) -> Option<Outcome> {
    let namespace = recon.status.managed.namespace.clone()?;
    let api: Api<SparkJobRun> = Api::namespaced(recon.client(), &namespace);
    let runs = match api.list(&ListParams::default()).await {
        Ok(list) => list.items,
        Err(source) => {
            return Some(Error::ListSparkJobRuns { namespace, source }.outcome());
        }
    };
    let policy = recon.vc.spec.running_jobs_on_delete;
    let open = plan::holding(&runs, policy);
    if open.is_empty() {
        return None;
    }
    if policy == RunningJobsOnDelete::Cancel {
        for run in plan::to_cancel(&open) {
            let name = run.name_any();
            match children::apply::delete(&api, &name).await {
                Ok(true) => recon.changed(
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
        plan::waiting_message(&namespace, &open, policy),
    ))
}

async fn delete_virtual_cluster(recon: &mut Reconciliation<'_>) -> Result<(), Outcome> {
    let emr = recon.ctx.aws.emr.clone();
    let id = match recon.status.virtual_cluster_id.clone() {
        Some(id) => id,
        None => match created_but_unrecorded(recon).await? {
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
            recon.status.state = Some(info.state.as_str().to_owned());
            return Ok(());
        }
        Ok(_) => {}
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(aws_outcome(&e)),
    }
    match emr.delete_virtual_cluster(&id).await {
        Ok(()) => {
            recon.status.state = Some(VirtualClusterState::Terminating.as_str().to_owned());
            recon.changed(
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
async fn created_but_unrecorded(recon: &Reconciliation<'_>) -> Result<Option<String>, Outcome> {
    if recon.status.managed.namespace.is_none() {
        return Ok(None);
    }
    let holding = [VirtualClusterState::Running, VirtualClusterState::Arrested];
    let list = recon
        .ctx
        .aws
        .emr
        .list_virtual_clusters(&recon.vc.spec.eks_cluster_name, &holding)
        .await
        .map_err(|e| aws_outcome(&e))?;
    Ok(list
        .into_iter()
        .find(|c| {
            c.namespace.as_deref() == Some(recon.namespace())
                && c.tags.get(TAG_UID).map(String::as_str) == Some(recon.owner.uid.as_str())
        })
        .map(|c| c.id))
}

async fn aws_auth_entry(recon: &mut Reconciliation<'_>) -> Result<(), Outcome> {
    if !recon.status.managed.aws_auth_entry_added {
        return Ok(());
    }
    let facts = match recon
        .status
        .account_id
        .clone()
        .or_else(|| recon.vc.spec.account_id.clone())
    {
        Some(account_id) => ClusterFacts {
            partition: recon.ctx.aws.partition(),
            account_id,
            oidc_provider: None,
        },
        None => cluster_facts::resolve(recon.ctx, &recon.vc.spec)
            .await
            .map_err(|e| e.outcome())?,
    };
    access::aws_auth::apply::release(recon, &facts)
        .await
        .map_err(|e| e.outcome())
}

async fn namespace(recon: &mut Reconciliation<'_>) -> Result<(), Error> {
    let Some(name) = recon.status.managed.namespace.clone() else {
        return Ok(());
    };
    let api: Api<Namespace> = Api::all(recon.client());
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
    if !children::apply::is_ours(&ns, &recon.owner.name) {
        return Ok(());
    }
    if plan::may_delete_namespace(recon.vc.spec.namespace.create, &recon.status.managed, &ns) {
        if ns.meta().deletion_timestamp.is_none()
            && children::apply::delete(&api, &name)
                .await
                .map_err(|source| Error::DeleteNamespace {
                    namespace: name.clone(),
                    source,
                })?
        {
            recon.changed(
                "NamespaceDeleted",
                format!("deleted namespace {name}, which the operator created"),
            );
        }
        return Ok(());
    }
    delete_children::<RoleBinding>(recon, &name, "RoleBinding").await?;
    // The operator lists no Roles (it holds only get/delete on emr-containers): an earlier
    // operator's Role is looked up by name.
    access::apply::retire_old_role(recon, &name).await?;
    delete_children::<ServiceAccount>(recon, &name, "ServiceAccount").await?;
    delete_children::<ResourceQuota>(recon, &name, "ResourceQuota").await?;
    delete_children::<LimitRange>(recon, &name, "LimitRange").await?;
    delete_children::<NetworkPolicy>(recon, &name, "NetworkPolicy").await?;
    // Applying the bare namespace as the operator's field manager drops exactly the labels and
    // annotations the operator set; the namespace itself stays, as it was adopted.
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(
        &name,
        &params,
        &Patch::Apply(&crate::virtual_cluster::steps::namespace::plan::released_namespace(&name)),
    )
    .await
    .map_err(|source| Error::ApplyNamespace {
        namespace: name.clone(),
        source,
    })?;
    recon.changed(
        "NamespaceReleased",
        format!(
            "removed the operator's objects, labels and annotations from adopted namespace {name}"
        ),
    );
    Ok(())
}

/// `Retain`: every child stays, without its owner reference and the operator's ownership
/// labels, and so does the namespace, without the operator's markers.
async fn orphan_children(recon: &mut Reconciliation<'_>) -> Result<(), Error> {
    let Some(namespace) = recon.status.managed.namespace.clone() else {
        return Ok(());
    };
    release_namespace_markers(recon, &namespace).await?;
    access::apply::migrate_before_retain(recon, &namespace).await?;
    children::orphan_children::<RoleBinding>(recon, &namespace, "RoleBinding").await?;
    children::orphan_children::<ServiceAccount>(recon, &namespace, "ServiceAccount").await?;
    children::orphan_children::<ResourceQuota>(recon, &namespace, "ResourceQuota").await?;
    children::orphan_children::<LimitRange>(recon, &namespace, "LimitRange").await?;
    children::orphan_children::<NetworkPolicy>(recon, &namespace, "NetworkPolicy").await?;
    Ok(())
}

/// Re-applies the namespace as the operator's field manager with the spec's own labels and
/// annotations only: server-side apply drops the markers the operator set before (its label,
/// managed-by, created-by) and leaves what the spec asked for and what others set.
async fn release_namespace_markers(
    recon: &mut Reconciliation<'_>,
    name: &str,
) -> Result<(), Error> {
    let api: Api<Namespace> = Api::all(recon.client());
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
    if !children::apply::is_ours(&ns, &recon.owner.name) || ns.metadata.deletion_timestamp.is_some()
    {
        return Ok(());
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(
        name,
        &params,
        &Patch::Apply(
            &crate::virtual_cluster::steps::namespace::plan::retained_namespace(&recon.vc.spec),
        ),
    )
    .await
    .map_err(|source| Error::ApplyNamespace {
        namespace: name.to_owned(),
        source,
    })?;
    recon.changed(
        "NamespaceReleased",
        format!("removed the operator's ownership markers from namespace {name}, which stays"),
    );
    Ok(())
}
