//! Step 6 (only with `spec.fargate`): the EKS Fargate profile for the namespace, what seeds 000,
//! 003 and 004 make by hand. What should exist and what an observed profile means ([`plan`]),
//! EKS's one-operation-per-cluster rule kept inside the operator ([`slots`]), and the calls
//! ([`apply`]). Condition `FargateProfileReady`.
//!
//! Ownership is proven by EKS's tags, never by the status alone (a status can be written by
//! whoever may write `virtualclusters/status`): a profile is deleted only when EKS shows it
//! tagged with this object's uid. A profile of the same name without that tag is used when it is
//! exactly what the spec asks for (someone made it by hand, as the seeds do) but never deleted;
//! one tagged by another VirtualCluster, or different, is refused.

pub mod apply;
pub mod plan;
pub mod slots;

pub use apply::{converge, release_all};
pub use slots::ClusterSlots;
