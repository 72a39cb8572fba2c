//! The SparkJobRun controller's watch cache: whole objects while something may still be decided
//! about them, a few fields once they are settled.
//!
//! Most SparkJobRuns a platform keeps are finished: history nobody acts on until its TTL, if it
//! has one. A whole object costs kilobytes in memory (spec, status with its conditions, metadata)
//! for decisions that can no longer come. An object [`decide::settled`] finds settled (finished,
//! its status what a decision would write, nothing pending) is kept as [`Settled`]: its
//! reference, state, ended run and TTL expiry. A change to it arrives as a watch event with the
//! whole object, which is judged again; a reconcile of a settled object that needs more than
//! the cache holds (its TTL expired, the poller still holds its run, this process wrote a
//! version the cache has not shown) reads the object first ([`reconcile_cached`](super::reconcile::reconcile_cached)).
//!
//! Lists and events are applied like kube's reflector applies them (a list replaces the cache
//! when it is complete), so the cache never shows half a list.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, Utc};
use emr_api::SparkJobRun;
use emr_api::labels::SPARK_JOB_RUN_FINALIZER;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use tokio::sync::watch;

use super::admission::queue::{self, Interest};
use super::decide::{self, Facts};
use super::tracker::JobKey;
use super::ttl;
use crate::kit::finalizer::Finalizer;

/// Trims a SparkJobRun before it is cached or reconciled: [`crate::lean::trim`], and of its labels
/// and annotations only Argo CD's tracking ones, the only ones a decision reads
/// ([`ttl::tracked_by_gitops`]). The others (a team's, a shard's selector label, which the
/// apiserver matches) would cost about 0.7 KB of heap per labelled object, about a sixth of a
/// whole cached one; and a tenant's large labels or annotations never reach the cache.
pub fn trim(job: &mut SparkJobRun) {
    crate::lean::trim(job);
    crate::lean::keep_only(
        &mut job.metadata,
        &[ttl::ARGOCD_INSTANCE_LABEL],
        &[ttl::ARGOCD_TRACKING_ANNOTATION],
    );
}

/// [`trim`], by value.
pub fn trimmed(mut job: SparkJobRun) -> SparkJobRun {
    trim(&mut job);
    job
}

/// What the cache keeps of one object.
#[derive(Clone, Debug)]
pub enum Cached {
    /// Everything a decision reads (trimmed by [`trim`]).
    Whole(Arc<SparkJobRun>),
    /// A settled object: see the module's doc.
    Settled(Arc<Settled>),
}

/// A settled object: what is left to know of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    /// Its name, namespace, uid and resource version.
    pub object: ObjectRef<SparkJobRun>,
    /// `status.state`, for the job counts in `/metrics`.
    pub state: Option<String>,
    /// The ended run: a reconcile while the poller still holds it reads the object.
    pub run: Option<JobKey>,
    /// When its TTL lets it go.
    pub expires: Option<DateTime<Utc>>,
}

impl Cached {
    /// The object's reference (with its uid and resource version).
    pub fn object(&self) -> ObjectRef<SparkJobRun> {
        match self {
            Self::Whole(job) => ObjectRef::from_obj(job.as_ref()),
            Self::Settled(settled) => settled.object.clone(),
        }
    }

    /// `status.state`.
    pub fn state(&self) -> Option<&str> {
        match self {
            Self::Whole(job) => job.status.as_ref().and_then(|s| s.state.as_deref()),
            Self::Settled(settled) => settled.state.as_deref(),
        }
    }

    /// How the cache keeps `job`, judged at `now`; a settled one is not copied whole.
    pub fn of(job: &SparkJobRun, now: DateTime<Utc>) -> Self {
        match settle(job, now) {
            Some(settled) => Self::Settled(Arc::new(settled)),
            None => Self::Whole(Arc::new(job.clone())),
        }
    }
}

