//! The VirtualCluster controller against the test bed (a real kube-apiserver with RBAC and the
//! AWS emulator), run as the real operator binary with the chart's least-privilege ClusterRole.
//!
//! Expected Role rules and trust statements are written out by hand here from the reference
//! document (docs: `emr-containers` table, `update-role-trust-policy`, base36 values), never
//! computed with the code under test.
//!
//! All tests share one tokio runtime: the bed's clients are created once per process, and a
//! client must not outlive the runtime whose tasks drive its connections.
//!
//! `kube-system/aws-auth` is one object for the whole cluster; tests that make the operator
//! write it hold `AWS_AUTH` so their before/after comparisons see only their own changes.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use emr_api::condition::{self, ConditionStatus};
use emr_api::{SparkJobRun, VirtualCluster};
use emr_aws::{CreateVirtualClusterRequest, VirtualClusterState};
use emr_operator_tests::{
    Bed, EMR_CONTAINERS_CLUSTER_ROLE, Operator, TEST_LABEL, bed, wait_for, wait_gone,
};
use k8s_openapi::api::core::v1::{ConfigMap, LimitRange, Namespace, ResourceQuota, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, Role, RoleBinding};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};
use tokio::sync::Mutex;

#[path = "virtual_cluster/tenancy.rs"]
mod tenancy;

const ACCOUNT: &str = "123456789012";
const EMR_SLR_ARN: &str = "arn:aws:iam::123456789012:role/AWSServiceRoleForAmazonEMRContainers";
const TIMEOUT: Duration = Duration::from_secs(90);

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime")
});

static AWS_AUTH: Mutex<()> = Mutex::const_new(());

fn run<F: std::future::Future<Output = ()>>(test: F) {
    RUNTIME.block_on(test);
}

// ---------------------------------------------------------------------------------------------
// Expected values, by hand from the reference document
// ---------------------------------------------------------------------------------------------

/// The `emr-containers` rules table (eksctl's Role; the chart's ClusterRole).
fn expected_rules() -> Value {
    let full = json!([
        "get",
        "list",
        "watch",
        "describe",
        "create",
        "edit",
        "delete",
        "deletecollection",
        "annotate",
        "patch",
        "label"
    ]);
    let workloads = json!([
        "get", "list", "watch", "describe", "create", "edit", "delete", "annotate", "patch",
        "label"
    ]);
    json!([
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["serviceaccounts", "services", "configmaps", "events", "pods", "pods/log"], "verbs": full},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "patch", "delete", "watch"]},
        {"apiGroups": ["apps"], "resources": ["statefulsets", "deployments"], "verbs": workloads},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": workloads},
        {"apiGroups": ["extensions", "networking.k8s.io"], "resources": ["ingresses"], "verbs": workloads},
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": full},
        {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["create", "list", "delete", "deletecollection"]},
        {"apiGroups": ["scheduling.volcano.sh"], "resources": ["podgroups"], "verbs": ["get", "list", "watch", "create", "delete", "update"]}
    ])
}

fn ec2_statement() -> Value {
    json!({
        "Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole"
    })
}

fn original_trust() -> Value {
    json!({"Version": "2012-10-17", "Statement": [ec2_statement()]})
}

/// What `aws emr-containers update-role-trust-policy` appends, with base36(role name) given.
fn emr_statement(provider: &str, namespace: &str, base36_role: &str) -> Value {
    json!({
        "Effect": "Allow",
        "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{provider}")},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringLike": {
            format!("{provider}:sub"):
                format!("system:serviceaccount:{namespace}:emr-containers-sa-*-*-{ACCOUNT}-{base36_role}")
        }}
    })
}

/// What eksctl writes for an IRSA service account.
fn irsa_statement(provider: &str, namespace: &str, service_account: &str) -> Value {
    json!({
        "Effect": "Allow",
        "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{provider}")},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            format!("{provider}:sub"): format!("system:serviceaccount:{namespace}:{service_account}"),
            format!("{provider}:aud"): "sts.amazonaws.com"
        }}
    })
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// One test's world: its label value, EKS cluster, namespace name and operator.
struct World {
    bed: &'static Bed,
    test_id: String,
    eks: String,
    provider: String,
    namespace: String,
    vcs: Api<VirtualCluster>,
}

impl World {
    async fn new(prefix: &str) -> World {
        let bed = bed().await;
        let test_id = bed.unique(prefix);
        let eks = bed.unique("eks");
        let info = bed.eks_cluster(&eks).await;
        assert_eq!(info.account_id, ACCOUNT);
        let provider = info
            .oidc_provider
            .expect("the emulator's clusters have an OIDC issuer");
        World {
            bed,
            namespace: bed.unique("spark"),
            test_id,
            eks,
            provider,
            vcs: Api::all(bed.client.clone()),
        }
    }

    /// A VirtualCluster name unique to this test run (they are cluster-scoped, and a failed run
    /// may leave one behind).
    fn name(&self, base: &str) -> String {
        format!(
            "{base}-{}",
            self.test_id.rsplit('-').next().unwrap_or_default()
        )
    }

    async fn operator(&self, extra: &[&str]) -> Operator {
        self.bed.start_operator(&self.test_id, extra).await
    }

    /// Applies a VirtualCluster named `name` with the test label; `spec` is YAML merged over
    /// the world's EKS cluster and namespace.
    async fn apply_vc(&self, name: &str, spec: Value) -> VirtualCluster {
        let mut full = json!({
            "eksClusterName": self.eks,
            "namespace": {"name": self.namespace},
        });
        merge(&mut full, spec);
        let manifest = json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1",
            "kind": "VirtualCluster",
            "metadata": {"name": name, "labels": {TEST_LABEL: self.test_id}},
            "spec": full,
        });
        self.bed
            .apply(&serde_saphyr::to_string(&manifest).unwrap())
            .await
    }

    async fn wait_ready(&self, name: &str) -> VirtualCluster {
        wait_for(
            &self.vcs,
            name,
            TIMEOUT,
            "Ready=True",
            |vc: &VirtualCluster| is_ready(vc),
        )
        .await
    }

    async fn trust(&self, role: &str) -> Value {
        self.bed.trust_policy(role).await
    }

    async fn role(&self, name: &str) -> String {
        self.bed.iam_role(name, &original_trust()).await
    }

    /// The EMR virtual clusters of this world's EKS cluster that hold a namespace.
    async fn live_virtual_clusters(&self) -> Vec<emr_aws::VirtualClusterInfo> {
        self.bed
            .aws
            .emr
            .list_virtual_clusters(&self.eks, &[])
            .await
            .expect("list virtual clusters")
            .into_iter()
            .filter(|c| c.state.holds_namespace())
            .collect()
    }
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o,
    }
}

fn conditions(vc: &VirtualCluster) -> &[emr_api::Condition] {
    vc.status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or(&[])
}

fn is_ready(vc: &VirtualCluster) -> bool {
    condition::is_true(conditions(vc), "Ready")
        && vc.status.as_ref().and_then(|s| s.observed_generation) == vc.metadata.generation
}

fn reason(vc: &VirtualCluster, type_: &str) -> Option<String> {
    condition::find(conditions(vc), type_).map(|c| c.reason.clone())
}

