//! Kubernetes Events derived from what changed between two statuses, so that Events follow
//! state transitions by construction: a reconcile that changes nothing publishes nothing.

use emr_api::condition::{self, Condition, ConditionStatus};
use emr_api::spark_job_run::{SparkJobRunStatus, condition_types as types, reasons};

use super::decide::deadline_marked;
use super::text;
use crate::kit::Event;

fn cond<'a>(status: &'a SparkJobRunStatus, type_: &str) -> Option<&'a Condition> {
    condition::find(&status.conditions, type_)
}

fn message(status: &SparkJobRunStatus) -> String {
    status.message.clone().unwrap_or_default()
}

/// The Events for the change from `old` to `new`.
pub fn between(old: &SparkJobRunStatus, new: &SparkJobRunStatus) -> Vec<Event> {
    let mut notes = Vec::new();

    if new.attempt > old.attempt && old.attempt > 0 && old.submitted_spec_fingerprint.is_some() {
        if new.resubmissions > old.resubmissions {
            notes.push(Event::normal(
                "Resubmitting",
                "Submit",
                format!(
                    "starting attempt {} (resubmission {})",
                    new.attempt, new.resubmissions
                ),
            ));
        } else if new.submitted_rerun != old.submitted_rerun {
            notes.push(Event::normal(
                "Rerun",
                "Submit",
                format!(
                    "spec.rerun is now {:?}: starting attempt {}",
                    new.submitted_rerun.as_deref().unwrap_or_default(),
                    new.attempt
                ),
            ));
        }
    }

    if new.job_run_id.is_some() && new.job_run_id != old.job_run_id {
        notes.push(Event::normal("JobRunStarted", "Submit", message(new)));
    }

    // One Event when a run starts (above) and one when it ends; the states in between are in
    // status only (kubectl get shows them), which spares the apiserver an Event per state.
    let state_changed = new.state.is_some() && new.state != old.state;
    let ended = matches!(
        new.state.as_deref(),
        Some("COMPLETED" | "FAILED" | "CANCELLED")
    );
    let state_noted = state_changed && ended;
    if let Some(state) = new.state.as_deref().filter(|_| state_noted) {
        let reason = format!("JobRun{}", text::camel_case(state));
        let note = if matches!(state, "FAILED" | "CANCELLED") {
            Event::warning(reason, "Track", message(new))
        } else {
            Event::normal(reason, "Track", message(new))
        };
        notes.push(note);
    }

    if !deadline_marked(old) && deadline_marked(new) && !state_noted {
        notes.push(Event::warning(
            reasons::DEADLINE_EXCEEDED,
            "Cancel",
            message(new),
        ));
    }

    let failed_now = cond(new, types::FAILED).filter(|c| c.is_true());
    if let Some(failed) = failed_now
        && !state_noted
    {
        let before = cond(old, types::FAILED).filter(|c| c.is_true());
        if before.is_none_or(|b| b.reason != failed.reason || b.message != failed.message) {
            notes.push(Event::warning(
                failed.reason.clone(),
                "Reconcile",
                failed.message.clone(),
            ));
        }
    }

    let waiting_now = cond(new, types::SUBMITTED).filter(|c| c.status == ConditionStatus::False);
    if let Some(waiting) = waiting_now
        && failed_now.is_none()
    {
        let before = cond(old, types::SUBMITTED).filter(|c| c.status == ConditionStatus::False);
        if before.is_none_or(|b| b.reason != waiting.reason) {
            let note = if waiting.reason == reasons::ACCESS_DENIED {
                Event::warning(waiting.reason.clone(), "Submit", waiting.message.clone())
            } else {
                Event::normal(waiting.reason.clone(), "Submit", waiting.message.clone())
            };
            notes.push(note);
        }
    }

    if let Some(refusal) = cond(new, types::SPEC_CHANGE_REFUSED) {
        let before = cond(old, types::SPEC_CHANGE_REFUSED);
        if before.is_none_or(|b| b.message != refusal.message) {
            notes.push(Event::warning(
                refusal.reason.clone(),
                "Validate",
                refusal.message.clone(),
            ));
        }
    }

    notes
}

#[cfg(test)]
mod tests {
    use emr_api::spark_job_run::AttemptRecord;

    use super::*;

    fn reasons_of(notes: &[Event]) -> Vec<&str> {
        notes.iter().map(|n| n.reason.as_str()).collect()
    }

    fn with_state(state: &str) -> SparkJobRunStatus {
        SparkJobRunStatus {
            attempt: 1,
            submitted_spec_fingerprint: Some("f".into()),
            job_run_id: Some("jr1".into()),
            state: Some(state.into()),
            message: Some(format!("job run jr1 {state}")),
            ..Default::default()
        }
    }

