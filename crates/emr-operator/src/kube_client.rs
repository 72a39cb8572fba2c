//! The operator's Kubernetes client: configured as usual (KUBECONFIG, else in-cluster), plus
//! timeouts, so that an apiserver (or a network path) that stops answering fails requests
//! instead of hanging them forever. kube's own default has no read timeout at all.

use std::time::Duration;

/// kube-runtime's watcher asks the apiserver to end each watch after 290 s and, if nothing
/// arrives for 5 s longer, treats the connection as dead and reconnects. A read timeout
/// shorter than this would break every quiet watch.
pub const WATCH_IDLE_TIMEOUT: Duration = Duration::from_secs(295);

/// The client's socket timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KubeTimeouts {
    /// Opening a connection.
    pub connect: Duration,
    /// Silence of the apiserver on a connection, counted from the last byte sent or received.
    pub read: Duration,
    /// Waiting to write a request.
    pub write: Duration,
}

/// Why no Kubernetes client could be built.
#[derive(Debug, thiserror::Error)]
pub enum KubeClientError {
    #[error(
        "the Kubernetes read timeout ({0:?}) must be longer than the watches' idle timeout ({WATCH_IDLE_TIMEOUT:?}), or every quiet watch breaks"
    )]
    ReadTimeoutTooShort(Duration),
    #[error("the Kubernetes {0} timeout must be more than zero")]
    ZeroTimeout(&'static str),
    #[error("cannot configure a Kubernetes client (KUBECONFIG or in-cluster config): {0}")]
    Configure(#[source] kube::config::InferConfigError),
    #[error("cannot build a Kubernetes client: {0}")]
    Build(#[source] kube::Error),
}

impl KubeTimeouts {
    /// Refuses timeouts that are zero or would break watches.
    pub fn check(&self) -> Result<(), KubeClientError> {
        for (name, value) in [
            ("connect", self.connect),
            ("read", self.read),
            ("write", self.write),
        ] {
            if value.is_zero() {
                return Err(KubeClientError::ZeroTimeout(name));
            }
        }
        if self.read <= WATCH_IDLE_TIMEOUT {
            return Err(KubeClientError::ReadTimeoutTooShort(self.read));
        }
        Ok(())
    }

    /// Sets the timeouts on a client configuration.
    pub fn apply(&self, config: &mut kube::Config) {
        config.connect_timeout = Some(self.connect);
        config.read_timeout = Some(self.read);
        config.write_timeout = Some(self.write);
        // Count the read timeout from when a request was sent, not from when its pooled
        // connection last saw traffic.
        config.reset_reader_on_write = true;
    }
}

/// The client for the apiserver found in the environment, with `timeouts`.
pub async fn client(timeouts: KubeTimeouts) -> Result<kube::Client, KubeClientError> {
    timeouts.check()?;
    let mut config = kube::Config::infer()
        .await
        .map_err(KubeClientError::Configure)?;
    timeouts.apply(&mut config);
    kube::Client::try_from(config).map_err(KubeClientError::Build)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeouts(read_secs: u64) -> KubeTimeouts {
        KubeTimeouts {
            connect: Duration::from_secs(10),
            read: Duration::from_secs(read_secs),
            write: Duration::from_secs(30),
        }
    }

    #[test]
    fn read_timeout_must_outlast_a_quiet_watch() {
        assert!(timeouts(300).check().is_ok());
        for short in [30, 290, 295] {
            assert!(
                matches!(
                    timeouts(short).check(),
                    Err(KubeClientError::ReadTimeoutTooShort(_))
                ),
                "{short}s"
            );
        }
    }

    #[test]
    fn zero_timeouts_are_refused() {
        let mut t = timeouts(300);
        t.connect = Duration::ZERO;
        assert!(matches!(
            t.check(),
            Err(KubeClientError::ZeroTimeout("connect"))
        ));
    }

    #[test]
    fn every_timeout_is_set() {
        let mut config = kube::Config::new("https://127.0.0.1:6443".parse().unwrap());
        config.read_timeout = None;
        timeouts(300).apply(&mut config);
        assert_eq!(config.connect_timeout, Some(Duration::from_secs(10)));
        assert_eq!(config.read_timeout, Some(Duration::from_secs(300)));
        assert_eq!(config.write_timeout, Some(Duration::from_secs(30)));
        assert!(config.reset_reader_on_write);
    }
}