/// `job` as [`Settled`], if it is.
fn settle(job: &SparkJobRun, now: DateTime<Utc>) -> Option<Settled> {
    let status = job.status.as_ref()?;
    // Neither holds nor waits for a slot or a VirtualCluster: the admission and the wake-ups,
    // which read only whole objects, lose nothing.
    if job.metadata.deletion_timestamp.is_some()
        || queue::interest(job) != Interest::Idle
        || decide::waits_for_virtual_cluster(status)
    {
        return None;
    }
    let settlement = decide::settled(&Facts {
        spec: &job.spec,
        status,
        generation: job.metadata.generation,
        created: job
            .metadata
            .creation_timestamp
            .as_ref()
            .and_then(super::io::to_chrono),
        has_finalizer: Finalizer(SPARK_JOB_RUN_FINALIZER).is_on(job),
        deleting_since: None,
        target: None,
        observed: None,
        cancel_requested: false,
        ttl_applies: ttl::applies(job.owner_references()),
        now,
    })?;
    Some(Settled {
        object: ObjectRef::from_obj(job),
        state: status.state.clone(),
        run: settlement.run,
        expires: settlement.expires,
    })
}

type Entries = HashMap<ObjectRef<SparkJobRun>, Cached>;

// A panic elsewhere while holding the lock leaves the map whole (every change is one insert,
// remove or swap), so a poisoned lock is used as is.
fn read(entries: &RwLock<Entries>) -> RwLockReadGuard<'_, Entries> {
    entries.read().unwrap_or_else(PoisonError::into_inner)
}

fn write(entries: &RwLock<Entries>) -> RwLockWriteGuard<'_, Entries> {
    entries.write().unwrap_or_else(PoisonError::into_inner)
}

/// The cache, as its readers see it (cheap to clone).
#[derive(Clone)]
pub struct JobCache {
    entries: Arc<RwLock<Entries>>,
    ready: watch::Receiver<bool>,
}

/// What the watch feeds the cache through.
pub struct Writer {
    entries: Arc<RwLock<Entries>>,
    /// The list being received (between `Init` and `InitDone`).
    listing: Option<Entries>,
    ready: watch::Sender<bool>,
}

/// An empty cache and its writer.
pub fn cache() -> (JobCache, Writer) {
    let entries = Arc::new(RwLock::new(HashMap::new()));
    let (ready, ready_rx) = watch::channel(false);
    (
        JobCache {
            entries: entries.clone(),
            ready: ready_rx,
        },
        Writer {
            entries,
            listing: None,
            ready,
        },
    )
}

impl Writer {
    /// Applies one watch event (before it goes on to whoever reacts to it).
    pub fn apply_watcher_event(&mut self, event: &watcher::Event<SparkJobRun>) {
        let now = Utc::now();
        match event {
            watcher::Event::Apply(job) => {
                let entry = Cached::of(job, now);
                write(&self.entries).insert(ObjectRef::from_obj(job), entry);
            }
            watcher::Event::Delete(job) => {
                write(&self.entries).remove(&ObjectRef::from_obj(job));
            }
            watcher::Event::Init => self.listing = Some(HashMap::new()),
            watcher::Event::InitApply(job) => {
                let entry = Cached::of(job, now);
                self.listing
                    .get_or_insert_default()
                    .insert(ObjectRef::from_obj(job), entry);
            }
            watcher::Event::InitDone => {
                let listed = self.listing.take().unwrap_or_default();
                *write(&self.entries) = listed;
                self.ready.send_replace(true);
            }
        }
    }
}

impl JobCache {
    pub fn get(&self, object: &ObjectRef<SparkJobRun>) -> Option<Cached> {
        read(&self.entries).get(object).cloned()
    }

    pub fn contains(&self, object: &ObjectRef<SparkJobRun>) -> bool {
        read(&self.entries).contains_key(object)
    }

    /// The objects kept whole: every one that may still hold a slot, wait for one, or wait
    /// for a VirtualCluster or a template.
    pub fn whole(&self) -> Vec<Arc<SparkJobRun>> {
        read(&self.entries)
            .values()
            .filter_map(|cached| match cached {
                Cached::Whole(job) => Some(job.clone()),
                Cached::Settled(_) => None,
            })
            .collect()
    }

    /// Every object's `status.state`, counted.
    pub fn count_states(&self, counts: &mut std::collections::BTreeMap<String, i64>) {
        for cached in read(&self.entries).values() {
            if let Some(state) = cached.state() {
                let count = counts.entry(state.to_owned()).or_default();
                *count = count.saturating_add(1);
            }
        }
    }

