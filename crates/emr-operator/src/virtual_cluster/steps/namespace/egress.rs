//! The tenant NetworkPolicy's egress (`guardRails.networkPolicy`). Pure.
//!
//! The multi-tenancy post's policy lists `Egress` in `policyTypes` with no egress rule, which in
//! Kubernetes denies all egress, DNS included: its Spark jobs could reach neither S3 nor the
//! Kubernetes API. Hence an explicit choice: `Open` (no egress rules, the default), `SameNamespace`
//! (the post's intent, plus DNS), or `Custom` rules; and, as the post recommends, optionally no
//! way to the instance metadata endpoint.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use emr_api::virtual_cluster::{EgressMode, NetworkPolicySpec};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicyEgressRule, NetworkPolicyPeer, NetworkPolicyPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// EC2's instance metadata endpoint, IPv4 and IPv6 (Nitro).
pub const IMDS_V4: &str = "169.254.169.254/32";
pub const IMDS_V6: &str = "fd00:ec2::254/128";
const IMDS_V4_ADDR: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
const IMDS_V6_ADDR: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

/// The egress rules, or `None` for a policy that leaves egress alone (no `Egress` policy type).
pub fn rules(policy: &NetworkPolicySpec) -> Option<Vec<NetworkPolicyEgressRule>> {
    match policy.egress {
        EgressMode::Open => policy
            .block_instance_metadata
            .then(|| vec![rule(everywhere_but_metadata(), None)]),
        // Nothing but the namespace and the cluster DNS: the metadata endpoint is out anyway.
        EgressMode::SameNamespace => Some(vec![
            rule(
                vec![NetworkPolicyPeer {
                    pod_selector: Some(LabelSelector::default()),
                    ..NetworkPolicyPeer::default()
                }],
                None,
            ),
            dns(),
        ]),
        EgressMode::Custom if policy.block_instance_metadata => Some(
            policy
                .egress_rules
                .iter()
                .filter_map(without_metadata)
                .collect(),
        ),
        EgressMode::Custom => Some(policy.egress_rules.clone()),
    }
}

fn rule(
    to: Vec<NetworkPolicyPeer>,
    ports: Option<Vec<NetworkPolicyPort>>,
) -> NetworkPolicyEgressRule {
    NetworkPolicyEgressRule {
        to: Some(to),
        ports,
    }
}

/// Every destination but the metadata endpoint: all IPv4 and IPv6 addresses except it, and
/// every pod of the cluster (an `ipBlock` may not cover pod IPs, depending on the CNI).
fn everywhere_but_metadata() -> Vec<NetworkPolicyPeer> {
    let block = |cidr: &str, except: &str| NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: cidr.to_owned(),
            except: Some(vec![except.to_owned()]),
        }),
        ..NetworkPolicyPeer::default()
    };
    vec![
        block("0.0.0.0/0", IMDS_V4),
        block("::/0", IMDS_V6),
        NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector::default()),
            ..NetworkPolicyPeer::default()
        },
    ]
}

/// DNS to the cluster's CoreDNS pods (`k8s-app: kube-dns`, as EKS labels them).
fn dns() -> NetworkPolicyEgressRule {
    let port = |protocol: &str| NetworkPolicyPort {
        port: Some(IntOrString::Int(53)),
        protocol: Some(protocol.to_owned()),
        end_port: None,
    };
    rule(
        vec![NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector::default()),
            pod_selector: Some(LabelSelector {
                match_labels: Some([("k8s-app".to_owned(), "kube-dns".to_owned())].into()),
                match_expressions: None,
            }),
            ip_block: None,
        }],
        Some(vec![port("UDP"), port("TCP")]),
    )
}

/// A user's rule with the metadata endpoint taken out: a rule to every destination (no `to`)
/// becomes one to everywhere but it; an `ipBlock` that contains it gets it in `except`; an
/// `ipBlock` that is only the endpoint is dropped (an `except` equal to its `cidr` is refused by
/// the apiserver), and so is a rule left with no peer (an empty `to` would allow everything).
fn without_metadata(user: &NetworkPolicyEgressRule) -> Option<NetworkPolicyEgressRule> {
    let to: Vec<NetworkPolicyPeer> = match user.to.as_deref() {
        None | Some([]) => everywhere_but_metadata(),
        Some(peers) => peers.iter().filter_map(peer_without_metadata).collect(),
    };
    (!to.is_empty()).then(|| rule(to, user.ports.clone()))
}

fn peer_without_metadata(peer: &NetworkPolicyPeer) -> Option<NetworkPolicyPeer> {
    let Some(block) = &peer.ip_block else {
        return Some(peer.clone());
    };
    if [IMDS_V4, IMDS_V6]
        .iter()
        .any(|imds| same_single_address(&block.cidr, imds))
    {
        return None;
    }
    let mut except = block.except.clone().unwrap_or_default();
    for (imds, addr) in [
        (IMDS_V4, IpAddr::V4(IMDS_V4_ADDR)),
        (IMDS_V6, IpAddr::V6(IMDS_V6_ADDR)),
    ] {
        let excluded = except.iter().any(|e| cidr_contains(e, addr));
        if cidr_contains(&block.cidr, addr) && !excluded {
            except.push(imds.to_owned());
        }
    }
    Some(NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: block.cidr.clone(),
            except: (!except.is_empty()).then_some(except),
        }),
        ..peer.clone()
    })
}

