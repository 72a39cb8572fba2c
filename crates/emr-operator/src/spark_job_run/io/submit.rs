//! Starting an attempt: make it durable (its finalizer, or its number in status), then send
//! StartJobRun with the attempt's client token, the order that makes a second job run
//! impossible; and what may stop it first (a job template's role, IAM, a stray run of another
//! attempt).
//!
//! One file of about 400 lines on purpose: the order of its steps is the argument that a crash
//! anywhere never makes a second job run, and it is read top to bottom as one.

use std::time::Duration;

use chrono::{DateTime, Utc};
use emr_api::spark_job_run::{SparkJobRunStatus, reasons};
use emr_aws::{JobRunInfo, JobRunState};
use kube::ResourceExt;

use super::preflight::waiting_status;
use super::{Reconcile, STARTED_RESYNC, to_chrono};
use crate::fair_queue::Action;
use crate::spark_job_run::decide::{self, Submit};
use crate::spark_job_run::error::Error;
use crate::spark_job_run::ownership;
use crate::spark_job_run::pod_templates;
use crate::spark_job_run::request;
use crate::spark_job_run::tracker::{self, JobKey};

/// The Warning Event when a run of another attempt of the same object is cancelled.
const STRAY_JOB_RUN_CANCELLED: &str = "StrayJobRunCancelled";
/// While the operator may not start job runs (IAM), how often it tries again.
const ACCESS_DENIED_RETRY: Duration = Duration::from_secs(300);

/// Why a StartJobRun is not sent.
pub(super) enum Refusal {
    /// As the objects stand (reason, message): the user must change something.
    Refused {
        reason: &'static str,
        message: String,
    },
    /// The operator lacks a permission; tried again later.
    AccessDenied(String),
    /// Not now (reason, message): tried again after `retry`.
    Wait {
        reason: &'static str,
        message: String,
        retry: Duration,
    },
}

