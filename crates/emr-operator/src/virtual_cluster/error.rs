//! What can go wrong while converging a VirtualCluster, each named after the action that failed,
//! and how each failure is reported on the object (condition reason, message, retry).

use emr_aws::AwsError;
use emr_aws::trust_policy::RoleArnError;

use super::outcome::Outcome;
use super::steps::access::aws_auth::plan::MapRolesError;
use crate::kit::{self, Category, ReconcileError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the VirtualCluster has no name or uid")]
    MissingIdentity,
    #[error("reading namespace {namespace} failed: {source}")]
    GetNamespace {
        namespace: String,
        source: kube::Error,
    },
    #[error("applying namespace {namespace} failed: {source}")]
    ApplyNamespace {
        namespace: String,
        source: kube::Error,
    },
    #[error("deleting namespace {namespace} failed: {source}")]
    DeleteNamespace {
        namespace: String,
        source: kube::Error,
    },
    #[error("reading VirtualCluster {name} failed: {source}")]
    GetVirtualCluster { name: String, source: kube::Error },
    #[error("listing VirtualClusters failed: {source}")]
    ListVirtualClusters { source: kube::Error },
    #[error("reading {kind} {namespace}/{name} failed: {source}")]
    GetChild {
        kind: &'static str,
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("applying {kind} {namespace}/{name} failed: {source}")]
    ApplyChild {
        kind: &'static str,
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("deleting {kind} {namespace}/{name} failed: {source}")]
    DeleteChild {
        kind: &'static str,
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("listing {kind}s in namespace {namespace} failed: {source}")]
    ListChildren {
        kind: &'static str,
        namespace: String,
        source: kube::Error,
    },
    #[error("removing the owner reference from {kind} {namespace}/{name} failed: {source}")]
    OrphanChild {
        kind: &'static str,
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("reading ClusterRole {name} failed: {source}")]
    GetClusterRole { name: String, source: kube::Error },
    #[error(
        "ClusterRole {name} (EMR's rules, which the RoleBinding emr-containers refers to) does not exist"
    )]
    EmrClusterRoleMissing { name: String },
    #[error("refusing to write RoleBinding {namespace}/emr-containers: {problem}")]
    UnsafeRoleBinding {
        namespace: String,
        problem: super::steps::access::plan::BindingProblem,
    },
    #[error("reading kube-system/aws-auth failed: {source}")]
    GetAwsAuth { source: kube::Error },
    #[error("updating kube-system/aws-auth failed: {source}")]
    UpdateAwsAuth { source: kube::Error },
    #[error(transparent)]
    ReadMapRoles(#[from] MapRolesError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(
        "EKS cluster {cluster} has no OIDC issuer: enable IRSA on it, or set spec.oidcProvider"
    )]
    NoOidcIssuer { cluster: String },
    #[error("cannot manage the trust policy: {source}")]
    ParseRoleArn { source: RoleArnError },
    #[error("listing SparkJobRuns in namespace {namespace} failed: {source}")]
    ListSparkJobRuns {
        namespace: String,
        source: kube::Error,
    },
    #[error("deleting SparkJobRun {namespace}/{name} failed: {source}")]
    DeleteSparkJobRun {
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("adding the finalizer failed: {source}")]
    AddFinalizer { source: kube::Error },
    #[error("removing the finalizer failed: {source}")]
    RemoveFinalizer { source: kube::Error },
    #[error("writing the status failed: {source}")]
    WriteStatus { source: kube::Error },
    #[error(
        "VirtualCluster {name} changed since the copy this pass worked on was read; redoing the pass on a fresh read"
    )]
    StaleObject {
        name: String,
        /// The status the refused pass had built, whose records the redone pass carries on.
        refused: Option<Box<emr_api::VirtualClusterStatus>>,
    },
    #[error(
        "removing the trust statement for namespace {namespace} from IAM role {role_arn} failed: {source}"
    )]
    RemoveTrustStatement {
        role_arn: String,
        namespace: String,
        source: AwsError,
    },
    #[error("reconciling VirtualCluster {name} panicked (an operator bug): {message}")]
    ReconcilePanicked { name: String, message: String },
}

impl Error {
    fn kube_source(&self) -> Option<&kube::Error> {
        match self {
            Error::GetNamespace { source, .. }
            | Error::ApplyNamespace { source, .. }
            | Error::DeleteNamespace { source, .. }
            | Error::GetVirtualCluster { source, .. }
            | Error::ListVirtualClusters { source }
            | Error::GetChild { source, .. }
            | Error::ApplyChild { source, .. }
            | Error::DeleteChild { source, .. }
            | Error::ListChildren { source, .. }
            | Error::OrphanChild { source, .. }
            | Error::GetClusterRole { source, .. }
            | Error::GetAwsAuth { source }
            | Error::UpdateAwsAuth { source }
            | Error::ListSparkJobRuns { source, .. }
            | Error::DeleteSparkJobRun { source, .. }
            | Error::AddFinalizer { source }
            | Error::RemoveFinalizer { source }
            | Error::WriteStatus { source } => Some(source),
            _ => None,
        }
    }

    /// The HTTP status the apiserver answered with, if it answered.
    fn kube_code(&self) -> Option<u16> {
        self.kube_source().and_then(kit::error::kube_code)
    }

