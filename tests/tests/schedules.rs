//! ScheduledSparkJobRun against the bed: the real operator binary, a real apiserver and the EMR
//! emulator. Schedules are `@every` a few seconds so that slots come during the test; every
//! claim is checked in what EMR saw (the emulator's StartJobRun log and job runs), not only in
//! the operator's own status.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use emr_api::condition::{self, ConditionStatus};
use emr_api::scheduled_spark_job_run::{SCHEDULE_LABEL, SLOT_ANNOTATION, condition_types, reasons};
use emr_api::{ScheduledSparkJobRun, SparkJobRun, VirtualCluster};
use emr_operator_tests::{Bed, Operator, TEST_LABEL, bed, wait_for};
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const EKS_CLUSTER: &str = "schedule-tests";

struct Test {
    bed: &'static Bed,
    id: String,
    op: Operator,
    namespace: String,
    vc: String,
    vc_id: String,
    role_arn: String,
}

impl Test {
    /// An operator for this test and a Ready VirtualCluster of its own.
    async fn start(prefix: &str) -> Test {
        let bed = bed().await;
        let id = bed.unique(prefix);
        let op = bed.start_operator(&id, &[]).await;
        bed.eks_cluster(EKS_CLUSTER).await;
        let trust = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"
        }]});
        let role_arn = bed.iam_role(&bed.unique("ssjr-role"), &trust).await;
        let vc = bed.unique(prefix);
        let namespace = bed.unique(prefix);
        bed.apply_yaml(
            &json!({
                "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "VirtualCluster",
                "metadata": {"name": vc, "labels": {TEST_LABEL: id}},
                "spec": {"eksClusterName": EKS_CLUSTER, "namespace": {"name": namespace},
                         "executionRoles": [{"arn": role_arn}]}
            })
            .to_string(),
        )
        .await;
        let ready: VirtualCluster = wait_for(
            &Api::all(bed.client.clone()),
            &vc,
            Duration::from_secs(90),
            "VirtualCluster Ready",
            |vc: &VirtualCluster| {
                vc.status.as_ref().is_some_and(|s| {
                    condition::is_true(&s.conditions, "Ready") && s.virtual_cluster_id.is_some()
                })
            },
        )
        .await;
        let vc_id = ready.status.unwrap().virtual_cluster_id.unwrap();
        Test {
            bed,
            id,
            op,
            namespace,
            vc,
            vc_id,
            role_arn,
        }
    }

    fn schedules(&self) -> Api<ScheduledSparkJobRun> {
        Api::namespaced(self.bed.client.clone(), &self.namespace)
    }

    fn jobs(&self) -> Api<SparkJobRun> {
        Api::namespaced(self.bed.client.clone(), &self.namespace)
    }

    /// A schedule whose runs take `run_seconds` in the emulator; `extra` is merged into the spec.
    fn manifest(&self, name: &str, schedule: &str, run_seconds: u32, extra: Value) -> Value {
        let mut spec = json!({
            "schedule": schedule,
            "template": {
                "metadata": {"labels": {TEST_LABEL: self.id}},
                "spec": {
                    "virtualCluster": {"name": self.vc},
                    "executionRoleArn": self.role_arn,
                    "releaseLabel": "emr-7.2.0-latest",
                    "jobDriver": {"sparkSubmitJobDriver": {
                        "entryPoint": "local:///usr/lib/spark/examples/src/main/python/pi.py"}},
                    "tags": {"emulator/pending-seconds": "0", "emulator/submitted-seconds": "0",
                             "emulator/run-seconds": run_seconds.to_string()}
                }
            }
        });
        for (k, v) in extra.as_object().unwrap() {
            if k == "tags" {
                for (tk, tv) in v.as_object().unwrap() {
                    spec["template"]["spec"]["tags"][tk] = tv.clone();
                }
            } else {
                spec[k] = v.clone();
            }
        }
        json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "ScheduledSparkJobRun",
            "metadata": {"name": name, "namespace": self.namespace, "labels": {TEST_LABEL: self.id}},
            "spec": spec
        })
    }

    async fn apply(&self, name: &str, schedule: &str, run_seconds: u32, extra: Value) {
        let manifest = self.manifest(name, schedule, run_seconds, extra);
        self.bed.apply_yaml(&manifest.to_string()).await;
    }

    async fn patch_spec(&self, name: &str, spec: Value) {
        self.schedules()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": spec})),
            )
            .await
            .unwrap();
    }

    async fn wait(
        &self,
        name: &str,
        seconds: u64,
        what: &str,
        pred: impl Fn(&ScheduledSparkJobRun) -> bool,
    ) -> ScheduledSparkJobRun {
        wait_for(
            &self.schedules(),
            name,
            Duration::from_secs(seconds),
            what,
            pred,
        )
        .await
    }

    /// The schedule's children as the apiserver has them.
    async fn children(&self, name: &str) -> Vec<SparkJobRun> {
        self.jobs()
            .list(&ListParams::default().labels(&format!("{SCHEDULE_LABEL}={name}")))
            .await
            .unwrap()
            .items
    }

    /// The job runs EMR started in this test's virtual cluster for `schedule`'s children, by job
    /// run name (a StartJobRun retried with the same client token names the same job run).
    async fn starts(&self, schedule: &str) -> BTreeMap<String, BTreeSet<String>> {
        let mut starts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for request in self
            .bed
            .emulator
            .start_job_run_requests(Some(&self.vc_id))
            .await
        {
            let name = request["body"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if let (true, Some(id)) = (
                name.starts_with(&format!("{schedule}-")),
                request["jobRunId"].as_str(),
            ) {
                starts.entry(name).or_default().insert(id.to_owned());
            }
        }
        starts
    }

    /// EMR's job runs of `schedule` as (name, createdAt, finishedAt, state), oldest first.
    async fn job_runs(
        &self,
        schedule: &str,
    ) -> Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>, String)> {
        let emr = emr_aws::aws_sdk_emrcontainers::Client::new(self.bed.sdk_config());
        let mut runs = Vec::new();
        let mut pages = emr
            .list_job_runs()
            .virtual_cluster_id(&self.vc_id)
            .into_paginator()
            .send();
        let time = |t: &emr_aws::aws_sdk_emrcontainers::primitives::DateTime| {
            DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()).unwrap()
        };
        while let Some(page) = pages.next().await {
            for run in page.unwrap().job_runs() {
                let name = run.name().unwrap_or_default().to_owned();
                if name.starts_with(&format!("{schedule}-")) {
                    runs.push((
                        name,
                        time(run.created_at().unwrap()),
                        run.finished_at().map(time),
                        run.state()
                            .map(|s| s.as_str().to_owned())
                            .unwrap_or_default(),
                    ));
                }
            }
        }
        runs.sort_by_key(|r| r.1);
        runs
    }
}