fn vc_id(vc: &VirtualCluster) -> String {
    vc.status
        .as_ref()
        .and_then(|s| s.virtual_cluster_id.clone())
        .expect("status.virtualClusterId")
}

/// The value of one Prometheus sample (first line starting with `series`).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn aws_calls(text: &str, service: &str, operation: &str) -> f64 {
    ["ok", "Throttled", "NotFound", "AccessDenied", "Validation", "Conflict", "Unavailable", "Other"]
        .iter()
        .map(|outcome| {
            metric(
                text,
                &format!(
                    "emr_operator_aws_calls_total{{service=\"{service}\",operation=\"{operation}\",outcome=\"{outcome}\"}}"
                ),
            )
        })
        .sum()
}

fn reconciles(text: &str) -> f64 {
    metric(
        text,
        "emr_operator_reconciles_total{controller=\"VirtualCluster\"}",
    )
}

async fn aws_auth(bed: &Bed) -> Option<ConfigMap> {
    Api::<ConfigMap>::namespaced(bed.client.clone(), "kube-system")
        .get_opt("aws-auth")
        .await
        .expect("get aws-auth")
}

/// How many mapRoles entries map EMR's service-linked role to `emr-containers`.
fn emr_entries(cm: &Option<ConfigMap>) -> usize {
    let text = cm
        .as_ref()
        .and_then(|c| c.data.as_ref())
        .and_then(|d| d.get("mapRoles"))
        .cloned()
        .unwrap_or_default();
    let entries: Vec<Value> = serde_saphyr::from_str(&text).unwrap_or_default();
    entries
        .iter()
        .filter(|e| e["rolearn"] == EMR_SLR_ARN && e["username"] == "emr-containers")
        .count()
}

/// Whether a VirtualCluster other than the ones named, not being deleted, relies on aws-auth.
async fn other_aws_auth_users(bed: &Bed, except: &[&str]) -> Vec<String> {
    Api::<VirtualCluster>::all(bed.client.clone())
        .list(&Default::default())
        .await
        .expect("list virtual clusters")
        .items
        .into_iter()
        .filter(|vc| {
            !except.contains(&vc.name_any().as_str())
                && vc.metadata.deletion_timestamp.is_none()
                && vc.spec.emr_access.mode
                    == emr_api::virtual_cluster::EmrAccessMode::AwsAuthConfigMap
        })
        .map(|vc| vc.name_any())
        .collect()
}

/// The reasons of the Events about one object (by uid), oldest first. Events about cluster-scoped
/// objects live in kube-system.
async fn event_reasons(bed: &Bed, uid: &str) -> Vec<String> {
    events(bed, uid)
        .await
        .into_iter()
        .map(|(reason, _)| reason)
        .collect()
}

