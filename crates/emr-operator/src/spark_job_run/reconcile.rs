//! The reconciler's I/O: gathers the facts (the object, its VirtualCluster when needed, the
//! poller's last observation), asks [`decide`](super::decide) and carries out the one effect.
//!
//! Every status write carries the object's resourceVersion, so a decision taken on a stale copy
//! (the watch cache lags behind the operator's own writes) is refused by the apiserver and
//! taken again on the fresh object, instead of overwriting newer facts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use emr_api::labels::SPARK_JOB_RUN_FINALIZER;
use emr_api::spark_job_run::{SparkJobRunStatus, reasons};
use emr_api::{SparkJobRun, VirtualCluster};
use emr_aws::{JobRunInfo, JobRunState};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::decide::{self, Decision, Effect, Facts, Phase, Submit};
use super::error::Error;
use super::ownership::{self, Evidence, Verdict};
use super::panic_report;
use super::poller::Tracker;
use super::request;
use super::serial::{self, Copy, Known, Serial};
use super::target::{self, Resolution};
use super::tracker::{self, JobKey, Observation};
use super::transitions::{self, Note};
use crate::context::Context;
use crate::fair_queue::{Action, SharedQueue};
use crate::kit::backoff;
use crate::kit::finalizer;
use crate::kit::panic_guard;
use crate::kit::status::FIELD_MANAGER;

/// The controller's name in metrics.
pub const CONTROLLER: &str = "SparkJobRun";
/// The Warning Event when a run of another attempt of the same object is cancelled.
const STRAY_JOB_RUN_CANCELLED: &str = "StrayJobRunCancelled";
/// While the operator may not start job runs (IAM), how often it tries again.
const ACCESS_DENIED_RETRY: Duration = Duration::from_secs(300);
/// After a job run started, a reconcile in case no poll result ever arrives.
const STARTED_RESYNC: Duration = Duration::from_secs(600);
/// Longest a reconcile may take; AWS calls have their own timeouts, apiserver calls do not.
const RECONCILE_TIMEOUT: Duration = Duration::from_secs(120);
/// A reconcile taking this long is logged: normally they take milliseconds.
const SLOW_RECONCILE: Duration = Duration::from_secs(10);
/// After a stale-object conflict: the fresh copy is normally in the cache by then.
const STALE_RETRY: Duration = Duration::from_secs(1);

/// What every reconcile of this controller shares.
pub struct State {
    pub ctx: Arc<Context>,
    pub tracker: Arc<Tracker>,
    /// The fair queue the reconciles come from.
    pub queue: SharedQueue<SparkJobRun>,
    serial: Serial,
    failures: Mutex<HashMap<ObjectRef<SparkJobRun>, Streak>>,
}

