//! Step 5: the EMR virtual cluster: found again by its id, adopted when one already serves the
//! namespace, created (idempotently) otherwise, and its state mirrored.

use emr_aws::{VirtualClusterInfo, VirtualClusterState};

use super::emr_cluster::{self, Verdict};
use super::error::aws_outcome;
use super::outcome::Outcome;
use super::pass::Pass;

pub async fn converge(pass: &mut Pass<'_>) -> Outcome {
    let eks = pass.vc.spec.eks_cluster_name.clone();
    let namespace = pass.namespace().to_owned();
    let emr = pass.ctx.aws.emr.clone();

    if let Some(id) = pass.status.virtual_cluster_id.clone() {
        match emr.describe_virtual_cluster(&id).await {
            Ok(info) => match emr_cluster::judge(&info, &eks, &namespace) {
                Verdict::Keep(outcome) => {
                    mirror(pass, &info);
                    return outcome;
                }
                Verdict::Replace => {
                    pass.changed(
                        "VirtualClusterTerminated",
                        format!("EMR virtual cluster {id} was terminated outside the operator; creating a new one"),
                    );
                    forget(pass);
                }
            },
            Err(e) if e.is_not_found() => {
                pass.changed(
                    "VirtualClusterGone",
                    format!("EMR virtual cluster {id} no longer exists; creating a new one"),
                );
                forget(pass);
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
        Ok(list) => emr_cluster::holding_namespace(&list, &namespace).cloned(),
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
        pass.changed(
            "VirtualClusterAdopted",
            format!(
                "adopted EMR virtual cluster {} ({}), which already served namespace {namespace}",
                info.id, info.state
            ),
        );
        mirror(pass, &info);
        return emr_cluster::state_outcome(&info);
    }

    let request = emr_cluster::create_request(
        pass.vc,
        &pass.owner.uid,
        pass.status.virtual_cluster_creations,
    );
    let created = match emr.create_virtual_cluster(&request).await {
        Ok(created) => created,
        Err(e) => return aws_outcome(&e),
    };
    pass.status.virtual_cluster_creations = pass.status.virtual_cluster_creations.saturating_add(1);
    pass.status.virtual_cluster_id = Some(created.id.clone());
    pass.status.arn = created.arn.clone();
    match emr.describe_virtual_cluster(&created.id).await {
        Ok(info) if info.state == VirtualClusterState::Terminated => {
            // The token had been used before (a crash between create and status write, long
            // ago): EMR handed back a dead one. The next token is new.
            forget(pass);
            Outcome::waiting(
                "Recreating",
                format!(
                    "EMR returned terminated virtual cluster {} for an old token; creating a new one",
                    info.id
                ),
            )
        }
        Ok(info) => {
            pass.changed(
                "VirtualClusterCreated",
                format!(
                    "created EMR virtual cluster {} for namespace {namespace} of EKS cluster {eks}",
                    info.id
                ),
            );
            mirror(pass, &info);
            emr_cluster::state_outcome(&info)
        }
        Err(e) => {
            pass.changed(
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

fn mirror(pass: &mut Pass<'_>, info: &VirtualClusterInfo) {
    pass.status.virtual_cluster_id = Some(info.id.clone());
    if info.arn.is_some() {
        pass.status.arn = info.arn.clone();
    }
    pass.status.state = Some(info.state.as_str().to_owned());
}

fn forget(pass: &mut Pass<'_>) {
    pass.status.virtual_cluster_id = None;
    pass.status.arn = None;
    pass.status.state = None;
}
