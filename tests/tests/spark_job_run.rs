//! The SparkJobRun controller against the test bed: the real operator binary, a real apiserver and
//! the EMR emulator, each job stating its emulated outcome in its own tags.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use emr_api::condition::{self, ConditionStatus};
use emr_api::labels::SPARK_JOB_RUN_FINALIZER;
use emr_api::spark_job_run::condition_types as types;
use emr_api::{SparkJobRun, VirtualCluster};
use emr_operator_tests::{Bed, Operator, TEST_LABEL, bed, wait_for, wait_gone};
use k8s_openapi::api::core::v1::Event;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

/// Emulator faults are global and a new configuration replaces the old: the tests here that
/// inject faults take turns.
static FAULTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One EKS cluster in the emulator for all these tests (each virtual cluster has its own namespace).
const EKS_CLUSTER: &str = "sjr-tests";
const SEED_ENTRY_POINT: &str = "local:///usr/lib/spark/examples/src/main/python/pi.py";
const SEED_PARAMETERS: &str = "--conf spark.executor.instances=1 --conf spark.executor.memory=2G --conf spark.executor.cores=1 --conf spark.driver.cores=1";

/// A Ready VirtualCluster made by the operator under test.
struct Vc {
    name: String,
    namespace: String,
    id: String,
    role_arn: String,
}

struct Test {
    bed: &'static Bed,
    id: String,
    op: Operator,
}

impl Test {
    async fn start(prefix: &str, extra_args: &[&str]) -> Test {
        let bed = bed().await;
        let id = bed.unique(prefix);
        let op = bed.start_operator(&id, extra_args).await;
        Test { bed, id, op }
    }

    /// A VirtualCluster the operator brings to Ready (namespace, EMR access, trust, EMR cluster).
    async fn virtual_cluster(&self, prefix: &str) -> Vc {
        self.virtual_cluster_in(prefix, &self.bed.unique(prefix))
            .await
    }

    /// Like [`Test::virtual_cluster`], bound to `namespace`.
    async fn virtual_cluster_in(&self, prefix: &str, namespace: &str) -> Vc {
        self.bed.eks_cluster(EKS_CLUSTER).await;
        let trust = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"
        }]});
        let role_arn = self
            .bed
            .iam_role(&self.bed.unique("sjr-job-role"), &trust)
            .await;
        let name = self.bed.unique(prefix);
        let namespace = namespace.to_owned();
        self.bed
            .apply_yaml(&format!(
                r#"
apiVersion: emr-on-eks.dev/v1alpha1
kind: VirtualCluster
metadata:
  name: {name}
  labels: {{{TEST_LABEL}: {id}}}
spec:
  eksClusterName: {EKS_CLUSTER}
  namespace: {{name: {namespace}}}
  executionRoles: [{{arn: "{role_arn}"}}]
"#,
                id = self.id
            ))
            .await;
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
        let id = vc.status.and_then(|s| s.virtual_cluster_id).unwrap();
        Vc {
            name,
            namespace,
            id,
            role_arn,
        }
    }

    fn jobs(&self, vc: &Vc) -> Api<SparkJobRun> {
        Api::namespaced(self.bed.client.clone(), &vc.namespace)
    }

    /// Applies a SparkJobRun running pi.py from the seeds; `spec_extra` is appended to its spec
    /// (two-space indented YAML), `tags` are its emulator scenario.
    async fn apply_job(
        &self,
        vc: &Vc,
        name: &str,
        tags: &[(&str, &str)],
        spec_extra: &str,
    ) -> SparkJobRun {
        self.bed
            .apply(&job_manifest(&self.id, vc, name, tags, spec_extra))
            .await
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

    /// The Events about `name` once one with `reason` is there (up to 15 s): an Event is written
    /// after the status change it tells of, so a test that saw the status may be a moment early.
    async fn events_until(&self, vc: &Vc, name: &str, reason: &str) -> Vec<Event> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let events = self.events(vc, name).await;
            if Instant::now() >= deadline
                || events.iter().any(|e| e.reason.as_deref() == Some(reason))
            {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn events(&self, vc: &Vc, name: &str) -> Vec<Event> {
        let api: Api<Event> = Api::namespaced(self.bed.client.clone(), &vc.namespace);
        let events = api.list(&ListParams::default()).await.expect("list events");
        events
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some(name))
            .collect()
    }

    /// Logged emr-containers calls about `vc` of `operation`.
    async fn calls(&self, vc: &str, operation: &str) -> Vec<Value> {
        self.bed
            .emulator
            .calls(&[
                ("service", "emr-containers"),
                ("operation", operation),
                ("virtualClusterId", vc),
            ])
            .await
    }
}

