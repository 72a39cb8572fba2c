//! The `schedules` scenario: `--size` ScheduledSparkJobRuns (`@every BENCH_SCHEDULE_EVERY`, 10 s)
//! spread over the VirtualClusters for `BENCH_SCHEDULE_SECONDS` (180), the operator SIGKILLed
//! `BENCH_KILLS` times at slot boundaries and started again at once. Measured from EMR's side
//! (the emulator's StartJobRun log): slot-start lag (StartJobRun received - slot), slots missed
//! and slots started twice (both must be 0), EMR calls and apiserver writes per run.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use serde::Serialize;
use serde_json::json;

use emr_operator_tests::{Bed, TEST_LABEL};

use crate::apiserver;
use crate::fleet::MANAGER;
use crate::observe::now;
use crate::procstat::{Machine, round3};
use crate::scenarios::{self, RunResult};
use crate::stats::Dist;
use crate::{Res, Settings};

/// Slots this close to the end are not counted (a slot's run may still be on its way when the
/// schedules are suspended).
const END_MARGIN_SECONDS: i64 = 15;

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleReport {
    pub schedules: usize,
    pub every_seconds: u64,
    pub seconds: u64,
    pub kills: Vec<f64>,
    /// Slots due in the window (after creation, before the end margin), over every schedule.
    pub slots_due: usize,
    /// Slots that EMR saw started (one job run or more).
    pub slots_started: usize,
    /// Due slots with no job run (must be 0).
    pub missed_slots: usize,
    /// Slots with more than one job run (must be 0).
    pub duplicated_slots: usize,
    /// StartJobRun received - slot time, seconds.
    pub slot_start_lag: Dist,
    pub emr_calls: BTreeMap<String, usize>,
    pub emr_calls_per_run: f64,
    pub apiserver_writes: apiserver::WriteCounts,
    pub apiserver_writes_per_run: f64,
    pub examples_missed: Vec<String>,
    pub examples_duplicated: Vec<String>,
}

fn schedules_api(bed: &Bed) -> (Api<DynamicObject>, ApiResource) {
    let ar = ApiResource::erase::<emr_api::ScheduledSparkJobRun>(&());
    (Api::all_with(bed.client.clone(), &ar), ar)
}

