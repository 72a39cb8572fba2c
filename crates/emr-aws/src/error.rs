//! Typed errors: which call failed, on which resource, and why, in terms the operator can act on
//! (retry later, report a missing permission, treat as gone, surface a validation message).

use std::error::Error as StdError;

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;

use crate::operation::Operation;

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

/// A failed AWS call: the action, the resource it was about, and the classified cause.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    #[error(
        "StartJobRun of job run {} in virtual cluster {virtual_cluster_id} failed: {cause}",
        .job_run_name.as_deref().unwrap_or("(unnamed)")
    )]
    StartJobRun {
        virtual_cluster_id: String,
        job_run_name: Option<String>,
        client_token: Option<String>,
        cause: AwsFault,
    },
    #[error(
        "DescribeJobRun of job run {job_run_id} in virtual cluster {virtual_cluster_id} failed: {cause}"
    )]
    DescribeJobRun {
        virtual_cluster_id: String,
        job_run_id: String,
        cause: AwsFault,
    },
    #[error("ListJobRuns in virtual cluster {virtual_cluster_id} failed: {cause}")]
    ListJobRuns {
        virtual_cluster_id: String,
        cause: AwsFault,
    },
    #[error(
        "CancelJobRun of job run {job_run_id} in virtual cluster {virtual_cluster_id} failed: {cause}"
    )]
    CancelJobRun {
        virtual_cluster_id: String,
        job_run_id: String,
        cause: AwsFault,
    },
    #[error("DescribeJobTemplate of job template {template_id} failed: {cause}")]
    DescribeJobTemplate {
        template_id: String,
        cause: AwsFault,
    },
    #[error(
        "CreateVirtualCluster {name} for namespace {namespace} of EKS cluster {eks_cluster_name} failed: {cause}"
    )]
    CreateVirtualCluster {
        name: String,
        eks_cluster_name: String,
        namespace: String,
        cause: AwsFault,
    },
    #[error("DescribeVirtualCluster of virtual cluster {virtual_cluster_id} failed: {cause}")]
    DescribeVirtualCluster {
        virtual_cluster_id: String,
        cause: AwsFault,
    },
    #[error("ListVirtualClusters of EKS cluster {eks_cluster_name} failed: {cause}")]
    ListVirtualClusters {
        eks_cluster_name: String,
        cause: AwsFault,
    },
    #[error("DeleteVirtualCluster of virtual cluster {virtual_cluster_id} failed: {cause}")]
    DeleteVirtualCluster {
        virtual_cluster_id: String,
        cause: AwsFault,
    },
    #[error("DescribeCluster of EKS cluster {cluster_name} failed: {cause}")]
    DescribeCluster {
        cluster_name: String,
        cause: AwsFault,
    },
    #[error("GetCallerIdentity failed: {cause}")]
    GetCallerIdentity { cause: AwsFault },
    #[error("GetRole of IAM role {role_name} failed: {cause}")]
    GetRole { role_name: String, cause: AwsFault },
    #[error("UpdateAssumeRolePolicy of IAM role {role_name} failed: {cause}")]
    UpdateAssumeRolePolicy { role_name: String, cause: AwsFault },
    #[error("ListOpenIDConnectProviders failed: {cause}")]
    ListOpenIdConnectProviders { cause: AwsFault },
    #[error("HeadObject of s3://{bucket}/{key} failed: {cause}")]
    HeadObject {
        bucket: String,
        key: String,
        cause: AwsFault,
    },
    #[error("PutObject of s3://{bucket}/{key} failed: {cause}")]
    PutObject {
        bucket: String,
        key: String,
        cause: AwsFault,
    },
}

