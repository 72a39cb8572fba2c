//! Kubernetes Events about our objects. Publishing is best effort: a lost Event must never fail
//! or repeat a reconcile, so failures are logged and dropped.
//!
//! A controller's pure code says what happened as [`Event`]s; [`EventPublisher`] publishes them.

use kube::Resource;
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};

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
#[derive(Clone)]
pub struct EventPublisher {
    recorder: Recorder,
    cluster_scoped: ClusterScopedEvents,
}

impl EventPublisher {
    /// A publisher reporting as `emr-on-eks-operator` (with this replica's identity).
    pub fn new(client: kube::Client, instance: Option<String>) -> Self {
        let reporter = Reporter {
            controller: "emr-on-eks-operator".into(),
            instance,
        };
        Self {
            cluster_scoped: ClusterScopedEvents {
                client: client.clone(),
                reporter: reporter.clone(),
            },
            recorder: Recorder::new(client, reporter),
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
        let event = KubeEvent {
            type_,
            reason: reason.into(),
            // The Events API refuses notes over 1 kB.
            note: Some(truncate(note, 1000)),
            action: action.into(),
            secondary: None,
        };
        let reference = obj.object_ref(&());
        let published = if reference.namespace.is_none() {
            self.cluster_scoped.publish(&event, reference).await
        } else {
            self.recorder.publish(&event, &reference).await
        };
        if let Err(error) = published {
            tracing::warn!(%error, reason, "could not publish event");
        }
    }
}

/// Events about cluster-scoped objects (VirtualClusters). kube's Recorder writes them to
/// `default`, which apiservers before 1.22 refuse for events.k8s.io/v1 events ("involvedObject
/// .namespace does not match"); `kube-system` is accepted by every version.
#[derive(Clone)]
struct ClusterScopedEvents {
    client: kube::Client,
    reporter: Reporter,
}

impl ClusterScopedEvents {
    const NAMESPACE: &'static str = "kube-system";

    async fn publish(
        &self,
        event: &KubeEvent,
        regarding: k8s_openapi::api::core::v1::ObjectReference,
    ) -> Result<(), kube::Error> {
        use k8s_openapi::api::events::v1::Event as EventObject;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
        let now = k8s_openapi::jiff::Timestamp::now();
        // `<object>.<hex time>`, as client-go names events (generateName cannot end in a dot).
        let name = format!(
            "{}.{:x}",
            regarding.name.as_deref().unwrap_or("cluster"),
            now.as_nanosecond()
        );
        let kube_event = EventObject {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(Self::NAMESPACE.into()),
                ..ObjectMeta::default()
            },
            event_time: Some(MicroTime(now)),
            action: Some(event.action.clone()),
            reason: Some(event.reason.clone()),
            note: event.note.clone(),
            type_: Some(match event.type_ {
                EventType::Normal => "Normal".into(),
                EventType::Warning => "Warning".into(),
            }),
            regarding: Some(regarding),
            reporting_controller: Some(self.reporter.controller.clone()),
            reporting_instance: Some(
                self.reporter
                    .instance
                    .clone()
                    .unwrap_or_else(|| self.reporter.controller.clone()),
            ),
            ..EventObject::default()
        };
        kube::Api::<EventObject>::namespaced(self.client.clone(), Self::NAMESPACE)
            .create(&kube::api::PostParams::default(), &kube_event)
            .await
            .map(|_| ())
    }
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
    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(super::truncate("héllo".into(), 2), "h");
        assert_eq!(super::truncate("abc".into(), 10), "abc");
    }
}
