//! Deleting a VirtualCluster (policy `Delete`): the order in which what it made is undone.

use std::sync::Arc;

use emr_api::labels::{VIRTUAL_CLUSTER_FINALIZER, VIRTUAL_CLUSTER_LABEL};
use emr_api::{VirtualCluster, VirtualClusterSpec};
use emr_aws::test_server::{Recorded, Reply, TestServer};
use serde_json::{Value, json};

use super::fake::{self, FakeApiserver, VC_PATH};
use super::{ACCOUNT, NAME, NAMESPACE, OIDC, described, virtual_cluster};
use crate::kit::testing::MockApiServer;
use crate::virtual_cluster::reconcile::reconcile;
use crate::virtual_cluster::state::State;
use crate::virtual_cluster::steps::trust::plan::{self as trust, Family, TrustTarget};

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/emr-job-role";
const NAMESPACE_PATH: &str = "/api/v1/namespaces/spark-a";

fn vc_path() -> String {
    format!("{VC_PATH}/{NAME}")
}

/// A VirtualCluster being deleted, whose status records the namespace the operator created and
/// the EMR virtual cluster; its one execution role's trust statement is removed from the spec.
fn deleting() -> Value {
    virtual_cluster(|vc| {
        vc["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        vc["metadata"]["finalizers"] = json!([VIRTUAL_CLUSTER_FINALIZER]);
        vc["spec"]["executionRoles"] = json!([{"arn": ROLE_ARN}]);
        vc["status"] = json!({
            "virtualClusterId": "vc-1",
            "accountId": ACCOUNT,
            "oidcProvider": OIDC,
            "managed": {"namespace": NAMESPACE, "namespaceCreated": true, "namespaceUid": "ns-uid"},
        });
    })
}

fn namespace() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": NAMESPACE, "uid": "ns-uid", "labels": {VIRTUAL_CLUSTER_LABEL: NAME}},
    })
}

/// The trust statement the spec's execution role gets in the test's namespace.
fn our_statement(vc: &Value) -> Value {
    let spec: VirtualClusterSpec = serde_json::from_value(vc["spec"].clone()).expect("a spec");
    let target = TrustTarget {
        partition: "aws",
        account_id: ACCOUNT,
        oidc_provider: OIDC,
        namespace: NAMESPACE,
    };
    let mut wanted = trust::wanted(&spec, &target, Family::ExecutionRoles);
    wanted.remove(0).expect("a valid role").document
}

/// IAM's GetRole answer for a role trusting EC2 and whatever `statement` says.
fn role_trusting(statement: &Value) -> Reply {
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
        statement,
    ]});
    let encoded: String = policy
        .to_string()
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    Reply::xml(
        200,
        &format!(
            r#"<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRoleResult><Role>
<Path>/</Path><AssumeRolePolicyDocument>{encoded}</AssumeRolePolicyDocument><RoleId>AROAEXAMPLE</RoleId>
<RoleName>emr-job-role</RoleName><Arn>{ROLE_ARN}</Arn><CreateDate>2023-11-14T22:13:20Z</CreateDate>
</Role></GetRoleResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></GetRoleResponse>"#
        ),
    )
}

fn iam_updated() -> Reply {
    Reply::xml(
        200,
        r#"<UpdateAssumeRolePolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></UpdateAssumeRolePolicyResponse>"#,
    )
}

async fn delete_once(api: &mut FakeApiserver, aws: &TestServer) {
    let (client, mut server) = MockApiServer::start();
    let ctx = fake::context(client, aws).await;
    let state = Arc::new(State::new(ctx));
    let stored = api.get(&vc_path()).cloned().expect("stored");
    let vc: VirtualCluster = serde_json::from_value(stored).expect("a VirtualCluster");
    let result = api
        .serve(&mut server, aws, reconcile(Arc::new(vc), state))
        .await;
    assert!(result.is_ok(), "{result:?}");
}

