//! Step 4: IRSA service accounts annotated with their role ([`plan`], [`apply`]); each role's
//! trust in exactly its service account is the trust step's. Condition `ServiceAccountsReady`.

pub mod apply;
pub mod plan;

pub use apply::converge;
