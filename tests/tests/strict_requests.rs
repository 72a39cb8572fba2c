//! Every AWS request the operator makes passes the emulator's strict validation (botocore's
//! models and the quotas in tests/bed/emulator/emr_emulator/quotas.py): the examples in
//! `examples/` as a conformance run, and the inputs that would make a request invalid (a
//! 253-character object name, a 63-character namespace, a role trusted by so many namespaces
//! that its trust policy would pass IAM's quota, a multi-line Spark parameter).
//! Each test runs its operator with its own AWS access key, so the emulator's violations can be
//! told apart from other tests'.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use emr_api::condition;
use emr_api::{ScheduledSparkJobRun, SparkJobRun, VirtualCluster};
use emr_operator_tests::{Bed, Operator, TEST_LABEL, bed, repo_root, wait_for};
use kube::api::Api;
use serde_json::{Value, json};

struct Test {
    bed: &'static Bed,
    id: String,
    key: String,
    _op: Operator,
}

impl Test {
    async fn start(prefix: &str, extra_args: &[&str]) -> Test {
        let bed = bed().await;
        let id = bed.unique(prefix);
        // Letters and digits only, as AWS access key ids are.
        let key = format!("AKIA{}", id.replace('-', "").to_uppercase());
        let op = bed
            .start_operator_with_env(&id, extra_args, &[("AWS_ACCESS_KEY_ID", &key)])
            .await;
        Test {
            bed,
            id,
            key,
            _op: op,
        }
    }

    /// This operator's requests the emulator refused, each with its answer.
    async fn violations(&self) -> Vec<Value> {
        self.bed
            .emulator
            .violations(&[("accessKeyId", &self.key)])
            .await
    }

    async fn calls(&self) -> Vec<Value> {
        self.bed.emulator.calls(&[("accessKeyId", &self.key)]).await
    }

    async fn trust_role(&self, prefix: &str) -> String {
        let trust = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"
        }]});
        self.bed.iam_role(&self.bed.unique(prefix), &trust).await
    }

    async fn apply_vc(&self, name: &str, namespace: &str, roles: &[&str]) {
        let roles: Vec<Value> = roles.iter().map(|r| json!({"arn": r})).collect();
        let vc = json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "VirtualCluster",
            "metadata": {"name": name, "labels": {TEST_LABEL: self.id}},
            "spec": {"eksClusterName": "strict-tests", "namespace": {"name": namespace},
                     "executionRoles": roles}
        });
        self.bed.apply_yaml(&vc.to_string()).await;
    }

    async fn wait_vc(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&VirtualCluster) -> bool,
    ) -> VirtualCluster {
        let api: Api<VirtualCluster> = Api::all(self.bed.client.clone());
        wait_for(&api, name, Duration::from_secs(90), what, pred).await
    }
}

fn ready(vc: &VirtualCluster) -> bool {
    vc.status.as_ref().is_some_and(|s| {
        condition::is_true(&s.conditions, "Ready") && s.virtual_cluster_id.is_some()
    })
}

