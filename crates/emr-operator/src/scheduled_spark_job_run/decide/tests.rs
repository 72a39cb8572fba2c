use chrono::TimeZone;
use serde_json::json;

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    shifted(t0(), seconds)
}

fn spec(extra: serde_json::Value) -> ScheduledSparkJobRunSpec {
    let mut spec = json!({
        "schedule": "@every 10s",
        "template": {"spec": {
            "virtualCluster": {"name": "analytics"},
            "executionRoleArn": "arn:aws:iam::123456789012:role/emr-job-role",
            "releaseLabel": "emr-7.2.0-latest",
            "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": "local:///pi.py"}}
        }}
    });
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    serde_json::from_value(spec).unwrap()
}

/// A schedule `s` created at t0, its status, its children, decided at `now`.
struct World {
    spec: ScheduledSparkJobRunSpec,
    status: Option<ScheduledSparkJobRunStatus>,
    children: Vec<Child>,
    generation: i64,
}

impl World {
    fn new(extra: serde_json::Value) -> Self {
        Self {
            spec: spec(extra),
            status: None,
            children: Vec::new(),
            generation: 1,
        }
    }

    fn decide(&self, now: DateTime<Utc>) -> Plan {
        decide(&Facts {
            now,
            name: "s",
            created: t0(),
            generation: Some(self.generation),
            spec: &self.spec,
            status: self.status.as_ref(),
            children: &self.children,
        })
    }

    /// Decides at `now` and applies the plan as the I/O would (all calls succeed).
    fn step(&mut self, now: DateTime<Utc>) -> Plan {
        let plan = self.decide(now);
        for (name, _) in &plan.delete {
            self.children.retain(|c| c.name != *name);
        }
        if let Some(new) = &plan.create {
            self.children.push(Child {
                name: new.name.clone(),
                slot: new.slot,
                phase: Phase::Active,
                deleting: false,
            });
        }
        self.status = Some(plan.status.clone());
        plan
    }

    fn finish(&mut self, name: &str, phase: Phase) {
        let child = self.children.iter_mut().find(|c| c.name == name).unwrap();
        child.phase = phase;
    }

    fn created_names(&self) -> Vec<String> {
        self.children.iter().map(|c| c.name.clone()).collect()
    }
}

fn ok(at: DateTime<Utc>) -> Phase {
    Phase::Succeeded { finished: at }
}

fn failed(at: DateTime<Utc>) -> Phase {
    Phase::Failed {
        finished: at,
        cancelled: false,
    }
}

#[test]
fn a_new_schedule_waits_for_its_first_slot_and_then_runs_each_once() {
    let mut w = World::new(json!({}));
    let first = w.step(at(3));
    assert_eq!(first.create, None);
    assert_eq!(first.status.next_schedule_time, Some(at(10).into()));
    assert_eq!(first.requeue_after, Duration::from_millis(7001));
    let second = w.step(at(10));
    assert_eq!(
        second.create.as_ref().map(|c| c.name.as_str()),
        Some(format!("s-{}", at(10).timestamp()).as_str())
    );
    assert_eq!(second.status.last_schedule_time, Some(at(10).into()));
    assert_eq!(second.status.next_schedule_time, Some(at(20).into()));
    assert_eq!(second.status.active_count, 1);
    // The same moment decided again (a second reconcile) starts nothing more.
    assert_eq!(w.step(at(10)).create, None);
    assert_eq!(w.step(at(15)).create, None);
    assert_eq!(w.children.len(), 1);
}

#[test]
fn a_crash_before_status_was_written_finds_the_child_and_starts_nothing_more() {
    let mut w = World::new(json!({"concurrencyPolicy": "Forbid"}));
    w.step(at(1));
    let before = w.status.clone();
    let plan = w.step(at(10));
    assert!(plan.create.is_some());
    // The status write was lost: the next reconcile sees the old status and the new child.
    w.status = before;
    let again = w.step(at(10));
    assert_eq!(again.create, None);
    assert!(
        again.status.skipped.is_empty(),
        "{:?}",
        again.status.skipped
    );
    assert_eq!(again.status.last_schedule_time, Some(at(10).into()));
    assert_eq!(w.children.len(), 1);
}

