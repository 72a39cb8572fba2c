//! Step 5: the EMR virtual cluster, found again by its id, adopted when one already serves the
//! namespace, else created under an idempotency token ([`plan`]), through EMR ([`apply`]).
//! Condition `VirtualClusterReady`.

pub mod apply;
pub mod plan;
pub mod security;

pub use apply::converge;
