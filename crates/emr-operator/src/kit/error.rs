//! What kind of trouble a failed reconcile met, so that backoff, the metric error label and the
//! condition reason follow from one answer (Stackable operator-rs' `ReconcilerError::category`
//! is the model), and the one place Kubernetes error codes are read.

use emr_aws::AwsError;

/// The kind of trouble behind a failed reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// AWS throttled a call: back off slower so a burst spreads out.
    Throttled,
    /// AWS trouble that clears by itself (an outage, a timeout).
    TransientAws,
    /// The apiserver could not answer (restarting, a dropped connection, 503, or a call that
    /// never returned): clears by itself, retried soon.
    ApiserverUnreachable,
    /// The object changed (409) or went (404) since the copy the reconcile worked on: read
    /// afresh and decide again.
    Conflict,
    /// The input cannot work as it stands: the user must change something.
    TerminalInput,
    /// The reconcile panicked (an operator bug): retried slowly.
    Panicked,
    /// Anything else (a refusal by the apiserver or AWS, say).
    Other,
}

impl Category {
    /// The condition reason for this kind of trouble, for a controller that has none more
    /// precise. UpperCamelCase, like every reason.
    pub const fn reason(self) -> &'static str {
        match self {
            Category::Throttled => "AwsThrottled",
            Category::TransientAws => "AwsUnavailable",
            Category::ApiserverUnreachable => "ApiserverUnavailable",
            Category::Conflict => "Conflict",
            Category::TerminalInput => "InvalidInput",
            Category::Panicked => super::panic_guard::REASON,
            Category::Other => "ReconcileFailed",
        }
    }

    /// The category of a failed Kubernetes call.
    pub fn of_kube(error: &kube::Error) -> Self {
        if is_conflict(error) || is_not_found(error) {
            Category::Conflict
        } else if apiserver_unreachable(error) {
            Category::ApiserverUnreachable
        } else {
            Category::Other
        }
    }

    /// The category of a failed AWS call.
    pub fn of_aws(error: &AwsError) -> Self {
        if error.is_throttled() {
            Category::Throttled
        } else if error.is_retryable() {
            Category::TransientAws
        } else if error.is_validation() {
            Category::TerminalInput
        } else {
            Category::Other
        }
    }
}

/// What every controller's error type says about itself.
pub trait ReconcileError: std::error::Error {
    /// The kind of trouble: picks the backoff (see [`super::Backoff`]).
    fn category(&self) -> Category;

    /// The `error` label of the reconcile-errors metric: UpperCamelCase, naming the action that
    /// failed (`StartJobRun`, `WriteStatus`).
    fn metric_label(&self) -> &'static str;

    /// The condition reason the failure shows on the object.
    fn condition_reason(&self) -> &'static str {
        self.category().reason()
    }
}

/// The HTTP status the apiserver answered with, if it answered.
pub fn kube_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// 409: the object changed since the copy the request was computed from.
pub fn is_conflict(error: &kube::Error) -> bool {
    kube_code(error) == Some(409)
}

/// 404: the object (or its kind) does not exist.
pub fn is_not_found(error: &kube::Error) -> bool {
    kube_code(error) == Some(404)
}

/// 403: the operator's RBAC does not allow the request.
pub fn is_forbidden(error: &kube::Error) -> bool {
    kube_code(error) == Some(403)
}

/// Whether a Kubernetes client error means the apiserver could not answer (restarting, a dropped
/// connection, 503 while it starts) rather than that it refused the request: trouble that clears
/// by itself, worth retrying soon.
pub fn apiserver_unreachable(error: &kube::Error) -> bool {
    match error {
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        kube::Error::Api(status) => matches!(status.code, 503 | 504),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use emr_aws::FaultKind;

    use super::*;

    fn status(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            ..Default::default()
        }))
    }

    #[test]
    fn only_an_apiserver_that_cannot_answer_is_unreachable() {
        assert!(apiserver_unreachable(&status(503)));
        assert!(apiserver_unreachable(&status(504)));
        assert!(!apiserver_unreachable(&status(409)));
        assert!(!apiserver_unreachable(&status(422)));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let refused = kube::Error::Service(Box::new(refused));
        assert!(apiserver_unreachable(&refused));
        assert_eq!(Category::of_kube(&refused), Category::ApiserverUnreachable);
    }

    #[test]
    fn kube_errors_are_sorted_by_code() {
        assert_eq!(Category::of_kube(&status(409)), Category::Conflict);
        assert_eq!(Category::of_kube(&status(404)), Category::Conflict);
        assert_eq!(Category::of_kube(&status(403)), Category::Other);
        assert!(is_forbidden(&status(403)));
        assert_eq!(kube_code(&status(422)), Some(422));
    }

    #[test]
    fn aws_errors_are_sorted_by_fault() {
        let aws = crate::kit::testing::aws_error;
        assert_eq!(
            Category::of_aws(&aws(FaultKind::Throttled)),
            Category::Throttled
        );
        assert_eq!(
            Category::of_aws(&aws(FaultKind::AccessDenied)),
            Category::Other
        );
    }

    #[test]
    fn reasons_are_upper_camel_case() {
        for category in [
            Category::Throttled,
            Category::TransientAws,
            Category::ApiserverUnreachable,
            Category::Conflict,
            Category::TerminalInput,
            Category::Panicked,
            Category::Other,
        ] {
            let reason = category.reason();
            assert!(
                reason.starts_with(|c: char| c.is_ascii_uppercase())
                    && reason.chars().all(|c| c.is_ascii_alphanumeric()),
                "{reason}"
            );
        }
    }
}
