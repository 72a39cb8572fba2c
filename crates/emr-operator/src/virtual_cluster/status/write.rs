//! The end of every reconcile: the status written through the kit's status writer (only if it
//! changed, only onto the version it was computed from) and the Events for what changed.

use emr_api::{VirtualCluster, VirtualClusterStatus};
use kube::ResourceExt;
use kube::api::Api;

use super::conditions;
use crate::Context;
use crate::kit::{self, Event, Precondition};
use crate::virtual_cluster::error::Error;
use crate::virtual_cluster::outcome::Outcome;
use crate::virtual_cluster::reconciliation::Reconciliation;

/// Writes the status if it changed and tells the user what changed. A write refused because the
/// copy was stale (409) or gone (404) is [`Error::StaleObject`], carrying what this pass recorded.
pub async fn finish(
    api: &Api<VirtualCluster>,
    mut recon: Reconciliation<'_>,
    ready: &Outcome,
) -> Result<(), Error> {
    let vc = recon.vc;
    recon.status.observed_generation = vc.metadata.generation;
    recon.status.message = Some(ready.message.clone());
    let old: VirtualClusterStatus = vc.status.clone().unwrap_or_default();
    let changed_conditions = conditions::events(&old.conditions, &recon.status.conditions);
    if vc.status.as_ref() != Some(&recon.status) {
        let precondition = Precondition::from_version(recon.version.as_deref());
        match kit::status::apply(api, vc, precondition, &recon.status).await {
            Ok(_) => {}
            Err(error) if error.is_stale() => {
                // What this pass changed did happen; the redone pass finds it in place.
                publish(recon.ctx, vc, recon.changes, Vec::new()).await;
                return Err(Error::StaleObject {
                    name: vc.name_any(),
                    refused: Some(Box::new(recon.status)),
                });
            }
            Err(error) => {
                return Err(Error::WriteStatus {
                    source: error.into_kube(),
                });
            }
        }
    }
    publish(recon.ctx, vc, recon.changes, changed_conditions).await;
    Ok(())
}

/// The changes made (Normal Events), then the Events of the conditions that changed.
pub async fn publish(
    ctx: &Context,
    vc: &VirtualCluster,
    changes: Vec<Event>,
    conditions: Vec<Event>,
) {
    ctx.events
        .publish_all(vc, changes.into_iter().chain(conditions))
        .await;
}
