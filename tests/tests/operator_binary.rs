//! The operator binary as a platform team runs it: two replicas with leader election on a Lease,
//! graceful shutdown on SIGTERM, a leader cut off from its Lease stopping before the standby acts,
//! and the `crds` subcommand.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use emr_api::{SparkJobRun, VirtualCluster};
use emr_operator_tests::apiserver_proxy::ApiserverProxy;
use emr_operator_tests::{
    Operator, TEST_LABEL, bed, operator_binary, repo_root, testbed_dir, testbed_pki, wait_for,
};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};

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
        "scheduledsparkjobruns.emr-on-eks.dev.yaml",
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

#[test]
fn leader_timing_that_could_let_two_leaders_overlap_is_refused() {
    for (flags, says) in [
        (
            ["--lease-duration=15s", "--lease-renew-deadline=15s"],
            "renew deadline",
        ),
        (
            ["--lease-duration=15s", "--lease-retry-period=10s"],
            "retry period",
        ),
        (
            ["--lease-duration=15s", "--kube-read-timeout=60s"],
            "read timeout",
        ),
    ] {
        let out = std::process::Command::new(operator_binary())
            .args(["run", "--metrics-address=127.0.0.1:0"])
            .args(flags)
            .env("KUBECONFIG", "/nonexistent")
            .output()
            .expect("run");
        assert!(!out.status.success(), "{flags:?} accepted");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains(says), "{flags:?}: {text}");
    }
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

/// When the operator (run with `--log-format=json`) first logged `message` with the field
/// `field` equal to `value` (any fields when `field` is empty).
fn logged_at(op: &Operator, message: &str, field: &str, value: &str) -> Option<DateTime<Utc>> {
    let log = std::fs::read_to_string(&op.log).ok()?;
    log.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| {
            line["message"] == message && (field.is_empty() || line[field].as_str() == Some(value))
        })
        .and_then(|line| line["timestamp"].as_str().map(str::to_owned))
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// When the emulator received a logged call.
fn call_started(call: &Value) -> f64 {
    call["epoch"].as_f64().expect("epoch")
}

/// When the emulator answered a logged call.
fn call_ended(call: &Value) -> f64 {
    call_started(call) + call["durationMs"].as_f64().expect("durationMs") / 1000.0
}

fn epoch(t: DateTime<Utc>) -> f64 {
    t.timestamp_micros() as f64 / 1e6
}

