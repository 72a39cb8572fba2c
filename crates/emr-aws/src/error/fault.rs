//! Why a call failed, whatever the service: the error code, HTTP status or failure phase
//! classified into a [`FaultKind`], with what AWS said kept verbatim ([`AwsFault`]).

use std::error::Error as StdError;

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;

/// What kind of failure a call met, independent of the service that reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultKind {
    Throttled,
    NotFound,
    AccessDenied,
    Validation,
    Conflict,
    /// Timeouts, connection and dispatch failures, and server-side (5xx) errors.
    Unavailable,
    Other,
}

impl FaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Throttled => "Throttled",
            FaultKind::NotFound => "NotFound",
            FaultKind::AccessDenied => "AccessDenied",
            FaultKind::Validation => "Validation",
            FaultKind::Conflict => "Conflict",
            FaultKind::Unavailable => "Unavailable",
            FaultKind::Other => "Other",
        }
    }

    /// Whether the same call may succeed later without anyone changing anything.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            FaultKind::Throttled | FaultKind::Unavailable | FaultKind::Conflict
        )
    }
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a call failed: the classified kind plus what AWS said, verbatim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsFault {
    pub kind: FaultKind,
    /// The AWS error code, e.g. `AccessDeniedException`; `None` when no service answered.
    pub code: Option<String>,
    pub message: String,
    /// Quoted in AWS support cases and found in CloudTrail.
    pub request_id: Option<String>,
    pub http_status: Option<u16>,
}

impl std::fmt::Display for AwsFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.code, self.message.is_empty()) {
            (Some(code), false) => write!(f, "{code}: {}", self.message)?,
            (Some(code), true) => f.write_str(code)?,
            (None, _) => f.write_str(&self.message)?,
        }
        if let Some(request_id) = &self.request_id {
            write!(f, " (request id {request_id})")?;
        }
        Ok(())
    }
}

impl AwsFault {
    /// Classifies any SDK error, whatever the operation, from its error code, HTTP status and
    /// failure phase.
    pub fn from_sdk_error<E>(err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + StdError + 'static,
    {
        let http_status = err.raw_response().map(|r| r.status().as_u16());
        let request_id = err
            .request_id()
            .or_else(|| err.meta().request_id())
            .map(str::to_owned);
        let full_message = || DisplayErrorContext(err).to_string();
        match err {
            SdkError::ServiceError(_) => {
                let code = err.code().map(str::to_owned);
                let message = err.message().map(str::to_owned).unwrap_or_else(|| {
                    if code.is_some() {
                        String::new()
                    } else {
                        full_message()
                    }
                });
                AwsFault {
                    kind: classify(code.as_deref(), http_status),
                    code,
                    message,
                    request_id,
                    http_status,
                }
            }
            SdkError::ResponseError(_) => AwsFault {
                // An unparseable answer: a 5xx from a proxy or an HTML error page.
                kind: http_status.map_or(FaultKind::Unavailable, |s| classify(None, Some(s))),
                code: None,
                message: full_message(),
                request_id,
                http_status,
            },
            SdkError::TimeoutError(_) => AwsFault {
                kind: FaultKind::Unavailable,
                code: None,
                message: full_message(),
                request_id: None,
                http_status: None,
            },
            SdkError::DispatchFailure(_) => AwsFault {
                kind: dispatch_failure_kind(err),
                code: None,
                message: full_message(),
                request_id: None,
                http_status: None,
            },
            // The request could not be built (missing required field): retrying cannot help.
            SdkError::ConstructionFailure(_) => AwsFault {
                kind: FaultKind::Validation,
                code: None,
                message: full_message(),
                request_id: None,
                http_status: None,
            },
            _ => AwsFault {
                kind: FaultKind::Other,
                code: None,
                message: full_message(),
                request_id,
                http_status,
            },
        }
    }

    /// A request this crate refused to send because it could not be valid.
    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        AwsFault {
            kind: FaultKind::Validation,
            code: None,
            message: message.into(),
            request_id: None,
            http_status: None,
        }
    }

    /// A response that parsed but lacks what the API promises (e.g. StartJobRun without an id).
    pub(crate) fn malformed_response(what: impl Into<String>) -> Self {
        AwsFault {
            kind: FaultKind::Other,
            code: None,
            message: format!("unexpected response: {}", what.into()),
            request_id: None,
            http_status: None,
        }
    }
}

/// Credentials that could not be found or are misconfigured will not appear by retrying; a
/// credentials endpoint (STS for IRSA, IMDS) that timed out or failed may recover.
fn dispatch_failure_kind(err: &(dyn StdError + 'static)) -> FaultKind {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(creds) = e.downcast_ref::<CredentialsError>() {
            return match creds {
                CredentialsError::CredentialsNotLoaded(_)
                | CredentialsError::InvalidConfiguration(_) => FaultKind::AccessDenied,
                _ => FaultKind::Unavailable,
            };
        }
        current = e.source();
    }
    FaultKind::Unavailable
}

/// Maps an AWS error code (preferred) or HTTP status to a [`FaultKind`].
///
/// A bare 404 is deliberately not NotFound: EMR reports missing resources as a coded 400, and an
/// uncoded 404 means the endpoint does not serve this API; treating it as "resource gone" could
/// make the operator drop a job run that still exists.
pub fn classify(code: Option<&str>, http_status: Option<u16>) -> FaultKind {
    if let Some(kind) = code.and_then(classify_code) {
        return kind;
    }
    match http_status {
        Some(429) => FaultKind::Throttled,
        Some(403) => FaultKind::AccessDenied,
        Some(409) => FaultKind::Conflict,
        Some(s) if s >= 500 => FaultKind::Unavailable,
        _ => FaultKind::Other,
    }
}

fn classify_code(code: &str) -> Option<FaultKind> {
    let kind = match code {
        "ThrottlingException"
        | "Throttling"
        | "ThrottledException"
        | "RequestThrottledException"
        | "EKSRequestThrottledException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "RequestThrottled"
        | "SlowDown"
        | "PriorRequestNotComplete" => FaultKind::Throttled,
        "ResourceNotFoundException"
        | "NoSuchEntity"
        | "NoSuchEntityException"
        | "NotFoundException" => FaultKind::NotFound,
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "UnauthorizedException"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "SignatureDoesNotMatch"
        | "InvalidSignatureException"
        | "IncompleteSignature"
        | "MissingAuthenticationToken"
        | "MissingAuthenticationTokenException"
        | "AuthFailure" => FaultKind::AccessDenied,
        "ValidationException"
        | "ValidationError"
        | "InvalidInput"
        | "InvalidRequestException"
        | "BadRequestException"
        | "MalformedPolicyDocument"
        | "MalformedPolicyDocumentException"
        | "MissingParameter" => FaultKind::Validation,
        c if c.starts_with("InvalidParameter") => FaultKind::Validation,
        "ConflictException"
        | "ConcurrentModification"
        | "ConcurrentModificationException"
        | "ResourceInUseException" => FaultKind::Conflict,
        "InternalServerException"
        | "InternalServerError"
        | "InternalFailure"
        | "InternalError"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "ServiceFailure"
        | "ServerException"
        | "RequestTimeout"
        | "RequestTimeoutException" => FaultKind::Unavailable,
        _ => return None,
    };
    Some(kind)
}
