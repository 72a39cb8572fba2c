//! What the trust statements and the aws-auth entry need to know about the EKS cluster: its
//! account and OIDC provider, from the spec when given, else from EKS DescribeCluster (as
//! `update-role-trust-policy` does).

use emr_api::VirtualClusterSpec;

use crate::Context;
use crate::virtual_cluster::error::Error;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterFacts {
    pub partition: &'static str,
    pub account_id: String,
    /// `None` when the cluster has no OIDC issuer (IRSA not enabled) and the spec names none.
    pub oidc_provider: Option<String>,
}

pub async fn resolve(ctx: &Context, spec: &VirtualClusterSpec) -> Result<ClusterFacts, Error> {
    let partition = ctx.aws.partition();
    if let (Some(account_id), Some(provider)) = (&spec.account_id, &spec.oidc_provider) {
        return Ok(ClusterFacts {
            partition,
            account_id: account_id.clone(),
            oidc_provider: Some(provider.clone()),
        });
    }
    let info = ctx.aws.eks.describe_cluster(&spec.eks_cluster_name).await?;
    Ok(ClusterFacts {
        partition,
        account_id: spec.account_id.clone().unwrap_or(info.account_id),
        oidc_provider: spec.oidc_provider.clone().or(info.oidc_provider),
    })
}
