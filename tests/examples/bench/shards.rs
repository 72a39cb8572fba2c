//! The `shards` scenario: the operator scaled out by `--selector`.
//!
//! Two shards share one EKS cluster, each an operator deployment of two replicas (two processes
//! with the same selector and a Lease of their own: one leads, one stands by). The even
//! VirtualClusters and their jobs are labelled `shard=a`, the odd ones `shard=b`; one burst of N
//! jobs goes to both at once. Reported: the burst's totals (as `scale` reports them), the same
//! figures per shard, CPU and memory per process, which replica led, and whether any object was
//! touched by both shards, from three records that do not depend on each other:
//!
//! - the emulator's call log: each replica signs its AWS calls with its own access key, so a
//!   call on the other shard's virtual cluster (or one of its job runs) is a cross-shard touch;
//! - each replica reaches the apiserver through a TLS-terminating proxy of its own that logs its
//!   write requests: a write whose path names an object of the other shard (its SparkJobRuns or
//!   anything else in its namespaces, its VirtualClusters, its Lease) is one;
//! - the Events stored in the apiserver name the replica that reported them
//!   (`reportingInstance`): an Event about the other shard's object is one.
//!
//! Cluster-wide objects both shards use by design (kube-system/aws-auth, the EKS cluster, the
//! IAM and STS calls that name no virtual cluster) are counted per shard, not as touches.
//! Within a shard the two replicas must never act at the same time: their AWS calls and writes
//! (Lease writes aside) must not overlap in time. managedFields cannot tell shards apart (every
//! replica writes with the same field manager), so they are not used.
//!
//! `BENCH_SHARDS_WRITE_LOG=0` connects the replicas to the apiserver directly (no proxy): the
//! write figures per shard and the write record are then not measured.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use emr_operator_tests::apiserver_proxy::{ApiserverProxy, WriteRequest};
use emr_operator_tests::{Bed, Operator, TEST_LABEL, testbed_dir, testbed_pki};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event as KubeEvent;
use kube::api::{Api, ListParams};
use serde::Serialize;
use serde_json::{Value, json};

use crate::apiserver::{ApiserverAccess, RequestCounter};
use crate::fleet::{self, Fleet};
use crate::observe::{Observer, Seen, now};
use crate::procstat::{Finder, Machine, Sampler, round1, round3};
use crate::scenarios::{self, Calls, Rig, RunResult};
use crate::stats::Dist;
use crate::verify;
use crate::{Res, Settings};

/// The label that puts a VirtualCluster and its jobs in a shard.
pub const SHARD_LABEL: &str = "shard";
const SHARDS: [&str; 2] = ["a", "b"];
/// Replicas per shard: the leader and one standby.
const REPLICAS: usize = 2;
/// The Events the operator reports carry this `reportingController`.
const REPORTING_CONTROLLER: &str = "emr-on-eks-operator";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The shard of VirtualCluster (tenant) `i`.
fn shard_of_tenant(i: usize) -> &'static str {
    SHARDS[i % SHARDS.len()]
}

/// Everything the scenario measures beyond the burst's totals.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShardsReport {
    pub shards: Vec<ShardFigures>,
    pub replicas: Vec<ReplicaFigures>,
    pub separation: Separation,
    /// Whether the replicas' apiserver traffic went through the logging proxies.
    pub write_log: bool,
}

/// One shard: its objects, its jobs' figures, its operator deployment.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShardFigures {
    pub shard: String,
    pub selector: String,
    pub lease: String,
    pub virtual_clusters: Vec<String>,
    pub jobs: usize,
    pub with_job_run_id: usize,
    pub completed: usize,
    /// Seconds from the burst's first apply request (both shards share it).
    pub all_job_run_ids_seconds: Option<f64>,
    pub all_completed_seconds: Option<f64>,
    pub submitted_per_minute: Option<f64>,
    pub time_to_job_run_id: Dist,
    pub time_to_completed: Dist,
    /// Status lag of the job run id and of the final state (see `verify::LAG_DEFINITION`).
    pub job_run_id_lag: Dist,
    pub final_lag: Dist,
    /// EMR job-run calls on the shard's virtual clusters during the burst.
    pub emr_calls: Calls,
    /// The shard's replicas' writes to SparkJobRuns (objects and status) and Events during the
    /// burst, per job (from the write log; none without it).
    pub spark_job_run_writes_per_job: Option<f64>,
    pub events_per_job: Option<f64>,
    /// The Lease's holder when the burst ended, and how often it changed hands.
    pub lease_holder: Option<String>,
    pub lease_transitions: Option<i32>,
    /// CPU of the shard's processes during the burst, and the highest peak RSS among them.
    pub operator_cpu_seconds: f64,
    pub operator_peak_rss_mib: f64,
}

