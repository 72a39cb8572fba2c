//! The apiserver I/O of leader election: read, create, renew, take over and release the Lease,
//! each request with its own timeout and with optimistic concurrency (resourceVersion).

use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::time::Instant;

use super::lease::{LeaseAction, Observation, decide};
use super::timing::LeaderTiming;

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
    #[error("Lease {namespace}/{name}: the {request} request got no answer within {timeout:?}")]
    LeaseRequestTimedOut {
        namespace: String,
        name: String,
        request: &'static str,
        timeout: Duration,
    },
    #[error("lost the Lease {namespace}/{name}: {holder} holds it")]
    LostLease {
        namespace: String,
        name: String,
        holder: String,
    },
    #[error(
        "could not renew the Lease {namespace}/{name} within the renew deadline of {deadline:?} (last error: {last_error})"
    )]
    RenewDeadlinePassed {
        namespace: String,
        name: String,
        deadline: Duration,
        last_error: String,
    },
}

/// The outcome of one attempt to hold the Lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hold {
    /// This replica holds it now.
    Held,
    /// Another replica does.
    HeldBy(String),
    /// Someone wrote the Lease between our read and our write; look again.
    Conflict,
}

/// Holds or waits for one Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    namespace: String,
    name: String,
    identity: String,
    timing: LeaderTiming,
    observed: Mutex<Option<Observation>>,
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
        timing: LeaderTiming,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            timing,
            observed: Mutex::new(None),
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

    fn timed_out(&self, request: &'static str) -> LeaderError {
        LeaderError::LeaseRequestTimedOut {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            request,
            timeout: self.timing.request_timeout(),
        }
    }

    /// Records what was read; returns when this replica first saw the Lease in this form.
    fn observe(&self, lease: Option<&Lease>, now: Instant) -> Instant {
        // A poisoned lock only means a panic elsewhere while it was held; the value is whole.
        let mut observed = self
            .observed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match lease {
            Some(lease) => {
                let seen = Observation::update(observed.take(), lease, now);
                let at = seen.at;
                *observed = Some(seen);
                at
            }
            None => {
                *observed = None;
                now
            }
        }
    }

    /// One attempt to hold the Lease. A lost race (conflict) is not an error: someone else
    /// holds it. Each request is bounded by [`LeaderTiming::request_timeout`].
    pub async fn try_hold(&self) -> Result<Hold, LeaderError> {
        let timeout = self.timing.request_timeout();
        let current = tokio::time::timeout(timeout, self.api.get_opt(&self.name))
            .await
            .map_err(|_| self.timed_out("get"))?
            .map_err(|e| self.read_err(e))?;
        let now = Instant::now();
        let observed_at = self.observe(current.as_ref(), now);
        let action = decide(
            current.as_ref().and_then(|l| l.spec.as_ref()),
            observed_at,
            &self.identity,
            self.timing.lease_duration,
            now,
        );
        let seconds = self.timing.lease_seconds();
        let params = PostParams::default();
        let (request, result) = match (action, current) {
            (LeaseAction::Wait { holder }, _) => return Ok(Hold::HeldBy(holder)),
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
                let create = self.api.create(&params, &lease);
                ("create", tokio::time::timeout(timeout, create).await)
            }
            (action, Some(mut lease)) => {
                let spec = lease.spec.get_or_insert_with(Default::default);
                if action == LeaseAction::TakeOver {
                    spec.holder_identity = Some(self.identity.clone());
                    spec.acquire_time = Some(micro_time_now());
                    spec.lease_transitions =
                        Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
                }
                spec.lease_duration_seconds = Some(seconds);
                spec.renew_time = Some(micro_time_now());
                // `replace` sends the resourceVersion we read: a concurrent writer makes it fail.
                let replace = self.api.replace(&self.name, &params, &lease);
                ("update", tokio::time::timeout(timeout, replace).await)
            }
            // `decide` answers `Create` when there is no Lease.
            (_, None) => return Ok(Hold::Conflict),
        };
        match result {
            Ok(Ok(_)) => Ok(Hold::Held),
            Ok(Err(kube::Error::Api(e))) if e.code == 409 => Ok(Hold::Conflict),
            Ok(Err(e)) => Err(self.write_err(e)),
            Err(_) => Err(self.timed_out(request)),
        }
    }

    /// Waits until this replica holds the Lease; returns when the successful attempt started,
    /// which is where the renew deadline counts from.
    pub async fn acquire(&self) -> Instant {
        let mut logged = false;
        loop {
            let started = Instant::now();
            match self.try_hold().await {
                Ok(Hold::Held) => return started,
                Ok(Hold::HeldBy(holder)) => {
                    if !logged {
                        tracing::info!(lease = %self.name, %holder, "standing by: another replica leads");
                        logged = true;
                    }
                }
                Ok(Hold::Conflict) => {}
                Err(error) => tracing::warn!(%error, "leader election"),
            }
            tokio::time::sleep(self.timing.retry_period).await;
        }
    }

    /// Renews the Lease every retry period until it cannot: returns the error that ended
    /// leadership, at the latest when the renew deadline (counted from the start of the last
    /// successful renewal `renewed`) passes, even if a request is still unanswered then. The
    /// caller must stop acting at once.
    pub async fn keep(&self, mut renewed: Instant) -> LeaderError {
        loop {
            let deadline = renewed
                .checked_add(self.timing.renew_deadline)
                .unwrap_or(renewed);
            let mut last_error = None;
            let attempts = async {
                tokio::time::sleep(self.timing.retry_period).await;
                loop {
                    let started = Instant::now();
                    match self.try_hold().await {
                        Ok(Hold::Held) => return Ok(started),
                        Ok(Hold::HeldBy(holder)) => {
                            return Err(LeaderError::LostLease {
                                namespace: self.namespace.clone(),
                                name: self.name.clone(),
                                holder,
                            });
                        }
                        // The next read tells whether someone else took it.
                        Ok(Hold::Conflict) => {
                            last_error = Some("the Lease changed under the renewal".into());
                        }
                        Err(error) => {
                            tracing::warn!(%error, "could not renew the Lease");
                            last_error = Some(error.to_string());
                        }
                    }
                    tokio::time::sleep(self.timing.retry_period).await;
                }
            };
            let outcome = tokio::time::timeout_at(deadline, attempts).await;
            match outcome {
                Ok(Ok(started)) => renewed = started,
                Ok(Err(lost)) => return lost,
                Err(_) => {
                    return LeaderError::RenewDeadlinePassed {
                        namespace: self.namespace.clone(),
                        name: self.name.clone(),
                        deadline: self.timing.renew_deadline,
                        last_error: last_error
                            .unwrap_or_else(|| "the renewal got no answer".into()),
                    };
                }
            }
        }
    }

    /// Lets go on shutdown so a standby takes over at once instead of after the Lease expires.
    pub async fn release(&self) {
        let timeout = self.timing.request_timeout();
        let current = tokio::time::timeout(timeout, self.api.get_opt(&self.name)).await;
        if let Ok(Ok(Some(mut lease))) = current
            && let Some(spec) = lease.spec.as_mut()
            && spec.holder_identity.as_deref() == Some(self.identity.as_str())
        {
            spec.holder_identity = None;
            let params = PostParams::default();
            let replace = self.api.replace(&self.name, &params, &lease);
            match tokio::time::timeout(timeout, replace).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => tracing::warn!(%error, "could not release the Lease"),
                Err(_) => {
                    tracing::warn!(error = %self.timed_out("update"), "could not release the Lease")
                }
            }
        }
    }
}
