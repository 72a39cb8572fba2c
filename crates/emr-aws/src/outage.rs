//! Holding calls while a service is down.
//!
//! When a service stops answering (connections refused, timeouts, 5xx), every reconcile that
//! needs it retries on its own backoff: with thousands of objects that is hundreds of calls a
//! second into the outage, each one a request a recovering service must turn away. After a few
//! such failures in a row the client holds the service for a short while: calls fail at once
//! with [`FaultKind::Unavailable`] without being sent (callers already treat that as "try again
//! later", and a StartJobRun that was not sent is the same to them as one whose answer was
//! lost). Then one call probes; the first answer that is not an outage lets everything through
//! again, a probe that fails doubles the hold (up to [`MOST_HOLD`]).
//!
//! Time is passed in, so tests control it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{AwsFault, FaultKind};
use crate::operation::Operation;

/// Failures in a row (with no answer between them) before calls are held.
const FAILURES_BEFORE_HOLD: u32 = 3;
/// The first hold.
const FIRST_HOLD: Duration = Duration::from_secs(1);
/// The longest hold: how late, at worst, calls resume after the service is back.
pub const MOST_HOLD: Duration = Duration::from_secs(10);

/// Whether a call may be sent now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Send it; `probe` when it is the one call that tests a held service.
    Send { probe: bool },
    /// Do not send it: the service is held for this much longer.
    Held(Duration),
}

#[derive(Debug, Default)]
struct State {
    /// Outage failures in a row since the last answer.
    failures: u32,
    /// Until when calls are held, once they are.
    held_until: Option<Instant>,
    /// The current hold's length (doubles with each failed probe).
    hold: Duration,
    /// When the probe in flight was sent.
    probe_sent: Option<Instant>,
}

/// One service's outage state, shared by every clone of its client.
#[derive(Clone, Debug, Default)]
pub(crate) struct Outage {
    state: Arc<Mutex<State>>,
}

impl Outage {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        // The state stays consistent even if a holder panicked: every update is one assignment.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut state)
    }

    /// Whether a call may be sent at `now`.
    pub(crate) fn admit(&self, now: Instant) -> Admission {
        self.with(|s| {
            let Some(until) = s.held_until else {
                return Admission::Send { probe: false };
            };
            if now < until {
                return Admission::Held(until.saturating_duration_since(now));
            }
            match s.probe_sent {
                // One probe at a time; a probe that never answers does not hold forever.
                Some(sent) if now.saturating_duration_since(sent) < MOST_HOLD => {
                    Admission::Held(FIRST_HOLD)
                }
                _ => {
                    s.probe_sent = Some(now);
                    Admission::Send { probe: true }
                }
            }
        })
    }

    /// Records how a sent call ended: `outage` when the service did not answer (or answered
    /// 5xx), `probe` when it was the probe [`Outage::admit`] let through.
    pub(crate) fn record(&self, outage: bool, probe: bool, now: Instant) {
        self.with(|s| {
            if !outage {
                *s = State::default();
                return;
            }
            if probe {
                s.probe_sent = None;
                s.hold = s.hold.saturating_mul(2).clamp(FIRST_HOLD, MOST_HOLD);
                s.held_until = Some(now + s.hold);
            } else if s.held_until.is_none() {
                s.failures = s.failures.saturating_add(1);
                if s.failures >= FAILURES_BEFORE_HOLD {
                    s.hold = FIRST_HOLD;
                    s.held_until = Some(now + s.hold);
                }
            }
            // Otherwise a call sent before the hold began: the hold already counts it.
        })
    }
}

/// The error a held call returns.
pub(crate) fn held_fault(op: Operation, left: Duration) -> AwsFault {
    AwsFault {
        kind: FaultKind::Unavailable,
        code: None,
        message: format!(
            "{} is not answering; {} was not sent (calls resume in at most {} ms)",
            op.service(),
            op.as_str(),
            left.as_millis()
        ),
        request_id: None,
        http_status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(outage: &Outage, n: u32, now: Instant) {
        for _ in 0..n {
            outage.record(true, false, now);
        }
    }

    #[test]
    fn calls_are_held_only_after_failures_in_a_row() {
        let outage = Outage::default();
        let now = Instant::now();
        fail(&outage, 2, now);
        assert_eq!(outage.admit(now), Admission::Send { probe: false });
        // An answer (even an error that is not an outage) ends the streak.
        outage.record(false, false, now);
        fail(&outage, 2, now);
        assert_eq!(outage.admit(now), Admission::Send { probe: false });
        fail(&outage, 1, now);
        assert_eq!(outage.admit(now), Admission::Held(FIRST_HOLD));
    }

    #[test]
    fn one_probe_after_the_hold_and_a_failed_probe_doubles_it_up_to_the_most() {
        let outage = Outage::default();
        let mut now = Instant::now();
        fail(&outage, FAILURES_BEFORE_HOLD, now);
        // Calls that were in flight when the hold began do not lengthen it.
        fail(&outage, 20, now);
        assert_eq!(outage.admit(now), Admission::Held(FIRST_HOLD));
        let mut hold = FIRST_HOLD;
        for _ in 0..6 {
            now += hold;
            assert_eq!(outage.admit(now), Admission::Send { probe: true });
            // While the probe is out, everything else waits.
            assert!(matches!(outage.admit(now), Admission::Held(_)));
            outage.record(true, true, now);
            hold = (hold * 2).min(MOST_HOLD);
            assert_eq!(outage.admit(now), Admission::Held(hold));
        }
        assert_eq!(hold, MOST_HOLD);
        now += hold;
        assert_eq!(outage.admit(now), Admission::Send { probe: true });
        outage.record(false, true, now);
        assert_eq!(outage.admit(now), Admission::Send { probe: false });
        // A fresh outage starts from the first hold again.
        fail(&outage, FAILURES_BEFORE_HOLD, now);
        assert_eq!(outage.admit(now), Admission::Held(FIRST_HOLD));
    }

    #[test]
    fn a_probe_that_never_answers_does_not_hold_forever() {
        let outage = Outage::default();
        let mut now = Instant::now();
        fail(&outage, FAILURES_BEFORE_HOLD, now);
        now += FIRST_HOLD;
        assert_eq!(outage.admit(now), Admission::Send { probe: true });
        now += MOST_HOLD;
        assert_eq!(outage.admit(now), Admission::Send { probe: true });
    }

    #[test]
    fn the_held_error_says_what_was_not_sent_and_is_retryable() {
        let fault = held_fault(Operation::StartJobRun, Duration::from_millis(1500));
        assert_eq!(fault.kind, FaultKind::Unavailable);
        assert!(fault.kind.is_retryable());
        assert!(
            fault.message.contains("StartJobRun was not sent"),
            "{fault}"
        );
        assert!(fault.message.contains("1500 ms"), "{fault}");
    }
}
