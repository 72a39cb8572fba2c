//! The reconciler's I/O: gathers the facts (the object, its VirtualCluster when needed, the
//! poller's last observation), asks [`decide`](super::decide) and carries out the one effect.
//!
//! - this file: one reconcile's state, the decision loop and the dispatch of the effect;
//! - [`prove`]: proving that what status names is this object's before anything acts on it;
//! - [`submit`]: recording an attempt, then starting it (the exactly-once order);
//! - [`pod_templates`]: an attempt's pod templates checked and in S3 before it is recorded;
//! - [`write`]: status and finalizer writes (through the [`kit`](crate::kit)), cancels, Events.
//!
//! Every write carries the object's resourceVersion, so a decision taken on a stale copy (the
//! watch cache lags behind the operator's own writes) is refused by the apiserver and taken
//! again on the fresh object, instead of overwriting newer facts.

mod admit;
mod expire;
mod pod_templates;
mod preflight;
mod prove;
#[cfg(test)]
mod prove_tests;
mod submit;
mod template_ref;
#[cfg(test)]
mod tests;
mod write;

use std::time::Duration;

use chrono::{DateTime, Utc};
use emr_api::labels::SPARK_JOB_RUN_FINALIZER;
use emr_api::spark_job_run::SparkJobRunStatus;
use emr_api::{SparkJobRun, VirtualCluster};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;

use super::decide::{self, Decision, Effect, Facts, Phase};
use super::error::Error;
use super::serial::{self, BeyondCache, WhichCopy};
use super::state::State;
use super::target::{self, Resolution};
use super::tracker::JobKey;
use super::ttl;
use crate::context::Context;
use crate::fair_queue::Action;
use crate::kit::Event;
use crate::kit::finalizer::Finalizer;
use write::Cancelled;

/// The controller's finalizer on every SparkJobRun it acts on.
const FINALIZER: Finalizer = Finalizer(SPARK_JOB_RUN_FINALIZER);
/// After a job run started, a reconcile in case no poll result ever arrives.
const STARTED_RESYNC: Duration = Duration::from_secs(600);

/// One reconcile of one object.
pub struct Reconcile<'a> {
    state: &'a State,
    api: Api<SparkJobRun>,
    /// The newest known copy: replaced by every write's answer.
    job: SparkJobRun,
    object: String,
    /// The object is deleted, or its finalizer released so it is about to be.
    gone: bool,
    /// The spec's VirtualCluster as read in this reconcile (read at most once).
    looked_up: Option<Lookup>,
    /// The EMR job template spec.jobTemplateRef resolved to in this reconcile.
    resolved_template: Option<String>,
    /// EMR's answer for that template, so checking its role does not describe it again.
    described_template: Option<emr_aws::JobTemplateInfo>,
    /// A first attempt decided and not written before its StartJobRun (see
    /// [`decide`](super::decide)'s doc): the status the answer's status is built on.
    unwritten: Option<SparkJobRunStatus>,
}

/// What the spec's virtual cluster reference resolves to, read once per reconcile.
struct Lookup {
    /// Whether (and where) a job run may start now.
    resolution: Resolution,
    /// The only EMR virtual cluster this object's job runs may be in (see [`ownership`](super::ownership)).
    owned_virtual_cluster_id: Option<String>,
    /// The VirtualCluster object, for its role allow-list.
    virtual_cluster: Option<VirtualCluster>,
}

impl<'a> Reconcile<'a> {
    pub fn new(job: &SparkJobRun, state: &'a State) -> Self {
        let namespace = job.namespace().unwrap_or_default();
        Self {
            state,
            api: Api::namespaced(state.ctx.client.clone(), &namespace),
            job: job.clone(),
            object: format!("{namespace}/{}", job.name_any()),
            gone: false,
            looked_up: None,
            resolved_template: None,
            described_template: None,
            unwritten: None,
        }
    }

    fn ctx(&self) -> &Context {
        &self.state.ctx
    }

    /// The status as the apiserver holds it.
    fn status(&self) -> SparkJobRunStatus {
        self.job.status.clone().unwrap_or_default()
    }

    /// What the next status is built on: the attempt decided but not yet written, if any, else
    /// the status as the apiserver holds it.
    fn base(&self) -> SparkJobRunStatus {
        self.unwritten.clone().unwrap_or_else(|| self.status())
    }