    #[test]
    fn nothing_changed_nothing_said() {
        let s = with_state("RUNNING");
        assert!(between(&s, &s.clone()).is_empty());
    }

    #[test]
    fn the_end_of_a_run_is_one_event_and_the_states_before_none() {
        for (from, to) in [
            ("PENDING", "SUBMITTED"),
            ("SUBMITTED", "RUNNING"),
            ("RUNNING", "CANCEL_PENDING"),
        ] {
            assert!(
                between(&with_state(from), &with_state(to)).is_empty(),
                "{to}"
            );
        }
        let notes = between(&with_state("RUNNING"), &with_state("COMPLETED"));
        assert_eq!(reasons_of(&notes), ["JobRunCompleted"]);
        assert!(!notes[0].warning);
        let notes = between(&with_state("PENDING"), &with_state("CANCELLED"));
        assert_eq!(reasons_of(&notes), ["JobRunCancelled"]);
        assert!(notes[0].warning);
        let notes = between(&with_state("RUNNING"), &with_state("FAILED"));
        assert_eq!(reasons_of(&notes), ["JobRunFailed"]);
        assert!(notes[0].warning);
    }

    #[test]
    fn a_start_is_announced() {
        let mut before = with_state("x");
        before.job_run_id = None;
        before.state = None;
        let mut after = before.clone();
        after.job_run_id = Some("jr1".into());
        after.message = Some("job run jr1 started".into());
        let notes = between(&before, &after);
        assert_eq!(reasons_of(&notes), ["JobRunStarted"]);
        assert_eq!(notes[0].note, "job run jr1 started");
    }

    #[test]
    fn refusals_are_warned_once() {
        let before = SparkJobRunStatus::default();
        let mut after = before.clone();
        condition::set(
            &mut after.conditions,
            Condition::new(
                types::FAILED,
                ConditionStatus::True,
                "InvalidSpec",
                "spec.tags: bad",
                Some(1),
            ),
        );
        condition::set(
            &mut after.conditions,
            Condition::new(
                types::SUBMITTED,
                ConditionStatus::False,
                "InvalidSpec",
                "spec.tags: bad",
                Some(1),
            ),
        );
        let notes = between(&before, &after);
        assert_eq!(reasons_of(&notes), ["InvalidSpec"]);
        assert!(notes[0].warning);
        assert!(between(&after, &after.clone()).is_empty());
    }

    #[test]
    fn waiting_for_the_virtual_cluster_is_said_once() {
        let before = SparkJobRunStatus::default();
        let mut after = before.clone();
        condition::set(
            &mut after.conditions,
            Condition::new(
                types::SUBMITTED,
                ConditionStatus::False,
                "VirtualClusterNotReady",
                "a",
                Some(1),
            ),
        );
        assert_eq!(
            reasons_of(&between(&before, &after)),
            ["VirtualClusterNotReady"]
        );
        let mut later = after.clone();
        condition::set(
            &mut later.conditions,
            Condition::new(
                types::SUBMITTED,
                ConditionStatus::False,
                "VirtualClusterNotReady",
                "b",
                Some(1),
            ),
        );
        assert!(between(&after, &later).is_empty());
    }

    #[test]
    fn resubmission_rerun_and_deadline() {
        let mut old = with_state("FAILED");
        let mut new = old.clone();
        new.attempt = 2;
        new.resubmissions = 1;
        new.job_run_id = None;
        new.state = None;
        assert_eq!(reasons_of(&between(&old, &new)), ["Resubmitting"]);
        new.resubmissions = 0;
        new.submitted_rerun = Some("again".into());
        assert_eq!(reasons_of(&between(&old, &new)), ["Rerun"]);

        old = with_state("RUNNING");
        old.attempts = vec![AttemptRecord {
            attempt: 1,
            ..Default::default()
        }];
        let mut marked = old.clone();
        marked.attempts[0].reason = Some(reasons::DEADLINE_EXCEEDED.into());
        assert_eq!(reasons_of(&between(&old, &marked)), ["DeadlineExceeded"]);
    }

    #[test]
    fn spec_refusal_is_warned() {
        let before = with_state("RUNNING");
        let mut after = before.clone();
        condition::set(
            &mut after.conditions,
            Condition::new(
                types::SPEC_CHANGE_REFUSED,
                ConditionStatus::True,
                reasons::SPEC_CHANGED_AFTER_SUBMISSION,
                "changed",
                Some(2),
            ),
        );
        assert_eq!(
            reasons_of(&between(&before, &after)),
            ["SpecChangedAfterSubmission"]
        );
    }
}
