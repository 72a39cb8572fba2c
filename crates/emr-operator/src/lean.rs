//! What the watch caches keep of an object: only what a decision reads.
//!
//! Every object enters a cache (a reflector store) through [`trim`]. `managedFields` is the
//! apiserver's bookkeeping of who set which field (server-side apply computes it on its side),
//! and `kubectl.kubernetes.io/last-applied-configuration` is the copy of the whole spec that
//! client-side `kubectl apply` (and Argo CD's default sync) writes for its next three-way diff;
//! together they are most of a small object's size, and no decision of the operator reads them.
//! Labels and every other annotation stay (selectors, Argo CD's tracking label/annotation), except
//! in a cache whose controller names all it reads ([`keep_only`]; the SparkJobRun controller's).
//!
//! Nothing written back is built from a cached copy as a whole object (status and finalizers go
//! as patches naming their own fields), so dropping these cannot erase them on the server.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;

/// The annotation client-side `kubectl apply` keeps its last applied copy in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops from `obj` what no decision reads, in place (for `WatchStreamExt::modify`).
pub fn trim<K: Resource>(obj: &mut K) {
    trim_meta(obj.meta_mut());
}

/// [`trim`], by value.
pub fn trimmed<K: Resource>(mut obj: K) -> K {
    trim(&mut obj);
    obj
}

/// Keeps only the labels and annotations named (for a controller that knows every one its
/// decisions read): a tenant's own labels, a shard's selector label and the like are matched by
/// the apiserver or read by nobody, and each map costs a B-tree node of about half a KiB.
pub fn keep_only(meta: &mut ObjectMeta, labels: &[&str], annotations: &[&str]) {
    keep_keys(&mut meta.labels, labels);
    keep_keys(&mut meta.annotations, annotations);
}

fn keep_keys(map: &mut Option<std::collections::BTreeMap<String, String>>, keep: &[&str]) {
    if let Some(entries) = map.as_mut() {
        entries.retain(|key, _| keep.contains(&key.as_str()));
        if entries.is_empty() {
            // An emptied map keeps its node; None frees it.
            *map = None;
        }
    }
}

fn trim_meta(meta: &mut ObjectMeta) {
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
        if annotations.is_empty() {
            meta.annotations = None;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use emr_api::SparkJobRun;

    use super::*;

    #[test]
    fn managed_fields_and_the_last_applied_copy_go_everything_read_stays() {
        let job: SparkJobRun = serde_json::from_value(serde_json::json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
            "metadata": {
                "name": "a", "namespace": "ns", "uid": "u", "resourceVersion": "7",
                "generation": 2, "finalizers": ["emr-on-eks.dev/job-run"],
                "labels": {"app.kubernetes.io/instance": "argo-app"},
                "annotations": {
                    LAST_APPLIED: "{\"spec\": \"a second copy\"}",
                    "argocd.argoproj.io/tracking-id": "app:emr-on-eks.dev/SparkJobRun:ns/a"
                },
                "managedFields": [{"manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]
            },
            "spec": {"virtualCluster": {"name": "vc"}, "executionRoleArn": "arn:aws:iam::123456789012:role/r", "releaseLabel": "emr-7.2.0-latest"}
        }))
        .unwrap();
        let lean = trimmed(job.clone());
        assert_eq!(lean.metadata.managed_fields, None);
        let annotations = lean.metadata.annotations.clone().unwrap();
        assert!(!annotations.contains_key(LAST_APPLIED));
        assert!(annotations.contains_key("argocd.argoproj.io/tracking-id"));
        assert_eq!(lean.metadata.labels, job.metadata.labels);
        assert_eq!(lean.metadata.finalizers, job.metadata.finalizers);
        assert_eq!(
            lean.metadata.resource_version,
            job.metadata.resource_version
        );
        assert_eq!(lean.metadata.generation, job.metadata.generation);
        assert_eq!(lean.spec, job.spec);

        let mut only_last_applied = job;
        only_last_applied.metadata.annotations =
            Some([(LAST_APPLIED.to_owned(), "{}".to_owned())].into());
        assert_eq!(trimmed(only_last_applied).metadata.annotations, None);
    }

    #[test]
    fn keep_only_keeps_the_named_labels_and_annotations_and_frees_emptied_maps() {
        let mut meta = ObjectMeta {
            labels: Some(
                [
                    ("app.kubernetes.io/instance".to_owned(), "argo".to_owned()),
                    ("shard".to_owned(), "a".to_owned()),
                ]
                .into(),
            ),
            annotations: Some([("note".to_owned(), "x".to_owned())].into()),
            ..ObjectMeta::default()
        };
        keep_only(&mut meta, &["app.kubernetes.io/instance"], &["tracking"]);
        assert_eq!(
            meta.labels,
            Some([("app.kubernetes.io/instance".to_owned(), "argo".to_owned())].into())
        );
        assert_eq!(meta.annotations, None);
        keep_only(&mut meta, &[], &[]);
        assert_eq!(meta.labels, None);
    }
}
