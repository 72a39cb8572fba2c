use super::*;

fn get(status: &SparkJobRunStatus, type_: &str) -> (ConditionStatus, String) {
    let c = condition::find(&status.conditions, type_).cloned();
    c.map_or((ConditionStatus::Unknown, "-".into()), |c| {
        (c.status, c.reason)
    })
}

#[test]
fn ready_follows_succeeded_in_every_situation() {
    let mut s = SparkJobRunStatus::default();
    let checks: [fn(&mut SparkJobRunStatus); 8] = [
        |s| waiting_for_virtual_cluster(s, Some(1), "VirtualClusterNotReady", "m"),
        |s| refused(s, Some(1), "InvalidSpec", "m"),
        |s| submitting(s, Some(1), "m"),
        |s| started(s, Some(1), "m"),
        |s| active(s, Some(1), "RUNNING", "m"),
        |s| completed(s, Some(1), "m"),
        |s| failed(s, Some(1), "UserError", "m"),
        |s| waiting_to_resubmit(s, Some(1), "InternalError", "m"),
    ];
    for set in checks {
        set(&mut s);
        let succeeded = get(&s, types::SUCCEEDED).0;
        let failed = get(&s, types::FAILED).0;
        let ready = get(&s, types::READY).0;
        assert_eq!(
            ready == ConditionStatus::True,
            succeeded == ConditionStatus::True
        );
        assert!(!(succeeded == ConditionStatus::True && failed == ConditionStatus::True));
    }
}

#[test]
fn running_is_true_only_while_emr_says_running() {
    let mut s = SparkJobRunStatus::default();
    active(&mut s, Some(1), "PENDING", "m");
    assert_eq!(
        get(&s, types::RUNNING),
        (ConditionStatus::False, "Pending".into())
    );
    active(&mut s, Some(1), "RUNNING", "m");
    assert_eq!(
        get(&s, types::RUNNING),
        (ConditionStatus::True, "Running".into())
    );
    completed(&mut s, Some(1), "m");
    assert_eq!(get(&s, types::RUNNING).0, ConditionStatus::False);
    assert_eq!(
        get(&s, types::SUCCEEDED),
        (ConditionStatus::True, "Completed".into())
    );
}

#[test]
fn the_submitted_message_keeps_telling_the_start() {
    let mut s = SparkJobRunStatus::default();
    started(&mut s, Some(1), "job run a started");
    active(&mut s, Some(1), "RUNNING", "job run a RUNNING");
    let c = condition::find(&s.conditions, types::SUBMITTED).cloned();
    assert_eq!(c.map(|c| c.message), Some("job run a started".into()));
    assert_eq!(s.message.as_deref(), Some("job run a RUNNING"));
}

#[test]
fn spec_refusal_appears_and_goes() {
    let mut s = SparkJobRunStatus::default();
    spec_change_refused(&mut s, Some(2), Some("changed"));
    assert_eq!(get(&s, types::SPEC_CHANGE_REFUSED).0, ConditionStatus::True);
    spec_change_refused(&mut s, Some(3), None);
    assert!(condition::find(&s.conditions, types::SPEC_CHANGE_REFUSED).is_none());
}
