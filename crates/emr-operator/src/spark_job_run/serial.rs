//! What this process knows of each object beyond its watch cache: the resource version of the
//! newest copy it has read or written, or that the cache's copy was refused as out of date. (The fair queue already runs one
//! reconcile per object at a time; the lock here is a second guard that costs nothing.)
//!
//! The watch cache lags behind the operator's own writes. A reconcile triggered by the very watch
//! event that brings a write sees it, but one triggered otherwise (the poller's lane, a requeue)
//! may hold the copy from before the write and repeat a side effect such as CancelJobRun. And
//! while the watch is down (an apiserver restart), the cache does not catch up at all: a
//! reconcile retried on it after a refused write would be refused again until the watch returns.
//! So a reconcile reads the object afresh whenever this process knows better than its cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use emr_api::SparkJobRun;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::OwnedMutexGuard;

type Slot = Arc<tokio::sync::Mutex<Option<BeyondCache>>>;

/// Held for the length of one reconcile: what this process knows beyond the watch cache (`None`
/// once the cache has caught up).
pub type SerialGuard = OwnedMutexGuard<Option<BeyondCache>>;

/// What this process knows of an object that its watch cache may not show yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeyondCache {
    /// The resource version of the newest copy it has read or written. Only the version: a
    /// reconcile that finds the cache behind reads the object anyway, and in a burst thousands
    /// of writes wait for their watch event at once, so a whole copy each would be a second cache.
    Version(String),
    /// The apiserver refused a write made from the cache's copy as out of date, and no newer copy
    /// was read. The watch may be down (an apiserver restart), so the cache cannot be waited for.
    Stale,
}

/// Which copy a reconcile should decide on.
#[derive(Debug, PartialEq, Eq)]
pub enum WhichCopy {
    /// The cache's copy is current (or nothing newer is known): use it.
    Cached,
    /// The operator knows better (a version the cache has not shown yet, or a refused write):
    /// read the object.
    ReadFresh,
}

/// Whether the cached copy can be trusted, given what this process knows beyond it.
/// Resource versions are compared only for equality, as the API conventions allow.
pub fn copy_to_use(cached: &SparkJobRun, known: Option<&BeyondCache>) -> WhichCopy {
    copy_of_version(cached.metadata.resource_version.as_deref(), known)
}

/// [`copy_to_use`] for a cached copy of version `cached` (what the cache keeps may be less than
/// the object).
pub fn copy_of_version(cached: Option<&str>, known: Option<&BeyondCache>) -> WhichCopy {
    match known {
        Some(BeyondCache::Stale) => WhichCopy::ReadFresh,
        Some(BeyondCache::Version(newest)) if cached != Some(newest.as_str()) => {
            WhichCopy::ReadFresh
        }
        _ => WhichCopy::Cached,
    }
}

/// How a reconcile ended, for [`remember`].
pub struct Ending<'a> {
    /// The copy it ended holding (the answer of its last read or write).
    pub last: &'a SparkJobRun,
    /// The object is deleted, or released to be.
    pub gone: bool,
    /// A write was refused as made from an out-of-date copy.
    pub refused: bool,
}

/// What to remember after a reconcile that started from the cache's copy `cached`.
pub fn remember(cached: &SparkJobRun, ending: Ending<'_>) -> Option<BeyondCache> {
    if ending.gone {
        None
    } else if ending.refused {
        Some(BeyondCache::Stale)
    } else if ending.last.resource_version() != cached.resource_version() {
        // A copy without a version (never from the apiserver) cannot be waited for: read afresh.
        Some(
            ending
                .last
                .resource_version()
                .map_or(BeyondCache::Stale, BeyondCache::Version),
        )
    } else {
        None
    }
}

#[derive(Default)]
pub struct Serial {
    slots: Mutex<HashMap<ObjectRef<SparkJobRun>, Slot>>,
}

impl Serial {
    /// Waits until no other reconcile of `object` runs, then holds its slot.
    pub async fn lock(&self, object: &ObjectRef<SparkJobRun>) -> SerialGuard {
        let slot = self.slots().entry(object.clone()).or_default().clone();
        slot.lock_owned().await
    }

    /// Forgets `object`'s slot once nobody holds or waits for it and nothing is remembered.
    pub fn release(&self, object: &ObjectRef<SparkJobRun>) {
        let mut slots = self.slots();
        let idle = slots.get(object).is_some_and(|slot| {
            Arc::strong_count(slot) == 1 && slot.try_lock().is_ok_and(|known| known.is_none())
        });
        if idle {
            slots.remove(object);
        }
    }

