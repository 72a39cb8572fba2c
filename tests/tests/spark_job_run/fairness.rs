//! Fair share between tenants, tried as two teams would: team A's backlog lands while the
//! operator is away; the operator comes back and team B applies one job. B's job must not wait
//! for A's backlog (first come, first served made it wait for all of it).

use futures::StreamExt;

use super::*;

/// A's backlog: enough that, first come first served, B's job is served after all of it.
const BACKLOG: usize = 300;

/// A's jobs that have a job run id.
async fn started(jobs: &Api<SparkJobRun>) -> usize {
    jobs.list(&ListParams::default())
        .await
        .expect("list A's jobs")
        .items
        .iter()
        .filter(|job| status_of(job).job_run_id.is_some())
        .count()
}

/// `emr_operator_queue_depth` of `namespace` in a scrape, if shown.
fn queue_depth(metrics: &str, namespace: &str) -> Option<(String, f64)> {
    metrics
        .lines()
        .filter(|line| line.starts_with("emr_operator_queue_depth{"))
        .filter(|line| line.contains(&format!("namespace=\"{namespace}\"")))
        .find_map(|line| {
            let (labels, value) = line.rsplit_once(' ')?;
            Some((labels.to_owned(), value.parse().ok()?))
        })
}

#[tokio::test]
async fn another_tenants_job_does_not_wait_for_a_backlog() {
    let mut t = Test::start("fair", &[]).await;
    let a = t.virtual_cluster("fair-a").await;
    let b = t.virtual_cluster("fair-b").await;

    // The operator is away (an upgrade, a leader change) while A's backlog lands.
    t.op.terminate();
    let a_jobs = t.jobs(&a);
    let names: Vec<String> = (0..BACKLOG).map(|i| format!("batch-{i}")).collect();
    futures::stream::iter(&names)
        .map(|name| t.apply_job(&a, name, &[], ""))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;

    t.op.start().await;
    t.apply_job(&b, "interactive", &[], "").await;

    // While A's backlog drains, the queue shows who waits, by namespace and VirtualCluster.
    let mut shown = None;
    let deadline = Instant::now() + Duration::from_secs(180);
    let b_job = loop {
        assert!(
            Instant::now() < deadline,
            "B's job has no job run id after 180 s; log:\n{}",
            t.op.log_tail(40)
        );
        if shown.is_none() {
            shown = queue_depth(&t.op.metrics().await, &a.namespace).filter(|(_, d)| *d > 0.0);
        }
        let job = t.jobs(&b).get("interactive").await.expect("get B's job");
        if status_of(&job).job_run_id.is_some() {
            break job;
        }
        assert!(
            started(&a_jobs).await < BACKLOG,
            "B's job still has no job run id after all of A's backlog started; log:\n{}",
            t.op.log_tail(40)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let a_started = started(&a_jobs).await;
    // Fair: B waits for about one of A's objects per reconcile step (plus those in flight),
    // not for the backlog; first come, first served gives ~all of it.
    assert!(
        a_started < BACKLOG / 2,
        "B's job got its job run id only after {a_started} of A's {BACKLOG} jobs"
    );
    let (labels, _) = shown.unwrap_or_else(|| {
        panic!("no emr_operator_queue_depth for A's namespace while its backlog drained")
    });
    assert!(
        labels.contains(&format!("virtual_cluster=\"{}\"", a.name)),
        "{labels}"
    );
    let b_id = status_of(&b_job).job_run_id.unwrap();

    // Nothing lost, nothing twice: every one of A's jobs gets exactly one job run.
    let deadline = Instant::now() + Duration::from_secs(180);
    while started(&a_jobs).await < BACKLOG {
        assert!(
            Instant::now() < deadline,
            "A's backlog did not drain; log:\n{}",
            t.op.log_tail(40)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let requests = t.bed.emulator.start_job_run_requests(Some(&a.id)).await;
    let names: BTreeSet<&str> = requests
        .iter()
        .filter_map(|r| r["body"]["name"].as_str())
        .collect();
    // (A retried StartJobRun carries the same client token and gets the same run.)
    assert_eq!(names.len(), BACKLOG, "distinct job names for A");
    assert_eq!(started_ids(&requests).len(), BACKLOG, "job runs for A");
    let b_requests = t.bed.emulator.start_job_run_requests(Some(&b.id)).await;
    assert_eq!(started_ids(&b_requests), BTreeSet::from([b_id]));

    // Once drained, the queue no longer shows A.
    let deadline = Instant::now() + Duration::from_secs(30);
    while queue_depth(&t.op.metrics().await, &a.namespace).is_some_and(|(_, d)| d > 0.0) {
        assert!(Instant::now() < deadline, "A still shown as waiting");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
