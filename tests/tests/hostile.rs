//! A hostile tenant against the real operator binary on the bed (issue 10, points 1 and 7):
//! manifests at the edges of the schema and statuses forged with extreme values must not stop
//! another team's job or the process, and thousands of deleted objects must leave nothing in the
//! operator's memory.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use emr_api::SparkJobRun;
use emr_api::condition::{self, ConditionStatus};
use emr_api::spark_job_run::condition_types as types;
use emr_operator_tests::{Operator, ReadyVirtualCluster, TEST_LABEL, bed, wait_for};
use futures::StreamExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const EKS_CLUSTER: &str = "hostile-tests";
const ENTRY_POINT: &str = "local:///usr/lib/spark/examples/src/main/python/pi.py";

/// A SparkJobRun of pi.py in `vc`'s namespace, its emulated run taking `run_seconds`.
fn job(
    test_id: &str,
    vc: &ReadyVirtualCluster,
    name: &str,
    run_seconds: u32,
    spec_extra: Value,
) -> Value {
    let mut spec = json!({
        "virtualCluster": {"name": vc.name},
        "executionRoleArn": vc.role_arn,
        "releaseLabel": "emr-6.15.0-latest",
        "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": ENTRY_POINT}},
        "tags": {"emulator/run-seconds": run_seconds.to_string()}
    });
    for (k, v) in spec_extra.as_object().cloned().unwrap_or_default() {
        spec[k] = v;
    }
    json!({
        "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
        "metadata": {"name": name, "namespace": vc.namespace, "labels": {TEST_LABEL: test_id}},
        "spec": spec
    })
}

async fn create(api: &Api<SparkJobRun>, manifest: Value) -> Result<SparkJobRun, kube::Error> {
    let job: SparkJobRun = serde_json::from_value(manifest).expect("a SparkJobRun");
    api.create(&PostParams::default(), &job).await
}

async fn wait_job(
    op: &Operator,
    api: &Api<SparkJobRun>,
    name: &str,
    secs: u64,
    what: &str,
    pred: impl Fn(&SparkJobRun) -> bool,
) -> SparkJobRun {
    match tokio::time::timeout(
        Duration::from_secs(secs + 5),
        wait_for(api, name, Duration::from_secs(secs), what, pred),
    )
    .await
    {
        Ok(job) => job,
        Err(_) => panic!("{what}: timed out; operator log:\n{}", op.log_tail(60)),
    }
}

fn reason(job: &SparkJobRun, type_: &str) -> Option<(ConditionStatus, String)> {
    let status = job.status.clone().unwrap_or_default();
    condition::find(&status.conditions, type_).map(|c| (c.status, c.reason.clone()))
}

fn running(job: &SparkJobRun) -> bool {
    job.status
        .as_ref()
        .is_some_and(|s| s.state.as_deref() == Some("RUNNING"))
}

/// Writes `status` into the status subresource as the admin (anyone with
/// `sparkjobruns/status` could), merged over what is there.
async fn forge_status(api: &Api<SparkJobRun>, name: &str, status: Value) -> kube::Result<()> {
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": status })),
    )
    .await
    .map(|_| ())
}

