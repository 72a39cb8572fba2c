//! EMR's entry in `kube-system/aws-auth`: the `mapRoles` YAML parsed, edited as a list of
//! entries and written back, every other entry kept as it was (unknown fields included).

use serde_yaml::{Mapping, Value};

use crate::virtual_cluster::names::{EMR_SERVICE_LINKED_ROLE, EMR_USER};

/// `arn:<partition>:iam::<account>:role/AWSServiceRoleForAmazonEMRContainers`, without the
/// service-linked role's path: aws-auth matches role ARNs without paths.
pub fn emr_role_arn(partition: &str, account_id: &str) -> String {
    format!("arn:{partition}:iam::{account_id}:role/{EMR_SERVICE_LINKED_ROLE}")
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapRolesError {
    #[error("mapRoles in kube-system/aws-auth is not valid YAML: {0}")]
    Yaml(String),
    #[error("mapRoles in kube-system/aws-auth is not a YAML list of entries")]
    NotAList,
}

/// What to do to aws-auth so EMR's role maps to `emr-containers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnsurePlan {
    /// An entry mapping the role to `emr-containers` is there.
    Present,
    /// Write this `mapRoles` text: the old entries plus EMR's.
    Add(String),
    /// The role is mapped to another user; changing it could break whoever set it up.
    MappedElsewhere { username: String },
}

/// Plans adding EMR's entry to `map_roles` (absent or empty is a list without entries).
pub fn plan_ensure(map_roles: Option<&str>, role_arn: &str) -> Result<EnsurePlan, MapRolesError> {
    let mut entries = parse(map_roles)?;
    let mut other_user = None;
    for entry in entries.iter().filter(|e| maps_role(e, role_arn)) {
        match username(entry) {
            Some(EMR_USER) => return Ok(EnsurePlan::Present),
            user => other_user = Some(user.unwrap_or_default().to_owned()),
        }
    }
    if let Some(username) = other_user {
        return Ok(EnsurePlan::MappedElsewhere { username });
    }
    let mut entry = Mapping::new();
    entry.insert("rolearn".into(), role_arn.into());
    entry.insert("username".into(), EMR_USER.into());
    entries.push(Value::Mapping(entry));
    render(&entries).map(EnsurePlan::Add)
}

/// The `mapRoles` text without EMR's entry (every copy mapping the role to `emr-containers`),
/// or `None` when there is none.
pub fn plan_remove(
    map_roles: Option<&str>,
    role_arn: &str,
) -> Result<Option<String>, MapRolesError> {
    let entries = parse(map_roles)?;
    let before = entries.len();
    let kept: Vec<Value> = entries
        .into_iter()
        .filter(|e| !(maps_role(e, role_arn) && username(e) == Some(EMR_USER)))
        .collect();
    if kept.len() == before {
        return Ok(None);
    }
    render(&kept).map(Some)
}

/// Whether `map_roles` maps the role to `emr-containers`.
#[cfg(test)]
pub fn has_entry(map_roles: Option<&str>, role_arn: &str) -> Result<bool, MapRolesError> {
    Ok(parse(map_roles)?
        .iter()
        .any(|e| maps_role(e, role_arn) && username(e) == Some(EMR_USER)))
}

fn parse(map_roles: Option<&str>) -> Result<Vec<Value>, MapRolesError> {
    let text = map_roles.unwrap_or_default();
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    match serde_yaml::from_str::<Value>(text).map_err(|e| MapRolesError::Yaml(e.to_string()))? {
        Value::Null => Ok(Vec::new()),
        Value::Sequence(entries) => Ok(entries),
        _ => Err(MapRolesError::NotAList),
    }
}

fn render(entries: &[Value]) -> Result<String, MapRolesError> {
    if entries.is_empty() {
        return Ok(String::new());
    }
    serde_yaml::to_string(entries).map_err(|e| MapRolesError::Yaml(e.to_string()))
}

fn username(entry: &Value) -> Option<&str> {
    entry.get("username").and_then(Value::as_str)
}

fn maps_role(entry: &Value, role_arn: &str) -> bool {
    entry
        .get("rolearn")
        .and_then(Value::as_str)
        .is_some_and(|arn| without_path(arn.trim()) == without_path(role_arn))
}

