//! Prometheus metrics of the operator, served on `/metrics`. Also the AWS call observer, so every
//! AWS request is counted by operation and outcome without the AWS layer knowing Prometheus.
//!
//! One naming scheme for the reconcile families: the `controller` label is the kind
//! (`SparkJobRun`, `VirtualCluster`) and the `error` label is UpperCamelCase, like condition
//! reasons (`StartJobRun`, `AwsThrottled`). [`Metrics::reconciled`] enforces it, whatever case a
//! controller passes.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use emr_aws::{CallObserver, CallOutcome, Operation};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::fair_queue::TenantLoad;
use labels::{
    CallLabels, ControllerLabel, ErrorLabels, LaneLabel, MapLabel, OperationLabel, OutcomeLabel,
    StateLabel, TenantLabels, upper_camel,
};

mod labels;
mod scrape;

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
    aws_pacing_wait: Family<OperationLabel, Counter<f64, AtomicU64>>,
    aws_calls_held: Family<OperationLabel, Counter>,
    reconciles: Family<ControllerLabel, Counter>,
    reconcile_errors: Family<ErrorLabels, Counter>,
    reconcile_duration: Family<ControllerLabel, Histogram>,
    leader: Gauge,
    tracked_objects: Family<MapLabel, Gauge>,
    queue_depth: Family<TenantLabels, Gauge>,
    queue_wait: Family<TenantLabels, Gauge<f64, AtomicU64>>,
    queue_dispatch_wait: Family<LaneLabel, Histogram>,
    pod_template_uploads: Family<OutcomeLabel, Counter>,
    // Reads the fair queue's load per tenant when /metrics is scraped.
    queue_load: Mutex<Option<QueueLoad>>,
    // The tenants shown last time, so a tenant that drained leaves the queue gauges.
    last_tenants: Mutex<Vec<TenantLabels>>,
    // Reads the sizes of the controllers' in-memory maps when /metrics is scraped.
    map_sizes: Mutex<BTreeMap<&'static str, MapSizes>>,
    // Remembers which state labels were set last time, so a state that emptied drops to 0.
    last_states: Mutex<Vec<String>>,
    // Counts SparkJobRuns by state from the controller's cache when /metrics is scraped, so the
    // gauge is never staler than the cache.
    job_run_counter: Mutex<Option<JobRunCounter>>,
}

/// Counts SparkJobRuns by the EMR state of their current attempt.
pub type JobRunCounter = Box<dyn Fn() -> BTreeMap<String, i64> + Send + Sync>;

/// The SparkJobRun queue's load per tenant, read at scrape time.
pub type QueueLoad = Box<dyn Fn() -> Vec<TenantLoad> + Send + Sync>;

