//! Status is a record, not an authority: what it names (virtual cluster, job run) is proven to
//! be this object's before anything acts on it (see [`ownership`](super::super::ownership)).

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use emr_api::spark_job_run::reasons;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use super::Reconcile;
use crate::kit::Event;
use crate::spark_job_run::decide::{self, Phase};
use crate::spark_job_run::error::Error;
use crate::spark_job_run::ownership::{self, Evidence, RunOwnership};
use crate::spark_job_run::tracker::{JobKey, Observation, Proof};

/// How long a reconcile waits for the poller's list to prove a run before it describes the run
/// itself (the list is due at once; this bounds lists that keep failing and a stuck poller).
const LIST_PROOF_PATIENCE: TimeDelta = TimeDelta::seconds(30);
/// When a reconcile waiting for that list looks again if the poller has not woken it first.
const LIST_PROOF_RECHECK: Duration = Duration::from_secs(10);

/// What proving status lets the reconcile do next.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Proven {
    /// Status is proven (or replaced by what could be): decide on it.
    Done,
    /// The job run is not proven yet and the poller's next list will tell: do nothing until
    /// then (at the latest after this long).
    Later(Duration),
}

impl Reconcile<'_> {
    /// Status is a record, not an authority: proves that the virtual cluster and job run it
    /// names are this object's before anything acts on them, and discards them otherwise (see
    /// [`ownership`]). Only a recorded attempt or an active run name anything AWS is called on.
    pub(super) async fn prove_status(&mut self) -> Result<Proven, Error> {
        let status = self.status();
        if !matches!(decide::phase(&status), Phase::Submitting | Phase::Active)
            || (self.job.metadata.deletion_timestamp.is_some() && !self.has_finalizer())
        {
            return Ok(Proven::Done);
        }
        let Some(claimed) = status.virtual_cluster_id.clone() else {
            return Ok(Proven::Done);
        };
        let uid = self.job.uid().unwrap_or_default();
        let key = decide::current_run(&status);
        // What the poller knows settles it without a call in the usual case.
        if let Some(key) = &key {
            let this = ObjectRef::from_obj(&self.job);
            let verdict = self.state.tracker.with(|r| {
                let evidence = match (r.tracked_by(key), r.observation(key)) {
                    (Some(o), _) if *o == this && o.extra.uid.as_deref() == Some(uid.as_str()) => {
                        Evidence::TrackedByThis
                    }
                    (Some(_), _) => Evidence::TrackedByOther,
                    (None, Some(Observation::Seen(info))) => Evidence::Seen(info),
                    (None, _) => Evidence::Nothing,
                };
                ownership::check_run(&uid, key, evidence)
            });
            match verdict {
                RunOwnership::Ours => return Ok(Proven::Done),
                RunOwnership::NotOurs(why) => return self.disown(&why).await,
                RunOwnership::Unknown => {}
            }
        }
        let owned = self.lookup().await?.owned_virtual_cluster_id.clone();
        if let Err(why) = ownership::check_virtual_cluster(&claimed, owned.as_deref()) {
            return self.disown(&why).await;
        }
        let Some(key) = key else {
            return Ok(Proven::Done);
        };
        // After a restart the poller knows no run: rather than one DescribeJobRun per object,
        // the first ListJobRuns of the (proven) virtual cluster proves them all. Nothing is done
        // on the run until then.
        let since = status
            .created_at
            .map(|t| t.as_datetime())
            .or_else(|| decide::submitting_since(&status))
            .unwrap_or_else(Utc::now);
        let this = ObjectRef::from_obj(&self.job);
        let now = Utc::now();
        let proof = self
            .state
            .tracker
            .change(|r| r.ask_proof(&key, this, since, now));
        match proof {
            Proof::Listed(info) => {
                return match ownership::check_run(&uid, &key, Evidence::Seen(&info)) {
                    RunOwnership::NotOurs(why) => self.disown(&why).await,
                    RunOwnership::Ours | RunOwnership::Unknown => Ok(self.proven(&key, *info)),
                };
            }
            Proof::Waiting { asked_at } if now - asked_at < LIST_PROOF_PATIENCE => {
                return Ok(Proven::Later(LIST_PROOF_RECHECK));
            }
            Proof::Waiting { .. } => self.state.tracker.with(|r| r.drop_proof(&key)),
            Proof::Unsettled => {}
        }
        // The virtual cluster is this object's own: asking EMR about the run there is safe.
        match self
            .ctx()
            .aws
            .emr
            .describe_job_run(&key.virtual_cluster_id, &key.job_run_id)
            .await
        {
            // A run EMR reports without a token is taken as this object's: it is in the
            // object's own virtual cluster, the boundary between tenants.
            Ok(info) => match ownership::check_run(&uid, &key, Evidence::Seen(&info)) {
                RunOwnership::NotOurs(why) => self.disown(&why).await,
                RunOwnership::Ours | RunOwnership::Unknown => Ok(self.proven(&key, info)),
            },
            Err(error) if error.is_not_found() => {
                let why = format!(
                    "status named job run {}, which virtual cluster {} does not have",
                    key.job_run_id, key.virtual_cluster_id
                );
                self.disown(&why).await
            }
            Err(source) => Err(Error::ProveJobRun {
                object: self.object.clone(),
                source,
            }),
        }
    }

    /// `key` is proven this object's by `info`: the poller tracks it, and the decision that
    /// follows sees its state without another call.
    fn proven(&self, key: &JobKey, info: emr_aws::JobRunInfo) -> Proven {
        let this = ObjectRef::from_obj(&self.job);
        self.state
            .tracker
            .change(|r| r.record_proven(key, this, info, Utc::now()));
        Proven::Done
    }

    /// Replaces what status named but could not prove with the spec's own virtual cluster and
    /// no job run, with a condition and a Warning Event.
    pub(super) async fn disown(&mut self, why: &str) -> Result<Proven, Error> {
        let owned = self.lookup().await?.owned_virtual_cluster_id.clone();
        tracing::warn!(object = %self.object, "status not trusted: {why}");
        let status = ownership::disowned(
            &self.status(),
            self.job.metadata.generation,
            owned.as_deref(),
            why,
        );
        let message = status.message.clone().unwrap_or_default();
        self.write_replacing(status).await?;
        self.publish(vec![Event::warning(
            reasons::FORGED_STATUS,
            "Reconcile",
            message,
        )])
        .await;
        Ok(Proven::Done)
    }

    /// Drops what the poller knows of `key`, unless it is another object's: a status naming
    /// someone else's run must not stop its polling.
    pub(super) fn forget(&self, key: &JobKey) {
        let this = ObjectRef::from_obj(&self.job);
        let uid = self.job.uid().unwrap_or_default();
        self.state.tracker.with(|r| {
            let ours = match (r.tracked_by(key), r.observation(key)) {
                (Some(o), _) => *o == this && o.extra.uid.as_deref() == Some(uid.as_str()),
                (None, Some(Observation::Seen(info))) => {
                    ownership::token_is_ours(&uid, info.client_token.as_deref())
                }
                (None, _) => true,
            };
            if ours {
                r.forget(key);
            }
        });
    }
}
