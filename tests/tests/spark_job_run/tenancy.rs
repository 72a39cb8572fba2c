//! Tenant safety of the SparkJobRun controller, tried as a hostile tenant would: a status
//! written to name another tenant's virtual cluster and job run (anyone with
//! `sparkjobruns/status` may write one), and job templates that would run a job as a role the
//! VirtualCluster does not allow.

use emr_api::spark_job_run::reasons;
use emr_aws::aws_sdk_emrcontainers::types::{
    JobDriver, JobTemplateData, SparkSubmitJobDriver, TemplateParameterConfiguration,
};

use super::*;

const FORGE: &str = "forger";

/// The emr-containers operations on job runs, which must never touch another tenant's cluster.
const JOB_RUN_CALLS: [&str; 3] = ["ListJobRuns", "DescribeJobRun", "CancelJobRun"];

impl Test {
    /// Writes `status` into the object's status subresource as an attacker would (admin client).
    async fn forge_status(&self, vc: &Vc, name: &str, status: Value) {
        self.jobs(vc)
            .patch_status(
                name,
                &PatchParams {
                    field_manager: Some(FORGE.into()),
                    ..Default::default()
                },
                &Patch::Merge(&json!({ "status": status })),
            )
            .await
            .expect("forge status");
    }

    /// Job-run calls the operator made about `vc` (every one of them is a call on `vc`).
    async fn job_run_calls(&self, vc: &str) -> Vec<Value> {
        let mut all = Vec::new();
        for op in JOB_RUN_CALLS {
            all.extend(self.calls(vc, op).await);
        }
        all
    }

    /// A job template in the emulator, run by `role` (may hold `${param}`s), with `params`
    /// declared (name, default).
    async fn job_template(&self, role: &str, params: &[(&str, Option<&str>)]) -> String {
        let driver = JobDriver::builder()
            .spark_submit_job_driver(
                SparkSubmitJobDriver::builder()
                    .entry_point(SEED_ENTRY_POINT)
                    .spark_submit_parameters(SEED_PARAMETERS)
                    .build()
                    .unwrap(),
            )
            .build();
        let mut data = JobTemplateData::builder()
            .execution_role_arn(role)
            .release_label("emr-6.15.0-latest")
            .job_driver(driver)
            .job_tags("emulator/run-seconds", "1");
        for (name, default) in params {
            data = data.parameter_configuration(
                *name,
                TemplateParameterConfiguration::builder()
                    .r#type("STRING".into())
                    .set_default_value(default.map(str::to_owned))
                    .build(),
            );
        }
        let name = self.bed.unique("tmpl");
        self.bed
            .aws
            .emr
            .client()
            .create_job_template()
            .name(&name)
            .client_token(&name)
            .job_template_data(data.build().unwrap())
            .send()
            .await
            .expect("create job template")
            .id
            .unwrap()
    }
}

fn has_job_run(job: &SparkJobRun) -> bool {
    status_of(job).job_run_id.is_some()
}

fn condition_reason(job: &SparkJobRun, type_: &str) -> Option<String> {
    condition::find(&status_of(job).conditions, type_).map(|c| c.reason.clone())
}

