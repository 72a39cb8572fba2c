//! Children: a SparkJobRun read into the decision's facts (only if this schedule owns it), and a
//! new child built from the template.

use chrono::{DateTime, Utc};
use emr_api::condition;
use emr_api::labels::{ARGOCD_COMPARE_OPTIONS_ANNOTATION, ARGOCD_IGNORE_EXTRANEOUS};
use emr_api::scheduled_spark_job_run::{SCHEDULE_LABEL, SLOT_ANNOTATION};
use emr_api::spark_job_run::condition_types::{FAILED, SUCCEEDED};
use emr_api::time::Timestamp;
use emr_api::{ScheduledSparkJobRun, SparkJobRun};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;

use super::decide::{Child, NewChild, Phase, slot_of};

/// Whether `child`'s controller owner reference names the schedule with `uid`. The label alone
/// proves nothing: anyone who may create SparkJobRuns can set it.
pub fn owned_by(child: &SparkJobRun, uid: &str) -> bool {
    child
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|r| r.controller == Some(true) && r.uid == uid && r.kind == "ScheduledSparkJobRun")
}

/// `child` as the decision sees it, if this schedule (`uid`) owns it.
pub fn fact(child: &SparkJobRun, uid: &str) -> Option<Child> {
    if !owned_by(child, uid) {
        return None;
    }
    let created = child
        .metadata
        .creation_timestamp
        .as_ref()
        .and_then(|t| DateTime::<Utc>::from_timestamp(t.0.as_second(), 0));
    let annotation = child
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(SLOT_ANNOTATION))
        .map(String::as_str);
    let slot = slot_of(annotation, created).unwrap_or(DateTime::<Utc>::MIN_UTC);
    Some(Child {
        name: child.metadata.name.clone()?,
        slot,
        phase: phase(child, created),
        deleting: child.metadata.deletion_timestamp.is_some(),
    })
}

fn phase(child: &SparkJobRun, created: Option<DateTime<Utc>>) -> Phase {
    let Some(status) = &child.status else {
        return Phase::Active;
    };
    let finished = |type_| {
        condition::find(&status.conditions, type_)
            .filter(|c| c.is_true())
            .map(|c| {
                status
                    .finished_at
                    .map_or(c.last_transition_time.as_datetime(), |t| t.as_datetime())
            })
    };
    if let Some(at) = finished(SUCCEEDED) {
        Phase::Succeeded { finished: at }
    } else if let Some(at) = finished(FAILED) {
        Phase::Failed {
            finished: at,
            cancelled: status.state.as_deref() == Some("CANCELLED"),
        }
    } else {
        let _ = created;
        Phase::Active
    }
}

/// The child SparkJobRun for `new`: the template's labels and annotations, the schedule's label,
/// the slot, Argo CD's IgnoreExtraneous, and a controller owner reference (garbage collection).
pub fn build(schedule: &ScheduledSparkJobRun, new: &NewChild) -> SparkJobRun {
    let template = &schedule.spec.template;
    let mut labels = template.metadata.labels.clone();
    labels.insert(
        SCHEDULE_LABEL.to_owned(),
        schedule.metadata.name.clone().unwrap_or_default(),
    );
    let mut annotations = template.metadata.annotations.clone();
    annotations.insert(
        SLOT_ANNOTATION.to_owned(),
        Timestamp::from(new.slot).to_string(),
    );
    annotations.insert(
        ARGOCD_COMPARE_OPTIONS_ANNOTATION.to_owned(),
        ARGOCD_IGNORE_EXTRANEOUS.to_owned(),
    );
    SparkJobRun {
        metadata: ObjectMeta {
            name: Some(new.name.clone()),
            namespace: schedule.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references: schedule.controller_owner_ref(&()).map(|mut owner| {
                // Foreground deletion of the schedule waits for its children.
                owner.block_owner_deletion = Some(true);
                vec![owner]
            }),
            ..ObjectMeta::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schedule() -> ScheduledSparkJobRun {
        serde_json::from_value(json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "ScheduledSparkJobRun",
            "metadata": {"name": "nightly", "namespace": "team-a", "uid": "u-1"},
            "spec": {"schedule": "@daily", "template": {
                "metadata": {"labels": {"team": "a"}, "annotations": {"note": "x"}},
                "spec": {
                    "virtualCluster": {"name": "analytics"},
                    "executionRoleArn": "arn:aws:iam::123456789012:role/emr-job-role",
                    "releaseLabel": "emr-7.2.0-latest",
                    "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": "local:///pi.py"}},
                    "activeDeadlineSeconds": 600
                }
            }}
        }))
        .unwrap()
    }

    #[test]
    fn a_built_child_is_owned_labelled_and_reads_back_as_the_slot() {
        let s = schedule();
        let slot = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let new = NewChild {
            name: "nightly-1800000000".into(),
            slot,
            manual: false,
        };
        let child = build(&s, &new);
        assert_eq!(child.spec, s.spec.template.spec);
        let labels = child.metadata.labels.as_ref().unwrap();
        assert_eq!(labels[SCHEDULE_LABEL], "nightly");
        assert_eq!(labels["team"], "a");
        let annotations = child.metadata.annotations.as_ref().unwrap();
        assert_eq!(
            annotations[ARGOCD_COMPARE_OPTIONS_ANNOTATION],
            "IgnoreExtraneous"
        );
        let owner = &child.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(owner.controller, Some(true));
        assert_eq!(owner.block_owner_deletion, Some(true));
        let fact = fact(&child, "u-1").unwrap();
        assert_eq!(fact.slot, slot);
        assert_eq!(fact.phase, Phase::Active);
        // Another schedule's uid, or a hand-made object with only the label, is not ours.
        assert!(super::fact(&child, "u-2").is_none());
        let mut forged = child.clone();
        forged.metadata.owner_references = None;
        assert!(super::fact(&forged, "u-1").is_none());
    }

    #[test]
    fn finished_children_are_succeeded_failed_or_cancelled() {
        let s = schedule();
        let new = NewChild {
            name: "nightly-1".into(),
            slot: DateTime::from_timestamp(1, 0).unwrap(),
            manual: false,
        };
        let mut child = build(&s, &new);
        let status = |type_: &str, state: &str| {
            serde_json::from_value(json!({
                "state": state, "finishedAt": "2026-03-01T00:00:05Z",
                "conditions": [{"type": type_, "status": "True", "reason": "R", "message": "",
                                "lastTransitionTime": "2026-03-01T00:00:06Z"}]
            }))
            .unwrap()
        };
        let finished = DateTime::parse_from_rfc3339("2026-03-01T00:00:05Z")
            .unwrap()
            .with_timezone(&Utc);
        child.status = Some(status(SUCCEEDED, "COMPLETED"));
        assert_eq!(
            fact(&child, "u-1").unwrap().phase,
            Phase::Succeeded { finished }
        );
        child.status = Some(status(FAILED, "CANCELLED"));
        assert_eq!(
            fact(&child, "u-1").unwrap().phase,
            Phase::Failed {
                finished,
                cancelled: true
            }
        );
        child.status = Some(status(FAILED, "FAILED"));
        assert_eq!(
            fact(&child, "u-1").unwrap().phase,
            Phase::Failed {
                finished,
                cancelled: false
            }
        );
    }
}
