#![allow(clippy::unwrap_used, clippy::expect_used)]

use emr_api::condition::ConditionStatus;

use super::*;

const ROLE: &str = "arn:aws:iam::123456789012:role/emr-job-role";

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn secs(s: i64) -> TimeDelta {
    TimeDelta::seconds(s)
}

fn spec(extra: &str) -> SparkJobRunSpec {
    serde_saphyr::from_str(&format!(
        r#"
virtualCluster: {{name: analytics}}
executionRoleArn: {ROLE}
releaseLabel: emr-7.2.0-latest
jobDriver: {{sparkSubmitJobDriver: {{entryPoint: "local:///usr/lib/spark/examples/src/main/python/pi.py"}}}}
configurationOverrides:
  monitoringConfiguration:
    cloudWatchMonitoringConfiguration: {{logGroupName: /emr/jobs, logStreamNamePrefix: pi}}
{extra}
"#
    ))
    .unwrap()
}

fn ready() -> Resolution {
    Resolution::Ready {
        virtual_cluster_id: "vc1".into(),
    }
}

/// The inputs of one decision, owned so tests can tweak them.
struct World {
    spec: SparkJobRunSpec,
    status: SparkJobRunStatus,
    generation: i64,
    target: Option<Resolution>,
    observed: Option<Observation>,
    deleting_since: Option<DateTime<Utc>>,
    has_finalizer: bool,
    cancel_requested: bool,
    now: DateTime<Utc>,
}

impl World {
    fn new(spec: SparkJobRunSpec) -> Self {
        Self {
            spec,
            status: SparkJobRunStatus::default(),
            generation: 1,
            target: None,
            observed: None,
            deleting_since: None,
            // A new object has none: the reconciler adds it when it submits (see `step`).
            has_finalizer: false,
            cancel_requested: false,
            now: t0(),
        }
    }

    fn decide(&self) -> Decision {
        decide(&Facts {
            spec: &self.spec,
            status: &self.status,
            generation: Some(self.generation),
            created: Some(t0() - secs(60)),
            has_finalizer: self.has_finalizer,
            deleting_since: self.deleting_since,
            target: self.target.as_ref(),
            observed: self.observed.as_ref(),
            cancel_requested: self.cancel_requested,
            ttl_applies: true,
            now: self.now,
        })
    }

    /// Decides, resolving the virtual cluster as `target` when asked, and keeps the new status.
    fn step(&mut self) -> Decision {
        let mut d = self.decide();
        if d.effect == Effect::NeedVirtualCluster {
            if self.target.is_none() {
                self.target = Some(ready());
            }
            d = self.decide();
            self.target = None;
        }
        self.status = d.status.clone();
        if matches!(d.effect, Effect::Submit(_)) {
            self.has_finalizer = true;
        }
        d
    }

    /// Submits (attempt recorded) and lets EMR accept it as `job_run_id`.
    fn submit_and_start(&mut self, job_run_id: &str) {
        let d = self.step();
        assert!(matches!(d.effect, Effect::Submit(_)), "{:?}", d.effect);
        self.status = started(
            &self.spec,
            &self.status,
            Some(self.generation),
            "vc1",
            job_run_id,
            Some("arn:jr"),
        );
        self.observed = None;
    }

    fn see(&mut self, state: JobRunState, at: DateTime<Utc>) {
        let id = self.status.job_run_id.clone().unwrap();
        let terminal = state.is_terminal();
        let failure_reason = (state == JobRunState::Failed).then(|| "USER_ERROR".to_owned());
        self.observed = Some(Observation::Seen(JobRunInfo {
            id,
            name: Some("pi".into()),
            arn: Some("arn:jr".into()),
            virtual_cluster_id: "vc1".into(),
            state,
            failure_reason,
            state_details: None,
            created_at: Some(t0()),
            finished_at: terminal.then_some(at),
            retry_attempts: Some(1),
            client_token: None,
        }));
        self.now = at;
    }

    fn fail_with(&mut self, reason: &str, details: Option<&str>, at: DateTime<Utc>) {
        self.see(JobRunState::Failed, at);
        if let Some(Observation::Seen(info)) = self.observed.as_mut() {
            info.failure_reason = Some(reason.into());
            info.state_details = details.map(str::to_owned);
        }
    }

    fn cond(&self, type_: &str) -> (ConditionStatus, String) {
        let c =
            condition::find(&self.status.conditions, type_).unwrap_or_else(|| panic!("no {type_}"));
        (c.status, c.reason.clone())
    }
}

fn key(id: &str) -> JobKey {
    JobKey {
        virtual_cluster_id: "vc1".into(),
        job_run_id: id.into(),
    }
}

#[test]
fn a_new_job_looks_up_its_virtual_cluster_then_records_attempt_1_before_submitting() {
    let mut w = World::new(spec("rerun: a"));
    assert_eq!(w.decide().effect, Effect::NeedVirtualCluster);
    w.target = Some(ready());
    let d = w.decide();
    assert_eq!(
        d.effect,
        Effect::Submit(Submit {
            attempt: 1,
            virtual_cluster_id: "vc1".into(),
            recover_since: None
        })
    );
    let s = &d.status;
    assert_eq!(s.attempt, 1);
    assert_eq!(
        s.submitted_spec_fingerprint,
        Some(w.spec.submission_fingerprint())
    );
    assert_eq!(s.submitted_rerun.as_deref(), Some("a"));
    assert_eq!(s.virtual_cluster_id.as_deref(), Some("vc1"));
    assert_eq!(s.job_run_id, None);
    assert_eq!(
        s.attempts,
        vec![AttemptRecord {
            attempt: 1,
            ..Default::default()
        }]
    );
    assert_eq!(s.observed_generation, Some(1));
    assert_eq!(phase(s), Phase::Submitting);
    w.status = d.status;
    assert_eq!(
        w.cond(types::SUBMITTED),
        (ConditionStatus::Unknown, "Submitting".into())
    );
    assert_eq!(w.cond(types::SUCCEEDED).0, ConditionStatus::Unknown);
    assert_eq!(w.cond(types::FAILED).0, ConditionStatus::False);
}