impl AwsError {
    pub fn operation(&self) -> Operation {
        match self {
            AwsError::StartJobRun { .. } => Operation::StartJobRun,
            AwsError::DescribeJobRun { .. } => Operation::DescribeJobRun,
            AwsError::ListJobRuns { .. } => Operation::ListJobRuns,
            AwsError::CancelJobRun { .. } => Operation::CancelJobRun,
            AwsError::DescribeJobTemplate { .. } => Operation::DescribeJobTemplate,
            AwsError::CreateVirtualCluster { .. } => Operation::CreateVirtualCluster,
            AwsError::DescribeVirtualCluster { .. } => Operation::DescribeVirtualCluster,
            AwsError::ListVirtualClusters { .. } => Operation::ListVirtualClusters,
            AwsError::DeleteVirtualCluster { .. } => Operation::DeleteVirtualCluster,
            AwsError::DescribeCluster { .. } => Operation::DescribeCluster,
            AwsError::GetCallerIdentity { .. } => Operation::GetCallerIdentity,
            AwsError::GetRole { .. } => Operation::GetRole,
            AwsError::UpdateAssumeRolePolicy { .. } => Operation::UpdateAssumeRolePolicy,
            AwsError::ListOpenIdConnectProviders { .. } => Operation::ListOpenIdConnectProviders,
            AwsError::HeadObject { .. } => Operation::HeadObject,
            AwsError::PutObject { .. } => Operation::PutObject,
        }
    }

    pub fn cause(&self) -> &AwsFault {
        match self {
            AwsError::StartJobRun { cause, .. }
            | AwsError::DescribeJobRun { cause, .. }
            | AwsError::ListJobRuns { cause, .. }
            | AwsError::CancelJobRun { cause, .. }
            | AwsError::DescribeJobTemplate { cause, .. }
            | AwsError::CreateVirtualCluster { cause, .. }
            | AwsError::DescribeVirtualCluster { cause, .. }
            | AwsError::ListVirtualClusters { cause, .. }
            | AwsError::DeleteVirtualCluster { cause, .. }
            | AwsError::DescribeCluster { cause, .. }
            | AwsError::GetCallerIdentity { cause }
            | AwsError::GetRole { cause, .. }
            | AwsError::UpdateAssumeRolePolicy { cause, .. }
            | AwsError::ListOpenIdConnectProviders { cause }
            | AwsError::HeadObject { cause, .. }
            | AwsError::PutObject { cause, .. } => cause,
        }
    }

    pub fn kind(&self) -> FaultKind {
        self.cause().kind
    }

    /// The AWS error code, e.g. `ValidationException`, when a service answered with one.
    pub fn code(&self) -> Option<&str> {
        self.cause().code.as_deref()
    }

    /// The permission this call needs, e.g. "emr-containers:StartJobRun", for telling the user
    /// what to grant when [`AwsError::is_access_denied`].
    pub fn iam_action(&self) -> String {
        self.operation().iam_action()
    }

    pub fn is_throttled(&self) -> bool {
        self.kind() == FaultKind::Throttled
    }

    pub fn is_not_found(&self) -> bool {
        self.kind() == FaultKind::NotFound
    }

    pub fn is_access_denied(&self) -> bool {
        self.kind() == FaultKind::AccessDenied
    }

    pub fn is_validation(&self) -> bool {
        self.kind() == FaultKind::Validation
    }

    /// Throttled, Unavailable or Conflict: the same call may succeed later unchanged.
    pub fn is_retryable(&self) -> bool {
        self.kind().is_retryable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_emrcontainers::operation::start_job_run::StartJobRunError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(
            StatusCode::try_from(status).expect("valid status"),
            SdkBody::empty(),
        )
    }

    fn service_error(
        code: &str,
        message: &str,
        status: u16,
    ) -> SdkError<StartJobRunError, HttpResponse> {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        SdkError::service_error(StartJobRunError::generic(meta), response(status))
    }

    #[test]
    fn service_error_codes_are_classified() {
        let cases = [
            ("ThrottlingException", 400, FaultKind::Throttled),
            ("RequestThrottledException", 429, FaultKind::Throttled),
            ("EKSRequestThrottledException", 429, FaultKind::Throttled),
            ("Throttling", 400, FaultKind::Throttled),
            ("TooManyRequestsException", 429, FaultKind::Throttled),
            ("ResourceNotFoundException", 400, FaultKind::NotFound),
            ("NoSuchEntity", 404, FaultKind::NotFound),
            ("AccessDenied", 403, FaultKind::AccessDenied),
            ("AccessDeniedException", 403, FaultKind::AccessDenied),
            ("UnauthorizedOperation", 403, FaultKind::AccessDenied),
            ("ValidationException", 400, FaultKind::Validation),
            ("InvalidParameterException", 400, FaultKind::Validation),
            ("InvalidParameterValue", 400, FaultKind::Validation),
            ("MalformedPolicyDocument", 400, FaultKind::Validation),
            ("ConflictException", 409, FaultKind::Conflict),
            ("InternalServerException", 500, FaultKind::Unavailable),
            ("SomethingNew", 400, FaultKind::Other),
            ("SomethingNew", 429, FaultKind::Throttled),
            ("SomethingNew", 503, FaultKind::Unavailable),
        ];
        for (code, status, expected) in cases {
            let fault = AwsFault::from_sdk_error(&service_error(code, "boom", status));
            assert_eq!(fault.kind, expected, "{code} / {status}");
            assert_eq!(fault.code.as_deref(), Some(code));
            assert_eq!(fault.message, "boom");
            assert_eq!(fault.http_status, Some(status));
        }
    }

