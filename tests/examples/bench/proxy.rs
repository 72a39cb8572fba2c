//! A TCP proxy between the operator and kube-apiserver (TLS passes through untouched) that can
//! drop every connection at once: watches, list requests and writes in flight, as a load
//! balancer failover or an apiserver's connection shedding would.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::Res;

pub struct Proxy {
    pub port: u16,
    cut: watch::Sender<u64>,
    pub connections: Arc<AtomicU64>,
    pub dropped: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Listens on a free 127.0.0.1 port and forwards to `127.0.0.1:<upstream>`.
    pub async fn start(upstream: u16) -> Res<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("proxy bind: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("proxy address: {e}"))?
            .port();
        let (cut, cut_rx) = watch::channel(0u64);
        let connections = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let task = {
            let connections = connections.clone();
            let dropped = dropped.clone();
            tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    connections.fetch_add(1, Ordering::Relaxed);
                    let mut cut_rx = cut_rx.clone();
                    let dropped = dropped.clone();
                    tokio::spawn(async move {
                        let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await
                        else {
                            return;
                        };
                        cut_rx.mark_unchanged();
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut_rx.changed() => {
                                dropped.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        // Dropping both streams closes them (a reset mid-stream for the operator).
                    });
                }
            })
        };
        Ok(Proxy {
            port,
            cut,
            connections,
            dropped,
            task,
        })
    }

    /// Closes every open connection.
    pub fn drop_all(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}
