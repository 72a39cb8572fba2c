//! One reconcile: the five steps in order (or the deletion), then the status, the Events and
//! the next look.

use std::sync::Arc;
use std::time::Instant;

use emr_api::check::{self, FieldError};
use emr_api::virtual_cluster::condition_types::{
    EMR_ACCESS_READY, FARGATE_PROFILE_READY, NAMESPACE_READY, READY, SERVICE_ACCOUNTS_READY,
    TRUST_POLICIES_READY, VIRTUAL_CLUSTER_READY,
};
use emr_api::{VirtualCluster, VirtualClusterStatus};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::error::Error;
use super::names::{CONTROLLER, FINALIZER};
use super::outcome::{Outcome, Retry};
use super::reconciliation::Reconciliation;
use super::state::{State, key};
use super::status::{self, StepOutcomes, conditions};
use super::steps::trust::plan::Family;
use super::steps::{
    access, cleanup, cluster_facts, emr_cluster, fargate, namespace, service_accounts, trust,
};
use crate::kit::{Category, ReconcileError};

/// What a reconcile decided: when to look again, and the reason of a failing step (for the
/// reconcile-error metric: step failures are conditions, not errors of the reconcile).
struct Reconciled {
    action: Action,
    failure: Option<String>,
}

impl Reconciled {
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
        Ok(reconciled) => reconciled.failure.clone(),
        Err(error) => Some(error.metric_label().to_owned()),
    };
    state
        .ctx
        .metrics
        .reconciled(CONTROLLER, started.elapsed(), failure.as_deref());
    if let Err(error) = &result {
        tracing::warn!(%error, "reconcile failed");
    }
    result.map(|reconciled| reconciled.action)
}

/// How many writes removing the finalizer may take, each after a fresh read.
const FINALIZER_ATTEMPTS: usize = 3;

/// How many times one reconcile redoes its pass after its status write was refused as stale.
const STALE_ATTEMPTS: usize = 3;

