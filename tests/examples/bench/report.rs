//! Human-readable results: a few lines per run on the terminal, and `bench/results/latest.md`
//! from the JSON files of one `make bench`.

use std::fmt::Write as _;

use serde_json::Value;

use crate::scenarios::RunResult;

fn f(v: &Value, path: &str) -> Option<f64> {
    let mut cur = v;
    for p in path.split('.') {
        cur = cur.get(p)?;
    }
    cur.as_f64()
}

fn txt<'a>(v: &'a Value, path: &str) -> &'a str {
    let mut cur = v;
    for p in path.split('.') {
        match cur.get(p) {
            Some(next) => cur = next,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

fn num(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) => format!("{x:.digits$}"),
        None => "-".into(),
    }
}

fn lag_pair(b: &Value, state: &str) -> String {
    let p50 = f(b, &format!("lag.byState.{state}.p50"));
    let p99 = f(b, &format!("lag.byState.{state}.p99"));
    match (p50, p99) {
        (Some(a), Some(z)) => format!("{a:.1} / {z:.1}"),
        _ => "-".into(),
    }
}

fn split_pair(b: &Value, which: &str, state: &str) -> String {
    let d = &b["lag"][which][state];
    match (d["p50"].as_f64(), d["p99"].as_f64(), d["n"].as_u64()) {
        (Some(a), Some(z), Some(n)) if n > 0 => format!("{a:.1} / {z:.1} (n={n})"),
        _ => "-".into(),
    }
}

