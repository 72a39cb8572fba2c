//! The queue itself, without I/O: time is passed in, so every rule is unit-tested.
//! (One file over 400 lines on purpose: the per-object entries, the per-tenant FIFOs and the
//! timers keep counts that must agree, and are read together.)
//!
//! Each object has at most one place per [`Lane`]; each lane keeps one FIFO per tenant and a
//! ring of the tenants that have work. Serving a lane takes the next object of the tenant at the
//! front of the ring; a tenant keeps the front for `share` objects (deficit round robin with a
//! cost of one per object), then goes to the back. An object being reconciled is never handed
//! out again until [`FairQueue::done`]: what arrives for it meanwhile is held and queued then.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Why an object waits. Each lane has its own share of the workers, so what the poller saw
/// change is never stuck behind a burst of watch events (and the other way round).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// The object or its VirtualCluster changed, or a requeue fell due.
    Changes,
    /// The poller saw the object's job run change in EMR.
    Polled,
}

impl Lane {
    pub const ALL: [Lane; 2] = [Lane::Changes, Lane::Polled];

    fn index(self) -> usize {
        match self {
            Lane::Changes => 0,
            Lane::Polled => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Changes => "changes",
            Lane::Polled => "polled",
        }
    }
}

/// The largest `share` a tenant can have: a tenant with the front of the ring holds it for at
/// most this many objects.
pub const MAX_SHARE: u32 = 100;

/// What the queue knows about a tenant besides its objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantInfo {
    /// Objects served per turn, 1..=[`MAX_SHARE`].
    pub share: u32,
    /// The VirtualCluster that owns the tenant's namespace, for metrics.
    pub virtual_cluster: Option<String>,
}

impl Default for TenantInfo {
    fn default() -> Self {
        Self {
            share: 1,
            virtual_cluster: None,
        }
    }
}

/// An object handed out for a reconcile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatch<K> {
    pub key: K,
    pub tenant: String,
    pub lane: Lane,
    /// How long it was ready to run before it was handed out.
    pub waited: Duration,
}

/// What a tenant has waiting, for metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantLoad {
    pub tenant: String,
    pub virtual_cluster: Option<String>,
    /// Objects ready to run, over both lanes.
    pub depth: usize,
    /// How long the longest-waiting of them has been ready.
    pub oldest_wait: Duration,
}

/// An object's place in a lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Queued {
    /// Since when it is ready to run (for a held object: since the request came).
    since: Instant,
    /// Its slot in the tenant's FIFO; `None` while held behind the object's running reconcile.
    slot: Option<u64>,
}

#[derive(Debug)]
struct Entry {
    tenant: String,
    running: bool,
    queued: [Option<Queued>; 2],
    /// A requeue: (when, timer id).
    due: Option<(Instant, u64)>,
}

impl Entry {
    fn idle(&self) -> bool {
        !self.running && self.queued.iter().all(Option::is_none) && self.due.is_none()
    }
}

/// One tenant's FIFO in one lane. `slots` may hold stale slots (the object was handed out by
/// the other lane); `pending` counts the live ones.
#[derive(Debug)]
struct TenantLane<K> {
    slots: VecDeque<(K, u64)>,
    pending: usize,
    /// Objects left in the current turn.
    credit: u32,
}

#[derive(Debug)]
struct LaneQueue<K> {
    tenants: HashMap<String, TenantLane<K>>,
    /// Tenants with `pending > 0`, each once.
    ring: VecDeque<String>,
}

impl<K> Default for LaneQueue<K> {
    fn default() -> Self {
        Self {
            tenants: HashMap::new(),
            ring: VecDeque::new(),
        }
    }
}

#[derive(Debug)]
struct Timer<K> {
    at: Instant,
    id: u64,
    key: K,
}

impl<K> PartialEq for Timer<K> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.id) == (other.at, other.id)
    }
}
impl<K> Eq for Timer<K> {}
impl<K> PartialOrd for Timer<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<K> Ord for Timer<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.id).cmp(&(other.at, other.id))
    }
}

/// The fair queue of one controller. `K` identifies an object.
#[derive(Debug)]
pub struct FairQueue<K> {
    objects: HashMap<K, Entry>,
    lanes: [LaneQueue<K>; 2],
    timers: BinaryHeap<Reverse<Timer<K>>>,
    tenants: HashMap<String, TenantInfo>,
    next_id: u64,
}

impl<K> Default for FairQueue<K> {
    fn default() -> Self {
        Self {
            objects: HashMap::new(),
            lanes: [LaneQueue::default(), LaneQueue::default()],
            timers: BinaryHeap::new(),
            tenants: HashMap::new(),
            next_id: 0,
        }
    }
}

impl<K: Clone + Eq + Hash> FairQueue<K> {
    /// Replaces what is known about tenants (shares, VirtualCluster names); unknown tenants
    /// have a share of 1. A share changes a tenant's next turn, not the current one.
    pub fn set_tenants(&mut self, tenants: HashMap<String, TenantInfo>) {
        self.tenants = tenants;
    }

