//! A proxy between one operator replica and the bed's kube-apiserver, on 127.0.0.1, that can
//! blackhole that replica's Lease requests: hold them open without an answer (no reset, no
//! error), as a network path that silently drops packets would, while every other request of
//! the replica passes.
//!
//! apiserver traffic is TLS, so the proxy terminates it with the apiserver's own serving
//! certificate from the bed's PKI (`.testbed/pki`, issued for 127.0.0.1 by the bed's CA): the
//! replica verifies it exactly as it verifies the real apiserver, and only its kubeconfig's
//! `server` differs. Each connection from the replica gets its own TLS connection to the
//! apiserver; requests are forwarded as they are (the replica's bearer token included) and
//! responses, watch streams too, are streamed back.
//!
//! It can also keep a log of the replica's write requests (method, path, answer), so a
//! benchmark can tell which replica wrote which object: the apiserver records no such thing on
//! the object (every replica writes with the same field manager).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Whether a request path is about Leases (`coordination.k8s.io`, any version, any namespace).
pub fn is_lease_request(path: &str) -> bool {
    path.starts_with("/apis/coordination.k8s.io/") && path.split('/').any(|part| part == "leases")
}

#[derive(Default)]
struct Switches {
    blackhole_leases: AtomicBool,
    held: AtomicU64,
    forwarded_while_blackholing: AtomicU64,
    record_writes: AtomicBool,
    writes: Mutex<Vec<WriteRequest>>,
}

/// A write request (any method but GET, HEAD and OPTIONS) the replica sent through the proxy.
#[derive(Clone, Debug)]
pub struct WriteRequest {
    /// Seconds since the Unix epoch when the proxy received it.
    pub epoch: f64,
    pub method: String,
    /// The URI's path, without the query.
    pub path: String,
    /// The apiserver's HTTP status, or 0 when no answer came back.
    pub status: u16,
}

