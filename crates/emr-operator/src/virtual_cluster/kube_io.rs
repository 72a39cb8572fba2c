//! Writing the operator's children: apply only what differs, delete only what is ours, and let
//! go of children on `Retain`.

use std::fmt::Debug;

use emr_api::labels::{MANAGED_BY_LABEL, VIRTUAL_CLUSTER_LABEL};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::subset;
use crate::kit::status::FIELD_MANAGER;

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
        && subset::contains(&actual, &wanted)
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
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(false),
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
