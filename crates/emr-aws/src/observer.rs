//! A hook the operator uses to count calls, faults and throttles per operation (e.g. in
//! Prometheus) without this crate depending on a metrics library.

use std::time::Duration;

use crate::error::FaultKind;
use crate::operation::Operation;

/// How one AWS call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallOutcome {
    Ok,
    Fault(FaultKind),
}

impl CallOutcome {
    /// A stable label value: "ok", or the fault kind ("Throttled", "NotFound", ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::Fault(kind) => kind.as_str(),
        }
    }
}

/// Told about every AWS API request this crate sends (each page of a listing counts once).
/// Called on the request's task: keep it cheap and non-blocking.
pub trait CallObserver: Send + Sync {
    fn observe(&self, op: Operation, outcome: CallOutcome, elapsed: Duration) {
        let _ = (op, outcome, elapsed);
    }

    /// Told when a call waited `waited` for a token of the client-side rate limit
    /// ([`crate::pacing`]) before it was sent.
    fn paced(&self, op: Operation, waited: Duration) {
        let _ = (op, waited);
    }

    /// Told when a call was not sent because its service is down ([`crate::outage`]).
    fn held(&self, op: Operation) {
        let _ = op;
    }
}

/// Observes nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopObserver;

impl CallObserver for NoopObserver {}
