//! EKS Fargate profiles: create, describe and delete. EKS makes them asynchronously (CREATING,
//! then ACTIVE; DELETING, then gone) and allows one profile operation at a time per cluster,
//! answering `ResourceInUseException` otherwise ([`AwsError::is_in_use`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_eks::types::{FargateProfile, FargateProfileSelector};

use super::Eks;
use crate::error::{AwsError, AwsFault};
use crate::operation::Operation;

/// What CreateFargateProfile is asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateFargateProfileRequest {
    pub cluster_name: String,
    pub profile_name: String,
    pub pod_execution_role_arn: String,
    pub subnets: Vec<String>,
    /// (namespace, labels) per selector.
    pub selectors: Vec<(String, BTreeMap<String, String>)>,
    pub tags: BTreeMap<String, String>,
    /// Makes a retried create (same token) return the same profile.
    pub client_request_token: String,
}

/// EKS's status of a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FargateProfileState {
    Creating,
    Active,
    Deleting,
    CreateFailed,
    DeleteFailed,
    Unknown(String),
}

impl FargateProfileState {
    fn parse(status: &str) -> Self {
        match status {
            "CREATING" => Self::Creating,
            "ACTIVE" => Self::Active,
            "DELETING" => Self::Deleting,
            "CREATE_FAILED" => Self::CreateFailed,
            "DELETE_FAILED" => Self::DeleteFailed,
            other => Self::Unknown(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Creating => "CREATING",
            Self::Active => "ACTIVE",
            Self::Deleting => "DELETING",
            Self::CreateFailed => "CREATE_FAILED",
            Self::DeleteFailed => "DELETE_FAILED",
            Self::Unknown(other) => other,
        }
    }

    /// A profile operation is under way: EKS refuses another one in the cluster meanwhile.
    pub fn is_in_progress(&self) -> bool {
        matches!(self, Self::Creating | Self::Deleting)
    }
}

/// A profile as DescribeFargateProfile reports it; lists are sets (EKS does not keep order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FargateProfileInfo {
    pub name: String,
    pub arn: Option<String>,
    pub state: FargateProfileState,
    pub pod_execution_role_arn: Option<String>,
    pub subnets: BTreeSet<String>,
    pub selectors: BTreeSet<(String, BTreeMap<String, String>)>,
    pub tags: BTreeMap<String, String>,
    /// EKS's health issues ("code: message"), set on CREATE_FAILED / DELETE_FAILED.
    pub issues: Vec<String>,
}

