//! Client-side pacing: one token bucket per AWS operation, so that a burst of work (thousands
//! of new objects after a sync) leaves at a steady rate instead of meeting a throttling storm
//! that the SDK's retries would only make worse.
//!
//! A call takes a token before it is sent; an empty bucket makes it wait (its place is reserved,
//! so waiters leave in order). Time is tokio's, so tests pause it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::operation::Operation;

/// A sustained rate with a burst on top.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Tokens added per second.
    pub per_second: f64,
    /// Most tokens the bucket holds (calls sent at once after a quiet spell).
    pub burst: u32,
}

/// Why a rate limit given on the command line was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RateLimitParseError {
    #[error("{0:?} is not OPERATION=RATE or OPERATION=RATE/BURST (e.g. StartJobRun=20/40)")]
    Shape(String),
    #[error("{0:?} is not an AWS operation this operator calls")]
    UnknownOperation(String),
    #[error("{0:?}: the rate must be a number of calls per second above 0 and at most 10000")]
    BadRate(String),
    #[error("{0:?}: the burst must be a whole number from 1 to 10000")]
    BadBurst(String),
}

/// Highest rate or burst accepted, far above any AWS quota: a typo, not a setting.
const MOST: f64 = 10_000.0;

/// One `OPERATION=RATE[/BURST]` limit; without a burst, twice the rate (at least 1).
pub fn parse_rate_limit(text: &str) -> Result<(Operation, Rate), RateLimitParseError> {
    let shape = || RateLimitParseError::Shape(text.to_owned());
    let (name, rate) = text.trim().split_once('=').ok_or_else(shape)?;
    let op = Operation::ALL
        .into_iter()
        .find(|op| op.as_str().eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| RateLimitParseError::UnknownOperation(name.trim().to_owned()))?;
    let (per_second, burst) = match rate.split_once('/') {
        Some((rate, burst)) => (rate, Some(burst)),
        None => (rate, None),
    };
    let per_second: f64 = per_second
        .trim()
        .parse()
        .ok()
        .filter(|r: &f64| r.is_finite() && *r > 0.0 && *r <= MOST)
        .ok_or_else(|| RateLimitParseError::BadRate(text.to_owned()))?;
    let burst = match burst {
        Some(burst) => burst
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|b| (1..=MOST as u32).contains(b))
            .ok_or_else(|| RateLimitParseError::BadBurst(text.to_owned()))?,
        // In range: per_second <= MOST, so the product fits.
        None => ((per_second * 2.0).ceil() as u32).max(1),
    };
    Ok((op, Rate { per_second, burst }))
}

#[derive(Debug)]
struct Bucket {
    rate: Rate,
    /// Below zero: tokens already promised to waiting calls.
    tokens: f64,
    refilled_at: Instant,
}

impl Bucket {
    /// Takes a token at `now`; returns how long the caller waits for it.
    fn take(&mut self, now: Instant) -> Duration {
        let elapsed = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.tokens =
            (self.tokens + elapsed * self.rate.per_second).min(f64::from(self.rate.burst));
        self.refilled_at = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            // Finite and small: per_second > 0 and the debt is bounded by the waiters.
            Duration::from_secs_f64(-self.tokens / self.rate.per_second)
        }
    }
}

/// The buckets, shared by every clone (all clients of one operator share one budget).
/// An operation without a bucket is not paced.
#[derive(Clone, Default)]
pub struct Pacer {
    buckets: Arc<HashMap<Operation, Mutex<Bucket>>>,
}

impl fmt::Debug for Pacer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pacer")
            .field("operations", &self.buckets.len())
            .finish()
    }
}

impl Pacer {
    /// Buckets start full: a fresh process may send a burst at once.
    pub fn new(rates: impl IntoIterator<Item = (Operation, Rate)>) -> Self {
        let now = Instant::now();
        let buckets = rates
            .into_iter()
            .map(|(op, rate)| {
                let bucket = Bucket {
                    rate,
                    tokens: f64::from(rate.burst),
                    refilled_at: now,
                };
                (op, Mutex::new(bucket))
            })
            .collect();
        Pacer {
            buckets: Arc::new(buckets),
        }
    }

    /// The rate `op` is paced at, if any.
    pub fn rate(&self, op: Operation) -> Option<Rate> {
        self.buckets
            .get(&op)
            .map(|b| b.lock().unwrap_or_else(PoisonError::into_inner).rate)
    }

