//! One reconcile: gather the facts (the schedule, its children from the watch cache, the time),
//! decide, then delete, create, write status and publish Events, and sleep until the next slot.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use emr_api::condition::{self, Condition, ConditionStatus};
use emr_api::scheduled_spark_job_run::{
    SCHEDULE_LABEL, ScheduledSparkJobRunStatus, condition_types, reasons,
};
use emr_api::{ScheduledSparkJobRun, SparkJobRun};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::Action;
use tracing::Instrument;

use super::CONTROLLER;
use super::children;
use super::decide::{self, ACTION, Child, Deletion, Facts, NewChild};
use super::error::Error;
use super::state::State;
use crate::kit::panic_guard::{self, Panicked};
use crate::kit::{self, Event, Precondition, ReconcileError, error as kube_errors};

/// How soon a copy older than the controller's own last write is looked at again.
const STALE_COPY_RETRY: std::time::Duration = std::time::Duration::from_millis(500);

/// [`reconcile`] in the kit's span, with a panic turned into a condition, an Event and
/// [`Error::ReconcilePanicked`].
pub async fn guarded(obj: Arc<ScheduledSparkJobRun>, state: Arc<State>) -> Result<Action, Error> {
    let object = format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any());
    let span = kit::span::reconcile(CONTROLLER, &object, None);
    async move {
        let started = Instant::now();
        match panic_guard::catch(reconcile(obj.clone(), state.clone())).await {
            Ok(result) => result,
            Err(panicked) => {
                state.ctx.metrics.reconciled(
                    CONTROLLER,
                    started.elapsed(),
                    Some(panic_guard::REASON),
                );
                report_panic(&state, &obj, &panicked).await;
                Err(Error::ReconcilePanicked {
                    name: obj.name_any(),
                    message: panicked.message,
                })
            }
        }
    }
    .instrument(span)
    .await
}

async fn reconcile(obj: Arc<ScheduledSparkJobRun>, state: Arc<State>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = pass(&obj, &state).await;
    let failure = result.as_ref().err().map(ReconcileError::metric_label);
    state
        .ctx
        .metrics
        .reconciled(CONTROLLER, started.elapsed(), failure);
    match &result {
        Ok(_) => state.succeeded(&obj),
        Err(error) => tracing::warn!(%error, "reconcile failed"),
    }
    result
}

async fn pass(obj: &ScheduledSparkJobRun, state: &State) -> Result<Action, Error> {
    let (Some(name), Some(namespace), Some(uid)) = (
        obj.metadata.name.clone(),
        obj.metadata.namespace.clone(),
        obj.metadata.uid.clone(),
    ) else {
        return Err(Error::MissingIdentity);
    };
    if obj.metadata.deletion_timestamp.is_some() {
        // Kubernetes' garbage collector deletes the children (their finalizers cancel the runs).
        return Ok(Action::await_change());
    }
    if state.is_older_than_my_write(obj) {
        // The watch brings the newer copy in a moment, and with it a reconcile.
        return Ok(Action::requeue(STALE_COPY_RETRY));
    }
    let api: Api<SparkJobRun> = Api::namespaced(state.ctx.client.clone(), &namespace);
    let children = gather(obj, state, &api, &name, &namespace, &uid).await?;
    let created = obj
        .metadata
        .creation_timestamp
        .as_ref()
        .and_then(|t| DateTime::<Utc>::from_timestamp(t.0.as_second(), 0))
        .unwrap_or_else(Utc::now);
    let now = Utc::now();
    let plan = decide::decide(&Facts {
        now,
        name: &name,
        created,
        generation: obj.metadata.generation,
        spec: &obj.spec,
        status: obj.status.as_ref(),
        children: &children,
    });
    tracing::debug!(
        create = ?plan.create.as_ref().map(|c| &c.name),
        delete = ?plan.delete,
        requeue = ?plan.requeue_after,
        "decided"
    );
    let mut status = plan.status;
    let mut events = plan.events;

    for (child, why) in &plan.delete {
        match api.delete(child, &DeleteParams::background()).await {
            Ok(_) => {
                if *why == Deletion::Replaced {
                    tracing::info!(child, "deleted the active run (Replace)");
                }
            }
            Err(e) if kube_errors::is_not_found(&e) => {}
            Err(source) => {
                return Err(Error::DeleteChild {
                    namespace,
                    name: child.clone(),
                    source,
                });
            }
        }
    }
    if let Some(new) = &plan.create {
        create(obj, &api, new, &uid, &mut status, &mut events, now).await?;
    }

    let old = obj.status.clone().unwrap_or_default();
    if obj.status.is_none() || status != old {
        let schedules: Api<ScheduledSparkJobRun> =
            Api::namespaced(state.ctx.client.clone(), &namespace);
        kit::status::apply(&schedules, obj, Precondition::of(obj), &status)
            .await
            .map_err(|source| Error::WriteStatus {
                namespace: namespace.clone(),
                name: name.clone(),
                source,
            })?;
        state.wrote_over(obj);
    }
    state.ctx.events.publish_all(obj, events).await;
    Ok(Action::requeue(plan.requeue_after))
}