fn tenths(b: &Value) -> String {
    b["lag"]["finalByCreationTenth"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| num(d["p99"].as_f64(), 1))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn calls_per_job(b: &Value) -> String {
    let per = &b["emrCalls"]["perJob"];
    let get = |op: &str| per.get(op).and_then(Value::as_f64).unwrap_or(0.0);
    format!(
        "{:.2} ({:.2} Start, {:.2} Describe, {:.2} List)",
        f(b, "emrCalls.totalPerJob").unwrap_or(0.0),
        get("StartJobRun"),
        get("DescribeJobRun"),
        get("ListJobRuns")
    )
}

fn cpu(b: &Value, who: &str) -> Option<f64> {
    b["resources"]["cpuSeconds"]
        .get(who)
        .and_then(Value::as_f64)
}

/// A few lines for the terminal after one run.
pub fn summary_text(result: &RunResult) -> String {
    let v = serde_json::to_value(result).unwrap_or(Value::Null);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "== {} (size {}) on {} x {}, {} MiB: {}",
        result.scenario,
        result.size,
        result.machine.nproc,
        result.machine.cpu_model,
        result.machine.mem_total_mib,
        result.outcome
    );
    for (label, b) in [("baseline", &v["baseline"]), ("burst", &v["burst"])] {
        if b.is_null() {
            continue;
        }
        let _ = writeln!(
            out,
            "   {label}: {} jobs; all ids {} s, all COMPLETED {} s, {} submitted/min; lag p50/p99 s: job run id {}, PENDING {}, SUBMITTED {}, RUNNING {}, final {}",
            b["jobs"],
            num(f(b, "allJobRunIdsSeconds"), 1),
            num(f(b, "allCompletedSeconds"), 1),
            num(f(b, "submittedPerMinute"), 0),
            lag_pair(b, "JOB_RUN_ID"),
            lag_pair(b, "PENDING"),
            lag_pair(b, "SUBMITTED"),
            lag_pair(b, "RUNNING"),
            lag_pair(b, "FINAL"),
        );
        let _ = writeln!(
            out,
            "   lag p50/p99 s of states entered while the operator was still submitting: RUNNING {}, final {}; after: RUNNING {}, final {}",
            split_pair(b, "enteredWhileSubmitting", "RUNNING"),
            split_pair(b, "enteredWhileSubmitting", "FINAL"),
            split_pair(b, "enteredAfterSubmitting", "RUNNING"),
            split_pair(b, "enteredAfterSubmitting", "FINAL"),
        );
        let _ = writeln!(
            out,
            "   final-state lag p99 by tenth of the burst (creation order): {}",
            tenths(b)
        );
        let _ = writeln!(
            out,
            "   EMR calls/job {}; apiserver writes/job {} (+ {} events); operator CPU {} s (share {}), peak RSS {} MiB; other load {} CPU-s; invariant violations {}",
            calls_per_job(b),
            num(f(b, "apiserverWrites.sparkJobRunWritesPerJob"), 2),
            num(f(b, "apiserverWrites.eventsPerJob"), 2),
            num(cpu(b, "operator"), 1),
            num(f(b, "resources.operatorShareOfSystem"), 3),
            num(
                b["resources"]["peakRssMib"]
                    .get("operator")
                    .and_then(Value::as_f64),
                1
            ),
            num(f(b, "resources.otherCpuSeconds"), 0),
            b["invariant"]["violations"],
        );
    }
    if let Some(fr) = &result.fairness {
        let _ = writeln!(
            out,
            "   fairness: A's backlog {} jobs: first / last job run id {} / {} s after the operator's start, {} jobs/s; others ({}) time to job run id p50/p90/p99/max {:.2}/{:.2}/{:.2}/{:.2} s, while A drained {}, after {}; load average {} -> {}",
            fr.backlog_stored,
            num(fr.backlog_first_job_run_id_seconds, 1),
            num(fr.backlog_all_job_run_ids_seconds, 1),
            num(fr.backlog_drain_per_second, 1),
            fr.other_tenants.join(","),
            fr.other_time_to_job_run_id.p50,
            fr.other_time_to_job_run_id.p90,
            fr.other_time_to_job_run_id.p99,
            fr.other_time_to_job_run_id.max,
            dist_pair(&fr.other_during_backlog),
            dist_pair(&fr.other_after_backlog),
            fr.load_average_at_operator_start,
            fr.load_average_at_end,
        );
    }
    if let Some(sr) = &result.shards {
        for s in &sr.shards {
            let _ = writeln!(
                out,
                "   shard {}: {}/{} completed; all ids {} s, all COMPLETED {} s; final lag p50/p99 {:.1}/{:.1} s; EMR calls/job {:.2}; SparkJobRun writes/job {} (+ {} events); led by {}; CPU {:.1} s, peak RSS {:.1} MiB",
                s.shard,
                s.completed,
                s.jobs,
                num(s.all_job_run_ids_seconds, 1),
                num(s.all_completed_seconds, 1),
                s.final_lag.p50,
                s.final_lag.p99,
                s.emr_calls.total_per_job,
                num(s.spark_job_run_writes_per_job, 2),
                num(s.events_per_job, 2),
                s.lease_holder.as_deref().unwrap_or("nobody"),
                s.operator_cpu_seconds,
                s.operator_peak_rss_mib,
            );
        }
        for r in &sr.replicas {
            let _ = writeln!(
                out,
                "   replica {}: leader at end {}, running {}, CPU {:.1} s, peak RSS {:.1} MiB, {} AWS calls, {} apiserver writes, {} events",
                r.identity,
                r.leader_at_end,
                r.running_at_end,
                r.cpu_seconds,
                r.peak_rss_mib,
                r.aws_calls,
                r.apiserver_writes
                    .as_ref()
                    .map_or("-".into(), |w| w.values().sum::<u64>().to_string()),
                r.events_reported,
            );
        }
        let sep = &sr.separation;
        let _ = writeln!(
            out,
            "   separation: {} cross-shard touches {:?}, {} shards whose replicas overlapped; checked {} AWS calls, {} writes, {} events; shared objects {:?}; unattributed {:?}",
            sep.cross_shard_touches,
            sep.cross_shard_touches_by_record,
            sep.overlapping_replicas,
            sep.aws_calls_checked,
            sep.writes_checked,
            sep.events_checked,
            sep.shared_writes,
            sep.unattributed,
        );
    }
    if let Some(k) = &result.kept {
        let _ = writeln!(
            out,
            "   kept {} finished objects {:.0} s: operator CPU {:.2} s, RSS {:.1} MiB, {} EMR calls (ACK would make {:.0})",
            k.objects,
            k.seconds,
            k.operator_cpu_seconds,
            k.operator_rss_mib,
            k.emr_calls,
            k.ack_equivalent_calls
        );
    }
    out
}

/// "p50 / p99 (n=N)" of a distribution, "-" when empty.
fn dist_pair(d: &crate::stats::Dist) -> String {
    if d.n == 0 {
        "-".into()
    } else {
        format!("{:.1} / {:.1} (n={})", d.p50, d.p99, d.n)
    }
}

