//! The order and content of a reconcile's calls, without a cluster: the apiserver is the kit's
//! mock (each request checked and answered by the test), AWS the AWS layer's scripted server.
//! Because a reconcile waits on each call, what AWS has received while the test holds an
//! apiserver request is exactly what the reconcile sent before it.

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use emr_api::SparkJobRun;
use emr_api::labels::SPARK_JOB_RUN_FINALIZER;
use emr_aws::test_server::{Reply, TestServer};
use emr_aws::{Aws, AwsClients, NoopObserver};
use kube::runtime::reflector::ObjectRef;
use serde_json::{Value, json};

use crate::OperatorConfig;
use crate::context::Context;
use crate::fair_queue::Action;
use crate::kit::testing::{Call, MockApiServer, written};
use crate::metrics::Metrics;
use crate::spark_job_run::cache::{self, Cached};
use crate::spark_job_run::error::Error;
use crate::spark_job_run::poller::SharedTracker;
use crate::spark_job_run::reconcile::{error_policy, reconcile, reconcile_cached};
use crate::spark_job_run::request::client_token;
use crate::spark_job_run::serial::BeyondCache;
use crate::spark_job_run::state::State;
use crate::spark_job_run::tracker::Cadence;
use crate::spark_job_run::tracker::JobKey;

pub(super) const UID: &str = "0b5c6a52-5a3e-4c59-9a4e-1f2f0d3c4b5a";
const ROLE: &str = "arn:aws:iam::123456789012:role/emr-job-role";
pub(super) const JOB: &str = "/apis/emr-on-eks.dev/v1alpha1/namespaces/team-a/sparkjobruns/pi";
pub(super) const VC: &str = "/apis/emr-on-eks.dev/v1alpha1/virtualclusters/analytics";

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    config: OperatorConfig,
}

/// The controller's state around a mock apiserver and a scripted AWS.
pub(super) async fn state(aws_replies: Vec<Reply>) -> (Arc<State>, MockApiServer, TestServer) {
    let (client, server) = MockApiServer::start();
    let aws_server = TestServer::start(aws_replies);
    let sdk = aws_server.sdk_config(1).await;
    let aws = Aws::new(&AwsClients::from_sdk_config(&sdk), Arc::new(NoopObserver));
    let config = Args::try_parse_from(["test"]).unwrap().config;
    let cadence = Cadence {
        poll_interval: config.poll_interval,
        young_poll_interval: config.young_poll_interval,
        young_job_age: config.young_job_age,
    };
    let ctx = Arc::new(Context::new(
        client,
        aws,
        config,
        Arc::new(Metrics::new()),
        None,
    ));
    let tracker = Arc::new(SharedTracker::new(cadence));
    (Arc::new(State::new(ctx, tracker)), server, aws_server)
}

/// A new SparkJobRun, as the watch cache holds it.
pub(super) fn job() -> Value {
    json!({
        "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
        "metadata": {
            "name": "pi", "namespace": "team-a", "uid": UID, "resourceVersion": "1",
            "generation": 1, "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {
            "virtualCluster": {"name": "analytics"},
            "executionRoleArn": ROLE,
            "releaseLabel": "emr-7.2.0-latest",
            "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": "local:///usr/lib/spark/examples/src/main/python/pi.py"}},
        },
    })
}

/// A Ready VirtualCluster for namespace team-a, allowing [`ROLE`].
pub(super) fn virtual_cluster() -> Value {
    json!({
        "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "VirtualCluster",
        "metadata": {"name": "analytics", "uid": "vc-uid", "resourceVersion": "7"},
        "spec": {"eksClusterName": "c", "namespace": {"name": "team-a"}, "executionRoles": [{"arn": ROLE}]},
        "status": {
            "virtualClusterId": "vc123",
            "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": "ready",
                            "lastTransitionTime": "2026-01-01T00:00:00Z"}],
        },
    })
}

pub(super) fn cached(object: &Value) -> Arc<SparkJobRun> {
    Arc::new(serde_json::from_value(object.clone()).unwrap())
}

fn start_job_run_calls(aws: &TestServer) -> usize {
    aws.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/jobruns"))
        .count()
}

