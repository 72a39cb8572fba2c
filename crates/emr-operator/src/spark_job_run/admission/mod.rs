//! `VirtualCluster.spec.maxConcurrentJobRuns`: at most that many of a VirtualCluster's
//! SparkJobRuns hold an EMR job run; the others wait (condition Queued) and make no EMR call.
//!
//! Exact across concurrent reconciles and restarts:
//! - holders are counted from the watch store, status alone (an attempt recorded before
//!   StartJobRun, or a run not seen finished), so a restarted operator counts what runs;
//! - the store lags behind this process's own writes, so a job admitted here is also held as a
//!   reservation until the store shows its attempt (or its reconcile ends without recording it);
//! - counting and reserving happen under one lock per VirtualCluster, so two reconciles of
//!   different jobs (the fair queue runs them at once) never both take the last slot.
//!
//! When a job stops holding or waiting (its run finished, it was deleted, it left the queue),
//! the store's watch event wakes the first waiting jobs of its VirtualCluster ([`queue::to_wake`]).
//! The rule itself is pure in [`queue`]; the statuses in [`status`].

pub mod queue;
pub mod status;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use emr_api::{SparkJobRun, VirtualCluster};
use futures::channel::mpsc::UnboundedSender;
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

use super::cache::JobCache;
use queue::{Interest, Order, Other, Verdict};
pub use status::{admitted, queued};

/// At most this many waiting jobs are woken per change: the head of the queue (which may be
/// admitted) and enough behind it to keep their places current.
const MAX_WOKEN: usize = 100;

/// What one VirtualCluster's admissions keep in memory.
#[derive(Default)]
struct Ledger {
    /// Admitted here, by job name: (uid, attempt). Dropped once the store shows the attempt.
    reserved: HashMap<String, (Option<String>, i32)>,
    /// Told to wait here, by job name (uid): the store may not show their Queued condition yet.
    queued: HashMap<String, Option<String>>,
}

/// What admission reads and wakes through, set once the controller's watches exist.
struct Wiring {
    jobs: Vec<JobCache>,
    virtual_clusters: Store<VirtualCluster>,
    wake: UnboundedSender<ObjectRef<SparkJobRun>>,
}