pub async fn run(
    bed: &'static Bed,
    size: Option<usize>,
    settings: &Settings,
    machine: Machine,
) -> Res<RunResult> {
    let n = size.unwrap_or(500);
    let every: u64 = env("BENCH_SCHEDULE_EVERY", 10)?.max(1);
    let seconds: u64 = env("BENCH_SCHEDULE_SECONDS", 180)?;
    let mut result = scenarios::base_result("schedules", n, settings, machine);
    let (rig, mut operator) = scenarios::rig(bed, settings).await?;
    let fleet = &rig.fleet;
    let (_, ar) = schedules_api(bed);
    let writes_before = rig.counter.writes(&WRITTEN);
    let calls_since = last_seq(bed).await;

    eprintln!("bench: applying {n} schedules (@every {every}s)");
    let pp = PatchParams::apply(MANAGER).force();
    let mut names = Vec::new();
    for i in 0..n {
        let tenant = &fleet.tenants[i % fleet.tenants.len()];
        let name = format!("s-{i:05}");
        let job = fleet.job_for(i % fleet.tenants.len(), "template");
        let manifest = json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "ScheduledSparkJobRun",
            "metadata": {"name": name, "namespace": tenant.namespace,
                         "labels": {TEST_LABEL: fleet.test_id}},
            "spec": {
                "schedule": format!("@every {every}s"),
                "successfulRunsHistoryLimit": 1,
                "failedRunsHistoryLimit": 1,
                "template": {"metadata": {"labels": {TEST_LABEL: fleet.test_id}}, "spec": job["spec"]}
            }
        });
        let api: Api<DynamicObject> =
            Api::namespaced_with(bed.client.clone(), &tenant.namespace, &ar);
        api.patch(&name, &pp, &Patch::Apply(&manifest))
            .await
            .map_err(|e| format!("apply schedule {name}: {e}"))?;
        names.push((tenant.namespace.clone(), name));
    }
    let t0 = now();
    let end = t0 + seconds as f64;
    let kills = settings.kills;
    let mut kill_times = Vec::new();
    for k in 0..kills {
        // Kills spread over the run, each on a whole `every` boundary after the first
        // schedule's creation, where that schedule (and its neighbours) have a slot.
        let at = t0 + (k as f64 + 1.0) * seconds as f64 / (kills as f64 + 1.0);
        let at = at - (at - t0).rem_euclid(every as f64) + 0.02;
        sleep_until(at).await;
        operator.kill();
        kill_times.push(round3(now() - t0));
        operator.start().await;
    }
    sleep_until(end).await;
    let stop = now();
    eprintln!("bench: suspending the schedules");
    for (namespace, name) in &names {
        let api: Api<DynamicObject> = Api::namespaced_with(bed.client.clone(), namespace, &ar);
        let _ = api
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": {"suspend": true}})),
            )
            .await;
    }
    // Runs started near the end reach EMR.
    tokio::time::sleep(Duration::from_secs(5)).await;

    // Creation times, from the apiserver.
    let mut created: BTreeMap<String, i64> = BTreeMap::new();
    let (all, _) = schedules_api(bed);
    let listed = all
        .list(&ListParams::default().labels(&fleet.selector()))
        .await
        .map_err(|e| format!("list schedules: {e}"))?;
    for obj in listed.items {
        let name = obj.metadata.name.clone().unwrap_or_default();
        if let Some(at) = obj.metadata.creation_timestamp.as_ref() {
            created.insert(name, at.0.as_second());
        }
    }
    let vc_ids: BTreeSet<String> = fleet.tenants.iter().map(|t| t.vc_id.clone()).collect();
    let mut runs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut lags = Vec::new();
    for request in bed.emulator.start_job_run_requests(None).await {
        if !request["virtualClusterId"]
            .as_str()
            .is_some_and(|v| vc_ids.contains(v))
        {
            continue;
        }
        let (Some(name), Some(id)) = (
            request["body"]["name"].as_str(),
            request["jobRunId"].as_str(),
        ) else {
            continue;
        };
        let fresh = runs
            .entry(name.to_owned())
            .or_default()
            .insert(id.to_owned());
        if let (true, Some(slot)) = (fresh, slot_of(name)) {
            lags.push(request["epoch"].as_f64().unwrap_or(0.0) - slot as f64);
        }
    }
    let last_counted = stop as i64 - END_MARGIN_SECONDS;
    let mut report = ScheduleReport {
        schedules: n,
        every_seconds: every,
        seconds,
        kills: kill_times,
        ..Default::default()
    };
    for (name, start) in &created {
        let mut slot = start + every as i64;
        while slot <= last_counted {
            report.slots_due += 1;
            match runs.get(&format!("{name}-{slot}")).map(BTreeSet::len) {
                Some(1) => report.slots_started += 1,
                Some(_) => {
                    report.slots_started += 1;
                    report.duplicated_slots += 1;
                    if report.examples_duplicated.len() < 10 {
                        report.examples_duplicated.push(format!("{name}-{slot}"));
                    }
                }
                None => {
                    report.missed_slots += 1;
                    if report.examples_missed.len() < 10 {
                        report.examples_missed.push(format!("{name}-{slot}"));
                    }
                }
            }
            slot += every as i64;
        }
    }
    report.slot_start_lag = Dist::of(&lags);
    let started: usize = runs.values().map(BTreeSet::len).sum();
    for call in bed
        .emulator
        .calls(&[("sinceSeq", &calls_since.to_string())])
        .await
    {
        if call["virtualClusterId"]
            .as_str()
            .is_some_and(|v| vc_ids.contains(v))
        {
            let op = call["operation"].as_str().unwrap_or("?").to_owned();
            *report.emr_calls.entry(op).or_insert(0) += 1;
        }
    }
    let total_calls: usize = report.emr_calls.values().sum();
    report.emr_calls_per_run = round3(total_calls as f64 / started.max(1) as f64);
    report.apiserver_writes = apiserver::diff(&rig.counter.writes(&WRITTEN), &writes_before);
    report.apiserver_writes_per_run =
        round3(report.apiserver_writes.values().sum::<f64>() / started.max(1) as f64);
    result.complete =
        report.missed_slots == 0 && report.duplicated_slots == 0 && report.slots_due > 0;
    result.outcome = format!(
        "{} schedules, {} slots due, {} started, {} missed, {} duplicated; slot-start lag p50 {} s p99 {} s; {} SIGKILLs",
        n,
        report.slots_due,
        report.slots_started,
        report.missed_slots,
        report.duplicated_slots,
        report.slot_start_lag.p50,
        report.slot_start_lag.p99,
        report.kills.len()
    );
    result.faults = json!({"sigkillAtSeconds": report.kills});
    result.schedules = Some(report);
    Ok(result)
}

/// Resources whose writes are counted per run.
const WRITTEN: [&str; 3] = ["sparkjobruns", "scheduledsparkjobruns", "events"];

fn env(name: &str, default: u64) -> Res<u64> {
    match std::env::var(name) {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse()
            .map_err(|_| format!("{name}={text:?} is not a number")),
        _ => Ok(default),
    }
}

async fn sleep_until(at: f64) {
    let wait = at - now();
    if wait > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }
}

async fn last_seq(bed: &Bed) -> u64 {
    bed.emulator
        .calls(&[])
        .await
        .iter()
        .filter_map(|c| c["seq"].as_u64())
        .max()
        .unwrap_or(0)
}

/// The slot of a child's job run name `<schedule>-<unix seconds>`.
fn slot_of(name: &str) -> Option<i64> {
    name.rsplit_once('-')?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn slots_come_from_child_names() {
        assert_eq!(super::slot_of("s-00001-1800000000"), Some(1_800_000_000));
        assert_eq!(super::slot_of("s-00001-manual-ab12cd34"), None);
    }
}
