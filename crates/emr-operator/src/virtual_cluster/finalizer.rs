//! The VirtualCluster's finalizer: added before the operator changes anything outside the
//! object, removed once deletion has undone what the policy says.

use emr_api::VirtualCluster;
use emr_api::labels::VIRTUAL_CLUSTER_FINALIZER;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::error::Error;

/// The list with the finalizer appended, or `None` when it is there.
pub fn with(finalizers: &[String]) -> Option<Vec<String>> {
    if finalizers.iter().any(|f| f == VIRTUAL_CLUSTER_FINALIZER) {
        return None;
    }
    let mut out = finalizers.to_vec();
    out.push(VIRTUAL_CLUSTER_FINALIZER.to_owned());
    Some(out)
}

/// The list without the finalizer, or `None` when it is not there.
pub fn without(finalizers: &[String]) -> Option<Vec<String>> {
    if !finalizers.iter().any(|f| f == VIRTUAL_CLUSTER_FINALIZER) {
        return None;
    }
    Some(
        finalizers
            .iter()
            .filter(|f| *f != VIRTUAL_CLUSTER_FINALIZER)
            .cloned()
            .collect(),
    )
}

pub async fn add(api: &Api<VirtualCluster>, vc: &VirtualCluster) -> Result<(), Error> {
    edit(api, vc, with)
        .await
        .map_err(|source| Error::AddFinalizer { source })
}

pub async fn remove(api: &Api<VirtualCluster>, vc: &VirtualCluster) -> Result<(), Error> {
    edit(api, vc, without)
        .await
        .map_err(|source| Error::RemoveFinalizer { source })
}

/// Writes the edited list, conditional on the version it was computed from so that another
/// controller's finalizer is never dropped. The cached object is often a version behind (the
/// operator's own status write), so a conflict is retried a few times on a fresh read.
async fn edit(
    api: &Api<VirtualCluster>,
    vc: &VirtualCluster,
    change: fn(&[String]) -> Option<Vec<String>>,
) -> Result<(), kube::Error> {
    const ATTEMPTS: usize = 3;
    let mut current = vc.clone();
    for attempt in 1..=ATTEMPTS {
        let Some(finalizers) = change(current.finalizers()) else {
            return Ok(());
        };
        let patch = json!({
            "metadata": {
                "resourceVersion": current.meta().resource_version,
                "finalizers": finalizers,
            }
        });
        match api
            .patch(
                &current.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if status.is_not_found() => return Ok(()),
            Err(kube::Error::Api(status)) if status.is_conflict() && attempt < ATTEMPTS => {
                match api.get_opt(&current.name_any()).await? {
                    Some(fresh) => current = fresh,
                    None => return Ok(()),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn adding_keeps_other_finalizers_and_is_idempotent() {
        let added = with(&list(&["other/one"])).unwrap();
        assert_eq!(added, list(&["other/one", VIRTUAL_CLUSTER_FINALIZER]));
        assert_eq!(with(&added), None);
    }

    #[test]
    fn removing_keeps_other_finalizers_and_is_idempotent() {
        let removed = without(&list(&["a", VIRTUAL_CLUSTER_FINALIZER, "b"])).unwrap();
        assert_eq!(removed, list(&["a", "b"]));
        assert_eq!(without(&removed), None);
    }
}