#[test]
fn a_recorded_attempt_is_sent_again_with_the_same_number() {
    let mut w = World::new(spec(""));
    w.step();
    w.status.attempt = 3;
    let since = submitting_since(&w.status).unwrap();
    // The virtual cluster is resolved from the spec again, not taken from status.
    assert_eq!(w.decide().effect, Effect::NeedVirtualCluster);
    w.target = Some(ready());
    let d = w.decide();
    assert_eq!(
        d.effect,
        Effect::Submit(Submit {
            attempt: 3,
            virtual_cluster_id: "vc1".into(),
            recover_since: Some(since)
        })
    );
    assert_eq!(d.status, w.status);
}

#[test]
fn a_recorded_attempt_is_not_sent_where_the_spec_no_longer_resolves() {
    let mut w = World::new(spec(""));
    w.step();
    w.target = Some(Resolution::Refused {
        reason: reasons::EXECUTION_ROLE_NOT_ALLOWED,
        message: "role r is not allowed".into(),
    });
    let d = w.decide();
    assert_eq!(d.effect, Effect::None);
    assert_eq!(phase(&d.status), Phase::Submitting);
    assert_eq!(
        condition::find(&d.status.conditions, types::SUBMITTED)
            .map(|c| (c.status, c.reason.clone())),
        Some((
            ConditionStatus::False,
            reasons::EXECUTION_ROLE_NOT_ALLOWED.into()
        ))
    );
}

#[test]
fn invalid_specs_fail_without_any_lookup() {
    let mut w = World::new(spec("tags: {\"aws:owner\": me}"));
    let d = w.step();
    assert_eq!(d.effect, Effect::None);
    assert_eq!(d.wake, None);
    assert_eq!(
        w.cond(types::FAILED),
        (ConditionStatus::True, reasons::INVALID_SPEC.into())
    );
    assert!(
        w.status
            .message
            .as_deref()
            .unwrap()
            .contains("spec.tags[aws:owner]")
    );

    let tags: String = (0..49).map(|i| format!("t{i}: v\n  ")).collect();
    let mut w = World::new(spec(&format!("tags:\n  {tags}")));
    w.step();
    assert_eq!(w.cond(types::FAILED).1, reasons::INVALID_SPEC);
    assert!(
        w.status
            .message
            .as_deref()
            .unwrap()
            .contains("at most 48 tags")
    );
}

#[test]
fn an_unready_virtual_cluster_is_waited_for_without_a_timer() {
    let mut w = World::new(spec(""));
    w.target = Some(Resolution::Waiting {
        reason: reasons::VIRTUAL_CLUSTER_NOT_READY,
        message: "waiting".into(),
    });
    let d = w.step();
    assert_eq!((d.effect, d.wake), (Effect::None, None));
    assert_eq!(
        w.cond(types::SUBMITTED),
        (
            ConditionStatus::False,
            reasons::VIRTUAL_CLUSTER_NOT_READY.into()
        )
    );
    assert_eq!(w.cond(types::FAILED).0, ConditionStatus::False);
    assert_eq!(w.cond(types::SUCCEEDED).0, ConditionStatus::Unknown);
    assert!(waits_for_virtual_cluster(&w.status));
    // Once Ready, it submits.
    w.target = Some(ready());
    assert!(matches!(w.step().effect, Effect::Submit(_)));
}

#[test]
fn virtual_cluster_refusals_fail_with_the_reason() {
    let mut w = World::new(spec(""));
    w.target = Some(Resolution::Refused {
        reason: reasons::EXECUTION_ROLE_NOT_ALLOWED,
        message: "no".into(),
    });
    let d = w.step();
    assert_eq!((d.effect, d.wake), (Effect::None, None));
    assert_eq!(
        w.cond(types::FAILED),
        (
            ConditionStatus::True,
            reasons::EXECUTION_ROLE_NOT_ALLOWED.into()
        )
    );
    assert_eq!(w.cond(types::READY).0, ConditionStatus::False);
    assert_eq!(w.status.attempt, 0);
}

#[test]
fn a_started_run_is_tracked_and_shows_its_logs() {
    let mut w = World::new(spec(""));
    w.submit_and_start("jr1");
    assert_eq!(phase(&w.status), Phase::Active);
    assert_eq!(w.status.job_run_id.as_deref(), Some("jr1"));
    assert_eq!(w.status.attempts[0].job_run_id.as_deref(), Some("jr1"));
    assert_eq!(
        w.status
            .logs
            .as_ref()
            .and_then(|l| l.cloud_watch_log_stream_prefix.as_deref()),
        Some("pi/vc1/jobs/jr1")
    );
    assert_eq!(
        w.cond(types::SUBMITTED),
        (ConditionStatus::True, "JobRunStarted".into())
    );
    let d = w.step();
    assert_eq!(
        d.effect,
        Effect::Track {
            key: key("jr1"),
            since: t0() - secs(60)
        }
    );
    assert_eq!(d.wake, Some(ACTIVE_RESYNC));
}

