//! The VirtualCluster controller: one `kubectl apply` in place of the seed walkthroughs' fifteen
//! hand-run steps. For each VirtualCluster it converges, in order and idempotently:
//!
//! 1. the namespace (created, or adopted) and its guard rails (`NamespaceReady`);
//! 2. EMR's access: Role and RoleBinding `emr-containers`, and the aws-auth entry (`EmrAccessReady`);
//! 3. the execution roles' trust statements (`TrustPoliciesReady`);
//! 4. IRSA service accounts and their roles' trust (`ServiceAccountsReady`);
//! 5. the EMR virtual cluster (`VirtualClusterReady`);
//!
//! and rolls them up into `Ready`. Deletion is behind a finalizer (see [`cleanup`]).
//!
//! Pure decisions live in `desired`, `emr_role`, `aws_auth`, `trust`, `emr_cluster`,
//! `job_runs`, `outcome` and `subset`; the `*_step`, `*_io`, `cleanup` and `reconcile` modules
//! talk to the apiserver and AWS.

mod access_step;
mod aws_auth;
mod aws_auth_io;
mod cleanup;
mod cluster;
mod controller;
mod desired;
mod emr_cluster;
mod emr_role;
mod emr_step;
mod error;
mod finalizer;
mod job_runs;
mod kube_io;
mod names;
mod namespace_step;
#[cfg(test)]
mod no_panic_tests;
mod outcome;
mod panic_report;
mod pass;
mod reconcile;
mod records;
mod service_account_step;
mod subset;
mod sweep;
mod trust;
mod trust_step;

pub use controller::run;
pub use error::Error;
pub use names::{AWS_AUTH_ENTRY_ADDED_ANNOTATION, EMR_ROLE, IRSA_ROLE_ANNOTATION};
