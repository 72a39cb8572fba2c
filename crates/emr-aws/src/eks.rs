//! EKS: what the operator needs to know about the cluster it runs in, and the Fargate profiles
//! it makes for VirtualClusters ([`fargate`]).

mod fargate;

pub use fargate::{CreateFargateProfileRequest, FargateProfileInfo, FargateProfileState};

use std::sync::Arc;

use aws_sdk_eks::Client;

use crate::arn::account_of;
use crate::call::Caller;
use crate::error::{AwsError, AwsFault};
use crate::observer::CallObserver;
use crate::operation::Operation;
use crate::trust_policy::oidc_provider_from_issuer;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EksClusterInfo {
    pub name: String,
    pub arn: String,
    /// The 5th field of the cluster ARN.
    pub account_id: String,
    /// The IRSA issuer URL, e.g. `https://oidc.eks.us-east-1.amazonaws.com/id/ABC`.
    pub oidc_issuer: Option<String>,
    /// The issuer without `https://`: the IAM OIDC provider id and condition-key prefix.
    pub oidc_provider: Option<String>,
    /// `accessConfig.authenticationMode`: `CONFIG_MAP`, `API` or `API_AND_CONFIG_MAP`.
    pub auth_mode: Option<String>,
    /// e.g. `ACTIVE`, `CREATING`, `UPDATING`.
    pub status: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Eks {
    client: Client,
    caller: Caller,
}

impl Eks {
    pub fn new(client: Client, observer: Arc<dyn CallObserver>) -> Self {
        Eks {
            client,
            caller: Caller::new(observer),
        }
    }

    /// Takes a token from `pacer` before each call (see [`crate::pacing`]).
    pub fn with_pacer(mut self, pacer: crate::pacing::Pacer) -> Self {
        self.caller = self.caller.paced(pacer);
        self
    }

    /// The underlying SDK client, for calls this crate does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub async fn describe_cluster(&self, cluster_name: &str) -> Result<EksClusterInfo, AwsError> {
        let error = |cause| AwsError::DescribeCluster {
            cluster_name: cluster_name.to_owned(),
            cause,
        };
        let out = self
            .caller
            .call(
                Operation::DescribeCluster,
                self.client.describe_cluster().name(cluster_name).send(),
            )
            .await
            .map_err(error)?;
        let cluster = out.cluster().ok_or_else(|| {
            error(AwsFault::malformed_response(
                "DescribeCluster returned no cluster",
            ))
        })?;
        let arn = cluster.arn().ok_or_else(|| {
            error(AwsFault::malformed_response(
                "DescribeCluster returned no cluster ARN",
            ))
        })?;
        let account_id = account_of(arn).ok_or_else(|| {
            error(AwsFault::malformed_response(format!(
                "the cluster ARN {arn:?} has no account id"
            )))
        })?;
        let oidc_issuer = cluster
            .identity()
            .and_then(|i| i.oidc())
            .and_then(|o| o.issuer())
            .filter(|issuer| !issuer.is_empty())
            .map(str::to_owned);
        Ok(EksClusterInfo {
            name: cluster.name().unwrap_or(cluster_name).to_owned(),
            arn: arn.to_owned(),
            account_id: account_id.to_owned(),
            oidc_provider: oidc_issuer.as_deref().map(oidc_provider_from_issuer),
            oidc_issuer,
            auth_mode: cluster
                .access_config()
                .and_then(|a| a.authentication_mode())
                .map(|m| m.as_str().to_owned()),
            status: cluster.status().map(|s| s.as_str().to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::config::AwsClients;
    use crate::observer::NoopObserver;
    use crate::test_server::{Reply, TestServer};

    async fn eks(server: &TestServer) -> Eks {
        let config = server.sdk_config(1).await;
        Eks::new(
            AwsClients::from_sdk_config(&config).eks,
            Arc::new(NoopObserver),
        )
    }

    #[tokio::test]
    async fn describe_cluster_extracts_account_oidc_and_auth_mode() {
        let server = TestServer::start(vec![Reply::json(
            200,
            json!({"cluster": {
                "name": "prod",
                "arn": "arn:aws:eks:us-east-1:123456789012:cluster/prod",
                "status": "ACTIVE",
                "identity": {"oidc": {"issuer": "https://oidc.eks.us-east-1.amazonaws.com/id/ABC"}},
                "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"}
            }}),
        )]);
        let info = eks(&server).await.describe_cluster("prod").await.unwrap();
        assert_eq!(
            info,
            EksClusterInfo {
                name: "prod".into(),
                arn: "arn:aws:eks:us-east-1:123456789012:cluster/prod".into(),
                account_id: "123456789012".into(),
                oidc_issuer: Some("https://oidc.eks.us-east-1.amazonaws.com/id/ABC".into()),
                oidc_provider: Some("oidc.eks.us-east-1.amazonaws.com/id/ABC".into()),
                auth_mode: Some("API_AND_CONFIG_MAP".into()),
                status: Some("ACTIVE".into()),
            }
        );
        assert_eq!(server.requests()[0].path, "/clusters/prod");
    }

    #[tokio::test]
    async fn a_cluster_without_oidc_or_access_config_is_still_described() {
        let server = TestServer::start(vec![Reply::json(
            200,
            json!({"cluster": {"name": "old", "arn": "arn:aws:eks:us-east-1:123456789012:cluster/old"}}),
        )]);
        let info = eks(&server).await.describe_cluster("old").await.unwrap();
        assert_eq!(info.oidc_issuer, None);
        assert_eq!(info.oidc_provider, None);
        assert_eq!(info.auth_mode, None);
    }

    #[tokio::test]
    async fn a_malformed_cluster_arn_is_an_error_not_a_panic() {
        let server = TestServer::start(vec![Reply::json(
            200,
            json!({"cluster": {"name": "odd", "arn": "not-an-arn"}}),
        )]);
        let err = eks(&server)
            .await
            .describe_cluster("odd")
            .await
            .unwrap_err();
        assert!(
            matches!(err, AwsError::DescribeCluster { ref cluster_name, .. } if cluster_name == "odd")
        );
        assert!(err.to_string().contains("not-an-arn"), "{err}");
    }

    #[tokio::test]
    async fn a_missing_cluster_is_not_found() {
        let server = TestServer::start(vec![Reply::json_error(
            404,
            "ResourceNotFoundException",
            "No cluster found for name: nope.",
        )]);
        let err = eks(&server)
            .await
            .describe_cluster("nope")
            .await
            .unwrap_err();
        assert!(err.is_not_found());
        assert_eq!(err.iam_action(), "eks:DescribeCluster");
    }
}
