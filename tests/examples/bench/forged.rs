//! The hostile scenario's "forged status" category: valid SparkJobRuns whose status is then
//! written (as anyone with `sparkjobruns/status` may) to name a virtual cluster and job runs
//! of a tenant outside the fleet. Some are left to finish, some run into their deadline, some are
//! deleted, some are forged back to "attempt recorded, not yet started" in the victim's cluster.
//!
//! Invariant: no AWS call on the victim's resources. The victim's virtual cluster holds no
//! SparkJobRun, so every ListJobRuns, DescribeJobRun, CancelJobRun or StartJobRun there (other
//! than the driver's own starts) came from a forged status. Also: the victim's runs are not
//! cancelled, every forged object says so (StatusNotOwned) and goes on with its own single job
//! run, and every deleted one goes away.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use emr_aws::CreateVirtualClusterRequest;
use emr_aws::aws_sdk_emrcontainers::types::{JobDriver, SparkSubmitJobDriver};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde::Serialize;
use serde_json::{Value, json};

use crate::Res;
use crate::fleet::{self, EKS_CLUSTER, Fleet, spark_job_runs};

/// The category's name in reports.
pub const CATEGORY: &str = "forged-status";
/// How the status of object k is forged, and what then happens to it (`VARIANTS[k % 4]`).
const VARIANTS: [&str; 4] = ["running", "deadline", "deleted", "submitting"];
/// The victim's own job runs.
const VICTIM_RUNS: usize = 4;
const JOB_RUN_CALLS: [&str; 3] = ["ListJobRuns", "DescribeJobRun", "CancelJobRun"];

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ForgedReport {
    pub objects: usize,
    pub victim_virtual_cluster_id: String,
    /// Objects whose status was forged while their run was active (the rest had finished).
    pub forged: usize,
    /// Forged objects whose status shows StatusNotOwned.
    pub flagged: usize,
    pub deleted: usize,
    pub deleted_gone: usize,
    /// Job-run calls on the victim's virtual cluster (ListJobRuns, DescribeJobRun, CancelJobRun,
    /// StartJobRun beyond the victim's own): must be 0.
    pub calls_on_victim: usize,
    pub victim_runs_cancelled: usize,
    /// Objects with more than one job run in EMR.
    pub duplicated: usize,
    pub violations: usize,
    pub by_variant: BTreeMap<String, usize>,
    pub notes: Vec<String>,
}

fn variant(k: usize) -> &'static str {
    VARIANTS[k % VARIANTS.len()]
}

