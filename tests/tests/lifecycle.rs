//! The run lifecycle on the bed (issue 12): `ttlSecondsAfterFinished` deletes a finished job on
//! time with no EMR call, `suspend` holds a job back with no EMR call and resuming submits
//! attempt 1, and `VirtualCluster.maxConcurrentJobRuns` never lets more job runs be active in
//! the emulator than the limit, also across an operator restart. What EMR did is read from the
//! emulator (its call log and its job runs), never from the operator's own status.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use emr_api::condition::{self, ConditionStatus};
use emr_api::spark_job_run::{condition_types as types, reasons};
use emr_api::{SparkJobRun, VirtualCluster};
use emr_operator_tests::{Bed, Operator, TEST_LABEL, bed, wait_for, wait_gone};
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

const EKS_CLUSTER: &str = "lifecycle-tests";
const ENTRY_POINT: &str = "local:///usr/lib/spark/examples/src/main/python/pi.py";

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
    async fn start(prefix: &str) -> Test {
        let bed = bed().await;
        let id = bed.unique(prefix);
        let op = bed.start_operator(&id, &[]).await;
        Test { bed, id, op }
    }

    /// A Ready VirtualCluster; `spec_extra` is added to its spec (two-space indented YAML).
    async fn virtual_cluster(&self, prefix: &str, spec_extra: &str) -> Vc {
        self.bed.eks_cluster(EKS_CLUSTER).await;
        let trust = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"
        }]});
        let role_arn = self
            .bed
            .iam_role(&self.bed.unique("life-role"), &trust)
            .await;
        let name = self.bed.unique(prefix);
        let namespace = self.bed.unique(prefix);
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
{spec_extra}
"#,
                id = self.id
            ))
            .await;
        let vc = wait_for(
            &Api::<VirtualCluster>::all(self.bed.client.clone()),
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
        Vc {
            name,
            namespace,
            id: vc.status.and_then(|s| s.virtual_cluster_id).unwrap(),
            role_arn,
        }
    }

    fn jobs(&self, vc: &Vc) -> Api<SparkJobRun> {
        Api::namespaced(self.bed.client.clone(), &vc.namespace)
    }

    /// A pi.py job running `run_seconds` in the emulator; `metadata_extra` and `spec_extra` are
    /// added to its metadata and spec (two-space indented YAML).
    async fn apply_job(
        &self,
        vc: &Vc,
        name: &str,
        run_seconds: &str,
        metadata_extra: &str,
        spec_extra: &str,
    ) -> SparkJobRun {
        self.bed
            .apply(&format!(
                r#"
apiVersion: emr-on-eks.dev/v1alpha1
kind: SparkJobRun
metadata:
  name: {name}
  namespace: {namespace}
  labels: {{{TEST_LABEL}: {id}}}
{metadata_extra}
spec:
  virtualCluster: {{name: {vc_name}}}
  executionRoleArn: "{role}"
  releaseLabel: emr-6.15.0-latest
  jobDriver:
    sparkSubmitJobDriver: {{entryPoint: "{ENTRY_POINT}"}}
  tags: {{"emulator/run-seconds": "{run_seconds}"}}
{spec_extra}
"#,
                namespace = vc.namespace,
                id = self.id,
                vc_name = vc.name,
                role = vc.role_arn,
            ))
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
        let waited = tokio::time::timeout(
            Duration::from_secs(secs + 5),
            wait_for(&self.jobs(vc), name, Duration::from_secs(secs), what, pred),
        )
        .await;
        waited.unwrap_or_else(|_| {
            panic!("{what}: timed out; operator log:\n{}", self.op.log_tail(60))
        })
    }

    /// Events about `name` once one with `reason` is there (up to 15 s: an Event is written
    /// after the change it tells of).
    async fn events_until(&self, vc: &Vc, name: &str, reason: &str) -> Vec<Event> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let api: Api<Event> = Api::namespaced(self.bed.client.clone(), &vc.namespace);
            let events: Vec<Event> = api
                .list(&ListParams::default())
                .await
                .expect("list events")
                .items
                .into_iter()
                .filter(|e| e.involved_object.name.as_deref() == Some(name))
                .collect();
            if Instant::now() >= deadline
                || events.iter().any(|e| e.reason.as_deref() == Some(reason))
            {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The emulator's logged emr-containers calls about `vc`, of `operation` if given.
    async fn emr_calls(&self, vc: &Vc, operation: Option<&str>) -> Vec<Value> {
        let mut filters = vec![
            ("service", "emr-containers"),
            ("virtualClusterId", vc.id.as_str()),
        ];
        if let Some(op) = operation {
            filters.push(("operation", op));
        }
        self.bed.emulator.calls(&filters).await
    }
}

