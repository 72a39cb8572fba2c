//! The VirtualCluster controller tried as a hostile tenant would, on the test bed (a real
//! kube-apiserver with RBAC and the AWS emulator), run as the real operator binary:
//!
//! - bookkeeping: over repeated create/delete cycles no trust statement for the namespace
//!   survives, and a statement found already present is answered for too;
//! - ownership: markers a tenant puts on a namespace never make the operator delete it; reserved
//!   keys in `spec.namespace` are refused; `Retain` leaves nothing that claims ownership; a
//!   child labelled in another namespace does not make a VirtualCluster reconcile;
//! - deletion: runs never submitted do not hold it, a trust statement IAM will not let go of
//!   is reported, and switching to `Retain` lets the deletion finish.
//!
//! Expected trust statements are written out by hand from the reference document, never
//! computed with the code under test. A module of virtual_cluster.rs, whose runtime, World and
//! helpers it shares; what differs here is named apart.

use super::*;
use emr_operator_tests::TEST_MANAGER;

const OWNER_LABEL: &str = "emr-on-eks.dev/virtual-cluster";
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
const CREATED_ANNOTATION: &str = "emr-on-eks.dev/created-by-operator";

// ---------------------------------------------------------------------------------------------
// Expected values, by hand from the reference document
// ---------------------------------------------------------------------------------------------

/// base36(R) as the reference defines it: the name's bytes as one big-endian integer, digits
/// `0-9a-z`.
fn base36(name: &str) -> String {
    let mut number: Vec<u8> = name.bytes().collect();
    let mut digits = Vec::new();
    while number.iter().any(|&b| b != 0) {
        let mut rest = 0u32;
        for byte in number.iter_mut() {
            let value = (rest << 8) | u32::from(*byte);
            *byte = (value / 36) as u8;
            rest = value % 36;
        }
        digits.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[rest as usize]);
    }
    if digits.is_empty() {
        return "0".into();
    }
    digits.reverse();
    String::from_utf8(digits).unwrap()
}

/// What `aws emr-containers update-role-trust-policy` appends for role `role_name`.
fn emr_statement(provider: &str, namespace: &str, role_name: &str) -> Value {
    json!({
        "Effect": "Allow",
        "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{provider}")},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringLike": {
            format!("{provider}:sub"):
                format!("system:serviceaccount:{namespace}:emr-containers-sa-*-*-{ACCOUNT}-{}", base36(role_name))
        }}
    })
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Tenancy tests run their VirtualClusters in AccessEntry mode (no aws-auth, which the other
/// tests take turns on).
impl World {
    async fn apply_access_entry_vc(&self, name: &str, spec: Value) -> VirtualCluster {
        let mut full = json!({"emrAccess": {"mode": "AccessEntry"}});
        merge(&mut full, spec);
        self.apply_vc(name, full).await
    }

    async fn delete_and_wait_gone(&self, name: &str) {
        self.vcs
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete VirtualCluster");
        wait_gone(&self.vcs, name, TIMEOUT, "VirtualCluster").await;
    }

    fn namespaces(&self) -> Api<Namespace> {
        Api::all(self.bed.client.clone())
    }
}

/// Statements of a trust policy that name `namespace` anywhere.
fn statements_for(trust: &Value, namespace: &str) -> Vec<Value> {
    trust["Statement"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.to_string().contains(&format!(":{namespace}:")))
        .collect()
}

/// The VirtualCluster reconcile count once it has stopped moving for `quiet`.
async fn settled_reconciles(op: &Operator, quiet: Duration) -> f64 {
    let deadline = Instant::now() + TIMEOUT;
    let mut last = reconciles(&op.metrics().await);
    loop {
        tokio::time::sleep(quiet).await;
        let now = reconciles(&op.metrics().await);
        if now == last {
            return now;
        }
        assert!(Instant::now() < deadline, "reconciles never settled");
        last = now;
    }
}

async fn wait_warning(bed: &Bed, uid: &str, reason: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = typed_events(bed, uid).await;
        if let Some((_, _, note)) = all.iter().find(|(r, t, _)| r == reason && t == "Warning") {
            return note.clone();
        }
        assert!(Instant::now() < deadline, "no Warning {reason} in {all:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn emulator(bed: &Bed, method: reqwest::Method, path: &str, body: Value) {
    let r = reqwest::Client::new()
        .request(method.clone(), format!("{}{path}", bed.emulator.base))
        .json(&body)
        .send()
        .await
        .expect("emulator control call");
    assert!(r.status().is_success(), "{method} {path}: {}", r.status());
}

/// A SparkJobRun no operator handles (no test label), with the status given.
async fn job_run(bed: &Bed, namespace: &str, name: &str, vc: &str, status: Option<Value>) {
    let manifest = json!({
        "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "virtualCluster": {"name": vc},
            "executionRoleArn": "arn:aws:iam::123456789012:role/some-job-role",
            "releaseLabel": "emr-7.2.0-latest",
            "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": "local:///pi.py"}}
        }
    });
    let _: SparkJobRun = bed
        .apply(&serde_saphyr::to_string(&manifest).unwrap())
        .await;
    if let Some(status) = status {
        Api::<SparkJobRun>::namespaced(bed.client.clone(), namespace)
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({ "status": status })),
            )
            .await
            .unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Point 4: bookkeeping that cannot be lost
