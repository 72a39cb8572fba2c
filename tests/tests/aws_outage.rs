//! An EMR outage on the bed: calls to a service that stopped answering are held unsent until one
//! probe finds it back (`emr_aws::outage`), and every job then runs exactly once.
//!
//! Its own test binary: the emulator's outage is global, and test binaries run one at a time, so
//! no other test's calls meet it.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use emr_api::SparkJobRun;
use emr_operator_tests::{bed, wait_for};
use kube::api::Api;
use serde_json::json;

#[tokio::test]
async fn an_emr_outage_is_met_by_a_few_calls_and_every_job_then_runs_once() {
    let bed = bed().await;
    let id = bed.unique("outage");
    let op = bed.start_operator(&id, &[]).await;
    let vc = bed
        .ready_virtual_cluster(&id, "outage-tests", "outage", "outage-role")
        .await;
    bed.emulator
        .set_faults(json!({"downForSeconds": 10, "services": ["emr-containers"]}))
        .await;
    let names: Vec<String> = (0..120).map(|i| format!("job-{i:03}")).collect();
    for name in &names {
        bed.apply_yaml(&vc.job_yaml(&id, name, r#""emulator/run-seconds": "0""#))
            .await;
    }
    let jobs = Api::<SparkJobRun>::namespaced(bed.client.clone(), &vc.namespace);
    for name in &names {
        wait_for(&jobs, name, Duration::from_secs(120), "COMPLETED", |j| {
            j.status.as_ref().and_then(|s| s.state.as_deref()) == Some("COMPLETED")
        })
        .await;
    }
    bed.emulator.clear_faults().await;
    let calls = bed
        .emulator
        .calls(&[
            ("service", "emr-containers"),
            ("virtualClusterId", &vc.virtual_cluster_id),
        ])
        .await;
    let refused = calls.iter().filter(|c| c["fault"] == "down").count();
    assert!(refused > 0, "the outage was never met");
    // Without holding, every job's StartJobRun would have met the outage, each up to three times
    // (the SDK's own retries); held, only the calls already in flight when the hold began and the
    // probes do.
    assert!(
        refused < names.len(),
        "{refused} requests sent into the outage for {} jobs\n{}",
        names.len(),
        op.log_tail(40)
    );
    let metrics = op.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("emr_operator_aws_calls_held_total{operation=")),
        "no call was held:\n{metrics}"
    );
    let requests = bed
        .emulator
        .start_job_run_requests(Some(&vc.virtual_cluster_id))
        .await;
    let accepted: BTreeSet<&str> = requests
        .iter()
        .filter(|r| r["status"] == 200)
        .filter_map(|r| r["jobRunId"].as_str())
        .collect();
    assert_eq!(accepted.len(), names.len(), "{requests:#?}");
    assert_eq!(
        requests.iter().filter(|r| r["status"] == 200).count(),
        names.len(),
        "a job was started twice"
    );
}
