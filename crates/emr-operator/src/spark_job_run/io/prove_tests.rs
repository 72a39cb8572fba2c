//! After a restart, the runs status names are proven by the poller's first ListJobRuns of their
//! (proven) virtual cluster, not by one DescribeJobRun each; nothing is done on a run before.

use std::time::Duration;

use chrono::Utc;
use emr_api::SparkJobRun;
use emr_api::labels::SPARK_JOB_RUN_FINALIZER;
use emr_aws::test_server::Reply;
use emr_aws::{JobRunInfo, JobRunState};
use kube::runtime::reflector::ObjectRef;
use serde_json::{Value, json};

use super::tests::{JOB, UID, VC, cached, job, state, virtual_cluster};
use crate::fair_queue::Action;
use crate::kit::testing::{MockApiServer, written};
use crate::spark_job_run::reconcile::reconcile;
use crate::spark_job_run::request::client_token;
use crate::spark_job_run::state::State;
use crate::spark_job_run::tracker::JobKey;

/// A SparkJobRun whose run jr-1 was RUNNING when the operator stopped.
fn running() -> Value {
    let mut object = job();
    let spec: SparkJobRun = serde_json::from_value(object.clone()).unwrap();
    object["metadata"]["finalizers"] = json!([SPARK_JOB_RUN_FINALIZER]);
    object["status"] = json!({
        "attempt": 1,
        "submittedSpecFingerprint": spec.spec.submission_fingerprint(),
        "virtualClusterId": "vc123",
        "jobRunId": "jr-1",
        "state": "RUNNING",
        "createdAt": "2026-01-01T00:00:05Z",
    });
    object
}

fn key() -> JobKey {
    JobKey {
        virtual_cluster_id: "vc123".into(),
        job_run_id: "jr-1".into(),
    }
}

fn listed(token: &str) -> JobRunInfo {
    JobRunInfo {
        id: "jr-1".into(),
        name: Some("pi".into()),
        arn: None,
        virtual_cluster_id: "vc123".into(),
        state: JobRunState::Running,
        failure_reason: None,
        state_details: None,
        created_at: None,
        finished_at: None,
        retry_attempts: None,
        client_token: Some(token.into()),
    }
}

/// Runs one reconcile of `object`, answering reads of the VirtualCluster and status writes.
async fn reconcile_once(
    state: &std::sync::Arc<State>,
    server: &mut MockApiServer,
    object: &mut Value,
) -> (Action, Vec<Value>) {
    let mut reconciling = tokio::spawn(reconcile(cached(object), state.clone()));
    let mut writes = Vec::new();
    loop {
        tokio::select! {
            done = &mut reconciling => return (done.unwrap().unwrap(), writes),
            call = server.next() => {
                if call.is("PATCH", &format!("{JOB}/status")) {
                    writes.push(call.body["status"].clone());
                    *object = written(object, &json!({"status": call.body["status"].clone()}));
                    call.ok(object);
                } else if call.is("GET", VC) {
                    call.ok(&virtual_cluster());
                } else {
                    panic!("unexpected request: {call:?}");
                }
            }
        }
    }
}

#[tokio::test]
async fn a_restarted_operator_proves_a_run_from_the_list_without_describing_it() {
    let (state, mut server, aws) = state(vec![]).await;
    let mut object = running();

    // Nothing known yet: the run is neither acted on nor described; its list is due at once.
    let (action, writes) = reconcile_once(&state, &mut server, &mut object).await;
    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    assert!(
        writes.is_empty(),
        "status written before the run was proven: {writes:?}"
    );
    let due = state.tracker.with(|r| r.due(Utc::now()));
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].virtual_cluster_id, "vc123");

    // The poller's list holds the run with this object's client token: that proves it.
    let woken = state.tracker.with(|r| {
        r.record_active("vc123", &[listed(&client_token(UID, 1))], Utc::now())
            .0
    });
    assert_eq!(woken, [ObjectRef::new("pi").within("team-a")]);
    let (_, _) = reconcile_once(&state, &mut server, &mut object).await;
    assert!(aws.requests().is_empty(), "{:?}", aws.requests());
    let tracked = state.tracker.with(|r| r.tracked_by(&key()).cloned());
    assert_eq!(tracked.map(|o| o.name), Some("pi".to_owned()));
    assert_eq!(object["status"]["jobRunId"], "jr-1");
}

