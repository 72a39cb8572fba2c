//! S3's REST API: ListObjectsV2 and GetObject (gzip-decompressed, as EMR writes `*.gz`).

use std::io::Read;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::aws::{Aws, AwsError, Request, xml_elements};

/// RFC 3986 unreserved characters stay as they are; S3 wants everything else encoded.
const KEY_CHARS: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn encode(text: &str) -> String {
    utf8_percent_encode(text, KEY_CHARS).to_string()
}

/// The URL of `bucket` (path style with a custom endpoint or a dotted bucket name).
fn bucket_url(aws: &Aws, bucket: &str) -> String {
    match aws.endpoint("S3") {
        Some(endpoint) => format!("{endpoint}/{bucket}"),
        None if bucket.contains('.') => {
            format!("https://s3.{}.amazonaws.com/{bucket}", aws.region())
        }
        None => format!("https://{bucket}.s3.{}.amazonaws.com", aws.region()),
    }
}

async fn get(
    aws: &Aws,
    operation: &'static str,
    resource: &str,
    url: String,
) -> Result<Vec<u8>, AwsError> {
    aws.send(Request {
        service: "s3",
        operation,
        resource,
        method: "GET",
        url,
        headers: Vec::new(),
        body: Vec::new(),
    })
    .await
}

/// Every key under `prefix` in `bucket`, sorted.
pub async fn list_keys(aws: &Aws, bucket: &str, prefix: &str) -> Result<Vec<String>, AwsError> {
    let resource = format!("s3://{bucket}/{prefix}");
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        // Query parameters in the canonical (sorted) order SigV4 signs them in.
        let mut query = String::new();
        if let Some(t) = &token {
            query.push_str(&format!("continuation-token={}&", encode(t)));
        }
        query.push_str(&format!("list-type=2&prefix={}", encode(prefix)));
        let url = format!("{}/?{query}", bucket_url(aws, bucket));
        let body = get(aws, "ListObjectsV2", &resource, url).await?;
        let text = String::from_utf8_lossy(&body);
        keys.extend(xml_elements(&text, "Key"));
        let truncated = xml_elements(&text, "IsTruncated")
            .first()
            .map(String::as_str)
            == Some("true");
        match xml_elements(&text, "NextContinuationToken")
            .into_iter()
            .next()
        {
            Some(next) if truncated && token.as_deref() != Some(next.as_str()) => {
                token = Some(next)
            }
            _ => break,
        }
    }
    keys.sort();
    Ok(keys)
}

/// The lines of object `key`, decompressed when it is gzip.
pub async fn read_object(aws: &Aws, bucket: &str, key: &str) -> Result<Vec<String>, AwsError> {
    let resource = format!("s3://{bucket}/{key}");
    let path: Vec<String> = key.split('/').map(encode).collect();
    let url = format!("{}/{}", bucket_url(aws, bucket), path.join("/"));
    let body = get(aws, "GetObject", &resource, url).await?;
    let text = if body.starts_with(&[0x1f, 0x8b]) {
        let mut text = String::new();
        match flate2::read::MultiGzDecoder::new(body.as_slice()).read_to_string(&mut text) {
            Ok(_) => text,
            Err(e) => format!("(could not decompress {resource}: {e})"),
        }
    } else {
        String::from_utf8_lossy(&body).into_owned()
    };
    Ok(text.lines().map(str::to_owned).collect())
}
