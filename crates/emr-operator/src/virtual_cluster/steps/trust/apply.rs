//! Step 3 (and the trust half of step 4): the statements the spec asks for on each IAM role's
//! trust policy, and the removal of statements the operator added that the spec no longer asks
//! for. Every role is tried, so one denied role does not hide the state of the others.

use emr_aws::iam::Iam;
use emr_aws::trust_policy::remove_statement;
use emr_aws::{AwsError, TrustChange};

use super::plan::{self, Family, Statement, TrustTarget};
use crate::virtual_cluster::error::{Error, aws_outcome};
use crate::virtual_cluster::outcome::Outcome;
use crate::virtual_cluster::reconciliation::Reconciliation;
use crate::virtual_cluster::steps::cluster_facts::ClusterFacts;

/// What removing a statement found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    Removed,
    Absent,
    RoleGone,
    /// IAM rejects an empty trust policy, so the role's only statement stays.
    KeptLast,
}

pub async fn converge(
    recon: &mut Reconciliation<'_>,
    facts: &Result<ClusterFacts, Outcome>,
    family: Family,
) -> Outcome {
    let facts = match facts {
        Ok(f) => f,
        Err(o) => return o.clone(),
    };
    let cluster = recon.vc.spec.eks_cluster_name.clone();
    let Some(provider) = facts.oidc_provider.clone() else {
        return Error::NoOidcIssuer { cluster }.outcome();
    };
    let namespace = recon.namespace().to_owned();
    let target = TrustTarget {
        partition: facts.partition,
        account_id: &facts.account_id,
        oidc_provider: &provider,
        namespace: &namespace,
    };
    let mut problems = Vec::new();
    let mut wanted_refs = Vec::new();
    let mut roles = 0;
    for wanted in plan::wanted(&recon.vc.spec, &target, family) {
        let stmt = match wanted {
            Ok(s) => s,
            Err(source) => {
                problems.push(Error::ParseRoleArn { source }.outcome());
                continue;
            }
        };
        wanted_refs.push(stmt.reference.clone());
        roles += 1;
        match recon
            .ctx
            .aws
            .iam
            .ensure_trust_statement(&stmt.role_name, &stmt.document)
            .await
        {
            Ok(TrustChange::Updated) => {
                plan::record(&mut recon.status.managed.trust_statements, &stmt.reference);
                recon.changed("TrustStatementAdded", added_note(&stmt));
            }
            // Found there already: recorded all the same. It may be this object's own statement
            // whose record was lost (a status write that never happened), and the spec asks for
            // it, so the operator answers for it and deletion removes it.
            Ok(TrustChange::Unchanged) => {
                plan::record(&mut recon.status.managed.trust_statements, &stmt.reference);
            }
            Err(e) => problems.push(aws_outcome(&e)),
        }
    }
    let stale = plan::stale(&recon.status.managed.trust_statements, &wanted_refs, family);
    for reference in stale {
        match remove_recorded(recon, &reference).await {
            Ok(()) => {}
            Err(e) => problems.push(e.outcome()),
        }
    }
    match problems.into_iter().next() {
        Some(first) => first,
        None => Outcome::ready(
            "TrustPoliciesReady",
            match family {
                Family::ExecutionRoles => format!(
                    "{roles} execution role(s) trust EMR's service accounts in namespace {namespace}"
                ),
                Family::ServiceAccounts => {
                    format!(
                        "{roles} role(s) trust their IRSA service accounts in namespace {namespace}"
                    )
                }
            },
        ),
    }
}

fn added_note(stmt: &Statement) -> String {
    match &stmt.reference.service_account {
        None => format!(
            "added EMR's job service accounts in namespace {} to the trust policy of {}",
            stmt.reference.namespace.as_deref().unwrap_or_default(),
            stmt.reference.role_arn
        ),
        Some(sa) => format!(
            "added service account {}/{sa} to the trust policy of {}",
            stmt.reference.namespace.as_deref().unwrap_or_default(),
            stmt.reference.role_arn
        ),
    }
}

/// Removes a statement the operator recorded and forgets it once it is gone from IAM.
pub async fn remove_recorded(
    recon: &mut Reconciliation<'_>,
    reference: &emr_api::virtual_cluster::TrustStatementRef,
) -> Result<(), Error> {
    let stmt = plan::statement(reference, recon.ctx.aws.partition())
        .map_err(|source| Error::ParseRoleArn { source })?;
    let removal =
        remove(&recon.ctx.aws.iam, &stmt)
            .await
            .map_err(|source| Error::RemoveTrustStatement {
                role_arn: reference.role_arn.clone(),
                namespace: reference.namespace.clone().unwrap_or_default(),
                source,
            })?;
    match removal {
        Removal::Removed => recon.changed(
            "TrustStatementRemoved",
            format!("removed the operator's statement from the trust policy of {}", reference.role_arn),
        ),
        Removal::KeptLast => recon.changed(
            "TrustStatementKept",
            format!(
                "left the operator's statement in the trust policy of {}: it is the only one, and IAM rejects an empty trust policy",
                reference.role_arn
            ),
        ),
        Removal::Absent | Removal::RoleGone => {}
    }
    plan::forget(&mut recon.status.managed.trust_statements, reference);
    Ok(())
}

async fn remove(iam: &Iam, stmt: &Statement) -> Result<Removal, AwsError> {
    let role = match iam.get_role(&stmt.role_name).await {
        Ok(role) => role,
        Err(e) if e.is_not_found() => return Ok(Removal::RoleGone),
        Err(e) => return Err(e),
    };
    match remove_statement(&role.trust_policy, &stmt.document) {
        None => Ok(Removal::Absent),
        Some(updated) if plan::would_empty_the_policy(&updated) => Ok(Removal::KeptLast),
        Some(updated) => match iam
            .update_assume_role_policy(&stmt.role_name, &updated)
            .await
        {
            Ok(()) => Ok(Removal::Removed),
            Err(e) if e.is_not_found() => Ok(Removal::RoleGone),
            Err(e) => Err(e),
        },
    }
}