#[tokio::test]
async fn a_forged_status_never_reaches_another_tenants_virtual_cluster() {
    let t = Test::start("sjr-forge", &[]).await;
    let (a, b) = tokio::join!(t.virtual_cluster("tenant-a"), t.virtual_cluster("tenant-b"));

    // Tenant A's job run, started in A's virtual cluster by tenant A's own tooling: nothing in
    // this operator has any business calling A's virtual cluster about job runs.
    let a_run = t
        .bed
        .aws
        .emr
        .client()
        .start_job_run()
        .virtual_cluster_id(&a.id)
        .name("tenant-a-nightly")
        .client_token(t.bed.unique("a-token"))
        .execution_role_arn(&a.role_arn)
        .release_label("emr-6.15.0-latest")
        .job_driver(
            JobDriver::builder()
                .spark_submit_job_driver(
                    SparkSubmitJobDriver::builder()
                        .entry_point(SEED_ENTRY_POINT)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .tags("emulator/run-seconds", "45")
        .send()
        .await
        .expect("tenant A's job run")
        .id
        .unwrap();

    // Tenant B's jobs: one left to finish, one with a deadline, one deleted; each gets a status
    // naming A's virtual cluster and running job run once its own run has started.
    t.apply_job(&b, "finishes", &[("emulator/run-seconds", "15")], "")
        .await;
    t.apply_job(
        &b,
        "deadline",
        &[("emulator/run-seconds", "120")],
        "  activeDeadlineSeconds: 12\n",
    )
    .await;
    t.apply_job(&b, "deleted", &[("emulator/run-seconds", "300")], "")
        .await;
    t.apply_job(&b, "recorded", &[("emulator/run-seconds", "15")], "")
        .await;
    let mut own_runs = BTreeMap::new();
    for name in ["finishes", "deadline", "deleted", "recorded"] {
        let job = t
            .wait_job(&b, name, 60, "B's job started", has_job_run)
            .await;
        own_runs.insert(name, status_of(&job).job_run_id.unwrap());
    }
    let forged = json!({
        "virtualClusterId": a.id,
        "jobRunId": a_run,
        "state": "RUNNING",
        "arn": format!("arn:aws:emr-containers:us-east-1:123456789012:/virtualclusters/{}/jobruns/{a_run}", a.id),
    });
    for name in ["finishes", "deadline", "deleted"] {
        t.forge_status(&b, name, forged.clone()).await;
    }
    // "Attempt recorded, not started yet", in A's virtual cluster: a StartJobRun would go there.
    t.forge_status(
        &b,
        "recorded",
        json!({"virtualClusterId": a.id, "jobRunId": null, "state": null}),
    )
    .await;
    t.jobs(&b)
        .delete("deleted", &DeleteParams::default())
        .await
        .expect("delete");

    // Each forged object says so, with a Warning Event, and goes on with its own run.
    for name in ["finishes", "deadline", "recorded"] {
        let job = t
            .wait_job(&b, name, 30, "StatusNotOwned recorded", |j| {
                condition_reason(j, types::STATUS_NOT_OWNED).as_deref()
                    == Some(reasons::FORGED_STATUS)
            })
            .await;
        let message = condition::find(&status_of(&job).conditions, types::STATUS_NOT_OWNED)
            .map(|c| c.message.clone())
            .unwrap_or_default();
        assert!(message.contains(&a.id), "{message}");
        let events = t.events_until(&b, name, reasons::FORGED_STATUS).await;
        assert!(
            events
                .iter()
                .any(|e| e.reason.as_deref() == Some(reasons::FORGED_STATUS)
                    && e.type_.as_deref() == Some("Warning")),
            "{events:#?}"
        );
    }
    for name in ["finishes", "recorded"] {
        let finished_job = t.wait_job(&b, name, 60, "finished", finished).await;
        assert!(
            is_true(&finished_job, types::SUCCEEDED),
            "{name}: {:#?}",
            finished_job.status
        );
        assert_eq!(
            status_of(&finished_job).job_run_id.as_ref(),
            own_runs.get(name)
        );
        assert_eq!(
            status_of(&finished_job).virtual_cluster_id.as_ref(),
            Some(&b.id)
        );
    }
    let deadline_job = t
        .wait_job(&b, "deadline", 60, "deadline finished", finished)
        .await;
    assert_eq!(
        cond(&deadline_job, types::FAILED),
        Some((ConditionStatus::True, reasons::DEADLINE_EXCEEDED.into()))
    );
    assert_eq!(
        status_of(&deadline_job).job_run_id.as_ref(),
        own_runs.get("deadline")
    );
    wait_gone(
        &t.jobs(&b),
        "deleted",
        Duration::from_secs(60),
        "the forged object deleted",
    )
    .await;

    // B's own runs: exactly one per object (re-found by client token, never started again),
    // and the deleted and timed-out ones cancelled there.
    let requests = t.bed.emulator.start_job_run_requests(Some(&b.id)).await;
    let started = started_ids(&requests);
    assert_eq!(
        started,
        own_runs.values().cloned().collect::<BTreeSet<_>>(),
        "{requests:#?}"
    );
    let cancelled: BTreeSet<String> = t
        .calls(&b.id, "CancelJobRun")
        .await
        .iter()
        .filter_map(|c| c["jobRunId"].as_str().map(str::to_owned))
        .collect();
    assert!(cancelled.contains(&own_runs["deleted"]), "{cancelled:?}");
    assert!(cancelled.contains(&own_runs["deadline"]), "{cancelled:?}");

    // Nothing about job runs was ever asked of A's virtual cluster (checked before this test
    // itself describes A's run).
    let calls_on_a = t.job_run_calls(&a.id).await;
    assert!(
        calls_on_a.is_empty(),
        "calls on tenant A's cluster: {calls_on_a:#?}"
    );
    let starts_on_a = t.bed.emulator.start_job_run_requests(Some(&a.id)).await;
    assert_eq!(starts_on_a.len(), 1, "only A's own: {starts_on_a:#?}");

    // A's job goes on to complete.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let run = t
            .bed
            .aws
            .emr
            .describe_job_run(&a.id, &a_run)
            .await
            .expect("describe A's run");
        assert_ne!(
            run.state.as_str(),
            "CANCELLED",
            "tenant A's run was cancelled"
        );
        assert_ne!(
            run.state.as_str(),
            "CANCEL_PENDING",
            "tenant A's run was cancelled"
        );
        if run.state.as_str() == "COMPLETED" {
            break;
        }
        assert!(Instant::now() < deadline, "A's run is still {}", run.state);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn a_forged_job_run_in_the_own_virtual_cluster_is_not_adopted() {
    // The same tenant's cluster, another object's run: still not this object's to track.
    let t = Test::start("sjr-forge-own", &[]).await;
    let vc = t.virtual_cluster("forge-own").await;
    t.apply_job(&vc, "victim", &[("emulator/run-seconds", "20")], "")
        .await;
    t.apply_job(&vc, "intruder", &[("emulator/run-seconds", "4")], "")
        .await;
    let victim = t
        .wait_job(&vc, "victim", 60, "victim started", has_job_run)
        .await;
    let intruder = t
        .wait_job(&vc, "intruder", 60, "intruder started", has_job_run)
        .await;
    let victim_run = status_of(&victim).job_run_id.unwrap();
    let intruder_run = status_of(&intruder).job_run_id.unwrap();
    t.forge_status(&vc, "intruder", json!({"jobRunId": victim_run}))
        .await;
    let intruder = t
        .wait_job(&vc, "intruder", 60, "intruder finished", finished)
        .await;
    assert!(
        is_true(&intruder, types::SUCCEEDED),
        "{:#?}",
        intruder.status
    );
    assert_eq!(status_of(&intruder).job_run_id, Some(intruder_run));
    assert_eq!(
        condition_reason(&intruder, types::STATUS_NOT_OWNED).as_deref(),
        Some(reasons::FORGED_STATUS)
    );
    let victim = t
        .wait_job(&vc, "victim", 60, "victim finished", finished)
        .await;
    assert!(is_true(&victim, types::SUCCEEDED), "{:#?}", victim.status);
    assert_eq!(status_of(&victim).job_run_id, Some(victim_run));
    assert!(t.calls(&vc.id, "CancelJobRun").await.is_empty());
}

#[tokio::test]
async fn a_moved_attempt_number_never_leaves_two_active_runs() {
    // Status rewritten to "the next attempt is recorded" while the run goes on: the operator
    // starts that attempt, but first cancels the run it can no longer see through status.
    let t = Test::start("sjr-forge-attempt", &[]).await;
    let vc = t.virtual_cluster("forge-attempt").await;
    t.apply_job(&vc, "mover", &[("emulator/run-seconds", "60")], "")
        .await;
    let job = t
        .wait_job(&vc, "mover", 60, "mover started", has_job_run)
        .await;
    let first = status_of(&job).job_run_id.unwrap();
    let attempt = status_of(&job).attempt;
    t.forge_status(
        &vc,
        "mover",
        json!({"attempt": attempt + 1, "jobRunId": null, "state": null, "arn": null}),
    )
    .await;
    let first_run = first.clone();
    let job = t
        .wait_job(&vc, "mover", 60, "a run for the moved attempt", move |j| {
            status_of(j)
                .job_run_id
                .as_deref()
                .is_some_and(|id| id != first_run)
        })
        .await;
    let second = status_of(&job).job_run_id.unwrap();
    let cancelled: BTreeSet<String> = t
        .calls(&vc.id, "CancelJobRun")
        .await
        .iter()
        .filter_map(|c| c["jobRunId"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(cancelled, BTreeSet::from([first.clone()]), "{second}");
    let events = t.events_until(&vc, "mover", "StrayJobRunCancelled").await;
    assert!(
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some("StrayJobRunCancelled")),
        "{events:#?}"
    );
    let started = started_ids(&t.bed.emulator.start_job_run_requests(Some(&vc.id)).await);
    assert_eq!(started, BTreeSet::from([first, second]));
}

#[tokio::test]
async fn job_templates_cannot_run_a_job_as_a_role_the_virtual_cluster_does_not_allow() {
    let t = Test::start("sjr-tmpl", &[]).await;
    let vc = t.virtual_cluster("tmpl").await;
    let foreign_role = "arn:aws:iam::123456789012:role/someone-elses-admin";

    let allowed = t.job_template(&vc.role_arn, &[]).await;
    let forbidden = t.job_template(foreign_role, &[]).await;
    let by_parameter = t.job_template("${role}", &[("role", None)]).await;
    let by_default = t
        .job_template("${role}", &[("role", Some(foreign_role))])
        .await;

    let spec = |template: &str, params: &str| format!("  jobTemplateId: {template}\n{params}");
    t.apply_job(&vc, "allowed", &[], &spec(&allowed, "")).await;
    t.apply_job(&vc, "forbidden", &[], &spec(&forbidden, ""))
        .await;
    t.apply_job(
        &vc,
        "param-forbidden",
        &[],
        &spec(
            &by_parameter,
            &format!("  jobTemplateParameters: {{role: \"{foreign_role}\"}}\n"),
        ),
    )
    .await;
    t.apply_job(
        &vc,
        "param-allowed",
        &[],
        &spec(
            &by_parameter,
            &format!("  jobTemplateParameters: {{role: \"{}\"}}\n", vc.role_arn),
        ),
    )
    .await;
    t.apply_job(&vc, "default-forbidden", &[], &spec(&by_default, ""))
        .await;
    t.apply_job(&vc, "unknown", &[], &spec("nosuchtemplate00000000000", ""))
        .await;

    for name in ["allowed", "param-allowed"] {
        let job = t.wait_job(&vc, name, 60, "finished", finished).await;
        assert!(is_true(&job, types::SUCCEEDED), "{name}: {:#?}", job.status);
    }
    for (name, reason) in [
        ("forbidden", reasons::EXECUTION_ROLE_NOT_ALLOWED),
        ("param-forbidden", reasons::EXECUTION_ROLE_NOT_ALLOWED),
        ("default-forbidden", reasons::EXECUTION_ROLE_NOT_ALLOWED),
        ("unknown", reasons::JOB_TEMPLATE_NOT_FOUND),
    ] {
        let job = t.wait_job(&vc, name, 60, "refused", finished).await;
        assert_eq!(
            cond(&job, types::FAILED),
            Some((ConditionStatus::True, reason.into())),
            "{name}: {:#?}",
            job.status
        );
        assert_eq!(status_of(&job).job_run_id, None, "{name}");
    }
    let message = status_of(&t.jobs(&vc).get("forbidden").await.unwrap())
        .message
        .unwrap_or_default();
    assert!(message.contains(foreign_role), "{message}");

    // Only the allowed ones ever reached StartJobRun; their runs ran as the template said.
    let requests = t.bed.emulator.start_job_run_requests(Some(&vc.id)).await;
    let names: BTreeSet<String> = requests
        .iter()
        .filter_map(|r| r["body"]["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["allowed".to_string(), "param-allowed".to_string()]),
        "{requests:#?}"
    );
    let run_id = status_of(&t.jobs(&vc).get("param-allowed").await.unwrap())
        .job_run_id
        .unwrap();
    let run = t
        .bed
        .aws
        .emr
        .client()
        .describe_job_run()
        .virtual_cluster_id(&vc.id)
        .id(&run_id)
        .send()
        .await
        .expect("describe");
    assert_eq!(
        run.job_run().and_then(|r| r.execution_role_arn()),
        Some(vc.role_arn.as_str())
    );
}
