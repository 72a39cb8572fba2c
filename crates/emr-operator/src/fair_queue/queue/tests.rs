#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use proptest::prelude::*;

use super::*;

fn key(tenant: &str, i: usize) -> String {
    format!("{tenant}/{i}")
}

fn tenant_of(key: &str) -> &str {
    key.split('/').next().unwrap()
}

fn push(q: &mut FairQueue<String>, key: &str, lane: Lane, now: Instant) {
    q.push(key.to_owned(), tenant_of(key), lane, now);
}

/// Pops and finishes `n` objects of `lane`, returning their tenants in order.
fn drain(q: &mut FairQueue<String>, lane: Lane, n: usize, now: Instant) -> Vec<String> {
    let mut tenants = Vec::new();
    while tenants.len() < n {
        let Some(d) = q.pop(lane, now) else { break };
        q.done(&d.key, now, None);
        tenants.push(d.tenant);
    }
    tenants
}

#[test]
fn one_pending_object_waits_for_one_object_of_a_tenant_with_a_backlog() {
    let now = Instant::now();
    let mut q = FairQueue::default();
    for i in 0..4000 {
        push(&mut q, &key("a", i), Lane::Changes, now);
    }
    push(&mut q, "b/0", Lane::Changes, now);
    assert_eq!(drain(&mut q, Lane::Changes, 3, now), ["a", "b", "a"]);
}

#[test]
fn tenants_are_served_in_turn() {
    let now = Instant::now();
    let mut q = FairQueue::default();
    for tenant in ["a", "b", "c"] {
        for i in 0..3 {
            push(&mut q, &key(tenant, i), Lane::Changes, now);
        }
    }
    assert_eq!(
        drain(&mut q, Lane::Changes, 9, now),
        ["a", "b", "c", "a", "b", "c", "a", "b", "c"]
    );
    assert!(q.pop(Lane::Changes, now).is_none());
    assert!(q.is_empty());
}

#[test]
fn a_share_is_the_number_of_objects_per_turn() {
    let now = Instant::now();
    let mut q = FairQueue::default();
    q.set_tenants(HashMap::from([(
        "a".to_owned(),
        TenantInfo {
            share: 3,
            virtual_cluster: Some("vc-a".into()),
        },
    )]));
    for i in 0..6 {
        push(&mut q, &key("a", i), Lane::Changes, now);
        push(&mut q, &key("b", i), Lane::Changes, now);
    }
    assert_eq!(
        drain(&mut q, Lane::Changes, 8, now),
        ["a", "a", "a", "b", "a", "a", "a", "b"]
    );
}

#[test]
fn a_share_beyond_the_maximum_is_capped() {
    let now = Instant::now();
    let mut q = FairQueue::default();
    q.set_tenants(HashMap::from([(
        "a".to_owned(),
        TenantInfo {
            share: u32::MAX,
            virtual_cluster: None,
        },
    )]));
    for i in 0..200 {
        push(&mut q, &key("a", i), Lane::Changes, now);
    }
    push(&mut q, "b/0", Lane::Changes, now);
    let order = drain(&mut q, Lane::Changes, 200, now);
    let b_at = order.iter().position(|t| t == "b").unwrap();
    assert_eq!(b_at, MAX_SHARE as usize);
}

#[test]
fn an_object_is_reconciled_once_at_a_time_and_again_after() {
    let now = Instant::now();
    let mut q = FairQueue::default();
    push(&mut q, "a/x", Lane::Changes, now);
    let first = q.pop(Lane::Changes, now).unwrap();
    // Changes while it runs, in both lanes: held, not handed out.
    push(&mut q, "a/x", Lane::Changes, now);
    push(&mut q, "a/x", Lane::Polled, now);
    assert!(q.pop(Lane::Changes, now).is_none());
    assert!(q.pop(Lane::Polled, now).is_none());
    q.done(&first.key, now, None);
    // One reconcile then serves both requests.
    let second = q.pop(Lane::Changes, now).unwrap();
    assert_eq!(second.key, "a/x");
    assert!(q.pop(Lane::Polled, now).is_none());
    q.done(&second.key, now, None);
    assert!(q.is_empty());
}

