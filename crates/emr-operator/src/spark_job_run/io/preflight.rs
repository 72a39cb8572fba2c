//! The preflight before StartJobRun (see [`preflight`](crate::spark_job_run::preflight)): the
//! job's pods against the LimitRanges and ResourceQuotas of the namespace EMR runs it in.

use std::time::Duration;

use emr_api::spark_job_run::{SparkJobRunStatus, reasons};

use super::Reconcile;
use super::submit::Refusal;
use crate::spark_job_run::error::Error;
use crate::spark_job_run::pod_templates::select;
use crate::spark_job_run::preflight::{self, Verdict, cache::Lookup};
use crate::spark_job_run::{conditions, text};

/// While the driver does not fit in the quota, how often the job looks again.
const QUOTA_RETRY: Duration = Duration::from_secs(30);
/// While the cache has not listed the namespaces' rules yet.
const SYNC_RETRY: Duration = Duration::from_secs(2);
/// The Warning Event when not every executor fits in the quota.
const QUOTA_TIGHT: &str = "NamespaceQuotaTight";
/// Longest status message, as the other conditions' details.
const MAX_MESSAGE: usize = 300;

/// The status while the job waits to start (nothing recorded changes but the `Submitted`
/// condition and the message), as while StartJobRun is denied to the operator.
pub(super) fn waiting_status(
    status: &SparkJobRunStatus,
    generation: Option<i64>,
    reason: &str,
    message: &str,
) -> SparkJobRunStatus {
    let mut status = status.clone();
    status.observed_generation = generation;
    let message = text::one_line(message, MAX_MESSAGE);
    conditions::next_attempt_waiting(&mut status, generation, reason, &message);
    status
}

impl Reconcile<'_> {
    /// Why StartJobRun must not be sent (yet) given the namespace's limits, if so. A job in a
    /// raw virtual cluster id has no namespace the operator knows, and is not checked.
    pub(super) async fn namespace_refusal(&mut self) -> Result<Option<Refusal>, Error> {
        let vc = self.lookup().await?.virtual_cluster.clone();
        let Some(namespace) = vc.as_ref().map(|vc| vc.spec.namespace.name.clone()) else {
            return Ok(None);
        };
        let rules = match self.state.namespace_limits.rules(&namespace).await {
            Lookup::NotRunning => return Ok(None),
            Lookup::NotSynced => {
                return Ok(Some(Refusal::Wait {
                    reason: reasons::WAITING_FOR_NAMESPACE_QUOTA,
                    message: "the operator is still reading the namespace's LimitRanges and ResourceQuotas".to_owned(),
                    retry: SYNC_RETRY,
                }));
            }
            Lookup::Rules(rules) => rules,
        };
        let templates = select::choose(&self.job.spec, vc.as_ref());
        let refusal = match preflight::check(&self.job.spec, &templates, &rules) {
            Verdict::Fits { warnings } => {
                for warning in warnings {
                    self.ctx()
                        .events
                        .warning(&self.job, QUOTA_TIGHT, "Preflight", warning)
                        .await;
                }
                return Ok(None);
            }
            Verdict::Exceeds(problems) => Refusal::Refused {
                reason: reasons::EXCEEDS_NAMESPACE_LIMITS,
                message: format!(
                    "namespace {namespace} would refuse this job's pods ({} {}): {}",
                    problems.len(),
                    if problems.len() == 1 {
                        "problem"
                    } else {
                        "problems"
                    },
                    problems.join("; ")
                ),
            },
            Verdict::BadProperty(problem) => Refusal::Refused {
                reason: reasons::INVALID_SPEC,
                message: format!("{problem}: Spark would refuse it"),
            },
            Verdict::WaitForQuota(waits) => Refusal::Wait {
                reason: reasons::WAITING_FOR_NAMESPACE_QUOTA,
                message: format!(
                    "waiting for quota in namespace {namespace}: {}",
                    waits.join("; ")
                ),
                retry: QUOTA_RETRY,
            },
        };
        Ok(Some(refusal))
    }
}