/// Admission's shared state (one per controller).
#[derive(Default)]
pub struct Admission {
    wiring: OnceLock<Wiring>,
    ledgers: Mutex<HashMap<String, Arc<Mutex<Ledger>>>>,
    /// Each holding or waiting job's last seen interest and VirtualCluster name, to see it stop
    /// holding or waiting.
    seen: Mutex<HashMap<ObjectRef<SparkJobRun>, (String, Interest)>>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Admission {
    /// Connects admission to the controller's stores and its wake-up channel.
    pub fn wire(
        &self,
        jobs: Vec<JobCache>,
        virtual_clusters: Store<VirtualCluster>,
        wake: UnboundedSender<ObjectRef<SparkJobRun>>,
    ) {
        let _ = self.wiring.set(Wiring {
            jobs,
            virtual_clusters,
            wake,
        });
    }

    fn ledger(&self, virtual_cluster: &str) -> Arc<Mutex<Ledger>> {
        locked(&self.ledgers)
            .entry(virtual_cluster.to_owned())
            .or_default()
            .clone()
    }

    /// The jobs of `vc` (its namespace, naming it) the store holds. Jobs in other namespaces
    /// naming it are refused by the operator, and their status (writable by their owner) must
    /// not take this tenant's slots.
    fn jobs_of(&self, vc: &VirtualCluster) -> Vec<Arc<SparkJobRun>> {
        let Some(wiring) = self.wiring.get() else {
            return Vec::new();
        };
        let name = vc.metadata.name.as_deref();
        let namespace = vc.spec.namespace.name.as_str();
        wiring
            .jobs
            .iter()
            .flat_map(JobCache::whole)
            .filter(|job| {
                job.metadata.namespace.as_deref() == Some(namespace)
                    && job.spec.virtual_cluster.name.as_deref() == name
                    && job.spec.virtual_cluster.id.is_none()
            })
            .collect()
    }

    /// Whether `job` may record attempt `attempt` now; `None` when `vc` has no limit. Admitted,
    /// it holds a reservation until the store shows the attempt; told to wait, it is queued.
    pub fn admit(&self, vc: &VirtualCluster, job: &SparkJobRun, attempt: i32) -> Option<Verdict> {
        let limit = vc.spec.max_concurrent_job_runs?;
        let vc_name = vc.metadata.name.clone().unwrap_or_default();
        let me = job.name_any();
        let ledger = self.ledger(&vc_name);
        // Held while the store is read and the reservation made: the count and the
        // reservation are one step for every job of this VirtualCluster.
        let mut ledger = locked(&ledger);
        let jobs = self.jobs_of(vc);
        prune(&mut ledger, &jobs);
        let others: Vec<Other> = jobs.iter().map(|j| other(j)).collect();
        let reserved: BTreeSet<String> = ledger.reserved.keys().cloned().collect();
        let queued: BTreeSet<String> = ledger.queued.keys().cloned().collect();
        let verdict = queue::verdict(&me, &Order::of(job), &others, &reserved, &queued, limit);
        if verdict.admitted {
            ledger.queued.remove(&me);
            ledger.reserved.insert(me, (job.uid(), attempt));
        } else {
            ledger.reserved.remove(&me);
            ledger.queued.insert(me, job.uid());
        }
        Some(verdict)
    }

    /// After a reconcile of `job` that ended with `last` as its newest copy: a reservation whose
    /// attempt the copy does not show, or a queue entry the copy does not show Queued, was not
    /// used (the job was refused, suspended, ...), and goes; a released reservation wakes the
    /// queue. A failed reconcile keeps both (its write may have landed): the error's retry
    /// settles them.
    pub fn settle(&self, last: &SparkJobRun, ok: bool) {
        if !ok {
            return;
        }
        let name = last.name_any();
        let uid = last.uid();
        let recorded = last.status.as_ref().map_or(0, |s| s.attempt);
        let ledgers: Vec<(String, Arc<Mutex<Ledger>>)> = locked(&self.ledgers)
            .iter()
            .map(|(vc, ledger)| (vc.clone(), ledger.clone()))
            .collect();
        for (vc, ledger) in ledgers {
            let released = {
                let mut ledger = locked(&ledger);
                if ledger.queued.get(&name) == Some(&uid) && !queue_shows(last) {
                    ledger.queued.remove(&name);
                }
                let unused = ledger
                    .reserved
                    .get(&name)
                    .is_some_and(|(of, attempt)| *of == uid && recorded < *attempt);
                if unused {
                    ledger.reserved.remove(&name);
                }
                unused
            };
            if released {
                self.wake(&vc);
            }
        }
    }

    /// Follows the job watch: a job that stops holding or waiting, leaves its VirtualCluster or
    /// is admitted frees a slot or moves the queue, so that VirtualCluster's first waiting jobs
    /// are woken. Called after the store applied the event.
    pub fn observe(&self, event: &Result<watcher::Event<SparkJobRun>, watcher::Error>) {
        let (job, now) = match event {
            Ok(watcher::Event::Apply(job) | watcher::Event::InitApply(job)) => {
                (job, queue::interest(job))
            }
            Ok(watcher::Event::Delete(job)) => (job, Interest::Idle),
            _ => return,
        };
        let object = ObjectRef::from_obj(job);
        let vc = job
            .spec
            .virtual_cluster
            .name
            .clone()
            .filter(|_| job.spec.virtual_cluster.id.is_none());
        let before = {
            let mut seen = locked(&self.seen);
            // An idle job (finished, most of them) is not kept: from idle, no change wakes
            // anyone, exactly as for a job never seen.
            match (&vc, matches!(event, Ok(watcher::Event::Delete(_)))) {
                (Some(vc), false) if now != Interest::Idle => {
                    seen.insert(object, (vc.clone(), now))
                }
                _ => seen.remove(&object),
            }
        };
        let Some((old_vc, old)) = before else {
            return;
        };
        let moved = vc.as_ref() != Some(&old_vc);
        let left = old != Interest::Idle && (now == Interest::Idle || moved);
        let freed = old == Interest::Holding && now != Interest::Holding;
        // One admitted: those behind it move up a place.
        let admitted = old == Interest::Waiting && now == Interest::Holding;
        if left || freed || admitted {
            self.wake(&old_vc);
        }
    }

    /// Wakes the first waiting jobs of VirtualCluster `name`, if it has a limit.
    fn wake(&self, name: &str) {
        let Some(wiring) = self.wiring.get() else {
            return;
        };
        let Some(vc) = wiring.virtual_clusters.get(&ObjectRef::new(name)) else {
            return;
        };
        if vc.spec.max_concurrent_job_runs.is_none() {
            return;
        }
        let jobs = self.jobs_of(&vc);
        let queued: BTreeSet<String> = locked(&self.ledger(name)).queued.keys().cloned().collect();
        let others: Vec<Other> = jobs.iter().map(|j| other(j)).collect();
        let namespace = vc.spec.namespace.name.as_str();
        for job in queue::to_wake(&others, &queued, MAX_WOKEN) {
            let _ = wiring
                .wake
                .unbounded_send(ObjectRef::new(&job).within(namespace));
        }
    }

    /// Forgets what is kept of objects `present` no longer finds, and the reservations the
    /// store now tells by itself (a VirtualCluster without further admissions would keep them).
    pub fn forget_absent(&self, present: impl Fn(&ObjectRef<SparkJobRun>) -> bool) {
        locked(&self.seen).retain(|object, _| present(object));
        let Some(wiring) = self.wiring.get() else {
            return;
        };
        let mut ledgers = locked(&self.ledgers);
        if ledgers.is_empty() {
            return;
        }
        let jobs: Vec<Arc<SparkJobRun>> = wiring.jobs.iter().flat_map(JobCache::whole).collect();
        ledgers.retain(|_, ledger| {
            let mut entries = locked(ledger);
            prune(&mut entries, &jobs);
            // Taken only under the map's lock: a ledger nobody holds cannot be in use.
            Arc::strong_count(ledger) > 1
                || !entries.reserved.is_empty()
                || !entries.queued.is_empty()
        });
    }

    /// Entries kept, for the `tracked_objects` metric.
    pub fn len(&self) -> usize {
        let ledgers: usize = locked(&self.ledgers)
            .values()
            .map(|l| {
                let l = locked(l);
                l.reserved.len().saturating_add(l.queued.len())
            })
            .sum();
        ledgers.saturating_add(locked(&self.seen).len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn other(job: &SparkJobRun) -> Other {
    Other {
        name: job.name_any(),
        order: Order::of(job),
        interest: queue::interest(job),
    }
}

fn queue_shows(job: &SparkJobRun) -> bool {
    job.status.as_ref().is_some_and(|s| {
        emr_api::condition::is_true(
            &s.conditions,
            emr_api::spark_job_run::condition_types::QUEUED,
        )
    })
}

/// Drops what the store now tells by itself: reservations whose attempt it shows (it counts
/// them as holders from now on, or they are done), and entries of jobs gone or recreated.
fn prune(ledger: &mut Ledger, jobs: &[Arc<SparkJobRun>]) {
    let find = |name: &str, uid: &Option<String>| {
        jobs.iter()
            .find(|j| j.metadata.name.as_deref() == Some(name) && j.metadata.uid == *uid)
    };
    ledger.reserved.retain(|name, (uid, attempt)| {
        find(name, uid).is_some_and(|job| job.status.as_ref().map_or(0, |s| s.attempt) < *attempt)
    });
    ledger.queued.retain(|name, uid| find(name, uid).is_some());
}

#[cfg(test)]
mod tests;