fn dist_value_pair(d: &Value) -> String {
    match (d["p50"].as_f64(), d["p99"].as_f64(), d["n"].as_u64()) {
        (Some(a), Some(z), Some(n)) if n > 0 => format!("{a:.1} / {z:.1} (n={n})"),
        _ => "-".into(),
    }
}

/// The fairness runs (issue 19's scenario): one row per run.
fn fairness_section(md: &mut String, runs: &[&Value]) {
    let _ = writeln!(
        md,
        "## Fairness: tenant A's backlog vs the other tenants' jobs\n"
    );
    let _ = writeln!(
        md,
        "Tenant A's N jobs applied while the operator was stopped; then the operator started and the other tenants each applied one job every few seconds. Goal (issue 19): the other tenants' p99 time to job run id <= {} s with A's 4 000-job backlog, and A's drain rate no lower than the FIFO operator's.\n",
        crate::fairness::GOAL_P99_SECONDS
    );
    let _ = writeln!(
        md,
        "| A's backlog | operator binary | A: first / all job run ids after the operator's start (s) | A drain rate (jobs/s) | other tenants' jobs (with id) | their time to job run id p50 / p90 / p99 / max (s) | p50 / p99 created while A drained | p50 / p99 after | p99 by tenant | goal met | all COMPLETED (s) | invariant violations | load average at start -> end |"
    );
    let _ = writeln!(md, "|{}", "---|".repeat(13));
    for v in runs {
        let fr = &v["fairness"];
        let b = &v["burst"];
        let d = &fr["otherTimeToJobRunId"];
        let by_tenant = fr["otherByTenant"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(t, d)| format!("{t} {}", num(d["p99"].as_f64(), 1)))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let sha = txt(v, "operatorBinarySha256");
        let _ = writeln!(
            md,
            "| {} | `{}` ({}) | {} / {} | {} | {} ({}) | {} / {} / {} / {} | {} | {} | {} | {} | {} | {} | {} -> {} |",
            fr["backlogStored"],
            txt(v, "operatorBinary"),
            sha.get(..12).unwrap_or(sha),
            num(f(fr, "backlogFirstJobRunIdSeconds"), 1),
            num(f(fr, "backlogAllJobRunIdsSeconds"), 1),
            num(f(fr, "backlogDrainPerSecond"), 1),
            fr["otherJobs"],
            fr["otherWithJobRunId"],
            num(d["p50"].as_f64(), 2),
            num(d["p90"].as_f64(), 2),
            num(d["p99"].as_f64(), 2),
            num(d["max"].as_f64(), 2),
            dist_value_pair(&fr["otherDuringBacklog"]),
            dist_value_pair(&fr["otherAfterBacklog"]),
            by_tenant,
            if fr["goalMet"].as_bool() == Some(true) {
                "yes"
            } else {
                "no"
            },
            num(f(b, "allCompletedSeconds"), 1),
            b["invariant"]["violations"],
            txt(fr, "loadAverageAtOperatorStart"),
            txt(fr, "loadAverageAtEnd"),
        );
    }
    let _ = writeln!(md);
}

/// The schedules runs: slots due, started, missed and duplicated, the lag of a slot's start, and
/// what a run cost.
fn schedules_section(md: &mut String, runs: &[&Value]) {
    let _ = writeln!(
        md,
        "## Schedules: ScheduledSparkJobRuns `@every` N s, the operator SIGKILLed at slot boundaries\n"
    );
    let _ = writeln!(
        md,
        "| schedules | every (s) | seconds | SIGKILLs | slots due | started | missed | duplicated | slot-start lag p50 / p99 (s) | EMR calls / run | apiserver writes / run |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|");
    for v in runs {
        let r = &v["schedules"];
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {} |",
            r["schedules"],
            r["everySeconds"],
            r["seconds"],
            r["kills"].as_array().map_or(0, Vec::len),
            r["slotsDue"],
            r["slotsStarted"],
            r["missedSlots"],
            r["duplicatedSlots"],
            r["slotStartLag"]["p50"],
            r["slotStartLag"]["p99"],
            r["emrCallsPerRun"],
            r["apiserverWritesPerRun"],
        );
    }
    let _ = writeln!(md);
}

