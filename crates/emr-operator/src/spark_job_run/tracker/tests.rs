#![allow(clippy::unwrap_used)]

use emr_aws::JobRunState;

use super::*;

fn cadence() -> Cadence {
    Cadence {
        poll_interval: Duration::from_secs(30),
        young_poll_interval: Duration::from_secs(5),
        young_job_age: Duration::from_secs(180),
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn secs(s: i64) -> TimeDelta {
    TimeDelta::seconds(s)
}

fn key(vc: &str, id: &str) -> JobKey {
    JobKey {
        virtual_cluster_id: vc.into(),
        job_run_id: id.into(),
    }
}

fn obj(name: &str) -> ObjectRef<SparkJobRun> {
    ObjectRef::new(name).within("ns")
}

fn info(vc: &str, id: &str, state: JobRunState, created: DateTime<Utc>) -> JobRunInfo {
    JobRunInfo {
        id: id.into(),
        name: Some(id.into()),
        arn: None,
        virtual_cluster_id: vc.into(),
        state,
        failure_reason: None,
        state_details: None,
        created_at: Some(created),
        finished_at: None,
        retry_attempts: None,
        client_token: None,
    }
}

#[test]
fn a_new_run_is_polled_at_the_young_cadence() {
    let mut r = Tracker::new(cadence());
    r.track(key("vc1", "a"), obj("a"), t0(), t0());
    assert!(r.due(t0()).is_empty());
    assert_eq!(r.next_poll_at(), Some(t0() + secs(5)));
    let due = r.due(t0() + secs(5));
    assert_eq!(
        due,
        vec![PollRequest {
            virtual_cluster_id: "vc1".into(),
            created_after: t0() - CREATED_AFTER_SLACK
        }]
    );
}

#[test]
fn one_poll_per_virtual_cluster_however_many_runs() {
    let mut r = Tracker::new(cadence());
    for i in 0..50 {
        r.track(
            key("vc1", &format!("a{i}")),
            obj(&format!("a{i}")),
            t0() + secs(i),
            t0(),
        );
        r.track(
            key("vc2", &format!("b{i}")),
            obj(&format!("b{i}")),
            t0() + secs(i),
            t0(),
        );
    }
    let due = r.due(t0() + secs(5));
    assert_eq!(due.len(), 2);
    // createdAfter covers the oldest run of each cluster.
    assert!(
        due.iter()
            .all(|p| p.created_after == t0() - CREATED_AFTER_SLACK)
    );
}

#[test]
fn changes_trigger_only_their_object_and_unchanged_runs_stay_quiet() {
    let mut r = Tracker::new(cadence());
    r.track(key("vc1", "a"), obj("a"), t0(), t0());
    r.track(key("vc1", "b"), obj("b"), t0(), t0());
    let now = t0() + secs(5);
    let listed = vec![
        info("vc1", "a", JobRunState::Pending, t0()),
        info("vc1", "b", JobRunState::Pending, t0()),
        info("vc1", "stranger", JobRunState::Running, t0()),
    ];
    let (changed, missing) = r.record_active("vc1", &listed, now);
    assert_eq!(changed, vec![obj("a"), obj("b")]);
    assert!(missing.is_empty());
    let listed = vec![
        info("vc1", "a", JobRunState::Running, t0()),
        info("vc1", "b", JobRunState::Pending, t0()),
    ];
    let (changed, _) = r.record_active("vc1", &listed, now + secs(5));
    assert_eq!(changed, vec![obj("a")]);
    assert_eq!(
        r.observation(&key("vc1", "a")),
        Some(&Observation::Seen(info(
            "vc1",
            "a",
            JobRunState::Running,
            t0()
        )))
    );
}

#[test]
fn cadence_slows_once_runs_are_old() {
    let mut r = Tracker::new(cadence());
    r.track(key("vc1", "a"), obj("a"), t0(), t0());
    let young = t0() + secs(60);
    r.record_active(
        "vc1",
        &[info("vc1", "a", JobRunState::Running, t0())],
        young,
    );
    assert_eq!(r.next_poll_at(), Some(young + secs(5)));
    let old = t0() + secs(600);
    r.record_active("vc1", &[info("vc1", "a", JobRunState::Running, t0())], old);
    assert_eq!(r.next_poll_at(), Some(old + secs(30)));
    // A new run in the same cluster brings the young cadence back at once.
    r.track(key("vc1", "b"), obj("b"), old + secs(1), old + secs(1));
    assert_eq!(r.next_poll_at(), Some(old + secs(6)));
}

#[test]
fn runs_missing_from_the_active_list_are_fetched_once_then_cost_nothing() {
    let mut r = Tracker::new(cadence());
    r.track(key("vc1", "a"), obj("a"), t0(), t0());
    let now = t0() + secs(10);
    let (_, missing) = r.record_active("vc1", &[], now);
    assert_eq!(missing, vec![key("vc1", "a")]);
    assert_eq!(
        r.plan_missing(missing, now),
        MissingPlan::Describe(vec![key("vc1", "a")])
    );
    let mut done = info("vc1", "a", JobRunState::Completed, t0());
    done.finished_at = Some(now);
    let changed = r.record_described(&key("vc1", "a"), Observation::Seen(done.clone()), now);
    assert_eq!(changed, [obj("a")]);
    // Finished: no longer polled, the schedule is gone, the observation stays for the reconcile.
    assert_eq!(r.active_runs(), 0);
    assert_eq!(r.next_poll_at(), None);
    assert!(r.due(now + secs(3600)).is_empty());
    assert_eq!(
        r.observation(&key("vc1", "a")),
        Some(&Observation::Seen(done))
    );
    // A stale reconcile tracking it again does not restart polling.
    r.track(key("vc1", "a"), obj("a"), t0(), now);
    assert_eq!(r.active_runs(), 0);
    r.forget(&key("vc1", "a"));
    assert_eq!(r.observation(&key("vc1", "a")), None);
}

#[test]
fn many_finished_runs_are_fetched_with_one_list() {
    let mut r = Tracker::new(cadence());
    for (i, id) in ["a", "b", "c"].iter().enumerate() {
        r.track(key("vc1", id), obj(id), t0() + secs(i as i64), t0());
    }
    let now = t0() + secs(10);
    let (_, missing) = r.record_active("vc1", &[], now);
    let MissingPlan::ListFinished {
        created_after,
        keys,
    } = r.plan_missing(missing, now)
    else {
        panic!("expected one list")
    };
    assert_eq!(created_after, t0() - CREATED_AFTER_SLACK);
    let listed = vec![
        info("vc1", "a", JobRunState::Completed, t0()),
        info("vc1", "b", JobRunState::Failed, t0()),
    ];
    let (changed, still) = r.record_finished("vc1", &listed, keys, now);
    assert_eq!(changed, vec![obj("a"), obj("b")]);
    assert_eq!(still, vec![key("vc1", "c")]);
    let changed = r.record_described(&key("vc1", "c"), Observation::NotFound, now);
    assert_eq!(changed, [obj("c")]);
    assert_eq!(r.next_poll_at(), None);
}

#[test]
fn failures_back_off_and_success_resets() {
    let mut r = Tracker::new(cadence());
    r.track(key("vc1", "a"), obj("a"), t0(), t0());
    let now = t0() + secs(5);
    r.record_failure("vc1", Duration::from_secs(20), now);
    r.record_failure("vc1", Duration::from_secs(40), now);
    assert_eq!(r.failures("vc1"), 2);
    assert_eq!(r.next_poll_at(), Some(now + secs(40)));
    r.record_active(
        "vc1",
        &[info("vc1", "a", JobRunState::Running, t0())],
        now + secs(40),
    );
    assert_eq!(r.failures("vc1"), 0);
}

#[test]
fn poll_soon_and_cancel_bookkeeping() {
    let mut r = Tracker::new(cadence());
    r.track(key("vc1", "a"), obj("a"), t0(), t0());
    r.record_active(
        "vc1",
        &[info("vc1", "a", JobRunState::Running, t0())],
        t0() + secs(600),
    );
    r.poll_soon("vc1", t0() + secs(601));
    assert_eq!(r.next_poll_at(), Some(t0() + secs(606)));
    assert!(!r.cancel_requested(&key("vc1", "a")));
    r.note_cancel_requested(&key("vc1", "a"));
    assert!(r.cancel_requested(&key("vc1", "a")));
    r.forget(&key("vc1", "a"));
    assert!(!r.cancel_requested(&key("vc1", "a")));
}

#[test]
fn uncollected_observations_are_pruned() {
    let mut r = Tracker::new(cadence());
    r.track(key("vc1", "a"), obj("a"), t0(), t0());
    r.record_described(&key("vc1", "a"), Observation::NotFound, t0());
    r.prune(t0() + secs(60), TimeDelta::hours(1));
    assert!(r.observation(&key("vc1", "a")).is_some());
    r.prune(t0() + secs(7200), TimeDelta::hours(1));
    assert!(r.observation(&key("vc1", "a")).is_none());
}

#[test]
fn who_tracked_a_run_is_known_until_it_is_forgotten() {
    let mut r = Tracker::new(cadence());
    assert_eq!(r.tracked_by(&key("vc1", "a")), None);
    r.track(key("vc1", "a"), obj("a"), t0(), t0());
    assert_eq!(r.tracked_by(&key("vc1", "a")), Some(&obj("a")));
    // Seen finished: no longer polled, still known to be a's until a forgets it.
    let done = info("vc1", "a", JobRunState::Completed, t0());
    r.record_described(&key("vc1", "a"), Observation::Seen(done), t0());
    assert_eq!(r.active_runs(), 0);
    assert_eq!(r.tracked_by(&key("vc1", "a")), Some(&obj("a")));
    r.forget(&key("vc1", "a"));
    assert_eq!(r.tracked_by(&key("vc1", "a")), None);
}

#[test]
fn a_gone_virtual_cluster_lists_its_runs_for_describing() {
    let mut r = Tracker::new(cadence());
    r.track(key("vc1", "a"), obj("a"), t0(), t0());
    r.track(key("vc2", "b"), obj("b"), t0(), t0());
    assert_eq!(r.tracked_in("vc1"), vec![key("vc1", "a")]);
}

#[test]
fn deleted_objects_leave_nothing_behind() {
    let mut r = Tracker::new(cadence());
    r.track(key("vc1", "a"), obj("a"), t0(), t0());
    r.track(key("vc1", "b"), obj("b"), t0(), t0());
    r.track(key("vc2", "c"), obj("c"), t0(), t0());
    r.note_cancel_requested(&key("vc1", "a"));
    // b finished: only its observation is left, waiting for its reconcile.
    r.record_described(&key("vc1", "b"), Observation::NotFound, t0());
    r.forget_objects(|o| o.name == "c");
    assert_eq!(r.observation(&key("vc1", "b")), None);
    assert!(!r.cancel_requested(&key("vc1", "a")));
    assert_eq!(r.tracked_in("vc1"), Vec::<JobKey>::new());
    let sizes: Vec<usize> = r.sizes().iter().map(|(_, n)| *n).collect();
    assert_eq!(sizes, vec![0, 1, 0, 1, 0], "{:?}", r.sizes());
    r.forget_objects(|_| false);
    assert!(r.sizes().iter().all(|(_, n)| *n == 0), "{:?}", r.sizes());
}

#[test]
fn extreme_times_and_intervals_do_not_overflow() {
    let huge = Cadence {
        poll_interval: Duration::MAX,
        young_poll_interval: Duration::MAX,
        young_job_age: Duration::MAX,
    };
    let mut r = Tracker::new(huge);
    let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    r.track(key("vc1", "a"), obj("a"), min, max);
    r.track(key("vc1", "b"), obj("b"), max, min);
    r.poll_soon("vc1", max);
    r.record_failure("vc1", Duration::MAX, max);
    let _ = r.due(max);
    let _ = r.record_active("vc1", &[info("vc1", "a", JobRunState::Running, min)], max);
    for now in [min, max] {
        let _ = r.plan_missing(vec![key("vc1", "a"), key("vc1", "b"), key("vc1", "x")], now);
    }
    r.prune(min, TimeDelta::MAX);
    assert_eq!(created_after(min), min);
}