// ---------------------------------------------------------------------------------------------

/// Create and delete the same VirtualCluster (several execution roles, IRSA service accounts,
/// a role shared by both) four times, poking it with edits while it converges so that passes run
/// on stale copies, and in two cycles with the record of the statements lost before the
/// deletion: after every deletion no role trusts anything in the namespace.
#[test]
fn trust_statements_never_outlive_repeated_create_delete_cycles() {
    run(async {
        let w = World::new("vc-cycles").await;
        let name = w.name("cycled");
        let roles: Vec<String> = (0..3).map(|i| w.bed.unique(&format!("cycle{i}"))).collect();
        let mut arns = Vec::new();
        for role in &roles {
            arns.push(w.role(role).await);
        }
        let op = w.operator(&[]).await;
        let ns = w.namespace.clone();
        let spec = json!({
            "executionRoles": [{"arn": arns[0]}, {"arn": arns[1]}, {"arn": arns[2]}],
            "serviceAccounts": [
                {"name": "submitter", "roleArn": arns[2]},
                {"name": "reader", "roleArn": arns[1]}
            ]
        });
        for cycle in 0..4 {
            w.apply_access_entry_vc(&name, spec.clone()).await;
            // Edits while it converges: each one is a reconcile, often on a copy older than the
            // operator's own last write.
            for poke in 0..3 {
                w.vcs
                    .patch(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(&json!({"metadata": {"annotations": {"poke": format!("{cycle}-{poke}")}}})),
                    )
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            let vc = w.wait_ready(&name).await;
            let recorded = vc.status.unwrap().managed.trust_statements;
            assert_eq!(recorded.len(), 5, "cycle {cycle}: {recorded:?}");
            assert_eq!(
                w.trust(&roles[0]).await,
                json!({"Version": "2012-10-17", "Statement": [
                    ec2_statement(), emr_statement(&w.provider, &ns, &roles[0])
                ]}),
                "cycle {cycle}"
            );
            assert_eq!(
                statements_for(&w.trust(&roles[2]).await, &ns).len(),
                2,
                "cycle {cycle}"
            );
            if cycle % 2 == 1 {
                // Every other cycle the record is lost before the deletion, as a status write
                // that never happened (or one overwritten from a stale copy) would leave it.
                w.vcs
                    .patch_status(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(&json!({"status": {"managed": {"trustStatements": []}}})),
                    )
                    .await
                    .unwrap();
            }
            w.delete_and_wait_gone(&name).await;
            for role in &roles {
                assert_eq!(
                    w.trust(role).await,
                    original_trust(),
                    "cycle {cycle}: a statement for namespace {ns} outlived the deletion on {role}"
                );
            }
            wait_gone(&w.namespaces(), &ns, TIMEOUT, "namespace").await;
        }
        drop(op);
    });
}

/// A statement already on the role before the VirtualCluster exists (put there by hand, or left
/// by a pass whose status write never happened) is recorded as managed, not duplicated, and
/// removed by deletion with the rest.
#[test]
fn a_statement_already_present_is_recorded_and_removed_on_deletion() {
    run(async {
        let w = World::new("vc-seeded").await;
        let name = w.name("seeded");
        let ns = w.namespace.clone();
        let job_role = w.bed.unique("seeded-job");
        let sa_role = w.bed.unique("seeded-sa");
        let seeded =
            |extra: Value| json!({"Version": "2012-10-17", "Statement": [ec2_statement(), extra]});
        let job_arn = w
            .bed
            .iam_role(
                &job_role,
                &seeded(emr_statement(&w.provider, &ns, &job_role)),
            )
            .await;
        let sa_arn = w
            .bed
            .iam_role(
                &sa_role,
                &seeded(irsa_statement(&w.provider, &ns, "submitter")),
            )
            .await;
        let op = w.operator(&[]).await;
        w.apply_access_entry_vc(
            &name,
            json!({
                "executionRoles": [{"arn": job_arn}],
                "serviceAccounts": [{"name": "submitter", "roleArn": sa_arn}]
            }),
        )
        .await;
        let vc = w.wait_ready(&name).await;
        let recorded = vc.status.clone().unwrap().managed.trust_statements;
        let mut roles: Vec<&str> = recorded.iter().map(|r| r.role_arn.as_str()).collect();
        roles.sort();
        let mut expected = vec![job_arn.as_str(), sa_arn.as_str()];
        expected.sort();
        assert_eq!(roles, expected, "{recorded:?}");
        // Found, not added: no duplicate, and no TrustStatementAdded Event.
        assert_eq!(
            w.trust(&job_role).await,
            seeded(emr_statement(&w.provider, &ns, &job_role))
        );
        let uid = vc.uid().unwrap();
        assert!(
            !typed_events(w.bed, &uid)
                .await
                .iter()
                .any(|(r, _, _)| r == "TrustStatementAdded")
        );

        w.delete_and_wait_gone(&name).await;
        assert_eq!(w.trust(&job_role).await, original_trust());
        assert_eq!(w.trust(&sa_role).await, original_trust());
        drop(op);
    });
}

// ---------------------------------------------------------------------------------------------
// Point 5: ownership a tenant cannot forge
// ---------------------------------------------------------------------------------------------

/// A tenant marks the namespace a VirtualCluster adopts (`create: false`) as created by the
/// operator for that VirtualCluster. Deleting the VirtualCluster (policy Delete) gives the
/// namespace back; it is never deleted. Likewise a namespace the operator did create, once the
/// spec says `create: false`.
#[test]
fn forged_ownership_markers_never_get_a_namespace_deleted() {
    run(async {
        let w = World::new("vc-forged").await;
        let victim = w.name("victim");
        let ns = w.bed.namespace("tenant").await;
        // The tenant's forgery, as their own field manager.
        w.bed
            .apply_yaml(
                &serde_saphyr::to_string(&json!({
                    "apiVersion": "v1", "kind": "Namespace",
                    "metadata": {
                        "name": ns,
                        "labels": {OWNER_LABEL: victim, MANAGED_BY: "emr-on-eks-operator"},
                        "annotations": {CREATED_ANNOTATION: "true"}
                    }
                }))
                .unwrap(),
            )
            .await;
        let op = w.operator(&[]).await;
        w.apply_access_entry_vc(&victim, json!({"namespace": {"name": ns, "create": false}}))
            .await;
        let vc = w.wait_ready(&victim).await;
        let managed = vc.status.unwrap().managed;
        assert!(!managed.namespace_created, "{managed:?}");
        assert_eq!(managed.namespace_uid, None);

        w.delete_and_wait_gone(&victim).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = w.namespaces().get(&ns).await.unwrap();
        assert!(
            after.metadata.deletion_timestamp.is_none(),
            "the operator deleted a namespace it never created"
        );

        // A namespace the operator did create stays too once the spec says create: false.
        let made = w.name("made");
        w.apply_access_entry_vc(&made, json!({})).await;
        let vc = w.wait_ready(&made).await;
        let managed = vc.status.unwrap().managed;
        assert!(managed.namespace_created);
        let created = w.namespaces().get(&w.namespace).await.unwrap();
        assert_eq!(managed.namespace_uid, created.metadata.uid);
        w.apply_access_entry_vc(
            &made,
            json!({"namespace": {"name": w.namespace, "create": false}}),
        )
        .await;
        w.wait_ready(&made).await;
        w.delete_and_wait_gone(&made).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let kept = w.namespaces().get(&w.namespace).await.unwrap();
        assert!(kept.metadata.deletion_timestamp.is_none());
        assert!(
            !kept.labels().contains_key(OWNER_LABEL),
            "{:?}",
            kept.labels()
        );
        drop(op);
    });
}

/// `spec.namespace` may not set the operator's keys: InvalidSpec naming the field, a Warning
/// Event, and nothing applied (the apiserver here is 1.20, which drops the schema's CEL rule).
#[test]
fn reserved_keys_in_spec_namespace_are_refused_and_nothing_is_applied() {
    run(async {
        let w = World::new("vc-reserved").await;
        let forger = w.name("forger");
        let ns = w.bed.namespace("adoptee").await;
        let op = w.operator(&[]).await;
        w.apply_access_entry_vc(
            &forger,
            json!({"namespace": {
                "name": ns, "create": false,
                "labels": {"team": "a", OWNER_LABEL: "someone-else"},
                "annotations": {CREATED_ANNOTATION: "true"}
            }}),
        )
        .await;
        let vc = wait_for(
            &w.vcs,
            &forger,
            TIMEOUT,
            "InvalidSpec",
            |vc: &VirtualCluster| reason(vc, "Ready").as_deref() == Some("InvalidSpec"),
        )
        .await;
        let message = vc.status.clone().unwrap().message.unwrap();
        assert!(
            message.contains(&format!("spec.namespace.labels[{OWNER_LABEL}]")),
            "{message}"
        );
        assert!(
            message.contains(&format!("spec.namespace.annotations[{CREATED_ANNOTATION}]")),
            "{message}"
        );
        let note = wait_warning(w.bed, &vc.uid().unwrap(), "InvalidSpec").await;
        assert!(note.contains(OWNER_LABEL), "{note}");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let untouched = w.namespaces().get(&ns).await.unwrap();
        assert!(
            untouched.labels().get("team").is_none(),
            "{:?}",
            untouched.labels()
        );
        assert!(!untouched.labels().contains_key(OWNER_LABEL));
        assert!(!untouched.annotations().contains_key(CREATED_ANNOTATION));
        assert!(w.vcs.get(&forger).await.unwrap().finalizers().is_empty());
        w.delete_and_wait_gone(&forger).await;
        drop(op);
    });
}

/// `Retain`: the namespace and children stay without anything that claims them for the
/// operator, so another VirtualCluster adopts them cleanly (and, having adopted, never deletes
/// the namespace).
#[test]
fn retain_leaves_no_ownership_markers_behind() {
    run(async {
        let w = World::new("vc-markers").await;
        let first = w.name("first");
        let ns = w.namespace.clone();
        let sa_role = w.role(&w.bed.unique("markers-sa")).await;
        let op = w.operator(&[]).await;
        w.apply_access_entry_vc(
            &first,
            json!({
                "deletionPolicy": "Retain",
                "namespace": {"labels": {"team": "a"}},
                "serviceAccounts": [{"name": "submitter", "roleArn": sa_role}],
                "guardRails": {"networkIsolation": true}
            }),
        )
        .await;
        let ready = w.wait_ready(&first).await;
        assert!(ready.status.unwrap().managed.namespace_created);
        let before = w.namespaces().get(&ns).await.unwrap();
        assert_eq!(before.labels()[OWNER_LABEL], first);
        assert_eq!(before.annotations()[CREATED_ANNOTATION], "true");

        w.delete_and_wait_gone(&first).await;
        let after = w.namespaces().get(&ns).await.unwrap();
        assert!(after.metadata.deletion_timestamp.is_none());
        assert!(
            !after.labels().contains_key(OWNER_LABEL),
            "{:?}",
            after.labels()
        );
        assert!(
            !after.labels().contains_key(MANAGED_BY),
            "{:?}",
            after.labels()
        );
        assert!(
            !after.annotations().contains_key(CREATED_ANNOTATION),
            "{:?}",
            after.annotations()
        );
        assert_eq!(after.labels()["team"], "a", "the spec's own labels stay");
        let sa = Api::<ServiceAccount>::namespaced(w.bed.client.clone(), &ns)
            .get("submitter")
            .await
            .unwrap();
        assert!(!sa.labels().contains_key(OWNER_LABEL), "{:?}", sa.labels());
        assert!(sa.owner_references().is_empty());
        let policy = Api::<NetworkPolicy>::namespaced(w.bed.client.clone(), &ns)
            .get("emr-tenant-isolation")
            .await
            .unwrap();
        assert!(!policy.labels().contains_key(OWNER_LABEL));
        assert!(policy.owner_references().is_empty());

        // A later VirtualCluster adopts what is left, and deleting it keeps the namespace.
        let second = w.name("second");
        w.apply_access_entry_vc(&second, json!({"namespace": {"create": false}}))
            .await;
        let adopted = w.wait_ready(&second).await;
        assert!(!adopted.status.unwrap().managed.namespace_created);
        w.delete_and_wait_gone(&second).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            w.namespaces()
                .get(&ns)
                .await
                .unwrap()
                .metadata
                .deletion_timestamp
                .is_none()
        );
        drop(op);
    });
}