    /// Objects kept as [`Settled`], and in all (for the `tracked_objects` metric).
    pub fn sizes(&self) -> (usize, usize) {
        let entries = read(&self.entries);
        let settled = entries
            .values()
            .filter(|c| matches!(c, Cached::Settled(_)))
            .count();
        (settled, entries.len())
    }

    /// Resolves once the first list is in; `Err` when the watch is gone.
    pub async fn wait_until_ready(&self) -> Result<(), ()> {
        let mut ready = self.ready.clone();
        ready
            .wait_for(|ready| *ready)
            .await
            .map(|_| ())
            .map_err(|_| ())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeDelta;
    use emr_api::spark_job_run::SparkJobRunStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn job(name: &str) -> SparkJobRun {
        let mut job = SparkJobRun::new(
            name,
            serde_saphyr::from_str(
                "{virtualCluster: {name: vc}, executionRoleArn: arn:aws:iam::123456789012:role/r, releaseLabel: emr-7.2.0-latest, ttlSecondsAfterFinished: 3600}",
            )
            .unwrap(),
        );
        job.metadata.namespace = Some("ns".into());
        job.metadata.uid = Some(format!("uid-{name}"));
        job.metadata.resource_version = Some("7".into());
        job.metadata.generation = Some(1);
        job.metadata.finalizers = Some(vec![SPARK_JOB_RUN_FINALIZER.into()]);
        job
    }

    /// `job` as the operator leaves it once its run ended at `finished`: the status its own
    /// decision writes.
    pub(crate) fn finished(mut job: SparkJobRun, finished: DateTime<Utc>) -> SparkJobRun {
        let running = SparkJobRunStatus {
            observed_generation: Some(1),
            attempt: 1,
            submitted_spec_fingerprint: Some(job.spec.submission_fingerprint()),
            virtual_cluster_id: Some("vc0123".into()),
            job_run_id: Some("jr1".into()),
            state: Some("COMPLETED".into()),
            finished_at: Some(finished.into()),
            ..Default::default()
        };
        job.status = Some(running.clone());
        // Whatever the decision adds (conditions), as its write would.
        let decided = decide::decide(&facts(&job, finished));
        job.status = Some(decided.status);
        job
    }

    fn facts(job: &SparkJobRun, now: DateTime<Utc>) -> Facts<'_> {
        Facts {
            spec: &job.spec,
            status: job.status.as_ref().unwrap(),
            generation: job.metadata.generation,
            created: None,
            has_finalizer: true,
            deleting_since: None,
            target: None,
            observed: None,
            cancel_requested: false,
            ttl_applies: true,
            now,
        }
    }

    #[test]
    fn a_cached_object_keeps_of_its_labels_and_annotations_only_argo_cds_tracking() {
        let mut labelled = job("a");
        labelled.metadata.labels = Some(
            [
                (ttl::ARGOCD_INSTANCE_LABEL.to_owned(), "app".to_owned()),
                ("emr-on-eks.dev/shard".to_owned(), "a".to_owned()),
                ("team".to_owned(), "x".to_owned()),
            ]
            .into(),
        );
        labelled.metadata.annotations = Some(
            [
                (
                    ttl::ARGOCD_TRACKING_ANNOTATION.to_owned(),
                    "app:x".to_owned(),
                ),
                (crate::lean::LAST_APPLIED.to_owned(), "{}".to_owned()),
                ("note".to_owned(), "y".to_owned()),
            ]
            .into(),
        );
        let cached = trimmed(labelled.clone());
        assert_eq!(
            cached.metadata.labels,
            Some([(ttl::ARGOCD_INSTANCE_LABEL.to_owned(), "app".to_owned())].into())
        );
        assert_eq!(
            cached.metadata.annotations,
            Some(
                [(
                    ttl::ARGOCD_TRACKING_ANNOTATION.to_owned(),
                    "app:x".to_owned()
                )]
                .into()
            )
        );
        assert!(ttl::tracked_by_gitops(&cached));
        // Everything else a decision reads is as it was.
        assert_eq!(cached.spec, labelled.spec);
        assert_eq!(cached.metadata.finalizers, labelled.metadata.finalizers);
        assert_eq!(cached.metadata.uid, labelled.metadata.uid);

        let mut untracked = job("b");
        untracked.metadata.labels = Some([("team".to_owned(), "x".to_owned())].into());
        let cached = trimmed(untracked);
        assert_eq!(cached.metadata.labels, None);
        assert!(!ttl::tracked_by_gitops(&cached));
    }

