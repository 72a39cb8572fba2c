//! What one step found ([`Outcome`]: its condition's status, reason and message) and when it
//! wants the object looked at again ([`Retry`], [`requeue_after`]). Pure.

use std::time::Duration;

use emr_api::condition::ConditionStatus;

/// When the step wants the object looked at again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Retry {
    /// Converged: only the periodic resync (IAM drift has no watch).
    Resync,
    /// Waiting on something that moves by itself (EMR terminating a virtual cluster).
    Poll,
    /// Failed: back off with jitter, longer after each failure.
    Backoff,
}

/// The result of one step, which becomes its condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub status: ConditionStatus,
    pub reason: String,
    pub message: String,
    pub retry: Retry,
}

impl Outcome {
    pub fn ready(reason: &str, message: impl Into<String>) -> Self {
        Self::new(ConditionStatus::True, reason, message, Retry::Resync)
    }

    /// Not there yet, and it will get there by itself; looked at again soon.
    pub fn waiting(reason: &str, message: impl Into<String>) -> Self {
        Self::new(ConditionStatus::False, reason, message, Retry::Poll)
    }

    /// Not there, and retrying needs backoff (an error, or a person must act).
    pub fn failed(reason: &str, message: impl Into<String>) -> Self {
        Self::new(ConditionStatus::False, reason, message, Retry::Backoff)
    }

    /// Not attempted because an earlier step it needs is not ready. It retries with that step,
    /// so it adds no urgency of its own.
    pub fn blocked(on: &str, message: impl Into<String>) -> Self {
        Self::new(
            ConditionStatus::False,
            &format!("Waiting{on}"),
            message,
            Retry::Resync,
        )
    }

    pub fn unknown(reason: &str, message: impl Into<String>) -> Self {
        Self::new(ConditionStatus::Unknown, reason, message, Retry::Poll)
    }

    fn new(
        status: ConditionStatus,
        reason: &str,
        message: impl Into<String>,
        retry: Retry,
    ) -> Self {
        Self {
            status,
            reason: reason.to_owned(),
            message: message.into(),
            retry,
        }
    }

    pub fn is_ready(&self) -> bool {
        self.status == ConditionStatus::True
    }
}

/// How long until the next look, and the failure count to remember for the one after.
pub fn requeue_after(
    retry: Retry,
    failures: u32,
    resync: Duration,
    poll: Duration,
    backoff: impl Fn(u32) -> Duration,
) -> (Duration, u32) {
    match retry {
        Retry::Resync => (resync, 0),
        Retry::Poll => (poll.min(resync), 0),
        Retry::Backoff => (
            backoff(failures).min(resync.max(poll)),
            failures.saturating_add(1),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requeue_policy() {
        let resync = Duration::from_secs(300);
        let poll = Duration::from_secs(5);
        let backoff = |n: u32| Duration::from_secs(1 << n.min(20));
        assert_eq!(
            requeue_after(Retry::Resync, 4, resync, poll, backoff),
            (resync, 0)
        );
        assert_eq!(
            requeue_after(Retry::Poll, 4, resync, poll, backoff),
            (poll, 0)
        );
        assert_eq!(
            requeue_after(Retry::Backoff, 3, resync, poll, backoff),
            (Duration::from_secs(8), 4)
        );
        assert_eq!(
            requeue_after(Retry::Backoff, 30, resync, poll, backoff).0,
            resync
        );
    }
}