fn job_manifest(
    test_id: &str,
    vc: &Vc,
    name: &str,
    tags: &[(&str, &str)],
    spec_extra: &str,
) -> String {
    let tags: String = tags
        .iter()
        .map(|(k, v)| format!("    {k}: \"{v}\"\n"))
        .collect();
    let tags = if tags.is_empty() {
        "  tags: {}\n".to_string()
    } else {
        format!("  tags:\n{tags}")
    };
    format!(
        r#"
apiVersion: emr-on-eks.dev/v1alpha1
kind: SparkJobRun
metadata:
  name: {name}
  namespace: {namespace}
  labels: {{{TEST_LABEL}: {test_id}}}
spec:
  virtualCluster: {{name: {vc_name}}}
  executionRoleArn: "{role}"
  releaseLabel: emr-6.15.0-latest
  jobDriver:
    sparkSubmitJobDriver:
      entryPoint: "{SEED_ENTRY_POINT}"
      sparkSubmitParameters: "{SEED_PARAMETERS}"
{tags}{spec_extra}
"#,
        namespace = vc.namespace,
        vc_name = vc.name,
        role = vc.role_arn,
    )
}

fn status_of(job: &SparkJobRun) -> emr_api::SparkJobRunStatus {
    job.status.clone().unwrap_or_default()
}

fn cond(job: &SparkJobRun, type_: &str) -> Option<(ConditionStatus, String)> {
    condition::find(&status_of(job).conditions, type_).map(|c| (c.status, c.reason.clone()))
}

fn is_true(job: &SparkJobRun, type_: &str) -> bool {
    condition::is_true(&status_of(job).conditions, type_)
}

fn finished(job: &SparkJobRun) -> bool {
    is_true(job, types::SUCCEEDED) || is_true(job, types::FAILED)
}