    /// How the failure shows on the object: a condition reason a user can search for and a
    /// message saying what to do; its [`Category`] picks the backoff.
    pub fn outcome(&self) -> Outcome {
        self.shown().because(self.category())
    }

    fn shown(&self) -> Outcome {
        match self {
            Error::Aws(e) => aws_outcome(e),
            Error::RemoveTrustStatement {
                role_arn,
                namespace,
                source,
            } if source.is_access_denied() => {
                let action = source.iam_action();
                Outcome::failed(
                    "TrustStatementRemovalDenied",
                    format!(
                        "IAM denied {action} on role {role_arn}, so its trust statement for namespace {namespace} stays and deletion waits: grant the operator {action} on that role, or set spec.deletionPolicy to Retain to let go and leave the statement ({source})"
                    ),
                )
            }
            Error::RemoveTrustStatement { source, .. } => aws_outcome(source),
            Error::StaleObject { .. } => Outcome::waiting("Conflict", self.to_string()),
            Error::ReadMapRoles(e) => Outcome::failed(
                "AwsAuthUnreadable",
                format!("{e}; fix the ConfigMap by hand, the operator will not overwrite it"),
            ),
            Error::NoOidcIssuer { .. } => Outcome::failed("NoOidcIssuer", self.to_string()),
            Error::ParseRoleArn { .. } => Outcome::failed("InvalidRoleArn", self.to_string()),
            Error::MissingIdentity => Outcome::failed("MissingIdentity", self.to_string()),
            Error::EmrClusterRoleMissing { .. } => Outcome::failed(
                "EmrClusterRoleMissing",
                format!(
                    "{self}: install it with the chart (rbac.create), or point the operator's --emr-containers-cluster-role at yours"
                ),
            ),
            Error::UnsafeRoleBinding { .. } => {
                Outcome::failed("UnsafeRoleBinding", self.to_string())
            }
            Error::ReconcilePanicked { .. } => {
                Outcome::failed(crate::kit::panic_guard::REASON, self.to_string())
            }
            _ => match self.kube_code() {
                Some(403) => Outcome::failed(
                    "Forbidden",
                    format!(
                        "{self}; the operator's RBAC (deploy/helm/emr-on-eks-operator/files/clusterrole-rules.yaml, aws-auth-rules.yaml) must allow this"
                    ),
                ),
                // Someone else wrote in between: read again and retry soon.
                Some(409) => Outcome::waiting("Conflict", self.to_string()),
                _ => Outcome::failed("KubernetesApiError", self.to_string()),
            },
        }
    }
}

impl ReconcileError for Error {
    fn category(&self) -> Category {
        match self {
            Error::Aws(source) | Error::RemoveTrustStatement { source, .. } => {
                Category::of_aws(source)
            }
            Error::StaleObject { .. } => Category::Conflict,
            Error::ReadMapRoles(_)
            | Error::NoOidcIssuer { .. }
            | Error::ParseRoleArn { .. }
            | Error::MissingIdentity
            | Error::UnsafeRoleBinding { .. }
            | Error::EmrClusterRoleMissing { .. } => Category::TerminalInput,
            Error::ReconcilePanicked { .. } => Category::Panicked,
            _ => self
                .kube_source()
                .map_or(Category::Other, Category::of_kube),
        }
    }

    /// The labels this controller always had, in the kit's UpperCamelCase.
    fn metric_label(&self) -> &'static str {
        match self {
            Error::Aws(e) | Error::RemoveTrustStatement { source: e, .. } if e.is_throttled() => {
                "AwsThrottled"
            }
            Error::Aws(e) | Error::RemoveTrustStatement { source: e, .. }
                if e.is_access_denied() =>
            {
                "AwsAccessDenied"
            }
            Error::Aws(_) | Error::RemoveTrustStatement { .. } => "Aws",
            Error::StaleObject { .. } => "KubeConflict",
            Error::ReadMapRoles(_) => "AwsAuthYaml",
            Error::NoOidcIssuer { .. }
            | Error::ParseRoleArn { .. }
            | Error::MissingIdentity
            | Error::UnsafeRoleBinding { .. }
            | Error::EmrClusterRoleMissing { .. } => "Invalid",
            Error::ReconcilePanicked { .. } => kit::panic_guard::REASON,
            _ => match self.kube_code() {
                Some(403) => "KubeForbidden",
                Some(409) => "KubeConflict",
                _ => "Kube",
            },
        }
    }
}

/// Throttling backs off; access denied names the IAM action to grant.
pub fn aws_outcome(e: &AwsError) -> Outcome {
    aws_shown(e).because(Category::of_aws(e))
}

fn aws_shown(e: &AwsError) -> Outcome {
    if e.is_throttled() {
        Outcome::failed("AwsThrottled", format!("{e}; retrying with backoff"))
    } else if e.is_access_denied() {
        let action = e.iam_action();
        Outcome::failed(
            "AccessDenied",
            format!("the operator's AWS identity may not call {action}: grant it {action} ({e})"),
        )
    } else if e.is_not_found() {
        Outcome::failed("AwsResourceNotFound", e.to_string())
    } else if e.is_validation() {
        Outcome::failed("AwsRejected", e.to_string())
    } else if e.is_retryable() {
        Outcome::failed("AwsUnavailable", e.to_string())
    } else {
        Outcome::failed("AwsError", e.to_string())
    }
}

#[cfg(test)]
mod tests;
