//! `spec.fargate`: the EKS Fargate profile for a VirtualCluster's namespace, and what the status
//! records of it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::patterns;

/// An EKS Fargate profile whose selectors all name this VirtualCluster's namespace (a
/// VirtualCluster cannot move another namespace's pods onto Fargate).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FargateSpec {
    /// Name of the Fargate profile (default: the namespace's name). An existing profile of this
    /// name is used only if it is tagged with this object's uid, or untagged by the operator and
    /// identical to what is asked for (then it is used but never deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100), regex(pattern = patterns::FARGATE_PROFILE_NAME))]
    pub profile_name: Option<String>,
    /// ARN of the pod execution role Fargate's kubelet uses (ECR pulls, logs), e.g.
    /// `arn:aws:iam::111122223333:role/AmazonEKSFargatePodExecutionRole`. The operator needs
    /// `iam:PassRole` on it.
    #[schemars(length(min = 20, max = 2048), regex(pattern = patterns::IAM_ROLE_ARN))]
    pub pod_execution_role_arn: String,
    /// Private subnets for the Fargate pods; EKS uses the cluster's private subnets when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(regex(pattern = patterns::SUBNET_ID)))]
    pub subnets: Vec<String>,
    /// Which pods of the namespace run on Fargate (at most 5, EKS's limit). Default: one
    /// selector with no labels, i.e. every pod of the namespace. With labels (say
    /// `spark-role: executor`, as the re:Invent talk does) only matching pods go to Fargate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 5))]
    pub selectors: Vec<FargateProfileSelector>,
}

/// One selector of the profile: the namespace (always this VirtualCluster's) and labels.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FargateProfileSelector {
    /// Pod labels that must all match (at most 5, EKS's limit).
    #[serde(default)]
    #[schemars(extend("maxProperties" = 5, "additionalProperties" = {"type": "string", "maxLength": 63}))]
    pub labels: BTreeMap<String, String>,
}

/// What the operator last saw of the Fargate profile in EKS.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FargateProfileStatus {
    /// Name of the profile.
    pub name: String,
    /// Its ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// EKS's status: CREATING, ACTIVE, DELETING, CREATE_FAILED or DELETE_FAILED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// The Fargate profile the operator answers for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedFargateProfile {
    /// Name of the profile.
    pub name: String,
    /// The EKS cluster it is in.
    pub eks_cluster_name: String,
    /// The operator created it (rather than using one it found). Deletion still checks EKS's
    /// tags: this record alone never deletes a profile.
    #[serde(default)]
    pub created: bool,
}
