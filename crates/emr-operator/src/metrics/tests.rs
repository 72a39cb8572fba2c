use super::*;

#[test]
fn queue_gauges_show_who_waits_and_drop_a_drained_tenant() {
    let m = Metrics::new();
    let calls = std::sync::atomic::AtomicUsize::new(0);
    m.set_queue_load(Box::new(move || {
        if calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0 {
            vec![TenantLoad {
                tenant: "team-a".into(),
                virtual_cluster: Some("a".into()),
                depth: 4000,
                oldest_wait: Duration::from_secs(72),
            }]
        } else {
            Vec::new()
        }
    }));
    let first = m.encode();
    assert!(
        first.contains(r#"emr_operator_queue_depth{namespace="team-a",virtual_cluster="a"} 4000"#),
        "{first}"
    );
    assert!(
        first.contains(
            r#"emr_operator_queue_wait_seconds{namespace="team-a",virtual_cluster="a"} 72"#
        ),
        "{first}"
    );
    let second = m.encode();
    assert!(!second.contains(r#"namespace="team-a""#), "{second}");
}

#[test]
fn time_waited_for_a_rate_limit_token_adds_up_per_operation() {
    let m = Metrics::new();
    m.paced(Operation::StartJobRun, Duration::from_millis(1500));
    m.paced(Operation::StartJobRun, Duration::from_millis(500));
    let text = m.encode();
    assert!(
        text.contains(
            "emr_operator_aws_rate_limit_wait_seconds_total{operation=\"StartJobRun\"} 2.0"
        ),
        "{text}"
    );
}

#[test]
fn reconcile_labels_follow_one_case() {
    assert_eq!(upper_camel("aws_throttled"), "AwsThrottled");
    assert_eq!(upper_camel("kube_conflict"), "KubeConflict");
    assert_eq!(upper_camel("StartJobRun"), "StartJobRun");
    assert_eq!(upper_camel("ReconcilePanicked"), "ReconcilePanicked");
    let m = Metrics::new();
    m.reconciled("VirtualCluster", Duration::ZERO, Some("aws_access_denied"));
    let text = m.encode();
    assert!(
        text.contains(
            r#"emr_operator_reconcile_errors_total{controller="VirtualCluster",error="AwsAccessDenied"} 1"#
        ),
        "{text}"
    );
}

#[test]
fn exposes_calls_and_job_states() {
    let m = Metrics::new();
    m.observe(
        Operation::StartJobRun,
        CallOutcome::Ok,
        Duration::from_millis(5),
    );
    let calls = std::sync::atomic::AtomicUsize::new(0);
    m.set_job_run_counter(Box::new(move || {
        let state = if calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0 {
            "RUNNING"
        } else {
            "COMPLETED"
        };
        BTreeMap::from([(state.to_string(), 3)])
    }));
    let _ = m.encode();
    let text = m.encode();
    assert!(text.contains(r#"emr_operator_aws_calls_total{service="emr-containers",operation="StartJobRun",outcome="ok"} 1"#), "{text}");
    assert!(
        text.contains(r#"emr_operator_job_runs{state="RUNNING"} 0"#),
        "{text}"
    );
    assert!(
        text.contains(r#"emr_operator_job_runs{state="COMPLETED"} 3"#),
        "{text}"
    );
}

#[test]
fn map_sizes_are_read_at_scrape_time() {
    let m = Metrics::new();
    let size = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(2000));
    let read = size.clone();
    m.set_map_sizes(
        "sparkjobrun",
        Box::new(move || {
            vec![(
                "sparkjobrun_failures",
                read.load(std::sync::atomic::Ordering::Relaxed),
            )]
        }),
    );
    assert!(
        m.encode()
            .contains(r#"emr_operator_tracked_objects{map="sparkjobrun_failures"} 2000"#)
    );
    size.store(0, std::sync::atomic::Ordering::Relaxed);
    assert!(
        m.encode()
            .contains(r#"emr_operator_tracked_objects{map="sparkjobrun_failures"} 0"#)
    );
}
