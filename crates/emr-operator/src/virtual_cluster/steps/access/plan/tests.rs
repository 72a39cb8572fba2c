//! The RoleBinding the access step writes, EMR's rules in the chart, and the chart's admission
//! policy on bindings of EMR's ClusterRole.

use super::*;

use k8s_openapi::api::rbac::v1::PolicyRule;
use serde_json::{Value, json};

const CHART: &str = "deploy/helm/emr-on-eks-operator/files/";

/// The reference document's table, transcribed as text so a typo in either shows up here.
const TABLE: &str = r#"
| "" | namespaces | get |
| "" | serviceaccounts, services, configmaps, events, pods, pods/log | get list watch describe create edit delete deletecollection annotate patch label |
| "" | secrets | create patch delete watch |
| apps | statefulsets, deployments | get list watch describe create edit delete annotate patch label |
| batch | jobs | get list watch describe create edit delete annotate patch label |
| extensions, networking.k8s.io | ingresses | get list watch describe create edit delete annotate patch label |
| rbac.authorization.k8s.io | roles, rolebindings | get list watch describe create edit delete deletecollection annotate patch label |
| "" | persistentvolumeclaims | create list delete deletecollection |
| scheduling.volcano.sh | podgroups | get list watch create delete update |
"#;

type Triple = (Vec<String>, Vec<String>, Vec<String>);

fn table_rules() -> Vec<Triple> {
    TABLE
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let list = |cell: &str, sep: char| -> Vec<String> {
                cell.split(sep)
                    .map(|s| s.trim().trim_matches('"').to_owned())
                    .filter(|s| !s.is_empty() || cell.trim() == "\"\"")
                    .collect()
            };
            (
                list(cells[0], ','),
                list(cells[1], ','),
                list(cells[2], ' '),
            )
        })
        .collect()
}

fn chart_rules(file: &str) -> Vec<PolicyRule> {
    let text = match file {
        "emr-containers-rules.yaml" => include_str!(
            "../../../../../../../deploy/helm/emr-on-eks-operator/files/emr-containers-rules.yaml"
        ),
        "clusterrole-rules.yaml" => include_str!(
            "../../../../../../../deploy/helm/emr-on-eks-operator/files/clusterrole-rules.yaml"
        ),
        "aws-auth-rules.yaml" => include_str!(
            "../../../../../../../deploy/helm/emr-on-eks-operator/files/aws-auth-rules.yaml"
        ),
        other => panic!("no chart file {CHART}{other}"),
    };
    serde_saphyr::from_str(text).unwrap()
}

#[test]
fn the_chart_cluster_role_is_eksctls_emr_containers_role() {
    let ours: Vec<Triple> = chart_rules("emr-containers-rules.yaml")
        .into_iter()
        .map(|r| {
            assert!(r.resource_names.is_none() && r.non_resource_urls.is_none());
            (
                r.api_groups.unwrap_or_default(),
                r.resources.unwrap_or_default(),
                r.verbs,
            )
        })
        .collect();
    assert_eq!(ours, table_rules());
}

