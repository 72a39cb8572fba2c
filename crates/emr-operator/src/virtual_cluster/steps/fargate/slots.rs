//! EKS runs one Fargate profile operation at a time per cluster (a create or delete while
//! another profile is CREATING or DELETING is refused with `ResourceInUseException`). The
//! operator keeps that rule itself: one VirtualCluster at a time holds a cluster's slot from its
//! CreateFargateProfile or DeleteFargateProfile until EKS shows the profile ACTIVE or gone, and
//! the others wait without calling EKS. A holder that disappears (its object deleted, the
//! operator restarted) frees the slot after [`STALE`]; EKS's own refusal, treated as "wait",
//! covers what this map cannot know. Pure: time is passed in.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A slot not confirmed for this long is free again (EKS takes minutes, not tens of minutes).
pub const STALE: Duration = Duration::from_secs(20 * 60);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// The VirtualCluster's uid.
    pub object: String,
    pub profile: String,
    since: Instant,
}

/// Who holds each EKS cluster's profile operation.
#[derive(Debug, Default)]
pub struct Slots {
    held: HashMap<String, Holder>,
}

impl Slots {
    /// Takes the cluster's slot for `object`'s `profile`, or says who holds it.
    pub fn claim(
        &mut self,
        cluster: &str,
        object: &str,
        profile: &str,
        now: Instant,
    ) -> Result<(), Holder> {
        if let Some(holder) = self.held.get(cluster)
            && holder.object != object
            && now.saturating_duration_since(holder.since) < STALE
        {
            return Err(holder.clone());
        }
        self.hold(cluster, object, profile, now);
        Ok(())
    }

    /// Records that `object`'s profile is in progress in EKS, whoever held the slot: EKS's
    /// state is the truth (after a restart, the map starts empty).
    pub fn hold(&mut self, cluster: &str, object: &str, profile: &str, now: Instant) {
        let keep_since = self
            .held
            .get(cluster)
            .filter(|h| h.object == object && h.profile == profile)
            .map(|h| h.since);
        self.held.insert(
            cluster.to_owned(),
            Holder {
                object: object.to_owned(),
                profile: profile.to_owned(),
                since: keep_since.unwrap_or(now),
            },
        );
    }

    /// Frees the cluster's slot if `object` holds it.
    pub fn release(&mut self, cluster: &str, object: &str) {
        if self.held.get(cluster).is_some_and(|h| h.object == object) {
            self.held.remove(cluster);
        }
    }

    pub fn len(&self) -> usize {
        self.held.len()
    }
}

/// [`Slots`] shared by the controller's reconciles.
#[derive(Debug, Default)]
pub struct ClusterSlots(Mutex<Slots>);

impl ClusterSlots {
    /// Runs `f` on the slots. A holder that panicked left the map consistent (each change is
    /// one insert or remove), so the poison is ignored.
    pub fn with<T>(&self, f: impl FnOnce(&mut Slots) -> T) -> T {
        let mut slots = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut slots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_object_at_a_time_per_cluster() {
        let now = Instant::now();
        let mut slots = Slots::default();
        assert_eq!(slots.claim("prod", "a", "fp-a", now), Ok(()));
        let held = slots.claim("prod", "b", "fp-b", now).unwrap_err();
        assert_eq!((held.object.as_str(), held.profile.as_str()), ("a", "fp-a"));
        assert_eq!(
            slots.claim("other", "b", "fp-b", now),
            Ok(()),
            "clusters are independent"
        );
        assert_eq!(
            slots.claim("prod", "a", "fp-a", now),
            Ok(()),
            "the holder may go on"
        );
        slots.release("prod", "b");
        assert!(
            slots.claim("prod", "b", "fp-b", now).is_err(),
            "only the holder releases"
        );
        slots.release("prod", "a");
        assert_eq!(slots.claim("prod", "b", "fp-b", now), Ok(()));
    }

    #[test]
    fn a_vanished_holder_frees_the_slot_after_a_while() {
        let start = Instant::now();
        let mut slots = Slots::default();
        slots.hold("prod", "gone", "fp", start);
        assert!(slots.claim("prod", "b", "fp-b", start + STALE / 2).is_err());
        assert_eq!(slots.claim("prod", "b", "fp-b", start + STALE), Ok(()));
    }

    #[test]
    fn holding_again_keeps_the_start() {
        let start = Instant::now();
        let mut slots = Slots::default();
        slots.hold("prod", "a", "fp", start);
        slots.hold("prod", "a", "fp", start + STALE / 2);
        assert_eq!(
            slots.claim("prod", "b", "fp-b", start + STALE),
            Ok(()),
            "a profile stuck in CREATING for longer than STALE does not block forever"
        );
    }
}
