//! The benchmark's tenants: VirtualClusters (each with its own namespace and job role) on one
//! EKS cluster, and the SparkJobRun manifests spread over them.

use std::time::{Duration, Instant};

use emr_operator_tests::{Bed, Operator, TEST_LABEL};
use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use crate::observe::now;
use crate::{Res, Settings};

/// The field manager the driver applies with.
pub const MANAGER: &str = "emr-bench";
pub const EKS_CLUSTER: &str = "bench-eks";

/// One team: a VirtualCluster, its namespace and its job role.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub vc_name: String,
    pub namespace: String,
    pub role_arn: String,
    pub vc_id: String,
}

/// The tenants, the operator that serves them, and the label that ties them together.
pub struct Fleet {
    pub bed: &'static Bed,
    pub test_id: String,
    pub tenants: Vec<Tenant>,
    pub settings: Settings,
}

pub fn spark_job_runs(bed: &Bed) -> (Api<DynamicObject>, ApiResource) {
    let ar = ApiResource::erase::<emr_api::SparkJobRun>(&());
    (Api::all_with(bed.client.clone(), &ar), ar)
}

fn virtual_clusters(bed: &Bed) -> Api<DynamicObject> {
    let ar = ApiResource::erase::<emr_api::VirtualCluster>(&());
    Api::all_with(bed.client.clone(), &ar)
}

/// Starts the operator and creates `settings.virtual_clusters` Ready VirtualClusters.
pub async fn setup(bed: &'static Bed, settings: &Settings) -> Res<(Fleet, Operator)> {
    let test_id = bed.unique("bench");
    let args: Vec<&str> = settings.operator_args.iter().map(String::as_str).collect();
    eprintln!("bench: starting the operator ({})", args.join(" "));
    let operator = bed.start_operator(&test_id, &args).await;
    let tenants = create_tenants(bed, settings, &test_id, &|_| json!({}), &|| {
        operator.log_tail(30)
    })
    .await?;
    Ok((
        Fleet {
            bed,
            test_id,
            tenants,
            settings: settings.clone(),
        },
        operator,
    ))
}

