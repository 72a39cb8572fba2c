use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::ObjectMeta;
use tokio::time::Instant;

use super::*;

const SECOND: Duration = Duration::from_secs(1);

/// A Lease held by `holder` whose `renewTime` says `renewed_ms` (the holder's wall clock).
fn lease(version: &str, holder: Option<&str>, renewed_ms: i64, seconds: i32) -> Lease {
    Lease {
        metadata: ObjectMeta {
            resource_version: Some(version.into()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: holder.map(str::to_string),
            renew_time: Timestamp::from_millisecond(renewed_ms).ok().map(MicroTime),
            lease_duration_seconds: Some(seconds),
            ..Default::default()
        }),
    }
}

/// What a standby decides at `now` after reading `lease`, with what it had observed before.
fn standby(
    previous: Option<Observation>,
    lease: &Lease,
    now: Instant,
) -> (LeaseAction, Observation) {
    let seen = Observation::update(previous, lease, now);
    let action = decide(lease.spec.as_ref(), seen.at, "a", 15 * SECOND, now);
    (action, seen)
}

#[test]
fn no_lease_is_created() {
    let now = Instant::now();
    assert_eq!(
        decide(None, now, "a", 15 * SECOND, now),
        LeaseAction::Create
    );
}

#[test]
fn own_lease_is_renewed_even_if_expired() {
    let t0 = Instant::now();
    let l = lease("1", Some("a"), 0, 15);
    assert_eq!(
        decide(l.spec.as_ref(), t0, "a", 15 * SECOND, t0 + 1000 * SECOND),
        LeaseAction::Renew
    );
}

#[test]
fn a_released_lease_is_taken_over_at_once() {
    let t0 = Instant::now();
    let (action, _) = standby(None, &lease("1", None, 0, 15), t0);
    assert_eq!(action, LeaseAction::TakeOver);
}

#[test]
fn a_lease_first_seen_now_is_valid_for_its_whole_duration_whatever_its_renew_time() {
    // The holder's clock says it renewed in 1970: by wall clocks the Lease is long expired.
    let t0 = Instant::now();
    let old = lease("7", Some("b"), 0, 15);
    let (action, seen) = standby(None, &old, t0);
    assert_eq!(action, LeaseAction::Wait { holder: "b".into() });
    let (action, seen) = standby(Some(seen), &old, t0 + 14 * SECOND);
    assert_eq!(action, LeaseAction::Wait { holder: "b".into() });
    let (action, _) = standby(Some(seen), &old, t0 + 15 * SECOND);
    assert_eq!(action, LeaseAction::TakeOver);
}

#[test]
fn a_holder_clock_far_ahead_does_not_keep_a_dead_lease_alive() {
    // renewTime a year in the future: a wall-clock rule would wait a year.
    let year_ms = 365 * 24 * 3600 * 1000;
    let now_ms = Timestamp::now().as_millisecond();
    let t0 = Instant::now();
    let ahead = lease("9", Some("b"), now_ms + year_ms, 15);
    let (_, seen) = standby(None, &ahead, t0);
    let (action, _) = standby(Some(seen), &ahead, t0 + 15 * SECOND);
    assert_eq!(action, LeaseAction::TakeOver);
}

#[test]
fn every_renewal_restarts_the_standbys_count_even_with_the_same_renew_time() {
    // A holder whose clock stands still writes the same renewTime; the resourceVersion
    // still moves, and that is what the standby goes by.
    let t0 = Instant::now();
    let (_, seen) = standby(None, &lease("1", Some("b"), 5_000, 15), t0);
    let (action, seen) = standby(
        Some(seen),
        &lease("2", Some("b"), 5_000, 15),
        t0 + 10 * SECOND,
    );
    assert_eq!(action, LeaseAction::Wait { holder: "b".into() });
    assert_eq!(seen.at, t0 + 10 * SECOND);
    let (action, seen) = standby(
        Some(seen),
        &lease("2", Some("b"), 5_000, 15),
        t0 + 24 * SECOND,
    );
    assert_eq!(action, LeaseAction::Wait { holder: "b".into() });
    let (action, _) = standby(
        Some(seen),
        &lease("2", Some("b"), 5_000, 15),
        t0 + 25 * SECOND,
    );
    assert_eq!(action, LeaseAction::TakeOver);
}

