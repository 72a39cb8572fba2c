//! One reconcile: the five steps in order (or the deletion), then the status, the Events and
//! the next look.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use emr_api::check::{self, FieldError};
use emr_api::labels::VIRTUAL_CLUSTER_FINALIZER;
use emr_api::virtual_cluster::condition_types::{
    EMR_ACCESS_READY, NAMESPACE_READY, READY, SERVICE_ACCOUNTS_READY, TRUST_POLICIES_READY,
    VIRTUAL_CLUSTER_READY,
};
use emr_api::{VirtualCluster, VirtualClusterStatus};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::cleanup;
use super::cluster;
use super::desired::Owner;
use super::emr_step;
use super::error::Error;
use super::finalizer;
use super::names::CONTROLLER;
use super::outcome::{self, Outcome, Parts, Retry};
use super::pass::Pass;
use super::records;
use super::service_account_step;
use super::trust::Family;
use super::trust_step;
use super::{access_step, namespace_step};
use crate::Context;
use crate::kit::backoff;

/// How soon a step that waits on something moving by itself is looked at again.
const POLL: Duration = Duration::from_secs(5);
const BACKOFF_BASE: Duration = Duration::from_secs(2);
const BACKOFF_CAP: Duration = Duration::from_secs(300);

/// What the controller keeps between reconciles: the shared context and, per object, how many
/// reconciles in a row failed (for the backoff) and what a pass recorded that no status write
/// has kept yet.
pub struct State {
    pub ctx: Arc<Context>,
    failures: Mutex<HashMap<String, u32>>,
    /// The status of a pass whose write was refused as stale on every try of a reconcile: what
    /// it recorded (above all that the operator created the namespace, which no later pass can
    /// see from outside) is carried into the next reconcile until a status write keeps it.
    unrecorded: Mutex<HashMap<String, Box<VirtualClusterStatus>>>,
}

/// A map whose holder panicked is still consistent here (each entry is written whole), so the
/// poison is ignored rather than turning every later backoff into the cap.
fn locked<T>(map: &Mutex<T>) -> MutexGuard<'_, T> {
    map.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    pub fn new(ctx: Arc<Context>) -> Self {
        Self {
            ctx,
            failures: Mutex::new(HashMap::new()),
            unrecorded: Mutex::new(HashMap::new()),
        }
    }

    /// The delay before the next look for `retry`, remembering the failure streak.
    fn next(&self, key: &str, retry: Retry) -> Duration {
        let mut failures = locked(&self.failures);
        let streak = failures.get(key).copied().unwrap_or(0);
        let (delay, streak) =
            outcome::requeue_after(retry, streak, self.ctx.config.resync_interval, POLL, |n| {
                backoff::jittered(n, BACKOFF_BASE, BACKOFF_CAP)
            });
        if streak == 0 {
            failures.remove(key);
        } else {
            failures.insert(key.to_owned(), streak);
        }
        delay
    }

    fn forget(&self, key: &str) {
        locked(&self.failures).remove(key);
        locked(&self.unrecorded).remove(key);
    }

    /// What an earlier reconcile of `key` recorded and could not write.
    fn unrecorded(&self, key: &str) -> Option<Box<VirtualClusterStatus>> {
        locked(&self.unrecorded).get(key).cloned()
    }

    /// Keeps `status` (or, with `None`, forgets what was kept) for the next reconcile of `key`.
    fn keep_unrecorded(&self, key: &str, status: Option<Box<VirtualClusterStatus>>) {
        let mut kept = locked(&self.unrecorded);
        match status {
            Some(status) => {
                kept.insert(key.to_owned(), status);
            }
            None => {
                kept.remove(key);
            }
        }
    }

    /// The requeue after a reconcile that returned an error.
    pub fn after_error(&self, vc: &VirtualCluster) -> Duration {
        self.next(&key(vc), Retry::Backoff)
    }

    /// Forgets the failure streaks of objects whose key (uid, else name) `present` rejects.
    pub fn forget_absent(&self, present: impl Fn(&str) -> bool) {
        locked(&self.failures).retain(|key, _| present(key));
        locked(&self.unrecorded).retain(|key, _| present(key));
    }

    /// Entries per in-memory map, for the `tracked_objects` metric.
    pub fn map_sizes(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("virtualcluster_failures", locked(&self.failures).len()),
            ("virtualcluster_unrecorded", locked(&self.unrecorded).len()),
        ]
    }

    /// The requeue after a reconcile that panicked: minutes, growing with the streak.
    pub fn after_panic(&self, vc: &VirtualCluster) -> Duration {
        let mut failures = locked(&self.failures);
        let streak = failures.entry(key(vc)).or_default();
        *streak = streak.saturating_add(1);
        crate::kit::panic_guard::backoff(*streak)
    }
}

