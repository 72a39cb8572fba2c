//! What the Fargate profile should be, and what an observed profile means for it. Pure.

use std::collections::{BTreeMap, BTreeSet};

use emr_api::VirtualCluster;
use emr_api::labels::{TAG_OBJECT, TAG_UID};
use emr_aws::{CreateFargateProfileRequest, FargateProfileInfo, FargateProfileState};

/// The profile `spec.fargate` asks for, or `None` without `spec.fargate`.
pub fn wanted(vc: &VirtualCluster, uid: &str) -> Option<CreateFargateProfileRequest> {
    let fargate = vc.spec.fargate.as_ref()?;
    let namespace = vc.spec.namespace.name.clone();
    let name = fargate
        .profile_name
        .clone()
        .unwrap_or_else(|| namespace.clone());
    // Default: every pod of the namespace (seeds 000 and 003); labels narrow it (seed 004).
    let selectors = if fargate.selectors.is_empty() {
        vec![(namespace.clone(), BTreeMap::new())]
    } else {
        fargate
            .selectors
            .iter()
            .map(|s| (namespace.clone(), s.labels.clone()))
            .collect()
    };
    let mut tags = vc.spec.tags.clone();
    tags.insert(
        TAG_OBJECT.to_owned(),
        vc.metadata.name.clone().unwrap_or_default(),
    );
    tags.insert(TAG_UID.to_owned(), uid.to_owned());
    Some(CreateFargateProfileRequest {
        cluster_name: vc.spec.eks_cluster_name.clone(),
        client_request_token: format!("{uid}-{name}"),
        profile_name: name,
        pod_execution_role_arn: fargate.pod_execution_role_arn.clone(),
        subnets: fargate.subnets.clone(),
        selectors,
        tags,
    })
}

/// Whether EKS shows the profile as this object's: its uid tag, which only whoever created
/// the profile could set (tags are given at creation; the operator never tags afterwards).
pub fn is_ours(info: &FargateProfileInfo, uid: &str) -> bool {
    info.tags.get(TAG_UID).map(String::as_str) == Some(uid)
}

/// The first way the profile differs from the request (EKS cannot change a profile, so any
/// difference means another profile), or `None` when it is what is asked for. Without subnets in
/// the request EKS picks the cluster's, so subnets are compared only when asked for.
pub fn difference(
    info: &FargateProfileInfo,
    wanted: &CreateFargateProfileRequest,
) -> Option<String> {
    if info.pod_execution_role_arn.as_deref() != Some(wanted.pod_execution_role_arn.as_str()) {
        return Some(format!(
            "its pod execution role is {}, not {}",
            info.pod_execution_role_arn.as_deref().unwrap_or("(none)"),
            wanted.pod_execution_role_arn
        ));
    }
    let selectors: BTreeSet<_> = wanted.selectors.iter().cloned().collect();
    if info.selectors != selectors {
        return Some(format!(
            "its selectors are {}, not {}",
            describe_selectors(&info.selectors),
            describe_selectors(&selectors)
        ));
    }
    let subnets: BTreeSet<_> = wanted.subnets.iter().cloned().collect();
    if !subnets.is_empty() && info.subnets != subnets {
        return Some(format!(
            "its subnets are {:?}, not {:?}",
            info.subnets, subnets
        ));
    }
    None
}

fn describe_selectors(selectors: &BTreeSet<(String, BTreeMap<String, String>)>) -> String {
    let shown: Vec<String> = selectors
        .iter()
        .map(|(ns, labels)| {
            if labels.is_empty() {
                format!("namespace={ns}")
            } else {
                let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("namespace={ns},{}", labels.join(","))
            }
        })
        .collect();
    format!("[{}]", shown.join("; "))
}

/// What to do about the profile of the wanted name that EKS describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Ours and ACTIVE as asked: done.
    Ready,
    /// Not ours, ACTIVE and exactly as asked: used, never deleted.
    Use,
    /// Ours and CREATING or DELETING: look again soon.
    Wait,
    /// Ours but different from the spec (or CREATE_FAILED): delete it, then create anew.
    Replace { why: String },
    /// Ours and DELETE_FAILED, or in a state this operator does not know: a person must look.
    Stuck { why: String },
    /// Not ours (another VirtualCluster's, or different from what is asked): left alone.
    Refuse { reason: &'static str, why: String },
}

