//! `kubectl emr`: SparkJobRuns from the command line. Installed as `kubectl-emr` on the PATH,
//! kubectl runs it as `kubectl emr ...`. Kubernetes access is the user's kubeconfig; AWS access
//! (for `logs`) is the user's own AWS credentials.

mod aws;
mod error;
mod logs;
mod render;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use emr_api::{ScheduledSparkJobRun, SparkJobRun};
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, Config};
use serde_json::json;

use error::Error;
use logs::target::{self, Container, Source};

#[derive(Parser)]
#[command(
    name = "kubectl emr",
    version,
    about = "SparkJobRuns of emr-on-eks-operator: runs, details, logs, re-runs, suspend, schedules"
)]
struct Cli {
    /// Namespace (default: the kubeconfig context's).
    #[arg(short, long, global = true)]
    namespace: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List runs: state, attempt, duration, failure reason, log location.
    Get {
        /// One SparkJobRun (default: all in the namespace).
        job: Option<String>,
        /// Every namespace.
        #[arg(short = 'A', long)]
        all_namespaces: bool,
    },
    /// Conditions, attempts, log locations and the exact StartJobRun request sent.
    Describe { job: String },
    /// Print a job run's driver (or executor) logs from CloudWatch Logs or S3, with your AWS credentials.
    Logs {
        job: String,
        /// The operator's attempt number (default: the current attempt).
        #[arg(long)]
        attempt: Option<i32>,
        /// The driver's logs (the default).
        #[arg(long, conflicts_with = "executor")]
        driver: bool,
        /// An executor's logs, by executor id (e.g. 1).
        #[arg(long, value_name = "ID")]
        executor: Option<String>,
        /// Which stream: stdout, stderr or all.
        #[arg(long, value_enum, default_value = "all")]
        stream: logs::Stream,
        /// Where to read from (default: CloudWatch when configured, else S3).
        #[arg(long, value_enum)]
        source: Option<Source>,
        /// Keep printing new lines until the job run has finished.
        #[arg(short, long)]
        follow: bool,
    },
    /// Run a finished job again (sets spec.rerun to the current time).
    Rerun { job: String },
    /// Hold a SparkJobRun back before its first submission (spec.suspend), or stop a
    /// ScheduledSparkJobRun from starting runs (--schedule).
    Suspend {
        name: String,
        /// NAME is a ScheduledSparkJobRun.
        #[arg(long)]
        schedule: bool,
    },
    /// Lift spec.suspend: a held-back SparkJobRun is submitted as attempt 1; a schedule starts
    /// runs again from its next slot (--schedule).
    Resume {
        name: String,
        /// NAME is a ScheduledSparkJobRun.
        #[arg(long)]
        schedule: bool,
    },
    /// Start one run of a ScheduledSparkJobRun now, outside its schedule (sets spec.runNow).
    Trigger { schedule: String },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    let config = Config::infer()
        .await
        .map_err(|e| Error::Kubeconfig(e.to_string()))?;
    let namespace = cli
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = Client::try_from(config).map_err(|e| Error::Kubeconfig(e.to_string()))?;
    let api: Api<SparkJobRun> = Api::namespaced(client.clone(), &namespace);
    let mut out = std::io::stdout().lock();
    let now = chrono::Utc::now();
    match cli.command {
        Command::Get {
            job: Some(name), ..
        } => {
            let job = get(&api, &namespace, &name).await?;
            let rows = vec![render::header(false), render::row(&job, now, false)];
            write!(out, "{}", render::table(&rows))?;
        }
        Command::Get {
            job: None,
            all_namespaces,
        } => {
            let (list_api, scope) = if all_namespaces {
                (
                    Api::<SparkJobRun>::all(client),
                    " in all namespaces".to_owned(),
                )
            } else {
                (api, format!(" in namespace {namespace}"))
            };
            let jobs = list_api
                .list(&ListParams::default())
                .await
                .map_err(|source| Error::ListJobs {
                    scope: scope.clone(),
                    source,
                })?;
            if jobs.items.is_empty() {
                eprintln!("No SparkJobRuns found{scope}.");
                return Ok(());
            }
            let mut rows = vec![render::header(all_namespaces)];
            rows.extend(
                jobs.items
                    .iter()
                    .map(|j| render::row(j, now, all_namespaces)),
            );
            write!(out, "{}", render::table(&rows))?;
        }
        Command::Describe { job } => {
            let job = get(&api, &namespace, &job).await?;
            write!(out, "{}", render::describe(&job, now))?;
            // Events are extra context: a user allowed to read the job but not events still
            // gets the rest.
            let events: Api<Event> = Api::namespaced(client, &namespace);
            let selector = format!(
                "involvedObject.kind=SparkJobRun,involvedObject.name={}",
                job.metadata.name.clone().unwrap_or_default()
            );
            match events.list(&ListParams::default().fields(&selector)).await {
                Ok(list) => write!(out, "{}", render::events(&list.items, now))?,
                Err(e) => writeln!(out, "Events:            - (cannot list events: {e})")?,
            }
        }
        Command::Rerun { job } => {
            let current = get(&api, &namespace, &job).await?;
            let state = current.status.as_ref().and_then(|s| s.state.clone());
            let active = current
                .status
                .as_ref()
                .is_some_and(|s| s.job_run_id.is_some())
                && !target::is_final(state.as_deref());
            if active {
                return Err(Error::RerunWhileActive {
                    name: job,
                    state: state.unwrap_or_default(),
                });
            }
            let value = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            let patch = json!({"spec": {"rerun": value}});
            api.patch(&job, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|source| Error::Rerun {
                    namespace: namespace.clone(),
                    name: job.clone(),
                    source,
                })?;
            writeln!(
                out,
                "sparkjobrun.emr-on-eks.dev/{job} rerun requested (spec.rerun={value})"
            )?;
        }
        Command::Logs {
            job,
            attempt,
            driver: _,
            executor,
            stream,
            source,
            follow,
        } => {
            let container = executor
                .map(Container::Executor)
                .unwrap_or(Container::Driver);
            let object = get(&api, &namespace, &job).await?;
            let target = target::resolve(&object, attempt, source)?;
            let aws = aws::Aws::load().await?;
            let mut reader =
                logs::Reader::new(&aws, target.location.clone(), container.clone(), stream);
            let mut state = target.state.clone();
            loop {
                let was_final = target::is_final(state.as_deref());
                reader.poll(&mut out).await?;
                if !follow || was_final {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
                let object = get(&api, &namespace, &job).await?;
                state = target::resolve(&object, Some(target.attempt), source)
                    .map(|t| t.state)
                    .unwrap_or(state);
            }
            if !reader.found_any() {
                let hint = match state.as_deref() {
                    Some(s) if target::is_final(Some(s)) => format!(
                        " (the job run is {s}; EMR writes no logs for a run that never started its {})",
                        container.describe()
                    ),
                    Some(s) => format!(" (the job run is {s}; try --follow)"),
                    None => String::new(),
                };
                return Err(Error::NoLogs {
                    container: container.describe(),
                    job_run_id: target.job_run_id,
                    location: target.location.describe(),
                    hint,
                });
            }
        }
        Command::Suspend { name, schedule } => {
            let line = set_suspend(client, &api, &namespace, &name, schedule, true).await?;
            writeln!(out, "{line}")?;
        }
        Command::Resume { name, schedule } => {
            let line = set_suspend(client, &api, &namespace, &name, schedule, false).await?;
            writeln!(out, "{line}")?;
        }
        Command::Trigger { schedule } => {
            let schedules: Api<ScheduledSparkJobRun> = Api::namespaced(client, &namespace);
            get_schedule(&schedules, &namespace, &schedule).await?;
            // A new value is what starts a run; the time keeps each trigger distinct.
            let value = format!("kubectl-emr-{}", now.format("%Y%m%dT%H%M%S%.3fZ"));
            let patch = json!({"spec": {"runNow": value}});
            patch_spec(&schedules, &namespace, &schedule, "runNow", &patch).await?;
            writeln!(
                out,
                "scheduledsparkjobrun.emr-on-eks.dev/{schedule} triggered (spec.runNow={value})"
            )?;
        }
    }
    Ok(())
}

/// Sets `spec.suspend` of a SparkJobRun or (with `schedule`) a ScheduledSparkJobRun.
async fn set_suspend(
    client: Client,
    api: &Api<SparkJobRun>,
    namespace: &str,
    name: &str,
    schedule: bool,
    suspend: bool,
) -> Result<String, Error> {
    let patch = json!({"spec": {"suspend": suspend}});
    let verb = if suspend { "suspended" } else { "resumed" };
    if schedule {
        let schedules: Api<ScheduledSparkJobRun> = Api::namespaced(client, namespace);
        get_schedule(&schedules, namespace, name).await?;
        patch_spec(&schedules, namespace, name, "suspend", &patch).await?;
        return Ok(format!("scheduledsparkjobrun.emr-on-eks.dev/{name} {verb}"));
    }
    let job = get(api, namespace, name).await?;
    let attempt = job.status.as_ref().map_or(0, |s| s.attempt);
    // Only a first submission can be held back: say so instead of writing a field that would
    // change nothing.
    if suspend && attempt > 0 {
        return Err(Error::SuspendAfterSubmission {
            name: name.into(),
            attempt,
        });
    }
    patch_spec(api, namespace, name, "suspend", &patch).await?;
    Ok(format!("sparkjobrun.emr-on-eks.dev/{name} {verb}"))
}

/// A merge patch of one spec field, by a user who may edit the object.
async fn patch_spec<K>(
    api: &Api<K>,
    namespace: &str,
    name: &str,
    field: &'static str,
    patch: &serde_json::Value,
) -> Result<(), Error>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map(|_| ())
        .map_err(|source| Error::Patch {
            kind: if K::kind(&()) == "SparkJobRun" {
                "SparkJobRun"
            } else {
                "ScheduledSparkJobRun"
            },
            field,
            namespace: namespace.into(),
            name: name.into(),
            source: Box::new(source),
        })
}

async fn get_schedule(
    api: &Api<ScheduledSparkJobRun>,
    namespace: &str,
    name: &str,
) -> Result<ScheduledSparkJobRun, Error> {
    match api.get_opt(name).await {
        Ok(Some(schedule)) => Ok(schedule),
        Ok(None) => Err(Error::ScheduleNotFound {
            namespace: namespace.into(),
            name: name.into(),
        }),
        Err(source) => Err(Error::GetSchedule {
            namespace: namespace.into(),
            name: name.into(),
            source,
        }),
    }
}

async fn get(api: &Api<SparkJobRun>, namespace: &str, name: &str) -> Result<SparkJobRun, Error> {
    match api.get_opt(name).await {
        Ok(Some(job)) => Ok(job),
        Ok(None) => Err(Error::JobNotFound {
            namespace: namespace.into(),
            name: name.into(),
        }),
        Err(source) => Err(Error::GetJob {
            namespace: namespace.into(),
            name: name.into(),
            source,
        }),
    }
}
