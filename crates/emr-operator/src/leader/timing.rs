//! How long a Lease lasts, how long the leader acts without renewing it and how often it tries:
//! the settings, checked at startup so that two leaders can never overlap.

use std::time::Duration;

/// How leader election is timed; see [`LeaderTiming::new`] for the rules it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaderTiming {
    /// How long a standby waits, from the last change of the Lease it saw, before taking over.
    pub lease_duration: Duration,
    /// How long the leader goes on acting without a successful renewal.
    pub renew_deadline: Duration,
    /// How often the leader renews, and how often a standby looks at the Lease.
    pub retry_period: Duration,
}

/// Leader-election settings that could let two leaders overlap, refused at startup.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimingError {
    #[error(
        "the lease duration must be whole seconds of at least 1s (the Lease stores seconds), not {0:?}"
    )]
    LeaseDuration(Duration),
    #[error(
        "the renew deadline ({renew_deadline:?}) must end at least {margin:?} before the lease duration ({lease_duration:?}) does, for clock drift between hosts and the time the process takes to stop"
    )]
    RenewDeadline {
        renew_deadline: Duration,
        lease_duration: Duration,
        margin: Duration,
    },
    #[error(
        "the retry period ({retry_period:?}) must be more than zero and at most half the renew deadline ({renew_deadline:?}), so that a failed renewal is retried before the deadline"
    )]
    RetryPeriod {
        retry_period: Duration,
        renew_deadline: Duration,
    },
}

impl LeaderTiming {
    /// Checks the settings; an unset renew deadline is 2/3 of the lease duration and an unset
    /// retry period 2/15 of it (client-go's 15 s / 10 s / 2 s).
    ///
    /// The old leader stops at the latest `renew_deadline` after it sent its last renewal; a
    /// standby takes over at the earliest `lease_duration` after it saw that renewal, which is
    /// later than the sending. So `renew_deadline < lease_duration` is what keeps two leaders
    /// apart; the rest of the lease duration (at least a fifth) is the margin for clocks that
    /// run at slightly different rates and for the process to stop.
    pub fn new(
        lease_duration: Duration,
        renew_deadline: Option<Duration>,
        retry_period: Option<Duration>,
    ) -> Result<Self, TimingError> {
        if lease_duration.subsec_nanos() != 0 || lease_duration < Duration::from_secs(1) {
            return Err(TimingError::LeaseDuration(lease_duration));
        }
        let renew_deadline = renew_deadline.unwrap_or(lease_duration * 2 / 3);
        let margin = lease_duration / 5;
        if renew_deadline.is_zero() || renew_deadline.saturating_add(margin) > lease_duration {
            return Err(TimingError::RenewDeadline {
                renew_deadline,
                lease_duration,
                margin,
            });
        }
        let retry_period = retry_period.unwrap_or(lease_duration * 2 / 15);
        if retry_period.is_zero() || retry_period.saturating_mul(2) > renew_deadline {
            return Err(TimingError::RetryPeriod {
                retry_period,
                renew_deadline,
            });
        }
        Ok(Self {
            lease_duration,
            renew_deadline,
            retry_period,
        })
    }

    /// Timeout of one Lease request: a third of the renew deadline, so that a request stuck on
    /// a dead connection leaves time for a retry (read and write) on a fresh one.
    pub fn request_timeout(&self) -> Duration {
        self.renew_deadline / 3
    }

    /// The Lease's `leaseDurationSeconds` (whole seconds by [`LeaderTiming::new`]).
    pub(super) fn lease_seconds(&self) -> i32 {
        i32::try_from(self.lease_duration.as_secs()).unwrap_or(i32::MAX)
    }
}