pub(super) fn key(vc: &VirtualCluster) -> String {
    vc.metadata.uid.clone().unwrap_or_else(|| vc.name_any())
}

/// What a reconcile decided: when to look again, and the reason of a failing step (for the
/// reconcile-error metric: step failures are conditions, not errors of the reconcile).
struct Done {
    action: Action,
    failure: Option<String>,
}

impl Done {
    fn after(action: Action, outcome: &Outcome) -> Self {
        Self {
            action,
            failure: (outcome.retry == Retry::Backoff).then(|| outcome.reason.clone()),
        }
    }
}

pub async fn reconcile(vc: Arc<VirtualCluster>, state: Arc<State>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = pass_until_recorded(&vc, &state).await;
    let failure = match &result {
        Ok(done) => done.failure.clone(),
        Err(error) => Some(error.metric_label().to_owned()),
    };
    state
        .ctx
        .metrics
        .reconciled(CONTROLLER, started.elapsed(), failure.as_deref());
    if let Err(error) = &result {
        tracing::warn!(virtualcluster = %vc.name_any(), %error, "reconcile failed");
    }
    result.map(|done| done.action)
}

/// How many times one reconcile redoes its pass after its status write was refused as stale.
const STALE_ATTEMPTS: usize = 3;

/// Runs the pass (converge or delete) and, when its status write is refused because the copy it
/// worked on was stale, reads the object afresh and redoes the pass on that: what the newer
/// version recorded (trust statements, the namespace) is never overwritten by an older view.
/// Every step is idempotent, so a redone pass repeats no change.
async fn pass_until_recorded(vc: &VirtualCluster, state: &State) -> Result<Done, Error> {
    let api: Api<VirtualCluster> = Api::all(state.ctx.client.clone());
    let mut current = vc.clone();
    let kept = key(vc);
    let mut carried = state.unrecorded(&kept);
    let mut attempt = 1;
    loop {
        let carried_now = carried.as_deref();
        let result = if current.metadata.deletion_timestamp.is_some() {
            delete(&current, state, carried_now).await
        } else {
            converge(&current, state, carried_now).await
        };
        match result {
            Err(Error::StaleObject { refused, .. }) if attempt >= STALE_ATTEMPTS => {
                // Tried enough for now: what the pass recorded waits for the next reconcile
                // (the object changed, so one follows) instead of being lost with this one.
                let refused = refused.or(carried);
                state.keep_unrecorded(&kept, refused);
                return Err(Error::StaleObject {
                    name: vc.name_any(),
                    refused: None,
                });
            }
            Err(Error::StaleObject { name, refused }) => {
                attempt += 1;
                if refused.is_some() {
                    carried = refused;
                }
                let fresh =
                    api.get_opt(&name)
                        .await
                        .map_err(|source| Error::GetVirtualCluster {
                            name: name.clone(),
                            source,
                        })?;
                match fresh {
                    Some(fresh) if fresh.metadata.uid == current.metadata.uid => current = fresh,
                    // Gone, or replaced by a new object of that name, which has its own reconcile.
                    _ => {
                        return Ok(Done {
                            action: Action::await_change(),
                            failure: None,
                        });
                    }
                }
            }
            Ok(done) => {
                // The status write went through (or there was nothing to write): what was kept
                // is in the object now.
                state.keep_unrecorded(&kept, None);
                return Ok(done);
            }
            other => return other,
        }
    }
}

