//! SparkJobTemplate on the bed (real apiserver, real operator binary, the EMR emulator), tried
//! as a new user and as a hostile tenant would: one EMR template however often it is
//! reconciled; an edit replaces it and the old one goes only once the run using it finished;
//! runs with a missing parameter, an unknown one or a role outside the allow-list never reach
//! StartJobRun; a template deleted in EMR comes back; a forged status never deletes anything;
//! SIGKILL during the create leaves exactly one EMR template; an edit while a run is being
//! started keeps the template the run resolved; an edit racing deletion leaves no template.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use emr_api::condition::{self, ConditionStatus};
use emr_api::labels::TAG_UID;
use emr_api::spark_job_run::{condition_types as types, reasons};
use emr_api::{SparkJobRun, SparkJobTemplate, VirtualCluster};
use emr_operator_tests::{Bed, Operator, TEST_LABEL, bed, wait_for, wait_gone};
use k8s_openapi::api::core::v1::Event;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

/// Emulator faults are global: the tests here that set them take turns.
static FAULTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const EKS_CLUSTER: &str = "sjt-tests";
const PI: &str = "local:///usr/lib/spark/examples/src/main/python/pi.py";

struct Test {
    bed: &'static Bed,
    id: String,
    op: Operator,
    namespace: String,
    vc: String,
    role: String,
}

