//! The operator binary as a platform team runs it: two replicas with leader election on a Lease,
//! graceful shutdown on SIGTERM, and the `crds` subcommand.

use std::time::{Duration, Instant};

use emr_operator_tests::{Operator, bed, operator_binary, repo_root};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn is_leader(op: &Operator) -> bool {
    metric(&op.metrics().await, "emr_operator_leader") == Some(1.0)
}

async fn wait_leader(ops: &[&Operator], timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        for (i, op) in ops.iter().enumerate() {
            if is_leader(op).await {
                return i;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no replica became leader within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn election_args(ns: &str, lease: &str) -> Vec<String> {
    vec![
        "--leader-election=true".into(),
        format!("--lease-namespace={ns}"),
        format!("--lease-name={lease}"),
        "--lease-duration=4s".into(),
    ]
}

#[tokio::test]
async fn two_replicas_only_one_leads_and_the_standby_takes_over() {
    let bed = bed().await;
    let test_id = bed.unique("leader");
    let ns = bed.operator_namespace("leader").await;
    let lease = bed.unique("lease");
    let args = election_args(&ns, &lease);
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();

    let mut a = bed
        .start_operator(
            &test_id,
            &[args.as_slice(), &["--identity=replica-a"]].concat(),
        )
        .await;
    assert_eq!(wait_leader(&[&a], Duration::from_secs(20)).await, 0);
    args.push("--identity=replica-b");
    let b = bed.start_operator(&test_id, &args).await;
    // The standby stays a standby while the leader renews, over several lease periods.
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            is_leader(&a).await,
            "the first replica lost leadership:\n{}",
            a.log_tail(20)
        );
        assert!(
            !is_leader(&b).await,
            "two leaders at once:\n{}",
            b.log_tail(20)
        );
    }
    let standby_reconciles = metric(&b.metrics().await, "emr_operator_reconciles_total");
    assert!(
        standby_reconciles.is_none(),
        "the standby reconciled: {standby_reconciles:?}"
    );

    let killed = Instant::now();
    a.kill();
    assert_eq!(wait_leader(&[&b], Duration::from_secs(15)).await, 0);
    let took = killed.elapsed();
    assert!(
        took <= Duration::from_secs(8),
        "takeover took {took:?}, longer than the lease allows"
    );
    let spec = Api::<Lease>::namespaced(bed.client.clone(), &ns)
        .get(&lease)
        .await
        .unwrap()
        .spec
        .unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("replica-b"));
    assert!(spec.lease_transitions.unwrap_or(0) >= 1);
}

#[tokio::test]
async fn sigterm_stops_gracefully_and_releases_the_lease() {
    let bed = bed().await;
    let test_id = bed.unique("sigterm");
    let ns = bed.operator_namespace("sigterm").await;
    let lease = bed.unique("lease");
    let args = election_args(&ns, &lease);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut op = bed.start_operator(&test_id, &args).await;
    wait_leader(&[&op], Duration::from_secs(20)).await;

    let status = op.terminate().expect("operator was running");
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        op.log_tail(30)
    );
    let spec = Api::<Lease>::namespaced(bed.client.clone(), &ns)
        .get(&lease)
        .await
        .unwrap()
        .spec
        .unwrap();
    assert_eq!(
        spec.holder_identity, None,
        "the Lease was not released on shutdown"
    );
}

#[test]
fn crds_subcommand_prints_the_committed_crds() {
    let out = std::process::Command::new(operator_binary())
        .arg("crds")
        .output()
        .expect("run crds");
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    for file in [
        "virtualclusters.emr-on-eks.dev.yaml",
        "sparkjobruns.emr-on-eks.dev.yaml",
    ] {
        let committed =
            std::fs::read_to_string(repo_root().join("deploy/crds").join(file)).unwrap();
        assert!(
            printed.contains(&committed),
            "`crds` output differs from deploy/crds/{file}"
        );
    }
}

#[test]
fn bad_flags_are_refused_with_a_message() {
    let out = std::process::Command::new(operator_binary())
        .args(["run", "--poll-interval=soon"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--poll-interval") && err.contains("soon"),
        "{err}"
    );
}

#[tokio::test]
async fn json_logs_and_readiness_for_a_platform_team() {
    let bed = bed().await;
    let test_id = bed.unique("jsonlog");
    let mut op = bed.start_operator(&test_id, &["--log-format=json"]).await;
    // Readiness follows liveness once the apiserver has answered.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = reqwest::get(format!("{}/readyz", op.metrics_url))
            .await
            .unwrap();
        if ready.status().is_success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still {}",
            ready.status()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = op.terminate().expect("operator was running");
    assert!(status.success(), "exit status {status}");
    let log = std::fs::read_to_string(&op.log).unwrap();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no log lines");
    for line in lines {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            parsed.get("level").is_some() && parsed.get("timestamp").is_some(),
            "{line}"
        );
    }
}
