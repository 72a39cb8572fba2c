//! The preflight on the bed: the operator (as the chart's RBAC lets it) reads the namespace's
//! LimitRanges and ResourceQuotas, its own guard rails and hand-made ones alike, and a job
//! whose pods they would refuse fails before any StartJobRun, naming the property; a job whose
//! driver does not fit in the quota left free waits, and starts once it fits.
//! Every example job passing its own VirtualCluster's preflight is proven by the conformance
//! run (tests/tests/strict_requests.rs, which waits for a job run of each) and by the pure
//! test in crates/emr-operator/src/spark_job_run/preflight/tests.rs.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use emr_api::condition::{self, ConditionStatus};
use emr_api::spark_job_run::condition_types as types;
use emr_api::{SparkJobRun, VirtualCluster};
use emr_operator_tests::{Bed, Operator, TEST_LABEL, bed, wait_for};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

const EKS_CLUSTER: &str = "preflight-tests";
const PI: &str = "local:///usr/lib/spark/examples/src/main/python/pi.py";

/// The multi-tenancy seed's guard rails, as `guardRails` (ResourceQuota compute-resources,
/// LimitRange cpu-min-max).
const SEED_GUARD_RAILS: &str = r#"
  guardRails:
    resourceQuota:
      hard: {requests.cpu: "1000", requests.memory: 4000Gi, limits.cpu: "2000", limits.memory: 6000Gi}
    limitRange:
      max: {cpu: "6"}
      min: {cpu: 100m}
      default: {cpu: 500m}
      defaultRequest: {cpu: 100m}
"#;

struct Test {
    bed: &'static Bed,
    id: String,
    op: Operator,
    namespace: String,
    vc_name: String,
    vc_id: String,
    role_arn: String,
}

impl Test {
    /// An operator of this test's own and a Ready VirtualCluster with `spec_extra`.
    async fn start(prefix: &str, spec_extra: &str) -> Test {
        let bed = bed().await;
        let id = bed.unique(prefix);
        let op = bed.start_operator(&id, &[]).await;
        bed.eks_cluster(EKS_CLUSTER).await;
        let trust = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"
        }]});
        let role_arn = bed.iam_role(&bed.unique("preflight-role"), &trust).await;
        let vc_name = bed.unique(prefix);
        let namespace = bed.unique(prefix);
        bed.apply_yaml(&format!(
            r#"
apiVersion: emr-on-eks.dev/v1alpha1
kind: VirtualCluster
metadata:
  name: {vc_name}
  labels: {{{TEST_LABEL}: {id}}}
spec:
  eksClusterName: {EKS_CLUSTER}
  namespace: {{name: {namespace}}}
  executionRoles: [{{arn: "{role_arn}"}}]
{spec_extra}
"#
        ))
        .await;
        let vc: VirtualCluster = bed.virtual_cluster_ready(&vc_name).await;
        let vc_id = vc.status.and_then(|s| s.virtual_cluster_id).unwrap();
        Test {
            bed,
            id,
            op,
            namespace,
            vc_name,
            vc_id,
            role_arn,
        }
    }

    fn jobs(&self) -> Api<SparkJobRun> {
        Api::namespaced(self.bed.client.clone(), &self.namespace)
    }

    async fn apply_job(&self, name: &str, parameters: &str) -> SparkJobRun {
        self.bed
            .apply(&format!(
                r#"
apiVersion: emr-on-eks.dev/v1alpha1
kind: SparkJobRun
metadata:
  name: {name}
  namespace: {namespace}
  labels: {{{TEST_LABEL}: {id}}}
spec:
  virtualCluster: {{name: {vc}}}
  executionRoleArn: "{role}"
  releaseLabel: emr-6.9.0-latest
  jobDriver:
    sparkSubmitJobDriver:
      entryPoint: "{PI}"
      sparkSubmitParameters: "{parameters}"
"#,
                namespace = self.namespace,
                id = self.id,
                vc = self.vc_name,
                role = self.role_arn,
            ))
            .await
    }

    async fn wait_job(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&SparkJobRun) -> bool,
    ) -> SparkJobRun {
        let job = tokio::time::timeout(
            Duration::from_secs(95),
            wait_for(&self.jobs(), name, Duration::from_secs(90), what, pred),
        )
        .await;
        match job {
            Ok(job) => job,
            Err(_) => panic!("{what}: timed out; operator log:\n{}", self.op.log_tail(60)),
        }
    }

    async fn start_job_runs(&self) -> usize {
        self.bed
            .emulator
            .start_job_run_requests(Some(&self.vc_id))
            .await
            .len()
    }

    async fn events(&self, name: &str) -> Vec<Event> {
        let api: Api<Event> = Api::namespaced(self.bed.client.clone(), &self.namespace);
        api.list(&ListParams::default())
            .await
            .expect("list events")
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some(name))
            .collect()
    }
}