#[test]
fn forbid_skips_a_slot_while_a_run_is_active_and_records_it() {
    let mut w = World::new(json!({"concurrencyPolicy": "Forbid"}));
    w.step(at(1));
    w.step(at(10));
    let plan = w.step(at(20));
    assert_eq!(plan.create, None);
    assert!(plan.delete.is_empty());
    let skipped = plan.status.skipped.last().unwrap();
    assert_eq!(skipped.reason, reasons::CONCURRENCY_FORBIDDEN);
    assert_eq!(skipped.schedule_time, at(20).into());
    assert!(plan.events.iter().any(|e| e.reason == "SlotSkipped"));
    // Once the run finished, the next slot runs.
    w.finish(&slot_child_name("s", at(10)), ok(at(25)));
    assert!(w.step(at(30)).create.is_some());
    assert_eq!(w.children.len(), 2);
}

#[test]
fn replace_cancels_the_active_run_then_starts() {
    let mut w = World::new(json!({"concurrencyPolicy": "Replace"}));
    w.step(at(1));
    w.step(at(10));
    let plan = w.step(at(20));
    assert_eq!(
        plan.delete,
        vec![(slot_child_name("s", at(10)), Deletion::Replaced)]
    );
    assert_eq!(plan.create.unwrap().slot, at(20));
    assert_eq!(plan.status.active_count, 1);
    assert_eq!(plan.status.active[0].name, slot_child_name("s", at(20)));
}

#[test]
fn a_child_being_deleted_is_not_active() {
    let mut w = World::new(json!({"concurrencyPolicy": "Forbid"}));
    w.step(at(1));
    w.step(at(10));
    w.children[0].deleting = true;
    assert!(w.step(at(20)).create.is_some());
}

#[test]
fn allow_runs_alongside() {
    let mut w = World::new(json!({}));
    w.step(at(1));
    w.step(at(10));
    w.step(at(20));
    let plan = w.step(at(30));
    assert!(plan.create.is_some());
    assert_eq!(plan.status.active_count, 3);
}

#[test]
fn history_limits_keep_exactly_the_newest_finished_runs() {
    let mut w = World::new(json!({"successfulRunsHistoryLimit": 2, "failedRunsHistoryLimit": 1}));
    w.step(at(1));
    let mut deleted = Vec::new();
    for slot in 1..=6 {
        deleted.extend(w.step(at(slot * 10)).delete);
        let name = slot_child_name("s", at(slot * 10));
        let phase = if slot % 2 == 0 {
            ok(at(slot * 10 + 5))
        } else {
            failed(at(slot * 10 + 5))
        };
        w.finish(&name, phase);
    }
    let plan = w.step(at(65));
    deleted.extend(plan.delete.clone());
    let mut names: Vec<_> = deleted.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    let mut expected = vec![
        slot_child_name("s", at(10)),
        slot_child_name("s", at(20)),
        slot_child_name("s", at(30)),
    ];
    expected.sort();
    assert_eq!(names, expected);
    assert!(deleted.iter().all(|(_, why)| *why == Deletion::History));
    assert_eq!(
        w.created_names(),
        vec![
            slot_child_name("s", at(40)),
            slot_child_name("s", at(50)),
            slot_child_name("s", at(60)),
        ]
    );
    assert_eq!(plan.status.last_result.as_deref(), Some(results::SUCCEEDED));
    assert_eq!(plan.status.last_successful_time, Some(at(65).into()));
    // Limits of 0 keep nothing finished; active runs are never history.
    let mut w = World::new(json!({"successfulRunsHistoryLimit": 0, "failedRunsHistoryLimit": 0}));
    w.step(at(1));
    w.step(at(10));
    w.step(at(20));
    w.finish(&slot_child_name("s", at(10)), failed(at(21)));
    let plan = w.step(at(22));
    assert_eq!(
        plan.delete,
        vec![(slot_child_name("s", at(10)), Deletion::History)]
    );
    assert_eq!(plan.status.last_result.as_deref(), Some(results::FAILED));
}

#[test]
fn downtime_gives_at_most_one_catch_up_run() {
    let mut w = World::new(json!({}));
    w.step(at(1));
    w.step(at(10));
    // The operator was away for 60 s: six slots passed.
    let plan = w.step(at(75));
    let new = plan.create.unwrap();
    assert_eq!(new.slot, at(70));
    let missed = plan.status.skipped.last().unwrap();
    assert_eq!(missed.reason, reasons::MISSED);
    assert!(
        missed.message.starts_with("5 earlier"),
        "{}",
        missed.message
    );
    assert_eq!(plan.status.next_schedule_time, Some(at(80).into()));
    assert_eq!(w.step(at(76)).create, None);
    // A week away is the same: one run, counted up to the limit.
    let plan = w.step(at(7 * 24 * 3600 + 3));
    assert!(plan.create.is_some());
    assert!(
        plan.status
            .skipped
            .last()
            .unwrap()
            .message
            .starts_with("at least")
    );
}

