//! Requeue delays: how long a controller waits before trying an object again after an error.
//!
//! [`Streaks`] counts each object's failures in a row, [`Backoff`] turns the count and the
//! [`Category`] into a jittered delay.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rand::Rng;

use super::error::Category;

/// Exponential backoff with full jitter, as AWS recommends for throttling: a random delay in
/// `[base/2, min(cap, base * 2^failures)]`, so that a burst of throttled objects spreads out
/// instead of retrying in lockstep.
pub fn jittered(failures: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1u32.checked_shl(failures.min(16)).unwrap_or(u32::MAX));
    let upper = exp.min(cap).max(base);
    let lower = base / 2;
    let span = upper.saturating_sub(lower).as_millis() as u64;
    let pick = if span == 0 {
        0
    } else {
        rand::rng().random_range(0..=span)
    };
    lower + Duration::from_millis(pick)
}

/// First and longest delay of one kind of trouble.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    pub base: Duration,
    pub cap: Duration,
}

impl Bounds {
    pub const fn secs(base: u64, cap: u64) -> Self {
        Self {
            base: Duration::from_secs(base),
            cap: Duration::from_secs(cap),
        }
    }

    /// The delay after the `streak`-th failure in a row (1 for the first).
    pub fn delay(self, streak: u32) -> Duration {
        jittered(streak.saturating_sub(1), self.base, self.cap)
    }
}

/// A controller's backoff bounds per [`Category`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub throttled: Bounds,
    pub transient_aws: Bounds,
    pub apiserver_unreachable: Bounds,
    pub conflict: Bounds,
    pub terminal_input: Bounds,
    pub panicked: Bounds,
    pub other: Bounds,
}

impl Backoff {
    /// Throttling starts slower so a burst spreads out; transient AWS trouble is retried at least
    /// every 15 s so a recovered EMR is noticed quickly (while a service is down the AWS layer
    /// holds calls without sending them, so retries cost it nothing), and an apiserver that could not
    /// answer at least every 10 s (the bench's outage and apiserver-restart scenarios measured
    /// the difference); a conflict is retried within seconds on a fresh read; a panic waits a
    /// minute and more, as a bug does not fix itself in seconds; anything else backs off to
    /// five minutes.
    pub const DEFAULT: Backoff = Backoff {
        throttled: Bounds::secs(5, 60),
        transient_aws: Bounds::secs(1, 15),
        apiserver_unreachable: Bounds::secs(1, 10),
        conflict: Bounds::secs(1, 10),
        terminal_input: Bounds::secs(1, 300),
        panicked: Bounds::secs(60, 3600),
        other: Bounds::secs(1, 300),
    };

    pub fn bounds(&self, category: Category) -> Bounds {
        match category {
            Category::Throttled => self.throttled,
            Category::TransientAws => self.transient_aws,
            Category::ApiserverUnreachable => self.apiserver_unreachable,
            Category::Conflict => self.conflict,
            Category::TerminalInput => self.terminal_input,
            Category::Panicked => self.panicked,
            Category::Other => self.other,
        }
    }