    fn share(&self, tenant: &str) -> u32 {
        self.tenants
            .get(tenant)
            .map_or(1, |info| info.share.clamp(1, MAX_SHARE))
    }

    fn id(&mut self) -> u64 {
        // u64 ids never run out: one per request, at any rate a machine can sustain.
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    /// Asks for a reconcile of `key` in `lane`. An object already waiting in that lane keeps
    /// its place; one being reconciled is held and queued when that reconcile is done.
    pub fn push(&mut self, key: K, tenant: &str, lane: Lane, now: Instant) {
        let id = self.id();
        let entry = self.objects.entry(key.clone()).or_insert_with(|| Entry {
            tenant: tenant.to_owned(),
            running: false,
            queued: [None, None],
            due: None,
        });
        if entry.queued[lane.index()].is_some() {
            return;
        }
        if entry.running {
            entry.queued[lane.index()] = Some(Queued {
                since: now,
                slot: None,
            });
            return;
        }
        entry.queued[lane.index()] = Some(Queued {
            since: now,
            slot: Some(id),
        });
        let tenant = entry.tenant.clone();
        self.enqueue(lane, tenant, key, id);
    }

    fn enqueue(&mut self, lane: Lane, tenant: String, key: K, id: u64) {
        let queue = &mut self.lanes[lane.index()];
        let fifo = queue
            .tenants
            .entry(tenant.clone())
            .or_insert_with(|| TenantLane {
                slots: VecDeque::new(),
                pending: 0,
                credit: 0,
            });
        fifo.slots.push_back((key, id));
        fifo.pending = fifo.pending.saturating_add(1);
        if fifo.pending == 1 {
            queue.ring.push_back(tenant);
        }
    }

    /// Hands out the next object of `lane`, fairly across tenants, and marks it running:
    /// it is not handed out again (by either lane) before [`done`](Self::done).
    pub fn pop(&mut self, lane: Lane, now: Instant) -> Option<Dispatch<K>> {
        let l = lane.index();
        loop {
            let tenant = self.lanes[l].ring.front()?.clone();
            let share = self.share(&tenant);
            let Some(fifo) = self.lanes[l].tenants.get_mut(&tenant) else {
                self.lanes[l].ring.pop_front();
                continue;
            };
            if fifo.pending == 0 {
                // Emptied by the other lane handing its objects out.
                self.lanes[l].ring.pop_front();
                self.lanes[l].tenants.remove(&tenant);
                continue;
            }
            let Some((key, id)) = fifo.slots.pop_front() else {
                // pending > 0 with no slot cannot happen; recover rather than spin.
                fifo.pending = 0;
                continue;
            };
            let Some(entry) = self.objects.get_mut(&key) else {
                continue;
            };
            let Some(queued) = entry.queued[l].filter(|q| q.slot == Some(id)) else {
                continue; // stale slot
            };
            if fifo.credit == 0 {
                fifo.credit = share;
            }
            fifo.credit = fifo.credit.saturating_sub(1);
            fifo.pending = fifo.pending.saturating_sub(1);
            let turn_over = fifo.credit == 0;
            let emptied = fifo.pending == 0;
            if emptied {
                self.lanes[l].ring.pop_front();
                self.lanes[l].tenants.remove(&tenant);
            } else if turn_over {
                self.lanes[l].ring.rotate_left(1);
            }

            // One reconcile serves every reason: drop its place in the other lane, and any
            // requeue (the reconcile decides the next one).
            entry.running = true;
            entry.queued[l] = None;
            entry.due = None;
            let other = 1 - l;
            if entry.queued[other].take().is_some_and(|q| q.slot.is_some())
                && let Some(fifo) = self.lanes[other].tenants.get_mut(&tenant)
            {
                fifo.pending = fifo.pending.saturating_sub(1);
            }
            return Some(Dispatch {
                key,
                tenant,
                lane,
                waited: now.saturating_duration_since(queued.since),
            });
        }
    }

    /// The reconcile of `key` is over; `requeue` asks for another one after that long. What
    /// arrived for the object meanwhile is queued now.
    pub fn done(&mut self, key: &K, now: Instant, requeue: Option<Duration>) {
        let Some(entry) = self.objects.get_mut(key) else {
            return;
        };
        entry.running = false;
        // An `at` past what Instant can hold means "never".
        if let Some(at) = requeue.and_then(|after| now.checked_add(after)) {
            let id = self.next_id.wrapping_add(1);
            self.next_id = id;
            entry.due = Some((at, id));
            self.timers.push(Reverse(Timer {
                at,
                id,
                key: key.clone(),
            }));
        }
        let tenant = entry.tenant.clone();
        let mut held = Vec::new();
        for lane in Lane::ALL {
            if let Some(queued) = entry.queued[lane.index()].as_mut()
                && queued.slot.is_none()
            {
                let id = self.next_id.wrapping_add(1);
                self.next_id = id;
                queued.slot = Some(id);
                queued.since = now;
                held.push((lane, id));
            }
        }
        let idle = entry.idle();
        for (lane, id) in held {
            self.enqueue(lane, tenant.clone(), key.clone(), id);
        }
        if idle {
            self.objects.remove(key);
        }
        self.compact_timers();
    }

    /// When the earliest requeue falls due.
    pub fn next_due(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse(timer)| timer.at)
    }