#[test]
fn a_request_for_a_waiting_object_keeps_its_place() {
    let now = Instant::now();
    let mut q = FairQueue::default();
    push(&mut q, "a/x", Lane::Changes, now);
    push(&mut q, "a/y", Lane::Changes, now);
    push(&mut q, "a/x", Lane::Changes, now + Duration::from_secs(1));
    assert_eq!(q.pop(Lane::Changes, now).unwrap().key, "a/x");
    assert_eq!(q.pop(Lane::Changes, now).unwrap().key, "a/y");
    assert!(q.pop(Lane::Changes, now).is_none());
}

#[test]
fn the_polled_lane_is_not_behind_the_changes_lane() {
    let now = Instant::now();
    let mut q = FairQueue::default();
    for i in 0..100 {
        push(&mut q, &key("a", i), Lane::Changes, now);
    }
    push(&mut q, "a/finished", Lane::Polled, now);
    assert_eq!(q.pop(Lane::Polled, now).unwrap().key, "a/finished");
}

#[test]
fn an_object_handed_out_by_one_lane_leaves_the_other() {
    let now = Instant::now();
    let mut q = FairQueue::default();
    push(&mut q, "a/x", Lane::Changes, now);
    push(&mut q, "a/x", Lane::Polled, now);
    let d = q.pop(Lane::Polled, now).unwrap();
    assert!(q.pop(Lane::Changes, now).is_none());
    assert!(q.load(now).is_empty());
    q.done(&d.key, now, None);
    assert!(q.is_empty());
}

#[test]
fn a_requeue_falls_due_after_its_delay() {
    let now = Instant::now();
    let mut q = FairQueue::default();
    push(&mut q, "a/x", Lane::Changes, now);
    let d = q.pop(Lane::Changes, now).unwrap();
    q.done(&d.key, now, Some(Duration::from_secs(5)));
    assert_eq!(q.next_due(), Some(now + Duration::from_secs(5)));
    q.promote_due(now + Duration::from_secs(4));
    assert!(q.pop(Lane::Changes, now + Duration::from_secs(4)).is_none());
    q.promote_due(now + Duration::from_secs(5));
    let again = q.pop(Lane::Changes, now + Duration::from_secs(7)).unwrap();
    assert_eq!(again.key, "a/x");
    assert_eq!(again.waited, Duration::from_secs(2));
}

#[test]
fn a_reconcile_replaces_the_pending_requeue() {
    let now = Instant::now();
    let mut q = FairQueue::default();
    push(&mut q, "a/x", Lane::Changes, now);
    let d = q.pop(Lane::Changes, now).unwrap();
    q.done(&d.key, now, Some(Duration::from_secs(60)));
    push(&mut q, "a/x", Lane::Changes, now);
    let d = q.pop(Lane::Changes, now).unwrap();
    q.done(&d.key, now, None);
    q.promote_due(now + Duration::from_secs(61));
    assert!(
        q.pop(Lane::Changes, now + Duration::from_secs(61))
            .is_none()
    );
    assert!(q.is_empty());
}

#[test]
fn a_requeue_beyond_what_time_can_hold_means_never() {
    let now = Instant::now();
    let mut q = FairQueue::default();
    push(&mut q, "a/x", Lane::Changes, now);
    let d = q.pop(Lane::Changes, now).unwrap();
    q.done(&d.key, now, Some(Duration::MAX));
    assert_eq!(q.next_due(), None);
    assert!(q.is_empty());
}

#[test]
fn load_shows_depth_and_oldest_wait_per_tenant() {
    let now = Instant::now();
    let mut q = FairQueue::default();
    q.set_tenants(HashMap::from([(
        "a".to_owned(),
        TenantInfo {
            share: 1,
            virtual_cluster: Some("team-a".into()),
        },
    )]));
    push(&mut q, "a/1", Lane::Changes, now);
    push(&mut q, "a/2", Lane::Polled, now + Duration::from_secs(1));
    push(&mut q, "b/1", Lane::Changes, now + Duration::from_secs(2));
    let load = q.load(now + Duration::from_secs(10));
    assert_eq!(
        load,
        [
            TenantLoad {
                tenant: "a".into(),
                virtual_cluster: Some("team-a".into()),
                depth: 2,
                oldest_wait: Duration::from_secs(10),
            },
            TenantLoad {
                tenant: "b".into(),
                virtual_cluster: None,
                depth: 1,
                oldest_wait: Duration::from_secs(8),
            },
        ]
    );
}