/// Distinct job run ids EMR started for these StartJobRun requests.
fn started_ids(requests: &[Value]) -> BTreeSet<String> {
    requests
        .iter()
        .filter_map(|r| r["jobRunId"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn pi_shows_each_state_that_lasts_with_two_events_and_the_exact_request() {
    let t = Test::start("sjr-pi", &[]).await;
    let vc = t.virtual_cluster("pi").await;
    // PENDING (written with the job run id) for 7 s, SUBMITTED until 13 s (states before
    // RUNNING are written once the run is 10 s old), RUNNING, COMPLETED.
    let scenario = [
        ("emulator/pending-seconds", "7"),
        ("emulator/submitted-seconds", "6"),
        ("emulator/run-seconds", "2"),
    ];
    let extra = r#"  configurationOverrides:
    applicationConfiguration:
    - classification: spark-defaults
      properties: {spark.driver.memory: 2G}
    monitoringConfiguration:
      cloudWatchMonitoringConfiguration: {logGroupName: /aws/emr-eks/sample, logStreamNamePrefix: pi}
      persistentAppUI: ENABLED
      s3MonitoringConfiguration: {logUri: "s3://aws-emr-on-eks-us-east-1-381354187112"}
  retryPolicyConfiguration: {maxAttempts: 2}
"#;
    let applied = t.apply_job(&vc, "pi", &scenario, extra).await;

    // Record every state status shows, until the final one.
    let api = t.jobs(&vc);
    let mut seen: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let job = loop {
        let job = api.get("pi").await.expect("get pi");
        if let Some(state) = status_of(&job).state
            && seen.last() != Some(&state)
        {
            seen.push(state);
        }
        if finished(&job) {
            break job;
        }
        assert!(
            Instant::now() < deadline,
            "pi did not finish; seen {seen:?}\n{}",
            t.op.log_tail(60)
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    };
    assert_eq!(seen, ["PENDING", "SUBMITTED", "RUNNING", "COMPLETED"]);

    let status = status_of(&job);
    let job_run_id = status.job_run_id.clone().unwrap();
    assert_eq!(
        cond(&job, types::SUCCEEDED),
        Some((ConditionStatus::True, "Completed".into()))
    );
    assert!(is_true(&job, types::READY));
    assert_eq!(
        cond(&job, types::FAILED).map(|c| c.0),
        Some(ConditionStatus::False)
    );
    assert_eq!(status.attempt, 1);
    assert_eq!(status.virtual_cluster_id.as_deref(), Some(vc.id.as_str()));
    assert_eq!(status.observed_generation, job.metadata.generation);
    let message = status.message.clone().unwrap();
    assert!(
        message.starts_with(&format!("job run {job_run_id} COMPLETED after "))
            && message.ends_with("(attempt 1)"),
        "{message}"
    );
    assert!(status.created_at.is_some() && status.finished_at.is_some());
    // EMR's own driver retries (retryPolicyExecution.currentAttemptCount).
    assert_eq!(status.emr_attempt_count, Some(1));
    let logs = status.logs.clone().unwrap();
    assert_eq!(
        logs.cloud_watch_log_group.as_deref(),
        Some("/aws/emr-eks/sample")
    );
    assert_eq!(
        logs.cloud_watch_log_stream_prefix,
        Some(format!("pi/{}/jobs/{job_run_id}", vc.id))
    );
    assert_eq!(
        logs.s3_prefix,
        Some(format!(
            "s3://aws-emr-on-eks-us-east-1-381354187112/{}/jobs/{job_run_id}/",
            vc.id
        ))
    );

    // Two Events: one when it started, one when it ended; the states between are in status.
    let events = t.events_until(&vc, "pi", "JobRunCompleted").await;
    let mut reasons: Vec<String> = events.iter().filter_map(|e| e.reason.clone()).collect();
    reasons.sort();
    assert_eq!(reasons, ["JobRunCompleted", "JobRunStarted"]);

    // Metrics: the transition counter and the per-state gauge (refreshed by the poller's ticks).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let metrics = t.op.metrics().await;
        let counted = metrics
            .contains(r#"emr_operator_job_run_transitions_total{state="COMPLETED"} 1"#)
            && metrics.contains(r#"emr_operator_job_runs{state="COMPLETED"} 1"#);
        if counted {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "metrics never showed the completed job:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The emulator received exactly the request the spec describes.
    let requests = t.bed.emulator.start_job_run_requests(Some(&vc.id)).await;
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let uid = applied.uid().unwrap();
    let expected = json!({
        "name": "pi",
        "clientToken": format!("{uid}-1"),
        "executionRoleArn": vc.role_arn,
        "releaseLabel": "emr-6.15.0-latest",
        "jobDriver": {"sparkSubmitJobDriver": {
            "entryPoint": SEED_ENTRY_POINT,
            "sparkSubmitParameters": SEED_PARAMETERS,
        }},
        "configurationOverrides": {
            "applicationConfiguration": [
                {"classification": "spark-defaults", "properties": {"spark.driver.memory": "2G"}}
            ],
            "monitoringConfiguration": {
                "persistentAppUI": "ENABLED",
                "cloudWatchMonitoringConfiguration": {
                    "logGroupName": "/aws/emr-eks/sample",
                    "logStreamNamePrefix": "pi",
                },
                "s3MonitoringConfiguration": {"logUri": "s3://aws-emr-on-eks-us-east-1-381354187112"},
            },
        },
        "retryPolicyConfiguration": {"maxAttempts": 2},
        "tags": {
            "emulator/pending-seconds": "7",
            "emulator/submitted-seconds": "6",
            "emulator/run-seconds": "2",
            "emr-on-eks.dev/object": format!("{}/pi", vc.namespace),
            "emr-on-eks.dev/uid": uid,
        },
    });
    assert_eq!(requests[0]["body"], expected);
    assert_eq!(requests[0]["jobRunId"].as_str(), Some(job_run_id.as_str()));
}

#[tokio::test]
async fn a_user_error_fails_with_the_reason_and_message() {
    let t = Test::start("sjr-fail", &[]).await;
    let vc = t.virtual_cluster("fail").await;
    let scenario = [
        ("emulator/outcome", "FAILED"),
        ("emulator/failure-reason", "USER_ERROR"),
        (
            "emulator/state-details",
            "ZeroDivisionError: division by zero",
        ),
        ("emulator/run-seconds", "1"),
    ];
    t.apply_job(&vc, "broken", &scenario, "").await;
    let job = t
        .wait_job(&vc, "broken", 60, "broken finished", finished)
        .await;
    let status = status_of(&job);
    assert_eq!(
        cond(&job, types::FAILED),
        Some((ConditionStatus::True, "UserError".into()))
    );
    assert_eq!(
        cond(&job, types::SUCCEEDED).map(|c| c.0),
        Some(ConditionStatus::False)
    );
    assert!(!is_true(&job, types::READY));
    assert_eq!(status.state.as_deref(), Some("FAILED"));
    assert_eq!(status.failure_reason.as_deref(), Some("USER_ERROR"));
    assert_eq!(
        status.state_details.as_deref(),
        Some("ZeroDivisionError: division by zero")
    );
    let message = status.message.unwrap();
    assert!(message.contains("FAILED with USER_ERROR"), "{message}");
    assert!(
        message.ends_with("(attempt 1): ZeroDivisionError: division by zero"),
        "{message}"
    );
    let failed_events: Vec<Event> = t
        .events_until(&vc, "broken", "JobRunFailed")
        .await
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("JobRunFailed"))
        .collect();
    assert_eq!(failed_events.len(), 1);
    assert_eq!(failed_events[0].type_.as_deref(), Some("Warning"));
    // Not resubmitted: one job run.
    assert_eq!(
        started_ids(&t.bed.emulator.start_job_run_requests(Some(&vc.id)).await).len(),
        1
    );
}

#[tokio::test]
async fn a_retryable_failure_is_resubmitted_and_then_succeeds() {
    let t = Test::start("sjr-retry", &[]).await;
    let vc = t.virtual_cluster("retry").await;
    let scenario = [
        ("emulator/fail-first", "1"),
        ("emulator/failure-reason", "INTERNAL_ERROR"),
        ("emulator/run-seconds", "1"),
    ];
    let policy =
        "  resubmitPolicy: {limit: 2, backoffSeconds: 1, onFailureReasons: [INTERNAL_ERROR]}\n";
    let applied = t.apply_job(&vc, "flaky", &scenario, policy).await;
    let job = t
        .wait_job(&vc, "flaky", 90, "flaky finished", finished)
        .await;
    assert!(is_true(&job, types::SUCCEEDED), "{:#?}", job.status);
    let status = status_of(&job);
    assert_eq!(status.attempt, 2);
    assert_eq!(status.resubmissions, 1);
    let attempts: Vec<(i32, Option<String>, Option<String>)> = status
        .attempts
        .iter()
        .map(|a| (a.attempt, a.state.clone(), a.reason.clone()))
        .collect();
    assert_eq!(
        attempts,
        [
            (1, Some("FAILED".into()), Some("INTERNAL_ERROR".into())),
            (2, Some("COMPLETED".into()), None)
        ]
    );
    let requests = t.bed.emulator.start_job_run_requests(Some(&vc.id)).await;
    let ids = started_ids(&requests);
    assert_eq!(ids.len(), 2, "{requests:#?}");
    let uid = applied.uid().unwrap();
    let tokens: BTreeSet<String> = requests
        .iter()
        .filter_map(|r| r["body"]["clientToken"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        tokens,
        BTreeSet::from([format!("{uid}-1"), format!("{uid}-2")])
    );
    let reasons: Vec<String> = t
        .events_until(&vc, "flaky", "JobRunCompleted")
        .await
        .iter()
        .filter_map(|e| e.reason.clone())
        .collect();
    assert!(reasons.contains(&"Resubmitting".to_string()), "{reasons:?}");
}

#[tokio::test]
async fn a_run_past_its_deadline_is_cancelled_and_fails() {
    let t = Test::start("sjr-deadline", &[]).await;
    let vc = t.virtual_cluster("deadline").await;
    let scenario = [
        ("emulator/run-seconds", "120"),
        ("emulator/pending-seconds", "0.5"),
    ];
    t.apply_job(&vc, "slow", &scenario, "  activeDeadlineSeconds: 4\n")
        .await;
    let job = t.wait_job(&vc, "slow", 60, "slow finished", finished).await;
    let status = status_of(&job);
    assert_eq!(
        cond(&job, types::FAILED),
        Some((ConditionStatus::True, "DeadlineExceeded".into()))
    );
    assert_eq!(status.state.as_deref(), Some("CANCELLED"));
    assert!(
        status
            .message
            .unwrap()
            .contains("exceeded its deadline of 4s")
    );
    let job_run_id = status.job_run_id.unwrap();
    let cancels = t.calls(&vc.id, "CancelJobRun").await;
    assert_eq!(cancels.len(), 1, "{cancels:#?}");
    assert_eq!(cancels[0]["jobRunId"].as_str(), Some(job_run_id.as_str()));
    let reasons: Vec<String> = t
        .events_until(&vc, "slow", "DeadlineExceeded")
        .await
        .iter()
        .filter_map(|e| e.reason.clone())
        .collect();
    assert!(
        reasons.contains(&"DeadlineExceeded".to_string()),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn deleting_a_running_job_cancels_it_in_emr() {
    let t = Test::start("sjr-delete", &[]).await;
    let vc = t.virtual_cluster("delete").await;
    t.apply_job(&vc, "doomed", &[("emulator/run-seconds", "300")], "")
        .await;
    let job = t
        .wait_job(&vc, "doomed", 60, "doomed running", |j| {
            status_of(j).state.as_deref() == Some("RUNNING")
        })
        .await;
    let job_run_id = status_of(&job).job_run_id.unwrap();
    t.jobs(&vc)
        .delete("doomed", &DeleteParams::default())
        .await
        .expect("delete");
    wait_gone(
        &t.jobs(&vc),
        "doomed",
        Duration::from_secs(60),
        "doomed deleted",
    )
    .await;
    let run = t
        .bed
        .aws
        .emr
        .describe_job_run(&vc.id, &job_run_id)
        .await
        .expect("describe");
    assert_eq!(run.state.as_str(), "CANCELLED");
    assert_eq!(t.calls(&vc.id, "CancelJobRun").await.len(), 1);
}

#[tokio::test]
async fn deletion_gets_through_a_throttled_cancellation() {
    let t = Test::start("sjr-throttle", &[]).await;
    let vc = t.virtual_cluster("throttle").await;
    t.apply_job(&vc, "busy", &[("emulator/run-seconds", "300")], "")
        .await;
    let job = t
        .wait_job(&vc, "busy", 60, "busy running", |j| {
            status_of(j).state.as_deref() == Some("RUNNING")
        })
        .await;
    let job_run_id = status_of(&job).job_run_id.unwrap();
    let faults = FAULTS.lock().await;
    t.bed
        .emulator
        .set_faults(json!({"throttleNext": 2, "operations": ["CancelJobRun"]}))
        .await;
    t.jobs(&vc)
        .delete("busy", &DeleteParams::default())
        .await
        .expect("delete");
    wait_gone(
        &t.jobs(&vc),
        "busy",
        Duration::from_secs(90),
        "busy deleted",
    )
    .await;
    t.bed.emulator.clear_faults().await;
    drop(faults);
    let run = t
        .bed
        .aws
        .emr
        .describe_job_run(&vc.id, &job_run_id)
        .await
        .expect("describe");
    assert_eq!(run.state.as_str(), "CANCELLED");
    let cancels = t.calls(&vc.id, "CancelJobRun").await;
    let throttled = cancels.iter().filter(|c| c["fault"] == "throttle").count();
    let answered = cancels.iter().filter(|c| c["status"] == 200).count();
    assert_eq!(answered, 1, "{cancels:#?}");
    assert!(throttled <= 2, "{cancels:#?}");
}

#[tokio::test]
async fn a_kill_right_after_start_job_run_still_makes_exactly_one_job_run() {
    let mut t = Test::start("sjr-crash", &[]).await;
    let vc = t.virtual_cluster("crash").await;
    // Hold StartJobRun in flight long enough to kill the operator in the middle of it: EMR (the
    // emulator) still starts the run, the operator never hears of it.
    let faults = FAULTS.lock().await;
    t.bed
        .emulator
        .set_faults(json!({"latencyMs": 4000, "operations": ["StartJobRun"]}))
        .await;
    t.apply_job(&vc, "once", &[("emulator/run-seconds", "2")], "")
        .await;
    // A first attempt is durable by its finalizer (status records it with its job run).
    t.wait_job(&vc, "once", 30, "the finalizer, no attempt recorded", |j| {
        j.finalizers().iter().any(|f| f == SPARK_JOB_RUN_FINALIZER) && status_of(j).attempt == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    t.op.kill();
    // Wait until EMR has started the run the operator lost.
    let deadline = Instant::now() + Duration::from_secs(20);
    while started_ids(&t.bed.emulator.start_job_run_requests(Some(&vc.id)).await).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the in-flight StartJobRun never completed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    t.bed.emulator.clear_faults().await;
    drop(faults);
    let job = t.jobs(&vc).get("once").await.expect("get");
    assert_eq!(
        status_of(&job).job_run_id,
        None,
        "the status write should have been lost"
    );

    t.op.start().await;
    let job = t.wait_job(&vc, "once", 60, "once finished", finished).await;
    assert!(is_true(&job, types::SUCCEEDED), "{:#?}", job.status);
    let requests = t.bed.emulator.start_job_run_requests(Some(&vc.id)).await;
    let ids = started_ids(&requests);
    assert_eq!(ids.len(), 1, "{requests:#?}");
    // Found by its client token, not sent again (EMR's token idempotency is not relied on).
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(status_of(&job).job_run_id.as_ref(), ids.iter().next());
    assert_eq!(status_of(&job).attempt, 1);
}

#[tokio::test]
async fn bad_input_fails_with_the_reason_without_retrying_and_spares_other_jobs() {
    let t = Test::start("sjr-bad", &[]).await;
    let vc = t.virtual_cluster("bad").await;
    let api = t.jobs(&vc);

    // A VirtualCluster that does not exist.
    let mut missing_vc = job_manifest(&t.id, &vc, "lost", &[], "");
    missing_vc = missing_vc.replace(
        &format!("virtualCluster: {{name: {}}}", vc.name),
        "virtualCluster: {name: nowhere}",
    );
    t.bed.apply_yaml(&missing_vc).await;
    // A role the VirtualCluster does not allow.
    let other_role = job_manifest(&t.id, &vc, "intruder", &[], "")
        .replace(&vc.role_arn, "arn:aws:iam::123456789012:role/not-allowed");
    t.bed.apply_yaml(&other_role).await;
    // A request EMR refuses (the emulator validates its scenario tags like EMR validates input).
    t.apply_job(&vc, "refused", &[("emulator/no-such-tag", "x")], "")
        .await;
    // And a good job next to them.
    t.apply_job(&vc, "good", &[("emulator/run-seconds", "1")], "")
        .await;

    let lost = t.wait_job(&vc, "lost", 30, "lost failed", finished).await;
    assert_eq!(
        cond(&lost, types::FAILED),
        Some((ConditionStatus::True, "VirtualClusterNotFound".into()))
    );
    let intruder = t
        .wait_job(&vc, "intruder", 30, "intruder failed", finished)
        .await;
    assert_eq!(
        cond(&intruder, types::FAILED),
        Some((ConditionStatus::True, "ExecutionRoleNotAllowed".into()))
    );
    let refused = t
        .wait_job(&vc, "refused", 30, "refused failed", finished)
        .await;
    assert_eq!(
        cond(&refused, types::FAILED),
        Some((ConditionStatus::True, "EmrValidationError".into()))
    );
    assert!(
        status_of(&refused)
            .message
            .unwrap()
            .contains("emulator/no-such-tag")
    );
    let good = t.wait_job(&vc, "good", 60, "good finished", finished).await;
    assert!(is_true(&good, types::SUCCEEDED));

    // No hot loop: nothing more is sent for the refused job, and no status keeps changing.
    let versions = || async {
        let mut versions = Vec::new();
        for name in ["lost", "intruder", "refused"] {
            versions.push(api.get(name).await.unwrap().resource_version());
        }
        versions
    };
    let before = versions().await;
    let starts = t.calls(&vc.id, "StartJobRun").await.len();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(t.calls(&vc.id, "StartJobRun").await.len(), starts);
    assert_eq!(versions().await, before);
    for name in ["lost", "intruder", "refused"] {
        let warnings = t
            .events(&vc, name)
            .await
            .into_iter()
            .filter(|e| e.type_.as_deref() == Some("Warning"))
            .count();
        assert_eq!(warnings, 1, "{name}");
    }
}

#[tokio::test]
async fn rerun_starts_a_new_attempt_and_other_spec_changes_are_refused() {
    let t = Test::start("sjr-rerun", &[]).await;
    let vc = t.virtual_cluster("rerun").await;
    let api = t.jobs(&vc);
    t.apply_job(
        &vc,
        "nightly",
        &[("emulator/run-seconds", "1")],
        "  rerun: \"2024-01-01\"\n",
    )
    .await;
    let first = t
        .wait_job(&vc, "nightly", 60, "first run finished", finished)
        .await;
    assert!(is_true(&first, types::SUCCEEDED));

    // Another field changes (the apiserver here predates CEL, so it lets it through): refused.
    let pp = PatchParams::default();
    api.patch(
        "nightly",
        &pp,
        &Patch::Merge(&json!({"spec": {"releaseLabel": "emr-7.2.0-latest"}})),
    )
    .await
    .expect("change releaseLabel");
    let refused = t
        .wait_job(&vc, "nightly", 30, "spec change refused", |j| {
            is_true(j, types::SPEC_CHANGE_REFUSED)
        })
        .await;
    assert_eq!(
        cond(&refused, types::SPEC_CHANGE_REFUSED).unwrap().1,
        "SpecChangedAfterSubmission"
    );
    assert!(
        is_true(&refused, types::SUCCEEDED),
        "the finished result stands"
    );
    let reasons: Vec<String> = t
        .events_until(&vc, "nightly", "SpecChangedAfterSubmission")
        .await
        .iter()
        .filter_map(|e| e.reason.clone())
        .collect();
    assert!(
        reasons.contains(&"SpecChangedAfterSubmission".to_string()),
        "{reasons:?}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        started_ids(&t.bed.emulator.start_job_run_requests(Some(&vc.id)).await).len(),
        1
    );

    // Revert it and change rerun: a second attempt runs.
    api.patch(
        "nightly",
        &pp,
        &Patch::Merge(
            &json!({"spec": {"releaseLabel": "emr-6.15.0-latest", "rerun": "2024-01-02"}}),
        ),
    )
    .await
    .expect("rerun");
    let second = t
        .wait_job(&vc, "nightly", 60, "second run finished", |j| {
            status_of(j).attempt == 2 && finished(j)
        })
        .await;
    assert!(is_true(&second, types::SUCCEEDED));
    assert!(condition::find(&status_of(&second).conditions, types::SPEC_CHANGE_REFUSED).is_none());
    assert_eq!(
        status_of(&second).submitted_rerun.as_deref(),
        Some("2024-01-02")
    );
    let requests = t.bed.emulator.start_job_run_requests(Some(&vc.id)).await;
    assert_eq!(started_ids(&requests).len(), 2);
    assert_eq!(
        requests.last().unwrap()["body"]["releaseLabel"].as_str(),
        Some("emr-6.15.0-latest")
    );
}

#[tokio::test]
async fn a_hundred_jobs_in_three_virtual_clusters_complete_and_polling_costs_per_virtual_cluster() {
    let t = Test::start("sjr-hundred", &[]).await;
    let vcs = [
        t.virtual_cluster("h1").await,
        t.virtual_cluster("h2").await,
        t.virtual_cluster("h3").await,
    ];
    let scenario = [
        ("emulator/pending-seconds", "1"),
        ("emulator/submitted-seconds", "1"),
        ("emulator/run-seconds", "2"),
    ];
    let started = Instant::now();
    let mut names: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for i in 0..100 {
        let v = i % 3;
        let name = format!("job-{i:03}");
        t.bed
            .apply_yaml(&job_manifest(&t.id, &vcs[v], &name, &scenario, ""))
            .await;
        names.entry(v).or_default().push(name);
    }
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let mut done = 0;
        for (v, vc) in vcs.iter().enumerate() {
            let list = t.jobs(vc).list(&ListParams::default()).await.expect("list");
            done += list
                .items
                .iter()
                .filter(|j| names[&v].contains(&j.name_any()) && is_true(j, types::SUCCEEDED))
                .count();
        }
        if done == 100 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{done}/100 completed\n{}",
            t.op.log_tail(40)
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();

    let mut starts = 0;
    let mut ids = BTreeSet::new();
    let mut polls = 0;
    let mut describes = 0;
    for vc in &vcs {
        starts += t.calls(&vc.id, "StartJobRun").await.len();
        ids.extend(started_ids(
            &t.bed.emulator.start_job_run_requests(Some(&vc.id)).await,
        ));
        polls += t.calls(&vc.id, "ListJobRuns").await.len();
        describes += t.calls(&vc.id, "DescribeJobRun").await.len();
    }
    eprintln!(
        "100 jobs in {elapsed:.1}s: {starts} StartJobRun, {polls} ListJobRuns, {describes} DescribeJobRun"
    );
    assert_eq!(ids.len(), 100);
    assert_eq!(starts, 100, "no StartJobRun was sent twice");
    // The operator polls each virtual cluster at most once per young interval (1 s here), plus
    // one list of finished runs now and then; describing every job on every tick would be
    // about 100 calls per second.
    let ticks = elapsed.ceil() as usize + 1;
    let per_vc_budget = 3 * vcs.len() * ticks;
    assert!(
        polls + describes <= per_vc_budget,
        "{polls} lists + {describes} describes in {ticks} ticks exceed {per_vc_budget}"
    );
    assert!(describes <= 100, "{describes} describes for 100 jobs");
}

#[tokio::test]
async fn watch_namespaces_leaves_jobs_elsewhere_alone() {
    let bed = bed().await;
    let watched = bed.unique("watched");
    let t = Test::start("sjr-watch", &[&format!("--watch-namespaces={watched}")]).await;
    let inside = t.virtual_cluster_in("watched", &watched).await;
    let outside = t.virtual_cluster("unwatched").await;

    // The unwatched job first, so it has had every chance to be picked up.
    t.apply_job(&outside, "ignored", &[("emulator/run-seconds", "1")], "")
        .await;
    t.apply_job(&inside, "served", &[("emulator/run-seconds", "1")], "")
        .await;
    let served = t
        .wait_job(&inside, "served", 60, "served finished", finished)
        .await;
    assert!(is_true(&served, types::SUCCEEDED), "{:#?}", served.status);

    let ignored = t.jobs(&outside).get("ignored").await.expect("get ignored");
    assert_eq!(ignored.status, None, "an unwatched job got a status");
    assert!(
        ignored.finalizers().is_empty(),
        "{:?}",
        ignored.finalizers()
    );
    let started = t
        .bed
        .emulator
        .start_job_run_requests(Some(&outside.id))
        .await;
    assert!(started.is_empty(), "{started:#?}");
}

#[path = "spark_job_run/tenancy.rs"]
mod tenancy;

#[path = "spark_job_run/fairness.rs"]
mod fairness;

/// After a restart the poller knows no run, and status is proven before it is acted on: the
/// jobs still running are proven by the first ListJobRuns of their virtual cluster (each run
/// carries its object's client token), not by one DescribeJobRun each.
#[tokio::test]
async fn a_restarted_operator_proves_running_jobs_with_one_list_not_a_describe_each() {
    let mut t = Test::start("sjr-reprove", &[]).await;
    let vc = t.virtual_cluster("reprove").await;
    let names: Vec<String> = (0..6).map(|i| format!("long-{i}")).collect();
    for name in &names {
        t.apply_job(&vc, name, &[("emulator/run-seconds", "90")], "")
            .await;
    }
    for name in &names {
        t.wait_job(&vc, name, 60, "running", |j| {
            status_of(j).state.as_deref() == Some("RUNNING")
        })
        .await;
    }
    t.op.kill();
    let describes_before = t.calls(&vc.id, "DescribeJobRun").await.len();
    let lists_before = t.calls(&vc.id, "ListJobRuns").await.len();
    t.op.start().await;
    // Proven runs are polled again; an unproven one never is.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let polled =
            t.op.metrics()
                .await
                .lines()
                .find_map(|l| l.strip_prefix("emr_operator_tracked_objects{map=\"poller_runs\"} "))
                .and_then(|v| v.trim().parse::<usize>().ok());
        if polled == Some(names.len()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "runs polled after the restart: {polled:?}\n{}",
            t.op.log_tail(40)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let describes = t.calls(&vc.id, "DescribeJobRun").await.len() - describes_before;
    let lists = t.calls(&vc.id, "ListJobRuns").await.len() - lists_before;
    assert_eq!(describes, 0, "{describes} DescribeJobRun after the restart");
    assert!(lists >= 1, "proven without a list?");
    for name in &names {
        let job = t.jobs(&vc).get(name).await.expect("get");
        assert_eq!(status_of(&job).state.as_deref(), Some("RUNNING"));
        assert!(status_of(&job).job_run_id.is_some(), "{name} lost its run");
    }
}

/// Runs that finished while the operator was down are proven by one list of finished runs (not a
/// DescribeJobRun each), and their end is written at once.
#[tokio::test]
async fn runs_that_finished_while_the_operator_was_down_are_proven_by_one_list() {
    let mut t = Test::start("sjr-reprove-done", &[]).await;
    let vc = t.virtual_cluster("reprove-done").await;
    let names: Vec<String> = (0..6).map(|i| format!("short-{i}")).collect();
    for name in &names {
        t.apply_job(&vc, name, &[("emulator/run-seconds", "6")], "")
            .await;
    }
    let mut ids = Vec::new();
    for name in &names {
        let job = t
            .wait_job(&vc, name, 60, "running", |j| {
                status_of(j).state.as_deref() == Some("RUNNING")
            })
            .await;
        ids.push(
            status_of(&job)
                .job_run_id
                .expect("a running job has its run"),
        );
    }
    t.op.kill();
    // Wait until EMR has finished every run the stopped operator still shows RUNNING.
    let deadline = Instant::now() + Duration::from_secs(60);
    for id in &ids {
        loop {
            let run = t
                .bed
                .aws
                .emr
                .describe_job_run(&vc.id, id)
                .await
                .expect("describe");
            if run.state.is_terminal() {
                break;
            }
            assert!(Instant::now() < deadline, "run {id} never finished");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let describes_before = t.calls(&vc.id, "DescribeJobRun").await.len();
    t.op.start().await;
    for name in &names {
        let job = t.wait_job(&vc, name, 60, "completed", finished).await;
        assert!(is_true(&job, types::SUCCEEDED), "{name}: {:#?}", job.status);
    }
    let describes = t.calls(&vc.id, "DescribeJobRun").await.len() - describes_before;
    assert_eq!(describes, 0, "{describes} DescribeJobRun after the restart");
    let requests = t.bed.emulator.start_job_run_requests(Some(&vc.id)).await;
    assert_eq!(started_ids(&requests).len(), names.len(), "{requests:#?}");
}

/// The caches drop `managedFields` and the last-applied annotation (a second copy of the spec
/// that client-side `kubectl apply` and Argo CD's default sync write); nothing the operator
/// writes back may erase them, or another tool's annotation, on the server.
#[tokio::test]
async fn a_job_applied_client_side_keeps_its_annotations_through_the_operators_writes() {
    let t = Test::start("sjr-lean", &[]).await;
    let vc = t.virtual_cluster("lean").await;
    let last_applied = r#"{"apiVersion":"emr-on-eks.dev/v1alpha1","kind":"SparkJobRun"}"#;
    let manifest = job_manifest(&t.id, &vc, "applied", &[("emulator/run-seconds", "1")], "")
        .replacen(
            "metadata:\n",
            &format!(
                "metadata:\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: '{last_applied}'\n    argocd.argoproj.io/tracking-id: 'app:emr-on-eks.dev/SparkJobRun:ns/applied'\n"
            ),
            1,
        );
    let _: SparkJobRun = t.bed.apply(&manifest).await;
    let job = t
        .wait_job(&vc, "applied", 60, "applied finished", finished)
        .await;
    assert!(is_true(&job, types::SUCCEEDED), "{:#?}", job.status);
    let annotations = job.annotations();
    assert_eq!(
        annotations
            .get("kubectl.kubernetes.io/last-applied-configuration")
            .map(String::as_str),
        Some(last_applied)
    );
    assert!(annotations.contains_key("argocd.argoproj.io/tracking-id"));
}

impl Test {
    /// `emr_operator_tracked_objects{map}` of the operator under test.
    async fn tracked(&self, map: &str) -> Option<usize> {
        let prefix = format!("emr_operator_tracked_objects{{map=\"{map}\"}} ");
        self.op
            .metrics()
            .await
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.trim().parse().ok())
    }

    /// Waits (up to 30 s) until `tracked(map)` is `count`.
    async fn wait_tracked(&self, map: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = self.tracked(map).await;
            if now == Some(count) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{map}: {now:?}, never {count}\n{}",
                self.op.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

/// Finished jobs are cached settled (their reference, state and TTL, not the whole object), and
/// everything that can still happen to them works from that form: a spec edit is refused, a
/// deletion lets the object go, a TTL deletes it. A restarted operator settles them again from
/// its first list without an EMR call or a write.
#[tokio::test]
async fn finished_jobs_are_cached_settled_and_edits_deletions_and_ttls_still_work() {
    let mut t = Test::start("sjr-settled", &[]).await;
    let vc = t.virtual_cluster("settled").await;
    let api = t.jobs(&vc);
    let quick = [("emulator/run-seconds", "1")];
    for name in ["kept", "edited", "deleted"] {
        t.apply_job(&vc, name, &quick, "").await;
    }
    t.apply_job(&vc, "expiring", &quick, "  ttlSecondsAfterFinished: 20\n")
        .await;
    for name in ["kept", "edited", "deleted", "expiring"] {
        t.wait_job(&vc, name, 60, "finished", finished).await;
    }
    t.wait_tracked("sparkjobrun_cache_settled", 4).await;
    t.wait_tracked("sparkjobrun_cache_whole", 0).await;
    let kept_version = api.get("kept").await.expect("get").resource_version();

    api.patch(
        "edited",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"releaseLabel": "emr-7.2.0-latest"}})),
    )
    .await
    .expect("change releaseLabel");
    let refused = t
        .wait_job(&vc, "edited", 30, "spec change refused", |j| {
            is_true(j, types::SPEC_CHANGE_REFUSED)
        })
        .await;
    assert!(is_true(&refused, types::SUCCEEDED), "the result stands");

    api.delete("deleted", &DeleteParams::default())
        .await
        .expect("delete");
    wait_gone(&api, "deleted", Duration::from_secs(30), "deleted job").await;
    // Its TTL (20 s after it finished) passes while it is settled.
    wait_gone(
        &api,
        "expiring",
        Duration::from_secs(60),
        "job past its TTL",
    )
    .await;
    // The refused edit is settled again once its refusal is written.
    t.wait_tracked("sparkjobrun_cache_settled", 2).await;

    let calls_before =
        t.calls(&vc.id, "DescribeJobRun").await.len() + t.calls(&vc.id, "ListJobRuns").await.len();
    t.op.kill();
    t.op.start().await;
    t.wait_tracked("sparkjobrun_cache_settled", 2).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let calls =
        t.calls(&vc.id, "DescribeJobRun").await.len() + t.calls(&vc.id, "ListJobRuns").await.len();
    assert_eq!(
        calls, calls_before,
        "EMR calls for finished jobs after a restart"
    );
    assert_eq!(
        api.get("kept").await.expect("get").resource_version(),
        kept_version,
        "a settled job was written"
    );
    assert_eq!(
        started_ids(&t.bed.emulator.start_job_run_requests(Some(&vc.id)).await).len(),
        4,
        "one run per job"
    );
}