#[test]
fn starting_deadline_skips_a_late_slot() {
    let mut w = World::new(json!({"startingDeadlineSeconds": 5}));
    w.step(at(1));
    let plan = w.step(at(17));
    assert_eq!(plan.create, None);
    assert_eq!(
        plan.status.skipped.last().unwrap().reason,
        reasons::MISSED_STARTING_DEADLINE
    );
    // In time, it runs.
    assert!(w.step(at(24)).create.is_some());
}

#[test]
fn suspend_starts_nothing_and_resuming_does_not_catch_up() {
    let mut w = World::new(json!({"suspend": true}));
    w.step(at(1));
    let plan = w.step(at(55));
    assert_eq!(plan.create, None);
    assert_eq!(plan.status.next_schedule_time, None);
    assert_eq!(
        condition::find(&plan.status.conditions, condition_types::READY)
            .unwrap()
            .reason,
        reasons::SUSPENDED
    );
    w.spec.suspend = false;
    let plan = w.step(at(56));
    assert_eq!(plan.create, None);
    assert_eq!(plan.status.next_schedule_time, Some(at(60).into()));
    assert!(w.step(at(60)).create.is_some());
    // Looked at once while suspended (nothing wakes a suspended schedule at its slots), then
    // resumed long after: still no catch-up.
    w.spec.suspend = true;
    w.step(at(61));
    w.spec.suspend = false;
    let plan = w.step(at(95));
    assert_eq!(plan.create, None);
    assert!(
        plan.status
            .skipped
            .iter()
            .all(|s| s.reason != reasons::MISSED)
    );
    assert_eq!(plan.status.next_schedule_time, Some(at(100).into()));
}

#[test]
fn an_invalid_schedule_is_a_condition_and_a_fix_resumes_from_the_fix() {
    let mut w = World::new(json!({"schedule": "61 * * * *"}));
    let plan = w.step(at(1));
    let valid = condition::find(&plan.status.conditions, condition_types::SCHEDULE_VALID).unwrap();
    assert_eq!(valid.status, ConditionStatus::False);
    assert_eq!(valid.reason, reasons::INVALID_SCHEDULE);
    assert!(valid.message.contains("61 * * * *"), "{}", valid.message);
    assert_eq!(plan.events.len(), 1);
    assert!(plan.events[0].warning);
    // Seen again, no second Event.
    assert!(w.step(at(2)).events.is_empty());
    w.spec.schedule = "@every 10s".into();
    w.generation = 2;
    let plan = w.step(at(33));
    assert_eq!(plan.create, None, "slots before the fix are not caught up");
    assert!(condition::is_true(
        &plan.status.conditions,
        condition_types::SCHEDULE_VALID
    ));
    assert_eq!(plan.status.next_schedule_time, Some(at(40).into()));
    assert!(w.step(at(40)).create.is_some());
}

#[test]
fn editing_the_schedule_moves_the_next_time_without_catching_up() {
    let mut w = World::new(json!({"schedule": "0 3 * * *"}));
    w.step(at(1));
    assert_eq!(
        w.status.as_ref().unwrap().next_schedule_time,
        Some(at(3 * 3600).into())
    );
    w.spec.schedule = "0 2 * * *".into();
    w.spec.time_zone = Some("Europe/Berlin".into());
    // 02:30 UTC: 02:00 UTC has passed, but it belongs to the new schedule only from now.
    let plan = w.step(at(2 * 3600 + 1800));
    assert_eq!(plan.create, None);
    // 02:00 Berlin (CET, UTC+1) is 01:00Z tomorrow.
    assert_eq!(plan.status.next_schedule_time, Some(at(25 * 3600).into()));
}

