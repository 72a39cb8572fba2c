//! A small apiserver behind the kit's mock: it keeps objects by path and answers GET, LIST,
//! apply, merge patch, status patch and DELETE as the real one does (resourceVersion
//! preconditions included), so a whole reconcile runs against it. Every call is logged with the
//! number of AWS requests the scripted AWS server had received by then: the order between the
//! two sides is what these tests assert.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use emr_aws::test_server::TestServer;
use emr_aws::{Aws, AwsClients, NoopObserver};
use serde_json::{Value, json};

use crate::kit::testing::{Call, MockApiServer};
use crate::metrics::Metrics;
use crate::{Context, OperatorConfig};

/// One request the reconcile sent to the apiserver.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// Without the query.
    pub path: String,
    pub body: Value,
    /// How many AWS requests had been sent before this one.
    pub aws_before: usize,
}

impl Seen {
    pub fn is(&self, method: &str, suffix: &str) -> bool {
        self.method == method && self.path.ends_with(suffix)
    }

    /// A write (anything but a read).
    pub fn writes(&self) -> bool {
        self.method != "GET"
    }
}

/// A refusal to answer instead of the stored state, once.
struct Refusal {
    method: &'static str,
    suffix: &'static str,
    code: u16,
}

#[derive(Default)]
pub struct FakeApiserver {
    objects: BTreeMap<String, Value>,
    version: u64,
    refusals: Vec<Refusal>,
    pub seen: Vec<Seen>,
}

pub const VC_PATH: &str = "/apis/emr-on-eks.dev/v1alpha1/virtualclusters";

impl FakeApiserver {
    /// Stores `object` at `path` (its resourceVersion and uid filled in when missing).
    pub fn put(&mut self, path: &str, mut object: Value) {
        self.version += 1;
        let meta = &mut object["metadata"];
        if meta["uid"].is_null() {
            meta["uid"] = json!(format!("uid-{}", self.version));
        }
        meta["resourceVersion"] = json!(self.version.to_string());
        self.objects.insert(path.to_owned(), object);
    }

    pub fn get(&self, path: &str) -> Option<&Value> {
        self.objects.get(path)
    }

    /// The next `method` on a path ending in `suffix` is answered with `code`, and changes nothing.
    pub fn refuse_once(&mut self, method: &'static str, suffix: &'static str, code: u16) {
        self.refusals.push(Refusal {
            method,
            suffix,
            code,
        });
    }

    /// Runs `reconcile` to its end, answering every request it sends to `server`.
    pub async fn serve<T>(
        &mut self,
        server: &mut MockApiServer,
        aws: &TestServer,
        reconcile: impl Future<Output = T>,
    ) -> T {
        tokio::pin!(reconcile);
        loop {
            tokio::select! {
                out = &mut reconcile => return out,
                call = server.next() => self.answer(call, aws.requests().len()),
            }
        }
    }

    fn answer(&mut self, call: Call, aws_before: usize) {
        let path = call.path.split('?').next().unwrap_or_default().to_owned();
        let query = call.path.split_once('?').map(|(_, q)| q.to_owned());
        let method = call.method.as_str().to_owned();
        self.seen.push(Seen {
            method: method.clone(),
            path: path.clone(),
            body: call.body.clone(),
            aws_before,
        });
        if let Some(i) = self
            .refusals
            .iter()
            .position(|r| r.method == method && path.ends_with(r.suffix))
        {
            let refusal = self.refusals.remove(i);
            return call.fail(refusal.code, "Refused");
        }
        match method.as_str() {
            "GET" if is_collection(&path) => {
                let items = self.list(&path, query.as_deref());
                call.ok(&json!({
                    "apiVersion": "v1", "kind": "List",
                    "metadata": {"resourceVersion": self.version.to_string()},
                    "items": items,
                }));
            }
            "GET" => match self.objects.get(&path) {
                Some(object) => call.ok(object),
                None => call.fail(404, "NotFound"),
            },
            "PATCH" if path.ends_with("/status") => {
                let object_path = path.trim_end_matches("/status").to_owned();
                match self.precondition(&object_path, &call.body) {
                    Err(code) => call.fail(code, "Conflict"),
                    Ok(None) => call.fail(404, "NotFound"),
                    Ok(Some(mut object)) => {
                        object["status"] = call.body["status"].clone();
                        self.put(&object_path, object);
                        call.ok(&self.objects[&object_path]);
                    }
                }
            }
            "PATCH" => match self.precondition(&path, &call.body) {
                Err(code) => call.fail(code, "Conflict"),
                Ok(current) => {
                    let apply = call.content_type.contains("apply-patch");
                    let mut object = match current {
                        Some(object) => object,
                        None if apply => json!({}),
                        None => return call.fail(404, "NotFound"),
                    };
                    merge(&mut object, &call.body, apply);
                    self.put(&path, object);
                    call.ok(&self.objects[&path]);
                }
            },
            "DELETE" => match self.objects.remove(&path) {
                Some(object) => call.ok(&object),
                None => call.fail(404, "NotFound"),
            },
            _ => call.fail(405, "MethodNotAllowed"),
        }
    }