impl Test {
    /// An operator of this test and a Ready VirtualCluster allowing one role.
    async fn start(prefix: &str, extra_args: &[&str]) -> Test {
        let bed = bed().await;
        let id = bed.unique(prefix);
        let op = bed.start_operator(&id, extra_args).await;
        bed.eks_cluster(EKS_CLUSTER).await;
        let trust = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"
        }]});
        let role = bed.iam_role(&bed.unique("sjt-role"), &trust).await;
        let vc = bed.unique(prefix);
        let namespace = bed.unique(prefix);
        apply_virtual_cluster(bed, &id, &vc, &namespace, &role).await;
        bed.virtual_cluster_ready(&vc).await;
        Test {
            bed,
            id,
            op,
            namespace,
            vc,
            role,
        }
    }

    fn templates(&self) -> Api<SparkJobTemplate> {
        Api::namespaced(self.bed.client.clone(), &self.namespace)
    }

    fn runs(&self) -> Api<SparkJobRun> {
        Api::namespaced(self.bed.client.clone(), &self.namespace)
    }

    /// Applies a SparkJobTemplate for this test's VirtualCluster; `data` is its jobTemplateData.
    async fn apply_template(&self, name: &str, data: Value) -> SparkJobTemplate {
        self.apply_template_for(name, &self.vc, data).await
    }

    /// Applies a SparkJobTemplate bound to VirtualCluster `vc`.
    async fn apply_template_for(&self, name: &str, vc: &str, data: Value) -> SparkJobTemplate {
        let manifest = json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobTemplate",
            "metadata": {"name": name, "namespace": self.namespace, "labels": {TEST_LABEL: self.id}},
            "spec": {"virtualCluster": {"name": vc}, "jobTemplateData": data}
        });
        self.bed.apply(&manifest.to_string()).await
    }

    /// jobTemplateData running pi.py as `role`, lasting `seconds` in the emulator.
    fn pi(&self, role: &str, seconds: u32, params: Value) -> Value {
        json!({
            "executionRoleArn": role,
            "releaseLabel": "emr-6.15.0-latest",
            "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": PI,
                "entryPointArguments": ["${partitions}"]}},
            "parameterConfiguration": params,
            "jobTags": {"emulator/run-seconds": seconds.to_string()}
        })
    }

    async fn apply_run(&self, name: &str, template: &str, params: Value) -> SparkJobRun {
        let manifest = json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
            "metadata": {"name": name, "namespace": self.namespace, "labels": {TEST_LABEL: self.id}},
            "spec": {"virtualCluster": {"name": self.vc}, "jobTemplateRef": {"name": template},
                     "jobTemplateParameters": params}
        });
        self.bed.apply(&manifest.to_string()).await
    }

    async fn wait_template(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&SparkJobTemplate) -> bool,
    ) -> SparkJobTemplate {
        let found = tokio::time::timeout(
            Duration::from_secs(95),
            wait_for(&self.templates(), name, Duration::from_secs(90), what, pred),
        )
        .await;
        found.unwrap_or_else(|_| panic!("{what}: timed out; log:\n{}", self.op.log_tail(60)))
    }

    /// Edits template `pi` (partitions' default becomes 99; its runs last `seconds`) and waits
    /// for the EMR template that replaces `first_id`.
    async fn edit_pi(&self, seconds: u32, first_id: &str) -> SparkJobTemplate {
        let edited = self.pi(
            &self.role,
            seconds,
            json!({"partitions": {"type": "NUMBER", "defaultValue": "99"}}),
        );
        self.apply_template("pi", edited).await;
        self.wait_template("pi", "a replacement", |o| {
            ready(o) && template_id(o).is_some_and(|id| id != first_id)
        })
        .await
    }

    async fn delete_template(&self, name: &str) {
        self.templates()
            .delete(name, &Default::default())
            .await
            .unwrap();
    }

    async fn wait_template_gone(&self, name: &str) {
        let templates = self.templates();
        wait_gone(
            &templates,
            name,
            Duration::from_secs(60),
            "SparkJobTemplate",
        )
        .await;
    }

    /// Waits for a `type_` Event with `reason` about template `name`.
    async fn wait_event(&self, name: &str, type_: &str, reason: &str) {
        let api: Api<Event> = Api::namespaced(self.bed.client.clone(), &self.namespace);
        for _ in 0..50 {
            let events = api.list(&ListParams::default()).await.expect("list events");
            let found = events.items.iter().any(|e| {
                e.involved_object.name.as_deref() == Some(name)
                    && e.involved_object.kind.as_deref() == Some("SparkJobTemplate")
                    && e.type_.as_deref() == Some(type_)
                    && e.reason.as_deref() == Some(reason)
            });
            if found {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("no {type_} Event {reason} about {name}");
    }

    /// Waits until `name`'s status lists no previous template.
    async fn wait_previous_retired(&self, name: &str) {
        self.wait_template(name, "previous retired", |o| {
            o.status.as_ref().is_some_and(|s| s.previous.is_empty())
        })
        .await;
    }

    async fn wait_run(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&SparkJobRun) -> bool,
    ) -> SparkJobRun {
        wait_for(&self.runs(), name, Duration::from_secs(90), what, pred).await
    }

    /// Whether EMR (the emulator) has job template `id`.
    async fn emr_has(&self, id: &str) -> bool {
        let found = self
            .bed
            .aws
            .emr
            .client()
            .describe_job_template()
            .id(id)
            .send()
            .await;
        match found {
            Ok(_) => true,
            Err(e) if format!("{e:?}").contains("ResourceNotFoundException") => false,
            Err(e) => panic!("describe job template {id}: {e:?}"),
        }
    }

    /// The EMR job templates tagged with this object's UID.
    async fn emr_templates_of(&self, uid: &str) -> Vec<String> {
        let listed = self
            .bed
            .aws
            .emr
            .client()
            .list_job_templates()
            .send()
            .await
            .expect("list job templates");
        listed
            .templates()
            .iter()
            .filter(|t| {
                t.tags()
                    .and_then(|tags| tags.get(TAG_UID))
                    .map(String::as_str)
                    == Some(uid)
            })
            .filter_map(|t| t.id().map(str::to_owned))
            .collect()
    }
}

/// A VirtualCluster of this test serving `namespace` and allowing `role`.
async fn apply_virtual_cluster(bed: &Bed, id: &str, vc: &str, namespace: &str, role: &str) {
    bed.apply_yaml(&format!(
        r#"
apiVersion: emr-on-eks.dev/v1alpha1
kind: VirtualCluster
metadata: {{name: {vc}, labels: {{{TEST_LABEL}: {id}}}}}
spec:
  eksClusterName: {EKS_CLUSTER}
  namespace: {{name: {namespace}}}
  executionRoles: [{{arn: "{role}"}}]
"#
    ))
    .await;
}