fn cond(job: &SparkJobRun, type_: &str) -> Option<(ConditionStatus, String)> {
    let status = job.status.clone().unwrap_or_default();
    condition::find(&status.conditions, type_).map(|c| (c.status, c.reason.clone()))
}

fn is_true(job: &SparkJobRun, type_: &str) -> bool {
    job.status
        .as_ref()
        .is_some_and(|s| condition::is_true(&s.conditions, type_))
}

/// The newest entry of the emulator's call log.
async fn last_seq(bed: &Bed) -> u64 {
    bed.emulator
        .calls(&[])
        .await
        .iter()
        .filter_map(|c| c["seq"].as_u64())
        .max()
        .unwrap_or(0)
}

fn reasons_of(events: &[Event]) -> Vec<String> {
    events.iter().filter_map(|e| e.reason.clone()).collect()
}

/// Calls after `seq` in the call log that name job run `id` or are not read-only.
fn calls_about(calls: &[Value], after_seq: u64, job_run_id: &str) -> Vec<Value> {
    calls
        .iter()
        .filter(|c| c["seq"].as_u64().is_some_and(|s| s > after_seq))
        .filter(|c| {
            c["jobRunId"].as_str() == Some(job_run_id)
                || !matches!(c["operation"].as_str(), Some("ListJobRuns"))
        })
        .cloned()
        .collect()
}

