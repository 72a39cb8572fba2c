//! What the poller knows and decides, without doing any I/O: which job runs are active in which
//! virtual cluster, what EMR last said about each, and when each virtual cluster is due for its
//! next ListJobRuns.
//!
//! The cost model this keeps: one ListJobRuns (by active state) per virtual cluster per tick,
//! however many runs it holds; a run that drops out of that list has finished and is fetched
//! once more (one DescribeJobRun, or one ListJobRuns of finished runs when several finish
//! together); after that it costs nothing.
//!
//! (One file over 400 lines on purpose: the tracked runs, what EMR last said of them and each
//! virtual cluster's schedule are changed together by every method and must agree; its tests
//! are in `tracker/tests.rs`.)

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use emr_api::SparkJobRun;
use emr_aws::JobRunInfo;
use kube::runtime::reflector::ObjectRef;

/// Margin on `createdAfter` filters, for clock skew between the operator and EMR and for runs
/// whose EMR `createdAt` is not known yet (only when the operator asked for them).
pub const CREATED_AFTER_SLACK: TimeDelta = TimeDelta::minutes(5);

/// Up to this many runs missing from the active list are described one by one; more are fetched
/// with one ListJobRuns of finished runs.
const DESCRIBE_AT_MOST: usize = 2;

/// How far back a ListJobRuns of finished runs reaches. A run created earlier (a long job, or a
/// `createdAt` forged into status, which is where a proof's window comes from) is described on
/// its own instead of making the list page through the virtual cluster's whole history, at the
/// cost of the ListJobRuns rate every tenant shares.
const FINISHED_LIST_WINDOW: TimeDelta = TimeDelta::days(1);

/// One EMR job run.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobKey {
    pub virtual_cluster_id: String,
    pub job_run_id: String,
}

/// What EMR last said about a job run.
// Nearly every observation is `Seen`, so boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    Seen(JobRunInfo),
    /// EMR no longer knows the run (or its virtual cluster).
    NotFound,
}

impl Observation {
    /// Whether nothing more will change: a final state, or gone.
    pub fn is_final(&self) -> bool {
        match self {
            Observation::Seen(info) => info.state.is_terminal(),
            Observation::NotFound => true,
        }
    }
}

/// Polling cadence.
#[derive(Clone, Copy, Debug)]
pub struct Cadence {
    /// Between polls of a virtual cluster whose runs are all past `young_job_age`.
    pub poll_interval: Duration,
    /// Between polls of a virtual cluster with a young run.
    pub young_poll_interval: Duration,
    /// How long after its creation a run counts as young.
    pub young_job_age: Duration,
}

/// A due ListJobRuns of one virtual cluster's active runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollRequest {
    pub virtual_cluster_id: String,
    pub created_after: DateTime<Utc>,
}

/// How to learn the fate of runs that left the active list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MissingPlan {
    Nothing,
    Describe(Vec<JobKey>),
    ListFinished {
        created_after: DateTime<Utc>,
        keys: Vec<JobKey>,
    },
}

#[derive(Clone, Debug)]
struct Tracked {
    object: ObjectRef<SparkJobRun>,
    /// EMR's createdAt once seen, else when the operator started the run.
    since: DateTime<Utc>,
}

#[derive(Clone, Debug)]
struct Observed {
    observation: Observation,
    at: DateTime<Utc>,
    /// The object the run was tracked for; the observation goes when the object does.
    object: ObjectRef<SparkJobRun>,
}

/// What the poller's ListJobRuns said of a run a reconcile must prove before acting on it (see
/// [`Tracker::ask_proof`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Proof {
    /// No list of its virtual cluster has answered since it was asked for.
    Waiting { asked_at: DateTime<Utc> },
    /// The list held it: EMR's word on it, client token included.
    Listed(Box<JobRunInfo>),
    /// The list cannot settle it (not among the active runs: finished meanwhile, or older than
    /// the list's window): ask EMR about this run alone.
    Unsettled,
}

#[derive(Clone, Debug)]
struct PendingProof {
    proof: Proof,
    /// When the run was created, as status tells (only bounds the list's `createdAfter`).
    since: DateTime<Utc>,
    /// The objects to reconcile once it is settled (usually one).
    objects: Vec<ObjectRef<SparkJobRun>>,
}

#[derive(Clone, Debug)]
struct Schedule {
    next_poll: DateTime<Utc>,
    failures: u32,
}

