//! Writing the operator's children: apply only what differs, delete only what is ours, and let
//! go of children on `Retain`; with the Normal Event each change is told by.

use std::fmt::Debug;

use emr_api::labels::{MANAGED_BY_LABEL, VIRTUAL_CLUSTER_LABEL};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::plan::contains;
use crate::kit::{self, FIELD_MANAGER};
use crate::virtual_cluster::error::Error;
use crate::virtual_cluster::reconciliation::Reconciliation;

/// The labels by which the operator claims an object it made.
const OWNERSHIP_LABELS: [&str; 2] = [VIRTUAL_CLUSTER_LABEL, MANAGED_BY_LABEL];

/// What applying a child did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Created,
    Updated,
    Unchanged,
}

/// Makes the object say at least what `desired` says, with server-side apply as the operator's
/// field manager (forced: the operator owns these fields, and an edit by hand is drift to undo).
/// An object that already contains `desired` is not written at all.
pub async fn apply<K>(api: &Api<K>, desired: &K) -> Result<Applied, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + Debug,
{
    let name = desired.name_any();
    let current = api.get_opt(&name).await?;
    if let Some(current) = &current
        && let (Ok(actual), Ok(wanted)) =
            (serde_json::to_value(current), serde_json::to_value(desired))
        && contains(&actual, &wanted)
    {
        return Ok(Applied::Unchanged);
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let applied = api.patch(&name, &params, &Patch::Apply(desired)).await?;
    Ok(match current {
        None => Applied::Created,
        // Quantities and defaults come back normalized, so "not contained" can still be a no-op.
        Some(c) if c.resource_version() == applied.resource_version() => Applied::Unchanged,
        Some(_) => Applied::Updated,
    })
}

/// Whether `actual` already says everything `wanted` says.
pub fn contains_object<K: Serialize>(actual: &K, wanted: &K) -> bool {
    match (serde_json::to_value(actual), serde_json::to_value(wanted)) {
        (Ok(a), Ok(w)) => contains(&a, &w),
        _ => false,
    }
}

/// Whether the object carries the owner's label: the operator deletes nothing else.
pub fn is_ours<K: Resource>(obj: &K, owner: &str) -> bool {
    obj.labels().get(VIRTUAL_CLUSTER_LABEL).map(String::as_str) == Some(owner)
}

/// Deletes the named object if it is the owner's; `true` when a delete was sent.
pub async fn delete_if_ours<K>(api: &Api<K>, name: &str, owner: &str) -> Result<bool, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    match api.get_opt(name).await? {
        Some(obj) if is_ours(&obj, owner) && obj.meta().deletion_timestamp.is_none() => {
            delete(api, name).await
        }
        _ => Ok(false),
    }
}

/// Deletes, treating "already gone" as done; `true` when a delete was sent.
pub async fn delete<K>(api: &Api<K>, name: &str) -> Result<bool, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(true),
        Err(e) if kit::error::is_not_found(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The owner's children of one kind in the api's namespace.
pub async fn list_ours<K>(api: &Api<K>, owner: &str) -> Result<Vec<K>, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let params = ListParams::default().labels(&format!("{VIRTUAL_CLUSTER_LABEL}={owner}"));
    Ok(api.list(&params).await?.items)
}

/// Removes the owner reference to `owner_uid`, so the garbage collector leaves the object when
/// the VirtualCluster goes (deletionPolicy Retain), and the operator's ownership labels, so that
/// nothing claims the object any more. `true` when something was written.
pub async fn orphan<K>(api: &Api<K>, obj: &K, owner_uid: &str) -> Result<bool, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let refs = obj.owner_references();
    let labelled = OWNERSHIP_LABELS
        .iter()
        .any(|l| obj.labels().contains_key(*l));
    if !labelled && !refs.iter().any(|r| r.uid == owner_uid) {
        return Ok(false);
    }
    let kept: Vec<_> = refs
        .iter()
        .filter(|r| r.uid != owner_uid)
        .cloned()
        .collect();
    // A merge patch removes a label given as null.
    let labels: serde_json::Map<String, serde_json::Value> = OWNERSHIP_LABELS
        .iter()
        .map(|l| ((*l).to_owned(), serde_json::Value::Null))
        .collect();
    // resourceVersion makes the write conditional: a concurrent edit of the list is retried.
    let patch = json!({
        "metadata": {
            "resourceVersion": obj.resource_version(),
            "ownerReferences": kept,
            "labels": labels,
        }
    });
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(true)
}