/// Creates `settings.virtual_clusters` VirtualClusters labelled `<label>=<test_id>` plus
/// `extra_labels(i)` (a JSON object) and waits until they are Ready; `operator_log` says what
/// the operator logged when one is not.
pub async fn create_tenants(
    bed: &'static Bed,
    settings: &Settings,
    test_id: &str,
    extra_labels: &dyn Fn(usize) -> Value,
    operator_log: &dyn Fn() -> String,
) -> Res<Vec<Tenant>> {
    bed.eks_cluster(EKS_CLUSTER).await;
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }]
    });
    let mut tenants = Vec::new();
    for i in 0..settings.virtual_clusters {
        let role_arn = bed.iam_role(&format!("{test_id}-job-{i}"), &trust).await;
        tenants.push(Tenant {
            vc_name: format!("{test_id}-t{i}"),
            namespace: format!("{test_id}-t{i}"),
            role_arn,
            vc_id: String::new(),
        });
    }
    let vcs = virtual_clusters(bed);
    let pp = PatchParams::apply(MANAGER).force();
    for (i, t) in tenants.iter().enumerate() {
        let mut labels = json!({TEST_LABEL: test_id});
        if let (Some(labels), Some(extra)) = (labels.as_object_mut(), extra_labels(i).as_object()) {
            labels.extend(extra.clone());
        }
        let manifest = json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1",
            "kind": "VirtualCluster",
            "metadata": {"name": t.vc_name, "labels": labels},
            "spec": {
                "eksClusterName": EKS_CLUSTER,
                "namespace": {"name": t.namespace},
                "executionRoles": [{"arn": t.role_arn}],
            }
        });
        vcs.patch(&t.vc_name, &pp, &Patch::Apply(&manifest))
            .await
            .map_err(|e| format!("apply VirtualCluster {}: {e}", t.vc_name))?;
    }
    eprintln!(
        "bench: waiting for {} VirtualClusters to be Ready",
        tenants.len()
    );
    let deadline = Instant::now() + Duration::from_secs(180);
    for t in &mut tenants {
        loop {
            let obj = vcs
                .get_opt(&t.vc_name)
                .await
                .map_err(|e| format!("get VirtualCluster {}: {e}", t.vc_name))?;
            let status = obj
                .as_ref()
                .and_then(|o| o.data.get("status").cloned())
                .unwrap_or(Value::Null);
            let ready = status["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            });
            if let (true, Some(id)) = (ready, status["virtualClusterId"].as_str()) {
                t.vc_id = id.to_string();
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "VirtualCluster {} not Ready within 180 s; status: {status}\noperator log:\n{}",
                    t.vc_name,
                    operator_log()
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    Ok(tenants)
}

impl Fleet {
    /// `<label>=<test id>`, the selector of everything this run made.
    pub fn selector(&self) -> String {
        format!("{TEST_LABEL}={}", self.test_id)
    }

    /// A valid SparkJobRun for tenant `i % tenants`: a short pi.py whose emulator timings come
    /// from the settings.
    pub fn job(&self, i: usize, name: &str) -> Value {
        self.job_for(i % self.tenants.len(), name)
    }

    /// A valid SparkJobRun for tenant `tenant` (an index into `tenants`).
    pub fn job_for(&self, tenant: usize, name: &str) -> Value {
        let i = tenant;
        let t = &self.tenants[i % self.tenants.len()];
        let s = &self.settings;
        let mut job = json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1",
            "kind": "SparkJobRun",
            "metadata": {
                "name": name,
                "namespace": t.namespace,
                "labels": {TEST_LABEL: self.test_id},
            },
            "spec": {
                "virtualCluster": {"name": t.vc_name},
                "executionRoleArn": t.role_arn,
                "releaseLabel": "emr-6.15.0-latest",
                "jobDriver": {"sparkSubmitJobDriver": {
                    "entryPoint": "local:///usr/lib/spark/examples/src/main/python/pi.py",
                    "entryPointArguments": ["100"],
                    "sparkSubmitParameters": "--conf spark.executor.instances=2 --conf spark.executor.memory=2G",
                }},
                "tags": {
                    "team": format!("t{}", i % self.tenants.len()),
                    "emulator/pending-seconds": s.pending_seconds.to_string(),
                    "emulator/submitted-seconds": s.submitted_seconds.to_string(),
                    "emulator/run-seconds": s.run_seconds.to_string(),
                },
            }
        });
        if s.last_applied {
            // What client-side `kubectl apply` adds: the applied manifest itself, compact.
            let copy = job.to_string();
            job["metadata"]["annotations"] =
                json!({"kubectl.kubernetes.io/last-applied-configuration": copy});
        }
        job
    }

    /// `n` valid jobs named `<prefix>-00000`...
    pub fn jobs(&self, prefix: &str, n: usize) -> Vec<Value> {
        (0..n)
            .map(|i| self.job(i, &format!("{prefix}-{i:05}")))
            .collect()
    }
}

/// What applying a batch did.
#[derive(Clone, Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    /// Objects the apiserver stored.
    pub stored: usize,
    /// Objects the apiserver refused, with its answer: (name, HTTP code, message).
    pub rejected: Vec<(String, u16, String)>,
    /// Objects that could not be applied at all (transport errors until the retry budget ran out).
    pub failed: Vec<(String, String)>,
    /// Write requests the driver sent (retries included), to subtract from apiserver counts.
    pub requests: usize,
    /// When the first request was sent and the last answered (epoch seconds).
    pub started: f64,
    pub finished: f64,
}

enum One {
    Stored,
    Rejected(u16, String),
    Failed(String),
}

/// Server-side applies every manifest, `concurrency` at a time. Transport errors and 429/5xx
/// answers (an apiserver restarting) are retried for up to 120 s; refusals are final.
pub async fn apply_all(bed: &Bed, manifests: Vec<Value>, concurrency: usize) -> Applied {
    let (_, ar) = spark_job_runs(bed);
    let started = now();
    let results: Vec<(String, One, usize)> = futures::stream::iter(manifests)
        .map(|m| {
            let ar = ar.clone();
            async move {
                let name = m["metadata"]["name"].as_str().unwrap_or("").to_string();
                let ns = m["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                let api: Api<DynamicObject> = Api::namespaced_with(bed.client.clone(), &ns, &ar);
                let pp = PatchParams::apply(MANAGER).force();
                let deadline = Instant::now() + Duration::from_secs(120);
                let mut requests = 0;
                loop {
                    requests += 1;
                    match api.patch(&name, &pp, &Patch::Apply(&m)).await {
                        Ok(_) => return (name, One::Stored, requests),
                        // 1.20 answers a server-side apply of a mistyped field with a 500
                        // ("failed to create typed patch object"): a refusal, not an outage.
                        Err(kube::Error::Api(status))
                            if !matches!(status.code, 429 | 500 | 502 | 503 | 504)
                                || status.message.contains("typed patch object") =>
                        {
                            return (name, One::Rejected(status.code, status.message), requests);
                        }
                        Err(e) if Instant::now() > deadline => {
                            return (name, One::Failed(e.to_string()), requests);
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                    }
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut applied = Applied {
        started,
        finished: now(),
        ..Default::default()
    };
    for (name, one, requests) in results {
        applied.requests += requests;
        match one {
            One::Stored => applied.stored += 1,
            One::Rejected(code, message) => applied.rejected.push((name, code, message)),
            One::Failed(e) => applied.failed.push((name, e)),
        }
    }
    applied
}