/// The Events' reasons once all of `expected` are there: an Event is written after the status
/// change it tells of, so a test that saw the status may list the Events a moment early.
async fn wait_event_reasons(bed: &Bed, uid: &str, expected: &[&str]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let reasons = event_reasons(bed, uid).await;
        let missing: Vec<&&str> = expected
            .iter()
            .filter(|e| !reasons.iter().any(|r| r == *e))
            .collect();
        if missing.is_empty() {
            return reasons;
        }
        assert!(
            Instant::now() < deadline,
            "no {missing:?} event in {reasons:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Reason, type and note of the Events about one object (by uid), oldest first.
async fn typed_events(bed: &Bed, uid: &str) -> Vec<(String, String, String)> {
    let params = kube::api::ListParams::default().fields(&format!("involvedObject.uid={uid}"));
    let mut events =
        Api::<k8s_openapi::api::core::v1::Event>::namespaced(bed.client.clone(), "kube-system")
            .list(&params)
            .await
            .expect("list events")
            .items;
    events.sort_by_key(|e| e.metadata.creation_timestamp.clone().map(|t| t.0));
    events
        .into_iter()
        .map(|e| {
            (
                e.reason.unwrap_or_default(),
                e.type_.unwrap_or_default(),
                e.message.unwrap_or_default(),
            )
        })
        .collect()
}

/// Reason and note of the Events about one object, oldest first.
async fn events(bed: &Bed, uid: &str) -> Vec<(String, String)> {
    typed_events(bed, uid)
        .await
        .into_iter()
        .map(|(reason, _, note)| (reason, note))
        .collect()
}

async fn delete_vc(world: &World, name: &str) {
    world
        .vcs
        .delete(name, &DeleteParams::default())
        .await
        .expect("delete VirtualCluster");
}

async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// One manifest sets up everything the seeds did by hand; 20 more reconciles change nothing.
#[test]
fn one_manifest_sets_up_everything_and_reconciling_again_changes_nothing() {
    run(async {
        let _aws_auth = AWS_AUTH.lock().await;
        let w = World::new("vc-main").await;
        let main = w.name("main");
        let job_role = w.role("emr-job-role").await;
        let cli_role = w.role("cli-role").await;
        let op = w.operator(&[]).await;
        let ns = w.namespace.clone();
        // Other suites' VirtualClusters may already have put EMR's entry there.
        let entry_was_there = emr_entries(&aws_auth(w.bed).await) > 0;
        w.apply_vc(
            &main,
            json!({
                "namespace": {"labels": {"team": "a"}},
                "executionRoles": [{"arn": job_role}],
                "serviceAccounts": [{"name": "submitter", "roleArn": cli_role}],
                "guardRails": {
                    "resourceQuota": {"hard": {"pods": "10"}},
                    "limitRange": {"default": {"cpu": "1"}},
                    "networkIsolation": true
                },
                "tags": {"team": "a"}
            }),
        )
        .await;
        let vc = w.wait_ready(&main).await;
        let status = vc.status.clone().unwrap();
        for part in [
            "NamespaceReady",
            "EmrAccessReady",
            "TrustPoliciesReady",
            "ServiceAccountsReady",
            "VirtualClusterReady",
        ] {
            assert!(
                condition::is_true(&status.conditions, part),
                "{part}: {status:?}"
            );
        }
        assert_eq!(status.state.as_deref(), Some("RUNNING"));
        assert_eq!(status.account_id.as_deref(), Some(ACCOUNT));
        assert!(
            status
                .message
                .as_deref()
                .unwrap_or_default()
                .contains("RUNNING")
        );

        // Namespace, labelled and marked as created.
        let client = w.bed.client.clone();
        let namespace = Api::<Namespace>::all(client.clone())
            .get(&ns)
            .await
            .unwrap();
        assert_eq!(namespace.labels()["team"], "a");
        assert_eq!(namespace.labels()["emr-on-eks.dev/virtual-cluster"], main);
        assert_eq!(
            namespace.annotations()["emr-on-eks.dev/created-by-operator"],
            "true"
        );
        assert_eq!(
            namespace.annotations()["argocd.argoproj.io/compare-options"],
            "IgnoreExtraneous"
        );

        // No Role: a RoleBinding to the chart's ClusterRole, whose rules are exactly the table.
        assert!(
            Api::<Role>::namespaced(client.clone(), &ns)
                .get_opt("emr-containers")
                .await
                .unwrap()
                .is_none(),
            "the operator created a Role"
        );
        let cluster_role = Api::<ClusterRole>::all(client.clone())
            .get(EMR_CONTAINERS_CLUSTER_ROLE)
            .await
            .unwrap();
        assert_eq!(
            serde_json::to_value(&cluster_role.rules).unwrap(),
            expected_rules()
        );
        let binding = Api::<RoleBinding>::namespaced(client.clone(), &ns)
            .get("emr-containers")
            .await
            .unwrap();
        assert_eq!(
            serde_json::to_value(&binding.subjects).unwrap(),
            json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "emr-containers"}])
        );
        assert_eq!(
            serde_json::to_value(&binding.role_ref).unwrap(),
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": EMR_CONTAINERS_CLUSTER_ROLE})
        );
        assert_eq!(binding.owner_references()[0].uid, vc.uid().unwrap());

        // aws-auth maps EMR's service-linked role, once.
        assert_eq!(emr_entries(&aws_auth(w.bed).await), 1);

        // Trust policies: the original statement untouched, EMR's appended as the CLI builds it.
        assert_eq!(
            w.trust("emr-job-role").await,
            json!({"Version": "2012-10-17", "Statement": [
                ec2_statement(),
                emr_statement(&w.provider, &ns, "31k61zpmb7mlsiqq1k5")
            ]})
        );
        assert_eq!(
            w.trust("cli-role").await,
            json!({"Version": "2012-10-17", "Statement": [
                ec2_statement(),
                irsa_statement(&w.provider, &ns, "submitter")
            ]})
        );
        let sa = Api::<ServiceAccount>::namespaced(client.clone(), &ns)
            .get("submitter")
            .await
            .unwrap();
        assert_eq!(sa.annotations()["eks.amazonaws.com/role-arn"], cli_role);

        // Guard rails.
        let quota = Api::<ResourceQuota>::namespaced(client.clone(), &ns)
            .get("emr-tenant-quota")
            .await
            .unwrap();
        assert_eq!(quota.spec.unwrap().hard.unwrap()["pods"].0, "10");
        Api::<LimitRange>::namespaced(client.clone(), &ns)
            .get("emr-tenant-limits")
            .await
            .unwrap();
        let np = Api::<NetworkPolicy>::namespaced(client.clone(), &ns)
            .get("emr-tenant-isolation")
            .await
            .unwrap();
        assert_eq!(
            serde_json::to_value(np.spec.unwrap()).unwrap(),
            json!({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]})
        );

        // The EMR virtual cluster.
        let live = w.live_virtual_clusters().await;
        assert_eq!(live.len(), 1, "{live:?}");
        assert_eq!(live[0].id, vc_id(&vc));
        assert_eq!(live[0].namespace.as_deref(), Some(ns.as_str()));
        assert_eq!(live[0].state, VirtualClusterState::Running);

        // Every change was told as an Event.
        let uid = vc.uid().unwrap();
        let mut expected = vec![
            "NamespaceCreated",
            "ResourceQuotaCreated",
            "LimitRangeCreated",
            "NetworkPolicyCreated",
            "RoleBindingCreated",
            "TrustStatementAdded",
            "ServiceAccountCreated",
            "VirtualClusterCreated",
            "Ready",
        ];
        if !entry_was_there {
            expected.push("AwsAuthEntryAdded");
        }
        let reasons = wait_event_reasons(w.bed, &uid, &expected).await;
        assert_eq!(
            reasons.iter().any(|r| r == "AwsAuthEntryAdded"),
            !entry_was_there,
            "{reasons:?}"
        );
        let events_before = reasons.len();

        // Reconcile 20 more times: each annotation bump is a watch event, and the next bump
        // waits until the reconcile counter moved.
        let trust_job = w.trust("emr-job-role").await.to_string();
        let trust_cli = w.trust("cli-role").await.to_string();
        let auth_before = aws_auth(w.bed).await.and_then(|c| c.data);
        let binding_version = binding.resource_version();
        let ns_version = namespace.resource_version();
        let metrics_before = op.metrics().await;
        let status_before = w.vcs.get(&main).await.unwrap().status;
        for i in 0..20 {
            let seen = reconciles(&op.metrics().await);
            let patch = json!({"metadata": {"annotations": {"test/bump": i.to_string()}}});
            w.vcs
                .patch(&main, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(20);
            while reconciles(&op.metrics().await) <= seen {
                assert!(Instant::now() < deadline, "bump {i} was not reconciled");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        // Let the last reconcile finish its writes, if it made any.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let metrics_after = op.metrics().await;
        assert!(reconciles(&metrics_after) - reconciles(&metrics_before) >= 20.0);
        for (service, operation) in [
            ("iam", "UpdateAssumeRolePolicy"),
            ("emr-containers", "CreateVirtualCluster"),
            ("emr-containers", "DeleteVirtualCluster"),
        ] {
            assert_eq!(
                aws_calls(&metrics_after, service, operation),
                aws_calls(&metrics_before, service, operation),
                "{operation} was called again"
            );
        }
        assert_eq!(w.trust("emr-job-role").await.to_string(), trust_job);
        assert_eq!(w.trust("cli-role").await.to_string(), trust_cli);
        assert_eq!(aws_auth(w.bed).await.and_then(|c| c.data), auth_before);
        assert_eq!(w.live_virtual_clusters().await.len(), 1);
        let binding_after = Api::<RoleBinding>::namespaced(client.clone(), &ns)
            .get("emr-containers")
            .await
            .unwrap();
        assert_eq!(
            binding_after.resource_version(),
            binding_version,
            "the RoleBinding was rewritten"
        );
        let ns_after = Api::<Namespace>::all(client.clone())
            .get(&ns)
            .await
            .unwrap();
        assert_eq!(
            ns_after.resource_version(),
            ns_version,
            "the namespace was rewritten"
        );
        assert_eq!(w.vcs.get(&main).await.unwrap().status, status_before);
        let reasons = event_reasons(w.bed, &uid).await;
        assert_eq!(
            reasons.len(),
            events_before,
            "events while nothing changed: {reasons:?}"
        );

        delete_vc(&w, &main).await;
        wait_gone(&w.vcs, &main, TIMEOUT, "VirtualCluster main").await;
        drop(op);
    });
}

/// Deleting the Role, editing aws-auth, stripping a trust statement, relabelling the namespace:
/// each is put back.
#[test]
fn drift_is_repaired() {
    run(async {
        let _aws_auth = AWS_AUTH.lock().await;
        let w = World::new("vc-drift").await;
        let drift = w.name("drift");
        let role_name = w.bed.unique("drift-job");
        let job_role = w.role(&role_name).await;
        // IAM has no watch: the periodic resync is what notices trust-policy drift.
        let op = w.operator(&["--resync-interval=2s"]).await;
        let ns = w.namespace.clone();
        w.apply_vc(&drift, json!({"executionRoles": [{"arn": job_role}]}))
            .await;
        let vc = w.wait_ready(&drift).await;
        let converged_trust = w.trust(&role_name).await;
        assert_eq!(converged_trust["Statement"].as_array().unwrap().len(), 2);
        let client = w.bed.client.clone();

        // The RoleBinding, deleted: back, to the ClusterRole, for EMR alone.
        let bindings = Api::<RoleBinding>::namespaced(client.clone(), &ns);
        let emr_only = json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "emr-containers"}]);
        let old_uid = bindings.get("emr-containers").await.unwrap().uid();
        bindings
            .delete("emr-containers", &DeleteParams::default())
            .await
            .unwrap();
        wait_for(
            &bindings,
            "emr-containers",
            TIMEOUT,
            "RoleBinding recreated",
            |b: &RoleBinding| {
                b.uid() != old_uid
                    && b.role_ref.kind == "ClusterRole"
                    && b.role_ref.name == EMR_CONTAINERS_CLUSTER_ROLE
                    && serde_json::to_value(&b.subjects).unwrap() == emr_only
            },
        )
        .await;

        // The RoleBinding, given a second subject (someone borrowing EMR's rules): taken away.
        let patch = json!({"subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "emr-containers"},
            {"kind": "ServiceAccount", "name": "default", "namespace": ns}
        ]});
        bindings
            .patch(
                "emr-containers",
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .unwrap();
        wait_for(
            &bindings,
            "emr-containers",
            TIMEOUT,
            "RoleBinding subjects restored",
            |b: &RoleBinding| serde_json::to_value(&b.subjects).unwrap() == emr_only,
        )
        .await;

        // aws-auth, with EMR's entry removed by someone editing it by hand.
        let cms = Api::<ConfigMap>::namespaced(client.clone(), "kube-system");
        let mut cm = cms.get("aws-auth").await.unwrap();
        let text = cm.data.as_ref().unwrap()["mapRoles"].clone();
        let mut entries: Vec<Value> = serde_saphyr::from_str(&text).unwrap();
        let others = json!({"rolearn": "arn:aws:iam::123456789012:role/nodes", "username": "system:node:{{EC2PrivateDNSName}}", "groups": ["system:nodes"]});
        entries.retain(|e| e["rolearn"] != EMR_SLR_ARN);
        entries.push(others.clone());
        cm.data.as_mut().unwrap().insert(
            "mapRoles".into(),
            serde_saphyr::to_string(&entries).unwrap(),
        );
        cms.replace("aws-auth", &Default::default(), &cm)
            .await
            .unwrap();
        eventually("aws-auth entry restored", TIMEOUT, || async {
            emr_entries(&aws_auth(w.bed).await) == 1
        })
        .await;
        let restored = aws_auth(w.bed).await.unwrap();
        let restored: Vec<Value> =
            serde_saphyr::from_str(&restored.data.unwrap()["mapRoles"]).unwrap();
        assert!(
            restored.contains(&others),
            "the hand-made entry was lost: {restored:?}"
        );

        // A trust statement, stripped.
        w.bed
            .aws
            .iam
            .update_assume_role_policy(&role_name, &original_trust())
            .await
            .unwrap();
        eventually("trust statement restored", TIMEOUT, || async {
            w.trust(&role_name).await == converged_trust
        })
        .await;

        // The namespace's claim label, removed.
        let namespaces = Api::<Namespace>::all(client.clone());
        let patch = json!({"metadata": {"labels": {"emr-on-eks.dev/virtual-cluster": null}}});
        namespaces
            .patch(&ns, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        wait_for(
            &namespaces,
            &ns,
            TIMEOUT,
            "namespace label restored",
            |n: &Namespace| {
                n.labels()
                    .get("emr-on-eks.dev/virtual-cluster")
                    .map(String::as_str)
                    == Some(drift.as_str())
            },
        )
        .await;

        // Through all of it, one EMR virtual cluster.
        let live = w.live_virtual_clusters().await;
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].id, vc_id(&vc));
        w.wait_ready(&drift).await;

        // Clean up the hand-made aws-auth entry, then the VirtualCluster.
        let mut cm = cms.get("aws-auth").await.unwrap();
        let mut entries: Vec<Value> =
            serde_saphyr::from_str(&cm.data.as_ref().unwrap()["mapRoles"]).unwrap();
        entries.retain(|e| *e != others);
        cm.data.as_mut().unwrap().insert(
            "mapRoles".into(),
            serde_saphyr::to_string(&entries).unwrap(),
        );
        cms.replace("aws-auth", &Default::default(), &cm)
            .await
            .unwrap();
        delete_vc(&w, &drift).await;
        wait_gone(&w.vcs, &drift, TIMEOUT, "VirtualCluster drift").await;
        drop(op);
    });
}