/// One tenant applies a job at the schema's maximal deadline and forges the status of two
/// others with extreme values; another tenant's job, applied after all that, still completes,
/// and the operator process never stops.
#[tokio::test]
async fn a_hostile_tenant_cannot_stop_another_teams_job() {
    let bed = bed().await;
    let id = bed.unique("hostile");
    let mut op = bed.start_operator(&id, &[]).await;
    let attacker = bed
        .ready_virtual_cluster(&id, EKS_CLUSTER, "attacker", "hostile-role")
        .await;
    let victim = bed
        .ready_virtual_cluster(&id, EKS_CLUSTER, "victim", "hostile-role")
        .await;
    let hostile: Api<SparkJobRun> = Api::namespaced(bed.client.clone(), &attacker.namespace);
    let calm: Api<SparkJobRun> = Api::namespaced(bed.client.clone(), &victim.namespace);

    // The old reproducer (it made every operator replica panic) is refused by the schema now.
    let refused = create(
        &hostile,
        job(
            &id,
            &attacker,
            "old-reproducer",
            3,
            json!({"activeDeadlineSeconds": 9_000_000_000_000_i64}),
        ),
    )
    .await
    .expect_err("a deadline of 285 000 years is refused");
    let message = refused.to_string();
    assert!(
        message.contains("spec.activeDeadlineSeconds") && message.contains("31536000"),
        "{message}"
    );

    // The largest deadline the schema allows, on a job that runs a while and completes.
    create(
        &hostile,
        job(
            &id,
            &attacker,
            "max-deadline",
            6,
            json!({"activeDeadlineSeconds": 31_536_000, "resubmitPolicy": {
                "limit": 100, "backoffSeconds": 86400, "maxBackoffSeconds": 86400
            }}),
        ),
    )
    .await
    .expect("the maximal deadline is valid");
    // Two running jobs whose status the tenant then forges.
    for name in ["forged-exhausted", "forged-far-future"] {
        create(&hostile, job(&id, &attacker, name, 600, json!({})))
            .await
            .expect("create");
    }
    for name in ["max-deadline", "forged-exhausted", "forged-far-future"] {
        wait_job(&op, &hostile, name, 60, "RUNNING", running).await;
    }

    // The status schema refuses what no operator writes.
    for (what, forged) in [
        ("a negative attempt", json!({"attempt": -1})),
        (
            "an attempt beyond int32",
            json!({"attempt": 4_294_967_296_i64}),
        ),
        (
            "eleven attempt records",
            json!({"attempts": (1..=11).map(|a| json!({"attempt": a})).collect::<Vec<_>>()}),
        ),
    ] {
        let error = forge_status(&hostile, "forged-exhausted", forged)
            .await
            .expect_err(what);
        assert!(
            error.to_string().contains("status.attempt"),
            "{what}: {error}"
        );
    }

    // Every counter at its end and times at the ends of the calendar: due for a resubmission
    // whose attempt number cannot exist. A wrapped-around number would reuse an old token.
    let extreme = |next_attempt_at: &str| {
        json!({
            "state": "FAILED",
            "failureReason": "INTERNAL_ERROR",
            "attempt": i32::MAX,
            "resubmissions": i32::MAX,
            "emrAttemptCount": i32::MAX,
            "observedGeneration": i64::MAX,
            "createdAt": "0001-01-01T00:00:00Z",
            "finishedAt": "0001-01-01T00:00:01Z",
            "nextAttemptAt": next_attempt_at,
        })
    };
    forge_status(
        &hostile,
        "forged-exhausted",
        extreme("2000-01-01T00:00:00Z"),
    )
    .await
    .expect("forge a due resubmission");
    // Due in the year 9999: a wait far beyond any timer.
    forge_status(
        &hostile,
        "forged-far-future",
        extreme("9999-12-31T23:59:59Z"),
    )
    .await
    .expect("forge a resubmission in 9999");

    // The other team's job, applied now, runs to COMPLETED.
    create(&calm, job(&id, &victim, "innocent", 2, json!({})))
        .await
        .expect("create");
    wait_job(&op, &calm, "innocent", 90, "innocent COMPLETED", |j| {
        condition::is_true(
            &j.status.clone().unwrap_or_default().conditions,
            types::SUCCEEDED,
        )
    })
    .await;

    // The hostile objects got conditions with reasons, not a crash.
    let exhausted = wait_job(
        &op,
        &hostile,
        "forged-exhausted",
        60,
        "AttemptsExhausted",
        |j| reason(j, types::SUBMITTED).is_some_and(|(_, r)| r == "AttemptsExhausted"),
    )
    .await;
    assert_eq!(
        reason(&exhausted, types::FAILED),
        Some((ConditionStatus::True, "AttemptsExhausted".into()))
    );
    let max_deadline = wait_job(
        &op,
        &hostile,
        "max-deadline",
        60,
        "max-deadline COMPLETED",
        |j| {
            condition::is_true(
                &j.status.clone().unwrap_or_default().conditions,
                types::SUCCEEDED,
            )
        },
    )
    .await;
    assert_eq!(
        reason(&max_deadline, types::SUCCEEDED),
        Some((ConditionStatus::True, "Completed".into()))
    );

    // No second job run for the forged attempts: each started exactly once.
    let starts = bed.emulator.start_job_run_requests(None).await;
    for name in ["forged-exhausted", "forged-far-future"] {
        let object = format!("{}/{name}", attacker.namespace);
        let sent = starts
            .iter()
            .filter(|r| r["body"]["tags"]["emr-on-eks.dev/object"] == object.as_str())
            .count();
        assert_eq!(sent, 1, "{name}: {sent} StartJobRun requests");
    }
    assert!(
        op.is_running(),
        "the operator stopped:\n{}",
        op.log_tail(60)
    );
    assert!(
        !std::fs::read_to_string(&op.log)
            .unwrap_or_default()
            .contains("panicked"),
        "the operator panicked:\n{}",
        op.log_tail(60)
    );
}