#[test]
fn run_now_starts_one_run_per_new_value_under_the_policy() {
    let mut w = World::new(json!({"schedule": "@daily", "runNow": "first"}));
    // The value present at creation starts nothing.
    assert_eq!(w.step(at(1)).create, None);
    w.spec.run_now = Some("again".into());
    w.generation = 2;
    let plan = w.step(at(5));
    let new = plan.create.unwrap();
    assert!(new.manual);
    assert_eq!(new.name, manual_child_name("s", Some(2), "again"));
    assert!(new.name.starts_with("s-manual-"));
    assert_eq!(w.step(at(6)).create, None);
    // Forbid: a request while a run is active is skipped and recorded, not kept for later.
    w.spec.concurrency_policy = ConcurrencyPolicy::Forbid;
    w.spec.run_now = Some("third".into());
    w.generation = 3;
    let plan = w.step(at(7));
    assert_eq!(plan.create, None);
    assert_eq!(plan.status.observed_run_now.as_deref(), Some("third"));
    assert_eq!(
        plan.status.skipped.last().unwrap().reason,
        reasons::CONCURRENCY_FORBIDDEN
    );
    // The same value set again later (a new generation) is a new request.
    assert_ne!(
        manual_child_name("s", Some(2), "x"),
        manual_child_name("s", Some(5), "x")
    );
}

#[test]
fn run_now_and_a_slot_at_once_start_one_each_over_two_reconciles() {
    let mut w = World::new(json!({}));
    w.step(at(1));
    w.spec.run_now = Some("now".into());
    let plan = w.step(at(10));
    assert!(!plan.create.as_ref().unwrap().manual);
    assert_eq!(plan.requeue_after, Duration::from_secs(1));
    let plan = w.step(at(11));
    assert!(plan.create.unwrap().manual);
    assert_eq!(w.children.len(), 2);
}

#[test]
fn reserved_template_keys_and_long_names_are_refused() {
    let w = World::new(json!({"template": {
        "metadata": {"labels": {"emr-on-eks.dev/scheduled-spark-job-run": "other"}},
        "spec": spec(json!({})).template.spec
    }}));
    let plan = w.decide(at(20));
    assert_eq!(plan.create, None);
    assert_eq!(
        condition::find(&plan.status.conditions, condition_types::READY)
            .unwrap()
            .reason,
        reasons::INVALID_TEMPLATE
    );
    let w = World::new(json!({}));
    let long = "x".repeat(53);
    let plan = decide(&Facts {
        now: at(20),
        name: &long,
        created: t0(),
        generation: Some(1),
        spec: &w.spec,
        status: None,
        children: &[],
    });
    assert_eq!(plan.create, None);
    assert_eq!(
        plan.status.message.as_deref().map(|m| m.contains("52")),
        Some(true)
    );
}

#[test]
fn a_dst_day_in_new_york_runs_its_slot_once() {
    let mut w = World::new(json!({"schedule": "30 2 * * *", "timeZone": "America/New_York"}));
    let start = Utc.with_ymd_and_hms(2026, 3, 7, 12, 0, 0).unwrap();
    let plan = decide(&Facts {
        now: start,
        name: "s",
        created: start,
        generation: Some(1),
        spec: &w.spec,
        status: None,
        children: &[],
    });
    w.status = Some(plan.status);
    let mut runs = Vec::new();
    // Wake up every 10 minutes for two days.
    for step in 1..=(2 * 24 * 6) {
        let plan = w.step(shifted(start, step * 600));
        runs.extend(plan.create.map(|c| c.slot));
    }
    assert_eq!(
        runs,
        vec![
            Utc.with_ymd_and_hms(2026, 3, 8, 7, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 3, 9, 6, 30, 0).unwrap()
        ]
    );
}

#[test]
fn the_sleep_is_bounded_and_never_early() {
    assert_eq!(sleep_until(t0(), None), MAX_SLEEP);
    assert_eq!(
        sleep_until(t0(), Some(shifted(t0(), 400 * 24 * 3600))),
        MAX_SLEEP
    );
    assert_eq!(
        sleep_until(t0(), Some(shifted(t0(), -5))),
        Duration::from_millis(1)
    );
    assert_eq!(
        sleep_until(t0(), Some(shifted(t0(), 2))),
        Duration::from_millis(2001)
    );
}

#[test]
fn slots_come_from_the_annotation_else_the_creation() {
    assert_eq!(slot_of(Some("2026-03-01T00:00:10Z"), None), Some(at(10)));
    assert_eq!(slot_of(Some("garbage"), Some(at(3))), Some(at(3)));
    assert_eq!(slot_of(None, None), None);
}
