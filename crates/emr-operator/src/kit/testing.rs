//! A mock apiserver for tests of a controller's I/O without a cluster (controller-rs'
//! `ApiServerVerifier` is the model): a real `kube::Client` whose requests arrive, one by one,
//! at the test, which checks each and answers it. The order and content of calls, and what a
//! reconcile does with a 409 or a 404, are then asserted without a cluster.
//!
//! Event writes are answered by the server itself (they are best effort, and their number is not
//! what a test is about) and kept for [`MockApiServer::events`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

/// How long a test waits for the next request before it fails.
const WAIT: Duration = Duration::from_secs(10);

/// One request the client sent, waiting for its answer.
pub struct Call {
    pub method: http::Method,
    /// Path and query, e.g. `/apis/emr-on-eks.dev/v1alpha1/namespaces/ns/sparkjobruns/j/status`.
    pub path: String,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
    /// The `content-type` the client sent (which patch flavour).
    pub content_type: String,
    answer: oneshot::Sender<Response<Body>>,
}

impl Call {
    /// Answers with `status` and `body` as JSON.
    pub fn reply(self, status: u16, body: &Value) {
        let response = Response::builder()
            .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string().into_bytes()));
        if let Ok(response) = response {
            // Err: the client gave up on the request; the test's next expectation fails instead.
            let _ = self.answer.send(response);
        }
    }

    /// Answers 200 with `object`.
    pub fn ok(self, object: &Value) {
        self.reply(200, object);
    }

    /// Answers with a Kubernetes `Status` failure of `code` (409 Conflict, 404 NotFound, ...).
    pub fn fail(self, code: u16, reason: &str) {
        let body = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": format!("mock apiserver: {reason}"),
            "reason": reason, "code": code,
        });
        self.reply(code, &body);
    }

    /// Whether this is `method` on a path ending in `suffix` (query ignored).
    pub fn is(&self, method: &str, suffix: &str) -> bool {
        let path = self.path.split('?').next().unwrap_or_default();
        self.method.as_str() == method && path.ends_with(suffix)
    }
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.method, self.path, self.body)
    }
}

/// The test's end of the mock apiserver.
pub struct MockApiServer {
    calls: mpsc::UnboundedReceiver<Call>,
    events: Arc<Mutex<Vec<Value>>>,
}

impl MockApiServer {
    /// A client talking to a new mock apiserver, and the server's test end.
    pub fn start() -> (kube::Client, MockApiServer) {
        let (sender, calls) = mpsc::unbounded_channel::<Call>();
        let events = Arc::new(Mutex::new(Vec::new()));
        let kept = events.clone();
        let service = tower::service_fn(move |request: Request<Body>| {
            let sender = sender.clone();
            let kept = kept.clone();
            async move {
                let (parts, body) = request.into_parts();
                let bytes = body.collect_bytes().await?;
                let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                let path = parts
                    .uri
                    .path_and_query()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let (answer, answered) = oneshot::channel();
                let call = Call {
                    method: parts.method,
                    path,
                    content_type: parts
                        .headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned(),
                    body,
                    answer,
                };
                if call.path.contains("/events") {
                    kept.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(call.body.clone());
                    let echo = call.body.clone();
                    call.ok(&echo);
                } else if sender.send(call).is_err() {
                    return Err::<Response<Body>, kube::Error>(kube::Error::Service(
                        "the mock apiserver's test end is gone".into(),
                    ));
                }
                answered.await.map_err(|_| {
                    kube::Error::Service("the test dropped a call without answering it".into())
                })
            }
        });
        let client = kube::Client::new(service, "default");
        (client, MockApiServer { calls, events })
    }

    /// The next request; fails the test when none comes.
    pub async fn next(&mut self) -> Call {
        match tokio::time::timeout(WAIT, self.calls.recv()).await {
            Ok(Some(call)) => call,
            Ok(None) => panic!("the client is gone: no more requests"),
            Err(_) => panic!("no request within {WAIT:?}"),
        }
    }

    /// The next request, which must be `method` on a path ending in `suffix`.
    pub async fn expect(&mut self, method: &str, suffix: &str) -> Call {
        let call = self.next().await;
        assert!(
            call.is(method, suffix),
            "expected {method} …{suffix}, got {call:?}"
        );
        call
    }

