//! Step 6, effects: DescribeFargateProfile every pass; CreateFargateProfile or
//! DeleteFargateProfile only while holding the cluster's slot; requeues (never sleeps) until the
//! profile is ACTIVE or gone.

use std::time::Instant;

use emr_api::VirtualCluster;
use emr_api::virtual_cluster::{FargateProfileStatus, ManagedFargateProfile};
use emr_aws::{AwsError, CreateFargateProfileRequest, FargateProfileInfo, FargateProfileState};
use kube::api::Api;

use super::plan::{self, Next};
use super::slots::{ClusterSlots, Holder};
use crate::virtual_cluster::error::{Error, aws_outcome};
use crate::virtual_cluster::outcome::Outcome;
use crate::virtual_cluster::reconciliation::Reconciliation;

/// Converges the profile; `None` when `spec.fargate` is not set and no profile of the
/// operator's is left to remove (then there is no `FargateProfileReady` condition).
pub async fn converge(recon: &mut Reconciliation<'_>, slots: &ClusterSlots) -> Option<Outcome> {
    let wanted = plan::wanted(recon.vc, &recon.owner.uid);
    if let Some(recorded) = recon.status.managed.fargate_profile.clone() {
        let still_wanted = wanted.as_ref().is_some_and(|w| {
            w.profile_name == recorded.name && w.cluster_name == recorded.eks_cluster_name
        });
        if !still_wanted {
            // Renamed, moved or no longer asked for: the old one goes first (EKS would refuse
            // a create while it is DELETING anyway).
            match release(recon, slots, &recorded.eks_cluster_name, &recorded.name).await {
                Ok(Released::Gone) => {
                    recon.status.managed.fargate_profile = None;
                    recon.status.fargate_profile = None;
                }
                Ok(Released::Waiting(outcome)) | Err(outcome) => return Some(outcome),
            }
        }
    }
    let wanted = wanted?;
    Some(match converge_wanted(recon, slots, &wanted).await {
        Ok(outcome) | Err(outcome) => outcome,
    })
}

async fn converge_wanted(
    recon: &mut Reconciliation<'_>,
    slots: &ClusterSlots,
    wanted: &CreateFargateProfileRequest,
) -> Result<Outcome, Outcome> {
    let eks = recon.ctx.aws.eks.clone();
    let (cluster, name, uid) = (
        wanted.cluster_name.as_str(),
        wanted.profile_name.as_str(),
        recon.owner.uid.clone(),
    );
    let found = eks
        .describe_fargate_profile(cluster, name)
        .await
        .map_err(|e| aws_outcome(&e))?;
    let Some(info) = found else {
        claim(slots, cluster, &uid, name)?;
        return match eks.create_fargate_profile(wanted).await {
            Ok(info) => {
                record(recon, wanted, true);
                mirror(recon, &info);
                recon.changed(
                    "FargateProfileCreated",
                    format!(
                        "creating Fargate profile {name} in EKS cluster {cluster} for namespace {}",
                        recon.namespace()
                    ),
                );
                Ok(creating(name))
            }
            Err(e) => {
                slots.with(|s| s.release(cluster, &uid));
                Err(busy_or_failed(&e))
            }
        };
    };
    mirror(recon, &info);
    let next = match plan::next(&info, wanted, &uid) {
        Next::Refuse { reason, .. }
            if reason == plan::OWNED_BY_ANOTHER && owner_gone(recon, &info).await? =>
        {
            plan::next_unowned(&info, wanted)
        }
        next => next,
    };
    match next {
        Next::Ready => {
            slots.with(|s| s.release(cluster, &uid));
            record(recon, wanted, true);
            Ok(Outcome::ready(
                "Active",
                format!("Fargate profile {name} of EKS cluster {cluster} is ACTIVE"),
            ))
        }
        Next::Use => {
            if recon.status.managed.fargate_profile.is_none() {
                recon.changed(
                    "FargateProfileAdopted",
                    format!("using Fargate profile {name}, which exists as asked for; it was not made by the operator and is never deleted by it"),
                );
            }
            record(recon, wanted, false);
            Ok(Outcome::ready(
                "Adopted",
                format!(
                    "Fargate profile {name} of EKS cluster {cluster} is ACTIVE (found, not created by the operator, so never deleted by it)"
                ),
            ))
        }
        Next::Wait => {
            slots.with(|s| s.hold(cluster, &uid, name, Instant::now()));
            record(recon, wanted, true);
            Ok(match info.state {
                FargateProfileState::Deleting => Outcome::waiting(
                    "WaitingForProfileDeleted",
                    format!(
                        "Fargate profile {name} is DELETING; it is created again as spec.fargate asks once it is gone"
                    ),
                ),
                _ => creating(name),
            })
        }
        Next::Replace { why } => {
            claim(slots, cluster, &uid, name)?;
            match eks.delete_fargate_profile(cluster, name).await {
                Ok(_) => {
                    recon.changed(
                        "FargateProfileReplacing",
                        format!("deleting Fargate profile {name} to create it again: {why}"),
                    );
                    let message = format!(
                        "replacing Fargate profile {name} (EKS cannot change a profile): {why}"
                    );
                    Ok(if info.state == FargateProfileState::CreateFailed {
                        Outcome::failed("CreateFailed", message)
                    } else {
                        Outcome::waiting("WaitingForProfileDeleted", message)
                    })
                }
                Err(e) => {
                    slots.with(|s| s.release(cluster, &uid));
                    Err(busy_or_failed(&e))
                }
            }
        }
        Next::Stuck { why } => {
            slots.with(|s| s.release(cluster, &uid));
            Ok(Outcome::failed(
                "FargateProfileStuck",
                format!("Fargate profile {name}: {why}"),
            ))
        }
        Next::Refuse { reason, why } => Ok(Outcome::failed(
            reason,
            format!(
                "Fargate profile {name} of EKS cluster {cluster} exists but is not used: {why}"
            ),
        )),
    }
}

