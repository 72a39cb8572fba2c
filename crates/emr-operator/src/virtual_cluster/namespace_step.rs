//! Step 1: the namespace (created, or adopted when it exists) and its guard rails.

use emr_api::VirtualCluster;
use emr_api::labels::VIRTUAL_CLUSTER_LABEL;
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::desired;
use super::error::Error;
use super::kube_io::{self, Applied};
use super::names::{LIMIT_RANGE, NETWORK_POLICY, RESOURCE_QUOTA};
use super::outcome::Outcome;
use super::pass::Pass;
use super::subset;
use crate::kit::status::FIELD_MANAGER;

pub async fn converge(pass: &mut Pass<'_>) -> Outcome {
    match namespace(pass).await {
        Ok(Some(refusal)) => refusal,
        Ok(None) => match guard_rails(pass).await {
            Ok(summary) => {
                let created = if pass.status.managed.namespace_created {
                    "created by the operator"
                } else {
                    "adopted"
                };
                Outcome::ready(
                    "NamespaceReady",
                    format!("namespace {} ({created}){summary}", pass.namespace()),
                )
            }
            Err(e) => e.outcome(),
        },
        Err(e) => e.outcome(),
    }
}

/// Who claims the namespace, by its label.
fn claimant(ns: &Namespace) -> Option<&str> {
    ns.labels().get(VIRTUAL_CLUSTER_LABEL).map(String::as_str)
}

/// Creates or adopts the namespace; `Some(outcome)` when it cannot be used.
async fn namespace(pass: &mut Pass<'_>) -> Result<Option<Outcome>, Error> {
    let name = pass.namespace().to_owned();
    let me = pass.owner.name.clone();
    if let Some(bound) = pass.status.managed.namespace.as_deref()
        && bound != name
    {
        return Ok(Some(Outcome::failed(
            "NamespaceChanged",
            format!(
                "spec.namespace.name cannot change from {bound} to {name}: the EMR virtual cluster is bound to {bound}; delete this VirtualCluster and create a new one"
            ),
        )));
    }
    let api: Api<Namespace> = Api::all(pass.client());
    let current = api
        .get_opt(&name)
        .await
        .map_err(|source| Error::GetNamespace {
            namespace: name.clone(),
            source,
        })?;
    let (created, claiming) = match &current {
        None if !pass.vc.spec.namespace.create => {
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
            let claimed_by = claimant(ns).map(str::to_owned);
            if let Some(other) = claimed_by.as_deref().filter(|c| *c != me)
                && claimant_exists(pass, other).await?
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
            (recorded_as_created(pass, ns), !ours)
        }
    };
    let mut uid = current.as_ref().and_then(|ns| ns.metadata.uid.clone());
    let mut wanted = desired::namespace(&pass.owner, &pass.vc.spec, created);
    let applied = match &current {
        Some(ns) if contains(ns, &wanted) => Applied::Unchanged,
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
        Applied::Created => pass.changed("NamespaceCreated", format!("created namespace {name}")),
        Applied::Updated if claiming => {
            pass.changed("NamespaceAdopted", format!("adopted namespace {name}"))
        }
        Applied::Updated => pass.changed(
            "NamespaceUpdated",
            format!("restored the labels and annotations of namespace {name}"),
        ),
        Applied::Unchanged => {}
    }
    pass.status.managed.namespace = Some(name);
    pass.status.managed.namespace_created = created;
    pass.status.managed.namespace_uid = if created { uid } else { None };
    Ok(None)
}

/// Whether this object's status records that the operator created this very namespace: the
/// same UID (a record from before UIDs were kept is trusted, and gets the UID now).
fn recorded_as_created(pass: &Pass<'_>, ns: &Namespace) -> bool {
    let managed = &pass.status.managed;
    managed.namespace_created
        && match managed.namespace_uid.as_deref() {
            Some(uid) => ns.metadata.uid.as_deref() == Some(uid),
            None => true,
        }
}

