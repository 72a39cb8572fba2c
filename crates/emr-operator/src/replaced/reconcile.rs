//! The I/O half of replace-then-retire, shared by both kinds: one reconcile reads what EMR says
//! of the ids status names, asks [`plan`](super::plan), carries out the creates and deletes, and
//! writes the status (through the kit, on the version read) and Events.
//!
//! (One file over 400 lines on purpose: reading, creating, retiring and the status write of one
//! reconcile share the facts they read and are easier to check side by side.)

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use emr_api::condition::{self, Condition, ConditionStatus};
use emr_api::emr_object::{PreviousObject, ReplacedObjectStatus, TAG_GENERATION, reasons};
use emr_api::labels::{TAG_OBJECT, TAG_UID};
use emr_api::patterns::MAX_TAG_VALUE;
use emr_api::time::Timestamp;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use tracing::Instrument;

use super::plan::{self, Current, Found, Retire, Why};
use super::{Error, Kind};
use crate::kit::{
    self, Backoff, Event, Precondition, ReconcileError, Streaks, WriteError, panic_guard,
};

/// The only condition type: whether the EMR object serving the current spec exists.
const READY: &str = "Ready";
/// The action every Event names.
const ACTION: &str = "Reconcile";
/// While previous objects wait for their users, how often they are looked at again.
const RETIRE_POLL: Duration = Duration::from_secs(10);
/// After the operator lacked a permission.
const ACCESS_DENIED_RETRY: Duration = Duration::from_secs(300);

/// What the controller keeps between reconciles: the kind and the failure streaks.
pub struct Shared<K: Kind> {
    pub kind: K,
    pub failures: Streaks<String>,
}

impl<K: Kind> Shared<K> {
    pub fn new(kind: K) -> Arc<Self> {
        Arc::new(Self {
            kind,
            failures: Streaks::default(),
        })
    }
}

fn object_name<K: Kind>(object: &K::Object) -> String {
    match object.namespace() {
        Some(ns) => format!("{ns}/{}", object.name_any()),
        None => object.name_any(),
    }
}

/// The reconcile the controller runs: guarded against panics, timed, in the kit's span.
pub async fn run<K: Kind>(object: Arc<K::Object>, shared: Arc<Shared<K>>) -> Result<Action, Error> {
    let name = object_name::<K>(&object);
    let span = kit::span::reconcile(K::KIND, &name, None);
    async move {
        let started = Instant::now();
        let result = match panic_guard::catch(reconcile(&shared.kind, &object)).await {
            Ok(result) => result,
            Err(panicked) => {
                tracing::error!(panic = %panicked.message, "reconcile panicked");
                let message = panic_guard::condition_message(K::KIND, &panicked);
                shared
                    .kind
                    .context()
                    .events
                    .publish_all(
                        object.as_ref(),
                        [Event::warning(panic_guard::REASON, ACTION, message.clone())],
                    )
                    .await;
                Err(Error::Panicked {
                    kind: K::KIND,
                    object: name.clone(),
                    message,
                })
            }
        };
        let failure = result.as_ref().err().map(ReconcileError::metric_label);
        shared
            .kind
            .context()
            .metrics
            .reconciled(K::KIND, started.elapsed(), failure);
        match &result {
            Ok(_) => shared.failures.succeeded(&name),
            Err(error) => tracing::warn!(%error, "reconcile failed"),
        }
        result
    }
    .instrument(span)
    .await
}

/// The requeue after a failed reconcile, by the kind of trouble.
pub fn error_policy<K: Kind>(
    object: Arc<K::Object>,
    error: &Error,
    shared: Arc<Shared<K>>,
) -> Action {
    let category = error.category();
    Action::requeue(shared.failures.next_delay(
        object_name::<K>(&object),
        category,
        &Backoff::DEFAULT,
    ))
}

/// One reconcile of one object: what it read and the status and Events it builds.
struct Reconciliation<'a, K: Kind> {
    kind: &'a K,
    object: &'a K::Object,
    name: String,
    uid: String,
    generation: i64,
    status: K::Status,
    events: Vec<Event>,
}

