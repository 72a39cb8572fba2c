//! Requeue delays: how long a controller waits before trying an object again after an error.

use std::time::Duration;

use rand::Rng;

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

/// Whether a Kubernetes client error means the apiserver could not answer (restarting, a dropped
/// connection, 503 while it starts) rather than that it refused the request: trouble that clears
/// by itself, worth retrying soon.
pub fn apiserver_unavailable(error: &kube::Error) -> bool {
    match error {
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        kube::Error::Api(status) => matches!(status.code, 503 | 504),
        _ => false,
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
    fn only_an_apiserver_that_cannot_answer_is_unavailable() {
        let status = |code: u16| {
            kube::Error::Api(Box::new(kube::core::Status {
                code,
                ..Default::default()
            }))
        };
        assert!(apiserver_unavailable(&status(503)));
        assert!(apiserver_unavailable(&status(504)));
        assert!(!apiserver_unavailable(&status(409)));
        assert!(!apiserver_unavailable(&status(422)));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(apiserver_unavailable(&kube::Error::Service(Box::new(
            refused
        ))));
    }
}