#[tokio::test]
async fn long_object_names_and_namespaces_make_only_valid_requests() {
    let t = Test::start("strict-names", &[]).await;
    t.bed.eks_cluster("strict-tests").await;
    let role = t.trust_role("strict-role").await;
    // The longest VirtualCluster name the operator takes (63: it labels what it makes with it)
    // and the longest namespace; the SparkJobRun below has the longest object name, 253.
    let vc_name = format!("{}-{}", t.id, "v".repeat(62 - t.id.len()));
    let namespace = format!("{}-{}", t.id, "n".repeat(62 - t.id.len()));
    assert_eq!((vc_name.len(), namespace.len()), (63, 63));
    t.apply_vc(&vc_name, &namespace, &[&role]).await;
    t.wait_vc(&vc_name, "VirtualCluster Ready", ready).await;

    let job_name = format!("j-{}", "x".repeat(251));
    let job = json!({
        "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
        "metadata": {"name": job_name, "namespace": namespace, "labels": {TEST_LABEL: t.id}},
        "spec": {"virtualCluster": {"name": vc_name}, "executionRoleArn": role,
                 "releaseLabel": "emr-7.2.0-latest",
                 "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": "local:///x.py"}},
                 "tags": {"emulator/run-seconds": "0"}}
    });
    t.bed.apply_yaml(&job.to_string()).await;
    let api: Api<SparkJobRun> = Api::namespaced(t.bed.client.clone(), &namespace);
    wait_for(
        &api,
        &job_name,
        Duration::from_secs(60),
        "a job run id",
        |j| j.status.as_ref().is_some_and(|s| s.job_run_id.is_some()),
    )
    .await;
    let starts: Vec<Value> = t
        .bed
        .emulator
        .start_job_run_requests(None)
        .await
        .into_iter()
        .filter(|r| {
            r["body"]["tags"]["emr-on-eks.dev/object"]
                == format!("{namespace}/{job_name}")
                    .chars()
                    .take(256)
                    .collect::<String>()
        })
        .collect();
    assert_eq!(starts.len(), 1, "{starts:?}");
    let sent = starts[0]["body"]["name"].as_str().unwrap();
    assert_eq!(sent.len(), 64);
    assert!(job_name.starts_with(&sent[..55]));
    let created = t
        .calls()
        .await
        .into_iter()
        .filter(|c| c["operation"] == "CreateVirtualCluster" && c["status"] == 200)
        .count();
    assert_eq!(created, 1);
    assert_eq!(t.violations().await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_trust_policy_that_would_pass_iams_quota_is_refused_with_a_condition_naming_it() {
    let t = Test::start("strict-trust", &[]).await;
    t.bed.eks_cluster("strict-tests").await;
    let role = t.trust_role("strict-shared").await;
    // Each VirtualCluster adds a statement of about 400 characters to the one role: with
    // 63-character namespaces, the fifth passes 2048.
    let mut refused = None;
    for i in 0..6 {
        let name = format!("{}-{i}", t.id);
        let namespace = format!("{name}-{}", "n".repeat(61 - name.len()));
        t.apply_vc(&name, &namespace, &[&role]).await;
        let vc = t
            .wait_vc(&name, "Ready, or refused over the quota", |vc| {
                ready(vc)
                    || vc.status.as_ref().is_some_and(|s| {
                        s.conditions
                            .iter()
                            .any(|c| c.message.contains("quota of 2048"))
                    })
            })
            .await;
        if !ready(&vc) {
            refused = Some(vc);
            break;
        }
    }
    let vc = refused.expect("a VirtualCluster refused over IAM's trust policy quota");
    let conditions = &vc.status.unwrap().conditions;
    let named = conditions
        .iter()
        .find(|c| c.message.contains("quota of 2048"))
        .unwrap();
    assert_eq!(named.status, condition::ConditionStatus::False, "{named:?}");
    assert!(named.message.contains("trust policy"), "{named:?}");
    let policy = t.bed.trust_policy(role.rsplit('/').next().unwrap()).await;
    assert!(emr_aws::trust_policy::policy_size(&policy.to_string()) <= 2048);
    assert_eq!(t.violations().await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_multi_line_spark_parameter_is_refused_and_never_sent() {
    let t = Test::start("strict-lines", &[]).await;
    t.bed.eks_cluster("strict-tests").await;
    let role = t.trust_role("strict-lines-role").await;
    let (name, namespace) = (t.id.clone(), t.bed.unique("strict-lines-ns"));
    t.apply_vc(&name, &namespace, &[&role]).await;
    t.wait_vc(&name, "VirtualCluster Ready", ready).await;
    let job = json!({
        "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
        "metadata": {"name": "lines", "namespace": namespace, "labels": {TEST_LABEL: t.id}},
        "spec": {"virtualCluster": {"name": name}, "executionRoleArn": role,
                 "releaseLabel": "emr-7.2.0-latest",
                 "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": "local:///x.py",
                     "sparkSubmitParameters": "--conf spark.executor.instances=1\n--conf spark.executor.memory=2G"}}}
    });
    t.bed.apply_yaml(&job.to_string()).await;
    let api: Api<SparkJobRun> = Api::namespaced(t.bed.client.clone(), &namespace);
    let job = wait_for(&api, "lines", Duration::from_secs(60), "InvalidSpec", |j| {
        j.status
            .as_ref()
            .is_some_and(|s| s.conditions.iter().any(|c| c.reason == "InvalidSpec"))
    })
    .await;
    let message = job
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.reason == "InvalidSpec")
        .unwrap()
        .message;
    assert!(
        message.contains("spec.jobDriver.sparkSubmitJobDriver.sparkSubmitParameters"),
        "{message}"
    );
    let starts = t
        .calls()
        .await
        .into_iter()
        .filter(|c| c["operation"] == "StartJobRun")
        .count();
    assert_eq!(starts, 0);
    assert_eq!(t.violations().await, Vec::<Value>::new());
}

