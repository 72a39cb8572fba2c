//! What can go wrong, named after the action that failed; every message says what to do.

/// Errors of the plugin's commands.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("connecting to Kubernetes: {0}")]
    Kubeconfig(String),
    #[error("reading SparkJobRun {namespace}/{name}: {source}")]
    GetJob {
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("SparkJobRun {namespace}/{name} not found")]
    JobNotFound { namespace: String, name: String },
    #[error("listing SparkJobRuns{scope}: {source}")]
    ListJobs { scope: String, source: kube::Error },
    #[error("setting spec.rerun of SparkJobRun {namespace}/{name}: {source}")]
    Rerun {
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error(
        "SparkJobRun {name} is {state}: a re-run starts only after the current run finished (wait, or `kubectl delete` it)"
    )]
    RerunWhileActive { name: String, state: String },
    #[error("SparkJobRun {name} has not started a job run yet ({why}): there are no logs to read")]
    NotStarted { name: String, why: String },
    #[error(
        "SparkJobRun {name} sends its logs nowhere: spec.configurationOverrides.monitoringConfiguration has neither cloudWatchMonitoringConfiguration nor s3MonitoringConfiguration"
    )]
    NoLogConfiguration { name: String },
    #[error("SparkJobRun {name} has no {source_kind} log destination (it has: {available})")]
    NoSuchLogSource {
        name: String,
        source_kind: &'static str,
        available: String,
    },
    #[error(
        "attempt {attempt} of SparkJobRun {name} is not recorded (recorded attempts: {recorded})"
    )]
    NoSuchAttempt {
        name: String,
        attempt: i32,
        recorded: String,
    },
    #[error("no {container} logs of job run {job_run_id} under {location} yet{hint}")]
    NoLogs {
        container: String,
        job_run_id: String,
        location: String,
        hint: String,
    },
    #[error("{0}")]
    Aws(#[from] crate::aws::AwsError),
    #[error("setting spec.{field} of {kind} {namespace}/{name}: {source}")]
    Patch {
        kind: &'static str,
        field: &'static str,
        namespace: String,
        name: String,
        source: Box<kube::Error>,
    },
    #[error(
        "SparkJobRun {name} was already submitted (attempt {attempt}): spec.suspend holds back only a first submission and has no effect on a submitted run; nothing was changed (to stop the run, `kubectl delete` the object)"
    )]
    SuspendAfterSubmission { name: String, attempt: i32 },
    #[error("ScheduledSparkJobRun {namespace}/{name} not found")]
    ScheduleNotFound { namespace: String, name: String },
    #[error("reading ScheduledSparkJobRun {namespace}/{name}: {source}")]
    GetSchedule {
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("writing the output: {0}")]
    Output(#[from] std::io::Error),
}