/// deletionPolicy Delete: waits for running SparkJobRuns, then removes exactly what it added.
#[test]
fn delete_policy_waits_for_jobs_then_removes_what_it_added() {
    run(async {
        let _aws_auth = AWS_AUTH.lock().await;
        let w = World::new("vc-delete").await;
        let doomed = w.name("doomed");
        let role_name = w.bed.unique("delete-job");
        let sa_role_name = w.bed.unique("delete-sa");
        let job_role = w.role(&role_name).await;
        let sa_role = w.role(&sa_role_name).await;
        let op = w.operator(&[]).await;
        let ns = w.namespace.clone();
        w.apply_vc(
            &doomed,
            json!({
                "executionRoles": [{"arn": job_role}],
                "serviceAccounts": [{"name": "submitter", "roleArn": sa_role}],
                "runningJobsOnDelete": "Wait"
            }),
        )
        .await;
        let vc = w.wait_ready(&doomed).await;
        let id = vc_id(&vc);
        assert_eq!(
            w.trust(&role_name).await["Statement"]
                .as_array()
                .unwrap()
                .len(),
            2
        );

        // A SparkJobRun no operator handles (no test label), with the status of a run EMR is
        // running: it stays unfinished until the test says it succeeded.
        let runs: Api<SparkJobRun> = Api::namespaced(w.bed.client.clone(), &ns);
        let manifest = json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
            "metadata": {"name": "still-running", "namespace": ns},
            "spec": {
                "virtualCluster": {"name": &doomed},
                "executionRoleArn": job_role,
                "releaseLabel": "emr-7.2.0-latest",
                "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": "local:///pi.py"}}
            }
        });
        let _: SparkJobRun = w
            .bed
            .apply(&serde_saphyr::to_string(&manifest).unwrap())
            .await;
        let running = json!({"status": {
            "attempt": 1, "submittedSpecFingerprint": "f", "virtualClusterId": id,
            "jobRunId": "0000000000000000001", "state": "RUNNING"
        }});
        runs.patch_status(
            "still-running",
            &PatchParams::default(),
            &Patch::Merge(&running),
        )
        .await
        .unwrap();

        delete_vc(&w, &doomed).await;
        let waiting = wait_for(
            &w.vcs,
            &doomed,
            TIMEOUT,
            "deletion waiting for jobs",
            |vc: &VirtualCluster| reason(vc, "Ready").as_deref() == Some("WaitingForJobRuns"),
        )
        .await;
        let message = waiting.status.unwrap().message.unwrap();
        assert!(message.contains("still-running"), "{message}");
        // Nothing was taken away while the job runs.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(w.vcs.get_opt(&doomed).await.unwrap().is_some());
        let live = w.live_virtual_clusters().await;
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].state, VirtualClusterState::Running);
        assert_eq!(
            w.trust(&role_name).await["Statement"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert!(
            Api::<Namespace>::all(w.bed.client.clone())
                .get(&ns)
                .await
                .unwrap()
                .metadata
                .deletion_timestamp
                .is_none()
        );

        // The job succeeds.
        let status = json!({"status": {"conditions": [{
            "type": "Succeeded", "status": "True", "reason": "Completed", "message": "done",
            "lastTransitionTime": "2024-01-01T00:00:00Z"
        }]}});
        runs.patch_status(
            "still-running",
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await
        .unwrap();
        wait_gone(&w.vcs, &doomed, TIMEOUT, "VirtualCluster doomed").await;

        // AWS: the virtual cluster is gone, the roles trust what they trusted before.
        let info = w.bed.aws.emr.describe_virtual_cluster(&id).await.unwrap();
        assert!(
            matches!(
                info.state,
                VirtualClusterState::Terminating | VirtualClusterState::Terminated
            ),
            "{info:?}"
        );
        assert_eq!(w.trust(&role_name).await, original_trust());
        assert_eq!(w.trust(&sa_role_name).await, original_trust());
        // aws-auth: the entry goes unless another VirtualCluster still relies on it.
        let others = other_aws_auth_users(w.bed, &[]).await;
        let entries = emr_entries(&aws_auth(w.bed).await);
        if others.is_empty() {
            assert_eq!(
                entries, 0,
                "the aws-auth entry the operator added was left behind"
            );
        } else {
            assert_eq!(entries, 1, "removed although {others:?} still need it");
        }
        // Kubernetes: the namespace the operator created is deleted (with everything in it).
        wait_gone(
            &Api::<Namespace>::all(w.bed.client.clone()),
            &ns,
            TIMEOUT,
            "namespace",
        )
        .await;
        drop(op);
    });
}