    #[test]
    fn a_bare_404_is_not_taken_for_a_missing_resource() {
        assert_eq!(classify(None, Some(404)), FaultKind::Other);
    }

    #[test]
    fn dispatch_and_timeout_failures_are_unavailable() {
        let io: SdkError<StartJobRunError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io("connection refused".into()));
        let fault = AwsFault::from_sdk_error(&io);
        assert_eq!(fault.kind, FaultKind::Unavailable);
        assert!(
            fault.message.contains("connection refused"),
            "{}",
            fault.message
        );
        assert_eq!(fault.code, None);

        let timeout: SdkError<StartJobRunError, HttpResponse> =
            SdkError::timeout_error("operation timed out");
        assert_eq!(
            AwsFault::from_sdk_error(&timeout).kind,
            FaultKind::Unavailable
        );
    }

    #[test]
    fn missing_credentials_are_access_denied_not_retryable() {
        let missing = CredentialsError::not_loaded("no providers in chain provided credentials");
        let err: SdkError<StartJobRunError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::other(missing.into(), None));
        assert_eq!(AwsFault::from_sdk_error(&err).kind, FaultKind::AccessDenied);

        let timed_out = CredentialsError::provider_timed_out(std::time::Duration::from_secs(5));
        let err: SdkError<StartJobRunError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::other(timed_out.into(), None));
        assert_eq!(AwsFault::from_sdk_error(&err).kind, FaultKind::Unavailable);
    }

    #[test]
    fn unparseable_responses_are_classified_by_status() {
        let bad_gateway: SdkError<StartJobRunError, HttpResponse> =
            SdkError::response_error("not json", response(502));
        assert_eq!(
            AwsFault::from_sdk_error(&bad_gateway).kind,
            FaultKind::Unavailable
        );
        let html_404: SdkError<StartJobRunError, HttpResponse> =
            SdkError::response_error("not json", response(404));
        assert_eq!(AwsFault::from_sdk_error(&html_404).kind, FaultKind::Other);
    }

    #[test]
    fn construction_failures_are_validation() {
        let err: SdkError<StartJobRunError, HttpResponse> =
            SdkError::construction_failure("virtual_cluster_id was not specified");
        assert_eq!(AwsFault::from_sdk_error(&err).kind, FaultKind::Validation);
    }

    #[test]
    fn aws_error_reports_operation_permission_and_context() {
        let err = AwsError::StartJobRun {
            virtual_cluster_id: "vc123".into(),
            job_run_name: Some("nightly".into()),
            client_token: Some("uid-1".into()),
            cause: AwsFault::from_sdk_error(&service_error(
                "AccessDeniedException",
                "User is not authorized",
                403,
            )),
        };
        assert_eq!(err.operation(), Operation::StartJobRun);
        assert_eq!(err.iam_action(), "emr-containers:StartJobRun");
        assert!(err.is_access_denied());
        assert!(!err.is_retryable());
        assert_eq!(err.code(), Some("AccessDeniedException"));
        assert_eq!(
            err.to_string(),
            "StartJobRun of job run nightly in virtual cluster vc123 failed: \
             AccessDeniedException: User is not authorized"
        );
    }

    #[test]
    fn retryable_kinds() {
        let retryable: Vec<_> = [
            FaultKind::Throttled,
            FaultKind::NotFound,
            FaultKind::AccessDenied,
            FaultKind::Validation,
            FaultKind::Conflict,
            FaultKind::Unavailable,
            FaultKind::Other,
        ]
        .into_iter()
        .filter(|k| k.is_retryable())
        .collect();
        assert_eq!(
            retryable,
            [
                FaultKind::Throttled,
                FaultKind::Conflict,
                FaultKind::Unavailable
            ]
        );
    }
}
