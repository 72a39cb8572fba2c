//! The steps' outcomes as the object's conditions: one per step, the `Ready` roll-up, and the
//! Events worth publishing for a change of conditions. Pure.

use emr_api::condition::{self, Condition, ConditionStatus};
use emr_api::virtual_cluster::condition_types::{FARGATE_PROFILE_READY, PARTS, READY};

use crate::kit::{Category, Event};
use crate::virtual_cluster::outcome::{Outcome, Retry};
use crate::virtual_cluster::reconciliation::ACTION;

/// The outcome of every step, keyed by its condition type, in [`PARTS`] order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepOutcomes(Vec<(&'static str, Outcome)>);

impl StepOutcomes {
    pub fn set(&mut self, type_: &'static str, outcome: Outcome) {
        match self.0.iter_mut().find(|(t, _)| *t == type_) {
            Some(slot) => slot.1 = outcome,
            None => self.0.push((type_, outcome)),
        }
        self.0
            .sort_by_key(|(t, _)| PARTS.iter().position(|p| p == t).unwrap_or(PARTS.len()));
    }

    pub fn get(&self, type_: &str) -> Option<&Outcome> {
        self.0.iter().find(|(t, _)| *t == type_).map(|(_, o)| o)
    }

    pub fn iter(&self) -> impl Iterator<Item = &(&'static str, Outcome)> {
        self.0.iter()
    }

    /// `Ready`: True when every part is; otherwise the first part (in convergence order) that
    /// is not, with its reason, so the roll-up says what to look at first.
    pub fn ready(&self, ready_message: &str) -> Outcome {
        let missing = PARTS.iter().find(|p| self.get(p).is_none());
        if let Some(part) = missing {
            return Outcome::unknown(
                "NotReconciled",
                format!("{part} has not been determined yet"),
            );
        }
        match self.0.iter().find(|(_, o)| !o.is_ready()) {
            None => Outcome::ready("Ready", ready_message),
            Some((type_, o)) => Outcome {
                status: if o.status == ConditionStatus::Unknown {
                    ConditionStatus::Unknown
                } else {
                    ConditionStatus::False
                },
                reason: o.reason.clone(),
                message: format!("{type_}: {}", o.message),
                retry: o.retry,
                category: o.category,
            },
        }
    }

    /// The kind of trouble of the first part (in convergence order) that failed, which picks
    /// the backoff; [`Category::Other`] when none did.
    pub fn failure_category(&self) -> Category {
        self.0
            .iter()
            .map(|(_, o)| o)
            .find(|o| o.retry == Retry::Backoff)
            .map_or(Category::Other, |o| o.category)
    }

    /// The most urgent retry any part asks for.
    pub fn retry(&self) -> Retry {
        self.0
            .iter()
            .map(|(_, o)| o.retry)
            .max()
            .unwrap_or(Retry::Resync)
    }
}

/// Writes `outcome` as the condition `type_`, keeping its transition time when the status did
/// not change.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    outcome: &Outcome,
    generation: Option<i64>,
) {
    condition::set(
        conditions,
        Condition::new(
            type_,
            outcome.status,
            &outcome.reason,
            &outcome.message,
            generation,
        ),
    );
}

/// Every part's condition and `Ready`, parts first in convergence order.
pub fn conditions(
    old: &[Condition],
    steps: &StepOutcomes,
    ready: &Outcome,
    generation: Option<i64>,
) -> Vec<Condition> {
    let mut out = old.to_vec();
    for (type_, outcome) in steps.iter() {
        set_condition(&mut out, type_, outcome, generation);
    }
    set_condition(&mut out, READY, ready, generation);
    // The optional part (FargateProfileReady) after the others, then Ready.
    let order = |c: &Condition| {
        PARTS
            .iter()
            .position(|p| *p == c.type_)
            .unwrap_or(if c.type_ == FARGATE_PROFILE_READY {
                PARTS.len()
            } else if c.type_ == READY {
                PARTS.len() + 1
            } else {
                PARTS.len() + 2
            })
    };
    out.sort_by_key(order);
    out
}