/// The operator's own rules hold none of EMR's dangerous rights: it binds them, it does not
/// hold them. (`kubectl auth can-i` on the bed checks the same against the applied chart.)
#[test]
fn the_operator_holds_no_secret_pod_workload_or_role_rights() {
    let mut granted = chart_rules("clusterrole-rules.yaml");
    granted.extend(chart_rules("aws-auth-rules.yaml"));
    let holds = |group: &str, resource: &str, verb: &str| {
        granted.iter().any(|r| {
            r.resource_names.is_none()
                && r.api_groups
                    .iter()
                    .flatten()
                    .any(|g| g == group || g == "*")
                && r.resources
                    .iter()
                    .flatten()
                    .any(|x| x == resource || x == "*")
                && r.verbs.iter().any(|v| v == verb || v == "*")
        })
    };
    for (group, resource) in [
        ("", "secrets"),
        ("", "pods"),
        ("", "configmaps"),
        ("", "persistentvolumeclaims"),
        ("apps", "deployments"),
        ("batch", "jobs"),
        ("networking.k8s.io", "ingresses"),
        ("coordination.k8s.io", "leases"),
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ] {
        for verb in [
            "get", "list", "watch", "create", "update", "patch", "delete", "bind", "escalate",
        ] {
            assert!(!holds(group, resource, verb), "{group:?} {resource} {verb}");
        }
    }
    // What the controller itself does.
    for (group, resource, verb) in [
        ("", "namespaces", "create"),
        ("", "namespaces", "delete"),
        ("", "namespaces", "watch"),
        ("", "serviceaccounts", "patch"),
        ("", "resourcequotas", "patch"),
        ("", "limitranges", "delete"),
        ("networking.k8s.io", "networkpolicies", "patch"),
        ("rbac.authorization.k8s.io", "rolebindings", "create"),
        ("rbac.authorization.k8s.io", "rolebindings", "delete"),
        ("emr-on-eks.dev", "virtualclusters/status", "patch"),
        ("emr-on-eks.dev", "sparkjobruns", "delete"),
    ] {
        assert!(
            holds(group, resource, verb),
            "missing {group:?} {resource} {verb}"
        );
    }
}

fn binding(patch: impl FnOnce(&mut Value)) -> RoleBinding {
    let mut value = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "emr-containers", "namespace": "spark-a"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "emr-rules"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "emr-containers"}]
    });
    patch(&mut value);
    serde_json::from_value(value).unwrap()
}

#[test]
fn children_carry_labels_annotation_and_owner() {
    let rb =
        serde_json::to_value(emr_role_binding(&Owner::team_a(), "spark-a", "emr-rules")).unwrap();
    assert_eq!(
        rb["metadata"],
        json!({
            "name": "emr-containers",
            "namespace": "spark-a",
            "labels": {
                "emr-on-eks.dev/virtual-cluster": "team-a",
                "app.kubernetes.io/managed-by": "emr-on-eks-operator"
            },
            "annotations": {"argocd.argoproj.io/compare-options": "IgnoreExtraneous"},
            "ownerReferences": [{
                "apiVersion": "emr-on-eks.dev/v1alpha1",
                "kind": "VirtualCluster",
                "name": "team-a",
                "uid": "0000-1111",
                "controller": true,
                "blockOwnerDeletion": true
            }]
        })
    );
    assert_eq!(rb["apiVersion"], "rbac.authorization.k8s.io/v1");
    assert_eq!(rb["kind"], "RoleBinding");
}

#[test]
fn role_binding_binds_the_emr_user_to_the_cluster_role() {
    let rb =
        serde_json::to_value(emr_role_binding(&Owner::team_a(), "spark-a", "emr-rules")).unwrap();
    assert_eq!(
        rb["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "emr-rules"})
    );
    assert_eq!(
        rb["subjects"],
        json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "emr-containers"}])
    );
}

#[test]
fn the_binding_the_operator_builds_passes_its_check() {
    let built = emr_role_binding(&Owner::team_a(), "spark-a", "emr-rules");
    assert_eq!(check_binding(&built, Some("spark-a"), "emr-rules"), Ok(()));
    assert_eq!(
        check_binding(&binding(|_| {}), Some("spark-a"), "emr-rules"),
        Ok(())
    );
}

