//! The few AWS calls `kubectl emr logs` makes, with the user's own credentials (aws-config's
//! default chain: environment, profile, SSO, web identity, instance role) and region, signed with
//! SigV4. `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`)
//! points them elsewhere, e.g. at the test bed's emulator.

use std::time::SystemTime;

use aws_config::BehaviorVersion;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

/// A failed AWS call, said so that the user knows what to fix.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error(
        "no AWS credentials: {0} (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or log in with `aws sso login`)"
    )]
    Credentials(String),
    #[error("no AWS region: set AWS_REGION or a region in your AWS profile")]
    NoRegion,
    #[error("signing the {operation} request: {message}")]
    Sign {
        operation: &'static str,
        message: String,
    },
    #[error("calling {operation} at {url}: {source}")]
    Send {
        operation: &'static str,
        url: String,
        source: reqwest::Error,
    },
    #[error(
        "AWS denied {operation} on {resource} ({code}): {message}; your credentials need that permission"
    )]
    AccessDenied {
        operation: &'static str,
        resource: String,
        code: String,
        message: String,
    },
    #[error("{operation} on {resource} failed with HTTP {status} {code}: {message}")]
    Service {
        operation: &'static str,
        resource: String,
        status: u16,
        code: String,
        message: String,
    },
}

/// One AWS request: what the signer and the error messages need.
pub struct Request<'a> {
    pub service: &'static str,
    pub operation: &'static str,
    pub resource: &'a str,
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// Credentials, region and an HTTP client.
pub struct Aws {
    http: reqwest::Client,
    credentials: SharedCredentialsProvider,
    region: String,
    endpoint: Option<String>,
}

impl Aws {
    pub async fn load() -> Result<Self, AwsError> {
        let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
        let credentials = config
            .credentials_provider()
            .ok_or_else(|| AwsError::Credentials("no credentials provider".into()))?;
        let region = config
            .region()
            .map(|r| r.as_ref().to_owned())
            .ok_or(AwsError::NoRegion)?;
        Ok(Self {
            http: reqwest::Client::new(),
            credentials,
            region,
            endpoint: config
                .endpoint_url()
                .map(|u| u.trim_end_matches('/').to_owned()),
        })
    }

    /// The endpoint of `service` (`env_suffix` as in `AWS_ENDPOINT_URL_<SUFFIX>`), if overridden.
    pub fn endpoint(&self, env_suffix: &str) -> Option<String> {
        std::env::var(format!("AWS_ENDPOINT_URL_{env_suffix}"))
            .ok()
            .map(|u| u.trim_end_matches('/').to_owned())
            .or_else(|| self.endpoint.clone())
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// Signs and sends `request`; the body of a 2xx answer, else a typed error.
    pub async fn send(&self, request: Request<'_>) -> Result<Vec<u8>, AwsError> {
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| AwsError::Credentials(e.to_string()))?;
        let identity: Identity = credentials.into();
        let mut settings = SigningSettings::default();
        if request.service == "s3" {
            // S3 signs the path as sent and wants the payload hash in a header.
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let sign_error = |message: String| AwsError::Sign {
            operation: request.operation,
            message,
        };
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(request.service)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| sign_error(e.to_string()))?
            .into();
        let signable = SignableRequest::new(
            request.method,
            request.url.as_str(),
            request.headers.iter().map(|(k, v)| (*k, v.as_str())),
            SignableBody::Bytes(&request.body),
        )
        .map_err(|e| sign_error(e.to_string()))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| sign_error(e.to_string()))?
            .into_parts();

        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|e| sign_error(e.to_string()))?;
        let mut builder = self.http.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        for (name, value) in instructions.headers() {
            builder = builder.header(name, value);
        }
        let send_error = |source| AwsError::Send {
            operation: request.operation,
            url: request.url.clone(),
            source,
        };
        let response = builder
            .body(request.body.clone())
            .send()
            .await
            .map_err(send_error)?;
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(':').next().unwrap_or(v).to_owned());
        let body = response.bytes().await.map_err(send_error)?.to_vec();
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let (code, message) = error_code_and_message(&body, error_type);
        if status == 403 || code.contains("AccessDenied") {
            return Err(AwsError::AccessDenied {
                operation: request.operation,
                resource: request.resource.to_owned(),
                code,
                message,
            });
        }
        Err(AwsError::Service {
            operation: request.operation,
            resource: request.resource.to_owned(),
            status,
            code,
            message,
        })
    }
}

/// The error code and message of a JSON (`__type`, `message`) or XML (`<Code>`, `<Message>`)
/// error body.
pub fn error_code_and_message(body: &[u8], header_type: Option<String>) -> (String, String) {
    let text = String::from_utf8_lossy(body);
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) {
        let field = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| json.get(*n).and_then(|v| v.as_str()))
                .map(str::to_owned)
        };
        let code = field(&["__type", "code", "Code"])
            .map(|c| c.rsplit('#').next().unwrap_or(&c).to_owned())
            .or(header_type)
            .unwrap_or_else(|| "UnknownError".into());
        return (code, field(&["message", "Message"]).unwrap_or_default());
    }
    let code = xml_elements(&text, "Code")
        .into_iter()
        .next()
        .or(header_type)
        .unwrap_or_else(|| "UnknownError".into());
    let message = xml_elements(&text, "Message")
        .into_iter()
        .next()
        .unwrap_or_else(|| text.chars().take(200).collect());
    (code, message)
}

/// The text of every `<tag>...</tag>` in `xml`, unescaped. S3's list answers are flat enough
/// for this; a full XML parser would be a new dependency for two element names.
pub fn xml_elements(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        found.push(unescape_xml(&after[..end]));
        rest = &after[end + close.len()..];
    }
    found
}

fn unescape_xml(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_xml_errors_give_code_and_message() {
        let json = br#"{"__type":"com.amazonaws#AccessDeniedException","message":"no"}"#;
        assert_eq!(
            error_code_and_message(json, None),
            ("AccessDeniedException".into(), "no".into())
        );
        let xml = b"<Error><Code>NoSuchBucket</Code><Message>The bucket &amp; co</Message></Error>";
        assert_eq!(
            error_code_and_message(xml, None),
            ("NoSuchBucket".into(), "The bucket & co".into())
        );
    }

    #[test]
    fn xml_elements_reads_every_key_in_order() {
        let xml = "<R><Contents><Key>a/b&lt;1&gt;</Key></Contents><Contents><Key>c</Key></Contents><IsTruncated>false</IsTruncated></R>";
        assert_eq!(xml_elements(xml, "Key"), vec!["a/b<1>", "c"]);
        assert_eq!(
            xml_elements(xml, "NextContinuationToken"),
            Vec::<String>::new()
        );
    }
}