pub fn next(info: &FargateProfileInfo, wanted: &CreateFargateProfileRequest, uid: &str) -> Next {
    let issues = if info.issues.is_empty() {
        String::new()
    } else {
        format!(" ({})", info.issues.join("; "))
    };
    if is_ours(info, uid) {
        return match &info.state {
            FargateProfileState::Creating | FargateProfileState::Deleting => Next::Wait,
            FargateProfileState::Active => match difference(info, wanted) {
                None => Next::Ready,
                Some(why) => Next::Replace { why },
            },
            FargateProfileState::CreateFailed => Next::Replace {
                why: format!("EKS could not create it{issues}"),
            },
            FargateProfileState::DeleteFailed => Next::Stuck {
                why: format!(
                    "EKS could not delete it{issues}; delete it with `aws eks delete-fargate-profile` once the cause is fixed"
                ),
            },
            FargateProfileState::Unknown(s) => Next::Stuck {
                why: format!("it is in state {s}, which this operator does not know"),
            },
        };
    }
    if let Some(other) = info.tags.get(TAG_UID) {
        let object = info
            .tags
            .get(TAG_OBJECT)
            .map_or("another object", String::as_str);
        return Next::Refuse {
            reason: OWNED_BY_ANOTHER,
            why: format!(
                "it is tagged as VirtualCluster {object}'s (uid {other}); choose another spec.fargate.profileName"
            ),
        };
    }
    next_unowned(info, wanted)
}

/// The reason for a profile another, existing VirtualCluster made.
pub const OWNED_BY_ANOTHER: &str = "FargateProfileOwnedByAnotherVirtualCluster";

/// What to do about a profile this object did not make (untagged, or tagged by a VirtualCluster
/// that no longer exists, say one deleted with `Retain`): used when it is exactly what is asked
/// for and ACTIVE, never deleted, refused otherwise.
pub fn next_unowned(info: &FargateProfileInfo, wanted: &CreateFargateProfileRequest) -> Next {
    match difference(info, wanted) {
        Some(why) => Next::Refuse {
            reason: "FargateProfileNameTaken",
            why: format!(
                "it was not made by this VirtualCluster and {why}; EKS cannot change a profile: delete it by hand or choose another spec.fargate.profileName"
            ),
        },
        None if info.state == FargateProfileState::Active => Next::Use,
        None => Next::Refuse {
            reason: "FargateProfileNotActive",
            why: format!(
                "it was not made by this VirtualCluster and is {}{}",
                info.state.as_str(),
                if info.issues.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", info.issues.join("; "))
                }
            ),
        },
    }
}

