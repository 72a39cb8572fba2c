//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several replicas at most one
//! acts at any moment. It follows client-go's `leaderelection`:
//!
//! - A standby judges expiry by its own monotonic clock: a Lease is expired when this replica
//!   has seen no change to it for the Lease's duration ([`Observation`]), never by comparing the
//!   holder's `renewTime` with its own wall clock, so a holder with a skewed clock cannot make a
//!   standby take over early (or late).
//! - The leader counts its renew deadline from the moment it *sent* its last successful renewal,
//!   which is before any standby can have seen that renewal. It stops acting once the deadline
//!   passes, even with a Lease request still unanswered, and the deadline is shorter than the
//!   Lease duration ([`LeaderTiming`]): the old leader has stopped before any standby's clock says
//!   the Lease expired.
//! - Every Lease request has its own timeout, shorter than the renew deadline.
//!
//! The decisions are pure ([`decide`], [`Observation::update`], [`LeaderTiming::new`]);
//! [`LeaderElector`] does the apiserver I/O with optimistic concurrency (resourceVersion), so two
//! replicas racing for a free Lease cannot both win.

use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::time::Instant;

/// How leader election is timed; see [`LeaderTiming::new`] for the rules it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaderTiming {
    /// How long a standby waits, from the last change of the Lease it saw, before taking over.
    pub lease_duration: Duration,
    /// How long the leader goes on acting without a successful renewal.
    pub renew_deadline: Duration,
    /// How often the leader renews, and how often a standby looks at the Lease.
    pub retry_period: Duration,
}

/// Leader-election settings that could let two leaders overlap, refused at startup.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimingError {
    #[error(
        "the lease duration must be whole seconds of at least 1s (the Lease stores seconds), not {0:?}"
    )]
    LeaseDuration(Duration),
    #[error(
        "the renew deadline ({renew_deadline:?}) must end at least {margin:?} before the lease duration ({lease_duration:?}) does, for clock drift between hosts and the time the process takes to stop"
    )]
    RenewDeadline {
        renew_deadline: Duration,
        lease_duration: Duration,
        margin: Duration,
    },
    #[error(
        "the retry period ({retry_period:?}) must be more than zero and at most half the renew deadline ({renew_deadline:?}), so that a failed renewal is retried before the deadline"
    )]
    RetryPeriod {
        retry_period: Duration,
        renew_deadline: Duration,
    },
}

impl LeaderTiming {
    /// Checks the settings; an unset renew deadline is 2/3 of the lease duration and an unset
    /// retry period 2/15 of it (client-go's 15 s / 10 s / 2 s).
    ///
    /// The old leader stops at the latest `renew_deadline` after it sent its last renewal; a
    /// standby takes over at the earliest `lease_duration` after it saw that renewal, which is
    /// later than the sending. So `renew_deadline < lease_duration` is what keeps two leaders
    /// apart; the rest of the lease duration (at least a fifth) is the margin for clocks that
    /// run at slightly different rates and for the process to stop.
    pub fn new(
        lease_duration: Duration,
        renew_deadline: Option<Duration>,
        retry_period: Option<Duration>,
    ) -> Result<Self, TimingError> {
        if lease_duration.subsec_nanos() != 0 || lease_duration < Duration::from_secs(1) {
            return Err(TimingError::LeaseDuration(lease_duration));
        }
        let renew_deadline = renew_deadline.unwrap_or(lease_duration * 2 / 3);
        let margin = lease_duration / 5;
        if renew_deadline.is_zero() || renew_deadline.saturating_add(margin) > lease_duration {
            return Err(TimingError::RenewDeadline {
                renew_deadline,
                lease_duration,
                margin,
            });
        }
        let retry_period = retry_period.unwrap_or(lease_duration * 2 / 15);
        if retry_period.is_zero() || retry_period.saturating_mul(2) > renew_deadline {
            return Err(TimingError::RetryPeriod {
                retry_period,
                renew_deadline,
            });
        }
        Ok(Self {
            lease_duration,
            renew_deadline,
            retry_period,
        })
    }