/// deletionPolicy Retain: the object goes, everything it made stays, without owner references.
#[test]
fn retain_policy_only_lets_go() {
    run(async {
        let w = World::new("vc-retain").await;
        let kept = w.name("kept");
        let role_name = w.bed.unique("retain-job");
        let job_role = w.role(&role_name).await;
        let op = w.operator(&[]).await;
        let ns = w.namespace.clone();
        w.apply_vc(
            &kept,
            json!({
                "emrAccess": {"mode": "AccessEntry"},
                "deletionPolicy": "Retain",
                "executionRoles": [{"arn": job_role}],
                "serviceAccounts": [{"name": "submitter", "roleArn": job_role}],
                "guardRails": {"networkIsolation": true}
            }),
        )
        .await;
        let vc = w.wait_ready(&kept).await;
        let id = vc_id(&vc);
        let trust = w.trust(&role_name).await;
        assert_eq!(trust["Statement"].as_array().unwrap().len(), 3);

        delete_vc(&w, &kept).await;
        wait_gone(&w.vcs, &kept, TIMEOUT, "VirtualCluster kept").await;
        // Give the garbage collector time to act on anything still owned.
        tokio::time::sleep(Duration::from_secs(5)).await;

        let client = w.bed.client.clone();
        let namespace = Api::<Namespace>::all(client.clone())
            .get(&ns)
            .await
            .unwrap();
        assert!(namespace.metadata.deletion_timestamp.is_none());
        let binding = Api::<RoleBinding>::namespaced(client.clone(), &ns)
            .get("emr-containers")
            .await
            .unwrap();
        assert!(
            binding.owner_references().is_empty(),
            "{:?}",
            binding.owner_references()
        );
        assert_eq!(binding.role_ref.name, EMR_CONTAINERS_CLUSTER_ROLE);
        Api::<ServiceAccount>::namespaced(client.clone(), &ns)
            .get("submitter")
            .await
            .unwrap();
        Api::<NetworkPolicy>::namespaced(client.clone(), &ns)
            .get("emr-tenant-isolation")
            .await
            .unwrap();
        assert_eq!(w.trust(&role_name).await, trust);
        let info = w.bed.aws.emr.describe_virtual_cluster(&id).await.unwrap();
        assert_eq!(info.state, VirtualClusterState::Running);
        drop(op);
    });
}

/// A namespace that exists (create: false) and a RUNNING virtual cluster already serving it are
/// adopted, not duplicated; deleting with policy Delete then gives the namespace back as it was.
#[test]
fn existing_namespace_and_virtual_cluster_are_adopted() {
    run(async {
        let w = World::new("vc-adopt").await;
        let adopter = w.name("adopter");
        let ns = w.bed.namespace("adopted").await;
        let existing = w
            .bed
            .aws
            .emr
            .create_virtual_cluster(&CreateVirtualClusterRequest {
                name: "made-by-hand".into(),
                eks_cluster_name: w.eks.clone(),
                namespace: ns.clone(),
                client_token: w.bed.unique("token"),
                tags: Default::default(),
                security_configuration_id: None,
            })
            .await
            .expect("create virtual cluster by hand");
        let op = w.operator(&[]).await;
        w.apply_vc(
            &adopter,
            json!({
                "namespace": {"name": ns, "create": false, "labels": {"team": "b"}},
                "emrAccess": {"mode": "AccessEntry"}
            }),
        )
        .await;
        let vc = w.wait_ready(&adopter).await;
        assert_eq!(vc_id(&vc), existing.id);
        let status = vc.status.clone().unwrap();
        assert!(!status.managed.namespace_created);
        assert_eq!(status.virtual_cluster_creations, 0);
        assert_eq!(w.live_virtual_clusters().await.len(), 1);
        assert_eq!(
            aws_calls(
                &op.metrics().await,
                "emr-containers",
                "CreateVirtualCluster"
            ),
            0.0
        );
        let namespaces = Api::<Namespace>::all(w.bed.client.clone());
        let adopted = namespaces.get(&ns).await.unwrap();
        assert_eq!(adopted.labels()["team"], "b");
        assert!(
            !adopted
                .annotations()
                .contains_key("emr-on-eks.dev/created-by-operator")
        );

        delete_vc(&w, &adopter).await;
        wait_gone(&w.vcs, &adopter, TIMEOUT, "VirtualCluster adopter").await;
        // The namespace stays, without anything of the operator's.
        let after = namespaces.get(&ns).await.unwrap();
        assert!(after.metadata.deletion_timestamp.is_none());
        assert!(
            !after
                .labels()
                .contains_key("emr-on-eks.dev/virtual-cluster"),
            "{:?}",
            after.labels()
        );
        assert!(!after.labels().contains_key("team"));
        assert!(
            Api::<RoleBinding>::namespaced(w.bed.client.clone(), &ns)
                .get_opt("emr-containers")
                .await
                .unwrap()
                .is_none()
        );
        // The adopted virtual cluster was managed, so policy Delete deleted it.
        let info = w
            .bed
            .aws
            .emr
            .describe_virtual_cluster(&existing.id)
            .await
            .unwrap();
        assert_ne!(info.state, VirtualClusterState::Running);
        drop(op);
    });
}

