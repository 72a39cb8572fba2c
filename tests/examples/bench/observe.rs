//! The driver's own watch on the benchmark's SparkJobRuns: when each object first showed a job
//! run id, and each (job run, EMR state), as a user's `kubectl get -w` would see it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;

/// Seconds since the Unix epoch, as a float (the emulator's clock is the same machine's).
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

pub const TERMINAL: [&str; 3] = ["COMPLETED", "FAILED", "CANCELLED"];

/// What was seen of one SparkJobRun.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub name: String,
    pub first_seen: f64,
    /// First time status.jobRunId was set.
    pub job_run_id_at: Option<f64>,
    /// Job run id -> first time status showed it.
    pub ids: HashMap<String, f64>,
    /// (job run id, EMR state) -> first time status showed it.
    pub states: HashMap<(String, String), f64>,
    /// First time status.state was COMPLETED.
    pub completed_at: Option<f64>,
    /// First time status.state was final (COMPLETED, FAILED, CANCELLED).
    pub terminal_at: Option<f64>,
    /// First time status carried a reason for not running: a Failed=True condition, or a
    /// Submitted=False condition with a reason.
    pub refused_at: Option<f64>,
    /// The latest status.
    pub status: Value,
}

/// Why the operator did not (or will not) run a job, when its status says so: the reason and
/// message of a Failed=True condition, else of a Submitted=False condition with a reason.
pub fn refusal(status: &Value) -> Option<(String, String)> {
    let conditions = status.get("conditions")?.as_array()?;
    let find = |ty: &str, st: &str| {
        conditions.iter().find(|c| {
            c.get("type").and_then(Value::as_str) == Some(ty)
                && c.get("status").and_then(Value::as_str) == Some(st)
                && c.get("reason")
                    .and_then(Value::as_str)
                    .is_some_and(|r| !r.is_empty())
        })
    };
    let c = find("Failed", "True").or_else(|| find("Submitted", "False"))?;
    Some((
        c.get("reason")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        c.get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    ))
}

#[derive(Default)]
struct Inner {
    objects: HashMap<String, Seen>,
}

/// Counts at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub seen: usize,
    pub with_id: usize,
    pub completed: usize,
    pub terminal: usize,
    pub refused: usize,
}

/// A running watch.
#[derive(Clone)]
pub struct Observer {
    inner: Arc<Mutex<Inner>>,
    pub events: Arc<AtomicU64>,
    /// How many times the watch (re)listed: 1 normally, more after the apiserver dropped it.
    pub relists: Arc<AtomicU64>,
    pub errors: Arc<AtomicU64>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Drop for Observer {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

impl Observer {
    pub fn start(client: kube::Client, selector: &str) -> Observer {
        let ar = ApiResource::erase::<emr_api::SparkJobRun>(&());
        let api: Api<DynamicObject> = Api::all_with(client, &ar);
        let inner = Arc::new(Mutex::new(Inner::default()));
        let events = Arc::new(AtomicU64::new(0));
        let relists = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let config = watcher::Config::default().labels(selector);
        let task = {
            let inner = inner.clone();
            let events = events.clone();
            let relists = relists.clone();
            let errors = errors.clone();
            tokio::spawn(async move {
                let mut stream = watcher::watcher(api, config).default_backoff().boxed();
                while let Some(event) = stream.next().await {
                    match event {
                        Ok(Event::Apply(obj)) | Ok(Event::InitApply(obj)) => {
                            events.fetch_add(1, Ordering::Relaxed);
                            record(&inner, &obj, now());
                        }
                        Ok(Event::Init) => {
                            relists.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        };
        Observer {
            inner,
            events,
            relists,
            errors,
            task: Arc::new(task),
        }
    }

    /// Counts, optionally only of objects whose name starts with `prefix`.
    pub fn counts(&self, prefix: &str) -> Counts {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut c = Counts::default();
        for seen in inner.objects.values() {
            if !seen.name.starts_with(prefix) {
                continue;
            }
            c.seen += 1;
            c.with_id += usize::from(seen.job_run_id_at.is_some());
            c.completed += usize::from(seen.completed_at.is_some());
            c.terminal += usize::from(seen.terminal_at.is_some());
            c.refused += usize::from(seen.refused_at.is_some());
        }
        c
    }

    /// Everything seen so far.
    pub fn snapshot(&self) -> Vec<Seen> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.objects.values().cloned().collect()
    }
}

fn record(inner: &Mutex<Inner>, obj: &DynamicObject, at: f64) {
    let namespace = obj.metadata.namespace.clone().unwrap_or_default();
    let name = obj.metadata.name.clone().unwrap_or_default();
    let status = obj.data.get("status").cloned().unwrap_or(Value::Null);
    let job_run_id = status
        .get("jobRunId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let state = status
        .get("state")
        .and_then(Value::as_str)
        .map(str::to_string);
    let refused = refusal(&status).is_some();
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    let seen = inner
        .objects
        .entry(format!("{namespace}/{name}"))
        .or_insert_with(|| Seen {
            name,
            first_seen: at,
            ..Default::default()
        });
    if let Some(id) = &job_run_id {
        seen.job_run_id_at.get_or_insert(at);
        seen.ids.entry(id.clone()).or_insert(at);
        if let Some(state) = &state {
            seen.states.entry((id.clone(), state.clone())).or_insert(at);
            if state == "COMPLETED" {
                seen.completed_at.get_or_insert(at);
            }
            if TERMINAL.contains(&state.as_str()) {
                seen.terminal_at.get_or_insert(at);
            }
        }
    }
    if refused {
        seen.refused_at.get_or_insert(at);
    }
    seen.status = status;
}