/// The VirtualCluster (name, uid) a profile's tags name, if they name one.
pub fn tagged_owner(info: &FargateProfileInfo) -> Option<(&str, &str)> {
    Some((
        info.tags.get(TAG_OBJECT)?.as_str(),
        info.tags.get(TAG_UID)?.as_str(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vc(fargate: &str) -> VirtualCluster {
        serde_saphyr::from_str(&format!(
            r#"
apiVersion: emr-on-eks.dev/v1alpha1
kind: VirtualCluster
metadata: {{name: team-a, uid: u-1}}
spec:
  eksClusterName: prod
  namespace: {{name: spark-a}}
  tags: {{team: a}}
  fargate: {fargate}
"#
        ))
        .unwrap()
    }

    fn described(state: FargateProfileState, tags: &[(&str, &str)]) -> FargateProfileInfo {
        FargateProfileInfo {
            name: "spark-a".into(),
            arn: None,
            state,
            pod_execution_role_arn: Some("arn:aws:iam::123456789012:role/Pod".into()),
            subnets: BTreeSet::from(["subnet-0a1b2c3d".to_owned()]),
            selectors: BTreeSet::from([("spark-a".to_owned(), BTreeMap::new())]),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            issues: vec![],
        }
    }

    const ROLE: &str = "{podExecutionRoleArn: 'arn:aws:iam::123456789012:role/Pod'}";

    #[test]
    fn default_is_one_selector_for_the_namespace_named_after_it() {
        let req = wanted(&vc(ROLE), "u-1").unwrap();
        assert_eq!(req.profile_name, "spark-a");
        assert_eq!(req.cluster_name, "prod");
        assert_eq!(req.selectors, vec![("spark-a".to_owned(), BTreeMap::new())]);
        assert_eq!(req.tags[TAG_UID], "u-1");
        assert_eq!(req.tags[TAG_OBJECT], "team-a");
        assert_eq!(req.tags["team"], "a");
        assert!(req.subnets.is_empty());
    }

    #[test]
    fn selectors_always_name_the_namespace() {
        let req = wanted(
            &vc("{profileName: emr-serverless, podExecutionRoleArn: 'arn:aws:iam::123456789012:role/Pod', selectors: [{labels: {spark-role: executor}}]}"),
            "u-1",
        )
        .unwrap();
        assert_eq!(req.profile_name, "emr-serverless");
        assert_eq!(
            req.selectors,
            vec![(
                "spark-a".to_owned(),
                BTreeMap::from([("spark-role".to_owned(), "executor".to_owned())])
            )]
        );
    }

    #[test]
    fn ours_by_tag_only() {
        let req = wanted(&vc(ROLE), "u-1").unwrap();
        let ours = [(TAG_UID, "u-1")];
        assert_eq!(
            next(&described(FargateProfileState::Active, &ours), &req, "u-1"),
            Next::Ready
        );
        assert_eq!(
            next(
                &described(FargateProfileState::Creating, &ours),
                &req,
                "u-1"
            ),
            Next::Wait
        );
        assert_eq!(
            next(
                &described(FargateProfileState::Deleting, &ours),
                &req,
                "u-1"
            ),
            Next::Wait
        );
        assert!(matches!(
            next(
                &described(FargateProfileState::CreateFailed, &ours),
                &req,
                "u-1"
            ),
            Next::Replace { .. }
        ));
        assert!(matches!(
            next(
                &described(FargateProfileState::DeleteFailed, &ours),
                &req,
                "u-1"
            ),
            Next::Stuck { .. }
        ));
        let theirs = [(TAG_UID, "u-2"), (TAG_OBJECT, "team-b")];
        let Next::Refuse { reason, why } = next(
            &described(FargateProfileState::Active, &theirs),
            &req,
            "u-1",
        ) else {
            panic!("another VirtualCluster's profile is refused")
        };
        assert_eq!(reason, "FargateProfileOwnedByAnotherVirtualCluster");
        assert!(why.contains("team-b"), "{why}");
    }

    #[test]
    fn an_untagged_identical_profile_is_used_a_different_one_refused() {
        let req = wanted(&vc(ROLE), "u-1").unwrap();
        assert_eq!(
            next(&described(FargateProfileState::Active, &[]), &req, "u-1"),
            Next::Use
        );
        let mut other = described(FargateProfileState::Active, &[]);
        other.selectors = BTreeSet::from([(
            "spark-a".to_owned(),
            BTreeMap::from([("a".to_owned(), "b".to_owned())]),
        )]);
        let Next::Refuse { reason, why } = next(&other, &req, "u-1") else {
            panic!("a different profile is not taken")
        };
        assert_eq!(reason, "FargateProfileNameTaken");
        assert!(why.contains("selectors"), "{why}");
        assert!(matches!(
            next(&described(FargateProfileState::Creating, &[]), &req, "u-1"),
            Next::Refuse {
                reason: "FargateProfileNotActive",
                ..
            }
        ));
    }

    #[test]
    fn a_changed_spec_replaces_our_profile() {
        let ours = [(TAG_UID, "u-1")];
        let req = wanted(
            &vc("{podExecutionRoleArn: 'arn:aws:iam::123456789012:role/Other'}"),
            "u-1",
        )
        .unwrap();
        let Next::Replace { why } =
            next(&described(FargateProfileState::Active, &ours), &req, "u-1")
        else {
            panic!("a changed role replaces")
        };
        assert!(why.contains("role/Other"), "{why}");
        let with_subnets = wanted(
            &vc("{podExecutionRoleArn: 'arn:aws:iam::123456789012:role/Pod', subnets: [subnet-0a1b2c3d]}"),
            "u-1",
        )
        .unwrap();
        assert_eq!(
            next(
                &described(FargateProfileState::Active, &ours),
                &with_subnets,
                "u-1"
            ),
            Next::Ready
        );
    }
}
