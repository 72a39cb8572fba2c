//! `make bench`: scale and fault benchmarks of emr-on-eks-operator against the local bed.
//!
//! A benchmark, not a test: it measures, prints and writes JSON; it fails only when it cannot
//! measure (the bed does not come up, the operator does not start). Invariant violations are
//! figures in the report, not panics.
//!
//! ```text
//! bench run --scenario scale --size 1000 --out bench/results/<ts>-scale-1000.json
//! bench summarize --out bench/results/latest.md bench/results/<ts>-*.json
//! ```
//!
//! `scripts/bench.sh` runs one `bench run` per scenario (and size) on a fresh bed, then
//! `bench summarize`. Settings come from `BENCH_*` environment variables (see `Settings`).

mod apiserver;
mod fairness;
mod fleet;
mod forged;
mod hostile;
mod observe;
mod procstat;
mod proxy;
mod report;
mod scenarios;
mod schedules;
mod shards;
mod stats;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

/// A result, or what could not be measured and why.
pub type Res<T> = Result<T, String>;

/// Everything a run can be told, from the environment (`make bench BENCH_X=...` passes them).
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// Number of VirtualClusters the jobs are spread over (`BENCH_VCS`, 10).
    pub virtual_clusters: usize,
    /// Emulator phase timings every job gets through its tags (`BENCH_PENDING_SECONDS` 1,
    /// `BENCH_SUBMITTED_SECONDS` 1, `BENCH_RUN_SECONDS` 10).
    pub pending_seconds: f64,
    pub submitted_seconds: f64,
    pub run_seconds: f64,
    /// Give up on a burst after this long and report it as incomplete (`BENCH_TIMEOUT_SECONDS`, 900).
    pub timeout_seconds: u64,
    /// How long the finished objects are kept and watched after a scale burst (`BENCH_KEEP_SECONDS`, 60).
    pub keep_seconds: u64,
    /// Whether each SparkJobRun carries the `kubectl.kubernetes.io/last-applied-configuration`
    /// annotation, as client-side `kubectl apply` and Argo CD's default sync write it
    /// (`BENCH_LAST_APPLIED`, 1): the copy of the spec a lean cache must not keep.
    pub last_applied: bool,
    /// Jobs in the throttle/latency/down/apiserver-restart/watch-drop bursts (`BENCH_FAULT_SIZE`, 300).
    pub fault_size: usize,
    /// Jobs in the SIGKILL burst (`BENCH_KILL_SIZE`, 1000) and kills (`BENCH_KILLS`, 10).
    pub kill_size: usize,
    pub kills: usize,
    /// Hostile manifests (`BENCH_HOSTILE`, 200) and valid jobs alongside (`BENCH_HOSTILE_VALID`, 200).
    pub hostile: usize,
    pub hostile_valid: usize,
    /// Fairness: tenants besides the one with the backlog (`BENCH_FAIRNESS_TENANTS`, 4: B..E),
    /// each applying one job every `BENCH_FAIRNESS_INTERVAL_SECONDS` (2) for
    /// `BENCH_FAIRNESS_SECONDS` (60) from the operator's start.
    pub fairness_tenants: usize,
    pub fairness_interval_seconds: f64,
    pub fairness_seconds: f64,
    /// Concurrent apply requests from the driver (`BENCH_APPLY_CONCURRENCY`, 32).
    pub apply_concurrency: usize,
    /// Seed of every random choice (`BENCH_SEED`, 7).
    pub seed: u64,
    /// Operator flags (`BENCH_OPERATOR_ARGS`, space-separated; replaces the same flags of the
    /// defaults, which are the operator's own production defaults).
    pub operator_args: Vec<String>,
    /// Free text recorded with the results, e.g. "machine shared with 2 compiling engineers"
    /// (`BENCH_NOTE`).
    pub note: Option<String>,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Res<T> {
    match std::env::var(name) {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse()
            .map_err(|_| format!("{name}={text:?} is not a valid value")),
        _ => Ok(default),
    }
}

/// The operator as it ships: its production defaults for everything that shapes load
/// (the test harness's faster polling is replaced), with plain `info` logging.
pub const DEFAULT_OPERATOR_ARGS: &[&str] = &[
    "--poll-interval=30s",
    "--young-poll-interval=5s",
    "--young-job-age=3m",
    "--resync-interval=5m",
    "--aws-max-attempts=3",
    "--concurrency=16",
    "--log-level=info",
];

