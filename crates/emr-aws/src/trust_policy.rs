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
mod tests {
    use super::*;

    const PROVIDER: &str = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE0123";

    fn emr_trust() -> EmrTrust<'static> {
        EmrTrust {
            partition: "aws",
            account_id: "123456789012",
            oidc_provider: PROVIDER,
            namespace: "spark",
            role_name: "emr-job-role",
        }
    }

    fn ec2_statement() -> Value {
        json!({
            "Sid": "Ec2",
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole"
        })
    }

    #[test]
    fn partitions() {
        assert_eq!(partition_for_region("us-east-1"), "aws");
        assert_eq!(partition_for_region("cn-north-1"), "aws-cn");
        assert_eq!(partition_for_region("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_for_region("eu-central-1"), "aws");
    }

    #[test]
    fn role_names_from_arns() {
        assert_eq!(
            role_name_from_arn("arn:aws:iam::123:role/Name"),
            Ok("Name".to_owned())
        );
        assert_eq!(
            role_name_from_arn("arn:aws:iam::123:role/path/to/Name"),
            Ok("Name".to_owned())
        );
        assert_eq!(
            role_name_from_arn("arn:aws-cn:iam::123:role/x"),
            Ok("x".to_owned())
        );
        assert!(matches!(
            role_name_from_arn("Name"),
            Err(RoleArnError::NotAnArn { .. })
        ));
        for bad in [
            "arn:aws:iam::123:user/Name",
            "arn:aws:iam::123:role/",
            "arn:aws:iam::123:role/path/",
            "arn:aws:s3:::role/x",
        ] {
            assert!(
                matches!(role_name_from_arn(bad), Err(RoleArnError::NotARole { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn arns_and_providers() {
        assert_eq!(role_arn("aws", "123", "r"), "arn:aws:iam::123:role/r");
        assert_eq!(
            oidc_provider_from_issuer("https://oidc.eks.us-east-1.amazonaws.com/id/ABC"),
            "oidc.eks.us-east-1.amazonaws.com/id/ABC"
        );
        assert_eq!(
            oidc_provider_arn("aws-cn", "1", "p/id/X"),
            "arn:aws-cn:iam::1:oidc-provider/p/id/X"
        );
    }

    #[test]
    fn emr_statement_matches_the_aws_cli() {
        let expected = json!({
            "Effect": "Allow",
            "Principal": {
                "Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE0123"
            },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringLike": {
                    "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE0123:sub":
                        "system:serviceaccount:spark:emr-containers-sa-*-*-123456789012-31k61zpmb7mlsiqq1k5"
                }
            }
        });
        assert_eq!(emr_job_role_statement(&emr_trust()), expected);
    }

    #[test]
    fn irsa_statement_matches_eksctl() {
        let expected = json!({
            "Effect": "Allow",
            "Principal": {
                "Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE0123"
            },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE0123:sub": "system:serviceaccount:spark:submitter",
                    "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE0123:aud": "sts.amazonaws.com"
                }
            }
        });
        assert_eq!(
            irsa_statement("aws", "123456789012", PROVIDER, "spark", "submitter"),
            expected
        );
    }

    #[test]
    fn ensure_appends_once_and_keeps_others_in_order() {
        let stmt = emr_job_role_statement(&emr_trust());
        let doc = json!({"Version": "2012-10-17", "Statement": [ec2_statement()]});
        let updated = ensure_statement(&doc, &stmt).expect("appended");
        assert_eq!(
            updated,
            json!({"Version": "2012-10-17", "Statement": [ec2_statement(), stmt.clone()]})
        );
        assert_eq!(ensure_statement(&updated, &stmt), None);
    }

    #[test]
    fn equivalent_existing_statements_are_recognized() {
        let stmt = emr_job_role_statement(&emr_trust());
        let mut with_sid = stmt.clone();
        with_sid["Sid"] = json!("EmrJobs");
        with_sid["Action"] = json!(["sts:AssumeRoleWithWebIdentity"]);
        let federated = with_sid["Principal"]["Federated"].clone();
        with_sid["Principal"]["Federated"] = json!([federated]);
        let doc = json!({"Version": "2012-10-17", "Statement": [ec2_statement(), with_sid]});
        assert!(contains_statement(&doc, &stmt));
        assert_eq!(ensure_statement(&doc, &stmt), None);
    }

    #[test]
    fn a_statement_for_another_namespace_is_not_equivalent() {
        let stmt = emr_job_role_statement(&emr_trust());
        let other = emr_job_role_statement(&EmrTrust {
            namespace: "other",
            ..emr_trust()
        });
        let doc = ensure_statement(&Value::Null, &other).expect("created");
        let updated = ensure_statement(&doc, &stmt).expect("appended");
        assert_eq!(updated["Statement"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn single_object_statement_is_handled() {
        let stmt = emr_job_role_statement(&emr_trust());
        let doc = json!({"Version": "2012-10-17", "Statement": ec2_statement()});
        let updated = ensure_statement(&doc, &stmt).expect("appended");
        assert_eq!(updated["Statement"], json!([ec2_statement(), stmt.clone()]));

        let doc = json!({"Version": "2012-10-17", "Statement": stmt.clone()});
        assert_eq!(ensure_statement(&doc, &stmt), None);
        assert_eq!(
            remove_statement(&doc, &stmt),
            Some(json!({"Version": "2012-10-17", "Statement": []}))
        );
    }

    #[test]
    fn creating_a_document_sets_the_version() {
        let stmt = emr_job_role_statement(&emr_trust());
        let expected = json!({"Version": "2012-10-17", "Statement": [stmt.clone()]});
        assert_eq!(
            ensure_statement(&Value::Null, &stmt),
            Some(expected.clone())
        );
        assert_eq!(ensure_statement(&json!({}), &stmt), Some(expected));
        // An existing document keeps whatever Version it had, even none.
        let doc = json!({"Statement": []});
        assert_eq!(
            ensure_statement(&doc, &stmt),
            Some(json!({"Statement": [stmt.clone()]}))
        );
    }

    #[test]
    fn remove_drops_every_equivalent_copy_and_nothing_else() {
        let stmt = emr_job_role_statement(&emr_trust());
        let mut copy = stmt.clone();
        copy["Sid"] = json!("dup");
        let doc = json!({
            "Version": "2012-10-17",
            "Statement": [stmt.clone(), ec2_statement(), copy]
        });
        assert_eq!(
            remove_statement(&doc, &stmt),
            Some(json!({"Version": "2012-10-17", "Statement": [ec2_statement()]}))
        );
        let without = json!({"Version": "2012-10-17", "Statement": [ec2_statement()]});
        assert_eq!(remove_statement(&without, &stmt), None);
        assert_eq!(remove_statement(&Value::Null, &stmt), None);
    }

    #[test]
    fn unexpected_statement_shapes_are_kept_not_dropped() {
        let stmt = emr_job_role_statement(&emr_trust());
        let doc = json!({"Version": "2012-10-17", "Statement": "garbage"});
        let updated = ensure_statement(&doc, &stmt).expect("appended");
        assert_eq!(updated["Statement"], json!(["garbage", stmt]));
    }

    /// A tiny deterministic generator, so the property tests need no extra dependency and
    /// always explore the same cases.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// A statement equivalent to `stmt`, reshaped the ways people and tools write it.
    fn reshaped(stmt: &Value, rng: &mut Rng) -> Value {
        let mut out = stmt.clone();
        if rng.below(2) == 0 {
            out["Sid"] = json!(format!("S{}", rng.below(100)));
        }
        if rng.below(2) == 0 {
            let action = out["Action"].clone();
            out["Action"] = json!([action]);
        }
        if let Some(federated) = out["Principal"].get("Federated").cloned()
            && rng.below(2) == 0
        {
            out["Principal"]["Federated"] = json!([federated]);
        }
        out
    }

    fn random_policy(rng: &mut Rng, pool: &[Value]) -> Value {
        let count = rng.below(5);
        let statements: Vec<Value> = (0..count)
            .map(|_| {
                let base = &pool[rng.below(pool.len())];
                reshaped(base, rng)
            })
            .collect();
        match rng.below(4) {
            0 if statements.len() == 1 => {
                json!({"Version": "2012-10-17", "Statement": statements[0].clone()})
            }
            1 if statements.is_empty() => Value::Null,
            _ => json!({"Version": "2012-10-17", "Statement": statements}),
        }
    }

    fn pool() -> Vec<Value> {
        let trust = emr_trust();
        vec![
            ec2_statement(),
            emr_job_role_statement(&trust),
            emr_job_role_statement(&EmrTrust {
                namespace: "other",
                ..trust
            }),
            emr_job_role_statement(&EmrTrust {
                role_name: "cli-role",
                ..trust
            }),
            irsa_statement("aws", "123456789012", PROVIDER, "spark", "submitter"),
        ]
    }

    fn statement_count(doc: &Value) -> usize {
        statements_of(doc).len()
    }

    #[test]
    fn property_ensure_is_idempotent_and_grows_by_at_most_one() {
        let pool = pool();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..2000 {
            let doc = random_policy(&mut rng, &pool);
            let stmt = reshaped(&pool[rng.below(pool.len())], &mut rng);
            let once = ensure_statement(&doc, &stmt).unwrap_or_else(|| doc.clone());
            assert!(contains_statement(&once, &stmt));
            assert_eq!(
                ensure_statement(&once, &stmt),
                None,
                "ensure twice wrote again"
            );
            let growth = statement_count(&once) - statement_count(&doc);
            assert_eq!(growth, usize::from(!contains_statement(&doc, &stmt)));
            // Every pre-existing statement survives, in order, as a prefix.
            assert_eq!(
                statements_of(&once)[..statement_count(&doc)],
                statements_of(&doc)[..]
            );
        }
    }

    #[test]
    fn property_ensure_then_remove_restores_the_original() {
        let pool = pool();
        let mut rng = Rng(0x0123_4567_89AB_CDEF);
        for _ in 0..2000 {
            let doc = random_policy(&mut rng, &pool);
            let stmt = reshaped(&pool[rng.below(pool.len())], &mut rng);
            if contains_statement(&doc, &stmt) {
                let removed = remove_statement(&doc, &stmt).expect("present, so removed");
                assert!(!contains_statement(&removed, &stmt));
                let others: Vec<Value> = statements_of(&doc)
                    .into_iter()
                    .filter(|s| !statements_equivalent(s, &stmt))
                    .collect();
                assert_eq!(statements_of(&removed), others);
                continue;
            }
            let added = ensure_statement(&doc, &stmt).expect("absent, so added");
            let restored = remove_statement(&added, &stmt).expect("just added");
            assert_eq!(statements_of(&restored), statements_of(&doc));
            if let Some(version) = doc.get("Version") {
                assert_eq!(restored.get("Version"), Some(version));
            }
        }
    }

    #[test]
    fn property_equivalence_is_symmetric_and_reflexive() {
        let pool = pool();
        let mut rng = Rng(42);
        for _ in 0..500 {
            let a = reshaped(&pool[rng.below(pool.len())], &mut rng);
            let b = reshaped(&pool[rng.below(pool.len())], &mut rng);
            assert!(statements_equivalent(&a, &a));
            assert_eq!(statements_equivalent(&a, &b), statements_equivalent(&b, &a));
        }
    }
}
