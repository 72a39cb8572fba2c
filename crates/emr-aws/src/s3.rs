//! S3: the two calls behind content-addressed pod templates. HeadObject says whether an object
//! is already there (so the same content is written once); PutObject writes it, with the
//! encryption and the expected bucket owner the caller asks for.

use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, ServerSideEncryption};

use crate::call::Caller;
use crate::error::{AwsError, AwsFault, FaultKind};
use crate::observer::CallObserver;
use crate::operation::Operation;

/// One object in a bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    /// S3's `x-amz-expected-bucket-owner`: the call fails (403) when another account owns the
    /// bucket, instead of reading from or writing to it.
    pub expected_bucket_owner: Option<String>,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// Server-side encryption of an object written with [`S3::put_object`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Encryption {
    /// The bucket's default encryption.
    BucketDefault,
    /// SSE-S3.
    Aes256,
    /// SSE-KMS, with the given key or the account's AWS managed key for S3.
    Kms { key_id: Option<String> },
}

/// What to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutObject {
    pub object: ObjectRef,
    pub body: Vec<u8>,
    pub content_type: String,
    pub encryption: Encryption,
    /// The body's SHA-256 (32 bytes): S3 checks the body against it and keeps it with the
    /// object, for [`S3::stored_sha256`] to compare later.
    pub sha256: Option<Vec<u8>>,
}

/// What HeadObject found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    Absent,
    /// The object, with the SHA-256 S3 keeps for it (`None`: written without one, or in parts,
    /// whose checksum is of the parts).
    Present {
        sha256: Option<Vec<u8>>,
    },
}

#[derive(Clone, Debug)]
pub struct S3 {
    client: Client,
    caller: Caller,
}

impl S3 {
    pub fn new(client: Client, observer: Arc<dyn CallObserver>) -> Self {
        S3 {
            client,
            caller: Caller::new(observer),
        }
    }

    /// Takes a token from `pacer` before each call (see [`crate::pacing`]).
    pub fn with_pacer(mut self, pacer: crate::pacing::Pacer) -> Self {
        self.caller = self.caller.paced(pacer);
        self
    }

    /// The underlying SDK client, for calls this crate does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether the object exists (HeadObject; a 404 is `false`, not an error).
    pub async fn object_exists(&self, object: &ObjectRef) -> Result<bool, AwsError> {
        let request = self
            .client
            .head_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_expected_bucket_owner(object.expected_bucket_owner.clone())
            .send();
        // HeadObject has no body, so a missing object is only a bare 404 (the SDK's `NotFound`);
        // the shared classifier keeps bare 404s as `Other` on purpose, so it is read here.
        self.caller
            .call_or_absent(Operation::HeadObject, request, |e| e.is_not_found())
            .await
            .map(|found| found.is_some())
            .map_err(|cause| AwsError::HeadObject {
                bucket: object.bucket.clone(),
                key: object.key.clone(),
                cause: bucket_missing_is_not_found(cause),
            })
    }

    /// Whether the object exists and the SHA-256 S3 keeps for it (HeadObject with the checksum
    /// mode on; a 404 is `Absent`, not an error).
    pub async fn stored_sha256(&self, object: &ObjectRef) -> Result<Stored, AwsError> {
        let request = self
            .client
            .head_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .checksum_mode(ChecksumMode::Enabled)
            .set_expected_bucket_owner(object.expected_bucket_owner.clone())
            .send();
        let found = self
            .caller
            .call_or_absent(Operation::HeadObject, request, |e| e.is_not_found())
            .await
            .map_err(|cause| AwsError::HeadObject {
                bucket: object.bucket.clone(),
                key: object.key.clone(),
                cause: bucket_missing_is_not_found(cause),
            })?;
        Ok(match found {
            None => Stored::Absent,
            Some(head) => Stored::Present {
                sha256: head
                    .checksum_sha256()
                    .and_then(|b64| aws_smithy_types::base64::decode(b64).ok()),
            },
        })
    }

    /// Writes the object (PutObject).
    pub async fn put_object(&self, put: PutObject) -> Result<(), AwsError> {
        let PutObject {
            object,
            body,
            content_type,
            encryption,
            sha256,
        } = put;
        let (sse, key_id) = match encryption {
            Encryption::BucketDefault => (None, None),
            Encryption::Aes256 => (Some(ServerSideEncryption::Aes256), None),
            Encryption::Kms { key_id } => (Some(ServerSideEncryption::AwsKms), key_id),
        };
        let request = self
            .client
            .put_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .set_server_side_encryption(sse)
            .set_ssekms_key_id(key_id)
            .set_checksum_algorithm(sha256.as_ref().map(|_| ChecksumAlgorithm::Sha256))
            .set_checksum_sha256(sha256.map(aws_smithy_types::base64::encode))
            .set_expected_bucket_owner(object.expected_bucket_owner.clone())
            .send();
        self.caller
            .call(Operation::PutObject, request)
            .await
            .map(|_| ())
            .map_err(|cause| AwsError::PutObject {
                bucket: object.bucket.clone(),
                key: object.key.clone(),
                cause: bucket_missing_is_not_found(cause),
            })
    }
}

