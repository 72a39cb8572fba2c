//! Why a SparkJobRun reconcile failed; each variant names the action and the object, and says
//! what kind of trouble it is ([`ReconcileError`]), which picks the retry.

use emr_aws::AwsError;

use crate::kit::{Category, ReconcileError};

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
    #[error("reading SparkJobTemplate {name} for SparkJobRun {object}: {source}")]
    ReadJobTemplate {
        object: String,
        name: String,
        #[source]
        source: kube::Error,
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
    #[error("deleting SparkJobRun {object} after its ttlSecondsAfterFinished: {source}")]
    DeleteExpired {
        object: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "reading PriorityClass {name} named by a pod template of SparkJobRun {object}: {source}"
    )]
    ReadPriorityClass {
        object: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("checking the pod templates of SparkJobRun {object}: {message}")]
    CheckPodTemplates { object: String, message: String },
    #[error("writing pod template {uri} of SparkJobRun {object} to S3: {source}")]
    UploadPodTemplate {
        object: String,
        uri: String,
        #[source]
        source: AwsError,
    },
    #[error("reconciling SparkJobRun {object} panicked (an operator bug): {message}")]
    Panicked { object: String, message: String },
}

impl ReconcileError for Error {
    fn category(&self) -> Category {
        match self {
            Error::Panicked { .. } => Category::Panicked,
            Error::StaleObject { .. } => Category::Conflict,
            // A call that never answered, most likely the apiserver's (AWS calls time out).
            Error::TimedOut { .. } => Category::ApiserverUnreachable,
            // A thread that could not start (resources short): tried again like any fault.
            Error::CheckPodTemplates { .. } => Category::Other,
            Error::ReadJob { source, .. }
            | Error::WriteStatus { source, .. }
            | Error::AddFinalizer { source, .. }
            | Error::RemoveFinalizer { source, .. }
            | Error::ReadVirtualCluster { source, .. }
            | Error::DeleteExpired { source, .. }
            | Error::ReadJobTemplate { source, .. }
            | Error::ReadPriorityClass { source, .. } => Category::of_kube(source),
            Error::StartJobRun { source, .. }
            | Error::FindJobRun { source, .. }
            | Error::CancelJobRun { source, .. }
            | Error::ProveJobRun { source, .. }
            | Error::DescribeJobTemplate { source, .. }
            | Error::UploadPodTemplate { source, .. } => Category::of_aws(source),
        }
    }

    fn metric_label(&self) -> &'static str {
        match self {
            Error::ReadJob { .. } => "ReadJob",
            Error::WriteStatus { .. } => "WriteStatus",
            Error::StaleObject { .. } => "StaleObject",
            Error::AddFinalizer { .. } => "AddFinalizer",
            Error::RemoveFinalizer { .. } => "RemoveFinalizer",
            Error::ReadVirtualCluster { .. } => "ReadVirtualCluster",
            Error::ReadJobTemplate { .. } => "ReadJobTemplate",
            Error::StartJobRun { .. } => "StartJobRun",
            Error::FindJobRun { .. } => "FindJobRun",
            Error::CancelJobRun { .. } => "CancelJobRun",
            Error::ProveJobRun { .. } => "ProveJobRun",
            Error::DescribeJobTemplate { .. } => "DescribeJobTemplate",
            Error::TimedOut { .. } => "TimedOut",
            Error::DeleteExpired { .. } => "DeleteExpired",
            Error::ReadPriorityClass { .. } => "ReadPriorityClass",
            Error::CheckPodTemplates { .. } => "CheckPodTemplates",
            Error::UploadPodTemplate { .. } => "UploadPodTemplate",
            Error::Panicked { .. } => crate::kit::panic_guard::REASON,
        }
    }
}

#[cfg(test)]
mod tests {
    use emr_aws::FaultKind;

    use super::*;
    use crate::kit::testing::aws_error as aws;

    #[test]
    fn each_kind_of_trouble_has_its_category() {
        let cancel = |kind| Error::CancelJobRun {
            object: "ns/j".into(),
            source: aws(kind),
        };
        assert_eq!(cancel(FaultKind::Throttled).category(), Category::Throttled);
        assert_eq!(
            cancel(FaultKind::Unavailable).category(),
            Category::TransientAws
        );
        assert_eq!(cancel(FaultKind::AccessDenied).category(), Category::Other);
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let write = |source| Error::WriteStatus {
            object: "ns/j".into(),
            source,
        };
        assert_eq!(
            write(kube::Error::Service(Box::new(refused))).category(),
            Category::ApiserverUnreachable
        );
        let invalid = kube::Error::Api(Box::new(kube::core::Status {
            code: 422,
            ..Default::default()
        }));
        assert_eq!(write(invalid).category(), Category::Other);
        let stale = Error::StaleObject {
            object: "ns/j".into(),
        };
        assert_eq!(stale.category(), Category::Conflict);
        let timed_out = Error::TimedOut {
            object: "ns/j".into(),
            seconds: 120,
        };
        assert_eq!(timed_out.category(), Category::ApiserverUnreachable);
        assert_eq!(timed_out.metric_label(), "TimedOut");
    }
}
