//! A SecurityConfiguration's spec as EMR's SecurityConfigurationData (SDK types). Pure.

use emr_api::security_configuration::{
    AuthorizationConfiguration, CertificateProviderType, EncryptionConfiguration,
    SecurityConfigurationData,
};
use emr_aws::aws_sdk_emrcontainers::types as sdk;

pub fn security_configuration_data(
    data: &SecurityConfigurationData,
) -> sdk::SecurityConfigurationData {
    sdk::SecurityConfigurationData::builder()
        .set_authorization_configuration(
            data.authorization_configuration.as_ref().map(authorization),
        )
        .build()
}

fn authorization(a: &AuthorizationConfiguration) -> sdk::AuthorizationConfiguration {
    let lake = a.lake_formation_configuration.as_ref().map(|l| {
        sdk::LakeFormationConfiguration::builder()
            .set_authorized_session_tag_value(l.authorized_session_tag_value.clone())
            .set_secure_namespace_info(l.secure_namespace_info.as_ref().map(|n| {
                sdk::SecureNamespaceInfo::builder()
                    .set_cluster_id(n.cluster_id.clone())
                    .set_namespace(n.namespace.clone())
                    .build()
            }))
            .set_query_engine_role_arn(l.query_engine_role_arn.clone())
            .build()
    });
    sdk::AuthorizationConfiguration::builder()
        .set_lake_formation_configuration(lake)
        .set_encryption_configuration(a.encryption_configuration.as_ref().map(encryption))
        .build()
}

fn encryption(e: &EncryptionConfiguration) -> sdk::EncryptionConfiguration {
    let in_transit = e.in_transit_encryption_configuration.as_ref().map(|t| {
        let tls = t.tls_certificate_configuration.as_ref().map(|c| {
            sdk::TlsCertificateConfiguration::builder()
                .certificate_provider_type(match c.certificate_provider_type {
                    CertificateProviderType::Pem => sdk::CertificateProviderType::Pem,
                })
                .set_public_certificate_secret_arn(c.public_certificate_secret_arn.clone())
                .set_private_certificate_secret_arn(c.private_certificate_secret_arn.clone())
                .build()
        });
        sdk::InTransitEncryptionConfiguration::builder()
            .set_tls_certificate_configuration(tls)
            .build()
    });
    sdk::EncryptionConfiguration::builder()
        .set_in_transit_encryption_configuration(in_transit)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_and_lake_formation_map_field_by_field() {
        let data: SecurityConfigurationData = serde_json::from_value(serde_json::json!({
            "authorizationConfiguration": {
                "lakeFormationConfiguration": {
                    "authorizedSessionTagValue": "EMR on EKS Engine",
                    "secureNamespaceInfo": {"clusterId": "prod", "namespace": "system"},
                    "queryEngineRoleArn": "arn:aws:iam::123456789012:role/query-engine"
                },
                "encryptionConfiguration": {"inTransitEncryptionConfiguration": {
                    "tlsCertificateConfiguration": {
                        "certificateProviderType": "PEM",
                        "publicCertificateSecretArn": "arn:aws:secretsmanager:us-west-2:123456789012:secret:pub",
                        "privateCertificateSecretArn": "arn:aws:secretsmanager:us-west-2:123456789012:secret:key"
                    }}}
            }
        }))
        .unwrap();
        let sdk = security_configuration_data(&data);
        let auth = sdk.authorization_configuration().unwrap();
        let lake = auth.lake_formation_configuration().unwrap();
        assert_eq!(
            lake.authorized_session_tag_value(),
            Some("EMR on EKS Engine")
        );
        assert_eq!(
            lake.secure_namespace_info().unwrap().namespace(),
            Some("system")
        );
        let tls = auth
            .encryption_configuration()
            .and_then(|e| e.in_transit_encryption_configuration())
            .and_then(|t| t.tls_certificate_configuration())
            .unwrap();
        assert_eq!(
            tls.certificate_provider_type(),
            Some(&sdk::CertificateProviderType::Pem)
        );
        assert_eq!(
            tls.private_certificate_secret_arn(),
            Some("arn:aws:secretsmanager:us-west-2:123456789012:secret:key")
        );
    }
}
