//! What can go wrong in a ScheduledSparkJobRun reconcile, each named after the action that failed.

use crate::kit::{self, Category, ReconcileError, WriteError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the ScheduledSparkJobRun has no name, namespace or uid")]
    MissingIdentity,
    #[error("reading SparkJobRun {namespace}/{name} failed: {source}")]
    GetChild {
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("creating SparkJobRun {namespace}/{name} failed: {source}")]
    CreateChild {
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("deleting SparkJobRun {namespace}/{name} failed: {source}")]
    DeleteChild {
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("writing the status of ScheduledSparkJobRun {namespace}/{name} failed: {source}")]
    WriteStatus {
        namespace: String,
        name: String,
        source: WriteError,
    },
    #[error("reconciling ScheduledSparkJobRun {name} panicked: {message}")]
    ReconcilePanicked { name: String, message: String },
}

impl ReconcileError for Error {
    fn category(&self) -> Category {
        match self {
            Error::MissingIdentity => Category::TerminalInput,
            Error::GetChild { source, .. }
            | Error::CreateChild { source, .. }
            | Error::DeleteChild { source, .. } => Category::of_kube(source),
            Error::WriteStatus { source, .. } if source.is_stale() => Category::Conflict,
            Error::WriteStatus { source, .. } => match source {
                WriteError::Failed(e) => Category::of_kube(e),
                _ => Category::Conflict,
            },
            Error::ReconcilePanicked { .. } => Category::Panicked,
        }
    }

    fn metric_label(&self) -> &'static str {
        match self {
            Error::MissingIdentity => "Invalid",
            Error::GetChild { .. } => "GetSparkJobRun",
            Error::CreateChild { .. } => "CreateSparkJobRun",
            Error::DeleteChild { .. } => "DeleteSparkJobRun",
            Error::WriteStatus { .. } => "WriteStatus",
            Error::ReconcilePanicked { .. } => kit::panic_guard::REASON,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            ..Default::default()
        }))
    }

    #[test]
    fn a_refused_status_write_is_a_conflict_and_an_unreachable_apiserver_is_not() {
        let write = |code| Error::WriteStatus {
            namespace: "ns".into(),
            name: "s".into(),
            source: WriteError::from_kube(status(code)),
        };
        assert_eq!(write(409).category(), Category::Conflict);
        assert_eq!(write(404).category(), Category::Conflict);
        assert_eq!(write(503).category(), Category::ApiserverUnreachable);
        let create = Error::CreateChild {
            namespace: "ns".into(),
            name: "s-1".into(),
            source: status(403),
        };
        assert_eq!(create.category(), Category::Other);
        assert_eq!(create.metric_label(), "CreateSparkJobRun");
    }
}
