//! The second wall behind checked arithmetic: a panic inside one object's reconcile (an operator
//! bug some input reaches) is caught at the reconcile's edge, so it ends that reconcile only.
//! The controllers turn it into a condition (reason `ReconcilePanicked`), a Warning Event and a
//! growing backoff; the process and every other object go on.
//!
//! Unwinding must stay on for this (`panic = "abort"` in a Cargo profile would defeat it); the
//! workspace profiles keep the default.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;

use super::backoff::Backoff;

/// The condition reason and metric label of a caught panic.
pub const REASON: &str = "ReconcilePanicked";

/// What a caught panic said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Panicked {
    pub message: String,
}

/// Runs `reconcile`, turning a panic anywhere inside it into `Err`.
///
/// `AssertUnwindSafe` is sound here: what a reconcile shares (std mutexes, the tracker) is
/// either poison-tolerant or made of self-contained entries, and the object itself is read
/// afresh by the next reconcile.
pub async fn catch<F: Future>(reconcile: F) -> Result<F::Output, Panicked> {
    AssertUnwindSafe(reconcile)
        .catch_unwind()
        .await
        .map_err(|payload| Panicked {
            message: describe(payload.as_ref()),
        })
}

/// The delay before retrying an object after its `streak`-th panic in a row (1 for the first):
/// a bug does not fix itself in seconds, so retries are slow ([`Backoff::DEFAULT`]'s `panicked`).
pub fn backoff(streak: u32) -> Duration {
    Backoff::DEFAULT.panicked.delay(streak)
}

/// The panic message, which `panic!` makes a `&str` or a `String`.
fn describe(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// One line for a condition message: the panic text, cut short (it may quote user input).
pub fn condition_message(object_kind: &str, panicked: &Panicked) -> String {
    let text: String = panicked
        .message
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(300)
        .collect();
    format!(
        "the operator failed on this {object_kind} (a bug: {text}); it retries with a growing \
         backoff, other objects are not affected"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_reconcile_becomes_an_error() {
        let caught = catch(async {
            tokio::task::yield_now().await;
            let seconds: i64 = std::hint::black_box(i64::MAX);
            let _ = chrono::TimeDelta::seconds(seconds);
            1
        })
        .await;
        let panicked = caught.expect_err("the panic is caught");
        assert!(
            panicked
                .message
                .contains("TimeDelta::seconds out of bounds"),
            "{panicked:?}"
        );
    }

    #[tokio::test]
    async fn formatted_and_plain_messages_are_kept() {
        let n = std::hint::black_box(7);
        let formatted = catch(async move {
            if n > 0 {
                panic!("object {n} broke");
            }
            n
        })
        .await;
        assert_eq!(formatted.unwrap_err().message, "object 7 broke");
        let plain = catch(async move {
            if n > 0 {
                std::panic::panic_any(42_u8);
            }
            n
        })
        .await;
        assert_eq!(plain.unwrap_err().message, "a panic without a message");
    }

    #[tokio::test]
    async fn a_reconcile_that_does_not_panic_is_untouched() {
        assert_eq!(catch(async { 5 }).await, Ok(5));
    }

    #[test]
    fn retries_after_panics_are_slow_and_bounded() {
        for streak in [0, 1, 2, 10, u32::MAX] {
            let delay = backoff(streak);
            assert!(
                delay >= Duration::from_secs(30) && delay <= Duration::from_secs(3600),
                "{streak}: {delay:?}"
            );
        }
    }

    #[test]
    fn the_message_is_one_short_line() {
        let long = Panicked {
            message: format!("line one\nline two {}", "x".repeat(1000)),
        };
        let message = condition_message("SparkJobRun", &long);
        assert!(!message.contains('\n'));
        assert!(message.len() < 500, "{}", message.len());
    }
}
