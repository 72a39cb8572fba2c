//! The VirtualCluster's finalizer: added before the operator changes anything outside the
//! object, removed once deletion has undone what the policy says.

use emr_api::VirtualCluster;
use emr_api::labels::VIRTUAL_CLUSTER_FINALIZER;
use kube::ResourceExt;
use kube::api::Api;

use super::error::Error;
use crate::finalizer;

pub async fn add(api: &Api<VirtualCluster>, vc: &VirtualCluster) -> Result<(), Error> {
    edit(api, vc, finalizer::with)
        .await
        .map_err(|source| Error::AddFinalizer { source })
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
