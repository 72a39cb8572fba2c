//! The content-addressed store: `<s3Uri><sha256>.yaml`. The same content is written once
//! (HeadObject first) and shared by every run; nothing is ever overwritten or deleted by the
//! operator, so a URI recorded in any status keeps naming the bytes it was recorded for.

use emr_api::pod_template::{PodTemplateStore, ServerSideEncryption};
use emr_aws::s3::{Encryption, ObjectRef, PutObject, Stored};
use emr_aws::{AwsError, S3};
use sha2::{Digest, Sha256};

use super::render::Rendered;

/// A VirtualCluster's `podTemplateStore`, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Store {
    pub bucket: String,
    /// Empty, or ending in `/`.
    pub prefix: String,
    pub encryption: Encryption,
    pub expected_bucket_owner: Option<String>,
}

/// Why a `podTemplateStore` cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("podTemplateStore.s3Uri {0:?} is not s3://bucket/prefix/")]
    NotAnS3Uri(String),
    #[error("podTemplateStore.kmsKeyId is set but sse is not aws:kms")]
    KeyWithoutKms,
    #[error(
        "podTemplateStore.s3Uri {0:?} has {1:?} in its prefix, which Spark or Hadoop would read as something else than the object's key"
    )]
    UnsafeCharacter(String, char),
}

/// Characters a store prefix may not have (see [`Store::parse`]).
const UNSAFE_IN_PREFIX: [char; 6] = ['$', '{', '}', '#', '?', '\\'];

/// What [`ensure`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadOutcome {
    /// PutObject wrote it.
    Uploaded,
    /// HeadObject found it: an earlier run (or an earlier try of this one) wrote it.
    AlreadyPresent,
    /// An object of that name was there without the template's SHA-256 (written by someone
    /// else, or by an operator before it recorded checksums): PutObject wrote the template over it.
    Replaced,
}

impl UploadOutcome {
    /// The `outcome` label of `emr_operator_pod_template_uploads_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            UploadOutcome::Uploaded => "uploaded",
            UploadOutcome::AlreadyPresent => "already_present",
            UploadOutcome::Replaced => "replaced",
        }
    }
}

