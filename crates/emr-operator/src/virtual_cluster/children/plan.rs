//! What every object the operator makes for a VirtualCluster has in common: its owner, its
//! labels and annotations, and whether an existing object already says everything the operator
//! would apply (so an unchanged child costs one GET and no write, and no Event). Pure.

use std::collections::BTreeMap;

use emr_api::VirtualCluster;
use emr_api::labels::{
    ARGOCD_COMPARE_OPTIONS_ANNOTATION, ARGOCD_IGNORE_EXTRANEOUS, MANAGED_BY_LABEL,
    MANAGED_BY_VALUE, VIRTUAL_CLUSTER_LABEL,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use serde_json::Value;

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

    /// The owner the unit tests use.
    #[cfg(test)]
    pub fn team_a() -> Self {
        Self {
            name: "team-a".into(),
            uid: "0000-1111".into(),
        }
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
pub fn annotations() -> BTreeMap<String, String> {
    BTreeMap::from([(
        ARGOCD_COMPARE_OPTIONS_ANNOTATION.to_owned(),
        ARGOCD_IGNORE_EXTRANEOUS.to_owned(),
    )])
}

/// Metadata of a namespaced child: labels, Argo CD annotation and an owner reference (allowed
/// from a namespaced object to a cluster-scoped owner).
pub fn child_meta(owner: &Owner, namespace: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(namespace.to_owned()),
        labels: Some(labels(owner)),
        annotations: Some(annotations()),
        owner_references: Some(vec![owner.reference()]),
        ..ObjectMeta::default()
    }
}

/// Whether `actual` contains `desired`: every field of `desired` is in `actual` with a
/// containing value; lists must have the same length and contain element-wise (a list with an
/// extra entry is a change, as server-side apply would replace an atomic list).
pub fn contains(actual: &Value, desired: &Value) -> bool {
    match (actual, desired) {
        (Value::Object(a), Value::Object(d)) => d
            .iter()
            .all(|(key, dv)| a.get(key).is_some_and(|av| contains(av, dv)) || dv.is_null()),
        (Value::Array(a), Value::Array(d)) => {
            a.len() == d.len() && a.iter().zip(d).all(|(av, dv)| contains(av, dv))
        }
        _ => actual == desired,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extra_fields_in_actual_are_fine() {
        let actual = json!({"metadata": {"name": "x", "uid": "u", "labels": {"a": "1", "b": "2"}}});
        assert!(contains(
            &actual,
            &json!({"metadata": {"labels": {"a": "1"}}})
        ));
    }

    #[test]
    fn differing_or_missing_values_are_not() {
        let actual = json!({"metadata": {"labels": {"a": "1"}}});
        assert!(!contains(
            &actual,
            &json!({"metadata": {"labels": {"a": "2"}}})
        ));
        assert!(!contains(
            &actual,
            &json!({"metadata": {"annotations": {"a": "1"}}})
        ));
    }

    #[test]
    fn lists_compare_by_length_and_position() {
        let actual = json!({"rules": [{"verbs": ["get"], "x": 1}, {"verbs": ["list"]}]});
        assert!(contains(
            &actual,
            &json!({"rules": [{"verbs": ["get"]}, {"verbs": ["list"]}]})
        ));
        assert!(!contains(&actual, &json!({"rules": [{"verbs": ["get"]}]})));
        assert!(!contains(
            &actual,
            &json!({"rules": [{"verbs": ["list"]}, {"verbs": ["get"]}]})
        ));
    }

    #[test]
    fn null_in_desired_means_nothing_wanted() {
        assert!(contains(&json!({}), &json!({"status": null})));
    }
}
