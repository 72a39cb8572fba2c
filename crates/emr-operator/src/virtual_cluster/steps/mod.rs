//! The steps a VirtualCluster converges, in this order, each in its own directory with its pure
//! half (`plan.rs`: what should exist, built from the spec and what was read) beside its I/O half
//! (`apply.rs`: reading and writing the apiserver and AWS). Each step returns an
//! [`Outcome`](super::outcome::Outcome) that becomes its condition.
//!
//! 1. [`namespace`]: the namespace and its guard rails;
//! 2. [`access`]: EMR's RoleBinding and aws-auth entry;
//! 3. [`trust`]: the execution roles' trust statements;
//! 4. [`service_accounts`]: IRSA service accounts (their roles' trust through [`trust`]);
//! 5. [`emr_cluster`]: the EMR virtual cluster;
//! 6. [`fargate`]: the EKS Fargate profile, only with `spec.fargate`;
//!
//! and, on deletion, [`cleanup`] undoes them. [`cluster_facts`] is what steps 2 to 4 need to know
//! about the EKS cluster (account, OIDC provider).

pub mod access;
pub mod cleanup;
pub mod cluster_facts;
pub mod emr_cluster;
pub mod fargate;
pub mod namespace;
pub mod service_accounts;
pub mod trust;
