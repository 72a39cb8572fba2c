//! The VirtualCluster reconcile as the controller runs it: behind [`panic_guard`], so that a
//! panic (an operator bug some input reaches) ends that reconcile only. It shows as
//! `Ready=False` with reason `ReconcilePanicked` and a Warning Event, and is retried with a
//! growing backoff; every other object goes on.

use std::sync::Arc;
use std::time::Instant;

use emr_api::VirtualCluster;
use emr_api::condition::{self, Condition, ConditionStatus};
use emr_api::virtual_cluster::condition_types::READY;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use tracing::Instrument;

use super::error::Error;
use super::names::CONTROLLER;
use super::reconcile::reconcile;
use super::reconciliation::ACTION;
use super::state::State;
use crate::Context;
use crate::kit::panic_guard::{self, Panicked};
use crate::kit::{self, Event, Precondition};

/// [`reconcile`] in the kit's reconcile span (controller and object on every log line), with a
/// panic turned into [`Error::ReconcilePanicked`] after it was reported.
pub async fn guarded(vc: Arc<VirtualCluster>, state: Arc<State>) -> Result<Action, Error> {
    let span = kit::span::reconcile(CONTROLLER, &vc.name_any(), None);
    async move {
        let started = Instant::now();
        match panic_guard::catch(reconcile(vc.clone(), state.clone())).await {
            Ok(result) => result,
            Err(panicked) => {
                state.ctx.metrics.reconciled(
                    CONTROLLER,
                    started.elapsed(),
                    Some(panic_guard::REASON),
                );
                report(&state.ctx, &vc, &panicked).await;
                Err(Error::ReconcilePanicked {
                    name: vc.name_any(),
                    message: panicked.message,
                })
            }
        }
    }
    .instrument(span)
    .await
}

/// The conditions after a panic: `Ready=False`, reason `ReconcilePanicked`.
fn conditions_after(
    conditions: &[Condition],
    generation: Option<i64>,
    message: &str,
) -> Vec<Condition> {
    let mut conditions = conditions.to_vec();
    condition::set(
        &mut conditions,
        Condition::new(
            READY,
            ConditionStatus::False,
            panic_guard::REASON,
            message,
            generation,
        ),
    );
    conditions
}

/// Logs the panic with the object, records it in status (best effort, guarded by the copy's
/// resourceVersion so that nothing newer, such as `status.managed`, is overwritten) and
/// publishes a Warning Event.
async fn report(ctx: &Context, vc: &VirtualCluster, panicked: &Panicked) {
    tracing::error!(panic = %panicked.message, "reconcile panicked");
    let message = panic_guard::condition_message("VirtualCluster", panicked);
    let mut status = vc.status.clone().unwrap_or_default();
    status.conditions = conditions_after(&status.conditions, vc.metadata.generation, &message);
    status.message = Some(message.clone());
    let api: Api<VirtualCluster> = Api::all(ctx.client.clone());
    if let Err(error) = kit::status::apply(&api, vc, Precondition::of(vc), &status).await {
        tracing::warn!(%error, "could not record the panic in status");
    }
    ctx.events
        .publish_all(vc, [Event::warning(panic_guard::REASON, ACTION, message)])
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_turns_ready_false_and_keeps_the_parts() {
        let parts = vec![Condition::new(
            "NamespaceReady",
            ConditionStatus::True,
            "Ready",
            "ok",
            Some(1),
        )];
        let after = conditions_after(&parts, Some(2), "boom");
        let ready = condition::find(&after, READY).expect("Ready is set");
        assert_eq!(ready.status, ConditionStatus::False);
        assert_eq!(ready.reason, "ReconcilePanicked");
        assert!(condition::is_true(&after, "NamespaceReady"));
    }
}