async fn reconcile<K: Kind>(kind: &K, object: &K::Object) -> Result<Action, Error> {
    let name = object_name::<K>(object);
    let (Some(uid), Some(generation)) = (object.uid(), object.meta().generation) else {
        return Err(Error::MissingIdentity {
            kind: K::KIND,
            object: name,
        });
    };
    let pass = Reconciliation {
        kind,
        object,
        name,
        uid,
        generation,
        status: K::status(object).cloned().unwrap_or_default(),
        events: Vec::new(),
    };
    if object.meta().deletion_timestamp.is_some() {
        return pass.delete().await;
    }
    pass.converge().await
}

impl<K: Kind> Reconciliation<'_, K> {
    fn aws(&self, source: emr_aws::AwsError) -> Error {
        Error::Aws {
            kind: K::KIND,
            object: self.name.clone(),
            source,
        }
    }

    fn kube(&self, action: &'static str, source: kube::Error) -> Error {
        Error::Kube {
            kind: K::KIND,
            object: self.name.clone(),
            action,
            source,
        }
    }

    fn set_ready(&mut self, status: ConditionStatus, reason: &str, message: String) {
        let condition = Condition::new(
            READY,
            status,
            reason,
            message.clone(),
            Some(self.generation),
        );
        condition::set(self.status.conditions_mut(), condition);
        self.status.set_message(Some(message));
        self.status.set_observed_generation(Some(self.generation));
    }

    /// What EMR says of `id`: ours (and for which generation), not ours, or gone.
    async fn find(&self, id: &str) -> Result<Found, Error> {
        match self.kind.tags_of(id).await {
            Ok(Some(tags)) => Ok(plan::ownership(&tags, &self.uid)),
            Ok(None) => Ok(Found::Gone),
            Err(error) => Err(self.aws(error)),
        }
    }

    /// Publishes the Events this pass gathered.
    async fn publish_events(&mut self) {
        let events = std::mem::take(&mut self.events);
        self.kind
            .context()
            .events
            .publish_all(self.object, events)
            .await;
    }

    /// Writes the status on the version read (a conflict reads again) and publishes the Events.
    async fn finish(mut self, action: Action) -> Result<Action, Error> {
        let api = self.kind.api(self.object);
        // A replacing write: what the new status leaves out (say, a `previous` entry someone
        // else wrote) is removed, which a server-side apply would keep under their manager.
        let old = K::status(self.object).cloned().unwrap_or_default();
        let precondition = Precondition::of(self.object);
        let written =
            kit::status::replace(&api, self.object, precondition, &old, &self.status).await;
        self.publish_events().await;
        match written {
            Ok(_) => Ok(action),
            Err(error) if error.is_stale() => Err(Error::Stale {
                kind: K::KIND,
                object: self.name.clone(),
            }),
            Err(error) => Err(self.kube("write status", error.into_kube())),
        }
    }

    /// A refusal: the reason on Ready and a Warning Event; nothing is created.
    async fn refuse(
        mut self,
        reason: &'static str,
        message: String,
        retry: Duration,
    ) -> Result<Action, Error> {
        let unchanged = condition::find(self.status.conditions(), READY)
            .is_some_and(|c| c.reason == reason && c.message == message);
        if !unchanged {
            self.events
                .push(Event::warning(reason, ACTION, message.clone()));
        }
        self.set_ready(ConditionStatus::False, reason, message);
        self.finish(Action::requeue(retry)).await
    }

    /// Converges; an EMR object this pass created but could not record is carried into the
    /// fresh status (see [`super::carry`]).
    async fn converge(self) -> Result<Action, Error> {
        let (kind, object) = (self.kind, self.object);
        let mut created = None;
        let result = self.converge_recording(&mut created).await;
        if result.is_err()
            && let Some(id) = created
            && let Err(error) = super::carry::record_unrecorded(kind, object, &id).await
        {
            tracing::warn!(%error, id = %id, "could not record a created {}", K::WHAT);
        }
        result
    }

    async fn converge_recording(
        mut self,
        created_id: &mut Option<String>,
    ) -> Result<Action, Error> {
        let resync = self.kind.context().config.resync_interval;
        if let Some((reason, message)) = self.kind.refusal(self.object).await? {
            // An edit triggers a reconcile; what the refusal looked up (a VirtualCluster) does
            // not, hence the resync.
            return self.refuse(reason, message, resync).await;
        }
        let api = self.kind.api(self.object);
        match K::FINALIZER.add(&api, self.object).await {
            Ok(Some(_)) => {
                // The finalizer write moved the version: decide again on the new one.
                return Ok(Action::requeue(Duration::ZERO));
            }
            Ok(None) => {}
            Err(error) if error.is_stale() => {
                return Err(Error::Stale {
                    kind: K::KIND,
                    object: self.name.clone(),
                });
            }
            Err(error) => return Err(self.kube("add finalizer", error.into_kube())),
        }

        let recorded = self.status.current_id().map(str::to_owned);
        let found = match &recorded {
            Some(id) => Some(self.find(id).await?),
            None => None,
        };
        let decision = plan::current(
            &self.uid,
            self.generation,
            self.status.recreations(),
            found.as_ref(),
        );
        if let Current::Create {
            why,
            client_token,
            recreations,
        } = decision
        {
            let created = match self
                .kind
                .create(self.object, client_token, self.tags())
                .await
            {
                Ok(created) => created,
                Err(error) if error.is_validation() => {
                    let message = format!("EMR refused the {}: {}", K::WHAT, error.cause());
                    return self
                        .refuse(reasons::EMR_VALIDATION_ERROR, message, resync)
                        .await;
                }
                Err(error) if error.is_access_denied() => {
                    let message = format!(
                        "the operator may not create the {}: {} (grant it {})",
                        K::WHAT,
                        error.cause(),
                        error.iam_action()
                    );
                    return self
                        .refuse(reasons::ACCESS_DENIED, message, ACCESS_DENIED_RETRY)
                        .await;
                }
                Err(error) => return Err(self.aws(error)),
            };
            *created_id = Some(created.id.clone());
            self.record_created(why, recorded, created, recreations);
        }
        let waiting = self.retire_previous().await?;
        let id = self.status.current_id().unwrap_or_default().to_owned();
        let (action, message) = if waiting.is_empty() {
            (
                Action::requeue(resync),
                format!("{} {id} serves the current spec", K::WHAT),
            )
        } else {
            (
                Action::requeue(RETIRE_POLL),
                format!(
                    "{} {id} serves the current spec; earlier ones wait for their users: {}",
                    K::WHAT,
                    waiting.join("; ")
                ),
            )
        };
        self.set_ready(ConditionStatus::True, reasons::READY, message);
        self.finish(action).await
    }

    /// The tags every EMR object of this kind carries: the user's, then the operator's three.
    fn tags(&self) -> BTreeMap<String, String> {
        let mut tags = BTreeMap::new();
        if let Some(user) = serde_json::to_value(self.object)
            .ok()
            .and_then(|v| v.pointer("/spec/tags").cloned())
            .and_then(|v| serde_json::from_value::<BTreeMap<String, String>>(v).ok())
        {
            tags = user;
        }
        tags.insert(
            TAG_OBJECT.to_owned(),
            self.name.chars().take(MAX_TAG_VALUE).collect(),
        );
        tags.insert(TAG_UID.to_owned(), self.uid.clone());
        tags.insert(TAG_GENERATION.to_owned(), self.generation.to_string());
        tags
    }

    fn record_created(
        &mut self,
        why: Why,
        recorded: Option<String>,
        created: emr_aws::CreatedEmrObject,
        recreations: i32,
    ) {
        let id = created.id.clone();
        let (reason, note) = match (why, recorded) {
            (Why::SpecChanged, Some(old)) => {
                let mut previous = self.status.previous().to_vec();
                if old != id && !previous.iter().any(|p| p.id == old) {
                    previous.push(PreviousObject {
                        id: old.clone(),
                        replaced_at: Some(Timestamp::now()),
                    });
                }
                self.status.set_previous(previous);
                (
                    reasons::REPLACED,
                    format!(
                        "the spec changed: created {} {id}; {old} is deleted once no run uses it",
                        K::WHAT
                    ),
                )
            }
            (Why::DeletedOutside, Some(old)) => (
                reasons::RECREATED,
                format!(
                    "{} {old} was deleted outside the operator; created {id}",
                    K::WHAT
                ),
            ),
            (Why::NotOurs, Some(old)) => {
                self.events.push(Event::warning(
                    reasons::FORGED_STATUS,
                    ACTION,
                    format!(
                        "status named {} {old}, which is not this object's (its tags name another object); it was dropped, not deleted",
                        K::WHAT
                    ),
                ));
                (reasons::CREATED, format!("created {} {id}", K::WHAT))
            }
            _ => (reasons::CREATED, format!("created {} {id}", K::WHAT)),
        };
        tracing::info!(id = %id, reason, "created {}", K::WHAT);
        self.events.push(Event::normal(reason, ACTION, note));
        self.status.set_current_id(Some(id));
        self.status.set_arn(created.arn);
        self.status.set_recreations(recreations);
    }

    /// Deletes the previous objects nothing uses; returns a line for each still waiting.
    async fn retire_previous(&mut self) -> Result<Vec<String>, Error> {
        let current = self.status.current_id().map(str::to_owned);
        let mut kept = Vec::new();
        let mut waiting = Vec::new();
        for previous in self.status.previous().to_vec() {
            if Some(previous.id.as_str()) == current.as_deref() {
                continue;
            }
            if let Some(users) = self.retire_one(&previous.id).await? {
                waiting.push(format!("{} (used by {})", previous.id, users.join(", ")));
                kept.push(previous);
            }
        }
        self.status.set_previous(kept);
        Ok(waiting)
    }

    /// Retires one EMR object: `Some(users)` while it is in use, `None` once it is gone.
    async fn retire_one(&mut self, id: &str) -> Result<Option<Vec<String>>, Error> {
        let users = self.kind.users(self.object, id).await?;
        let found = if users.is_empty() {
            Some(self.find(id).await?)
        } else {
            None
        };
        match plan::retire(users, found.as_ref()) {
            Retire::Wait { users } => Ok(Some(users)),
            Retire::Delete => {
                self.kind.delete(id).await.map_err(|e| self.aws(e))?;
                self.events.push(Event::normal(
                    "Deleted",
                    ACTION,
                    format!("deleted {} {id}: nothing uses it any more", K::WHAT),
                ));
                Ok(None)
            }
            Retire::Forget => Ok(None),
            Retire::ForgetForged => {
                self.events.push(Event::warning(
                    reasons::FORGED_STATUS,
                    ACTION,
                    format!(
                        "status listed {} {id}, which is not this object's; dropped, not deleted",
                        K::WHAT
                    ),
                ));
                Ok(None)
            }
        }
    }

    /// Deletion: every EMR object of this object is deleted once unused, then the finalizer goes.
    async fn delete(mut self) -> Result<Action, Error> {
        if !K::FINALIZER.is_on(self.object) {
            return Ok(Action::await_change());
        }
        let mut all: Vec<PreviousObject> = self.status.previous().to_vec();
        if let Some(id) = self.status.current_id() {
            all.push(PreviousObject {
                id: id.to_owned(),
                replaced_at: None,
            });
        }
        self.status.set_current_id(None);
        self.status.set_previous(all);
        let waiting = self.retire_previous().await?;
        if !waiting.is_empty() {
            let message = format!(
                "deletion waits until nothing uses the {}: {}",
                K::WHAT,
                waiting.join("; ")
            );
            self.set_ready(ConditionStatus::False, reasons::IN_USE, message);
            return self.finish(Action::requeue(RETIRE_POLL)).await;
        }
        self.publish_events().await;
        let api = self.kind.api(self.object);
        match K::FINALIZER.remove(&api, self.object).await {
            Ok(_) | Err(WriteError::Gone(_)) => Ok(Action::await_change()),
            // A newer version may list an EMR object this pass never saw: one a pass whose
            // status write met the deletion carried into status (see `carry`). Releasing the
            // object now would leave it in EMR; decide again on the fresh version.
            Err(WriteError::Conflict(_)) => Err(Error::Stale {
                kind: K::KIND,
                object: self.name.clone(),
            }),
            Err(error) => Err(self.kube("remove finalizer", error.into_kube())),
        }
    }
}