/// A running proxy; it stops when dropped.
pub struct ApiserverProxy {
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    /// The replica's kubeconfig, pointed at the proxy.
    kubeconfig: serde_json::Value,
    switches: Arc<Switches>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ApiserverProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

impl ApiserverProxy {
    /// Starts a proxy in front of the apiserver `kubeconfig` names (the bed's, on 127.0.0.1),
    /// with the bed's PKI in `pki`. Runs on the caller's runtime: tests using it need a
    /// multi-threaded one, so that the proxy goes on while the test waits.
    pub async fn start(kubeconfig: &Path, pki: &Path) -> ApiserverProxy {
        let text = std::fs::read_to_string(kubeconfig).expect("read kubeconfig");
        let mut kubeconfig: serde_json::Value =
            serde_saphyr::from_str(&text).expect("parse kubeconfig");
        let clusters = kubeconfig["clusters"]
            .as_array_mut()
            .expect("kubeconfig clusters");
        let server = clusters
            .first()
            .and_then(|c| c["cluster"]["server"].as_str())
            .expect("kubeconfig server")
            .to_string();
        let upstream: SocketAddr = server
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|e| panic!("apiserver address {server}: {e}"));
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(pki.join("apiserver.crt"))
                .expect("read apiserver.crt")
                .collect::<Result<_, _>>()
                .expect("parse apiserver.crt");
        let key = PrivateKeyDer::from_pem_file(pki.join("apiserver.key")).expect("apiserver.key");
        let mut server = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server TLS config");
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(server));

        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_file_iter(pki.join("ca.crt")).expect("read ca.crt") {
            roots
                .add(ca.expect("parse ca.crt"))
                .expect("add the bed CA");
        }
        let client = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = TlsConnector::from(Arc::new(client));

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let url = format!("https://{}", listener.local_addr().expect("proxy address"));
        for cluster in clusters {
            cluster["cluster"]["server"] = serde_json::Value::String(url.clone());
        }
        let switches = Arc::new(Switches::default());
        let shared = switches.clone();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((downstream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let connector = connector.clone();
                let switches = shared.clone();
                connections.spawn(async move {
                    if let Err(error) =
                        serve(downstream, acceptor, upstream, connector, switches).await
                    {
                        eprintln!("apiserver proxy: connection ended: {error}");
                    }
                });
            }
        });
        ApiserverProxy {
            url,
            kubeconfig,
            switches,
            task,
        }
    }

    /// From now on, every Lease request is held without an answer; the rest pass.
    pub fn blackhole_leases(&self) {
        self.switches.blackhole_leases.store(true, Ordering::SeqCst);
    }

    /// How many Lease requests have been held.
    pub fn held_lease_requests(&self) -> u64 {
        self.switches.held.load(Ordering::SeqCst)
    }

    /// How many other requests passed while Lease requests were being held.
    pub fn forwarded_while_blackholing(&self) -> u64 {
        self.switches
            .forwarded_while_blackholing
            .load(Ordering::SeqCst)
    }

    /// From now on, every write request is logged (see [`ApiserverProxy::writes`]).
    pub fn record_writes(&self) {
        self.switches.record_writes.store(true, Ordering::SeqCst);
    }

    /// The write requests logged so far, in the order they were answered.
    pub fn writes(&self) -> Vec<WriteRequest> {
        self.switches
            .writes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Writes the kubeconfig the proxy was started with, pointed at the proxy, to `out`.
    pub fn write_kubeconfig(&self, out: &Path) {
        let text = serde_saphyr::to_string(&self.kubeconfig).expect("kubeconfig YAML");
        std::fs::write(out, text).expect("write kubeconfig");
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn serve(
    downstream: TcpStream,
    acceptor: TlsAcceptor,
    upstream: SocketAddr,
    connector: TlsConnector,
    switches: Arc<Switches>,
) -> Result<(), BoxError> {
    let downstream = acceptor.accept(downstream).await?;
    let tcp = TcpStream::connect(upstream).await?;
    let tls = connector
        .connect(ServerName::IpAddress(upstream.ip().into()), tcp)
        .await?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
    let upstream_connection = tokio::spawn(connection);
    let sender = Arc::new(tokio::sync::Mutex::new(sender));
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let sender = sender.clone();
        let switches = switches.clone();
        async move { forward(request, &sender, &switches).await }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(downstream), service)
        .await;
    upstream_connection.abort();
    Ok(served?)
}

async fn forward(
    request: Request<Incoming>,
    sender: &tokio::sync::Mutex<SendRequest<Incoming>>,
    switches: &Switches,
) -> Result<Response<Incoming>, hyper::Error> {
    if switches.blackhole_leases.load(Ordering::SeqCst) {
        if is_lease_request(request.uri().path()) {
            switches.held.fetch_add(1, Ordering::SeqCst);
            // Never answered: the replica sees only silence until it gives up on the request.
            return std::future::pending().await;
        }
        switches
            .forwarded_while_blackholing
            .fetch_add(1, Ordering::SeqCst);
    }
    let write = (switches.record_writes.load(Ordering::SeqCst)
        && !matches!(
            *request.method(),
            hyper::Method::GET | hyper::Method::HEAD | hyper::Method::OPTIONS
        ))
    .then(|| WriteRequest {
        epoch: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
        status: 0,
    });
    // One request at a time per connection, as HTTP/1.1 has it.
    let mut sender = sender.lock().await;
    sender.ready().await?;
    let answer = sender.send_request(request).await;
    if let Some(mut write) = write {
        write.status = answer.as_ref().map_or(0, |r| r.status().as_u16());
        switches
            .writes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(write);
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::is_lease_request;

    #[test]
    fn lease_paths() {
        assert!(is_lease_request(
            "/apis/coordination.k8s.io/v1/namespaces/ns/leases/op"
        ));
        assert!(is_lease_request(
            "/apis/coordination.k8s.io/v1/namespaces/ns/leases"
        ));
        assert!(!is_lease_request("/api/v1/namespaces/leases/configmaps"));
        assert!(!is_lease_request(
            "/apis/emr-on-eks.dev/v1alpha1/namespaces/ns/sparkjobruns/leases"
        ));
    }
}
