//! The `fairness` scenario (issue 19): does one tenant's backlog hold up another tenant's job?
//!
//! Tenant A's N SparkJobRuns are applied while the operator is stopped (an upgrade, a restart,
//! a leader change); then the operator starts and tenants B, C, ... each apply one job every
//! `fairness_interval_seconds` for `fairness_seconds`. Measured: every other tenant's job's time
//! from its creation to `status.jobRunId` (the driver's watch), and A's backlog from the
//! operator's start to its last job run id (its drain rate). Then every job is waited for to
//! COMPLETED and the invariant is checked as in every scenario.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use emr_operator_tests::Bed;
use serde::Serialize;
use serde_json::Value;

use crate::fleet::{self, Applied};
use crate::observe::{Seen, now};
use crate::procstat::{Machine, round3};
use crate::scenarios::{self, RunResult, Window};
use crate::stats::Dist;
use crate::{Res, Settings};

/// The goal for the other tenants: p99 time to job run id, seconds.
pub const GOAL_P99_SECONDS: f64 = 3.0;
const BACKLOG_PREFIX: &str = "backlog-";
const ARRIVAL_PREFIX: &str = "arrival-";

/// Tenant `i`'s letter: A has the backlog, B, C, ... apply jobs one at a time.
fn letter(i: usize) -> char {
    char::from(b'a' + (i % 26) as u8)
}

/// One job of the other tenants, as applied.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Arrival {
    pub name: String,
    pub tenant: String,
    /// Planned moment, seconds after the operator's start.
    pub scheduled_seconds: f64,
    /// Created: the earlier of the apply's answer and the watch's first sight, seconds after
    /// the operator's start.
    pub created_seconds: Option<f64>,
    /// Created -> the watch saw status.jobRunId.
    pub time_to_job_run_id: Option<f64>,
    /// Created while tenant A still had jobs without a job run id.
    pub during_backlog: bool,
    pub apply_error: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FairnessReport {
    /// Tenant A's jobs, and how many the apiserver stored.
    pub backlog: usize,
    pub backlog_stored: usize,
    /// Seconds A's applies took (the operator stopped).
    pub backlog_apply_seconds: f64,
    /// The operator's start (process spawned) -> answering /healthz.
    pub operator_healthy_seconds: f64,
    /// Operator start -> the first / last A job with a job run id.
    pub backlog_first_job_run_id_seconds: Option<f64>,
    pub backlog_all_job_run_ids_seconds: Option<f64>,
    pub backlog_with_job_run_id: usize,
    /// A's jobs per second from the operator's start to its last job run id.
    pub backlog_drain_per_second: Option<f64>,
    /// Other tenants (B, C, ...), their cadence and how long they applied.
    pub other_tenants: Vec<String>,
    pub interval_seconds: f64,
    pub arrival_seconds: f64,
    pub other_jobs: usize,
    pub other_with_job_run_id: usize,
    /// Created -> job run id in status, every other tenant's job.
    pub other_time_to_job_run_id: Dist,
    /// The same, jobs created while A's backlog still had jobs without a job run id / after.
    pub other_during_backlog: Dist,
    pub other_after_backlog: Dist,
    pub other_by_tenant: BTreeMap<String, Dist>,
    pub goal_p99_seconds: f64,
    /// Whether the other tenants' p99 met the goal (every job got an id and p99 <= goal).
    pub goal_met: bool,
    /// Every 5 s from the operator's start: [seconds, A jobs with a job run id, other jobs
    /// created, other jobs with a job run id].
    pub progress: Vec<[f64; 4]>,
    pub arrivals: Vec<Arrival>,
    /// /proc/loadavg when the operator started and when the last job completed (or the wait ended).
    pub load_average_at_operator_start: String,
    pub load_average_at_end: String,
}