fn condition_of(job: &SparkJobRun, type_: &str) -> Option<(ConditionStatus, String, String)> {
    let status = job.status.as_ref()?;
    condition::find(&status.conditions, type_)
        .map(|c| (c.status, c.reason.clone(), c.message.clone()))
}

fn failed_with(job: &SparkJobRun, reason: &str) -> bool {
    condition_of(job, types::FAILED)
        .is_some_and(|(s, r, _)| s == ConditionStatus::True && r == reason)
}

fn started(job: &SparkJobRun) -> bool {
    job.status.as_ref().is_some_and(|s| s.job_run_id.is_some())
}

#[tokio::test]
async fn the_seeds_seven_executor_cores_fail_against_cpu_min_max_with_no_start_job_run() {
    let t = Test::start("preflight-seed", SEED_GUARD_RAILS).await;
    t.apply_job(
        "seven-cores",
        "--conf spark.executor.instances=2 --conf spark.executor.cores=7 --conf spark.driver.cores=1 --conf spark.kubernetes.driver.limit.cores=1",
    )
    .await;
    let job = t
        .wait_job("seven-cores", "Failed/ExceedsNamespaceLimits", |j| {
            failed_with(j, "ExceedsNamespaceLimits")
        })
        .await;
    let (_, _, message) = condition_of(&job, types::FAILED).unwrap();
    assert!(
        message.contains("spark.executor.cores=7 requests cpu 7, above the maximum of 6 per container of LimitRange"),
        "{message}"
    );
    assert!(job.status.as_ref().unwrap().job_run_id.is_none());
    assert_eq!(
        t.start_job_runs().await,
        0,
        "no StartJobRun for a refused job"
    );
    let events = t.events("seven-cores").await;
    assert!(
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some("ExceedsNamespaceLimits")
                && e.type_.as_deref() == Some("Warning")),
        "a Warning Event says why: {events:?}"
    );

    // What the post says to do: stay within the range. The same object, corrected, starts.
    let patch = json!({"spec": {"jobDriver": {"sparkSubmitJobDriver": {"sparkSubmitParameters":
        "--conf spark.executor.instances=2 --conf spark.executor.cores=6 --conf spark.kubernetes.executor.limit.cores=6 --conf spark.driver.cores=1 --conf spark.kubernetes.driver.limit.cores=1"}}}});
    t.jobs()
        .patch(
            "seven-cores",
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .expect("fix the job");
    t.wait_job("seven-cores", "a job run once it fits", started)
        .await;
    assert_eq!(t.start_job_runs().await, 1);
}

#[tokio::test]
async fn a_hand_made_limit_range_counts_as_much_as_the_guard_rails() {
    // No guard rails: the administrator applies the seed's LimitRange by hand, as the post does.
    let t = Test::start("preflight-manual", "").await;
    let limit_range = json!({
        "apiVersion": "v1", "kind": "LimitRange",
        "metadata": {"name": "cpu-min-max"},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "6"}, "min": {"cpu": "100m"},
            "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "100m"}}]}
    });
    let api: Api<k8s_openapi::api::core::v1::LimitRange> =
        Api::namespaced(t.bed.client.clone(), &t.namespace);
    api.create(
        &PostParams::default(),
        &serde_json::from_value(limit_range).unwrap(),
    )
    .await
    .expect("create the LimitRange");
    // What the Spot examples asked before they set CPU limits.
    t.apply_job(
        "spot-as-it-was",
        "--conf spark.executor.instances=4 --conf spark.executor.memory=4G --conf spark.executor.cores=2 --conf spark.driver.cores=1",
    )
    .await;
    let job = t
        .wait_job("spot-as-it-was", "Failed/ExceedsNamespaceLimits", |j| {
            failed_with(j, "ExceedsNamespaceLimits")
        })
        .await;
    let (_, _, message) = condition_of(&job, types::FAILED).unwrap();
    assert!(message.contains("LimitRange cpu-min-max"), "{message}");
    assert!(
        message.contains("spark.kubernetes.driver.limit.cores"),
        "{message}"
    );
    assert_eq!(t.start_job_runs().await, 0);
}