/// S3 answers a missing bucket with `NoSuchBucket` (404): a resource that is not there.
fn bucket_missing_is_not_found(mut cause: AwsFault) -> AwsFault {
    if cause.code.as_deref() == Some("NoSuchBucket") {
        cause.kind = FaultKind::NotFound;
    }
    cause
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::AwsClients;
    use crate::observer::NoopObserver;
    use crate::test_server::{Reply, TestServer};

    fn object() -> ObjectRef {
        ObjectRef {
            bucket: "templates".into(),
            key: "pod-templates/abc.yaml".into(),
            expected_bucket_owner: Some("123456789012".into()),
        }
    }

    async fn s3(server: &TestServer, attempts: u32) -> S3 {
        let config = server.sdk_config(attempts).await;
        S3::new(
            AwsClients::from_sdk_config(&config).s3,
            Arc::new(NoopObserver),
        )
    }

    #[tokio::test]
    async fn head_object_says_whether_the_object_is_there() {
        let server = TestServer::start(vec![Reply::empty(200), Reply::empty(404)]);
        let s3 = s3(&server, 1).await;
        assert!(s3.object_exists(&object()).await.unwrap());
        assert!(!s3.object_exists(&object()).await.unwrap());
        let requests = server.requests();
        assert_eq!(requests[0].method, "HEAD");
        assert_eq!(requests[0].path, "/templates/pod-templates/abc.yaml");
        assert_eq!(
            requests[0].header("x-amz-expected-bucket-owner"),
            Some("123456789012")
        );
    }

    #[tokio::test]
    async fn head_object_reads_the_stored_sha256() {
        let digest = [7u8; 32];
        let server = TestServer::start(vec![
            Reply::empty(200).with_header(
                "x-amz-checksum-sha256",
                &aws_smithy_types::base64::encode(digest),
            ),
            Reply::empty(200),
            Reply::empty(404),
        ]);
        let s3 = s3(&server, 1).await;
        assert_eq!(
            s3.stored_sha256(&object()).await.unwrap(),
            Stored::Present {
                sha256: Some(digest.to_vec())
            }
        );
        assert_eq!(
            s3.stored_sha256(&object()).await.unwrap(),
            Stored::Present { sha256: None }
        );
        assert_eq!(s3.stored_sha256(&object()).await.unwrap(), Stored::Absent);
        assert_eq!(
            server.requests()[0].header("x-amz-checksum-mode"),
            Some("ENABLED")
        );
    }

    #[tokio::test]
    async fn head_object_errors_are_typed() {
        let server = TestServer::start(vec![Reply::empty(403), Reply::empty(503)]);
        let s3 = s3(&server, 1).await;
        let denied = s3.object_exists(&object()).await.unwrap_err();
        assert!(denied.is_access_denied(), "{denied:?}");
        assert_eq!(denied.iam_action(), "s3:GetObject");
        let down = s3.object_exists(&object()).await.unwrap_err();
        assert!(down.is_retryable(), "{down:?}");
        assert!(
            down.to_string()
                .starts_with("HeadObject of s3://templates/pod-templates/abc.yaml failed"),
            "{down}"
        );
    }

    #[tokio::test]
    async fn put_object_sends_the_body_encryption_and_owner() {
        let server = TestServer::start(vec![Reply::empty(200)]);
        let s3 = s3(&server, 1).await;
        s3.put_object(PutObject {
            object: object(),
            body: b"apiVersion: v1\nkind: Pod\n".to_vec(),
            content_type: "application/yaml".into(),
            encryption: Encryption::Kms {
                key_id: Some("alias/templates".into()),
            },
            sha256: Some(vec![0xab; 32]),
        })
        .await
        .unwrap();
        let request = &server.requests()[0];
        assert_eq!(request.method, "PUT");
        assert_eq!(request.body, "apiVersion: v1\nkind: Pod\n");
        assert_eq!(
            request.header("x-amz-server-side-encryption"),
            Some("aws:kms")
        );
        assert_eq!(
            request.header("x-amz-server-side-encryption-aws-kms-key-id"),
            Some("alias/templates")
        );
        assert_eq!(request.header("content-type"), Some("application/yaml"));
        assert_eq!(
            request.header("x-amz-checksum-sha256"),
            Some(aws_smithy_types::base64::encode([0xab; 32]).as_str())
        );
        assert_eq!(
            request.header("x-amz-expected-bucket-owner"),
            Some("123456789012")
        );
    }

    #[tokio::test]
    async fn put_object_retries_slow_down_then_names_a_missing_bucket() {
        let slow_down = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>r-1</RequestId></Error>";
        let no_bucket = "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><RequestId>r-2</RequestId></Error>";
        let server = TestServer::start(vec![
            Reply::xml(503, slow_down),
            Reply::empty(200),
            Reply::xml(404, no_bucket),
        ]);
        let s3 = s3(&server, 2).await;
        let put = PutObject {
            object: object(),
            body: b"x".to_vec(),
            content_type: "application/yaml".into(),
            encryption: Encryption::Aes256,
            sha256: None,
        };
        s3.put_object(put.clone()).await.unwrap();
        assert_eq!(server.requests().len(), 2, "SlowDown is retried");
        assert_eq!(
            server.requests()[0].header("x-amz-server-side-encryption"),
            Some("AES256")
        );
        let missing = s3.put_object(put).await.unwrap_err();
        assert!(missing.is_not_found(), "{missing:?}");
        assert_eq!(missing.iam_action(), "s3:PutObject");
    }
}