/// Whether the VirtualCluster a profile's tags name is gone (deleted with `Retain`, which leaves
/// the profile): its profile is then treated as one found, used if identical, never deleted.
async fn owner_gone(
    recon: &Reconciliation<'_>,
    info: &FargateProfileInfo,
) -> Result<bool, Outcome> {
    let Some((name, uid)) = plan::tagged_owner(info) else {
        return Ok(false);
    };
    let api: Api<VirtualCluster> = Api::all(recon.client());
    let found = api.get_opt(name).await.map_err(|source| {
        Error::GetVirtualCluster {
            name: name.to_owned(),
            source,
        }
        .outcome()
    })?;
    Ok(found.is_none_or(|vc| vc.metadata.uid.as_deref() != Some(uid)))
}

/// Where removing a profile stands.
pub enum Released {
    Gone,
    Waiting(Outcome),
}

/// Deletes the profile if EKS shows it as this object's and waits until it is gone. A profile
/// without this object's uid tag is let go (forgotten), never deleted.
async fn release(
    recon: &mut Reconciliation<'_>,
    slots: &ClusterSlots,
    cluster: &str,
    name: &str,
) -> Result<Released, Outcome> {
    let eks = recon.ctx.aws.eks.clone();
    let uid = recon.owner.uid.clone();
    let found = eks
        .describe_fargate_profile(cluster, name)
        .await
        .map_err(|e| aws_outcome(&e))?;
    let Some(info) = found else {
        slots.with(|s| s.release(cluster, &uid));
        return Ok(Released::Gone);
    };
    if !plan::is_ours(&info, &uid) {
        recon.changed(
            "FargateProfileLeft",
            format!("left Fargate profile {name} of EKS cluster {cluster} in place: EKS does not show it tagged as this VirtualCluster's"),
        );
        return Ok(Released::Gone);
    }
    mirror(recon, &info);
    let waiting = || {
        Released::Waiting(Outcome::waiting(
            "WaitingForProfileDeleted",
            format!("Fargate profile {name} of EKS cluster {cluster} is being deleted"),
        ))
    };
    match info.state {
        FargateProfileState::Deleting => {
            slots.with(|s| s.hold(cluster, &uid, name, Instant::now()));
            return Ok(waiting());
        }
        // EKS refuses to delete a profile while it is being created.
        FargateProfileState::Creating => {
            slots.with(|s| s.hold(cluster, &uid, name, Instant::now()));
            return Ok(Released::Waiting(Outcome::waiting(
                "WaitingForProfileActive",
                format!("Fargate profile {name} is CREATING; it is deleted once EKS has made it"),
            )));
        }
        _ => {}
    }
    claim(slots, cluster, &uid, name)?;
    match eks.delete_fargate_profile(cluster, name).await {
        Ok(true) => {
            recon.changed(
                "FargateProfileDeleted",
                format!("deleting Fargate profile {name} of EKS cluster {cluster}"),
            );
            Ok(waiting())
        }
        Ok(false) => {
            slots.with(|s| s.release(cluster, &uid));
            Ok(Released::Gone)
        }
        Err(e) => {
            slots.with(|s| s.release(cluster, &uid));
            Err(busy_or_failed(&e))
        }
    }
}