impl Settings {
    pub fn from_env() -> Res<Self> {
        let mut operator_args: Vec<String> = DEFAULT_OPERATOR_ARGS
            .iter()
            .map(|s| s.to_string())
            .collect();
        if let Ok(extra) = std::env::var("BENCH_OPERATOR_ARGS") {
            let flag = |arg: &str| arg.split('=').next().unwrap_or(arg).to_string();
            for arg in extra.split_whitespace() {
                operator_args.retain(|a| flag(a) != flag(arg));
                operator_args.push(arg.to_string());
            }
        }
        Ok(Settings {
            virtual_clusters: env_or("BENCH_VCS", 10usize)?.max(2),
            pending_seconds: env_or("BENCH_PENDING_SECONDS", 1.0)?,
            submitted_seconds: env_or("BENCH_SUBMITTED_SECONDS", 1.0)?,
            run_seconds: env_or("BENCH_RUN_SECONDS", 10.0)?,
            timeout_seconds: env_or("BENCH_TIMEOUT_SECONDS", 900)?,
            keep_seconds: env_or("BENCH_KEEP_SECONDS", 60)?,
            last_applied: env_or("BENCH_LAST_APPLIED", 1u8)? != 0,
            fault_size: env_or("BENCH_FAULT_SIZE", 300)?,
            kill_size: env_or("BENCH_KILL_SIZE", 1000)?,
            kills: env_or("BENCH_KILLS", 10)?,
            hostile: env_or("BENCH_HOSTILE", 200)?,
            hostile_valid: env_or("BENCH_HOSTILE_VALID", 200)?,
            fairness_tenants: env_or("BENCH_FAIRNESS_TENANTS", 4usize)?.clamp(1, 25),
            fairness_interval_seconds: env_or("BENCH_FAIRNESS_INTERVAL_SECONDS", 2.0f64)?.max(0.1),
            fairness_seconds: env_or("BENCH_FAIRNESS_SECONDS", 60.0f64)?.max(0.0),
            apply_concurrency: env_or("BENCH_APPLY_CONCURRENCY", 32usize)?.max(1),
            seed: env_or("BENCH_SEED", 7)?,
            operator_args,
            note: std::env::var("BENCH_NOTE")
                .ok()
                .filter(|s| !s.trim().is_empty()),
        })
    }
}

const USAGE: &str = "usage:
  bench run --scenario <scale|kill|throttle|latency|down|apiserver-restart|watch-drop|hostile|fairness|schedules|shards> [--size N] --out FILE.json
  bench summarize --out FILE.md RESULT.json...
  bench machine";

fn take_flag(args: &mut Vec<String>, name: &str) -> Option<String> {
    let pos = args.iter().position(|a| a == name)?;
    if pos + 1 >= args.len() {
        return None;
    }
    let value = args.remove(pos + 1);
    args.remove(pos);
    Some(value)
}

async fn real_main() -> Res<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let command = if args.is_empty() {
        return Err(USAGE.into());
    } else {
        args.remove(0)
    };
    match command.as_str() {
        "run" => {
            let scenario = take_flag(&mut args, "--scenario").ok_or(USAGE)?;
            let out = PathBuf::from(take_flag(&mut args, "--out").ok_or(USAGE)?);
            let size = take_flag(&mut args, "--size")
                .map(|s| s.parse::<usize>().map_err(|_| format!("--size {s:?}")))
                .transpose()?;
            if !args.is_empty() {
                return Err(format!("unexpected arguments {args:?}\n{USAGE}"));
            }
            let settings = Settings::from_env()?;
            let result = scenarios::run(&scenario, size, &settings).await?;
            let text = serde_json::to_string_pretty(&result)
                .map_err(|e| format!("serialize the result: {e}"))?;
            if let Some(dir) = out.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("create {}: {e}", dir.display()))?;
            }
            std::fs::write(&out, text).map_err(|e| format!("write {}: {e}", out.display()))?;
            println!("{}", report::summary_text(&result));
            println!("bench: wrote {}", out.display());
            Ok(())
        }
        "summarize" => {
            let out = PathBuf::from(take_flag(&mut args, "--out").ok_or(USAGE)?);
            let mut results = Vec::new();
            for path in &args {
                let text =
                    std::fs::read_to_string(path).map_err(|e| format!("read {path}: {e}"))?;
                let value: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| format!("parse {path}: {e}"))?;
                results.push((path.clone(), value));
            }
            let md = report::markdown(&results);
            std::fs::write(&out, &md).map_err(|e| format!("write {}: {e}", out.display()))?;
            println!("{md}");
            Ok(())
        }
        "machine" => {
            let machine = procstat::machine_info();
            println!(
                "{}",
                serde_json::to_string_pretty(&machine).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        _ => Err(USAGE.into()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match real_main().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::FAILURE
        }
    }
}
