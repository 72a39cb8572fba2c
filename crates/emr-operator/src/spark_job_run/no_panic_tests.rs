//! Property tests: no spec, status, EMR answer or time makes a pure part of the SparkJobRun
//! controller panic (a panic there stopped every tenant's jobs before the decisions were
//! checked). Case counts are kept small so `make unit` stays fast.

use chrono::{DateTime, Utc};
use emr_api::SparkJobRunSpec;
use emr_api::check;
use emr_api::spark_job_run::SparkJobRunStatus;
use kube::runtime::reflector::ObjectRef;
use proptest::option;
use proptest::prelude::*;

use super::decide::{self, Facts};
use super::ownership::{self, Evidence};
use super::target::{self, Resolution};
use super::tracker::{Cadence, JobKey, Observation, Tracker};
use super::{logs, panic_report, request, text, transitions};
use crate::hostile_values::*;

fn resolution() -> impl Strategy<Value = Resolution> {
    prop_oneof![
        text(64).prop_map(|id| Resolution::Ready {
            virtual_cluster_id: id
        }),
        text(100).prop_map(|message| Resolution::Waiting {
            reason: "VirtualClusterNotReady",
            message
        }),
        text(100).prop_map(|message| Resolution::Refused {
            reason: "ExecutionRoleNotAllowed",
            message
        }),
    ]
}

fn observation() -> impl Strategy<Value = Observation> {
    prop_oneof![
        Just(Observation::NotFound),
        job_run_info().prop_map(Observation::Seen),
    ]
}

/// Every phase of the state machine and what the reconciler does with its result.
#[allow(clippy::too_many_arguments)]
fn decide_everything(
    spec: &SparkJobRunSpec,
    status: &SparkJobRunStatus,
    generation: Option<i64>,
    times: [Option<DateTime<Utc>>; 2],
    now: DateTime<Utc>,
    target: Option<&Resolution>,
    observed: Option<&Observation>,
    flags: (bool, bool),
) {
    let facts = Facts {
        spec,
        status,
        generation,
        created: times[0],
        has_finalizer: flags.0,
        deleting_since: times[1],
        target,
        observed,
        cancel_requested: flags.1,
        ttl_applies: true,
        now,
    };
    let decision = decide::decide(&facts);
    let _ = transitions::between(status, &decision.status);
    // The next reconcile decides on what this one wrote.
    let again = Facts {
        status: &decision.status,
        ..facts.clone()
    };
    let second = decide::decide(&again);
    let _ = transitions::between(&decision.status, &second.status);
    let _ = decide::phase(status);
    let _ = decide::waits_for_virtual_cluster(status);
    let _ = decide::submitting_since(status);
    let started = decide::started(spec, status, generation, "vc", "jr", Some("arn"));
    let _ = transitions::between(status, &started);
    let _ = decide::rejected(status, generation, "refused");
    let _ = decide::access_denied(status, generation, "denied");
    let _ = panic_report::status_after(status, generation, "boom");
    let _ = crate::spark_job_run::ttl::finished_at(status)
        .map(|done| crate::spark_job_run::ttl::expires_at(spec.ttl_seconds_after_finished, done));
}