/// One operator process.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaFigures {
    pub shard: String,
    pub identity: String,
    /// Started first and waited for until it led (the other one is started as the standby).
    pub started_as_leader: bool,
    /// `emr_operator_leader` when the burst ended.
    pub leader_at_end: bool,
    pub running_at_end: bool,
    /// CPU during the burst; RSS at its end; peak RSS over the process's life.
    pub cpu_seconds: f64,
    pub rss_mib: f64,
    pub peak_rss_mib: f64,
    /// AWS calls signed with its access key, since the operators started, by service/operation.
    pub aws_calls: u64,
    pub aws_calls_by_operation: BTreeMap<String, u64>,
    /// Its apiserver write requests since the operators started, by `resource[/subresource]
    /// METHOD` (from the write log; none without it).
    pub apiserver_writes: Option<BTreeMap<String, u64>>,
    /// Events stored in the apiserver with it as `reportingInstance`.
    pub events_reported: usize,
    /// Its first and last action (an AWS call, or a write other than to its Lease), in seconds
    /// from the burst's first apply request (negative: during setup).
    pub first_action_seconds: Option<f64>,
    pub last_action_seconds: Option<f64>,
}

/// Whether the shards kept to their own objects.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Separation {
    /// Objects of one shard touched by the other shard's replicas (AWS calls, apiserver writes,
    /// Events), counted per touch; 0 is the only good answer.
    pub cross_shard_touches: usize,
    pub cross_shard_touches_by_record: BTreeMap<String, usize>,
    /// Shards whose two replicas acted at the same time; 0 is the only good answer.
    pub overlapping_replicas: usize,
    /// `cross_shard_touches + overlapping_replicas`.
    pub violations: usize,
    /// Up to 20 examples, each naming the replica, the record and the object.
    pub examples: Vec<String>,
    /// What each record held: AWS calls by the replicas, write requests in the log, Events.
    pub aws_calls_checked: usize,
    pub writes_checked: usize,
    pub events_checked: usize,
    /// Cluster-wide objects both shards use by design: object -> shard -> writes.
    pub shared_writes: BTreeMap<String, BTreeMap<String, u64>>,
    /// AWS calls that name no virtual cluster (EKS, IAM, STS...): service/operation -> shard -> calls.
    pub shared_aws_calls: BTreeMap<String, BTreeMap<String, u64>>,
    /// Writes and calls whose object the check could not place (none expected), by path or
    /// call, up to 20 of each.
    pub unattributed: Vec<String>,
}

/// One operator process of a shard, with its proxy.
struct Replica {
    shard: &'static str,
    identity: String,
    started_as_leader: bool,
    operator: Operator,
    proxy: Option<ApiserverProxy>,
}

/// Which shard each object belongs to.
struct Owners {
    by_namespace: BTreeMap<String, &'static str>,
    by_virtual_cluster: BTreeMap<String, &'static str>,
    by_virtual_cluster_id: BTreeMap<String, &'static str>,
    by_lease: BTreeMap<String, &'static str>,
    lease_namespace: String,
}

/// Where a write request landed.
#[derive(Debug, PartialEq)]
enum Target {
    Shard(&'static str),
    /// A cluster-wide object both shards use by design.
    Shared(String),
    Unknown,
}

/// A request path's parts: `/api/v1[/namespaces/NS]/RESOURCE[/NAME[/SUB]]`, or the same under
/// `/apis/GROUP/VERSION`.
#[derive(Debug, Default, PartialEq)]
struct PathParts {
    namespace: Option<String>,
    resource: String,
    name: Option<String>,
    subresource: Option<String>,
}

fn parse_path(path: &str) -> PathParts {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let skip = match segments.first() {
        Some(&"api") => 2,
        Some(&"apis") => 3,
        _ => 0,
    };
    let rest = segments.get(skip..).unwrap_or_default();
    // `namespaces/NS/...` is a namespaced resource; `namespaces/NS` alone is the Namespace.
    let (namespace, rest) = match rest {
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => (Some(ns.to_string()), tail),
        _ => (None, rest),
    };
    PathParts {
        namespace,
        resource: rest.first().map(|s| s.to_string()).unwrap_or_default(),
        name: rest.get(1).map(|s| s.to_string()),
        subresource: rest.get(2).map(|s| s.to_string()),
    }
}

impl PathParts {
    /// `resource[/subresource] METHOD`, as the scale scenario counts writes.
    fn key(&self, method: &str) -> String {
        match &self.subresource {
            Some(sub) => format!("{}/{sub} {method}", self.resource),
            None => format!("{} {method}", self.resource),
        }
    }
}

impl Owners {
    fn target(&self, parts: &PathParts) -> Target {
        let named = |map: &BTreeMap<String, &'static str>| {
            parts
                .name
                .as_ref()
                .and_then(|n| map.get(n))
                .map_or(Target::Unknown, |s| Target::Shard(s))
        };
        let Some(ns) = &parts.namespace else {
            return match parts.resource.as_str() {
                "virtualclusters" => named(&self.by_virtual_cluster),
                "namespaces" => named(&self.by_namespace),
                _ => Target::Unknown,
            };
        };
        if let Some(shard) = self.by_namespace.get(ns) {
            return Target::Shard(shard);
        }
        if *ns == self.lease_namespace && parts.resource == "leases" {
            return match parts.name {
                Some(_) => named(&self.by_lease),
                None => Target::Shared(format!("{ns}/leases (create)")),
            };
        }
        if ns == "kube-system" {
            // Events about VirtualClusters (cluster-scoped) are written here; the Events
            // record places them by what they are about.
            return Target::Shared(match (&parts.name, parts.resource.as_str()) {
                (Some(name), resource) if resource != "events" => {
                    format!("{ns}/{resource}/{name}")
                }
                (_, resource) => format!("{ns}/{resource}"),
            });
        }
        Target::Unknown
    }
}

