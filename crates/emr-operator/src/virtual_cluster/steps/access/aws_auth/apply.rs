//! EMR's entry in `kube-system/aws-auth`, effects: the ConfigMap read and written, the entry
//! ensured while the spec asks for aws-auth, and given back (when no other VirtualCluster relies
//! on it) on deletion or a switch to access entries. Every write carries the resourceVersion it
//! was computed from (optimistic concurrency): eksctl, Terraform and people edit this ConfigMap
//! too, and a lost update here can lock nodes or users out of the cluster.

use std::collections::BTreeMap;

use emr_api::VirtualCluster;
use emr_api::virtual_cluster::EmrAccessMode;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{Api, ListParams, PostParams};

use super::plan::{self, EnsurePlan};
use crate::kit::FIELD_MANAGER;
use crate::virtual_cluster::error::Error;
use crate::virtual_cluster::names::{
    AWS_AUTH_ENTRY_ADDED_ANNOTATION, AWS_AUTH_MAP_ROLES, AWS_AUTH_NAME, AWS_AUTH_NAMESPACE,
    EMR_ROLE, EMR_USER,
};
use crate::virtual_cluster::outcome::Outcome;
use crate::virtual_cluster::reconciliation::Reconciliation;
use crate::virtual_cluster::steps::cluster_facts::ClusterFacts;

/// What ensuring EMR's entry found or did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ensured {
    /// The operator added the entry just now.
    Added,
    /// The entry is there; `by_operator` when the operator added it at some point.
    Present { by_operator: bool },
    /// The role is mapped to another user; nothing was changed.
    MappedElsewhere { username: String },
    /// The cluster has no aws-auth; nothing was changed.
    Missing,
}

fn api(client: kube::Client) -> Api<ConfigMap> {
    Api::namespaced(client, AWS_AUTH_NAMESPACE)
}

fn post_params() -> PostParams {
    PostParams {
        dry_run: false,
        field_manager: Some(FIELD_MANAGER.to_owned()),
    }
}

fn added_by_operator(cm: &ConfigMap) -> bool {
    cm.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(AWS_AUTH_ENTRY_ADDED_ANNOTATION))
        .map(String::as_str)
        == Some("true")
}

fn map_roles(cm: &ConfigMap) -> Option<&str> {
    cm.data
        .as_ref()
        .and_then(|d| d.get(AWS_AUTH_MAP_ROLES))
        .map(String::as_str)
}

/// Makes aws-auth map `role_arn` to `emr-containers`. A cluster without aws-auth (nodes and
/// users join through access entries) is reported, not given one: creating it would take the
/// right to create any ConfigMap in kube-system, which RBAC cannot limit to one name.
pub async fn ensure(client: kube::Client, role_arn: &str) -> Result<Ensured, Error> {
    let api = api(client);
    let current = api
        .get_opt(AWS_AUTH_NAME)
        .await
        .map_err(|source| Error::GetAwsAuth { source })?;
    let Some(mut cm) = current else {
        return Ok(Ensured::Missing);
    };
    match plan::plan_ensure(map_roles(&cm), role_arn)? {
        EnsurePlan::Present => Ok(Ensured::Present {
            by_operator: added_by_operator(&cm),
        }),
        EnsurePlan::MappedElsewhere { username } => Ok(Ensured::MappedElsewhere { username }),
        EnsurePlan::Add(text) => {
            cm.data
                .get_or_insert_with(BTreeMap::new)
                .insert(AWS_AUTH_MAP_ROLES.to_owned(), text);
            cm.metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(
                    AWS_AUTH_ENTRY_ADDED_ANNOTATION.to_owned(),
                    "true".to_owned(),
                );
            // `cm` carries the resourceVersion it was read at: a concurrent edit makes this a 409.
            api.replace(AWS_AUTH_NAME, &post_params(), &cm)
                .await
                .map_err(|source| Error::UpdateAwsAuth { source })?;
            Ok(Ensured::Added)
        }
    }
}

/// Removes EMR's entry and the operator's mark; `true` when something was written. The
/// ConfigMap itself stays, even if the operator created it: others may have added to it since.
pub async fn remove(client: kube::Client, role_arn: &str) -> Result<bool, Error> {
    let api = api(client);
    let Some(mut cm) = api
        .get_opt(AWS_AUTH_NAME)
        .await
        .map_err(|source| Error::GetAwsAuth { source })?
    else {
        return Ok(false);
    };
    let removed = plan::plan_remove(map_roles(&cm), role_arn)?;
    let marked = added_by_operator(&cm);
    if removed.is_none() && !marked {
        return Ok(false);
    }
    if let Some(text) = &removed {
        cm.data
            .get_or_insert_with(BTreeMap::new)
            .insert(AWS_AUTH_MAP_ROLES.to_owned(), text.clone());
    }
    if let Some(annotations) = cm.metadata.annotations.as_mut() {
        annotations.remove(AWS_AUTH_ENTRY_ADDED_ANNOTATION);
    }
    api.replace(AWS_AUTH_NAME, &post_params(), &cm)
        .await
        .map_err(|source| Error::UpdateAwsAuth { source })?;
    Ok(removed.is_some())
}

