//! Converging a new VirtualCluster: what is written first, and what a refused write leads to.

use std::sync::Arc;

use emr_api::VirtualCluster;
use emr_api::labels::VIRTUAL_CLUSTER_FINALIZER;
use emr_aws::test_server::{Reply, TestServer};
use serde_json::json;

use super::fake::{self, FakeApiserver, VC_PATH};
use super::{NAME, cluster_role, described, virtual_cluster};
use crate::config::DEFAULT_EMR_CONTAINERS_CLUSTER_ROLE;
use crate::kit::testing::MockApiServer;
use crate::virtual_cluster::reconcile::reconcile;
use crate::virtual_cluster::state::State;

fn vc_path() -> String {
    format!("{VC_PATH}/{NAME}")
}

/// EMR's answers for a namespace no virtual cluster serves yet: none listed, one created.
fn create_replies() -> Vec<Reply> {
    vec![
        Reply::json(200, json!({"virtualClusters": []})),
        Reply::json(200, json!({"id": "vc-1", "name": NAME, "arn": "arn:vc-1"})),
        described("vc-1"),
    ]
}

/// A fake apiserver holding a new VirtualCluster and the chart's ClusterRole.
fn fresh() -> FakeApiserver {
    let mut api = FakeApiserver::default();
    api.put(&vc_path(), virtual_cluster(|_| {}));
    api.put(
        &format!(
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/{DEFAULT_EMR_CONTAINERS_CLUSTER_ROLE}"
        ),
        cluster_role(),
    );
    api
}

/// Runs one reconcile of the VirtualCluster `api` holds.
async fn reconcile_once(
    api: &mut FakeApiserver,
    aws: &TestServer,
) -> Result<kube::runtime::controller::Action, crate::virtual_cluster::Error> {
    let (client, mut server) = MockApiServer::start();
    let ctx = fake::context(client, aws).await;
    let state = Arc::new(State::new(ctx));
    let stored = api.get(&vc_path()).cloned().expect("stored");
    let vc: VirtualCluster = serde_json::from_value(stored).expect("a VirtualCluster");
    api.serve(&mut server, aws, reconcile(Arc::new(vc), state))
        .await
}

fn creations(aws: &TestServer) -> usize {
    aws.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.split('?').next() == Some("/virtualclusters"))
        .count()
}

#[tokio::test]
async fn the_finalizer_is_written_before_anything_else_and_before_any_aws_call() {
    let aws = TestServer::start(create_replies());
    let mut api = fresh();
    let read_at = api.get(&vc_path()).expect("stored")["metadata"]["resourceVersion"].clone();
    let result = reconcile_once(&mut api, &aws).await;
    assert!(result.is_ok(), "{result:?}");

    let first_write = api.seen.iter().find(|s| s.writes()).expect("a write");
    assert!(
        first_write.is("PATCH", &format!("/virtualclusters/{NAME}")),
        "{first_write:?}"
    );
    assert_eq!(
        first_write.body["metadata"]["finalizers"],
        json!([VIRTUAL_CLUSTER_FINALIZER])
    );
    assert_eq!(
        first_write.body["metadata"]["resourceVersion"], read_at,
        "written onto the version read"
    );
    assert_eq!(
        first_write.aws_before, 0,
        "no AWS call before the finalizer"
    );
    // The reconcile went on to AWS afterwards: the order above is not an empty claim.
    assert_eq!(creations(&aws), 1);
    let stored = api.get(&vc_path()).expect("stored");
    assert_eq!(stored["status"]["virtualClusterId"], "vc-1");
    assert_eq!(
        stored["metadata"]["finalizers"],
        json!([VIRTUAL_CLUSTER_FINALIZER])
    );
}

#[tokio::test]
async fn a_refused_finalizer_write_is_redone_on_a_fresh_read_before_any_aws_call() {
    let aws = TestServer::start(create_replies());
    let mut api = fresh();
    api.refuse_once("PATCH", "/virtualclusters/team-a", 409);
    let result = reconcile_once(&mut api, &aws).await;
    assert!(result.is_ok(), "{result:?}");
    let vc_calls: Vec<_> = api
        .seen
        .iter()
        .take_while(|s| !s.path.starts_with("/api/v1/namespaces"))
        .collect();
    let shape: Vec<(&str, bool)> = vc_calls
        .iter()
        .map(|s| {
            (
                s.method.as_str(),
                s.path.ends_with("/virtualclusters/team-a"),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [("PATCH", true), ("GET", true), ("PATCH", true)],
        "{vc_calls:?}"
    );
    assert!(vc_calls.iter().all(|s| s.aws_before == 0));
    assert_eq!(creations(&aws), 1);
}

#[tokio::test]
async fn a_status_write_refused_with_409_is_read_afresh_and_creates_nothing_twice() {
    let mut replies = create_replies();
    // The redone pass finds the virtual cluster the refused one recorded.
    replies.push(described("vc-1"));
    let aws = TestServer::start(replies);
    let mut api = fresh();
    api.refuse_once("PATCH", "/virtualclusters/team-a/status", 409);
    let result = reconcile_once(&mut api, &aws).await;
    assert!(result.is_ok(), "{result:?}");

    let status_writes: Vec<usize> = api
        .seen
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is("PATCH", "/virtualclusters/team-a/status"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(status_writes.len(), 2, "{:?}", api.seen);
    let refused = &api.seen[status_writes[0]];
    assert!(
        refused.body["metadata"]["resourceVersion"].is_string(),
        "a status write names the version it was computed from: {refused:?}"
    );
    assert!(
        api.seen[status_writes[0] + 1].is("GET", "/virtualclusters/team-a"),
        "the refusal is followed by a fresh read: {:?}",
        api.seen[status_writes[0] + 1]
    );
    assert_eq!(creations(&aws), 1, "{:?}", aws.requests());
    let stored = api.get(&vc_path()).expect("stored");
    assert_eq!(stored["status"]["virtualClusterId"], "vc-1");
    assert_eq!(
        stored["status"]["managed"]["namespaceCreated"], true,
        "what only the refused pass knew is kept"
    );
}