    /// Timeout of one Lease request: a third of the renew deadline, so that a request stuck on
    /// a dead connection leaves time for a retry (read and write) on a fresh one.
    pub fn request_timeout(&self) -> Duration {
        self.renew_deadline / 3
    }

    /// The Lease's `leaseDurationSeconds` (whole seconds by [`LeaderTiming::new`]).
    fn lease_seconds(&self) -> i32 {
        i32::try_from(self.lease_duration.as_secs()).unwrap_or(i32::MAX)
    }
}

/// What this replica last saw of the Lease, and when by its own monotonic clock. Any write to
/// the Lease (a renewal included) changes its resourceVersion, so "unchanged for the lease
/// duration" means "not renewed for the lease duration", whatever the holder's clock says.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    resource_version: Option<String>,
    spec: Option<LeaseSpec>,
    /// When this replica first saw the Lease in this form.
    pub at: Instant,
}

impl Observation {
    /// The observation after reading `lease` at `now`: the previous one if the Lease has not
    /// changed since, else a new one starting now.
    pub fn update(previous: Option<Observation>, lease: &Lease, now: Instant) -> Observation {
        let resource_version = lease.metadata.resource_version.clone();
        match previous {
            Some(seen) if seen.resource_version == resource_version && seen.spec == lease.spec => {
                seen
            }
            _ => Observation {
                resource_version,
                spec: lease.spec.clone(),
                at: now,
            },
        }
    }
}

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