    /// The stored object, unless the body names a resourceVersion it is no longer at (409).
    fn precondition(&self, path: &str, body: &Value) -> Result<Option<Value>, u16> {
        let current = self.objects.get(path).cloned();
        match (body["metadata"]["resourceVersion"].as_str(), &current) {
            (Some(wanted), Some(object))
                if object["metadata"]["resourceVersion"].as_str() != Some(wanted) =>
            {
                Err(409)
            }
            (Some(_), None) => Err(404),
            _ => Ok(current),
        }
    }

    fn list(&self, collection: &str, query: Option<&str>) -> Vec<Value> {
        let selector: Vec<(String, String)> = query
            .unwrap_or_default()
            .split('&')
            .filter_map(|p| p.strip_prefix("labelSelector="))
            .flat_map(|s| decode(s).split(',').map(str::to_owned).collect::<Vec<_>>())
            .filter_map(|term| {
                term.split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
            })
            .collect();
        self.objects
            .iter()
            .filter(|(path, _)| {
                path.rsplit_once('/')
                    .is_some_and(|(parent, _)| parent == collection)
            })
            .map(|(_, object)| object)
            .filter(|object| {
                selector
                    .iter()
                    .all(|(k, v)| object["metadata"]["labels"][k].as_str() == Some(v))
            })
            .cloned()
            .collect()
    }
}

/// `/api/v1/namespaces/ns/serviceaccounts` or `/apis/g/v/virtualclusters`, not an object.
fn is_collection(path: &str) -> bool {
    let rest: Vec<&str> = match path.strip_prefix("/api/v1/") {
        Some(rest) => rest.split('/').collect(),
        None => path.split('/').skip(4).collect(),
    };
    match rest.as_slice() {
        ["namespaces", _, _] => true,
        ["namespaces", _, _, ..] => false,
        [_] => true,
        _ => false,
    }
}

/// Server-side apply (approximated as a deep merge of maps) or a JSON merge patch (null
/// removes).
fn merge(into: &mut Value, patch: &Value, apply: bool) {
    match (into, patch) {
        (Value::Object(have), Value::Object(add)) => {
            for (key, value) in add {
                if value.is_null() && !apply {
                    have.remove(key);
                } else if let Some(slot) = have.get_mut(key) {
                    merge(slot, value, apply);
                } else {
                    have.insert(key.clone(), value.clone());
                }
            }
        }
        (slot, value) => *slot = value.clone(),
    }
}

fn decode(text: &str) -> String {
    text.replace("%3D", "=")
        .replace("%2F", "/")
        .replace("%2C", ",")
}

/// The operator's context for a reconcile against `client` and `aws`, with default settings.
pub async fn context(client: kube::Client, aws: &TestServer) -> Arc<Context> {
    #[derive(clap::Parser)]
    struct Flags {
        #[command(flatten)]
        config: OperatorConfig,
    }
    let flags = <Flags as clap::Parser>::try_parse_from(["operator"]).expect("default flags");
    let clients = AwsClients::from_sdk_config(&aws.sdk_config(1).await);
    let aws = Aws::new(&clients, Arc::new(NoopObserver));
    Arc::new(Context::new(
        client,
        aws,
        flags.config,
        Arc::new(Metrics::new()),
        None,
    ))
}
