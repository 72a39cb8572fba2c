//! EMR's entry in `kube-system/aws-auth`: the `mapRoles` YAML parsed, edited as a list of
//! entries and written back, every other entry kept as it was (its keys, their order and keys
//! we do not know; see [`yaml`]).

use super::yaml::{self, Node};

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
    #[error("mapRoles in kube-system/aws-auth is refused: {0}")]
    TooLarge(String),
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
    entries.push(Node::Map(vec![
        (Node::Str("rolearn".into()), Node::Str(role_arn.into())),
        (Node::Str("username".into()), Node::Str(EMR_USER.into())),
    ]));
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
    let kept: Vec<Node> = entries
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

fn parse(map_roles: Option<&str>) -> Result<Vec<Node>, MapRolesError> {
    let text = map_roles.unwrap_or_default();
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    match yaml::parse(text).map_err(MapRolesError::from)? {
        Node::Null => Ok(Vec::new()),
        Node::Seq(entries) => Ok(entries),
        _ => Err(MapRolesError::NotAList),
    }
}

fn render(entries: &[Node]) -> Result<String, MapRolesError> {
    if entries.is_empty() {
        return Ok(String::new());
    }
    yaml::render(&Node::Seq(entries.to_vec())).map_err(MapRolesError::from)
}

impl From<yaml::ReadError> for MapRolesError {
    fn from(e: yaml::ReadError) -> Self {
        match e {
            yaml::ReadError::TooLarge { .. } => MapRolesError::TooLarge(e.to_string()),
            yaml::ReadError::Yaml(message) => MapRolesError::Yaml(message),
        }
    }
}

fn username(entry: &Node) -> Option<&str> {
    entry.get("username").and_then(Node::as_str)
}

fn maps_role(entry: &Node, role_arn: &str) -> bool {
    entry
        .get("rolearn")
        .and_then(Node::as_str)
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
mod tests;
