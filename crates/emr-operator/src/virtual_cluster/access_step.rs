//! Step 2: EMR's access to the namespace: the `emr-containers` Role and RoleBinding, and (for
//! clusters that authenticate through aws-auth) the mapRoles entry for EMR's service-linked role.

use emr_api::VirtualCluster;
use emr_api::virtual_cluster::EmrAccessMode;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use super::aws_auth;
use super::aws_auth_io::{self, Ensured};
use super::cluster::ClusterFacts;
use super::desired;
use super::error::Error;
use super::names::{EMR_ROLE, EMR_USER};
use super::namespace_step::converge_child;
use super::outcome::Outcome;
use super::pass::Pass;

pub async fn converge(pass: &mut Pass<'_>, facts: &Result<ClusterFacts, Outcome>) -> Outcome {
    if let Err(e) = role_and_binding(pass).await {
        return e.outcome();
    }
    match pass.vc.spec.emr_access.mode {
        EmrAccessMode::AccessEntry => match release_on_mode_switch(pass, facts).await {
            Ok(()) => Outcome::ready(
                "EmrAccessReady",
                format!(
                    "Role and RoleBinding {EMR_ROLE} in namespace {}; the cluster uses access entries, which EMR creates itself",
                    pass.namespace()
                ),
            ),
            Err(e) => e.outcome(),
        },
        EmrAccessMode::AwsAuthConfigMap => {
            let facts = match facts {
                Ok(f) => f,
                Err(o) => return o.clone(),
            };
            match entry(pass, facts).await {
                Ok(outcome) => outcome,
                Err(e) => e.outcome(),
            }
        }
    }
}

async fn role_and_binding(pass: &mut Pass<'_>) -> Result<(), Error> {
    let ns = pass.namespace().to_owned();
    let role = desired::emr_role(&pass.owner, &ns);
    converge_child::<Role>(pass, "Role", EMR_ROLE, Some(role)).await?;
    let binding = desired::emr_role_binding(&pass.owner, &ns);
    converge_child::<RoleBinding>(pass, "RoleBinding", EMR_ROLE, Some(binding)).await?;
    Ok(())
}

async fn entry(pass: &mut Pass<'_>, facts: &ClusterFacts) -> Result<Outcome, Error> {
    let role_arn = aws_auth::emr_role_arn(facts.partition, &facts.account_id);
    let ready = |ns: &str| {
        Outcome::ready(
            "EmrAccessReady",
            format!(
                "Role and RoleBinding {EMR_ROLE} in namespace {ns}; kube-system/aws-auth maps {role_arn} to {EMR_USER}"
            ),
        )
    };
    match aws_auth_io::ensure(pass.client(), &role_arn).await? {
        Ensured::Added => {
            pass.status.managed.aws_auth_entry_added = true;
            pass.changed(
                "AwsAuthEntryAdded",
                format!("added {role_arn} -> {EMR_USER} to mapRoles in kube-system/aws-auth"),
            );
        }
        Ensured::Present { by_operator } => {
            pass.status.managed.aws_auth_entry_added |= by_operator;
        }
        Ensured::MappedElsewhere { username } => {
            return Ok(Outcome::failed(
                "AwsAuthEntryConflict",
                format!(
                    "kube-system/aws-auth maps {role_arn} to user {username:?}, but EMR acts as {EMR_USER}; the operator does not change an entry it did not make: fix it by hand"
                ),
            ));
        }
    }
    Ok(ready(pass.namespace()))
}

/// A VirtualCluster switched to access entries gives back the aws-auth entry it added, as
/// deletion would.
async fn release_on_mode_switch(
    pass: &mut Pass<'_>,
    facts: &Result<ClusterFacts, Outcome>,
) -> Result<(), Error> {
    if !pass.status.managed.aws_auth_entry_added {
        return Ok(());
    }
    let Ok(facts) = facts else {
        // Without the account the entry cannot be named; try again on the next pass.
        return Ok(());
    };
    release(pass, facts).await
}

/// Removes EMR's aws-auth entry if the operator added it and no other VirtualCluster still
/// relies on it (the entry is cluster-wide, one for every namespace).
pub async fn release(pass: &mut Pass<'_>, facts: &ClusterFacts) -> Result<(), Error> {
    let role_arn = aws_auth::emr_role_arn(facts.partition, &facts.account_id);
    // The flag mirrors aws-auth's "added by the operator" mark as of the last reconcile, and
    // is cleared once this object has given the entry up, so a retried deletion stays quiet.
    if !pass.status.managed.aws_auth_entry_added {
        return Ok(());
    }
    if let Some(other) = other_user(pass).await? {
        pass.status.managed.aws_auth_entry_added = false;
        pass.changed(
            "AwsAuthEntryKept",
            format!("kept {role_arn} -> {EMR_USER} in kube-system/aws-auth: VirtualCluster {other} still needs it"),
        );
        return Ok(());
    }
    if aws_auth_io::remove(pass.client(), &role_arn).await? {
        pass.changed(
            "AwsAuthEntryRemoved",
            format!("removed {role_arn} -> {EMR_USER} from mapRoles in kube-system/aws-auth"),
        );
    }
    pass.status.managed.aws_auth_entry_added = false;
    Ok(())
}

/// Another VirtualCluster (not being deleted) that uses the aws-auth entry, if any.
async fn other_user(pass: &Pass<'_>) -> Result<Option<String>, Error> {
    let api: Api<VirtualCluster> = Api::all(pass.client());
    let all = api
        .list(&ListParams::default())
        .await
        .map_err(|source| Error::ListVirtualClusters { source })?;
    Ok(all
        .items
        .into_iter()
        .find(|vc| {
            vc.name_any() != pass.owner.name
                && vc.metadata.deletion_timestamp.is_none()
                && vc.spec.emr_access.mode == EmrAccessMode::AwsAuthConfigMap
        })
        .map(|vc| vc.name_any()))
}