impl Reconcile<'_> {
    /// Makes the attempt durable, then starts it: the order that makes a second job run
    /// impossible.
    pub(super) async fn submit(
        &mut self,
        mut recorded: SparkJobRunStatus,
        submit: Submit,
    ) -> Result<Action, Error> {
        let Submit {
            attempt,
            virtual_cluster_id: vc,
            mut recover_since,
        } = submit;
        if let Some(since) = recover_since
            && self.status().attempt == 0
        {
            // A first attempt that may have been sent unrecorded (see decide's doc): its run is
            // adopted if EMR has one; if not, nothing was sent and it is a first submission
            // like any other (admission, checks, upload).
            // Boxed: inline, this branch's futures overflow a worker's stack in a debug build.
            if let Some(adopted) =
                Box::pin(self.adopt_unrecorded(&recorded, &vc, attempt, since)).await?
            {
                return Ok(adopted);
            }
            recover_since = None;
        }
        let due_since = self
            .status()
            .next_attempt_at
            .map(|t| t.as_datetime())
            .or(recover_since)
            .unwrap_or_else(Utc::now);
        // A new attempt is checked before it is recorded, so a refusal uses no attempt number.
        let fresh = recover_since.is_none();
        if fresh && let Some(queued) = self.queued_for_slot(&recorded, attempt).await? {
            return Ok(queued);
        }
        if fresh && let Some(refusal) = self.template_refusal().await? {
            return self.refuse_start(refusal).await;
        }
        if fresh && let Some(refusal) = self.namespace_refusal().await? {
            return self.refuse_start(refusal).await;
        }
        // Pod templates are checked and uploaded before the attempt is recorded (see
        // io/pod_templates.rs for why that order keeps one job run per attempt).
        let mut pod_templates = None;
        if fresh {
            match Box::pin(self.pod_template_files()).await? {
                Ok(files) => pod_templates = files,
                Err(refusal) => return self.refuse_start(refusal).await,
            }
            recorded.pod_templates = pod_templates.clone();
        }
        self.ensure_finalizer().await?;
        let recorded = self.with_template_id(recorded);
        if Box::pin(self.record_before_start(attempt)).await? {
            self.write(recorded).await?;
        } else {
            // The finalizer now says attempt 1 may be sent; the attempt is written with the
            // answer (see decide's doc), one write fewer per job.
            self.unwritten = Some(recorded);
        }

        if let Some(since) = recover_since
            && let Some(run) = self.find(&vc, attempt, since).await?
        {
            tracing::info!(object = %self.object, attempt, job_run = %run.id, "found the job run of a recorded attempt");
            let status = self.started_status(&vc, &run.id, run.arn.as_deref());
            self.write(status).await?;
            self.track(
                JobKey {
                    virtual_cluster_id: vc,
                    job_run_id: run.id,
                },
                Utc::now(),
            );
            return Ok(Action::requeue(STARTED_RESYNC));
        }

        if !fresh && let Some(refusal) = self.template_refusal().await? {
            return self.refuse_start(refusal).await;
        }
        if !fresh && let Some(refusal) = self.namespace_refusal().await? {
            return self.refuse_start(refusal).await;
        }
        if !fresh {
            match Box::pin(self.recovered_pod_template_files()).await? {
                Ok(files) => pod_templates = files,
                Err(refusal) => return self.refuse_start(refusal).await,
            }
        }
        if !fresh {
            self.cancel_strays(&vc, attempt).await?;
        }
        let mut sent = pod_templates::apply::with_files(&self.job, pod_templates.as_ref());
        // The request reads the attempt's status (its job template id), written or not yet.
        sent.status = Some(self.base());
        let input = match request::start_job_run_input(&sent, &vc, attempt) {
            Ok(input) => input,
            Err(error) => {
                let status = decide::rejected(
                    &self.base(),
                    self.job.metadata.generation,
                    &error.to_string(),
                );
                self.write(status).await?;
                return Ok(Action::await_change());
            }
        };
        match self.ctx().aws.emr.start_job_run(input).await {
            Ok(run) => {
                let latency = (Utc::now() - due_since).to_std().unwrap_or(Duration::ZERO);
                self.ctx().metrics.job_run_submitted(latency);
                let status =
                    self.started_status(&run.virtual_cluster_id, &run.id, run.arn.as_deref());
                self.write(status).await?;
                self.track(
                    JobKey {
                        virtual_cluster_id: run.virtual_cluster_id,
                        job_run_id: run.id,
                    },
                    Utc::now(),
                );
                Ok(Action::requeue(STARTED_RESYNC))
            }
            Err(error) if error.is_validation() || error.is_not_found() => {
                let status = decide::rejected(
                    &self.base(),
                    self.job.metadata.generation,
                    &error.cause().to_string(),
                );
                self.write(status).await?;
                Ok(Action::await_change())
            }
            Err(error) if error.is_access_denied() => {
                let message = format!(
                    "the operator may not start job runs: {} (grant it {})",
                    error.cause(),
                    error.iam_action()
                );
                let status =
                    decide::access_denied(&self.base(), self.job.metadata.generation, &message);
                self.write(status).await?;
                Ok(Action::requeue(ACCESS_DENIED_RETRY))
            }
            Err(source) => Err(Error::StartJobRun {
                object: self.object.clone(),
                attempt,
                source,
            }),
        }
    }

    /// The run of a first attempt that may have been sent unrecorded, adopted (status written
    /// with it, the run tracked) if EMR has one.
    async fn adopt_unrecorded(
        &mut self,
        recorded: &SparkJobRunStatus,
        vc: &str,
        attempt: i32,
        since: DateTime<Utc>,
    ) -> Result<Option<Action>, Error> {
        let Some(run) = self.find(vc, attempt, since).await? else {
            return Ok(None);
        };
        tracing::info!(object = %self.object, attempt, job_run = %run.id, "found the job run of an unrecorded first attempt");
        self.unwritten = Some(self.with_template_id(recorded.clone()));
        let status = self.started_status(vc, &run.id, run.arn.as_deref());
        self.write(status).await?;
        self.track(
            JobKey {
                virtual_cluster_id: vc.to_owned(),
                job_run_id: run.id,
            },
            Utc::now(),
        );
        Ok(Some(Action::requeue(STARTED_RESYNC)))
    }

    /// Whether attempt `attempt` is written to status before its StartJobRun. Not a first
    /// attempt (status records none, the finalizer says it may be sent) unless its
    /// VirtualCluster limits concurrent runs: admission counts a job as holding a slot from its
    /// recorded attempt on, and that count must hold across a restart.
    async fn record_before_start(&mut self, attempt: i32) -> Result<bool, Error> {
        if attempt != 1 || self.status().attempt != 0 || !self.has_finalizer() {
            return Ok(true);
        }
        let limited = self
            .lookup()
            .await?
            .virtual_cluster
            .as_ref()
            .is_some_and(|vc| vc.spec.max_concurrent_job_runs.is_some());
        Ok(limited)
    }

    /// Why StartJobRun must not be sent from the spec's job template, if it must not. EMR runs
    /// a template's job as the template's execution role (its `${param}`s resolved with the
    /// run's parameters), whatever `spec.executionRoleArn` says: that role must be one the
    /// VirtualCluster allows too.
    async fn template_refusal(&mut self) -> Result<Option<Refusal>, Error> {
        let template_id = match self.resolve_template().await? {
            Ok(Some(id)) => id,
            Ok(None) => return Ok(None),
            Err(refusal) => return Ok(Some(refusal)),
        };
        // A jobTemplateRef was described while resolving it; a raw jobTemplateId is described here.
        let described = self
            .described_template
            .take()
            .filter(|_| self.resolved_template.as_deref() == Some(template_id.as_str()));
        let answer = match described {
            Some(template) => Ok(template),
            None => self.ctx().aws.emr.describe_job_template(&template_id).await,
        };
        let template = match answer {
            Ok(template) => template,
            Err(error) if error.is_not_found() => {
                return Ok(Some(Refusal::Refused {
                    reason: reasons::JOB_TEMPLATE_NOT_FOUND,
                    message: format!(
                        "job template {template_id} (spec.jobTemplateId) does not exist in EMR"
                    ),
                }));
            }
            Err(error) if error.is_access_denied() => {
                return Ok(Some(Refusal::AccessDenied(format!(
                    "the operator may not read job template {template_id}: {} (grant it {})",
                    error.cause(),
                    error.iam_action()
                ))));
            }
            Err(source) => {
                return Err(Error::DescribeJobTemplate {
                    object: self.object.clone(),
                    source,
                });
            }
        };
        let role = match template.execution_role(&self.job.spec.job_template_parameters) {
            Ok(role) => role,
            Err(error) => {
                return Ok(Some(Refusal::Refused {
                    reason: reasons::INVALID_JOB_TEMPLATE_PARAMETERS,
                    message: format!(
                        "job template {template_id}: {error} (spec.jobTemplateParameters)"
                    ),
                }));
            }
        };
        let name = self
            .job
            .spec
            .virtual_cluster
            .name
            .clone()
            .unwrap_or_default();
        // A raw virtual cluster id (when the operator allows them) has no allow-list to check.
        let allowed = match &self.lookup().await?.virtual_cluster {
            Some(vc) => vc.allows_execution_role(&role),
            None => true,
        };
        Ok((!allowed).then(|| Refusal::Refused {
            reason: reasons::EXECUTION_ROLE_NOT_ALLOWED,
            message: format!(
                "job template {template_id} runs the job as {role}, which is not one of \
                 VirtualCluster {name}'s executionRoles"
            ),
        }))
    }

    async fn refuse_start(&mut self, refusal: Refusal) -> Result<Action, Error> {
        let generation = self.job.metadata.generation;
        let base = self.base();
        match refusal {
            Refusal::Refused { reason, message } => {
                let status = decide::refused_before_start(&base, generation, reason, &message);
                self.write(status).await?;
                Ok(Action::await_change())
            }
            Refusal::AccessDenied(message) => {
                let status = decide::access_denied(&base, generation, &message);
                self.write(status).await?;
                Ok(Action::requeue(ACCESS_DENIED_RETRY))
            }
            Refusal::Wait {
                reason,
                message,
                retry,
            } => {
                let status = waiting_status(&base, generation, reason, &message);
                self.write(status).await?;
                Ok(Action::requeue(retry))
            }
        }
    }

    /// Before a recorded attempt is sent again: its status may have been rewritten (the attempt
    /// number moved, the job run dropped), so runs of this object that EMR still runs under
    /// another attempt are cancelled first. One object then never has two active runs, and none
    /// escapes the deadline or the cancel on deletion. They are found by client token in the
    /// spec's own virtual cluster since the object was created (a time the apiserver sets).
    async fn cancel_strays(&self, vc: &str, attempt: i32) -> Result<(), Error> {
        let uid = self.job.uid().unwrap_or_default();
        let since = self
            .job
            .metadata
            .creation_timestamp
            .as_ref()
            .and_then(to_chrono)
            .map(tracker::created_after);
        let runs = match self
            .ctx()
            .aws
            .emr
            .list_job_runs(vc, &JobRunState::ACTIVE, since)
            .await
        {
            Ok(runs) => runs,
            Err(error) if error.is_not_found() => return Ok(()),
            Err(source) => {
                return Err(Error::FindJobRun {
                    object: self.object.clone(),
                    attempt,
                    source,
                });
            }
        };
        let current = request::client_token(&uid, attempt);
        let strays = runs.into_iter().filter(|run| {
            let token = run.client_token.as_deref();
            ownership::token_is_ours(&uid, token) && token != Some(current.as_str())
        });
        for run in strays {
            let key = JobKey {
                virtual_cluster_id: vc.to_owned(),
                job_run_id: run.id.clone(),
            };
            self.cancel(&key).await?;
            tracing::warn!(object = %self.object, attempt, job_run = %run.id, "cancelled a job run of another attempt of this object");
            self.ctx()
                .events
                .warning(
                    &self.job,
                    STRAY_JOB_RUN_CANCELLED,
                    "Cancel",
                    format!(
                        "cancelled job run {} (client token {}): EMR still ran it while status recorded attempt {attempt}, so status was rewritten; one object has one active run",
                        run.id,
                        run.client_token.as_deref().unwrap_or_default()
                    ),
                )
                .await;
        }
        Ok(())
    }

    /// The job run EMR started for `attempt`, found by its client token.
    pub(super) async fn find(
        &self,
        vc: &str,
        attempt: i32,
        since: DateTime<Utc>,
    ) -> Result<Option<JobRunInfo>, Error> {
        let uid = self.job.uid().unwrap_or_default();
        let token = request::client_token(&uid, attempt);
        match self
            .ctx()
            .aws
            .emr
            .list_job_runs(vc, &[], Some(tracker::created_after(since)))
            .await
        {
            Ok(runs) => Ok(runs
                .into_iter()
                .find(|r| r.client_token.as_deref() == Some(token.as_str()))),
            Err(error) if error.is_not_found() => Ok(None),
            Err(source) => Err(Error::FindJobRun {
                object: self.object.clone(),
                attempt,
                source,
            }),
        }
    }
}