/// The generated status, and the same facts pushed into each phase, so that every phase's
/// arithmetic meets the extreme values in every case rather than by chance.
fn in_every_phase(status: &SparkJobRunStatus) -> Vec<SparkJobRunStatus> {
    let submitted = |s: &mut SparkJobRunStatus| {
        s.submitted_spec_fingerprint
            .get_or_insert_with(|| "f".into());
        s.virtual_cluster_id.get_or_insert_with(|| "vc".into());
    };
    let mut submitting = status.clone();
    submitted(&mut submitting);
    submitting.job_run_id = None;
    let mut active = status.clone();
    submitted(&mut active);
    active.job_run_id.get_or_insert_with(|| "jr".into());
    active.next_attempt_at = None;
    active.state = Some("RUNNING".into());
    active.conditions.clear();
    let mut waiting = active.clone();
    waiting.state = Some("FAILED".into());
    waiting.next_attempt_at = status.next_attempt_at.or(status.created_at);
    if waiting.next_attempt_at.is_none() {
        waiting.next_attempt_at = Some(emr_api::time::Timestamp::now());
    }
    let mut unsubmitted = status.clone();
    unsubmitted.submitted_spec_fingerprint = None;
    vec![status.clone(), unsubmitted, submitting, active, waiting]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn no_spec_status_or_answer_makes_decide_panic(
        spec in spark_job_run_spec(),
        status in spark_job_run_status(),
        generation in option::of(extreme_i64()),
        created in option::of(instant()),
        deleting_since in option::of(instant()),
        now in instant(),
        target in option::of(resolution()),
        observed in option::of(observation()),
        flags in (any::<bool>(), any::<bool>()),
    ) {
        for status in in_every_phase(&status) {
            decide_everything(
                &spec,
                &status,
                generation,
                [created, deleting_since],
                now,
                target.as_ref(),
                observed.as_ref(),
                flags,
            );
        }
    }

    #[test]
    fn no_job_makes_the_request_builders_panic(
        job in spark_job_run(),
        vc in text(64),
        attempt in extreme_i32(),
        job_run_id in text(64),
        allow_raw in any::<bool>(),
        found in option::of(virtual_cluster()),
    ) {
        let _ = request::start_job_run_input(&job, &vc, attempt);
        let token = request::client_token(job.metadata.uid.as_deref().unwrap_or_default(), attempt);
        prop_assert!(token.chars().count() <= 64, "{token}");
        let _ = request::operator_tags(&job);
        let _ = logs::locations(&job.spec, &vc, &job_run_id);
        let namespace = job.metadata.namespace.clone().unwrap_or_default();
        let _ = target::resolve(&job.spec, &namespace, allow_raw, found.as_ref());
        let _ = check::spark_job_run(&job.spec);
        let _ = job.spec.submission_fingerprint();
    }

    #[test]
    fn no_status_token_or_answer_makes_the_ownership_proof_panic(
        status in spark_job_run_status(),
        uid in text(64),
        token in option::of(text(128)),
        claimed in text(64),
        owned in option::of(text(64)),
        seen in job_run_info(),
        generation in option::of(extreme_i64()),
        why in text(500),
    ) {
        let _ = ownership::token_is_ours(&uid, token.as_deref());
        let _ = ownership::token_is_ours(&uid, seen.client_token.as_deref());
        let _ = ownership::check_virtual_cluster(&claimed, owned.as_deref());
        let key = JobKey { virtual_cluster_id: claimed.clone(), job_run_id: seen.id.clone() };
        for evidence in [
            Evidence::TrackedByThis,
            Evidence::TrackedByOther,
            Evidence::Seen(&seen),
            Evidence::Nothing,
        ] {
            let _ = ownership::check_run(&uid, &key, evidence);
        }
        let _ = ownership::disowned(&status, generation, owned.as_deref(), &why);
    }

    #[test]
    fn no_text_or_span_makes_the_wording_panic(
        words in text(2000),
        max in prop_oneof![Just(0usize), Just(3), Just(usize::MAX), 0usize..400],
        span in span(),
    ) {
        let _ = text::duration(span);
        let _ = text::camel_case(&words);
        let _ = text::one_line(&words, max);
    }

    #[test]
    fn no_times_or_answers_make_the_poller_bookkeeping_panic(
        since in instant(),
        now in instant(),
        later in instant(),
        intervals in (0u64..=u64::MAX, 0u64..=u64::MAX),
        answers in proptest::collection::vec(job_run_info(), 0..4),
        observed in observation(),
    ) {
        let cadence = Cadence {
            poll_interval: std::time::Duration::from_secs(intervals.0),
            young_poll_interval: std::time::Duration::from_millis(intervals.1),
            young_job_age: std::time::Duration::MAX,
        };
        let mut r = Tracker::new(cadence);
        let key = |id: &str| JobKey { virtual_cluster_id: "vc".into(), job_run_id: id.into() };
        for (i, info) in answers.iter().enumerate() {
            let id = if i % 2 == 0 { info.id.clone() } else { format!("other-{i}") };
            r.track(key(&id), ObjectRef::new(&format!("j{i}")).within("ns"), since, now);
        }
        let _ = r.due(later);
        let (_, missing) = r.record_active("vc", &answers, later);
        let _ = r.plan_missing(missing.clone(), later);
        let _ = r.record_finished("vc", &answers, missing, later);
        let _ = r.record_described(&key("x"), observed, later);
        r.record_failure("vc", std::time::Duration::MAX, later);
        r.poll_soon("vc", later);
        let _ = r.next_poll_at();
        r.prune(later, chrono::TimeDelta::MAX);
        r.forget_objects(|_| false);
        prop_assert!(r.sizes().iter().all(|(_, n)| *n == 0), "{:?}", r.sizes());
    }
}