#[tokio::test]
async fn ttl_deletes_a_finished_job_on_time_with_no_emr_call() {
    let t = Test::start("life-ttl").await;
    let vc = t.virtual_cluster("ttl", "").await;
    const TTL: i64 = 8;
    t.apply_job(
        &vc,
        "short-lived",
        "1",
        "",
        &format!("  ttlSecondsAfterFinished: {TTL}"),
    )
    .await;
    let done = t
        .wait_job(&vc, "short-lived", 60, "Succeeded", |j| {
            is_true(j, types::SUCCEEDED)
        })
        .await;
    let status = done.status.clone().unwrap();
    let job_run_id = status.job_run_id.clone().unwrap();
    let finished: DateTime<Utc> = status.finished_at.unwrap().as_datetime();
    let expiry = finished + chrono::TimeDelta::seconds(TTL);
    let last_seq = last_seq(t.bed).await;

    // Still there before its time...
    let api = t.jobs(&vc);
    while Utc::now() + chrono::TimeDelta::seconds(1) < expiry {
        assert!(
            api.get_opt("short-lived").await.unwrap().is_some(),
            "deleted before finishedAt + ttl ({expiry})"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // ...gone once it has passed, without waiting for a resync.
    wait_gone(&api, "short-lived", Duration::from_secs(20), "TTL deletion").await;
    assert!(
        Utc::now() >= expiry,
        "gone before finishedAt + ttl ({expiry})"
    );
    let events = t
        .events_until(&vc, "short-lived", reasons::TTL_EXPIRED)
        .await;
    assert_eq!(
        reasons_of(&events)
            .iter()
            .filter(|r| *r == reasons::TTL_EXPIRED)
            .count(),
        1,
        "{events:?}"
    );
    // No EMR call came of the deletion: nothing about the run, nothing but the poller's lists.
    let after = calls_about(&t.emr_calls(&vc, None).await, last_seq, &job_run_id);
    assert!(
        after.is_empty(),
        "EMR calls after the run finished: {after:#?}"
    );
    assert_eq!(t.emr_calls(&vc, Some("StartJobRun")).await.len(), 1);
    assert!(t.emr_calls(&vc, Some("CancelJobRun")).await.is_empty());
}

#[tokio::test]
async fn a_ttl_on_an_argo_cd_tracked_object_is_warned_and_only_there() {
    let t = Test::start("life-ttl-argo").await;
    let vc = t.virtual_cluster("argo", "").await;
    // Argo CD's annotation tracking; a long TTL so the objects stay for the checks.
    let tracking = "  annotations: {\"argocd.argoproj.io/tracking-id\": \"etl:emr-on-eks.dev/SparkJobRun:ns/tracked\"}";
    let ttl = "  ttlSecondsAfterFinished: 3600";
    t.apply_job(&vc, "tracked", "1", tracking, ttl).await;
    t.apply_job(&vc, "untracked", "1", "", ttl).await;
    t.apply_job(&vc, "tracked-no-ttl", "1", tracking, "").await;
    for name in ["tracked", "untracked", "tracked-no-ttl"] {
        t.wait_job(&vc, name, 60, "Succeeded", |j| is_true(j, types::SUCCEEDED))
            .await;
    }
    let events = t
        .events_until(&vc, "tracked", reasons::TTL_ON_TRACKED_OBJECT)
        .await;
    let warnings: Vec<&Event> = events
        .iter()
        .filter(|e| e.reason.as_deref() == Some(reasons::TTL_ON_TRACKED_OBJECT))
        .collect();
    assert_eq!(warnings.len(), 1, "{events:?}");
    assert_eq!(warnings[0].type_.as_deref(), Some("Warning"));
    assert!(
        warnings[0]
            .message
            .as_deref()
            .is_some_and(|m| m.contains("recreates it from Git")),
        "{warnings:?}"
    );
    for quiet in ["untracked", "tracked-no-ttl"] {
        let events = t.events_until(&vc, quiet, "never").await;
        assert!(
            !reasons_of(&events).contains(&reasons::TTL_ON_TRACKED_OBJECT.to_owned()),
            "{quiet}: {events:?}"
        );
    }
    // Long TTLs: nothing deleted yet.
    for name in ["tracked", "untracked"] {
        assert!(t.jobs(&vc).get_opt(name).await.unwrap().is_some());
    }
}

#[tokio::test]
async fn suspend_makes_no_calls_and_resuming_submits_attempt_1() {
    let t = Test::start("life-suspend").await;
    let vc = t.virtual_cluster("suspend", "").await;
    let before = last_seq(t.bed).await;
    t.apply_job(&vc, "held", "1", "", "  suspend: true").await;
    let held = t
        .wait_job(&vc, "held", 30, "Suspended", |j| {
            is_true(j, types::SUSPENDED)
        })
        .await;
    assert_eq!(
        cond(&held, types::SUBMITTED),
        Some((ConditionStatus::False, reasons::SUSPENDED.into()))
    );
    assert!(!is_true(&held, types::FAILED));
    assert_eq!(held.status.as_ref().unwrap().attempt, 0);
    // A few poll intervals later: still no call about jobs (the VirtualCluster controller's
    // own reads of its virtual cluster aside).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let calls: Vec<Value> = t
        .emr_calls(&vc, None)
        .await
        .into_iter()
        .filter(|c| c["seq"].as_u64().is_some_and(|s| s > before))
        .filter(|c| c["operation"] != "DescribeVirtualCluster")
        .collect();
    assert!(calls.is_empty(), "calls while suspended: {calls:#?}");
    let events = t.events_until(&vc, "held", reasons::SUSPENDED).await;
    assert!(
        reasons_of(&events).contains(&reasons::SUSPENDED.to_owned()),
        "{events:?}"
    );

    // Resumed: submitted as attempt 1, exactly one StartJobRun.
    t.jobs(&vc)
        .patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"suspend": false}})),
        )
        .await
        .unwrap();
    let started = t
        .wait_job(&vc, "held", 60, "started", |j| {
            j.status.as_ref().is_some_and(|s| s.job_run_id.is_some())
        })
        .await;
    let status = started.status.clone().unwrap();
    assert_eq!(status.attempt, 1);
    assert_eq!(
        cond(&started, types::SUSPENDED),
        Some((ConditionStatus::False, reasons::RESUMED.into()))
    );
    // Suspending a started job changes nothing for its run: it completes, never cancelled.
    t.jobs(&vc)
        .patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"suspend": true}})),
        )
        .await
        .unwrap();
    let done = t
        .wait_job(&vc, "held", 60, "Succeeded", |j| {
            is_true(j, types::SUCCEEDED)
        })
        .await;
    assert!(cond(&done, types::SPEC_CHANGE_REFUSED).is_none());
    let starts = t.emr_calls(&vc, Some("StartJobRun")).await;
    assert_eq!(starts.len(), 1, "{starts:#?}");
    assert!(t.emr_calls(&vc, Some("CancelJobRun")).await.is_empty());
}

