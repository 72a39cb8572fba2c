//! `VirtualCluster`: one EMR virtual cluster bound to one namespace of one EKS cluster, plus
//! everything that namespace needs before EMR can run jobs in it.
//!
//! (One file over 400 lines on purpose: the spec's field descriptions are the field reference
//! (`make crds`), so most of the length is documentation of one type.)

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::condition::Condition;
use crate::patterns;

mod fargate;
mod network;

pub use fargate::{
    FargateProfileSelector, FargateProfileStatus, FargateSpec, ManagedFargateProfile,
};
pub use network::{EgressMode, NetworkPolicySpec, check_network_policy};

/// The namespace, EMR's access to it, the job roles' trust, optional guard rails and the EMR
/// virtual cluster to converge.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "emr-on-eks.dev",
    version = "v1alpha1",
    kind = "VirtualCluster",
    doc = "A team's EMR on EKS environment: one EMR virtual cluster bound to one namespace of one EKS cluster, plus the namespace, EMR's access to it, IRSA trust for the job roles and optional tenant guard rails.",
    plural = "virtualclusters",
    shortname = "emrvc",
    category = "emr",
    status = "VirtualClusterStatus",
    printcolumn = r#"{"name":"Namespace","type":"string","jsonPath":".spec.namespace.name"}"#,
    printcolumn = r#"{"name":"EMR State","type":"string","jsonPath":".status.state"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"ID","type":"string","jsonPath":".status.virtualClusterId"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.message"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!has(self.securityConfiguration) || !has(self.securityConfigurationId)",
    "message": "set at most one of securityConfiguration and securityConfigurationId",
    "reason": "FieldValueForbidden"
}]))]
pub struct VirtualClusterSpec {
    /// Name of the EKS cluster the virtual cluster runs on (EMR's containerProvider id).
    #[schemars(length(min = 1, max = 100), regex(pattern = patterns::EKS_CLUSTER_NAME))]
    pub eks_cluster_name: String,

    /// Name of the EMR virtual cluster. Defaults to the object's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = patterns::RESOURCE_NAME))]
    pub virtual_cluster_name: Option<String>,

    /// The Kubernetes namespace EMR runs this virtual cluster's jobs in.
    pub namespace: NamespaceSpec,

    /// How the EMR service gets access to the namespace.
    #[serde(default)]
    pub emr_access: EmrAccess,

    /// The cluster's IAM OIDC provider, i.e. its issuer URL without `https://`
    /// (e.g. `oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE`). Looked up with EKS DescribeCluster when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255), regex(pattern = patterns::OIDC_PROVIDER))]
    pub oidc_provider: Option<String>,

    /// The AWS account of the EKS cluster. Taken from the cluster's ARN when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = patterns::ACCOUNT_ID))]
    pub account_id: Option<String>,

    /// The job execution roles SparkJobRuns in this virtual cluster may use. A SparkJobRun whose
    /// executionRoleArn is not listed here is refused.
    #[serde(default)]
    #[schemars(length(max = 50))]
    pub execution_roles: Vec<ExecutionRole>,

    /// IRSA service accounts to create in the namespace (what `eksctl create iamserviceaccount` does).
    #[serde(default)]
    #[schemars(length(max = 50))]
    pub service_accounts: Vec<IrsaServiceAccount>,

    /// Optional per-tenant guard rails: a ResourceQuota, a LimitRange and network isolation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard_rails: Option<GuardRails>,

    /// Id of an EMR security configuration to attach to the virtual cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = patterns::RESOURCE_ID))]
    pub security_configuration_id: Option<String>,

    /// An EKS Fargate profile for the namespace (what seeds 000, 003 and 004 make by hand with
    /// `aws eks create-fargate-profile` or eksctl): created, waited for until ACTIVE, replaced when
    /// this changes (EKS cannot update a profile) and deleted with the VirtualCluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fargate: Option<FargateSpec>,
    /// A SecurityConfiguration object to attach to the virtual cluster (excludes
    /// securityConfigurationId). EMR attaches it when the virtual cluster is created and cannot
    /// change it later: a changed reference is reported (SecurityConfigurationChangeRequiresRecreate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_configuration: Option<SecurityConfigurationRef>,

    /// Tags for the EMR virtual cluster (at most 50; keys 1-128, values up to 256 characters).
    #[serde(default)]
    #[schemars(extend("maxProperties" = 50, "additionalProperties" = {"type": "string", "maxLength": 256}))]
    pub tags: BTreeMap<String, String>,

