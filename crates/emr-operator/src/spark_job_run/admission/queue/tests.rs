#![allow(clippy::unwrap_used)]

use emr_api::SparkJobRunStatus;
use emr_api::condition::{Condition, ConditionStatus};

use super::*;

fn t(s: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(s, 0)
}

fn o(name: &str, priority: i32, created: i64, interest: Interest) -> Other {
    Other {
        name: name.into(),
        order: Order::new(priority, t(created), name.into()),
        interest,
    }
}

fn none() -> BTreeSet<String> {
    BTreeSet::new()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn a_free_slot_goes_to_the_first_in_order() {
    let others = [
        o("run1", 0, 1, Interest::Holding),
        o("old", 0, 5, Interest::Waiting),
        o("new", 0, 9, Interest::Waiting),
    ];
    let me = Order::new(0, t(7), "me".into());
    // Two slots: one held, "old" is ahead of me, so I wait as second.
    let v = verdict("me", &me, &others, &none(), &none(), 2);
    assert_eq!(
        v,
        Verdict {
            admitted: false,
            position: 2,
            waiting: 3,
            holding: 1,
            limit: 2
        }
    );
    // Three slots: room for "old" and me.
    assert!(verdict("me", &me, &others, &none(), &none(), 3).admitted);
    // "old" itself is first.
    let old = Order::new(0, t(5), "old".into());
    assert!(verdict("old", &old, &others, &none(), &none(), 2).admitted);
}

#[test]
fn priority_comes_before_age_and_the_name_breaks_ties() {
    let others = [
        o("low-old", -5, 1, Interest::Waiting),
        o("b", 0, 3, Interest::Waiting),
    ];
    let urgent = Order::new(1000, t(9), "urgent".into());
    let v = verdict("urgent", &urgent, &others, &none(), &none(), 1);
    assert_eq!((v.admitted, v.position), (true, 1));
    // Same priority and second: the name decides, the same way for every reconcile.
    let a = Order::new(0, t(3), "a".into());
    assert_eq!(verdict("a", &a, &others, &none(), &none(), 1).position, 1);
    let c = Order::new(0, t(3), "c".into());
    assert_eq!(verdict("c", &c, &others, &none(), &none(), 1).position, 2);
    // Extremes order without arithmetic.
    assert!(Order::new(i32::MAX, t(9), "x".into()) < Order::new(i32::MIN, t(0), "y".into()));
    assert!(Order::new(0, t(0), "x".into()) < Order::new(0, None, "a".into()));
}

#[test]
fn reservations_count_as_holders_once_and_never_for_oneself() {
    // "run1" shows holding in the store and is also still reserved: one holder, not two.
    let others = [
        o("run1", 0, 1, Interest::Holding),
        o("fresh", 0, 2, Interest::Idle),
    ];
    let me = Order::new(0, t(5), "me".into());
    let v = verdict("me", &me, &others, &set(&["run1", "fresh"]), &none(), 2);
    assert_eq!((v.admitted, v.holding), (false, 2));
    assert!(verdict("me", &me, &others, &set(&["run1", "fresh"]), &none(), 3).admitted);
    // A job re-admitting itself (its earlier reservation unused) does not count itself.
    let v = verdict("me", &me, &others, &set(&["me"]), &none(), 2);
    assert_eq!((v.admitted, v.holding), (true, 1));
}

#[test]
fn jobs_told_to_wait_count_ahead_before_the_store_shows_it() {
    let others = [o("first", 0, 1, Interest::Idle)];
    let me = Order::new(0, t(5), "me".into());
    assert!(verdict("me", &me, &others, &none(), &none(), 1).admitted);
    let v = verdict("me", &me, &others, &none(), &set(&["first"]), 1);
    assert_eq!((v.admitted, v.position, v.waiting), (false, 2, 2));
}

#[test]
fn a_limit_below_the_holders_admits_nobody() {
    let others = [
        o("a", 0, 1, Interest::Holding),
        o("b", 0, 2, Interest::Holding),
    ];
    let me = Order::new(1000, t(0), "me".into());
    let v = verdict("me", &me, &others, &none(), &none(), 1);
    assert_eq!((v.admitted, v.position, v.holding), (false, 1, 2));
    assert!(!verdict("me", &me, &[], &none(), &none(), 0).admitted);
    assert!(verdict("me", &me, &others, &none(), &none(), u32::MAX).admitted);
}

#[test]
fn the_head_of_the_queue_is_woken_first_and_holders_never() {
    let others = [
        o("late", 0, 9, Interest::Waiting),
        o("running", 0, 0, Interest::Holding),
        o("early", 0, 1, Interest::Waiting),
        o("done", 0, 0, Interest::Idle),
        o("told", 5, 5, Interest::Idle),
    ];
    assert_eq!(
        to_wake(&others, &set(&["told", "running"]), 10),
        ["told", "early", "late"]
    );
    assert_eq!(to_wake(&others, &none(), 1), ["early"]);
}

fn job(status: Option<SparkJobRunStatus>, suspend: Option<bool>) -> SparkJobRun {
    let mut job = SparkJobRun::new(
        "j",
        serde_saphyr::from_str(
            "{virtualCluster: {name: vc}, executionRoleArn: arn:aws:iam::123456789012:role/r, releaseLabel: emr-7.2.0-latest}",
        )
        .unwrap(),
    );
    job.spec.suspend = suspend;
    job.status = status;
    job
}

#[test]
fn interest_is_read_from_status_alone() {
    assert_eq!(interest(&job(None, None)), Interest::Waiting);
    assert_eq!(interest(&job(None, Some(true))), Interest::Idle);
    let submitting = SparkJobRunStatus {
        attempt: 1,
        submitted_spec_fingerprint: Some("f".into()),
        ..Default::default()
    };
    assert_eq!(
        interest(&job(Some(submitting.clone()), None)),
        Interest::Holding
    );
    let active = SparkJobRunStatus {
        job_run_id: Some("jr".into()),
        state: Some("RUNNING".into()),
        ..submitting.clone()
    };
    assert_eq!(
        interest(&job(Some(active.clone()), None)),
        Interest::Holding
    );
    let done = SparkJobRunStatus {
        state: Some("COMPLETED".into()),
        ..active
    };
    assert_eq!(interest(&job(Some(done), None)), Interest::Idle);
    let mut queued = SparkJobRunStatus::default();
    queued.conditions.push(Condition::new(
        types::QUEUED,
        ConditionStatus::True,
        "Queued",
        "m",
        Some(1),
    ));
    assert_eq!(
        interest(&job(Some(queued.clone()), None)),
        Interest::Waiting
    );
    let mut deleted = job(Some(queued), None);
    deleted.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        ));
    assert_eq!(interest(&deleted), Interest::Idle);
    assert_eq!(
        interest(&job(Some(SparkJobRunStatus::default()), None)),
        Interest::Idle
    );
}