#[test]
fn a_binding_to_anyone_else_or_elsewhere_is_refused() {
    let check = |b: RoleBinding| check_binding(&b, Some("spark-a"), "emr-rules");
    let user =
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "emr-containers"});
    assert_eq!(
        check_binding(&binding(|_| {}), None, "emr-rules"),
        Err(BindingProblem::NoClaimedNamespace)
    );
    assert!(matches!(
        check(binding(
            |b| b["metadata"]["namespace"] = json!("kube-system")
        )),
        Err(BindingProblem::WrongNamespace { .. })
    ));
    assert!(matches!(
        check(binding(
            |b| b["metadata"]["name"] = json!("emr-containers-2")
        )),
        Err(BindingProblem::WrongName { .. })
    ));
    assert!(matches!(
        check(binding(|b| b["roleRef"]["name"] = json!("cluster-admin"))),
        Err(BindingProblem::WrongRole { .. })
    ));
    assert!(matches!(
        check(binding(|b| b["roleRef"]["kind"] = json!("Role"))),
        Err(BindingProblem::WrongRole { .. })
    ));
    for subjects in [
        json!([]),
        json!(null),
        json!([user.clone(), user.clone()]),
        json!([user, {"kind": "ServiceAccount", "name": "default", "namespace": "spark-a"}]),
        json!([{"kind": "ServiceAccount", "name": "emr-containers", "namespace": "spark-a"}]),
        json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "emr-containers"}]),
        json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "mallory"}]),
    ] {
        assert_eq!(
            check(binding(|b| b["subjects"] = subjects.clone())),
            Err(BindingProblem::WrongSubjects),
            "{subjects}"
        );
    }
}

fn role(labels: Value, owner_uid: Option<&str>) -> Role {
    let refs = owner_uid.map(|uid| {
        json!([{"apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "VirtualCluster",
                "name": "team-a", "uid": uid}])
    });
    serde_json::from_value(json!({
        "metadata": {"name": "emr-containers", "namespace": "spark-a",
                     "labels": labels, "ownerReferences": refs},
        "rules": []
    }))
    .unwrap()
}

#[test]
fn only_the_role_an_earlier_operator_made_counts_as_old() {
    let managed = json!({"app.kubernetes.io/managed-by": "emr-on-eks-operator",
                         "emr-on-eks.dev/virtual-cluster": "team-a"});
    assert!(is_old_operator_role(
        &role(managed.clone(), Some("0000-1111")),
        &Owner::team_a()
    ));
    // Orphaned by a Retain deletion, labels kept: still the operator's.
    assert!(is_old_operator_role(&role(managed, None), &Owner::team_a()));
    let managed_only = json!({"app.kubernetes.io/managed-by": "emr-on-eks-operator"});
    assert!(is_old_operator_role(
        &role(managed_only.clone(), Some("0000-1111")),
        &Owner::team_a()
    ));
    // eksctl's or a person's Role; another VirtualCluster's; no managed-by label.
    assert!(!is_old_operator_role(
        &role(json!({}), None),
        &Owner::team_a()
    ));
    assert!(!is_old_operator_role(
        &role(managed_only, Some("9999")),
        &Owner::team_a()
    ));
    let other = json!({"app.kubernetes.io/managed-by": "emr-on-eks-operator",
                       "emr-on-eks.dev/virtual-cluster": "team-b"});
    assert!(!is_old_operator_role(&role(other, None), &Owner::team_a()));
    let forged = json!({"emr-on-eks.dev/virtual-cluster": "team-a"});
    assert!(!is_old_operator_role(
        &role(forged, Some("0000-1111")),
        &Owner::team_a()
    ));
}

// ---- The chart's ValidatingAdmissionPolicy, evaluated with kube's CEL evaluator (the bed's
// Kubernetes 1.20 has no admission policies).

use kube::core::cel::{AdmissionRequest, GroupVersionKind, VapEvaluator, VapExpression};

const POLICY: &str = include_str!(
    "../../../../../../../deploy/helm/emr-on-eks-operator/files/emr-containers-binding-policy.yaml"
);
const ROLE_NAME: &str = "emr-on-eks-operator-emr-containers";