pub async fn entry(recon: &mut Reconciliation<'_>, facts: &ClusterFacts) -> Result<Outcome, Error> {
    let role_arn = plan::emr_role_arn(facts.partition, &facts.account_id);
    let cluster_role = recon.ctx.config.emr_containers_cluster_role.clone();
    let ready = |ns: &str| {
        Outcome::ready(
            "EmrAccessReady",
            format!(
                "RoleBinding {EMR_ROLE} to ClusterRole {cluster_role} in namespace {ns}; kube-system/aws-auth maps {role_arn} to {EMR_USER}"
            ),
        )
    };
    if !recon.ctx.config.aws_auth {
        return Ok(Outcome::failed(
            "AwsAuthDisabled",
            "the operator runs without rights on kube-system/aws-auth (--aws-auth=false, the chart's rbac.awsAuthConfigMap: false): set spec.emrAccess.mode to AccessEntry, or let the operator maintain aws-auth",
        ));
    }
    match ensure(recon.client(), &role_arn).await? {
        Ensured::Added => {
            recon.status.managed.aws_auth_entry_added = true;
            recon.changed(
                "AwsAuthEntryAdded",
                format!("added {role_arn} -> {EMR_USER} to mapRoles in kube-system/aws-auth"),
            );
        }
        Ensured::Present { by_operator } => {
            recon.status.managed.aws_auth_entry_added |= by_operator;
        }
        Ensured::Missing => {
            return Ok(Outcome::failed(
                "AwsAuthMissing",
                "kube-system/aws-auth does not exist, so the cluster authenticates through access entries: set spec.emrAccess.mode to AccessEntry (EMR then creates its own access entry), or create aws-auth; the operator does not create it (that would take the right to create any ConfigMap in kube-system)",
            ));
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
    Ok(ready(recon.namespace()))
}

/// A VirtualCluster switched to access entries gives back the aws-auth entry it added, as
/// deletion would.
pub async fn release_on_mode_switch(
    recon: &mut Reconciliation<'_>,
    facts: &Result<ClusterFacts, Outcome>,
) -> Result<(), Error> {
    if !recon.status.managed.aws_auth_entry_added {
        return Ok(());
    }
    let Ok(facts) = facts else {
        // Without the account the entry cannot be named; try again on the next pass.
        return Ok(());
    };
    release(recon, facts).await
}

/// Removes EMR's aws-auth entry if the operator added it and no other VirtualCluster still
/// relies on it (the entry is cluster-wide, one for every namespace).
pub async fn release(recon: &mut Reconciliation<'_>, facts: &ClusterFacts) -> Result<(), Error> {
    let role_arn = plan::emr_role_arn(facts.partition, &facts.account_id);
    // The flag mirrors aws-auth's "added by the operator" mark as of the last reconcile, and
    // is cleared once this object has given the entry up, so a retried deletion stays quiet.
    if !recon.status.managed.aws_auth_entry_added {
        return Ok(());
    }
    if let Some(other) = other_user(recon).await? {
        recon.status.managed.aws_auth_entry_added = false;
        recon.changed(
            "AwsAuthEntryKept",
            format!("kept {role_arn} -> {EMR_USER} in kube-system/aws-auth: VirtualCluster {other} still needs it"),
        );
        return Ok(());
    }
    if remove(recon.client(), &role_arn).await? {
        recon.changed(
            "AwsAuthEntryRemoved",
            format!("removed {role_arn} -> {EMR_USER} from mapRoles in kube-system/aws-auth"),
        );
    }
    recon.status.managed.aws_auth_entry_added = false;
    Ok(())
}

/// Another VirtualCluster (not being deleted) that uses the aws-auth entry, if any.
async fn other_user(recon: &Reconciliation<'_>) -> Result<Option<String>, Error> {
    let api: Api<VirtualCluster> = Api::all(recon.client());
    let all = api
        .list(&ListParams::default())
        .await
        .map_err(|source| Error::ListVirtualClusters { source })?;
    Ok(all
        .items
        .into_iter()
        .find(|vc| {
            vc.name_any() != recon.owner.name
                && vc.metadata.deletion_timestamp.is_none()
                && vc.spec.emr_access.mode == EmrAccessMode::AwsAuthConfigMap
        })
        .map(|vc| vc.name_any()))
}
