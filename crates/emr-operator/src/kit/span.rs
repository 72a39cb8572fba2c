//! The tracing span a reconcile runs in, so every log line of it (the JSON logs carry the span
//! fields) says which controller, which object and which attempt.

use std::fmt::Display;

/// A span for one reconcile of `object` by `controller` (the kind, as in the metric label);
/// `attempt` is the attempt the object's status records, for kinds that have attempts.
pub fn reconcile(
    controller: &'static str,
    object: &dyn Display,
    attempt: Option<i64>,
) -> tracing::Span {
    tracing::info_span!(
        "reconcile",
        controller,
        object = %object,
        attempt,
    )
}