#[test]
fn emr_states_are_mirrored() {
    let mut w = World::new(spec("retryPolicyConfiguration: {maxAttempts: 2}"));
    w.submit_and_start("jr1");
    // A second in, PENDING is not written yet: most runs leave it in seconds. The run is
    // looked at again when it would be.
    w.see(JobRunState::Pending, t0() + secs(1));
    let before = w.status.clone();
    let d = w.step();
    assert_eq!(w.status, before);
    assert_eq!(d.wake, Some(PRE_RUNNING_SETTLE - Duration::from_secs(1)));
    assert!(matches!(d.effect, Effect::Track { .. }), "{:?}", d.effect);
    // Still PENDING past the settle time: written.
    w.see(JobRunState::Pending, t0() + secs(12));
    let d = w.step();
    assert_eq!(
        d.effect,
        Effect::Track {
            key: key("jr1"),
            since: t0()
        }
    );
    assert_eq!(w.status.state.as_deref(), Some("PENDING"));
    assert_eq!(w.status.created_at, Some(Timestamp::from(t0())));
    assert_eq!(w.status.emr_attempt_count, Some(1));
    assert_eq!(
        w.cond(types::RUNNING),
        (ConditionStatus::False, "Pending".into())
    );
    assert_eq!(
        w.status.message.as_deref(),
        Some("job run jr1 PENDING (attempt 1)")
    );
    w.see(JobRunState::Running, t0() + secs(5));
    w.step();
    assert_eq!(
        w.cond(types::RUNNING),
        (ConditionStatus::True, "Running".into())
    );
    assert_eq!(w.status.attempts[0].state.as_deref(), Some("RUNNING"));
    // The same observation again changes nothing.
    let before = w.status.clone();
    assert_eq!(w.step().status, before);
}

#[test]
fn states_before_running_are_skipped_while_the_run_is_young_but_never_a_later_one() {
    let mut w = World::new(spec("activeDeadlineSeconds: 5"));
    w.submit_and_start("jr1");
    w.see(JobRunState::Submitted, t0() + secs(2));
    let before = w.status.clone();
    w.step();
    assert_eq!(w.status, before, "SUBMITTED two seconds in");
    // RUNNING is written at once, as is every final state.
    w.see(JobRunState::Running, t0() + secs(3));
    w.step();
    assert_eq!(w.status.state.as_deref(), Some("RUNNING"));
    // A run past its deadline is never held back, whatever its state.
    let mut w = World::new(spec("activeDeadlineSeconds: 5"));
    w.submit_and_start("jr1");
    w.see(JobRunState::Pending, t0() + secs(6));
    let d = w.step();
    assert!(
        matches!(d.effect, Effect::CancelForDeadline(_)),
        "{:?}",
        d.effect
    );
    // Nor a state before RUNNING once a later one is shown (EMR's answers are not ordered).
    let mut w = World::new(spec(""));
    w.submit_and_start("jr1");
    w.see(JobRunState::Running, t0() + secs(1));
    w.step();
    w.see(JobRunState::Submitted, t0() + secs(2));
    w.step();
    assert_eq!(w.status.state.as_deref(), Some("SUBMITTED"));
}

#[test]
fn completion_succeeds_with_a_one_line_message() {
    let mut w = World::new(spec(""));
    w.submit_and_start("jr1");
    w.see(JobRunState::Completed, t0() + secs(123));
    let d = w.step();
    assert_eq!(d.effect, Effect::Forget(key("jr1")));
    assert_eq!(d.wake, None);
    assert_eq!(
        w.status.message.as_deref(),
        Some("job run jr1 COMPLETED after 2m3s (attempt 1)")
    );
    assert_eq!(
        w.cond(types::SUCCEEDED),
        (ConditionStatus::True, "Completed".into())
    );
    assert_eq!(w.cond(types::READY).0, ConditionStatus::True);
    assert_eq!(w.cond(types::FAILED).0, ConditionStatus::False);
    assert_eq!(phase(&w.status), Phase::Finished);
    // Finished: nothing more happens.
    w.observed = None;
    let d = w.step();
    assert_eq!((d.effect, d.wake), (Effect::Forget(key("jr1")), None));
}

#[test]
fn a_user_error_fails_with_reason_and_details() {
    let mut w = World::new(spec(""));
    w.submit_and_start("jr1");
    w.fail_with(
        "USER_ERROR",
        Some("Traceback:\n  ZeroDivisionError"),
        t0() + secs(5),
    );
    w.step();
    assert_eq!(
        w.cond(types::FAILED),
        (ConditionStatus::True, "UserError".into())
    );
    assert_eq!(w.cond(types::SUCCEEDED).0, ConditionStatus::False);
    assert_eq!(
        w.status.message.as_deref(),
        Some(
            "job run jr1 FAILED with USER_ERROR after 5s (attempt 1): Traceback: ZeroDivisionError"
        )
    );
    assert_eq!(w.status.failure_reason.as_deref(), Some("USER_ERROR"));
    assert_eq!(w.status.attempts[0].reason.as_deref(), Some("USER_ERROR"));
    assert_eq!(w.status.next_attempt_at, None);
}

#[test]
fn retryable_failures_are_resubmitted_with_backoff_up_to_the_limit() {
    let mut w = World::new(spec(
        "resubmitPolicy: {limit: 2, backoffSeconds: 30, maxBackoffSeconds: 600, onFailureReasons: [INTERNAL_ERROR]}",
    ));
    w.submit_and_start("jr1");
    let failed_at = t0() + secs(10);
    w.fail_with("INTERNAL_ERROR", None, failed_at);
    let d = w.step();
    assert_eq!(
        w.status.next_attempt_at,
        Some(Timestamp::from(failed_at + secs(30)))
    );
    assert_eq!(d.wake, Some(Duration::from_secs(30)));
    assert_eq!(phase(&w.status), Phase::WaitingToResubmit);
    assert_eq!(
        w.cond(types::FAILED),
        (ConditionStatus::False, reasons::WAITING_TO_RESUBMIT.into())
    );
    assert_eq!(w.cond(types::SUCCEEDED).0, ConditionStatus::Unknown);

    // Not yet due.
    w.observed = None;
    w.now = failed_at + secs(10);
    let d = w.step();
    assert_eq!(
        (d.effect, d.wake),
        (Effect::None, Some(Duration::from_secs(20)))
    );

    // Due: attempt 2, a resubmission.
    w.now = failed_at + secs(30);
    let d = w.step();
    assert_eq!(
        d.effect,
        Effect::Submit(Submit {
            attempt: 2,
            virtual_cluster_id: "vc1".into(),
            recover_since: None
        })
    );
    assert_eq!(w.status.resubmissions, 1);
    assert_eq!(w.status.attempts.len(), 2);
    w.status = started(&w.spec, &w.status, Some(1), "vc1", "jr2", None);

    // Second failure waits twice as long.
    let failed_again = failed_at + secs(100);
    w.fail_with("INTERNAL_ERROR", None, failed_again);
    w.step();
    assert_eq!(
        w.status.next_attempt_at,
        Some(Timestamp::from(failed_again + secs(60)))
    );
    w.now = failed_again + secs(60);
    w.observed = None;
    assert!(matches!(
        w.step().effect,
        Effect::Submit(Submit { attempt: 3, .. })
    ));
    w.status = started(&w.spec, &w.status, Some(1), "vc1", "jr3", None);

    // The limit is reached: the third failure is final.
    w.fail_with("INTERNAL_ERROR", None, failed_again + secs(200));
    w.step();
    assert_eq!(w.status.next_attempt_at, None);
    assert_eq!(
        w.cond(types::FAILED),
        (ConditionStatus::True, "InternalError".into())
    );
    let runs: Vec<_> = w
        .status
        .attempts
        .iter()
        .map(|a| a.job_run_id.clone().unwrap())
        .collect();
    assert_eq!(runs, ["jr1", "jr2", "jr3"]);
}