impl State {
    pub fn new(ctx: Arc<Context>, tracker: Arc<Tracker>) -> Self {
        Self {
            ctx,
            tracker,
            queue: SharedQueue::default(),
            serial: Serial::default(),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectRef<SparkJobRun>, Streak>> {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets everything kept per object for objects `present` no longer finds.
    pub fn forget_absent(&self, present: impl Fn(&ObjectRef<SparkJobRun>) -> bool) {
        self.failures().retain(|object, _| present(object));
        self.serial.forget_absent(&present);
        self.queue.lock().retain(&present);
        self.tracker.with(|r| r.forget_objects(&present));
    }

    /// Entries per in-memory map, for the `tracked_objects` metric.
    pub fn map_sizes(&self) -> Vec<(&'static str, usize)> {
        let (queued, timers) = {
            let queue = self.queue.lock();
            (queue.len(), queue.timers_len())
        };
        let mut sizes = vec![
            ("sparkjobrun_serial", self.serial.len()),
            ("sparkjobrun_failures", self.failures().len()),
            ("sparkjobrun_queue", queued),
            ("sparkjobrun_queue_timers", timers),
        ];
        sizes.extend(self.tracker.with(|r| r.sizes()));
        sizes
    }
}

/// The Controller's reconcile function.
pub async fn reconcile(job: Arc<SparkJobRun>, state: Arc<State>) -> Result<Action, Error> {
    let started = Instant::now();
    let object = ObjectRef::from_obj(job.as_ref());
    let mut known = state.serial.lock(&object).await;
    // A call that never answers (a half-open connection) must not hold the object, in both
    // queues, forever. Stopping a reconcile at any await is as safe as a crash there: the
    // recorded attempt and the client token find the run a cut-off StartJobRun may have started.
    let name = || format!("{}/{}", job.namespace().unwrap_or_default(), job.name_any());
    // A panic (an operator bug some input reaches) ends this reconcile only; see `panic_guard`.
    let result = match tokio::time::timeout(
        RECONCILE_TIMEOUT,
        panic_guard::catch(async { Reconcile::new(&job, &state).run(&mut known).await }),
    )
    .await
    {
        Ok(Ok(result)) => result,
        Ok(Err(panicked)) => {
            // It may have written something before it panicked: read afresh next time.
            *known = Some(Known::Stale);
            panic_report::report(&state.ctx, &job, &panicked).await;
            Err(Error::Panicked {
                object: name(),
                message: panicked.message,
            })
        }
        Err(_) => Err(Error::TimedOut {
            object: name(),
            seconds: RECONCILE_TIMEOUT.as_secs(),
        }),
    };
    drop(known);
    state.serial.release(&object);
    let error = result.as_ref().err().map(Error::metric_label);
    let took = started.elapsed();
    if took >= SLOW_RECONCILE {
        // Includes the wait for the other queue's reconcile of the same object.
        tracing::warn!(
            object = %object,
            took_ms = took.as_millis() as u64,
            error = error.unwrap_or("none"),
            "slow reconcile"
        );
    }
    state.ctx.metrics.reconciled(CONTROLLER, took, error);
    if result.is_ok() {
        state.failures().remove(&ObjectRef::from_obj(job.as_ref()));
    }
    result
}

/// The Controller's error policy: back off per object, longer while AWS throttles.
pub fn error_policy(job: Arc<SparkJobRun>, error: &Error, state: Arc<State>) -> Action {
    if matches!(error, Error::StaleObject { .. }) {
        tracing::debug!(%error, "retrying on a fresh copy");
        return Action::requeue(STALE_RETRY);
    }
    let trouble = Trouble::of(error);
    let failures = {
        let mut all = state.failures();
        let key = ObjectRef::from_obj(job.as_ref());
        let streak = Streak::after(all.get(&key).copied(), trouble);
        all.insert(key, streak);
        streak.count
    };
    let (base, cap) = backoff_bounds(trouble);
    let delay = backoff::jittered(failures.saturating_sub(1), base, cap);
    tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "reconcile failed");
    Action::requeue(delay)
}

/// What kind of failure a reconcile met, for its retry backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trouble {
    AwsThrottled,
    AwsTransient,
    ApiserverUnavailable,
    Panicked,
    Other,
}

impl Trouble {
    fn of(error: &Error) -> Self {
        if matches!(error, Error::Panicked { .. }) {
            Trouble::Panicked
        } else if error.is_throttled() {
            Trouble::AwsThrottled
        } else if error.is_transient_aws() {
            Trouble::AwsTransient
        } else if error.is_apiserver_unavailable() {
            Trouble::ApiserverUnavailable
        } else {
            Trouble::Other
        }
    }
}

/// Consecutive failures of one object with the same kind of trouble. The backoff grows while
/// the trouble persists and starts again when it changes: the 403s of an apiserver whose RBAC
/// cache is still warming after a restart are not made to wait for the connection errors before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Streak {
    trouble: Trouble,
    count: u32,
}

impl Streak {
    fn after(previous: Option<Streak>, trouble: Trouble) -> Streak {
        let count = match previous {
            Some(p) if p.trouble == trouble => p.count.saturating_add(1),
            _ => 1,
        };
        Streak { trouble, count }
    }
}

