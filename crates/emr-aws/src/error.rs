//! Typed errors: which call failed, on which resource, and why, in terms the operator can act on
//! (retry later, report a missing permission, treat as gone, surface a validation message).

use crate::operation::Operation;

mod fault;

pub use fault::{AwsFault, FaultKind, classify};

/// A failed AWS call: the action, the resource it was about, and the classified cause.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    #[error(
        "StartJobRun of job run {} in virtual cluster {virtual_cluster_id} failed: {cause}",
        .job_run_name.as_deref().unwrap_or("(unnamed)")
    )]
    StartJobRun {
        virtual_cluster_id: String,
        job_run_name: Option<String>,
        client_token: Option<String>,
        cause: AwsFault,
    },
    #[error(
        "DescribeJobRun of job run {job_run_id} in virtual cluster {virtual_cluster_id} failed: {cause}"
    )]
    DescribeJobRun {
        virtual_cluster_id: String,
        job_run_id: String,
        cause: AwsFault,
    },
    #[error("ListJobRuns in virtual cluster {virtual_cluster_id} failed: {cause}")]
    ListJobRuns {
        virtual_cluster_id: String,
        cause: AwsFault,
    },
    #[error(
        "CancelJobRun of job run {job_run_id} in virtual cluster {virtual_cluster_id} failed: {cause}"
    )]
    CancelJobRun {
        virtual_cluster_id: String,
        job_run_id: String,
        cause: AwsFault,
    },
    #[error("DescribeJobTemplate of job template {template_id} failed: {cause}")]
    DescribeJobTemplate {
        template_id: String,
        cause: AwsFault,
    },
    #[error(
        "CreateVirtualCluster {name} for namespace {namespace} of EKS cluster {eks_cluster_name} failed: {cause}"
    )]
    CreateVirtualCluster {
        name: String,
        eks_cluster_name: String,
        namespace: String,
        cause: AwsFault,
    },
    #[error("DescribeVirtualCluster of virtual cluster {virtual_cluster_id} failed: {cause}")]
    DescribeVirtualCluster {
        virtual_cluster_id: String,
        cause: AwsFault,
    },
    #[error("ListVirtualClusters of EKS cluster {eks_cluster_name} failed: {cause}")]
    ListVirtualClusters {
        eks_cluster_name: String,
        cause: AwsFault,
    },
    #[error("DeleteVirtualCluster of virtual cluster {virtual_cluster_id} failed: {cause}")]
    DeleteVirtualCluster {
        virtual_cluster_id: String,
        cause: AwsFault,
    },
    #[error("DescribeCluster of EKS cluster {cluster_name} failed: {cause}")]
    DescribeCluster {
        cluster_name: String,
        cause: AwsFault,
    },
    #[error("GetCallerIdentity failed: {cause}")]
    GetCallerIdentity { cause: AwsFault },
    #[error("GetRole of IAM role {role_name} failed: {cause}")]
    GetRole { role_name: String, cause: AwsFault },
    #[error("UpdateAssumeRolePolicy of IAM role {role_name} failed: {cause}")]
    UpdateAssumeRolePolicy { role_name: String, cause: AwsFault },
    #[error("ListOpenIDConnectProviders failed: {cause}")]
    ListOpenIdConnectProviders { cause: AwsFault },
    #[error("CreateFargateProfile {profile_name} in EKS cluster {cluster_name} failed: {cause}")]
    CreateFargateProfile {
        cluster_name: String,
        profile_name: String,
        cause: AwsFault,
    },
    #[error("DescribeFargateProfile {profile_name} in EKS cluster {cluster_name} failed: {cause}")]
    DescribeFargateProfile {
        cluster_name: String,
        profile_name: String,
        cause: AwsFault,
    },
    #[error("DeleteFargateProfile {profile_name} in EKS cluster {cluster_name} failed: {cause}")]
    DeleteFargateProfile {
        cluster_name: String,
        profile_name: String,
        cause: AwsFault,
    },
    /// A call on a job template or security configuration (`target` names it).
    #[error("{operation} of {target} failed: {cause}")]
    EmrObject {
        operation: Operation,
        target: String,
        cause: AwsFault,
    },
    #[error("HeadObject of s3://{bucket}/{key} failed: {cause}")]
    HeadObject {
        bucket: String,
        key: String,
        cause: AwsFault,
    },
    #[error("PutObject of s3://{bucket}/{key} failed: {cause}")]
    PutObject {
        bucket: String,
        key: String,
        cause: AwsFault,
    },
}

