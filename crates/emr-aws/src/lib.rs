//! The AWS layer of emr-on-eks-operator: EMR on EKS (emr-containers), IAM, EKS, STS and S3 calls
//! with typed, classified errors and a per-call observer hook, plus the pure trust-policy logic
//! behind "update-role-trust-policy done right".
//!
//! Knows nothing of Kubernetes: the operator converts its resources into the plain types here.

mod arn;
mod call;
pub mod config;
pub mod eks;
pub mod emr;
pub mod emr_objects;
pub mod error;
pub mod iam;
pub mod job_run;
pub mod job_template;
pub mod observer;
pub mod operation;
mod outage;
pub mod pacing;
mod pagination;
pub mod s3;
pub mod sts;
mod time;
pub mod trust_policy;
pub mod virtual_cluster;

#[cfg(any(test, feature = "test-server"))]
pub mod test_server;

use std::sync::Arc;

pub use arn::{Arn, account_of};
pub use config::{AwsClients, ClientOptions, load_sdk_config};
pub use eks::{
    CreateFargateProfileRequest, Eks, EksClusterInfo, FargateProfileInfo, FargateProfileState,
};
pub use emr::EmrContainers;
pub use emr_objects::{CreateEmrObject, CreatedEmrObject, SecurityConfigurationInfo};
pub use error::{AwsError, AwsFault, FaultKind};
pub use iam::{Iam, RoleInfo, TrustChange};
pub use job_run::{JobRunInfo, JobRunState, StartedJobRun};
pub use job_template::{JobTemplateInfo, TemplateParameterError};
pub use observer::{CallObserver, CallOutcome, NoopObserver};
pub use operation::Operation;
pub use pacing::{Pacer, Rate, RateLimitParseError, parse_rate_limit};
pub use s3::S3;
pub use sts::Sts;
pub use virtual_cluster::{
    CreateVirtualClusterRequest, CreatedVirtualCluster, VirtualClusterInfo, VirtualClusterState,
};

/// The SDK crates, so the operator builds `StartJobRunInput` and its nested types against the
/// exact versions this crate sends.
pub use aws_sdk_eks;
pub use aws_sdk_emrcontainers;
pub use aws_sdk_iam;
pub use aws_sdk_s3;
pub use aws_sdk_sts;

/// Every AWS API the operator uses, sharing one configuration and one observer.
#[derive(Clone, Debug)]
pub struct Aws {
    pub emr: EmrContainers,
    pub iam: Iam,
    pub eks: Eks,
    pub sts: Sts,
    pub s3: S3,
    region: Option<String>,
}

impl Aws {
    pub fn new(clients: &AwsClients, observer: Arc<dyn CallObserver>) -> Self {
        Aws {
            emr: EmrContainers::new(clients.emr_containers.clone(), observer.clone()),
            iam: Iam::new(clients.iam.clone(), observer.clone()),
            eks: Eks::new(clients.eks.clone(), observer.clone()),
            sts: Sts::new(clients.sts.clone(), observer.clone()),
            s3: S3::new(clients.s3.clone(), observer),
            region: clients.region().map(str::to_owned),
        }
    }

    /// Clients from the default AWS configuration chain (see [`config`]).
    pub async fn from_env(opts: ClientOptions, observer: Arc<dyn CallObserver>) -> Self {
        Aws::new(&AwsClients::from_env(opts).await, observer)
    }

    /// The same clients, every call taking a token from `pacer` first (one budget for all).
    pub fn with_pacer(self, pacer: Pacer) -> Self {
        Aws {
            emr: self.emr.with_pacer(pacer.clone()),
            iam: self.iam.with_pacer(pacer.clone()),
            eks: self.eks.with_pacer(pacer.clone()),
            sts: self.sts.with_pacer(pacer.clone()),
            s3: self.s3.with_pacer(pacer),
            region: self.region,
        }
    }

    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The partition of the configured region (`aws` when none is configured).
    pub fn partition(&self) -> &'static str {
        self.region
            .as_deref()
            .map_or("aws", trust_policy::partition_for_region)
    }
}