// ---------------------------------------------------------------------------------------------
// Conformance: every example, submitted on the bed
// ---------------------------------------------------------------------------------------------

/// Every VirtualCluster, SparkJobRun and PriorityClass document under `examples/`.
fn example_objects() -> Vec<(String, Value)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&repo_root().join("examples"), &mut files);
    let mut objects = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for value in serde_saphyr::from_multiple::<Value>(&text).unwrap() {
            // PriorityClasses too: the inline pod templates name them.
            if value["apiVersion"] == "emr-on-eks.dev/v1alpha1" || value["kind"] == "PriorityClass"
            {
                let origin = file
                    .strip_prefix(repo_root())
                    .unwrap()
                    .display()
                    .to_string();
                objects.push((origin, value));
            }
        }
    }
    objects
}

/// Replaces every IAM role ARN in `value` by this run's own role (made on first sight), so
/// trust policies start empty on every run and never collect statements across runs.
async fn own_roles(t: &Test, value: &mut Value, roles: &mut BTreeMap<String, String>) {
    let mut found = Vec::new();
    collect_role_arns(value, &mut found);
    for arn in found {
        if !roles.contains_key(&arn) {
            let new = t.trust_role("conf-role").await;
            roles.insert(arn.clone(), new);
        }
    }
    replace_strings(value, roles);
}

fn collect_role_arns(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) if s.starts_with("arn:aws:iam::") && s.contains(":role/") => {
            out.push(s.clone())
        }
        Value::Array(items) => items.iter().for_each(|v| collect_role_arns(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_role_arns(v, out)),
        _ => {}
    }
}

fn replace_strings(value: &mut Value, map: &BTreeMap<String, String>) {
    match value {
        Value::String(s) => {
            if let Some(new) = map.get(s.as_str()) {
                *s = new.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_strings(v, map)),
        Value::Object(obj) => obj.values_mut().for_each(|v| replace_strings(v, map)),
        _ => {}
    }
}

/// Applies every SecurityConfiguration example under a name of this run and waits for its EMR
/// security configuration; returns the names (example -> this run's).
async fn apply_security_configurations(
    t: &Test,
    objects: &[(String, Value)],
) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    let api: Api<emr_api::SecurityConfiguration> = Api::all(t.bed.client.clone());
    for (origin, obj) in objects
        .iter()
        .filter(|(_, o)| o["kind"] == "SecurityConfiguration")
    {
        let mut config = obj.clone();
        let name = t.bed.unique("conf-sc");
        let old = config["metadata"]["name"].as_str().unwrap().to_owned();
        config["metadata"] = json!({"name": name, "labels": {TEST_LABEL: t.id}});
        t.bed.apply_yaml(&config.to_string()).await;
        let what = format!("{origin}: an EMR security configuration");
        wait_for(&api, &name, Duration::from_secs(60), &what, |o| {
            o.status
                .as_ref()
                .is_some_and(|s| s.security_configuration_id.is_some())
        })
        .await;
        names.insert(old, name);
    }
    names
}

