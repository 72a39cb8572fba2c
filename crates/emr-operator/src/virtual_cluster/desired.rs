//! What the Kubernetes side of a VirtualCluster should look like: the namespace's metadata, the
//! `emr-containers` RoleBinding, IRSA service accounts and the guard rails. Pure: built
//! from the spec, applied elsewhere.

use std::collections::BTreeMap;

use emr_api::labels::{
    ARGOCD_COMPARE_OPTIONS_ANNOTATION, ARGOCD_IGNORE_EXTRANEOUS, CREATED_BY_OPERATOR_ANNOTATION,
    MANAGED_BY_LABEL, MANAGED_BY_VALUE, VIRTUAL_CLUSTER_LABEL,
};
use emr_api::virtual_cluster::{ContainerLimits, IrsaServiceAccount, ResourceQuotaSpec};
use emr_api::{VirtualCluster, VirtualClusterSpec};
use k8s_openapi::api::core::v1::{
    LimitRange, LimitRangeItem, LimitRangeSpec, Namespace, ResourceQuota,
    ResourceQuotaSpec as KubeQuotaSpec, ServiceAccount,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicySpec,
};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::Resource;

use super::names::{
    EMR_ROLE, EMR_USER, IRSA_ROLE_ANNOTATION, LIMIT_RANGE, NETWORK_POLICY, RBAC_GROUP,
    RESOURCE_QUOTA,
};

/// The VirtualCluster as the owner of what it creates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub name: String,
    pub uid: String,
}

impl Owner {
    /// `None` for an object the apiserver has not stored (no uid): nothing can point at it yet.
    pub fn of(vc: &VirtualCluster) -> Option<Self> {
        Some(Self {
            name: vc.metadata.name.clone()?,
            uid: vc.metadata.uid.clone()?,
        })
    }