/// Semantic checks the schema cannot make on every apiserver, plus one of this controller's:
/// the object's name becomes a label value on its children.
fn invalid(vc: &VirtualCluster) -> Vec<FieldError> {
    let mut errors = check::virtual_cluster(&vc.spec);
    if vc.name_any().len() > 63 {
        errors.push(FieldError {
            field: "metadata.name".into(),
            message: "must be at most 63 characters: it labels the objects made for it".into(),
        });
    }
    errors
}

async fn converge(
    vc: &VirtualCluster,
    state: &State,
    carried: Option<&VirtualClusterStatus>,
) -> Result<Done, Error> {
    let ctx = state.ctx.as_ref();
    let owner = Owner::of(vc).ok_or(Error::MissingIdentity)?;
    let api: Api<VirtualCluster> = Api::all(ctx.client.clone());
    let mut pass = Pass::new(ctx, vc, owner);
    if let Some(refused) = carried {
        records::carry(&mut pass.status, refused);
    }

    let errors = invalid(vc);
    if !errors.is_empty() {
        let outcome = Outcome::failed("InvalidSpec", check::summarize(&errors));
        outcome::set_condition(
            &mut pass.status.conditions,
            READY,
            &outcome,
            vc.metadata.generation,
        );
        finish(&api, pass, &outcome).await?;
        // Only an edit can fix it, and an edit triggers a reconcile.
        let action = Action::requeue(ctx.config.resync_interval);
        return Ok(Done::after(action, &outcome));
    }
    if let Some(updated) = finalizer::add(&api, vc).await? {
        pass.version = updated.metadata.resource_version;
    }

    let mut parts = Parts::default();
    let namespace = namespace_step::converge(&mut pass).await;
    let namespace_ready = namespace.is_ready();
    let namespace_message = namespace.message.clone();
    parts.set(NAMESPACE_READY, namespace);
    if namespace_ready {
        let facts = cluster::resolve(ctx, &vc.spec)
            .await
            .map_err(|e| e.outcome());
        if let Ok(facts) = &facts {
            pass.status.account_id = Some(facts.account_id.clone());
            pass.status.oidc_provider = facts.oidc_provider.clone();
        }
        let access = access_step::converge(&mut pass, &facts).await;
        let access_ready = access.is_ready();
        parts.set(EMR_ACCESS_READY, access);
        parts.set(
            TRUST_POLICIES_READY,
            trust_step::converge(&mut pass, &facts, Family::ExecutionRoles).await,
        );
        parts.set(
            SERVICE_ACCOUNTS_READY,
            service_account_step::converge(&mut pass, &facts).await,
        );
        let virtual_cluster = if access_ready {
            emr_step::converge(&mut pass).await
        } else {
            Outcome::blocked("ForEmrAccess", "waiting for EMR's access to the namespace")
        };
        parts.set(VIRTUAL_CLUSTER_READY, virtual_cluster);
    } else {
        for part in [
            EMR_ACCESS_READY,
            TRUST_POLICIES_READY,
            SERVICE_ACCOUNTS_READY,
            VIRTUAL_CLUSTER_READY,
        ] {
            parts.set(
                part,
                Outcome::blocked(
                    "ForNamespace",
                    format!("waiting for the namespace: {namespace_message}"),
                ),
            );
        }
    }

    let ready_message = format!(
        "EMR virtual cluster {} is RUNNING for namespace {} of EKS cluster {}",
        pass.status
            .virtual_cluster_id
            .as_deref()
            .unwrap_or_default(),
        pass.namespace(),
        vc.spec.eks_cluster_name
    );
    let ready = parts.ready(&ready_message);
    pass.status.conditions = outcome::conditions(
        &pass.status.conditions,
        &parts,
        &ready,
        vc.metadata.generation,
    );
    let retry = parts.retry();
    let action = Action::requeue(state.next(&key(vc), retry));
    // The metric names the first failing part, even when Ready's own reason is a wait.
    let failing = parts
        .iter()
        .map(|(_, o)| o)
        .find(|o| o.retry == Retry::Backoff)
        .cloned();
    finish(&api, pass, &ready).await?;
    Ok(match failing {
        Some(failed) => Done::after(action, &failed),
        None => Done::after(action, &ready),
    })
}