    #[test]
    fn a_finished_object_is_kept_settled_with_its_run_and_ttl() {
        // Whole seconds: status keeps times to the second.
        let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
        let ended = now - TimeDelta::minutes(5);
        let cached = Cached::of(&finished(job("a"), ended), now);
        let Cached::Settled(settled) = cached else {
            panic!("a finished object is settled: {cached:?}");
        };
        assert_eq!(settled.object, ObjectRef::new("a").within("ns"));
        assert_eq!(settled.object.extra.uid.as_deref(), Some("uid-a"));
        assert_eq!(settled.state.as_deref(), Some("COMPLETED"));
        assert_eq!(
            settled.run,
            Some(JobKey {
                virtual_cluster_id: "vc0123".into(),
                job_run_id: "jr1".into()
            })
        );
        assert_eq!(settled.expires, Some(ended + TimeDelta::hours(1)));
    }

    #[test]
    fn anything_still_to_decide_keeps_the_object_whole() {
        let now = Utc::now();
        let ended = now - TimeDelta::minutes(5);
        let done = finished(job("a"), ended);
        let whole = |job: SparkJobRun| matches!(Cached::of(&job, now), Cached::Whole(_));

        assert!(whole(job("new")), "not started");
        let mut running = done.clone();
        running.status.as_mut().unwrap().state = Some("RUNNING".into());
        assert!(whole(running), "active");

        let mut edited = done.clone();
        edited.metadata.generation = Some(2);
        edited.spec.release_label = Some("emr-7.3.0-latest".into());
        assert!(whole(edited), "a spec change to refuse");

        let mut rerun = done.clone();
        rerun.spec.rerun = Some("again".into());
        rerun.metadata.generation = Some(2);
        assert!(whole(rerun), "a re-run asked for");

        let mut deleting = done.clone();
        deleting.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
        assert!(whole(deleting), "being deleted");

        let mut expired = done.clone();
        expired.spec.ttl_seconds_after_finished = Some(60);
        assert!(whole(expired), "its TTL has passed: it is to be deleted");

        let mut unwritten = done;
        unwritten.status.as_mut().unwrap().observed_generation = Some(0);
        assert!(
            whole(unwritten),
            "its status is not yet what a decision writes"
        );
    }

    #[test]
    fn a_list_replaces_the_cache_only_when_complete() {
        let (cache, mut writer) = cache();
        let now = Utc::now();
        let done = finished(job("done"), now - TimeDelta::minutes(1));
        writer.apply_watcher_event(&watcher::Event::Apply(job("gone")));
        writer.apply_watcher_event(&watcher::Event::Init);
        writer.apply_watcher_event(&watcher::Event::InitApply(job("new")));
        writer.apply_watcher_event(&watcher::Event::InitApply(done));
        assert!(cache.contains(&ObjectRef::new("gone").within("ns")));
        assert!(!cache.contains(&ObjectRef::new("new").within("ns")));
        writer.apply_watcher_event(&watcher::Event::InitDone);
        assert!(!cache.contains(&ObjectRef::new("gone").within("ns")));
        assert!(matches!(
            cache.get(&ObjectRef::new("new").within("ns")),
            Some(Cached::Whole(_))
        ));
        assert!(matches!(
            cache.get(&ObjectRef::new("done").within("ns")),
            Some(Cached::Settled(_))
        ));
        assert_eq!(cache.whole().len(), 1);
        assert_eq!(cache.sizes(), (1, 2));
        let mut counts = std::collections::BTreeMap::new();
        cache.count_states(&mut counts);
        assert_eq!(counts.get("COMPLETED"), Some(&1));
        writer.apply_watcher_event(&watcher::Event::Delete(job("done")));
        assert_eq!(cache.sizes(), (0, 1));
    }
}