/// First delay and longest delay of the retry backoff. Throttling starts slower so a burst
/// spreads out; transient AWS trouble (throttling, an outage) is retried at least once a minute so
/// a recovered EMR is noticed quickly, and an apiserver that could not answer at least every 10 s
/// (`make bench`'s outage and apiserver-restart scenarios measured the difference); a panic
/// waits a minute and more; anything else backs off to five minutes.
fn backoff_bounds(trouble: Trouble) -> (Duration, Duration) {
    let secs = |base, cap| (Duration::from_secs(base), Duration::from_secs(cap));
    match trouble {
        Trouble::AwsThrottled => secs(5, 60),
        Trouble::AwsTransient => secs(1, 60),
        Trouble::ApiserverUnavailable => secs(1, 10),
        // A bug does not fix itself in seconds; minutes, then up to an hour.
        Trouble::Panicked => secs(60, 3600),
        Trouble::Other => secs(1, 300),
    }
}

fn to_chrono(time: &Time) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(time.0.subsec_nanosecond()).unwrap_or(0);
    DateTime::from_timestamp(time.0.as_second(), nanos)
}

/// A merge patch turning status `old` into `new`: `new`, with every field `old` has and `new`
/// lacks set to null (removed).
fn replacing(old: &serde_json::Value, new: &serde_json::Value) -> serde_json::Value {
    let mut patch = new.clone();
    if let (Some(old), Some(fields)) = (old.as_object(), patch.as_object_mut()) {
        for key in old.keys() {
            fields.entry(key.clone()).or_insert(serde_json::Value::Null);
        }
    }
    patch
}

fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}

fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

/// Why a StartJobRun is not sent.
enum Refusal {
    /// As the objects stand (reason, message): the user must change something.
    Refused {
        reason: &'static str,
        message: String,
    },
    /// The operator lacks a permission; tried again later.
    AccessDenied(String),
}

/// How a CancelJobRun ended.
enum Cancelled {
    /// Sent, or EMR says the run is already finishing: wait for the final state.
    Sent,
    /// The run (or its virtual cluster) no longer exists.
    Gone,
}

struct Reconcile<'a> {
    state: &'a State,
    api: Api<SparkJobRun>,
    /// The newest known copy: replaced by every write's answer.
    job: SparkJobRun,
    object: String,
    /// The object is deleted, or its finalizer released so it is about to be.
    gone: bool,
    /// The spec's VirtualCluster as read in this reconcile (read at most once).
    looked_up: Option<Lookup>,
}

/// What the spec's virtual cluster reference resolves to, read once per reconcile.
struct Lookup {
    /// Whether (and where) a job run may start now.
    resolution: Resolution,
    /// The only EMR virtual cluster this object's job runs may be in (see [`ownership`]).
    owned_virtual_cluster_id: Option<String>,
    /// The VirtualCluster object, for its role allow-list.
    virtual_cluster: Option<VirtualCluster>,
}

impl<'a> Reconcile<'a> {
    fn new(job: &SparkJobRun, state: &'a State) -> Self {
        let namespace = job.namespace().unwrap_or_default();
        Self {
            state,
            api: Api::namespaced(state.ctx.client.clone(), &namespace),
            job: job.clone(),
            object: format!("{namespace}/{}", job.name_any()),
            gone: false,
            looked_up: None,
        }
    }

    fn ctx(&self) -> &Context {
        &self.state.ctx
    }

    fn status(&self) -> SparkJobRunStatus {
        self.job.status.clone().unwrap_or_default()
    }

    /// Decides and acts on the freshest copy; `known` is the object's slot in [`Serial`].
    async fn run(mut self, known: &mut Option<Known>) -> Result<Action, Error> {
        let cached = self.job.clone();
        let result = self.decide_and_act(known.as_ref()).await;
        let ending = serial::Ending {
            last: &self.job,
            gone: self.gone,
            refused: matches!(result, Err(Error::StaleObject { .. })),
        };
        *known = serial::remember(&cached, ending);
        result
    }