/// What an AWS request was, by its REST path or its awsQuery action.
fn aws_call(r: &Recorded) -> String {
    match r.form_field("Action") {
        Some(action) => action,
        None => format!(
            "{} {}",
            r.method,
            r.path.split('?').next().unwrap_or_default()
        ),
    }
}

#[tokio::test]
async fn deletion_checks_job_runs_then_undoes_emr_iam_and_the_namespace_before_the_finalizer() {
    let vc = deleting();
    let statement = our_statement(&vc);
    let aws = TestServer::start(vec![
        described("vc-1"),
        Reply::json(200, json!({"id": "vc-1"})),
        role_trusting(&statement),
        iam_updated(),
    ]);
    let mut api = FakeApiserver::default();
    api.put(&vc_path(), vc);
    api.put(NAMESPACE_PATH, namespace());
    delete_once(&mut api, &aws).await;

    let calls: Vec<String> = aws.requests().iter().map(aws_call).collect();
    assert_eq!(
        calls,
        [
            "GET /virtualclusters/vc-1",
            "DELETE /virtualclusters/vc-1",
            "GetRole",
            "UpdateAssumeRolePolicy"
        ]
    );
    let update = aws.requests()[3]
        .form_field("PolicyDocument")
        .expect("a policy");
    let update: Value = serde_json::from_str(&update).expect("JSON");
    assert_eq!(
        update["Statement"].as_array().map(Vec::len),
        Some(1),
        "only the operator's statement goes: {update}"
    );

    let shape: Vec<(&str, &str, usize)> = api
        .seen
        .iter()
        .map(|s| (s.method.as_str(), s.path.as_str(), s.aws_before))
        .collect();
    let vc_path = vc_path();
    assert_eq!(
        shape,
        [
            (
                "GET",
                "/apis/emr-on-eks.dev/v1alpha1/namespaces/spark-a/sparkjobruns",
                0
            ),
            ("GET", NAMESPACE_PATH, 4),
            ("DELETE", NAMESPACE_PATH, 4),
            ("PATCH", vc_path.as_str(), 4),
        ],
        "job runs first, the namespace after AWS, the finalizer last"
    );
    let finalizer = &api.seen[3].body["metadata"];
    assert_eq!(finalizer["finalizers"], json!([]));
    assert!(finalizer["resourceVersion"].is_string(), "{finalizer}");
    assert!(api.get(NAMESPACE_PATH).is_none());
}

#[tokio::test]
async fn a_deletion_waiting_for_a_running_job_makes_no_aws_call_and_deletes_nothing() {
    let aws = TestServer::start(vec![]);
    let mut api = FakeApiserver::default();
    api.put(&vc_path(), deleting());
    api.put(NAMESPACE_PATH, namespace());
    api.put(
        "/apis/emr-on-eks.dev/v1alpha1/namespaces/spark-a/sparkjobruns/nightly",
        json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
            "metadata": {"name": "nightly", "namespace": NAMESPACE},
            "spec": {
                "virtualCluster": {"name": NAME},
                "executionRoleArn": ROLE_ARN,
                "releaseLabel": "emr-7.2.0-latest",
                "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": "local:///x.py"}},
            },
            "status": {"attempt": 1, "submittedSpecFingerprint": "f", "jobRunId": "jr-1", "state": "RUNNING"},
        }),
    );
    delete_once(&mut api, &aws).await;

    assert!(aws.requests().is_empty(), "{:?}", aws.requests());
    assert!(
        api.seen.iter().all(|s| s.method != "DELETE"),
        "{:?}",
        api.seen
    );
    let stored = api.get(&vc_path()).expect("kept");
    assert_eq!(
        stored["metadata"]["finalizers"],
        json!([VIRTUAL_CLUSTER_FINALIZER])
    );
    let ready = stored["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .expect("Ready");
    assert_eq!(ready["reason"], "WaitingForJobRuns");
    assert!(api.get(NAMESPACE_PATH).is_some());
}
