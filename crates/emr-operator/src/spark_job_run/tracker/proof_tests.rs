//! Proofs of runs status names, from the poller's list instead of one DescribeJobRun each.

#![allow(clippy::unwrap_used)]

use emr_aws::JobRunState;

use super::*;

fn tracker() -> Tracker {
    Tracker::new(Cadence {
        poll_interval: Duration::from_secs(30),
        young_poll_interval: Duration::from_secs(5),
        young_job_age: Duration::from_secs(180),
    })
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
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

fn listed(vc: &str, id: &str, token: &str) -> JobRunInfo {
    JobRunInfo {
        id: id.into(),
        name: None,
        arn: None,
        virtual_cluster_id: vc.into(),
        state: JobRunState::Running,
        failure_reason: None,
        state_details: None,
        created_at: Some(t0()),
        finished_at: None,
        retry_attempts: None,
        client_token: Some(token.into()),
    }
}

#[test]
fn one_list_proves_every_run_of_a_virtual_cluster_after_a_restart() {
    let mut r = tracker();
    let since = t0() - TimeDelta::hours(1);
    let now = t0();
    for id in ["a", "b", "c"] {
        assert_eq!(
            r.ask_proof(&key("vc1", id), obj(id), since, now),
            Proof::Waiting { asked_at: now }
        );
    }
    // The list is due at once, and its window covers the runs status names.
    assert_eq!(
        r.due(now),
        [PollRequest {
            virtual_cluster_id: "vc1".into(),
            created_after: created_after(since),
        }]
    );
    // Asking again while waiting neither settles nor duplicates anything.
    assert_eq!(
        r.ask_proof(&key("vc1", "a"), obj("a"), since, now),
        Proof::Waiting { asked_at: now }
    );
    let (mut woken, missing) = r.record_active(
        "vc1",
        &[listed("vc1", "a", "uid-a-1"), listed("vc1", "b", "uid-x-1")],
        now,
    );
    woken.sort_by(|x, y| x.name.cmp(&y.name));
    assert_eq!(woken, [obj("a"), obj("b")]);
    // Not among the active runs (finished meanwhile, or outside the window): looked for with
    // the runs that left the list; one run alone is described.
    assert_eq!(missing, [key("vc1", "c")]);
    assert_eq!(
        r.ask_proof(&key("vc1", "c"), obj("c"), since, now),
        Proof::Waiting { asked_at: now }
    );
    assert_eq!(
        r.plan_missing(missing.clone(), now),
        MissingPlan::Describe(missing)
    );
    assert_eq!(
        r.record_described(&key("vc1", "c"), Observation::NotFound, now),
        [obj("c")]
    );
    // The list's word is handed out as it is (the reconcile judges the token), once.
    assert_eq!(
        r.ask_proof(&key("vc1", "a"), obj("a"), since, now),
        Proof::Listed(Box::new(listed("vc1", "a", "uid-a-1")))
    );
    assert_eq!(
        r.ask_proof(&key("vc1", "b"), obj("b"), since, now),
        Proof::Listed(Box::new(listed("vc1", "b", "uid-x-1")))
    );
    // EMR does not know it: the reconcile asks itself and acts on the answer.
    assert_eq!(
        r.ask_proof(&key("vc1", "c"), obj("c"), since, now),
        Proof::Unsettled
    );
    assert!(r.sizes().iter().all(|(_, n)| *n == 0), "{:?}", r.sizes());
    assert_eq!(r.next_poll_at(), None, "nothing left to poll");
}

#[test]
fn a_failed_list_keeps_the_proof_waiting_and_its_backoff() {
    let mut r = tracker();
    let now = t0();
    r.ask_proof(&key("vc1", "a"), obj("a"), now, now);
    r.record_failure("vc1", Duration::from_secs(20), now);
    // Still waiting (the reconcile describes once it has waited long enough), and a new ask
    // does not bring the list of a failing virtual cluster forward.
    assert_eq!(
        r.ask_proof(&key("vc1", "b"), obj("b"), now, now),
        Proof::Waiting { asked_at: now }
    );
    assert_eq!(
        r.ask_proof(&key("vc1", "a"), obj("a"), now, now),
        Proof::Waiting { asked_at: now }
    );
    assert_eq!(r.next_poll_at(), Some(now + TimeDelta::seconds(20)));
    assert!(r.due(now).is_empty());
}

#[test]
fn proofs_wait_only_for_their_own_virtual_cluster_and_go_with_their_object() {
    let mut r = tracker();
    let now = t0();
    r.ask_proof(&key("vc1", "a"), obj("a"), now, now);
    r.ask_proof(&key("vc2", "b"), obj("b"), now, now);
    let (woken, missing) = r.record_active("vc2", &[], now);
    assert!(woken.is_empty());
    assert_eq!(missing, [key("vc2", "b")]);
    assert_eq!(
        r.record_described(&key("vc2", "b"), Observation::NotFound, now),
        [obj("b")]
    );
    assert_eq!(
        r.ask_proof(&key("vc1", "a"), obj("a"), now, now),
        Proof::Waiting { asked_at: now }
    );
    // The object went: its proof goes too (and the poll it asked for).
    r.forget_objects(|o| *o != obj("a"));
    r.forget_objects(|_| true);
    assert_eq!(
        r.sizes()[0],
        ("poller_proofs", 1),
        "b's settled proof waits for b"
    );
    r.forget_objects(|o| *o != obj("b"));
    assert_eq!(r.sizes()[0], ("poller_proofs", 0));
    // A proof nobody came back for is dropped with age.
    r.ask_proof(&key("vc1", "z"), obj("z"), now, now);
    r.prune(now + TimeDelta::hours(2), TimeDelta::hours(1));
    assert_eq!(r.sizes()[0], ("poller_proofs", 0));
    r.drop_proof(&key("vc1", "z"));
    assert_eq!(
        r.next_poll_at(),
        r.schedules.values().map(|s| s.next_poll).min()
    );
}

#[test]
fn a_tracked_run_and_a_proof_share_one_list() {
    let mut r = tracker();
    let now = t0();
    r.track(key("vc1", "tracked"), obj("t"), now, now);
    r.ask_proof(&key("vc1", "p"), obj("p"), now - TimeDelta::hours(3), now);
    let due = r.due(now);
    assert_eq!(due.len(), 1);
    assert_eq!(
        due[0].created_after,
        created_after(now - TimeDelta::hours(3))
    );
    let (woken, _) = r.record_active(
        "vc1",
        &[listed("vc1", "tracked", "t-1"), listed("vc1", "p", "p-1")],
        now,
    );
    assert!(
        woken.contains(&obj("p")) && woken.contains(&obj("t")),
        "{woken:?}"
    );
}

#[test]
fn runs_that_finished_while_the_operator_was_down_are_proven_by_one_list_of_finished_runs() {
    let mut r = tracker();
    let since = t0() - TimeDelta::minutes(10);
    let now = t0();
    let ids = ["a", "b", "c", "d", "e"];
    for id in ids {
        r.ask_proof(&key("vc1", id), obj(id), since, now);
    }
    // The active list holds only "a"; the others finished meanwhile.
    let (woken, mut missing) = r.record_active("vc1", &[listed("vc1", "a", "uid-a-1")], now);
    assert_eq!(woken, [obj("a")]);
    missing.sort();
    assert_eq!(missing, ["b", "c", "d", "e"].map(|id| key("vc1", id)));
    // One list of finished runs over the window status names, not a describe each.
    let MissingPlan::ListFinished {
        created_after: window,
        keys,
    } = r.plan_missing(missing, now)
    else {
        panic!("four proofs are worth a list");
    };
    assert_eq!(window, created_after(since));
    let finished = |id: &str| JobRunInfo {
        state: JobRunState::Completed,
        ..listed("vc1", id, &format!("uid-{id}-1"))
    };
    let (mut woken, still_missing) = r.record_finished(
        "vc1",
        &[finished("b"), finished("c"), finished("d")],
        keys,
        now,
    );
    woken.sort_by(|x, y| x.name.cmp(&y.name));
    assert_eq!(woken, [obj("b"), obj("c"), obj("d")]);
    // Listed in neither: described on its own.
    assert_eq!(still_missing, [key("vc1", "e")]);
    assert_eq!(
        r.record_described(&key("vc1", "e"), Observation::Seen(finished("e")), now),
        [obj("e")]
    );
    for id in ["b", "c", "d", "e"] {
        assert_eq!(
            r.ask_proof(&key("vc1", id), obj(id), since, now),
            Proof::Listed(Box::new(finished(id)))
        );
    }
    // Kept as the poller's observation once the reconcile has proven it: the decision sees
    // the final state without another call, and nothing is left to poll.
    r.record_proven(&key("vc1", "b"), obj("b"), finished("b"), now);
    assert_eq!(
        r.observation(&key("vc1", "b")),
        Some(&Observation::Seen(finished("b")))
    );
    assert_eq!(r.tracked_by(&key("vc1", "b")), Some(&obj("b")));
    assert_eq!(r.active_runs(), 0);
}

#[test]
fn a_list_of_finished_runs_never_reaches_back_past_its_window() {
    let mut r = tracker();
    let now = t0();
    let recent = now - TimeDelta::minutes(10);
    // A createdAt forged into status (or a very long job) must not make the list page through
    // the virtual cluster's whole history.
    let forged = DateTime::<Utc>::MIN_UTC;
    for (id, since) in [("a", recent), ("b", recent), ("old", forged)] {
        r.ask_proof(&key("vc1", id), obj(id), since, now);
    }
    let (_, missing) = r.record_active("vc1", &[], now);
    let MissingPlan::ListFinished {
        created_after: window,
        keys,
    } = r.plan_missing(missing, now)
    else {
        panic!("two recent runs are worth a list");
    };
    assert_eq!(window, created_after(recent));
    // The old one is not in the list's window: it is described after it.
    let (_, still_missing) = r.record_finished("vc1", &[], keys, now);
    assert!(
        still_missing.contains(&key("vc1", "old")),
        "{still_missing:?}"
    );
    // Only old runs: each is described, no list at all.
    for id in ["x", "y"] {
        r.ask_proof(&key("vc1", id), obj(id), forged, now);
    }
    let old = [key("vc1", "old"), key("vc1", "x"), key("vc1", "y")];
    assert_eq!(
        r.plan_missing(old.to_vec(), now),
        MissingPlan::Describe(old.to_vec())
    );
}
