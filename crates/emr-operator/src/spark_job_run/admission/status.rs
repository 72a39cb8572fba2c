//! The statuses admission writes, pure: a job waiting for a slot (condition Queued, its place
//! in the message), and the mark that it got one.

use emr_api::condition::{self, Condition, ConditionStatus};
use emr_api::spark_job_run::{SparkJobRunStatus, condition_types as types, reasons};

use super::queue::Verdict;
use crate::spark_job_run::conditions;
use crate::spark_job_run::decide::{Phase, phase};

/// The status of a job told to wait: `current` with the Queued condition and, for a first
/// submission, the waiting conditions (a later attempt keeps its last result standing).
/// `decided` is the status the decision would have recorded: what it says of `spec.suspend`
/// (Suspended turned False) stands.
pub fn queued(
    current: &SparkJobRunStatus,
    decided: &SparkJobRunStatus,
    generation: Option<i64>,
    virtual_cluster: &str,
    verdict: &Verdict,
) -> SparkJobRunStatus {
    let mut status = current.clone();
    status.observed_generation = generation;
    let message = format!(
        "queued: position {} of {} waiting for a slot of VirtualCluster {virtual_cluster} \
         (maxConcurrentJobRuns {}, {} holding a job run)",
        verdict.position, verdict.waiting, verdict.limit, verdict.holding
    );
    if phase(current) == Phase::Unsubmitted {
        conditions::waiting_for_virtual_cluster(&mut status, generation, reasons::QUEUED, &message);
    } else {
        conditions::next_attempt_waiting(&mut status, generation, reasons::QUEUED, &message);
    }
    if let Some(suspended) = condition::find(&decided.conditions, types::SUSPENDED) {
        condition::set(&mut status.conditions, suspended.clone());
    }
    condition::set(
        &mut status.conditions,
        Condition::new(
            types::QUEUED,
            ConditionStatus::True,
            reasons::QUEUED,
            &message,
            generation,
        ),
    );
    status
}

/// Marks a job that waited as admitted (Queued turns False) when its attempt is recorded.
pub fn admitted(status: &mut SparkJobRunStatus, generation: Option<i64>) {
    if condition::is_true(&status.conditions, types::QUEUED) {
        condition::set(
            &mut status.conditions,
            Condition::new(
                types::QUEUED,
                ConditionStatus::False,
                reasons::ADMITTED,
                "admitted: a slot of the VirtualCluster was free",
                generation,
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict() -> Verdict {
        Verdict {
            admitted: false,
            position: 3,
            waiting: 15,
            holding: 5,
            limit: 5,
        }
    }

    #[test]
    fn a_queued_job_says_its_place_and_is_not_failed() {
        let s = queued(
            &SparkJobRunStatus::default(),
            &SparkJobRunStatus::default(),
            Some(1),
            "team-a",
            &verdict(),
        );
        let q = condition::find(&s.conditions, types::QUEUED).cloned();
        let q = q.map(|c| (c.status, c.message));
        assert_eq!(
            q,
            Some((
                ConditionStatus::True,
                "queued: position 3 of 15 waiting for a slot of VirtualCluster team-a \
                 (maxConcurrentJobRuns 5, 5 holding a job run)"
                    .to_owned()
            ))
        );
        assert!(!condition::is_true(&s.conditions, types::FAILED));
        let submitted = condition::find(&s.conditions, types::SUBMITTED).map(|c| c.reason.clone());
        assert_eq!(submitted.as_deref(), Some(reasons::QUEUED));
        assert_eq!(s.observed_generation, Some(1));

        let mut s = s;
        admitted(&mut s, Some(1));
        let q = condition::find(&s.conditions, types::QUEUED).map(|c| (c.status, c.reason.clone()));
        assert_eq!(
            q,
            Some((ConditionStatus::False, reasons::ADMITTED.to_owned()))
        );
        // Never queued: no condition appears.
        let mut fresh = SparkJobRunStatus::default();
        admitted(&mut fresh, Some(1));
        assert!(fresh.conditions.is_empty());
    }
}