    /// Queues (in [`Lane::Changes`]) every object whose requeue is due at `now`.
    pub fn promote_due(&mut self, now: Instant) {
        while let Some(Reverse(timer)) = self.timers.peek() {
            if timer.at > now {
                break;
            }
            let Some(Reverse(timer)) = self.timers.pop() else {
                break;
            };
            let Some(entry) = self.objects.get_mut(&timer.key) else {
                continue;
            };
            if entry.due != Some((timer.at, timer.id)) {
                continue; // replaced or dropped
            }
            entry.due = None;
            let tenant = entry.tenant.clone();
            // Waiting counts from when it fell due.
            self.push(timer.key, &tenant, Lane::Changes, timer.at);
        }
    }

    /// Dropped timers stay in the heap until they would have fired; rebuild it when they
    /// outnumber the live ones, so memory follows the number of objects.
    fn compact_timers(&mut self) {
        let live = self.objects.len();
        if self.timers.len() <= live.saturating_mul(2).saturating_add(1024) {
            return;
        }
        self.rebuild_timers();
    }

    /// Keeps only the timers of objects still waiting for them.
    fn rebuild_timers(&mut self) {
        let timers = std::mem::take(&mut self.timers);
        self.timers = timers
            .into_iter()
            .filter(|Reverse(t)| {
                self.objects
                    .get(&t.key)
                    .is_some_and(|e| e.due == Some((t.at, t.id)))
            })
            .collect();
    }

    /// Forgets the objects `present` no longer finds (deleted), unless being reconciled:
    /// their requeues would find nothing to do, and memory follows the objects that exist.
    pub fn retain(&mut self, present: impl Fn(&K) -> bool) {
        let gone: Vec<K> = self
            .objects
            .iter()
            .filter(|(key, entry)| !entry.running && !present(key))
            .map(|(key, _)| key.clone())
            .collect();
        for key in gone {
            let Some(entry) = self.objects.remove(&key) else {
                continue;
            };
            for lane in Lane::ALL {
                if entry.queued[lane.index()].is_some_and(|q| q.slot.is_some())
                    && let Some(fifo) = self.lanes[lane.index()].tenants.get_mut(&entry.tenant)
                {
                    fifo.pending = fifo.pending.saturating_sub(1);
                }
            }
        }
        // Now, not when dropped timers pile up: memory follows the objects that exist.
        let live = self.objects.values().filter(|e| e.due.is_some()).count();
        if self.timers.len() > live {
            self.rebuild_timers();
        }
    }

    /// Objects ready to run and the oldest wait, per tenant with work.
    pub fn load(&self, now: Instant) -> Vec<TenantLoad> {
        let mut by_tenant: HashMap<&str, (usize, Duration)> = HashMap::new();
        for (l, queue) in self.lanes.iter().enumerate() {
            for (tenant, fifo) in &queue.tenants {
                if fifo.pending == 0 {
                    continue;
                }
                // Not just the first slot: a requeue is queued with the time it fell due.
                let oldest = fifo
                    .slots
                    .iter()
                    .filter_map(|(key, id)| {
                        self.objects
                            .get(key)
                            .and_then(|e| e.queued[l])
                            .filter(|q| q.slot == Some(*id))
                    })
                    .map(|q| now.saturating_duration_since(q.since))
                    .max()
                    .unwrap_or_default();
                let load = by_tenant.entry(tenant).or_default();
                load.0 = load.0.saturating_add(fifo.pending);
                load.1 = load.1.max(oldest);
            }
        }
        let mut loads: Vec<TenantLoad> = by_tenant
            .into_iter()
            .map(|(tenant, (depth, oldest_wait))| TenantLoad {
                tenant: tenant.to_owned(),
                virtual_cluster: self
                    .tenants
                    .get(tenant)
                    .and_then(|t| t.virtual_cluster.clone()),
                depth,
                oldest_wait,
            })
            .collect();
        loads.sort_by(|a, b| a.tenant.cmp(&b.tenant));
        loads
    }

    /// Objects the queue keeps anything for (waiting, running or with a requeue).
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Entries of the timer heap, live or dropped (for the `tracked_objects` metric).
    pub fn timers_len(&self) -> usize {
        self.timers.len()
    }
}

#[cfg(test)]
mod tests;