impl Store {
    /// `default_owner` (the VirtualCluster's account) is the expected bucket owner unless the
    /// store names one.
    pub fn parse(
        store: &PodTemplateStore,
        default_owner: Option<&str>,
    ) -> Result<Self, StoreError> {
        let rest = store
            .s3_uri
            .strip_prefix("s3://")
            .ok_or_else(|| StoreError::NotAnS3Uri(store.s3_uri.clone()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() || prefix.contains("//") || prefix.starts_with('/') {
            return Err(StoreError::NotAnS3Uri(store.s3_uri.clone()));
        }
        // The URI reaches Spark as a property value, where `${...}` is substituted (`${env:X}`,
        // `${spark.x}`), and Hadoop reads it as a URI, where `#` and `?` end the path: Spark
        // would then read another object than the one written.
        if let Some(c) = prefix.chars().find(|c| UNSAFE_IN_PREFIX.contains(c)) {
            return Err(StoreError::UnsafeCharacter(store.s3_uri.clone(), c));
        }
        let prefix = if prefix.is_empty() || prefix.ends_with('/') {
            prefix.to_owned()
        } else {
            format!("{prefix}/")
        };
        let encryption = match (store.sse, &store.kms_key_id) {
            (Some(ServerSideEncryption::AwsKms), key) => Encryption::Kms {
                key_id: key.clone(),
            },
            (_, Some(_)) => return Err(StoreError::KeyWithoutKms),
            (Some(ServerSideEncryption::Aes256), None) => Encryption::Aes256,
            (None, None) => Encryption::BucketDefault,
        };
        Ok(Store {
            bucket: bucket.to_owned(),
            prefix,
            encryption,
            expected_bucket_owner: store
                .expected_bucket_owner
                .clone()
                .or_else(|| default_owner.map(str::to_owned)),
        })
    }

    /// The object holding the template with this hash.
    pub fn object(&self, sha256: &str) -> ObjectRef {
        ObjectRef {
            bucket: self.bucket.clone(),
            key: format!("{}{sha256}.yaml", self.prefix),
            expected_bucket_owner: self.expected_bucket_owner.clone(),
        }
    }

    /// The S3 URI Spark is given for the template with this hash.
    pub fn uri(&self, sha256: &str) -> String {
        self.object(sha256).to_string()
    }
}

/// Makes sure the rendered template is in the store: HeadObject, then PutObject only if it is
/// missing or S3 does not vouch for its content. Repeating it (after a crash, a retry, for
/// another job) writes nothing new.
///
/// The name alone proves nothing: anyone who may write under the prefix (a job role with
/// `s3:PutObject` on its bucket) can put other bytes under a template's name before or after
/// the operator. So an object counts as present only when the SHA-256 S3 keeps for it (written
/// with the object, checked by S3) is the template's; anything else is written over. Nothing
/// stops a later overwrite: the store's prefix must be the operator's alone (README).
pub async fn ensure(
    s3: &S3,
    store: &Store,
    rendered: &Rendered,
) -> Result<UploadOutcome, AwsError> {
    let object = store.object(&rendered.sha256);
    let digest = Sha256::digest(&rendered.yaml).to_vec();
    let outcome = match s3.stored_sha256(&object).await? {
        Stored::Present {
            sha256: Some(stored),
        } if stored == digest => {
            return Ok(UploadOutcome::AlreadyPresent);
        }
        Stored::Absent => UploadOutcome::Uploaded,
        Stored::Present { .. } => UploadOutcome::Replaced,
    };
    s3.put_object(PutObject {
        object,
        body: rendered.yaml.clone(),
        content_type: "application/yaml".into(),
        encryption: store.encryption.clone(),
        sha256: Some(digest),
    })
    .await?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(uri: &str) -> PodTemplateStore {
        PodTemplateStore {
            s3_uri: uri.into(),
            sse: None,
            kms_key_id: None,
            expected_bucket_owner: None,
        }
    }

    #[test]
    fn the_key_is_the_prefix_and_the_hash() {
        let s = Store::parse(&store("s3://bucket/pod-templates"), Some("123456789012")).unwrap();
        assert_eq!(s.uri("abc"), "s3://bucket/pod-templates/abc.yaml");
        assert_eq!(
            s.object("abc").expected_bucket_owner.as_deref(),
            Some("123456789012")
        );
        let bare = Store::parse(&store("s3://bucket"), None).unwrap();
        assert_eq!(bare.uri("abc"), "s3://bucket/abc.yaml");
        assert_eq!(bare.encryption, Encryption::BucketDefault);
        let slash = Store::parse(&store("s3://bucket/a/b/"), None).unwrap();
        assert_eq!(slash.uri("abc"), "s3://bucket/a/b/abc.yaml");
    }

    #[test]
    fn encryption_and_owner_follow_the_store() {
        let mut kms = store("s3://bucket/p/");
        kms.sse = Some(ServerSideEncryption::AwsKms);
        kms.kms_key_id = Some("alias/k".into());
        kms.expected_bucket_owner = Some("210987654321".into());
        let s = Store::parse(&kms, Some("123456789012")).unwrap();
        assert_eq!(
            s.encryption,
            Encryption::Kms {
                key_id: Some("alias/k".into())
            }
        );
        assert_eq!(s.expected_bucket_owner.as_deref(), Some("210987654321"));

        let mut aes = store("s3://bucket/p/");
        aes.sse = Some(ServerSideEncryption::Aes256);
        assert_eq!(
            Store::parse(&aes, None).unwrap().encryption,
            Encryption::Aes256
        );
        aes.kms_key_id = Some("k".into());
        assert_eq!(Store::parse(&aes, None), Err(StoreError::KeyWithoutKms));
    }

    #[test]
    fn malformed_uris_are_refused() {
        for uri in ["bucket/p", "s3:///p", "s3://b//p", "https://b/p"] {
            assert!(Store::parse(&store(uri), None).is_err(), "{uri}");
        }
        // What Spark would substitute or Hadoop would cut: the job would read another key.
        for uri in [
            "s3://b/${env:HOME}/",
            "s3://b/p{x}/",
            "s3://b/a#b/",
            "s3://b/a?b/",
            "s3://b/a\\b/",
        ] {
            assert!(
                matches!(
                    Store::parse(&store(uri), None),
                    Err(StoreError::UnsafeCharacter(..))
                ),
                "{uri}"
            );
        }
        // Unicode and S3's other characters are keys like any other.
        let ok = Store::parse(&store("s3://b/équipe=a/dt=2026-11-30/"), None).unwrap();
        assert_eq!(ok.uri("h"), "s3://b/équipe=a/dt=2026-11-30/h.yaml");
    }
}