fn status(s: &ScheduledSparkJobRun) -> emr_api::ScheduledSparkJobRunStatus {
    s.status.clone().unwrap_or_default()
}

fn cond(s: &ScheduledSparkJobRun, type_: &str) -> Option<(ConditionStatus, String)> {
    condition::find(&status(s).conditions, type_).map(|c| (c.status, c.reason.clone()))
}

fn finished(job: &SparkJobRun) -> bool {
    job.status.as_ref().is_some_and(|s| {
        condition::is_true(&s.conditions, "Succeeded")
            || condition::is_true(&s.conditions, "Failed")
    })
}

/// Waits until every child has finished (after the schedule was suspended).
async fn all_finished(t: &Test, name: &str) -> Vec<SparkJobRun> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let children = t.children(name).await;
        if children.iter().all(finished) {
            return children;
        }
        assert!(
            Instant::now() < deadline,
            "children never finished: {children:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn forbid_never_overlaps_and_replace_cancels_the_active_run() {
    let t = Test::start("ssjr-conc").await;
    // Runs of 12 s every 5 s: under Allow they would overlap two or three deep.
    t.apply(
        "forbid",
        "@every 5s",
        12,
        json!({"concurrencyPolicy": "Forbid", "successfulRunsHistoryLimit": 20}),
    )
    .await;
    t.apply(
        "replace",
        "@every 5s",
        12,
        json!({"concurrencyPolicy": "Replace", "failedRunsHistoryLimit": 20}),
    )
    .await;
    // Enough slots for both policies to act several times.
    t.wait("forbid", 90, "three Forbid skips", |s| {
        status(s)
            .skipped
            .iter()
            .filter(|k| k.reason == reasons::CONCURRENCY_FORBIDDEN)
            .count()
            >= 3
    })
    .await;
    // Replace deletes the active child (its finalizer cancels the EMR job run): EMR shows it.
    let deadline = Instant::now() + Duration::from_secs(90);
    while t
        .job_runs("replace")
        .await
        .iter()
        .filter(|r| r.3 == "CANCELLED")
        .count()
        < 2
    {
        assert!(
            Instant::now() < deadline,
            "Replace cancelled fewer than two runs"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    t.patch_spec("forbid", json!({"suspend": true})).await;
    t.patch_spec("replace", json!({"suspend": true})).await;
    all_finished(&t, "forbid").await;

    let forbid = t.job_runs("forbid").await;
    assert!(forbid.len() >= 2, "{forbid:#?}");
    for pair in forbid.windows(2) {
        let previous_end = pair[0]
            .2
            .unwrap_or_else(|| panic!("{} never finished", pair[0].0));
        assert!(
            pair[1].1 >= previous_end,
            "Forbid let runs overlap: {pair:#?}"
        );
    }
    let replace = t.job_runs("replace").await;
    let cancelled = replace.iter().filter(|r| r.3 == "CANCELLED").count();
    assert!(cancelled >= 1, "Replace cancelled nothing: {replace:#?}");
    // Each Replace run was cancelled before its successor started: at most one was ever running
    // (cancellation takes a moment in EMR, so a run's end may trail its successor's creation
    // only by the cancel, never by a whole run).
    for pair in replace.windows(2) {
        assert!(
            pair[0].2.is_some(),
            "a replaced run was left running: {pair:#?}"
        );
    }
    for (schedule, runs) in [("forbid", &forbid), ("replace", &replace)] {
        for (name, ids) in t.starts(schedule).await {
            assert_eq!(ids.len(), 1, "{schedule}: {name} started as {ids:?}");
        }
        assert!(!runs.is_empty());
    }
}

#[tokio::test]
async fn history_limits_leave_exactly_n_children() {
    let t = Test::start("ssjr-hist").await;
    t.apply(
        "good",
        "@every 2s",
        1,
        json!({"successfulRunsHistoryLimit": 2}),
    )
    .await;
    t.apply(
        "bad",
        "@every 2s",
        1,
        json!({"failedRunsHistoryLimit": 1, "tags": {"emulator/outcome": "FAILED", "emulator/failure-reason": "USER_ERROR"}}),
    )
    .await;
    for name in ["good", "bad"] {
        t.wait(name, 90, "six runs", |s| {
            let st = status(s);
            st.last_schedule_time.is_some_and(|last| {
                let first = s
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .unwrap()
                    .0
                    .as_second();
                last.as_datetime().timestamp() - first >= 12
            })
        })
        .await;
        t.patch_spec(name, json!({"suspend": true})).await;
    }
    // Once every run has finished, the next reconcile prunes down to the limits.
    for (name, limit, result) in [("good", 2, "Succeeded"), ("bad", 1, "Failed")] {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let children = t.children(name).await;
            if children.iter().all(finished) && children.len() == limit {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: {} children: {children:#?}",
                children.len()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let s = t.schedules().get(name).await.unwrap();
        assert_eq!(status(&s).last_result.as_deref(), Some(result));
        // More runs were started than are kept.
        assert!(t.starts(name).await.len() > limit);
    }
}

#[tokio::test]
async fn suspend_makes_no_calls_and_resuming_starts_the_next_slot() {
    let t = Test::start("ssjr-susp").await;
    t.apply("held", "@every 2s", 1, json!({"suspend": true}))
        .await;
    let s = t
        .wait("held", 30, "Ready reason Suspended", |s| {
            cond(s, condition_types::READY)
                == Some((ConditionStatus::True, reasons::SUSPENDED.into()))
        })
        .await;
    assert_eq!(status(&s).next_schedule_time, None);
    // Several slots pass.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert!(t.children("held").await.is_empty());
    assert!(t.starts("held").await.is_empty());
    let resumed = Utc::now().timestamp();
    t.patch_spec("held", json!({"suspend": false})).await;
    t.wait("held", 30, "a run after resuming", |s| {
        status(s).last_schedule_time.is_some()
    })
    .await;
    // No slot passed while suspended was caught up: every run is for a slot after the resume.
    let children = t.children("held").await;
    assert!(!children.is_empty());
    for child in &children {
        let slot = DateTime::parse_from_rfc3339(&child.annotations()[SLOT_ANNOTATION]).unwrap();
        assert!(
            slot.timestamp() >= resumed,
            "a suspended slot was run: {child:#?}"
        );
    }
}

#[tokio::test]
async fn a_sigkill_at_slot_boundaries_still_gives_one_start_job_run_per_slot() {
    let mut t = Test::start("ssjr-kill").await;
    t.apply(
        "tick",
        "@every 3s",
        1,
        json!({"successfulRunsHistoryLimit": 100}),
    )
    .await;
    for _ in 0..4 {
        let s = t
            .wait("tick", 30, "a next slot", |s| {
                status(s).next_schedule_time.is_some()
            })
            .await;
        let next = status(&s).next_schedule_time.unwrap().as_datetime();
        // Kill the operator right at the slot, while it creates the child and writes status.
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait + Duration::from_millis(20)).await;
        t.op.kill();
        tokio::time::sleep(Duration::from_millis(500)).await;
        t.op.start().await;
        t.wait("tick", 30, "the killed slot decided", |s| {
            status(s)
                .decided_until
                .is_some_and(|d| d.as_datetime() >= next)
        })
        .await;
    }
    t.patch_spec("tick", json!({"suspend": true})).await;
    let children = all_finished(&t, "tick").await;
    let starts = t.starts("tick").await;
    let names: BTreeSet<String> = children.iter().map(|c| c.name_any()).collect();
    assert!(names.len() >= 4, "{names:?}");
    for (name, ids) in &starts {
        assert_eq!(ids.len(), 1, "{name} started as {ids:?}: {starts:#?}");
    }
    assert_eq!(names, starts.keys().cloned().collect::<BTreeSet<_>>());
    // One child per slot: the slots named by the children are distinct multiples of 3 s.
    let slots: BTreeSet<String> = children
        .iter()
        .map(|c| c.annotations()[SLOT_ANNOTATION].clone())
        .collect();
    assert_eq!(slots.len(), children.len());
}

#[tokio::test]
async fn an_invalid_schedule_is_a_condition_and_fixing_or_editing_it_moves_the_next_slot() {
    let t = Test::start("ssjr-edit").await;
    // The schema refuses what it can, naming the field.
    let refused = |manifest: Value| {
        let api = t.schedules();
        async move {
            let obj: ScheduledSparkJobRun = serde_json::from_value(manifest).unwrap();
            match api.create(&PostParams::default(), &obj).await {
                Err(kube::Error::Api(status)) => status.message,
                other => panic!("accepted: {other:?}"),
            }
        }
    };
    let message = refused(t.manifest("words", "every day at noon", 1, json!({}))).await;
    assert!(message.contains("spec.schedule"), "{message}");
    let message = refused(t.manifest(&"x".repeat(53), "@daily", 1, json!({}))).await;
    assert!(message.contains("metadata.name"), "{message}");
    let message =
        refused(t.manifest("zone", "@daily", 1, json!({"timeZone": "Europe/Ber lin"}))).await;
    assert!(message.contains("spec.timeZone"), "{message}");

    // What only the operator can tell: a minute 61, a zone that does not exist.
    t.apply("fixme", "61 * * * *", 1, json!({})).await;
    let s = t
        .wait("fixme", 30, "ScheduleValid=False", |s| {
            cond(s, condition_types::SCHEDULE_VALID).is_some_and(|c| c.0 == ConditionStatus::False)
        })
        .await;
    assert_eq!(
        cond(&s, condition_types::SCHEDULE_VALID).unwrap().1,
        reasons::INVALID_SCHEDULE
    );
    assert_eq!(status(&s).next_schedule_time, None);
    t.patch_spec(
        "fixme",
        json!({"schedule": "@daily", "timeZone": "Mars/Olympus"}),
    )
    .await;
    t.wait("fixme", 30, "InvalidTimeZone", |s| {
        cond(s, condition_types::SCHEDULE_VALID)
            == Some((ConditionStatus::False, reasons::INVALID_TIME_ZONE.into()))
    })
    .await;
    // Fixed, it resumes by itself.
    t.patch_spec(
        "fixme",
        json!({"schedule": "0 0 1 1 *", "timeZone": "Europe/Berlin"}),
    )
    .await;
    let yearly = t
        .wait("fixme", 30, "ScheduleValid=True", |s| {
            cond(s, condition_types::SCHEDULE_VALID).is_some_and(|c| c.0 == ConditionStatus::True)
                && status(s).next_schedule_time.is_some()
        })
        .await;
    let new_year = status(&yearly).next_schedule_time.unwrap().as_datetime();
    // Midnight on 1 January in Berlin is 23:00 UTC on 31 December.
    assert_eq!(new_year.format("%m-%d %H:%M").to_string(), "12-31 23:00");
    // Editing the schedule moves nextScheduleTime, and the new schedule runs.
    t.patch_spec("fixme", json!({"schedule": "@every 2s"}))
        .await;
    let moved = t
        .wait("fixme", 30, "nextScheduleTime moved", |s| {
            status(s)
                .next_schedule_time
                .is_some_and(|n| n.as_datetime() < new_year)
        })
        .await;
    assert!(status(&moved).next_schedule_time.unwrap().as_datetime() < new_year);
    t.wait("fixme", 30, "a run", |s| {
        status(s).last_schedule_time.is_some()
    })
    .await;
    let events = t.bed.client.clone();
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(events, &t.namespace);
    let warned = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .any(|e| e.reason.as_deref() == Some(reasons::INVALID_SCHEDULE));
    assert!(warned, "no InvalidSchedule Event");
}

#[tokio::test]
async fn sixty_seconds_of_downtime_yield_exactly_one_catch_up_run() {
    let mut t = Test::start("ssjr-down").await;
    t.apply(
        "steady",
        "@every 5s",
        1,
        json!({"successfulRunsHistoryLimit": 100}),
    )
    .await;
    t.wait("steady", 30, "a first run", |s| {
        status(s).last_schedule_time.is_some()
    })
    .await;
    t.op.kill();
    let killed = Utc::now();
    tokio::time::sleep(Duration::from_secs(60)).await;
    let back = Utc::now();
    t.op.start().await;
    let s = t
        .wait("steady", 30, "the catch-up recorded", |s| {
            status(s)
                .skipped
                .iter()
                .any(|k| k.reason == reasons::MISSED)
        })
        .await;
    let missed = status(&s)
        .skipped
        .into_iter()
        .find(|k| k.reason == reasons::MISSED)
        .unwrap();
    assert!(
        missed.message.contains("earlier slot"),
        "{}",
        missed.message
    );
    // Children whose slot fell inside the downtime: exactly one (the latest slot).
    let slot = |c: &SparkJobRun| {
        DateTime::parse_from_rfc3339(&c.annotations()[SLOT_ANNOTATION])
            .unwrap()
            .with_timezone(&Utc)
    };
    let during: Vec<DateTime<Utc>> = t
        .children("steady")
        .await
        .iter()
        .map(slot)
        .filter(|at| *at > killed && *at <= back)
        .collect();
    assert_eq!(during.len(), 1, "{during:?}");
}

#[tokio::test]
async fn run_now_starts_one_run_at_once_and_children_are_garbage_collected() {
    let t = Test::start("ssjr-now").await;
    t.apply("manual", "@yearly", 1, json!({"runNow": "at-creation"}))
        .await;
    t.wait("manual", 30, "status", |s| {
        status(s).observed_generation.is_some()
    })
    .await;
    assert!(
        t.children("manual").await.is_empty(),
        "the value at creation started a run"
    );
    t.patch_spec("manual", json!({"runNow": "2026-11-30"}))
        .await;
    t.wait("manual", 30, "a manual run", |s| {
        status(s).active_count == 1 || status(s).last_result.is_some()
    })
    .await;
    let children = t.children("manual").await;
    assert_eq!(children.len(), 1);
    let child = &children[0];
    assert!(
        child.name_any().starts_with("manual-manual-"),
        "{}",
        child.name_any()
    );
    assert_eq!(
        child
            .annotations()
            .get("argocd.argoproj.io/compare-options")
            .map(String::as_str),
        Some("IgnoreExtraneous")
    );
    let owner = &child.owner_references()[0];
    assert_eq!(owner.kind, "ScheduledSparkJobRun");
    assert_eq!(owner.controller, Some(true));
    // A hand-made SparkJobRun carrying the schedule's label is not the schedule's: never pruned.
    let mut forged: SparkJobRun =
        serde_json::from_value(serde_json::to_value(child).unwrap()).unwrap();
    forged.metadata = kube::api::ObjectMeta {
        name: Some("manual-forged".into()),
        namespace: Some(t.namespace.clone()),
        labels: Some(BTreeMap::from([(SCHEDULE_LABEL.into(), "manual".into())])),
        ..Default::default()
    };
    forged.status = None;
    forged
        .spec
        .tags
        .insert("emulator/run-seconds".into(), "1".into());
    t.jobs()
        .create(&PostParams::default(), &forged)
        .await
        .unwrap();
    t.wait("manual", 60, "the manual run finished", |s| {
        s.status.as_ref().is_some_and(|st| st.last_result.is_some())
    })
    .await;
    assert!(t.jobs().get_opt("manual-forged").await.unwrap().is_some());
    // Deleting the schedule deletes its children (owner reference), and only them.
    t.schedules()
        .delete("manual", &Default::default())
        .await
        .unwrap();
    emr_operator_tests::wait_gone(
        &t.jobs(),
        &child.name_any(),
        Duration::from_secs(60),
        "the child",
    )
    .await;
    assert!(t.jobs().get_opt("manual-forged").await.unwrap().is_some());
    let _ = t.jobs().delete("manual-forged", &Default::default()).await;
}