#[test]
fn unlisted_reasons_are_not_resubmitted_and_backoff_is_capped() {
    let mut w = World::new(spec(
        "resubmitPolicy: {limit: 10, backoffSeconds: 100, maxBackoffSeconds: 150}",
    ));
    w.submit_and_start("jr1");
    w.fail_with("USER_ERROR", None, t0() + secs(10));
    w.step();
    assert_eq!(w.cond(types::FAILED).0, ConditionStatus::True);

    let mut w = World::new(spec(
        "resubmitPolicy: {limit: 10, backoffSeconds: 100, maxBackoffSeconds: 150}",
    ));
    w.submit_and_start("jr1");
    w.status.resubmissions = 3;
    w.fail_with("CLUSTER_UNAVAILABLE", None, t0() + secs(10));
    w.step();
    assert_eq!(
        w.status.next_attempt_at,
        Some(Timestamp::from(t0() + secs(160)))
    );
}

#[test]
fn a_run_past_its_deadline_is_cancelled_once_and_ends_failed() {
    let mut w = World::new(spec(
        "activeDeadlineSeconds: 60\nresubmitPolicy: {onFailureReasons: [INTERNAL_ERROR, USER_ERROR]}",
    ));
    w.submit_and_start("jr1");
    w.see(JobRunState::Running, t0() + secs(20));
    let d = w.step();
    assert_eq!(d.wake, Some(Duration::from_secs(40)));
    w.now = t0() + secs(60);
    let d = w.step();
    assert_eq!(d.effect, Effect::CancelForDeadline(key("jr1")));
    assert_eq!(
        w.status.attempts[0].reason.as_deref(),
        Some(reasons::DEADLINE_EXCEEDED)
    );
    assert!(
        w.status
            .message
            .as_deref()
            .unwrap()
            .contains("exceeded its deadline of 1m0s")
    );
    // Until EMR confirms, no second cancellation.
    w.now = t0() + secs(65);
    assert!(matches!(w.step().effect, Effect::Track { .. }));
    w.see(JobRunState::CancelPending, t0() + secs(66));
    assert!(matches!(w.step().effect, Effect::Track { .. }));
    w.see(JobRunState::Cancelled, t0() + secs(70));
    let d = w.step();
    assert_eq!(d.effect, Effect::Forget(key("jr1")));
    assert_eq!(
        w.cond(types::FAILED),
        (ConditionStatus::True, reasons::DEADLINE_EXCEEDED.into())
    );
    assert_eq!(w.status.next_attempt_at, None);
    assert_eq!(
        w.status.message.as_deref(),
        Some("job run jr1 cancelled: it exceeded its deadline of 1m0s (attempt 1)")
    );
}

#[test]
fn a_deadline_cancellation_whose_status_write_was_lost_is_not_sent_again() {
    let mut w = World::new(spec("activeDeadlineSeconds: 60"));
    w.submit_and_start("jr1");
    w.see(JobRunState::Running, t0() + secs(20));
    w.step();
    w.now = t0() + secs(60);
    // CancelJobRun went out; the write that marks the deadline was refused (status unchanged).
    assert_eq!(w.decide().effect, Effect::CancelForDeadline(key("jr1")));
    w.cancel_requested = true;
    let d = w.step();
    assert!(matches!(d.effect, Effect::Track { .. }), "{:?}", d.effect);
    // The mark is still written, so the run ends failed as past its deadline.
    assert_eq!(
        w.status.attempts[0].reason.as_deref(),
        Some(reasons::DEADLINE_EXCEEDED)
    );
}

#[test]
fn a_run_cancelled_by_someone_else_fails_as_cancelled() {
    let mut w = World::new(spec("activeDeadlineSeconds: 3600"));
    w.submit_and_start("jr1");
    w.see(JobRunState::Cancelled, t0() + secs(30));
    w.step();
    assert_eq!(
        w.cond(types::FAILED),
        (ConditionStatus::True, reasons::CANCELLED.into())
    );
    assert_eq!(
        w.status.message.as_deref(),
        Some("job run jr1 CANCELLED after 30s (attempt 1)")
    );
}

#[test]
fn a_vanished_run_fails() {
    let mut w = World::new(spec(""));
    w.submit_and_start("jr1");
    w.observed = Some(Observation::NotFound);
    let d = w.step();
    assert_eq!(d.effect, Effect::Forget(key("jr1")));
    assert_eq!(
        w.cond(types::FAILED),
        (ConditionStatus::True, reasons::JOB_RUN_NOT_FOUND.into())
    );
    assert_eq!(phase(&w.status), Phase::Finished);
}

