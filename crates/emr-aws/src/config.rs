//! Building the SDK clients from the standard AWS configuration chain.
//!
//! aws-config already resolves static keys, IRSA web identity, profiles and the endpoint
//! overrides (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_EMR_CONTAINERS`, ...) that point the operator
//! at an emulator; [`ClientOptions`] only adds what a deployment or a test wants to override.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
use aws_types::SdkConfig;

/// Overrides on top of the environment's AWS configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOptions {
    /// Overrides `AWS_REGION` / the profile's region.
    pub region: Option<String>,
    /// Overrides `AWS_ENDPOINT_URL` for every service.
    pub endpoint_url: Option<String>,
    /// Attempts per call including the first; 1 disables the SDK's own retries.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Bounds one call including its retries, so a hung endpoint cannot stall a reconcile.
    pub operation_timeout: Option<Duration>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            region: None,
            endpoint_url: None,
            max_attempts: 3,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(20),
            operation_timeout: Some(Duration::from_secs(60)),
        }
    }
}

/// Loads the shared SDK configuration: default credential/region chain plus `opts`.
pub async fn load_sdk_config(opts: &ClientOptions) -> SdkConfig {
    let retry = RetryConfig::standard()
        .with_max_attempts(opts.max_attempts.max(1))
        .with_initial_backoff(opts.initial_backoff)
        .with_max_backoff(opts.max_backoff);
    let mut timeouts = TimeoutConfig::builder();
    if let Some(timeout) = opts.operation_timeout {
        timeouts = timeouts.operation_timeout(timeout);
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry)
        .timeout_config(timeouts.build());
    if let Some(region) = &opts.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &opts.endpoint_url {
        loader = loader.endpoint_url(url.clone());
    }
    loader.load().await
}

/// The SDK clients the operator needs, sharing one configuration.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub emr_containers: aws_sdk_emrcontainers::Client,
    pub iam: aws_sdk_iam::Client,
    pub eks: aws_sdk_eks::Client,
    pub sts: aws_sdk_sts::Client,
    pub s3: aws_sdk_s3::Client,
    region: Option<String>,
}

impl AwsClients {
    pub async fn from_env(opts: ClientOptions) -> AwsClients {
        AwsClients::from_sdk_config(&load_sdk_config(&opts).await)
    }

    pub fn from_sdk_config(config: &SdkConfig) -> AwsClients {
        AwsClients {
            emr_containers: aws_sdk_emrcontainers::Client::from_conf(
                aws_sdk_emrcontainers::config::Builder::from(config)
                    .retry_classifier(TooManyRequestsIsThrottling)
                    .build(),
            ),
            iam: aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(config)
                    .retry_classifier(TooManyRequestsIsThrottling)
                    .build(),
            ),
            eks: aws_sdk_eks::Client::from_conf(
                aws_sdk_eks::config::Builder::from(config)
                    .retry_classifier(TooManyRequestsIsThrottling)
                    .build(),
            ),
            sts: aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::config::Builder::from(config)
                    .retry_classifier(TooManyRequestsIsThrottling)
                    .build(),
            ),
            // Path-style addressing (`https://s3.<region>.amazonaws.com/<bucket>/<key>`) works
            // for every bucket name, dots included, and with an endpoint override such as the
            // bed's emulator on 127.0.0.1 (virtual-hosted style needs DNS per bucket).
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(config)
                    .force_path_style(true)
                    .retry_classifier(TooManyRequestsIsThrottling)
                    .build(),
            ),
            region: config.region().map(|r| r.as_ref().to_owned()),
        }
    }

    /// The resolved region; `None` when the environment names none (calls will then fail).
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
}

/// EMR on EKS answers `EKSRequestThrottledException` with HTTP 429, a code the SDK's standard
/// retry mode does not know; without this the SDK would give up on the first throttle.
#[derive(Debug)]
pub(crate) struct TooManyRequestsIsThrottling;

impl ClassifyRetry for TooManyRequestsIsThrottling {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let failed = matches!(ctx.output_or_error(), Some(Err(_)));
        match ctx.response() {
            Some(response) if failed && response.status().as_u16() == 429 => {
                RetryAction::throttling_error()
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "HTTP 429 is throttling"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_sdk_standard_retry_mode() {
        let opts = ClientOptions::default();
        assert_eq!(opts.max_attempts, 3);
        assert_eq!(opts.initial_backoff, Duration::from_secs(1));
        assert!(opts.operation_timeout.is_some());
    }

    #[tokio::test]
    async fn options_override_region_and_endpoint() {
        let opts = ClientOptions {
            region: Some("cn-north-1".into()),
            endpoint_url: Some("http://127.0.0.1:1".into()),
            max_attempts: 0,
            ..ClientOptions::default()
        };
        let config = load_sdk_config(&opts).await;
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:1"));
        assert_eq!(
            config.retry_config().map(|r| r.max_attempts()),
            Some(1),
            "zero attempts is clamped to one"
        );
        let clients = AwsClients::from_sdk_config(&config);
        assert_eq!(clients.region(), Some("cn-north-1"));
        let aws = crate::Aws::new(&clients, std::sync::Arc::new(crate::NoopObserver));
        assert_eq!(aws.partition(), "aws-cn");
    }
}
