//! Which trust-policy statements a VirtualCluster wants on which IAM roles, and which ones it
//! added earlier and must take away again. Pure: the statements themselves come from
//! `emr_aws::trust_policy`, exactly as `update-role-trust-policy` and eksctl build them.

use emr_api::VirtualClusterSpec;
use emr_api::virtual_cluster::TrustStatementRef;
use emr_aws::trust_policy::{
    EmrTrust, RoleArnError, emr_job_role_statement, irsa_statement, role_name_from_arn,
};
use serde_json::Value;

/// Where the statements point: the cluster's OIDC provider and the tenant namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustTarget<'a> {
    pub partition: &'a str,
    pub account_id: &'a str,
    pub oidc_provider: &'a str,
    pub namespace: &'a str,
}

/// The two families of statements, each converged by its own step and condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// EMR's job service accounts (`emr-containers-sa-*`), for `spec.executionRoles`.
    ExecutionRoles,
    /// One plain IRSA service account each, for `spec.serviceAccounts`.
    ServiceAccounts,
}

impl Family {
    pub fn of(reference: &TrustStatementRef) -> Self {
        if reference.service_account.is_some() {
            Family::ServiceAccounts
        } else {
            Family::ExecutionRoles
        }
    }
}

/// One statement to have on one role.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub reference: TrustStatementRef,
    pub role_name: String,
    pub document: Value,
}

/// The statements the spec asks for in one family, in spec order; a role ARN that names no
/// role is reported rather than skipped silently.
pub fn wanted(
    spec: &VirtualClusterSpec,
    target: &TrustTarget<'_>,
    family: Family,
) -> Vec<Result<Statement, RoleArnError>> {
    let refs: Vec<TrustStatementRef> = match family {
        Family::ExecutionRoles => spec
            .execution_roles
            .iter()
            .filter(|r| r.manage_trust_policy)
            .map(|r| reference(&r.arn, None, target))
            .collect(),
        Family::ServiceAccounts => spec
            .service_accounts
            .iter()
            .filter(|sa| sa.manage_trust_policy)
            .map(|sa| reference(&sa.role_arn, Some(&sa.name), target))
            .collect(),
    };
    refs.into_iter()
        .map(|r| statement(&r, target.partition))
        .collect()
}

fn reference(
    role_arn: &str,
    service_account: Option<&str>,
    target: &TrustTarget<'_>,
) -> TrustStatementRef {
    TrustStatementRef {
        role_arn: role_arn.to_owned(),
        service_account: service_account.map(str::to_owned),
        namespace: Some(target.namespace.to_owned()),
        account_id: Some(target.account_id.to_owned()),
        oidc_provider: Some(target.oidc_provider.to_owned()),
    }
}

/// The statement a recorded reference stands for, so it can be removed exactly as it was added
/// even after the spec (or the resolved account or provider) moved on.
pub fn statement(
    reference: &TrustStatementRef,
    partition: &str,
) -> Result<Statement, RoleArnError> {
    let role_name = role_name_from_arn(&reference.role_arn)?;
    let namespace = reference.namespace.as_deref().unwrap_or_default();
    let account_id = reference.account_id.as_deref().unwrap_or_default();
    let oidc_provider = reference.oidc_provider.as_deref().unwrap_or_default();
    let document = match &reference.service_account {
        None => emr_job_role_statement(&EmrTrust {
            partition,
            account_id,
            oidc_provider,
            namespace,
            role_name: &role_name,
        }),
        Some(sa) => irsa_statement(partition, account_id, oidc_provider, namespace, sa),
    };
    Ok(Statement {
        reference: reference.clone(),
        role_name,
        document,
    })
}

/// Recorded statements of `family` that the spec no longer asks for.
pub fn stale(
    recorded: &[TrustStatementRef],
    wanted: &[TrustStatementRef],
    family: Family,
) -> Vec<TrustStatementRef> {
    recorded
        .iter()
        .filter(|r| Family::of(r) == family && !wanted.contains(r))
        .cloned()
        .collect()
}

/// Adds `reference` to the recorded list, keeping it sorted and free of duplicates so the
/// status does not churn.
pub fn record(recorded: &mut Vec<TrustStatementRef>, reference: &TrustStatementRef) {
    if let Err(at) = recorded.binary_search(reference) {
        recorded.insert(at, reference.clone());
    }
}

pub fn forget(recorded: &mut Vec<TrustStatementRef>, reference: &TrustStatementRef) {
    recorded.retain(|r| r != reference);
}

