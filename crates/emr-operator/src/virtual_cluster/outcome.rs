//! What one step found ([`Outcome`]: its condition's status, reason and message) and when it
//! wants the object looked at again ([`Retry`], [`requeue_after`]). Pure.

use std::time::Duration;

use emr_api::condition::ConditionStatus;

use crate::kit::Category;

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
    /// The kind of trouble behind a failure: picks how long the backoff waits
    /// ([`Category::Other`] unless [`Outcome::because`] says otherwise).
    pub category: Category,
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
            category: Category::Other,
        }
    }

    /// The same outcome, caused by trouble of `category`.
    pub fn because(self, category: Category) -> Self {
        Self { category, ..self }
    }

    pub fn is_ready(&self) -> bool {
        self.status == ConditionStatus::True
    }
}

/// How long until the next look. `backoff` gives the delay after a failure (it counts the
/// streak, so it is asked only then); whatever it says, the periodic resync comes no later.
pub fn requeue_after(
    retry: Retry,
    resync: Duration,
    poll: Duration,
    backoff: impl FnOnce() -> Duration,
) -> Duration {
    match retry {
        Retry::Resync => resync,
        Retry::Poll => poll.min(resync),
        Retry::Backoff => backoff().min(resync.max(poll)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requeue_policy() {
        let resync = Duration::from_secs(300);
        let poll = Duration::from_secs(5);
        let never = || -> Duration { panic!("asked for a backoff without a failure") };
        assert_eq!(requeue_after(Retry::Resync, resync, poll, never), resync);
        assert_eq!(requeue_after(Retry::Poll, resync, poll, never), poll);
        let eight = || Duration::from_secs(8);
        assert_eq!(
            requeue_after(Retry::Backoff, resync, poll, eight),
            Duration::from_secs(8)
        );
        let long = || Duration::from_secs(1 << 20);
        assert_eq!(requeue_after(Retry::Backoff, resync, poll, long), resync);
    }
}
