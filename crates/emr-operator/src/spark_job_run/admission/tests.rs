#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use emr_api::SparkJobRunStatus;
use emr_api::condition::{Condition, ConditionStatus};
use emr_api::spark_job_run::condition_types as types;
use futures::StreamExt;
use kube::runtime::reflector::{self, store::Writer};

use super::*;

fn vc(limit: Option<u32>) -> VirtualCluster {
    let mut vc = VirtualCluster::new(
        "team-a",
        serde_saphyr::from_str("{eksClusterName: eks, namespace: {name: ns}}").unwrap(),
    );
    vc.spec.max_concurrent_job_runs = limit;
    vc
}

fn job(name: &str, created: i64) -> SparkJobRun {
    let mut job = SparkJobRun::new(
        name,
        serde_saphyr::from_str(
            "{virtualCluster: {name: team-a}, executionRoleArn: arn:aws:iam::123456789012:role/r, releaseLabel: emr-7.2.0-latest}",
        )
        .unwrap(),
    );
    job.metadata.namespace = Some("ns".into());
    job.metadata.uid = Some(format!("uid-{name}"));
    job.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::from_second(created).unwrap(),
    ));
    job
}

fn holding(mut job: SparkJobRun, attempt: i32) -> SparkJobRun {
    job.status = Some(SparkJobRunStatus {
        attempt,
        submitted_spec_fingerprint: Some("f".into()),
        ..Default::default()
    });
    job
}

fn finished(job: SparkJobRun) -> SparkJobRun {
    let mut job = holding(job, 1);
    if let Some(s) = job.status.as_mut() {
        s.job_run_id = Some("jr".into());
        s.state = Some("COMPLETED".into());
    }
    job
}

fn queued(mut job: SparkJobRun) -> SparkJobRun {
    let mut status = SparkJobRunStatus::default();
    status.conditions.push(Condition::new(
        types::QUEUED,
        ConditionStatus::True,
        "Queued",
        "m",
        Some(1),
    ));
    job.status = Some(status);
    job
}

struct Bench {
    admission: Admission,
    jobs: crate::spark_job_run::cache::Writer,
    vcs: Writer<VirtualCluster>,
    woken: futures::channel::mpsc::UnboundedReceiver<ObjectRef<SparkJobRun>>,
}

fn bench(limit: Option<u32>, jobs: &[SparkJobRun]) -> Bench {
    let (job_store, mut job_writer) = crate::spark_job_run::cache::cache();
    let (vc_store, mut vc_writer) = reflector::store();
    for j in jobs {
        job_writer.apply_watcher_event(&watcher::Event::Apply(j.clone()));
    }
    vc_writer.apply_watcher_event(&watcher::Event::Apply(vc(limit)));
    let (wake, woken) = futures::channel::mpsc::unbounded();
    let admission = Admission::default();
    admission.wire(vec![job_store], vc_store, wake);
    Bench {
        admission,
        jobs: job_writer,
        vcs: vc_writer,
        woken,
    }
}

impl Bench {
    /// What the watch delivers: the store applies it, then admission sees it.
    fn watch(&mut self, event: watcher::Event<SparkJobRun>) {
        self.jobs.apply_watcher_event(&event);
        self.admission.observe(&Ok(event));
    }

    fn woken(&mut self) -> Vec<String> {
        let mut names = Vec::new();
        while let Ok(job) = self.woken.try_recv() {
            names.push(job.name);
        }
        names
    }
}

#[test]
fn no_limit_no_admission() {
    let b = bench(None, &[job("a", 1)]);
    assert!(b.admission.admit(&vc(None), &job("a", 1), 1).is_none());
    assert!(b.admission.is_empty());
}

#[test]
fn concurrent_reconciles_never_both_take_the_last_slot() {
    let jobs: Vec<SparkJobRun> = (0..40).map(|i| job(&format!("j{i:02}"), i)).collect();
    for limit in [1_u32, 3, 7] {
        let b = Arc::new(bench(Some(limit), &jobs));
        let threads: Vec<_> = jobs
            .iter()
            .cloned()
            .map(|j| {
                let b = b.clone();
                std::thread::spawn(move || b.admission.admit(&vc(Some(limit)), &j, 1).unwrap())
            })
            .collect();
        let admitted = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|v| v.admitted)
            .count();
        assert!(
            admitted <= usize::try_from(limit).unwrap(),
            "limit {limit}: {admitted} admitted"
        );
    }
}

#[test]
fn a_restart_counts_what_status_says_is_running() {
    // A fresh process (empty memory) over a store of two started jobs and one recorded attempt.
    let running = [
        holding(job("a", 1), 1),
        finished(job("done", 0)),
        holding(job("b", 2), 3),
        holding(job("c", 3), 1),
    ];
    let b = bench(Some(3), &running);
    let v = b.admission.admit(&vc(Some(3)), &job("new", 9), 1).unwrap();
    assert_eq!((v.admitted, v.holding, v.position), (false, 3, 1));
}

