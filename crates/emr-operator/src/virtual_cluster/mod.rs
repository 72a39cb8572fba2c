//! The VirtualCluster controller: one `kubectl apply` in place of the seed walkthroughs' fifteen
//! hand-run steps. For each VirtualCluster it converges, in order and idempotently, the
//! [`steps`]:
//!
//! 1. the namespace (created, or adopted) and its guard rails (`NamespaceReady`);
//! 2. EMR's access: the RoleBinding `emr-containers` and the aws-auth entry (`EmrAccessReady`);
//! 3. the execution roles' trust statements (`TrustPoliciesReady`);
//! 4. IRSA service accounts and their roles' trust (`ServiceAccountsReady`);
//! 5. the EMR virtual cluster (`VirtualClusterReady`);
//! 6. with `spec.fargate`, the EKS Fargate profile (`FargateProfileReady`);
//!
//! and rolls them up into `Ready`. Deletion is behind a finalizer ([`steps::cleanup`]).
//!
//! Layout: [`controller`] wires the watches; [`reconcile`] runs one reconcile (the steps in
//! order, or the cleanup) on a [`reconciliation::Reconciliation`] (the object, the status being
//! built, the changes made); each step lives in `steps/<step>/` with its pure `plan.rs` beside
//! its I/O `apply.rs`; [`children`] is what every object the operator makes in the namespace
//! shares; [`status`] turns outcomes into conditions and writes them; [`state`] is what the
//! controller remembers between reconciles. Status writes, the finalizer, error categories,
//! failure streaks, Events and the reconcile span come from the shared [`crate::kit`];
//! `io_tests` runs whole reconciles against the kit's mock apiserver and a scripted AWS.

mod children;
mod controller;
mod error;
#[cfg(test)]
mod io_tests;
mod names;
#[cfg(test)]
mod no_panic_tests;
mod outcome;
mod panic_report;
mod pod_template_store;
mod reconcile;
mod reconciliation;
mod state;
mod status;
mod steps;
mod sweep;

pub use controller::run;
pub use error::Error;
pub use names::{AWS_AUTH_ENTRY_ADDED_ANNOTATION, EMR_ROLE, IRSA_ROLE_ANNOTATION};
