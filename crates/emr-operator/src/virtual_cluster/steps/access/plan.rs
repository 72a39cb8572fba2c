//! EMR's access to a virtual cluster's namespace: the RoleBinding `emr-containers` from the user
//! `emr-containers` to the chart's ClusterRole with eksctl's `emr-containers` rules.
//!
//! The operator holds none of EMR's rules, only `bind` on that one ClusterRole, so the binding it
//! writes is checked here before every write ([`check_binding`]): exactly that ClusterRole,
//! exactly the one subject, in the namespace this VirtualCluster claimed. Operators before this
//! one created a Role `emr-containers` instead; [`is_old_operator_role`] recognizes the ones they
//! made, which the access step deletes once the binding points at the ClusterRole.

use emr_api::labels::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, VIRTUAL_CLUSTER_LABEL};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding, RoleRef, Subject};
use kube::ResourceExt;

use crate::virtual_cluster::children::{Owner, child_meta};
use crate::virtual_cluster::names::{EMR_ROLE, EMR_USER, RBAC_GROUP};

/// The RoleBinding giving EMR (the user `emr-containers`) the rules of `cluster_role` in this
/// namespace only. Checked by [`check_binding`] before it is written.
pub fn emr_role_binding(owner: &Owner, namespace: &str, cluster_role: &str) -> RoleBinding {
    RoleBinding {
        metadata: child_meta(owner, namespace, EMR_ROLE),
        role_ref: RoleRef {
            api_group: RBAC_GROUP.to_owned(),
            kind: "ClusterRole".to_owned(),
            name: cluster_role.to_owned(),
        },
        subjects: Some(vec![Subject {
            api_group: Some(RBAC_GROUP.to_owned()),
            kind: "User".to_owned(),
            name: EMR_USER.to_owned(),
            namespace: None,
        }]),
    }
}

/// Why a RoleBinding the operator was about to write is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BindingProblem {
    #[error("the VirtualCluster has claimed no namespace")]
    NoClaimedNamespace,
    #[error("it is in namespace {found:?}, not in the VirtualCluster's namespace {claimed}")]
    WrongNamespace {
        found: Option<String>,
        claimed: String,
    },
    #[error("it is named {found:?}, not {EMR_ROLE}")]
    WrongName { found: Option<String> },
    #[error("it refers to {kind} {name:?}, not ClusterRole {wanted}")]
    WrongRole {
        kind: String,
        name: String,
        wanted: String,
    },
    #[error("its subjects are not exactly the user {EMR_USER}")]
    WrongSubjects,
}

/// The invariant of every RoleBinding the operator writes: its `bind` right on EMR's ClusterRole
/// must never give EMR's rules to anyone but EMR, nor anywhere but a namespace this VirtualCluster
/// claimed (`claimed`, recorded by the namespace step).
pub fn check_binding(
    binding: &RoleBinding,
    claimed: Option<&str>,
    cluster_role: &str,
) -> Result<(), BindingProblem> {
    let claimed = claimed.ok_or(BindingProblem::NoClaimedNamespace)?;
    let namespace = binding.metadata.namespace.as_deref();
    if namespace != Some(claimed) {
        return Err(BindingProblem::WrongNamespace {
            found: namespace.map(str::to_owned),
            claimed: claimed.to_owned(),
        });
    }
    if binding.metadata.name.as_deref() != Some(EMR_ROLE) {
        return Err(BindingProblem::WrongName {
            found: binding.metadata.name.clone(),
        });
    }
    let role = &binding.role_ref;
    if role.api_group != RBAC_GROUP || role.kind != "ClusterRole" || role.name != cluster_role {
        return Err(BindingProblem::WrongRole {
            kind: role.kind.clone(),
            name: role.name.clone(),
            wanted: cluster_role.to_owned(),
        });
    }
    match binding.subjects.as_deref() {
        Some([only])
            if only.kind == "User"
                && only.name == EMR_USER
                && only.api_group.as_deref() == Some(RBAC_GROUP)
                && only.namespace.as_deref().unwrap_or_default().is_empty() =>
        {
            Ok(())
        }
        _ => Err(BindingProblem::WrongSubjects),
    }
}

/// Whether `role` is the `emr-containers` Role an earlier operator made for this VirtualCluster:
/// it carried the operator's managed-by label and either an owner reference to this object or
/// its virtual-cluster label. A Role someone else made (eksctl, a person) is left alone.
pub fn is_old_operator_role(role: &Role, owner: &Owner) -> bool {
    let labels = role.labels();
    let managed = labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_VALUE);
    let owned = role.owner_references().iter().any(|r| r.uid == owner.uid);
    let labelled = labels.get(VIRTUAL_CLUSTER_LABEL) == Some(&owner.name);
    role.name_any() == EMR_ROLE && managed && (owned || labelled)
}

#[cfg(test)]
mod tests;
