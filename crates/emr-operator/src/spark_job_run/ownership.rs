//! Status is a record, not an authority. Whoever may write `sparkjobruns/status` can make it name
//! another tenant's virtual cluster or job run; the operator's own rights in EMR reach every
//! tenant's. So what status names is acted on (polled, described, listed, cancelled, adopted,
//! forgotten) only once proven to be this object's:
//!
//! - the virtual cluster must be the one the spec resolves to
//!   ([`target::owned_virtual_cluster_id`](super::target::owned_virtual_cluster_id)), checked
//!   without any AWS call;
//! - the job run must carry this object's client token (`<uid>-<attempt>`,
//!   [`client_token`]), which EMR reports for every run and no status write can change. The
//!   proof comes from what the poller already knows (a run it tracks for this object was proven
//!   before it was tracked; a run it saw carries its token), else from one DescribeJobRun in the
//!   proven virtual cluster.
//!
//! What cannot be proven is discarded ([`disowned`]): the attempt stays, its job run is found
//! again by client token in the spec's virtual cluster, or started with the same token, so a
//! forged status can neither reach another tenant nor duplicate a run.

use emr_api::condition::{self, Condition, ConditionStatus};
use emr_api::spark_job_run::{SparkJobRunStatus, condition_types as types, reasons};
use emr_aws::JobRunInfo;

use super::request::client_token;
use super::tracker::JobKey;

/// What the operator knows of a job run the status names, before asking EMR.
#[derive(Clone, Copy, Debug)]
pub enum Evidence<'a> {
    /// The poller tracks (or tracked, until its final state) it for this object: runs are
    /// tracked only once proven.
    TrackedByThis,
    /// The poller tracks it for another object.
    TrackedByOther,
    /// What EMR last said of it (poller or DescribeJobRun).
    Seen(&'a JobRunInfo),
    /// Nothing: ask EMR (DescribeJobRun, in the proven virtual cluster).
    Nothing,
}

/// Whether a job run is this object's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunOwnership {
    Ours,
    /// Not this object's; the message says why.
    NotOurs(String),
    /// No evidence yet.
    Unknown,
}

/// Whether `token` is one this object's StartJobRuns send (`<uid>-<attempt>`).
pub fn token_is_ours(uid: &str, token: Option<&str>) -> bool {
    let Some(token) = token else {
        return false;
    };
    if uid.is_empty() {
        return false;
    }
    let Some((_, attempt)) = token.rsplit_once('-') else {
        return false;
    };
    attempt
        .parse::<i32>()
        .is_ok_and(|attempt| client_token(uid, attempt) == token)
}

/// Checks the virtual cluster status names against the one the spec resolves to.
pub fn check_virtual_cluster(claimed: &str, owned: Option<&str>) -> Result<(), String> {
    match owned {
        Some(owned) if owned == claimed => Ok(()),
        Some(owned) => Err(format!(
            "status named virtual cluster {claimed}, but spec.virtualCluster resolves to {owned}"
        )),
        None => Err(format!(
            "status named virtual cluster {claimed}, and spec.virtualCluster resolves to no \
             virtual cluster the operator can verify it against"
        )),
    }
}

/// Judges the job run `key` (its virtual cluster already proven) on `evidence`.
pub fn check_run(uid: &str, key: &JobKey, evidence: Evidence<'_>) -> RunOwnership {
    match evidence {
        Evidence::TrackedByThis => RunOwnership::Ours,
        Evidence::TrackedByOther => RunOwnership::NotOurs(format!(
            "status named job run {}, which another SparkJobRun started",
            key.job_run_id
        )),
        // EMR reports every run's token (StartJobRun requires one); without it, no verdict.
        Evidence::Seen(info) if info.client_token.is_none() => RunOwnership::Unknown,
        Evidence::Seen(info) => {
            if info.virtual_cluster_id == key.virtual_cluster_id
                && token_is_ours(uid, info.client_token.as_deref())
            {
                RunOwnership::Ours
            } else {
                RunOwnership::NotOurs(format!(
                    "status named job run {}, which this SparkJobRun did not start (its client \
                     token is not this object's)",
                    key.job_run_id
                ))
            }
        }
        Evidence::Nothing => RunOwnership::Unknown,
    }
}

