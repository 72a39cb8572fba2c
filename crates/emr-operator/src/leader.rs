//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several replicas at most one
//! acts at any moment. It follows client-go's `leaderelection`:
//!
//! - A standby judges expiry by its own monotonic clock: a Lease is expired when this replica
//!   has seen no change to it for the Lease's duration ([`Observation`]), never by comparing the
//!   holder's `renewTime` with its own wall clock, so a holder with a skewed clock cannot make a
//!   standby take over early (or late).
//! - The leader counts its renew deadline from the moment it *sent* its last successful renewal,
//!   which is before any standby can have seen that renewal. It stops acting once the deadline
//!   passes, even with a Lease request still unanswered, and the deadline is shorter than the
//!   Lease duration ([`LeaderTiming`]): the old leader has stopped before any standby's clock says
//!   the Lease expired.
//! - Every Lease request has its own timeout, shorter than the renew deadline.
//!
//! The decisions are pure ([`decide`], [`Observation::update`], [`LeaderTiming::new`]);
//! [`LeaderElector`] does the apiserver I/O with optimistic concurrency (resourceVersion), so two
//! replicas racing for a free Lease cannot both win.

mod elector;
mod lease;
mod timing;

pub use elector::{Hold, LeaderElector, LeaderError};
pub use lease::{LeaseAction, Observation, decide};
pub use timing::{LeaderTiming, TimingError};

#[cfg(test)]
mod tests;
