//! The rules of the `emr-containers` Role: eksctl's current asset, verb for verb.
//!
//! `describe`, `edit`, `annotate` and `label` are not real verbs; RBAC stores them as given and
//! EMR's role has always carried them, so they are kept for byte-equality with what eksctl makes.
//! The operator's ClusterRole (deploy/helm/.../clusterrole-rules.yaml) must hold every one of
//! these, or the apiserver refuses to let it create the Role (RBAC escalation prevention).

use k8s_openapi::api::rbac::v1::PolicyRule;

const FULL: &[&str] = &[
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
    "label",
];
const WORKLOADS: &[&str] = &[
    "get", "list", "watch", "describe", "create", "edit", "delete", "annotate", "patch", "label",
];

fn rule(api_groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let owned = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(owned(api_groups)),
        resources: Some(owned(resources)),
        verbs: owned(verbs),
        ..PolicyRule::default()
    }
}

/// The rules, in the reference table's order.
pub fn rules() -> Vec<PolicyRule> {
    vec![
        rule(&[""], &["namespaces"], &["get"]),
        rule(
            &[""],
            &[
                "serviceaccounts",
                "services",
                "configmaps",
                "events",
                "pods",
                "pods/log",
            ],
            FULL,
        ),
        rule(&[""], &["secrets"], &["create", "patch", "delete", "watch"]),
        rule(&["apps"], &["statefulsets", "deployments"], WORKLOADS),
        rule(&["batch"], &["jobs"], WORKLOADS),
        rule(
            &["extensions", "networking.k8s.io"],
            &["ingresses"],
            WORKLOADS,
        ),
        rule(
            &["rbac.authorization.k8s.io"],
            &["roles", "rolebindings"],
            FULL,
        ),
        rule(
            &[""],
            &["persistentvolumeclaims"],
            &["create", "list", "delete", "deletecollection"],
        ),
        rule(
            &["scheduling.volcano.sh"],
            &["podgroups"],
            &["get", "list", "watch", "create", "delete", "update"],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn table_rules() -> Vec<(Vec<String>, Vec<String>, Vec<String>)> {
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

    #[test]
    fn rules_equal_the_reference_table() {
        let ours: Vec<_> = rules()
            .into_iter()
            .map(|r| {
                (
                    r.api_groups.unwrap_or_default(),
                    r.resources.unwrap_or_default(),
                    r.verbs,
                )
            })
            .collect();
        assert_eq!(ours, table_rules());
    }

    #[test]
    fn no_rule_names_resources_or_urls() {
        for r in rules() {
            assert!(r.resource_names.is_none() && r.non_resource_urls.is_none());
        }
    }

    /// The operator's ClusterRole must hold every permission of the Role it creates, or the
    /// apiserver refuses the Role (RBAC escalation prevention).
    #[test]
    fn the_operator_cluster_role_holds_every_emr_permission() {
        let text = include_str!(
            "../../../../deploy/helm/emr-on-eks-operator/files/clusterrole-rules.yaml"
        );
        let granted: Vec<PolicyRule> = serde_yaml::from_str(text).unwrap();
        let holds = |group: &str, resource: &str, verb: &str| {
            granted.iter().any(|r| {
                r.resource_names.is_none()
                    && r.api_groups.iter().flatten().any(|g| g == group)
                    && r.resources.iter().flatten().any(|x| x == resource)
                    && r.verbs.iter().any(|v| v == verb)
            })
        };
        for rule in rules() {
            for group in rule.api_groups.iter().flatten() {
                for resource in rule.resources.iter().flatten() {
                    for verb in &rule.verbs {
                        assert!(
                            holds(group, resource, verb),
                            "missing {group:?} {resource} {verb}"
                        );
                    }
                }
            }
        }
        // And what the controller itself does.
        for (group, resource, verb) in [
            ("", "namespaces", "create"),
            ("", "namespaces", "delete"),
            ("", "namespaces", "watch"),
            ("", "serviceaccounts", "patch"),
            ("", "configmaps", "create"),
            ("", "resourcequotas", "patch"),
            ("", "limitranges", "delete"),
            ("networking.k8s.io", "networkpolicies", "patch"),
            ("emr-on-eks.dev", "virtualclusters/status", "patch"),
            ("emr-on-eks.dev", "sparkjobruns", "delete"),
        ] {
            assert!(
                holds(group, resource, verb),
                "missing {group:?} {resource} {verb}"
            );
        }
    }
}
