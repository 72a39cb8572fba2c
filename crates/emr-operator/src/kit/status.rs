//! Writing `status` (never `spec`), as the operator's field manager, only onto the version of
//! the object the status was computed from.
//!
//! The watch cache lags behind the operator's own writes, so a status built on a stale copy
//! must be refused (409) rather than overwrite what a newer pass recorded: every write names its
//! [`Precondition`], and a refusal comes back as [`WriteError::Conflict`] or
//! [`WriteError::Gone`], which callers answer by reading afresh and deciding again.
//!
//! [`apply`] (server-side apply) removes fields this manager set before and omits now (an old
//! attempt's failureReason, say) and never touches fields other managers own; [`replace`] (a
//! merge patch) also removes fields another manager set, for a status that must not keep
//! anything forged.

use kube::api::{Api, Patch, PatchParams};
use kube::core::NamespaceResourceScope;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::error;

/// The field manager name the operator writes with.
pub const FIELD_MANAGER: &str = "emr-on-eks-operator";

/// Which version of the object a write may land on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition<'a> {
    /// Only this resourceVersion (409 otherwise).
    ResourceVersion(&'a str),
    /// Whatever version is current: only for a copy that carries no resourceVersion.
    Unconditional,
}

impl<'a> Precondition<'a> {
    /// The version `obj` was read at.
    pub fn of<K: Resource>(obj: &'a K) -> Self {
        Self::from_version(obj.meta().resource_version.as_deref())
    }

    /// `version`, or no condition when there is none.
    pub fn from_version(version: Option<&'a str>) -> Self {
        version.map_or(Self::Unconditional, Self::ResourceVersion)
    }

    fn version(self) -> Option<&'a str> {
        match self {
            Self::ResourceVersion(version) => Some(version),
            Self::Unconditional => None,
        }
    }
}

/// Why a write of status or finalizers did not land.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// 409: the object changed since the copy the write was computed from.
    #[error("the object changed since it was read: {0}")]
    Conflict(#[source] kube::Error),
    /// 404: the object is gone.
    #[error("the object is gone: {0}")]
    Gone(#[source] kube::Error),
    /// Anything else (the apiserver refused or could not answer).
    #[error(transparent)]
    Failed(kube::Error),
}

impl WriteError {
    /// Sorts a client error into the three cases.
    pub fn from_kube(error: kube::Error) -> Self {
        if error::is_conflict(&error) {
            Self::Conflict(error)
        } else if error::is_not_found(&error) {
            Self::Gone(error)
        } else {
            Self::Failed(error)
        }
    }

    /// The write was computed from a copy that is no longer current: read afresh, decide again.
    pub fn is_stale(&self) -> bool {
        matches!(self, Self::Conflict(_) | Self::Gone(_))
    }

    /// The client error underneath.
    pub fn into_kube(self) -> kube::Error {
        match self {
            Self::Conflict(e) | Self::Gone(e) | Self::Failed(e) => e,
        }
    }
}

/// Applies `status` to `obj`'s status subresource with forced server-side apply, onto the
/// version `precondition` names. Returns the object as written.
pub async fn apply<K, S>(
    api: &Api<K>,
    obj: &K,
    precondition: Precondition<'_>,
    status: &S,
) -> Result<K, WriteError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let mut metadata = json!({ "name": obj.name_any() });
    if let Some(version) = precondition.version() {
        metadata["resourceVersion"] = json!(version);
    }
    let body = json!({
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
    .map_err(WriteError::from_kube)
}

/// Turns status `old` into `new` with a merge patch onto the version `precondition` names:
/// every top-level field `old` has and `new` lacks is removed, whoever set it (server-side
/// apply would keep a field another manager owns). Returns the object as written.
pub async fn replace<K, S>(
    api: &Api<K>,
    obj: &K,
    precondition: Precondition<'_>,
    old: &S,
    new: &S,
) -> Result<K, WriteError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let mut body = json!({ "status": replacing(&json!(old), &json!(new)) });
    if let Some(version) = precondition.version() {
        body["metadata"] = json!({ "resourceVersion": version });
    }
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    api.patch_status(&obj.name_any(), &params, &Patch::Merge(&body))
        .await
        .map_err(WriteError::from_kube)
}

/// A merge patch turning `old` into `new`: `new`, with every field `old` has and `new` lacks set
/// to null (removed).
fn replacing(old: &Value, new: &Value) -> Value {
    let mut patch = new.clone();
    if let (Some(old), Some(fields)) = (old.as_object(), patch.as_object_mut()) {
        for key in old.keys() {
            fields.entry(key.clone()).or_insert(Value::Null);
        }
    }
    patch
}

/// An `Api` for a namespaced kind in the object's namespace.
pub fn namespaced_api<K>(client: &kube::Client, obj: &K) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
{
    Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replacing_patch_removes_what_the_new_status_leaves_out() {
        let old = json!({"jobRunId": "theirs", "virtualClusterId": "a", "attempt": 1});
        let new = json!({"virtualClusterId": "b", "attempt": 1});
        assert_eq!(
            replacing(&old, &new),
            json!({"jobRunId": null, "virtualClusterId": "b", "attempt": 1})
        );
    }

    #[test]
    fn refusals_are_sorted_by_code() {
        let api = |code| {
            kube::Error::Api(Box::new(kube::core::Status {
                code,
                ..Default::default()
            }))
        };
        assert!(matches!(
            WriteError::from_kube(api(409)),
            WriteError::Conflict(_)
        ));
        assert!(matches!(
            WriteError::from_kube(api(404)),
            WriteError::Gone(_)
        ));
        let forbidden = WriteError::from_kube(api(403));
        assert!(!forbidden.is_stale());
        assert!(matches!(forbidden, WriteError::Failed(_)));
    }

    #[test]
    fn a_copy_without_a_version_writes_unconditionally() {
        assert_eq!(
            Precondition::from_version(None),
            Precondition::Unconditional
        );
        assert_eq!(
            Precondition::from_version(Some("7")),
            Precondition::ResourceVersion("7")
        );
    }
}
