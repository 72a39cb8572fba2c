//! Inline pod templates on the bed: the real operator binary and apiserver, the emulator's EMR
//! and moto's S3 on the same port. What lands in S3 (bytes, key, encryption), what StartJobRun
//! carries, what is never called for a template that cannot work, VirtualCluster defaults, and
//! exactly one job run through S3 faults and a SIGKILL between upload and StartJobRun.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use emr_api::condition::{self, ConditionStatus};
use emr_api::pod_template::PodTemplateFiles;
use emr_api::spark_job_run::condition_types as types;
use emr_api::{SparkJobRun, VirtualCluster};
use emr_operator_tests::{Bed, Operator, TEST_LABEL, bed, wait_for};
use kube::ResourceExt;
use kube::api::Api;
use serde_json::{Value, json};

/// Emulator faults are global and a new configuration replaces the old, and these tests count
/// S3 calls: they take turns, each holding this for its whole run.
static FAULTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const EKS_CLUSTER: &str = "pod-template-tests";

/// A Ready VirtualCluster with a pod-template store in its own bucket.
struct Vc {
    name: String,
    namespace: String,
    id: String,
    role_arn: String,
    bucket: String,
}

struct Test {
    bed: &'static Bed,
    id: String,
    op: Operator,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Test {
    async fn start(prefix: &str) -> Test {
        let turn = FAULTS.lock().await;
        let bed = bed().await;
        bed.emulator.clear_faults().await;
        let id = bed.unique(prefix);
        let op = bed.start_operator(&id, &[]).await;
        Test {
            bed,
            id,
            op,
            _turn: turn,
        }
    }

    /// A VirtualCluster with `podTemplateStore` (SSE-S3) in a new bucket, and `defaults` as its
    /// `spec.podTemplates` when given.
    async fn virtual_cluster(&self, prefix: &str, defaults: Option<Value>) -> Vc {
        self.bed.eks_cluster(EKS_CLUSTER).await;
        let trust = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"
        }]});
        let role_arn = self.bed.iam_role(&self.bed.unique("pt-role"), &trust).await;
        let bucket = self.bed.unique("pt-bucket");
        self.bed
            .aws
            .s3
            .client()
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create bucket");
        let name = self.bed.unique(prefix);
        let namespace = self.bed.unique(prefix);
        let mut spec = json!({
            "eksClusterName": EKS_CLUSTER,
            "namespace": {"name": namespace},
            "executionRoles": [{"arn": role_arn}],
            "podTemplateStore": {"s3Uri": format!("s3://{bucket}/pod-templates/"), "sse": "AES256"}
        });
        if let Some(defaults) = defaults {
            spec["podTemplates"] = defaults;
        }
        let manifest = json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "VirtualCluster",
            "metadata": {"name": name, "labels": {TEST_LABEL: self.id}},
            "spec": spec
        });
        self.bed.apply_yaml(&manifest.to_string()).await;
        let api: Api<VirtualCluster> = Api::all(self.bed.client.clone());
        let vc = wait_for(
            &api,
            &name,
            Duration::from_secs(90),
            "VirtualCluster Ready",
            |vc| {
                vc.status.as_ref().is_some_and(|s| {
                    condition::is_true(&s.conditions, "Ready") && s.virtual_cluster_id.is_some()
                })
            },
        )
        .await;
        let status = vc.status.unwrap();
        let store = condition::find(&status.conditions, "PodTemplateStore").expect("condition");
        assert_eq!(store.reason, "SameAccount", "{store:?}");
        Vc {
            name,
            namespace,
            id: status.virtual_cluster_id.unwrap(),
            role_arn,
            bucket,
        }
    }

    /// A PriorityClass of its own (cluster-wide, so named uniquely).
    async fn priority_class(&self, prefix: &str) -> String {
        let name = self.bed.unique(prefix);
        self.bed
            .apply_yaml(
                &json!({
                    "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                    "metadata": {"name": name}, "value": 1000
                })
                .to_string(),
            )
            .await;
        name
    }

    fn jobs(&self, vc: &Vc) -> Api<SparkJobRun> {
        Api::namespaced(self.bed.client.clone(), &vc.namespace)
    }

    /// Applies a SparkJobRun of pi.py with `extra` merged into its spec.
    async fn apply_job(&self, vc: &Vc, name: &str, extra: Value) {
        let mut spec = json!({
            "virtualCluster": {"name": vc.name},
            "executionRoleArn": vc.role_arn,
            "releaseLabel": "emr-7.2.0-latest",
            "jobDriver": {"sparkSubmitJobDriver": {
                "entryPoint": "local:///usr/lib/spark/examples/src/main/python/pi.py"
            }},
            "tags": {"emulator/run-seconds": "1"}
        });
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        let manifest = json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
            "metadata": {"name": name, "namespace": vc.namespace, "labels": {TEST_LABEL: self.id}},
            "spec": spec
        });
        self.bed.apply_yaml(&manifest.to_string()).await;
    }

    async fn wait_job(
        &self,
        vc: &Vc,
        name: &str,
        secs: u64,
        what: &str,
        pred: impl Fn(&SparkJobRun) -> bool,
    ) -> SparkJobRun {
        let job = tokio::time::timeout(
            Duration::from_secs(secs + 5),
            wait_for(&self.jobs(vc), name, Duration::from_secs(secs), what, pred),
        )
        .await;
        match job {
            Ok(job) => job,
            Err(_) => panic!("{what}: timed out; operator log:\n{}", self.op.log_tail(60)),
        }
    }

    async fn started(&self, vc: &Vc, name: &str) -> SparkJobRun {
        self.wait_job(vc, name, 60, &format!("{name} started"), |j| {
            j.status.as_ref().is_some_and(|s| s.job_run_id.is_some())
        })
        .await
    }

    /// S3 calls of `operation` on this VirtualCluster's bucket that S3 answered with `status`
    /// (any status when `None`).
    async fn s3_calls(&self, vc: &Vc, operation: &str, status: Option<u64>) -> Vec<Value> {
        let prefix = format!("/{}/", vc.bucket);
        self.bed
            .emulator
            .calls(&[("service", "s3"), ("operation", operation)])
            .await
            .into_iter()
            .filter(|c| c["path"].as_str().is_some_and(|p| p.starts_with(&prefix)))
            .filter(|c| status.is_none_or(|s| c["status"].as_u64() == Some(s)))
            .collect()
    }

    /// The bytes of an object named by an `s3://` URI.
    async fn object(&self, uri: &str) -> Vec<u8> {
        let (bucket, key) = uri.trim_start_matches("s3://").split_once('/').unwrap();
        let out = self
            .bed
            .aws
            .s3
            .client()
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetObject {uri}: {e:?}"));
        out.body.collect().await.unwrap().into_bytes().to_vec()
    }

    /// Job run ids EMR (the emulator) started in `vc`.
    async fn started_job_runs(&self, vc: &Vc) -> Vec<String> {
        let requests = self.bed.emulator.start_job_run_requests(Some(&vc.id)).await;
        let mut ids: Vec<String> = requests
            .iter()
            .filter(|r| r["status"] == 200)
            .filter_map(|r| r["jobRunId"].as_str().map(str::to_owned))
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

fn files(job: &SparkJobRun) -> PodTemplateFiles {
    job.status
        .as_ref()
        .and_then(|s| s.pod_templates.clone())
        .unwrap_or_default()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `spark-defaults` properties of a StartJobRun body.
fn spark_defaults(body: &Value) -> serde_json::Map<String, Value> {
    body["configurationOverrides"]["applicationConfiguration"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["classification"] == "spark-defaults")
        .and_then(|c| c["properties"].as_object().cloned())
        .unwrap_or_default()
}

fn failed_with(job: &SparkJobRun) -> Option<(ConditionStatus, String, String)> {
    let status = job.status.as_ref()?;
    condition::find(&status.conditions, types::FAILED)
        .map(|c| (c.status, c.reason.clone(), c.message.clone()))
}

#[tokio::test]
async fn the_exact_yaml_lands_in_s3_under_its_hash_and_start_job_run_names_it() {
    let t = Test::start("pt-exact").await;
    let vc = t.virtual_cluster("pt-exact", None).await;
    let class = t.priority_class("pt-high").await;
    t.apply_job(
        &vc,
        "exact",
        json!({"podTemplates": {
            "driver": {
                "metadata": {"labels": {"team": "a", "app": "pi"}},
                "spec": {"priorityClassName": class, "containers": [{"name": "spark-kubernetes-driver"}]}
            },
            "executor": {"spec": {"nodeSelector": {"eks.amazonaws.com/capacityType": "SPOT"}}}
        }}),
    )
    .await;
    let job = t.started(&vc, "exact").await;
    let files = files(&job);

    // The driver's file: exactly this YAML (labels sorted, Spark's Pod shape), named by its hash.
    let driver_uri = files.driver.clone().expect("driver template URI");
    let driver = t.object(&driver_uri).await;
    let expected = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  labels:\n    app: pi\n    team: a\nspec:\n  containers:\n  - name: spark-kubernetes-driver\n  priorityClassName: {class}\n"
    );
    assert_eq!(String::from_utf8(driver.clone()).unwrap(), expected);
    assert_eq!(
        driver_uri,
        format!(
            "s3://{}/pod-templates/{}.yaml",
            vc.bucket,
            sha256_hex(&driver)
        )
    );
    let executor_uri = files.executor.clone().expect("executor template URI");
    let executor = t.object(&executor_uri).await;
    assert_eq!(
        String::from_utf8(executor.clone()).unwrap(),
        "apiVersion: v1\nkind: Pod\nspec:\n  nodeSelector:\n    eks.amazonaws.com/capacityType: SPOT\n"
    );
    assert!(executor_uri.ends_with(&format!("/{}.yaml", sha256_hex(&executor))));

    // Written with the store's encryption.
    let (bucket, key) = driver_uri
        .trim_start_matches("s3://")
        .split_once('/')
        .unwrap();
    let head = t
        .bed
        .aws
        .s3
        .client()
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("head");
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("AES256")
    );

    // StartJobRun carries both URIs in spark-defaults; the object's spec was never written.
    let requests = t.bed.emulator.start_job_run_requests(Some(&vc.id)).await;
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let properties = spark_defaults(&requests[0]["body"]);
    assert_eq!(
        properties["spark.kubernetes.driver.podTemplateFile"],
        json!(driver_uri)
    );
    assert_eq!(
        properties["spark.kubernetes.executor.podTemplateFile"],
        json!(executor_uri)
    );
    assert_eq!(job.spec.configuration_overrides, None);
    assert_eq!(job.metadata.generation, Some(1));

    // Each template was checked with HeadObject, then written once.
    assert_eq!(t.s3_calls(&vc, "PutObject", Some(200)).await.len(), 2);
    let metrics = t.op.metrics().await;
    assert!(
        metrics.contains("emr_operator_pod_template_uploads_total{outcome=\"uploaded\"} 2"),
        "{metrics}"
    );
    let classes: Api<k8s_openapi::api::scheduling::v1::PriorityClass> =
        Api::all(t.bed.client.clone());
    let _ = classes.delete(&class, &Default::default()).await;
}