/// The pure rule. `observed_at` is when this replica first saw the Lease as it is now (see
/// [`Observation`]); the holder's `renewTime` is not consulted. A Lease without a usable
/// duration counts with `default_duration`.
pub fn decide(
    spec: Option<&LeaseSpec>,
    observed_at: Instant,
    me: &str,
    default_duration: Duration,
    now: Instant,
) -> LeaseAction {
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
    let duration = spec
        .lease_duration_seconds
        .and_then(|s| u64::try_from(s).ok())
        .filter(|s| *s > 0)
        .map_or(default_duration, Duration::from_secs);
    // An expiry too far ahead to represent is never reached.
    match observed_at.checked_add(duration) {
        Some(expiry) if now >= expiry => LeaseAction::TakeOver,
        _ => LeaseAction::Wait { holder },
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

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    /// A Lease held by `holder` whose `renewTime` says `renewed_ms` (the holder's wall clock).
    fn lease(version: &str, holder: Option<&str>, renewed_ms: i64, seconds: i32) -> Lease {
        Lease {
            metadata: ObjectMeta {
                resource_version: Some(version.into()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: holder.map(str::to_string),
                renew_time: Timestamp::from_millisecond(renewed_ms).ok().map(MicroTime),
                lease_duration_seconds: Some(seconds),
                ..Default::default()
            }),
        }
    }

    /// What a standby decides at `now` after reading `lease`, with what it had observed before.
    fn standby(
        previous: Option<Observation>,
        lease: &Lease,
        now: Instant,
    ) -> (LeaseAction, Observation) {
        let seen = Observation::update(previous, lease, now);
        let action = decide(lease.spec.as_ref(), seen.at, "a", 15 * SECOND, now);
        (action, seen)
    }

    #[test]
    fn no_lease_is_created() {
        let now = Instant::now();
        assert_eq!(
            decide(None, now, "a", 15 * SECOND, now),
            LeaseAction::Create
        );
    }

    #[test]
    fn own_lease_is_renewed_even_if_expired() {
        let t0 = Instant::now();
        let l = lease("1", Some("a"), 0, 15);
        assert_eq!(
            decide(l.spec.as_ref(), t0, "a", 15 * SECOND, t0 + 1000 * SECOND),
            LeaseAction::Renew
        );
    }

    #[test]
    fn a_released_lease_is_taken_over_at_once() {
        let t0 = Instant::now();
        let (action, _) = standby(None, &lease("1", None, 0, 15), t0);
        assert_eq!(action, LeaseAction::TakeOver);
    }

    #[test]
    fn a_lease_first_seen_now_is_valid_for_its_whole_duration_whatever_its_renew_time() {
        // The holder's clock says it renewed in 1970: by wall clocks the Lease is long expired.
        let t0 = Instant::now();
        let old = lease("7", Some("b"), 0, 15);
        let (action, seen) = standby(None, &old, t0);
        assert_eq!(action, LeaseAction::Wait { holder: "b".into() });
        let (action, seen) = standby(Some(seen), &old, t0 + 14 * SECOND);
        assert_eq!(action, LeaseAction::Wait { holder: "b".into() });
        let (action, _) = standby(Some(seen), &old, t0 + 15 * SECOND);
        assert_eq!(action, LeaseAction::TakeOver);
    }

    #[test]
    fn a_holder_clock_far_ahead_does_not_keep_a_dead_lease_alive() {
        // renewTime a year in the future: a wall-clock rule would wait a year.
        let year_ms = 365 * 24 * 3600 * 1000;
        let now_ms = Timestamp::now().as_millisecond();
        let t0 = Instant::now();
        let ahead = lease("9", Some("b"), now_ms + year_ms, 15);
        let (_, seen) = standby(None, &ahead, t0);
        let (action, _) = standby(Some(seen), &ahead, t0 + 15 * SECOND);
        assert_eq!(action, LeaseAction::TakeOver);
    }

    #[test]
    fn every_renewal_restarts_the_standbys_count_even_with_the_same_renew_time() {
        // A holder whose clock stands still writes the same renewTime; the resourceVersion
        // still moves, and that is what the standby goes by.
        let t0 = Instant::now();
        let (_, seen) = standby(None, &lease("1", Some("b"), 5_000, 15), t0);
        let (action, seen) = standby(
            Some(seen),
            &lease("2", Some("b"), 5_000, 15),
            t0 + 10 * SECOND,
        );
        assert_eq!(action, LeaseAction::Wait { holder: "b".into() });
        assert_eq!(seen.at, t0 + 10 * SECOND);
        let (action, seen) = standby(
            Some(seen),
            &lease("2", Some("b"), 5_000, 15),
            t0 + 24 * SECOND,
        );
        assert_eq!(action, LeaseAction::Wait { holder: "b".into() });
        let (action, _) = standby(
            Some(seen),
            &lease("2", Some("b"), 5_000, 15),
            t0 + 25 * SECOND,
        );
        assert_eq!(action, LeaseAction::TakeOver);
    }

    #[test]
    fn the_holders_lease_duration_counts_and_a_broken_one_falls_back() {
        let t0 = Instant::now();
        let short = lease("1", Some("b"), 0, 4);
        assert_eq!(
            decide(short.spec.as_ref(), t0, "a", 15 * SECOND, t0 + 4 * SECOND),
            LeaseAction::TakeOver
        );
        for seconds in [0, -5] {
            let broken = lease("1", Some("b"), 0, seconds);
            assert_eq!(
                decide(broken.spec.as_ref(), t0, "a", 15 * SECOND, t0 + 14 * SECOND),
                LeaseAction::Wait { holder: "b".into() },
                "leaseDurationSeconds {seconds}"
            );
        }
        let huge = lease("1", Some("b"), 0, i32::MAX);
        assert_eq!(
            decide(huge.spec.as_ref(), t0, "a", 15 * SECOND, t0 + 1000 * SECOND),
            LeaseAction::Wait { holder: "b".into() }
        );
    }

    /// An apiserver that takes connections (the kernel's backlog) and never answers.
    fn silent_apiserver() -> (std::net::TcpListener, kube::Client) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
        (listener, client)
    }

    #[tokio::test(start_paused = true)]
    async fn a_leader_whose_requests_go_unanswered_gives_up_at_the_renew_deadline() {
        let (_listener, client) = silent_apiserver();
        let timing = LeaderTiming::new(15 * SECOND, None, None).unwrap();
        let elector = LeaderElector::new(client, "ns", "lease", "a", timing);
        let renewed = Instant::now();
        let error = elector.keep(renewed).await;
        assert!(
            matches!(error, LeaderError::RenewDeadlinePassed { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("no answer"), "{error}");
        // Paused clock: when the deadline passed (timers round up to the millisecond), well
        // before the Lease could expire.
        let waited = Instant::now() - renewed;
        assert!(
            waited >= timing.renew_deadline
                && waited <= timing.renew_deadline + Duration::from_millis(1),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn each_lease_request_times_out_before_the_renew_deadline() {
        let (_listener, client) = silent_apiserver();
        let timing = LeaderTiming::new(15 * SECOND, None, None).unwrap();
        let elector = LeaderElector::new(client, "ns", "lease", "a", timing);
        let started = Instant::now();
        let error = elector.try_hold().await.unwrap_err();
        assert!(
            matches!(
                error,
                LeaderError::LeaseRequestTimedOut { request: "get", .. }
            ),
            "{error}"
        );
        // Paused clock (timers round up to the millisecond).
        let waited = Instant::now() - started;
        assert!(
            waited >= timing.request_timeout() && waited < timing.renew_deadline,
            "{waited:?}"
        );
    }

    #[test]
    fn default_timing_is_client_gos() {
        let t = LeaderTiming::new(15 * SECOND, None, None).unwrap();
        assert_eq!(t.renew_deadline, 10 * SECOND);
        assert_eq!(t.retry_period, 2 * SECOND);
        assert_eq!(t.lease_seconds(), 15);
    }

    #[test]
    fn derived_timing_keeps_the_old_leader_stopped_before_a_standby_may_take_over() {
        for seconds in [1, 2, 3, 4, 6, 15, 60, 137, 3600] {
            let t = LeaderTiming::new(seconds * SECOND, None, None).unwrap();
            // Worst case: the standby saw the last renewal the instant it was sent.
            let leader_stops_by = t.renew_deadline;
            let standby_may_take_over_at = t.lease_duration;
            assert!(
                leader_stops_by + t.lease_duration / 5 <= standby_may_take_over_at,
                "{t:?}"
            );
            // Each request gives up before the deadline, leaving room for a retry.
            assert!(
                t.request_timeout() * 2 + t.retry_period <= t.renew_deadline,
                "{t:?}"
            );
            assert!(!t.retry_period.is_zero(), "{t:?}");
        }
    }

    #[test]
    fn timing_that_could_overlap_is_refused() {
        let err = LeaderTiming::new(15 * SECOND, Some(15 * SECOND), None).unwrap_err();
        assert!(matches!(err, TimingError::RenewDeadline { .. }), "{err}");
        let err = LeaderTiming::new(15 * SECOND, Some(13 * SECOND), None).unwrap_err();
        assert!(matches!(err, TimingError::RenewDeadline { .. }), "{err}");
        assert!(LeaderTiming::new(15 * SECOND, Some(12 * SECOND), None).is_ok());
        let err = LeaderTiming::new(15 * SECOND, Some(Duration::ZERO), None).unwrap_err();
        assert!(matches!(err, TimingError::RenewDeadline { .. }), "{err}");
        let err = LeaderTiming::new(15 * SECOND, None, Some(6 * SECOND)).unwrap_err();
        assert!(matches!(err, TimingError::RetryPeriod { .. }), "{err}");
        let err = LeaderTiming::new(15 * SECOND, None, Some(Duration::ZERO)).unwrap_err();
        assert!(matches!(err, TimingError::RetryPeriod { .. }), "{err}");
        for bad in [Duration::ZERO, Duration::from_millis(1500)] {
            assert_eq!(
                LeaderTiming::new(bad, None, None),
                Err(TimingError::LeaseDuration(bad))
            );
        }
    }
}
