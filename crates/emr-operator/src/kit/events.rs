//! Kubernetes Events about our objects. Publishing is best effort: a lost Event must never fail
//! or repeat a reconcile, so failures are logged and dropped.
//!
//! A controller's pure code says what happened as [`Event`]s; [`EventPublisher`] publishes them.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as EventObject;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Resource;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{EventType, Reporter};

use super::error;

/// One Event to publish about an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// A Warning (the user should look) rather than a Normal Event.
    pub warning: bool,
    /// UpperCamelCase, e.g. `JobRunRunning`.
    pub reason: String,
    /// What the operator did, e.g. `Submit`.
    pub action: &'static str,
    /// The sentence the user reads.
    pub note: String,
}

impl Event {
    /// Something changed as intended.
    pub fn normal(
        reason: impl Into<String>,
        action: &'static str,
        note: impl Into<String>,
    ) -> Self {
        Self {
            warning: false,
            reason: reason.into(),
            action,
            note: note.into(),
        }
    }

    /// Something needs the user's attention.
    pub fn warning(
        reason: impl Into<String>,
        action: &'static str,
        note: impl Into<String>,
    ) -> Self {
        Self {
            warning: true,
            ..Self::normal(reason, action, note)
        }
    }
}

/// Publishes Events as the operator.
///
/// Not kube's `Recorder`: it keeps every Event it published for six minutes (to count repeats
/// as a series), which during a burst of thousands of jobs held tens of MiB and was scanned on
/// every publish. Here a repeat is recognised by a 64-bit digest, at most [`SERIES_CAPACITY`]
/// of them, and only a repeat costs more than one create.
#[derive(Clone)]
pub struct EventPublisher {
    client: kube::Client,
    reporter: Reporter,
    series: Arc<Mutex<HashMap<u64, Series>>>,
    /// Keys the digests, so that no one can choose notes that collide.
    hashing: RandomState,
}

/// How many recent Events are remembered to count their repeats.
pub const SERIES_CAPACITY: usize = 1024;
/// How long a repeat still counts as the same series (kube's and client-go's figure).
const SERIES_TTL: SignedDuration = SignedDuration::from_mins(6);

/// A published Event that a repeat updates instead of creating another.
#[derive(Clone, Debug)]
struct Series {
    namespace: String,
    name: String,
    count: i32,
    last: Timestamp,
}

impl EventPublisher {
    /// A publisher reporting as `emr-on-eks-operator` (with this replica's identity).
    pub fn new(client: kube::Client, instance: Option<String>) -> Self {
        Self {
            client,
            reporter: Reporter {
                controller: "emr-on-eks-operator".into(),
                instance,
            },
            series: Arc::default(),
            hashing: RandomState::new(),
        }
    }

    /// A Normal event: something changed as intended.
    pub async fn normal<K>(&self, obj: &K, reason: &str, action: &str, note: String)
    where
        K: Resource<DynamicType = ()>,
    {
        self.publish(obj, EventType::Normal, reason, action, note)
            .await;
    }

    /// A Warning event: something needs the user's attention.
    pub async fn warning<K>(&self, obj: &K, reason: &str, action: &str, note: String)
    where
        K: Resource<DynamicType = ()>,
    {
        self.publish(obj, EventType::Warning, reason, action, note)
            .await;
    }

    /// Publishes `events` about `obj`, in order.
    pub async fn publish_all<K>(&self, obj: &K, events: impl IntoIterator<Item = Event>)
    where
        K: Resource<DynamicType = ()>,
    {
        for event in events {
            let type_ = if event.warning {
                EventType::Warning
            } else {
                EventType::Normal
            };
            self.publish(obj, type_, &event.reason, event.action, event.note)
                .await;
        }
    }

    async fn publish<K>(&self, obj: &K, type_: EventType, reason: &str, action: &str, note: String)
    where
        K: Resource<DynamicType = ()>,
    {
        // The Events API refuses notes over 1 kB.
        let note = truncate(note, 1000);
        let regarding = obj.object_ref(&());
        if let Err(error) = self
            .create_or_count(&regarding, type_, reason, action, note)
            .await
        {
            tracing::warn!(%error, reason, "could not publish event");
        }
    }

