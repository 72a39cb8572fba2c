//! Role trust policies for EMR on EKS and IRSA, built and edited without I/O.
//!
//! This is what `aws emr-containers update-role-trust-policy` does on the client side, done so
//! that reconciling it forever is safe: statements are compared by meaning, never appended
//! twice, and every statement the operator does not own is left exactly where it was.

mod base36;
mod normalize;

use serde_json::{Map, Value, json};

use crate::arn::Arn;
pub use base36::base36;

/// The policy language version IAM requires for policy variables; used for new documents.
pub const POLICY_VERSION: &str = "2012-10-17";

/// IAM's "Role trust policy length" quota: 2,048 characters by default (adjustable up to 4,096),
/// white space not counted. IAM User Guide, "IAM and AWS STS quotas"
/// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html). A longer
/// document is refused with LimitExceeded, so the operator does not send one.
pub const TRUST_POLICY_MAX_CHARS: usize = 2048;

/// A policy's size as IAM counts it against its quotas: characters other than white space.
pub fn policy_size(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

/// `cn-*` regions are in `aws-cn`, `us-gov-*` in `aws-us-gov`, everything else in `aws`.
pub fn partition_for_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoleArnError {
    #[error("{arn:?} is not an ARN")]
    NotAnArn { arn: String },
    #[error("{arn} is not an IAM role ARN (expected arn:<partition>:iam::<account>:role/<name>)")]
    NotARole { arn: String },
}

/// The role name in a role ARN, without its path: `arn:aws:iam::1:role/path/to/Name` -> `Name`.
pub fn role_name_from_arn(arn: &str) -> Result<String, RoleArnError> {
    let parsed = Arn::parse(arn).ok_or_else(|| RoleArnError::NotAnArn {
        arn: arn.to_owned(),
    })?;
    let not_a_role = || RoleArnError::NotARole {
        arn: arn.to_owned(),
    };
    if parsed.service != "iam" {
        return Err(not_a_role());
    }
    let path_and_name = parsed
        .resource
        .strip_prefix("role/")
        .ok_or_else(not_a_role)?;
    match path_and_name.rsplit('/').next() {
        Some(name) if !name.is_empty() => Ok(name.to_owned()),
        _ => Err(not_a_role()),
    }
}

/// `arn:<partition>:iam::<account>:role/<name>` (for a role without a path).
pub fn role_arn(partition: &str, account_id: &str, role_name: &str) -> String {
    format!("arn:{partition}:iam::{account_id}:role/{role_name}")
}

/// The IAM OIDC provider ARN for an EKS cluster's issuer host and path.
pub fn oidc_provider_arn(partition: &str, account_id: &str, oidc_provider: &str) -> String {
    format!("arn:{partition}:iam::{account_id}:oidc-provider/{oidc_provider}")
}

/// The provider id IAM uses for an issuer URL: the URL without `https://`.
pub fn oidc_provider_from_issuer(issuer: &str) -> String {
    let without_scheme = issuer.strip_prefix("https://").unwrap_or(issuer);
    without_scheme.trim_end_matches('/').to_owned()
}

/// What the EMR job execution role must trust: EMR's service accounts in one namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmrTrust<'a> {
    pub partition: &'a str,
    pub account_id: &'a str,
    /// The issuer without `https://`, e.g. `oidc.eks.us-east-1.amazonaws.com/id/ABC`.
    pub oidc_provider: &'a str,
    pub namespace: &'a str,
    pub role_name: &'a str,
}

/// The service accounts EMR creates for a job run with this role, as a `StringLike` pattern:
/// `system:serviceaccount:<ns>:emr-containers-sa-*-*-<account>-<base36(role)>`.
pub fn emr_service_account_pattern(namespace: &str, account_id: &str, role_name: &str) -> String {
    format!(
        "system:serviceaccount:{namespace}:emr-containers-sa-*-*-{account_id}-{}",
        base36(role_name)
    )
}

/// The statement `aws emr-containers update-role-trust-policy` appends, field for field.
pub fn emr_job_role_statement(trust: &EmrTrust<'_>) -> Value {
    json!({
        "Effect": "Allow",
        "Principal": {
            "Federated": oidc_provider_arn(trust.partition, trust.account_id, trust.oidc_provider)
        },
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringLike": {
                format!("{}:sub", trust.oidc_provider):
                    emr_service_account_pattern(trust.namespace, trust.account_id, trust.role_name)
            }
        }
    })
}

/// The statement eksctl writes for a plain IRSA service account (e.g. a job submitter's).
pub fn irsa_statement(
    partition: &str,
    account_id: &str,
    oidc_provider: &str,
    namespace: &str,
    service_account: &str,
) -> Value {
    json!({
        "Effect": "Allow",
        "Principal": {
            "Federated": oidc_provider_arn(partition, account_id, oidc_provider)
        },
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {
                format!("{oidc_provider}:sub"):
                    format!("system:serviceaccount:{namespace}:{service_account}"),
                format!("{oidc_provider}:aud"): "sts.amazonaws.com"
            }
        }
    })
}

/// Whether two statements grant the same thing: a `Sid`, list-versus-string shapes, ordering
/// and the case of action and condition key names are ignored.
pub fn statements_equivalent(a: &Value, b: &Value) -> bool {
    normalize::canonical_statement(a) == normalize::canonical_statement(b)
}

/// Whether `doc` already has a statement equivalent to `statement`.
pub fn contains_statement(doc: &Value, statement: &Value) -> bool {
    statements_of(doc)
        .iter()
        .any(|s| statements_equivalent(s, statement))
}

/// The document with `statement` appended, or `None` when an equivalent statement is already
/// there and nothing needs writing. Other statements keep their content and order. A missing
/// or empty document becomes a new one with `Version` 2012-10-17.
pub fn ensure_statement(doc: &Value, statement: &Value) -> Option<Value> {
    if contains_statement(doc, statement) {
        return None;
    }
    let mut statements = statements_of(doc);
    statements.push(statement.clone());
    let mut fields = fields_of(doc);
    let creating = !fields.contains_key("Statement");
    if creating && !fields.contains_key("Version") {
        fields.insert(
            "Version".to_owned(),
            Value::String(POLICY_VERSION.to_owned()),
        );
    }
    fields.insert("Statement".to_owned(), Value::Array(statements));
    Some(Value::Object(fields))
}

/// The document without any statement equivalent to `statement` (duplicates included), or
/// `None` when there is none. Note that IAM rejects a trust policy left with no statement.
pub fn remove_statement(doc: &Value, statement: &Value) -> Option<Value> {
    let statements = statements_of(doc);
    let before = statements.len();
    let kept: Vec<Value> = statements
        .into_iter()
        .filter(|s| !statements_equivalent(s, statement))
        .collect();
    if kept.len() == before {
        return None;
    }
    let mut fields = fields_of(doc);
    fields.insert("Statement".to_owned(), Value::Array(kept));
    Some(Value::Object(fields))
}

/// IAM accepts `Statement` as a list or as a single statement object. Anything else is kept
/// as an opaque entry rather than dropped: IAM will reject the write, which is better than
/// silently discarding part of someone's policy.
fn statements_of(doc: &Value) -> Vec<Value> {
    match doc.get("Statement") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list.clone(),
        Some(single) => vec![single.clone()],
    }
}

fn fields_of(doc: &Value) -> Map<String, Value> {
    match doc {
        Value::Object(fields) => fields.clone(),
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests;
