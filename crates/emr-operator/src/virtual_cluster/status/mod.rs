//! The VirtualCluster's status: the steps' outcomes as conditions and the Events a change of them
//! is worth ([`conditions`], pure), what a refused write had recorded carried into the next try
//! ([`carry`], pure), and the write itself with its Events ([`write`]).

pub mod carry;
pub mod conditions;
pub mod write;

pub use conditions::StepOutcomes;
pub use write::{finish, publish};
