//! A scripted HTTP server on 127.0.0.1, so tests exercise the real SDK clients end to end:
//! serialization of what we send, parsing and error classification of what AWS answers.
//! Built for this crate's tests and, with the `test-server` feature, for the operator's.
// Test support: a broken loopback socket or lock ends the test that uses it.
#![allow(clippy::expect_used)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;

#[derive(Clone, Debug)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }

    /// A restJson1 error (emr-containers, EKS): the code travels in `x-amzn-ErrorType`.
    pub fn json_error(status: u16, code: &str, message: &str) -> Self {
        Reply {
            status,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-amzn-errortype".into(), code.into()),
                ("x-amzn-requestid".into(), "req-1234".into()),
            ],
            body: serde_json::json!({ "message": message }).to_string(),
        }
    }

    /// An answer with no body (S3's HeadObject, PutObject).
    pub fn empty(status: u16) -> Self {
        Reply {
            status,
            headers: vec![("x-amz-request-id".into(), "req-s3".into())],
            body: String::new(),
        }
    }

    /// The same answer with one more header (S3's checksum on HeadObject).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// An awsQuery answer (IAM, STS), with the request id header those services send.
    pub fn xml(status: u16, body: &str) -> Self {
        Reply {
            status,
            headers: vec![
                ("content-type".into(), "text/xml".into()),
                ("x-amzn-requestid".into(), "req-xml".into()),
            ],
            body: body.to_owned(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The decoded value of one field of a form-encoded (awsQuery) body.
    pub fn form_field(&self, name: &str) -> Option<String> {
        self.body.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| {
                percent_encoding::percent_decode_str(&value.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            })
        })
    }
}

pub struct TestServer {
    pub url: String,
    recorded: Arc<Mutex<Vec<Recorded>>>,
}

impl TestServer {
    /// Answers requests with `replies` in order, then with 500s.
    pub fn start(replies: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let replies = Arc::new(Mutex::new(VecDeque::from(replies)));
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let server_recorded = recorded.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let replies = replies.clone();
                let recorded = server_recorded.clone();
                std::thread::spawn(move || serve_connection(stream, &replies, &recorded));
            }
        });
        TestServer { url, recorded }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.recorded.lock().expect("not poisoned").clone()
    }

    /// SDK configuration pointing at this server, isolated from the host's environment.
    pub async fn sdk_config(&self, max_attempts: u32) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .empty_test_environment()
            .test_credentials()
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(max_attempts)
                    .with_initial_backoff(Duration::from_millis(1))
                    .with_max_backoff(Duration::from_millis(5)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(10))
                    .build(),
            )
            .load()
            .await
    }
}

fn serve_connection(
    stream: TcpStream,
    replies: &Mutex<VecDeque<Reply>>,
    recorded: &Mutex<Vec<Recorded>>,
) {
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut writer = write_half;
    // Keep-alive: the SDK reuses connections, so serve requests until the client hangs up.
    while let Some(request) = read_request(&mut reader) {
        recorded.lock().expect("not poisoned").push(request);
        let reply = replies
            .lock()
            .expect("not poisoned")
            .pop_front()
            .unwrap_or_else(|| {
                Reply::json_error(500, "InternalServerException", "no scripted reply")
            });
        let mut head = format!(
            "HTTP/1.1 {} Scripted\r\ncontent-length: {}\r\n",
            reply.status,
            reply.body.len()
        );
        for (name, value) in &reply.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        if writer.write_all(head.as_bytes()).is_err()
            || writer.write_all(reply.body.as_bytes()).is_err()
            || writer.flush().is_err()
        {
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Recorded> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).ok()? == 0 {
        return None;
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut content_length = 0usize;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse().ok()?;
            }
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body).ok()?;
    Some(Recorded {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}