/// Two VirtualClusters cannot share a namespace: the second is refused and touches nothing.
#[test]
fn a_namespace_owned_by_another_virtual_cluster_is_refused() {
    run(async {
        let w = World::new("vc-owned").await;
        let second = w.name("second");
        let first = w.name("first");
        let op = w.operator(&[]).await;
        w.apply_vc(&first, json!({"emrAccess": {"mode": "AccessEntry"}}))
            .await;
        let first_vc = w.wait_ready(&first).await;
        let binding_before = Api::<RoleBinding>::namespaced(w.bed.client.clone(), &w.namespace)
            .get("emr-containers")
            .await
            .unwrap();

        w.apply_vc(&second, json!({"emrAccess": {"mode": "AccessEntry"}}))
            .await;
        let second_vc = wait_for(
            &w.vcs,
            &second,
            TIMEOUT,
            "refusal",
            |vc: &VirtualCluster| {
                reason(vc, "NamespaceReady").as_deref()
                    == Some("NamespaceOwnedByAnotherVirtualCluster")
            },
        )
        .await;
        let status = second_vc.status.unwrap();
        let ns_cond = condition::find(&status.conditions, "NamespaceReady").unwrap();
        assert_eq!(ns_cond.status, ConditionStatus::False);
        assert!(ns_cond.message.contains(&first), "{}", ns_cond.message);
        let ready = condition::find(&status.conditions, "Ready").unwrap();
        assert_eq!(ready.status, ConditionStatus::False);
        assert_eq!(ready.reason, "NamespaceOwnedByAnotherVirtualCluster");
        assert!(status.virtual_cluster_id.is_none());
        assert!(status.managed.namespace.is_none());
        // Nothing was touched.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let binding_after = Api::<RoleBinding>::namespaced(w.bed.client.clone(), &w.namespace)
            .get("emr-containers")
            .await
            .unwrap();
        assert_eq!(
            binding_after.resource_version(),
            binding_before.resource_version()
        );
        assert_eq!(
            binding_after.labels()["emr-on-eks.dev/virtual-cluster"],
            first
        );
        let live = w.live_virtual_clusters().await;
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].id, vc_id(&first_vc));

        // Deleting the refused one leaves the first one's namespace alone.
        delete_vc(&w, &second).await;
        wait_gone(&w.vcs, &second, TIMEOUT, "VirtualCluster second").await;
        let namespace = Api::<Namespace>::all(w.bed.client.clone())
            .get(&w.namespace)
            .await
            .unwrap();
        assert!(namespace.metadata.deletion_timestamp.is_none());
        w.wait_ready(&first).await;
        delete_vc(&w, &first).await;
        wait_gone(&w.vcs, &first, TIMEOUT, "VirtualCluster first").await;
        drop(op);
    });
}

/// A virtual cluster terminated behind the operator's back is replaced, with a new client token
/// (the old one would hand back the terminated one).
#[test]
fn a_terminated_virtual_cluster_is_recreated() {
    run(async {
        let w = World::new("vc-recreate").await;
        let phoenix = w.name("phoenix");
        let op = w.operator(&["--resync-interval=2s"]).await;
        w.apply_vc(&phoenix, json!({"emrAccess": {"mode": "AccessEntry"}}))
            .await;
        let vc = w.wait_ready(&phoenix).await;
        let first = vc_id(&vc);
        assert_eq!(vc.status.as_ref().unwrap().virtual_cluster_creations, 1);

        w.bed.aws.emr.delete_virtual_cluster(&first).await.unwrap();
        let again = wait_for(
            &w.vcs,
            &phoenix,
            TIMEOUT,
            "a new virtual cluster",
            |vc: &VirtualCluster| {
                is_ready(vc)
                    && vc
                        .status
                        .as_ref()
                        .and_then(|s| s.virtual_cluster_id.as_deref())
                        != Some(first.as_str())
            },
        )
        .await;
        assert_eq!(again.status.as_ref().unwrap().virtual_cluster_creations, 2);
        let live = w.live_virtual_clusters().await;
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].id, vc_id(&again));
        delete_vc(&w, &phoenix).await;
        wait_gone(&w.vcs, &phoenix, TIMEOUT, "VirtualCluster phoenix").await;
        drop(op);
    });
}

/// A spec the schema cannot reject on a 1.20 apiserver is refused with a condition naming the
/// field, and nothing is created.
#[test]
fn an_invalid_spec_is_reported_and_nothing_is_created() {
    run(async {
        let w = World::new("vc-invalid").await;
        let invalid = w.name("invalid");
        let op = w.operator(&[]).await;
        w.apply_vc(
            &invalid,
            json!({
                "emrAccess": {"mode": "AccessEntry"},
                "serviceAccounts": [{"name": "emr-containers-sa-mine", "roleArn": "arn:aws:iam::123456789012:role/x-role-name"}]
            }),
        )
        .await;
        let vc = wait_for(
            &w.vcs,
            &invalid,
            TIMEOUT,
            "InvalidSpec",
            |vc: &VirtualCluster| reason(vc, "Ready").as_deref() == Some("InvalidSpec"),
        )
        .await;
        let message = vc.status.unwrap().message.unwrap();
        assert!(
            message.contains("spec.serviceAccounts[0].name"),
            "{message}"
        );
        assert!(
            Api::<Namespace>::all(w.bed.client.clone())
                .get_opt(&w.namespace)
                .await
                .unwrap()
                .is_none()
        );
        assert!(w.live_virtual_clusters().await.is_empty());
        delete_vc(&w, &invalid).await;
        wait_gone(&w.vcs, &invalid, TIMEOUT, "VirtualCluster invalid").await;
        drop(op);
    });
}

/// aws-auth mapping EMR's role to someone else is not overwritten: EmrAccessReady says why,
/// the virtual cluster waits for it, and the steps that do not need it still converge. Fixing
/// aws-auth by hand is noticed through the watch.
#[test]
fn a_conflicting_aws_auth_entry_is_reported_and_other_steps_still_converge() {
    run(async {
        let _aws_auth = AWS_AUTH.lock().await;
        let w = World::new("vc-conflict").await;
        let conflict = w.name("conflict");
        let role_name = w.bed.unique("conflict-job");
        let job_role = w.role(&role_name).await;
        let cms = Api::<ConfigMap>::namespaced(w.bed.client.clone(), "kube-system");
        let saved = cms.get_opt("aws-auth").await.unwrap();
        let hijacked = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "aws-auth", "namespace": "kube-system"},
            "data": {"mapRoles": format!("- rolearn: {EMR_SLR_ARN}\n  username: someone-else\n")}
        });
        let pp = PatchParams::apply("vc-conflict-test").force();
        match &saved {
            Some(cm) => {
                let mut cm = cm.clone();
                cm.data = Some(
                    [(
                        "mapRoles".to_string(),
                        hijacked["data"]["mapRoles"].as_str().unwrap().to_string(),
                    )]
                    .into(),
                );
                cms.replace("aws-auth", &Default::default(), &cm)
                    .await
                    .unwrap();
            }
            None => {
                cms.patch("aws-auth", &pp, &Patch::Apply(&hijacked))
                    .await
                    .unwrap();
            }
        }

        let op = w.operator(&[]).await;
        w.apply_vc(&conflict, json!({"executionRoles": [{"arn": job_role}]}))
            .await;
        let vc = wait_for(
            &w.vcs,
            &conflict,
            TIMEOUT,
            "AwsAuthEntryConflict",
            |vc: &VirtualCluster| {
                reason(vc, "EmrAccessReady").as_deref() == Some("AwsAuthEntryConflict")
                    && condition::is_true(conditions(vc), "TrustPoliciesReady")
            },
        )
        .await;
        assert_eq!(
            reason(&vc, "VirtualClusterReady").as_deref(),
            Some("WaitingForEmrAccess")
        );
        assert_eq!(
            reason(&vc, "Ready").as_deref(),
            Some("AwsAuthEntryConflict")
        );
        assert!(condition::is_true(conditions(&vc), "NamespaceReady"));
        assert!(w.live_virtual_clusters().await.is_empty());
        let text = cms.get("aws-auth").await.unwrap().data.unwrap()["mapRoles"].clone();
        assert!(
            text.contains("someone-else"),
            "the entry was overwritten: {text}"
        );

        // Someone fixes aws-auth: back to what it was.
        let mut cm = cms.get("aws-auth").await.unwrap();
        cm.data = saved.as_ref().and_then(|s| s.data.clone());
        cm.metadata.annotations = saved.as_ref().and_then(|s| s.metadata.annotations.clone());
        cms.replace("aws-auth", &Default::default(), &cm)
            .await
            .unwrap();
        w.wait_ready(&conflict).await;
        assert_eq!(emr_entries(&aws_auth(w.bed).await), 1);
        assert_eq!(w.live_virtual_clusters().await.len(), 1);

        delete_vc(&w, &conflict).await;
        wait_gone(&w.vcs, &conflict, TIMEOUT, "VirtualCluster conflict").await;
        drop(op);
    });
}