/// A ServiceAccount (and a namespace) in another tenant's namespace labelled with VirtualCluster
/// A's name makes A reconcile no more: only A's own namespace maps to A. The same label in A's
/// namespace does, which shows the measure can see a reconcile.
#[test]
fn children_in_other_namespaces_do_not_trigger_another_teams_reconcile() {
    run(async {
        let w = World::new("vc-mapper").await;
        let victim = w.name("victim");
        // No periodic resync during the test: every reconcile comes from a watch event.
        let op = w.operator(&["--resync-interval=600s"]).await;
        w.apply_access_entry_vc(&victim, json!({})).await;
        w.wait_ready(&victim).await;
        let quiet = Duration::from_secs(3);
        let before = settled_reconciles(&op, quiet).await;

        let tenant = w.bed.namespace("tenant-b").await;
        let sas = Api::<ServiceAccount>::namespaced(w.bed.client.clone(), &tenant);
        let ns_api = w.namespaces();
        for i in 0..5 {
            let sa = json!({
                "apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": "lure", "namespace": tenant,
                    "labels": {OWNER_LABEL: victim}, "annotations": {"n": i.to_string()}}
            });
            sas.patch(
                "lure",
                &PatchParams::apply(TEST_MANAGER).force(),
                &Patch::Apply(&sa),
            )
            .await
            .unwrap();
            let ns = json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": tenant, "labels": {OWNER_LABEL: victim},
                    "annotations": {"n": i.to_string()}}
            });
            ns_api
                .patch(
                    &tenant,
                    &PatchParams::apply(TEST_MANAGER).force(),
                    &Patch::Apply(&ns),
                )
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        tokio::time::sleep(quiet).await;
        let after = reconciles(&op.metrics().await);
        assert_eq!(
            after, before,
            "objects in namespace {tenant} made VirtualCluster {victim} reconcile"
        );

        // The same lure in the victim's own namespace is a child event for it.
        let own = Api::<ServiceAccount>::namespaced(w.bed.client.clone(), &w.namespace);
        let sa = json!({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "lure", "namespace": w.namespace, "labels": {OWNER_LABEL: victim}}
        });
        own.patch(
            "lure",
            &PatchParams::apply(TEST_MANAGER).force(),
            &Patch::Apply(&sa),
        )
        .await
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while reconciles(&op.metrics().await) == after {
            assert!(
                Instant::now() < deadline,
                "a labelled child in the victim's own namespace triggered no reconcile"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        w.delete_and_wait_gone(&victim).await;
        drop(op);
    });
}