    /// Waits for a token of `op`; returns how long it waited.
    pub async fn wait(&self, op: Operation) -> Duration {
        let Some(bucket) = self.buckets.get(&op) else {
            return Duration::ZERO;
        };
        // A panic cannot leave a bucket inconsistent (two plain fields), so poison is ignored.
        let wait = bucket
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        wait
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn pacer(op: Operation, per_second: f64, burst: u32) -> Pacer {
        Pacer::new([(op, Rate { per_second, burst })])
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_at_once_then_calls_leave_at_the_rate() {
        let pacer = pacer(Operation::StartJobRun, 2.0, 3);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(pacer.wait(Operation::StartJobRun).await, Duration::ZERO);
        }
        assert_eq!(Instant::now(), start, "the burst does not wait");
        assert_eq!(
            pacer.wait(Operation::StartJobRun).await,
            Duration::from_millis(500)
        );
        assert_eq!(
            pacer.wait(Operation::StartJobRun).await,
            Duration::from_millis(500)
        );
        assert_eq!(Instant::now() - start, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_queue_behind_each_other() {
        let pacer = pacer(Operation::DescribeJobRun, 10.0, 1);
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let pacer = pacer.clone();
                tokio::spawn(async move { pacer.wait(Operation::DescribeJobRun).await })
            })
            .collect();
        let mut waits = Vec::new();
        for task in tasks {
            waits.push(task.await.unwrap());
        }
        let mut waits: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        waits.sort_unstable();
        assert_eq!(waits, [0, 100, 200, 300]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_spell_refills_up_to_the_burst_only() {
        let pacer = pacer(Operation::ListJobRuns, 1.0, 2);
        pacer.wait(Operation::ListJobRuns).await;
        pacer.wait(Operation::ListJobRuns).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(pacer.wait(Operation::ListJobRuns).await, Duration::ZERO);
        assert_eq!(pacer.wait(Operation::ListJobRuns).await, Duration::ZERO);
        assert_eq!(
            pacer.wait(Operation::ListJobRuns).await,
            Duration::from_secs(1),
            "a minute of silence buys two calls, not sixty"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn operations_have_their_own_buckets_and_unlisted_ones_are_not_paced() {
        let pacer = pacer(Operation::StartJobRun, 1.0, 1);
        assert_eq!(pacer.wait(Operation::StartJobRun).await, Duration::ZERO);
        for _ in 0..100 {
            assert_eq!(pacer.wait(Operation::GetRole).await, Duration::ZERO);
        }
        assert_eq!(
            pacer.wait(Operation::StartJobRun).await,
            Duration::from_secs(1)
        );
        assert_eq!(
            Pacer::default().wait(Operation::StartJobRun).await,
            Duration::ZERO
        );
    }

    #[test]
    fn limits_parse_and_nonsense_is_refused() {
        assert_eq!(
            parse_rate_limit("StartJobRun=20/40"),
            Ok((
                Operation::StartJobRun,
                Rate {
                    per_second: 20.0,
                    burst: 40
                }
            ))
        );
        assert_eq!(
            parse_rate_limit(" describejobrun = 0.5 "),
            Ok((
                Operation::DescribeJobRun,
                Rate {
                    per_second: 0.5,
                    burst: 1
                }
            ))
        );
        assert!(matches!(
            parse_rate_limit("StartJobRuns=1"),
            Err(RateLimitParseError::UnknownOperation(_))
        ));
        for bad in ["StartJobRun", "StartJobRun=", "=5"] {
            assert!(parse_rate_limit(bad).is_err(), "{bad:?}");
        }
        for bad in ["0", "-1", "NaN", "inf", "1e9", "abc"] {
            assert!(
                matches!(
                    parse_rate_limit(&format!("StartJobRun={bad}")),
                    Err(RateLimitParseError::BadRate(_))
                ),
                "{bad:?}"
            );
        }
        for bad in ["0", "-1", "1.5", "99999999999", ""] {
            assert!(
                matches!(
                    parse_rate_limit(&format!("StartJobRun=1/{bad}")),
                    Err(RateLimitParseError::BadBurst(_))
                ),
                "{bad:?}"
            );
        }
    }
}