/// This schedule's children: from the watch cache, plus any that status names as active and the
/// cache has not seen yet (created a moment ago), read from the apiserver.
async fn gather(
    obj: &ScheduledSparkJobRun,
    state: &State,
    api: &Api<SparkJobRun>,
    name: &str,
    namespace: &str,
    uid: &str,
) -> Result<Vec<Child>, Error> {
    let mut children: Vec<Child> = state
        .children
        .state()
        .iter()
        .filter(|c| {
            c.metadata.namespace.as_deref() == Some(namespace)
                && c.labels().get(SCHEDULE_LABEL).map(String::as_str) == Some(name)
        })
        .filter_map(|c| children::fact(c, uid))
        .collect();
    let named = obj.status.iter().flat_map(|s| s.active.iter());
    for active in named {
        if children.iter().any(|c| c.name == active.name) {
            continue;
        }
        match api.get_opt(&active.name).await {
            Ok(Some(child)) => children.extend(children::fact(&child, uid)),
            Ok(None) => {}
            Err(source) => {
                return Err(Error::GetChild {
                    namespace: namespace.to_owned(),
                    name: active.name.clone(),
                    source,
                });
            }
        }
    }
    Ok(children)
}

/// Creates the child; AlreadyExists from a child this schedule owns is success (the slot was
/// started before). A name taken by something else, or a child the apiserver refuses, skips the
/// slot with a reason; anything else fails the reconcile (the slot stays due and is retried).
async fn create(
    obj: &ScheduledSparkJobRun,
    api: &Api<SparkJobRun>,
    new: &NewChild,
    uid: &str,
    status: &mut ScheduledSparkJobRunStatus,
    events: &mut Vec<Event>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let child = children::build(obj, new);
    let refused = match api.create(&PostParams::default(), &child).await {
        Ok(_) => {
            let how = if new.manual { "runNow" } else { "the schedule" };
            events.push(Event::normal(
                "RunCreated",
                ACTION,
                format!(
                    "created SparkJobRun {} ({how}, slot {})",
                    new.name,
                    emr_api::time::Timestamp::from(new.slot)
                ),
            ));
            return Ok(());
        }
        Err(e) if kube_errors::is_conflict(&e) => match api.get_opt(&new.name).await {
            Ok(Some(existing)) if children::owned_by(&existing, uid) => return Ok(()),
            Ok(_) => (
                reasons::NAME_TAKEN,
                format!(
                    "a SparkJobRun named {} exists and is not this schedule's",
                    new.name
                ),
            ),
            Err(source) => {
                return Err(Error::GetChild {
                    namespace: obj.namespace().unwrap_or_default(),
                    name: new.name.clone(),
                    source,
                });
            }
        },
        Err(e) if matches!(kube_errors::kube_code(&e), Some(400 | 422)) => (
            reasons::CREATE_REFUSED,
            format!("the apiserver refused SparkJobRun {}: {e}", new.name),
        ),
        Err(source) => {
            return Err(Error::CreateChild {
                namespace: obj.namespace().unwrap_or_default(),
                name: new.name.clone(),
                source,
            });
        }
    };
    let (reason, message) = refused;
    decide::skip(status, new.slot, reason, &message);
    status.active.retain(|c| c.name != new.name);
    status.active_count = i32::try_from(status.active.len()).unwrap_or(i32::MAX);
    if !new.manual {
        status.last_schedule_time = obj.status.as_ref().and_then(|s| s.last_schedule_time);
    }
    let mut condition = Condition::new(
        condition_types::READY,
        ConditionStatus::False,
        reason,
        message.clone(),
        obj.metadata.generation,
    );
    condition.last_transition_time = now.into();
    condition::set(&mut status.conditions, condition);
    status.message = Some(message.clone());
    events.push(Event::warning(reason, ACTION, message));
    Ok(())
}

/// Records a panic in status (guarded by the copy's resourceVersion) and as a Warning Event.
async fn report_panic(state: &State, obj: &ScheduledSparkJobRun, panicked: &Panicked) {
    tracing::error!(panic = %panicked.message, "reconcile panicked");
    let message = panic_guard::condition_message("ScheduledSparkJobRun", panicked);
    let mut status = obj.status.clone().unwrap_or_default();
    condition::set(
        &mut status.conditions,
        Condition::new(
            condition_types::READY,
            ConditionStatus::False,
            reasons::RECONCILE_PANICKED,
            message.clone(),
            obj.metadata.generation,
        ),
    );
    status.message = Some(message.clone());
    let api: Api<ScheduledSparkJobRun> = kit::status::namespaced_api(&state.ctx.client, obj);
    if let Err(error) = kit::status::apply(&api, obj, Precondition::of(obj), &status).await {
        tracing::warn!(%error, "could not record the panic in status");
    }
    state
        .ctx
        .events
        .publish_all(obj, [Event::warning(panic_guard::REASON, ACTION, message)])
        .await;
}

#[cfg(test)]
mod tests;