/// An EMR security configuration made with the SDK (for examples naming a raw id).
async fn raw_security_configuration(t: &Test) -> String {
    use emr_aws::aws_sdk_emrcontainers::types as sdk;
    let secret =
        |name: &str| format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}");
    let tls = sdk::TlsCertificateConfiguration::builder()
        .certificate_provider_type(sdk::CertificateProviderType::Pem)
        .public_certificate_secret_arn(secret("public"))
        .private_certificate_secret_arn(secret("private"))
        .build();
    let data = sdk::SecurityConfigurationData::builder()
        .authorization_configuration(
            sdk::AuthorizationConfiguration::builder()
                .encryption_configuration(
                    sdk::EncryptionConfiguration::builder()
                        .in_transit_encryption_configuration(
                            sdk::InTransitEncryptionConfiguration::builder()
                                .tls_certificate_configuration(tls)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .build();
    emr_aws::aws_sdk_emrcontainers::Client::new(t.bed.sdk_config())
        .create_security_configuration()
        .name(t.bed.unique("conf-raw-sc"))
        .client_token(t.bed.unique("t"))
        .security_configuration_data(data)
        .send()
        .await
        .expect("create security configuration")
        .id
        .unwrap()
}

#[tokio::test]
async fn every_example_makes_only_requests_aws_would_take() {
    let t = Test::start("conformance", &["--allow-raw-virtual-cluster-ids"]).await;
    let objects = example_objects();
    let mut roles = BTreeMap::new();
    // Original VirtualCluster name -> (new name, new namespace); original namespace -> new.
    let mut vc_names = BTreeMap::new();
    let mut namespaces = BTreeMap::new();
    let mut vcs = Vec::new();
    // SecurityConfigurations first: a VirtualCluster naming one waits for it.
    let security_names = apply_security_configurations(&t, &objects).await;
    for (origin, obj) in objects
        .iter()
        .filter(|(_, o)| o["kind"] == "VirtualCluster")
    {
        let mut vc = obj.clone();
        if let Some(sc) = vc["spec"]["securityConfiguration"]["name"].as_str() {
            vc["spec"]["securityConfiguration"]["name"] = json!(security_names[sc]);
        }
        if vc["spec"]["securityConfigurationId"].is_string() {
            // A raw id names one made outside the operator: made here, as its owner would.
            vc["spec"]["securityConfigurationId"] = json!(raw_security_configuration(&t).await);
        }
        own_roles(&t, &mut vc, &mut roles).await;
        let name = t.bed.unique("conf-vc");
        let old_ns = vc["spec"]["namespace"]["name"].as_str().unwrap().to_owned();
        let ns = namespaces
            .entry(old_ns)
            .or_insert_with(|| t.bed.unique("conf-ns"))
            .clone();
        vc_names.insert(
            vc["metadata"]["name"].as_str().unwrap().to_owned(),
            name.clone(),
        );
        vc["metadata"] = json!({"name": name, "labels": {TEST_LABEL: t.id}});
        vc["spec"]["namespace"]["name"] = json!(ns);
        // Fargate profile names are per EKS cluster, which runs share: one of this run's own.
        if vc["spec"]["fargate"]["profileName"].is_string() {
            vc["spec"]["fargate"]["profileName"] = json!(t.bed.unique("conf-fp"));
        }
        if vc["spec"]["namespace"]["create"] == json!(false) {
            let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(t.bed.client.clone());
            let body = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
            api.create(&Default::default(), &body).await.unwrap();
        }
        t.bed
            .eks_cluster(vc["spec"]["eksClusterName"].as_str().unwrap())
            .await;
        t.bed.apply_yaml(&vc.to_string()).await;
        vcs.push((origin.clone(), name));
    }
    let mut ids = BTreeMap::new();
    for (origin, name) in &vcs {
        let vc = t.wait_vc(name, &format!("{origin} Ready"), ready).await;
        let status = vc.status.unwrap();
        ids.insert(
            vc.spec.namespace.name.clone(),
            status.virtual_cluster_id.unwrap(),
        );
    }

    // Inline pod templates: the PriorityClasses they name exist, and so do the stores' buckets.
    // Only those not there yet, removed again at the end: the chart's `priorityClasses.create`
    // makes classes of the same names and refuses ones it does not own.
    let classes: Api<k8s_openapi::api::scheduling::v1::PriorityClass> =
        Api::all(t.bed.client.clone());
    let mut created_classes = Vec::new();
    for (_, class) in objects.iter().filter(|(_, o)| o["kind"] == "PriorityClass") {
        let name = class["metadata"]["name"].as_str().unwrap().to_owned();
        if classes.get_opt(&name).await.unwrap().is_none() {
            t.bed.apply_yaml(&class.to_string()).await;
            created_classes.push(name);
        }
    }
    for (_, vc) in objects
        .iter()
        .filter(|(_, o)| o["kind"] == "VirtualCluster")
    {
        if let Some(uri) = vc["spec"]["podTemplateStore"]["s3Uri"].as_str() {
            let bucket = uri.trim_start_matches("s3://").split('/').next().unwrap();
            // Already there from an earlier run: fine.
            let _ = t
                .bed
                .aws
                .s3
                .client()
                .create_bucket()
                .bucket(bucket)
                .send()
                .await;
        }
    }

    let emr = emr_aws::aws_sdk_emrcontainers::Client::new(t.bed.sdk_config());
    let mut templates = BTreeMap::new();
    for (origin, obj) in objects
        .iter()
        .filter(|(_, o)| o["kind"] == "SparkJobTemplate")
    {
        let mut template = obj.clone();
        own_roles(&t, &mut template, &mut roles).await;
        let old_ns = template["metadata"]["namespace"]
            .as_str()
            .unwrap()
            .to_owned();
        let ns = namespaces[&old_ns].clone();
        let old_name = template["metadata"]["name"].as_str().unwrap().to_owned();
        let name = t.bed.unique("conf-sjt");
        template["metadata"] = json!({"name": name, "namespace": ns, "labels": {TEST_LABEL: t.id}});
        let vc = template["spec"]["virtualCluster"]["name"]
            .as_str()
            .unwrap()
            .to_owned();
        template["spec"]["virtualCluster"]["name"] = json!(vc_names[&vc]);
        t.bed.apply_yaml(&template.to_string()).await;
        let api: Api<emr_api::SparkJobTemplate> = Api::namespaced(t.bed.client.clone(), &ns);
        wait_for(
            &api,
            &name,
            Duration::from_secs(60),
            &format!("{origin}: an EMR job template"),
            |o| {
                o.status
                    .as_ref()
                    .is_some_and(|s| s.job_template_id.is_some())
            },
        )
        .await;
        templates.insert((old_ns, old_name), (ns, name));
    }
    let mut jobs = Vec::new();
    for (origin, obj) in objects.iter().filter(|(_, o)| o["kind"] == "SparkJobRun") {
        let mut job = obj.clone();
        own_roles(&t, &mut job, &mut roles).await;
        let old_ns = job["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_owned();
        let ns = namespaces
            .get(&old_ns)
            .unwrap_or_else(|| panic!("{origin}: no VirtualCluster for namespace {old_ns}"))
            .clone();
        let name = job["metadata"]["name"].as_str().unwrap().to_owned();
        job["metadata"] = json!({"name": name, "namespace": ns, "labels": {TEST_LABEL: t.id}});
        if let Some(vc) = job["spec"]["virtualCluster"]["name"].as_str() {
            job["spec"]["virtualCluster"]["name"] = json!(vc_names[vc]);
        } else {
            job["spec"]["virtualCluster"]["id"] = json!(ids[&ns]);
        }
        if let Some(template) = job["spec"]["jobTemplateRef"]["name"].as_str() {
            let (_, new) = &templates[&(old_ns.clone(), template.to_owned())];
            job["spec"]["jobTemplateRef"]["name"] = json!(new);
        } else if let Some(params) = job["spec"]["jobTemplateParameters"].as_object() {
            // A template declaring the example's parameters, run as the example's role.
            let mut template = emr
                .create_job_template()
                .name(t.bed.unique("conf-template"))
                .client_token(t.bed.unique("t"))
                .job_template_data(
                    emr_aws::aws_sdk_emrcontainers::types::JobTemplateData::builder()
                        .execution_role_arn(job["spec"]["executionRoleArn"].as_str().unwrap())
                        .release_label("emr-7.2.0-latest")
                        .job_driver(
                            emr_aws::aws_sdk_emrcontainers::types::JobDriver::builder()
                                .spark_submit_job_driver(
                                    emr_aws::aws_sdk_emrcontainers::types::SparkSubmitJobDriver::builder()
                                        .entry_point("local:///x.py")
                                        .build()
                                        .unwrap(),
                                )
                                .build(),
                        )
                        .set_parameter_configuration(Some(
                            params
                                .keys()
                                .map(|k| {
                                    (
                                        k.clone(),
                                        emr_aws::aws_sdk_emrcontainers::types::TemplateParameterConfiguration::builder().build(),
                                    )
                                })
                                .collect(),
                        ))
                        .build()
                        .unwrap(),
                );
            template = template.tags("origin", origin.replace('/', "_"));
            let id = template
                .send()
                .await
                .expect("create job template")
                .id()
                .unwrap()
                .to_owned();
            job["spec"]["jobTemplateId"] = json!(id);
        }
        t.bed.apply_yaml(&job.to_string()).await;
        jobs.push((origin.clone(), ns, name));
    }
    let schedules = start_schedules(&t, &objects, &mut roles, &namespaces, &vc_names).await;
    jobs.extend(schedules.iter().cloned());
    for (origin, ns, name) in &jobs {
        let api: Api<SparkJobRun> = Api::namespaced(t.bed.client.clone(), ns);
        wait_for(
            &api,
            name,
            Duration::from_secs(90),
            &format!("{origin}: a job run"),
            |j| j.status.as_ref().is_some_and(|s| s.job_run_id.is_some()),
        )
        .await;
    }
    // Deleting exercises CancelJobRun, DeleteVirtualCluster and the trust statement removals.
    for (_, ns, name) in &jobs {
        let api: Api<SparkJobRun> = Api::namespaced(t.bed.client.clone(), ns);
        let _ = api.delete(name, &Default::default()).await;
    }
    for (ns, name) in templates.values() {
        let api: Api<emr_api::SparkJobTemplate> = Api::namespaced(t.bed.client.clone(), ns);
        let _ = api.delete(name, &Default::default()).await;
    }
    let vc_api: Api<VirtualCluster> = Api::all(t.bed.client.clone());
    for (_, name) in &vcs {
        let _ = vc_api.delete(name, &Default::default()).await;
    }
    for (origin, name) in &vcs {
        emr_operator_tests::wait_gone(&vc_api, name, Duration::from_secs(90), origin).await;
    }
    let sc_api: Api<emr_api::SecurityConfiguration> = Api::all(t.bed.client.clone());
    for name in security_names.values() {
        let _ = sc_api.delete(name, &Default::default()).await;
    }

    for name in &created_classes {
        let _ = classes.delete(name, &Default::default()).await;
    }

    let calls = t.calls().await;
    let operations: BTreeSet<String> = calls
        .iter()
        .filter_map(|c| c["operation"].as_str().map(str::to_owned))
        .collect();
    let violations = t.violations().await;
    println!(
        "conformance: {} ScheduledSparkJobRuns (one run each, by runNow) among them",
        schedules.len()
    );
    println!(
        "conformance: {} VirtualClusters and {} SparkJobRuns from examples/, {} AWS requests ({} operations: {}), {} violations",
        vcs.len(),
        jobs.len(),
        calls.len(),
        operations.len(),
        operations.iter().cloned().collect::<Vec<_>>().join(", "),
        violations.len()
    );
    for must in [
        "CreateVirtualCluster",
        "StartJobRun",
        "UpdateAssumeRolePolicy",
        "DeleteVirtualCluster",
        "CreateFargateProfile",
        "DeleteFargateProfile",
        // The inline pod templates (PutObject only on a bed whose S3 lacks them yet).
        "HeadObject",
    ] {
        assert!(operations.contains(must), "no {must} among {operations:?}");
    }
    assert_eq!(violations, Vec::<Value>::new());
}

/// Every ScheduledSparkJobRun example, applied as it is (its slots are hours or weeks away) and
/// started once by a new `runNow`: its child SparkJobRun is returned (origin, namespace, name)
/// to be held to the same rules as the SparkJobRun examples.
async fn start_schedules(
    t: &Test,
    objects: &[(String, Value)],
    roles: &mut BTreeMap<String, String>,
    namespaces: &BTreeMap<String, String>,
    vc_names: &BTreeMap<String, String>,
) -> Vec<(String, String, String)> {
    let mut started = Vec::new();
    for (origin, obj) in objects
        .iter()
        .filter(|(_, o)| o["kind"] == "ScheduledSparkJobRun")
    {
        let mut schedule = obj.clone();
        own_roles(t, &mut schedule, roles).await;
        let ns = namespaces[schedule["metadata"]["namespace"].as_str().unwrap()].clone();
        let name = schedule["metadata"]["name"].as_str().unwrap().to_owned();
        schedule["metadata"] = json!({"name": name, "namespace": ns, "labels": {TEST_LABEL: t.id}});
        // Children must carry the test label too, or this test's operator would not run them.
        schedule["spec"]["template"]["metadata"]["labels"][TEST_LABEL] = json!(t.id);
        let vc = schedule["spec"]["template"]["spec"]["virtualCluster"]["name"]
            .as_str()
            .unwrap()
            .to_owned();
        schedule["spec"]["template"]["spec"]["virtualCluster"]["name"] = json!(vc_names[&vc]);
        t.bed.apply_yaml(&schedule.to_string()).await;
        let api: Api<ScheduledSparkJobRun> = Api::namespaced(t.bed.client.clone(), &ns);
        wait_for(
            &api,
            &name,
            Duration::from_secs(60),
            &format!("{origin}: status"),
            |s| {
                s.status
                    .as_ref()
                    .is_some_and(|s| s.observed_generation.is_some())
            },
        )
        .await;
        let patch = json!({"spec": {"runNow": "conformance"}});
        api.patch(
            &name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
        let running = wait_for(
            &api,
            &name,
            Duration::from_secs(60),
            &format!("{origin}: a run"),
            |s| s.status.as_ref().is_some_and(|s| !s.active.is_empty()),
        )
        .await;
        let child = running.status.unwrap().active[0].name.clone();
        started.push((origin.clone(), ns, child));
    }
    assert!(
        !started.is_empty(),
        "no ScheduledSparkJobRun among the examples"
    );
    started
}
