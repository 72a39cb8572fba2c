//! Why a SparkJobRun reconcile failed; each variant names the action and the object.

use emr_aws::AwsError;

use super::request::RequestError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading SparkJobRun {object}: {source}")]
    ReadJob {
        object: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing the status of SparkJobRun {object}: {source}")]
    WriteStatus {
        object: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "SparkJobRun {object} changed while it was being reconciled; trying again with the new version"
    )]
    StaleObject { object: String },
    #[error("adding the finalizer to SparkJobRun {object}: {source}")]
    AddFinalizer {
        object: String,
        #[source]
        source: kube::Error,
    },
    #[error("removing the finalizer from SparkJobRun {object}: {source}")]
    RemoveFinalizer {
        object: String,
        #[source]
        source: kube::Error,
    },
    #[error("reading VirtualCluster {name} for SparkJobRun {object}: {source}")]
    ReadVirtualCluster {
        object: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("building the StartJobRun request of SparkJobRun {object}: {source}")]
    BuildRequest {
        object: String,
        #[source]
        source: RequestError,
    },
    #[error("starting attempt {attempt} of SparkJobRun {object}: {source}")]
    StartJobRun {
        object: String,
        attempt: i32,
        #[source]
        source: AwsError,
    },
    #[error("looking for the job run of attempt {attempt} of SparkJobRun {object}: {source}")]
    FindJobRun {
        object: String,
        attempt: i32,
        #[source]
        source: AwsError,
    },
    #[error("checking that the job run in the status of SparkJobRun {object} is its own: {source}")]
    ProveJobRun {
        object: String,
        #[source]
        source: AwsError,
    },
    #[error("reading the job template of SparkJobRun {object}: {source}")]
    DescribeJobTemplate {
        object: String,
        #[source]
        source: AwsError,
    },
    #[error(
        "reconciling SparkJobRun {object} took longer than {seconds} s (an apiserver or AWS call that never answered); trying again"
    )]
    TimedOut { object: String, seconds: u64 },
    #[error("cancelling the job run of SparkJobRun {object}: {source}")]
    CancelJobRun {
        object: String,
        #[source]
        source: AwsError,
    },
    #[error("reconciling SparkJobRun {object} panicked (an operator bug): {message}")]
    Panicked { object: String, message: String },
}

impl Error {
    /// A short label for the reconcile-errors metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::ReadJob { .. } => "ReadJob",
            Error::WriteStatus { .. } => "WriteStatus",
            Error::StaleObject { .. } => "StaleObject",
            Error::AddFinalizer { .. } => "AddFinalizer",
            Error::RemoveFinalizer { .. } => "RemoveFinalizer",
            Error::ReadVirtualCluster { .. } => "ReadVirtualCluster",
            Error::BuildRequest { .. } => "BuildRequest",
            Error::StartJobRun { .. } => "StartJobRun",
            Error::FindJobRun { .. } => "FindJobRun",
            Error::CancelJobRun { .. } => "CancelJobRun",
            Error::ProveJobRun { .. } => "ProveJobRun",
            Error::DescribeJobTemplate { .. } => "DescribeJobTemplate",
            Error::TimedOut { .. } => "TimedOut",
            Error::Panicked { .. } => crate::kit::panic_guard::REASON,
        }
    }

    /// Whether AWS throttled the call (worth a longer pause than other errors).
    pub fn is_throttled(&self) -> bool {
        match self {
            Error::StartJobRun { source, .. }
            | Error::FindJobRun { source, .. }
            | Error::CancelJobRun { source, .. }
            | Error::ProveJobRun { source, .. }
            | Error::DescribeJobTemplate { source, .. } => source.is_throttled(),
            _ => false,
        }
    }

    /// The apiserver could not answer (restarting, a dropped connection), or a reconcile gave up
    /// waiting for an answer: trouble that clears by itself.
    pub fn is_apiserver_unavailable(&self) -> bool {
        match self {
            Error::ReadJob { source, .. }
            | Error::WriteStatus { source, .. }
            | Error::AddFinalizer { source, .. }
            | Error::RemoveFinalizer { source, .. }
            | Error::ReadVirtualCluster { source, .. } => {
                crate::kit::error::apiserver_unreachable(source)
            }
            Error::TimedOut { .. } => true,
            _ => false,
        }
    }

    /// AWS trouble that clears by itself: throttling, an outage, a timeout.
    pub fn is_transient_aws(&self) -> bool {
        match self {
            Error::StartJobRun { source, .. }
            | Error::FindJobRun { source, .. }
            | Error::CancelJobRun { source, .. }
            | Error::ProveJobRun { source, .. }
            | Error::DescribeJobTemplate { source, .. } => source.is_retryable(),
            _ => false,
        }
    }
}