/// The shards runs: totals as the scale table has them, then per shard and per process.
fn shards_section(md: &mut String, runs: &[&Value]) {
    let _ = writeln!(
        md,
        "## Shards: two operator deployments (disjoint selectors, a leader and a standby each) sharing the burst\n"
    );
    let _ = writeln!(
        md,
        "| jobs | completed | all job run ids (s) | all COMPLETED (s) | submitted / min | final lag p50 / p99 (s) | EMR calls / job | apiserver writes / job (+ events) | operator CPU, 4 processes (s) | highest peak RSS of one process (MiB) | apiserver / etcd / emulator / driver CPU (s) | invariant violations | cross-shard touches | shards whose replicas overlapped |"
    );
    let _ = writeln!(md, "|{}", "---|".repeat(14));
    for v in runs {
        let b = &v["burst"];
        let sep = &v["shards"]["separation"];
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} (+ {}) | {} | {} | {} / {} / {} / {} | {} | {} | {} |",
            b["jobs"],
            b["completed"],
            num(f(b, "allJobRunIdsSeconds"), 1),
            num(f(b, "allCompletedSeconds"), 1),
            num(f(b, "submittedPerMinute"), 0),
            lag_pair(b, "FINAL"),
            calls_per_job(b),
            num(f(b, "apiserverWrites.sparkJobRunWritesPerJob"), 2),
            num(f(b, "apiserverWrites.eventsPerJob"), 2),
            num(cpu(b, "operator"), 1),
            num(
                b["resources"]["peakRssMib"]
                    .get("operator")
                    .and_then(Value::as_f64),
                1
            ),
            num(cpu(b, "kube-apiserver"), 0),
            num(cpu(b, "etcd"), 0),
            num(cpu(b, "emulator"), 0),
            num(cpu(b, "driver"), 0),
            b["invariant"]["violations"],
            sep["crossShardTouches"],
            sep["overlappingReplicas"],
        );
    }
    let _ = writeln!(
        md,
        "\nPer shard (times from the burst's first apply request):\n"
    );
    let _ = writeln!(
        md,
        "| jobs (run) | shard | VirtualClusters | jobs | completed | all job run ids (s) | all COMPLETED (s) | submitted / min | time to job run id p50 / p99 (s) | final lag p50 / p99 (s) | EMR calls / job | SparkJobRun writes / job (+ events) | Lease held by (transitions) | operator CPU (s) | peak RSS (MiB) |"
    );
    let _ = writeln!(md, "|{}", "---|".repeat(15));
    for v in runs {
        for s in v["shards"]["shards"].as_array().into_iter().flatten() {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {} | {} (+ {}) | `{}` ({}) | {} | {} |",
                v["size"],
                txt(s, "shard"),
                s["virtualClusters"].as_array().map_or(0, Vec::len),
                s["jobs"],
                s["completed"],
                num(f(s, "allJobRunIdsSeconds"), 1),
                num(f(s, "allCompletedSeconds"), 1),
                num(f(s, "submittedPerMinute"), 0),
                num(f(s, "timeToJobRunId.p50"), 1),
                num(f(s, "timeToJobRunId.p99"), 1),
                dist_value_pair(&s["finalLag"]),
                num(f(s, "emrCalls.totalPerJob"), 2),
                num(f(s, "sparkJobRunWritesPerJob"), 2),
                num(f(s, "eventsPerJob"), 2),
                txt(s, "leaseHolder"),
                s["leaseTransitions"],
                num(f(s, "operatorCpuSeconds"), 1),
                num(f(s, "operatorPeakRssMib"), 1),
            );
        }
    }
    let _ = writeln!(
        md,
        "\nPer process (CPU during the burst; AWS calls, writes and Events since the operators started):\n"
    );
    let _ = writeln!(
        md,
        "| jobs (run) | process | started as | leader at the end | running at the end | CPU (s) | peak RSS (MiB) | AWS calls | apiserver writes | Events reported |"
    );
    let _ = writeln!(md, "|{}", "---|".repeat(10));
    for v in runs {
        for r in v["shards"]["replicas"].as_array().into_iter().flatten() {
            let writes = r["apiserverWrites"]
                .as_object()
                .map(|o| {
                    o.values()
                        .filter_map(Value::as_u64)
                        .sum::<u64>()
                        .to_string()
                })
                .unwrap_or_else(|| "-".into());
            let yes = |key: &str| {
                if r[key].as_bool() == Some(true) {
                    "yes"
                } else {
                    "no"
                }
            };
            let _ = writeln!(
                md,
                "| {} | `{}` | {} | {} | {} | {} | {} | {} | {} | {} |",
                v["size"],
                txt(r, "identity"),
                if r["startedAsLeader"].as_bool() == Some(true) {
                    "leader"
                } else {
                    "standby"
                },
                yes("leaderAtEnd"),
                yes("runningAtEnd"),
                num(f(r, "cpuSeconds"), 1),
                num(f(r, "peakRssMib"), 1),
                r["awsCalls"],
                writes,
                r["eventsReported"],
            );
        }
    }
    let _ = writeln!(md);
    for v in runs {
        let sep = &v["shards"]["separation"];
        let shared = sep["sharedWrites"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(object, by)| format!("{object} {by}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        let _ = writeln!(
            md,
            "Separation ({} jobs): {} cross-shard touches {} out of {} AWS calls, {} apiserver writes{} and {} Events checked; {} shards whose two replicas acted at the same time. Cluster-wide objects written by both shards by design: {}.\n",
            v["size"],
            sep["crossShardTouches"],
            sep["crossShardTouchesByRecord"],
            sep["awsCallsChecked"],
            sep["writesChecked"],
            if v["shards"]["writeLog"].as_bool() == Some(true) {
                ""
            } else {
                " (write log off)"
            },
            sep["eventsChecked"],
            sep["overlappingReplicas"],
            if shared.is_empty() {
                "none".into()
            } else {
                shared
            },
        );
        for e in sep["examples"].as_array().into_iter().flatten() {
            let _ = writeln!(md, "- {}", e.as_str().unwrap_or(""));
        }
    }
    let _ = writeln!(md);
}