    /// Decides and acts on the freshest copy; `known` is the object's slot in [`Serial`].
    pub async fn run(mut self, known: &mut Option<BeyondCache>) -> Result<Action, Error> {
        let cached = self.job.clone();
        let result = self.decide_and_act(known.as_ref()).await;
        self.settle_admission(result.is_ok());
        let ending = serial::Ending {
            last: &self.job,
            gone: self.gone,
            refused: matches!(result, Err(Error::StaleObject { .. })),
        };
        *known = serial::remember(&cached, ending);
        result
    }

    async fn decide_and_act(&mut self, known: Option<&BeyondCache>) -> Result<Action, Error> {
        // A recorded attempt without its job run id (or a first attempt's finalizer without
        // the attempt) is what a lagging cache shows right after a submission: read the object
        // itself rather than look for the run in EMR. Likewise when
        // this process has read or written a version the cache does not show yet, or had a write
        // refused as out of date (the watch may be down: waiting for the cache could take long).
        let status = self.status();
        if decide::phase(&status) == Phase::Submitting
            || decide::first_attempt_unrecorded(&status, self.has_finalizer())
            || serial::copy_to_use(&self.job, known) == WhichCopy::ReadFresh
        {
            match self.api.get_opt(&self.job.name_any()).await {
                Ok(Some(fresh)) => self.job = fresh,
                Ok(None) => {
                    self.gone = true;
                    return Ok(Action::await_change());
                }
                Err(source) => {
                    return Err(Error::ReadJob {
                        object: self.object.clone(),
                        source,
                    });
                }
            }
        }
        if let prove::Proven::Later(recheck) = self.prove_status().await? {
            return Ok(Action::requeue(recheck));
        }
        let mut target = None;
        for _ in 0..2 {
            let decision = self.decide(target.as_ref());
            if decision.effect == Effect::NeedVirtualCluster && target.is_none() {
                target = Some(self.lookup().await?.resolution.clone());
                continue;
            }
            return self.carry_out(decision).await;
        }
        Ok(Action::await_change())
    }

    fn has_finalizer(&self) -> bool {
        FINALIZER.is_on(&self.job)
    }

    fn decide(&self, target: Option<&Resolution>) -> Decision {
        let status = self.status();
        let key = decide::current_run(&status);
        let (observed, cancel_requested) = self.state.tracker.with(|r| match &key {
            Some(key) => (r.observation(key).cloned(), r.cancel_requested(key)),
            None => (None, false),
        });
        decide::decide(&Facts {
            spec: &self.job.spec,
            status: &status,
            generation: self.job.metadata.generation,
            created: self
                .job
                .metadata
                .creation_timestamp
                .as_ref()
                .and_then(to_chrono),
            has_finalizer: self.has_finalizer(),
            deleting_since: self
                .job
                .metadata
                .deletion_timestamp
                .as_ref()
                .and_then(to_chrono),
            target,
            observed: observed.as_ref(),
            cancel_requested,
            ttl_applies: ttl::applies(self.job.owner_references()),
            now: Utc::now(),
        })
    }

    /// The spec's VirtualCluster and what it resolves to, read once per reconcile.
    async fn lookup(&mut self) -> Result<&Lookup, Error> {
        let lookup = match self.looked_up.take() {
            Some(lookup) => lookup,
            None => self.read_virtual_cluster().await?,
        };
        Ok(self.looked_up.insert(lookup))
    }

    async fn read_virtual_cluster(&self) -> Result<Lookup, Error> {
        let spec = &self.job.spec;
        let namespace = self.job.namespace().unwrap_or_default();
        let allow_raw = self.ctx().config.allow_raw_virtual_cluster_ids;
        let found = match (&spec.virtual_cluster.name, &spec.virtual_cluster.id) {
            (Some(name), None) => Api::<VirtualCluster>::all(self.ctx().client.clone())
                .get_opt(name)
                .await
                .map_err(|source| Error::ReadVirtualCluster {
                    object: self.object.clone(),
                    name: name.clone(),
                    source,
                })?,
            _ => None,
        };
        Ok(Lookup {
            resolution: target::resolve(spec, &namespace, allow_raw, found.as_ref()),
            owned_virtual_cluster_id: target::owned_virtual_cluster_id(
                spec,
                &namespace,
                allow_raw,
                found.as_ref(),
            ),
            virtual_cluster: found,
        })
    }