/// Runs the pass (converge or delete) and, when its status write is refused because the copy it
/// worked on was stale, reads the object afresh and redoes the pass on that: what the newer
/// version recorded (trust statements, the namespace) is never overwritten by an older view.
/// Every step is idempotent, so a redone pass repeats no change.
async fn pass_until_recorded(vc: &VirtualCluster, state: &State) -> Result<Reconciled, Error> {
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
                        return Ok(Reconciled {
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
) -> Result<Reconciled, Error> {
    let ctx = state.ctx.as_ref();
    let api: Api<VirtualCluster> = Api::all(ctx.client.clone());
    let mut recon = Reconciliation::new(ctx, vc, carried).ok_or(Error::MissingIdentity)?;

    let errors = invalid(vc);
    if !errors.is_empty() {
        let outcome = Outcome::failed("InvalidSpec", check::summarize(&errors))
            .because(Category::TerminalInput);
        conditions::set_condition(
            &mut recon.status.conditions,
            READY,
            &outcome,
            vc.metadata.generation,
        );
        status::finish(&api, recon, &outcome).await?;
        // Only an edit can fix it, and an edit triggers a reconcile.
        let action = Action::requeue(ctx.config.resync_interval);
        return Ok(Reconciled::after(action, &outcome));
    }
    // Before anything outside the object changes. On exactly the version read: a conflict
    // means this pass works on a stale copy, redone on a fresh read (a status computed from the
    // stale copy must not land on the newer version).
    let added = FINALIZER.add(&api, vc).await.map_err(|error| {
        if error.is_stale() {
            Error::StaleObject {
                name: vc.name_any(),
                refused: None,
            }
        } else {
            Error::AddFinalizer {
                source: error.into_kube(),
            }
        }
    })?;
    if let Some(updated) = added {
        recon.version = updated.metadata.resource_version;
    }

    let mut steps = StepOutcomes::default();
    let namespace = namespace::converge(&mut recon).await;
    let namespace_ready = namespace.is_ready();
    let namespace_message = namespace.message.clone();
    steps.set(NAMESPACE_READY, namespace);
    if namespace_ready {
        let facts = cluster_facts::resolve(ctx, &vc.spec)
            .await
            .map_err(|e| e.outcome());
        if let Ok(facts) = &facts {
            recon.status.account_id = Some(facts.account_id.clone());
            recon.status.oidc_provider = facts.oidc_provider.clone();
        }
        let access = access::converge(&mut recon, &facts).await;
        let access_ready = access.is_ready();
        steps.set(EMR_ACCESS_READY, access);
        steps.set(
            TRUST_POLICIES_READY,
            trust::converge(&mut recon, &facts, Family::ExecutionRoles).await,
        );
        steps.set(
            SERVICE_ACCOUNTS_READY,
            service_accounts::converge(&mut recon, &facts).await,
        );
        let virtual_cluster = if access_ready {
            emr_cluster::converge(&mut recon).await
        } else {
            Outcome::blocked("ForEmrAccess", "waiting for EMR's access to the namespace")
        };
        steps.set(VIRTUAL_CLUSTER_READY, virtual_cluster);
        match fargate::converge(&mut recon, &state.fargate_slots).await {
            Some(outcome) => steps.set(FARGATE_PROFILE_READY, outcome),
            // Not asked for: no condition (an earlier one is dropped).
            None => recon
                .status
                .conditions
                .retain(|c| c.type_ != FARGATE_PROFILE_READY),
        }
    } else {
        for part in [
            EMR_ACCESS_READY,
            TRUST_POLICIES_READY,
            SERVICE_ACCOUNTS_READY,
            VIRTUAL_CLUSTER_READY,
        ] {
            steps.set(
                part,
                Outcome::blocked(
                    "ForNamespace",
                    format!("waiting for the namespace: {namespace_message}"),
                ),
            );
        }
        if vc.spec.fargate.is_some() {
            steps.set(
                FARGATE_PROFILE_READY,
                Outcome::blocked(
                    "ForNamespace",
                    format!("waiting for the namespace: {namespace_message}"),
                ),
            );
        }
    }

    let ready_message = format!(
        "EMR virtual cluster {} is RUNNING for namespace {} of EKS cluster {}",
        recon
            .status
            .virtual_cluster_id
            .as_deref()
            .unwrap_or_default(),
        recon.namespace(),
        vc.spec.eks_cluster_name
    );
    let ready = steps.ready(&ready_message);
    recon.status.conditions = conditions::conditions(
        &recon.status.conditions,
        &steps,
        &ready,
        vc.metadata.generation,
    );
    super::pod_template_store::set_condition(&mut recon.status, &vc.spec, vc.metadata.generation);
    let retry = steps.retry();
    let action = Action::requeue(state.next(&key(vc), retry, steps.failure_category()));
    // The metric names the first failing part, even when Ready's own reason is a wait.
    let failing = steps
        .iter()
        .map(|(_, o)| o)
        .find(|o| o.retry == Retry::Backoff)
        .cloned();
    status::finish(&api, recon, &ready).await?;
    Ok(match failing {
        Some(failed) => Reconciled::after(action, &failed),
        None => Reconciled::after(action, &ready),
    })
}

async fn delete(
    vc: &VirtualCluster,
    state: &State,
    carried: Option<&VirtualClusterStatus>,
) -> Result<Reconciled, Error> {
    if !FINALIZER.is_on(vc) {
        return Ok(Reconciled {
            action: Action::await_change(),
            failure: None,
        });
    }
    let ctx = state.ctx.as_ref();
    let api: Api<VirtualCluster> = Api::all(ctx.client.clone());
    let mut recon = Reconciliation::new(ctx, vc, carried).ok_or(Error::MissingIdentity)?;
    match cleanup::finish(&mut recon, &state.fargate_slots).await {
        None => {
            status::publish(ctx, vc, recon.changes, Vec::new()).await;
            // The cached copy is often a version behind (this operator's own status write).
            FINALIZER
                .remove_reading_afresh(&api, vc, FINALIZER_ATTEMPTS)
                .await
                .map_err(|source| Error::RemoveFinalizer { source })?;
            state.forget(&key(vc));
            Ok(Reconciled {
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
            conditions::set_condition(
                &mut recon.status.conditions,
                READY,
                &outcome,
                vc.metadata.generation,
            );
            let action = Action::requeue(state.next(&key(vc), outcome.retry, outcome.category));
            status::finish(&api, recon, &outcome).await?;
            Ok(Reconciled::after(action, &outcome))
        }
    }
}