/// A namespace claimed by a VirtualCluster that no longer exists is free again (that one was
/// deleted with Retain, or its claim was left behind).
async fn claimant_exists(pass: &Pass<'_>, name: &str) -> Result<bool, Error> {
    let api: Api<VirtualCluster> = Api::all(pass.client());
    let found = api
        .get_opt(name)
        .await
        .map_err(|source| Error::GetVirtualCluster {
            name: name.to_owned(),
            source,
        })?;
    Ok(found.is_some())
}

fn contains<K: Serialize>(actual: &K, wanted: &K) -> bool {
    match (serde_json::to_value(actual), serde_json::to_value(wanted)) {
        (Ok(a), Ok(w)) => subset::contains(&a, &w),
        _ => false,
    }
}

/// Applies the guard rails the spec asks for and deletes the operator's ones it no longer does.
/// Returns a summary for the condition message.
async fn guard_rails(pass: &mut Pass<'_>) -> Result<String, Error> {
    let ns = pass.namespace().to_owned();
    let rails = pass.vc.spec.guard_rails.clone().unwrap_or_default();
    let mut present = Vec::new();

    let quota = rails
        .resource_quota
        .as_ref()
        .map(|q| desired::resource_quota(&pass.owner, &ns, q));
    if converge_child::<ResourceQuota>(pass, "ResourceQuota", RESOURCE_QUOTA, quota).await? {
        present.push("ResourceQuota");
    }
    let limits = rails
        .limit_range
        .as_ref()
        .map(|l| desired::limit_range(&pass.owner, &ns, l));
    if converge_child::<LimitRange>(pass, "LimitRange", LIMIT_RANGE, limits).await? {
        present.push("LimitRange");
    }
    let isolation = rails
        .network_isolation
        .then(|| desired::network_policy(&pass.owner, &ns));
    if converge_child::<NetworkPolicy>(pass, "NetworkPolicy", NETWORK_POLICY, isolation).await? {
        present.push("NetworkPolicy");
    }
    Ok(if present.is_empty() {
        String::new()
    } else {
        format!(" with {}", present.join(", "))
    })
}

/// Applies `wanted`, or deletes the operator's object of that name when nothing is wanted.
/// `true` when the object is wanted.
pub async fn converge_child<K>(
    pass: &mut Pass<'_>,
    kind: &'static str,
    name: &str,
    wanted: Option<K>,
) -> Result<bool, Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + Serialize
        + DeserializeOwned
        + std::fmt::Debug,
{
    let ns = pass.namespace().to_owned();
    let api: Api<K> = Api::namespaced(pass.client(), &ns);
    match wanted {
        Some(obj) => {
            let applied = kube_io::apply(&api, &obj)
                .await
                .map_err(|source| Error::ApplyChild {
                    kind,
                    namespace: ns.clone(),
                    name: name.to_owned(),
                    source,
                })?;
            report(pass, kind, &ns, name, applied);
            Ok(true)
        }
        None => {
            let deleted = kube_io::delete_if_ours(&api, name, &pass.owner.name)
                .await
                .map_err(|source| Error::DeleteChild {
                    kind,
                    namespace: ns.clone(),
                    name: name.to_owned(),
                    source,
                })?;
            if deleted {
                pass.changed(
                    &format!("{kind}Deleted"),
                    format!("deleted {kind} {ns}/{name}"),
                );
            }
            Ok(false)
        }
    }
}

/// Tells the user about a created or repaired child.
pub fn report(pass: &mut Pass<'_>, kind: &str, ns: &str, name: &str, applied: Applied) {
    match applied {
        Applied::Created => pass.changed(
            &format!("{kind}Created"),
            format!("created {kind} {ns}/{name}"),
        ),
        Applied::Updated => pass.changed(
            &format!("{kind}Updated"),
            format!("restored {kind} {ns}/{name} to what the VirtualCluster asks for"),
        ),
        Applied::Unchanged => {}
    }
}
