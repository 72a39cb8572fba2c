//! Virtual clusters as plain Rust values, so the operator's logic can be tested without the SDK.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::time::to_chrono;

/// What the operator asks CreateVirtualCluster for: one namespace of one EKS cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateVirtualClusterRequest {
    pub name: String,
    pub eks_cluster_name: String,
    pub namespace: String,
    /// Idempotency token; a deterministic one makes a retried create harmless.
    pub client_token: String,
    pub tags: BTreeMap<String, String>,
    pub security_configuration_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedVirtualCluster {
    pub id: String,
    pub arn: Option<String>,
    pub name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualClusterInfo {
    pub id: String,
    pub name: Option<String>,
    pub arn: Option<String>,
    pub state: VirtualClusterState,
    /// The container provider id, which for EKS is the cluster name.
    pub eks_cluster_name: Option<String>,
    pub namespace: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub tags: BTreeMap<String, String>,
    pub security_configuration_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum VirtualClusterState {
    Running,
    Terminating,
    Terminated,
    Arrested,
    /// A state this version does not know; kept verbatim rather than guessed.
    Unknown(String),
}

impl VirtualClusterState {
    /// RUNNING and ARRESTED clusters still hold their namespace: EMR allows only one
    /// non-terminated virtual cluster per namespace.
    pub fn holds_namespace(&self) -> bool {
        !matches!(self, VirtualClusterState::Terminated)
    }

    pub fn as_str(&self) -> &str {
        match self {
            VirtualClusterState::Running => "RUNNING",
            VirtualClusterState::Terminating => "TERMINATING",
            VirtualClusterState::Terminated => "TERMINATED",
            VirtualClusterState::Arrested => "ARRESTED",
            VirtualClusterState::Unknown(other) => other,
        }
    }
}

impl FromStr for VirtualClusterState {
    type Err = Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "RUNNING" => VirtualClusterState::Running,
            "TERMINATING" => VirtualClusterState::Terminating,
            "TERMINATED" => VirtualClusterState::Terminated,
            "ARRESTED" => VirtualClusterState::Arrested,
            other => VirtualClusterState::Unknown(other.to_owned()),
        })
    }
}

impl std::fmt::Display for VirtualClusterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&aws_sdk_emrcontainers::types::VirtualClusterState> for VirtualClusterState {
    fn from(state: &aws_sdk_emrcontainers::types::VirtualClusterState) -> Self {
        let Ok(parsed) = state.as_str().parse();
        parsed
    }
}

impl From<&VirtualClusterState> for aws_sdk_emrcontainers::types::VirtualClusterState {
    fn from(state: &VirtualClusterState) -> Self {
        aws_sdk_emrcontainers::types::VirtualClusterState::from(state.as_str())
    }
}

pub(crate) fn virtual_cluster_info(
    vc: &aws_sdk_emrcontainers::types::VirtualCluster,
) -> Option<VirtualClusterInfo> {
    let provider = vc.container_provider();
    Some(VirtualClusterInfo {
        id: vc.id()?.to_owned(),
        name: vc.name().map(str::to_owned),
        arn: vc.arn().map(str::to_owned),
        state: vc.state().map_or(
            VirtualClusterState::Unknown(String::new()),
            VirtualClusterState::from,
        ),
        eks_cluster_name: provider.map(|p| p.id().to_owned()),
        namespace: provider
            .and_then(|p| p.info())
            .and_then(|info| info.as_eks_info().ok())
            .and_then(|eks| eks.namespace())
            .map(str::to_owned),
        created_at: vc.created_at().and_then(to_chrono),
        tags: vc
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        security_configuration_id: vc.security_configuration_id().map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_emrcontainers::types::{
        ContainerInfo, ContainerProvider, ContainerProviderType, EksInfo, VirtualCluster,
    };

    #[test]
    fn states_parse_and_print_in_emr_spelling() {
        for s in ["RUNNING", "TERMINATING", "TERMINATED", "ARRESTED", "NEW"] {
            let state: VirtualClusterState = s.parse().expect("infallible");
            assert_eq!(state.as_str(), s);
        }
        assert_eq!(
            "NEW".parse::<VirtualClusterState>().expect("infallible"),
            VirtualClusterState::Unknown("NEW".into())
        );
        assert!(VirtualClusterState::Arrested.holds_namespace());
        assert!(!VirtualClusterState::Terminated.holds_namespace());
    }

    #[test]
    fn converts_an_sdk_virtual_cluster() {
        let vc = VirtualCluster::builder()
            .id("vc1")
            .name("team-a")
            .state(aws_sdk_emrcontainers::types::VirtualClusterState::Running)
            .container_provider(
                ContainerProvider::builder()
                    .r#type(ContainerProviderType::Eks)
                    .id("prod")
                    .info(ContainerInfo::EksInfo(
                        EksInfo::builder().namespace("spark-a").build(),
                    ))
                    .build()
                    .expect("complete"),
            )
            .tags("owner", "a")
            .build();
        let info = virtual_cluster_info(&vc).expect("has id");
        assert_eq!(info.id, "vc1");
        assert_eq!(info.state, VirtualClusterState::Running);
        assert_eq!(info.eks_cluster_name.as_deref(), Some("prod"));
        assert_eq!(info.namespace.as_deref(), Some("spark-a"));
        assert_eq!(info.tags.get("owner").map(String::as_str), Some("a"));
    }
}