/// Events for conditions that changed meaning: a Warning when a part turns (or stays, with a
/// new reason) not-True, a Normal one when `Ready` turns True. A condition that says the same
/// as before produces nothing, so a stuck object does not flood the Events.
pub fn events(old: &[Condition], new: &[Condition]) -> Vec<Event> {
    let mut out = Vec::new();
    let mut warned = false;
    for c in new {
        let before = condition::find(old, &c.type_);
        let changed = before.is_none_or(|b| b.status != c.status || b.reason != c.reason);
        if !changed {
            continue;
        }
        if c.type_ == READY {
            if c.is_true() {
                out.push(Event::normal("Ready", ACTION, c.message.clone()));
            } else if !warned && !c.reason.starts_with("Waiting") && c.reason != "NotReconciled" {
                out.push(Event::warning(c.reason.clone(), ACTION, c.message.clone()));
            }
            continue;
        }
        // Steps blocked on an earlier step would repeat that part's warning.
        if !c.is_true() && !c.reason.starts_with("Waiting") {
            warned = true;
            out.push(Event::warning(
                c.reason.clone(),
                ACTION,
                format!("{}: {}", c.type_, c.message),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use emr_api::virtual_cluster::condition_types::*;

    fn all_ready() -> StepOutcomes {
        let mut parts = StepOutcomes::default();
        for p in PARTS.iter().rev() {
            parts.set(p, Outcome::ready("Ok", format!("{p} fine")));
        }
        parts
    }

    #[test]
    fn parts_keep_convergence_order() {
        let parts = all_ready();
        let order: Vec<_> = parts.iter().map(|(t, _)| *t).collect();
        assert_eq!(order, PARTS);
    }

    #[test]
    fn ready_rolls_up_the_first_failing_part() {
        let mut parts = all_ready();
        assert_eq!(parts.ready("all good"), Outcome::ready("Ready", "all good"));
        parts.set(
            VIRTUAL_CLUSTER_READY,
            Outcome::waiting("Terminating", "vc going"),
        );
        parts.set(
            TRUST_POLICIES_READY,
            Outcome::failed("AccessDenied", "no iam"),
        );
        let ready = parts.ready("x");
        assert_eq!(ready.status, ConditionStatus::False);
        assert_eq!(ready.reason, "AccessDenied");
        assert_eq!(ready.message, "TrustPoliciesReady: no iam");
        assert_eq!(parts.retry(), Retry::Backoff);
    }

    #[test]
    fn the_first_failing_part_picks_the_kind_of_trouble() {
        let mut parts = all_ready();
        assert_eq!(parts.failure_category(), Category::Other);
        parts.set(
            NAMESPACE_READY,
            Outcome::waiting("Terminating", "ns going").because(Category::TerminalInput),
        );
        parts.set(
            TRUST_POLICIES_READY,
            Outcome::failed("AwsThrottled", "slow down").because(Category::Throttled),
        );
        parts.set(
            VIRTUAL_CLUSTER_READY,
            Outcome::failed("AccessDenied", "no emr"),
        );
        // A part that waits is not a failure; the first one that failed is the trust step.
        assert_eq!(parts.failure_category(), Category::Throttled);
        assert_eq!(parts.ready("x").category, Category::TerminalInput);
    }

    #[test]
    fn a_missing_part_makes_ready_unknown() {
        let mut parts = StepOutcomes::default();
        parts.set(NAMESPACE_READY, Outcome::ready("Ok", "fine"));
        assert_eq!(parts.ready("x").status, ConditionStatus::Unknown);
    }

    #[test]
    fn conditions_are_ordered_and_keep_transition_times() {
        let parts = all_ready();
        let ready = parts.ready("ok");
        let first = conditions(&[], &parts, &ready, Some(1));
        let types: Vec<_> = first.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, [&PARTS[..], &[READY]].concat());
        let mut old = first.clone();
        for c in &mut old {
            c.last_transition_time = serde_json::from_str("\"2020-01-01T00:00:00Z\"").unwrap();
        }
        let again = conditions(&old, &parts, &ready, Some(1));
        assert_eq!(again, old, "re-confirming changes nothing");
    }

    #[test]
    fn events_only_on_changes() {
        let parts = all_ready();
        let ready = parts.ready("ok");
        let good = conditions(&[], &parts, &ready, Some(1));
        let n = events(&[], &good);
        assert_eq!(n, vec![Event::normal("Ready", ACTION, "ok")]);
        assert!(events(&good, &good).is_empty());

        let mut broken = parts.clone();
        broken.set(EMR_ACCESS_READY, Outcome::failed("Forbidden", "no rbac"));
        broken.set(
            VIRTUAL_CLUSTER_READY,
            Outcome::blocked("ForEmrAccess", "waiting"),
        );
        let bad = conditions(&good, &broken, &broken.ready("ok"), Some(1));
        let n = events(&good, &bad);
        assert_eq!(n.len(), 1, "{n:?}");
        assert!(n[0].warning);
        assert_eq!(n[0].reason, "Forbidden");
        assert!(events(&bad, &bad).is_empty(), "a stuck object stays quiet");
    }
}