#[tokio::test]
async fn two_jobs_with_the_same_template_make_one_put_object() {
    let t = Test::start("pt-shared").await;
    let vc = t.virtual_cluster("pt-shared", None).await;
    let template = json!({"podTemplates": {"executor": {"spec": {
        "tolerations": [{"key": "spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
    }}}});
    // One after the other: two first uses racing each other may both find the object missing
    // and write the same bytes twice (harmless: same key, same content).
    t.apply_job(&vc, "first", template.clone()).await;
    let first = t.started(&vc, "first").await;
    t.apply_job(&vc, "second", template).await;
    let second = t.started(&vc, "second").await;

    let uri = files(&first).executor.expect("a URI");
    assert_eq!(files(&second).executor.as_deref(), Some(uri.as_str()));
    assert_eq!(files(&first).driver, None);
    let key_path = format!("/{}", uri.trim_start_matches("s3://"));
    let puts = t.s3_calls(&vc, "PutObject", None).await;
    assert_eq!(puts.len(), 1, "{puts:#?}");
    assert_eq!(puts[0]["path"], json!(key_path));
    let heads = t.s3_calls(&vc, "HeadObject", None).await;
    assert_eq!(heads.len(), 2, "{heads:#?}");
    assert_eq!(t.started_job_runs(&vc).await.len(), 2);
    let metrics = t.op.metrics().await;
    assert!(
        metrics.contains("emr_operator_pod_template_uploads_total{outcome=\"already_present\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_template_that_cannot_work_makes_no_s3_and_no_emr_call() {
    let t = Test::start("pt-invalid").await;
    let vc = t.virtual_cluster("pt-invalid", None).await;
    let cases = [
        (
            "no-class",
            json!({"podTemplates": {"driver": {"spec": {"priorityClassName": "no-such-class-anywhere"}}}}),
            "InvalidPodTemplate",
            "spec.podTemplates.driver.spec.priorityClassName: PriorityClass no-such-class-anywhere does not exist",
        ),
        (
            "other-ns",
            json!({"podTemplates": {"executor": {"metadata": {"namespace": "kube-system"}}}}),
            "InvalidPodTemplate",
            "spec.podTemplates.executor.metadata.namespace: kube-system is not the job's namespace",
        ),
        (
            "big-port",
            json!({"podTemplates": {"executor": {"spec": {"containers": [
                {"name": "spark-kubernetes-executor", "ports": [{"containerPort": 99999999999i64}]}
            ]}}}}),
            "InvalidPodTemplate",
            "spec.podTemplates.executor.spec.containers[0].ports",
        ),
        (
            "huge",
            json!({"podTemplates": {"driver": {"spec": {"containers": [
                {"name": "spark-kubernetes-driver", "env": [{"name": "BIG", "value": "x".repeat(70_000)}]}
            ]}}}}),
            "InvalidPodTemplate",
            "a pod template may have at most 65536 bytes",
        ),
        (
            "mixed",
            json!({
                "podTemplates": {"driver": {"spec": {}}},
                "configurationOverrides": {"applicationConfiguration": [{
                    "classification": "spark-defaults",
                    "properties": {"spark.kubernetes.executor.podTemplateFile": "s3://elsewhere/e.yaml"}
                }]}
            }),
            "PodTemplateConflict",
            "spark.kubernetes.executor.podTemplateFile",
        ),
    ];
    for (name, extra, _, _) in &cases {
        t.apply_job(&vc, name, extra.clone()).await;
    }
    for (name, _, reason, message) in &cases {
        let job = t
            .wait_job(&vc, name, 30, &format!("{name} refused"), |j| {
                failed_with(j).is_some_and(|(s, _, _)| s == ConditionStatus::True)
            })
            .await;
        let (_, got_reason, got_message) = failed_with(&job).unwrap();
        assert_eq!(&got_reason, reason, "{name}: {got_message}");
        assert!(
            got_message.contains(message),
            "{name}: {got_message:?} should contain {message:?}"
        );
        let status = job.status.unwrap();
        assert_eq!(
            status.attempt, 0,
            "{name}: a refusal uses no attempt number"
        );
        assert_eq!(status.pod_templates, None, "{name}");
    }
    // Nothing was sent anywhere for any of them.
    for operation in ["HeadObject", "PutObject"] {
        assert_eq!(t.s3_calls(&vc, operation, None).await, Vec::<Value>::new());
    }
    assert_eq!(
        t.bed.emulator.start_job_run_requests(Some(&vc.id)).await,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn a_virtual_cluster_default_is_used_and_a_jobs_own_template_replaces_it() {
    let t = Test::start("pt-default").await;
    let defaults = json!({
        "driver": {"spec": {"nodeSelector": {"role": "default-driver"}}},
        "executor": {"spec": {"nodeSelector": {"role": "default-executor"}}}
    });
    let vc = t.virtual_cluster("pt-default", Some(defaults)).await;
    t.apply_job(&vc, "plain", json!({})).await;
    t.apply_job(
        &vc,
        "own",
        json!({"podTemplates": {"executor": {"spec": {"nodeSelector": {"role": "own-executor"}}}}}),
    )
    .await;
    let plain = t.started(&vc, "plain").await;
    let own = t.started(&vc, "own").await;

    let plain_files = files(&plain);
    let own_files = files(&own);
    let plain_driver = t.object(plain_files.driver.as_deref().unwrap()).await;
    let plain_executor = t.object(plain_files.executor.as_deref().unwrap()).await;
    assert!(String::from_utf8_lossy(&plain_driver).contains("role: default-driver"));
    assert!(String::from_utf8_lossy(&plain_executor).contains("role: default-executor"));
    // The job's own executor template replaced the default; its driver still got the default.
    assert_eq!(own_files.driver, plain_files.driver);
    assert_ne!(own_files.executor, plain_files.executor);
    let own_executor =
        String::from_utf8(t.object(own_files.executor.as_deref().unwrap()).await).unwrap();
    assert_eq!(
        own_executor, "apiVersion: v1\nkind: Pod\nspec:\n  nodeSelector:\n    role: own-executor\n",
        "replaced, not merged"
    );
    // And StartJobRun of each named what its status says.
    for job in [&plain, &own] {
        let run = job.status.as_ref().unwrap().job_run_id.clone().unwrap();
        let requests = t.bed.emulator.start_job_run_requests(Some(&vc.id)).await;
        let request = requests
            .iter()
            .find(|r| r["jobRunId"] == json!(run))
            .expect("the job's StartJobRun");
        let properties = spark_defaults(&request["body"]);
        let status_files = files(job);
        assert_eq!(
            properties["spark.kubernetes.executor.podTemplateFile"],
            json!(status_files.executor)
        );
        assert_eq!(
            properties["spark.kubernetes.driver.podTemplateFile"],
            json!(status_files.driver)
        );
    }
}

#[tokio::test]
async fn s3_throttling_and_an_outage_during_upload_are_retried_with_one_job_run_each() {
    let t = Test::start("pt-faults").await;
    let vc = t.virtual_cluster("pt-faults", None).await;
    // An outage: every S3 call fails for a while, then S3 is back.
    t.bed
        .emulator
        .set_faults(json!({"downForSeconds": 6, "services": ["s3"]}))
        .await;
    t.apply_job(
        &vc,
        "outage",
        json!({"podTemplates": {"executor": {"spec": {"nodeSelector": {"fault": "outage"}}}}}),
    )
    .await;
    let outage = t.started(&vc, "outage").await;
    let down: Vec<Value> = t
        .s3_calls(&vc, "HeadObject", None)
        .await
        .into_iter()
        .filter(|c| c["fault"] == "down")
        .collect();
    assert!(!down.is_empty(), "the outage was never met");

    // Throttling: S3's SlowDown on the next PutObjects.
    t.bed
        .emulator
        .set_faults(json!({"throttleNext": 3, "services": ["s3"], "operations": ["PutObject"]}))
        .await;
    t.apply_job(
        &vc,
        "throttled",
        json!({"podTemplates": {"executor": {"spec": {"nodeSelector": {"fault": "throttle"}}}}}),
    )
    .await;
    let throttled = t.started(&vc, "throttled").await;
    t.bed.emulator.clear_faults().await;
    let puts = t.s3_calls(&vc, "PutObject", None).await;
    assert!(
        puts.iter().any(|c| c["fault"] == "throttle"),
        "no PutObject was throttled: {puts:#?}"
    );

    // Each job: one object written once, one job run, attempt 1.
    assert_eq!(t.s3_calls(&vc, "PutObject", Some(200)).await.len(), 2);
    let runs = t.started_job_runs(&vc).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    for job in [&outage, &throttled] {
        let status = job.status.as_ref().unwrap();
        assert_eq!(status.attempt, 1);
        assert!(runs.contains(status.job_run_id.as_ref().unwrap()));
        let uri = files(job).executor.unwrap();
        let _ = t.object(&uri).await;
    }
}

#[tokio::test]
async fn a_kill_between_upload_and_start_job_run_still_makes_exactly_one_job_run() {
    let mut t = Test::start("pt-kill").await;
    let vc = t.virtual_cluster("pt-kill", None).await;
    // StartJobRun fails once the operator has uploaded the template and added the finalizer
    // (which makes a first attempt durable): it keeps retrying the start, and is killed in the
    // middle of that.
    t.bed
        .emulator
        .set_faults(json!({"downForSeconds": 60, "operations": ["StartJobRun"]}))
        .await;
    t.apply_job(
        &vc,
        "killed",
        json!({"podTemplates": {"driver": {"spec": {"nodeSelector": {"kill": "between"}}}}}),
    )
    .await;
    t.wait_job(&vc, "killed", 30, "the finalizer, no job run", |j| {
        !j.finalizers().is_empty() && j.status.as_ref().is_none_or(|s| s.job_run_id.is_none())
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let refused = t
            .bed
            .emulator
            .calls(&[("operation", "StartJobRun"), ("virtualClusterId", &vc.id)])
            .await;
        if refused.iter().any(|c| c["fault"] == "down") {
            break;
        }
        assert!(Instant::now() < deadline, "StartJobRun was never tried");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(t.s3_calls(&vc, "PutObject", Some(200)).await.len(), 1);
    t.op.kill();
    t.bed.emulator.clear_faults().await;

    t.op.start().await;
    let job = t.started(&vc, "killed").await;
    let status = job.status.clone().unwrap();
    assert_eq!(status.attempt, 1);
    let runs = t.started_job_runs(&vc).await;
    assert_eq!(runs, vec![status.job_run_id.clone().unwrap()]);
    // The restarted operator checked the template again and wrote nothing new.
    assert_eq!(t.s3_calls(&vc, "PutObject", Some(200)).await.len(), 1);
    assert!(!t.s3_calls(&vc, "HeadObject", Some(200)).await.is_empty());
    let requests = t.bed.emulator.start_job_run_requests(Some(&vc.id)).await;
    let sent = requests.iter().find(|r| r["status"] == 200).unwrap();
    assert_eq!(
        spark_defaults(&sent["body"])["spark.kubernetes.driver.podTemplateFile"],
        json!(files(&job).driver)
    );
}

#[tokio::test]
async fn an_object_planted_under_a_templates_name_is_written_over_not_trusted() {
    let t = Test::start("pt-planted").await;
    let vc = t.virtual_cluster("pt-planted", None).await;
    // The YAML the operator renders for this template (see the exact-YAML test), and its name
    // in the store: anyone who can write under the prefix can compute both.
    let yaml = "apiVersion: v1\nkind: Pod\nspec:\n  nodeSelector:\n    team: planted\n";
    let key = format!("pod-templates/{}.yaml", sha256_hex(yaml.as_bytes()));
    // A job role with s3:PutObject on the bucket plants a pod of its own under that name first.
    let planted =
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: exfiltrate\n    image: evil\n";
    t.bed
        .aws
        .s3
        .client()
        .put_object()
        .bucket(&vc.bucket)
        .key(&key)
        .body(planted.as_bytes().to_vec().into())
        .send()
        .await
        .expect("plant an object");
    // The planting itself is a PutObject in the bucket's call log.
    let planted_puts = t.s3_calls(&vc, "PutObject", Some(200)).await.len();
    assert_eq!(planted_puts, 1);

    t.apply_job(
        &vc,
        "planted",
        json!({"podTemplates": {"executor": {"spec": {"nodeSelector": {"team": "planted"}}}}}),
    )
    .await;
    let job = t.started(&vc, "planted").await;
    let uri = files(&job).executor.expect("a URI");
    assert_eq!(uri, format!("s3://{}/{key}", vc.bucket));
    // The operator did not take the name for the content: it wrote the template over it.
    assert_eq!(String::from_utf8(t.object(&uri).await).unwrap(), yaml);
    assert_eq!(t.s3_calls(&vc, "PutObject", Some(200)).await.len(), 2);
    let metrics = t.op.metrics().await;
    assert!(
        metrics.contains("emr_operator_pod_template_uploads_total{outcome=\"replaced\"} 1"),
        "{metrics}"
    );

    // Its own object, written with its SHA-256, is trusted the next time: no second PutObject.
    t.apply_job(
        &vc,
        "planted-again",
        json!({"podTemplates": {"executor": {"spec": {"nodeSelector": {"team": "planted"}}}}}),
    )
    .await;
    t.started(&vc, "planted-again").await;
    assert_eq!(t.s3_calls(&vc, "PutObject", None).await.len(), 2);
    assert_eq!(t.started_job_runs(&vc).await.len(), 2);
}