/// runningJobsOnDelete: Cancel deletes the unfinished SparkJobRuns (their own finalizer cancels
/// the EMR job run), then deletion proceeds.
#[test]
fn cancel_deletes_unfinished_job_runs_before_deleting() {
    run(async {
        let w = World::new("vc-cancel").await;
        let cancel = w.name("cancel");
        let op = w.operator(&[]).await;
        let ns = w.namespace.clone();
        w.apply_vc(
            &cancel,
            json!({"emrAccess": {"mode": "AccessEntry"}, "runningJobsOnDelete": "Cancel"}),
        )
        .await;
        let uid = w.wait_ready(&cancel).await.uid().unwrap();
        // Unlabelled, so no operator submits it; a finished one is left alone.
        let runs: Api<SparkJobRun> = Api::namespaced(w.bed.client.clone(), &ns);
        for name in ["unfinished", "finished"] {
            let manifest = json!({
                "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
                "metadata": {"name": name, "namespace": ns},
                "spec": {
                    "virtualCluster": {"name": cancel},
                    "executionRoleArn": "arn:aws:iam::123456789012:role/some-job-role",
                    "releaseLabel": "emr-7.2.0-latest",
                    "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": "local:///pi.py"}}
                }
            });
            let _: SparkJobRun = w
                .bed
                .apply(&serde_saphyr::to_string(&manifest).unwrap())
                .await;
        }
        let done = json!({"status": {"conditions": [{
            "type": "Failed", "status": "True", "reason": "UserError", "message": "broke",
            "lastTransitionTime": "2024-01-01T00:00:00Z"
        }]}});
        runs.patch_status("finished", &PatchParams::default(), &Patch::Merge(&done))
            .await
            .unwrap();

        delete_vc(&w, &cancel).await;
        wait_gone(&w.vcs, &cancel, TIMEOUT, "VirtualCluster cancel").await;
        // The namespace the operator created goes too, taking the finished run with it; the
        // unfinished one was deleted by the operator before that.
        wait_gone(
            &Api::<Namespace>::all(w.bed.client.clone()),
            &ns,
            TIMEOUT,
            "namespace",
        )
        .await;
        let cancelled: Vec<String> = events(w.bed, &uid)
            .await
            .into_iter()
            .filter(|(reason, _)| reason == "SparkJobRunCancelled")
            .map(|(_, note)| note)
            .collect();
        assert_eq!(cancelled.len(), 1, "{cancelled:?}");
        assert!(cancelled[0].contains("/unfinished "), "{cancelled:?}");
        drop(op);
    });
}

/// What an operator before the ClusterRole made in a namespace: the Role `emr-containers` (its
/// labels and owner reference) and a RoleBinding to it; made here as admin.
async fn old_operator_objects(bed: &Bed, ns: &str, vc: &VirtualCluster, marked: bool) {
    let mut meta = json!({"name": "emr-containers", "namespace": ns});
    if marked {
        meta["labels"] = json!({
            "emr-on-eks.dev/virtual-cluster": vc.name_any(),
            "app.kubernetes.io/managed-by": "emr-on-eks-operator"
        });
        meta["ownerReferences"] = json!([{
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "VirtualCluster",
            "name": vc.name_any(), "uid": vc.uid().unwrap(),
            "controller": true, "blockOwnerDeletion": true
        }]);
    }
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": meta.clone(), "rules": expected_rules()
    });
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "emr-containers"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "emr-containers"}]
    });
    bed.apply_yaml(&serde_saphyr::to_string(&role).unwrap())
        .await;
    bed.apply_yaml(&serde_saphyr::to_string(&binding).unwrap())
        .await;
}

async fn wait_binding_to_cluster_role(bed: &Bed, ns: &str) -> RoleBinding {
    wait_for(
        &Api::<RoleBinding>::namespaced(bed.client.clone(), ns),
        "emr-containers",
        TIMEOUT,
        "RoleBinding to the ClusterRole",
        |b: &RoleBinding| {
            b.role_ref.kind == "ClusterRole"
                && b.role_ref.name == EMR_CONTAINERS_CLUSTER_ROLE
                && serde_json::to_value(&b.subjects).unwrap()
                    == json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "emr-containers"}])
        },
    )
    .await
}

