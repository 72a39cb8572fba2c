use super::*;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_emrcontainers::operation::start_job_run::StartJobRunError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::result::SdkError;
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