impl FargateProfileInfo {
    fn from_sdk(profile: &FargateProfile, asked: &str) -> Result<Self, AwsFault> {
        let state = profile
            .status()
            .map(|s| FargateProfileState::parse(s.as_str()))
            .ok_or_else(|| AwsFault::malformed_response("the Fargate profile has no status"))?;
        let selectors = profile
            .selectors()
            .iter()
            .map(|s| {
                (
                    s.namespace().unwrap_or_default().to_owned(),
                    sorted(s.labels()),
                )
            })
            .collect();
        let issues = profile
            .health()
            .map(|h| {
                h.issues()
                    .iter()
                    .map(|i| {
                        format!(
                            "{}: {}",
                            i.code().map(|c| c.as_str()).unwrap_or("Unknown"),
                            i.message().unwrap_or_default()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            name: profile.fargate_profile_name().unwrap_or(asked).to_owned(),
            arn: profile.fargate_profile_arn().map(str::to_owned),
            state,
            pod_execution_role_arn: profile.pod_execution_role_arn().map(str::to_owned),
            subnets: profile.subnets().iter().cloned().collect(),
            selectors,
            tags: sorted(profile.tags()),
            issues,
        })
    }
}

fn sorted(map: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    map.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

impl Eks {
    /// Starts creating a profile; it is CREATING afterwards.
    pub async fn create_fargate_profile(
        &self,
        request: &CreateFargateProfileRequest,
    ) -> Result<FargateProfileInfo, AwsError> {
        let error = |cause| AwsError::CreateFargateProfile {
            cluster_name: request.cluster_name.clone(),
            profile_name: request.profile_name.clone(),
            cause,
        };
        let selectors = request
            .selectors
            .iter()
            .map(|(namespace, labels)| {
                FargateProfileSelector::builder()
                    .namespace(namespace)
                    .set_labels(
                        (!labels.is_empty())
                            .then(|| labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
                    )
                    .build()
            })
            .collect();
        let tags: HashMap<String, String> = request
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let out = self
            .caller
            .call(
                Operation::CreateFargateProfile,
                self.client
                    .create_fargate_profile()
                    .cluster_name(&request.cluster_name)
                    .fargate_profile_name(&request.profile_name)
                    .pod_execution_role_arn(&request.pod_execution_role_arn)
                    .set_subnets((!request.subnets.is_empty()).then(|| request.subnets.clone()))
                    .set_selectors(Some(selectors))
                    .set_tags((!tags.is_empty()).then_some(tags))
                    .client_request_token(&request.client_request_token)
                    .send(),
            )
            .await
            .map_err(error)?;
        let profile = out.fargate_profile().ok_or_else(|| {
            error(AwsFault::malformed_response(
                "CreateFargateProfile returned no profile",
            ))
        })?;
        FargateProfileInfo::from_sdk(profile, &request.profile_name).map_err(error)
    }

    /// The profile, or `None` when the cluster has none of that name (a deleted one is gone).
    pub async fn describe_fargate_profile(
        &self,
        cluster_name: &str,
        profile_name: &str,
    ) -> Result<Option<FargateProfileInfo>, AwsError> {
        let error = |cause| AwsError::DescribeFargateProfile {
            cluster_name: cluster_name.to_owned(),
            profile_name: profile_name.to_owned(),
            cause,
        };
        let result = self
            .caller
            .call(
                Operation::DescribeFargateProfile,
                self.client
                    .describe_fargate_profile()
                    .cluster_name(cluster_name)
                    .fargate_profile_name(profile_name)
                    .send(),
            )
            .await;
        let out = match result {
            Ok(out) => out,
            Err(cause) if cause.kind == crate::FaultKind::NotFound => return Ok(None),
            Err(cause) => return Err(error(cause)),
        };
        let profile = out.fargate_profile().ok_or_else(|| {
            error(AwsFault::malformed_response(
                "DescribeFargateProfile returned no profile",
            ))
        })?;
        FargateProfileInfo::from_sdk(profile, profile_name)
            .map(Some)
            .map_err(error)
    }

    /// Starts deleting a profile; `false` when it was already gone.
    pub async fn delete_fargate_profile(
        &self,
        cluster_name: &str,
        profile_name: &str,
    ) -> Result<bool, AwsError> {
        let result = self
            .caller
            .call(
                Operation::DeleteFargateProfile,
                self.client
                    .delete_fargate_profile()
                    .cluster_name(cluster_name)
                    .fargate_profile_name(profile_name)
                    .send(),
            )
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(cause) if cause.kind == crate::FaultKind::NotFound => Ok(false),
            Err(cause) => Err(AwsError::DeleteFargateProfile {
                cluster_name: cluster_name.to_owned(),
                profile_name: profile_name.to_owned(),
                cause,
            }),
        }
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

    fn profile(status: &str) -> serde_json::Value {
        json!({"fargateProfile": {
            "fargateProfileName": "emr-fp",
            "fargateProfileArn": "arn:aws:eks:us-east-1:123456789012:fargateprofile/prod/emr-fp/1",
            "clusterName": "prod",
            "podExecutionRoleArn": "arn:aws:iam::123456789012:role/Pod",
            "subnets": ["subnet-0a1b2c3d"],
            "selectors": [{"namespace": "spark", "labels": {"spark-role": "executor"}}],
            "status": status,
            "tags": {"emr-on-eks.dev/uid": "u-1"},
            "health": {"issues": [{"code": "PodExecutionRoleAlreadyInUse", "message": "in use"}]}
        }})
    }

    #[tokio::test]
    async fn create_sends_the_request_and_reads_the_profile() {
        let server = TestServer::start(vec![Reply::json(200, profile("CREATING"))]);
        let request = CreateFargateProfileRequest {
            cluster_name: "prod".into(),
            profile_name: "emr-fp".into(),
            pod_execution_role_arn: "arn:aws:iam::123456789012:role/Pod".into(),
            subnets: vec!["subnet-0a1b2c3d".into()],
            selectors: vec![(
                "spark".into(),
                BTreeMap::from([("spark-role".into(), "executor".into())]),
            )],
            tags: BTreeMap::from([("emr-on-eks.dev/uid".into(), "u-1".into())]),
            client_request_token: "u-1-emr-fp".into(),
        };
        let info = eks(&server)
            .await
            .create_fargate_profile(&request)
            .await
            .unwrap();
        assert_eq!(info.state, FargateProfileState::Creating);
        assert!(info.state.is_in_progress());
        assert_eq!(info.tags["emr-on-eks.dev/uid"], "u-1");
        assert_eq!(
            info.issues,
            ["PodExecutionRoleAlreadyInUse: in use".to_owned()]
        );
        let sent = &server.requests()[0];
        assert_eq!(sent.path, "/clusters/prod/fargate-profiles");
        let body = sent.json();
        assert_eq!(body["fargateProfileName"], "emr-fp");
        assert_eq!(
            body["selectors"],
            json!([{"namespace": "spark", "labels": {"spark-role": "executor"}}])
        );
        assert_eq!(body["clientRequestToken"], "u-1-emr-fp");
    }

    #[tokio::test]
    async fn a_missing_profile_is_none_and_deleting_it_is_false() {
        let server = TestServer::start(vec![
            Reply::json_error(404, "ResourceNotFoundException", "No Fargate Profile found"),
            Reply::json_error(404, "ResourceNotFoundException", "No Fargate Profile found"),
        ]);
        let eks = eks(&server).await;
        assert_eq!(
            eks.describe_fargate_profile("prod", "gone").await.unwrap(),
            None
        );
        assert!(!eks.delete_fargate_profile("prod", "gone").await.unwrap());
    }

    #[tokio::test]
    async fn another_operation_in_progress_is_in_use() {
        let server = TestServer::start(vec![Reply::json_error(
            409,
            "ResourceInUseException",
            "Cannot create Fargate Profile b because cluster prod currently has Fargate profile a in status CREATING",
        )]);
        let err = eks(&server)
            .await
            .delete_fargate_profile("prod", "b")
            .await
            .unwrap_err();
        assert!(err.is_in_use(), "{err}");
        assert_eq!(err.iam_action(), "eks:DeleteFargateProfile");
    }
}