    async fn decide_and_act(&mut self, known: Option<&Known>) -> Result<Action, Error> {
        // A recorded attempt without its job run id is what a lagging cache shows right after
        // a submission: read the object itself rather than send StartJobRun again. Likewise when
        // this process has read or written a version the cache does not show yet, or had a write
        // refused as out of date (the watch may be down: waiting for the cache could take long).
        if decide::phase(&self.status()) == Phase::Submitting
            || serial::copy_to_use(&self.job, known) == Copy::ReadFresh
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
        self.prove_status().await?;
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

    /// Status is a record, not an authority: proves that the virtual cluster and job run it
    /// names are this object's before anything acts on them, and discards them otherwise (see
    /// [`ownership`]). Only a recorded attempt or an active run name anything AWS is called on.
    async fn prove_status(&mut self) -> Result<(), Error> {
        let status = self.status();
        if !matches!(decide::phase(&status), Phase::Submitting | Phase::Active)
            || (self.job.metadata.deletion_timestamp.is_some() && !self.has_finalizer())
        {
            return Ok(());
        }
        let Some(claimed) = status.virtual_cluster_id.clone() else {
            return Ok(());
        };
        let uid = self.job.uid().unwrap_or_default();
        let key = decide::current_run(&status);
        // What the poller knows settles it without a call in the usual case.
        if let Some(key) = &key {
            let this = ObjectRef::from_obj(&self.job);
            let verdict = self.state.tracker.with(|r| {
                let evidence = match (r.tracked_by(key), r.observation(key)) {
                    (Some(o), _) if *o == this && o.extra.uid.as_deref() == Some(uid.as_str()) => {
                        Evidence::TrackedByThis
                    }
                    (Some(_), _) => Evidence::TrackedByOther,
                    (None, Some(Observation::Seen(info))) => Evidence::Seen(info),
                    (None, _) => Evidence::Nothing,
                };
                ownership::check_run(&uid, key, evidence)
            });
            match verdict {
                Verdict::Owned => return Ok(()),
                Verdict::NotOwned(why) => return self.disown(&why).await,
                Verdict::Unknown => {}
            }
        }
        let owned = self.lookup().await?.owned_virtual_cluster_id.clone();
        if let Err(why) = ownership::check_virtual_cluster(&claimed, owned.as_deref()) {
            return self.disown(&why).await;
        }
        let Some(key) = key else {
            return Ok(());
        };
        // The virtual cluster is this object's own: asking EMR about the run there is safe.
        match self
            .ctx()
            .aws
            .emr
            .describe_job_run(&key.virtual_cluster_id, &key.job_run_id)
            .await
        {
            // A run EMR reports without a token is taken as this object's: it is in the
            // object's own virtual cluster, the boundary between tenants.
            Ok(info) => match ownership::check_run(&uid, &key, Evidence::Seen(&info)) {
                Verdict::NotOwned(why) => self.disown(&why).await,
                Verdict::Owned | Verdict::Unknown => Ok(()),
            },
            Err(error) if error.is_not_found() => {
                let why = format!(
                    "status named job run {}, which virtual cluster {} does not have",
                    key.job_run_id, key.virtual_cluster_id
                );
                self.disown(&why).await
            }
            Err(source) => Err(Error::ProveJobRun {
                object: self.object.clone(),
                source,
            }),
        }
    }

    /// Replaces what status named but could not prove with the spec's own virtual cluster and
    /// no job run, with a condition and a Warning Event.
    async fn disown(&mut self, why: &str) -> Result<(), Error> {
        let owned = self.lookup().await?.owned_virtual_cluster_id.clone();
        tracing::warn!(object = %self.object, "status not trusted: {why}");
        let status = ownership::disowned(
            &self.status(),
            self.job.metadata.generation,
            owned.as_deref(),
            why,
        );
        let message = status.message.clone().unwrap_or_default();
        self.write_replacing(status).await?;
        self.publish(vec![Note::warning(
            reasons::FORGED_STATUS,
            "Reconcile",
            message,
        )])
        .await;
        Ok(())
    }

    fn has_finalizer(&self) -> bool {
        self.job
            .finalizers()
            .iter()
            .any(|f| f == SPARK_JOB_RUN_FINALIZER)
    }

    /// Drops what the poller knows of `key`, unless it is another object's: a status naming
    /// someone else's run must not stop its polling.
    fn forget(&self, key: &JobKey) {
        let this = ObjectRef::from_obj(&self.job);
        let uid = self.job.uid().unwrap_or_default();
        self.state.tracker.with(|r| {
            let ours = match (r.tracked_by(key), r.observation(key)) {
                (Some(o), _) => *o == this && o.extra.uid.as_deref() == Some(uid.as_str()),
                (None, Some(Observation::Seen(info))) => {
                    ownership::token_is_ours(&uid, info.client_token.as_deref())
                }
                (None, _) => true,
            };
            if ours {
                r.forget(key);
            }
        });
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
            has_finalizer: self
                .job
                .finalizers()
                .iter()
                .any(|f| f == SPARK_JOB_RUN_FINALIZER),
            deleting_since: self
                .job
                .metadata
                .deletion_timestamp
                .as_ref()
                .and_then(to_chrono),
            target,
            observed: observed.as_ref(),
            cancel_requested,
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
        let has_finalizer = self
            .job
            .finalizers()
            .iter()
            .any(|f| f == SPARK_JOB_RUN_FINALIZER);
        if deleting && !has_finalizer {
            return Ok(Action::await_change());
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
            Effect::Submit(submit) => self.submit(decision.status, submit).await,
            Effect::CancelForDeadline(key) => {
                // Cancel first: the status then records the deadline only once EMR took the request.
                self.cancel(&key).await?;
                self.write(decision.status).await?;
                self.state
                    .tracker
                    .change(|r| r.poll_soon(&key.virtual_cluster_id, Utc::now()));
                Ok(wake)
            }
            Effect::CancelForDeletion(key) => match self.cancel(&key).await? {
                Cancelled::Gone => self.release(Some(key), None).await,
                Cancelled::Sent => {
                    self.publish(vec![Note::normal(
                        "Cancelling",
                        "Delete",
                        format!(
                            "cancelling job run {} before letting the object go",
                            key.job_run_id
                        ),
                    )])
                    .await;
                    self.write(decision.status).await?;
                    self.state.tracker.with(|r| r.note_cancel_requested(&key));
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
                        // Adopt it; the next reconcile cancels it like any running job.
                        let status =
                            self.started_status(&virtual_cluster_id, &run.id, run.arn.as_deref());
                        self.write(status).await?;
                        Ok(Action::requeue(Duration::ZERO))
                    }
                    None => self.release(None, None).await,
                }
            }
            Effect::Release { forget, note } => self.release(forget, note).await,
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
            &self.status(),
            self.job.metadata.generation,
            virtual_cluster_id,
            job_run_id,
            arn,
        )
    }

