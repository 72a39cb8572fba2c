//! The scenarios: a burst of SparkJobRuns applied at once, with a fault injected while it runs,
//! measured from the driver's watch, the emulator's call log, kube-apiserver's request counters
//! and /proc; then the invariant.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use emr_operator_tests::{Bed, Operator, TEST_LABEL, testbed_dir};
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{Value, json};

use crate::apiserver::{self, ApiserverAccess, RequestCounter, WriteCounts};
use crate::fairness::{self, FairnessReport};
use crate::fleet::{self, Applied, Fleet};
use crate::forged;
use crate::hostile;
use crate::observe::{Observer, now, refusal};
use crate::procstat::{self, Finder, Machine, Mark, Sampler, Usage, round3};
use crate::proxy::Proxy;
use crate::stats::Dist;
use crate::verify::{self, Invariant, Lag};
use crate::{Res, Settings};

pub const SCENARIOS: [&str; 11] = [
    "scale",
    "kill",
    "throttle",
    "latency",
    "down",
    "apiserver-restart",
    "watch-drop",
    "hostile",
    "fairness",
    "schedules",
    "shards",
];

/// Resources whose writes are counted.
const COUNTED: [&str; 4] = ["sparkjobruns", "events", "virtualclusters", "leases"];

/// One run's results: what `bench run` writes as JSON.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunResult {
    pub scenario: String,
    pub size: usize,
    pub started_at: String,
    pub machine: Machine,
    pub git_revision: String,
    pub settings: Settings,
    pub operator_binary: String,
    /// sha256 of the operator binary (`sha256sum`), to tell the binaries of two runs apart.
    pub operator_binary_sha256: Option<String>,
    /// Every job reached COMPLETED within the timeout (and, for hostile, every hostile manifest
    /// was rejected or refused with a reason).
    pub complete: bool,
    /// One line: what happened.
    pub outcome: String,
    pub burst: Option<Burst>,
    /// Scale: the finished objects kept, nothing changing.
    pub kept: Option<Kept>,
    /// Hostile: the valid jobs applied alone first, for comparison.
    pub baseline: Option<Burst>,
    pub hostile: Option<HostileReport>,
    /// Hostile: the forged-status category (objects whose status names another tenant's
    /// virtual cluster and job runs).
    pub forged_status: Option<forged::ForgedReport>,
    /// Fairness: tenant A's backlog and the other tenants' jobs.
    pub fairness: Option<FairnessReport>,
    /// Schedules: slots due, started, missed, duplicated, slot-start lag.
    pub schedules: Option<crate::schedules::ScheduleReport>,
    /// Shards: per-shard and per-process figures, and whether the shards kept apart.
    pub shards: Option<crate::shards::ShardsReport>,
    /// What was injected and when (scenario-specific).
    pub faults: Value,
    pub notes: Vec<String>,
}

/// A burst of jobs and everything measured about it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Burst {
    pub jobs: usize,
    pub applied: AppliedSummary,
    /// Seconds from the first apply request until every job had a job run id in status.
    pub all_job_run_ids_seconds: Option<f64>,
    /// Seconds from the first apply request until every job showed COMPLETED.
    pub all_completed_seconds: Option<f64>,
    /// Jobs that had a job run id / showed COMPLETED when the wait ended.
    pub with_job_run_id: usize,
    pub completed: usize,
    /// jobs / all_job_run_ids_seconds * 60.
    pub submitted_per_minute: Option<f64>,
    /// Per job: first seen by the watch -> job run id in status; -> COMPLETED in status.
    pub time_to_job_run_id: Dist,
    pub time_to_completed: Dist,
    pub lag: Lag,
    pub emr_calls: Calls,
    pub apiserver_writes: Writes,
    pub resources: Usage,
    pub invariant: Invariant,
    pub watch: WatchStats,
    /// Selected lines of the operator's /metrics at the end of the burst.
    pub operator_metrics: BTreeMap<String, f64>,
    pub operator_processes: usize,
    pub wall_seconds: f64,
    /// Every 5 s from the first apply: [seconds, objects with a job run id, objects COMPLETED].
    pub progress: Vec<[f64; 3]>,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedSummary {
    pub stored: usize,
    pub rejected: usize,
    pub failed: usize,
    pub requests: usize,
    pub seconds: f64,
}

impl From<&Applied> for AppliedSummary {
    fn from(a: &Applied) -> Self {
        AppliedSummary {
            stored: a.stored,
            rejected: a.rejected.len(),
            failed: a.failed.len(),
            requests: a.requests,
            seconds: round3(a.finished - a.started),
        }
    }
}