    /// Forgets the slots of objects `present` no longer finds, unless a reconcile holds or
    /// waits for one (it releases the slot itself when done).
    pub fn forget_absent(&self, present: impl Fn(&ObjectRef<SparkJobRun>) -> bool) {
        self.slots()
            .retain(|object, slot| present(object) || Arc::strong_count(slot) > 1);
    }

    /// Objects with a slot.
    pub fn len(&self) -> usize {
        self.slots().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectRef<SparkJobRun>, Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;

    fn job(version: &str) -> SparkJobRun {
        let mut job = SparkJobRun::new(
            "j",
            serde_saphyr::from_str(
                "{virtualCluster: {name: vc}, executionRoleArn: arn:aws:iam::123456789012:role/r, releaseLabel: emr-7.2.0-latest}",
            )
            .unwrap(),
        );
        job.metadata.namespace = Some("ns".into());
        job.metadata.resource_version = Some(version.into());
        job
    }

    fn version(v: &str) -> BeyondCache {
        BeyondCache::Version(v.to_owned())
    }

    fn ending(last: &SparkJobRun, gone: bool, refused: bool) -> Ending<'_> {
        Ending {
            last,
            gone,
            refused,
        }
    }

    #[test]
    fn the_cache_is_trusted_unless_a_different_version_is_known() {
        assert_eq!(copy_to_use(&job("5"), None), WhichCopy::Cached);
        assert_eq!(
            copy_to_use(&job("5"), Some(&version("5"))),
            WhichCopy::Cached
        );
        // Older or newer than ours: resource versions are opaque, so read either way.
        assert_eq!(
            copy_to_use(&job("5"), Some(&version("7"))),
            WhichCopy::ReadFresh
        );
        assert_eq!(
            copy_to_use(&job("9"), Some(&version("7"))),
            WhichCopy::ReadFresh
        );
        // After a refused write, whatever the cache shows.
        assert_eq!(
            copy_to_use(&job("5"), Some(&BeyondCache::Stale)),
            WhichCopy::ReadFresh
        );
    }

    #[test]
    fn only_what_the_cache_has_not_shown_is_remembered() {
        assert!(remember(&job("5"), ending(&job("5"), false, false)).is_none());
        assert_eq!(
            remember(&job("5"), ending(&job("6"), false, false)),
            Some(version("6"))
        );
        // A copy with no version cannot be recognised in the cache later: read afresh.
        let mut unversioned = job("6");
        unversioned.metadata.resource_version = None;
        assert_eq!(
            remember(&job("5"), ending(&unversioned, false, false)),
            Some(BeyondCache::Stale)
        );
        assert!(remember(&job("5"), ending(&job("6"), true, false)).is_none());
        // A refused write: the cache's copy is out of date even if nothing newer was read.
        assert!(matches!(
            remember(&job("5"), ending(&job("5"), false, true)),
            Some(BeyondCache::Stale)
        ));
    }

    #[tokio::test]
    async fn one_reconcile_per_object_at_a_time_and_idle_slots_are_dropped() {
        let serial = Arc::new(Serial::default());
        let a = ObjectRef::new("a").within("ns");
        let b = ObjectRef::new("b").within("ns");
        let mut held = serial.lock(&a).await;
        // Another object is not held up.
        drop(serial.lock(&b).await);
        serial.release(&b);

        let waiter = {
            let serial = serial.clone();
            let a = a.clone();
            tokio::spawn(async move { serial.lock(&a).await.clone() })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !waiter.is_finished(),
            "a second reconcile of `a` ran at once"
        );
        *held = Some(version("6"));
        drop(held);
        let seen = waiter.await.unwrap();
        assert_eq!(seen, Some(version("6")));

        // `a` still remembers version 6, so its slot stays; cleared, it goes.
        serial.release(&a);
        assert_eq!(serial.len(), 1);
        *serial.lock(&a).await = None;
        serial.release(&a);
        assert!(serial.is_empty());
    }

    #[tokio::test]
    async fn the_slots_of_deleted_objects_go_unless_in_use() {
        let serial = Serial::default();
        let kept = ObjectRef::new("kept").within("ns");
        let deleted = ObjectRef::new("deleted").within("ns");
        let busy = ObjectRef::new("busy").within("ns");
        // A deleted object whose last write the cache never showed keeps its memory...
        *serial.lock(&deleted).await = Some(version("6"));
        serial.release(&deleted);
        *serial.lock(&kept).await = Some(version("2"));
        serial.release(&kept);
        let held = serial.lock(&busy).await;
        assert_eq!(serial.len(), 3);
        // ...until the sweep sees it gone from the cache.
        serial.forget_absent(|o| o.name == "kept");
        assert_eq!(serial.len(), 2, "the busy slot stays while held");
        drop(held);
        serial.forget_absent(|o| o.name == "kept");
        assert_eq!(serial.len(), 1);
    }
}