// ---------------------------------------------------------------------------------------------
// Point 8: deletion never hangs on someone else
// ---------------------------------------------------------------------------------------------

/// Under `runningJobsOnDelete: Wait`, runs that never reached EMR (no status at all, waiting
/// for this very VirtualCluster, refused before submission, rejected by EMR) do not hold the
/// deletion; they are left in place.
#[test]
fn runs_never_submitted_do_not_hold_a_waiting_deletion() {
    run(async {
        let w = World::new("vc-unsubmitted").await;
        let name = w.name("waits");
        // An adopted namespace, so it and the runs stay after the deletion.
        let ns = w.bed.namespace("unsubmitted").await;
        let op = w.operator(&[]).await;
        w.apply_access_entry_vc(
            &name,
            json!({"runningJobsOnDelete": "Wait", "namespace": {"name": ns, "create": false}}),
        )
        .await;
        w.wait_ready(&name).await;
        let waiting = json!({"conditions": [{
            "type": "Submitted", "status": "False", "reason": "VirtualClusterNotReady",
            "message": format!("VirtualCluster {name} is being deleted"),
            "lastTransitionTime": "2024-01-01T00:00:00Z"
        }]});
        let refused = json!({"conditions": [{
            "type": "Failed", "status": "True", "reason": "ExecutionRoleNotAllowed",
            "message": "not allowed", "lastTransitionTime": "2024-01-01T00:00:00Z"
        }]});
        let rejected = json!({"attempt": 1, "virtualClusterId": "vc"});
        job_run(w.bed, &ns, "no-status", &name, None).await;
        job_run(w.bed, &ns, "waiting-for-vc", &name, Some(waiting)).await;
        job_run(w.bed, &ns, "refused", &name, Some(refused)).await;
        job_run(w.bed, &ns, "rejected-by-emr", &name, Some(rejected)).await;

        w.delete_and_wait_gone(&name).await;
        // Wait deletes no run.
        let left: Vec<SparkJobRun> = Api::<SparkJobRun>::namespaced(w.bed.client.clone(), &ns)
            .list(&Default::default())
            .await
            .unwrap()
            .items;
        assert_eq!(left.len(), 4);
        assert!(left.iter().all(|r| r.metadata.deletion_timestamp.is_none()));
        drop(op);
    });
}