/// `arn:aws:iam::1:role/a/b/Name` -> `arn:aws:iam::1:role/Name`: people paste the
/// service-linked role's ARN with its path, which aws-auth treats as the same role.
fn without_path(arn: &str) -> String {
    match arn.split_once(":role/") {
        Some((head, path_and_name)) => {
            let name = path_and_name.rsplit('/').next().unwrap_or(path_and_name);
            format!("{head}:role/{name}")
        }
        None => arn.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:iam::123456789012:role/AWSServiceRoleForAmazonEMRContainers";

    const NODES: &str = r#"- rolearn: arn:aws:iam::123456789012:role/eks-nodes
  username: system:node:{{EC2PrivateDNSName}}
  groups:
    - system:bootstrappers
    - system:nodes
"#;

    fn entries(text: &str) -> Vec<Value> {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn the_arn_has_no_path() {
        assert_eq!(emr_role_arn("aws", "123456789012"), ARN);
        assert_eq!(
            emr_role_arn("aws-cn", "1"),
            "arn:aws-cn:iam::1:role/AWSServiceRoleForAmazonEMRContainers"
        );
    }

    #[test]
    fn adds_to_missing_or_empty_map_roles() {
        for text in [None, Some(""), Some("  \n"), Some("[]"), Some("~")] {
            let EnsurePlan::Add(out) = plan_ensure(text, ARN).unwrap() else {
                panic!("{text:?}: expected Add");
            };
            assert_eq!(
                entries(&out),
                entries(&format!("- rolearn: {ARN}\n  username: emr-containers\n"))
            );
        }
    }

    #[test]
    fn adding_keeps_other_entries_and_their_fields() {
        let EnsurePlan::Add(out) = plan_ensure(Some(NODES), ARN).unwrap() else {
            panic!("expected Add");
        };
        let all = entries(&out);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0], entries(NODES)[0]);
        assert_eq!(all[1]["username"], Value::from("emr-containers"));
        // The result is itself accepted, and adding again changes nothing.
        assert_eq!(plan_ensure(Some(&out), ARN).unwrap(), EnsurePlan::Present);
        assert!(has_entry(Some(&out), ARN).unwrap());
    }

    #[test]
    fn an_entry_with_the_path_counts() {
        let text = "- rolearn: arn:aws:iam::123456789012:role/aws-service-role/emr-containers.amazonaws.com/AWSServiceRoleForAmazonEMRContainers\n  username: emr-containers\n";
        assert_eq!(plan_ensure(Some(text), ARN).unwrap(), EnsurePlan::Present);
        assert_eq!(plan_remove(Some(text), ARN).unwrap(), Some(String::new()));
    }

    #[test]
    fn another_account_is_another_role() {
        let text = "- rolearn: arn:aws:iam::999999999999:role/AWSServiceRoleForAmazonEMRContainers\n  username: emr-containers\n";
        assert!(matches!(
            plan_ensure(Some(text), ARN).unwrap(),
            EnsurePlan::Add(_)
        ));
        assert_eq!(plan_remove(Some(text), ARN).unwrap(), None);
    }

    #[test]
    fn a_mapping_to_another_user_is_reported_not_changed() {
        let text = format!("- rolearn: {ARN}\n  username: someone\n");
        assert_eq!(
            plan_ensure(Some(&text), ARN).unwrap(),
            EnsurePlan::MappedElsewhere {
                username: "someone".into()
            }
        );
        assert_eq!(plan_remove(Some(&text), ARN).unwrap(), None);
    }

    #[test]
    fn remove_drops_every_copy_and_keeps_the_rest() {
        let text = format!(
            "- rolearn: {ARN}\n  username: emr-containers\n{NODES}- rolearn: {ARN}\n  username: emr-containers\n"
        );
        let out = plan_remove(Some(&text), ARN).unwrap().unwrap();
        assert_eq!(entries(&out), entries(NODES));
        assert_eq!(plan_remove(Some(&out), ARN).unwrap(), None);
    }

    #[test]
    fn ensure_then_remove_restores_the_entries() {
        let EnsurePlan::Add(added) = plan_ensure(Some(NODES), ARN).unwrap() else {
            panic!("expected Add");
        };
        let removed = plan_remove(Some(&added), ARN).unwrap().unwrap();
        assert_eq!(entries(&removed), entries(NODES));
    }

    #[test]
    fn broken_yaml_is_an_error_not_a_panic() {
        assert!(matches!(
            plan_ensure(Some("- rolearn: [unclosed"), ARN),
            Err(MapRolesError::Yaml(_))
        ));
        assert_eq!(
            plan_ensure(Some("rolearn: x"), ARN),
            Err(MapRolesError::NotAList)
        );
        assert!(plan_remove(Some("{{{"), ARN).is_err());
    }

    #[test]
    fn entries_without_a_username_or_rolearn_are_kept() {
        let text = "- groups: [x]\n- rolearn: 42\n";
        let EnsurePlan::Add(out) = plan_ensure(Some(text), ARN).unwrap() else {
            panic!("expected Add");
        };
        assert_eq!(entries(&out).len(), 3);
    }
}
