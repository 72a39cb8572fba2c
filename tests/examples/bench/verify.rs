//! The invariant every scenario checks, and status lag.
//!
//! Invariant: every SparkJobRun has exactly one EMR job run per attempt in the emulator (no
//! duplicate submission, none lost), and its status matches the emulator's job run.
//!
//! Status lag of a state S of a job run: the first time the driver's watch saw the object's
//! status show S (or a later state of the same job run) minus the time the emulator's job run
//! entered S. Entry times come from the emulator: PENDING at `createdAt`, SUBMITTED at
//! `createdAt + pending-seconds`, RUNNING at `createdAt + pending + submitted` (the per-job tags
//! the driver set), the final state at `finishedAt`. JOB_RUN_ID is "EMR created the job run ->
//! its id is in status" (the status write after StartJobRun), whether or not a state is shown.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use emr_aws::JobRunInfo;
use kube::api::{ListParams, ObjectList};
use serde::Serialize;
use serde_json::Value;

use crate::fleet::{Fleet, spark_job_runs};
use crate::observe::Seen;
use crate::stats::Dist;
use crate::{Res, Settings};

/// The emulator's view: every job run in the fleet's virtual clusters and every StartJobRun.
pub struct EmulatorView {
    pub runs: HashMap<String, JobRunInfo>,
    /// (virtual cluster id, job run name) -> job run ids.
    pub by_name: HashMap<(String, String), BTreeSet<String>>,
    pub start_requests: usize,
    pub start_requests_accepted: usize,
    pub start_requests_faulted: usize,
}

pub async fn emulator_view(fleet: &Fleet) -> Res<EmulatorView> {
    let bed = fleet.bed;
    bed.emulator.clear_faults().await;
    let mut runs = HashMap::new();
    let mut by_name: HashMap<(String, String), BTreeSet<String>> = HashMap::new();
    for t in &fleet.tenants {
        let list = bed
            .aws
            .emr
            .list_job_runs(&t.vc_id, &[], None)
            .await
            .map_err(|e| format!("ListJobRuns in {}: {e}", t.vc_id))?;
        for run in list {
            by_name
                .entry((t.vc_id.clone(), run.name.clone().unwrap_or_default()))
                .or_default()
                .insert(run.id.clone());
            runs.insert(run.id.clone(), run);
        }
    }
    let vc_ids: BTreeSet<&str> = fleet.tenants.iter().map(|t| t.vc_id.as_str()).collect();
    let requests = bed.emulator.start_job_run_requests(None).await;
    let ours: Vec<&Value> = requests
        .iter()
        .filter(|r| {
            r["virtualClusterId"]
                .as_str()
                .is_some_and(|v| vc_ids.contains(v))
        })
        .collect();
    Ok(EmulatorView {
        runs,
        by_name,
        start_requests: ours.len(),
        start_requests_accepted: ours.iter().filter(|r| r["status"] == 200).count(),
        start_requests_faulted: ours.iter().filter(|r| !r["fault"].is_null()).count(),
    })
}

/// Every SparkJobRun of the fleet as stored now (name -> object JSON).
pub async fn stored_objects(fleet: &Fleet) -> Res<Vec<Value>> {
    let (api, _) = spark_job_runs(fleet.bed);
    let mut out = Vec::new();
    let mut lp = ListParams::default().labels(&fleet.selector()).limit(500);
    loop {
        let page: ObjectList<kube::api::DynamicObject> = api
            .list(&lp)
            .await
            .map_err(|e| format!("list SparkJobRuns: {e}"))?;
        for obj in page.items {
            out.push(serde_json::to_value(&obj).map_err(|e| e.to_string())?);
        }
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => lp = lp.continue_token(&token),
            _ => break,
        }
    }
    Ok(out)
}

/// The invariant's result.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invariant {
    /// SparkJobRuns checked (the valid ones; hostile ones are checked by their scenario).
    pub objects_checked: usize,
    /// Job runs the emulator holds for them.
    pub emulator_job_runs: usize,
    /// StartJobRun requests the emulator received from the operator for the fleet (retries
    /// with the same client token included), accepted, and answered by an injected fault.
    pub start_job_run_requests: usize,
    pub start_job_run_requests_accepted: usize,
    pub start_job_run_requests_faulted: usize,
    /// Objects breaking the invariant, by kind; 0 is the only good answer.
    pub violations: usize,
    pub violations_by_kind: BTreeMap<String, usize>,
    /// Up to 20 examples, each naming the object and what is wrong.
    pub examples: Vec<String>,
    /// Emulator job runs in the fleet's virtual clusters that no SparkJobRun accounts for.
    pub orphan_job_runs: usize,
    /// Objects not (yet) finished when the check ran: their status may legitimately trail the
    /// emulator; counted apart from violations.
    pub unfinished: usize,
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str()
}