/// Applies `wanted`, or deletes the operator's object of that name when nothing is wanted.
/// `true` when the object is wanted.
pub async fn converge_child<K>(
    recon: &mut Reconciliation<'_>,
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
    let ns = recon.namespace().to_owned();
    let api: Api<K> = Api::namespaced(recon.client(), &ns);
    match wanted {
        Some(obj) => {
            let applied = apply(&api, &obj)
                .await
                .map_err(|source| Error::ApplyChild {
                    kind,
                    namespace: ns.clone(),
                    name: name.to_owned(),
                    source,
                })?;
            report(recon, kind, &ns, name, applied);
            Ok(true)
        }
        None => {
            let deleted = delete_if_ours(&api, name, &recon.owner.name)
                .await
                .map_err(|source| Error::DeleteChild {
                    kind,
                    namespace: ns.clone(),
                    name: name.to_owned(),
                    source,
                })?;
            if deleted {
                recon.changed(
                    &format!("{kind}Deleted"),
                    format!("deleted {kind} {ns}/{name}"),
                );
            }
            Ok(false)
        }
    }
}

/// Tells the user about a created or repaired child.
pub fn report(recon: &mut Reconciliation<'_>, kind: &str, ns: &str, name: &str, applied: Applied) {
    match applied {
        Applied::Created => recon.changed(
            &format!("{kind}Created"),
            format!("created {kind} {ns}/{name}"),
        ),
        Applied::Updated => recon.changed(
            &format!("{kind}Updated"),
            format!("restored {kind} {ns}/{name} to what the VirtualCluster asks for"),
        ),
        Applied::Unchanged => {}
    }
}

/// A namespaced kind the VirtualCluster may own in its namespace (Role, ServiceAccount, ...).
pub trait Child:
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
pub async fn list_children<K: Child>(
    recon: &Reconciliation<'_>,
    namespace: &str,
    kind: &'static str,
) -> Result<(Api<K>, Vec<K>), Error> {
    let api: Api<K> = Api::namespaced(recon.client(), namespace);
    let ours = list_ours(&api, &recon.owner.name)
        .await
        .map_err(|source| Error::ListChildren {
            kind,
            namespace: namespace.to_owned(),
            source,
        })?;
    Ok((api, ours))
}

pub async fn delete_children<K: Child>(
    recon: &mut Reconciliation<'_>,
    namespace: &str,
    kind: &'static str,
) -> Result<(), Error> {
    let (api, ours) = list_children::<K>(recon, namespace, kind).await?;
    for child in ours {
        let name = child.name_any();
        if delete(&api, &name)
            .await
            .map_err(|source| Error::DeleteChild {
                kind,
                namespace: namespace.to_owned(),
                name: name.clone(),
                source,
            })?
        {
            recon.changed(
                &format!("{kind}Deleted"),
                format!("deleted {kind} {namespace}/{name}"),
            );
        }
    }
    Ok(())
}

/// Lets go of the owner's children of kind `K` in `namespace` (see [`orphan`]).
pub async fn orphan_children<K: Child>(
    recon: &mut Reconciliation<'_>,
    namespace: &str,
    kind: &'static str,
) -> Result<(), Error> {
    let (api, ours) = list_children::<K>(recon, namespace, kind).await?;
    for child in ours {
        let name = child.name_any();
        orphan(&api, &child, &recon.owner.uid)
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
