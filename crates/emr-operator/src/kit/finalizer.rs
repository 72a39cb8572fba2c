//! The controller's finalizer on an object: added before the operator changes anything outside
//! the object, removed once deletion has undone what it must. Another controller's finalizer is
//! never dropped: the new list is computed from one version of the object and written only onto
//! that version.
//!
//! kube-runtime's `finalizer` guards its JSON patch with a `test` of the list alone. Here the
//! whole object's resourceVersion is the guard, which is stricter on purpose: a finalizer write
//! on a stale copy fails with 409 instead of succeeding and handing back a fresh version that a
//! status computed from the stale copy would then be written onto.

use std::fmt::Debug;

use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::status::WriteError;

/// One controller's finalizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finalizer(pub &'static str);

impl Finalizer {
    /// Whether `obj` carries it.
    pub fn is_on<K: Resource>(self, obj: &K) -> bool {
        obj.meta()
            .finalizers
            .as_ref()
            .is_some_and(|list| list.iter().any(|f| f == self.0))
    }

    /// Adds it onto exactly `obj`'s version. `None` when it was there; a 409 or 404 comes back as
    /// a stale [`WriteError`].
    pub async fn add<K>(self, api: &Api<K>, obj: &K) -> Result<Option<K>, WriteError>
    where
        K: Resource + Clone + Debug + Serialize + DeserializeOwned,
    {
        let Some(list) = with(obj.finalizers(), self.0) else {
            return Ok(None);
        };
        write(api, obj, list)
            .await
            .map(Some)
            .map_err(WriteError::from_kube)
    }

    /// Removes it from exactly `obj`'s version. `None` when it was not there.
    pub async fn remove<K>(self, api: &Api<K>, obj: &K) -> Result<Option<K>, WriteError>
    where
        K: Resource + Clone + Debug + Serialize + DeserializeOwned,
    {
        let Some(list) = without(obj.finalizers(), self.0) else {
            return Ok(None);
        };
        write(api, obj, list)
            .await
            .map(Some)
            .map_err(WriteError::from_kube)
    }

    /// Removes it, reading the object afresh after a conflict, up to `attempts` writes: for a
    /// deletion that is finished whatever the newer version says. An object already gone counts
    /// as released.
    pub async fn remove_reading_afresh<K>(
        self,
        api: &Api<K>,
        obj: &K,
        attempts: usize,
    ) -> Result<(), kube::Error>
    where
        K: Resource + Clone + Debug + Serialize + DeserializeOwned,
    {
        let mut current = obj.clone();
        for attempt in 1..=attempts.max(1) {
            match self.remove(api, &current).await {
                Ok(_) | Err(WriteError::Gone(_)) => return Ok(()),
                Err(WriteError::Conflict(_)) if attempt < attempts => {
                    match api.get_opt(&current.name_any()).await? {
                        Some(fresh) => current = fresh,
                        None => return Ok(()),
                    }
                }
                Err(error) => return Err(error.into_kube()),
            }
        }
        Ok(())
    }
}

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
/// the list was computed from a stale copy. Returns the updated object. The low-level half of
/// [`Finalizer::add`] and [`Finalizer::remove`].
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

    #[tokio::test]
    async fn removal_reads_afresh_after_a_conflict_and_keeps_other_finalizers() {
        use k8s_openapi::api::core::v1::ConfigMap;

        use crate::kit::testing::{MockApiServer, written};

        let (client, mut server) = MockApiServer::start();
        let api: Api<ConfigMap> = Api::namespaced(client, "ns");
        let cached = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "ns", "resourceVersion": "1",
                         "finalizers": [OURS]},
        });
        let object: ConfigMap = serde_json::from_value(cached.clone()).unwrap();
        let removing = tokio::spawn(async move {
            Finalizer(OURS)
                .remove_reading_afresh(&api, &object, 3)
                .await
        });
        let first = server.expect("PATCH", "/configmaps/c").await;
        assert_eq!(first.body["metadata"]["resourceVersion"], "1");
        assert_eq!(first.body["metadata"]["finalizers"], json!([]));
        first.fail(409, "Conflict");
        // Meanwhile another controller added its finalizer: the fresh read brings it.
        let fresh = written(
            &cached,
            &json!({"metadata": {"finalizers": ["other/one", OURS]}}),
        );
        server.expect("GET", "/configmaps/c").await.ok(&fresh);
        let second = server.expect("PATCH", "/configmaps/c").await;
        assert_eq!(second.body["metadata"]["resourceVersion"], "2");
        assert_eq!(second.body["metadata"]["finalizers"], json!(["other/one"]));
        let released = written(&fresh, &second.body);
        second.ok(&released);
        removing.await.unwrap().unwrap();
    }
}