    /// What deleting this object does: `Delete` removes the EMR virtual cluster, the trust
    /// statements and aws-auth entry the operator added, and the namespace if the operator created
    /// it; `Retain` only lets go, removing the operator's ownership labels and owner references
    /// from what stays. It may be changed while the object is being deleted: switching to
    /// `Retain` lets a deletion that waits (say, on a trust statement IAM will not let the
    /// operator remove) finish.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// What deleting this object does while SparkJobRuns in its namespace are still running:
    /// `Wait` until they finish, or `Cancel` them first.
    #[serde(default)]
    pub running_jobs_on_delete: RunningJobsOnDelete,

    /// This tenant's weight in the operator's fair queue (1-100, default 1): when several
    /// namespaces have SparkJobRuns waiting, each is served in turn, this many objects per
    /// turn. A team with share 1 waits for at most `share` objects of each other team with work,
    /// never for a whole backlog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub share: Option<u32>,

    /// At most this many of this virtual cluster's SparkJobRuns hold an EMR job run at a time
    /// (being started or not finished yet); the others wait with condition Queued (their place
    /// in the message) and make no EMR call, admitted by `spec.priority`, then age. Unset: no
    /// limit. Jobs naming a raw virtual cluster id are not counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub max_concurrent_job_runs: Option<u32>,

    /// Default pod templates for this virtual cluster's SparkJobRuns: a job's own
    /// `spec.podTemplates.driver`/`.executor` replaces the default of that role (no merge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_templates: Option<crate::pod_template::PodTemplates>,

    /// Where the operator writes inline pod templates (this object's defaults and its jobs'
    /// own) for EMR to read. Required for either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template_store: Option<crate::pod_template::PodTemplateStore>,
}

/// A SecurityConfiguration by name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityConfigurationRef {
    /// Name of a SecurityConfiguration object.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// The namespace a virtual cluster is bound to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSpec {
    /// Name of the namespace.
    #[schemars(length(min = 1, max = 63), regex(pattern = patterns::NAMESPACE_NAME))]
    pub name: String,
    /// Create the namespace when it does not exist. When false, the namespace must exist and is
    /// adopted as it is (labels and annotations below are still added), and it is never deleted.
    /// With policy Delete, only a namespace this object's own status records as created by the
    /// operator is deleted, and only while this field is true.
    #[serde(default = "default_true")]
    pub create: bool,
    /// Labels to put on the namespace (at most 64, values up to 63 characters). Keys with the prefix `emr-on-eks.dev/`,
    /// `app.kubernetes.io/managed-by` and `argocd.argoproj.io/compare-options` are the operator's
    /// and are refused: by this schema on apiservers that enforce CEL rules (1.25+), otherwise by
    /// the operator (InvalidSpec condition and a Warning Event; nothing is applied).
    #[serde(default)]
    #[schemars(extend(
        "maxProperties" = 64,
        "additionalProperties" = {"type": "string", "maxLength": 63},
        "x-kubernetes-validations" = [{
            "rule": "self.all(k, !k.startsWith('emr-on-eks.dev/') && k != 'app.kubernetes.io/managed-by' && k != 'argocd.argoproj.io/compare-options')",
            "message": "keys with the prefix emr-on-eks.dev/, app.kubernetes.io/managed-by and argocd.argoproj.io/compare-options are reserved for the operator",
            "reason": "FieldValueForbidden"
        }]
    ))]
    pub labels: BTreeMap<String, String>,
    /// Annotations to put on the namespace (at most 64, values up to 4096 characters). The same keys as for `labels` are
    /// refused.
    #[serde(default)]
    #[schemars(extend(
        "maxProperties" = 64,
        "additionalProperties" = {"type": "string", "maxLength": 4096},
        "x-kubernetes-validations" = [{
            "rule": "self.all(k, !k.startsWith('emr-on-eks.dev/') && k != 'app.kubernetes.io/managed-by' && k != 'argocd.argoproj.io/compare-options')",
            "message": "keys with the prefix emr-on-eks.dev/, app.kubernetes.io/managed-by and argocd.argoproj.io/compare-options are reserved for the operator",
            "reason": "FieldValueForbidden"
        }]
    ))]
    pub annotations: BTreeMap<String, String>,
}

/// How EMR's service-linked role reaches the namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmrAccess {
    /// `AwsAuthConfigMap` (default): a RoleBinding `emr-containers` in the namespace (the user
    /// `emr-containers` to the chart's ClusterRole of EMR's rules), and a `kube-system/aws-auth`
    /// mapRoles entry mapping AWSServiceRoleForAmazonEMRContainers to that user (aws-auth must
    /// exist). `AccessEntry`: the cluster uses EKS access entries (authentication mode API or
    /// API_AND_CONFIG_MAP); EMR creates its access entry itself, so only the RoleBinding is
    /// created.
    #[serde(default)]
    pub mode: EmrAccessMode,
}