/// The 1, 5 and 15 minute load averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Applies every arrival at its planned moment (each apply in its own task, so a slow answer
/// never delays the next), counting the ones the apiserver did not store in `lost`.
async fn arrive(
    bed: &'static Bed,
    start: tokio::time::Instant,
    planned: Vec<(f64, Value)>,
    lost: Arc<AtomicUsize>,
) -> Vec<(String, f64, Applied)> {
    let mut tasks = Vec::new();
    for (offset, manifest) in planned {
        tokio::time::sleep_until(start + Duration::from_secs_f64(offset)).await;
        let name = manifest["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let lost = lost.clone();
        tasks.push(tokio::spawn(async move {
            let applied = fleet::apply_all(bed, vec![manifest], 1).await;
            if applied.stored == 0 {
                lost.fetch_add(1, Ordering::Relaxed);
            }
            (name, offset, applied)
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        if let Ok(one) = task.await {
            out.push(one);
        }
    }
    out
}

pub async fn run(
    bed: &'static Bed,
    size: Option<usize>,
    settings: &Settings,
    machine: Machine,
) -> Res<RunResult> {
    let n = size.unwrap_or(1000);
    let others = settings.fairness_tenants;
    let mut settings = settings.clone();
    settings.virtual_clusters = others + 1;
    let mut result = scenarios::base_result("fairness", n, &settings, machine);
    let (rig, mut operator) = scenarios::rig(bed, &settings).await?;

    // The operator goes away as in a rolling update: SIGTERM, graceful shutdown.
    eprintln!("bench: stopping the operator");
    operator.terminate();
    eprintln!("bench: applying tenant A's {n} jobs while the operator is stopped");
    let backlog: Vec<Value> = (0..n)
        .map(|i| rig.fleet.job_for(0, &format!("{BACKLOG_PREFIX}{i:05}")))
        .collect();
    let backlog_applied = fleet::apply_all(bed, backlog, settings.apply_concurrency).await;
    if backlog_applied.stored < n {
        result.notes.push(format!(
            "only {} of tenant A's {n} jobs were stored: {:?} {:?}",
            backlog_applied.stored,
            backlog_applied.rejected.first(),
            backlog_applied.failed.first()
        ));
    }
    // Every stored A job seen by the watch before the operator starts.
    let seen_deadline = now() + 120.0;
    while rig.observer.counts(BACKLOG_PREFIX).seen < backlog_applied.stored && now() < seen_deadline
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let interval = settings.fairness_interval_seconds;
    let rounds = (settings.fairness_seconds / interval).floor() as usize;
    // Tenants take turns within each interval, so jobs arrive at an even pace.
    let mut planned = Vec::new();
    for round in 0..rounds {
        for t in 1..=others {
            let offset = round as f64 * interval + (t - 1) as f64 * interval / others as f64;
            let name = format!("{ARRIVAL_PREFIX}{}-{round:04}", letter(t));
            planned.push((offset, rig.fleet.job_for(t, &name)));
        }
    }
    let planned_jobs = planned.len();
    let total_planned = backlog_applied.stored + planned_jobs;

    eprintln!(
        "bench: starting the operator; tenants B..{} apply one job each every {interval} s for {} s",
        letter(others).to_ascii_uppercase(),
        settings.fairness_seconds
    );
    let load_at_start = loadavg();
    let window = Window::open(&rig).await;
    let t0 = window.t0;
    operator.start().await;
    let healthy = now();
    let lost = Arc::new(AtomicUsize::new(0));
    let arrivals_task = tokio::spawn(arrive(
        bed,
        tokio::time::Instant::now(),
        planned,
        lost.clone(),
    ));

    let timeout = settings.timeout_seconds as f64;
    let mut progress: Vec<[f64; 3]> = Vec::new();
    let mut fair_progress: Vec<[f64; 4]> = Vec::new();
    let mut next_progress = t0;
    let mut last_print = t0;
    let done = loop {
        let all = rig.observer.counts("");
        let a = rig.observer.counts(BACKLOG_PREFIX);
        let o = rig.observer.counts(ARRIVAL_PREFIX);
        let t = now();
        let expected = total_planned.saturating_sub(lost.load(Ordering::Relaxed));
        let finished = arrivals_task.is_finished() && all.completed >= expected;
        if t >= next_progress || finished {
            next_progress += 5.0;
            progress.push([round3(t - t0), all.with_id as f64, all.completed as f64]);
            fair_progress.push([
                round3(t - t0),
                a.with_id as f64,
                o.seen as f64,
                o.with_id as f64,
            ]);
        }
        if finished {
            break true;
        }
        if t - t0 > timeout {
            eprintln!("bench: timed out after {timeout} s");
            break false;
        }
        if t - last_print >= 10.0 {
            last_print = t;
            eprintln!(
                "bench:   t={:>4.0}s A: jobRunId={} of {}; others: applied={} jobRunId={}; completed={} of {expected}",
                t - t0,
                a.with_id,
                backlog_applied.stored,
                o.seen,
                o.with_id,
                all.completed
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let load_at_end = loadavg();
    let applied_arrivals = arrivals_task
        .await
        .map_err(|e| format!("the arrivals task failed: {e}"))?;
    // The window's own applies (the other tenants'), for the burst's write counts.
    let mut window_applied = Applied {
        started: healthy,
        finished: healthy,
        ..Default::default()
    };
    for (_, _, a) in &applied_arrivals {
        window_applied.stored += a.stored;
        window_applied.requests += a.requests;
        window_applied.finished = window_applied.finished.max(a.finished);
        window_applied.rejected.extend(a.rejected.iter().cloned());
        window_applied.failed.extend(a.failed.iter().cloned());
    }
    let jobs = backlog_applied.stored + window_applied.stored;
    let burst =
        scenarios::measure(&rig, "", jobs, &window, &window_applied, done, progress).await?;

    let context = Context {
        backlog: n,
        t0,
        healthy,
        others,
        interval_seconds: interval,
        arrival_seconds: settings.fairness_seconds,
        load_at_start,
        load_at_end,
    };
    let report = report(
        &rig.observer.snapshot(),
        &applied_arrivals,
        &backlog_applied,
        &context,
        fair_progress,
    );
    result.complete = done && burst.completed >= jobs && backlog_applied.stored == n;
    result.outcome = outcome(&report, burst.invariant.violations, burst.completed, jobs);
    result.fairness = Some(report);
    result.burst = Some(burst);
    Ok(result)
}

fn outcome(r: &FairnessReport, violations: usize, completed: usize, jobs: usize) -> String {
    let secs = |v: Option<f64>| v.map_or("-".to_string(), |s| format!("{s:.1} s"));
    format!(
        "A's {} jobs: all job run ids {} after the operator's start ({} jobs/s); other tenants' {} jobs ({} with an id): time to job run id p50 {:.1} s, p99 {:.1} s, max {:.1} s (goal p99 <= {GOAL_P99_SECONDS} s: {}); {completed}/{jobs} completed; invariant violations {violations}",
        r.backlog,
        secs(r.backlog_all_job_run_ids_seconds),
        r.backlog_drain_per_second
            .map_or("-".to_string(), |v| format!("{v:.1}")),
        r.other_jobs,
        r.other_with_job_run_id,
        r.other_time_to_job_run_id.p50,
        r.other_time_to_job_run_id.p99,
        r.other_time_to_job_run_id.max,
        if r.goal_met { "met" } else { "NOT met" },
    )
}

/// What the report needs to know of the run besides the observations.
struct Context {
    backlog: usize,
    /// The operator's start and the moment it answered /healthz (epoch seconds).
    t0: f64,
    healthy: f64,
    others: usize,
    interval_seconds: f64,
    arrival_seconds: f64,
    load_at_start: String,
    load_at_end: String,
}

/// The fairness figures from what the watch saw and what the applies answered.
fn report(
    seen: &[Seen],
    arrivals: &[(String, f64, Applied)],
    backlog_applied: &Applied,
    ctx: &Context,
    progress: Vec<[f64; 4]>,
) -> FairnessReport {
    let t0 = ctx.t0;
    let a_ids: Vec<f64> = seen
        .iter()
        .filter(|s| s.name.starts_with(BACKLOG_PREFIX))
        .filter_map(|s| s.job_run_id_at)
        .collect();
    let last_a = a_ids.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let first_a = a_ids.iter().copied().fold(f64::INFINITY, f64::min);
    let all_a = a_ids.len() >= backlog_applied.stored && !a_ids.is_empty();
    // Until every A job had an id, A still had a backlog (if it never drained: the whole run).
    let backlog_end = if all_a { last_a } else { f64::INFINITY };
    let by_name: BTreeMap<&str, &Seen> = seen
        .iter()
        .filter(|s| s.name.starts_with(ARRIVAL_PREFIX))
        .map(|s| (s.name.as_str(), s))
        .collect();
    let mut out = Vec::new();
    for (name, offset, applied) in arrivals {
        let tenant = name
            .trim_start_matches(ARRIVAL_PREFIX)
            .chars()
            .next()
            .map(|c| c.to_ascii_uppercase().to_string())
            .unwrap_or_default();
        let s = by_name.get(name.as_str());
        let stored = applied.stored > 0;
        let created = match (stored, s) {
            (true, Some(s)) => Some(applied.finished.min(s.first_seen)),
            (true, None) => Some(applied.finished),
            (false, _) => None,
        };
        let time_to_id = created.and_then(|c| Some(s?.job_run_id_at? - c));
        out.push(Arrival {
            name: name.clone(),
            tenant,
            scheduled_seconds: round3(*offset),
            created_seconds: created.map(|c| round3(c - t0)),
            time_to_job_run_id: time_to_id.map(round3),
            during_backlog: created.is_some_and(|c| c < backlog_end),
            apply_error: applied
                .rejected
                .first()
                .map(|(_, code, m)| format!("HTTP {code}: {m}"))
                .or_else(|| applied.failed.first().map(|(_, e)| e.clone())),
        });
    }
    let dist = |pred: &dyn Fn(&Arrival) -> bool| {
        Dist::of(
            &out.iter()
                .filter(|a| pred(a))
                .filter_map(|a| a.time_to_job_run_id)
                .collect::<Vec<_>>(),
        )
    };
    let tenants: Vec<String> = (1..=ctx.others)
        .map(|t| letter(t).to_ascii_uppercase().to_string())
        .collect();
    let by_tenant = tenants
        .iter()
        .map(|t| (t.clone(), dist(&|a: &Arrival| &a.tenant == t)))
        .collect();
    let all = dist(&|_| true);
    let with_id = out
        .iter()
        .filter(|a| a.time_to_job_run_id.is_some())
        .count();
    let drained = all_a.then(|| round3(last_a - t0));
    FairnessReport {
        backlog: ctx.backlog,
        backlog_stored: backlog_applied.stored,
        backlog_apply_seconds: round3(backlog_applied.finished - backlog_applied.started),
        operator_healthy_seconds: round3(ctx.healthy - t0),
        backlog_first_job_run_id_seconds: first_a.is_finite().then(|| round3(first_a - t0)),
        backlog_all_job_run_ids_seconds: drained,
        backlog_with_job_run_id: a_ids.len(),
        backlog_drain_per_second: drained
            .filter(|d| *d > 0.0)
            .map(|d| round3(a_ids.len() as f64 / d)),
        other_tenants: tenants,
        interval_seconds: ctx.interval_seconds,
        arrival_seconds: ctx.arrival_seconds,
        other_jobs: out.len(),
        other_with_job_run_id: with_id,
        goal_met: with_id == out.len() && !out.is_empty() && all.p99 <= GOAL_P99_SECONDS,
        other_time_to_job_run_id: all,
        other_during_backlog: dist(&|a| a.during_backlog),
        other_after_backlog: dist(&|a| !a.during_backlog),
        other_by_tenant: by_tenant,
        goal_p99_seconds: GOAL_P99_SECONDS,
        progress,
        arrivals: out,
        load_average_at_operator_start: ctx.load_at_start.clone(),
        load_average_at_end: ctx.load_at_end.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: f64 = 1000.0;

    fn context(backlog: usize) -> Context {
        Context {
            backlog,
            t0: T0,
            healthy: T0 + 0.5,
            others: 2,
            interval_seconds: 2.0,
            arrival_seconds: 4.0,
            load_at_start: String::new(),
            load_at_end: String::new(),
        }
    }

    fn seen(name: &str, first_seen: f64, job_run_id_at: Option<f64>) -> Seen {
        Seen {
            name: name.into(),
            first_seen,
            job_run_id_at,
            ..Default::default()
        }
    }

    /// An apply the apiserver answered at `answered` (stored or refused).
    fn applied(answered: f64, stored: bool) -> Applied {
        Applied {
            stored: usize::from(stored),
            rejected: if stored {
                Vec::new()
            } else {
                vec![("x".into(), 422, "refused".into())]
            },
            started: answered - 0.1,
            finished: answered,
            ..Default::default()
        }
    }

    fn backlog(stored: usize) -> Applied {
        Applied {
            stored,
            started: T0 - 30.0,
            finished: T0 - 10.0,
            ..Default::default()
        }
    }

    #[test]
    fn waits_run_from_creation_and_split_at_the_backlogs_last_job_run_id() {
        let seen = vec![
            seen("backlog-00000", T0 - 20.0, Some(T0 + 1.0)),
            seen("backlog-00001", T0 - 20.0, Some(T0 + 10.0)),
            // The watch saw it before the apply's answer came back: created then.
            seen("arrival-b-0000", T0 + 1.0, Some(T0 + 4.0)),
            seen("arrival-c-0000", T0 + 2.0, Some(T0 + 2.5)),
            // Created after A's last job run id.
            seen("arrival-b-0001", T0 + 12.0, Some(T0 + 12.2)),
        ];
        let arrivals = vec![
            ("arrival-b-0000".to_string(), 0.0, applied(T0 + 1.5, true)),
            ("arrival-c-0000".to_string(), 1.0, applied(T0 + 2.0, true)),
            ("arrival-b-0001".to_string(), 2.0, applied(T0 + 12.0, true)),
        ];
        let r = report(&seen, &arrivals, &backlog(2), &context(2), Vec::new());
        assert_eq!(r.backlog_first_job_run_id_seconds, Some(1.0));
        assert_eq!(r.backlog_all_job_run_ids_seconds, Some(10.0));
        assert_eq!(r.backlog_drain_per_second, Some(0.2));
        assert_eq!(r.backlog_apply_seconds, 20.0);
        assert_eq!(r.arrivals[0].created_seconds, Some(1.0));
        assert_eq!(r.arrivals[0].time_to_job_run_id, Some(3.0));
        assert_eq!(r.arrivals[0].tenant, "B");
        assert_eq!(r.other_with_job_run_id, 3);
        assert_eq!(r.other_during_backlog.n, 2);
        assert_eq!(r.other_during_backlog.max, 3.0);
        assert_eq!(r.other_after_backlog.n, 1);
        assert_eq!(r.other_by_tenant["B"].n, 2);
        assert_eq!(r.other_by_tenant["C"].p99, 0.5);
        assert_eq!(r.other_time_to_job_run_id.p99, 3.0);
        assert!(r.goal_met);
    }

    #[test]
    fn a_job_without_a_job_run_id_fails_the_goal_whatever_the_others_did() {
        let seen = vec![
            seen("backlog-00000", T0 - 20.0, Some(T0 + 1.0)),
            seen("arrival-b-0000", T0 + 1.0, Some(T0 + 1.1)),
            seen("arrival-c-0000", T0 + 2.0, None),
        ];
        let arrivals = vec![
            ("arrival-b-0000".to_string(), 0.0, applied(T0 + 1.0, true)),
            ("arrival-c-0000".to_string(), 1.0, applied(T0 + 2.0, true)),
        ];
        let r = report(&seen, &arrivals, &backlog(1), &context(1), Vec::new());
        assert_eq!(r.other_jobs, 2);
        assert_eq!(r.other_with_job_run_id, 1);
        assert!(r.other_time_to_job_run_id.p99 <= GOAL_P99_SECONDS);
        assert!(!r.goal_met);
    }

    #[test]
    fn an_undrained_backlog_has_no_drain_time_and_every_arrival_waited_behind_it() {
        let seen = vec![
            seen("backlog-00000", T0 - 20.0, Some(T0 + 1.0)),
            seen("backlog-00001", T0 - 20.0, None),
            seen("arrival-b-0000", T0 + 30.0, Some(T0 + 31.0)),
        ];
        let arrivals = vec![
            ("arrival-b-0000".to_string(), 0.0, applied(T0 + 30.0, true)),
            // Refused by the apiserver: no creation time, no wait.
            ("arrival-c-0000".to_string(), 1.0, applied(T0 + 31.0, false)),
        ];
        let r = report(&seen, &arrivals, &backlog(2), &context(2), Vec::new());
        assert_eq!(r.backlog_with_job_run_id, 1);
        assert_eq!(r.backlog_all_job_run_ids_seconds, None);
        assert_eq!(r.backlog_drain_per_second, None);
        assert!(r.arrivals[0].during_backlog);
        assert_eq!(r.arrivals[1].created_seconds, None);
        assert_eq!(
            r.arrivals[1].apply_error.as_deref(),
            Some("HTTP 422: refused")
        );
        assert!(!r.goal_met);
    }
}