    /// Records the attempt, then starts it: the order that makes a second job run impossible.
    async fn submit(
        &mut self,
        recorded: SparkJobRunStatus,
        submit: Submit,
    ) -> Result<Action, Error> {
        let Submit {
            attempt,
            virtual_cluster_id: vc,
            recover_since,
        } = submit;
        let due_since = self
            .status()
            .next_attempt_at
            .map(|t| t.as_datetime())
            .or(recover_since)
            .unwrap_or_else(Utc::now);
        // A new attempt is checked before it is recorded, so a refusal uses no attempt number.
        let fresh = recover_since.is_none();
        if fresh && let Some(refusal) = self.template_refusal().await? {
            return self.refuse_start(refusal).await;
        }
        self.ensure_finalizer().await?;
        self.write(recorded).await?;

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
        if !fresh {
            self.cancel_strays(&vc, attempt).await?;
        }
        let input = match request::start_job_run_input(&self.job, &vc, attempt) {
            Ok(input) => input,
            Err(error) => {
                let status = decide::rejected(
                    &self.status(),
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
                    &self.status(),
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
                    decide::access_denied(&self.status(), self.job.metadata.generation, &message);
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

    /// Why StartJobRun must not be sent from the spec's job template, if it must not. EMR runs
    /// a template's job as the template's execution role (its `${param}`s resolved with the
    /// run's parameters), whatever `spec.executionRoleArn` says: that role must be one the
    /// VirtualCluster allows too.
    async fn template_refusal(&mut self) -> Result<Option<Refusal>, Error> {
        let Some(template_id) = self.job.spec.job_template_id.clone() else {
            return Ok(None);
        };
        let template = match self.ctx().aws.emr.describe_job_template(&template_id).await {
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
        match refusal {
            Refusal::Refused { reason, message } => {
                let status =
                    decide::refused_before_start(&self.status(), generation, reason, &message);
                self.write(status).await?;
                Ok(Action::await_change())
            }
            Refusal::AccessDenied(message) => {
                let status = decide::access_denied(&self.status(), generation, &message);
                self.write(status).await?;
                Ok(Action::requeue(ACCESS_DENIED_RETRY))
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
    async fn find(
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

    async fn cancel(&self, key: &JobKey) -> Result<Cancelled, Error> {
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

    /// Writes `status` if it differs from the current one, then publishes the Events and
    /// metrics of what changed.
    async fn write(&mut self, status: SparkJobRunStatus) -> Result<(), Error> {
        let old = self.status();
        if status == old {
            return Ok(());
        }
        let body = json!({
            "apiVersion": SparkJobRun::api_version(&()),
            "kind": SparkJobRun::kind(&()),
            "metadata": {
                "name": self.job.name_any(),
                "resourceVersion": self.job.resource_version(),
            },
            "status": status,
        });
        let params = PatchParams::apply(FIELD_MANAGER).force();
        self.send_status(old, status, &params, Patch::Apply(&body))
            .await
    }

    /// Like [`Reconcile::write`], but removes what `status` leaves out even when another field
    /// manager set it: a server-side apply only drops fields the operator owns, and a forged
    /// field is owned by whoever forged it. A merge patch guarded by the resourceVersion.
    async fn write_replacing(&mut self, status: SparkJobRunStatus) -> Result<(), Error> {
        let old = self.status();
        if status == old {
            return Ok(());
        }
        let body = json!({
            "metadata": {"resourceVersion": self.job.resource_version()},
            "status": replacing(&json!(old), &json!(status)),
        });
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        self.send_status(old, status, &params, Patch::Merge(&body))
            .await
    }

    /// Sends a status patch, keeps the object the apiserver answered with, and publishes the
    /// Events and metrics of the change from `old` to `status`.
    async fn send_status(
        &mut self,
        old: SparkJobRunStatus,
        status: SparkJobRunStatus,
        params: &PatchParams,
        patch: Patch<&serde_json::Value>,
    ) -> Result<(), Error> {
        let updated = self
            .api
            .patch_status(&self.job.name_any(), params, &patch)
            .await
            .map_err(|source| {
                self.kube_error(source, |object, source| Error::WriteStatus {
                    object,
                    source,
                })
            })?;
        self.job = updated;
        self.count_transition(&old, &status);
        self.publish(transitions::between(&old, &status)).await;
        Ok(())
    }

    fn kube_error(
        &self,
        source: kube::Error,
        wrap: impl FnOnce(String, kube::Error) -> Error,
    ) -> Error {
        if is_conflict(&source) || is_not_found(&source) {
            Error::StaleObject {
                object: self.object.clone(),
            }
        } else {
            wrap(self.object.clone(), source)
        }
    }

    fn count_transition(&self, old: &SparkJobRunStatus, new: &SparkJobRunStatus) {
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

    async fn publish(&self, notes: Vec<Note>) {
        for note in notes {
            let events = &self.ctx().events;
            if note.warning {
                events
                    .warning(&self.job, &note.reason, note.action, note.message)
                    .await;
            } else {
                events
                    .normal(&self.job, &note.reason, note.action, note.message)
                    .await;
            }
        }
    }

    /// Sets the finalizer list to `finalizers`, guarded by the resourceVersion.
    async fn set_finalizers(&mut self, finalizers: Vec<String>) -> Result<(), kube::Error> {
        self.job = finalizer::write(&self.api, &self.job, finalizers).await?;
        Ok(())
    }

    async fn ensure_finalizer(&mut self) -> Result<(), Error> {
        let Some(finalizers) = finalizer::with(self.job.finalizers(), SPARK_JOB_RUN_FINALIZER)
        else {
            return Ok(());
        };
        self.set_finalizers(finalizers).await.map_err(|source| {
            self.kube_error(source, |object, source| Error::AddFinalizer {
                object,
                source,
            })
        })
    }

    async fn release(
        &mut self,
        forget: Option<JobKey>,
        note: Option<Note>,
    ) -> Result<Action, Error> {
        if let Some(finalizers) = finalizer::without(self.job.finalizers(), SPARK_JOB_RUN_FINALIZER)
        {
            if let Some(note) = note {
                self.publish(vec![note]).await;
            }
            match self.set_finalizers(finalizers).await {
                Ok(()) => {}
                Err(source) if is_not_found(&source) => {}
                Err(source) => {
                    return Err(
                        self.kube_error(source, |object, source| Error::RemoveFinalizer {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replacing_patch_removes_what_the_new_status_leaves_out() {
        let old = json!({"jobRunId": "theirs", "virtualClusterId": "a", "attempt": 1});
        let new = json!({"virtualClusterId": "b", "attempt": 1});
        assert_eq!(
            replacing(&old, &new),
            json!({"jobRunId": null, "virtualClusterId": "b", "attempt": 1})
        );
    }

    #[test]
    fn transient_trouble_is_retried_sooner_than_the_rest() {
        let secs = |base, cap| (Duration::from_secs(base), Duration::from_secs(cap));
        assert_eq!(backoff_bounds(Trouble::AwsThrottled), secs(5, 60));
        assert_eq!(backoff_bounds(Trouble::AwsTransient), secs(1, 60));
        assert_eq!(backoff_bounds(Trouble::ApiserverUnavailable), secs(1, 10));
        assert_eq!(backoff_bounds(Trouble::Other), secs(1, 300));
    }

    #[tokio::test]
    async fn a_panicking_reconcile_is_an_error_retried_after_minutes() {
        let caught = crate::kit::panic_guard::catch(async {
            // The old deadline arithmetic on issue 10's reproducer.
            let seconds = std::hint::black_box(9_000_000_000_000_i64);
            Utc::now() + chrono::TimeDelta::seconds(seconds)
        })
        .await
        .expect_err("the panic ends the reconcile only");
        let error = Error::Panicked {
            object: "ns/j".into(),
            message: caught.message,
        };
        assert_eq!(error.metric_label(), "ReconcilePanicked");
        assert_eq!(Trouble::of(&error), Trouble::Panicked);
        let (base, cap) = backoff_bounds(Trouble::Panicked);
        assert!(base >= Duration::from_secs(60) && cap >= Duration::from_secs(3600));
        // The streak grows while the panics go on, so the delay does too.
        let mut streak = None;
        for _ in 0..5 {
            streak = Some(Streak::after(streak, Trouble::Panicked));
        }
        assert_eq!(streak.map(|s| s.count), Some(5));
    }

    #[test]
    fn a_streak_grows_with_the_same_trouble_and_restarts_with_another() {
        let first = Streak::after(None, Trouble::ApiserverUnavailable);
        let second = Streak::after(Some(first), Trouble::ApiserverUnavailable);
        assert_eq!(second.count, 2);
        let refused = Streak::after(Some(second), Trouble::Other);
        assert_eq!(
            refused,
            Streak {
                trouble: Trouble::Other,
                count: 1
            }
        );
    }

    #[test]
    fn an_unreachable_apiserver_is_told_apart_from_a_refusal() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let write = |source| Error::WriteStatus {
            object: "ns/j".into(),
            source,
        };
        assert_eq!(
            Trouble::of(&write(kube::Error::Service(Box::new(refused)))),
            Trouble::ApiserverUnavailable
        );
        let invalid = kube::Error::Api(Box::new(kube::core::Status {
            code: 422,
            ..Default::default()
        }));
        assert_eq!(Trouble::of(&write(invalid)), Trouble::Other);
    }
}