    async fn carry_out(&mut self, decision: Decision) -> Result<Action, Error> {
        tracing::debug!(object = %self.object, effect = ?decision.effect, wake = ?decision.wake, "decided");
        let wake = decision
            .wake
            .map_or_else(Action::await_change, Action::requeue);
        let deleting = self.job.metadata.deletion_timestamp.is_some();
        if deleting && !self.has_finalizer() {
            return Ok(Action::await_change());
        }
        if let Some(warning) = ttl::gitops_warning(&self.job, &self.status(), &decision.status) {
            self.publish(vec![warning]).await;
        }
        match decision.effect {
            Effect::None | Effect::NeedVirtualCluster => {
                self.write(decision.status).await?;
                Ok(wake)
            }
            Effect::Track { key, since } => {
                self.write(decision.status).await?;
                self.track(key, since);
                Ok(wake)
            }
            Effect::Forget(key) => {
                self.write(decision.status).await?;
                self.forget(&key);
                Ok(wake)
            }
            // Boxed: the submission future (S3, EMR, status writes) is large; inline it makes
            // every reconcile's future that large, which overflows a worker's stack in a
            // debug build.
            Effect::Submit(submit) => Box::pin(self.submit(decision.status, submit)).await,
            Effect::CancelForDeadline(key) => {
                // Cancel first: the status then records the deadline only once EMR took the request.
                if let Cancelled::Sent = self.cancel(&key).await? {
                    // Noted before the write: if that write is refused as stale, the retry must
                    // not send the cancellation again.
                    self.state.tracker.with(|r| r.note_cancel_requested(&key));
                }
                self.write(decision.status).await?;
                self.state
                    .tracker
                    .change(|r| r.poll_soon(&key.virtual_cluster_id, Utc::now()));
                Ok(wake)
            }
            Effect::CancelForDeletion(key) => match self.cancel(&key).await? {
                Cancelled::Gone => self.release(Some(key), None).await,
                Cancelled::Sent => {
                    // Noted before the Event and the write: if the write is refused as stale,
                    // the retry tracks the run instead of cancelling it again.
                    self.state.tracker.with(|r| r.note_cancel_requested(&key));
                    self.publish(vec![Event::normal(
                        "Cancelling",
                        "Delete",
                        format!(
                            "cancelling job run {} before letting the object go",
                            key.job_run_id
                        ),
                    )])
                    .await;
                    self.write(decision.status).await?;
                    self.track(key.clone(), Utc::now());
                    self.state
                        .tracker
                        .change(|r| r.poll_soon(&key.virtual_cluster_id, Utc::now()));
                    Ok(wake)
                }
            },
            Effect::FindForDeletion {
                virtual_cluster_id,
                attempt,
                since,
            } => {
                match self.find(&virtual_cluster_id, attempt, since).await? {
                    Some(run) => {
                        // Adopt it as the decided attempt's; the next reconcile cancels it like
                        // any running job.
                        self.unwritten = Some(decision.status);
                        let status =
                            self.started_status(&virtual_cluster_id, &run.id, run.arn.as_deref());
                        self.write(status).await?;
                        Ok(Action::requeue(Duration::ZERO))
                    }
                    None => self.release(None, None).await,
                }
            }
            Effect::Release { forget, event } => self.release(forget, event).await,
            Effect::DeleteExpired(event) => {
                self.write(decision.status).await?;
                self.delete_expired(event).await
            }
        }
    }

    /// Keeps `key` polled for this object; a run tracked for another object is left to it (a
    /// second line of defence: only proven runs reach here, see [`ownership`]).
    fn track(&self, key: JobKey, since: DateTime<Utc>) {
        let object = ObjectRef::from_obj(&self.job);
        let stolen = self.state.tracker.change(|r| {
            let other = r
                .tracked_by(&key)
                .is_some_and(|o| *o != object || o.extra.uid != object.extra.uid);
            if !other {
                r.track(key.clone(), object, since, Utc::now());
            }
            other
        });
        if stolen {
            tracing::warn!(object = %self.object, job_run = %key.job_run_id, "not tracking a job run tracked for another object");
        }
    }

    fn started_status(
        &self,
        virtual_cluster_id: &str,
        job_run_id: &str,
        arn: Option<&str>,
    ) -> SparkJobRunStatus {
        decide::started(
            &self.job.spec,
            &self.base(),
            self.job.metadata.generation,
            virtual_cluster_id,
            job_run_id,
            arn,
        )
    }
}

pub(super) fn to_chrono(time: &Time) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(time.0.subsec_nanosecond()).unwrap_or(0);
    DateTime::from_timestamp(time.0.as_second(), nanos)
}