/// IAM denies removing one role's statement: deletion says which role and which action (a
/// condition and a Warning Event), still removes what it can, and waits. Switching the deleting
/// object to `Retain` lets it go, leaving that statement.
#[test]
fn a_denied_trust_removal_is_reported_and_retain_lets_the_deletion_finish() {
    run(async {
        let w = World::new("vc-denied").await;
        let name = w.name("denied");
        let ns = w.namespace.clone();
        let stuck_role = w.bed.unique("stuck");
        let free_role = w.bed.unique("free");
        let stuck_arn = w.role(&stuck_role).await;
        let free_arn = w.role(&free_role).await;
        let op = w.operator(&[]).await;
        w.apply_access_entry_vc(
            &name,
            json!({"executionRoles": [{"arn": stuck_arn}, {"arn": free_arn}]}),
        )
        .await;
        let uid = w.wait_ready(&name).await.uid().unwrap();
        let denial = json!({"service": "iam", "operation": "UpdateAssumeRolePolicy", "roleName": stuck_role});
        emulator(
            w.bed,
            reqwest::Method::POST,
            "/_emulator/denials",
            denial.clone(),
        )
        .await;

        w.vcs.delete(&name, &DeleteParams::default()).await.unwrap();
        let vc = wait_for(
            &w.vcs,
            &name,
            TIMEOUT,
            "denial reported",
            |vc: &VirtualCluster| {
                reason(vc, "Ready").as_deref() == Some("DeletingTrustStatementRemovalDenied")
            },
        )
        .await;
        let message = condition::find(conditions(&vc), "Ready")
            .unwrap()
            .message
            .clone();
        assert!(message.contains(&stuck_arn), "{message}");
        assert!(message.contains("iam:UpdateAssumeRolePolicy"), "{message}");
        let note = wait_warning(w.bed, &uid, "DeletingTrustStatementRemovalDenied").await;
        assert!(note.contains(&stuck_arn), "{note}");
        // Every other role was still cleaned; the deletion waits on the denied one.
        assert_eq!(w.trust(&free_role).await, original_trust());
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(w.vcs.get_opt(&name).await.unwrap().is_some());
        assert_eq!(statements_for(&w.trust(&stuck_role).await, &ns).len(), 1);

        w.vcs
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": {"deletionPolicy": "Retain"}})),
            )
            .await
            .unwrap();
        wait_gone(&w.vcs, &name, TIMEOUT, "VirtualCluster after Retain").await;
        emulator(w.bed, reqwest::Method::DELETE, "/_emulator/denials", denial).await;
        // Retain left the statement the operator could not remove.
        assert_eq!(
            w.trust(&stuck_role).await,
            json!({"Version": "2012-10-17", "Statement": [
                ec2_statement(), emr_statement(&w.provider, &ns, &stuck_role)
            ]})
        );
        drop(op);
    });
}
