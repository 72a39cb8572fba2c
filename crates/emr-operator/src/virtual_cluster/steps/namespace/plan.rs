//! What the namespace step should write: the namespace's metadata (as converged, as kept by a
//! `Retain` deletion, as released by a `Delete` one) and the guard rails in it. Pure: built from
//! the spec, applied by [`super::apply`].

use std::collections::BTreeMap;

use emr_api::VirtualClusterSpec;
use emr_api::labels::{CREATED_BY_OPERATOR_ANNOTATION, VIRTUAL_CLUSTER_LABEL};
use emr_api::virtual_cluster::{
    ContainerLimits, GuardRails, ManagedParts, NetworkPolicySpec, ResourceQuotaSpec,
};
use k8s_openapi::api::core::v1::{
    LimitRange, LimitRangeItem, LimitRangeSpec, Namespace, ResourceQuota,
    ResourceQuotaSpec as KubeQuotaSpec,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicySpec as KubePolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::ResourceExt;

use crate::virtual_cluster::children::{Owner, annotations, child_meta, labels};
use crate::virtual_cluster::names::{LIMIT_RANGE, NETWORK_POLICY, RESOURCE_QUOTA};

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

/// The guard rails' object names: the spec's, else the operator's defaults.
pub fn quota_name(quota: &ResourceQuotaSpec) -> &str {
    quota.name.as_deref().unwrap_or(RESOURCE_QUOTA)
}

pub fn limit_range_name(limits: &ContainerLimits) -> &str {
    limits.name.as_deref().unwrap_or(LIMIT_RANGE)
}

/// The NetworkPolicy the guard rails ask for: `networkPolicy`, or its defaults when only
/// `networkIsolation: true` is set; `None` when neither is.
pub fn wanted_network_policy(rails: &GuardRails) -> Option<NetworkPolicySpec> {
    match &rails.network_policy {
        Some(policy) => Some(policy.clone()),
        None => rails.network_isolation.then(NetworkPolicySpec::default),
    }
}

pub fn network_policy_name(policy: &NetworkPolicySpec) -> &str {
    policy.name.as_deref().unwrap_or(NETWORK_POLICY)
}

pub fn resource_quota(owner: &Owner, namespace: &str, quota: &ResourceQuotaSpec) -> ResourceQuota {
    ResourceQuota {
        metadata: child_meta(owner, namespace, quota_name(quota)),
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
        metadata: child_meta(owner, namespace, limit_range_name(limits)),
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

/// Ingress only from pods of the same namespace (the multi-tenancy design's isolation, with
/// `podSelector: {}` rather than the post's `namespaceSelector` on a `nsname` label, which any
/// namespace carrying that label would pass); egress as [`super::egress`] decides.
pub fn network_policy(owner: &Owner, namespace: &str, policy: &NetworkPolicySpec) -> NetworkPolicy {
    let egress = super::egress::rules(policy);
    let mut types = vec!["Ingress".to_owned()];
    if egress.is_some() {
        types.push("Egress".to_owned());
    }
    NetworkPolicy {
        metadata: child_meta(owner, namespace, network_policy_name(policy)),
        spec: Some(KubePolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(types),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(LabelSelector::default()),
                    ..NetworkPolicyPeer::default()
                }]),
                ports: None,
            }]),
            egress,
        }),
    }
}

/// Who claims the namespace, by its label.
pub fn claimant(ns: &Namespace) -> Option<&str> {
    ns.labels().get(VIRTUAL_CLUSTER_LABEL).map(String::as_str)
}

/// Whether this object's status records that the operator created this very namespace: the
/// same UID (a record from before UIDs were kept is trusted, and gets the UID now).
pub fn recorded_as_created(managed: &ManagedParts, ns: &Namespace) -> bool {
    managed.namespace_created
        && match managed.namespace_uid.as_deref() {
            Some(uid) => ns.metadata.uid.as_deref() == Some(uid),
            None => true,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    fn spec() -> VirtualClusterSpec {
        serde_saphyr::from_str(
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
    fn namespace_merges_spec_and_operator_metadata() {
        let ns = serde_json::to_value(namespace(&Owner::team_a(), &spec(), true)).unwrap();
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
        let adopted = serde_json::to_value(namespace(&Owner::team_a(), &spec(), false)).unwrap();
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
        let ns = namespace(&Owner::team_a(), &spec, false);
        assert_eq!(ns.metadata.labels.unwrap()[VIRTUAL_CLUSTER_LABEL], "team-a");
    }

    #[test]
    fn network_policy_admits_only_the_same_namespace() {
        let np = serde_json::to_value(network_policy(
            &Owner::team_a(),
            "spark-a",
            &NetworkPolicySpec::default(),
        ))
        .unwrap();
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
            serde_saphyr::from_str("default: {cpu: '2'}\nmax: {memory: 8Gi}").unwrap();
        let lr = serde_json::to_value(limit_range(&Owner::team_a(), "spark-a", &limits)).unwrap();
        assert_eq!(
            lr["spec"],
            json!({"limits": [{"type": "Container", "default": {"cpu": "2"}, "max": {"memory": "8Gi"}}]})
        );
    }

    #[test]
    fn quota_copies_hard_limits() {
        let quota: ResourceQuotaSpec = serde_saphyr::from_str("hard: {pods: '10'}").unwrap();
        let rq = serde_json::to_value(resource_quota(&Owner::team_a(), "spark-a", &quota)).unwrap();
        assert_eq!(rq["spec"], json!({"hard": {"pods": "10"}}));
    }
}