/// Whether the policy admits `object` (a RoleBinding or ClusterRoleBinding): it applies when
/// every matchCondition holds, and then every validation must hold.
fn admitted(object: Value) -> bool {
    // As the chart's template does: the placeholder becomes the ClusterRole's name.
    let spec: Value =
        serde_saphyr::from_str(&POLICY.replace("EMR_CONTAINERS_CLUSTER_ROLE", ROLE_NAME)).unwrap();
    let kind = object["kind"].as_str().unwrap().to_owned();
    let evaluator = VapEvaluator::builder()
        .object(object)
        .request(AdmissionRequest {
            operation: "CREATE".into(),
            username: "system:serviceaccount:emr:emr-on-eks-operator".into(),
            kind: GroupVersionKind {
                group: "rbac.authorization.k8s.io".into(),
                version: "v1".into(),
                kind,
            },
            ..AdmissionRequest::default()
        })
        .build();
    let expressions = |key: &str| -> Vec<VapExpression> {
        spec[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| VapExpression {
                expression: e["expression"].as_str().unwrap().to_owned(),
                message: e["message"].as_str().map(str::to_owned),
                message_expression: None,
            })
            .collect()
    };
    // Each result must be a boolean: an evaluation error would be a broken policy (which
    // the apiserver turns into failurePolicy), not a refusal, so it fails the test.
    let holds = |key: &str| -> bool {
        evaluator.evaluate(&expressions(key)).iter().all(|r| {
            let message = r.message.as_deref().unwrap_or_default();
            assert!(
                !message.starts_with("evaluation error")
                    && !message.starts_with("failed to compile")
                    && !message.starts_with("expression returned non-boolean"),
                "{r:?}"
            );
            r.passed
        })
    };
    !holds("matchConditions") || holds("validations")
}

fn object(kind: &str, role: &str, subjects: Value) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
        "metadata": {"name": "emr-containers", "namespace": "spark-a"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": subjects
    })
}

fn user(name: &str) -> Value {
    json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name})
}

#[test]
fn the_policy_admits_the_binding_the_operator_writes() {
    let built =
        serde_json::to_value(emr_role_binding(&Owner::team_a(), "spark-a", ROLE_NAME)).unwrap();
    assert!(admitted(built));
    assert!(admitted(object(
        "RoleBinding",
        ROLE_NAME,
        json!([user("emr-containers")])
    )));
}

#[test]
fn the_policy_refuses_any_other_binding_of_emrs_cluster_role() {
    let sa = json!({"kind": "ServiceAccount", "name": "emr-on-eks-operator", "namespace": "kube-system"});
    let group =
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "emr-containers"});
    for (what, obj) in [
        (
            "extra subject",
            object(
                "RoleBinding",
                ROLE_NAME,
                json!([user("emr-containers"), user("mallory")]),
            ),
        ),
        (
            "service account",
            object("RoleBinding", ROLE_NAME, json!([sa])),
        ),
        ("group", object("RoleBinding", ROLE_NAME, json!([group]))),
        (
            "other user",
            object("RoleBinding", ROLE_NAME, json!([user("mallory")])),
        ),
        ("no subjects", object("RoleBinding", ROLE_NAME, json!([]))),
        (
            "cluster-wide",
            object(
                "ClusterRoleBinding",
                ROLE_NAME,
                json!([user("emr-containers")]),
            ),
        ),
    ] {
        assert!(!admitted(obj), "admitted: {what}");
    }
    let mut missing = object("RoleBinding", ROLE_NAME, json!([]));
    missing.as_object_mut().unwrap().remove("subjects");
    assert!(!admitted(missing), "admitted: subjects absent");
}

#[test]
fn the_policy_leaves_other_bindings_alone() {
    assert!(admitted(object(
        "RoleBinding",
        "admin",
        json!([user("mallory")])
    )));
    assert!(admitted(object(
        "ClusterRoleBinding",
        "view",
        json!([user("mallory")])
    )));
    let mut to_role = object("RoleBinding", ROLE_NAME, json!([user("mallory")]));
    to_role["roleRef"]["kind"] = json!("Role");
    assert!(admitted(to_role));
}
