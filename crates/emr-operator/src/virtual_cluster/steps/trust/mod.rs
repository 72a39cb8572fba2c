//! Step 3 (and the trust half of step 4): the statements the spec asks for on IAM roles' trust
//! policies, recorded in `status.managed` so they can be taken back ([`plan`]), added and removed
//! through IAM ([`apply`]). Condition `TrustPoliciesReady`.

pub mod apply;
pub mod plan;

pub use apply::converge;