#[test]
fn changing_rerun_starts_a_new_attempt_after_the_current_one_ends() {
    let mut w = World::new(spec("rerun: first"));
    w.submit_and_start("jr1");
    w.see(JobRunState::Running, t0() + secs(5));
    w.step();
    w.spec.rerun = Some("second".into());
    w.generation = 2;
    // Still running: keep tracking, no new run.
    assert!(matches!(w.step().effect, Effect::Track { .. }));
    w.see(JobRunState::Completed, t0() + secs(30));
    let d = w.step();
    assert_eq!(d.effect, Effect::Forget(key("jr1")));
    assert_eq!(d.wake, Some(Duration::from_secs(1)));
    assert_eq!(w.cond(types::SUCCEEDED).0, ConditionStatus::True);
    w.observed = None;
    let d = w.step();
    assert_eq!(
        d.effect,
        Effect::Submit(Submit {
            attempt: 2,
            virtual_cluster_id: "vc1".into(),
            recover_since: None
        })
    );
    assert_eq!(w.status.submitted_rerun.as_deref(), Some("second"));
    assert_eq!(w.status.resubmissions, 0);
    assert_eq!(w.cond(types::SUCCEEDED).0, ConditionStatus::Unknown);
    assert_eq!(w.cond(types::READY).0, ConditionStatus::False);
    assert!(condition::find(&w.status.conditions, types::SPEC_CHANGE_REFUSED).is_none());
}

#[test]
fn a_rerun_also_cuts_a_resubmission_wait_short_and_resets_the_count() {
    let mut w = World::new(spec(
        "resubmitPolicy: {limit: 1, backoffSeconds: 300, onFailureReasons: [USER_ERROR]}",
    ));
    w.submit_and_start("jr1");
    w.fail_with("USER_ERROR", None, t0() + secs(10));
    w.step();
    assert_eq!(phase(&w.status), Phase::WaitingToResubmit);
    w.spec.rerun = Some("now".into());
    w.observed = None;
    assert!(matches!(
        w.step().effect,
        Effect::Submit(Submit { attempt: 2, .. })
    ));
    assert_eq!(w.status.resubmissions, 0);
}

#[test]
fn a_rerun_waits_for_an_unready_virtual_cluster_keeping_the_last_result() {
    let mut w = World::new(spec(""));
    w.submit_and_start("jr1");
    w.see(JobRunState::Completed, t0() + secs(30));
    w.step();
    w.spec.rerun = Some("again".into());
    w.observed = None;
    w.target = Some(Resolution::Waiting {
        reason: reasons::VIRTUAL_CLUSTER_NOT_READY,
        message: "w".into(),
    });
    let d = w.decide();
    assert_eq!(d.effect, Effect::None);
    w.status = d.status;
    assert_eq!(w.cond(types::SUCCEEDED).0, ConditionStatus::True);
    assert_eq!(w.cond(types::SUBMITTED).0, ConditionStatus::False);
    assert_eq!(phase(&w.status), Phase::Finished);
    assert!(waits_for_virtual_cluster(&w.status));
}

#[test]
fn other_spec_changes_after_submission_are_refused_not_applied() {
    let mut w = World::new(spec(""));
    w.submit_and_start("jr1");
    w.see(JobRunState::Running, t0() + secs(5));
    w.step();
    let original = w.spec.clone();
    w.spec.release_label = Some("emr-7.3.0-latest".into());
    w.generation = 2;
    let d = w.step();
    // The running job is still tracked and reported.
    assert!(matches!(d.effect, Effect::Track { .. }));
    assert_eq!(
        w.cond(types::SPEC_CHANGE_REFUSED),
        (
            ConditionStatus::True,
            reasons::SPEC_CHANGED_AFTER_SUBMISSION.into()
        )
    );
    w.see(JobRunState::Completed, t0() + secs(30));
    w.step();
    // Even with a re-run asked for, the changed spec is never submitted.
    w.spec.rerun = Some("x".into());
    w.observed = None;
    let d = w.step();
    assert!(
        !matches!(d.effect, Effect::Submit(_) | Effect::NeedVirtualCluster),
        "{:?}",
        d.effect
    );
    // Reverting the change (keeping the re-run) lets the re-run go.
    w.spec = original;
    w.spec.rerun = Some("x".into());
    let d = w.step();
    assert!(matches!(
        d.effect,
        Effect::Submit(Submit { attempt: 2, .. })
    ));
    assert!(condition::find(&w.status.conditions, types::SPEC_CHANGE_REFUSED).is_none());
}

#[test]
fn a_spec_changed_while_submitting_is_not_sent() {
    let mut w = World::new(spec(""));
    w.step();
    w.spec.release_label = Some("emr-7.3.0-latest".into());
    let d = w.step();
    assert_eq!(d.effect, Effect::None);
}

#[test]
fn an_emr_rejection_fails_until_the_spec_changes() {
    let mut w = World::new(spec(""));
    w.step();
    w.status = rejected(&w.status, Some(1), "ValidationException: bad release");
    assert_eq!(phase(&w.status), Phase::Unsubmitted);
    assert_eq!(
        w.cond(types::FAILED),
        (ConditionStatus::True, reasons::EMR_VALIDATION_ERROR.into())
    );
    assert!(w.status.message.as_deref().unwrap().contains("bad release"));
    // Same generation (e.g. a VirtualCluster change woke it): not sent again.
    let d = w.step();
    assert_eq!((d.effect, d.wake), (Effect::None, None));
    // The user fixes the spec: a new attempt number, hence a new token.
    w.generation = 2;
    w.spec.release_label = Some("emr-7.3.0-latest".into());
    assert!(matches!(
        w.step().effect,
        Effect::Submit(Submit { attempt: 2, .. })
    ));
}

#[test]
fn access_denied_keeps_the_attempt_and_says_why() {
    let mut w = World::new(spec(""));
    w.step();
    w.status = access_denied(&w.status, Some(1), "grant emr-containers:StartJobRun");
    assert_eq!(phase(&w.status), Phase::Submitting);
    assert_eq!(
        w.cond(types::SUBMITTED),
        (ConditionStatus::False, reasons::ACCESS_DENIED.into())
    );
    assert!(matches!(
        w.step().effect,
        Effect::Submit(Submit {
            attempt: 1,
            recover_since: Some(_),
            ..
        })
    ));
}

