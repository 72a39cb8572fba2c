//! Prometheus metrics of the operator, served on `/metrics`. Also the AWS call observer, so every
//! AWS request is counted by operation and outcome without the AWS layer knowing Prometheus.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use emr_aws::{CallObserver, CallOutcome, Operation};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    service: String,
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabel {
    controller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    controller: String,
    error: String,
}

fn seconds_histogram() -> Histogram {
    // 10 ms .. ~3 h: from a reconcile to a long Spark job.
    Histogram::new(exponential_buckets(0.01, 2.5, 14))
}

/// The operator's metrics. Cheap to update from any task.
pub struct Metrics {
    registry: Registry,
    job_runs: Family<StateLabel, Gauge>,
    job_run_transitions: Family<StateLabel, Counter>,
    submit_latency: Histogram,
    time_to_terminal: Family<StateLabel, Histogram>,
    aws_calls: Family<CallLabels, Counter>,
    aws_call_duration: Family<OperationLabel, Histogram>,
    reconciles: Family<ControllerLabel, Counter>,
    reconcile_errors: Family<ErrorLabels, Counter>,
    reconcile_duration: Family<ControllerLabel, Histogram>,
    leader: Gauge,
    // Remembers which state labels were set last time, so a state that emptied drops to 0.
    last_states: Mutex<Vec<String>>,
    // Counts SparkJobRuns by state from the controller's cache when /metrics is scraped, so the
    // gauge is never staler than the cache.
    job_run_counter: Mutex<Option<JobRunCounter>>,
}