/// EMR (emr-containers) calls for the jobs, from the emulator's call log.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Calls {
    /// Job-run calls in the fleet's virtual clusters, by operation.
    pub by_operation: BTreeMap<String, u64>,
    /// The same divided by the number of jobs.
    pub per_job: BTreeMap<String, f64>,
    pub total: u64,
    pub total_per_job: f64,
    /// Answered by an injected fault (throttle, down), by fault.
    pub faulted: BTreeMap<String, u64>,
    /// Answered with an error other than an injected fault, by HTTP status.
    pub errors_by_status: BTreeMap<String, u64>,
    /// Everything else (other services, virtual-cluster calls), by service/operation.
    pub other: BTreeMap<String, u64>,
    /// Whether the call log may have dropped entries (it keeps the last 100 000).
    pub log_truncated: bool,
    /// Job-run calls per 5 s from the first apply: seconds -> `Operation[:fault]` -> calls.
    pub timeline: BTreeMap<u64, BTreeMap<String, u64>>,
}

/// kube-apiserver write requests during the window.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Writes {
    /// `resource[/subresource] VERB` -> requests, everyone's (driver included).
    pub all: WriteCounts,
    /// The driver's own apply requests (subtracted below).
    pub driver_requests: usize,
    /// The operator's writes to SparkJobRuns (objects and status) per job.
    pub spark_job_run_writes_per_job: f64,
    /// Events written per job (the operator is the only one emitting for SparkJobRuns).
    pub events_per_job: f64,
    /// Both, per job.
    pub total_per_job: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchStats {
    pub events: u64,
    pub relists: u64,
    pub errors: u64,
}