/// `status` without what it named and could not prove: the virtual cluster becomes the spec's
/// own (`owned`, if any), the job run and everything mirrored from it are dropped. The attempt
/// (number and submitted spec) stays, so its run is found again by client token, or started
/// with that same token: never a second run. Records the StatusNotOwned condition.
pub fn disowned(
    status: &SparkJobRunStatus,
    generation: Option<i64>,
    owned: Option<&str>,
    why: &str,
) -> SparkJobRunStatus {
    let mut status = status.clone();
    status.observed_generation = generation;
    status.virtual_cluster_id = owned.map(str::to_owned);
    super::decide::clear_run(&mut status);
    let attempt = status.attempt;
    if let Some(record) = status
        .attempts
        .iter_mut()
        .rev()
        .find(|a| a.attempt == attempt)
    {
        record.job_run_id = None;
        record.state = None;
        record.created_at = None;
        record.finished_at = None;
    }
    let message = format!(
        "{why}; the operator did not act on it and looks for this object's own job run of \
         attempt {attempt} instead"
    );
    condition::set(
        &mut status.conditions,
        Condition::new(
            types::STATUS_NOT_OWNED,
            ConditionStatus::True,
            reasons::FORGED_STATUS,
            &message,
            generation,
        ),
    );
    status.message = Some(message);
    status
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use emr_api::spark_job_run::AttemptRecord;
    use emr_aws::JobRunState;

    use super::*;

    const UID: &str = "6f1c2a4e-1b7d-4c55-9a43-0d4e2b1f9c21";
    const OTHER: &str = "0b9d7c1e-2a3f-4e5d-8c7b-6a5f4e3d2c1b";

    fn key(vc: &str, id: &str) -> JobKey {
        JobKey {
            virtual_cluster_id: vc.into(),
            job_run_id: id.into(),
        }
    }

    fn run(vc: &str, token: Option<&str>) -> JobRunInfo {
        JobRunInfo {
            id: "jr".into(),
            name: None,
            arn: None,
            virtual_cluster_id: vc.into(),
            state: JobRunState::Running,
            failure_reason: None,
            state_details: None,
            created_at: None,
            finished_at: None,
            retry_attempts: None,
            client_token: token.map(str::to_owned),
        }
    }

    #[test]
    fn only_this_objects_tokens_are_ours() {
        assert!(token_is_ours(UID, Some(&client_token(UID, 1))));
        assert!(token_is_ours(UID, Some(&client_token(UID, 12))));
        assert!(!token_is_ours(UID, Some(&client_token(OTHER, 1))));
        assert!(!token_is_ours(UID, None));
        assert!(!token_is_ours(UID, Some(UID)));
        assert!(!token_is_ours(UID, Some(&format!("{UID}-01"))));
        assert!(!token_is_ours(UID, Some(&format!("x{UID}-1"))));
        assert!(!token_is_ours("", Some("-1")));
        // A token made for a longer uid is cut from the front; it still must match exactly.
        let long = "u".repeat(100);
        assert!(token_is_ours(&long, Some(&client_token(&long, 3))));
    }

    #[test]
    fn the_virtual_cluster_must_be_the_specs() {
        assert_eq!(check_virtual_cluster("vc-b", Some("vc-b")), Ok(()));
        assert!(check_virtual_cluster("vc-a", Some("vc-b")).is_err());
        assert!(check_virtual_cluster("vc-a", None).is_err());
    }

    #[test]
    fn a_run_is_ours_by_the_trackers_word_or_its_token() {
        let k = key("vc-b", "jr");
        assert_eq!(
            check_run(UID, &k, Evidence::TrackedByThis),
            RunOwnership::Ours
        );
        assert!(matches!(
            check_run(UID, &k, Evidence::TrackedByOther),
            RunOwnership::NotOurs(_)
        ));
        assert_eq!(check_run(UID, &k, Evidence::Nothing), RunOwnership::Unknown);
        let ours = run("vc-b", Some(&client_token(UID, 2)));
        assert_eq!(
            check_run(UID, &k, Evidence::Seen(&ours)),
            RunOwnership::Ours
        );
        let theirs = run("vc-b", Some(&client_token(OTHER, 2)));
        assert!(matches!(
            check_run(UID, &k, Evidence::Seen(&theirs)),
            RunOwnership::NotOurs(_)
        ));
        let tokenless = run("vc-b", None);
        assert_eq!(
            check_run(UID, &k, Evidence::Seen(&tokenless)),
            RunOwnership::Unknown
        );
        let elsewhere = run("vc-a", Some(&client_token(UID, 2)));
        assert!(matches!(
            check_run(UID, &k, Evidence::Seen(&elsewhere)),
            RunOwnership::NotOurs(_)
        ));
    }

    #[test]
    fn disowning_keeps_the_attempt_and_drops_the_run() {
        let forged = SparkJobRunStatus {
            attempt: 3,
            submitted_spec_fingerprint: Some("f".into()),
            virtual_cluster_id: Some("vc-a".into()),
            job_run_id: Some("jr-a".into()),
            state: Some("RUNNING".into()),
            attempts: vec![AttemptRecord {
                attempt: 3,
                job_run_id: Some("jr-a".into()),
                state: Some("RUNNING".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let s = disowned(
            &forged,
            Some(4),
            Some("vc-b"),
            "status named virtual cluster vc-a",
        );
        assert_eq!(s.attempt, 3);
        assert_eq!(s.submitted_spec_fingerprint.as_deref(), Some("f"));
        assert_eq!(s.virtual_cluster_id.as_deref(), Some("vc-b"));
        assert_eq!((&s.job_run_id, &s.state), (&None, &None));
        assert_eq!(s.attempts[0].job_run_id, None);
        assert_eq!(s.observed_generation, Some(4));
        let c = condition::find(&s.conditions, types::STATUS_NOT_OWNED).unwrap();
        assert_eq!(
            (c.status, c.reason.as_str()),
            (ConditionStatus::True, reasons::FORGED_STATUS)
        );
        assert!(c.message.contains("vc-a"), "{}", c.message);
        assert_eq!(
            super::super::decide::phase(&s),
            super::super::decide::Phase::Submitting
        );
    }
}