#[test]
fn attempts_are_bounded() {
    let mut w = World::new(spec(
        "resubmitPolicy: {limit: 20, backoffSeconds: 0, onFailureReasons: [USER_ERROR]}",
    ));
    for i in 1..=12 {
        w.observed = None;
        let d = w.step();
        assert!(
            matches!(d.effect, Effect::Submit(_)),
            "attempt {i}: {:?}",
            d.effect
        );
        w.status = started(&w.spec, &w.status, Some(1), "vc1", &format!("jr{i}"), None);
        w.fail_with("USER_ERROR", None, t0() + secs(i));
        w.step();
    }
    assert_eq!(w.status.attempts.len(), MAX_ATTEMPT_RECORDS);
    assert_eq!(w.status.attempts.first().map(|a| a.attempt), Some(3));
    assert_eq!(w.status.attempts.last().map(|a| a.attempt), Some(12));
}

#[test]
fn deleting_a_job_that_never_ran_lets_go_at_once() {
    let mut w = World::new(spec(""));
    w.deleting_since = Some(t0());
    // Never submitted: no finalizer, nothing to do.
    assert_eq!(w.decide().effect, Effect::None);
    // Refused after a first attempt (its number is recorded): nothing in EMR to look for.
    w.status.attempt = 1;
    w.has_finalizer = true;
    assert_eq!(
        w.decide().effect,
        Effect::Release {
            forget: None,
            event: None,
        }
    );
}

#[test]
fn a_first_attempt_is_recorded_with_its_job_run_and_the_finalizer_says_it_may_be_sent() {
    let mut w = World::new(spec(""));
    w.target = Some(ready());
    let d = w.step();
    assert!(
        matches!(
            d.effect,
            Effect::Submit(Submit {
                attempt: 1,
                recover_since: None,
                ..
            })
        ),
        "{:?}",
        d.effect
    );
    // The attempt was not written (a crash, a lost answer): status is as before, and the
    // finalizer is there. The run is looked for by token before anything is sent again.
    w.status = SparkJobRunStatus::default();
    assert!(first_attempt_unrecorded(&w.status, w.has_finalizer));
    let d = w.decide();
    assert_eq!(
        d.effect,
        Effect::Submit(Submit {
            attempt: 1,
            virtual_cluster_id: "vc1".into(),
            recover_since: Some(t0() - secs(60)),
        })
    );
    assert_eq!(d.status.attempt, 1);
    assert_eq!(
        d.status.submitted_spec_fingerprint,
        Some(w.spec.submission_fingerprint())
    );
    // Suspended meanwhile: what may have been sent goes on (as a recorded attempt would).
    w.spec.suspend = Some(true);
    assert!(matches!(w.decide().effect, Effect::Submit(_)));
    w.spec.suspend = None;
    // The virtual cluster is not ready: nothing is sent, the job waits.
    w.target = Some(Resolution::Waiting {
        reason: "VirtualClusterNotReady",
        message: "not yet".into(),
    });
    assert_eq!(w.decide().effect, Effect::None);
    // Deleted meanwhile: its run, if any, is found by token (then cancelled), in the virtual
    // cluster the spec resolves to; the found run is the recorded attempt 1's.
    w.deleting_since = Some(t0());
    w.target = None;
    assert_eq!(w.decide().effect, Effect::NeedVirtualCluster);
    w.target = Some(ready());
    let d = w.decide();
    assert_eq!(
        d.effect,
        Effect::FindForDeletion {
            virtual_cluster_id: "vc1".into(),
            attempt: 1,
            since: t0() - secs(60),
        }
    );
    assert_eq!(d.status.attempt, 1);
    // ... and with nowhere to look (the virtual cluster is gone), it is let go.
    w.target = Some(Resolution::Refused {
        reason: reasons::EXECUTION_ROLE_NOT_ALLOWED,
        message: "gone".into(),
    });
    assert!(matches!(w.decide().effect, Effect::Release { .. }));
    // A recorded attempt is never "unrecorded", nor an object without the finalizer.
    assert!(!first_attempt_unrecorded(&d.status, true));
    assert!(!first_attempt_unrecorded(
        &SparkJobRunStatus::default(),
        false
    ));
}

#[test]
fn deleting_a_running_job_cancels_it_and_waits_for_emr() {
    let mut w = World::new(spec(""));
    w.submit_and_start("jr1");
    w.see(JobRunState::Running, t0() + secs(5));
    w.step();
    w.deleting_since = Some(t0() + secs(6));
    w.now = t0() + secs(6);
    let d = w.step();
    assert_eq!(d.effect, Effect::CancelForDeletion(key("jr1")));
    assert_eq!(d.wake, Some(DELETION_RECHECK));
    w.cancel_requested = true;
    assert!(matches!(w.step().effect, Effect::Track { .. }));
    w.cancel_requested = false;
    w.see(JobRunState::CancelPending, t0() + secs(7));
    assert!(matches!(w.step().effect, Effect::Track { .. }));
    w.see(JobRunState::Cancelled, t0() + secs(8));
    assert_eq!(
        w.step().effect,
        Effect::Release {
            forget: Some(key("jr1")),
            event: None,
        }
    );
    w.observed = Some(Observation::NotFound);
    assert_eq!(
        w.step().effect,
        Effect::Release {
            forget: Some(key("jr1")),
            event: None,
        }
    );
}

#[test]
fn deletion_gives_up_after_a_while() {
    let mut w = World::new(spec(""));
    w.submit_and_start("jr1");
    w.deleting_since = Some(t0());
    w.now = t0() + DELETION_GIVE_UP;
    let Effect::Release {
        forget,
        event: Some(event),
    } = w.decide().effect
    else {
        panic!()
    };
    assert_eq!(forget, Some(key("jr1")));
    assert!(event.warning);
    assert!(event.note.contains("jr1"));
}