/// Whether `cidr` is the single address `imds` (a /32 or /128 holding it).
fn same_single_address(cidr: &str, imds: &str) -> bool {
    let (Some((_, prefix)), Some((addr, full))) = (cidr.split_once('/'), imds.split_once('/'))
    else {
        return false;
    };
    let Ok(addr) = addr.parse::<IpAddr>() else {
        return false;
    };
    prefix == full && cidr_contains(cidr, addr)
}

/// Whether `cidr` (e.g. `10.0.0.0/8`) contains `addr`; `false` for anything unparsable (the
/// apiserver refuses it anyway).
fn cidr_contains(cidr: &str, addr: IpAddr) -> bool {
    let Some((net, prefix)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(prefix)) = (net.parse::<IpAddr>(), prefix.parse::<u32>()) else {
        return false;
    };
    match (net, addr) {
        (IpAddr::V4(net), IpAddr::V4(addr)) if prefix <= 32 => {
            let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
            u32::from(net) & mask == u32::from(addr) & mask
        }
        (IpAddr::V6(net), IpAddr::V6(addr)) if prefix <= 128 => {
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            u128::from(net) & mask == u128::from(addr) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(yaml: serde_json::Value) -> NetworkPolicySpec {
        serde_json::from_value(yaml).unwrap()
    }

    fn egress(p: serde_json::Value) -> serde_json::Value {
        serde_json::to_value(rules(&policy(p))).unwrap()
    }

    #[test]
    fn open_leaves_egress_alone_unless_metadata_is_blocked() {
        assert_eq!(egress(json!({})), json!(null));
        assert_eq!(
            egress(json!({"blockInstanceMetadata": true})),
            json!([{"to": [
                {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}},
                {"ipBlock": {"cidr": "::/0", "except": ["fd00:ec2::254/128"]}},
                {"namespaceSelector": {}}
            ]}])
        );
    }

    #[test]
    fn same_namespace_allows_the_namespace_and_dns_only() {
        assert_eq!(
            egress(json!({"egress": "SameNamespace"})),
            json!([
                {"to": [{"podSelector": {}}]},
                {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                 "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
            ])
        );
    }

    #[test]
    fn custom_rules_are_kept_and_an_empty_list_denies_all_egress() {
        let rules =
            json!([{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 443}]}]);
        assert_eq!(
            egress(json!({"egress": "Custom", "egressRules": rules})),
            rules
        );
        assert_eq!(egress(json!({"egress": "Custom"})), json!([]));
    }

    #[test]
    fn custom_rules_lose_the_metadata_endpoint_when_blocked() {
        let out = egress(
            json!({"egress": "Custom", "blockInstanceMetadata": true, "egressRules": [
                {"to": [{"ipBlock": {"cidr": "169.254.0.0/16"}}, {"ipBlock": {"cidr": "10.0.0.0/8"}}, {"podSelector": {}}]},
                {"ports": [{"port": 443}]},
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16"]}}]},
                {"to": [{"ipBlock": {"cidr": "fd00::/8"}}]}
            ]}),
        );
        assert_eq!(
            out[0]["to"][0]["ipBlock"]["except"],
            json!(["169.254.169.254/32"])
        );
        assert_eq!(
            out[0]["to"][1]["ipBlock"].get("except"),
            None,
            "10/8 does not hold it"
        );
        assert_eq!(out[0]["to"][2], json!({"podSelector": {}}));
        assert_eq!(out[1]["ports"], json!([{"port": 443}]));
        assert_eq!(
            out[1]["to"][0]["ipBlock"]["except"],
            json!(["169.254.169.254/32"])
        );
        assert_eq!(
            out[2]["to"][0]["ipBlock"]["except"],
            json!(["169.254.0.0/16"]),
            "already excluded by a wider except"
        );
        assert_eq!(
            out[3]["to"][0]["ipBlock"]["except"],
            json!(["fd00:ec2::254/128"])
        );
    }

    #[test]
    fn a_peer_that_is_only_the_metadata_endpoint_is_dropped_and_never_widens_its_rule() {
        let out = egress(
            json!({"egress": "Custom", "blockInstanceMetadata": true, "egressRules": [
                {"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}, {"ipBlock": {"cidr": "10.0.0.0/8"}}]},
                {"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}], "ports": [{"port": 80}]},
                {"to": [{"ipBlock": {"cidr": "fd00:ec2::254/128"}}]},
                {"to": [{"ipBlock": {"cidr": "169.254.169.254/31"}}]}
            ]}),
        );
        // The first keeps 10/8 only; the second and third are gone (an empty `to` would open
        // every destination); a /31 keeps its other address, with the endpoint excepted (a
        // strict subset, as the apiserver requires).
        assert_eq!(
            out,
            json!([
                {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]},
                {"to": [{"ipBlock": {"cidr": "169.254.169.254/31", "except": ["169.254.169.254/32"]}}]}
            ])
        );
    }

    #[test]
    fn cidrs_parse_safely() {
        let imds = IpAddr::V4(IMDS_V4_ADDR);
        assert!(cidr_contains("0.0.0.0/0", imds));
        assert!(cidr_contains("169.254.169.254/32", imds));
        assert!(!cidr_contains("169.254.169.0/32", imds));
        assert!(!cidr_contains("169.254.169.254/33", imds));
        assert!(!cidr_contains("nonsense", imds));
        assert!(!cidr_contains("::/0", imds));
        assert!(cidr_contains("::/0", IpAddr::V6(IMDS_V6_ADDR)));
    }
}
