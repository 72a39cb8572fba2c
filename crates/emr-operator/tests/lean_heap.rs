//! Heap bytes per cached SparkJobRun, whole and trimmed as the SparkJobRun cache trims it
//! ([`emr_operator::spark_job_run::cache::trim`]): a heap profile of what the watch cache holds,
//! with dhat's allocator (this test binary only; nothing of it is in the operator). Objects as
//! the apiserver serves a job applied with client-side `kubectl apply` (or Argo CD's default
//! sync) and finished by the operator: managedFields of three managers and the last-applied
//! annotation. `cargo test -p emr-operator --test lean_heap -- --nocapture` prints the figures
//! bench/README.md quotes.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use emr_api::SparkJobRun;
use emr_operator::spark_job_run::cache::Cached;
use kube::runtime::reflector::ObjectRef;
use serde_json::{Value, json};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

const OBJECTS: usize = 1000;

/// The manifest a user applies (as the bench does).
fn manifest(i: usize) -> Value {
    json!({
        "apiVersion": "emr-on-eks.dev/v1alpha1",
        "kind": "SparkJobRun",
        "metadata": {"name": format!("job-{i:05}"), "namespace": "team-a", "labels": {"app.kubernetes.io/instance": "spark-jobs", "team": "a"}},
        "spec": {
            "virtualCluster": {"name": "analytics"},
            "executionRoleArn": "arn:aws:iam::123456789012:role/emr-job-role",
            "releaseLabel": "emr-6.15.0-latest",
            "jobDriver": {"sparkSubmitJobDriver": {
                "entryPoint": "local:///usr/lib/spark/examples/src/main/python/pi.py",
                "entryPointArguments": ["100"],
                "sparkSubmitParameters": "--conf spark.executor.instances=2 --conf spark.executor.memory=2G",
            }},
            "tags": {"team": "t1"},
        }
    })
}

/// The object as a watch serves it once finished.
fn served(i: usize) -> Value {
    let mut object = manifest(i);
    let last_applied = object.to_string();
    let time = "2026-11-30T12:00:00Z";
    let metadata = object["metadata"].as_object_mut().unwrap();
    metadata.insert(
        "uid".into(),
        json!(format!("0b5c6a52-5a3e-4c59-9a4e-{i:012}")),
    );
    metadata.insert("resourceVersion".into(), json!(format!("{}", 100_000 + i)));
    metadata.insert("generation".into(), json!(1));
    metadata.insert("creationTimestamp".into(), json!(time));
    metadata.insert("finalizers".into(), json!(["emr-on-eks.dev/job-run"]));
    metadata.insert(
        "annotations".into(),
        json!({"kubectl.kubernetes.io/last-applied-configuration": last_applied}),
    );
    metadata.insert("managedFields".into(), json!([
        {"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "emr-on-eks.dev/v1alpha1", "time": time, "fieldsType": "FieldsV1",
         "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}, "f:labels": {".": {}, "f:app.kubernetes.io/instance": {}}},
                      "f:spec": {".": {}, "f:executionRoleArn": {}, "f:jobDriver": {".": {}, "f:sparkSubmitJobDriver": {".": {}, "f:entryPoint": {}, "f:entryPointArguments": {}, "f:sparkSubmitParameters": {}}},
                                 "f:releaseLabel": {}, "f:tags": {".": {}, "f:team": {}}, "f:virtualCluster": {".": {}, "f:name": {}}}}},
        {"manager": "emr-on-eks-operator", "operation": "Update", "apiVersion": "emr-on-eks.dev/v1alpha1", "time": time, "fieldsType": "FieldsV1",
         "fieldsV1": {"f:metadata": {"f:finalizers": {".": {}, "v:\"emr-on-eks.dev/job-run\"": {}}}}},
        {"manager": "emr-on-eks-operator", "operation": "Apply", "apiVersion": "emr-on-eks.dev/v1alpha1", "time": time, "fieldsType": "FieldsV1", "subresource": "status",
         "fieldsV1": {"f:status": {"f:arn": {}, "f:attempt": {}, "f:attempts": {}, "f:conditions": {}, "f:createdAt": {}, "f:finishedAt": {}, "f:jobRunId": {}, "f:message": {},
                                   "f:observedGeneration": {}, "f:state": {}, "f:submittedSpecFingerprint": {}, "f:virtualClusterId": {}}}},
    ]));
    let condition = |kind: &str, status: &str, reason: &str| json!({"type": kind, "status": status, "reason": reason, "message": "job run 000000036ue9ejg5m3o COMPLETED (attempt 1)", "lastTransitionTime": time, "observedGeneration": 1});
    let spec: emr_api::SparkJobRunSpec = serde_json::from_value(object["spec"].clone()).unwrap();
    object["status"] = json!({
        "observedGeneration": 1, "attempt": 1, "submittedSpecFingerprint": spec.submission_fingerprint(),
        "virtualClusterId": "vc0123456789abcdefghijklm", "jobRunId": format!("000000036ue9ejg{i:05}"),
        "arn": format!("arn:aws:emr-containers:us-east-1:123456789012:/virtualclusters/vc0123456789abcdefghijklm/jobruns/000000036ue9ejg{i:05}"),
        "state": "COMPLETED", "createdAt": time, "finishedAt": time,
        "attempts": [{"attempt": 1, "jobRunId": format!("000000036ue9ejg{i:05}"), "state": "COMPLETED", "createdAt": time, "finishedAt": time}],
        "conditions": [condition("Submitted", "True", "Submitted"), condition("Running", "False", "Completed"), condition("Succeeded", "True", "Completed"), condition("Failed", "False", "Completed")],
        "message": "job run COMPLETED (attempt 1)",
    });
    object
}

/// Heap bytes per object of a store holding `OBJECTS` objects made by `cache`.
fn bytes_per_object<T>(cache: impl Fn(SparkJobRun) -> T) -> usize {
    // Built outside the measured span: the wire form is not kept.
    let wire: Vec<String> = (0..OBJECTS).map(|i| served(i).to_string()).collect();
    let before = dhat::HeapStats::get().curr_bytes;
    let store: Vec<T> = wire
        .iter()
        .map(|text| cache(serde_json::from_str(text).unwrap()))
        .collect();
    let after = dhat::HeapStats::get().curr_bytes;
    assert_eq!(store.len(), OBJECTS);
    drop(store);
    after.saturating_sub(before) / OBJECTS
}

#[test]
fn a_trimmed_object_holds_a_fraction_of_the_heap_of_a_whole_one() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let whole = bytes_per_object(Arc::new);
    let lean = bytes_per_object(|job| Arc::new(emr_operator::spark_job_run::cache::trimmed(job)));
    // As the SparkJobRun controller's cache keeps it: key and entry.
    let now = chrono::Utc::now();
    let settled = bytes_per_object(|job| {
        let job = emr_operator::spark_job_run::cache::trimmed(job);
        let key = ObjectRef::from_obj(&job);
        let cached = Cached::of(&job, now);
        assert!(matches!(cached, Cached::Settled(_)), "{cached:?}");
        (key, cached)
    });
    println!(
        "heap per cached SparkJobRun: whole {whole} B, trimmed {lean} B, settled with its key {settled} B"
    );
    assert!(
        settled * 4 < lean,
        "a settled object keeps more than a quarter: {settled} B against {lean} B"
    );
    assert!(lean > 0 && whole > 0);
    // managedFields and the last-applied copy are most of such an object.
    assert!(
        lean * 2 < whole,
        "trimming saves less than half: whole {whole} B, trimmed {lean} B"
    );
}