impl AwsError {
    pub fn operation(&self) -> Operation {
        match self {
            AwsError::StartJobRun { .. } => Operation::StartJobRun,
            AwsError::DescribeJobRun { .. } => Operation::DescribeJobRun,
            AwsError::ListJobRuns { .. } => Operation::ListJobRuns,
            AwsError::CancelJobRun { .. } => Operation::CancelJobRun,
            AwsError::DescribeJobTemplate { .. } => Operation::DescribeJobTemplate,
            AwsError::CreateVirtualCluster { .. } => Operation::CreateVirtualCluster,
            AwsError::DescribeVirtualCluster { .. } => Operation::DescribeVirtualCluster,
            AwsError::ListVirtualClusters { .. } => Operation::ListVirtualClusters,
            AwsError::DeleteVirtualCluster { .. } => Operation::DeleteVirtualCluster,
            AwsError::DescribeCluster { .. } => Operation::DescribeCluster,
            AwsError::GetCallerIdentity { .. } => Operation::GetCallerIdentity,
            AwsError::GetRole { .. } => Operation::GetRole,
            AwsError::UpdateAssumeRolePolicy { .. } => Operation::UpdateAssumeRolePolicy,
            AwsError::ListOpenIdConnectProviders { .. } => Operation::ListOpenIdConnectProviders,
            AwsError::CreateFargateProfile { .. } => Operation::CreateFargateProfile,
            AwsError::DescribeFargateProfile { .. } => Operation::DescribeFargateProfile,
            AwsError::DeleteFargateProfile { .. } => Operation::DeleteFargateProfile,
            AwsError::EmrObject { operation, .. } => *operation,
            AwsError::HeadObject { .. } => Operation::HeadObject,
            AwsError::PutObject { .. } => Operation::PutObject,
        }
    }

    pub fn cause(&self) -> &AwsFault {
        match self {
            AwsError::StartJobRun { cause, .. }
            | AwsError::DescribeJobRun { cause, .. }
            | AwsError::ListJobRuns { cause, .. }
            | AwsError::CancelJobRun { cause, .. }
            | AwsError::DescribeJobTemplate { cause, .. }
            | AwsError::CreateVirtualCluster { cause, .. }
            | AwsError::DescribeVirtualCluster { cause, .. }
            | AwsError::ListVirtualClusters { cause, .. }
            | AwsError::DeleteVirtualCluster { cause, .. }
            | AwsError::DescribeCluster { cause, .. }
            | AwsError::GetCallerIdentity { cause }
            | AwsError::GetRole { cause, .. }
            | AwsError::UpdateAssumeRolePolicy { cause, .. }
            | AwsError::ListOpenIdConnectProviders { cause }
            | AwsError::CreateFargateProfile { cause, .. }
            | AwsError::DescribeFargateProfile { cause, .. }
            | AwsError::DeleteFargateProfile { cause, .. }
            | AwsError::HeadObject { cause, .. }
            | AwsError::PutObject { cause, .. } => cause,
            AwsError::EmrObject { cause, .. } => cause,
        }
    }

    pub fn kind(&self) -> FaultKind {
        self.cause().kind
    }

    /// The AWS error code, e.g. `ValidationException`, when a service answered with one.
    pub fn code(&self) -> Option<&str> {
        self.cause().code.as_deref()
    }

    /// The permission this call needs, e.g. "emr-containers:StartJobRun", for telling the user
    /// what to grant when [`AwsError::is_access_denied`].
    pub fn iam_action(&self) -> String {
        self.operation().iam_action()
    }

    pub fn is_throttled(&self) -> bool {
        self.kind() == FaultKind::Throttled
    }

    pub fn is_not_found(&self) -> bool {
        self.kind() == FaultKind::NotFound
    }

    pub fn is_access_denied(&self) -> bool {
        self.kind() == FaultKind::AccessDenied
    }

    pub fn is_validation(&self) -> bool {
        self.kind() == FaultKind::Validation
    }

    /// EKS's `ResourceInUseException`: another operation holds the resource (for Fargate
    /// profiles, another profile of the cluster is CREATING or DELETING, or one of this name
    /// exists). A reason to wait and look again, not a failure.
    pub fn is_in_use(&self) -> bool {
        self.code() == Some("ResourceInUseException")
    }

    /// Throttled, Unavailable or Conflict: the same call may succeed later unchanged.
    pub fn is_retryable(&self) -> bool {
        self.kind().is_retryable()
    }
}

#[cfg(test)]
mod tests;