fn template_id(t: &SparkJobTemplate) -> Option<String> {
    t.status.as_ref().and_then(|s| s.job_template_id.clone())
}

fn ready(t: &SparkJobTemplate) -> bool {
    t.status.as_ref().is_some_and(|s| {
        condition::is_true(&s.conditions, "Ready") && s.observed_generation == t.metadata.generation
    })
}

fn run_status(run: &SparkJobRun) -> emr_api::SparkJobRunStatus {
    run.status.clone().unwrap_or_default()
}

fn finished(run: &SparkJobRun) -> bool {
    let c = &run_status(run).conditions;
    condition::is_true(c, types::SUCCEEDED) || condition::is_true(c, types::FAILED)
}

fn assert_succeeded(run: &SparkJobRun) {
    assert!(
        condition::is_true(&run_status(run).conditions, types::SUCCEEDED),
        "{:#?}",
        run.status
    );
}

fn failed_reason(run: &SparkJobRun) -> Option<(ConditionStatus, String)> {
    condition::find(&run_status(run).conditions, types::FAILED)
        .map(|c| (c.status, c.reason.clone()))
}

#[tokio::test]
async fn one_template_however_often_reconciled_and_an_edit_retires_the_old_one_after_its_run() {
    let t = Test::start("sjt-replace", &[]).await;
    let params = json!({"partitions": {"type": "NUMBER", "defaultValue": "10"}});
    t.apply_template("pi", t.pi(&t.role, 25, params.clone()))
        .await;
    let first = t.wait_template("pi", "first template", ready).await;
    let first_id = template_id(&first).unwrap();
    let uid = first.uid().unwrap();

    // Reconciled again and again (labels do not change the generation): still one template.
    for i in 0..5 {
        let patch = json!({"metadata": {"labels": {"touch": i.to_string()}}});
        t.templates()
            .patch("pi", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(t.emr_templates_of(&uid).await, vec![first_id.clone()]);
    let again = t.templates().get("pi").await.unwrap();
    assert_eq!(template_id(&again), Some(first_id.clone()));

    // A run from the template records which EMR template it started from.
    t.apply_run("nightly", "pi", json!({})).await;
    let run = t
        .wait_run("nightly", "a started run", |r| {
            run_status(r).job_run_id.is_some()
        })
        .await;
    assert_eq!(run_status(&run).job_template_id, Some(first_id.clone()));

    // The edit: a new EMR template, the old one kept while the run is active.
    let replaced = t.edit_pi(25, &first_id).await;
    let second_id = template_id(&replaced).unwrap();
    let previous: Vec<String> = replaced
        .status
        .as_ref()
        .unwrap()
        .previous
        .iter()
        .map(|p| p.id.clone())
        .collect();
    assert_eq!(previous, vec![first_id.clone()]);
    assert!(
        !finished(&t.runs().get("nightly").await.unwrap()),
        "the run must still be active here"
    );
    assert!(
        t.emr_has(&first_id).await,
        "deleted while its run was active"
    );
    let data = t
        .bed
        .aws
        .emr
        .client()
        .describe_job_template()
        .id(&second_id)
        .send()
        .await
        .unwrap();
    let defaults = data
        .job_template()
        .unwrap()
        .job_template_data()
        .unwrap()
        .parameter_configuration()
        .unwrap();
    assert_eq!(defaults["partitions"].default_value(), Some("99"));

    // Once the run finished, the old template goes, and only it.
    let run = t.wait_run("nightly", "the run finished", finished).await;
    assert_succeeded(&run);
    t.wait_previous_retired("pi").await;
    assert!(
        !t.emr_has(&first_id).await,
        "the old template outlived its run"
    );
    assert!(t.emr_has(&second_id).await);
    assert_eq!(t.emr_templates_of(&uid).await, vec![second_id.clone()]);

    // Deleting the object deletes its EMR template.
    t.delete_template("pi").await;
    t.wait_template_gone("pi").await;
    assert!(!t.emr_has(&second_id).await);
}

#[tokio::test]
async fn runs_with_a_missing_or_unknown_parameter_or_a_foreign_role_make_no_start_job_run() {
    let t = Test::start("sjt-refuse", &[]).await;
    let foreign = "arn:aws:iam::123456789012:role/someone-elses-admin";
    let params = json!({
        "role": {"type": "STRING"},
        "partitions": {"type": "NUMBER", "defaultValue": "10"}
    });
    t.apply_template("by-role", t.pi("${role}", 1, params))
        .await;
    let template = t.wait_template("by-role", "template", ready).await;
    let id = template_id(&template).unwrap();

    t.apply_run("missing", "by-role", json!({})).await;
    t.apply_run("foreign", "by-role", json!({"role": foreign}))
        .await;
    t.apply_run("unknown", "by-role", json!({"role": t.role, "extra": "x"}))
        .await;
    t.apply_run("no-such-template", "nothing-here", json!({}))
        .await;
    // A look-alike name (Unicode `ô`) is not the declared `role`.
    t.apply_run(
        "look-alike",
        "by-role",
        json!({"rôle": foreign, "role": t.role}),
    )
    .await;
    t.apply_run("allowed", "by-role", json!({"role": t.role}))
        .await;

    let allowed = t.wait_run("allowed", "allowed finished", finished).await;
    assert_succeeded(&allowed);
    assert_eq!(run_status(&allowed).job_template_id, Some(id.clone()));
    for (name, reason) in [
        ("missing", reasons::MISSING_TEMPLATE_PARAMETER),
        ("foreign", reasons::EXECUTION_ROLE_NOT_ALLOWED),
        ("unknown", reasons::UNKNOWN_TEMPLATE_PARAMETER),
        ("no-such-template", reasons::SPARK_JOB_TEMPLATE_NOT_FOUND),
        ("look-alike", reasons::UNKNOWN_TEMPLATE_PARAMETER),
    ] {
        let run = t.wait_run(name, "refused", finished).await;
        assert_eq!(
            failed_reason(&run),
            Some((ConditionStatus::True, reason.into())),
            "{name}: {:#?}",
            run.status
        );
        assert_eq!(run_status(&run).job_run_id, None, "{name}");
    }

    // Only the allowed run reached StartJobRun: from the template, without a role of its own.
    let vc: VirtualCluster = Api::<VirtualCluster>::all(t.bed.client.clone())
        .get(&t.vc)
        .await
        .unwrap();
    let vc_id = vc.status.unwrap().virtual_cluster_id.unwrap();
    let requests = t.bed.emulator.start_job_run_requests(Some(&vc_id)).await;
    let names: BTreeSet<&str> = requests
        .iter()
        .filter_map(|r| r["body"]["name"].as_str())
        .collect();
    assert_eq!(names, BTreeSet::from(["allowed"]), "{requests:#?}");
    let body = &requests[0]["body"];
    assert_eq!(body["jobTemplateId"], json!(id));
    assert_eq!(body["jobTemplateParameters"], json!({"role": t.role}));
    assert!(body.get("executionRoleArn").is_none(), "{body}");

    // A template whose fixed role the VirtualCluster does not allow, one bound to another
    // tenant's VirtualCluster (it serves another namespace) or to none: refused, and nothing is
    // created in EMR.
    let other_vc = t.bed.unique("sjt-other");
    let other_namespace = t.bed.unique("sjt-other");
    apply_virtual_cluster(t.bed, &t.id, &other_vc, &other_namespace, &t.role).await;
    for (name, vc, role, reason) in [
        (
            "fixed-foreign",
            t.vc.as_str(),
            foreign,
            "ExecutionRoleNotAllowed",
        ),
        (
            "other-tenants",
            other_vc.as_str(),
            t.role.as_str(),
            "VirtualClusterInOtherNamespace",
        ),
        (
            "no-such-vc",
            "no-such-vc",
            t.role.as_str(),
            "VirtualClusterNotFound",
        ),
    ] {
        let data = t.pi(role, 1, json!({"partitions": {"defaultValue": "1"}}));
        let applied = t.apply_template_for(name, vc, data).await;
        let refused = t
            .wait_template(name, "refused", |o| {
                o.status.as_ref().is_some_and(|s| {
                    condition::find(&s.conditions, "Ready").is_some_and(|c| c.reason == reason)
                })
            })
            .await;
        assert_eq!(template_id(&refused), None, "{name}");
        t.wait_event(name, "Warning", reason).await;
        assert!(
            t.emr_templates_of(&applied.uid().unwrap()).await.is_empty(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_template_deleted_in_emr_is_recreated_and_a_forged_status_deletes_nothing() {
    let t = Test::start(
        "sjt-recreate",
        &["--resync-interval=3s", "--log-format=json"],
    )
    .await;
    let params = json!({"partitions": {"defaultValue": "10"}});
    t.apply_template("pi", t.pi(&t.role, 1, params.clone()))
        .await;
    let first = t.wait_template("pi", "template", ready).await;
    let first_id = template_id(&first).unwrap();
    let uid = first.uid().unwrap();

    // The JSON log line of the create carries the reconcile's span: controller and object.
    let log = std::fs::read_to_string(&t.op.log).unwrap();
    let created: Vec<Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["message"] == "created job template" && line["id"] == json!(first_id))
        .collect();
    assert_eq!(created.len(), 1, "{log}");
    let span = &created[0]["span"];
    assert_eq!(span["name"], "reconcile", "{span}");
    assert_eq!(span["controller"], "SparkJobTemplate", "{span}");
    assert_eq!(
        span["object"],
        json!(format!("{}/pi", t.namespace)),
        "{span}"
    );

    t.bed
        .aws
        .emr
        .delete_job_template(&first_id)
        .await
        .expect("delete in EMR");
    let recreated = t
        .wait_template("pi", "recreated", |o| {
            template_id(o).is_some_and(|id| id != first_id) && ready(o)
        })
        .await;
    let second_id = template_id(&recreated).unwrap();
    assert_eq!(recreated.status.as_ref().unwrap().recreations, 1);
    assert_eq!(t.emr_templates_of(&uid).await, vec![second_id.clone()]);

    // Someone else's template (made outside the operator), written into status as the current
    // one and as a previous one: the operator drops both and deletes neither.
    let victim = t
        .bed
        .aws
        .emr
        .client()
        .create_job_template()
        .name("victim")
        .client_token(t.bed.unique("victim"))
        .job_template_data(
            emr_aws::aws_sdk_emrcontainers::types::JobTemplateData::builder()
                .execution_role_arn(&t.role)
                .release_label("emr-6.15.0-latest")
                .job_driver(
                    emr_aws::aws_sdk_emrcontainers::types::JobDriver::builder()
                        .spark_submit_job_driver(
                            emr_aws::aws_sdk_emrcontainers::types::SparkSubmitJobDriver::builder()
                                .entry_point(PI)
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .id
        .unwrap();
    let forged = json!({"status": {"jobTemplateId": victim, "previous": [{"id": victim}]}});
    t.templates()
        .patch_status("pi", &PatchParams::default(), &Patch::Merge(&forged))
        .await
        .unwrap();
    let healed = t
        .wait_template("pi", "status healed", |o| {
            o.status.as_ref().is_some_and(|s| {
                s.job_template_id.as_deref() == Some(second_id.as_str()) && s.previous.is_empty()
            })
        })
        .await;
    assert!(ready(&healed));
    t.wait_event("pi", "Warning", "ForgedStatus").await;
    assert!(
        t.emr_has(&victim).await,
        "the operator deleted a template that was not its own"
    );
    assert_eq!(t.emr_templates_of(&uid).await, vec![second_id]);
}

#[tokio::test]
async fn sigkill_during_creation_yields_exactly_one_emr_template() {
    let _turn = FAULTS.lock().await;
    let mut t = Test::start("sjt-kill", &[]).await;
    t.bed
        .emulator
        .set_faults(json!({"latencyMs": 4000, "operations": ["CreateJobTemplate"]}))
        .await;
    let params = json!({"partitions": {"defaultValue": "10"}});
    let applied = t.apply_template("pi", t.pi(&t.role, 1, params)).await;
    let uid = applied.uid().unwrap();
    // Killed while its CreateJobTemplate is held in the emulator (which then completes it): the
    // finalizer is added just before the create.
    let finalized = |o: &SparkJobTemplate| !o.finalizers().is_empty();
    wait_for(
        &t.templates(),
        "pi",
        Duration::from_secs(30),
        "the finalizer",
        finalized,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    t.op.kill();
    tokio::time::sleep(Duration::from_secs(4)).await;
    t.bed.emulator.clear_faults().await;
    assert_eq!(
        t.emr_templates_of(&uid).await.len(),
        1,
        "the held create completed in EMR"
    );
    assert_eq!(
        template_id(&t.templates().get("pi").await.unwrap()),
        None,
        "status written before the kill?"
    );

    t.op.start().await;
    let done = t.wait_template("pi", "template after restart", ready).await;
    let created = t.emr_templates_of(&uid).await;
    assert_eq!(
        created,
        vec![template_id(&done).unwrap()],
        "exactly one EMR template"
    );
}

/// An edit that lands while a run from the template is on its way to StartJobRun (resolved,
/// not yet recorded): the template it resolved is kept until the run is done with it, and the
/// run starts from it rather than failing on a template retired under it.
#[tokio::test]
async fn an_edit_while_a_run_is_being_started_keeps_the_template_it_resolved() {
    let _turn = FAULTS.lock().await;
    let t = Test::start("sjt-race", &[]).await;
    let params = json!({"partitions": {"type": "NUMBER", "defaultValue": "10"}});
    t.apply_template("pi", t.pi(&t.role, 3, params)).await;
    let first = t.wait_template("pi", "first template", ready).await;
    let first_id = template_id(&first).unwrap();

    // StartJobRun is held in the emulator; the run's finalizer is added just before it is sent,
    // after the template was resolved.
    t.bed
        .emulator
        .set_faults(json!({"latencyMs": 8000, "operations": ["StartJobRun"]}))
        .await;
    t.apply_run("held", "pi", json!({})).await;
    wait_for(
        &t.runs(),
        "held",
        Duration::from_secs(60),
        "the run's finalizer",
        |r: &SparkJobRun| !r.finalizers().is_empty(),
    )
    .await;
    let replaced = t.edit_pi(3, &first_id).await;
    let second_id = template_id(&replaced).unwrap();
    // Give the template controller time to retire (wrongly) what it thinks nobody uses.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        t.emr_has(&first_id).await,
        "the template a run was being started from was deleted under it"
    );
    t.bed.emulator.clear_faults().await;

    let run = t.wait_run("held", "the run finished", finished).await;
    assert_succeeded(&run);
    assert_eq!(run_status(&run).job_template_id, Some(first_id.clone()));
    // Once it finished, the old template goes.
    t.wait_previous_retired("pi").await;
    assert!(!t.emr_has(&first_id).await);
    assert!(t.emr_has(&second_id).await);
}

/// An edit whose CreateJobTemplate is still under way when the object is deleted: the status
/// write of that pass meets the deletion, and the template it created must still be deleted
/// (before, it was recorded nowhere and outlived the object in EMR).
#[tokio::test]
async fn an_edit_racing_deletion_leaves_no_emr_template() {
    let _turn = FAULTS.lock().await;
    let t = Test::start("sjt-delrace", &[]).await;
    let params = json!({"partitions": {"defaultValue": "10"}});
    let applied = t.apply_template("pi", t.pi(&t.role, 1, params)).await;
    let uid = applied.uid().unwrap();
    t.wait_template("pi", "first template", ready).await;

    // The edit's CreateJobTemplate is held in the emulator (which then completes it) while the
    // object is deleted.
    t.bed
        .emulator
        .set_faults(json!({"latencyMs": 5000, "operations": ["CreateJobTemplate"]}))
        .await;
    let edited = t.pi(&t.role, 1, json!({"partitions": {"defaultValue": "99"}}));
    t.apply_template("pi", edited).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    t.delete_template("pi").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    t.bed.emulator.clear_faults().await;
    t.wait_template_gone("pi").await;
    assert_eq!(
        t.emr_templates_of(&uid).await,
        Vec::<String>::new(),
        "EMR templates outlived their object; log:\n{}",
        t.op.log_tail(40)
    );
}
