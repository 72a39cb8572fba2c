//! The writes of a reconcile: status (through [`kit::status`](crate::kit::status), guarded by the
//! resourceVersion), the finalizer, CancelJobRun, and the Events and metrics of what changed.

use std::time::Duration;

use emr_api::spark_job_run::SparkJobRunStatus;
use emr_aws::JobRunState;

use super::{FINALIZER, Reconcile};
use crate::fair_queue::Action;
use crate::kit::Event;
use crate::kit::status::{self, Precondition, WriteError};
use crate::spark_job_run::error::Error;
use crate::spark_job_run::tracker::JobKey;
use crate::spark_job_run::transitions;

/// How a CancelJobRun ended.
pub(super) enum Cancelled {
    /// Sent, or EMR says the run is already finishing: wait for the final state.
    Sent,
    /// The run (or its virtual cluster) no longer exists.
    Gone,
}

impl Reconcile<'_> {
    pub(super) async fn cancel(&self, key: &JobKey) -> Result<Cancelled, Error> {
        match self
            .ctx()
            .aws
            .emr
            .cancel_job_run(&key.virtual_cluster_id, &key.job_run_id)
            .await
        {
            Ok(()) => Ok(Cancelled::Sent),
            Err(error) if error.is_not_found() => Ok(Cancelled::Gone),
            // Not cancellable: it is finishing or being cancelled already.
            Err(error) if error.is_validation() => Ok(Cancelled::Sent),
            Err(source) => Err(Error::CancelJobRun {
                object: self.object.clone(),
                source,
            }),
        }
    }

    /// Writes `status` if it differs from the current one (server-side apply onto the version
    /// the decision was made on), then publishes the Events and metrics of what changed.
    pub(super) async fn write(&mut self, status: SparkJobRunStatus) -> Result<(), Error> {
        let old = self.status();
        if status == old {
            return Ok(());
        }
        let written =
            status::apply(&self.api, &self.job, Precondition::of(&self.job), &status).await;
        self.written(old, status, written).await
    }

    /// Like [`Reconcile::write`], but removes what `status` leaves out even when another field
    /// manager set it: a server-side apply only drops fields the operator owns, and a forged
    /// field is owned by whoever forged it.
    pub(super) async fn write_replacing(&mut self, status: SparkJobRunStatus) -> Result<(), Error> {
        let old = self.status();
        if status == old {
            return Ok(());
        }
        let precondition = Precondition::of(&self.job);
        let written = status::replace(&self.api, &self.job, precondition, &old, &status).await;
        self.written(old, status, written).await
    }

    /// Keeps the object the apiserver answered with and publishes the Events and metrics of the
    /// change from `old` to `status`.
    async fn written(
        &mut self,
        old: SparkJobRunStatus,
        status: SparkJobRunStatus,
        written: Result<emr_api::SparkJobRun, WriteError>,
    ) -> Result<(), Error> {
        self.job = written.map_err(|error| {
            self.write_error(error, |object, source| Error::WriteStatus {
                object,
                source,
            })
        })?;
        self.unwritten = None;
        self.count_transition(&old, &status);
        self.publish(transitions::between(&old, &status)).await;
        Ok(())
    }

    /// A refused write as this controller's error: a stale copy (409, 404) is decided again on a
    /// fresh read, anything else is `wrap`ped with the object's name.
    fn write_error(
        &self,
        error: WriteError,
        wrap: impl FnOnce(String, kube::Error) -> Error,
    ) -> Error {
        if error.is_stale() {
            Error::StaleObject {
                object: self.object.clone(),
            }
        } else {
            wrap(self.object.clone(), error.into_kube())
        }
    }

    pub(super) fn count_transition(&self, old: &SparkJobRunStatus, new: &SparkJobRunStatus) {
        let Some(state) = new
            .state
            .as_deref()
            .filter(|s| Some(*s) != old.state.as_deref())
        else {
            return;
        };
        let metrics = &self.ctx().metrics;
        metrics.job_run_transition(state);
        let terminal = state.parse::<JobRunState>().is_ok_and(|s| s.is_terminal());
        if let (true, Some(created), Some(finished)) = (terminal, new.created_at, new.finished_at) {
            let elapsed = (finished.as_datetime() - created.as_datetime())
                .to_std()
                .unwrap_or(Duration::ZERO);
            metrics.job_run_finished(state, elapsed);
        }
    }

    pub(super) async fn publish(&self, events: Vec<Event>) {
        self.ctx().events.publish_all(&self.job, events).await;
    }

    pub(super) async fn ensure_finalizer(&mut self) -> Result<(), Error> {
        match FINALIZER.add(&self.api, &self.job).await {
            Ok(Some(updated)) => self.job = updated,
            Ok(None) => {}
            Err(error) => {
                return Err(
                    self.write_error(error, |object, source| Error::AddFinalizer {
                        object,
                        source,
                    }),
                );
            }
        }
        Ok(())
    }

    /// Removes the finalizer (after publishing `event`, if any), so the apiserver lets the
    /// deleted object go, and forgets the poller's knowledge of `forget`.
    pub(super) async fn release(
        &mut self,
        forget: Option<JobKey>,
        event: Option<Event>,
    ) -> Result<Action, Error> {
        if self.has_finalizer() {
            if let Some(event) = event {
                self.publish(vec![event]).await;
            }
            match FINALIZER.remove(&self.api, &self.job).await {
                Ok(Some(updated)) => self.job = updated,
                Ok(None) | Err(WriteError::Gone(_)) => {}
                Err(error) => {
                    return Err(
                        self.write_error(error, |object, source| Error::RemoveFinalizer {
                            object,
                            source,
                        }),
                    );
                }
            }
        }
        // Only deleted objects are released: without the finalizer the apiserver removes it.
        self.gone = true;
        if let Some(key) = forget {
            self.forget(&key);
        }
        Ok(Action::await_change())
    }
}