fn wants_write_log() -> bool {
    std::env::var("BENCH_SHARDS_WRITE_LOG").map_or(true, |v| v.trim() != "0")
}

async fn is_leader(metrics_url: &str) -> bool {
    let Ok(response) = reqwest::get(format!("{metrics_url}/metrics")).await else {
        return false;
    };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix("emr_operator_leader "))
        .any(|v| v.trim() == "1")
}

async fn wait_leader(replica: &Replica) -> Res<()> {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !is_leader(&replica.operator.metrics_url).await {
        if Instant::now() > deadline {
            return Err(format!(
                "{} did not become leader within 90 s; log:\n{}",
                replica.identity,
                replica.operator.log_tail(30)
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

/// Starts one replica of `shard`, through a logging proxy unless `write_log` is off.
async fn start_replica(
    bed: &'static Bed,
    settings: &Settings,
    test_id: &str,
    lease_namespace: &str,
    shard: &'static str,
    index: usize,
    write_log: bool,
) -> Replica {
    let identity = format!("{test_id}-{shard}{index}");
    let own: Vec<String> = vec![
        format!("--selector={TEST_LABEL}={test_id},{SHARD_LABEL}={shard}"),
        "--leader-election=true".into(),
        format!("--lease-namespace={lease_namespace}"),
        format!("--lease-name={test_id}-{shard}"),
        format!("--identity={identity}"),
    ];
    let flag = |arg: &str| arg.split('=').next().unwrap_or(arg).to_string();
    let own_flags: Vec<String> = own.iter().map(|a| flag(a)).collect();
    let args: Vec<String> = settings
        .operator_args
        .iter()
        .filter(|a| !own_flags.contains(&flag(a)))
        .cloned()
        .chain(own)
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut env: Vec<(String, String)> = vec![("AWS_ACCESS_KEY_ID".into(), identity.clone())];
    let proxy = if write_log {
        let kubeconfig = bed.env["TESTBED_OPERATOR_KUBECONFIG"].clone();
        let proxy = ApiserverProxy::start(std::path::Path::new(&kubeconfig), &testbed_pki()).await;
        proxy.record_writes();
        let path = testbed_dir().join(format!("{identity}.kubeconfig"));
        proxy.write_kubeconfig(&path);
        env.push(("KUBECONFIG".into(), path.to_string_lossy().into_owned()));
        Some(proxy)
    } else {
        None
    };
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    eprintln!("bench: starting {identity} ({})", args.join(" "));
    // The identity names the process's log file too.
    let operator = bed.start_operator_with_env(&identity, &args, &env).await;
    Replica {
        shard,
        identity,
        started_as_leader: index == 0,
        operator,
        proxy,
    }
}

/// A job of tenant `tenant`, labelled with its shard (the last-applied copy too, as `kubectl
/// apply` of the labelled manifest would write it).
fn sharded_job(fleet: &Fleet, tenant: usize, name: &str) -> Value {
    let mut job = fleet.job_for(tenant, name);
    job["metadata"]["labels"][SHARD_LABEL] = json!(shard_of_tenant(tenant));
    if let Some(meta) = job["metadata"].as_object_mut()
        && meta.remove("annotations").is_some()
    {
        let copy = job.to_string();
        job["metadata"]["annotations"] = json!({LAST_APPLIED: copy});
    }
    job
}

/// `jobs/seconds*60`, when every job got there.
fn per_minute(jobs: usize, seconds: Option<f64>) -> Option<f64> {
    seconds
        .filter(|s| *s > 0.0)
        .map(|s| round3(jobs as f64 / s * 60.0))
}

pub async fn run(
    bed: &'static Bed,
    size: Option<usize>,
    settings: &Settings,
    machine: Machine,
) -> Res<RunResult> {
    let n = size.unwrap_or(5000);
    let write_log = wants_write_log();
    let mut result = scenarios::base_result("shards", n, settings, machine);
    let test_id = bed.unique("bench");
    let lease_namespace = bed.operator_namespace("bench-leases").await;
    let seq_start = scenarios::last_call_seq(bed).await;

    // The leaders first (each waited for), then the standbys.
    let mut replicas = Vec::new();
    for index in 0..REPLICAS {
        for shard in SHARDS {
            let replica = start_replica(
                bed,
                settings,
                &test_id,
                &lease_namespace,
                shard,
                index,
                write_log,
            )
            .await;
            if index == 0 {
                wait_leader(&replica).await?;
            }
            replicas.push(replica);
        }
    }
    let tenants = fleet::create_tenants(
        bed,
        settings,
        &test_id,
        &|i| json!({SHARD_LABEL: shard_of_tenant(i)}),
        &|| {
            replicas
                .iter()
                .map(|r| format!("{}:\n{}", r.identity, r.operator.log_tail(15)))
                .collect::<Vec<_>>()
                .join("\n")
        },
    )
    .await?;
    let fleet = Fleet {
        bed,
        test_id: test_id.clone(),
        tenants,
        settings: settings.clone(),
    };
    let owners = owners(&fleet, &lease_namespace);

    let pids = testbed_dir().join("pids");
    let sampler = Sampler::start(vec![
        (
            "operator".into(),
            Finder::Cmdline(format!("--selector={TEST_LABEL}={test_id},")),
        ),
        (
            "kube-apiserver".into(),
            Finder::PidFile(pids.join("kube-apiserver.pid")),
        ),
        ("etcd".into(), Finder::PidFile(pids.join("etcd.pid"))),
        (
            "emulator".into(),
            Finder::PidFile(pids.join("emulator.pid")),
        ),
        (
            "kube-controller-manager".into(),
            Finder::PidFile(pids.join("kube-controller-manager.pid")),
        ),
        ("driver".into(), Finder::Myself),
    ]);
    // Per process, apart: the totals above must not count an operator twice. The trailing
    // space ends the argument (the identity is the last one).
    let per_replica = Sampler::start(
        replicas
            .iter()
            .map(|r| {
                (
                    r.identity.clone(),
                    Finder::Cmdline(format!("--identity={} ", r.identity)),
                )
            })
            .collect(),
    );
    let rig = Rig {
        bed,
        metrics_url: replicas[0].operator.metrics_url.clone(),
        observer: Observer::start(bed.client.clone(), &fleet.selector()),
        sampler,
        counter: RequestCounter::start(ApiserverAccess { dir: testbed_dir() }),
        fleet,
    };

    let manifests: Vec<Value> = (0..n)
        .map(|i| {
            let tenant = i % rig.fleet.tenants.len();
            let name = format!("job-{}-{i:05}", shard_of_tenant(tenant));
            sharded_job(&rig.fleet, tenant, &name)
        })
        .collect();
    let seq_burst = scenarios::last_call_seq(bed).await;
    let replica_mark0 = per_replica.mark();
    let (mut burst, applied, ()) = scenarios::burst(&rig, "job-", manifests, async {}).await?;
    let (t0, t_end) = (applied.started, now());
    let replica_usage = per_replica.usage(&replica_mark0, &per_replica.mark());

    // The totals' operator metrics: every replica's, summed (a standby's are zero).
    let mut metrics: BTreeMap<String, f64> = BTreeMap::new();
    for r in &replicas {
        for (series, value) in scenarios::operator_metrics(&r.operator.metrics_url).await {
            *metrics.entry(series).or_insert(0.0) += value;
        }
    }
    burst.operator_metrics = metrics;

    eprintln!("bench: per-shard figures and the separation check");
    let calls = bed
        .emulator
        .calls(&[("sinceSeq", &seq_start.to_string())])
        .await;
    let view = verify::emulator_view(&rig.fleet).await?;
    let events = operator_events(&rig.fleet, &lease_namespace).await?;
    let leases = Api::<Lease>::namespaced(bed.client.clone(), &lease_namespace);
    let seen = rig.observer.snapshot();
    let logs: BTreeMap<String, Vec<WriteRequest>> = replicas
        .iter()
        .filter_map(|r| Some((r.identity.clone(), r.proxy.as_ref()?.writes())))
        .collect();

    let mut shards = Vec::new();
    for shard in SHARDS {
        let mine: Vec<&Replica> = replicas.iter().filter(|r| r.shard == shard).collect();
        let lease = format!("{test_id}-{shard}");
        let held = leases
            .get_opt(&lease)
            .await
            .map_err(|e| format!("get Lease {lease}: {e}"))?
            .and_then(|l| l.spec);
        let writes: Vec<&WriteRequest> = mine
            .iter()
            .filter_map(|r| logs.get(&r.identity))
            .flatten()
            .collect();
        shards.push(shard_figures(ShardInput {
            shard,
            keys: mine.iter().map(|r| r.identity.as_str()).collect(),
            jobs: (0..n)
                .filter(|i| shard_of_tenant(i % rig.fleet.tenants.len()) == shard)
                .count(),
            lease,
            held,
            fleet: &rig.fleet,
            seen: &seen,
            view: &view,
            calls: &calls,
            seq_burst,
            t0,
            t_end,
            writes: write_log.then_some(writes.as_slice()),
            cpu: mine
                .iter()
                .map(|r| {
                    replica_usage
                        .cpu_seconds
                        .get(&r.identity)
                        .copied()
                        .unwrap_or(0.0)
                })
                .sum(),
            peak_rss: mine
                .iter()
                .filter_map(|r| replica_usage.peak_rss_mib.get(&r.identity).copied())
                .fold(0.0, f64::max),
        }));
    }

    let mut replica_figures = Vec::new();
    let mut separation = Separation::default();
    let mut actions: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for r in &mut replicas {
        let log = logs.get(&r.identity).map(Vec::as_slice);
        let figures =
            replica_figures_of(r, log, &calls, &events, &owners, &replica_usage, t0).await;
        check_replica(r, log, &calls, &events, &owners, &mut separation);
        if let (Some(first), Some(last)) =
            (figures.first_action_seconds, figures.last_action_seconds)
        {
            actions.entry(r.shard).or_default().push((first, last));
        }
        replica_figures.push(figures);
    }
    for (shard, windows) in &actions {
        if let [a, b] = windows.as_slice()
            && overlap(*a, *b)
        {
            separation.overlapping_replicas += 1;
            note(
                &mut separation,
                format!(
                    "shard {shard}: both replicas acted between {:.1} s and {:.1} s",
                    a.0.max(b.0),
                    a.1.min(b.1)
                ),
            );
        }
    }
    separation.violations = separation.cross_shard_touches + separation.overlapping_replicas;

    let separated = separation.violations == 0;
    result.complete = burst.completed >= n && separated;
    result.outcome = format!(
        "{}; per shard: {}; {} cross-shard touches ({} AWS calls, {} writes, {} Events checked), {} shards whose replicas overlapped",
        scenarios::burst_outcome(&burst),
        shards
            .iter()
            .map(|s| format!(
                "{} {}/{} completed, all ids {}, led by {}",
                s.shard,
                s.completed,
                s.jobs,
                s.all_job_run_ids_seconds
                    .map_or("-".into(), |v| format!("{v:.1} s")),
                s.lease_holder.as_deref().unwrap_or("nobody")
            ))
            .collect::<Vec<_>>()
            .join(", "),
        separation.cross_shard_touches,
        separation.aws_calls_checked,
        if write_log {
            separation.writes_checked.to_string()
        } else {
            "no".into()
        },
        separation.events_checked,
        separation.overlapping_replicas,
    );
    if !write_log {
        result.notes.push("BENCH_SHARDS_WRITE_LOG=0: the replicas reached the apiserver directly; writes per shard and the write record were not measured.".into());
    } else {
        result.notes.push("Each replica reached kube-apiserver through a TLS-terminating proxy in the driver that logs its writes (one more hop per request; its CPU is the driver's).".into());
    }
    result.notes.push(format!(
        "Shards: VirtualClusters and jobs labelled {SHARD_LABEL}=a (even VirtualClusters) or {SHARD_LABEL}=b (odd); each shard one operator deployment of {REPLICAS} processes with leader election on its own Lease."
    ));
    result.burst = Some(burst);
    result.shards = Some(ShardsReport {
        shards,
        replicas: replica_figures,
        separation,
        write_log,
    });
    Ok(result)
}

/// Whether two (first, last) action windows share a moment.
fn overlap(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}

fn owners(fleet: &Fleet, lease_namespace: &str) -> Owners {
    let mut o = Owners {
        by_namespace: BTreeMap::new(),
        by_virtual_cluster: BTreeMap::new(),
        by_virtual_cluster_id: BTreeMap::new(),
        by_lease: BTreeMap::new(),
        lease_namespace: lease_namespace.to_string(),
    };
    for (i, t) in fleet.tenants.iter().enumerate() {
        let shard = shard_of_tenant(i);
        o.by_namespace.insert(t.namespace.clone(), shard);
        o.by_virtual_cluster.insert(t.vc_name.clone(), shard);
        o.by_virtual_cluster_id.insert(t.vc_id.clone(), shard);
    }
    for shard in SHARDS {
        o.by_lease
            .insert(format!("{}-{shard}", fleet.test_id), shard);
    }
    o
}

/// The operator's Events about the fleet: in the tenants' namespaces, and in kube-system (about
/// VirtualClusters) and the Lease namespace.
async fn operator_events(fleet: &Fleet, lease_namespace: &str) -> Res<Vec<KubeEvent>> {
    let mut namespaces: Vec<String> = fleet.tenants.iter().map(|t| t.namespace.clone()).collect();
    namespaces.push("kube-system".into());
    namespaces.push(lease_namespace.to_string());
    let mut out = Vec::new();
    for ns in namespaces {
        let api = Api::<KubeEvent>::namespaced(fleet.bed.client.clone(), &ns);
        let mut lp = ListParams::default().limit(500);
        loop {
            let page = api
                .list(&lp)
                .await
                .map_err(|e| format!("list Events in {ns}: {e}"))?;
            out.extend(
                page.items
                    .into_iter()
                    .filter(|e| e.reporting_controller.as_deref() == Some(REPORTING_CONTROLLER)),
            );
            match page.metadata.continue_ {
                Some(token) if !token.is_empty() => lp = lp.continue_token(&token),
                _ => break,
            }
        }
    }
    Ok(out)
}

struct ShardInput<'a> {
    shard: &'static str,
    /// The access keys of its replicas.
    keys: Vec<&'a str>,
    jobs: usize,
    lease: String,
    held: Option<k8s_openapi::api::coordination::v1::LeaseSpec>,
    fleet: &'a Fleet,
    seen: &'a [Seen],
    view: &'a verify::EmulatorView,
    calls: &'a [Value],
    seq_burst: u64,
    t0: f64,
    t_end: f64,
    writes: Option<&'a [&'a WriteRequest]>,
    cpu: f64,
    peak_rss: f64,
}

fn shard_figures(input: ShardInput<'_>) -> ShardFigures {
    let ShardInput {
        shard,
        keys,
        jobs,
        lease,
        held,
        fleet,
        seen,
        view,
        calls,
        seq_burst,
        t0,
        t_end,
        writes,
        cpu,
        peak_rss,
    } = input;
    let prefix = format!("job-{shard}-");
    let seen: Vec<Seen> = seen
        .iter()
        .filter(|s| s.name.starts_with(&prefix))
        .cloned()
        .collect();
    let tenants: Vec<&fleet::Tenant> = fleet
        .tenants
        .iter()
        .enumerate()
        .filter(|(i, _)| shard_of_tenant(*i) == shard)
        .map(|(_, t)| t)
        .collect();
    let ids: Vec<f64> = seen.iter().filter_map(|s| s.job_run_id_at).collect();
    let completed: Vec<f64> = seen.iter().filter_map(|s| s.completed_at).collect();
    let all = |times: &[f64]| {
        (times.len() >= jobs && jobs > 0)
            .then(|| round3(times.iter().copied().fold(0.0, f64::max) - t0))
    };
    let all_ids = all(&ids);
    let lag = verify::lag(&seen, view, &fleet.settings);
    let vc_ids: BTreeSet<String> = tenants.iter().map(|t| t.vc_id.clone()).collect();
    // The shard's own calls in the burst (not the driver's checks after it).
    let burst_calls: Vec<Value> = calls
        .iter()
        .filter(|c| c["seq"].as_u64().is_some_and(|s| s > seq_burst))
        .filter(|c| c["epoch"].as_f64().is_some_and(|at| at <= t_end))
        .filter(|c| keys.contains(&key_of(c)))
        .cloned()
        .collect();
    let per_job = |pred: &dyn Fn(&PathParts) -> bool| {
        writes.map(|w| {
            let count = w
                .iter()
                .filter(|w| w.epoch >= t0 && w.epoch <= t_end)
                .filter(|w| pred(&parse_path(&w.path)))
                .count();
            round3(count as f64 / jobs.max(1) as f64)
        })
    };
    ShardFigures {
        shard: shard.to_string(),
        selector: format!("{TEST_LABEL}={},{SHARD_LABEL}={shard}", fleet.test_id),
        lease,
        virtual_clusters: tenants.iter().map(|t| t.vc_name.clone()).collect(),
        jobs,
        with_job_run_id: ids.len(),
        completed: completed.len(),
        all_job_run_ids_seconds: all_ids,
        all_completed_seconds: all(&completed),
        submitted_per_minute: per_minute(jobs, all_ids),
        time_to_job_run_id: Dist::of(
            &seen
                .iter()
                .filter_map(|s| Some(s.job_run_id_at? - s.first_seen))
                .collect::<Vec<_>>(),
        ),
        time_to_completed: Dist::of(
            &seen
                .iter()
                .filter_map(|s| Some(s.completed_at? - s.first_seen))
                .collect::<Vec<_>>(),
        ),
        job_run_id_lag: lag.by_state.get("JOB_RUN_ID").cloned().unwrap_or_default(),
        final_lag: lag.by_state.get("FINAL").cloned().unwrap_or_default(),
        emr_calls: scenarios::summarize_calls(&burst_calls, seq_burst, &vc_ids, jobs, t0),
        spark_job_run_writes_per_job: per_job(&|p| p.resource == "sparkjobruns"),
        events_per_job: per_job(&|p| p.resource == "events"),
        lease_holder: held.as_ref().and_then(|l| l.holder_identity.clone()),
        lease_transitions: held.as_ref().and_then(|l| l.lease_transitions),
        operator_cpu_seconds: round3(cpu),
        operator_peak_rss_mib: round1(peak_rss),
    }
}

fn key_of(call: &Value) -> &str {
    call["accessKeyId"].as_str().unwrap_or("")
}

async fn replica_figures_of(
    r: &mut Replica,
    log: Option<&[WriteRequest]>,
    calls: &[Value],
    events: &[KubeEvent],
    owners: &Owners,
    usage: &crate::procstat::Usage,
    t0: f64,
) -> ReplicaFigures {
    let mut by_operation: BTreeMap<String, u64> = BTreeMap::new();
    let mut times: Vec<f64> = Vec::new();
    for c in calls.iter().filter(|c| key_of(c) == r.identity) {
        let op = format!(
            "{}/{}",
            c["service"].as_str().unwrap_or("?"),
            c["operation"].as_str().unwrap_or("?")
        );
        *by_operation.entry(op).or_insert(0) += 1;
        if let Some(at) = c["epoch"].as_f64() {
            times.push(at);
        }
    }
    let writes = log.map(|log| {
        let mut by_key: BTreeMap<String, u64> = BTreeMap::new();
        for w in log {
            let parts = parse_path(&w.path);
            *by_key.entry(parts.key(&w.method)).or_insert(0) += 1;
            let own_lease = parts.resource == "leases"
                && parts.namespace.as_deref() == Some(owners.lease_namespace.as_str());
            if !own_lease {
                times.push(w.epoch);
            }
        }
        by_key
    });
    let first = times.iter().copied().fold(f64::INFINITY, f64::min);
    let last = times.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    ReplicaFigures {
        shard: r.shard.to_string(),
        identity: r.identity.clone(),
        started_as_leader: r.started_as_leader,
        leader_at_end: is_leader(&r.operator.metrics_url).await,
        running_at_end: r.operator.is_running(),
        cpu_seconds: usage.cpu_seconds.get(&r.identity).copied().unwrap_or(0.0),
        rss_mib: usage.rss_mib.get(&r.identity).copied().unwrap_or(0.0),
        peak_rss_mib: usage.peak_rss_mib.get(&r.identity).copied().unwrap_or(0.0),
        aws_calls: by_operation.values().sum(),
        aws_calls_by_operation: by_operation,
        apiserver_writes: writes,
        events_reported: events
            .iter()
            .filter(|e| e.reporting_instance.as_deref() == Some(r.identity.as_str()))
            .count(),
        first_action_seconds: first.is_finite().then(|| round3(first - t0)),
        last_action_seconds: last.is_finite().then(|| round3(last - t0)),
    }
}

fn note(separation: &mut Separation, text: String) {
    if separation.examples.len() < 20 {
        separation.examples.push(text);
    }
}

fn touch(separation: &mut Separation, record: &str, text: String) {
    separation.cross_shard_touches += 1;
    *separation
        .cross_shard_touches_by_record
        .entry(record.to_string())
        .or_insert(0) += 1;
    note(separation, text);
}

fn unattributed(separation: &mut Separation, text: String) {
    if separation.unattributed.len() < 20 && !separation.unattributed.contains(&text) {
        separation.unattributed.push(text);
    }
}

/// Checks one replica's AWS calls, writes and Events against the shards' objects.
fn check_replica(
    r: &Replica,
    log: Option<&[WriteRequest]>,
    calls: &[Value],
    events: &[KubeEvent],
    owners: &Owners,
    separation: &mut Separation,
) {
    let me = r.shard;
    for c in calls.iter().filter(|c| key_of(c) == r.identity) {
        separation.aws_calls_checked += 1;
        let operation = format!(
            "{}/{}",
            c["service"].as_str().unwrap_or("?"),
            c["operation"].as_str().unwrap_or("?")
        );
        match c["virtualClusterId"].as_str() {
            Some(vc) => match owners.by_virtual_cluster_id.get(vc) {
                Some(owner) if *owner == me => {}
                Some(owner) => touch(
                    separation,
                    "aws",
                    format!(
                        "{}: {operation} on virtual cluster {vc} of shard {owner} (call {})",
                        r.identity, c["seq"]
                    ),
                ),
                None => unattributed(
                    separation,
                    format!("{operation} on virtual cluster {vc}, of no shard"),
                ),
            },
            None => {
                *separation
                    .shared_aws_calls
                    .entry(operation)
                    .or_default()
                    .entry(me.to_string())
                    .or_insert(0) += 1;
            }
        }
    }
    if let Some(log) = log {
        for w in log {
            separation.writes_checked += 1;
            match owners.target(&parse_path(&w.path)) {
                Target::Shard(owner) if owner == me => {}
                Target::Shard(owner) => touch(
                    separation,
                    "apiserverWrites",
                    format!(
                        "{}: {} {} (shard {owner}), answered {}",
                        r.identity, w.method, w.path, w.status
                    ),
                ),
                Target::Shared(object) => {
                    *separation
                        .shared_writes
                        .entry(object)
                        .or_default()
                        .entry(me.to_string())
                        .or_insert(0) += 1;
                }
                Target::Unknown => unattributed(separation, format!("{} {}", w.method, w.path)),
            }
        }
    }
    for e in events
        .iter()
        .filter(|e| e.reporting_instance.as_deref() == Some(r.identity.as_str()))
    {
        separation.events_checked += 1;
        let Some(regarding) = &e.regarding else {
            continue;
        };
        let name = regarding.name.clone().unwrap_or_default();
        let owner = match (regarding.kind.as_deref(), &regarding.namespace) {
            (Some("VirtualCluster"), _) => owners.by_virtual_cluster.get(&name),
            (_, Some(ns)) => owners.by_namespace.get(ns),
            _ => None,
        };
        match owner {
            Some(owner) if *owner == me => {}
            Some(owner) => touch(
                separation,
                "events",
                format!(
                    "{}: Event {} about {} {name} of shard {owner}",
                    r.identity,
                    e.reason.as_deref().unwrap_or("?"),
                    regarding.kind.as_deref().unwrap_or("?")
                ),
            ),
            None => unattributed(
                separation,
                format!(
                    "Event about {} {:?}/{name}",
                    regarding.kind.as_deref().unwrap_or("?"),
                    regarding.namespace
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owners() -> Owners {
        Owners {
            by_namespace: [("ns-a".to_string(), "a"), ("ns-b".to_string(), "b")].into(),
            by_virtual_cluster: [("vc-a".to_string(), "a"), ("vc-b".to_string(), "b")].into(),
            by_virtual_cluster_id: BTreeMap::new(),
            by_lease: [("l-a".to_string(), "a"), ("l-b".to_string(), "b")].into(),
            lease_namespace: "leases".into(),
        }
    }

    fn target(path: &str) -> Target {
        owners().target(&parse_path(path))
    }

    #[test]
    fn writes_are_placed_by_the_object_their_path_names() {
        use Target::*;
        let sjr = "/apis/emr-on-eks.dev/v1alpha1/namespaces/ns-b/sparkjobruns/job-b-00001/status";
        assert_eq!(target(sjr), Shard("b"));
        assert_eq!(
            parse_path(sjr).key("PATCH"),
            "sparkjobruns/status PATCH".to_string()
        );
        assert_eq!(
            target("/apis/emr-on-eks.dev/v1alpha1/virtualclusters/vc-a/status"),
            Shard("a")
        );
        assert_eq!(target("/api/v1/namespaces/ns-a"), Shard("a"));
        assert_eq!(
            target("/apis/rbac.authorization.k8s.io/v1/namespaces/ns-b/rolebindings/x"),
            Shard("b")
        );
        assert_eq!(
            target("/apis/events.k8s.io/v1/namespaces/ns-a/events"),
            Shard("a")
        );
        assert_eq!(
            target("/apis/coordination.k8s.io/v1/namespaces/leases/leases/l-b"),
            Shard("b")
        );
        assert_eq!(
            target("/apis/coordination.k8s.io/v1/namespaces/leases/leases"),
            Shared("leases/leases (create)".into())
        );
        assert_eq!(
            target("/api/v1/namespaces/kube-system/configmaps/aws-auth"),
            Shared("kube-system/configmaps/aws-auth".into())
        );
        assert_eq!(
            target("/apis/events.k8s.io/v1/namespaces/kube-system/events/vc-a.17f"),
            Shared("kube-system/events".into())
        );
        // Objects of no shard, or of one the check does not know, are not guessed.
        assert_eq!(target("/api/v1/namespaces/other/configmaps/x"), Unknown);
        assert_eq!(
            target("/apis/emr-on-eks.dev/v1alpha1/virtualclusters/vc-z"),
            Unknown
        );
        assert_eq!(
            target("/apis/rbac.authorization.k8s.io/v1/clusterroles/x"),
            Unknown
        );
    }

    #[test]
    fn replicas_overlap_only_when_their_action_windows_meet() {
        // The standby took over after the leader's last action: no overlap.
        assert!(!overlap((-30.0, 12.0), (20.0, 90.0)));
        assert!(!overlap((20.0, 90.0), (-30.0, 12.0)));
        assert!(overlap((-30.0, 25.0), (20.0, 90.0)));
        assert!(overlap((0.0, 100.0), (50.0, 50.0)));
    }

    #[test]
    fn virtual_clusters_alternate_between_the_shards() {
        assert_eq!(shard_of_tenant(0), "a");
        assert_eq!(shard_of_tenant(1), "b");
        assert_eq!(shard_of_tenant(4), "a");
    }
}