#[tokio::test]
async fn a_driver_that_does_not_fit_the_quota_waits_and_starts_once_it_fits() {
    let t = Test::start(
        "preflight-quota",
        r#"
  guardRails:
    resourceQuota:
      hard: {requests.cpu: "2", pods: "20"}
"#,
    )
    .await;
    // Something else already runs in the namespace and holds 1500m of the 2 CPUs. (The bed has
    // no nodes: the pod stays Pending, and the quota counts it all the same.)
    let pods: Api<Pod> = Api::namespaced(t.bed.client.clone(), &t.namespace);
    let hog = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hog"},
        "spec": {"containers": [{"name": "hog", "image": "registry.k8s.io/pause:3.9",
            "resources": {"requests": {"cpu": "1500m"}}}]}
    });
    let mut created = None;
    for _ in 0..40 {
        // The namespace's default service account may not exist yet.
        match pods
            .create(
                &PostParams::default(),
                &serde_json::from_value(hog.clone()).unwrap(),
            )
            .await
        {
            Ok(pod) => {
                created = Some(pod);
                break;
            }
            Err(e) => {
                eprintln!("create the hog pod: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    assert!(created.is_some(), "the hog pod was never admitted");
    t.apply_job(
        "waits-for-quota",
        "--conf spark.executor.instances=2 --conf spark.executor.cores=1 --conf spark.driver.cores=1",
    )
    .await;
    let job = t
        .wait_job(
            "waits-for-quota",
            "Submitted=False/WaitingForNamespaceQuota",
            |j| {
                condition_of(j, types::SUBMITTED).is_some_and(|(s, r, _)| {
                    s == ConditionStatus::False && r == "WaitingForNamespaceQuota"
                })
            },
        )
        .await;
    let (_, _, message) = condition_of(&job, types::SUBMITTED).unwrap();
    assert!(
        message.contains("the driver needs requests.cpu 1, and 500m of 2 is free"),
        "{message}"
    );
    assert!(
        condition_of(&job, types::FAILED).is_none_or(|(s, _, _)| s != ConditionStatus::True),
        "waiting is not failing"
    );
    assert_eq!(t.start_job_runs().await, 0);

    pods.delete("hog", &DeleteParams::default().grace_period(0))
        .await
        .expect("delete the hog pod");
    t.wait_job("waits-for-quota", "a job run once the quota frees", started)
        .await;
    assert_eq!(t.start_job_runs().await, 1, "exactly one StartJobRun");
    // The driver and one executor fit in 2 CPUs, the second executor never will: started, with
    // a warning rather than held back (Spark runs with the executors it gets).
    let mut tight = Vec::new();
    for _ in 0..50 {
        tight = t
            .events("waits-for-quota")
            .await
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some("NamespaceQuotaTight"))
            .collect();
        if !tight.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let note = tight
        .first()
        .and_then(|e| e.message.clone())
        .expect("a NamespaceQuotaTight Warning Event");
    assert!(
        note.contains("the driver and 2 executors need requests.cpu 3, more than its 2: at most 1 executors can run at once"),
        "{note}"
    );
}

#[tokio::test]
async fn values_spark_would_refuse_fail_naming_the_property_and_start_nothing() {
    let t = Test::start("preflight-hostile", SEED_GUARD_RAILS).await;
    let cases = [
        (
            "overflowing-memory",
            "--conf spark.executor.memory=99999999999999999999g",
            "spark.executor.memory=99999999999999999999g is too large",
        ),
        (
            "fractional-cores",
            "--conf spark.executor.cores=1.5",
            "spark.executor.cores=1.5 is not a whole number",
        ),
        (
            "negative-limit",
            "--conf spark.kubernetes.executor.limit.cores=-2",
            "spark.kubernetes.executor.limit.cores=-2 is negative",
        ),
    ];
    for (name, parameters, _) in cases {
        t.apply_job(name, parameters).await;
    }
    for (name, _, expected) in cases {
        let job = t
            .wait_job(name, "Failed/InvalidSpec", |j| {
                failed_with(j, "InvalidSpec")
            })
            .await;
        let (_, _, message) = condition_of(&job, types::FAILED).unwrap();
        assert!(message.contains(expected), "{name}: {message}");
    }
    // A huge but readable request is compared, not overflowed: refused by the LimitRange's max.
    t.apply_job(
        "huge-limit",
        "--conf spark.kubernetes.driver.limit.cores=1 --conf spark.kubernetes.executor.limit.cores=99999999999999999999999999999999",
    )
    .await;
    let job = t
        .wait_job("huge-limit", "Failed/ExceedsNamespaceLimits", |j| {
            failed_with(j, "ExceedsNamespaceLimits")
        })
        .await;
    let (_, _, message) = condition_of(&job, types::FAILED).unwrap();
    assert!(message.contains("is above the maximum of 6"), "{message}");
    assert_eq!(t.start_job_runs().await, 0);
}

/// A job in `t`'s namespace with `templates` as its `spec.podTemplates` (JSON).
async fn apply_job_with_templates(
    t: &Test,
    name: &str,
    parameters: &str,
    templates: serde_json::Value,
) {
    let manifest = json!({
        "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
        "metadata": {"name": name, "namespace": t.namespace, "labels": {TEST_LABEL: t.id}},
        "spec": {
            "virtualCluster": {"name": t.vc_name},
            "executionRoleArn": t.role_arn,
            "releaseLabel": "emr-6.9.0-latest",
            "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": PI, "sparkSubmitParameters": parameters}},
            "podTemplates": templates
        }
    });
    t.bed.apply_yaml(&manifest.to_string()).await;
}

#[tokio::test]
async fn an_inline_templates_cpu_limit_and_sidecars_are_judged_as_kubernetes_judges_them() {
    let bed = bed().await;
    let bucket = bed.unique("preflight-pt");
    bed.aws
        .s3
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket");
    let t = Test::start(
        "preflight-pt",
        &format!("{SEED_GUARD_RAILS}  podTemplateStore: {{s3Uri: \"s3://{bucket}/pt/\"}}\n"),
    )
    .await;

    // The executor's CPU limit written in its template instead of limit.cores: Spark keeps it,
    // so the LimitRange's 500m default never applies and the pods are admitted.
    apply_job_with_templates(
        &t,
        "limit-in-template",
        "--conf spark.executor.cores=2 --conf spark.driver.cores=1 --conf spark.kubernetes.driver.limit.cores=1",
        json!({"executor": {"spec": {"containers": [
            {"name": "spark-kubernetes-executor", "resources": {"limits": {"cpu": "2"}}}
        ]}}}),
    )
    .await;
    t.wait_job("limit-in-template", "a job run", started).await;

    // A sidecar without memory in a namespace whose quota tracks memory and whose LimitRange
    // gives no memory default: the quota refuses the driver pod, so the job fails before
    // StartJobRun.
    apply_job_with_templates(
        &t,
        "sidecar-without-memory",
        "--conf spark.executor.cores=1 --conf spark.kubernetes.executor.limit.cores=1 --conf spark.kubernetes.driver.limit.cores=1",
        json!({"driver": {"spec": {"containers": [
            {"name": "spark-kubernetes-driver"},
            {"name": "log-shipper", "image": "fluent/fluent-bit:3.0"}
        ]}}}),
    )
    .await;
    let job = t
        .wait_job(
            "sidecar-without-memory",
            "Failed/ExceedsNamespaceLimits",
            |j| failed_with(j, "ExceedsNamespaceLimits"),
        )
        .await;
    let (_, _, message) = condition_of(&job, types::FAILED).unwrap();
    assert!(
        message.contains("tracks limits.memory, so every pod must set it")
            && message.contains("one of its pod template's"),
        "{message}"
    );
    assert_eq!(t.start_job_runs().await, 1, "only the first job started");

    // The apiserver agrees: the same driver pod is refused by the quota, and the executor pod
    // of the first job is admitted.
    let pods: Api<Pod> = Api::namespaced(t.bed.client.clone(), &t.namespace);
    let pod = |name: &str, containers: serde_json::Value| -> Pod {
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name}, "spec": {"containers": containers}}))
        .unwrap()
    };
    let driver = pod(
        "driver-as-spark-makes-it",
        json!([
            {"name": "spark-kubernetes-driver", "image": "spark",
             "resources": {"requests": {"cpu": "1", "memory": "1408Mi"}, "limits": {"cpu": "1", "memory": "1408Mi"}}},
            {"name": "log-shipper", "image": "fluent/fluent-bit:3.0"}
        ]),
    );
    let refused = create_when_namespace_ready(&pods, &driver).await;
    let error = refused.expect_err("the quota refuses a container without memory");
    assert!(error.contains("memory"), "{error}");
    let executor = pod(
        "executor-as-spark-makes-it",
        json!([
            {"name": "spark-kubernetes-executor", "image": "spark",
             "resources": {"requests": {"cpu": "2", "memory": "1408Mi"}, "limits": {"cpu": "2", "memory": "1408Mi"}}}
        ]),
    );
    create_when_namespace_ready(&pods, &executor)
        .await
        .expect("the executor pod is admitted");
    let _ = pods
        .delete("executor-as-spark-makes-it", &DeleteParams::default())
        .await;
}

/// Creates the pod, retrying while the namespace's default service account does not exist yet;
/// the apiserver's refusal otherwise.
async fn create_when_namespace_ready(pods: &Api<Pod>, pod: &Pod) -> Result<Pod, String> {
    let mut last = String::new();
    for _ in 0..40 {
        match pods.create(&PostParams::default(), pod).await {
            Ok(created) => return Ok(created),
            Err(kube::Error::Api(e)) if e.message.contains("serviceaccount") => {
                last = e.message;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(last)
}
