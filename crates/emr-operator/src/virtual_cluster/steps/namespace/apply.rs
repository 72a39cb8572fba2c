//! Step 1, effects: the namespace (created, or adopted when it exists) and its guard rails.

use emr_api::VirtualCluster;
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};

use super::plan;
use crate::kit::FIELD_MANAGER;
use serde::Serialize;

use crate::virtual_cluster::children::apply::Child;
use crate::virtual_cluster::children::{self, Applied, converge_child};
use crate::virtual_cluster::error::Error;
use crate::virtual_cluster::outcome::Outcome;
use crate::virtual_cluster::reconciliation::Reconciliation;

pub async fn converge(recon: &mut Reconciliation<'_>) -> Outcome {
    match namespace(recon).await {
        Ok(Some(refusal)) => refusal,
        Ok(None) => match guard_rails(recon).await {
            Ok(summary) => {
                let created = if recon.status.managed.namespace_created {
                    "created by the operator"
                } else {
                    "adopted"
                };
                Outcome::ready(
                    "NamespaceReady",
                    format!("namespace {} ({created}){summary}", recon.namespace()),
                )
            }
            Err(e) => e.outcome(),
        },
        Err(e) => e.outcome(),
    }
}

/// Creates or adopts the namespace; `Some(outcome)` when it cannot be used.
async fn namespace(recon: &mut Reconciliation<'_>) -> Result<Option<Outcome>, Error> {
    let name = recon.namespace().to_owned();
    let me = recon.owner.name.clone();
    if let Some(bound) = recon.status.managed.namespace.as_deref()
        && bound != name
    {
        return Ok(Some(Outcome::failed(
            "NamespaceChanged",
            format!(
                "spec.namespace.name cannot change from {bound} to {name}: the EMR virtual cluster is bound to {bound}; delete this VirtualCluster and create a new one"
            ),
        )));
    }
    let api: Api<Namespace> = Api::all(recon.client());
    let current = api
        .get_opt(&name)
        .await
        .map_err(|source| Error::GetNamespace {
            namespace: name.clone(),
            source,
        })?;
    let (created, claiming) = match &current {
        None if !recon.vc.spec.namespace.create => {
            return Ok(Some(Outcome::failed(
                "NamespaceNotFound",
                format!("namespace {name} does not exist and spec.namespace.create is false"),
            )));
        }
        None => (true, false),
        Some(ns) if ns.meta().deletion_timestamp.is_some() => {
            return Ok(Some(Outcome::waiting(
                "NamespaceTerminating",
                format!("namespace {name} is being deleted; it is used again once it is gone"),
            )));
        }
        Some(ns) => {
            let claimed_by = plan::claimant(ns).map(str::to_owned);
            if let Some(other) = claimed_by.as_deref().filter(|c| *c != me)
                && claimant_exists(recon, other).await?
            {
                return Ok(Some(Outcome::failed(
                    "NamespaceOwnedByAnotherVirtualCluster",
                    format!(
                        "namespace {name} belongs to VirtualCluster {other}; a namespace can serve only one virtual cluster, choose another namespace"
                    ),
                )));
            }
            let ours = claimed_by.as_deref() == Some(me.as_str());
            // Only this object's own record says the operator created the namespace; labels
            // and annotations on it can be set by whoever may edit it, so they decide nothing.
            (plan::recorded_as_created(&recon.status.managed, ns), !ours)
        }
    };
    let mut uid = current.as_ref().and_then(|ns| ns.metadata.uid.clone());
    let mut wanted = plan::namespace(&recon.owner, &recon.vc.spec, created);
    let applied = match &current {
        Some(ns) if children::contains_object(ns, &wanted) => Applied::Unchanged,
        _ => {
            if claiming {
                // Conditional on the version read, so two VirtualClusters cannot both claim it.
                wanted.metadata.resource_version =
                    current.as_ref().and_then(|ns| ns.resource_version());
            }
            let params = PatchParams::apply(FIELD_MANAGER).force();
            let stored = api
                .patch(&name, &params, &Patch::Apply(&wanted))
                .await
                .map_err(|source| Error::ApplyNamespace {
                    namespace: name.clone(),
                    source,
                })?;
            uid = stored.metadata.uid;
            if current.is_none() {
                Applied::Created
            } else {
                Applied::Updated
            }
        }
    };
    match applied {
        Applied::Created => recon.changed("NamespaceCreated", format!("created namespace {name}")),
        Applied::Updated if claiming => {
            recon.changed("NamespaceAdopted", format!("adopted namespace {name}"))
        }
        Applied::Updated => recon.changed(
            "NamespaceUpdated",
            format!("restored the labels and annotations of namespace {name}"),
        ),
        Applied::Unchanged => {}
    }
    recon.status.managed.namespace = Some(name);
    recon.status.managed.namespace_created = created;
    recon.status.managed.namespace_uid = if created { uid } else { None };
    Ok(None)
}

