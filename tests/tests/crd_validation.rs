//! The CRDs as a real apiserver (the bed's kube-apiserver 1.20) enforces them: every example in
//! `examples/` is accepted, a table of invalid manifests is refused with a message naming the
//! field, and schema defaults are filled in as the Rust types assume. A pure part (no bed) checks
//! that every example parses into the Rust types, passes `emr_api::check`, and is consistent with
//! the other examples it refers to (virtual clusters, roles, pod templates, priority classes).
//!
//! 1.20 ignores CEL (`x-kubernetes-validations`): only openAPIV3Schema rules are tested here.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use emr_api::{ScheduledSparkJobRun, SparkJobRun, VirtualCluster};
use emr_operator_tests::{Bed, bed, repo_root};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, DynamicObject};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Examples on disk
// ---------------------------------------------------------------------------------------------

/// One YAML document of a file under `examples/`.
struct Doc {
    /// Path relative to the repository, plus `#n` for the n-th document of a multi-document file.
    origin: String,
    /// The directory of the file (examples refer to files next to them).
    dir: PathBuf,
    value: Value,
}

impl Doc {
    fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or_default()
    }
}

fn examples_dir() -> PathBuf {
    repo_root().join("examples")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        // examples/gitops/ is Kustomize and Argo CD input, rendered and checked by tests/tests/gitops.rs.
        if path.is_dir() && path == examples_dir().join("gitops") {
            continue;
        }
        if path.is_dir() {
            yaml_files(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
}

fn relative(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Every YAML document under `examples/` (including the lead's `examples/demo/`).
fn example_docs() -> Vec<Doc> {
    let mut files = Vec::new();
    yaml_files(&examples_dir(), &mut files);
    assert!(!files.is_empty(), "no YAML files under examples/");
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        let parts: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{}: not YAML: {e}", relative(&file)));
        let many = parts.len() > 1;
        for (i, value) in parts.into_iter().enumerate() {
            let origin = if many {
                format!("{}#{}", relative(&file), i + 1)
            } else {
                relative(&file)
            };
            let dir = file.parent().expect("parent").to_path_buf();
            docs.push(Doc { origin, dir, value });
        }
    }
    docs
}

const GROUP_VERSION: &str = "emr-on-eks.dev/v1alpha1";

/// Add-on kinds the examples apply next to the operator's (apiVersion, kind).
const EXTERNAL_KINDS: [(&str, &str); 3] = [
    ("karpenter.sh/v1", "NodePool"),
    ("karpenter.k8s.aws/v1", "EC2NodeClass"),
    ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass"),
];

fn external_kind(value: &Value) -> Option<(&'static str, &'static str)> {
    EXTERNAL_KINDS
        .into_iter()
        .find(|(api, kind)| value["apiVersion"] == *api && value["kind"] == *kind)
}

fn is_custom_resource(doc: &Doc) -> bool {
    doc.value["apiVersion"] == GROUP_VERSION
        && matches!(
            doc.kind(),
            "SparkJobRun"
                | "VirtualCluster"
                | "SparkJobTemplate"
                | "SecurityConfiguration"
                | "ScheduledSparkJobRun"
        )
}

// ---------------------------------------------------------------------------------------------
// Pure checks: no bed
// ---------------------------------------------------------------------------------------------

/// Every example parses into the Rust types and passes `emr_api::check`, every SparkJobRun names a
/// VirtualCluster of the examples, lives in its namespace and uses one of its roles, every pod
/// template file a job names exists next to it, and every priority class a template names is
/// defined in the same example folder.
#[test]
fn examples_parse_into_the_rust_types_and_pass_the_checks() {
    let docs = example_docs();
    let mut problems = Vec::new();
    let mut clusters: BTreeMap<String, VirtualCluster> = BTreeMap::new();
    let mut jobs: Vec<(&Doc, SparkJobRun)> = Vec::new();
    let mut priority_classes: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    let mut templates: Vec<(&Doc, Pod)> = Vec::new();
    let (mut n_vc, mut n_sjr) = (0, 0);
    let mut spark_templates: Vec<(&Doc, emr_api::SparkJobTemplate)> = Vec::new();
    let mut security_configurations: BTreeSet<String> = BTreeSet::new();

    for doc in &docs {
        match doc.kind() {
            "VirtualCluster" if is_custom_resource(doc) => {
                match serde_json::from_value::<VirtualCluster>(doc.value.clone()) {
                    Ok(vc) => {
                        n_vc += 1;
                        for e in emr_api::check::virtual_cluster(&vc.spec) {
                            problems.push(format!("{}: {e}", doc.origin));
                        }
                        let name = vc.metadata.name.clone().unwrap_or_default();
                        if clusters.insert(name.clone(), vc).is_some() {
                            problems.push(format!(
                                "{}: a second VirtualCluster named {name}",
                                doc.origin
                            ));
                        }
                    }
                    Err(e) => problems.push(format!("{}: not a VirtualCluster: {e}", doc.origin)),
                }
            }
            "SparkJobRun" if is_custom_resource(doc) => {
                match serde_json::from_value::<SparkJobRun>(doc.value.clone()) {
                    Ok(job) => {
                        n_sjr += 1;
                        for e in emr_api::check::spark_job_run(&job.spec) {
                            problems.push(format!("{}: {e}", doc.origin));
                        }
                        if job.metadata.namespace.is_none() {
                            problems.push(format!(
                                "{}: a SparkJobRun example should say its namespace",
                                doc.origin
                            ));
                        }
                        jobs.push((doc, job));
                    }
                    Err(e) => problems.push(format!("{}: not a SparkJobRun: {e}", doc.origin)),
                }
            }
            "SparkJobTemplate" if is_custom_resource(doc) => {
                match serde_json::from_value::<emr_api::SparkJobTemplate>(doc.value.clone()) {
                    Ok(t) => {
                        for e in emr_api::check::spark_job_template(&t.spec) {
                            problems.push(format!("{}: {e}", doc.origin));
                        }
                        spark_templates.push((doc, t));
                    }
                    Err(e) => problems.push(format!("{}: not a SparkJobTemplate: {e}", doc.origin)),
                }
            }
            "SecurityConfiguration" if is_custom_resource(doc) => {
                match serde_json::from_value::<emr_api::SecurityConfiguration>(doc.value.clone()) {
                    Ok(c) => {
                        for e in emr_api::check::security_configuration(&c.spec) {
                            problems.push(format!("{}: {e}", doc.origin));
                        }
                        security_configurations.insert(c.metadata.name.clone().unwrap_or_default());
                    }
                    Err(e) => {
                        problems.push(format!("{}: not a SecurityConfiguration: {e}", doc.origin))
                    }
                }
            }
            // A schedule's template is held to everything a SparkJobRun is.
            "ScheduledSparkJobRun" if is_custom_resource(doc) => {
                match serde_json::from_value::<ScheduledSparkJobRun>(doc.value.clone()) {
                    Ok(schedule) => {
                        let mut job = SparkJobRun::new(
                            &schedule.metadata.name.clone().unwrap_or_default(),
                            schedule.spec.template.spec.clone(),
                        );
                        job.metadata.namespace = schedule.metadata.namespace.clone();
                        for e in emr_api::check::spark_job_run(&job.spec) {
                            problems.push(format!("{}: {e}", doc.origin));
                        }
                        if job.metadata.namespace.is_none() {
                            problems.push(format!("{}: should say its namespace", doc.origin));
                        }
                        jobs.push((doc, job));
                    }
                    Err(e) => {
                        problems.push(format!("{}: not a ScheduledSparkJobRun: {e}", doc.origin))
                    }
                }
            }
            "PriorityClass" => match serde_json::from_value::<PriorityClass>(doc.value.clone()) {
                Ok(pc) => {
                    priority_classes
                        .entry(doc.dir.clone())
                        .or_default()
                        .insert(pc.metadata.name.unwrap_or_default());
                }
                Err(e) => problems.push(format!("{}: not a PriorityClass: {e}", doc.origin)),
            },
            "StorageClass" => {
                if let Err(e) = serde_json::from_value::<StorageClass>(doc.value.clone()) {
                    problems.push(format!("{}: not a StorageClass: {e}", doc.origin));
                }
            }
            // Pod templates: partial Pods by design (no name, often no containers), read by Spark.
            "Pod" => match serde_json::from_value::<Pod>(doc.value.clone()) {
                Ok(pod) => templates.push((doc, pod)),
                Err(e) => problems.push(format!("{}: not a Pod template: {e}", doc.origin)),
            },
            // Objects of add-ons the seeds install (Karpenter, the Secrets Store CSI driver):
            // their CRDs are not on the bed, so only their API group and name are checked.
            kind if external_kind(&doc.value).is_some() => {
                if doc.value["metadata"]["name"]
                    .as_str()
                    .is_none_or(str::is_empty)
                {
                    problems.push(format!("{}: a {kind} without a name", doc.origin));
                }
            }
            other => problems.push(format!(
                "{}: unexpected kind {other:?} in examples/",
                doc.origin
            )),
        }
    }

    // Templates: bound to an example VirtualCluster of their namespace, a fixed role it allows;
    // runs name a template of their namespace; VirtualClusters an example SecurityConfiguration.
    for (doc, t) in &spark_templates {
        let ns = t.metadata.namespace.clone().unwrap_or_default();
        let vc_name = &t.spec.virtual_cluster.name;
        match clusters.get(vc_name) {
            Some(vc) if vc.spec.namespace.name == ns => {
                let role = &t.spec.job_template_data.execution_role_arn;
                if !role.contains("${") && !vc.allows_execution_role(role) {
                    problems.push(format!(
                        "{}: role {role} not allowed by {vc_name}",
                        doc.origin
                    ));
                }
            }
            _ => problems.push(format!(
                "{}: no example VirtualCluster {vc_name} in namespace {ns}",
                doc.origin
            )),
        }
    }
    for (doc, job) in &jobs {
        if let Some(r) = &job.spec.job_template_ref {
            let found = spark_templates.iter().any(|(_, t)| {
                t.metadata.name.as_deref() == Some(r.name.as_str())
                    && t.metadata.namespace == job.metadata.namespace
            });
            if !found {
                problems.push(format!(
                    "{}: no example SparkJobTemplate {}",
                    doc.origin, r.name
                ));
            }
        }
    }
    for vc in clusters.values() {
        if let Some(r) = &vc.spec.security_configuration
            && !security_configurations.contains(&r.name)
        {
            problems.push(format!(
                "VirtualCluster {:?}: no example SecurityConfiguration {}",
                vc.metadata.name, r.name
            ));
        }
    }
    for (doc, job) in &jobs {
        let ns = job.metadata.namespace.clone().unwrap_or_default();
        if let Some(vc_name) = &job.spec.virtual_cluster.name {
            match clusters.get(vc_name) {
                None => problems.push(format!(
                    "{}: no example VirtualCluster named {vc_name}",
                    doc.origin
                )),
                Some(vc) => {
                    if vc.spec.namespace.name != ns {
                        problems.push(format!(
                            "{}: in namespace {ns}, but VirtualCluster {vc_name} runs jobs in {}",
                            doc.origin, vc.spec.namespace.name
                        ));
                    }
                    if let Some(role) = &job.spec.execution_role_arn
                        && !vc.allows_execution_role(role)
                    {
                        problems.push(format!(
                            "{}: executionRoleArn {role} is not one of VirtualCluster {vc_name}'s executionRoles",
                            doc.origin
                        ));
                    }
                }
            }
        }
        // Pod templates the job names must be shipped next to it (pod-templates/<file>).
        let properties = job
            .spec
            .configuration_overrides
            .iter()
            .flat_map(|o| o.application_configuration.iter())
            .flat_map(|c| c.properties.iter());
        for (key, value) in properties {
            if key.ends_with(".podTemplateFile") {
                let file = value.rsplit('/').next().unwrap_or_default();
                let shipped = templates.iter().any(|(t, _)| {
                    t.dir.file_name().is_some_and(|d| d == "pod-templates")
                        && t.origin.rsplit('/').next() == Some(file)
                });
                if !value.starts_with("s3://") || !shipped {
                    problems.push(format!(
                        "{}: {key} = {value}: expected an S3 path to a copy of an examples/*/pod-templates/{file}",
                        doc.origin
                    ));
                }
            }
        }
    }

    // Inline pod templates (a job's own and VirtualCluster defaults) read as the operator reads
    // them, have a store to go to, and name priority classes the examples define.
    // A job's classes are defined next to it or next to its VirtualCluster (a schedule in
    // schedules/ runs in transient-clusters/' virtual clusters).
    let mut inline: Vec<(String, Vec<PathBuf>, emr_api::pod_template::PodTemplate)> = Vec::new();
    for (doc, job) in &jobs {
        let own = job
            .spec
            .pod_templates
            .iter()
            .flat_map(|t| [&t.driver, &t.executor]);
        let vc_dir = docs
            .iter()
            .find(|d| {
                d.kind() == "VirtualCluster"
                    && job.spec.virtual_cluster.name.as_deref()
                        == d.value["metadata"]["name"].as_str()
            })
            .map(|d| d.dir.clone());
        let dirs: Vec<PathBuf> = std::iter::once(doc.dir.clone()).chain(vc_dir).collect();
        for template in own.flatten() {
            inline.push((doc.origin.clone(), dirs.clone(), template.clone()));
            let store = job
                .spec
                .virtual_cluster
                .name
                .as_ref()
                .and_then(|name| clusters.get(name))
                .and_then(|vc| vc.spec.pod_template_store.as_ref());
            if store.is_none() {
                problems.push(format!(
                    "{}: inline pod templates, but its VirtualCluster has no podTemplateStore",
                    doc.origin
                ));
            }
        }
    }
    for doc in docs.iter().filter(|d| d.kind() == "VirtualCluster") {
        if let Ok(vc) = serde_json::from_value::<VirtualCluster>(doc.value.clone()) {
            let defaults = vc
                .spec
                .pod_templates
                .iter()
                .flat_map(|t| [&t.driver, &t.executor]);
            for template in defaults.flatten() {
                inline.push((doc.origin.clone(), vec![doc.dir.clone()], template.clone()));
            }
        }
    }
    for (origin, dirs, template) in &inline {
        match template.parse() {
            Err(e) => problems.push(format!("{origin}: pod template {e}")),
            Ok(parsed) => {
                let class = parsed.spec.and_then(|s| s.priority_class_name);
                if let Some(class) = class
                    && !dirs.iter().any(|dir| {
                        priority_classes
                            .get(dir)
                            .is_some_and(|set| set.contains(&class))
                    })
                {
                    problems.push(format!(
                        "{origin}: priority class {class} is defined by no example"
                    ));
                }
            }
        }
    }

    for (doc, pod) in &templates {
        let spec = pod.spec.clone().unwrap_or_default();
        if let Some(class) = &spec.priority_class_name {
            let example_root = doc.dir.parent().map(Path::to_path_buf).unwrap_or_default();
            let defined = [&doc.dir, &example_root].iter().any(|d| {
                priority_classes
                    .get(*d)
                    .is_some_and(|set| set.contains(class))
            });
            if !defined {
                problems.push(format!(
                    "{}: priority class {class} is defined by no example",
                    doc.origin
                ));
            }
        }
        for c in &spec.containers {
            if c.name.starts_with("spark-kubernetes-")
                && !matches!(
                    c.name.as_str(),
                    "spark-kubernetes-driver" | "spark-kubernetes-executor"
                )
            {
                problems.push(format!("{}: EMR knows no container {}", doc.origin, c.name));
            }
        }
    }

    assert!(
        inline.len() >= 10,
        "suspiciously few inline pod templates: {}",
        inline.len()
    );
    assert!(
        n_vc >= 5 && n_sjr >= 10,
        "suspiciously few examples: {n_vc} VirtualClusters, {n_sjr} SparkJobRuns"
    );
    assert!(
        problems.is_empty(),
        "examples with problems:\n  {}",
        problems.join("\n  ")
    );
}

/// Each example says where it comes from, and `examples/README.md` lists it.
#[test]
fn examples_are_documented() {
    let readme =
        std::fs::read_to_string(examples_dir().join("README.md")).expect("examples/README.md");
    let mut files = Vec::new();
    yaml_files(&examples_dir(), &mut files);
    let mut problems = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(examples_dir())
            .expect("under examples/")
            .display()
            .to_string();
        let text = std::fs::read_to_string(&file).expect("read example");
        if !text.starts_with('#') {
            problems.push(format!(
                "{rel}: does not start with a comment saying what it shows"
            ));
        }
        if rel.starts_with("demo/") {
            continue; // `make demo`'s own files, documented by the Makefile.
        }
        if !text.starts_with("# From:") {
            problems.push(format!(
                "{rel}: the first comment should start with `# From:` (its seed)"
            ));
        }
        if !readme.contains(&format!("`{rel}`")) {
            problems.push(format!("{rel}: not listed in examples/README.md"));
        }
    }
    assert!(
        problems.is_empty(),
        "undocumented examples:\n  {}",
        problems.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// Against the bed's apiserver
// ---------------------------------------------------------------------------------------------

/// A client of this test's own: the harness's shared client lives on the runtime of whichever
/// test touched `bed()` first, and each `#[tokio::test]` has its own runtime.
async fn admin_client(bed: &Bed) -> kube::Client {
    let kubeconfig = Kubeconfig::read_from(&bed.env["KUBECONFIG"]).expect("read kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig");
    kube::Client::try_from(config).expect("kube client")
}

/// A fresh namespace, deleted when the test is done with it.
async fn fresh_namespace(bed: &Bed, client: &kube::Client, prefix: &str) -> String {
    let name = bed.unique(prefix);
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("create namespace {name}: {e}"));
    name
}

async fn delete_namespace(client: &kube::Client, name: &str) {
    let _ = Api::<Namespace>::all(client.clone())
        .delete(name, &DeleteParams::default())
        .await;
}

fn api_resource(kind: &str) -> Option<(ApiResource, bool)> {
    Some(match kind {
        "SparkJobRun" => (ApiResource::erase::<SparkJobRun>(&()), true),
        "ScheduledSparkJobRun" => (ApiResource::erase::<ScheduledSparkJobRun>(&()), true),
        "VirtualCluster" => (ApiResource::erase::<VirtualCluster>(&()), false),
        "SparkJobTemplate" => (ApiResource::erase::<emr_api::SparkJobTemplate>(&()), true),
        "SecurityConfiguration" => (
            ApiResource::erase::<emr_api::SecurityConfiguration>(&()),
            false,
        ),
        "PriorityClass" => (ApiResource::erase::<PriorityClass>(&()), false),
        "StorageClass" => (ApiResource::erase::<StorageClass>(&()), false),
        _ => return None,
    })
}

/// Creates `manifest` (dry run unless `for_real`), namespaced kinds in `ns`. The error is the
/// apiserver's message.
async fn create(
    client: &kube::Client,
    ns: &str,
    manifest: &Value,
    for_real: bool,
) -> Result<DynamicObject, String> {
    let kind = manifest["kind"].as_str().unwrap_or_default();
    let (ar, namespaced) = api_resource(kind).ok_or_else(|| format!("no API for kind {kind:?}"))?;
    let mut obj: DynamicObject =
        serde_json::from_value(manifest.clone()).map_err(|e| format!("not an object: {e}"))?;
    let api: Api<DynamicObject> = if namespaced {
        obj.metadata.namespace = Some(ns.to_string());
        Api::namespaced_with(client.clone(), ns, &ar)
    } else {
        Api::all_with(client.clone(), &ar)
    };
    let pp = PostParams {
        dry_run: !for_real,
        ..PostParams::default()
    };
    api.create(&pp, &obj).await.map_err(|e| match e {
        kube::Error::Api(status) => status.message.clone(),
        other => format!("{other}"),
    })
}

/// (a) Every VirtualCluster and SparkJobRun of `examples/` is accepted (server-side dry run, under
/// a unique name so objects other tests created cannot collide), and so are the PriorityClasses
/// and StorageClasses the examples ship. Pod templates are partial Pods read by Spark, not
/// objects the apiserver would take alone; the pure test parses them.
#[tokio::test]
async fn every_example_is_accepted_by_the_apiserver() {
    let bed = bed().await;
    let client = admin_client(bed).await;
    let ns = fresh_namespace(bed, &client, "crd-examples").await;
    let mut refused = Vec::new();
    let mut accepted = 0;
    for doc in example_docs() {
        if doc.kind() == "Pod" || external_kind(&doc.value).is_some() {
            continue;
        }
        let mut manifest = doc.value.clone();
        let name = manifest["metadata"]["name"]
            .as_str()
            .unwrap_or("example")
            .to_string();
        manifest["metadata"]["name"] =
            json!(bed.unique(&name.chars().take(40).collect::<String>()));
        match create(&client, &ns, &manifest, false).await {
            Ok(_) => accepted += 1,
            Err(message) => refused.push(format!("{}: {message}", doc.origin)),
        }
    }
    delete_namespace(&client, &ns).await;
    assert!(
        refused.is_empty(),
        "examples the apiserver refused:\n  {}",
        refused.join("\n  ")
    );
    assert!(accepted >= 15, "only {accepted} examples were tried");
}

// ----- (b) the table of invalid manifests ------------------------------------------------------

fn valid_job() -> Value {
    json!({
        "apiVersion": GROUP_VERSION, "kind": "SparkJobRun",
        "metadata": {"name": "invalid"},
        "spec": {
            "virtualCluster": {"name": "analytics"},
            "executionRoleArn": "arn:aws:iam::123456789012:role/emr-analytics-job-role",
            "releaseLabel": "emr-7.2.0-latest",
            "jobDriver": {"sparkSubmitJobDriver": {
                "entryPoint": "local:///usr/lib/spark/examples/src/main/python/pi.py",
                "entryPointArguments": ["100"],
                "sparkSubmitParameters": "--conf spark.executor.instances=2"
            }},
            "configurationOverrides": {
                "applicationConfiguration": [{"classification": "spark-defaults", "properties": {"spark.driver.memory": "2G"}}],
                "monitoringConfiguration": {
                    "persistentAppUI": "ENABLED",
                    "cloudWatchMonitoringConfiguration": {"logGroupName": "/emr-on-eks/analytics", "logStreamNamePrefix": "pi"},
                    "s3MonitoringConfiguration": {"logUri": "s3://logs-123456789012/emr/"},
                    "containerLogRotationConfiguration": {"rotationSize": "100MB", "maxFilesToKeep": 10}
                }
            },
            "retryPolicyConfiguration": {"maxAttempts": 2},
            "resubmitPolicy": {"limit": 1},
            "tags": {"team": "analytics"}
        }
    })
}

fn valid_cluster() -> Value {
    json!({
        "apiVersion": GROUP_VERSION, "kind": "VirtualCluster",
        "metadata": {"name": "invalid"},
        "spec": {
            "eksClusterName": "analytics-eks",
            "virtualClusterName": "analytics",
            "namespace": {"name": "analytics", "labels": {"team": "analytics"}},
            "accountId": "123456789012",
            "oidcProvider": "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE",
            "executionRoles": [{"arn": "arn:aws:iam::123456789012:role/emr-analytics-job-role"}],
            "serviceAccounts": [{"name": "analytics-irsa", "roleArn": "arn:aws:iam::123456789012:role/analytics-irsa"}],
            "guardRails": {
                "resourceQuota": {"hard": {"requests.cpu": "1000"}},
                "limitRange": {"max": {"cpu": "6"}},
                "networkIsolation": true
            },
            "tags": {"team": "analytics"}
        }
    })
}

/// An invalid manifest: a valid base with one thing broken, and what the refusal must say.
struct Invalid {
    name: &'static str,
    base: fn() -> Value,
    /// Breaks the base's `spec`.
    breaks: fn(&mut Value),
    /// Substrings the apiserver's message must contain: the field path first, then the rule.
    /// (1.20 names list items without their index: `spec.executionRoles.arn`.)
    says: &'static [&'static str],
}

fn many_tags(n: usize) -> Value {
    Value::Object((0..n).map(|i| (format!("tag-{i}"), json!("v"))).collect())
}

fn invalid_manifests() -> Vec<Invalid> {
    let job = valid_job as fn() -> Value;
    let vc = valid_cluster as fn() -> Value;
    let case = |name, base, breaks, says| Invalid {
        name,
        base,
        breaks,
        says,
    };
    vec![
        // ----- patterns
        case(
            "job run name with spaces",
            job,
            |s| s["name"] = json!("my pi job"),
            &["spec.name", "should match"],
        ),
        case(
            "release label with illegal characters",
            job,
            |s| s["releaseLabel"] = json!("emr-7.2.0:latest!"),
            &["spec.releaseLabel", "should match"],
        ),
        case(
            "execution role ARN of a user, not a role",
            job,
            |s| s["executionRoleArn"] = json!("arn:aws:iam::123456789012:user/alice"),
            &["spec.executionRoleArn", "should match"],
        ),
        case(
            "execution role ARN of another service",
            job,
            |s| s["executionRoleArn"] = json!("arn:aws:s3:::my-bucket/role/emr"),
            &["spec.executionRoleArn", "should match"],
        ),
        case(
            "virtual cluster id in upper case",
            job,
            |s| s["virtualCluster"] = json!({"id": "WUENYSCUOFNZ53VY5M39G2N10"}),
            &["spec.virtualCluster.id", "should match"],
        ),
        case(
            "job template id with a dash",
            job,
            |s| s["jobTemplateId"] = json!("tpl-1"),
            &["spec.jobTemplateId", "should match"],
        ),
        case(
            "log group name with a space",
            job,
            |s| {
                s["configurationOverrides"]["monitoringConfiguration"]["cloudWatchMonitoringConfiguration"]
                    ["logGroupName"] = json!("/emr on eks")
            },
            &[
                "spec.configurationOverrides.monitoringConfiguration.cloudWatchMonitoringConfiguration.logGroupName",
                "should match",
            ],
        ),
        case(
            "blank classification",
            job,
            |s| {
                s["configurationOverrides"]["applicationConfiguration"][0]["classification"] =
                    json!("  ")
            },
            &[
                "spec.configurationOverrides.applicationConfiguration.classification",
                "should match",
            ],
        ),
        case(
            "EKS cluster name starting with a dash",
            vc,
            |s| s["eksClusterName"] = json!("-analytics"),
            &["spec.eksClusterName", "should match"],
        ),
        case(
            "EKS cluster name with a dot",
            vc,
            |s| s["eksClusterName"] = json!("analytics.prod"),
            &["spec.eksClusterName", "should match"],
        ),
        case(
            "namespace name in camel case (the seed's teamA)",
            vc,
            |s| s["namespace"]["name"] = json!("teamA"),
            &["spec.namespace.name", "should match"],
        ),
        case(
            "EMR virtual cluster name with a space",
            vc,
            |s| s["virtualClusterName"] = json!("analytics team"),
            &["spec.virtualClusterName", "should match"],
        ),
        case(
            "account id of 11 digits",
            vc,
            |s| s["accountId"] = json!("12345678901"),
            &["spec.accountId", "should match"],
        ),
        case(
            "OIDC provider given as the issuer URL",
            vc,
            |s| s["oidcProvider"] = json!("https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE"),
            &["spec.oidcProvider", "should match"],
        ),
        case(
            "execution role that is an instance profile",
            vc,
            |s| {
                s["executionRoles"][0]["arn"] =
                    json!("arn:aws:iam::123456789012:instance-profile/emr")
            },
            &["spec.executionRoles.arn", "should match"],
        ),
        case(
            "service account name with an underscore",
            vc,
            |s| s["serviceAccounts"][0]["name"] = json!("analytics_irsa"),
            &["spec.serviceAccounts.name", "should match"],
        ),
        case(
            "security configuration id in upper case",
            vc,
            |s| s["securityConfigurationId"] = json!("ABC"),
            &["spec.securityConfigurationId", "should match"],
        ),
        case(
            "quota that is not a quantity",
            vc,
            |s| s["guardRails"]["resourceQuota"]["hard"]["requests.cpu"] = json!("lots"),
            &["spec.guardRails.resourceQuota.hard", "should match"],
        ),
        // ----- lengths
        case(
            "job run name of 65 characters",
            job,
            |s| s["name"] = json!("j".repeat(65)),
            &["spec.name", "at most 64"],
        ),
        case(
            "entry point of 257 characters",
            job,
            |s| {
                s["jobDriver"]["sparkSubmitJobDriver"]["entryPoint"] =
                    json!(format!("s3://b/{}.py", "a".repeat(247)))
            },
            &[
                "spec.jobDriver.sparkSubmitJobDriver.entryPoint",
                "at most 256",
            ],
        ),
        case(
            "tag value of 257 characters",
            job,
            |s| s["tags"]["team"] = json!("v".repeat(257)),
            &["spec.tags.team", "at most 256"],
        ),
        case(
            "51 tags on a job",
            job,
            |s| s["tags"] = many_tags(51),
            &["spec.tags", "at most 50 properties"],
        ),
        case(
            "51 tags on a virtual cluster",
            vc,
            |s| s["tags"] = many_tags(51),
            &["spec.tags", "at most 50 properties"],
        ),
        case(
            "21 job template parameters",
            job,
            |s| s["jobTemplateParameters"] = many_tags(21),
            &["spec.jobTemplateParameters", "at most 20 properties"],
        ),
        case(
            "empty job template parameter",
            job,
            |s| s["jobTemplateParameters"] = json!({"Date": ""}),
            &["spec.jobTemplateParameters.Date", "at least 1"],
        ),
        case(
            "empty release label",
            job,
            |s| s["releaseLabel"] = json!(""),
            &["spec.releaseLabel", "at least 1"],
        ),
        case(
            "namespace name of 64 characters",
            vc,
            |s| s["namespace"]["name"] = json!("n".repeat(64)),
            &["spec.namespace.name", "at most 63"],
        ),
        case(
            "rerun token of 254 characters",
            job,
            |s| s["rerun"] = json!("r".repeat(254)),
            &["spec.rerun", "at most 253"],
        ),
        // ----- EMR's own size limits, and bounds on what has no natural one (issue 10)
        case(
            "entry point argument of 10281 characters",
            job,
            |s| {
                s["jobDriver"]["sparkSubmitJobDriver"]["entryPointArguments"] =
                    json!(["a".repeat(10_281)])
            },
            &[
                "spec.jobDriver.sparkSubmitJobDriver.entryPointArguments",
                "at most 10280",
            ],
        ),
        case(
            "1001 entry point arguments",
            job,
            |s| {
                s["jobDriver"]["sparkSubmitJobDriver"]["entryPointArguments"] =
                    json!(vec!["1"; 1001])
            },
            &[
                "spec.jobDriver.sparkSubmitJobDriver.entryPointArguments",
                "at most 1000 items",
            ],
        ),
        case(
            "spark-submit parameters of 102401 characters",
            job,
            |s| {
                s["jobDriver"]["sparkSubmitJobDriver"]["sparkSubmitParameters"] =
                    json!(format!("--conf a={}", "b".repeat(102_392)))
            },
            &[
                "spec.jobDriver.sparkSubmitJobDriver.sparkSubmitParameters",
                "at most 102400",
            ],
        ),
        case(
            "Spark SQL parameters of 102401 characters",
            job,
            |s| {
                s["jobDriver"] = json!({"sparkSqlJobDriver": {
                    "entryPoint": "s3://b/q.sql",
                    "sparkSqlParameters": format!("--conf a={}", "b".repeat(102_392))
                }})
            },
            &[
                "spec.jobDriver.sparkSqlJobDriver.sparkSqlParameters",
                "at most 102400",
            ],
        ),
        case(
            "101 properties in one classification",
            job,
            |s| {
                s["configurationOverrides"]["applicationConfiguration"][0]["properties"] =
                    many_tags(101)
            },
            &[
                "spec.configurationOverrides.applicationConfiguration.properties",
                "at most 100 properties",
            ],
        ),
        case(
            "the old reproducer's deadline of 9000000000000 seconds",
            job,
            |s| s["activeDeadlineSeconds"] = json!(9_000_000_000_000_i64),
            &[
                "spec.activeDeadlineSeconds",
                "less than or equal to 31536000",
            ],
        ),
        case(
            "deadline of a year and a second",
            job,
            |s| s["activeDeadlineSeconds"] = json!(31_536_001),
            &[
                "spec.activeDeadlineSeconds",
                "less than or equal to 31536000",
            ],
        ),
        case(
            "65 namespace labels",
            vc,
            |s| s["namespace"]["labels"] = many_tags(65),
            &["spec.namespace.labels", "at most 64 properties"],
        ),
        case(
            "namespace label value of 64 characters",
            vc,
            |s| s["namespace"]["labels"]["team"] = json!("t".repeat(64)),
            &["spec.namespace.labels.team", "at most 63"],
        ),
        case(
            "65 namespace annotations",
            vc,
            |s| s["namespace"]["annotations"] = many_tags(65),
            &["spec.namespace.annotations", "at most 64 properties"],
        ),
        case(
            "namespace annotation value of 4097 characters",
            vc,
            |s| s["namespace"]["annotations"] = json!({"note": "n".repeat(4097)}),
            &["spec.namespace.annotations.note", "at most 4096"],
        ),
        case(
            "101 quota entries",
            vc,
            |s| {
                s["guardRails"]["resourceQuota"]["hard"] = Value::Object(
                    (0..101)
                        .map(|i| (format!("count/r{i}"), json!("1")))
                        .collect(),
                )
            },
            &[
                "spec.guardRails.resourceQuota.hard",
                "at most 100 properties",
            ],
        ),
        // ----- enums
        case(
            "persistentAppUI ON",
            job,
            |s| {
                s["configurationOverrides"]["monitoringConfiguration"]["persistentAppUI"] =
                    json!("ON")
            },
            &[
                "spec.configurationOverrides.monitoringConfiguration.persistentAppUI",
                "Unsupported value",
                "ENABLED",
                "DISABLED",
            ],
        ),
        case(
            "persistentAppUI in lower case",
            job,
            |s| {
                s["configurationOverrides"]["monitoringConfiguration"]["persistentAppUI"] =
                    json!("enabled")
            },
            &[
                "spec.configurationOverrides.monitoringConfiguration.persistentAppUI",
                "Unsupported value",
            ],
        ),
        case(
            "deletionPolicy Orphan",
            vc,
            |s| s["deletionPolicy"] = json!("Orphan"),
            &[
                "spec.deletionPolicy",
                "Unsupported value",
                "Delete",
                "Retain",
            ],
        ),
        case(
            "emrAccess.mode ConfigMap",
            vc,
            |s| s["emrAccess"] = json!({"mode": "ConfigMap"}),
            &[
                "spec.emrAccess.mode",
                "Unsupported value",
                "AwsAuthConfigMap",
                "AccessEntry",
            ],
        ),
        case(
            "runningJobsOnDelete Kill",
            vc,
            |s| s["runningJobsOnDelete"] = json!("Kill"),
            &[
                "spec.runningJobsOnDelete",
                "Unsupported value",
                "Wait",
                "Cancel",
            ],
        ),
        case(
            "unknown failure reason",
            job,
            |s| {
                s["resubmitPolicy"]["onFailureReasons"] = json!(["INTERNAL_ERROR", "OUT_OF_MEMORY"])
            },
            &[
                "spec.resubmitPolicy.onFailureReasons",
                "Unsupported value",
                "CLUSTER_UNAVAILABLE",
            ],
        ),
        // ----- exactly one of
        case(
            "both job drivers",
            job,
            |s| s["jobDriver"]["sparkSqlJobDriver"] = json!({"entryPoint": "s3://b/q.sql"}),
            &[
                "spec.jobDriver",
                "one and only one schema (oneOf)",
                "Found 2 valid",
            ],
        ),
        case(
            "neither job driver",
            job,
            |s| s["jobDriver"] = json!({}),
            &[
                "spec.jobDriver",
                "one and only one schema (oneOf)",
                "Found none valid",
            ],
        ),
        case(
            "virtual cluster by name and id",
            job,
            |s| s["virtualCluster"]["id"] = json!("wuenyscuofnz53vy5m39g2n10"),
            &[
                "spec.virtualCluster",
                "one and only one schema (oneOf)",
                "Found 2 valid",
            ],
        ),
        case(
            "virtual cluster by neither name nor id",
            job,
            |s| s["virtualCluster"] = json!({}),
            &[
                "spec.virtualCluster",
                "one and only one schema (oneOf)",
                "Found none valid",
            ],
        ),
        // ----- any of
        case(
            "no release label and no job template",
            job,
            |s| {
                s.as_object_mut().expect("spec").remove("releaseLabel");
            },
            &[
                "spec.releaseLabel: Required value",
                "at least one schema (anyOf)",
            ],
        ),
        case(
            "no job driver and no job template",
            job,
            |s| {
                s.as_object_mut().expect("spec").remove("jobDriver");
            },
            &[
                "spec.jobDriver: Required value",
                "at least one schema (anyOf)",
            ],
        ),
        // ----- required
        case(
            "no execution role",
            job,
            |s| {
                s.as_object_mut().expect("spec").remove("executionRoleArn");
            },
            &["spec.executionRoleArn", "Required value"],
        ),
        case(
            "no virtual cluster",
            job,
            |s| {
                s.as_object_mut().expect("spec").remove("virtualCluster");
            },
            &["spec.virtualCluster", "Required value"],
        ),
        case(
            "spark-submit driver without entry point",
            job,
            |s| {
                s["jobDriver"] =
                    json!({"sparkSubmitJobDriver": {"sparkSubmitParameters": "--conf a=b"}})
            },
            &[
                "spec.jobDriver.sparkSubmitJobDriver.entryPoint",
                "Required value",
            ],
        ),
        case(
            "CloudWatch logs without a log group",
            job,
            |s| {
                s["configurationOverrides"]["monitoringConfiguration"]["cloudWatchMonitoringConfiguration"] =
                    json!({"logStreamNamePrefix": "pi"})
            },
            &[
                "spec.configurationOverrides.monitoringConfiguration.cloudWatchMonitoringConfiguration.logGroupName",
                "Required value",
            ],
        ),
        case(
            "log rotation without a size",
            job,
            |s| {
                s["configurationOverrides"]["monitoringConfiguration"]["containerLogRotationConfiguration"] =
                    json!({"maxFilesToKeep": 5})
            },
            &[
                "spec.configurationOverrides.monitoringConfiguration.containerLogRotationConfiguration.rotationSize",
                "Required value",
            ],
        ),
        case(
            "retry policy without maxAttempts",
            job,
            |s| s["retryPolicyConfiguration"] = json!({}),
            &[
                "spec.retryPolicyConfiguration.maxAttempts",
                "Required value",
            ],
        ),
        case(
            "no EKS cluster name",
            vc,
            |s| {
                s.as_object_mut().expect("spec").remove("eksClusterName");
            },
            &["spec.eksClusterName", "Required value"],
        ),
        case(
            "namespace without a name",
            vc,
            |s| s["namespace"] = json!({"create": true}),
            &["spec.namespace.name", "Required value"],
        ),
        case(
            "resource quota without hard limits",
            vc,
            |s| s["guardRails"]["resourceQuota"] = json!({}),
            &["spec.guardRails.resourceQuota.hard", "Required value"],
        ),
        case(
            "service account without a role",
            vc,
            |s| s["serviceAccounts"] = json!([{"name": "analytics-irsa"}]),
            &["spec.serviceAccounts.roleArn", "Required value"],
        ),
        // ----- wrong types
        case(
            "maxAttempts as a string",
            job,
            |s| s["retryPolicyConfiguration"]["maxAttempts"] = json!("3"),
            &[
                "spec.retryPolicyConfiguration.maxAttempts",
                "must be of type integer",
            ],
        ),
        case(
            "tags as a list",
            job,
            |s| s["tags"] = json!(["team=analytics"]),
            &["spec.tags", "must be of type object"],
        ),
        case(
            "Spark property as a YAML boolean",
            job,
            |s| {
                s["configurationOverrides"]["applicationConfiguration"][0]["properties"]["spark.dynamicAllocation.enabled"] =
                    json!(true)
            },
            &[
                "spec.configurationOverrides.applicationConfiguration.properties.spark.dynamicAllocation.enabled",
                "must be of type string",
            ],
        ),
        case(
            "entry point arguments as one string",
            job,
            |s| s["jobDriver"]["sparkSubmitJobDriver"]["entryPointArguments"] = json!("100 200"),
            &[
                "spec.jobDriver.sparkSubmitJobDriver.entryPointArguments",
                "must be of type array",
            ],
        ),
        case(
            "applicationConfiguration as an object",
            job,
            |s| {
                s["configurationOverrides"]["applicationConfiguration"] =
                    json!({"classification": "spark-defaults"})
            },
            &[
                "spec.configurationOverrides.applicationConfiguration",
                "must be of type array",
            ],
        ),
        case(
            "deadline as a duration string",
            job,
            |s| s["activeDeadlineSeconds"] = json!("1h"),
            &["spec.activeDeadlineSeconds", "must be of type integer"],
        ),
        case(
            "networkIsolation as a string",
            vc,
            |s| s["guardRails"]["networkIsolation"] = json!("yes"),
            &[
                "spec.guardRails.networkIsolation",
                "must be of type boolean",
            ],
        ),
        case(
            "executionRoles as a single object",
            vc,
            |s| s["executionRoles"] = json!({"arn": "arn:aws:iam::123456789012:role/r"}),
            &["spec.executionRoles", "must be of type array"],
        ),
        // ----- ranges
        case(
            "maxAttempts 0",
            job,
            |s| s["retryPolicyConfiguration"]["maxAttempts"] = json!(0),
            &[
                "spec.retryPolicyConfiguration.maxAttempts",
                "greater than or equal to 1",
            ],
        ),
        case(
            "maxAttempts 11",
            job,
            |s| s["retryPolicyConfiguration"]["maxAttempts"] = json!(11),
            &[
                "spec.retryPolicyConfiguration.maxAttempts",
                "less than or equal to 10",
            ],
        ),
        case(
            "maxFilesToKeep 51",
            job,
            |s| {
                s["configurationOverrides"]["monitoringConfiguration"]["containerLogRotationConfiguration"]
                    ["maxFilesToKeep"] = json!(51)
            },
            &[
                "spec.configurationOverrides.monitoringConfiguration.containerLogRotationConfiguration.maxFilesToKeep",
                "less than or equal to 50",
            ],
        ),
        case(
            "maxFilesToKeep 0",
            job,
            |s| {
                s["configurationOverrides"]["monitoringConfiguration"]["containerLogRotationConfiguration"]
                    ["maxFilesToKeep"] = json!(0)
            },
            &[
                "spec.configurationOverrides.monitoringConfiguration.containerLogRotationConfiguration.maxFilesToKeep",
                "greater than or equal to 1",
            ],
        ),
        case(
            "activeDeadlineSeconds 0",
            job,
            |s| s["activeDeadlineSeconds"] = json!(0),
            &["spec.activeDeadlineSeconds", "greater than or equal to 1"],
        ),
        case(
            "resubmitPolicy.limit 101",
            job,
            |s| s["resubmitPolicy"]["limit"] = json!(101),
            &["spec.resubmitPolicy.limit", "less than or equal to 100"],
        ),
        case(
            "negative resubmit backoff",
            job,
            |s| s["resubmitPolicy"]["backoffSeconds"] = json!(-1),
            &[
                "spec.resubmitPolicy.backoffSeconds",
                "greater than or equal to 0",
            ],
        ),
        case(
            "resubmit backoff over a day",
            job,
            |s| s["resubmitPolicy"]["maxBackoffSeconds"] = json!(86401),
            &[
                "spec.resubmitPolicy.maxBackoffSeconds",
                "less than or equal to 86400",
            ],
        ),
        // ----- shell metacharacters and blanks in what EMR hands to spark-submit
        case(
            "entry point with a command after ;",
            job,
            |s| {
                s["jobDriver"]["sparkSubmitJobDriver"]["entryPoint"] =
                    json!("s3://b/app.py; rm -rf /")
            },
            &[
                "spec.jobDriver.sparkSubmitJobDriver.entryPoint",
                "should match",
            ],
        ),
        case(
            "blank entry point",
            job,
            |s| s["jobDriver"]["sparkSubmitJobDriver"]["entryPoint"] = json!("   "),
            &[
                "spec.jobDriver.sparkSubmitJobDriver.entryPoint",
                "should match",
            ],
        ),
        case(
            "spark-submit parameters with $(...)",
            job,
            |s| {
                s["jobDriver"]["sparkSubmitJobDriver"]["sparkSubmitParameters"] =
                    json!("--conf spark.app.name=$(whoami)")
            },
            &[
                "spec.jobDriver.sparkSubmitJobDriver.sparkSubmitParameters",
                "should match",
            ],
        ),
        case(
            "spark-submit parameters piped",
            job,
            |s| {
                s["jobDriver"]["sparkSubmitJobDriver"]["sparkSubmitParameters"] =
                    json!("--conf a=b | tee /tmp/x")
            },
            &[
                "spec.jobDriver.sparkSubmitJobDriver.sparkSubmitParameters",
                "should match",
            ],
        ),
        case(
            "entry point argument with backticks",
            job,
            |s| {
                s["jobDriver"]["sparkSubmitJobDriver"]["entryPointArguments"] =
                    json!(["100", "`id`"])
            },
            &[
                "spec.jobDriver.sparkSubmitJobDriver.entryPointArguments",
                "should match",
            ],
        ),
        case(
            "Spark SQL parameters with a redirection",
            job,
            |s| s["jobDriver"] = json!({"sparkSqlJobDriver": {"entryPoint": "s3://b/q.sql", "sparkSqlParameters": "--conf a=b > /tmp/out"}}),
            &[
                "spec.jobDriver.sparkSqlJobDriver.sparkSqlParameters",
                "should match",
            ],
        ),
        // ----- formats
        case(
            "rotation size with a space",
            job,
            |s| {
                s["configurationOverrides"]["monitoringConfiguration"]["containerLogRotationConfiguration"]
                    ["rotationSize"] = json!("100 MB")
            },
            &[
                "spec.configurationOverrides.monitoringConfiguration.containerLogRotationConfiguration.rotationSize",
                "should match",
            ],
        ),
        case(
            "rotation size in terabytes",
            job,
            |s| {
                s["configurationOverrides"]["monitoringConfiguration"]["containerLogRotationConfiguration"]
                    ["rotationSize"] = json!("1TB")
            },
            &[
                "spec.configurationOverrides.monitoringConfiguration.containerLogRotationConfiguration.rotationSize",
                "should match",
            ],
        ),
        case(
            "log URI over https",
            job,
            |s| {
                s["configurationOverrides"]["monitoringConfiguration"]["s3MonitoringConfiguration"]
                    ["logUri"] = json!("https://logs-123456789012.s3.amazonaws.com/emr/")
            },
            &[
                "spec.configurationOverrides.monitoringConfiguration.s3MonitoringConfiguration.logUri",
                "should match",
            ],
        ),
        case(
            "log URI without a scheme",
            job,
            |s| {
                s["configurationOverrides"]["monitoringConfiguration"]["s3MonitoringConfiguration"]
                    ["logUri"] = json!("logs-123456789012/emr/")
            },
            &[
                "spec.configurationOverrides.monitoringConfiguration.s3MonitoringConfiguration.logUri",
                "should match",
            ],
        ),
    ]
}

/// (b) Each invalid manifest is refused, and the message names the field (and the rule).
#[tokio::test]
async fn invalid_manifests_are_refused_naming_the_field() {
    let bed = bed().await;
    let client = admin_client(bed).await;
    let ns = fresh_namespace(bed, &client, "crd-invalid").await;
    let cases = invalid_manifests();
    assert!(
        cases.len() >= 30,
        "the table should hold at least 30 cases, has {}",
        cases.len()
    );
    let mut names = BTreeSet::new();
    let mut failures = Vec::new();

    // The bases themselves must be accepted, or every case would pass for the wrong reason.
    for base in [valid_job(), valid_cluster()] {
        if let Err(message) = create(&client, &ns, &base, false).await {
            failures.push(format!(
                "the valid {} base was refused: {message}",
                base["kind"]
            ));
        }
    }
    for case in &cases {
        assert!(names.insert(case.name), "two cases named {:?}", case.name);
        let mut manifest = (case.base)();
        (case.breaks)(&mut manifest["spec"]);
        match create(&client, &ns, &manifest, false).await {
            Ok(_) => failures.push(format!("{}: accepted", case.name)),
            Err(message) => {
                let missing: Vec<&str> = case
                    .says
                    .iter()
                    .copied()
                    .filter(|s| !message.contains(s))
                    .collect();
                if !missing.is_empty() {
                    failures.push(format!(
                        "{}: the message lacks {missing:?}:\n      {message}",
                        case.name
                    ));
                }
            }
        }
    }
    delete_namespace(&client, &ns).await;
    assert!(
        failures.is_empty(),
        "{} of {} invalid manifests:\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
}

// ----- (c) schema defaults ---------------------------------------------------------------------

/// The Rust view of a spec: what serde makes of it, written back out (its defaults filled in,
/// absent options left out).
fn serde_round_trip<K: serde::de::DeserializeOwned + serde::Serialize>(manifest: &Value) -> Value {
    let obj: K = serde_json::from_value(manifest.clone()).expect("parses into the Rust type");
    serde_json::to_value(&obj).expect("serializes")["spec"].clone()
}

/// (c) A minimal SparkJobRun (created for real, then read back) and a minimal VirtualCluster
/// (dry run: a real one could be picked up by an operator) get the schema's defaults, and those
/// are exactly the defaults the Rust types apply when a field is missing.
#[tokio::test]
async fn minimal_objects_get_the_schema_defaults_the_rust_types_assume() {
    let bed = bed().await;
    let client = admin_client(bed).await;
    let ns = fresh_namespace(bed, &client, "crd-defaults").await;

    let job = json!({
        "apiVersion": GROUP_VERSION, "kind": "SparkJobRun",
        "metadata": {"name": "minimal"},
        "spec": {
            "virtualCluster": {"name": "analytics"},
            "executionRoleArn": "arn:aws:iam::123456789012:role/emr-analytics-job-role",
            "releaseLabel": "emr-7.2.0-latest",
            "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": "local:///usr/lib/spark/examples/src/main/python/pi.py"}},
            "resubmitPolicy": {}
        }
    });
    let created = create(&client, &ns, &job, true)
        .await
        .unwrap_or_else(|m| panic!("minimal SparkJobRun refused: {m}"));
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &ns, &ApiResource::erase::<SparkJobRun>(&()));
    let stored = api
        .get(&created.metadata.name.clone().unwrap_or_default())
        .await
        .expect("read back");
    let spec = &stored.data["spec"];
    assert_eq!(
        spec["resubmitPolicy"],
        json!({"limit": 2, "backoffSeconds": 30, "maxBackoffSeconds": 600, "onFailureReasons": ["INTERNAL_ERROR", "CLUSTER_UNAVAILABLE"]}),
        "resubmitPolicy: {{}} as stored"
    );
    assert_eq!(spec["tags"], json!({}));
    assert_eq!(spec["jobTemplateParameters"], json!({}));
    assert_eq!(
        spec,
        &serde_round_trip::<SparkJobRun>(&job),
        "schema defaults and serde defaults differ (left: apiserver, right: Rust)"
    );
    let _ = api
        .delete(
            &stored.metadata.name.clone().unwrap_or_default(),
            &DeleteParams::default(),
        )
        .await;

    let cluster = json!({
        "apiVersion": GROUP_VERSION, "kind": "VirtualCluster",
        "metadata": {"name": bed.unique("crd-defaults")},
        "spec": {
            "eksClusterName": "analytics-eks",
            "namespace": {"name": "analytics"},
            "executionRoles": [{"arn": "arn:aws:iam::123456789012:role/emr-analytics-job-role"}],
            "serviceAccounts": [{"name": "analytics-irsa", "roleArn": "arn:aws:iam::123456789012:role/analytics-irsa"}],
            "guardRails": {}
        }
    });
    let created = create(&client, &ns, &cluster, false)
        .await
        .unwrap_or_else(|m| panic!("minimal VirtualCluster refused: {m}"));
    let spec = &created.data["spec"];
    assert_eq!(spec["namespace"]["create"], json!(true), "namespace.create");
    assert_eq!(spec["deletionPolicy"], json!("Delete"), "deletionPolicy");
    assert_eq!(
        spec["runningJobsOnDelete"],
        json!("Wait"),
        "runningJobsOnDelete"
    );
    assert_eq!(
        spec["emrAccess"],
        json!({"mode": "AwsAuthConfigMap"}),
        "emrAccess"
    );
    assert_eq!(
        spec["executionRoles"][0]["manageTrustPolicy"],
        json!(true),
        "executionRoles[0].manageTrustPolicy"
    );
    assert_eq!(
        spec["serviceAccounts"][0]["manageTrustPolicy"],
        json!(true),
        "serviceAccounts[0].manageTrustPolicy"
    );
    assert_eq!(
        spec["guardRails"]["networkIsolation"],
        json!(false),
        "guardRails.networkIsolation"
    );
    assert_eq!(
        spec,
        &serde_round_trip::<VirtualCluster>(&cluster),
        "schema defaults and serde defaults differ (left: apiserver, right: Rust)"
    );

    delete_namespace(&client, &ns).await;
}
