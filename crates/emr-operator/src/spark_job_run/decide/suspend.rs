//! `spec.suspend`: holds back the first submission (phase `Unsubmitted`) and nothing else; a job
//! already submitted goes on whatever the field says.

use emr_api::condition::{Condition, ConditionStatus};

use super::*;

const SUSPENDED_MESSAGE: &str =
    "suspended (spec.suspend is true): no job run is started until it is set to false";

/// While `spec.suspend` is true: the status of a held job (condition Suspended, nothing
/// submitted). Once lifted, marks the Suspended condition False and returns `None`, so the job
/// goes on to its first submission.
pub(super) fn held(f: &Facts, status: &mut SparkJobRunStatus) -> Option<Decision> {
    if f.spec.suspend == Some(true) {
        conditions::waiting_for_virtual_cluster(
            status,
            f.generation,
            reasons::SUSPENDED,
            SUSPENDED_MESSAGE,
        );
        condition::set(
            &mut status.conditions,
            Condition::new(
                types::SUSPENDED,
                ConditionStatus::True,
                reasons::SUSPENDED,
                SUSPENDED_MESSAGE,
                f.generation,
            ),
        );
        return Some(Decision::new(status.clone(), Effect::None, None));
    }
    if condition::is_true(&status.conditions, types::SUSPENDED) {
        condition::set(
            &mut status.conditions,
            Condition::new(
                types::SUSPENDED,
                ConditionStatus::False,
                reasons::RESUMED,
                "spec.suspend is no longer true: the job is submitted",
                f.generation,
            ),
        );
    }
    None
}
