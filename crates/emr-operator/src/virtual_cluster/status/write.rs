//! The end of every reconcile: the status written (only if it changed, only onto the version it
//! was computed from) and the Events for what changed.

use emr_api::{VirtualCluster, VirtualClusterStatus};
use kube::ResourceExt;
use kube::api::Api;

use super::conditions::{self, Notice};
use crate::Context;
use crate::virtual_cluster::error::Error;
use crate::virtual_cluster::outcome::Outcome;
use crate::virtual_cluster::reconciliation::{Change, Reconciliation};

/// Writes the status if it changed and tells the user what changed.
pub async fn finish(
    api: &Api<VirtualCluster>,
    mut recon: Reconciliation<'_>,
    ready: &Outcome,
) -> Result<(), Error> {
    let vc = recon.vc;
    recon.status.observed_generation = vc.metadata.generation;
    recon.status.message = Some(ready.message.clone());
    let old: VirtualClusterStatus = vc.status.clone().unwrap_or_default();
    let notices = conditions::notices(&old.conditions, &recon.status.conditions);
    if vc.status.as_ref() != Some(&recon.status) {
        match crate::status::apply(api, vc, recon.version.as_deref(), &recon.status).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.is_conflict() || status.is_not_found() => {
                // What this pass changed did happen; the redone pass finds it in place.
                publish(recon.ctx, vc, &recon.changes, &[]).await;
                return Err(Error::StaleObject {
                    name: vc.name_any(),
                    refused: Some(Box::new(recon.status)),
                });
            }
            Err(source) => return Err(Error::WriteStatus { source }),
        }
    }
    publish(recon.ctx, vc, &recon.changes, &notices).await;
    Ok(())
}

pub async fn publish(ctx: &Context, vc: &VirtualCluster, changes: &[Change], notices: &[Notice]) {
    for change in changes {
        ctx.events
            .normal(vc, &change.reason, "Reconcile", change.note.clone())
            .await;
    }
    for notice in notices {
        if notice.warning {
            ctx.events
                .warning(vc, &notice.reason, "Reconcile", notice.note.clone())
                .await;
        } else {
            ctx.events
                .normal(vc, &notice.reason, "Reconcile", notice.note.clone())
                .await;
        }
    }
}
