//! `SecurityConfiguration` (cluster-scoped): an EMR on EKS security configuration kept in Git.
//! Immutable in EMR like job templates, so replaced and retired the same way; VirtualClusters
//! reference it with `spec.securityConfiguration.name`.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::emr_object::emr_object_status;
use crate::patterns;

/// EMR's CreateSecurityConfiguration, in EMR's own field names.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "emr-on-eks.dev",
    version = "v1alpha1",
    kind = "SecurityConfiguration",
    doc = "An EMR on EKS security configuration (encryption in transit, Lake Formation authorization) kept in Git; VirtualClusters reference it by name.",
    plural = "securityconfigurations",
    shortname = "emrsc",
    category = "emr",
    status = "SecurityConfigurationStatus",
    printcolumn = r#"{"name":"ID","type":"string","jsonPath":".status.securityConfigurationId"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Previous","type":"string","priority":1,"jsonPath":".status.previous[*].id"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.message"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SecurityConfigurationSpec {
    /// Name of the EMR security configuration. Defaults to the object's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = patterns::RESOURCE_NAME))]
    pub name: Option<String>,
    /// EMR's securityConfigurationData.
    pub security_configuration_data: SecurityConfigurationData,
    /// Tags for the EMR security configuration (at most 47: the operator adds three).
    #[serde(default)]
    #[schemars(extend("maxProperties" = 47, "additionalProperties" = {"type": "string", "maxLength": 256}))]
    pub tags: BTreeMap<String, String>,
}

emr_object_status!(
    /// The observed state of a SecurityConfiguration.
    SecurityConfigurationStatus,
    /// Id of the EMR security configuration that serves the current spec; new virtual clusters
    /// get it.
    security_configuration_id
);

/// EMR's SecurityConfigurationData.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityConfigurationData {
    /// Lake Formation authorization and encryption in transit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_configuration: Option<AuthorizationConfiguration>,
}

/// EMR's AuthorizationConfiguration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationConfiguration {
    /// Lake Formation settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lake_formation_configuration: Option<LakeFormationConfiguration>,
    /// Encryption in transit (EMR's model keeps it under authorizationConfiguration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_configuration: Option<EncryptionConfiguration>,
}

/// EMR's LakeFormationConfiguration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LakeFormationConfiguration {
    /// The session tag value Lake Formation trusts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512), regex(pattern = patterns::SESSION_TAG_VALUE))]
    pub authorized_session_tag_value: Option<String>,
    /// The namespace where the secure (system) components run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_namespace_info: Option<SecureNamespaceInfo>,
    /// The query engine role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 20, max = 2048), regex(pattern = patterns::IAM_ROLE_ARN))]
    pub query_engine_role_arn: Option<String>,
}

/// EMR's SecureNamespaceInfo.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecureNamespaceInfo {
    /// The EKS cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100), regex(pattern = patterns::EKS_CLUSTER_NAME))]
    pub cluster_id: Option<String>,
    /// The namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), regex(pattern = patterns::NAMESPACE_NAME))]
    pub namespace: Option<String>,
}

/// EMR's EncryptionConfiguration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionConfiguration {
    /// Encryption in transit between Spark's processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_transit_encryption_configuration: Option<InTransitEncryptionConfiguration>,
}

/// EMR's InTransitEncryptionConfiguration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InTransitEncryptionConfiguration {
    /// The TLS certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_certificate_configuration: Option<TlsCertificateConfiguration>,
}

/// EMR's TLSCertificateConfiguration: PEM certificates in Secrets Manager.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsCertificateConfiguration {
    /// Only `PEM` (the default).
    #[serde(default)]
    pub certificate_provider_type: CertificateProviderType,
    /// Secrets Manager ARN of the public certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 2048), regex(pattern = patterns::SECRETS_MANAGER_ARN))]
    pub public_certificate_secret_arn: Option<String>,
    /// Secrets Manager ARN of the private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 2048), regex(pattern = patterns::SECRETS_MANAGER_ARN))]
    pub private_certificate_secret_arn: Option<String>,
}

/// EMR's CertificateProviderType.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CertificateProviderType {
    #[default]
    #[serde(rename = "PEM")]
    Pem,
}

impl SecurityConfiguration {
    /// The EMR security configuration's name: `spec.name`, else the object's name fitted.
    pub fn emr_name(&self) -> String {
        self.spec.name.clone().unwrap_or_else(|| {
            crate::emr_name::fit_resource_name(self.metadata.name.as_deref().unwrap_or_default())
        })
    }
}
