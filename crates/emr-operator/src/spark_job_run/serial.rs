//! One reconcile at a time per object across the controller's two queues (new objects and what
//! the poller saw change), and the newest copy of each object this process has read or written.
//!
//! The watch cache lags behind the operator's own writes. Within one queue that is harmless (the
//! next reconcile of an object is triggered by the very watch event that brings the write), but
//! the other queue may take the object up first, holding the copy from before the write, and
//! repeat a side effect such as CancelJobRun. So a reconcile first compares its copy with the
//! newest one known here and reads the object afresh when they differ.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use emr_api::SparkJobRun;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::OwnedMutexGuard;

type Slot = Arc<tokio::sync::Mutex<Option<SparkJobRun>>>;

/// Held for the length of one reconcile: the newest copy of the object known to this process
/// (`None` once the watch cache has caught up with it).
pub type Newest = OwnedMutexGuard<Option<SparkJobRun>>;

/// Which copy a reconcile should decide on.
#[derive(Debug, PartialEq, Eq)]
pub enum Copy {
    /// The cache's copy is current (or nothing newer is known): use it.
    Cached,
    /// The operator has read or written a version the cache has not shown yet: read it.
    ReadFresh,
}

/// Whether the cached copy can be trusted, given the newest copy known to this process.
/// Resource versions are compared only for equality, as the API conventions allow.
pub fn copy_to_use(cached: &SparkJobRun, newest: Option<&SparkJobRun>) -> Copy {
    match newest {
        Some(newest) if newest.resource_version() != cached.resource_version() => Copy::ReadFresh,
        _ => Copy::Cached,
    }
}

/// What to remember after a reconcile that started from `cached` and ended holding `last`:
/// a version the cache has not shown yet, unless the object is gone.
pub fn remember(cached: &SparkJobRun, last: &SparkJobRun, gone: bool) -> Option<SparkJobRun> {
    (!gone && last.resource_version() != cached.resource_version()).then(|| last.clone())
}

#[derive(Default)]
pub struct Serial {
    slots: Mutex<HashMap<ObjectRef<SparkJobRun>, Slot>>,
}

impl Serial {
    /// Waits until no other reconcile of `object` runs, then holds its slot.
    pub async fn lock(&self, object: &ObjectRef<SparkJobRun>) -> Newest {
        let slot = self.slots().entry(object.clone()).or_default().clone();
        slot.lock_owned().await
    }

    /// Forgets `object`'s slot once nobody holds or waits for it and nothing is remembered.
    pub fn release(&self, object: &ObjectRef<SparkJobRun>) {
        let mut slots = self.slots();
        let idle = slots.get(object).is_some_and(|slot| {
            Arc::strong_count(slot) == 1 && slot.try_lock().is_ok_and(|newest| newest.is_none())
        });
        if idle {
            slots.remove(object);
        }
    }

    /// Objects with a slot (for tests and metrics).
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
            serde_yaml::from_str(
                "{virtualCluster: {name: vc}, executionRoleArn: arn:aws:iam::123456789012:role/r, releaseLabel: emr-7.2.0-latest}",
            )
            .unwrap(),
        );
        job.metadata.namespace = Some("ns".into());
        job.metadata.resource_version = Some(version.into());
        job
    }

    #[test]
    fn the_cache_is_trusted_unless_a_different_version_is_known() {
        assert_eq!(copy_to_use(&job("5"), None), Copy::Cached);
        assert_eq!(copy_to_use(&job("5"), Some(&job("5"))), Copy::Cached);
        // Older or newer than ours: resource versions are opaque, so read either way.
        assert_eq!(copy_to_use(&job("5"), Some(&job("7"))), Copy::ReadFresh);
        assert_eq!(copy_to_use(&job("9"), Some(&job("7"))), Copy::ReadFresh);
    }

    #[test]
    fn only_versions_the_cache_has_not_shown_are_remembered() {
        assert!(remember(&job("5"), &job("5"), false).is_none());
        assert_eq!(
            remember(&job("5"), &job("6"), false).and_then(|j| j.metadata.resource_version),
            Some("6".into())
        );
        assert!(remember(&job("5"), &job("6"), true).is_none());
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
        *held = Some(job("6"));
        drop(held);
        let seen = waiter.await.unwrap();
        assert_eq!(
            seen.and_then(|j| j.metadata.resource_version),
            Some("6".into())
        );

        // `a` still remembers version 6, so its slot stays; cleared, it goes.
        serial.release(&a);
        assert_eq!(serial.len(), 1);
        *serial.lock(&a).await = None;
        serial.release(&a);
        assert!(serial.is_empty());
    }
}
