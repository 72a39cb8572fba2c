//! The admission check before a new attempt is recorded (see [`admission`]): a job of a
//! VirtualCluster at its `maxConcurrentJobRuns` writes that it is queued and waits, with no EMR
//! call; the watch wakes it when a slot frees.

use emr_api::spark_job_run::SparkJobRunStatus;

use super::Reconcile;
use crate::fair_queue::Action;
use crate::spark_job_run::admission;
use crate::spark_job_run::error::Error;

impl Reconcile<'_> {
    /// `Some` when the job must wait for a slot (its queued status is written); `None` when
    /// attempt `attempt` may be recorded (a slot is reserved for it) or there is no limit.
    pub(super) async fn queued_for_slot(
        &mut self,
        decided: &SparkJobRunStatus,
        attempt: i32,
    ) -> Result<Option<Action>, Error> {
        let Some(vc) = self.lookup().await?.virtual_cluster.clone() else {
            return Ok(None);
        };
        let verdict = match self.state.admission.admit(&vc, &self.job, attempt) {
            Some(verdict) if !verdict.admitted => verdict,
            _ => return Ok(None),
        };
        let status = admission::queued(
            &self.status(),
            decided,
            self.job.metadata.generation,
            &vc.metadata.name.clone().unwrap_or_default(),
            &verdict,
        );
        self.write(status).await?;
        Ok(Some(Action::await_change()))
    }

    /// Lets admission drop what this reconcile reserved or queued and did not use.
    pub(super) fn settle_admission(&self, ok: bool) {
        self.state.admission.settle(&self.job, ok);
    }
}