/// Entries per in-memory map of one controller (empty once the controller is gone).
pub type MapSizes = Box<dyn Fn() -> Vec<(&'static str, usize)> + Send + Sync>;

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
        let aws_pacing_wait = Family::<OperationLabel, Counter<f64, AtomicU64>>::default();
        let aws_calls_held = Family::<OperationLabel, Counter>::default();
        let reconciles = Family::<ControllerLabel, Counter>::default();
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        let reconcile_duration = Family::<ControllerLabel, Histogram>::new_with_constructor(
            seconds_histogram as fn() -> Histogram,
        );
        let leader = Gauge::default();
        let tracked_objects = Family::<MapLabel, Gauge>::default();
        let queue_depth = Family::<TenantLabels, Gauge>::default();
        let queue_wait = Family::<TenantLabels, Gauge<f64, AtomicU64>>::default();
        let queue_dispatch_wait = Family::<LaneLabel, Histogram>::new_with_constructor(|| {
            // 1 ms .. ~2.5 min: a fair queue hands out work in milliseconds.
            Histogram::new(exponential_buckets(0.001, 2.5, 14))
        });

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
        registry.register(
            "aws_rate_limit_wait_seconds",
            "Time AWS calls waited for a token of the operator's own rate limit (--aws-rate-limit), by operation",
            aws_pacing_wait.clone(),
        );
        registry.register(
            "aws_calls_held",
            "AWS calls not sent because their service was not answering (held until one probe call gets an answer), by operation",
            aws_calls_held.clone(),
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
        registry.register(
            "tracked_objects",
            "Entries in the operator's in-memory maps kept per object or job run, by map (0 once every object is deleted)",
            tracked_objects.clone(),
        );

        registry.register(
            "queue_depth",
            "SparkJobRuns waiting for a reconcile, per tenant (namespace) and its VirtualCluster",
            queue_depth.clone(),
        );
        registry.register(
            "queue_wait_seconds",
            "How long the longest-waiting SparkJobRun of a tenant has been waiting for a reconcile",
            queue_wait.clone(),
        );
        registry.register(
            "queue_dispatch_wait_seconds",
            "Time from a SparkJobRun being ready for a reconcile to its reconcile starting, by lane (changes, polled)",
            queue_dispatch_wait.clone(),
        );

        let pod_template_uploads = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "pod_template_uploads",
            "Pod templates made sure of in S3 before a StartJobRun, by outcome (uploaded, already_present, replaced, failed)",
            pod_template_uploads.clone(),
        );
        for outcome in ["uploaded", "already_present", "replaced", "failed"] {
            let _ = pod_template_uploads.get_or_create(&OutcomeLabel {
                outcome: outcome.into(),
            });
        }

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
            aws_pacing_wait,
            aws_calls_held,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            leader,
            tracked_objects,
            queue_depth,
            queue_wait,
            queue_dispatch_wait,
            pod_template_uploads,
            queue_load: Mutex::new(None),
            last_tenants: Mutex::new(Vec::new()),
            map_sizes: Mutex::new(BTreeMap::new()),
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

    /// Where `tracked_objects{map}` comes from for one controller; `name` replaces an earlier
    /// source of the same name (a controller started again after leadership came back).
    pub fn set_map_sizes(&self, name: &'static str, sizes: MapSizes) {
        if let Ok(mut all) = self.map_sizes.lock() {
            all.insert(name, sizes);
        }
    }

    /// Where the queue gauges come from (the SparkJobRun controller's fair queue).
    pub fn set_queue_load(&self, load: QueueLoad) {
        if let Ok(mut slot) = self.queue_load.lock() {
            *slot = Some(load);
        }
    }

    /// A reconcile started after waiting `waited` in `lane`.
    pub fn queue_dispatched(&self, lane: &str, waited: Duration) {
        self.queue_dispatch_wait
            .get_or_create(&LaneLabel { lane: lane.into() })
            .observe(waited.as_secs_f64());
    }

    /// The text exposition format for `/metrics`.
    pub fn encode(&self) -> String {
        self.refresh_map_sizes();
        self.refresh_queue_load();
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

    /// A reconcile of `controller` (the kind) took `elapsed`; `error` names the failure, if any.
    /// Both labels are written in UpperCamelCase.
    pub fn reconciled(&self, controller: &str, elapsed: Duration, error: Option<&str>) {
        let controller = upper_camel(controller);
        let label = ControllerLabel {
            controller: controller.clone(),
        };
        self.reconciles.get_or_create(&label).inc();
        self.reconcile_duration
            .get_or_create(&label)
            .observe(elapsed.as_secs_f64());
        if let Some(error) = error {
            self.reconcile_errors
                .get_or_create(&ErrorLabels {
                    controller,
                    error: upper_camel(error),
                })
                .inc();
        }
    }

    /// A pod template was made sure of in S3 (`uploaded`, `already_present`, `replaced`) or could not be
    /// (`failed`).
    pub fn pod_template_upload(&self, outcome: &str) {
        self.pod_template_uploads
            .get_or_create(&OutcomeLabel {
                outcome: outcome.into(),
            })
            .inc();
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

    fn paced(&self, op: Operation, waited: Duration) {
        self.aws_pacing_wait
            .get_or_create(&OperationLabel {
                operation: op.as_str().into(),
            })
            .inc_by(waited.as_secs_f64());
    }

    fn held(&self, op: Operation) {
        self.aws_calls_held
            .get_or_create(&OperationLabel {
                operation: op.as_str().into(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests;