/// See [`EmrAccess::mode`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum EmrAccessMode {
    #[default]
    AwsAuthConfigMap,
    AccessEntry,
}

/// A job execution role that job runs in this virtual cluster may use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionRole {
    /// ARN of the IAM role.
    #[schemars(length(min = 20, max = 2048), regex(pattern = patterns::IAM_ROLE_ARN))]
    pub arn: String,
    /// Keep the role's trust policy allowing EMR's service accounts in this namespace to assume it
    /// (what `aws emr-containers update-role-trust-policy` does). The statement is removed again when
    /// the role leaves this list or the VirtualCluster is deleted with policy Delete, also when it
    /// was already on the role before the VirtualCluster existed.
    #[serde(default = "default_true")]
    pub manage_trust_policy: bool,
}

/// A Kubernetes service account bound to an IAM role through IRSA.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IrsaServiceAccount {
    /// Name of the service account, created in the virtual cluster's namespace.
    #[schemars(length(min = 1, max = 253), regex(pattern = patterns::DNS_SUBDOMAIN))]
    pub name: String,
    /// ARN of the IAM role; put on the service account as `eks.amazonaws.com/role-arn`.
    #[schemars(length(min = 20, max = 2048), regex(pattern = patterns::IAM_ROLE_ARN))]
    pub role_arn: String,
    /// Keep the role's trust policy allowing exactly this service account (StringEquals on sub and aud).
    #[serde(default = "default_true")]
    pub manage_trust_policy: bool,
}

/// Per-tenant guard rails from the multi-tenancy design.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GuardRails {
    /// A ResourceQuota in the namespace (named `emr-tenant-quota` unless `name` says otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_quota: Option<ResourceQuotaSpec>,
    /// A LimitRange with container defaults and bounds (named `emr-tenant-limits` unless `name`
    /// says otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_range: Option<ContainerLimits>,
    /// Create a NetworkPolicy (`emr-tenant-isolation` unless `networkPolicy.name` says otherwise)
    /// that admits ingress only from pods of the same namespace; egress as `networkPolicy.egress`
    /// says (default `Open`). Shorthand for `networkPolicy: {}`.
    #[serde(default)]
    pub network_isolation: bool,
    /// The NetworkPolicy's name, egress and instance-metadata blocking. Setting it creates the
    /// policy, as `networkIsolation: true` does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<NetworkPolicySpec>,
}

/// The `hard` limits of a ResourceQuota.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceQuotaSpec {
    /// The object's name (default `emr-tenant-quota`; the multi-tenancy post names it
    /// `compute-resources`). Renaming deletes the operator's object of the old name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = patterns::DNS_SUBDOMAIN))]
    pub name: Option<String>,
    /// Hard limits per resource name, e.g. `requests.cpu: "100"`, `pods: "500"`.
    #[schemars(schema_with = "quantity_map")]
    pub hard: BTreeMap<String, Quantity>,
}

/// Container limits of a LimitRange.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerLimits {
    /// The object's name (default `emr-tenant-limits`; the multi-tenancy post names it
    /// `cpu-min-max`). Renaming deletes the operator's object of the old name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = patterns::DNS_SUBDOMAIN))]
    pub name: Option<String>,
    /// Default limits for containers that set none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "quantity_map")]
    pub default: BTreeMap<String, Quantity>,
    /// Default requests for containers that set none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "quantity_map")]
    pub default_request: BTreeMap<String, Quantity>,
    /// Largest limits a container may set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "quantity_map")]
    pub max: BTreeMap<String, Quantity>,
    /// Smallest requests a container may set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "quantity_map")]
    pub min: BTreeMap<String, Quantity>,
}

/// See [`VirtualClusterSpec::deletion_policy`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DeletionPolicy {
    #[default]
    Delete,
    Retain,
}

/// See [`VirtualClusterSpec::running_jobs_on_delete`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RunningJobsOnDelete {
    #[default]
    Wait,
    Cancel,
}