/// Answers the object's status writes by applying them, until the reconcile ends.
async fn answer_status_writes(
    server: &mut MockApiServer,
    object: &mut Value,
    reconciling: tokio::task::JoinHandle<Result<Action, Error>>,
    mut on_write: impl FnMut(&Call),
) -> Result<Action, Error> {
    let mut reconciling = reconciling;
    loop {
        tokio::select! {
            done = &mut reconciling => return done.unwrap(),
            call = server.next() => {
                if call.is("PATCH", &format!("{JOB}/status")) {
                    on_write(&call);
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
async fn the_finalizer_is_written_before_start_job_run_and_the_attempt_with_its_job_run() {
    let (state, mut server, aws) = state(vec![Reply::json(
        200,
        json!({"id": "jr-1", "name": "pi", "arn": "arn:jr-1", "virtualClusterId": "vc123"}),
    )])
    .await;
    let mut object = job();
    let reconciling = tokio::spawn(reconcile(cached(&object), state.clone()));

    server.expect("GET", VC).await.ok(&virtual_cluster());

    let finalizer = server.expect("PATCH", JOB).await;
    assert_eq!(
        finalizer.body["metadata"]["finalizers"],
        json!([SPARK_JOB_RUN_FINALIZER])
    );
    assert_eq!(finalizer.body["metadata"]["resourceVersion"], "1");
    assert!(aws.requests().is_empty(), "AWS called before the finalizer");
    object = written(&object, &finalizer.body);
    finalizer.ok(&object);

    // One status write, after StartJobRun: the attempt together with its job run.
    let recorded = server.expect("PATCH", &format!("{JOB}/status")).await;
    assert_eq!(start_job_run_calls(&aws), 1, "{:?}", aws.requests());
    assert_eq!(recorded.body["status"]["attempt"], 1);
    assert_eq!(recorded.body["status"]["jobRunId"], "jr-1");
    assert_eq!(recorded.body["status"]["attempts"][0]["jobRunId"], "jr-1");
    assert!(recorded.body["status"]["submittedSpecFingerprint"].is_string());
    // Written onto the version the finalizer write returned, not the cached one.
    assert_eq!(recorded.body["metadata"]["resourceVersion"], "2");
    object = written(&object, &json!({"status": recorded.body["status"].clone()}));
    recorded.ok(&object);

    let result = answer_status_writes(&mut server, &mut object, reconciling, |call| {
        panic!("a second status write: {:?}", call.body);
    })
    .await;
    assert!(result.is_ok(), "{result:?}");
    let requests = aws.requests();
    assert_eq!(requests[0].path, "/virtualclusters/vc123/jobruns");
    assert_eq!(requests[0].json()["clientToken"], client_token(UID, 1));
    assert_eq!(
        server.event_reasons(),
        ["JobRunStarted"],
        "one Event for the start"
    );
}

#[tokio::test]
async fn under_a_run_limit_the_attempt_is_written_before_start_job_run() {
    let (state, mut server, aws) = state(vec![Reply::json(
        200,
        json!({"id": "jr-1", "name": "pi", "arn": "arn:jr-1", "virtualClusterId": "vc123"}),
    )])
    .await;
    let mut limited = virtual_cluster();
    limited["spec"]["maxConcurrentJobRuns"] = json!(2);
    let mut object = job();
    let reconciling = tokio::spawn(reconcile(cached(&object), state.clone()));
    server.expect("GET", VC).await.ok(&limited);
    let finalizer = server.expect("PATCH", JOB).await;
    object = written(&object, &finalizer.body);
    finalizer.ok(&object);
    // A slot's holder is counted from status across restarts: the attempt comes first.
    let recorded = server.expect("PATCH", &format!("{JOB}/status")).await;
    assert_eq!(recorded.body["status"]["attempt"], 1);
    assert_eq!(recorded.body["status"]["jobRunId"], Value::Null);
    assert!(
        aws.requests().is_empty(),
        "StartJobRun sent before its attempt was in status"
    );
    object = written(&object, &json!({"status": recorded.body["status"].clone()}));
    recorded.ok(&object);
    let mut started = Vec::new();
    let result = answer_status_writes(&mut server, &mut object, reconciling, |call| {
        started.push(call.body["status"]["jobRunId"].clone());
    })
    .await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(started, [json!("jr-1")]);
    assert_eq!(start_job_run_calls(&aws), 1);
}

#[tokio::test]
async fn a_lost_status_write_after_start_job_run_finds_the_run_and_never_starts_twice() {
    let token = client_token(UID, 1);
    let (state, mut server, aws) = state(vec![
        Reply::json(
            200,
            json!({"id": "jr-1", "name": "pi", "arn": "arn:jr-1", "virtualClusterId": "vc123"}),
        ),
        Reply::json(
            200,
            json!({"jobRuns": [{"id": "jr-1", "virtualClusterId": "vc123", "arn": "arn:jr-1",
                                "state": "SUBMITTED", "clientToken": token,
                                "createdAt": "2026-01-01T00:00:05Z"}]}),
        ),
    ])
    .await;
    let stale = job();
    let reconciling = tokio::spawn(reconcile(cached(&stale), state.clone()));

    server.expect("GET", VC).await.ok(&virtual_cluster());
    let finalizer = server.expect("PATCH", JOB).await;
    let mut object = written(&stale, &finalizer.body);
    finalizer.ok(&object);
    // EMR started the run; the status write is refused (another write landed first). As after
    // a crash or a dropped connection, the attempt is nowhere in status.
    let refused = server.expect("PATCH", &format!("{JOB}/status")).await;
    assert_eq!(refused.body["status"]["jobRunId"], "jr-1");
    refused.fail(409, "Conflict");
    let error = reconciling.await.unwrap().unwrap_err();
    assert!(matches!(error, Error::StaleObject { .. }), "{error:?}");
    assert_eq!(start_job_run_calls(&aws), 1);
    assert_eq!(
        error_policy(
            ObjectRef::from_obj(cached(&stale).as_ref()),
            &error,
            state.clone()
        ),
        Action::requeue(std::time::Duration::from_secs(1))
    );

    // The retry starts from the same stale cached copy and reads the object first: the
    // finalizer without an attempt says attempt 1 may have been sent.
    let reconciling = tokio::spawn(reconcile(cached(&stale), state.clone()));
    let fresh = server.expect("GET", JOB).await;
    fresh.ok(&object);
    let mut job_run_ids = Vec::new();
    let result = answer_status_writes(&mut server, &mut object, reconciling, |call| {
        job_run_ids.push(call.body["status"]["jobRunId"].clone());
        assert_eq!(call.body["status"]["attempt"], 1);
    })
    .await;
    assert!(result.is_ok(), "{result:?}");
    // Its run is found by its client token and adopted, not started again.
    assert_eq!(job_run_ids, [json!("jr-1")]);
    assert_eq!(start_job_run_calls(&aws), 1, "{:?}", aws.requests());
    let last = aws.requests().last().cloned().unwrap();
    assert_eq!(last.method, "GET");
    assert!(last.path.starts_with("/virtualclusters/vc123/jobruns"));
    server
        .expect_no_more(std::time::Duration::from_millis(200))
        .await;
}

#[tokio::test]
async fn an_unrecorded_first_attempt_without_a_run_in_emr_is_started_once() {
    let (state, mut server, aws) = state(vec![
        Reply::json(200, json!({"jobRuns": []})),
        Reply::json(
            200,
            json!({"id": "jr-1", "name": "pi", "arn": "arn:jr-1", "virtualClusterId": "vc123"}),
        ),
    ])
    .await;
    // The finalizer is there and status records nothing: attempt 1 may have been sent.
    let mut object = job();
    object["metadata"]["finalizers"] = json!([SPARK_JOB_RUN_FINALIZER]);
    let reconciling = tokio::spawn(reconcile(cached(&object), state.clone()));
    server.expect("GET", JOB).await.ok(&object);
    server.expect("GET", VC).await.ok(&virtual_cluster());
    let recorded = server.expect("PATCH", &format!("{JOB}/status")).await;
    // Looked for first (nothing found), then sent once, and recorded with its run.
    let requests = aws.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].method, "GET");
    assert_eq!(start_job_run_calls(&aws), 1);
    assert_eq!(requests[1].json()["clientToken"], client_token(UID, 1));
    assert_eq!(recorded.body["status"]["attempt"], 1);
    assert_eq!(recorded.body["status"]["jobRunId"], "jr-1");
    object = written(&object, &json!({"status": recorded.body["status"].clone()}));
    recorded.ok(&object);
    let result = answer_status_writes(&mut server, &mut object, reconciling, |call| {
        panic!("a second status write: {:?}", call.body);
    })
    .await;
    assert!(result.is_ok(), "{result:?}");
}

/// [`job`] finished at `ended` with a TTL of `ttl` seconds, as the watch serves it after the
/// operator wrote its end: `jr1` in `vc0123`.
fn finished_job(ended: chrono::DateTime<chrono::Utc>, ttl: i64) -> Value {
    let mut object = job();
    object["metadata"]["finalizers"] = json!([SPARK_JOB_RUN_FINALIZER]);
    object["spec"]["ttlSecondsAfterFinished"] = json!(ttl);
    let job: SparkJobRun = serde_json::from_value(object).unwrap();
    serde_json::to_value(cache::tests::finished(job, ended)).unwrap()
}

/// What the cache keeps of `object`, judged at `at`: settled.
fn settled(object: &Value, at: chrono::DateTime<chrono::Utc>) -> Cached {
    let cached = Cached::of(&serde_json::from_value(object.clone()).unwrap(), at);
    assert!(matches!(cached, Cached::Settled(_)), "{cached:?}");
    cached
}

fn whole_seconds(at: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(at.timestamp(), 0).unwrap()
}

#[tokio::test]
async fn a_settled_object_is_reconciled_from_the_cache_alone() {
    let (state, mut server, aws) = state(Vec::new()).await;
    let now = whole_seconds(chrono::Utc::now());
    let object = finished_job(now - chrono::TimeDelta::minutes(1), 3600);
    // The echo of this process's own last write: nothing newer is left to remember.
    let this = ObjectRef::from_obj(cached(&object).as_ref());
    *state.serial.lock(&this).await = Some(BeyondCache::Version("1".into()));
    let action = reconcile_cached(settled(&object, now), state.clone())
        .await
        .unwrap();
    assert_eq!(state.serial.len(), 0, "the object's slot is forgotten");
    // Woken when its TTL expires, 59 minutes from now, as a whole reconcile would be.
    let wake = action.requeue_after().unwrap();
    assert!(
        wake > Duration::from_secs(3500) && wake <= Duration::from_secs(3540),
        "{wake:?}"
    );
    server.expect_no_more(Duration::from_millis(200)).await;
    assert!(aws.requests().is_empty());
}

#[tokio::test]
async fn a_settled_object_whose_run_the_poller_holds_is_read_and_its_run_dropped() {
    let (state, mut server, _aws) = state(Vec::new()).await;
    let now = whole_seconds(chrono::Utc::now());
    let object = finished_job(now - chrono::TimeDelta::minutes(1), 3600);
    let key = JobKey {
        virtual_cluster_id: "vc0123".into(),
        job_run_id: "jr1".into(),
    };
    let this = ObjectRef::from_obj(cached(&object).as_ref());
    state
        .tracker
        .change(|r| r.track(key.clone(), this, now, now));
    let reconciling = tokio::spawn(reconcile_cached(settled(&object, now), state.clone()));
    server.expect("GET", JOB).await.ok(&object);
    assert!(reconciling.await.unwrap().is_ok());
    assert!(state.tracker.with(|r| r.tracked_by(&key).is_none()));
    // Its status was already what the decision writes.
    server.expect_no_more(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_settled_object_past_its_ttl_is_read_and_deleted() {
    let (state, mut server, _aws) = state(Vec::new()).await;
    let ended = whole_seconds(chrono::Utc::now()) - chrono::TimeDelta::seconds(10);
    let object = finished_job(ended, 1);
    // Settled when it was cached, before its TTL passed.
    let reconciling = tokio::spawn(reconcile_cached(settled(&object, ended), state.clone()));
    server.expect("GET", JOB).await.ok(&object);
    server.expect("DELETE", JOB).await.ok(&object);
    assert!(reconciling.await.unwrap().is_ok());
    assert!(
        server
            .event_reasons()
            .contains(&emr_api::spark_job_run::reasons::TTL_EXPIRED.to_owned())
    );
}

#[tokio::test]
async fn a_settled_object_this_process_wrote_a_newer_version_of_is_read() {
    let (state, mut server, _aws) = state(Vec::new()).await;
    let now = whole_seconds(chrono::Utc::now());
    let object = finished_job(now - chrono::TimeDelta::minutes(1), 3600);
    let this = ObjectRef::from_obj(cached(&object).as_ref());
    *state.serial.lock(&this).await = Some(BeyondCache::Version("2".into()));
    let reconciling = tokio::spawn(reconcile_cached(settled(&object, now), state.clone()));
    let mut newer = object.clone();
    newer["metadata"]["resourceVersion"] = json!("2");
    server.expect("GET", JOB).await.ok(&newer);
    assert!(reconciling.await.unwrap().is_ok());
    server.expect_no_more(Duration::from_millis(200)).await;
}

fn cancel_job_run_calls(aws: &TestServer) -> usize {
    aws.requests()
        .iter()
        .filter(|r| r.method == "DELETE" && r.path.contains("/jobruns/"))
        .count()
}

/// A running job with its run recorded, deleted just now (a deletion older than the give-up
/// time lets the object go uncancelled).
fn deleted_running_job() -> Value {
    let mut object = job();
    object["metadata"]["finalizers"] = json!([SPARK_JOB_RUN_FINALIZER]);
    object["metadata"]["deletionTimestamp"] = json!(whole_seconds(chrono::Utc::now()));
    // Observed at an older generation, so that the decision writes status.
    object["status"] = json!({
        "observedGeneration": 0, "attempt": 1, "virtualClusterId": "vc123", "jobRunId": "jr-1",
        "state": "RUNNING", "submittedSpecFingerprint": "f",
    });
    object
}

#[tokio::test]
async fn a_cancellation_whose_status_write_is_refused_is_not_sent_again() {
    let (state, mut server, aws) = state(vec![Reply::json(
        200,
        json!({"id": "jr-1", "virtualClusterId": "vc123"}),
    )])
    .await;
    let stale = deleted_running_job();
    let key = JobKey {
        virtual_cluster_id: "vc123".into(),
        job_run_id: "jr-1".into(),
    };
    // The poller holds the run: it is proven this object's.
    let this = ObjectRef::from_obj(cached(&stale).as_ref());
    let now = chrono::Utc::now();
    state
        .tracker
        .change(|r| r.track(key.clone(), this, now, now));
    let mut reconciling = tokio::spawn(reconcile(cached(&stale), state.clone()));
    // The write after CancelJobRun is refused: another write landed first.
    let result = loop {
        tokio::select! {
            done = &mut reconciling => break done.unwrap(),
            call = server.next() => {
                if call.is("GET", VC) {
                    call.ok(&virtual_cluster());
                } else if call.is("PATCH", &format!("{JOB}/status")) {
                    call.fail(409, "Conflict");
                } else {
                    panic!("unexpected request: {call:?}");
                }
            }
        }
    };
    let error = result.unwrap_err();
    assert!(matches!(error, Error::StaleObject { .. }), "{error:?}");
    assert_eq!(cancel_job_run_calls(&aws), 1);

    // The retry (from the same cached copy) tracks the run and writes the status, without a
    // second CancelJobRun.
    let mut reconciling = tokio::spawn(reconcile(cached(&stale), state.clone()));
    let mut object = stale.clone();
    let mut writes = 0;
    let result = loop {
        tokio::select! {
            done = &mut reconciling => break done.unwrap(),
            call = server.next() => {
                if call.is("GET", JOB) {
                    call.ok(&object);
                } else if call.is("GET", VC) {
                    call.ok(&virtual_cluster());
                } else if call.is("PATCH", &format!("{JOB}/status")) {
                    writes += 1;
                    object = written(&object, &json!({"status": call.body["status"].clone()}));
                    call.ok(&object);
                } else {
                    panic!("unexpected request: {call:?}");
                }
            }
        }
    };
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(writes, 1);
    assert_eq!(cancel_job_run_calls(&aws), 1, "{:?}", aws.requests());
    assert!(state.tracker.with(|r| r.tracked_by(&key).is_some()));
}