#[test]
fn dropped_timers_do_not_pile_up() {
    let now = Instant::now();
    let mut q = FairQueue::default();
    for round in 0..5000u64 {
        push(&mut q, "a/x", Lane::Changes, now);
        let d = q.pop(Lane::Changes, now).unwrap();
        // Each reconcile asks for a later requeue than the one it replaced.
        q.done(&d.key, now, Some(Duration::from_secs(600 + round)));
    }
    assert!(q.timers_len() <= 1026, "{}", q.timers_len());
}

#[test]
fn deleted_objects_are_forgotten_with_their_requeues() {
    let now = Instant::now();
    let mut q = FairQueue::default();
    for i in 0..3 {
        push(&mut q, &key("a", i), Lane::Changes, now);
    }
    let d = q.pop(Lane::Changes, now).unwrap();
    q.done(&d.key, now, Some(Duration::from_secs(600)));
    push(&mut q, "b/0", Lane::Polled, now);
    q.retain(|k| k == "a/2");
    assert_eq!(q.len(), 1);
    assert_eq!(q.timers_len(), 0, "the deleted object's requeue is dropped");
    assert_eq!(q.load(now).len(), 1);
    assert_eq!(q.pop(Lane::Changes, now).unwrap().key, "a/2");
    assert!(q.pop(Lane::Polled, now).is_none());
}

#[derive(Debug, Clone)]
enum Op {
    Push(u8, u8, bool),
    Pop(bool),
    Done(u8, Option<u8>),
    Tick(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..4u8, 0..6u8, any::<bool>()).prop_map(|(t, o, l)| Op::Push(t, o, l)),
        any::<bool>().prop_map(Op::Pop),
        (0..24u8, proptest::option::of(0..20u8)).prop_map(|(i, r)| Op::Done(i, r)),
        (0..30u8).prop_map(Op::Tick),
    ]
}

proptest! {
    /// Whatever the order of events: an object is never handed out while it runs, every
    /// request is eventually served, and nothing is kept once everything is done.
    #[test]
    fn never_twice_at_once_and_nothing_lost(ops in proptest::collection::vec(op(), 0..300)) {
        let start = Instant::now();
        let mut now = start;
        let mut q = FairQueue::default();
        let mut running: Vec<String> = Vec::new();
        let mut owed: HashSet<String> = HashSet::new();
        let lane = |polled: bool| if polled { Lane::Polled } else { Lane::Changes };
        for op in ops {
            match op {
                Op::Push(t, o, polled) => {
                    let k = format!("t{t}/o{o}");
                    push(&mut q, &k, lane(polled), now);
                    owed.insert(k);
                }
                Op::Pop(polled) => {
                    if let Some(d) = q.pop(lane(polled), now) {
                        prop_assert!(!running.contains(&d.key), "{} handed out twice", d.key);
                        owed.remove(&d.key);
                        running.push(d.key);
                    }
                }
                Op::Done(i, requeue) => {
                    if !running.is_empty() {
                        let k = running.remove(usize::from(i) % running.len());
                        q.done(&k, now, requeue.map(|s| Duration::from_secs(u64::from(s))));
                    }
                }
                Op::Tick(s) => {
                    now += Duration::from_secs(u64::from(s));
                    q.promote_due(now);
                }
            }
        }
        // Finish everything and drain: every owed request is served.
        for k in std::mem::take(&mut running) {
            q.done(&k, now, None);
        }
        for _ in 0..1000 {
            let Some(d) = q.pop(Lane::Changes, now).or_else(|| q.pop(Lane::Polled, now)) else {
                break;
            };
            owed.remove(&d.key);
            q.done(&d.key, now, None);
        }
        prop_assert!(owed.is_empty(), "never served: {owed:?}");
        // Requeues still pending fire, then nothing is left.
        now += Duration::from_secs(3600);
        q.promote_due(now);
        while let Some(d) = q.pop(Lane::Changes, now) {
            q.done(&d.key, now, None);
        }
        prop_assert!(q.is_empty());
        prop_assert!(q.load(now).is_empty());
    }
}