/// The Lease requests of the leader, and only those, go unanswered (a proxy holds them open:
/// no reset, no error). The leader must stop acting (its process exits) before its Lease can
/// expire for the standby, and the emulator's call log, where each replica signs with its own
/// access key, must show every call of the old leader before any call of the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_lease_requests_go_unanswered_stops_before_the_standby_acts() {
    let bed = bed().await;
    let test_id = bed.unique("overlap");
    let ns = bed.operator_namespace("overlap").await;
    let lease = bed.unique("lease");
    let (key_a, key_b) = (
        format!("{test_id}-replica-a"),
        format!("{test_id}-replica-b"),
    );

    // Replica A reaches the apiserver only through the proxy; B directly.
    let operator_kubeconfig = bed.env["TESTBED_OPERATOR_KUBECONFIG"].clone();
    let proxy = ApiserverProxy::start(Path::new(&operator_kubeconfig), &testbed_pki()).await;
    let kubeconfig_a = testbed_dir().join(format!("{test_id}-replica-a.kubeconfig"));
    proxy.write_kubeconfig(&kubeconfig_a);
    let kubeconfig_a = kubeconfig_a.to_string_lossy().into_owned();
    let mut args = vec![
        "--leader-election=true".to_string(),
        format!("--lease-namespace={ns}"),
        format!("--lease-name={lease}"),
        "--lease-duration=6s".into(),
        "--log-format=json".into(),
    ];
    args.push("--identity=replica-a".into());
    let args_a: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut a = bed
        .start_operator_with_env(
            &test_id,
            &args_a,
            &[("KUBECONFIG", &kubeconfig_a), ("AWS_ACCESS_KEY_ID", &key_a)],
        )
        .await;
    assert_eq!(wait_leader(&[&a], Duration::from_secs(20)).await, 0);
    args.pop();
    args.push("--identity=replica-b".into());
    let args_b: Vec<&str> = args.iter().map(String::as_str).collect();
    let b = bed
        .start_operator_with_env(&test_id, &args_b, &[("AWS_ACCESS_KEY_ID", &key_b)])
        .await;

    // Work that keeps the leader calling AWS: a VirtualCluster and two job runs that stay
    // RUNNING, polled every second.
    let eks = "leader-tests";
    bed.eks_cluster(eks).await;
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"
    }]});
    let role_arn = bed.iam_role(&bed.unique("overlap-role"), &trust).await;
    let vc_name = bed.unique("overlap");
    let vc_ns = bed.unique("overlap-vc");
    bed.apply_yaml(&format!(
        r#"
apiVersion: emr-on-eks.dev/v1alpha1
kind: VirtualCluster
metadata:
  name: {vc_name}
  labels: {{{TEST_LABEL}: {test_id}}}
spec:
  eksClusterName: {eks}
  namespace: {{name: {vc_ns}}}
  executionRoles: [{{arn: "{role_arn}"}}]
"#
    ))
    .await;
    wait_for(
        &Api::<VirtualCluster>::all(bed.client.clone()),
        &vc_name,
        Duration::from_secs(90),
        "VirtualCluster Ready",
        |vc| {
            vc.status
                .as_ref()
                .is_some_and(|s| s.virtual_cluster_id.is_some())
        },
    )
    .await;
    for job in ["job-1", "job-2"] {
        bed.apply_yaml(&format!(
            r#"
apiVersion: emr-on-eks.dev/v1alpha1
kind: SparkJobRun
metadata:
  name: {job}
  namespace: {vc_ns}
  labels: {{{TEST_LABEL}: {test_id}}}
spec:
  virtualCluster: {{name: {vc_name}}}
  executionRoleArn: "{role_arn}"
  releaseLabel: emr-6.15.0-latest
  jobDriver:
    sparkSubmitJobDriver:
      entryPoint: "local:///usr/lib/spark/examples/src/main/python/pi.py"
  tags:
    emulator/pending-seconds: "0"
    emulator/submitted-seconds: "0"
    emulator/run-seconds: "900"
"#
        ))
        .await;
        wait_for(
            &Api::<SparkJobRun>::namespaced(bed.client.clone(), &vc_ns),
            job,
            Duration::from_secs(60),
            "SparkJobRun RUNNING",
            |j| j.status.as_ref().and_then(|s| s.state.as_deref()) == Some("RUNNING"),
        )
        .await;
    }
    let calls_of =
        |key: String| async move { bed.emulator.calls(&[("accessKeyId", key.as_str())]).await };
    assert!(
        !calls_of(key_a.clone()).await.is_empty(),
        "the leader made no AWS calls"
    );
    assert!(
        calls_of(key_b.clone()).await.is_empty(),
        "the standby called AWS while the other replica led"
    );

    // From now on A's Lease requests are held unanswered; the rest of its traffic passes.
    proxy.blackhole_leases();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = a.exit_status() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the leader did not stop while its Lease requests went unanswered:\n{}",
            a.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.success(), "{status}");
    assert!(
        proxy.held_lease_requests() > 0,
        "the proxy held no Lease request"
    );
    let a_stopped = logged_at(&a, "stopping: leadership lost", "", "")
        .unwrap_or_else(|| panic!("the leader exited without saying why:\n{}", a.log_tail(30)));

    // B takes over and acts (its first AWS calls: the VirtualCluster and the job runs).
    assert_eq!(wait_leader(&[&b], Duration::from_secs(60)).await, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    let b_calls = loop {
        let calls = calls_of(key_b.clone()).await;
        // The poller refreshes job runs with ListJobRuns (DescribeJobRun for single ones).
        let polls = calls
            .iter()
            .filter(|c| c["operation"] == "ListJobRuns" || c["operation"] == "DescribeJobRun")
            .count();
        if polls >= 2 {
            break calls;
        }
        assert!(
            Instant::now() < deadline,
            "the new leader does not track the job runs:\n{}",
            b.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let a_calls = calls_of(key_a.clone()).await;
    let b_leading = logged_at(&b, "leading", "identity", "replica-b").expect("B logged leading");

    // The old leader had stopped before the new one led, and before its first AWS call.
    assert!(
        a_stopped < b_leading,
        "replica-a stopped at {a_stopped}, replica-b led from {b_leading}"
    );
    let b_first_started = b_calls.iter().map(call_started).fold(f64::MAX, f64::min);
    assert!(
        epoch(a_stopped) < b_first_started,
        "replica-a stopped at {a_stopped}, after replica-b's first call began ({b_first_started})"
    );
    // Never interleaved: every call of A was answered before the first call of B arrived.
    let seq = |c: &Value| c["seq"].as_u64().expect("seq");
    let a_last = a_calls.iter().map(seq).max().expect("calls of replica-a");
    let b_first = b_calls.iter().map(seq).min().expect("calls of replica-b");
    assert!(
        a_last < b_first,
        "interleaved: seq {a_last} of replica-a after seq {b_first} of replica-b"
    );
    let a_last_ended = a_calls.iter().map(call_ended).fold(f64::MIN, f64::max);
    assert!(
        a_last_ended <= b_first_started,
        "replica-a's last call ended at {a_last_ended}, after replica-b's first began ({b_first_started})"
    );
    let spec = Api::<Lease>::namespaced(bed.client.clone(), &ns)
        .get(&lease)
        .await
        .unwrap()
        .spec
        .unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("replica-b"));

    // The proxy held only Lease requests: through it, other requests are still answered
    // while a Lease read is not.
    let config = kube::Config::from_custom_kubeconfig(
        Kubeconfig::read_from(&kubeconfig_a).unwrap(),
        &KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    let via_proxy = kube::Client::try_from(config).unwrap();
    via_proxy
        .apiserver_version()
        .await
        .expect("a non-Lease request through the proxy");
    let held = tokio::time::timeout(
        Duration::from_secs(3),
        Api::<Lease>::namespaced(via_proxy, &ns).get_opt(&lease),
    )
    .await;
    assert!(held.is_err(), "a Lease read was answered: {held:?}");
    assert!(proxy.forwarded_while_blackholing() > 0);
}
