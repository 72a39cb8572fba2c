//! Step 5: the EMR virtual cluster: found again by its id, adopted when one already serves the
//! namespace, created (idempotently) otherwise, and its state mirrored.

use emr_aws::{VirtualClusterInfo, VirtualClusterState};

use super::plan::{self, KeepOrReplace};
use super::security;
use crate::virtual_cluster::error::aws_outcome;
use crate::virtual_cluster::outcome::Outcome;
use crate::virtual_cluster::reconciliation::Reconciliation;

pub async fn converge(recon: &mut Reconciliation<'_>) -> Outcome {
    let eks = recon.vc.spec.eks_cluster_name.clone();
    let namespace = recon.namespace().to_owned();
    let emr = recon.ctx.aws.emr.clone();

    if let Some(id) = recon.status.virtual_cluster_id.clone() {
        match emr.describe_virtual_cluster(&id).await {
            Ok(info) => match plan::keep_or_replace(&info, &eks, &namespace) {
                KeepOrReplace::Keep(outcome) => {
                    mirror(recon, &info);
                    let actual = info.security_configuration_id.as_deref();
                    return security::change_report(recon, actual, outcome).await;
                }
                KeepOrReplace::Replace => {
                    recon.changed(
                        "VirtualClusterTerminated",
                        format!("EMR virtual cluster {id} was terminated outside the operator; creating a new one"),
                    );
                    forget(recon);
                }
            },
            Err(e) if e.is_not_found() => {
                recon.changed(
                    "VirtualClusterGone",
                    format!("EMR virtual cluster {id} no longer exists; creating a new one"),
                );
                forget(recon);
            }
            Err(e) => return aws_outcome(&e),
        }
    }

    let holding = [
        VirtualClusterState::Running,
        VirtualClusterState::Arrested,
        VirtualClusterState::Terminating,
    ];
    let existing = match emr.list_virtual_clusters(&eks, &holding).await {
        Ok(list) => plan::holding_namespace(&list, &namespace).cloned(),
        Err(e) => return aws_outcome(&e),
    };
    if let Some(info) = existing {
        if info.state == VirtualClusterState::Terminating {
            return Outcome::waiting(
                "PreviousVirtualClusterTerminating",
                format!(
                    "EMR virtual cluster {} still holds namespace {namespace} while it terminates; a new one is created afterwards",
                    info.id
                ),
            );
        }
        recon.changed(
            "VirtualClusterAdopted",
            format!(
                "adopted EMR virtual cluster {} ({}), which already served namespace {namespace}",
                info.id, info.state
            ),
        );
        mirror(recon, &info);
        return plan::state_outcome(&info);
    }

    let mut request = plan::create_request(
        recon.vc,
        &recon.owner.uid,
        recon.status.virtual_cluster_creations,
    );
    request.security_configuration_id = match security::resolve(recon).await {
        Ok(id) => id,
        Err(outcome) => return outcome,
    };
    let created = match emr.create_virtual_cluster(&request).await {
        Ok(created) => created,
        Err(e) => return aws_outcome(&e),
    };
    recon.status.virtual_cluster_creations =
        recon.status.virtual_cluster_creations.saturating_add(1);
    recon.status.virtual_cluster_id = Some(created.id.clone());
    recon.status.arn = created.arn.clone();
    recon.status.security_configuration_id = request.security_configuration_id.clone();
    match emr.describe_virtual_cluster(&created.id).await {
        Ok(info) if info.state == VirtualClusterState::Terminated => {
            // The token had been used before (a crash between create and status write, long
            // ago): EMR handed back a dead one. The next token is new.
            forget(recon);
            Outcome::waiting(
                "Recreating",
                format!(
                    "EMR returned terminated virtual cluster {} for an old token; creating a new one",
                    info.id
                ),
            )
        }
        Ok(info) => {
            recon.changed(
                "VirtualClusterCreated",
                format!(
                    "created EMR virtual cluster {} for namespace {namespace} of EKS cluster {eks}",
                    info.id
                ),
            );
            mirror(recon, &info);
            plan::state_outcome(&info)
        }
        Err(e) => {
            recon.changed(
                "VirtualClusterCreated",
                format!(
                    "created EMR virtual cluster {} for namespace {namespace} of EKS cluster {eks}",
                    created.id
                ),
            );
            aws_outcome(&e)
        }
    }
}

fn mirror(recon: &mut Reconciliation<'_>, info: &VirtualClusterInfo) {
    recon.status.virtual_cluster_id = Some(info.id.clone());
    if info.arn.is_some() {
        recon.status.arn = info.arn.clone();
    }
    recon.status.state = Some(info.state.as_str().to_owned());
    if info.security_configuration_id.is_some() {
        recon.status.security_configuration_id = info.security_configuration_id.clone();
    }
}

fn forget(recon: &mut Reconciliation<'_>) {
    recon.status.virtual_cluster_id = None;
    recon.status.arn = None;
    recon.status.state = None;
    recon.status.security_configuration_id = None;
}