    fn reference(&self) -> OwnerReference {
        OwnerReference {
            api_version: VirtualCluster::api_version(&()).into_owned(),
            kind: VirtualCluster::kind(&()).into_owned(),
            name: self.name.clone(),
            uid: self.uid.clone(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }
}

/// The labels every object the operator makes for a VirtualCluster carries; the watch on
/// children selects on [`VIRTUAL_CLUSTER_LABEL`] and maps it back to the owner.
pub fn labels(owner: &Owner) -> BTreeMap<String, String> {
    BTreeMap::from([
        (VIRTUAL_CLUSTER_LABEL.to_owned(), owner.name.clone()),
        (MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned()),
    ])
}

/// Argo CD must neither prune nor diff what the operator makes on the user's behalf.
fn annotations() -> BTreeMap<String, String> {
    BTreeMap::from([(
        ARGOCD_COMPARE_OPTIONS_ANNOTATION.to_owned(),
        ARGOCD_IGNORE_EXTRANEOUS.to_owned(),
    )])
}

/// Metadata of a namespaced child: labels, Argo CD annotation and an owner reference (allowed
/// from a namespaced object to a cluster-scoped owner).
fn child_meta(owner: &Owner, namespace: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(namespace.to_owned()),
        labels: Some(labels(owner)),
        annotations: Some(annotations()),
        owner_references: Some(vec![owner.reference()]),
        ..ObjectMeta::default()
    }
}

/// The namespace as the spec wants it. A namespace cannot be owned by a cluster-scoped object
/// through garbage collection without risking its deletion, so it carries labels only; the
/// annotation marks one the operator created, so that deletion removes only that.
pub fn namespace(owner: &Owner, spec: &VirtualClusterSpec, created: bool) -> Namespace {
    let mut labels_map = spec.namespace.labels.clone();
    labels_map.extend(labels(owner));
    let mut annotations_map = spec.namespace.annotations.clone();
    annotations_map.extend(annotations());
    if created {
        annotations_map.insert(CREATED_BY_OPERATOR_ANNOTATION.to_owned(), "true".to_owned());
    }
    Namespace {
        metadata: ObjectMeta {
            name: Some(spec.namespace.name.clone()),
            labels: Some(labels_map),
            annotations: Some(annotations_map),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// The namespace kept by a `Retain` deletion: the spec's labels and annotations and the Argo CD
/// annotation (so Argo CD still leaves it alone), without the operator's ownership markers.
/// Reserved keys in the spec are refused before anything is applied, so none come from there.
pub fn retained_namespace(spec: &VirtualClusterSpec) -> Namespace {
    let mut annotations_map = spec.namespace.annotations.clone();
    annotations_map.extend(annotations());
    Namespace {
        metadata: ObjectMeta {
            name: Some(spec.namespace.name.clone()),
            labels: Some(spec.namespace.labels.clone()),
            annotations: Some(annotations_map),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// The namespace with nothing of the operator's: applying it as the operator's field manager
/// removes every label and annotation the operator set, and nothing anyone else set.
pub fn released_namespace(name: &str) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// The RoleBinding giving EMR (the user `emr-containers`) the rules of `cluster_role` in this
/// namespace only. Checked by `emr_role::check_binding` before it is written.
pub fn emr_role_binding(owner: &Owner, namespace: &str, cluster_role: &str) -> RoleBinding {
    RoleBinding {
        metadata: child_meta(owner, namespace, EMR_ROLE),
        role_ref: RoleRef {
            api_group: RBAC_GROUP.to_owned(),
            kind: "ClusterRole".to_owned(),
            name: cluster_role.to_owned(),
        },
        subjects: Some(vec![Subject {
            api_group: Some(RBAC_GROUP.to_owned()),
            kind: "User".to_owned(),
            name: EMR_USER.to_owned(),
            namespace: None,
        }]),
    }
}

pub fn service_account(owner: &Owner, namespace: &str, sa: &IrsaServiceAccount) -> ServiceAccount {
    let mut metadata = child_meta(owner, namespace, &sa.name);
    if let Some(annotations) = metadata.annotations.as_mut() {
        annotations.insert(IRSA_ROLE_ANNOTATION.to_owned(), sa.role_arn.clone());
    }
    ServiceAccount {
        metadata,
        ..ServiceAccount::default()
    }
}

pub fn resource_quota(owner: &Owner, namespace: &str, quota: &ResourceQuotaSpec) -> ResourceQuota {
    ResourceQuota {
        metadata: child_meta(owner, namespace, RESOURCE_QUOTA),
        spec: Some(KubeQuotaSpec {
            hard: Some(quota.hard.clone()),
            ..KubeQuotaSpec::default()
        }),
        status: None,
    }
}

pub fn limit_range(owner: &Owner, namespace: &str, limits: &ContainerLimits) -> LimitRange {
    let non_empty = |m: &BTreeMap<_, _>| (!m.is_empty()).then(|| m.clone());
    LimitRange {
        metadata: child_meta(owner, namespace, LIMIT_RANGE),
        spec: Some(LimitRangeSpec {
            limits: vec![LimitRangeItem {
                type_: "Container".to_owned(),
                default: non_empty(&limits.default),
                default_request: non_empty(&limits.default_request),
                max: non_empty(&limits.max),
                min: non_empty(&limits.min),
                max_limit_request_ratio: None,
            }],
        }),
    }
}

/// Ingress only from pods of the same namespace (the multi-tenancy design's isolation).
/// Egress is deliberately left open: drivers and executors must reach S3, EMR and the
/// Kubernetes API, which a namespace-local egress rule would cut off.
pub fn network_policy(owner: &Owner, namespace: &str) -> NetworkPolicy {
    NetworkPolicy {
        metadata: child_meta(owner, namespace, NETWORK_POLICY),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(LabelSelector::default()),
                    ..NetworkPolicyPeer::default()
                }]),
                ports: None,
            }]),
            egress: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn owner() -> Owner {
        Owner {
            name: "team-a".into(),
            uid: "0000-1111".into(),
        }
    }

    fn spec() -> VirtualClusterSpec {
        serde_yaml::from_str(
            r#"
eksClusterName: prod
namespace:
  name: spark-a
  labels: {team: a}
  annotations: {note: hello}
"#,
        )
        .unwrap()
    }

    #[test]
    fn children_carry_labels_annotation_and_owner() {
        let rb = serde_json::to_value(emr_role_binding(&owner(), "spark-a", "emr-rules")).unwrap();
        assert_eq!(
            rb["metadata"],
            json!({
                "name": "emr-containers",
                "namespace": "spark-a",
                "labels": {
                    "emr-on-eks.dev/virtual-cluster": "team-a",
                    "app.kubernetes.io/managed-by": "emr-on-eks-operator"
                },
                "annotations": {"argocd.argoproj.io/compare-options": "IgnoreExtraneous"},
                "ownerReferences": [{
                    "apiVersion": "emr-on-eks.dev/v1alpha1",
                    "kind": "VirtualCluster",
                    "name": "team-a",
                    "uid": "0000-1111",
                    "controller": true,
                    "blockOwnerDeletion": true
                }]
            })
        );
        assert_eq!(rb["apiVersion"], "rbac.authorization.k8s.io/v1");
        assert_eq!(rb["kind"], "RoleBinding");
    }

    #[test]
    fn role_binding_binds_the_emr_user_to_the_cluster_role() {
        let rb = serde_json::to_value(emr_role_binding(&owner(), "spark-a", "emr-rules")).unwrap();
        assert_eq!(
            rb["roleRef"],
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "emr-rules"})
        );
        assert_eq!(
            rb["subjects"],
            json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "emr-containers"}])
        );
    }

    #[test]
    fn namespace_merges_spec_and_operator_metadata() {
        let ns = serde_json::to_value(namespace(&owner(), &spec(), true)).unwrap();
        assert_eq!(ns["metadata"]["labels"]["team"], "a");
        assert_eq!(
            ns["metadata"]["labels"]["emr-on-eks.dev/virtual-cluster"],
            "team-a"
        );
        assert_eq!(ns["metadata"]["annotations"]["note"], "hello");
        assert_eq!(
            ns["metadata"]["annotations"]["emr-on-eks.dev/created-by-operator"],
            "true"
        );
        assert!(ns["metadata"].get("ownerReferences").is_none());
        let adopted = serde_json::to_value(namespace(&owner(), &spec(), false)).unwrap();
        assert!(
            adopted["metadata"]["annotations"]
                .get("emr-on-eks.dev/created-by-operator")
                .is_none()
        );
    }

    #[test]
    fn a_user_label_cannot_override_the_claim() {
        let mut spec = spec();
        spec.namespace
            .labels
            .insert(VIRTUAL_CLUSTER_LABEL.into(), "someone-else".into());
        let ns = namespace(&owner(), &spec, false);
        assert_eq!(ns.metadata.labels.unwrap()[VIRTUAL_CLUSTER_LABEL], "team-a");
    }

    #[test]
    fn service_account_is_annotated_with_its_role() {
        let sa = IrsaServiceAccount {
            name: "submitter".into(),
            role_arn: "arn:aws:iam::123456789012:role/submit".into(),
            manage_trust_policy: true,
        };
        let sa = service_account(&owner(), "spark-a", &sa);
        let annotations = sa.metadata.annotations.unwrap();
        assert_eq!(
            annotations[IRSA_ROLE_ANNOTATION],
            "arn:aws:iam::123456789012:role/submit"
        );
        assert_eq!(
            annotations[ARGOCD_COMPARE_OPTIONS_ANNOTATION],
            ARGOCD_IGNORE_EXTRANEOUS
        );
    }

    #[test]
    fn network_policy_admits_only_the_same_namespace() {
        let np = serde_json::to_value(network_policy(&owner(), "spark-a")).unwrap();
        assert_eq!(
            np["spec"],
            json!({
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"podSelector": {}}]}]
            })
        );
    }

    #[test]
    fn limit_range_omits_empty_maps() {
        let limits: ContainerLimits =
            serde_yaml::from_str("default: {cpu: '2'}\nmax: {memory: 8Gi}").unwrap();
        let lr = serde_json::to_value(limit_range(&owner(), "spark-a", &limits)).unwrap();
        assert_eq!(
            lr["spec"],
            json!({"limits": [{"type": "Container", "default": {"cpu": "2"}, "max": {"memory": "8Gi"}}]})
        );
    }

    #[test]
    fn quota_copies_hard_limits() {
        let quota: ResourceQuotaSpec = serde_yaml::from_str("hard: {pods: '10'}").unwrap();
        let rq = serde_json::to_value(resource_quota(&owner(), "spark-a", &quota)).unwrap();
        assert_eq!(rq["spec"], json!({"hard": {"pods": "10"}}));
    }
}