/// An operator upgraded over namespaces that hold the old `emr-containers` Role: the binding is
/// re-pointed to the ClusterRole (deleted and created: roleRef is immutable) and the Role the old
/// operator made is deleted; a Role someone else made (eksctl) is left alone. A VirtualCluster
/// deleted with policy Delete while the operator was away takes its binding and old Role along.
#[test]
fn an_upgraded_operator_moves_old_roles_to_the_cluster_role() {
    run(async {
        let w = World::new("vc-migrate").await;
        let bed = w.bed;
        let (mine, foreign, doomed) = (w.name("mine"), w.name("foreign"), w.name("doomed"));
        let (ns_mine, ns_foreign, ns_doomed) = (
            bed.namespace("old-mine").await,
            bed.namespace("old-eksctl").await,
            bed.namespace("old-doomed").await,
        );
        let spec =
            |ns: &str| json!({"namespace": {"name": ns}, "emrAccess": {"mode": "AccessEntry"}});
        let vc_mine = w.apply_vc(&mine, spec(&ns_mine)).await;
        let vc_foreign = w.apply_vc(&foreign, spec(&ns_foreign)).await;
        old_operator_objects(bed, &ns_mine, &vc_mine, true).await;
        old_operator_objects(bed, &ns_foreign, &vc_foreign, false).await;

        // `doomed` as the old operator left it: finalizer, claimed namespace, recorded status;
        // then deleted while no operator runs.
        let vc_doomed = w.apply_vc(&doomed, spec(&ns_doomed)).await;
        old_operator_objects(bed, &ns_doomed, &vc_doomed, true).await;
        let finalizer =
            json!({"metadata": {"finalizers": [emr_api::labels::VIRTUAL_CLUSTER_FINALIZER]}});
        w.vcs
            .patch(&doomed, &PatchParams::default(), &Patch::Merge(&finalizer))
            .await
            .unwrap();
        let status = json!({"status": {"managed": {"namespace": ns_doomed}}});
        w.vcs
            .patch_status(&doomed, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap();
        let claim = json!({"metadata": {"labels": {"emr-on-eks.dev/virtual-cluster": doomed}}});
        Api::<Namespace>::all(bed.client.clone())
            .patch(&ns_doomed, &PatchParams::default(), &Patch::Merge(&claim))
            .await
            .unwrap();
        delete_vc(&w, &doomed).await;

        let op = w.operator(&[]).await;
        w.wait_ready(&mine).await;
        w.wait_ready(&foreign).await;
        let roles = |ns: &str| Api::<Role>::namespaced(bed.client.clone(), ns);

        // The old operator's Role: gone, its binding now to the ClusterRole.
        let binding = wait_binding_to_cluster_role(bed, &ns_mine).await;
        assert_eq!(binding.owner_references()[0].uid, vc_mine.uid().unwrap());
        wait_gone(
            &roles(&ns_mine),
            "emr-containers",
            TIMEOUT,
            "old operator Role",
        )
        .await;
        let reasons = wait_event_reasons(
            bed,
            &vc_mine.uid().unwrap(),
            &["RoleBindingReplaced", "OldRoleDeleted"],
        )
        .await;
        assert!(!reasons.iter().any(|r| r == "RoleCreated"), "{reasons:?}");

        // eksctl's Role stays as it was; the binding is the operator's now.
        wait_binding_to_cluster_role(bed, &ns_foreign).await;
        let kept = roles(&ns_foreign).get("emr-containers").await.unwrap();
        assert_eq!(serde_json::to_value(&kept.rules).unwrap(), expected_rules());
        let reasons = event_reasons(bed, &vc_foreign.uid().unwrap()).await;
        assert!(
            !reasons.iter().any(|r| r == "OldRoleDeleted"),
            "{reasons:?}"
        );

        // The deleted one: its binding and old Role went with it; the namespace was adopted, so
        // it stays.
        wait_gone(&w.vcs, &doomed, TIMEOUT, "VirtualCluster doomed").await;
        let bindings = Api::<RoleBinding>::namespaced(bed.client.clone(), &ns_doomed);
        assert!(bindings.get_opt("emr-containers").await.unwrap().is_none());
        assert!(
            roles(&ns_doomed)
                .get_opt("emr-containers")
                .await
                .unwrap()
                .is_none()
        );
        let ns = Api::<Namespace>::all(bed.client.clone())
            .get(&ns_doomed)
            .await
            .unwrap();
        assert!(ns.metadata.deletion_timestamp.is_none());

        for name in [&mine, &foreign] {
            delete_vc(&w, name).await;
            wait_gone(&w.vcs, name, TIMEOUT, "VirtualCluster").await;
        }
        // Deleted with policy Delete: the binding goes; eksctl's Role still stays.
        let gone = Api::<RoleBinding>::namespaced(bed.client.clone(), &ns_foreign);
        assert!(gone.get_opt("emr-containers").await.unwrap().is_none());
        assert!(
            roles(&ns_foreign)
                .get_opt("emr-containers")
                .await
                .unwrap()
                .is_some()
        );
        drop(op);
    });
}

/// A cluster without `kube-system/aws-auth` (access entries only): the operator, which may not
/// create ConfigMaps in kube-system, says so (AwsAuthMissing, pointing at AccessEntry) and creates
/// nothing there; once someone creates aws-auth, the watch picks it up and EMR's entry is added.
#[test]
fn without_aws_auth_the_operator_reports_it_and_creates_nothing() {
    run(async {
        let _aws_auth = AWS_AUTH.lock().await;
        let w = World::new("vc-noauth").await;
        let name = w.name("noauth");
        let cms = Api::<ConfigMap>::namespaced(w.bed.client.clone(), "kube-system");
        let saved = cms.get("aws-auth").await.unwrap();
        cms.delete("aws-auth", &DeleteParams::default())
            .await
            .unwrap();

        let op = w.operator(&[]).await;
        w.apply_vc(&name, json!({})).await;
        let vc = wait_for(
            &w.vcs,
            &name,
            TIMEOUT,
            "AwsAuthMissing",
            |vc: &VirtualCluster| reason(vc, "EmrAccessReady").as_deref() == Some("AwsAuthMissing"),
        )
        .await;
        let access = condition::find(conditions(&vc), "EmrAccessReady").unwrap();
        assert!(access.message.contains("AccessEntry"), "{}", access.message);
        assert_eq!(reason(&vc, "Ready").as_deref(), Some("AwsAuthMissing"));
        assert!(w.live_virtual_clusters().await.is_empty());
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            aws_auth(w.bed).await.is_none(),
            "the operator created aws-auth"
        );
        // The binding does not wait for aws-auth.
        wait_binding_to_cluster_role(w.bed, &w.namespace).await;

        // Someone (EKS, a node group) creates aws-auth: the operator goes on by itself.
        let mut again = ConfigMap {
            data: saved.data.clone(),
            ..ConfigMap::default()
        };
        again.metadata.name = Some("aws-auth".into());
        cms.create(&Default::default(), &again).await.unwrap();
        w.wait_ready(&name).await;
        assert_eq!(emr_entries(&aws_auth(w.bed).await), 1);

        delete_vc(&w, &name).await;
        wait_gone(&w.vcs, &name, TIMEOUT, "VirtualCluster noauth").await;
        drop(op);
    });
}

/// With `--aws-auth=false` (the chart's `rbac.awsAuthConfigMap: false`) the operator never reads
/// or edits aws-auth: a VirtualCluster in aws-auth mode says why it cannot be served, one in
/// AccessEntry mode converges, and aws-auth is left as it was.
#[test]
fn without_aws_auth_rights_only_access_entry_clusters_are_served() {
    run(async {
        let _aws_auth = AWS_AUTH.lock().await;
        let w = World::new("vc-authoff").await;
        let before = emr_entries(&aws_auth(w.bed).await);
        let op = w.operator(&["--aws-auth=false"]).await;

        let mapped = w.name("mapped");
        w.apply_vc(&mapped, json!({})).await;
        let vc = wait_for(
            &w.vcs,
            &mapped,
            TIMEOUT,
            "AwsAuthDisabled",
            |vc: &VirtualCluster| {
                reason(vc, "EmrAccessReady").as_deref() == Some("AwsAuthDisabled")
            },
        )
        .await;
        let access = condition::find(conditions(&vc), "EmrAccessReady").unwrap();
        assert!(access.message.contains("AccessEntry"), "{}", access.message);
        delete_vc(&w, &mapped).await;
        wait_gone(&w.vcs, &mapped, TIMEOUT, "VirtualCluster mapped").await;

        let entry = w.name("entry");
        w.apply_vc(&entry, json!({"emrAccess": {"mode": "AccessEntry"}}))
            .await;
        w.wait_ready(&entry).await;
        assert_eq!(
            emr_entries(&aws_auth(w.bed).await),
            before,
            "aws-auth changed although the operator has no rights on it"
        );
        delete_vc(&w, &entry).await;
        wait_gone(&w.vcs, &entry, TIMEOUT, "VirtualCluster entry").await;
        drop(op);
    });
}