    /// Fails the test if a request arrives within `quiet`.
    pub async fn expect_no_more(&mut self, quiet: Duration) {
        if let Ok(Some(call)) = tokio::time::timeout(quiet, self.calls.recv()).await {
            panic!("unexpected request: {call:?}");
        }
    }

    /// The bodies of the Event requests so far (creates, and a series' patches), in order.
    pub fn event_bodies(&self) -> Vec<Value> {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The reasons of the Events written so far, in order.
    pub fn event_reasons(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter_map(|e| e["reason"].as_str().map(str::to_owned))
            .collect()
    }
}

/// `object` as the apiserver returns it after a write: `patch`'s top-level fields merged in and
/// the resourceVersion moved on.
pub fn written(object: &Value, patch: &Value) -> Value {
    let mut out = object.clone();
    if let (Some(fields), Some(changes)) = (out.as_object_mut(), patch.as_object()) {
        for (key, value) in changes {
            match (fields.get_mut(key), value) {
                (Some(Value::Object(have)), Value::Object(add)) if key == "metadata" => {
                    for (k, v) in add {
                        have.insert(k.clone(), v.clone());
                    }
                }
                _ => {
                    fields.insert(key.clone(), value.clone());
                }
            }
        }
    }
    let version = out["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    out["metadata"]["resourceVersion"] = json!(version.saturating_add(1).to_string());
    out
}

/// An AWS failure of `kind` as the AWS layer reports one (code `X`, message `m`): the fixture
/// of every test that sorts errors by what AWS said.
pub fn aws_fault(kind: emr_aws::FaultKind) -> emr_aws::AwsFault {
    emr_aws::AwsFault {
        kind,
        code: Some("X".into()),
        message: "m".into(),
        request_id: None,
        http_status: None,
    }
}

/// A failed AWS call (CancelJobRun of job run `jr` in virtual cluster `vc`) whose cause is of
/// `kind`.
pub fn aws_error(kind: emr_aws::FaultKind) -> emr_aws::AwsError {
    emr_aws::AwsError::CancelJobRun {
        virtual_cluster_id: "vc".into(),
        job_run_id: "jr".into(),
        cause: aws_fault(kind),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::Api;

    use super::*;
    use crate::kit::status::{self, Precondition, WriteError};

    fn config_map(version: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "ns", "resourceVersion": version},
        })
    }

    #[tokio::test]
    async fn the_test_sees_each_request_and_answers_it() {
        let (client, mut server) = MockApiServer::start();
        let api: Api<ConfigMap> = Api::namespaced(client, "ns");
        let read = tokio::spawn(async move { api.get("c").await });
        let call = server
            .expect("GET", "/api/v1/namespaces/ns/configmaps/c")
            .await;
        call.ok(&config_map("5"));
        let got = read.await.unwrap().unwrap();
        assert_eq!(got.metadata.resource_version.as_deref(), Some("5"));
    }

    #[tokio::test]
    async fn a_status_write_carries_its_precondition_and_a_409_is_stale() {
        let (client, mut server) = MockApiServer::start();
        let api: Api<ConfigMap> = Api::namespaced(client, "ns");
        let object: ConfigMap = serde_json::from_value(config_map("5")).unwrap();
        let write = tokio::spawn(async move {
            status::apply(&api, &object, Precondition::of(&object), &json!({"x": 1})).await
        });
        let call = server.expect("PATCH", "/configmaps/c/status").await;
        assert_eq!(call.body["metadata"]["resourceVersion"], "5");
        assert_eq!(call.content_type, "application/apply-patch+yaml");
        call.fail(409, "Conflict");
        let refused = write.await.unwrap().unwrap_err();
        assert!(matches!(refused, WriteError::Conflict(_)), "{refused:?}");
    }

    #[test]
    fn a_written_object_moves_its_version_on() {
        let after = written(
            &config_map("5"),
            &json!({"metadata": {"finalizers": ["f"]}}),
        );
        assert_eq!(after["metadata"]["resourceVersion"], "6");
        assert_eq!(after["metadata"]["finalizers"], json!(["f"]));
        assert_eq!(after["metadata"]["name"], "c");
    }
}