#[test]
fn deleting_while_submitting_looks_for_the_run() {
    let mut w = World::new(spec(""));
    w.step();
    let since = submitting_since(&w.status).unwrap();
    w.deleting_since = Some(t0());
    assert_eq!(
        w.decide().effect,
        Effect::FindForDeletion {
            virtual_cluster_id: "vc1".into(),
            attempt: 1,
            since
        }
    );
}

#[test]
fn finished_jobs_let_go_on_deletion() {
    let mut w = World::new(spec(""));
    w.submit_and_start("jr1");
    w.see(JobRunState::Completed, t0() + secs(5));
    w.step();
    w.deleting_since = Some(t0() + secs(6));
    w.observed = None;
    assert_eq!(
        w.decide().effect,
        Effect::Release {
            forget: Some(key("jr1")),
            event: None,
        }
    );
}

#[test]
fn a_deadline_beyond_any_date_is_no_deadline_not_a_panic() {
    // Issue 10's reproducer: schema-valid before the one-year bound, it panicked every replica.
    for seconds in [9_000_000_000_000, i64::MAX, i64::MIN] {
        let mut w = World::new(spec(&format!("activeDeadlineSeconds: {seconds}")));
        w.submit_and_start("jr1");
        w.see(JobRunState::Running, t0() + secs(20));
        let d = w.step();
        assert!(matches!(d.effect, Effect::Track { .. }), "{seconds}: {d:?}");
        assert_eq!(d.wake, Some(ACTIVE_RESYNC), "{seconds}");
        w.see(JobRunState::Cancelled, t0() + secs(30));
        let d = w.step();
        assert_eq!(d.effect, Effect::Forget(key("jr1")), "{seconds}");
        assert_eq!(
            w.cond(types::FAILED),
            (ConditionStatus::True, reasons::CANCELLED.into())
        );
    }
}

#[test]
fn a_forged_last_attempt_number_stops_instead_of_wrapping_around() {
    let mut w = World::new(spec(""));
    w.status.attempt = i32::MAX;
    let d = w.step();
    assert_eq!(d.effect, Effect::None);
    assert_eq!(w.status.attempt, i32::MAX);
    assert_eq!(
        w.cond(types::FAILED),
        (ConditionStatus::True, ATTEMPTS_EXHAUSTED.into())
    );
    // Negative numbers (only a hand-written status has them) never reach a token either.
    let mut w = World::new(spec(""));
    w.status.attempt = -1;
    w.step();
    assert_eq!(
        w.cond(types::SUBMITTED),
        (ConditionStatus::False, ATTEMPTS_EXHAUSTED.into())
    );
}

#[test]
fn resubmission_backoff_is_bounded_whatever_the_policy_says() {
    let mut w = World::new(spec(
        "resubmitPolicy: {limit: 100, backoffSeconds: 9223372036854775807, maxBackoffSeconds: 9223372036854775807, onFailureReasons: [USER_ERROR]}",
    ));
    w.spec.resubmit_policy.as_mut().unwrap().limit = i32::MAX;
    w.submit_and_start("jr1");
    w.fail_with("USER_ERROR", None, t0() + secs(10));
    let d = w.step();
    assert_eq!(d.effect, Effect::Forget(key("jr1")));
    assert_eq!(
        w.status.next_attempt_at.map(|t| t.as_datetime()),
        Some(t0() + secs(10) + secs(MAX_BACKOFF_SECONDS))
    );
    // A failure at the end of the calendar: no resubmission time that status could hold.
    let mut w = World::new(spec("resubmitPolicy: {onFailureReasons: [USER_ERROR]}"));
    w.submit_and_start("jr1");
    let end = DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z")
        .unwrap()
        .with_timezone(&Utc);
    w.fail_with("USER_ERROR", None, end);
    w.step();
    assert_eq!(w.status.next_attempt_at, None);
    assert_eq!(w.cond(types::FAILED).0, ConditionStatus::True);
}

#[test]
fn a_panic_marker_does_not_end_a_running_job() {
    let mut w = World::new(spec(""));
    w.submit_and_start("jr1");
    w.status = crate::spark_job_run::panic_report::status_after(&w.status, Some(1), "boom");
    assert_eq!(phase(&w.status), Phase::Active);
    w.see(JobRunState::Running, t0() + secs(5));
    w.step();
    // The next successful reconcile says what the run is doing again.
    assert_eq!(
        w.cond(types::FAILED),
        (ConditionStatus::False, "InProgress".into())
    );
}

#[test]
fn a_refusal_before_start_uses_no_attempt_and_releases_a_recorded_one() {
    let mut w = World::new(spec("jobTemplateId: tmpl1"));
    // A first submission refused before it was recorded: nothing recorded, Failed with the reason.
    let s = refused_before_start(
        &w.status,
        Some(1),
        reasons::EXECUTION_ROLE_NOT_ALLOWED,
        "no",
    );
    assert_eq!(phase(&s), Phase::Unsubmitted);
    assert_eq!(s.attempt, 0);
    assert_eq!(
        condition::find(&s.conditions, types::FAILED).map(|c| (c.status, c.reason.clone())),
        Some((
            ConditionStatus::True,
            reasons::EXECUTION_ROLE_NOT_ALLOWED.into()
        ))
    );
    // A recorded attempt (re-sent after a crash) is released like an EMR refusal.
    w.step();
    assert_eq!(phase(&w.status), Phase::Submitting);
    let s = refused_before_start(&w.status, Some(1), reasons::JOB_TEMPLATE_NOT_FOUND, "gone");
    assert_eq!(phase(&s), Phase::Unsubmitted);
    assert_eq!(s.attempt, 1);
    assert_eq!(
        s.attempts.last().and_then(|a| a.reason.as_deref()),
        Some(reasons::JOB_TEMPLATE_NOT_FOUND)
    );
    // A later attempt waits with the reason; the last result stands.
    w.submit_and_start("jr1");
    w.see(JobRunState::Completed, t0() + secs(30));
    w.step();
    assert_eq!(phase(&w.status), Phase::Finished);
    let s = refused_before_start(
        &w.status,
        Some(1),
        reasons::EXECUTION_ROLE_NOT_ALLOWED,
        "no",
    );
    assert_eq!(phase(&s), Phase::Finished);
    assert!(condition::is_true(&s.conditions, types::SUCCEEDED));
    assert_eq!(
        condition::find(&s.conditions, types::SUBMITTED).map(|c| c.reason.clone()),
        Some(reasons::EXECUTION_ROLE_NOT_ALLOWED.into())
    );
}

