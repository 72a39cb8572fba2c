//! `spec.guardRails.networkPolicy`: the tenant NetworkPolicy's name, egress and instance-metadata
//! blocking.

use k8s_openapi::api::networking::v1::NetworkPolicyEgressRule;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::patterns;

/// The NetworkPolicy the guard rails create. Ingress is always "only from pods of this
/// namespace" (`podSelector: {}` in `from`, which no label on another namespace can widen).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    /// The object's name (default `emr-tenant-isolation`; the multi-tenancy post names it
    /// `default-np-ns1`). Renaming deletes the operator's object of the old name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = patterns::DNS_SUBDOMAIN))]
    pub name: Option<String>,
    /// `Open` (default): egress is not restricted (drivers must reach S3, EMR, STS, CloudWatch
    /// and the Kubernetes API). `SameNamespace`: only to pods of this namespace and to DNS (port
    /// 53), which also cuts off S3 and the Kubernetes API: add what jobs need with `Custom`.
    /// `Custom`: exactly `egressRules`.
    #[serde(default)]
    pub egress: EgressMode,
    /// The egress rules for `egress: Custom` (at most 20), as in a NetworkPolicy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub egress_rules: Vec<NetworkPolicyEgressRule>,
    /// Deny egress to the instance metadata endpoint `169.254.169.254/32` (and IPv6
    /// `fd00:ec2::254/128`), so pods cannot take the node's instance-profile credentials. Enforced
    /// only by a CNI that enforces NetworkPolicy egress; blocking on the node (IMDSv2 with hop
    /// limit 1) is the stronger control.
    #[serde(default)]
    pub block_instance_metadata: bool,
}

/// See [`NetworkPolicySpec::egress`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum EgressMode {
    #[default]
    Open,
    SameNamespace,
    Custom,
}

/// What the schema cannot say: egress rules are only read with `egress: Custom`, so rules
/// given with another mode would be silently ignored.
pub fn check_network_policy(
    policy: &NetworkPolicySpec,
    errors: &mut Vec<crate::check::FieldError>,
) {
    if policy.egress != EgressMode::Custom && !policy.egress_rules.is_empty() {
        errors.push(crate::check::FieldError {
            field: "spec.guardRails.networkPolicy.egressRules".into(),
            message: format!(
                "is used only with egress: Custom (egress is {:?}): set egress: Custom or remove the rules",
                policy.egress
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn egress_rules_need_custom() {
        let mut errors = Vec::new();
        let policy: NetworkPolicySpec = serde_json::from_value(
            serde_json::json!({"egressRules": [{"to": [{"podSelector": {}}]}]}),
        )
        .unwrap();
        check_network_policy(&policy, &mut errors);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "spec.guardRails.networkPolicy.egressRules");
        let custom = NetworkPolicySpec {
            egress: EgressMode::Custom,
            ..policy
        };
        errors.clear();
        check_network_policy(&custom, &mut errors);
        assert!(errors.is_empty());
    }
}
