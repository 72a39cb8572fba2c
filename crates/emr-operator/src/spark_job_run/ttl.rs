//! `spec.ttlSecondsAfterFinished`, pure: when a finished SparkJobRun is deleted, whether the TTL
//! applies to it at all, and the Warning for a TTL on an object a GitOps tool keeps in Git (it
//! would recreate the deleted object, which runs the job again).

use chrono::{DateTime, TimeDelta, Utc};
use emr_api::SparkJobRun;
use emr_api::condition;
use emr_api::spark_job_run::{SparkJobRunStatus, condition_types as types, reasons};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;

use crate::kit::Event;

/// Argo CD's tracking annotation (tracking method `annotation`, the default since Argo CD 2.x).
pub const ARGOCD_TRACKING_ANNOTATION: &str = "argocd.argoproj.io/tracking-id";
/// The label Argo CD's `label` tracking method (and Helm-style tooling) puts on what it applies.
pub const ARGOCD_INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// The kind whose children are kept by its history limits, not by their own TTL.
const SCHEDULE_KIND: &str = "ScheduledSparkJobRun";

/// When the job's run finished, as well as status tells: EMR's finishedAt, else when the
/// operator recorded the final result (a run gone from EMR has no finishedAt).
pub fn finished_at(status: &SparkJobRunStatus) -> Option<DateTime<Utc>> {
    status.finished_at.map(|t| t.as_datetime()).or_else(|| {
        [types::SUCCEEDED, types::FAILED]
            .into_iter()
            .filter_map(|t| condition::find(&status.conditions, t))
            .find(|c| c.is_true())
            .map(|c| c.last_transition_time.as_datetime())
    })
}

/// When a finished job is to be deleted: `finished + ttl`. `None` when it has no TTL, and also
/// when the time lies beyond any date chrono holds (a TTL no clock reaches is no TTL). A negative
/// TTL (an old CRD without the schema's bounds) counts as 0.
pub fn expires_at(ttl_seconds: Option<i64>, finished: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let seconds = ttl_seconds?.max(0);
    finished.checked_add_signed(TimeDelta::try_seconds(seconds)?)
}

/// Whether the object's own TTL governs it: a ScheduledSparkJobRun's children are kept by the
/// schedule's history limits instead.
pub fn applies(owners: &[OwnerReference]) -> bool {
    !owners.iter().any(|o| {
        o.kind == SCHEDULE_KIND
            && o.api_version.starts_with(emr_api::GROUP)
            && o.controller == Some(true)
    })
}

/// Whether a GitOps tool (Argo CD) tracks the object: it recreates what is deleted.
pub fn tracked_by_gitops(job: &SparkJobRun) -> bool {
    job.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(ARGOCD_TRACKING_ANNOTATION))
        || job
            .metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key(ARGOCD_INSTANCE_LABEL))
}

/// The Warning for a TTL on a tracked object, said once per generation: by the first decision
/// for a generation (the one that moves `observedGeneration` to it).
pub fn gitops_warning(
    job: &SparkJobRun,
    old: &SparkJobRunStatus,
    new: &SparkJobRunStatus,
) -> Option<Event> {
    let ttl = job.spec.ttl_seconds_after_finished?;
    let first_for_generation = old.observed_generation != new.observed_generation;
    (first_for_generation && applies(job.owner_references()) && tracked_by_gitops(job)).then(|| {
        Event::warning(
            reasons::TTL_ON_TRACKED_OBJECT,
            "Validate",
            format!(
                "spec.ttlSecondsAfterFinished is {ttl} on an object Argo CD tracks \
                 ({ARGOCD_TRACKING_ANNOTATION} or {ARGOCD_INSTANCE_LABEL}): once it is deleted \
                 Argo CD recreates it from Git, which runs the job again; keep TTLs for objects \
                 that are not in Git"
            ),
        )
    })
}

