//! `kubectl emr` (crates/kubectl-emr) as a user runs it against the bed: the real operator runs
//! the jobs, the emulator writes their driver and executor logs to moto's CloudWatch Logs and S3
//! in EMR's layout, and the plugin reads them with the AWS credentials of its environment.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use emr_api::{ScheduledSparkJobRun, SparkJobRun};
use emr_operator_tests::{Bed, ReadyVirtualCluster, TEST_LABEL, bed, repo_root, wait_for};
use kube::api::Api;
use serde_json::{Value, json};

const EKS_CLUSTER: &str = "kubectl-emr-tests";

/// Emulator denials are global: a test denying logs or S3 calls holds this for writing, tests
/// reading logs meanwhile hold it for reading.
static AWS_DENIALS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// `kubectl-emr`, built by `make build` next to the operator.
fn plugin_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    target.join("debug/kubectl-emr")
}

/// The plugin with the user's environment: the admin kubeconfig and the bed's AWS settings.
fn plugin(bed: &Bed, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(plugin_binary());
    cmd.args(args)
        .env_clear()
        .env("KUBECONFIG", &bed.env["KUBECONFIG"])
        .env("AWS_ENDPOINT_URL", &bed.env["AWS_ENDPOINT_URL"])
        .env("AWS_REGION", &bed.env["AWS_REGION"])
        .env("AWS_ACCESS_KEY_ID", "plugin-user")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

async fn run(bed: &Bed, args: &[&str]) -> Output {
    tokio::time::timeout(Duration::from_secs(60), plugin(bed, args).output())
        .await
        .expect("kubectl-emr finished within 60 s")
        .expect("run kubectl-emr")
}

/// Stdout of a run that must succeed.
async fn ok(bed: &Bed, args: &[&str]) -> String {
    let out = run(bed, args).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kubectl emr {args:?} failed: {}\nstdout: {stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Stderr of a run that must fail.
async fn fails(bed: &Bed, args: &[&str]) -> String {
    let out = run(bed, args).await;
    assert!(
        !out.status.success(),
        "kubectl emr {args:?} succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

struct Setup {
    bed: &'static Bed,
    id: String,
    namespace: String,
    vc_name: String,
    vc_id: String,
    role: String,
}

async fn setup(prefix: &str) -> (Setup, emr_operator_tests::Operator) {
    let bed = bed().await;
    let id = bed.unique(prefix);
    let op = bed.start_operator(&id, &[]).await;
    let vc = bed
        .ready_virtual_cluster(&id, EKS_CLUSTER, prefix, "plugin-role")
        .await;
    let ReadyVirtualCluster {
        name: vc_name,
        namespace,
        role_arn: role,
        virtual_cluster_id: vc_id,
    } = vc;
    (
        Setup {
            bed,
            id,
            namespace,
            vc_name,
            vc_id,
            role,
        },
        op,
    )
}

impl Setup {
    async fn job(&self, name: &str, tags: &str, extra: &str) {
        self.bed
            .apply_yaml(&format!(
                r#"
apiVersion: emr-on-eks.dev/v1alpha1
kind: SparkJobRun
metadata: {{name: {name}, namespace: {ns}, labels: {{{TEST_LABEL}: {id}}}}}
spec:
  virtualCluster: {{name: {vc}}}
  executionRoleArn: "{role}"
  releaseLabel: emr-6.15.0-latest
  jobDriver:
    sparkSubmitJobDriver: {{entryPoint: "local:///usr/lib/spark/examples/src/main/python/pi.py"}}
  tags: {{{tags}}}
{extra}
"#,
                ns = self.namespace,
                id = self.id,
                vc = self.vc_name,
                role = self.role,
            ))
            .await;
    }

    async fn wait_state(&self, name: &str, state: &str, attempt: i32) -> SparkJobRun {
        wait_for(
            &Api::<SparkJobRun>::namespaced(self.bed.client.clone(), &self.namespace),
            name,
            Duration::from_secs(90),
            &format!("{name} {state} at attempt {attempt}"),
            |j| {
                j.status
                    .as_ref()
                    .is_some_and(|s| s.state.as_deref() == Some(state) && s.attempt == attempt)
            },
        )
        .await
    }

    async fn denial(&self, method: reqwest::Method, rule: Value) {
        let r = reqwest::Client::new()
            .request(
                method,
                format!("{}/_emulator/denials", self.bed.emulator.base),
            )
            .json(&rule)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "denials: {}", r.status());
    }
}

const MONITORING: &str = r#"  configurationOverrides:
    monitoringConfiguration:
      cloudWatchMonitoringConfiguration: {logGroupName: /emr-on-eks/plugin-tests, logStreamNamePrefix: pi}
      s3MonitoringConfiguration: {logUri: "s3://plugin-test-logs/spark/"}
"#;

#[tokio::test]
async fn get_describe_and_logs_of_every_attempt_from_cloudwatch_and_s3() {
    let (t, _op) = setup("plugin-logs").await;
    let ns = t.namespace.as_str();
    // Attempt 1 fails (USER_ERROR, resubmitted at once), attempt 2 completes.
    let tags = r#""emulator/fail-first": "1", "emulator/pending-seconds": "0", "emulator/submitted-seconds": "0", "emulator/run-seconds": "1""#;
    let extra = format!(
        "{MONITORING}  resubmitPolicy: {{limit: 1, backoffSeconds: 0, onFailureReasons: [USER_ERROR]}}\n"
    );
    t.job("pi", tags, &extra).await;
    let job = t.wait_state("pi", "COMPLETED", 2).await;
    let status = job.status.clone().unwrap();

    let table = ok(t.bed, &["-n", ns, "get"]).await;
    let row = table
        .lines()
        .find(|l| l.starts_with("pi "))
        .unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[..3], &["pi", "COMPLETED", "2"], "{table}");
    assert!(
        row.contains("cloudwatch:/emr-on-eks/plugin-tests:pi/"),
        "{table}"
    );
    let all = ok(t.bed, &["get", "-A"]).await;
    assert!(
        all.lines().any(|l| l.starts_with(ns) && l.contains(" pi ")),
        "{all}"
    );

    // Driver logs of the current attempt: CloudWatch (the default), then S3, one stream.
    let logs = ok(t.bed, &["-n", ns, "logs", "pi"]).await;
    assert!(
        logs.contains("Pi is roughly 3.14159 (emulated, attempt 2)"),
        "{logs}"
    );
    assert!(
        logs.contains("Running Spark version") && logs.contains("==> pi/"),
        "{logs}"
    );
    let s3 = ok(
        t.bed,
        &[
            "-n", ns, "logs", "pi", "--source", "s3", "--stream", "stdout",
        ],
    )
    .await;
    assert_eq!(s3.trim(), "Pi is roughly 3.14159 (emulated, attempt 2)");
    // The first attempt's run, its failure in the driver's stderr.
    let first = ok(
        t.bed,
        &[
            "-n",
            ns,
            "logs",
            "pi",
            "--attempt",
            "1",
            "--stream",
            "stderr",
        ],
    )
    .await;
    let first_run = status
        .attempts
        .iter()
        .find(|a| a.attempt == 1)
        .and_then(|a| a.job_run_id.clone())
        .unwrap();
    assert!(
        first.contains(&format!("job run {first_run} failed")),
        "{first}"
    );
    let executor = ok(
        t.bed,
        &["-n", ns, "logs", "pi", "--executor", "1", "--source", "s3"],
    )
    .await;
    assert!(
        executor.contains("executor 1 finished its tasks") && !executor.contains("Pi is"),
        "{executor}"
    );

    // What is missing is named.
    let err = fails(t.bed, &["-n", ns, "logs", "pi", "--executor", "7"]).await;
    assert!(
        err.contains("no executor 7 logs of job run")
            && err.contains("CloudWatch log group /emr-on-eks/plugin-tests"),
        "{err}"
    );
    let err = fails(t.bed, &["-n", ns, "logs", "pi", "--attempt", "5"]).await;
    assert!(
        err.contains("attempt 5 of SparkJobRun pi is not recorded (recorded attempts: 1, 2"),
        "{err}"
    );
    let err = fails(t.bed, &["-n", ns, "logs", "nope"]).await;
    assert!(
        err.contains(&format!("SparkJobRun {ns}/nope not found")),
        "{err}"
    );

    // AWS refusing the user's credentials is said as such, per service.
    let denying = AWS_DENIALS.write().await;
    let rule = json!({"service": "logs", "operation": "GetLogEvents"});
    t.denial(reqwest::Method::POST, rule.clone()).await;
    let err = fails(t.bed, &["-n", ns, "logs", "pi"]).await;
    t.denial(reqwest::Method::DELETE, rule).await;
    assert!(
        err.contains("AWS denied GetLogEvents on log stream pi/")
            && err.contains("your credentials need that permission"),
        "{err}"
    );
    let rule = json!({"service": "s3", "operation": "ListObjectsV2"});
    t.denial(reqwest::Method::POST, rule.clone()).await;
    let err = fails(t.bed, &["-n", ns, "logs", "pi", "--source", "s3"]).await;
    t.denial(reqwest::Method::DELETE, rule).await;
    assert!(
        err.contains("AWS denied ListObjectsV2 on s3://plugin-test-logs/spark/"),
        "{err}"
    );
    drop(denying);

    // describe: conditions, both attempts, and the request exactly as the emulator received it.
    let text = ok(t.bed, &["-n", ns, "describe", "pi"]).await;
    assert!(
        text.contains("Succeeded") && text.contains(&first_run),
        "{text}"
    );
    let marker = format!(
        "StartJobRun request (attempt 2): POST /virtualclusters/{}/jobruns\n",
        t.vc_id
    );
    // The request's JSON, then the Events table.
    let after = text
        .split(&marker)
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"));
    let shown: Value = serde_json::Deserializer::from_str(after)
        .into_iter::<Value>()
        .next()
        .unwrap()
        .unwrap();
    assert!(after.contains("\nEvents:\n"), "{text}");
    let sent = t.bed.emulator.start_job_run_requests(Some(&t.vc_id)).await;
    let current = status.job_run_id.clone().unwrap();
    let sent = sent
        .iter()
        .find(|r| r["jobRunId"] == json!(current))
        .unwrap();
    assert_eq!(shown, sent["body"]);
}

#[tokio::test]
async fn follow_ends_with_the_run_and_errors_say_what_is_missing() {
    let (t, _op) = setup("plugin-follow").await;
    let ns = t.namespace.as_str();
    t.job("slow", r#""emulator/pending-seconds": "0", "emulator/submitted-seconds": "0", "emulator/run-seconds": "6""#, MONITORING).await;
    t.wait_state("slow", "RUNNING", 1).await;

    // Not finished: no re-run yet.
    let err = fails(t.bed, &["-n", ns, "rerun", "slow"]).await;
    assert!(
        err.contains(
            "SparkJobRun slow is RUNNING: a re-run starts only after the current run finished"
        ),
        "{err}"
    );
    // --follow prints the first driver lines now, the rest when the run ends, then exits; from
    // S3 (followed at the same time) the objects appear once, when EMR has uploaded them.
    let reading = AWS_DENIALS.read().await;
    let cloudwatch_args = ["-n", ns, "logs", "slow", "-f", "--stream", "stderr"];
    let s3_args = [
        "-n", ns, "logs", "slow", "-f", "--source", "s3", "--stream", "stdout",
    ];
    let (followed, from_s3) = tokio::join!(ok(t.bed, &cloudwatch_args), ok(t.bed, &s3_args));
    drop(reading);
    assert_eq!(
        from_s3.trim(),
        "Pi is roughly 3.14159 (emulated, attempt 1)"
    );
    let lines: Vec<&str> = followed.lines().collect();
    assert!(
        lines
            .first()
            .is_some_and(|l| l.contains("Running Spark version")),
        "{followed}"
    );
    assert!(
        lines
            .last()
            .is_some_and(|l| l.contains("Successfully stopped SparkContext")),
        "{followed}"
    );
    // The same line is never printed twice across polls.
    assert_eq!(
        followed.matches("Running Spark version").count(),
        1,
        "{followed}"
    );
    let api = Api::<SparkJobRun>::namespaced(t.bed.client.clone(), ns);
    let state = api.get("slow").await.unwrap().status.unwrap().state;
    assert_eq!(state.as_deref(), Some("COMPLETED"));

    // rerun sets spec.rerun and the operator starts attempt 2.
    let said = ok(t.bed, &["-n", ns, "rerun", "slow"]).await;
    assert!(
        said.contains("sparkjobrun.emr-on-eks.dev/slow rerun requested"),
        "{said}"
    );
    let rerun = api.get("slow").await.unwrap().spec.rerun;
    assert!(rerun.is_some());
    t.wait_state("slow", "RUNNING", 2).await;

    // A job that sends its logs nowhere, and one that cannot start.
    t.job("quiet", r#""emulator/run-seconds": "0""#, "").await;
    t.wait_state("quiet", "COMPLETED", 1).await;
    let err = fails(t.bed, &["-n", ns, "logs", "quiet"]).await;
    assert!(err.contains("SparkJobRun quiet sends its logs nowhere: spec.configurationOverrides.monitoringConfiguration"), "{err}");
    let err = fails(t.bed, &["-n", ns, "logs", "quiet", "--source", "s3"]).await;
    assert!(err.contains("sends its logs nowhere"), "{err}");
    t.bed
        .apply_yaml(&format!(
            r#"
apiVersion: emr-on-eks.dev/v1alpha1
kind: SparkJobRun
metadata: {{name: orphan, namespace: {ns}, labels: {{{TEST_LABEL}: {id}}}}}
spec:
  virtualCluster: {{name: no-such-vc}}
  executionRoleArn: "{role}"
  releaseLabel: emr-6.15.0-latest
  jobDriver: {{sparkSubmitJobDriver: {{entryPoint: "local:///pi.py"}}}}
"#,
            id = t.id,
            role = t.role
        ))
        .await;
    wait_for(
        &api,
        "orphan",
        Duration::from_secs(30),
        "orphan reports",
        |j| j.status.as_ref().is_some_and(|s| s.message.is_some()),
    )
    .await;
    let err = fails(t.bed, &["-n", ns, "logs", "orphan"]).await;
    assert!(
        err.contains("SparkJobRun orphan has not started a job run yet (")
            && err.contains("no-such-vc"),
        "{err}"
    );
    let text = ok(t.bed, &["-n", ns, "describe", "orphan"]).await;
    assert!(
        text.contains("StartJobRun request: - (not sent yet)"),
        "{text}"
    );

    // suspend / resume: only a first submission can be held back, so a submitted job is
    // refused with the reason and nothing is written.
    let err = fails(t.bed, &["-n", ns, "suspend", "slow"]).await;
    assert!(
        err.contains("SparkJobRun slow was already submitted (attempt ")
            && err.contains("has no effect on a submitted run"),
        "{err}"
    );
    assert_eq!(api.get("slow").await.unwrap().spec.suspend, None);
    // A job that never started (its VirtualCluster does not exist) is held back and let go.
    let text = ok(t.bed, &["-n", ns, "suspend", "orphan"]).await;
    assert!(
        text.contains("sparkjobrun.emr-on-eks.dev/orphan suspended"),
        "{text}"
    );
    assert_eq!(api.get("orphan").await.unwrap().spec.suspend, Some(true));
    ok(t.bed, &["-n", ns, "resume", "orphan"]).await;
    assert_eq!(api.get("orphan").await.unwrap().spec.suspend, Some(false));

    // Schedules: a missing one is named; an existing one is suspended, resumed and triggered
    // through its spec (the schedule tests prove what the operator does with it).
    let err = fails(t.bed, &["-n", ns, "trigger", "nightly"]).await;
    assert!(
        err.contains(&format!("ScheduledSparkJobRun {ns}/nightly not found")),
        "{err}"
    );
    let template = api.get("slow").await.unwrap().spec;
    let schedule: ScheduledSparkJobRun = serde_json::from_value(json!({
        "apiVersion": "emr-on-eks.dev/v1alpha1",
        "kind": "ScheduledSparkJobRun",
        "metadata": {"name": "nightly", "namespace": ns},
        "spec": {"schedule": "@yearly", "suspend": true, "template": {"spec": template}},
    }))
    .unwrap();
    let schedules: Api<ScheduledSparkJobRun> = Api::namespaced(t.bed.client.clone(), ns);
    schedules
        .create(&Default::default(), &schedule)
        .await
        .unwrap();
    ok(t.bed, &["-n", ns, "resume", "nightly", "--schedule"]).await;
    assert!(!schedules.get("nightly").await.unwrap().spec.suspend);
    ok(t.bed, &["-n", ns, "suspend", "nightly", "--schedule"]).await;
    assert!(schedules.get("nightly").await.unwrap().spec.suspend);
    let text = ok(t.bed, &["-n", ns, "trigger", "nightly"]).await;
    let first = schedules.get("nightly").await.unwrap().spec.run_now;
    assert!(
        first
            .as_deref()
            .is_some_and(|v| v.starts_with("kubectl-emr-") && text.contains(v)),
        "{first:?} {text}"
    );
    ok(t.bed, &["-n", ns, "trigger", "nightly"]).await;
    let second = schedules.get("nightly").await.unwrap().spec.run_now;
    assert_ne!(first, second, "each trigger is a new value");
}

/// The krew archive holds the plugin, the manifest's sha256 is the archive's, and kubectl finds
/// the unpacked binary as `kubectl emr`.
#[tokio::test]
async fn krew_package_installs_a_plugin_kubectl_runs() {
    let bed = bed().await;
    let root = repo_root();
    let out = std::process::Command::new(root.join("scripts/krew-package.sh"))
        .arg(plugin_binary())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = printed.lines();
    let (manifest, archive) = (lines.next().unwrap(), lines.next().unwrap());
    let plugin: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(manifest).unwrap()).unwrap();
    assert_eq!(plugin["kind"], "Plugin");
    assert_eq!(plugin["metadata"]["name"], "emr");
    let platform = &plugin["spec"]["platforms"][0];
    assert_eq!(platform["uri"], json!(format!("file://{archive}")));
    let sum = std::process::Command::new("sha256sum")
        .arg(archive)
        .output()
        .unwrap();
    let sum = String::from_utf8_lossy(&sum.stdout);
    assert_eq!(platform["sha256"].as_str(), sum.split_whitespace().next());

    let dir = root.join(format!("target/krew/unpacked-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let untar = std::process::Command::new("tar")
        .args(["-xzf", archive, "-C", dir.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(untar.success());
    assert!(dir.join(platform["bin"].as_str().unwrap()).is_file());
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let ns = bed.unique("krew");
    let run = tokio::process::Command::new("kubectl")
        .args(["emr", "-n", &ns, "get"])
        .env("PATH", &path)
        .env("KUBECONFIG", &bed.env["KUBECONFIG"])
        .output()
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("No SparkJobRuns found in namespace {ns}.")),
        "{stderr}"
    );
}