/// `emr_operator_tracked_objects{map}` from the operator's `/metrics`.
async fn tracked(op: &Operator) -> BTreeMap<String, i64> {
    op.metrics()
        .await
        .lines()
        .filter_map(|line| line.strip_prefix("emr_operator_tracked_objects{map=\""))
        .filter_map(|rest| {
            let (map, value) = rest.split_once("\"} ")?;
            Some((map.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

/// 2 000 SparkJobRuns (1 000 running in EMR, 1 000 that cannot be submitted, in other
/// namespaces) are applied and deleted, half of the running ones with their finalizer removed by
/// hand so the operator never sees their deletion: every in-memory map drops back to empty.
#[tokio::test]
async fn deleted_objects_leave_nothing_in_memory() {
    const RUNNING: usize = 1000;
    const UNSUBMITTABLE: usize = 1000;
    let bed = bed().await;
    let id = bed.unique("tenant-cost");
    let op = bed.start_operator(&id, &[]).await;
    let vc = bed
        .ready_virtual_cluster(&id, EKS_CLUSTER, "cost", "hostile-role")
        .await;
    let elsewhere = [bed.namespace("cost-a").await, bed.namespace("cost-b").await];

    let running_api: Api<SparkJobRun> = Api::namespaced(bed.client.clone(), &vc.namespace);
    let mut manifests = Vec::new();
    for i in 0..RUNNING {
        manifests.push((
            running_api.clone(),
            job(&id, &vc, &format!("run-{i}"), 3600, json!({})),
        ));
    }
    for i in 0..UNSUBMITTABLE {
        let ns = &elsewhere[i % elsewhere.len()];
        let api: Api<SparkJobRun> = Api::namespaced(bed.client.clone(), ns);
        let mut manifest = job(&id, &vc, &format!("wait-{i}"), 3600, json!({}));
        manifest["metadata"]["namespace"] = json!(ns);
        // Names a VirtualCluster that does not exist: it waits, unsubmitted.
        manifest["spec"]["virtualCluster"]["name"] = json!("nowhere");
        manifests.push((api, manifest));
    }
    futures::stream::iter(manifests)
        .for_each_concurrent(16, |(api, manifest)| async move {
            create(&api, manifest).await.expect("create");
        })
        .await;

    // Every running job is in the poller's map, and the metric says so.
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        let started = running_api
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .iter()
            .filter(|j| j.status.as_ref().is_some_and(|s| s.job_run_id.is_some()))
            .count();
        let maps = tracked(&op).await;
        if started == RUNNING && maps.get("poller_runs").copied().unwrap_or(0) >= RUNNING as i64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{started} of {RUNNING} started; maps {maps:?}\n{}",
            op.log_tail(40)
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    // Half of the running ones vanish without the operator's release.
    let unguard = json!({"metadata": {"finalizers": null}});
    let deletions: Vec<(Api<SparkJobRun>, String, bool)> = (0..RUNNING)
        .map(|i| (running_api.clone(), format!("run-{i}"), i % 2 == 0))
        .chain((0..UNSUBMITTABLE).map(|i| {
            let ns = &elsewhere[i % elsewhere.len()];
            (
                Api::namespaced(bed.client.clone(), ns),
                format!("wait-{i}"),
                false,
            )
        }))
        .collect();
    futures::stream::iter(deletions)
        .for_each_concurrent(16, |(api, name, strip)| {
            let unguard = unguard.clone();
            async move {
                if strip {
                    api.patch(&name, &PatchParams::default(), &Patch::Merge(&unguard))
                        .await
                        .expect("remove the finalizer");
                }
                api.delete(&name, &DeleteParams::default())
                    .await
                    .expect("delete");
            }
        })
        .await;

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let namespaces = [
            vc.namespace.as_str(),
            elsewhere[0].as_str(),
            elsewhere[1].as_str(),
        ];
        let left: usize = futures::future::join_all(namespaces.iter().map(|ns| async move {
            Api::<SparkJobRun>::namespaced(bed.client.clone(), ns)
                .list(&ListParams::default())
                .await
                .expect("list")
                .items
                .len()
        }))
        .await
        .iter()
        .sum();
        let maps = tracked(&op).await;
        let sparkjobrun_maps = [
            "sparkjobrun_serial",
            "sparkjobrun_failures",
            "poller_runs",
            "poller_observations",
            "poller_schedules",
            "poller_cancel_requests",
        ];
        assert!(
            sparkjobrun_maps.iter().all(|m| maps.contains_key(*m)),
            "a map is not exported: {maps:?}"
        );
        if left == 0 && maps.values().all(|n| *n == 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{left} objects left; maps {maps:?}\n{}",
            op.log_tail(40)
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