/// Runs the category with `n` objects.
pub async fn run(fleet: &Fleet, n: usize, concurrency: usize) -> Res<ForgedReport> {
    let bed = fleet.bed;
    bed.emulator.clear_faults().await;
    let mut report = ForgedReport {
        objects: n,
        ..Default::default()
    };
    let victim_vc = victim_virtual_cluster(fleet).await?;
    let victim_runs = victim_runs(fleet, &victim_vc).await?;
    report.victim_virtual_cluster_id = victim_vc.clone();

    let names: Vec<String> = (0..n)
        .map(|k| format!("forged-{k:04}-{}", variant(k)))
        .collect();
    let manifests: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let mut m = fleet.job(k, name);
            let run_seconds = match variant(k) {
                "deadline" => 90,
                "deleted" => 300,
                _ => 30,
            };
            m["spec"]["tags"]["emulator/run-seconds"] = json!(run_seconds.to_string());
            if variant(k) == "deadline" {
                m["spec"]["activeDeadlineSeconds"] = json!(8);
            }
            m
        })
        .collect();
    let applied = fleet::apply_all(bed, manifests, concurrency).await;
    if applied.stored != n {
        report.notes.push(format!(
            "{} of {n} forged-status objects stored: {:?} {:?}",
            applied.stored, applied.rejected, applied.failed
        ));
    }

    // Forge each object once its own run has started.
    let (all, ar) = spark_job_runs(bed);
    let mut pending: BTreeSet<String> = names.iter().cloned().collect();
    let deadline = Instant::now() + Duration::from_secs(180);
    while !pending.is_empty() && Instant::now() < deadline {
        for obj in list(&all, fleet).await? {
            let name = obj.metadata.name.clone().unwrap_or_default();
            let status = obj.data.get("status").cloned().unwrap_or(Value::Null);
            if !pending.contains(&name) || status["jobRunId"].as_str().is_none() {
                continue;
            }
            pending.remove(&name);
            let k: usize = name.get(7..11).and_then(|d| d.parse().ok()).unwrap_or(0);
            let victim_run = &victim_runs[k % victim_runs.len()];
            let forged = if variant(k) == "submitting" {
                json!({"virtualClusterId": victim_vc, "jobRunId": null, "state": null})
            } else {
                json!({"virtualClusterId": victim_vc, "jobRunId": victim_run, "state": "RUNNING"})
            };
            let active = !matches!(
                status["state"].as_str(),
                Some("COMPLETED" | "FAILED" | "CANCELLED")
            );
            let ns = obj.metadata.namespace.clone().unwrap_or_default();
            let api: Api<DynamicObject> = Api::namespaced_with(bed.client.clone(), &ns, &ar);
            let patch = json!({ "status": forged });
            api.patch_status(
                &name,
                &PatchParams {
                    field_manager: Some("forger".into()),
                    ..Default::default()
                },
                &Patch::Merge(&patch),
            )
            .await
            .map_err(|e| format!("forge the status of {ns}/{name}: {e}"))?;
            if active {
                report.forged += 1;
                *report.by_variant.entry(variant(k).into()).or_default() += 1;
            }
            if variant(k) == "deleted" {
                report.deleted += 1;
                api.delete(&name, &DeleteParams::default())
                    .await
                    .map_err(|e| format!("delete {ns}/{name}: {e}"))?;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if !pending.is_empty() {
        report.notes.push(format!(
            "{} objects never showed a job run id, so were not forged",
            pending.len()
        ));
    }

    // Until every forged object has finished with its own run, or is gone.
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut objects;
    loop {
        objects = list(&all, fleet).await?;
        let settled = objects.iter().all(|o| {
            let conditions = o.data["status"]["conditions"].as_array().cloned();
            conditions.unwrap_or_default().iter().any(|c| {
                (c["type"] == "Succeeded" || c["type"] == "Failed") && c["status"] == "True"
            })
        });
        let deleted_left = objects
            .iter()
            .filter(|o| {
                o.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.ends_with("deleted"))
            })
            .count();
        if (settled && deleted_left == 0) || Instant::now() > deadline {
            report.deleted_gone = report.deleted.saturating_sub(deleted_left);
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    report.flagged = objects
        .iter()
        .filter(|o| {
            o.data["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "StatusNotOwned" && c["status"] == "True")
            })
        })
        .count();
    // Deleted objects cannot show the condition any more; count them as flagged when gone.
    report.flagged += report.deleted_gone;

    // The invariant, from the emulator's call log (before the driver itself describes anything).
    for op in JOB_RUN_CALLS {
        report.calls_on_victim += bed
            .emulator
            .calls(&[
                ("service", "emr-containers"),
                ("operation", op),
                ("virtualClusterId", &victim_vc),
            ])
            .await
            .len();
    }
    let starts = bed.emulator.start_job_run_requests(Some(&victim_vc)).await;
    report.calls_on_victim += starts.len().saturating_sub(VICTIM_RUNS);
    for run in &victim_runs {
        let state = bed
            .aws
            .emr
            .describe_job_run(&victim_vc, run)
            .await
            .map(|r| r.state.as_str().to_owned())
            .unwrap_or_else(|e| e.to_string());
        if state == "CANCELLED" || state == "CANCEL_PENDING" {
            report.victim_runs_cancelled += 1;
        }
    }
    let mut runs_by_name: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for t in &fleet.tenants {
        for r in bed.emulator.start_job_run_requests(Some(&t.vc_id)).await {
            if let (Some(name), Some(id)) = (r["body"]["name"].as_str(), r["jobRunId"].as_str())
                && name.starts_with("forged-")
            {
                runs_by_name
                    .entry(name.to_owned())
                    .or_default()
                    .insert(id.to_owned());
            }
        }
    }
    report.duplicated = runs_by_name.values().filter(|ids| ids.len() > 1).count();
    report.violations = report.calls_on_victim
        + report.victim_runs_cancelled
        + report.duplicated
        + report.forged.saturating_sub(report.flagged)
        + report.deleted.saturating_sub(report.deleted_gone);

    // Leave nothing behind for later scenarios.
    for o in objects {
        let ns = o.metadata.namespace.clone().unwrap_or_default();
        let name = o.metadata.name.clone().unwrap_or_default();
        let api: Api<DynamicObject> = Api::namespaced_with(bed.client.clone(), &ns, &ar);
        let _ = api.delete(&name, &DeleteParams::default()).await;
    }
    Ok(report)
}

async fn list(all: &Api<DynamicObject>, fleet: &Fleet) -> Res<Vec<DynamicObject>> {
    let mut found = Vec::new();
    let mut lp = ListParams::default().labels(&fleet.selector()).limit(500);
    loop {
        let page = all
            .list(&lp)
            .await
            .map_err(|e| format!("list SparkJobRuns: {e}"))?;
        let next = page.metadata.continue_.clone();
        found.extend(page.items.into_iter().filter(|o| {
            o.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("forged-"))
        }));
        match next {
            Some(token) if !token.is_empty() => lp = lp.continue_token(&token),
            _ => return Ok(found),
        }
    }
}

/// A virtual cluster of a tenant outside the fleet, made directly in EMR: no SparkJobRun of
/// the operator's may ever touch it.
async fn victim_virtual_cluster(fleet: &Fleet) -> Res<String> {
    let namespace = format!("{}-victim", fleet.test_id);
    let created = fleet
        .bed
        .aws
        .emr
        .create_virtual_cluster(&CreateVirtualClusterRequest {
            name: namespace.clone(),
            eks_cluster_name: EKS_CLUSTER.into(),
            namespace: namespace.clone(),
            client_token: namespace,
            tags: BTreeMap::new(),
            security_configuration_id: None,
        })
        .await
        .map_err(|e| format!("create the victim's virtual cluster: {e}"))?;
    Ok(created.id)
}

/// The victim's long-running job runs.
async fn victim_runs(fleet: &Fleet, vc: &str) -> Res<Vec<String>> {
    let role = fleet
        .tenants
        .first()
        .map(|t| t.role_arn.clone())
        .unwrap_or_default();
    let mut ids = Vec::new();
    for i in 0..VICTIM_RUNS {
        let name = format!("victim-{i}");
        let out = fleet
            .bed
            .aws
            .emr
            .client()
            .start_job_run()
            .virtual_cluster_id(vc)
            .name(&name)
            .client_token(format!("{}-{name}", fleet.test_id))
            .execution_role_arn(&role)
            .release_label("emr-6.15.0-latest")
            .job_driver(
                JobDriver::builder()
                    .spark_submit_job_driver(
                        SparkSubmitJobDriver::builder()
                            .entry_point("local:///usr/lib/spark/examples/src/main/python/pi.py")
                            .build()
                            .map_err(|e| e.to_string())?,
                    )
                    .build(),
            )
            .tags("emulator/run-seconds", "900")
            .send()
            .await
            .map_err(|e| format!("start the victim's job run {name}: {e:?}"))?;
        ids.push(out.id.unwrap_or_default());
    }
    Ok(ids)
}
