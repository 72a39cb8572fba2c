//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several replicas exactly one
//! reconciles. The decision is pure ([`decide`]); [`LeaderElector`] does the apiserver I/O with
//! optimistic concurrency (resourceVersion), so two replicas racing for a free Lease cannot both win.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};

/// What this replica should do with the Lease, given what it saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseAction {
    /// No Lease exists: create it, holding it.
    Create,
    /// We hold it: renew it.
    Renew,
    /// Another holder let it expire (or released it): take it over.
    TakeOver,
    /// Another holder's Lease is still valid: wait and look again.
    Wait { holder: String },
}

/// The pure rule. Times are Unix milliseconds.
pub fn decide(spec: Option<&LeaseSpec>, me: &str, now_ms: i64) -> LeaseAction {
    let Some(spec) = spec else {
        return LeaseAction::Create;
    };
    let holder = spec.holder_identity.clone().unwrap_or_default();
    if holder == me {
        return LeaseAction::Renew;
    }
    if holder.is_empty() {
        return LeaseAction::TakeOver;
    }
    let renewed_ms = spec.renew_time.as_ref().map_or(0, |t| t.0.as_millisecond());
    let duration_ms = i64::from(spec.lease_duration_seconds.unwrap_or(15)) * 1000;
    if renewed_ms + duration_ms < now_ms {
        LeaseAction::TakeOver
    } else {
        LeaseAction::Wait { holder }
    }
}

/// Errors talking to the apiserver about the Lease.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("cannot read Lease {namespace}/{name}: {source}")]
    ReadLease {
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("cannot write Lease {namespace}/{name}: {source}")]
    WriteLease {
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("lost the Lease {namespace}/{name}: not renewed within {duration:?}")]
    LostLease {
        namespace: String,
        name: String,
        duration: Duration,
    },
}

/// Holds or waits for one Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    namespace: String,
    name: String,
    identity: String,
    duration: Duration,
}

fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

fn micro_time_now() -> MicroTime {
    MicroTime(Timestamp::now())
}

impl LeaderElector {
    pub fn new(
        client: kube::Client,
        namespace: &str,
        name: &str,
        identity: &str,
        duration: Duration,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            duration,
        }
    }

    fn read_err(&self, source: kube::Error) -> LeaderError {
        LeaderError::ReadLease {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            source,
        }
    }

    fn write_err(&self, source: kube::Error) -> LeaderError {
        LeaderError::WriteLease {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            source,
        }
    }

    /// One attempt to hold the Lease: true when we hold it afterwards. A lost race (conflict)
    /// is not an error: someone else holds it.
    pub async fn try_hold(&self) -> Result<bool, LeaderError> {
        let current = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| self.read_err(e))?;
        let action = decide(
            current.as_ref().and_then(|l| l.spec.as_ref()),
            &self.identity,
            now_ms(),
        );
        let seconds = i32::try_from(self.duration.as_secs())
            .unwrap_or(i32::MAX)
            .max(1);
        let result = match (action, current) {
            (LeaseAction::Wait { .. }, _) => return Ok(false),
            (LeaseAction::Create, _) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        ..Default::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(self.identity.clone()),
                        lease_duration_seconds: Some(seconds),
                        acquire_time: Some(micro_time_now()),
                        renew_time: Some(micro_time_now()),
                        lease_transitions: Some(0),
                        ..Default::default()
                    }),
                };
                self.api
                    .create(&PostParams::default(), &lease)
                    .await
                    .map(|_| ())
            }
            (action, Some(mut lease)) => {
                let spec = lease.spec.get_or_insert_with(Default::default);
                if action == LeaseAction::TakeOver {
                    spec.holder_identity = Some(self.identity.clone());
                    spec.acquire_time = Some(micro_time_now());
                    spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
                }
                spec.lease_duration_seconds = Some(seconds);
                spec.renew_time = Some(micro_time_now());
                // `replace` sends the resourceVersion we read: a concurrent writer makes it fail.
                self.api
                    .replace(&self.name, &PostParams::default(), &lease)
                    .await
                    .map(|_| ())
            }
            (_, None) => return Ok(false),
        };
        match result {
            Ok(()) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(self.write_err(e)),
        }
    }

    /// Waits until this replica holds the Lease.
    pub async fn acquire(&self) -> Result<(), LeaderError> {
        let mut logged = false;
        loop {
            match self.try_hold().await {
                Ok(true) => return Ok(()),
                Ok(false) => {
                    if !logged {
                        tracing::info!(lease = %self.name, "standing by: another replica leads");
                        logged = true;
                    }
                }
                Err(error) => tracing::warn!(%error, "leader election"),
            }
            tokio::time::sleep(self.duration / 3).await;
        }
    }

    /// Renews the Lease until it cannot: returns the error that ended leadership. The caller must
    /// stop acting at once, since another replica may take over after `duration`.
    pub async fn keep(&self) -> LeaderError {
        let mut last_renewed = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.duration / 3).await;
            match self.try_hold().await {
                Ok(true) => last_renewed = tokio::time::Instant::now(),
                Ok(false) => {
                    return LeaderError::LostLease {
                        namespace: self.namespace.clone(),
                        name: self.name.clone(),
                        duration: self.duration,
                    };
                }
                Err(error) => {
                    tracing::warn!(%error, "could not renew the Lease");
                    // Give up before the Lease can expire, so two leaders never overlap.
                    if last_renewed.elapsed() > self.duration * 2 / 3 {
                        return error;
                    }
                }
            }
        }
    }

    /// Lets go on shutdown so a standby takes over at once instead of after the Lease expires.
    pub async fn release(&self) {
        if let Ok(Some(mut lease)) = self.api.get_opt(&self.name).await
            && let Some(spec) = lease.spec.as_mut()
            && spec.holder_identity.as_deref() == Some(self.identity.as_str())
        {
            spec.holder_identity = None;
            if let Err(error) = self
                .api
                .replace(&self.name, &PostParams::default(), &lease)
                .await
            {
                tracing::warn!(%error, "could not release the Lease");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: Option<&str>, renewed_ms: i64, seconds: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_string),
            renew_time: Some(MicroTime(Timestamp::from_millisecond(renewed_ms).unwrap())),
            lease_duration_seconds: Some(seconds),
            ..Default::default()
        }
    }

    #[test]
    fn no_lease_is_created() {
        assert_eq!(decide(None, "a", 0), LeaseAction::Create);
    }

    #[test]
    fn own_lease_is_renewed_even_if_expired() {
        assert_eq!(
            decide(Some(&spec(Some("a"), 0, 15)), "a", 1_000_000),
            LeaseAction::Renew
        );
    }

    #[test]
    fn a_valid_foreign_lease_is_respected() {
        let s = spec(Some("b"), 100_000, 15);
        assert_eq!(
            decide(Some(&s), "a", 114_000),
            LeaseAction::Wait { holder: "b".into() }
        );
    }

    #[test]
    fn an_expired_or_released_lease_is_taken_over() {
        assert_eq!(
            decide(Some(&spec(Some("b"), 100_000, 15)), "a", 115_001),
            LeaseAction::TakeOver
        );
        assert_eq!(
            decide(Some(&spec(None, 100_000, 15)), "a", 100_001),
            LeaseAction::TakeOver
        );
    }
}