/// Checks "exactly one job run per attempt, status matches the emulator" for every object
/// `is_valid` selects.
pub fn invariant(
    objects: &[Value],
    view: &EmulatorView,
    fleet: &Fleet,
    is_valid: impl Fn(&str) -> bool,
) -> Invariant {
    let mut inv = Invariant {
        start_job_run_requests: view.start_requests,
        start_job_run_requests_accepted: view.start_requests_accepted,
        start_job_run_requests_faulted: view.start_requests_faulted,
        ..Default::default()
    };
    let mut accounted: BTreeSet<String> = BTreeSet::new();
    let violation = |inv: &mut Invariant, kind: &str, text: String| {
        inv.violations += 1;
        *inv.violations_by_kind.entry(kind.to_string()).or_insert(0) += 1;
        if inv.examples.len() < 20 {
            inv.examples.push(text);
        }
    };
    for obj in objects {
        let name = s(obj, &["metadata", "name"])
            .unwrap_or_default()
            .to_string();
        let ns = s(obj, &["metadata", "namespace"])
            .unwrap_or_default()
            .to_string();
        let job_name = s(obj, &["spec", "name"]).unwrap_or(&name).to_string();
        let tenant_vc = fleet
            .tenants
            .iter()
            .find(|t| t.namespace == ns)
            .map(|t| t.vc_id.clone())
            .unwrap_or_default();
        let vc_id = s(obj, &["status", "virtualClusterId"])
            .map(str::to_string)
            .unwrap_or(tenant_vc);
        let emulator_ids = view
            .by_name
            .get(&(vc_id.clone(), job_name.clone()))
            .cloned()
            .unwrap_or_default();
        accounted.extend(emulator_ids.iter().cloned());
        if !is_valid(&name) {
            continue;
        }
        inv.objects_checked += 1;
        inv.emulator_job_runs += emulator_ids.len();
        let key = format!("{ns}/{name}");
        let status = obj.get("status").cloned().unwrap_or(Value::Null);
        let job_run_id = s(&status, &["jobRunId"]).map(str::to_string);
        let state = s(&status, &["state"]).map(str::to_string);
        let attempt = status["attempt"].as_i64().unwrap_or(0);
        let attempt_ids: Vec<String> = status["attempts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["jobRunId"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let distinct_attempt_ids: BTreeSet<&String> = attempt_ids.iter().collect();
        if distinct_attempt_ids.len() != attempt_ids.len() {
            violation(
                &mut inv,
                "attempts-repeat-a-job-run",
                format!("{key}: status.attempts lists a job run twice: {attempt_ids:?}"),
            );
        }
        let Some(id) = job_run_id else {
            if emulator_ids.is_empty() {
                inv.unfinished += 1;
            } else {
                violation(
                    &mut inv,
                    "job-run-not-in-status",
                    format!(
                        "{key}: the emulator started {emulator_ids:?} but status has no jobRunId"
                    ),
                );
            }
            continue;
        };
        if emulator_ids.len() as i64 > attempt.max(1) {
            violation(
                &mut inv,
                "duplicate-job-runs",
                format!(
                    "{key}: {} job runs in the emulator for {} attempt(s): {emulator_ids:?}",
                    emulator_ids.len(),
                    attempt
                ),
            );
        } else if (emulator_ids.len() as i64) < attempt {
            violation(
                &mut inv,
                "attempt-without-job-run",
                format!(
                    "{key}: status says attempt {attempt} but the emulator has {emulator_ids:?}"
                ),
            );
        }
        let Some(run) = view.runs.get(&id) else {
            violation(
                &mut inv,
                "status-job-run-unknown-to-emr",
                format!("{key}: status.jobRunId {id} is not a job run of {vc_id}"),
            );
            continue;
        };
        let emr_state = run.state.as_str().to_string();
        if state.as_deref() != Some(emr_state.as_str()) {
            if run.state.is_terminal() {
                violation(
                    &mut inv,
                    "status-state-differs",
                    format!("{key}: status.state {state:?} but the emulator's {id} is {emr_state}"),
                );
            } else {
                inv.unfinished += 1;
            }
        } else if !run.state.is_terminal() {
            inv.unfinished += 1;
        }
    }
    let fleet_runs: BTreeSet<&String> = view.runs.keys().collect();
    inv.orphan_job_runs = fleet_runs
        .iter()
        .filter(|id| !accounted.contains(id.as_str()))
        .count();
    inv
}

/// Status lag by state, in seconds (see the module docs for the definition).
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lag {
    pub definition: String,
    pub by_state: BTreeMap<String, Dist>,
    /// Of the job runs measured, how many had status show exactly this state at some point
    /// (the rest went past it between two status updates).
    pub shown_exactly: BTreeMap<String, usize>,
    /// Job runs measured (current job run of each object known to the emulator).
    pub job_runs: usize,
    /// The same lags split by whether the emulator entered the state before or after the
    /// operator had started the burst's last job run: does a submission backlog delay status?
    pub entered_while_submitting: BTreeMap<String, Dist>,
    pub entered_after_submitting: BTreeMap<String, Dist>,
    /// Final-state lag by tenth of the burst in job run creation order (first tenth created
    /// first): where in the burst the slow status updates are.
    pub final_by_creation_tenth: Vec<Dist>,
}

pub const LAG_DEFINITION: &str = "lag(S) = first time the driver's watch saw status show state S (or a later state) of the object's current job run - time the emulator's job run entered S (PENDING: createdAt; SUBMITTED: createdAt+pending-seconds; RUNNING: createdAt+pending+submitted-seconds; FINAL: finishedAt). JOB_RUN_ID = first time status showed the job run's id - its createdAt. All clocks are this machine's.";

fn epoch(t: &Option<chrono::DateTime<chrono::Utc>>) -> Option<f64> {
    t.map(|t| t.timestamp() as f64 + f64::from(t.timestamp_subsec_micros()) / 1e6)
}

pub fn lag(seen: &[Seen], view: &EmulatorView, settings: &Settings) -> Lag {
    // When the last job run of the burst was created: the end of the submission phase.
    let last_created = seen
        .iter()
        .filter_map(|o| o.status.get("jobRunId").and_then(Value::as_str))
        .filter_map(|id| view.runs.get(id))
        .filter_map(|run| epoch(&run.created_at))
        .fold(f64::NEG_INFINITY, f64::max);
    let mut during: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut after: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    // (created, final-state lag) of every job run whose final state was seen.
    let mut finals: Vec<(f64, f64)> = Vec::new();
    const ORDER: [&str; 4] = ["PENDING", "SUBMITTED", "RUNNING", "FINAL"];
    let rank = |state: &str| match state {
        "PENDING" => 0,
        "SUBMITTED" => 1,
        "RUNNING" | "CANCEL_PENDING" => 2,
        _ => 3,
    };
    let mut values: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut exact: BTreeMap<String, usize> = BTreeMap::new();
    let mut job_runs = 0;
    for obj in seen {
        let Some(id) = obj.status.get("jobRunId").and_then(Value::as_str) else {
            continue;
        };
        let Some(run) = view.runs.get(id) else {
            continue;
        };
        let Some(created) = epoch(&run.created_at) else {
            continue;
        };
        job_runs += 1;
        if let Some(at) = obj.ids.get(id) {
            values.entry("JOB_RUN_ID").or_default().push(at - created);
        }
        let entered = [
            Some(created),
            Some(created + settings.pending_seconds),
            Some(created + settings.pending_seconds + settings.submitted_seconds),
            epoch(&run.finished_at),
        ];
        let observed: Vec<(usize, f64)> = obj
            .states
            .iter()
            .filter(|((run_id, _), _)| run_id == id)
            .map(|((_, state), at)| (rank(state), *at))
            .collect();
        for (i, label) in ORDER.iter().enumerate() {
            let Some(entry) = entered[i] else { continue };
            let first = observed
                .iter()
                .filter(|(r, _)| *r >= i)
                .map(|(_, at)| *at)
                .fold(f64::INFINITY, f64::min);
            if first.is_finite() {
                values.entry(label).or_default().push(first - entry);
                let split = if entry <= last_created {
                    &mut during
                } else {
                    &mut after
                };
                split.entry(label).or_default().push(first - entry);
                if *label == "FINAL" {
                    finals.push((created, first - entry));
                }
            }
            if observed.iter().any(|(r, _)| *r == i) {
                *exact.entry(label.to_string()).or_insert(0) += 1;
            }
        }
    }
    finals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let tenth = finals.len().div_ceil(10).max(1);
    let final_by_creation_tenth = finals
        .chunks(tenth)
        .map(|chunk| Dist::of(&chunk.iter().map(|(_, l)| *l).collect::<Vec<_>>()))
        .collect();
    Lag {
        definition: LAG_DEFINITION.into(),
        final_by_creation_tenth,
        by_state: values
            .into_iter()
            .map(|(k, v)| (k.to_string(), Dist::of(&v)))
            .collect(),
        shown_exactly: exact,
        job_runs,
        entered_while_submitting: during
            .into_iter()
            .map(|(k, v)| (k.to_string(), Dist::of(&v)))
            .collect(),
        entered_after_submitting: after
            .into_iter()
            .map(|(k, v)| (k.to_string(), Dist::of(&v)))
            .collect(),
    }
}