async fn delete(
    vc: &VirtualCluster,
    state: &State,
    carried: Option<&VirtualClusterStatus>,
) -> Result<Done, Error> {
    if !vc
        .finalizers()
        .iter()
        .any(|f| f == VIRTUAL_CLUSTER_FINALIZER)
    {
        return Ok(Done {
            action: Action::await_change(),
            failure: None,
        });
    }
    let ctx = state.ctx.as_ref();
    let owner = Owner::of(vc).ok_or(Error::MissingIdentity)?;
    let api: Api<VirtualCluster> = Api::all(ctx.client.clone());
    let mut pass = Pass::new(ctx, vc, owner);
    if let Some(refused) = carried {
        records::carry(&mut pass.status, refused);
    }
    match cleanup::finish(&mut pass).await {
        None => {
            publish(ctx, vc, &pass.changes, &[]).await;
            finalizer::remove(&api, vc).await?;
            state.forget(&key(vc));
            Ok(Done {
                action: Action::await_change(),
                failure: None,
            })
        }
        Some(blocked) => {
            let outcome = Outcome {
                reason: if blocked.reason == "WaitingForJobRuns" {
                    blocked.reason.clone()
                } else {
                    format!("Deleting{}", blocked.reason)
                },
                message: format!("deleting: {}", blocked.message),
                ..blocked
            };
            outcome::set_condition(
                &mut pass.status.conditions,
                READY,
                &outcome,
                vc.metadata.generation,
            );
            let action = Action::requeue(state.next(&key(vc), outcome.retry));
            finish(&api, pass, &outcome).await?;
            Ok(Done::after(action, &outcome))
        }
    }
}

/// Writes the status if it changed and tells the user what changed.
async fn finish(
    api: &Api<VirtualCluster>,
    mut pass: Pass<'_>,
    ready: &Outcome,
) -> Result<(), Error> {
    let vc = pass.vc;
    pass.status.observed_generation = vc.metadata.generation;
    pass.status.message = Some(ready.message.clone());
    let old: VirtualClusterStatus = vc.status.clone().unwrap_or_default();
    let notices = outcome::notices(&old.conditions, &pass.status.conditions);
    if vc.status.as_ref() != Some(&pass.status) {
        let precondition = crate::kit::Precondition::from_version(pass.version.as_deref());
        match crate::kit::status::apply(api, vc, precondition, &pass.status).await {
            Ok(_) => {}
            Err(error) if error.is_stale() => {
                // What this pass changed did happen; the redone pass finds it in place.
                publish(pass.ctx, vc, &pass.changes, &[]).await;
                return Err(Error::StaleObject {
                    name: vc.name_any(),
                    refused: Some(Box::new(pass.status)),
                });
            }
            Err(error) => {
                return Err(Error::WriteStatus {
                    source: error.into_kube(),
                });
            }
        }
    }
    publish(pass.ctx, vc, &pass.changes, &notices).await;
    Ok(())
}

async fn publish(
    ctx: &Context,
    vc: &VirtualCluster,
    changes: &[super::pass::Change],
    notices: &[outcome::Notice],
) {
    for change in changes {
        ctx.events
            .normal(vc, &change.reason, "Reconcile", change.note.clone())
            .await;
    }
    for notice in notices {
        if notice.warning {
            ctx.events
                .warning(vc, &notice.reason, "Reconcile", notice.note.clone())
                .await;
        } else {
            ctx.events
                .normal(vc, &notice.reason, "Reconcile", notice.note.clone())
                .await;
        }
    }
}