#[test]
fn the_holders_lease_duration_counts_and_a_broken_one_falls_back() {
    let t0 = Instant::now();
    let short = lease("1", Some("b"), 0, 4);
    assert_eq!(
        decide(short.spec.as_ref(), t0, "a", 15 * SECOND, t0 + 4 * SECOND),
        LeaseAction::TakeOver
    );
    for seconds in [0, -5] {
        let broken = lease("1", Some("b"), 0, seconds);
        assert_eq!(
            decide(broken.spec.as_ref(), t0, "a", 15 * SECOND, t0 + 14 * SECOND),
            LeaseAction::Wait { holder: "b".into() },
            "leaseDurationSeconds {seconds}"
        );
    }
    let huge = lease("1", Some("b"), 0, i32::MAX);
    assert_eq!(
        decide(huge.spec.as_ref(), t0, "a", 15 * SECOND, t0 + 1000 * SECOND),
        LeaseAction::Wait { holder: "b".into() }
    );
}

/// An apiserver that takes connections (the kernel's backlog) and never answers.
fn silent_apiserver() -> (std::net::TcpListener, kube::Client) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    (listener, client)
}

#[tokio::test(start_paused = true)]
async fn a_leader_whose_requests_go_unanswered_gives_up_at_the_renew_deadline() {
    let (_listener, client) = silent_apiserver();
    let timing = LeaderTiming::new(15 * SECOND, None, None).unwrap();
    let elector = LeaderElector::new(client, "ns", "lease", "a", timing);
    let renewed = Instant::now();
    let error = elector.keep(renewed).await;
    assert!(
        matches!(error, LeaderError::RenewDeadlinePassed { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("no answer"), "{error}");
    // Paused clock: when the deadline passed (timers round up to the millisecond), well
    // before the Lease could expire.
    let waited = Instant::now() - renewed;
    assert!(
        waited >= timing.renew_deadline
            && waited <= timing.renew_deadline + Duration::from_millis(1),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn each_lease_request_times_out_before_the_renew_deadline() {
    let (_listener, client) = silent_apiserver();
    let timing = LeaderTiming::new(15 * SECOND, None, None).unwrap();
    let elector = LeaderElector::new(client, "ns", "lease", "a", timing);
    let started = Instant::now();
    let error = elector.try_hold().await.unwrap_err();
    assert!(
        matches!(
            error,
            LeaderError::LeaseRequestTimedOut { request: "get", .. }
        ),
        "{error}"
    );
    // Paused clock (timers round up to the millisecond).
    let waited = Instant::now() - started;
    assert!(
        waited >= timing.request_timeout() && waited < timing.renew_deadline,
        "{waited:?}"
    );
}

#[test]
fn default_timing_is_client_gos() {
    let t = LeaderTiming::new(15 * SECOND, None, None).unwrap();
    assert_eq!(t.renew_deadline, 10 * SECOND);
    assert_eq!(t.retry_period, 2 * SECOND);
    assert_eq!(t.lease_seconds(), 15);
}

#[test]
fn derived_timing_keeps_the_old_leader_stopped_before_a_standby_may_take_over() {
    for seconds in [1, 2, 3, 4, 6, 15, 60, 137, 3600] {
        let t = LeaderTiming::new(seconds * SECOND, None, None).unwrap();
        // Worst case: the standby saw the last renewal the instant it was sent.
        let leader_stops_by = t.renew_deadline;
        let standby_may_take_over_at = t.lease_duration;
        assert!(
            leader_stops_by + t.lease_duration / 5 <= standby_may_take_over_at,
            "{t:?}"
        );
        // Each request gives up before the deadline, leaving room for a retry.
        assert!(
            t.request_timeout() * 2 + t.retry_period <= t.renew_deadline,
            "{t:?}"
        );
        assert!(!t.retry_period.is_zero(), "{t:?}");
    }
}

#[test]
fn timing_that_could_overlap_is_refused() {
    let err = LeaderTiming::new(15 * SECOND, Some(15 * SECOND), None).unwrap_err();
    assert!(matches!(err, TimingError::RenewDeadline { .. }), "{err}");
    let err = LeaderTiming::new(15 * SECOND, Some(13 * SECOND), None).unwrap_err();
    assert!(matches!(err, TimingError::RenewDeadline { .. }), "{err}");
    assert!(LeaderTiming::new(15 * SECOND, Some(12 * SECOND), None).is_ok());
    let err = LeaderTiming::new(15 * SECOND, Some(Duration::ZERO), None).unwrap_err();
    assert!(matches!(err, TimingError::RenewDeadline { .. }), "{err}");
    let err = LeaderTiming::new(15 * SECOND, None, Some(6 * SECOND)).unwrap_err();
    assert!(matches!(err, TimingError::RetryPeriod { .. }), "{err}");
    let err = LeaderTiming::new(15 * SECOND, None, Some(Duration::ZERO)).unwrap_err();
    assert!(matches!(err, TimingError::RetryPeriod { .. }), "{err}");
    for bad in [Duration::ZERO, Duration::from_millis(1500)] {
        assert_eq!(
            LeaderTiming::new(bad, None, None),
            Err(TimingError::LeaseDuration(bad))
        );
    }
}
