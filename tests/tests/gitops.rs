//! examples/gitops/ as a platform team would use it: every overlay renders with `kubectl
//! kustomize`, its objects are consistent (each team's jobs in its own VirtualCluster's
//! namespace, with one of its roles, in a later sync wave, one PostSync hook), the two teams do
//! not collide, and the bed's apiserver accepts everything with `kubectl apply --dry-run=server`,
//! the Argo CD Application and ApplicationSet included.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use emr_api::{SparkJobRun, VirtualCluster};
use emr_operator_tests::{Bed, bed, repo_root};
use serde_json::Value;

const WAVE: &str = "argocd.argoproj.io/sync-wave";
const HOOK: &str = "argocd.argoproj.io/hook";
const TEAMS: [&str; 2] = ["team-analytics", "team-ml"];

fn gitops() -> PathBuf {
    repo_root().join("examples/gitops")
}

fn kubectl(bed: &Bed, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", &bed.env["KUBECONFIG"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kubectl (the bed puts it on PATH)");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn render(bed: &Bed, dir: &Path) -> (String, Vec<Value>) {
    let (ok, yaml) = kubectl(bed, &["kustomize", dir.to_str().unwrap()], None);
    assert!(ok, "kubectl kustomize {}: {yaml}", dir.display());
    let docs = serde_saphyr::from_multiple(&yaml).unwrap();
    (yaml, docs)
}

fn annotation<'a>(doc: &'a Value, key: &str) -> Option<&'a str> {
    doc["metadata"]["annotations"][key].as_str()
}

fn wave(doc: &Value) -> i64 {
    annotation(doc, WAVE).map_or(0, |w| w.parse().expect("a numeric sync wave"))
}

/// A team overlay's objects hang together the way the operator and Argo CD need.
fn check_team(team: &str, docs: &[Value]) -> (String, String) {
    let vcs: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "VirtualCluster")
        .collect();
    assert_eq!(vcs.len(), 1, "{team}: one VirtualCluster");
    let vc: VirtualCluster = serde_json::from_value(vcs[0].clone()).unwrap();
    assert!(
        emr_api::check::virtual_cluster(&vc.spec).is_empty(),
        "{team}: {:?}",
        emr_api::check::virtual_cluster(&vc.spec)
    );
    let vc_name = vc.metadata.name.clone().unwrap();
    let ns = vc.spec.namespace.name.clone();
    assert!(
        vc_name != "team" && ns != "team",
        "{team}: the base's placeholder names are left"
    );
    let roles: BTreeSet<String> = vc
        .spec
        .execution_roles
        .iter()
        .map(|r| r.arn.clone())
        .collect();
    let mut hooks = 0;
    let mut jobs = 0;
    for doc in docs.iter().filter(|d| d["kind"] == "SparkJobRun") {
        let job: SparkJobRun = serde_json::from_value(doc.clone()).unwrap();
        let name = job.metadata.name.clone().unwrap();
        assert!(
            emr_api::check::spark_job_run(&job.spec).is_empty(),
            "{team}/{name}"
        );
        assert_eq!(
            job.metadata.namespace.as_deref(),
            Some(ns.as_str()),
            "{team}/{name}: namespace"
        );
        assert_eq!(
            job.spec.virtual_cluster.name.as_deref(),
            Some(vc_name.as_str()),
            "{team}/{name}: virtualCluster"
        );
        assert!(
            job.spec
                .execution_role_arn
                .as_ref()
                .is_some_and(|role| roles.contains(role)),
            "{team}/{name}: role not the VirtualCluster's"
        );
        let text = serde_json::to_string(&job.spec).unwrap();
        assert!(
            !text.contains(":\"team\"")
                && !text.contains("role/team-")
                && !text.contains("/emr-on-eks/team\""),
            "{team}/{name}: a base placeholder is left: {text}"
        );
        match annotation(doc, HOOK) {
            Some("PostSync") => hooks += 1,
            Some(other) => panic!("{team}/{name}: unexpected hook {other}"),
            // Regular jobs wait for the VirtualCluster's wave.
            None => {
                jobs += 1;
                assert!(
                    wave(doc) > wave(vcs[0]),
                    "{team}/{name}: wave {} not after the VirtualCluster's {}",
                    wave(doc),
                    wave(vcs[0])
                );
            }
        }
    }
    assert_eq!(
        (jobs, hooks),
        (1, 1),
        "{team}: one job run in a wave, one PostSync hook"
    );
    (vc_name, ns)
}