/// A statement IAM must keep: a trust policy cannot be empty, so the last statement stays.
pub fn would_empty_the_policy(updated: &Value) -> bool {
    match updated.get("Statement") {
        Some(Value::Array(list)) => list.is_empty(),
        None | Some(Value::Null) => true,
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    const PROVIDER: &str = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE0123";

    fn target() -> TrustTarget<'static> {
        TrustTarget {
            partition: "aws",
            account_id: "123456789012",
            oidc_provider: PROVIDER,
            namespace: "spark",
        }
    }

    fn spec() -> VirtualClusterSpec {
        serde_saphyr::from_str(
            r#"
eksClusterName: prod
namespace: {name: spark}
executionRoles:
  - arn: arn:aws:iam::123456789012:role/emr-job-role
  - arn: arn:aws:iam::123456789012:role/unmanaged
    manageTrustPolicy: false
serviceAccounts:
  - name: submitter
    roleArn: arn:aws:iam::123456789012:role/jobs/cli-role
"#,
        )
        .unwrap()
    }

    fn ok(results: Vec<Result<Statement, RoleArnError>>) -> Vec<Statement> {
        results.into_iter().map(Result::unwrap).collect()
    }

    #[test]
    fn execution_role_statement_is_the_cli_statement() {
        let wanted = ok(wanted(&spec(), &target(), Family::ExecutionRoles));
        assert_eq!(wanted.len(), 1, "manageTrustPolicy: false is skipped");
        assert_eq!(wanted[0].role_name, "emr-job-role");
        assert_eq!(
            wanted[0].document,
            json!({
                "Effect": "Allow",
                "Principal": {"Federated": format!("arn:aws:iam::123456789012:oidc-provider/{PROVIDER}")},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringLike": {
                    format!("{PROVIDER}:sub"):
                        "system:serviceaccount:spark:emr-containers-sa-*-*-123456789012-31k61zpmb7mlsiqq1k5"
                }}
            })
        );
        assert_eq!(wanted[0].reference.service_account, None);
        assert_eq!(wanted[0].reference.namespace.as_deref(), Some("spark"));
    }

    #[test]
    fn service_account_statement_names_exactly_that_account() {
        let wanted = ok(wanted(&spec(), &target(), Family::ServiceAccounts));
        assert_eq!(wanted.len(), 1);
        assert_eq!(
            wanted[0].role_name, "cli-role",
            "the path is not part of the name"
        );
        assert_eq!(
            wanted[0].document["Condition"],
            json!({"StringEquals": {
                format!("{PROVIDER}:sub"): "system:serviceaccount:spark:submitter",
                format!("{PROVIDER}:aud"): "sts.amazonaws.com"
            }})
        );
    }

    #[test]
    fn a_bad_arn_is_reported() {
        let mut spec = spec();
        spec.execution_roles[0].arn = "arn:aws:iam::123456789012:user/bob".into();
        let results = wanted(&spec, &target(), Family::ExecutionRoles);
        assert!(matches!(results[0], Err(RoleArnError::NotARole { .. })));
    }

    #[test]
    fn recorded_statements_rebuild_from_their_own_fields() {
        let wanted = ok(wanted(&spec(), &target(), Family::ExecutionRoles));
        // The spec now points elsewhere; the recorded statement is still the one that was added.
        let moved = TrustTarget {
            namespace: "other",
            ..target()
        };
        let now = ok(super::wanted(&spec(), &moved, Family::ExecutionRoles));
        assert_ne!(now[0].document, wanted[0].document);
        let rebuilt = statement(&wanted[0].reference, "aws").unwrap();
        assert_eq!(rebuilt.document, wanted[0].document);
    }

    #[test]
    fn stale_is_per_family_and_by_full_identity() {
        let exec = ok(wanted(&spec(), &target(), Family::ExecutionRoles));
        let irsa = ok(wanted(&spec(), &target(), Family::ServiceAccounts));
        let mut recorded = Vec::new();
        for s in exec.iter().chain(&irsa) {
            record(&mut recorded, &s.reference);
            record(&mut recorded, &s.reference);
        }
        assert_eq!(recorded.len(), 2);
        let wanted_exec: Vec<_> = exec.iter().map(|s| s.reference.clone()).collect();
        assert!(stale(&recorded, &wanted_exec, Family::ExecutionRoles).is_empty());
        assert!(stale(&recorded, &[], Family::ExecutionRoles) == vec![exec[0].reference.clone()]);
        assert!(stale(&recorded, &[], Family::ServiceAccounts) == vec![irsa[0].reference.clone()]);
        let moved = TrustTarget {
            account_id: "999999999999",
            ..target()
        };
        let now: Vec<_> = ok(super::wanted(&spec(), &moved, Family::ExecutionRoles))
            .into_iter()
            .map(|s| s.reference)
            .collect();
        assert_eq!(stale(&recorded, &now, Family::ExecutionRoles).len(), 1);
        forget(&mut recorded, &exec[0].reference);
        assert_eq!(recorded, vec![irsa[0].reference.clone()]);
    }

    #[test]
    fn empty_policies_are_recognized() {
        assert!(would_empty_the_policy(
            &json!({"Version": "2012-10-17", "Statement": []})
        ));
        assert!(!would_empty_the_policy(&json!({"Statement": [{}]})));
        assert!(!would_empty_the_policy(&json!({"Statement": {}})));
    }
}
