//! Job runs as plain Rust values, so the operator's logic can be tested without the SDK.

use std::convert::Infallible;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::time::to_chrono;

/// What StartJobRun answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartedJobRun {
    pub id: String,
    pub arn: Option<String>,
    pub name: Option<String>,
    pub virtual_cluster_id: String,
}

/// A job run as DescribeJobRun / ListJobRuns report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRunInfo {
    pub id: String,
    pub name: Option<String>,
    pub arn: Option<String>,
    pub virtual_cluster_id: String,
    pub state: JobRunState,
    /// INTERNAL_ERROR, USER_ERROR, VALIDATION_ERROR or CLUSTER_UNAVAILABLE.
    pub failure_reason: Option<String>,
    pub state_details: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `retryPolicyExecution.currentAttemptCount`: present only with a retry policy.
    pub retry_attempts: Option<i32>,
    pub client_token: Option<String>,
}

/// EMR's job run lifecycle.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum JobRunState {
    Pending,
    Submitted,
    Running,
    Failed,
    Cancelled,
    CancelPending,
    Completed,
    /// A state this version does not know; kept verbatim rather than guessed.
    Unknown(String),
}

impl JobRunState {
    /// Every state EMR documents, e.g. for "list everything not finished" filters.
    pub const KNOWN: [JobRunState; 7] = [
        JobRunState::Pending,
        JobRunState::Submitted,
        JobRunState::Running,
        JobRunState::CancelPending,
        JobRunState::Failed,
        JobRunState::Cancelled,
        JobRunState::Completed,
    ];

    /// The states a run can still leave: PENDING, SUBMITTED, RUNNING, CANCEL_PENDING.
    pub const ACTIVE: [JobRunState; 4] = [
        JobRunState::Pending,
        JobRunState::Submitted,
        JobRunState::Running,
        JobRunState::CancelPending,
    ];

    /// Failed, Cancelled and Completed are final; an unknown state is not assumed final, so
    /// the operator keeps watching it.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            JobRunState::Failed | JobRunState::Cancelled | JobRunState::Completed
        )
    }

    /// The EMR spelling, e.g. "CANCEL_PENDING".
    pub fn as_str(&self) -> &str {
        match self {
            JobRunState::Pending => "PENDING",
            JobRunState::Submitted => "SUBMITTED",
            JobRunState::Running => "RUNNING",
            JobRunState::Failed => "FAILED",
            JobRunState::Cancelled => "CANCELLED",
            JobRunState::CancelPending => "CANCEL_PENDING",
            JobRunState::Completed => "COMPLETED",
            JobRunState::Unknown(other) => other,
        }
    }
}

impl FromStr for JobRunState {
    type Err = Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "PENDING" => JobRunState::Pending,
            "SUBMITTED" => JobRunState::Submitted,
            "RUNNING" => JobRunState::Running,
            "FAILED" => JobRunState::Failed,
            "CANCELLED" => JobRunState::Cancelled,
            "CANCEL_PENDING" => JobRunState::CancelPending,
            "COMPLETED" => JobRunState::Completed,
            other => JobRunState::Unknown(other.to_owned()),
        })
    }
}

impl std::fmt::Display for JobRunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&aws_sdk_emrcontainers::types::JobRunState> for JobRunState {
    fn from(state: &aws_sdk_emrcontainers::types::JobRunState) -> Self {
        let Ok(parsed) = state.as_str().parse();
        parsed
    }
}

impl From<&JobRunState> for aws_sdk_emrcontainers::types::JobRunState {
    fn from(state: &JobRunState) -> Self {
        aws_sdk_emrcontainers::types::JobRunState::from(state.as_str())
    }
}

/// `fallback_vc_id` fills in the virtual cluster when a response omits it: the caller asked
/// about that cluster, so it is known.
pub(crate) fn job_run_info(
    run: &aws_sdk_emrcontainers::types::JobRun,
    fallback_vc_id: &str,
) -> Option<JobRunInfo> {
    Some(JobRunInfo {
        id: run.id()?.to_owned(),
        name: run.name().map(str::to_owned),
        arn: run.arn().map(str::to_owned),
        virtual_cluster_id: run
            .virtual_cluster_id()
            .unwrap_or(fallback_vc_id)
            .to_owned(),
        state: run
            .state()
            .map_or(JobRunState::Unknown(String::new()), JobRunState::from),
        failure_reason: run.failure_reason().map(|r| r.as_str().to_owned()),
        state_details: run.state_details().map(str::to_owned),
        created_at: run.created_at().and_then(to_chrono),
        finished_at: run.finished_at().and_then(to_chrono),
        retry_attempts: run
            .retry_policy_execution()
            .map(|r| r.current_attempt_count()),
        client_token: run.client_token().map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_emrcontainers::types::{FailureReason, JobRun, RetryPolicyExecution};

    #[test]
    fn states_parse_and_print_in_emr_spelling() {
        for state in JobRunState::KNOWN {
            let parsed: JobRunState = state.as_str().parse().expect("infallible");
            assert_eq!(parsed, state);
        }
        assert_eq!(JobRunState::CancelPending.as_str(), "CANCEL_PENDING");
        let odd: JobRunState = "PAUSED".parse().expect("infallible");
        assert_eq!(odd, JobRunState::Unknown("PAUSED".into()));
        assert_eq!(odd.as_str(), "PAUSED");
    }

    #[test]
    fn only_failed_cancelled_and_completed_are_terminal() {
        let terminal: Vec<_> = JobRunState::KNOWN
            .into_iter()
            .filter(JobRunState::is_terminal)
            .collect();
        assert_eq!(
            terminal,
            [
                JobRunState::Failed,
                JobRunState::Cancelled,
                JobRunState::Completed
            ]
        );
        assert!(!JobRunState::Unknown("X".into()).is_terminal());
        assert!(JobRunState::ACTIVE.iter().all(|s| !s.is_terminal()));
    }

    #[test]
    fn converts_an_sdk_job_run() {
        let run = JobRun::builder()
            .id("jr1")
            .name("nightly")
            .arn("arn:aws:emr-containers:us-east-1:123:/virtualclusters/vc/jobruns/jr1")
            .state(aws_sdk_emrcontainers::types::JobRunState::Failed)
            .failure_reason(FailureReason::UserError)
            .state_details("exit 1")
            .created_at(aws_smithy_types::DateTime::from_secs(1_700_000_000))
            .finished_at(aws_smithy_types::DateTime::from_secs(1_700_000_100))
            .retry_policy_execution(
                RetryPolicyExecution::builder()
                    .current_attempt_count(2)
                    .build()
                    .expect("complete"),
            )
            .client_token("uid-0")
            .build();
        let info = job_run_info(&run, "vc").expect("has id");
        assert_eq!(info.id, "jr1");
        assert_eq!(info.virtual_cluster_id, "vc");
        assert_eq!(info.state, JobRunState::Failed);
        assert_eq!(info.failure_reason.as_deref(), Some("USER_ERROR"));
        assert_eq!(info.retry_attempts, Some(2));
        assert_eq!(info.client_token.as_deref(), Some("uid-0"));
        assert_eq!(info.finished_at.map(|t| t.timestamp()), Some(1_700_000_100));
    }

    #[test]
    fn a_job_run_without_an_id_is_rejected() {
        assert_eq!(job_run_info(&JobRun::builder().build(), "vc"), None);
    }
}