    /// The delay after the `streak`-th failure in a row of `category` (1 for the first).
    pub fn delay(&self, category: Category, streak: u32) -> Duration {
        self.bounds(category).delay(streak)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Consecutive failures of one object with the same kind of trouble. The backoff grows while
/// the trouble persists and starts again when it changes: the 403s of an apiserver whose RBAC
/// cache is still warming after a restart are not made to wait for the connection errors before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streak {
    pub category: Category,
    pub count: u32,
}

impl Streak {
    /// The streak after a failure of `category` that followed `previous`.
    pub fn after(previous: Option<Streak>, category: Category) -> Streak {
        let count = match previous {
            Some(p) if p.category == category => p.count.saturating_add(1),
            _ => 1,
        };
        Streak { category, count }
    }
}

/// Every object's failure streak, keyed by whatever names an object for the controller.
///
/// A holder that panicked left the map consistent (each entry is written whole), so poison is
/// ignored rather than turning every later backoff into the cap.
#[derive(Debug)]
pub struct Streaks<K> {
    streaks: Mutex<HashMap<K, Streak>>,
}

impl<K> Default for Streaks<K> {
    fn default() -> Self {
        Self {
            streaks: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash> Streaks<K> {
    fn locked(&self) -> MutexGuard<'_, HashMap<K, Streak>> {
        self.streaks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a failure of `key` and returns its streak.
    pub fn failed(&self, key: K, category: Category) -> Streak {
        let mut streaks = self.locked();
        let streak = Streak::after(streaks.get(&key).copied(), category);
        streaks.insert(key, streak);
        streak
    }

    /// Records a failure of `key` and returns the delay `backoff` gives its streak.
    pub fn next_delay(&self, key: K, category: Category, backoff: &Backoff) -> Duration {
        let streak = self.failed(key, category);
        backoff.delay(category, streak.count)
    }

    /// The streak of `key`, if it is failing.
    pub fn get(&self, key: &K) -> Option<Streak> {
        self.locked().get(key).copied()
    }

    /// `key` succeeded: its next failure starts a new streak.
    pub fn succeeded(&self, key: &K) {
        self.locked().remove(key);
    }

    /// Keeps only the keys `keep` accepts (objects still there).
    pub fn retain(&self, keep: impl Fn(&K) -> bool) {
        self.locked().retain(|key, _| keep(key));
    }

    /// How many objects are failing, for the `tracked_objects` metric.
    pub fn len(&self) -> usize {
        self.locked().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_bounds_and_grows() {
        let base = Duration::from_secs(1);
        let cap = Duration::from_secs(60);
        for failures in 0..40 {
            let d = jittered(failures, base, cap);
            assert!(d >= base / 2 && d <= cap, "{failures}: {d:?}");
        }
        // The upper bound grows with failures, so over many draws a late delay exceeds an early bound.
        let late_max = (0..200).map(|_| jittered(6, base, cap)).max().unwrap();
        assert!(late_max > Duration::from_secs(2));
    }

    #[test]
    fn transient_trouble_is_retried_sooner_than_the_rest() {
        let b = Backoff::DEFAULT;
        assert_eq!(b.bounds(Category::Throttled), Bounds::secs(5, 60));
        assert_eq!(b.bounds(Category::TransientAws), Bounds::secs(1, 15));
        assert_eq!(
            b.bounds(Category::ApiserverUnreachable),
            Bounds::secs(1, 10)
        );
        assert_eq!(b.bounds(Category::Other), Bounds::secs(1, 300));
        let panicked = b.bounds(Category::Panicked);
        assert!(panicked.base >= Duration::from_secs(60));
        assert!(panicked.cap >= Duration::from_secs(3600));
    }

    #[test]
    fn a_streak_grows_with_the_same_trouble_and_restarts_with_another() {
        let streaks = Streaks::default();
        streaks.failed("a", Category::ApiserverUnreachable);
        assert_eq!(streaks.failed("a", Category::ApiserverUnreachable).count, 2);
        assert_eq!(
            streaks.failed("a", Category::Other),
            Streak {
                category: Category::Other,
                count: 1
            }
        );
        assert_eq!(streaks.failed("b", Category::Other).count, 1);
        streaks.succeeded(&"a");
        assert_eq!(streaks.get(&"a"), None);
        streaks.retain(|k| *k != "b");
        assert!(streaks.is_empty());
    }

    #[test]
    fn a_poisoned_map_still_counts() {
        let streaks = std::sync::Arc::new(Streaks::default());
        streaks.failed(1, Category::Other);
        let holder = streaks.clone();
        let _ = std::thread::spawn(move || {
            let _guard = holder.locked();
            panic!("poisons the lock");
        })
        .join();
        assert_eq!(streaks.failed(1, Category::Other).count, 2);
    }
}
