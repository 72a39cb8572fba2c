//! Standard status conditions (the shape of `metav1.Condition`) and the pure rules for updating them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Whether a condition holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

/// One aspect of an object's state, as `metav1.Condition` describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Type of condition in CamelCase, e.g. `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Status of the condition: True, False or Unknown.
    pub status: ConditionStatus,
    /// Machine-readable reason for the last transition, in CamelCase.
    pub reason: String,
    /// Human-readable detail about the last transition.
    pub message: String,
    /// The `.metadata.generation` this condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When the status last changed.
    pub last_transition_time: Timestamp,
}

impl Condition {
    /// A condition stamped with the current time.
    pub fn new(
        type_: impl Into<String>,
        status: ConditionStatus,
        reason: impl Into<String>,
        message: impl Into<String>,
        observed_generation: Option<i64>,
    ) -> Self {
        Self {
            type_: type_.into(),
            status,
            reason: reason.into(),
            message: message.into(),
            observed_generation,
            last_transition_time: Timestamp::now(),
        }
    }

    /// Whether this condition says True.
    pub fn is_true(&self) -> bool {
        self.status == ConditionStatus::True
    }
}

/// Finds a condition by type.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of this type exists and is True.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(Condition::is_true)
}

/// Puts `new` in place of the condition of the same type.
///
/// Keeps the old `lastTransitionTime` when the status did not change, so that a reconcile that
/// only re-confirms a condition writes nothing new and Argo CD sees no churn.
pub fn set(conditions: &mut Vec<Condition>, mut new: Condition) {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(old) => {
            if old.status == new.status {
                new.last_transition_time = old.last_transition_time;
            }
            *old = new;
        }
        None => conditions.push(new),
    }
}

/// Whether two condition lists say the same thing, ignoring transition times.
pub fn same_meaning(a: &[Condition], b: &[Condition]) -> bool {
    a.len() == b.len()
        && a.iter().all(|x| {
            find(b, &x.type_).is_some_and(|y| {
                x.status == y.status
                    && x.reason == y.reason
                    && x.message == y.message
                    && x.observed_generation == y.observed_generation
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(status: ConditionStatus, reason: &str) -> Condition {
        Condition::new("Ready", status, reason, "m", Some(1))
    }

    #[test]
    fn same_status_keeps_transition_time() {
        let mut first = cond(ConditionStatus::True, "A");
        first.last_transition_time = serde_json::from_str("\"2020-01-01T00:00:00Z\"").unwrap();
        let mut list = vec![first.clone()];
        set(&mut list, cond(ConditionStatus::True, "B"));
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].reason, "B");
        assert_eq!(list[0].last_transition_time, first.last_transition_time);
    }

    #[test]
    fn changed_status_moves_transition_time() {
        let mut first = cond(ConditionStatus::True, "A");
        first.last_transition_time = serde_json::from_str("\"2020-01-01T00:00:00Z\"").unwrap();
        let mut list = vec![first.clone()];
        set(&mut list, cond(ConditionStatus::False, "A"));
        assert_ne!(list[0].last_transition_time, first.last_transition_time);
    }

    #[test]
    fn meaning_ignores_times_and_order() {
        let a = vec![
            cond(ConditionStatus::True, "A"),
            Condition::new("X", ConditionStatus::False, "r", "m", None),
        ];
        let mut b = a.clone();
        b.reverse();
        b[0].last_transition_time = serde_json::from_str("\"2020-01-01T00:00:00Z\"").unwrap();
        assert!(same_meaning(&a, &b));
        b[1].reason = "other".into();
        assert!(!same_meaning(&a, &b));
    }
}