#[test]
fn a_suspended_job_makes_no_effect_and_resuming_submits_attempt_1() {
    let mut w = World::new(spec("suspend: true"));
    let d = w.step();
    assert_eq!(
        (d.effect, d.wake),
        (Effect::None, None),
        "not even a lookup"
    );
    assert_eq!(phase(&w.status), Phase::Unsubmitted);
    assert_eq!(
        w.cond(types::SUSPENDED),
        (ConditionStatus::True, reasons::SUSPENDED.into())
    );
    assert_eq!(
        w.cond(types::SUBMITTED),
        (ConditionStatus::False, reasons::SUSPENDED.into())
    );
    assert!(!condition::is_true(&w.status.conditions, types::FAILED));
    // Asked again while suspended: the same status, nothing to write.
    assert_eq!(w.decide().status, w.status);
    w.spec.suspend = Some(false);
    let d = w.step();
    assert!(
        matches!(
            d.effect,
            Effect::Submit(Submit {
                attempt: 1,
                recover_since: None,
                ..
            })
        ),
        "{:?}",
        d.effect
    );
    assert_eq!(
        w.cond(types::SUSPENDED),
        (ConditionStatus::False, reasons::RESUMED.into())
    );
}

#[test]
fn suspend_has_no_effect_once_submitted() {
    let mut w = World::new(spec(""));
    w.submit_and_start("jr1");
    w.spec.suspend = Some(true);
    // Not part of the frozen spec: no SpecChangeRefused, the run goes on being tracked.
    w.see(JobRunState::Running, t0() + secs(5));
    let d = w.step();
    assert!(matches!(d.effect, Effect::Track { .. }), "{:?}", d.effect);
    assert!(condition::find(&w.status.conditions, types::SPEC_CHANGE_REFUSED).is_none());
    assert!(condition::find(&w.status.conditions, types::SUSPENDED).is_none());
}

#[test]
fn a_finished_job_is_deleted_at_finish_plus_ttl_by_a_timer() {
    let mut w = World::new(spec("ttlSecondsAfterFinished: 60"));
    w.submit_and_start("jr1");
    let done = t0() + secs(30);
    w.see(JobRunState::Completed, done);
    w.step();
    assert_eq!(phase(&w.status), Phase::Finished);
    // The next reconcile (the status write's watch event) sets the timer.
    w.observed = None;
    w.now = done + secs(10);
    let d = w.step();
    assert_eq!(d.effect, Effect::Forget(key("jr1")));
    assert_eq!(d.wake, Some(Duration::from_secs(50)));
    w.now = done + secs(60);
    let d = w.step();
    assert!(
        matches!(&d.effect, Effect::DeleteExpired(e) if e.reason == reasons::TTL_EXPIRED && !e.warning),
        "{:?}",
        d.effect
    );
    // A re-run asked for before the TTL passed wins over the deletion.
    w.spec.rerun = Some("again".into());
    let d = w.step();
    assert!(matches!(
        d.effect,
        Effect::NeedVirtualCluster | Effect::Submit(_)
    ));
}

#[test]
fn ttl_extremes_neither_overflow_nor_spin() {
    for (ttl, expired) in [(0, true), (-7, true), (i64::MIN, true), (i64::MAX, false)] {
        let mut w = World::new(spec(&format!("ttlSecondsAfterFinished: {ttl}")));
        w.submit_and_start("jr1");
        w.see(JobRunState::Failed, t0() + secs(30));
        w.step();
        w.observed = None;
        let d = w.step();
        assert_eq!(
            matches!(d.effect, Effect::DeleteExpired(_)),
            expired,
            "{ttl}"
        );
        if !expired {
            // Beyond any date: no timer at all rather than one that fires at once.
            assert_eq!(d.wake, None, "{ttl}");
        }
    }
    // A schedule's child is kept by the schedule's history limits.
    let mut w = World::new(spec("ttlSecondsAfterFinished: 0"));
    w.submit_and_start("jr1");
    w.see(JobRunState::Completed, t0() + secs(30));
    w.step();
    w.observed = None;
    let d = decide(&Facts {
        ttl_applies: false,
        ..facts_of(&w)
    });
    assert_eq!(d.effect, Effect::Forget(key("jr1")));
}

fn facts_of(w: &World) -> Facts<'_> {
    Facts {
        spec: &w.spec,
        status: &w.status,
        generation: Some(w.generation),
        created: Some(t0() - secs(60)),
        has_finalizer: w.has_finalizer,
        deleting_since: w.deleting_since,
        target: w.target.as_ref(),
        observed: w.observed.as_ref(),
        cancel_requested: w.cancel_requested,
        ttl_applies: true,
        now: w.now,
    }
}

#[test]
fn a_deleted_finished_job_is_let_go_without_an_emr_call() {
    let mut w = World::new(spec("ttlSecondsAfterFinished: 0"));
    w.submit_and_start("jr1");
    w.see(JobRunState::Completed, t0() + secs(30));
    w.step();
    w.deleting_since = Some(t0() + secs(31));
    let d = w.step();
    assert!(matches!(d.effect, Effect::Release { .. }), "{:?}", d.effect);
}
