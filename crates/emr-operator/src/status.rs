//! Writing `status` (never `spec`) with server-side apply, as the operator's field manager.
//!
//! Apply, rather than a merge patch, removes fields this manager set before and omits now (an old
//! attempt's failureReason, say), and never touches fields other managers own.

use kube::api::{Api, Patch, PatchParams};
use kube::core::NamespaceResourceScope;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The field manager name the operator writes with.
pub const FIELD_MANAGER: &str = "emr-on-eks-operator";

/// Applies `status` to `obj`'s status subresource.
pub async fn apply<K, S>(api: &Api<K>, obj: &K, status: &S) -> Result<K, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let body = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
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
