//! deploy/grafana's dashboard and the chart's PrometheusRule use only metrics the operator
//! exports: every PromQL expression is parsed (tests/monitoring/check-metrics.py) and its series
//! names are looked up in a scrape of the operator running on the bed.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use emr_api::SparkJobRun;
use emr_operator_tests::{Bed, bed, repo_root, wait_for};
use kube::api::Api;
use serde_json::json;

fn check(scrape: &Path, extra: &[&str]) -> std::process::Output {
    let root = repo_root();
    std::process::Command::new(root.join("tests/bed/.venv/bin/python"))
        .arg(root.join("tests/monitoring/check-metrics.py"))
        .arg(scrape)
        .args(extra)
        .output()
        .expect("run check-metrics.py (tests/bed/install-deps.sh installs its venv)")
}

fn scratch(name: &str) -> PathBuf {
    let dir = repo_root().join("target/monitoring-test");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{}-{name}", std::process::id()))
}

#[tokio::test]
async fn every_metric_of_the_dashboard_and_the_alerts_is_exported() {
    let bed = bed().await;
    let id = bed.unique("monitoring");
    let op = bed.start_operator(&id, &[]).await;
    // prometheus-client leaves a family out of the scrape until it has a series: the operator
    // must have reconciled, failed a reconcile, and seen job runs end both ways.
    work_the_operator(bed, &id).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let scrape = loop {
        let text = op.metrics().await;
        let ready = text.lines().any(|l| l == "emr_operator_leader 1")
            && text.contains("emr_operator_reconcile_errors_total{")
            && text
                .contains("emr_operator_job_run_time_to_terminal_seconds_count{state=\"FAILED\"}");
        if ready {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "the operator did not export its families:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let file = scratch("scrape.txt");
    std::fs::write(&file, &scrape).unwrap();

    let out = check(&file, &[]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    // The dashboard and rules reach every family the operator exports for them.
    for family in [
        "emr_operator_job_runs",
        "emr_operator_job_run_submit_seconds_bucket",
        "emr_operator_job_run_time_to_terminal_seconds_bucket",
        "emr_operator_aws_calls_total",
        "emr_operator_reconcile_errors_total",
        "emr_operator_leader",
    ] {
        assert!(said.contains(family), "{family} is used by nothing: {said}");
    }

    // A panel on a metric the operator does not export is caught, by name.
    let dashboard = repo_root().join("deploy/grafana/emr-on-eks-operator.json");
    let broken = std::fs::read_to_string(&dashboard).unwrap().replace(
        "emr_operator_reconcile_errors_total",
        "emr_operator_reconcile_failures_total",
    );
    let broken_file = scratch("dashboard.json");
    std::fs::write(&broken_file, broken).unwrap();
    let out = check(&file, &["--dashboard", broken_file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a made-up metric passed");
    assert!(
        err.contains("panel 'Reconcile errors by controller and error': emr_operator_reconcile_failures_total is not exported"),
        "{err}"
    );
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(broken_file);
}

/// A Ready VirtualCluster, one job that completes, one that fails, and StartJobRun answered 503
/// for a few seconds first (failed reconciles, retried).
async fn work_the_operator(bed: &Bed, id: &str) {
    let ready = bed
        .ready_virtual_cluster(id, "monitoring-tests", "monitoring", "monitoring-role")
        .await;
    bed.emulator
        .set_faults(json!({"downForSeconds": 3, "services": ["emr-containers"], "operations": ["StartJobRun"]}))
        .await;
    for (name, outcome) in [("ok", "COMPLETED"), ("bad", "FAILED")] {
        let tags = format!(r#""emulator/outcome": {outcome}, "emulator/run-seconds": "0""#);
        bed.apply_yaml(&ready.job_yaml(id, name, &tags)).await;
    }
    let jobs = Api::<SparkJobRun>::namespaced(bed.client.clone(), &ready.namespace);
    for (name, state) in [("ok", "COMPLETED"), ("bad", "FAILED")] {
        wait_for(&jobs, name, Duration::from_secs(90), state, |j| {
            j.status.as_ref().and_then(|s| s.state.as_deref()) == Some(state)
        })
        .await;
    }
    bed.emulator.clear_faults().await;
}
