//! CloudWatch Logs' JSON API: DescribeLogStreams and GetLogEvents.

use serde_json::{Value, json};

use crate::aws::{Aws, AwsError, Request};

async fn call(
    aws: &Aws,
    operation: &'static str,
    resource: &str,
    body: Value,
) -> Result<Value, AwsError> {
    let url = aws
        .endpoint("CLOUDWATCH_LOGS")
        .unwrap_or_else(|| format!("https://logs.{}.amazonaws.com", aws.region()));
    let answer = aws
        .send(Request {
            service: "logs",
            operation,
            resource,
            method: "POST",
            url: format!("{url}/"),
            headers: vec![
                ("content-type", "application/x-amz-json-1.1".into()),
                ("x-amz-target", format!("Logs_20140328.{operation}")),
            ],
            body: body.to_string().into_bytes(),
        })
        .await?;
    serde_json::from_slice(&answer).map_err(|e| AwsError::Service {
        operation,
        resource: resource.to_owned(),
        status: 200,
        code: "UnreadableAnswer".into(),
        message: e.to_string(),
    })
}

/// Every stream of `group` whose name starts with `prefix`.
pub async fn list_streams(aws: &Aws, group: &str, prefix: &str) -> Result<Vec<String>, AwsError> {
    let resource = format!("log group {group}");
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"logGroupName": group, "logStreamNamePrefix": prefix});
        if let Some(t) = &token {
            body["nextToken"] = json!(t);
        }
        let page = match call(aws, "DescribeLogStreams", &resource, body).await {
            Ok(page) => page,
            // EMR creates the group with the first stream: no group yet is no logs yet.
            Err(AwsError::Service { code, .. }) if code == "ResourceNotFoundException" => break,
            Err(e) => return Err(e),
        };
        let streams = page["logStreams"].as_array().cloned().unwrap_or_default();
        names.extend(
            streams
                .iter()
                .filter_map(|s| s["logStreamName"].as_str().map(str::to_owned)),
        );
        match page["nextToken"].as_str() {
            Some(next) if !streams.is_empty() && token.as_deref() != Some(next) => {
                token = Some(next.to_owned())
            }
            _ => break,
        }
    }
    names.sort();
    Ok(names)
}

/// The messages of `stream` after `token` (from the start without one), and the token to go on from.
pub async fn read_stream(
    aws: &Aws,
    group: &str,
    stream: &str,
    mut token: Option<String>,
) -> Result<(Vec<String>, Option<String>), AwsError> {
    let resource = format!("log stream {stream} of log group {group}");
    let mut lines = Vec::new();
    loop {
        let mut body =
            json!({"logGroupName": group, "logStreamName": stream, "startFromHead": true});
        if let Some(t) = &token {
            body["nextToken"] = json!(t);
        }
        let page = call(aws, "GetLogEvents", &resource, body).await?;
        let events = page["events"].as_array().cloned().unwrap_or_default();
        lines.extend(
            events
                .iter()
                .filter_map(|e| e["message"].as_str().map(str::to_owned)),
        );
        let next = page["nextForwardToken"].as_str().map(str::to_owned);
        // GetLogEvents answers the same token once the end of the stream is reached.
        let at_end = events.is_empty() || next.is_none() || next == token;
        token = next.or(token);
        if at_end {
            return Ok((lines, token));
        }
    }
}
