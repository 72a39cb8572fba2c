//! Editing an object's finalizer list without ever dropping another controller's finalizer: the
//! new list is computed from one version of the object and written only onto that version.

use std::fmt::Debug;

use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

/// The list with `ours` appended, or `None` when it is there.
pub fn with(finalizers: &[String], ours: &str) -> Option<Vec<String>> {
    if finalizers.iter().any(|f| f == ours) {
        return None;
    }
    let mut out = finalizers.to_vec();
    out.push(ours.to_owned());
    Some(out)
}

/// The list without `ours`, or `None` when it is not there.
pub fn without(finalizers: &[String], ours: &str) -> Option<Vec<String>> {
    if !finalizers.iter().any(|f| f == ours) {
        return None;
    }
    Some(finalizers.iter().filter(|f| *f != ours).cloned().collect())
}

/// Writes `finalizers` onto `object`, conditional on its resourceVersion: a conflict (409) means
/// the list was computed from a stale copy. Returns the updated object.
pub async fn write<K>(api: &Api<K>, object: &K, finalizers: Vec<String>) -> Result<K, kube::Error>
where
    K: Resource + Clone + Debug + Serialize + DeserializeOwned,
{
    let patch = json!({
        "metadata": {
            "resourceVersion": object.meta().resource_version,
            "finalizers": finalizers,
        }
    });
    api.patch(
        &object.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const OURS: &str = "emr-on-eks.dev/test";

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn adding_keeps_other_finalizers_and_is_idempotent() {
        let added = with(&list(&["other/one"]), OURS).unwrap();
        assert_eq!(added, list(&["other/one", OURS]));
        assert_eq!(with(&added, OURS), None);
    }

    #[test]
    fn removing_keeps_other_finalizers_and_is_idempotent() {
        let removed = without(&list(&["a", OURS, "b"]), OURS).unwrap();
        assert_eq!(removed, list(&["a", "b"]));
        assert_eq!(without(&removed, OURS), None);
    }
}
