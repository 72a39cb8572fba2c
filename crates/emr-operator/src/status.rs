//! Writing `status` (never `spec`) with server-side apply, as the operator's field manager.
//!
//! Apply, rather than a merge patch, removes fields this manager set before and omits now (an old
//! attempt's failureReason, say), and never touches fields other managers own.
//!
//! The write carries the resourceVersion the status was computed from: a status built on a stale
//! copy (the watch cache lags behind the operator's own writes) is refused with 409 instead of
//! overwriting what a newer pass recorded.

use kube::api::{Api, Patch, PatchParams};
use kube::core::NamespaceResourceScope;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The field manager name the operator writes with.
pub const FIELD_MANAGER: &str = "emr-on-eks-operator";

/// Applies `status` to `obj`'s status subresource, only if the object is still at
/// `resource_version` (409 otherwise).
pub async fn apply<K, S>(
    api: &Api<K>,
    obj: &K,
    resource_version: Option<&str>,
    status: &S,
) -> Result<K, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let mut metadata = serde_json::json!({ "name": obj.name_any() });
    if let Some(version) = resource_version {
        metadata["resourceVersion"] = serde_json::json!(version);
    }
    let body = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": metadata,
        "status": status,
    });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
}

/// An `Api` for a namespaced kind in the object's namespace.
pub fn namespaced_api<K>(client: &kube::Client, obj: &K) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
{
    Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default())
}