/// The poller's state. Every method takes `now`, so tests control time.
#[derive(Debug)]
pub struct Tracker {
    cadence: Cadence,
    runs: BTreeMap<JobKey, Tracked>,
    observed: HashMap<JobKey, Observed>,
    schedules: BTreeMap<String, Schedule>,
    cancel_requested: HashSet<JobKey>,
    proofs: HashMap<JobKey, PendingProof>,
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// `d` after `now`, or the latest date chrono holds (a huge `--poll-interval` means "never").
fn after(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    now.checked_add_signed(delta(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The `createdAfter` filter for runs created at `oldest`: a little earlier, for clock skew.
/// `oldest` may come from a status anyone with status rights can write.
pub fn created_after(oldest: DateTime<Utc>) -> DateTime<Utc> {
    oldest
        .checked_sub_signed(CREATED_AFTER_SLACK)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

impl Tracker {
    pub fn new(cadence: Cadence) -> Self {
        Self {
            cadence,
            runs: BTreeMap::new(),
            observed: HashMap::new(),
            schedules: BTreeMap::new(),
            cancel_requested: HashSet::new(),
            proofs: HashMap::new(),
        }
    }

    /// Keeps `key` polled for `object`. A run already seen finished is not polled again (a
    /// reconcile working from a stale copy of the object must not restart polling).
    pub fn track(
        &mut self,
        key: JobKey,
        object: ObjectRef<SparkJobRun>,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        if self
            .observed
            .get(&key)
            .is_some_and(|o| o.observation.is_final())
        {
            return;
        }
        let first_poll = after(now, self.cadence.young_poll_interval);
        let schedule = self
            .schedules
            .entry(key.virtual_cluster_id.clone())
            .or_insert(Schedule {
                next_poll: first_poll,
                failures: 0,
            });
        match self.runs.get_mut(&key) {
            Some(tracked) => tracked.object = object,
            None => {
                // A run new to the poller is young (or unknown since a restart): see it soon.
                schedule.next_poll = schedule.next_poll.min(first_poll);
                self.runs.insert(key, Tracked { object, since });
            }
        }
    }

    /// Keeps what proved `key` the object's (a list's or a describe's word on the run) as the
    /// poller's observation of it, so the reconcile decides on it at once instead of waiting
    /// for the next poll (and, for a run that finished meanwhile, a second call).
    pub fn record_proven(
        &mut self,
        key: &JobKey,
        object: ObjectRef<SparkJobRun>,
        info: JobRunInfo,
        now: DateTime<Utc>,
    ) {
        self.track(key.clone(), object, info.created_at.unwrap_or(now), now);
        self.observe(key, Observation::Seen(info), now);
        self.drop_idle_schedule(&key.virtual_cluster_id);
    }

    /// Drops everything about `key`, once its object has recorded the final state or is gone.
    pub fn forget(&mut self, key: &JobKey) {
        self.runs.remove(key);
        self.observed.remove(key);
        self.cancel_requested.remove(key);
        self.drop_idle_schedule(&key.virtual_cluster_id);
    }

    fn drop_idle_schedule(&mut self, vc: &str) {
        if !self.runs.keys().any(|k| k.virtual_cluster_id == vc) && !self.awaits_proof(vc) {
            self.schedules.remove(vc);
        }
    }

    /// The object the run is (or was, until its final state) polled for, if any: runs are
    /// tracked only once proven that object's (see [`super::ownership`]).
    pub fn tracked_by(&self, key: &JobKey) -> Option<&ObjectRef<SparkJobRun>> {
        self.runs
            .get(key)
            .map(|t| &t.object)
            .or_else(|| self.observed.get(key).map(|o| &o.object))
    }

    pub fn observation(&self, key: &JobKey) -> Option<&Observation> {
        self.observed.get(key).map(|o| &o.observation)
    }

    /// Remembers that a cancellation was sent, so that reconciles until EMR confirms it do not
    /// send it again. In memory only: after a restart, at most one more CancelJobRun goes out.
    pub fn note_cancel_requested(&mut self, key: &JobKey) {
        self.cancel_requested.insert(key.clone());
    }

    pub fn cancel_requested(&self, key: &JobKey) -> bool {
        self.cancel_requested.contains(key)
    }

    /// Brings the next poll of `vc` forward to the young cadence (e.g. to confirm a cancellation).
    pub fn poll_soon(&mut self, vc: &str, now: DateTime<Utc>) {
        let soon = after(now, self.cadence.young_poll_interval);
        if let Some(schedule) = self.schedules.get_mut(vc) {
            schedule.next_poll = schedule.next_poll.min(soon);
        }
    }

    /// Asks the next ListJobRuns of `key`'s virtual cluster (already proven the object's) to
    /// prove `key`, a run status names but the poller does not know (after a restart, every
    /// active run): one list per virtual cluster instead of one DescribeJobRun per run. The
    /// list is due at once. Returns what is known so far; a settled proof is handed out once.
    pub fn ask_proof(
        &mut self,
        key: &JobKey,
        object: ObjectRef<SparkJobRun>,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Proof {
        if let Some(pending) = self.proofs.get_mut(key) {
            if matches!(pending.proof, Proof::Waiting { .. }) {
                if !pending.objects.contains(&object) {
                    pending.objects.push(object);
                }
                return pending.proof.clone();
            }
            let proof = pending.proof.clone();
            self.proofs.remove(key);
            self.drop_idle_schedule(&key.virtual_cluster_id);
            return proof;
        }
        self.proofs.insert(
            key.clone(),
            PendingProof {
                proof: Proof::Waiting { asked_at: now },
                since,
                objects: vec![object],
            },
        );
        let schedule = self
            .schedules
            .entry(key.virtual_cluster_id.clone())
            .or_insert(Schedule {
                next_poll: now,
                failures: 0,
            });
        // A virtual cluster whose lists fail keeps its backoff.
        if schedule.failures == 0 {
            schedule.next_poll = schedule.next_poll.min(now);
        }
        Proof::Waiting { asked_at: now }
    }

    /// Drops a proof asked for `key` (the reconcile proved it otherwise, or gave up waiting).
    pub fn drop_proof(&mut self, key: &JobKey) {
        if self.proofs.remove(key).is_some() {
            self.drop_idle_schedule(&key.virtual_cluster_id);
        }
    }

    fn awaits_proof(&self, vc: &str) -> bool {
        self.proofs
            .iter()
            .any(|(k, p)| k.virtual_cluster_id == vc && matches!(p.proof, Proof::Waiting { .. }))
    }

    /// Settles the waiting proofs of `vc` with `proof_of` (a list's answer); returns the objects
    /// to reconcile.
    fn settle_proofs(
        &mut self,
        vc: &str,
        proof_of: impl Fn(&JobKey) -> Option<Proof>,
    ) -> Vec<ObjectRef<SparkJobRun>> {
        let mut woken = Vec::new();
        for (key, pending) in &mut self.proofs {
            if key.virtual_cluster_id == vc
                && matches!(pending.proof, Proof::Waiting { .. })
                && let Some(proof) = proof_of(key)
            {
                pending.proof = proof;
                woken.extend(pending.objects.iter().cloned());
            }
        }
        woken
    }

    /// Settles the waiting proof of `key` alone, if there is one; returns the objects to wake.
    fn settle_proof(&mut self, key: &JobKey, proof: Proof) -> Vec<ObjectRef<SparkJobRun>> {
        match self.proofs.get_mut(key) {
            Some(pending) if matches!(pending.proof, Proof::Waiting { .. }) => {
                pending.proof = proof;
                pending.objects.clone()
            }
            _ => Vec::new(),
        }
    }

    fn runs_of<'a>(&'a self, vc: &'a str) -> impl Iterator<Item = (&'a JobKey, &'a Tracked)> + 'a {
        self.runs
            .iter()
            .filter(move |(k, _)| k.virtual_cluster_id == vc)
    }

    /// The virtual clusters due for a poll, each with the `createdAfter` that covers its runs.
    pub fn due(&self, now: DateTime<Utc>) -> Vec<PollRequest> {
        self.schedules
            .iter()
            .filter(|(_, s)| s.next_poll <= now)
            .filter_map(|(vc, _)| {
                let proving = self
                    .proofs
                    .iter()
                    .filter(|(k, p)| {
                        k.virtual_cluster_id == *vc && matches!(p.proof, Proof::Waiting { .. })
                    })
                    .map(|(_, p)| p.since);
                let oldest = self
                    .runs_of(vc)
                    .map(|(_, t)| t.since)
                    .chain(proving)
                    .min()?;
                Some(PollRequest {
                    virtual_cluster_id: vc.clone(),
                    created_after: created_after(oldest),
                })
            })
            .collect()
    }

    /// When the next virtual cluster is due, if any run is tracked.
    pub fn next_poll_at(&self) -> Option<DateTime<Utc>> {
        self.schedules.values().map(|s| s.next_poll).min()
    }

    /// The cadence `vc` needs now: young while any of its runs is young.
    fn interval(&self, vc: &str, now: DateTime<Utc>) -> Duration {
        let young_age = delta(self.cadence.young_job_age);
        if self.runs_of(vc).any(|(_, t)| now - t.since < young_age) {
            self.cadence.young_poll_interval
        } else {
            self.cadence.poll_interval
        }
    }

    /// Records `observation` of a tracked run; returns its object when anything changed.
    fn observe(
        &mut self,
        key: &JobKey,
        observation: Observation,
        now: DateTime<Utc>,
    ) -> Option<ObjectRef<SparkJobRun>> {
        let tracked = self.runs.get_mut(key)?;
        if let Observation::Seen(info) = &observation
            && let Some(created) = info.created_at
        {
            tracked.since = created;
        }
        let object = tracked.object.clone();
        if observation.is_final() {
            self.runs.remove(key);
        }
        let changed = self
            .observed
            .get(key)
            .is_none_or(|o| o.observation != observation);
        self.observed.insert(
            key.clone(),
            Observed {
                observation,
                at: now,
                object: object.clone(),
            },
        );
        changed.then_some(object)
    }

    /// Takes in the active runs ListJobRuns returned for `vc`. Returns the objects whose run
    /// changed and the tracked runs the list did not contain (they have left the active states).
    pub fn record_active(
        &mut self,
        vc: &str,
        listed: &[JobRunInfo],
        now: DateTime<Utc>,
    ) -> (Vec<ObjectRef<SparkJobRun>>, Vec<JobKey>) {
        let by_id: HashMap<&str, &JobRunInfo> = listed.iter().map(|r| (r.id.as_str(), r)).collect();
        let keys: Vec<JobKey> = self.runs_of(vc).map(|(k, _)| k.clone()).collect();
        let mut changed = Vec::new();
        let mut missing = Vec::new();
        for key in keys {
            match by_id.get(key.job_run_id.as_str()) {
                Some(info) => {
                    changed.extend(self.observe(&key, Observation::Seen((*info).clone()), now))
                }
                None => missing.push(key),
            }
        }
        // A proof the active list does not hold is most often a run that finished while the
        // operator was down: it is looked for with the tracked runs that left the list (one
        // list of finished runs for many, a describe for a few), not by a describe per object.
        let runs = &self.runs;
        let unlisted: Vec<JobKey> = self
            .proofs
            .iter()
            .filter(|(k, p)| {
                k.virtual_cluster_id == vc
                    && matches!(p.proof, Proof::Waiting { .. })
                    && !by_id.contains_key(k.job_run_id.as_str())
                    && !runs.contains_key(*k)
            })
            .map(|(k, _)| k.clone())
            .collect();
        missing.extend(unlisted);
        changed.extend(self.settle_proofs(vc, |key| {
            by_id
                .get(key.job_run_id.as_str())
                .map(|info| Proof::Listed(Box::new((*info).clone())))
        }));
        let next = after(now, self.interval(vc, now));
        if let Some(schedule) = self.schedules.get_mut(vc) {
            schedule.next_poll = next;
            schedule.failures = 0;
        }
        self.drop_idle_schedule(vc);
        (changed, missing)
    }

    /// How to fetch the runs of `vc` that left the active list.
    pub fn plan_missing(&self, missing: Vec<JobKey>, now: DateTime<Utc>) -> MissingPlan {
        if missing.is_empty() {
            return MissingPlan::Nothing;
        }
        if missing.len() <= DESCRIBE_AT_MOST {
            return MissingPlan::Describe(missing);
        }
        let since: Vec<DateTime<Utc>> = missing
            .iter()
            .filter_map(|k| {
                self.runs
                    .get(k)
                    .map(|t| t.since)
                    .or_else(|| self.proofs.get(k).map(|p| p.since))
            })
            .collect();
        if since.is_empty() {
            return MissingPlan::Nothing;
        }
        let floor = now
            .checked_sub_signed(FINISHED_LIST_WINDOW)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        // Runs older than the window are not in the list: they are described after it.
        match since.into_iter().filter(|s| *s >= floor).min() {
            Some(oldest) => MissingPlan::ListFinished {
                created_after: created_after(oldest),
                keys: missing,
            },
            None => MissingPlan::Describe(missing),
        }
    }

    /// Takes in a ListJobRuns of finished runs; returns the changed objects and the runs it
    /// still did not contain (to be described).
    pub fn record_finished(
        &mut self,
        vc: &str,
        listed: &[JobRunInfo],
        keys: Vec<JobKey>,
        now: DateTime<Utc>,
    ) -> (Vec<ObjectRef<SparkJobRun>>, Vec<JobKey>) {
        let by_id: HashMap<&str, &JobRunInfo> = listed.iter().map(|r| (r.id.as_str(), r)).collect();
        let mut changed = Vec::new();
        let mut still_missing = Vec::new();
        for key in keys {
            match by_id.get(key.job_run_id.as_str()) {
                Some(info) => {
                    changed
                        .extend(self.settle_proof(&key, Proof::Listed(Box::new((*info).clone()))));
                    changed.extend(self.observe(&key, Observation::Seen((*info).clone()), now))
                }
                None => still_missing.push(key),
            }
        }
        self.drop_idle_schedule(vc);
        (changed, still_missing)
    }

    /// Takes in one DescribeJobRun (or its NotFound); returns the objects to reconcile: the
    /// tracking one when its run changed, and those waiting for a proof of it.
    pub fn record_described(
        &mut self,
        key: &JobKey,
        observation: Observation,
        now: DateTime<Utc>,
    ) -> Vec<ObjectRef<SparkJobRun>> {
        let proof = match &observation {
            Observation::Seen(info) => Proof::Listed(Box::new(info.clone())),
            // The reconcile asks EMR itself and acts on the answer (the run is not there).
            Observation::NotFound => Proof::Unsettled,
        };
        let mut changed = self.settle_proof(key, proof);
        changed.extend(self.observe(key, observation, now));
        self.drop_idle_schedule(&key.virtual_cluster_id);
        changed
    }

    /// How many polls of `vc` in a row have failed.
    pub fn failures(&self, vc: &str) -> u32 {
        self.schedules.get(vc).map_or(0, |s| s.failures)
    }

    /// A poll of `vc` failed (throttled, unavailable): try again in `retry_in`.
    /// A failed list leaves the proofs it was due for waiting: the reconciles describe their
    /// runs once they have waited long enough (a list that keeps failing), not at once (a
    /// throttled list followed by a describe per object would make the throttling worse).
    pub fn record_failure(&mut self, vc: &str, retry_in: Duration, now: DateTime<Utc>) {
        self.record_poll_failure(vc, retry_in, now);
    }

    fn record_poll_failure(&mut self, vc: &str, retry_in: Duration, now: DateTime<Utc>) {
        if let Some(schedule) = self.schedules.get_mut(vc) {
            schedule.failures = schedule.failures.saturating_add(1);
            schedule.next_poll = after(now, retry_in);
        }
    }

    /// Every tracked run of `vc` (to describe them one by one when the virtual cluster is gone).
    pub fn tracked_in(&self, vc: &str) -> Vec<JobKey> {
        self.runs_of(vc).map(|(k, _)| k.clone()).collect()
    }

    /// Drops final observations nobody collected (their object was deleted) after `max_age`.
    pub fn prune(&mut self, now: DateTime<Utc>, max_age: TimeDelta) {
        let runs = &self.runs;
        self.observed
            .retain(|key, o| runs.contains_key(key) || now - o.at < max_age);
        let observed = &self.observed;
        self.cancel_requested
            .retain(|key| runs.contains_key(key) || observed.contains_key(key));
        // A proof nobody came back for (the object went): a reconcile would ask again.
        self.proofs.retain(|_, p| match p.proof {
            Proof::Waiting { asked_at } => now - asked_at < max_age,
            Proof::Listed(_) | Proof::Unsettled => true,
        });
    }

    /// How many runs are being polled.
    pub fn active_runs(&self) -> usize {
        self.runs.len()
    }

    /// Drops everything about the runs of objects `present` no longer finds (deleted, also
    /// without the operator's release: a finalizer removed by hand, a deletion while the
    /// operator was down), so that nothing of a deleted object stays in memory or keeps being
    /// polled.
    pub fn forget_objects(&mut self, present: impl Fn(&ObjectRef<SparkJobRun>) -> bool) {
        let gone: Vec<JobKey> = self
            .runs
            .iter()
            .filter(|(_, t)| !present(&t.object))
            .map(|(k, _)| k.clone())
            .chain(
                self.observed
                    .iter()
                    .filter(|(_, o)| !present(&o.object))
                    .map(|(k, _)| k.clone()),
            )
            .collect();
        for key in &gone {
            self.forget(key);
        }
        self.proofs.retain(|_, p| {
            p.objects.retain(|o| present(o));
            !p.objects.is_empty()
        });
    }

    /// How many entries each map holds, for the `tracked_objects` metric.
    pub fn sizes(&self) -> [(&'static str, usize); 5] {
        [
            ("poller_proofs", self.proofs.len()),
            ("poller_runs", self.runs.len()),
            ("poller_observations", self.observed.len()),
            ("poller_schedules", self.schedules.len()),
            ("poller_cancel_requests", self.cancel_requested.len()),
        ]
    }
}

#[cfg(test)]
mod proof_tests;

#[cfg(test)]
mod tests;
