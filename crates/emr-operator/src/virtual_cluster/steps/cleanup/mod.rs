//! Deletion, behind the finalizer: which SparkJobRuns hold it up and whether the namespace may
//! go ([`plan`]); then undoing the steps in order under the deletion policy ([`apply`]).

pub mod apply;
pub mod plan;

pub use apply::finish;