#[test]
fn a_reservation_holds_until_the_store_shows_the_attempt() {
    let mut b = bench(Some(1), &[job("a", 1), job("b", 2)]);
    let limited = vc(Some(1));
    assert!(
        b.admission
            .admit(&limited, &job("a", 1), 1)
            .unwrap()
            .admitted
    );
    // The store still shows "a" unsubmitted (it lags behind the write): "b" must wait.
    assert!(
        !b.admission
            .admit(&limited, &job("b", 2), 1)
            .unwrap()
            .admitted
    );
    // The reconcile of "a" recorded the attempt: settling keeps the reservation.
    b.admission.settle(&holding(job("a", 1), 1), true);
    assert!(
        !b.admission
            .admit(&limited, &job("b", 2), 1)
            .unwrap()
            .admitted
    );
    // The store shows it; then it finishes: "b" is woken and admitted.
    b.watch(watcher::Event::Apply(holding(job("a", 1), 1)));
    assert!(
        !b.admission
            .admit(&limited, &job("b", 2), 1)
            .unwrap()
            .admitted
    );
    b.woken();
    b.watch(watcher::Event::Apply(finished(job("a", 1))));
    assert_eq!(b.woken(), ["b"]);
    assert!(
        b.admission
            .admit(&limited, &job("b", 2), 1)
            .unwrap()
            .admitted
    );
}

#[test]
fn an_unused_reservation_is_released_and_wakes_the_queue() {
    let mut b = bench(Some(1), &[job("a", 1), queued(job("b", 2))]);
    let limited = vc(Some(1));
    assert!(
        b.admission
            .admit(&limited, &job("a", 1), 1)
            .unwrap()
            .admitted
    );
    assert!(
        !b.admission
            .admit(&limited, &job("b", 2), 1)
            .unwrap()
            .admitted
    );
    // A failed reconcile keeps it (its write may have landed)...
    b.admission.settle(&job("a", 1), false);
    assert!(
        !b.admission
            .admit(&limited, &job("b", 2), 1)
            .unwrap()
            .admitted
    );
    // ...one that ended without recording the attempt (refused, say) lets it go.
    let mut refused = job("a", 1);
    refused.status = Some(SparkJobRunStatus::default());
    b.watch(watcher::Event::Apply(refused.clone()));
    b.woken();
    b.admission.settle(&refused, true);
    assert_eq!(b.woken(), ["b"]);
    assert!(
        b.admission
            .admit(&limited, &job("b", 2), 1)
            .unwrap()
            .admitted
    );
}

#[test]
fn a_deleted_holder_frees_its_slot_and_a_job_leaving_the_queue_moves_it() {
    let mut b = bench(
        Some(1),
        &[
            holding(job("a", 1), 1),
            queued(job("b", 2)),
            queued(job("c", 3)),
        ],
    );
    for j in [
        holding(job("a", 1), 1),
        queued(job("b", 2)),
        queued(job("c", 3)),
    ] {
        b.watch(watcher::Event::InitApply(j));
    }
    assert!(b.woken().is_empty());
    b.watch(watcher::Event::Delete(holding(job("a", 1), 1)));
    assert_eq!(b.woken(), ["b", "c"]);
    // "b" is suspended and leaves the queue: "c" moves up.
    let mut suspended = job("b", 2);
    suspended.status = Some(SparkJobRunStatus::default());
    b.watch(watcher::Event::Apply(suspended));
    assert_eq!(b.woken(), ["c"]);
    // Nothing is woken for a VirtualCluster whose limit was lifted.
    b.vcs.apply_watcher_event(&watcher::Event::Apply(vc(None)));
    b.watch(watcher::Event::Delete(queued(job("c", 3))));
    assert!(b.woken().is_empty());
}

#[test]
fn finished_jobs_are_not_kept_and_a_holder_that_finishes_still_frees_its_slot() {
    let mut b = bench(Some(1), &[holding(job("a", 1), 1), queued(job("b", 2))]);
    for j in [holding(job("a", 1), 1), queued(job("b", 2))] {
        b.watch(watcher::Event::InitApply(j));
    }
    assert_eq!(b.admission.len(), 2);
    // "a" finishes: "b" is woken for the slot, and "a" is no longer kept (from idle, no change
    // wakes anyone).
    b.watch(watcher::Event::Apply(finished(job("a", 1))));
    assert_eq!(b.woken(), ["b"]);
    assert_eq!(b.admission.len(), 1);
    b.watch(watcher::Event::Apply(finished(job("a", 1))));
    assert!(b.woken().is_empty());
    // A job first seen finished (a restart's list) is not kept either.
    b.watch(watcher::Event::InitApply(finished(job("c", 3))));
    assert_eq!(b.admission.len(), 1);
}

#[test]
fn jobs_of_other_namespaces_do_not_take_slots() {
    let mut foreign = holding(job("x", 0), 1);
    foreign.metadata.namespace = Some("other".into());
    let b = bench(Some(1), &[foreign]);
    assert!(
        b.admission
            .admit(&vc(Some(1)), &job("a", 1), 1)
            .unwrap()
            .admitted
    );
}

#[tokio::test]
async fn woken_jobs_arrive_on_the_channel() {
    let mut b = bench(Some(1), &[holding(job("a", 1), 1), queued(job("b", 2))]);
    b.watch(watcher::Event::InitApply(holding(job("a", 1), 1)));
    b.watch(watcher::Event::Apply(finished(job("a", 1))));
    let first = b.woken.next().await.unwrap();
    assert_eq!(
        (first.name.as_str(), first.namespace.as_deref()),
        ("b", Some("ns"))
    );
}
