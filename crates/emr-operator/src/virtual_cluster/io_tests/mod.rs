//! The VirtualCluster reconcile's I/O without a cluster: the kit's mock apiserver (behind a small
//! fake that keeps objects) and emr-aws's scripted AWS server, so the order and content of the
//! calls on both sides are asserted: the finalizer before any AWS effect, a refused (409) status
//! write read afresh without repeating a call, and the order of cleanup.

mod cleanup;
mod converge;
mod fake;

use emr_aws::test_server::Reply;
use serde_json::{Value, json};

use crate::config::DEFAULT_EMR_CONTAINERS_CLUSTER_ROLE;

const NAME: &str = "team-a";
const NAMESPACE: &str = "spark-a";
const ACCOUNT: &str = "123456789012";
const OIDC: &str = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE";

/// A VirtualCluster as stored: the spec every test uses, patched by `edit`.
fn virtual_cluster(edit: impl FnOnce(&mut Value)) -> Value {
    let mut vc = json!({
        "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "VirtualCluster",
        "metadata": {"name": NAME, "uid": "vc-uid", "generation": 1},
        "spec": {
            "eksClusterName": "prod",
            "namespace": {"name": NAMESPACE},
            "accountId": ACCOUNT,
            "oidcProvider": OIDC,
            "emrAccess": {"mode": "AccessEntry"},
        },
    });
    edit(&mut vc);
    vc
}

fn cluster_role() -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": DEFAULT_EMR_CONTAINERS_CLUSTER_ROLE},
        "rules": [],
    })
}

/// EMR's DescribeVirtualCluster answer for `id`, RUNNING in the test's namespace.
fn described(id: &str) -> Reply {
    Reply::json(
        200,
        json!({"virtualCluster": {
            "id": id, "name": NAME, "arn": format!("arn:aws:emr-containers:us-east-1:{ACCOUNT}:/virtualclusters/{id}"),
            "state": "RUNNING",
            "containerProvider": {"type": "EKS", "id": "prod", "info": {"eksInfo": {"namespace": NAMESPACE}}},
            "createdAt": "2023-11-14T22:13:20Z",
        }}),
    )
}