fn machine_line(v: &Value) -> String {
    let m = &v["machine"];
    format!(
        "{} x {}, {:.1} GiB RAM, Linux {} (load average at start: {})",
        m["nproc"],
        txt(m, "cpuModel"),
        f(m, "memTotalMib").unwrap_or(0.0) / 1024.0,
        txt(m, "kernel"),
        txt(m, "loadAverageAtStart")
    )
}

/// `bench/results/latest.md` from the runs of one `make bench`.
pub fn markdown(results: &[(String, Value)]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# emr-on-eks-operator benchmark results\n");
    let Some((_, first)) = results.first() else {
        let _ = writeln!(md, "No results.");
        return md;
    };
    let _ = writeln!(
        md,
        "Produced by `make bench` (scripts/bench.sh), git {}, started {}.\n",
        txt(first, "gitRevision"),
        txt(first, "startedAt")
    );
    let _ = writeln!(md, "- Machine: {}", machine_line(first));
    let s = &first["settings"];
    let _ = writeln!(
        md,
        "- Bed: etcd 3.4 + kube-apiserver v1.20.2 + kube-controller-manager + the moto-based EMR emulator, all on this machine; {} VirtualClusters; each job PENDING {} s, SUBMITTED {} s, RUNNING {} s in the emulator.",
        s["virtualClusters"], s["pendingSeconds"], s["submittedSeconds"], s["runSeconds"]
    );
    let args: Vec<&str> = s["operatorArgs"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let _ = writeln!(
        md,
        "- Operator: release build, one replica (the shards scenario: four, see its section), `{}` (production defaults).",
        args.join(" ")
    );
    if let Some(note) = s["note"].as_str() {
        let _ = writeln!(md, "- Note: {note}");
    }
    let _ = writeln!(
        md,
        "- \"other CPU\" is machine CPU used by processes outside the bed, the operator and the driver during the burst (other work on a shared machine).\n"
    );
    let _ = writeln!(md, "Status lag: {}\n", crate::verify::LAG_DEFINITION);

    let mut scale: Vec<&Value> = results
        .iter()
        .map(|(_, v)| v)
        .filter(|v| v["scenario"] == "scale")
        .collect();
    scale.sort_by_key(|v| v["size"].as_u64().unwrap_or(0));
    if !scale.is_empty() {
        let _ = writeln!(md, "## Scale: N SparkJobRuns applied at once\n");
        let _ = writeln!(
            md,
            "| jobs | completed | apply (s) | all job run ids (s) | all COMPLETED (s) | submitted / min | status lag p50 / p99 (s): job run id | RUNNING | final | EMR calls / job | apiserver writes / job (+ events) | operator CPU (s) | operator peak RSS (MiB) | operator share of CPU | apiserver / etcd / emulator CPU (s) | other CPU (s) | invariant violations |"
        );
        let _ = writeln!(md, "|{}", "---|".repeat(17));
        for v in &scale {
            let b = &v["burst"];
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} (+ {}) | {} | {} | {} | {} / {} / {} | {} | {} |",
                b["jobs"],
                b["completed"],
                num(f(b, "applied.seconds"), 1),
                num(f(b, "allJobRunIdsSeconds"), 1),
                num(f(b, "allCompletedSeconds"), 1),
                num(f(b, "submittedPerMinute"), 0),
                lag_pair(b, "JOB_RUN_ID"),
                lag_pair(b, "RUNNING"),
                lag_pair(b, "FINAL"),
                calls_per_job(b),
                num(f(b, "apiserverWrites.sparkJobRunWritesPerJob"), 2),
                num(f(b, "apiserverWrites.eventsPerJob"), 2),
                num(cpu(b, "operator"), 1),
                num(
                    b["resources"]["peakRssMib"]
                        .get("operator")
                        .and_then(Value::as_f64),
                    1
                ),
                num(
                    f(b, "resources.operatorShareOfSystem").map(|x| x * 100.0),
                    1
                ) + " %",
                num(cpu(b, "kube-apiserver"), 0),
                num(cpu(b, "etcd"), 0),
                num(cpu(b, "emulator"), 0),
                num(f(b, "resources.otherCpuSeconds"), 0),
                b["invariant"]["violations"],
            );
        }
        let _ = writeln!(
            md,
            "\nStatus lag p50 / p99 (s) split by whether the emulator entered the state while the operator was still submitting the burst (before the last job run was created) or after:\n"
        );
        let _ = writeln!(
            md,
            "| jobs | RUNNING, while submitting | final, while submitting | RUNNING, after | final, after | final-state lag p99 by tenth of the burst, in creation order |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|---|");
        for v in &scale {
            let b = &v["burst"];
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |",
                b["jobs"],
                split_pair(b, "enteredWhileSubmitting", "RUNNING"),
                split_pair(b, "enteredWhileSubmitting", "FINAL"),
                split_pair(b, "enteredAfterSubmitting", "RUNNING"),
                split_pair(b, "enteredAfterSubmitting", "FINAL"),
                tenths(b),
            );
        }
        let kept: Vec<&&Value> = scale.iter().filter(|v| !v["kept"].is_null()).collect();
        if !kept.is_empty() {
            let _ = writeln!(md, "\n### Finished objects kept (nothing changing)\n");
            let _ = writeln!(
                md,
                "| objects | seconds | operator CPU (s) | operator RSS (MiB) | EMR calls | ACK's DescribeJobRun every 15 s would make | apiserver writes |"
            );
            let _ = writeln!(md, "|---|---|---|---|---|---|---|");
            for v in kept {
                let k = &v["kept"];
                let writes: f64 = k["apiserverWrites"]
                    .as_object()
                    .map(|o| o.values().filter_map(Value::as_f64).fold(0.0, |a, b| a + b))
                    .unwrap_or(0.0);
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    k["objects"],
                    num(f(k, "seconds"), 0),
                    num(f(k, "operatorCpuSeconds"), 2),
                    num(f(k, "operatorRssMib"), 1),
                    k["emrCalls"],
                    num(f(k, "ackEquivalentCalls"), 0),
                    writes
                );
            }
        }
        let _ = writeln!(md);
    }

    let mut faults: Vec<&Value> = results
        .iter()
        .map(|(_, v)| v)
        .filter(|v| {
            !matches!(
                v["scenario"].as_str(),
                Some("scale" | "hostile" | "fairness" | "shards" | "schedules")
            )
        })
        .collect();
    let order = |v: &Value| {
        crate::scenarios::SCENARIOS
            .iter()
            .position(|s| v["scenario"] == *s)
            .unwrap_or(usize::MAX)
    };
    faults.sort_by_key(|v| order(v));
    if !faults.is_empty() {
        let _ = writeln!(md, "## Faults\n");
        let _ = writeln!(
            md,
            "| scenario | jobs | completed | all job run ids (s) | all COMPLETED (s) | final-state lag p50 / p99 (s) | EMR calls / job | faulted EMR calls | StartJobRun requests (accepted) | apiserver writes / job (incl. events) | operator processes | invariant violations |"
        );
        let _ = writeln!(md, "|{}", "---|".repeat(12));
        for v in &faults {
            let b = &v["burst"];
            let faulted: u64 = b["emrCalls"]["faulted"]
                .as_object()
                .map(|o| o.values().filter_map(Value::as_u64).sum())
                .unwrap_or(0);
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} ({}) | {} | {} | {} |",
                txt(v, "scenario"),
                b["jobs"],
                b["completed"],
                num(f(b, "allJobRunIdsSeconds"), 1),
                num(f(b, "allCompletedSeconds"), 1),
                lag_pair(b, "FINAL"),
                calls_per_job(b),
                faulted,
                b["invariant"]["startJobRunRequests"],
                b["invariant"]["startJobRunRequestsAccepted"],
                num(f(b, "apiserverWrites.totalPerJob"), 2),
                b["operatorProcesses"],
                b["invariant"]["violations"],
            );
        }
        let _ = writeln!(md);
        for v in &faults {
            let ex = &v["burst"]["invariant"]["examples"];
            if ex.as_array().is_some_and(|a| !a.is_empty()) {
                let _ = writeln!(md, "Violations in {} (first ones):\n", txt(v, "scenario"));
                for e in ex.as_array().into_iter().flatten() {
                    let _ = writeln!(md, "- {}", e.as_str().unwrap_or(""));
                }
                let _ = writeln!(md);
            }
        }
    }

    for v in results
        .iter()
        .map(|(_, v)| v)
        .filter(|v| v["scenario"] == "hostile")
    {
        let h = &v["hostile"];
        let _ = writeln!(md, "## Hostile manifests\n");
        let _ = writeln!(md, "{}\n", txt(v, "outcome"));
        let _ = writeln!(
            md,
            "| category | rejected by the apiserver | refused by the operator | violations | example reason |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|");
        if let Some(cats) = h["byCategory"].as_object() {
            for (cat, counts) in cats {
                let get = |k: &str| counts.get(k).and_then(Value::as_u64).unwrap_or(0);
                let bad = get("ran") + get("no-reason") + get("apply-failed");
                let example = h["outcomes"]
                    .as_array()
                    .and_then(|a| a.iter().find(|o| o["category"] == cat.as_str()))
                    .map(|o| txt(o, "reason").chars().take(140).collect::<String>())
                    .unwrap_or_default()
                    .replace('|', "\\|")
                    .replace('\n', " ");
                let _ = writeln!(
                    md,
                    "| {cat} | {} | {} | {bad} | {example} |",
                    get("rejected"),
                    get("refused")
                );
            }
        }
        let _ = writeln!(md);
    }

    let mut fair: Vec<&Value> = results
        .iter()
        .map(|(_, v)| v)
        .filter(|v| v["scenario"] == "fairness")
        .collect();
    fair.sort_by_key(|v| v["size"].as_u64().unwrap_or(0));
    if !fair.is_empty() {
        fairness_section(&mut md, &fair);
    }

    let mut sharded: Vec<&Value> = results
        .iter()
        .map(|(_, v)| v)
        .filter(|v| v["scenario"] == "shards")
        .collect();
    sharded.sort_by_key(|v| v["size"].as_u64().unwrap_or(0));
    if !sharded.is_empty() {
        shards_section(&mut md, &sharded);
    }

    let scheduled: Vec<&Value> = results
        .iter()
        .map(|(_, v)| v)
        .filter(|v| v["scenario"] == "schedules")
        .collect();
    if !scheduled.is_empty() {
        schedules_section(&mut md, &scheduled);
    }

    let _ = writeln!(md, "## Runs\n");
    for (path, v) in results {
        let _ = writeln!(
            md,
            "- `{path}`: {} size {}: {}",
            txt(v, "scenario"),
            v["size"],
            txt(v, "outcome")
        );
    }
    md
}
