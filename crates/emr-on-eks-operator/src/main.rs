//! `emr-on-eks-operator`: a thin shell around `emr_operator::run`.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use emr_operator::OperatorConfig;
use tracing_subscriber::EnvFilter;

// jemalloc with a background thread hands memory freed after a burst back to the system within
// seconds; glibc's malloc kept it (bench/README.md, "An allocator that returns memory").
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "emr-on-eks-operator",
    version,
    about = "Amazon EMR on EKS, declaratively"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the VirtualCluster and SparkJobRun controllers.
    Run {
        #[command(flatten)]
        config: Box<OperatorConfig>,
        /// Log line format.
        #[arg(long, env = "EMR_OPERATOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// Log filter, e.g. `info` or `info,emr_operator=debug` (RUST_LOG syntax).
        #[arg(long, env = "EMR_OPERATOR_LOG_LEVEL", default_value = "info")]
        log_level: String,
    },
    /// Print the CustomResourceDefinitions as YAML (`... crds | kubectl apply -f -`).
    Crds,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logging(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|error| {
        eprintln!("invalid log level {level:?} ({error}); using info");
        EnvFilter::new("info")
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

fn print_crds() -> ExitCode {
    for (_, crd) in emr_api::crd::all() {
        match emr_api::crd::to_yaml(&crd) {
            Ok(yaml) => println!("---\n{yaml}"),
            Err(error) => {
                eprintln!("cannot render a CRD: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Crds => print_crds(),
        Command::Run {
            config,
            log_format,
            log_level,
        } => {
            init_logging(log_format, &log_level);
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("cannot start the async runtime: {error}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(emr_operator::run::run(*config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    tracing::error!(%error, "operator stopped");
                    // Above all after a lost Lease: exit now, without waiting for tasks still
                    // winding down (dropping the runtime would), since a standby may act soon.
                    runtime.shutdown_background();
                    ExitCode::FAILURE
                }
            }
        }
    }
}
