//! Decisions about the EMR virtual cluster: the idempotency token, which existing virtual
//! cluster to adopt, and what an observed state means for the object. Pure.

use std::collections::BTreeMap;

use emr_api::VirtualCluster;
use emr_api::labels::{TAG_OBJECT, TAG_UID};
use emr_aws::{CreateVirtualClusterRequest, VirtualClusterInfo, VirtualClusterState};

use crate::virtual_cluster::outcome::Outcome;

/// The client token of the next CreateVirtualCluster: stable across retries and crashes (EMR
/// returns the virtual cluster it made for this token), new after a terminated one (which the
/// old token would return again). A UID is 36 characters; EMR allows 64.
pub fn client_token(uid: &str, creations: i32) -> String {
    format!("{uid}-{}", creations.max(0).saturating_add(1))
}

/// The request for a new EMR virtual cluster. The operator's tags name the object, so the
/// virtual cluster can be traced back to it from the AWS side.
pub fn create_request(
    vc: &VirtualCluster,
    uid: &str,
    creations: i32,
) -> CreateVirtualClusterRequest {
    let mut tags: BTreeMap<String, String> = vc.spec.tags.clone();
    tags.insert(
        TAG_OBJECT.to_owned(),
        vc.metadata.name.clone().unwrap_or_default(),
    );
    tags.insert(TAG_UID.to_owned(), uid.to_owned());
    CreateVirtualClusterRequest {
        name: vc.emr_name(),
        eks_cluster_name: vc.spec.eks_cluster_name.clone(),
        namespace: vc.spec.namespace.name.clone(),
        client_token: client_token(uid, creations),
        tags,
        security_configuration_id: vc.spec.security_configuration_id.clone(),
    }
}

/// The virtual cluster of the EKS cluster that holds `namespace` (EMR allows one that is not
/// terminated): a RUNNING one first, then ARRESTED, then TERMINATING.
pub fn holding_namespace<'a>(
    clusters: &'a [VirtualClusterInfo],
    namespace: &str,
) -> Option<&'a VirtualClusterInfo> {
    let rank = |state: &VirtualClusterState| match state {
        VirtualClusterState::Running => 0,
        VirtualClusterState::Arrested => 1,
        VirtualClusterState::Terminating => 2,
        _ => 3,
    };
    clusters
        .iter()
        .filter(|c| c.namespace.as_deref() == Some(namespace) && c.state.holds_namespace())
        .min_by_key(|c| rank(&c.state))
}

/// What to do with the virtual cluster the status records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeepOrReplace {
    /// Keep it; its state becomes the condition.
    Keep(Outcome),
    /// It is gone: make a new one.
    Replace,
}

/// Whether the virtual cluster recorded in the status still serves the spec, or a new one is due.
pub fn keep_or_replace(
    info: &VirtualClusterInfo,
    eks_cluster_name: &str,
    namespace: &str,
) -> KeepOrReplace {
    if info.state == VirtualClusterState::Terminated {
        return KeepOrReplace::Replace;
    }
    let bound_ns = info.namespace.as_deref().unwrap_or_default();
    let bound_eks = info.eks_cluster_name.as_deref().unwrap_or_default();
    if bound_ns != namespace || bound_eks != eks_cluster_name {
        return KeepOrReplace::Keep(Outcome::failed(
            "VirtualClusterBoundElsewhere",
            format!(
                "EMR virtual cluster {} serves namespace {bound_ns} of EKS cluster {bound_eks}, not {namespace} of {eks_cluster_name}; a virtual cluster cannot move: delete this VirtualCluster and create a new one",
                info.id
            ),
        ));
    }
    KeepOrReplace::Keep(state_outcome(info))
}