#[tokio::test]
async fn a_listed_run_with_another_objects_token_is_disowned_without_a_describe() {
    // Status names jr-1, another object's run; this object's own run (its token) is jr-9.
    let (state, mut server, aws) = state(vec![Reply::json(
        200,
        json!({"jobRuns": [{"id": "jr-9", "virtualClusterId": "vc123", "arn": "arn:jr-9",
                            "state": "RUNNING", "clientToken": client_token(UID, 1),
                            "createdAt": "2026-01-01T00:00:05Z"}]}),
    )])
    .await;
    let mut object = running();
    reconcile_once(&state, &mut server, &mut object).await;
    state.tracker.with(|r| {
        r.record_active(
            "vc123",
            &[listed(&client_token("someone-elses-uid", 1))],
            Utc::now(),
        )
    });
    let (_, writes) = reconcile_once(&state, &mut server, &mut object).await;
    assert!(server.event_reasons().contains(&"ForgedStatus".to_owned()));
    assert!(
        writes.iter().any(|w| w["jobRunId"] == Value::Null),
        "the forged run was dropped first: {writes:?}"
    );
    // Its own run is found again by its token in its own virtual cluster: no describe of jr-1.
    let requests = aws.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0]
            .path
            .starts_with("/virtualclusters/vc123/jobruns?"),
        "{requests:?}"
    );
    assert_eq!(object["status"]["jobRunId"], "jr-9");
    let other = JobKey {
        virtual_cluster_id: "vc123".into(),
        job_run_id: "jr-1".into(),
    };
    assert_eq!(state.tracker.with(|r| r.tracked_by(&other).cloned()), None);
}

#[tokio::test]
async fn a_run_that_finished_meanwhile_is_proven_by_the_poller_and_its_end_written_at_once() {
    let (state, mut server, aws) = state(vec![]).await;
    let mut object = running();
    reconcile_once(&state, &mut server, &mut object).await;
    // Not among the active runs (it finished while the operator was away): the poller looks
    // for it with the runs that left the list, here with a describe of its own.
    let missing = state
        .tracker
        .with(|r| r.record_active("vc123", &[], Utc::now()).1);
    assert_eq!(missing, [key()]);
    let finished = JobRunInfo {
        state: JobRunState::Completed,
        finished_at: Some(Utc::now()),
        ..listed(&client_token(UID, 1))
    };
    let woken = state.tracker.with(|r| {
        r.record_described(
            &key(),
            crate::spark_job_run::tracker::Observation::Seen(finished),
            Utc::now(),
        )
    });
    assert_eq!(woken, [ObjectRef::new("pi").within("team-a")]);
    let (_, writes) = reconcile_once(&state, &mut server, &mut object).await;
    // The reconcile neither describes the run again nor waits for another poll.
    assert!(aws.requests().is_empty(), "{:?}", aws.requests());
    assert_eq!(object["status"]["jobRunId"], "jr-1", "proven, kept");
    assert_eq!(object["status"]["state"], "COMPLETED", "{writes:?}");
}

#[tokio::test]
async fn a_list_that_keeps_failing_falls_back_to_a_describe() {
    let token = client_token(UID, 1);
    let (state, mut server, aws) = state(vec![Reply::json(
        200,
        json!({"jobRun": {"id": "jr-1", "virtualClusterId": "vc123", "state": "RUNNING",
                          "clientToken": token}}),
    )])
    .await;
    let mut object = running();
    // The proof has been waited for longer than the patience allows (lists kept failing).
    let asked = Utc::now() - chrono::TimeDelta::seconds(31);
    state.tracker.with(|r| {
        r.ask_proof(&key(), ObjectRef::new("pi").within("team-a"), asked, asked);
        r.record_failure("vc123", Duration::from_secs(60), asked);
    });
    reconcile_once(&state, &mut server, &mut object).await;
    assert_eq!(aws.requests().len(), 1, "{:?}", aws.requests());
    let tracked = state.tracker.with(|r| r.tracked_by(&key()).cloned());
    assert_eq!(tracked.map(|o| o.name), Some("pi".to_owned()));
}
