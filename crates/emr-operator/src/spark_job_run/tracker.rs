//! What the poller knows and decides, without doing any I/O: which job runs are active in which
//! virtual cluster, what EMR last said about each, and when each virtual cluster is due for its
//! next ListJobRuns.
//!
//! The cost model this keeps: one ListJobRuns (by active state) per virtual cluster per tick,
//! however many runs it holds; a run that drops out of that list has finished and is fetched
//! once more (one DescribeJobRun, or one ListJobRuns of finished runs when several finish
//! together); after that it costs nothing.

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
        proof_of: impl Fn(&JobKey) -> Proof,
    ) -> Vec<ObjectRef<SparkJobRun>> {
        let mut woken = Vec::new();
        for (key, pending) in &mut self.proofs {
            if key.virtual_cluster_id == vc && matches!(pending.proof, Proof::Waiting { .. }) {
                pending.proof = proof_of(key);
                woken.extend(pending.objects.iter().cloned());
            }
        }
        woken
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
        // A run the active list does not hold may have finished, or be older than its window:
        // only a DescribeJobRun settles it.
        changed.extend(
            self.settle_proofs(vc, |key| match by_id.get(key.job_run_id.as_str()) {
                Some(info) => Proof::Listed(Box::new((*info).clone())),
                None => Proof::Unsettled,
            }),
        );
        let next = after(now, self.interval(vc, now));
        if let Some(schedule) = self.schedules.get_mut(vc) {
            schedule.next_poll = next;
            schedule.failures = 0;
        }
        self.drop_idle_schedule(vc);
        (changed, missing)
    }

    /// How to fetch the runs of `vc` that left the active list.
    pub fn plan_missing(&self, missing: Vec<JobKey>) -> MissingPlan {
        if missing.is_empty() {
            return MissingPlan::Nothing;
        }
        if missing.len() <= DESCRIBE_AT_MOST {
            return MissingPlan::Describe(missing);
        }
        match missing
            .iter()
            .filter_map(|k| self.runs.get(k))
            .map(|t| t.since)
            .min()
        {
            Some(oldest) => MissingPlan::ListFinished {
                created_after: created_after(oldest),
                keys: missing,
            },
            None => MissingPlan::Nothing,
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
                    changed.extend(self.observe(&key, Observation::Seen((*info).clone()), now))
                }
                None => still_missing.push(key),
            }
        }
        self.drop_idle_schedule(vc);
        (changed, still_missing)
    }

    /// Takes in one DescribeJobRun (or its NotFound); returns the object when it changed.
    pub fn record_described(
        &mut self,
        key: &JobKey,
        observation: Observation,
        now: DateTime<Utc>,
    ) -> Option<ObjectRef<SparkJobRun>> {
        let changed = self.observe(key, observation, now);
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
mod tests {
    #![allow(clippy::unwrap_used)]

    use emr_aws::JobRunState;

    use super::*;

    fn cadence() -> Cadence {
        Cadence {
            poll_interval: Duration::from_secs(30),
            young_poll_interval: Duration::from_secs(5),
            young_job_age: Duration::from_secs(180),
        }
    }

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn secs(s: i64) -> TimeDelta {
        TimeDelta::seconds(s)
    }

    fn key(vc: &str, id: &str) -> JobKey {
        JobKey {
            virtual_cluster_id: vc.into(),
            job_run_id: id.into(),
        }
    }

    fn obj(name: &str) -> ObjectRef<SparkJobRun> {
        ObjectRef::new(name).within("ns")
    }

    fn info(vc: &str, id: &str, state: JobRunState, created: DateTime<Utc>) -> JobRunInfo {
        JobRunInfo {
            id: id.into(),
            name: Some(id.into()),
            arn: None,
            virtual_cluster_id: vc.into(),
            state,
            failure_reason: None,
            state_details: None,
            created_at: Some(created),
            finished_at: None,
            retry_attempts: None,
            client_token: None,
        }
    }

    #[test]
    fn a_new_run_is_polled_at_the_young_cadence() {
        let mut r = Tracker::new(cadence());
        r.track(key("vc1", "a"), obj("a"), t0(), t0());
        assert!(r.due(t0()).is_empty());
        assert_eq!(r.next_poll_at(), Some(t0() + secs(5)));
        let due = r.due(t0() + secs(5));
        assert_eq!(
            due,
            vec![PollRequest {
                virtual_cluster_id: "vc1".into(),
                created_after: t0() - CREATED_AFTER_SLACK
            }]
        );
    }

    #[test]
    fn one_poll_per_virtual_cluster_however_many_runs() {
        let mut r = Tracker::new(cadence());
        for i in 0..50 {
            r.track(
                key("vc1", &format!("a{i}")),
                obj(&format!("a{i}")),
                t0() + secs(i),
                t0(),
            );
            r.track(
                key("vc2", &format!("b{i}")),
                obj(&format!("b{i}")),
                t0() + secs(i),
                t0(),
            );
        }
        let due = r.due(t0() + secs(5));
        assert_eq!(due.len(), 2);
        // createdAfter covers the oldest run of each cluster.
        assert!(
            due.iter()
                .all(|p| p.created_after == t0() - CREATED_AFTER_SLACK)
        );
    }

    #[test]
    fn changes_trigger_only_their_object_and_unchanged_runs_stay_quiet() {
        let mut r = Tracker::new(cadence());
        r.track(key("vc1", "a"), obj("a"), t0(), t0());
        r.track(key("vc1", "b"), obj("b"), t0(), t0());
        let now = t0() + secs(5);
        let listed = vec![
            info("vc1", "a", JobRunState::Pending, t0()),
            info("vc1", "b", JobRunState::Pending, t0()),
            info("vc1", "stranger", JobRunState::Running, t0()),
        ];
        let (changed, missing) = r.record_active("vc1", &listed, now);
        assert_eq!(changed, vec![obj("a"), obj("b")]);
        assert!(missing.is_empty());
        let listed = vec![
            info("vc1", "a", JobRunState::Running, t0()),
            info("vc1", "b", JobRunState::Pending, t0()),
        ];
        let (changed, _) = r.record_active("vc1", &listed, now + secs(5));
        assert_eq!(changed, vec![obj("a")]);
        assert_eq!(
            r.observation(&key("vc1", "a")),
            Some(&Observation::Seen(info(
                "vc1",
                "a",
                JobRunState::Running,
                t0()
            )))
        );
    }

    #[test]
    fn cadence_slows_once_runs_are_old() {
        let mut r = Tracker::new(cadence());
        r.track(key("vc1", "a"), obj("a"), t0(), t0());
        let young = t0() + secs(60);
        r.record_active(
            "vc1",
            &[info("vc1", "a", JobRunState::Running, t0())],
            young,
        );
        assert_eq!(r.next_poll_at(), Some(young + secs(5)));
        let old = t0() + secs(600);
        r.record_active("vc1", &[info("vc1", "a", JobRunState::Running, t0())], old);
        assert_eq!(r.next_poll_at(), Some(old + secs(30)));
        // A new run in the same cluster brings the young cadence back at once.
        r.track(key("vc1", "b"), obj("b"), old + secs(1), old + secs(1));
        assert_eq!(r.next_poll_at(), Some(old + secs(6)));
    }

    #[test]
    fn runs_missing_from_the_active_list_are_fetched_once_then_cost_nothing() {
        let mut r = Tracker::new(cadence());
        r.track(key("vc1", "a"), obj("a"), t0(), t0());
        let now = t0() + secs(10);
        let (_, missing) = r.record_active("vc1", &[], now);
        assert_eq!(missing, vec![key("vc1", "a")]);
        assert_eq!(
            r.plan_missing(missing),
            MissingPlan::Describe(vec![key("vc1", "a")])
        );
        let mut done = info("vc1", "a", JobRunState::Completed, t0());
        done.finished_at = Some(now);
        let changed = r.record_described(&key("vc1", "a"), Observation::Seen(done.clone()), now);
        assert_eq!(changed, Some(obj("a")));
        // Finished: no longer polled, the schedule is gone, the observation stays for the reconcile.
        assert_eq!(r.active_runs(), 0);
        assert_eq!(r.next_poll_at(), None);
        assert!(r.due(now + secs(3600)).is_empty());
        assert_eq!(
            r.observation(&key("vc1", "a")),
            Some(&Observation::Seen(done))
        );
        // A stale reconcile tracking it again does not restart polling.
        r.track(key("vc1", "a"), obj("a"), t0(), now);
        assert_eq!(r.active_runs(), 0);
        r.forget(&key("vc1", "a"));
        assert_eq!(r.observation(&key("vc1", "a")), None);
    }

    #[test]
    fn many_finished_runs_are_fetched_with_one_list() {
        let mut r = Tracker::new(cadence());
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            r.track(key("vc1", id), obj(id), t0() + secs(i as i64), t0());
        }
        let now = t0() + secs(10);
        let (_, missing) = r.record_active("vc1", &[], now);
        let MissingPlan::ListFinished {
            created_after,
            keys,
        } = r.plan_missing(missing)
        else {
            panic!("expected one list")
        };
        assert_eq!(created_after, t0() - CREATED_AFTER_SLACK);
        let listed = vec![
            info("vc1", "a", JobRunState::Completed, t0()),
            info("vc1", "b", JobRunState::Failed, t0()),
        ];
        let (changed, still) = r.record_finished("vc1", &listed, keys, now);
        assert_eq!(changed, vec![obj("a"), obj("b")]);
        assert_eq!(still, vec![key("vc1", "c")]);
        let changed = r.record_described(&key("vc1", "c"), Observation::NotFound, now);
        assert_eq!(changed, Some(obj("c")));
        assert_eq!(r.next_poll_at(), None);
    }

    #[test]
    fn failures_back_off_and_success_resets() {
        let mut r = Tracker::new(cadence());
        r.track(key("vc1", "a"), obj("a"), t0(), t0());
        let now = t0() + secs(5);
        r.record_failure("vc1", Duration::from_secs(20), now);
        r.record_failure("vc1", Duration::from_secs(40), now);
        assert_eq!(r.failures("vc1"), 2);
        assert_eq!(r.next_poll_at(), Some(now + secs(40)));
        r.record_active(
            "vc1",
            &[info("vc1", "a", JobRunState::Running, t0())],
            now + secs(40),
        );
        assert_eq!(r.failures("vc1"), 0);
    }

    #[test]
    fn poll_soon_and_cancel_bookkeeping() {
        let mut r = Tracker::new(cadence());
        r.track(key("vc1", "a"), obj("a"), t0(), t0());
        r.record_active(
            "vc1",
            &[info("vc1", "a", JobRunState::Running, t0())],
            t0() + secs(600),
        );
        r.poll_soon("vc1", t0() + secs(601));
        assert_eq!(r.next_poll_at(), Some(t0() + secs(606)));
        assert!(!r.cancel_requested(&key("vc1", "a")));
        r.note_cancel_requested(&key("vc1", "a"));
        assert!(r.cancel_requested(&key("vc1", "a")));
        r.forget(&key("vc1", "a"));
        assert!(!r.cancel_requested(&key("vc1", "a")));
    }

    #[test]
    fn uncollected_observations_are_pruned() {
        let mut r = Tracker::new(cadence());
        r.track(key("vc1", "a"), obj("a"), t0(), t0());
        r.record_described(&key("vc1", "a"), Observation::NotFound, t0());
        r.prune(t0() + secs(60), TimeDelta::hours(1));
        assert!(r.observation(&key("vc1", "a")).is_some());
        r.prune(t0() + secs(7200), TimeDelta::hours(1));
        assert!(r.observation(&key("vc1", "a")).is_none());
    }

    #[test]
    fn who_tracked_a_run_is_known_until_it_is_forgotten() {
        let mut r = Tracker::new(cadence());
        assert_eq!(r.tracked_by(&key("vc1", "a")), None);
        r.track(key("vc1", "a"), obj("a"), t0(), t0());
        assert_eq!(r.tracked_by(&key("vc1", "a")), Some(&obj("a")));
        // Seen finished: no longer polled, still known to be a's until a forgets it.
        let done = info("vc1", "a", JobRunState::Completed, t0());
        r.record_described(&key("vc1", "a"), Observation::Seen(done), t0());
        assert_eq!(r.active_runs(), 0);
        assert_eq!(r.tracked_by(&key("vc1", "a")), Some(&obj("a")));
        r.forget(&key("vc1", "a"));
        assert_eq!(r.tracked_by(&key("vc1", "a")), None);
    }

    #[test]
    fn a_gone_virtual_cluster_lists_its_runs_for_describing() {
        let mut r = Tracker::new(cadence());
        r.track(key("vc1", "a"), obj("a"), t0(), t0());
        r.track(key("vc2", "b"), obj("b"), t0(), t0());
        assert_eq!(r.tracked_in("vc1"), vec![key("vc1", "a")]);
    }

    #[test]
    fn deleted_objects_leave_nothing_behind() {
        let mut r = Tracker::new(cadence());
        r.track(key("vc1", "a"), obj("a"), t0(), t0());
        r.track(key("vc1", "b"), obj("b"), t0(), t0());
        r.track(key("vc2", "c"), obj("c"), t0(), t0());
        r.note_cancel_requested(&key("vc1", "a"));
        // b finished: only its observation is left, waiting for its reconcile.
        r.record_described(&key("vc1", "b"), Observation::NotFound, t0());
        r.forget_objects(|o| o.name == "c");
        assert_eq!(r.observation(&key("vc1", "b")), None);
        assert!(!r.cancel_requested(&key("vc1", "a")));
        assert_eq!(r.tracked_in("vc1"), Vec::<JobKey>::new());
        let sizes: Vec<usize> = r.sizes().iter().map(|(_, n)| *n).collect();
        assert_eq!(sizes, vec![0, 1, 0, 1, 0], "{:?}", r.sizes());
        r.forget_objects(|_| false);
        assert!(r.sizes().iter().all(|(_, n)| *n == 0), "{:?}", r.sizes());
    }

    #[test]
    fn extreme_times_and_intervals_do_not_overflow() {
        let huge = Cadence {
            poll_interval: Duration::MAX,
            young_poll_interval: Duration::MAX,
            young_job_age: Duration::MAX,
        };
        let mut r = Tracker::new(huge);
        let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        r.track(key("vc1", "a"), obj("a"), min, max);
        r.track(key("vc1", "b"), obj("b"), max, min);
        r.poll_soon("vc1", max);
        r.record_failure("vc1", Duration::MAX, max);
        let _ = r.due(max);
        let _ = r.record_active("vc1", &[info("vc1", "a", JobRunState::Running, min)], max);
        let _ = r.plan_missing(vec![key("vc1", "a"), key("vc1", "b"), key("vc1", "x")]);
        r.prune(min, TimeDelta::MAX);
        assert_eq!(created_after(min), min);
    }
}
