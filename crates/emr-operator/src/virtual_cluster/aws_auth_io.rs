//! Reading and writing `kube-system/aws-auth`. Every write carries the resourceVersion it was
//! computed from (optimistic concurrency): eksctl, Terraform and people edit this ConfigMap too,
//! and a lost update here can lock nodes or users out of the cluster.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};

use super::aws_auth::{self, EnsurePlan};
use super::error::Error;
use super::names::{
    AWS_AUTH_ENTRY_ADDED_ANNOTATION, AWS_AUTH_MAP_ROLES, AWS_AUTH_NAME, AWS_AUTH_NAMESPACE,
};
use crate::kit::status::FIELD_MANAGER;

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
    match aws_auth::plan_ensure(map_roles(&cm), role_arn)? {
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
    let removed = aws_auth::plan_remove(map_roles(&cm), role_arn)?;
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
