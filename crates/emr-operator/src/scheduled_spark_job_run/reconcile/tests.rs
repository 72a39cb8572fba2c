use serde_json::json;

use super::*;
use crate::kit::testing::MockApiServer;

fn schedule() -> ScheduledSparkJobRun {
    serde_json::from_value(json!({
        "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "ScheduledSparkJobRun",
        "metadata": {"name": "nightly", "namespace": "team-a", "uid": "u-1", "generation": 1},
        "spec": {"schedule": "@daily", "template": {"spec": {
            "virtualCluster": {"name": "analytics"},
            "executionRoleArn": "arn:aws:iam::123456789012:role/emr-job-role",
            "releaseLabel": "emr-7.2.0-latest",
            "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": "local:///pi.py"}}
        }}},
        "status": {"lastScheduleTime": "2026-03-01T00:00:00Z"}
    }))
    .unwrap()
}

fn new_child() -> NewChild {
    NewChild {
        name: "nightly-1772409600".into(),
        slot: DateTime::from_timestamp(1_772_409_600, 0).unwrap(),
        manual: false,
    }
}

/// Runs `create` against the mock; `answer` answers the calls it makes.
async fn created(
    answer: impl FnOnce(MockApiServer) -> tokio::task::JoinHandle<()>,
) -> (Result<(), Error>, ScheduledSparkJobRunStatus, Vec<Event>) {
    let (client, server) = MockApiServer::start();
    let handle = answer(server);
    let obj = schedule();
    let api: Api<SparkJobRun> = Api::namespaced(client, "team-a");
    let new = new_child();
    let mut status = ScheduledSparkJobRunStatus {
        last_schedule_time: Some(new.slot.into()),
        active: vec![emr_api::scheduled_spark_job_run::ChildRef {
            name: new.name.clone(),
            schedule_time: Some(new.slot.into()),
        }],
        active_count: 1,
        ..Default::default()
    };
    let mut events = Vec::new();
    let result = create(
        &obj,
        &api,
        &new,
        "u-1",
        &mut status,
        &mut events,
        Utc::now(),
    )
    .await;
    handle.await.unwrap();
    (result, status, events)
}

fn child_owned_by(uid: &str) -> serde_json::Value {
    json!({
        "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
        "metadata": {"name": "nightly-1772409600", "namespace": "team-a",
            "ownerReferences": [{"apiVersion": "emr-on-eks.dev/v1alpha1",
                "kind": "ScheduledSparkJobRun", "name": "nightly", "uid": uid,
                "controller": true}]},
        "spec": schedule().spec.template.spec
    })
}

#[tokio::test]
async fn already_exists_from_our_own_child_is_the_slot_already_started() {
    let (result, status, events) = created(|mut server| {
        tokio::spawn(async move {
            server
                .expect("POST", "/sparkjobruns")
                .await
                .fail(409, "AlreadyExists");
            server
                .expect("GET", "/sparkjobruns/nightly-1772409600")
                .await
                .ok(&child_owned_by("u-1"));
        })
    })
    .await;
    assert!(result.is_ok());
    assert!(status.skipped.is_empty());
    assert_eq!(status.active_count, 1);
    assert!(events.is_empty(), "{events:?}");
}

#[tokio::test]
async fn a_name_taken_by_another_object_skips_the_slot_with_a_warning() {
    let (result, status, events) = created(|mut server| {
        tokio::spawn(async move {
            server
                .expect("POST", "/sparkjobruns")
                .await
                .fail(409, "AlreadyExists");
            server
                .expect("GET", "/sparkjobruns/nightly-1772409600")
                .await
                .ok(&child_owned_by("someone-else"));
        })
    })
    .await;
    assert!(result.is_ok());
    assert_eq!(status.skipped[0].reason, reasons::NAME_TAKEN);
    assert_eq!(status.active_count, 0);
    // The slot did not start a run: lastScheduleTime stays the previous one.
    assert_eq!(
        status.last_schedule_time.map(|t| t.to_string()).as_deref(),
        Some("2026-03-01T00:00:00Z")
    );
    assert!(events[0].warning && events[0].reason == reasons::NAME_TAKEN);
}

#[tokio::test]
async fn a_refused_child_is_recorded_and_an_unreachable_apiserver_is_retried() {
    let (result, status, _) = created(|mut server| {
        tokio::spawn(async move {
            server
                .expect("POST", "/sparkjobruns")
                .await
                .fail(422, "Invalid");
        })
    })
    .await;
    assert!(result.is_ok());
    assert_eq!(status.skipped[0].reason, reasons::CREATE_REFUSED);
    let (result, status, _) = created(|mut server| {
        tokio::spawn(async move {
            server
                .expect("POST", "/sparkjobruns")
                .await
                .fail(503, "ServiceUnavailable");
        })
    })
    .await;
    // The slot stays due: the reconcile fails and its retry creates the same name.
    assert!(matches!(result, Err(Error::CreateChild { .. })));
    assert!(status.skipped.is_empty());
}
