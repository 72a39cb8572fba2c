//! Step 1: the namespace, created or adopted (never taken from another VirtualCluster), and its
//! guard rails (ResourceQuota, LimitRange, NetworkPolicy). Condition `NamespaceReady`.

pub mod apply;
pub mod egress;
pub mod plan;

pub use apply::converge;