/// A namespace claimed by a VirtualCluster that no longer exists is free again (that one was
/// deleted with Retain, or its claim was left behind).
async fn claimant_exists(recon: &Reconciliation<'_>, name: &str) -> Result<bool, Error> {
    let api: Api<VirtualCluster> = Api::all(recon.client());
    let found = api
        .get_opt(name)
        .await
        .map_err(|source| Error::GetVirtualCluster {
            name: name.to_owned(),
            source,
        })?;
    Ok(found.is_some())
}

/// Applies the guard rails the spec asks for and deletes the operator's ones it no longer does,
/// including those of an old name (a rename leaves no orphan). Returns a summary for the
/// condition message.
async fn guard_rails(recon: &mut Reconciliation<'_>) -> Result<String, Error> {
    let ns = recon.namespace().to_owned();
    let rails = recon.vc.spec.guard_rails.clone().unwrap_or_default();
    let mut present = Vec::new();

    let quota = rails
        .resource_quota
        .as_ref()
        .map(|q| plan::resource_quota(&recon.owner, &ns, q));
    if let Some(name) = converge_named::<ResourceQuota>(recon, "ResourceQuota", quota).await? {
        present.push(format!("ResourceQuota {name}"));
    }
    let limits = rails
        .limit_range
        .as_ref()
        .map(|l| plan::limit_range(&recon.owner, &ns, l));
    if let Some(name) = converge_named::<LimitRange>(recon, "LimitRange", limits).await? {
        present.push(format!("LimitRange {name}"));
    }
    let isolation =
        plan::wanted_network_policy(&rails).map(|p| plan::network_policy(&recon.owner, &ns, &p));
    if let Some(name) = converge_named::<NetworkPolicy>(recon, "NetworkPolicy", isolation).await? {
        present.push(format!("NetworkPolicy {name}"));
    }
    Ok(if present.is_empty() {
        String::new()
    } else {
        format!(" with {}", present.join(", "))
    })
}

/// Applies the wanted object (named as it says) and deletes every other object of this kind the
/// operator made for this VirtualCluster in the namespace: a guard rail of an old name, or one no
/// longer asked for. Only objects carrying this VirtualCluster's label are ever deleted. Returns
/// the wanted object's name.
async fn converge_named<K>(
    recon: &mut Reconciliation<'_>,
    kind: &'static str,
    wanted: Option<K>,
) -> Result<Option<String>, Error>
where
    K: Child + Serialize,
{
    let ns = recon.namespace().to_owned();
    let name = wanted.as_ref().map(ResourceExt::name_any);
    if let (Some(obj), Some(name)) = (wanted, name.as_deref()) {
        converge_child::<K>(recon, kind, name, Some(obj)).await?;
    }
    let (_, ours) = children::apply::list_children::<K>(recon, &ns, kind).await?;
    for stale in ours.iter().filter(|o| Some(o.name_any()) != name) {
        converge_child::<K>(recon, kind, &stale.name_any(), None).await?;
    }
    Ok(name)
}