/// The observed state of a VirtualCluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualClusterStatus {
    /// The `.metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Id of the EMR virtual cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_cluster_id: Option<String>,
    /// ARN of the EMR virtual cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// EMR's state of the virtual cluster: RUNNING, TERMINATING, TERMINATED or ARRESTED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The AWS account the trust statements name (given or resolved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The OIDC provider the trust statements name (given or resolved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_provider: Option<String>,
    /// The EMR security configuration the virtual cluster was created with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_configuration_id: Option<String>,
    /// How many EMR virtual clusters the operator has created for this object. The next
    /// CreateVirtualCluster uses the client token `<uid>-<virtualClusterCreations + 1>`, so a
    /// retried create is idempotent while a terminated virtual cluster is replaced by a new one.
    #[serde(default)]
    #[schemars(range(min = 0, max = 2147483647))]
    pub virtual_cluster_creations: i32,
    /// What the operator changed outside this object, so that deletion undoes exactly that.
    #[serde(default)]
    pub managed: ManagedParts,
    /// The EKS Fargate profile `spec.fargate` asks for, as EKS last described it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fargate_profile: Option<FargateProfileStatus>,
    /// Per-part conditions (NamespaceReady, EmrAccessReady, TrustPoliciesReady,
    /// ServiceAccountsReady, VirtualClusterReady, and FargateProfileReady when `spec.fargate`
    /// is set) and their roll-up `Ready`.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// One line saying what the object is doing or waiting for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Changes the operator made outside the VirtualCluster and must undo on deletion.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedParts {
    /// The namespace the operator bound this object to; `spec.namespace.name` cannot move
    /// away from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The operator created the namespace (rather than adopting it). Only this record, never a
    /// label or annotation on the namespace, lets deletion delete the namespace.
    #[serde(default)]
    pub namespace_created: bool,
    /// The UID of the namespace the operator created, so that a namespace of the same name made
    /// by someone else later is never taken for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_uid: Option<String>,
    /// The operator added the aws-auth mapRoles entry (rather than finding it there).
    #[serde(default)]
    pub aws_auth_entry_added: bool,
    /// Trust-policy statements the operator is responsible for: every statement the spec asks
    /// for, whether the operator added it or found it already there. Deletion with policy
    /// Delete removes each of them.
    #[serde(default)]
    pub trust_statements: Vec<TrustStatementRef>,
    /// The EKS Fargate profile the operator created (or uses) for this object. Deletion
    /// deletes it only when EKS shows it tagged with this object's uid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fargate_profile: Option<ManagedFargateProfile>,
}

/// A trust-policy statement the operator added: for EMR's service accounts (no
/// `serviceAccount`) or for one IRSA service account.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrustStatementRef {
    /// ARN of the role whose trust policy carries the statement.
    pub role_arn: String,
    /// The IRSA service account the statement trusts; absent for EMR's job service accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// The namespace the statement trusts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The account of the OIDC provider the statement names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The OIDC provider the statement names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_provider: Option<String>,
}

impl VirtualCluster {
    /// The EMR virtual cluster's name: `spec.virtualClusterName`, else the object's name fitted
    /// to EMR's 64 characters (see [`crate::emr_name::fit_resource_name`]).
    pub fn emr_name(&self) -> String {
        self.spec.virtual_cluster_name.clone().unwrap_or_else(|| {
            crate::emr_name::fit_resource_name(self.metadata.name.as_deref().unwrap_or_default())
        })
    }

    /// Whether a job execution role ARN is one this virtual cluster allows.
    pub fn allows_execution_role(&self, role_arn: &str) -> bool {
        self.spec.execution_roles.iter().any(|r| r.arn == role_arn)
    }
}

/// Condition types of a VirtualCluster, one per part plus the roll-up.
pub mod condition_types {
    pub const NAMESPACE_READY: &str = "NamespaceReady";
    pub const EMR_ACCESS_READY: &str = "EmrAccessReady";
    pub const TRUST_POLICIES_READY: &str = "TrustPoliciesReady";
    pub const SERVICE_ACCOUNTS_READY: &str = "ServiceAccountsReady";
    pub const VIRTUAL_CLUSTER_READY: &str = "VirtualClusterReady";
    /// Only when `spec.fargate` is set (or a profile the operator made is still being removed).
    pub const FARGATE_PROFILE_READY: &str = "FargateProfileReady";
    pub const READY: &str = "Ready";
    /// Informational, not rolled up into `Ready`: whether the podTemplateStore's bucket is in
    /// this virtual cluster's account (reason `SameAccount` or `OtherAccount`). The operator
    /// cannot check the job roles' s3:GetObject there.
    pub const POD_TEMPLATE_STORE: &str = "PodTemplateStore";
    /// The parts rolled up into `Ready`, in the order they are converged.
    pub const PARTS: [&str; 5] = [
        NAMESPACE_READY,
        EMR_ACCESS_READY,
        TRUST_POLICIES_READY,
        SERVICE_ACCOUNTS_READY,
        VIRTUAL_CLUSTER_READY,
    ];
}

/// A map of resource names to quantities, without k8s-openapi's page-long Quantity essay
/// repeated under every key.
fn quantity_map(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "maxProperties": 100,
        "additionalProperties": {
            "x-kubernetes-int-or-string": true,
            "pattern": "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$"
        }
    })
}

fn default_true() -> bool {
    true
}
