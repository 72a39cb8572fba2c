//! Step 2: EMR's access to the namespace. The RoleBinding `emr-containers` to the chart's
//! ClusterRole of EMR's rules ([`plan`]: the binding and the check every write passes; [`apply`]),
//! and, for clusters that authenticate through `kube-system/aws-auth`, EMR's mapRoles entry
//! ([`aws_auth`]); clusters on access entries need nothing more (EMR creates its own). Condition
//! `EmrAccessReady`.

pub mod apply;
pub mod aws_auth;
pub mod plan;

pub use apply::converge;