/// The finished objects kept with nothing changing.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kept {
    pub objects: usize,
    pub seconds: f64,
    pub operator_cpu_seconds: f64,
    pub operator_rss_mib: f64,
    pub operator_peak_rss_mib: f64,
    pub emr_calls: u64,
    pub emr_calls_by_operation: BTreeMap<String, u64>,
    /// What ACK's controller would have made in the same time: one DescribeJobRun per job every 15 s.
    pub ack_equivalent_calls: f64,
    pub apiserver_writes: WriteCounts,
    pub resources: Usage,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostileOutcome {
    pub name: String,
    pub category: String,
    /// rejected (by the apiserver), refused (by the operator, with a reason), ran (a job run
    /// was started: a violation), no-reason (stored, never refused: a violation).
    pub outcome: String,
    pub reason: String,
    pub seconds_to_reason: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostileReport {
    pub manifests: usize,
    pub rejected_by_apiserver: usize,
    pub refused_by_operator: usize,
    pub violations: usize,
    pub by_category: BTreeMap<String, BTreeMap<String, usize>>,
    pub outcomes: Vec<HostileOutcome>,
    pub operator_survived: bool,
    pub operator_log_panics: usize,
    /// Valid jobs' time to COMPLETED alone vs next to the hostile manifests.
    pub valid_alone_p50: f64,
    pub valid_alone_p99: f64,
    pub valid_with_hostile_p50: f64,
    pub valid_with_hostile_p99: f64,
    pub emulator_job_runs_for_hostile: usize,
}

/// Everything a scenario measures with.
pub struct Rig {
    pub bed: &'static Bed,
    pub fleet: Fleet,
    /// The operator's /metrics base URL (the same across restarts).
    pub metrics_url: String,
    pub observer: Observer,
    pub sampler: Sampler,
    pub counter: RequestCounter,
}

fn git_revision() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(emr_operator_tests::repo_root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let rev = run(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty =
        run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty { format!("{rev}-dirty") } else { rev }
}

pub async fn rig(bed: &'static Bed, settings: &Settings) -> Res<(Rig, Operator)> {
    let (fleet, operator) = fleet::setup(bed, settings).await?;
    let observer = Observer::start(bed.client.clone(), &fleet.selector());
    let pids = testbed_dir().join("pids");
    let sampler = Sampler::start(vec![
        (
            "operator".into(),
            Finder::Cmdline(format!("--selector={TEST_LABEL}={}", fleet.test_id)),
        ),
        (
            "kube-apiserver".into(),
            Finder::PidFile(pids.join("kube-apiserver.pid")),
        ),
        ("etcd".into(), Finder::PidFile(pids.join("etcd.pid"))),
        (
            "emulator".into(),
            Finder::PidFile(pids.join("emulator.pid")),
        ),
        (
            "kube-controller-manager".into(),
            Finder::PidFile(pids.join("kube-controller-manager.pid")),
        ),
        ("driver".into(), Finder::Myself),
    ]);
    let counter = RequestCounter::start(ApiserverAccess { dir: testbed_dir() });
    let metrics_url = operator.metrics_url.clone();
    Ok((
        Rig {
            bed,
            fleet,
            metrics_url,
            observer,
            sampler,
            counter,
        },
        operator,
    ))
}

pub async fn last_call_seq(bed: &Bed) -> u64 {
    bed.emulator
        .calls(&[])
        .await
        .iter()
        .filter_map(|c| c["seq"].as_u64())
        .max()
        .unwrap_or(0)
}

const JOB_RUN_OPERATIONS: [&str; 4] = [
    "StartJobRun",
    "DescribeJobRun",
    "ListJobRuns",
    "CancelJobRun",
];

pub fn summarize_calls(
    calls: &[Value],
    since: u64,
    vc_ids: &BTreeSet<String>,
    jobs: usize,
    t0: f64,
) -> Calls {
    let mut out = Calls::default();
    let mut seqs: Vec<u64> = Vec::new();
    for c in calls {
        seqs.push(c["seq"].as_u64().unwrap_or(0));
        let service = c["service"].as_str().unwrap_or("?");
        let operation = c["operation"].as_str().unwrap_or("?");
        let in_fleet = c["virtualClusterId"]
            .as_str()
            .is_some_and(|v| vc_ids.contains(v));
        if service == "emr-containers" && in_fleet && JOB_RUN_OPERATIONS.contains(&operation) {
            *out.by_operation.entry(operation.to_string()).or_insert(0) += 1;
            out.total += 1;
            let bucket = ((c["epoch"].as_f64().unwrap_or(t0) - t0).max(0.0) / 5.0) as u64 * 5;
            let key = match c["fault"].as_str() {
                Some(fault) => format!("{operation}:{fault}"),
                None => operation.to_string(),
            };
            *out.timeline
                .entry(bucket)
                .or_default()
                .entry(key)
                .or_insert(0) += 1;
            if let Some(fault) = c["fault"].as_str() {
                *out.faulted.entry(fault.to_string()).or_insert(0) += 1;
            } else if c["status"].as_u64().is_some_and(|s| s >= 400) {
                *out.errors_by_status
                    .entry(c["status"].to_string())
                    .or_insert(0) += 1;
            }
        } else {
            *out.other
                .entry(format!("{service}/{operation}"))
                .or_insert(0) += 1;
        }
    }
    // The log keeps the last 100 000 calls: a gap right after `since` means some were dropped.
    out.log_truncated = seqs.iter().min().is_some_and(|m| *m > since + 1);
    let n = jobs.max(1) as f64;
    out.per_job = out
        .by_operation
        .iter()
        .map(|(k, v)| (k.clone(), round3(*v as f64 / n)))
        .collect();
    out.total_per_job = round3(out.total as f64 / n);
    out
}

fn writes_summary(all: WriteCounts, driver_requests: usize, jobs: usize) -> Writes {
    let sum = |pred: &dyn Fn(&str) -> bool| -> f64 {
        all.iter().filter(|(k, _)| pred(k)).map(|(_, v)| v).sum()
    };
    let sjr = sum(&|k| k.starts_with("sparkjobruns")) - driver_requests as f64;
    let events = sum(&|k| k.starts_with("events "));
    let n = jobs.max(1) as f64;
    Writes {
        all,
        driver_requests,
        spark_job_run_writes_per_job: round3(sjr.max(0.0) / n),
        events_per_job: round3(events / n),
        total_per_job: round3((sjr.max(0.0) + events) / n),
    }
}

fn operator_metric_lines(text: &str) -> BTreeMap<String, f64> {
    const KEEP: [&str; 5] = [
        "emr_operator_aws_calls_total",
        "emr_operator_reconciles_total",
        "emr_operator_reconcile_errors_total",
        "emr_operator_job_runs{",
        "emr_operator_job_run_transitions_total",
    ];
    text.lines()
        .filter(|l| KEEP.iter().any(|k| l.starts_with(k)))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

pub async fn operator_metrics(metrics_url: &str) -> BTreeMap<String, f64> {
    match reqwest::get(format!("{metrics_url}/metrics")).await {
        Ok(r) => operator_metric_lines(&r.text().await.unwrap_or_default()),
        Err(_) => BTreeMap::new(),
    }
}

/// Applies `manifests`, runs `during` alongside, and waits until every manifest whose name
/// starts with `prefix` shows COMPLETED (or the timeout). Then measures and checks.
pub async fn burst<F>(
    rig: &Rig,
    prefix: &str,
    manifests: Vec<Value>,
    during: F,
) -> Res<(Burst, Applied, F::Output)>
where
    F: Future,
{
    let bed = rig.bed;
    let settings = &rig.fleet.settings;
    let jobs = manifests
        .iter()
        .filter(|m| {
            m["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with(prefix))
        })
        .count();
    let window = Window::open(rig).await;
    let (t0, mark0) = (window.t0, window.mark0.clone());
    eprintln!(
        "bench: applying {} manifests ({jobs} '{prefix}' jobs)",
        manifests.len()
    );
    let concurrency = settings.apply_concurrency;
    let apply = tokio::spawn(fleet::apply_all(bed, manifests, concurrency));
    let timeout = settings.timeout_seconds as f64;
    let progress = std::sync::Mutex::new(Vec::new());
    let wait = async {
        let mut last_print = now();
        let mut next_progress = t0;
        loop {
            let c = rig.observer.counts(prefix);
            let t = now();
            if t >= next_progress || c.completed >= jobs {
                next_progress += 5.0;
                progress.lock().unwrap_or_else(|p| p.into_inner()).push([
                    round3(t - t0),
                    c.with_id as f64,
                    c.completed as f64,
                ]);
            }
            if c.completed >= jobs {
                return true;
            }
            if t - t0 > timeout {
                eprintln!("bench: timed out after {timeout} s");
                return false;
            }
            if t - last_print >= 10.0 {
                last_print = t;
                eprintln!(
                    "bench:   t={:>4.0}s seen={} jobRunId={} completed={} (of {jobs}); operator RSS {:.0} MiB",
                    t - t0,
                    c.seen,
                    c.with_id,
                    c.completed,
                    rig.sampler
                        .usage(&mark0, &rig.sampler.mark())
                        .rss_mib
                        .get("operator")
                        .copied()
                        .unwrap_or(0.0)
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    let (done, fault_output) = tokio::join!(wait, during);
    let applied = apply
        .await
        .map_err(|e| format!("the apply task failed: {e}"))?;
    let progress = progress.into_inner().unwrap_or_else(|p| p.into_inner());
    let burst = measure(rig, prefix, jobs, &window, &applied, done, progress).await?;
    Ok((burst, applied, fault_output))
}

/// Where a measured window starts: the emulator's call log, kube-apiserver's write counters,
/// the CPU sampler and the clock.
pub struct Window {
    pub t0: f64,
    seq0: u64,
    writes0: WriteCounts,
    pub mark0: Mark,
}

impl Window {
    pub async fn open(rig: &Rig) -> Window {
        Window {
            seq0: last_call_seq(rig.bed).await,
            writes0: rig.counter.writes(&COUNTED),
            mark0: rig.sampler.mark(),
            t0: now(),
        }
    }
}

/// Measures the window that `window` opened, for the `jobs` objects whose name starts with
/// `prefix` (`applied`: the driver's applies in the window; `done`: whether every one of them
/// reached COMPLETED), and checks the invariant.
pub async fn measure(
    rig: &Rig,
    prefix: &str,
    jobs: usize,
    window: &Window,
    applied: &Applied,
    done: bool,
    progress: Vec<[f64; 3]>,
) -> Res<Burst> {
    let bed = rig.bed;
    let settings = &rig.fleet.settings;
    let (t0, seq0) = (window.t0, window.seq0);
    let vc_ids: BTreeSet<String> = rig.fleet.tenants.iter().map(|t| t.vc_id.clone()).collect();
    let t_end = now();
    let mark1 = rig.sampler.mark();
    let writes1 = rig.counter.writes(&COUNTED);
    let calls = bed.emulator.calls(&[("sinceSeq", &seq0.to_string())]).await;
    let operator_metrics = operator_metrics(&rig.metrics_url).await;
    if !done {
        eprintln!("bench: not every job completed; measuring what was reached");
    }

    let seen: Vec<_> = rig
        .observer
        .snapshot()
        .into_iter()
        .filter(|s| s.name.starts_with(prefix))
        .collect();
    let ids: Vec<f64> = seen.iter().filter_map(|s| s.job_run_id_at).collect();
    let completed: Vec<f64> = seen.iter().filter_map(|s| s.completed_at).collect();
    let all_ids = (ids.len() >= jobs && jobs > 0)
        .then(|| round3(ids.iter().copied().fold(0.0, f64::max) - t0));
    let all_completed = (completed.len() >= jobs && jobs > 0)
        .then(|| round3(completed.iter().copied().fold(0.0, f64::max) - t0));
    let time_to_id: Vec<f64> = seen
        .iter()
        .filter_map(|s| Some(s.job_run_id_at? - s.first_seen))
        .collect();
    let time_to_completed: Vec<f64> = seen
        .iter()
        .filter_map(|s| Some(s.completed_at? - s.first_seen))
        .collect();

    eprintln!("bench: checking the invariant against the emulator");
    let view = verify::emulator_view(&rig.fleet).await?;
    let objects = verify::stored_objects(&rig.fleet).await?;
    let invariant = verify::invariant(&objects, &view, &rig.fleet, |n| n.starts_with(prefix));
    let lag = verify::lag(&seen, &view, settings);
    if let Ok(path) = std::env::var("BENCH_DUMP_OBJECTS") {
        dump_objects(&path, &seen, &view, t0);
    }
    let burst = Burst {
        jobs,
        applied: AppliedSummary::from(applied),
        all_job_run_ids_seconds: all_ids,
        all_completed_seconds: all_completed,
        with_job_run_id: ids.len(),
        completed: completed.len(),
        submitted_per_minute: all_ids
            .filter(|s| *s > 0.0)
            .map(|s| round3(jobs as f64 / s * 60.0)),
        time_to_job_run_id: Dist::of(&time_to_id),
        time_to_completed: Dist::of(&time_to_completed),
        lag,
        emr_calls: summarize_calls(&calls, seq0, &vc_ids, jobs, t0),
        apiserver_writes: writes_summary(
            apiserver::diff(&writes1, &window.writes0),
            applied.requests,
            jobs,
        ),
        resources: rig.sampler.usage(&window.mark0, &mark1),
        invariant,
        watch: WatchStats {
            events: rig
                .observer
                .events
                .load(std::sync::atomic::Ordering::Relaxed),
            relists: rig
                .observer
                .relists
                .load(std::sync::atomic::Ordering::Relaxed),
            errors: rig
                .observer
                .errors
                .load(std::sync::atomic::Ordering::Relaxed),
        },
        operator_metrics,
        operator_processes: rig.sampler.processes_seen("operator"),
        wall_seconds: round3(t_end - t0),
        progress,
    };
    Ok(burst)
}

/// Writes one JSON line per object (`BENCH_DUMP_OBJECTS=<file>`, for digging into a result):
/// its job run's emulator times and when the watch saw each (job run, state), in seconds from
/// the first apply.
fn dump_objects(path: &str, seen: &[crate::observe::Seen], view: &verify::EmulatorView, t0: f64) {
    let rel = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| round3(t.timestamp_micros() as f64 / 1e6 - t0))
    };
    let mut lines = String::new();
    for s in seen {
        let id = s.status["jobRunId"].as_str().unwrap_or("");
        let run = view.runs.get(id);
        let states: BTreeMap<String, f64> = s
            .states
            .iter()
            .map(|((run_id, state), at)| (format!("{run_id}/{state}"), round3(at - t0)))
            .collect();
        let line = json!({
            "name": s.name,
            "firstSeen": round3(s.first_seen - t0),
            "jobRunId": id,
            "jobRunIdSeen": s.job_run_id_at.map(|t| round3(t - t0)),
            "created": run.and_then(|r| rel(r.created_at)),
            "finished": run.and_then(|r| rel(r.finished_at)),
            "seen": states,
        });
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    if let Err(e) = std::fs::write(path, lines) {
        eprintln!("bench: cannot write {path}: {e}");
    }
}

/// Keeps the finished objects for `keep_seconds` and measures what the operator spends on them.
async fn kept(rig: &Rig, objects: usize) -> Kept {
    let keep = rig.fleet.settings.keep_seconds;
    eprintln!("bench: keeping {objects} finished objects for {keep} s");
    let vc_ids: BTreeSet<String> = rig.fleet.tenants.iter().map(|t| t.vc_id.clone()).collect();
    let seq0 = last_call_seq(rig.bed).await;
    let writes0 = rig.counter.writes(&COUNTED);
    let mark0 = rig.sampler.mark();
    let t0 = now();
    tokio::time::sleep(Duration::from_secs(keep)).await;
    let mark1 = rig.sampler.mark();
    let seconds = now() - t0;
    let writes1 = rig.counter.writes(&COUNTED);
    let calls = rig
        .bed
        .emulator
        .calls(&[("sinceSeq", &seq0.to_string())])
        .await;
    let summary = summarize_calls(&calls, seq0, &vc_ids, objects, t0);
    let resources = rig.sampler.usage(&mark0, &mark1);
    Kept {
        objects,
        seconds: round3(seconds),
        operator_cpu_seconds: resources
            .cpu_seconds
            .get("operator")
            .copied()
            .unwrap_or(0.0),
        operator_rss_mib: resources.rss_mib.get("operator").copied().unwrap_or(0.0),
        operator_peak_rss_mib: resources
            .peak_rss_mib
            .get("operator")
            .copied()
            .unwrap_or(0.0),
        emr_calls: summary.total,
        emr_calls_by_operation: summary.by_operation,
        ack_equivalent_calls: round3(objects as f64 * seconds / 15.0),
        apiserver_writes: apiserver::diff(&writes1, &writes0),
        resources,
    }
}

pub fn base_result(
    scenario: &str,
    size: usize,
    settings: &Settings,
    machine: Machine,
) -> RunResult {
    RunResult {
        scenario: scenario.to_string(),
        size,
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        machine,
        git_revision: git_revision(),
        settings: settings.clone(),
        operator_binary: emr_operator_tests::operator_binary()
            .to_string_lossy()
            .into_owned(),
        operator_binary_sha256: binary_sha256(&emr_operator_tests::operator_binary()),
        complete: false,
        outcome: String::new(),
        burst: None,
        kept: None,
        baseline: None,
        hostile: None,
        forged_status: None,
        fairness: None,
        schedules: None,
        shards: None,
        faults: Value::Null,
        notes: Vec::new(),
    }
}

fn binary_sha256(path: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .map(str::to_string)
}

pub fn burst_outcome(b: &Burst) -> String {
    format!(
        "{}/{} completed{}; all job run ids after {}, all COMPLETED after {}; invariant violations {}",
        b.completed,
        b.jobs,
        if b.completed >= b.jobs {
            ""
        } else {
            " (INCOMPLETE)"
        },
        b.all_job_run_ids_seconds
            .map_or("-".into(), |s| format!("{s:.1} s")),
        b.all_completed_seconds
            .map_or("-".into(), |s| format!("{s:.1} s")),
        b.invariant.violations
    )
}

/// Runs one scenario on the bed in `TESTBED_DIR` and returns its results.
pub async fn run(scenario: &str, size: Option<usize>, settings: &Settings) -> Res<RunResult> {
    if !SCENARIOS.contains(&scenario) {
        return Err(format!(
            "unknown scenario {scenario:?}; known: {}",
            SCENARIOS.join(", ")
        ));
    }
    let machine = procstat::machine_info();
    let destructive = scenario != "scale";
    if destructive
        && std::env::var_os("TESTBED_DIR").is_none()
        && std::env::var_os("BENCH_ALLOW_SHARED_BED").is_none()
    {
        return Err(format!(
            "scenario {scenario} injects faults into the bed; run it on a bed of its own \
             (scripts/bench.sh sets TESTBED_DIR), or set BENCH_ALLOW_SHARED_BED=1"
        ));
    }
    let bed = emr_operator_tests::bed().await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(settings.seed);
    let emulator_faults = |faults: Value| async move { bed.emulator.set_faults(faults).await };

    match scenario {
        "scale" => {
            let n = size.unwrap_or(100);
            let mut result = base_result(scenario, n, settings, machine);
            let (rig, _operator) = rig(bed, settings).await?;
            let manifests = rig.fleet.jobs("job", n);
            let (b, _, ()) = burst(&rig, "job", manifests, async {}).await?;
            result.complete = b.completed >= n;
            result.outcome = burst_outcome(&b);
            if result.complete {
                result.kept = Some(kept(&rig, n).await);
            }
            result.burst = Some(b);
            Ok(result)
        }
        "kill" => {
            let n = size.unwrap_or(settings.kill_size);
            let mut result = base_result(scenario, n, settings, machine);
            let (rig, mut operator) = rig(bed, settings).await?;
            let manifests = rig.fleet.jobs("job", n);
            let kills = settings.kills;
            let delays: Vec<(f64, f64)> = (0..kills)
                .map(|_| (rng.random_range(1.0..8.0), rng.random_range(0.2..2.0)))
                .collect();
            let during = async {
                let mut log = Vec::new();
                for (run_for, down_for) in &delays {
                    tokio::time::sleep(Duration::from_secs_f64(*run_for)).await;
                    let killed = now();
                    operator.kill();
                    tokio::time::sleep(Duration::from_secs_f64(*down_for)).await;
                    operator.start().await;
                    log.push(json!({"killedAt": killed, "ranForSeconds": run_for, "downSeconds": round3(now() - killed)}));
                    eprintln!("bench:   SIGKILLed the operator after {run_for:.1} s; restarted");
                }
                log
            };
            let (b, _, log) = burst(&rig, "job", manifests, during).await?;
            result.faults = json!({"kills": log});
            result.complete = b.completed >= n;
            result.outcome = format!("{} SIGKILLs; {}", kills, burst_outcome(&b));
            result.burst = Some(b);
            Ok(result)
        }
        "throttle" | "latency" => {
            let n = size.unwrap_or(settings.fault_size);
            let mut result = base_result(scenario, n, settings, machine);
            let (rig, _operator) = rig(bed, settings).await?;
            let faults = if scenario == "throttle" {
                json!({"throttleRate": 0.3, "services": ["emr-containers"], "seed": settings.seed})
            } else {
                json!({"latencyMs": 2000, "services": ["emr-containers"]})
            };
            emulator_faults(faults.clone()).await;
            let manifests = rig.fleet.jobs("job", n);
            let (b, _, ()) = burst(&rig, "job", manifests, async {}).await?;
            bed.emulator.clear_faults().await;
            result.faults = json!({"emulator": faults, "during": "the whole burst"});
            result.complete = b.completed >= n;
            result.outcome = burst_outcome(&b);
            result.burst = Some(b);
            Ok(result)
        }
        "down" => {
            let n = size.unwrap_or(settings.fault_size);
            let mut result = base_result(scenario, n, settings, machine);
            let (rig, _operator) = rig(bed, settings).await?;
            let manifests = rig.fleet.jobs("job", n);
            let faults = json!({"downForSeconds": 30, "services": ["*"]});
            let during = async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                let at = now();
                emulator_faults(faults.clone()).await;
                eprintln!("bench:   the emulator is down for 30 s");
                at
            };
            let (b, _, at) = burst(&rig, "job", manifests, during).await?;
            result.faults = json!({"emulator": faults, "downAt": at, "secondsAfterFirstApply": 3});
            result.complete = b.completed >= n;
            result.outcome = burst_outcome(&b);
            result.burst = Some(b);
            Ok(result)
        }
        "apiserver-restart" => {
            let n = size.unwrap_or(settings.fault_size);
            let mut result = base_result(scenario, n, settings, machine);
            let (rig, _operator) = rig(bed, settings).await?;
            let manifests = rig.fleet.jobs("job", n);
            let during = async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let _ = rig.counter.scrape();
                let at = now();
                eprintln!("bench:   SIGKILL kube-apiserver, start it again after 5 s");
                let r = apiserver::restart(&testbed_dir(), Duration::from_secs(5)).await;
                (at, r)
            };
            let (b, _, (at, restarted)) = burst(&rig, "job", manifests, during).await?;
            let unavailable = restarted?;
            result.faults = json!({
                "killedAt": at,
                "secondsAfterFirstApply": 5,
                "apiserverUnavailableSeconds": round3(unavailable.as_secs_f64()),
            });
            result.notes.push("kube-apiserver's request counters restart with it; writes are accumulated across the restart from scrapes every 10 s and right before the kill.".into());
            result.complete = b.completed >= n;
            result.outcome = burst_outcome(&b);
            result.burst = Some(b);
            Ok(result)
        }
        "watch-drop" => {
            let n = size.unwrap_or(settings.fault_size);
            let mut result = base_result(scenario, n, settings, machine);
            let (proxy, restore) = route_operator_through_proxy().await?;
            let rigged = rig(bed, settings).await;
            restore.restore();
            let (rig, _operator) = rigged?;
            let manifests = rig.fleet.jobs("job", n);
            let during = async {
                let mut at = Vec::new();
                for _ in 0..8 {
                    tokio::time::sleep(Duration::from_secs(4)).await;
                    at.push(now());
                    proxy.drop_all();
                    eprintln!("bench:   dropped every operator connection to kube-apiserver");
                }
                at
            };
            let (b, _, at) = burst(&rig, "job", manifests, during).await?;
            result.faults = json!({
                "droppedAt": at,
                "connectionsOpened": proxy.connections.load(std::sync::atomic::Ordering::Relaxed),
                "connectionsDropped": proxy.dropped.load(std::sync::atomic::Ordering::Relaxed),
            });
            result.complete = b.completed >= n;
            result.outcome = burst_outcome(&b);
            result.burst = Some(b);
            Ok(result)
        }
        "hostile" => hostile_scenario(bed, size, settings, machine).await,
        "fairness" => fairness::run(bed, size, settings, machine).await,
        "schedules" => crate::schedules::run(bed, size, settings, machine).await,
        "shards" => crate::shards::run(bed, size, settings, machine).await,
        _ => Err(format!("unknown scenario {scenario}")),
    }
}

/// Puts a file's earlier text back.
struct Restore {
    path: std::path::PathBuf,
    text: String,
}

impl Restore {
    fn restore(&self) {
        if let Err(e) = std::fs::write(&self.path, &self.text) {
            eprintln!("bench: cannot restore {}: {e}", self.path.display());
        }
    }
}

/// Starts a proxy to the apiserver and points the operator's kubeconfig in this bench bed at it.
/// The operator reads the file once, when it starts; `Restore::restore` puts it back after that.
async fn route_operator_through_proxy() -> Res<(Proxy, Restore)> {
    let dir = testbed_dir();
    let port: u16 = std::fs::read_to_string(dir.join("apiserver.port"))
        .map_err(|e| format!("read apiserver.port: {e}"))?
        .trim()
        .parse()
        .map_err(|e| format!("apiserver.port: {e}"))?;
    let proxy = Proxy::start(port).await?;
    let path = dir.join("operator.kubeconfig");
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let from = format!("server: https://127.0.0.1:{port}");
    if !text.contains(&from) {
        return Err(format!("{} does not name {from}", path.display()));
    }
    let to = format!("server: https://127.0.0.1:{}", proxy.port);
    std::fs::write(&path, text.replace(&from, &to))
        .map_err(|e| format!("write {}: {e}", path.display()))?;
    Ok((proxy, Restore { path, text }))
}

async fn hostile_scenario(
    bed: &'static Bed,
    size: Option<usize>,
    settings: &Settings,
    machine: Machine,
) -> Res<RunResult> {
    let n_hostile = size.unwrap_or(settings.hostile);
    let n_valid = settings.hostile_valid;
    let mut result = base_result("hostile", n_hostile, settings, machine);
    let (rig, mut operator) = rig(bed, settings).await?;

    eprintln!("bench: baseline: {n_valid} valid jobs alone");
    let (base, _, ()) = burst(&rig, "alone", rig.fleet.jobs("alone", n_valid), async {}).await?;

    eprintln!("bench: {n_valid} valid jobs with {n_hostile} hostile manifests");
    let hostile = hostile::generate(&rig.fleet, n_hostile);
    let categories: BTreeMap<String, String> = hostile
        .iter()
        .map(|(c, m)| {
            (
                m["metadata"]["name"].as_str().unwrap_or("").to_string(),
                c.clone(),
            )
        })
        .collect();
    // Interleave, so hostile and valid requests reach the apiserver and the operator together.
    let valid = rig.fleet.jobs("valid", n_valid);
    let mut manifests = Vec::new();
    let mut hi = hostile.into_iter().map(|(_, m)| m);
    let mut vi = valid.into_iter();
    loop {
        match (vi.next(), hi.next()) {
            (None, None) => break,
            (a, b) => manifests.extend(a.into_iter().chain(b)),
        }
    }
    let (mixed, applied, ()) = burst(&rig, "valid", manifests, async {}).await?;

    // Give the operator up to 120 s after the burst to refuse every stored hostile object.
    let stored_hostile: BTreeSet<String> = categories
        .keys()
        .filter(|name| !applied.rejected.iter().any(|(n, _, _)| n == *name))
        .cloned()
        .collect();
    let deadline = now() + 120.0;
    loop {
        let seen = rig.observer.snapshot();
        let pending = seen
            .iter()
            .filter(|s| stored_hostile.contains(&s.name))
            .filter(|s| s.refused_at.is_none() && s.job_run_id_at.is_none())
            .count();
        if pending == 0 || now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let seen = rig.observer.snapshot();
    let view = verify::emulator_view(&rig.fleet).await?;
    let emulator_hostile = view
        .runs
        .values()
        .filter(|r| r.name.as_deref().is_some_and(|n| n.starts_with("hostile-")))
        .count();
    let mut outcomes = Vec::new();
    for (name, category) in &categories {
        let outcome =
            if let Some((_, code, message)) = applied.rejected.iter().find(|(n, _, _)| n == name) {
                HostileOutcome {
                    name: name.clone(),
                    category: category.clone(),
                    outcome: "rejected".into(),
                    reason: format!("HTTP {code}: {}", truncate(message, 300)),
                    seconds_to_reason: None,
                }
            } else if let Some((_, e)) = applied.failed.iter().find(|(n, _)| n == name) {
                HostileOutcome {
                    name: name.clone(),
                    category: category.clone(),
                    outcome: "apply-failed".into(),
                    reason: truncate(e, 300),
                    seconds_to_reason: None,
                }
            } else {
                let s = seen.iter().find(|s| &s.name == name);
                match s {
                    Some(s) if s.job_run_id_at.is_some() => HostileOutcome {
                        name: name.clone(),
                        category: category.clone(),
                        outcome: "ran".into(),
                        reason: format!(
                            "got job run {}",
                            s.status["jobRunId"].as_str().unwrap_or("?")
                        ),
                        seconds_to_reason: None,
                    },
                    Some(s) if s.refused_at.is_some() => {
                        let (reason, message) = refusal(&s.status).unwrap_or_default();
                        HostileOutcome {
                            name: name.clone(),
                            category: category.clone(),
                            outcome: "refused".into(),
                            reason: format!("{reason}: {}", truncate(&message, 300)),
                            seconds_to_reason: s.refused_at.map(|r| round3(r - s.first_seen)),
                        }
                    }
                    _ => HostileOutcome {
                        name: name.clone(),
                        category: category.clone(),
                        outcome: "no-reason".into(),
                        reason: s
                            .map(|s| truncate(&s.status.to_string(), 300))
                            .unwrap_or_else(|| "never seen by the watch".into()),
                        seconds_to_reason: None,
                    },
                }
            };
        outcomes.push(outcome);
    }
    let mut by_category: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for o in &outcomes {
        *by_category
            .entry(o.category.clone())
            .or_default()
            .entry(o.outcome.clone())
            .or_insert(0) += 1;
    }
    let count = |what: &str| outcomes.iter().filter(|o| o.outcome == what).count();
    let log = std::fs::read_to_string(&operator.log).unwrap_or_default();
    let panics = log.matches("panicked").count();
    let survived = operator.is_running() && rig.sampler.processes_seen("operator") == 1;
    let violations = outcomes.len() - count("rejected") - count("refused") + emulator_hostile;
    let report = HostileReport {
        manifests: outcomes.len(),
        rejected_by_apiserver: count("rejected"),
        refused_by_operator: count("refused"),
        violations,
        by_category,
        outcomes,
        operator_survived: survived,
        operator_log_panics: panics,
        valid_alone_p50: base.time_to_completed.p50,
        valid_alone_p99: base.time_to_completed.p99,
        valid_with_hostile_p50: mixed.time_to_completed.p50,
        valid_with_hostile_p99: mixed.time_to_completed.p99,
        emulator_job_runs_for_hostile: emulator_hostile,
    };
    result.complete = violations == 0 && survived && mixed.completed >= n_valid;
    result.outcome = format!(
        "{} hostile: {} rejected by the apiserver, {} refused with a reason, {} violations; operator {}; valid jobs p50/p99 to COMPLETED {:.1}/{:.1} s alone vs {:.1}/{:.1} s alongside",
        report.manifests,
        report.rejected_by_apiserver,
        report.refused_by_operator,
        report.violations,
        if survived {
            "kept running"
        } else {
            "CRASHED or restarted"
        },
        report.valid_alone_p50,
        report.valid_alone_p99,
        report.valid_with_hostile_p50,
        report.valid_with_hostile_p99,
    );
    result.hostile = Some(report);
    result.baseline = Some(base);
    result.burst = Some(mixed);

    let n_forged = (n_hostile / 5).clamp(8, 100);
    eprintln!(
        "bench: {n_forged} objects with a forged status ({})",
        forged::CATEGORY
    );
    let forged = forged::run(&rig.fleet, n_forged, settings.apply_concurrency).await?;
    result.complete = result.complete && forged.violations == 0;
    result.outcome = format!(
        "{}; {}: {} forged, {} flagged, {} calls on the victim's virtual cluster, {} violations",
        result.outcome,
        forged::CATEGORY,
        forged.forged,
        forged.flagged,
        forged.calls_on_victim,
        forged.violations
    );
    result.forged_status = Some(forged);
    Ok(result)
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}...")
    }
}