/// The most job runs active at once in `runs`, from EMR's own createdAt and finishedAt (a run
/// finishing at the instant another starts is not counted with it).
fn most_at_once(runs: &[emr_aws::JobRunInfo]) -> usize {
    let mut edges: Vec<(DateTime<Utc>, i32)> = Vec::new();
    for run in runs {
        edges.push((run.created_at.unwrap(), 1));
        edges.push((run.finished_at.unwrap_or(DateTime::<Utc>::MAX_UTC), -1));
    }
    // At the same instant the end comes first.
    edges.sort();
    let (mut now, mut most) = (0_i32, 0_i32);
    for (_, step) in edges {
        now += step;
        most = most.max(now);
    }
    usize::try_from(most).unwrap()
}

#[tokio::test]
async fn a_queue_of_20_with_a_limit_of_5_never_has_more_than_5_active_in_emr() {
    let mut t = Test::start("life-queue").await;
    let vc = t
        .virtual_cluster("queue", "  maxConcurrentJobRuns: 5")
        .await;
    // All 20 wait when the operator starts (a slot freed while they are still being applied
    // would go to a batch job before the urgent one exists).
    t.op.kill();
    let names: Vec<String> = (0..19).map(|i| format!("batch-{i:02}")).collect();
    for name in &names {
        t.apply_job(&vc, name, "3", "", "").await;
    }
    // Created last, admitted first among those waiting.
    t.apply_job(&vc, "urgent", "3", "", "  priority: 100").await;
    t.op.start().await;

    // Watch EMR's live view while the queue drains; an operator restart half-way rebuilds the
    // count from status alone.
    let api = t.jobs(&vc);
    let mut most_live = 0;
    let mut saw_queued = None;
    let mut restarted = false;
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let active = t
            .bed
            .aws
            .emr
            .list_job_runs(&vc.id, &emr_aws::JobRunState::ACTIVE, None)
            .await
            .unwrap();
        most_live = most_live.max(active.len());
        let jobs = api.list(&ListParams::default()).await.unwrap().items;
        if saw_queued.is_none() {
            saw_queued = jobs.iter().find(|j| is_true(j, types::QUEUED)).cloned();
        }
        let done = jobs.iter().filter(|j| is_true(j, types::SUCCEEDED)).count();
        if !restarted && done >= 8 {
            t.op.kill();
            tokio::time::sleep(Duration::from_secs(2)).await;
            t.op.start().await;
            restarted = true;
        }
        if done == 20 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{done} of 20 done; operator log:\n{}",
            t.op.log_tail(60)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(restarted);
    assert!(most_live <= 5, "{most_live} job runs active at once in EMR");

    // EMR's record of every run: exactly one per job, never more than 5 overlapping.
    let runs = t
        .bed
        .aws
        .emr
        .list_job_runs(&vc.id, &[], None)
        .await
        .unwrap();
    assert_eq!(runs.len(), 20, "one job run per SparkJobRun");
    let tokens: BTreeSet<_> = runs.iter().map(|r| r.client_token.clone()).collect();
    assert_eq!(tokens.len(), 20);
    let most = most_at_once(&runs);
    assert!(most <= 5, "{most} job runs overlapped in EMR");
    assert_eq!(most, 5, "the limit is used, not just respected");

    // Queued jobs said so, with their place.
    let queued = saw_queued.expect("some job was seen Queued");
    let message = queued.status.unwrap().message.unwrap_or_default();
    assert!(
        message.contains("position") && message.contains("maxConcurrentJobRuns 5"),
        "{message}"
    );

    // The urgent job jumped the queue: among the first five runs EMR started.
    let mut by_start: Vec<&emr_aws::JobRunInfo> = runs.iter().collect();
    by_start.sort_by_key(|r| r.created_at);
    let urgent = api
        .get("urgent")
        .await
        .unwrap()
        .status
        .unwrap()
        .job_run_id
        .unwrap();
    let rank = by_start.iter().position(|r| r.id == urgent).unwrap();
    assert!(rank < 5, "urgent was run number {}", rank + 1);
    // Every job was admitted once: attempt 1 everywhere, Queued False where it had waited.
    for job in api.list(&ListParams::default()).await.unwrap().items {
        let status = job.status.clone().unwrap();
        assert_eq!(status.attempt, 1);
        if let Some((state, reason)) = cond(&job, types::QUEUED) {
            assert_eq!(
                (state, reason.as_str()),
                (ConditionStatus::False, reasons::ADMITTED)
            );
        }
    }
}