    async fn create_or_count(
        &self,
        regarding: &ObjectReference,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) -> Result<(), kube::Error> {
        let now = Timestamp::now();
        let key = digest(&self.hashing, regarding, type_, reason, action, &note);
        let repeat = self.repeat_of(key, now);
        if let Some(series) = repeat {
            let api: Api<EventObject> = Api::namespaced(self.client.clone(), &series.namespace);
            let patch = serde_json::json!({"series": {
                "count": series.count,
                "lastObservedTime": MicroTime(now),
            }});
            match api
                .patch(&series.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return Ok(()),
                // Deleted meanwhile (Events expire): a new one below.
                Err(error) if error::is_not_found(&error) => {}
                Err(error) => return Err(error),
            }
        }
        // Events about cluster-scoped objects (VirtualClusters) go to kube-system: apiservers
        // before 1.22 refuse `default` for events.k8s.io/v1 ("involvedObject.namespace does not
        // match"), and every version accepts kube-system.
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| CLUSTER_SCOPED_NAMESPACE.to_owned());
        // `<object>.<hex time>`, as client-go names events (generateName cannot end in a dot).
        let name = format!(
            "{}.{:x}",
            regarding.name.as_deref().unwrap_or("cluster"),
            now.as_nanosecond()
        );
        let event = EventObject {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            event_time: Some(MicroTime(now)),
            action: Some(action.to_owned()),
            reason: Some(reason.to_owned()),
            note: Some(note),
            type_: Some(
                match type_ {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .to_owned(),
            ),
            regarding: Some(regarding.clone()),
            reporting_controller: Some(self.reporter.controller.clone()),
            reporting_instance: Some(
                self.reporter
                    .instance
                    .clone()
                    .unwrap_or_else(|| self.reporter.controller.clone()),
            ),
            ..EventObject::default()
        };
        Api::<EventObject>::namespaced(self.client.clone(), &namespace)
            .create(&PostParams::default(), &event)
            .await?;
        self.remember(
            key,
            Series {
                namespace,
                name,
                count: 1,
                last: now,
            },
        );
        Ok(())
    }

    /// The series `key` continues (its count already raised), if it was published within
    /// [`SERIES_TTL`].
    fn repeat_of(&self, key: u64, now: Timestamp) -> Option<Series> {
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let found = series.get_mut(&key)?;
        if found.last + SERIES_TTL <= now {
            series.remove(&key);
            return None;
        }
        found.count = found.count.saturating_add(1);
        found.last = now;
        Some(found.clone())
    }

    fn remember(&self, key: u64, new: Series) {
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        if series.len() >= SERIES_CAPACITY {
            let now = new.last;
            series.retain(|_, s| s.last + SERIES_TTL > now);
        }
        if series.len() >= SERIES_CAPACITY {
            // Still full of recent ones (a burst): repeats of those start new series.
            series.clear();
        }
        series.insert(key, new);
    }

    /// How many series are remembered.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.series
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Where Events about cluster-scoped objects go.
const CLUSTER_SCOPED_NAMESPACE: &str = "kube-system";

/// What makes two Events the same series: the object (by uid too) and everything said.
fn digest(
    hashing: &RandomState,
    regarding: &ObjectReference,
    type_: EventType,
    reason: &str,
    action: &str,
    note: &str,
) -> u64 {
    hashing.hash_one((
        &regarding.kind,
        &regarding.namespace,
        &regarding.name,
        &regarding.uid,
        matches!(type_, EventType::Warning),
        reason,
        action,
        note,
    ))
}

/// Cuts `text` to at most `max` bytes on a character boundary.
pub fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use emr_api::SparkJobRun;
    use serde_json::json;

    use super::*;
    use crate::kit::testing::MockApiServer;

    fn job() -> SparkJobRun {
        serde_json::from_value(json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
            "metadata": {"name": "pi", "namespace": "team-a", "uid": "u1"},
            "spec": {"virtualCluster": {"name": "vc"},
                     "executionRoleArn": "arn:aws:iam::123456789012:role/r",
                     "releaseLabel": "emr-7.2.0-latest"},
        }))
        .unwrap()
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(super::truncate("héllo".into(), 2), "h");
        assert_eq!(super::truncate("abc".into(), 10), "abc");
    }

    #[tokio::test]
    async fn a_repeat_counts_in_the_series_and_a_new_note_is_a_new_event() {
        let (client, server) = MockApiServer::start();
        let events = EventPublisher::new(client, Some("replica-1".into()));
        let job = job();
        for _ in 0..2 {
            events.warning(&job, "Refused", "Submit", "no".into()).await;
        }
        events
            .warning(&job, "Refused", "Submit", "other".into())
            .await;
        let bodies = server.event_bodies();
        assert_eq!(bodies.len(), 3, "{bodies:#?}");
        assert_eq!(bodies[0]["reportingInstance"], "replica-1");
        assert_eq!(bodies[0]["regarding"]["uid"], "u1");
        assert_eq!(bodies[0]["note"], "no");
        // The repeat patches the first one's series; the new note is an Event of its own.
        assert_eq!(bodies[1]["series"]["count"], 2);
        assert!(bodies[1].get("note").is_none());
        assert_eq!(bodies[2]["note"], "other");
        assert_eq!(events.remembered(), 2);
    }

    #[tokio::test]
    async fn the_series_kept_are_bounded_whatever_is_published() {
        let (client, _server) = MockApiServer::start();
        let events = EventPublisher::new(client, None);
        let now = Timestamp::now();
        for key in 0..(SERIES_CAPACITY as u64 * 3) {
            events.remember(
                key,
                Series {
                    namespace: "ns".into(),
                    name: format!("e{key}"),
                    count: 1,
                    last: now,
                },
            );
            assert!(events.remembered() <= SERIES_CAPACITY);
        }
        // An old series is no series: a repeat after the TTL is a new Event.
        let old = now - SERIES_TTL - SignedDuration::from_secs(1);
        events.remember(
            u64::MAX,
            Series {
                namespace: "ns".into(),
                name: "old".into(),
                count: 1,
                last: old,
            },
        );
        assert!(events.repeat_of(u64::MAX, now).is_none());
        assert!(events.repeat_of(u64::MAX, now).is_none());
    }
}
