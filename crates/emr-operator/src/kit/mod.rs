//! The controller kit: what every controller (SparkJobRun, VirtualCluster, and the kinds to
//! come) does the same way, so each does it one way.
//!
//! - [`status`]: the one status writer. Every write names its [`Precondition`] (the
//!   resourceVersion the status was computed from); a refused write comes back as
//!   [`WriteError::Conflict`] (409) or [`WriteError::Gone`] (404), the "read afresh and decide
//!   again" path, apart from real failures.
//! - [`finalizer`]: adding and removing the controller's finalizer on exactly the version read,
//!   with the same typed errors.
//! - [`error`]: the [`ReconcileError`] trait. Each controller's error gives its [`Category`]
//!   (throttled, transient AWS, apiserver unreachable, conflict, terminal input, panicked,
//!   other), which picks the backoff, and its metric label; the category names the condition
//!   reason unless the controller knows better. Also the one place that reads Kubernetes error
//!   codes ([`error::kube_code`], [`error::is_conflict`], ...).
//! - [`backoff`]: jittered exponential delays, the per-category [`Backoff`] bounds and
//!   [`Streaks`], the per-object failure streak (generic over the key).
//! - [`events`]: the one Event publisher and the one [`Event`] type a controller hands it.
//! - [`panic_guard`]: a panic inside one reconcile ends that reconcile only.
//! - [`relist`]: what a watch event asks to reconcile, a list's objects only once the store
//!   holds them.
//! - [`span`]: the tracing span every reconcile runs in (controller, object, attempt).
//! - `testing` (tests only): a mock apiserver that answers a real `kube::Client` request by
//!   request, so the I/O of a reconcile is tested without a cluster.
//!
//! Metric labels follow one scheme, applied in [`crate::metrics`]: the controller label is the
//! kind (`SparkJobRun`, `VirtualCluster`) and error labels are UpperCamelCase.

pub mod backoff;
pub mod error;
pub mod events;
pub mod finalizer;
pub mod panic_guard;
pub mod relist;
pub mod span;
pub mod status;
#[cfg(test)]
pub mod testing;

pub use backoff::{Backoff, Bounds, Streaks};
pub use error::{Category, ReconcileError};
pub use events::{Event, EventPublisher};
pub use status::{FIELD_MANAGER, Precondition, WriteError};