/// Deletion: removes the recorded profile and, when it is another, the one the spec names (a
/// pass that created it may have stopped before recording it), each only if EKS shows it as
/// this object's. `Ok(())` once both are gone.
pub async fn release_all(
    recon: &mut Reconciliation<'_>,
    slots: &ClusterSlots,
) -> Result<(), Outcome> {
    let mut candidates: Vec<(String, String)> = Vec::new();
    if let Some(recorded) = &recon.status.managed.fargate_profile {
        candidates.push((recorded.eks_cluster_name.clone(), recorded.name.clone()));
    }
    if let Some(wanted) = plan::wanted(recon.vc, &recon.owner.uid) {
        let pair = (wanted.cluster_name, wanted.profile_name);
        if !candidates.contains(&pair) {
            candidates.push(pair);
        }
    }
    let mut pending = None;
    for (cluster, name) in candidates {
        match release(recon, slots, &cluster, &name).await? {
            Released::Gone => {}
            Released::Waiting(outcome) => pending = pending.or(Some(outcome)),
        }
    }
    match pending {
        Some(outcome) => Err(outcome),
        None => {
            recon.status.managed.fargate_profile = None;
            recon.status.fargate_profile = None;
            Ok(())
        }
    }
}

/// Takes the cluster's slot, or says which profile operation this one waits for.
fn claim(slots: &ClusterSlots, cluster: &str, uid: &str, name: &str) -> Result<(), Outcome> {
    slots
        .with(|s| s.claim(cluster, uid, name, Instant::now()))
        .map_err(|held: Holder| {
            Outcome::waiting(
                "WaitingForClusterFargateOperation",
                format!(
                    "EKS runs one Fargate profile operation at a time per cluster; waiting for profile {} of EKS cluster {cluster} to finish",
                    held.profile
                ),
            )
        })
}

/// EKS's "another profile operation is in progress" is a wait, anything else a failure.
fn busy_or_failed(e: &AwsError) -> Outcome {
    if e.is_in_use() {
        Outcome::waiting(
            "WaitingForClusterFargateOperation",
            format!(
                "EKS refused for now, another Fargate profile operation holds the cluster: {e}"
            ),
        )
    } else {
        aws_outcome(e)
    }
}

fn creating(name: &str) -> Outcome {
    Outcome::waiting(
        "WaitingForProfileActive",
        format!("Fargate profile {name} is CREATING (EKS takes a few minutes)"),
    )
}

fn record(recon: &mut Reconciliation<'_>, wanted: &CreateFargateProfileRequest, created: bool) {
    recon.status.managed.fargate_profile = Some(ManagedFargateProfile {
        name: wanted.profile_name.clone(),
        eks_cluster_name: wanted.cluster_name.clone(),
        created,
    });
}

fn mirror(recon: &mut Reconciliation<'_>, info: &FargateProfileInfo) {
    recon.status.fargate_profile = Some(FargateProfileStatus {
        name: info.name.clone(),
        arn: info.arn.clone(),
        status: Some(info.state.as_str().to_owned()),
    });
}

#[cfg(test)]
mod tests {
    use emr_aws::{AwsFault, FaultKind};

    use super::*;
    use crate::virtual_cluster::outcome::Retry;

    fn refused(kind: FaultKind, code: &str) -> AwsError {
        AwsError::CreateFargateProfile {
            cluster_name: "prod".into(),
            profile_name: "b".into(),
            cause: AwsFault {
                kind,
                code: Some(code.into()),
                message: "Cannot create Fargate Profile b because cluster prod currently has Fargate profile a in status CREATING".into(),
                request_id: None,
                http_status: Some(409),
            },
        }
    }

    #[test]
    fn another_profile_operation_is_a_wait_not_a_failure() {
        let busy = busy_or_failed(&refused(FaultKind::Conflict, "ResourceInUseException"));
        assert_eq!(busy.reason, "WaitingForClusterFargateOperation");
        assert_eq!(busy.retry, Retry::Poll);
        assert!(!busy.is_ready());
        let denied = busy_or_failed(&refused(FaultKind::AccessDenied, "AccessDeniedException"));
        assert_eq!(denied.reason, "AccessDenied");
        assert!(
            denied.message.contains("eks:CreateFargateProfile"),
            "{}",
            denied.message
        );
        assert_eq!(denied.retry, Retry::Backoff);
    }

    #[test]
    fn a_held_slot_makes_the_others_wait_naming_the_profile() {
        let slots = ClusterSlots::default();
        assert!(claim(&slots, "prod", "uid-a", "fp-a").is_ok());
        let waiting = claim(&slots, "prod", "uid-b", "fp-b").unwrap_err();
        assert_eq!(waiting.reason, "WaitingForClusterFargateOperation");
        assert!(waiting.message.contains("fp-a"), "{}", waiting.message);
        assert_eq!(waiting.retry, Retry::Poll);
    }
}