/// Counts SparkJobRuns by the EMR state of their current attempt.
pub type JobRunCounter = Box<dyn Fn() -> BTreeMap<String, i64> + Send + Sync>;

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the `emr_operator` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("emr_operator");
        let job_runs = Family::<StateLabel, Gauge>::default();
        let job_run_transitions = Family::<StateLabel, Counter>::default();
        let submit_latency = seconds_histogram();
        let time_to_terminal = Family::<StateLabel, Histogram>::new_with_constructor(
            seconds_histogram as fn() -> Histogram,
        );
        let aws_calls = Family::<CallLabels, Counter>::default();
        let aws_call_duration = Family::<OperationLabel, Histogram>::new_with_constructor(
            seconds_histogram as fn() -> Histogram,
        );
        let reconciles = Family::<ControllerLabel, Counter>::default();
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        let reconcile_duration = Family::<ControllerLabel, Histogram>::new_with_constructor(
            seconds_histogram as fn() -> Histogram,
        );
        let leader = Gauge::default();

        registry.register(
            "job_runs",
            "SparkJobRuns by the EMR state of their current attempt",
            job_runs.clone(),
        );
        registry.register(
            "job_run_transitions",
            "EMR state transitions observed, by the state entered",
            job_run_transitions.clone(),
        );
        registry.register(
            "job_run_submit_seconds",
            "Time from an attempt becoming due to EMR accepting its StartJobRun",
            submit_latency.clone(),
        );
        registry.register(
            "job_run_time_to_terminal_seconds",
            "Time from a job run's creation in EMR to its final state, by final state",
            time_to_terminal.clone(),
        );
        registry.register(
            "aws_calls",
            "AWS API requests by service, operation and outcome (ok, Throttled, NotFound, AccessDenied, ...)",
            aws_calls.clone(),
        );
        registry.register(
            "aws_call_seconds",
            "AWS API request latency by operation",
            aws_call_duration.clone(),
        );
        registry.register("reconciles", "Reconciles by controller", reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Failed reconciles by controller and error",
            reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_seconds",
            "Reconcile duration by controller",
            reconcile_duration.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader Lease",
            leader.clone(),
        );

        for op in Operation::ALL {
            let _ = aws_calls.get_or_create(&CallLabels {
                service: op.service().into(),
                operation: op.as_str().into(),
                outcome: CallOutcome::Ok.as_str().into(),
            });
        }

        Self {
            registry,
            job_runs,
            job_run_transitions,
            submit_latency,
            time_to_terminal,
            aws_calls,
            aws_call_duration,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            leader,
            last_states: Mutex::new(Vec::new()),
            job_run_counter: Mutex::new(None),
        }
    }

    /// Where `job_runs{state}` comes from at scrape time.
    pub fn set_job_run_counter(&self, counter: JobRunCounter) {
        if let Ok(mut slot) = self.job_run_counter.lock() {
            *slot = Some(counter);
        }
    }

    /// The text exposition format for `/metrics`.
    pub fn encode(&self) -> String {
        let counts = self
            .job_run_counter
            .lock()
            .ok()
            .and_then(|c| c.as_ref().map(|count| count()));
        if let Some(counts) = counts {
            self.set_job_runs_by_state(&counts);
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// Replaces the per-state job counts.
    fn set_job_runs_by_state(&self, counts: &BTreeMap<String, i64>) {
        let Ok(mut last) = self.last_states.lock() else {
            return;
        };
        for state in last.iter() {
            if !counts.contains_key(state) {
                self.job_runs
                    .get_or_create(&StateLabel {
                        state: state.clone(),
                    })
                    .set(0);
            }
        }
        for (state, count) in counts {
            self.job_runs
                .get_or_create(&StateLabel {
                    state: state.clone(),
                })
                .set(*count);
        }
        *last = counts.keys().cloned().collect();
    }

    /// A job run entered `state`.
    pub fn job_run_transition(&self, state: &str) {
        self.job_run_transitions
            .get_or_create(&StateLabel {
                state: state.into(),
            })
            .inc();
    }

    /// EMR accepted a StartJobRun `latency` after the attempt became due.
    pub fn job_run_submitted(&self, latency: Duration) {
        self.submit_latency.observe(latency.as_secs_f64());
    }

    /// A job run reached its final `state` `elapsed` after EMR created it.
    pub fn job_run_finished(&self, state: &str, elapsed: Duration) {
        self.time_to_terminal
            .get_or_create(&StateLabel {
                state: state.into(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// A reconcile of `controller` took `elapsed`; `error` names the failure, if any.
    pub fn reconciled(&self, controller: &str, elapsed: Duration, error: Option<&str>) {
        let label = ControllerLabel {
            controller: controller.into(),
        };
        self.reconciles.get_or_create(&label).inc();
        self.reconcile_duration
            .get_or_create(&label)
            .observe(elapsed.as_secs_f64());
        if let Some(error) = error {
            self.reconcile_errors
                .get_or_create(&ErrorLabels {
                    controller: controller.into(),
                    error: error.into(),
                })
                .inc();
        }
    }

    /// Whether this replica leads.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }
}

impl CallObserver for Metrics {
    fn observe(&self, op: Operation, outcome: CallOutcome, elapsed: Duration) {
        self.aws_calls
            .get_or_create(&CallLabels {
                service: op.service().into(),
                operation: op.as_str().into(),
                outcome: outcome.as_str().into(),
            })
            .inc();
        self.aws_call_duration
            .get_or_create(&OperationLabel {
                operation: op.as_str().into(),
            })
            .observe(elapsed.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_calls_and_job_states() {
        let m = Metrics::new();
        m.observe(
            Operation::StartJobRun,
            CallOutcome::Ok,
            Duration::from_millis(5),
        );
        let calls = std::sync::atomic::AtomicUsize::new(0);
        m.set_job_run_counter(Box::new(move || {
            let state = if calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0 {
                "RUNNING"
            } else {
                "COMPLETED"
            };
            BTreeMap::from([(state.to_string(), 3)])
        }));
        let _ = m.encode();
        let text = m.encode();
        assert!(text.contains(r#"emr_operator_aws_calls_total{service="emr-containers",operation="StartJobRun",outcome="ok"} 1"#), "{text}");
        assert!(
            text.contains(r#"emr_operator_job_runs{state="RUNNING"} 0"#),
            "{text}"
        );
        assert!(
            text.contains(r#"emr_operator_job_runs{state="COMPLETED"} 3"#),
            "{text}"
        );
    }
}
