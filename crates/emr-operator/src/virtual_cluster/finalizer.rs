//! The VirtualCluster's finalizer: added before the operator changes anything outside the
//! object, removed once deletion has undone what the policy says.

use emr_api::VirtualCluster;
use emr_api::labels::VIRTUAL_CLUSTER_FINALIZER;
use kube::ResourceExt;
use kube::api::Api;

use super::error::Error;
use crate::kit::finalizer;

/// Adds the finalizer onto exactly this version of the object and returns the version written
/// (`None` when it was there). A conflict means the pass works on a stale copy: it is reported as
/// [`Error::StaleObject`] so the pass is redone on a fresh read, as a status computed from the
/// stale copy must not be written onto the newer version.
pub async fn add(
    api: &Api<VirtualCluster>,
    vc: &VirtualCluster,
) -> Result<Option<VirtualCluster>, Error> {
    let Some(finalizers) = finalizer::with(vc.finalizers(), VIRTUAL_CLUSTER_FINALIZER) else {
        return Ok(None);
    };
    match finalizer::write(api, vc, finalizers).await {
        Ok(updated) => Ok(Some(updated)),
        Err(kube::Error::Api(status)) if status.is_conflict() || status.is_not_found() => {
            Err(Error::StaleObject {
                name: vc.name_any(),
                refused: None,
            })
        }
        Err(source) => Err(Error::AddFinalizer { source }),
    }
}

pub async fn remove(api: &Api<VirtualCluster>, vc: &VirtualCluster) -> Result<(), Error> {
    edit(api, vc, finalizer::without)
        .await
        .map_err(|source| Error::RemoveFinalizer { source })
}

/// Writes the edited list. The cached object is often a version behind (the operator's own
/// status write), so a conflict is retried a few times on a fresh read.
async fn edit(
    api: &Api<VirtualCluster>,
    vc: &VirtualCluster,
    change: fn(&[String], &str) -> Option<Vec<String>>,
) -> Result<(), kube::Error> {
    const ATTEMPTS: usize = 3;
    let mut current = vc.clone();
    for attempt in 1..=ATTEMPTS {
        let Some(finalizers) = change(current.finalizers(), VIRTUAL_CLUSTER_FINALIZER) else {
            return Ok(());
        };
        match finalizer::write(api, &current, finalizers).await {
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