/// The Event when the object is deleted for its TTL.
pub fn expired_event(ttl_seconds: i64, finished: DateTime<Utc>) -> Event {
    Event::normal(
        reasons::TTL_EXPIRED,
        "Delete",
        format!(
            "deleting the SparkJobRun: its run finished at {} and spec.ttlSecondsAfterFinished \
             is {ttl_seconds}",
            finished.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use emr_api::condition::{Condition, ConditionStatus};
    use emr_api::time::Timestamp;

    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).unwrap()
    }

    fn job(ttl: Option<i64>) -> SparkJobRun {
        let mut job = SparkJobRun::new(
            "j",
            serde_saphyr::from_str(
                "{virtualCluster: {name: vc}, executionRoleArn: arn:aws:iam::123456789012:role/r, releaseLabel: emr-7.2.0-latest}",
            )
            .unwrap(),
        );
        job.spec.ttl_seconds_after_finished = ttl;
        job
    }

    #[test]
    fn expiry_is_finish_plus_ttl_and_never_overflows() {
        let done = t(1_700_000_000);
        assert_eq!(expires_at(Some(0), done), Some(done));
        assert_eq!(expires_at(Some(60), done), Some(t(1_700_000_060)));
        assert_eq!(expires_at(None, done), None);
        // Hostile values of an old CRD without bounds: negative is "at once", huge is "never".
        assert_eq!(expires_at(Some(-5), done), Some(done));
        assert_eq!(expires_at(Some(i64::MIN), done), Some(done));
        assert_eq!(expires_at(Some(i64::MAX), done), None);
        assert_eq!(expires_at(Some(i64::MAX / 1000), done), None);
        assert_eq!(expires_at(Some(31_536_000), DateTime::<Utc>::MAX_UTC), None);
    }

    #[test]
    fn the_finish_time_is_emrs_else_when_the_result_was_recorded() {
        let mut status = SparkJobRunStatus::default();
        assert_eq!(finished_at(&status), None);
        let mut failed = Condition::new(
            types::FAILED,
            ConditionStatus::True,
            "JobRunNotFound",
            "m",
            Some(1),
        );
        failed.last_transition_time = Timestamp::from(t(50));
        status.conditions.push(failed);
        assert_eq!(finished_at(&status), Some(t(50)));
        status.finished_at = Some(Timestamp::from(t(40)));
        assert_eq!(finished_at(&status), Some(t(40)));
    }

    #[test]
    fn a_schedules_children_are_kept_by_its_history_limits() {
        let owner = |kind: &str, controller| OwnerReference {
            api_version: "emr-on-eks.dev/v1alpha1".into(),
            kind: kind.into(),
            name: "nightly".into(),
            uid: "u".into(),
            controller: Some(controller),
            block_owner_deletion: None,
        };
        assert!(applies(&[]));
        assert!(!applies(&[owner("ScheduledSparkJobRun", true)]));
        assert!(applies(&[owner("ScheduledSparkJobRun", false)]));
        assert!(applies(&[owner("ConfigMap", true)]));
    }

    #[test]
    fn a_ttl_on_an_argo_tracked_object_is_warned_once_per_generation() {
        let old = SparkJobRunStatus::default();
        let new = SparkJobRunStatus {
            observed_generation: Some(1),
            ..Default::default()
        };
        let mut tracked = job(Some(60));
        assert!(
            gitops_warning(&tracked, &old, &new).is_none(),
            "not tracked"
        );
        tracked.metadata.annotations = Some(BTreeMap::from([(
            ARGOCD_TRACKING_ANNOTATION.to_owned(),
            "app:emr-on-eks.dev/SparkJobRun:ns/j".to_owned(),
        )]));
        let warning = gitops_warning(&tracked, &old, &new).unwrap();
        assert!(warning.warning);
        assert_eq!(warning.reason, reasons::TTL_ON_TRACKED_OBJECT);
        assert!(gitops_warning(&tracked, &new, &new).is_none(), "said once");

        let mut labelled = job(Some(0));
        labelled.metadata.labels = Some(BTreeMap::from([(
            ARGOCD_INSTANCE_LABEL.to_owned(),
            "app".to_owned(),
        )]));
        assert!(gitops_warning(&labelled, &old, &new).is_some());
        assert!(
            gitops_warning(&job(None), &old, &new).is_none(),
            "no TTL, no warning"
        );
    }
}