/// The condition for a virtual cluster's state.
pub fn state_outcome(info: &VirtualClusterInfo) -> Outcome {
    let id = &info.id;
    match &info.state {
        VirtualClusterState::Running => {
            Outcome::ready("Running", format!("EMR virtual cluster {id} is RUNNING"))
        }
        VirtualClusterState::Terminating => Outcome::waiting(
            "Terminating",
            format!(
                "EMR virtual cluster {id} is TERMINATING; a new one is created once it has terminated"
            ),
        ),
        VirtualClusterState::Terminated => Outcome::waiting(
            "Terminated",
            format!("EMR virtual cluster {id} is TERMINATED; a new one is being created"),
        ),
        VirtualClusterState::Arrested => Outcome::failed(
            "Arrested",
            format!(
                "EMR virtual cluster {id} is ARRESTED: EMR cannot reach the namespace (check the emr-containers Role and RoleBinding and the aws-auth entry or access entry); EMR does not recover it, delete it in EMR and the operator creates a new one"
            ),
        ),
        VirtualClusterState::Unknown(state) => Outcome::unknown(
            "UnknownState",
            format!(
                "EMR virtual cluster {id} is in state {state:?}, which this operator does not know"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use emr_api::condition::ConditionStatus;

    fn info(id: &str, state: VirtualClusterState, ns: &str) -> VirtualClusterInfo {
        VirtualClusterInfo {
            id: id.into(),
            name: Some("team-a".into()),
            arn: None,
            state,
            eks_cluster_name: Some("prod".into()),
            namespace: Some(ns.into()),
            created_at: None,
            tags: BTreeMap::new(),
            security_configuration_id: None,
        }
    }

    #[test]
    fn tokens_are_stable_and_move_on_after_a_creation() {
        let uid = "6f1c1d8e-7a1b-4b0e-9c55-0f7a2a1d9e11";
        assert_eq!(client_token(uid, 0), format!("{uid}-1"));
        assert_eq!(client_token(uid, 0), client_token(uid, 0));
        assert_eq!(client_token(uid, 1), format!("{uid}-2"));
        assert_eq!(client_token(uid, -3), format!("{uid}-1"));
        assert!(client_token(uid, i32::MAX).len() <= 64);
    }

    #[test]
    fn request_carries_spec_and_identity_tags() {
        let vc: VirtualCluster = serde_saphyr::from_str(
            r#"
apiVersion: emr-on-eks.dev/v1alpha1
kind: VirtualCluster
metadata: {name: team-a, uid: u-1}
spec:
  eksClusterName: prod
  namespace: {name: spark-a}
  tags: {team: a}
  securityConfigurationId: sc-1
"#,
        )
        .unwrap();
        let req = create_request(&vc, "u-1", 2);
        assert_eq!(req.name, "team-a");
        assert_eq!(req.eks_cluster_name, "prod");
        assert_eq!(req.namespace, "spark-a");
        assert_eq!(req.client_token, "u-1-3");
        assert_eq!(req.security_configuration_id.as_deref(), Some("sc-1"));
        assert_eq!(req.tags["team"], "a");
        assert_eq!(req.tags[TAG_OBJECT], "team-a");
        assert_eq!(req.tags[TAG_UID], "u-1");
    }

    #[test]
    fn adoption_prefers_running_and_ignores_other_namespaces_and_terminated() {
        let list = vec![
            info("t", VirtualClusterState::Terminated, "spark-a"),
            info("x", VirtualClusterState::Running, "other"),
            info("g", VirtualClusterState::Terminating, "spark-a"),
            info("r", VirtualClusterState::Running, "spark-a"),
        ];
        assert_eq!(
            holding_namespace(&list, "spark-a").map(|c| c.id.as_str()),
            Some("r")
        );
        assert_eq!(
            holding_namespace(&list[..3], "spark-a").map(|c| c.id.as_str()),
            Some("g")
        );
        assert_eq!(holding_namespace(&list[..1], "spark-a"), None);
        assert_eq!(holding_namespace(&list, "nope"), None);
    }

    #[test]
    fn states_become_conditions() {
        let decided = |state| keep_or_replace(&info("v", state, "spark-a"), "prod", "spark-a");
        let KeepOrReplace::Keep(running) = decided(VirtualClusterState::Running) else {
            panic!()
        };
        assert!(running.is_ready());
        let KeepOrReplace::Keep(t) = decided(VirtualClusterState::Terminating) else {
            panic!()
        };
        assert_eq!(
            (t.status, t.reason.as_str()),
            (ConditionStatus::False, "Terminating")
        );
        let KeepOrReplace::Keep(a) = decided(VirtualClusterState::Arrested) else {
            panic!()
        };
        assert_eq!(a.reason, "Arrested");
        let KeepOrReplace::Keep(u) = decided(VirtualClusterState::Unknown("NEW".into())) else {
            panic!()
        };
        assert_eq!(u.status, ConditionStatus::Unknown);
        assert_eq!(
            decided(VirtualClusterState::Terminated),
            KeepOrReplace::Replace
        );
    }

    #[test]
    fn a_virtual_cluster_of_another_namespace_is_not_taken_for_ours() {
        let KeepOrReplace::Keep(o) = keep_or_replace(
            &info("v", VirtualClusterState::Running, "old"),
            "prod",
            "spark-a",
        ) else {
            panic!()
        };
        assert_eq!(o.reason, "VirtualClusterBoundElsewhere");
    }
}