#[tokio::test]
async fn every_overlay_renders_hangs_together_and_the_apiserver_accepts_it() {
    let bed = bed().await;
    let (_, platform) = render(bed, &gitops().join("platform"));
    let classes: BTreeSet<&str> = platform
        .iter()
        .filter_map(|d| d["metadata"]["name"].as_str())
        .collect();
    assert_eq!(
        classes,
        BTreeSet::from(["batch-low", "batch-medium", "batch-high", "batch-critical"])
    );
    assert!(
        platform
            .iter()
            .all(|d| d["kind"] == "PriorityClass" && wave(d) < 0)
    );

    let mut rendered = vec![(
        "platform".to_owned(),
        render(bed, &gitops().join("platform")).0,
    )];
    let mut seen = BTreeSet::new();
    for team in TEAMS {
        let (yaml, docs) = render(bed, &gitops().join("overlays").join(team));
        let (vc, ns) = check_team(team, &docs);
        // Both teams synced into one cluster: nothing cluster-wide or namespaced collides.
        assert!(
            seen.insert(vc.clone()) && seen.insert(format!("ns/{ns}")),
            "{team} collides: {vc} {ns}"
        );
        // The priority classes its pod templates are meant for exist (platform).
        assert!(yaml.contains("-priority-driver.yaml"), "{team}");
        // The operator creates the namespace in wave 0; a dry run of wave 1 needs it already.
        let (ok, out) = kubectl(bed, &["create", "namespace", &ns], None);
        assert!(ok || out.contains("AlreadyExists"), "{out}");
        rendered.push((team.to_owned(), yaml));
    }
    for (what, yaml) in &rendered {
        let (ok, out) = kubectl(bed, &["apply", "--dry-run=server", "-f", "-"], Some(yaml));
        assert!(ok, "{what}: the apiserver refused:\n{out}");
    }

    // The dry run validates for real: the same overlay with a bad role ARN is refused, naming the field.
    let broken = rendered[1].1.replace(
        "arn:aws:iam::123456789012:role/analytics-job-execution-role",
        "not-an-arn",
    );
    let (ok, out) = kubectl(
        bed,
        &["apply", "--dry-run=server", "-f", "-"],
        Some(&broken),
    );
    assert!(!ok && out.contains("executionRoleArn"), "{out}");

    // Argo CD: its objects are accepted, and each points at a path of this repository that
    // renders (the ApplicationSet once per list element).
    let (ok, out) = kubectl(
        bed,
        &[
            "apply",
            "-f",
            repo_root()
                .join("tests/gitops/argocd-crds.yaml")
                .to_str()
                .unwrap(),
        ],
        None,
    );
    assert!(ok, "{out}");
    for crd in ["applications.argoproj.io", "applicationsets.argoproj.io"] {
        let (ok, out) = kubectl(
            bed,
            &[
                "wait",
                "--for",
                "condition=established",
                "--timeout=30s",
                &format!("crd/{crd}"),
            ],
            None,
        );
        assert!(ok, "{out}");
    }
    let (ok, out) = kubectl(bed, &["create", "namespace", "argocd"], None);
    assert!(ok || out.contains("AlreadyExists"), "{out}");
    let argocd = gitops().join("argocd");
    let (ok, out) = kubectl(
        bed,
        &["apply", "--dry-run=server", "-f", argocd.to_str().unwrap()],
        None,
    );
    assert!(ok, "Argo CD objects refused:\n{out}");
    let platform_app: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(argocd.join("platform.yaml")).unwrap())
            .unwrap();
    assert_eq!(
        platform_app["spec"]["source"]["path"],
        "examples/gitops/platform"
    );
    let set: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(argocd.join("teams.yaml")).unwrap())
            .unwrap();
    let path_template = set["spec"]["template"]["spec"]["source"]["path"]
        .as_str()
        .unwrap();
    let elements = set["spec"]["generators"][0]["list"]["elements"]
        .as_array()
        .unwrap();
    let generated: BTreeSet<String> = elements
        .iter()
        .map(|e| path_template.replace("{{ .team }}", e["team"].as_str().unwrap()))
        .collect();
    let overlays: BTreeSet<String> = TEAMS
        .iter()
        .map(|t| format!("examples/gitops/overlays/{t}"))
        .collect();
    assert_eq!(
        generated, overlays,
        "the ApplicationSet generates exactly the overlays"
    );
    for (_, ns) in TEAMS.iter().map(|t| ((), t.trim_start_matches("team-"))) {
        let _ = kubectl(bed, &["delete", "namespace", ns, "--wait=false"], None);
    }
}
