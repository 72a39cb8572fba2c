//! The AWS API calls this crate makes, as a closed set the operator can label metrics with.

/// One AWS API call this crate makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    StartJobRun,
    DescribeJobRun,
    ListJobRuns,
    CancelJobRun,
    DescribeJobTemplate,
    CreateJobTemplate,
    DeleteJobTemplate,
    CreateSecurityConfiguration,
    DescribeSecurityConfiguration,
    DeleteSecurityConfiguration,
    CreateVirtualCluster,
    DescribeVirtualCluster,
    ListVirtualClusters,
    DeleteVirtualCluster,
    DescribeCluster,
    GetCallerIdentity,
    GetRole,
    UpdateAssumeRolePolicy,
    ListOpenIdConnectProviders,
    CreateFargateProfile,
    DescribeFargateProfile,
    DeleteFargateProfile,
    HeadObject,
    PutObject,
}

impl Operation {
    /// Every operation, so metrics can be registered up front and show zeros.
    pub const ALL: [Operation; 24] = [
        Operation::StartJobRun,
        Operation::DescribeJobRun,
        Operation::ListJobRuns,
        Operation::CancelJobRun,
        Operation::DescribeJobTemplate,
        Operation::CreateJobTemplate,
        Operation::DeleteJobTemplate,
        Operation::CreateSecurityConfiguration,
        Operation::DescribeSecurityConfiguration,
        Operation::DeleteSecurityConfiguration,
        Operation::CreateVirtualCluster,
        Operation::DescribeVirtualCluster,
        Operation::ListVirtualClusters,
        Operation::DeleteVirtualCluster,
        Operation::DescribeCluster,
        Operation::GetCallerIdentity,
        Operation::GetRole,
        Operation::UpdateAssumeRolePolicy,
        Operation::ListOpenIdConnectProviders,
        Operation::CreateFargateProfile,
        Operation::DescribeFargateProfile,
        Operation::DeleteFargateProfile,
        Operation::HeadObject,
        Operation::PutObject,
    ];

    /// The API's own name for the call, as AWS documentation and CloudTrail spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::StartJobRun => "StartJobRun",
            Operation::DescribeJobRun => "DescribeJobRun",
            Operation::ListJobRuns => "ListJobRuns",
            Operation::CancelJobRun => "CancelJobRun",
            Operation::DescribeJobTemplate => "DescribeJobTemplate",
            Operation::CreateJobTemplate => "CreateJobTemplate",
            Operation::DeleteJobTemplate => "DeleteJobTemplate",
            Operation::CreateSecurityConfiguration => "CreateSecurityConfiguration",
            Operation::DescribeSecurityConfiguration => "DescribeSecurityConfiguration",
            Operation::DeleteSecurityConfiguration => "DeleteSecurityConfiguration",
            Operation::CreateVirtualCluster => "CreateVirtualCluster",
            Operation::DescribeVirtualCluster => "DescribeVirtualCluster",
            Operation::ListVirtualClusters => "ListVirtualClusters",
            Operation::DeleteVirtualCluster => "DeleteVirtualCluster",
            Operation::DescribeCluster => "DescribeCluster",
            Operation::GetCallerIdentity => "GetCallerIdentity",
            Operation::GetRole => "GetRole",
            Operation::UpdateAssumeRolePolicy => "UpdateAssumeRolePolicy",
            Operation::ListOpenIdConnectProviders => "ListOpenIDConnectProviders",
            Operation::CreateFargateProfile => "CreateFargateProfile",
            Operation::DescribeFargateProfile => "DescribeFargateProfile",
            Operation::DeleteFargateProfile => "DeleteFargateProfile",
            Operation::HeadObject => "HeadObject",
            Operation::PutObject => "PutObject",
        }
    }

    /// The IAM service prefix of the API ("emr-containers", "iam", "eks", "sts").
    pub fn service(self) -> &'static str {
        match self {
            Operation::StartJobRun
            | Operation::DescribeJobRun
            | Operation::ListJobRuns
            | Operation::CancelJobRun
            | Operation::DescribeJobTemplate
            | Operation::CreateJobTemplate
            | Operation::DeleteJobTemplate
            | Operation::CreateSecurityConfiguration
            | Operation::DescribeSecurityConfiguration
            | Operation::DeleteSecurityConfiguration
            | Operation::CreateVirtualCluster
            | Operation::DescribeVirtualCluster
            | Operation::ListVirtualClusters
            | Operation::DeleteVirtualCluster => "emr-containers",
            Operation::DescribeCluster
            | Operation::CreateFargateProfile
            | Operation::DescribeFargateProfile
            | Operation::DeleteFargateProfile => "eks",
            Operation::GetCallerIdentity => "sts",
            Operation::GetRole
            | Operation::UpdateAssumeRolePolicy
            | Operation::ListOpenIdConnectProviders => "iam",
            Operation::HeadObject | Operation::PutObject => "s3",
        }
    }

    /// The permission a policy must grant for this call, e.g. "emr-containers:StartJobRun".
    pub fn iam_action(self) -> String {
        match self {
            // S3 authorizes HeadObject as s3:GetObject (there is no s3:HeadObject action).
            Operation::HeadObject => "s3:GetObject".to_owned(),
            _ => format!("{}:{}", self.service(), self.as_str()),
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_actions_use_the_service_prefix_and_api_name() {
        assert_eq!(
            Operation::StartJobRun.iam_action(),
            "emr-containers:StartJobRun"
        );
        assert_eq!(
            Operation::UpdateAssumeRolePolicy.iam_action(),
            "iam:UpdateAssumeRolePolicy"
        );
        assert_eq!(
            Operation::ListOpenIdConnectProviders.iam_action(),
            "iam:ListOpenIDConnectProviders"
        );
        assert_eq!(
            Operation::DescribeCluster.iam_action(),
            "eks:DescribeCluster"
        );
        assert_eq!(
            Operation::GetCallerIdentity.iam_action(),
            "sts:GetCallerIdentity"
        );
        assert_eq!(Operation::HeadObject.iam_action(), "s3:GetObject");
        assert_eq!(Operation::PutObject.iam_action(), "s3:PutObject");
    }

    #[test]
    fn all_lists_each_operation_once() {
        let mut names: Vec<_> = Operation::ALL.iter().map(|op| op.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Operation::ALL.len());
    }
}
