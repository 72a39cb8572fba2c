//! What `get` and `describe` print: pure functions of the SparkJobRun and the clock.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use emr_api::SparkJobRun;
use emr_api::condition::ConditionStatus;
use emr_api::labels::{TAG_OBJECT, TAG_UID};
use emr_api::patterns::MAX_TAG_VALUE;
use emr_api::spark_job_run::LogLocations;
use k8s_openapi::api::core::v1::Event;
use serde_json::{Map, Value, json};

/// `get`'s columns for one SparkJobRun.
pub fn row(job: &SparkJobRun, now: DateTime<Utc>, with_namespace: bool) -> Vec<String> {
    let status = job.status.clone().unwrap_or_default();
    let mut row = Vec::new();
    if with_namespace {
        row.push(job.metadata.namespace.clone().unwrap_or_default());
    }
    row.push(job.metadata.name.clone().unwrap_or_default());
    row.push(status.state.clone().unwrap_or_else(|| "-".into()));
    row.push(if status.attempt > 0 {
        status.attempt.to_string()
    } else {
        "-".into()
    });
    row.push(duration(
        status.created_at.map(|t| t.as_datetime()),
        status.finished_at.map(|t| t.as_datetime()),
        now,
    ));
    row.push(reason(job).unwrap_or_else(|| "-".into()));
    row.push(
        status
            .logs
            .as_ref()
            .map(log_location)
            .unwrap_or_else(|| "-".into()),
    );
    row
}

pub fn header(with_namespace: bool) -> Vec<String> {
    let mut h: Vec<&str> = if with_namespace {
        vec!["NAMESPACE"]
    } else {
        vec![]
    };
    h.extend(["NAME", "STATE", "ATTEMPT", "DURATION", "REASON", "LOGS"]);
    h.into_iter().map(str::to_owned).collect()
}

/// Columns padded to their widest cell, like kubectl's tables.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                format!(
                    "{cell:<width$}",
                    width = widths.get(i).copied().unwrap_or(0)
                )
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join("   ").trim_end());
    }
    out
}

/// Run time: created to finished, or to now while running; `-` before EMR created it.
pub fn duration(
    created: Option<DateTime<Utc>>,
    finished: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> String {
    let Some(created) = created else {
        return "-".into();
    };
    let seconds = (finished.unwrap_or(now) - created).num_seconds().max(0);
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{}s", s / 60, s % 60),
        s => format!("{}h{}m", s / 3600, (s % 3600) / 60),
    }
}

/// EMR's failure reason, else the reason of a Failed condition that holds.
fn reason(job: &SparkJobRun) -> Option<String> {
    let status = job.status.as_ref()?;
    status.failure_reason.clone().or_else(|| {
        status
            .conditions
            .iter()
            .find(|c| c.type_ == "Failed" && c.status == ConditionStatus::True)
            .map(|c| c.reason.clone())
    })
}

fn log_location(logs: &LogLocations) -> String {
    match (
        &logs.cloud_watch_log_group,
        &logs.cloud_watch_log_stream_prefix,
        &logs.s3_prefix,
    ) {
        (Some(group), Some(prefix), _) => format!("cloudwatch:{group}:{prefix}"),
        (_, _, Some(s3)) => s3.clone(),
        _ => "-".into(),
    }
}

/// The StartJobRun request body the operator sends for `attempt` (the same fields, names and
/// omissions as `emr_operator::spark_job_run::request`; the bed test compares the two).
pub fn start_job_run_body(job: &SparkJobRun, attempt: i32) -> Value {
    let spec = &job.spec;
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let namespace = job.metadata.namespace.clone().unwrap_or_default();
    let name = job.metadata.name.clone().unwrap_or_default();
    let mut tags: Map<String, Value> = spec
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let object: String = format!("{namespace}/{name}")
        .chars()
        .take(MAX_TAG_VALUE)
        .collect();
    tags.insert(TAG_OBJECT.into(), json!(object));
    tags.insert(TAG_UID.into(), json!(uid));
    let suffix = format!("-{attempt}");
    let token: String = uid
        .chars()
        .take(64usize.saturating_sub(suffix.len()))
        .collect();
    let mut body = json!({
        "name": job.job_run_name(),
        "clientToken": format!("{token}{suffix}"),
        "tags": tags,
    });
    let optional = [
        (
            "executionRoleArn",
            serde_json::to_value(&spec.execution_role_arn),
        ),
        ("releaseLabel", serde_json::to_value(&spec.release_label)),
        ("jobDriver", serde_json::to_value(&spec.job_driver)),
        (
            "configurationOverrides",
            serde_json::to_value(&spec.configuration_overrides),
        ),
        ("jobTemplateId", serde_json::to_value(&spec.job_template_id)),
        (
            "retryPolicyConfiguration",
            serde_json::to_value(&spec.retry_policy_configuration),
        ),
    ];
    for (key, value) in optional {
        if let Ok(value) = value
            && !value.is_null()
        {
            body[key] = value;
        }
    }
    if !spec.job_template_parameters.is_empty() {
        body["jobTemplateParameters"] = json!(spec.job_template_parameters);
    }
    body
}

/// `describe`'s text.
pub fn describe(job: &SparkJobRun, now: DateTime<Utc>) -> String {
    let status = job.status.clone().unwrap_or_default();
    let mut out = String::new();
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let vc_ref = job
        .spec
        .virtual_cluster
        .name
        .clone()
        .map(|n| format!("VirtualCluster {n}"))
        .or_else(|| {
            job.spec
                .virtual_cluster
                .id
                .clone()
                .map(|i| format!("id {i}"))
        })
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Name:              {}",
        job.metadata.name.clone().unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "Namespace:         {}",
        job.metadata.namespace.clone().unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "Virtual cluster:   {vc_ref} ({})",
        dash(&status.virtual_cluster_id)
    );
    let _ = writeln!(out, "State:             {}", dash(&status.state));
    let _ = writeln!(out, "Message:           {}", dash(&status.message));
    let _ = writeln!(out, "Attempt:           {}", status.attempt);
    let _ = writeln!(out, "Job run:           {}", dash(&status.job_run_id));
    let _ = writeln!(out, "ARN:               {}", dash(&status.arn));
    let _ = writeln!(out, "Failure reason:    {}", dash(&status.failure_reason));
    let _ = writeln!(
        out,
        "Duration:          {}",
        duration(
            status.created_at.map(|t| t.as_datetime()),
            status.finished_at.map(|t| t.as_datetime()),
            now
        )
    );
    let _ = writeln!(
        out,
        "Observed gen.:     {}",
        status
            .observed_generation
            .map(|g| g.to_string())
            .unwrap_or_else(|| "-".into())
    );
    let _ = writeln!(out, "Rerun:             {}", dash(&job.spec.rerun));
    match &status.logs {
        Some(logs) => {
            if let (Some(g), Some(p)) = (
                &logs.cloud_watch_log_group,
                &logs.cloud_watch_log_stream_prefix,
            ) {
                let _ = writeln!(
                    out,
                    "Logs (CloudWatch): log group {g}, streams {p}/containers/..."
                );
            }
            if let Some(s3) = &logs.s3_prefix {
                let _ = writeln!(out, "Logs (S3):         {s3}containers/...");
            }
        }
        None => {
            let _ = writeln!(
                out,
                "Logs:              - (no monitoringConfiguration, or not started)"
            );
        }
    }
    let _ = writeln!(out, "Conditions:");
    let mut rows = vec![
        ["TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for c in &status.conditions {
        rows.push(vec![
            c.type_.clone(),
            format!("{:?}", c.status),
            c.reason.clone(),
            c.last_transition_time.to_string(),
            c.message.clone(),
        ]);
    }
    out.push_str(&indent(&table(&rows)));
    let _ = writeln!(out, "Attempts:");
    let mut rows = vec![
        [
            "ATTEMPT", "JOB RUN", "STATE", "REASON", "CREATED", "DURATION",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for a in &status.attempts {
        rows.push(vec![
            a.attempt.to_string(),
            dash(&a.job_run_id),
            dash(&a.state),
            dash(&a.reason),
            a.created_at
                .map(|t| t.to_string())
                .unwrap_or_else(|| "-".into()),
            duration(
                a.created_at.map(|t| t.as_datetime()),
                a.finished_at.map(|t| t.as_datetime()),
                now,
            ),
        ]);
    }
    out.push_str(&indent(&table(&rows)));
    match &status.virtual_cluster_id {
        Some(vc) if status.attempt > 0 => {
            let body = start_job_run_body(job, status.attempt);
            let _ = writeln!(
                out,
                "StartJobRun request (attempt {}): POST /virtualclusters/{vc}/jobruns",
                status.attempt
            );
            let text = serde_json::to_string_pretty(&body).unwrap_or_default();
            out.push_str(&indent(&text));
            out.push('\n');
        }
        _ => {
            let _ = writeln!(out, "StartJobRun request: - (not sent yet)");
        }
    }
    out
}

/// The Events about the job, oldest first, like `kubectl describe`.
pub fn events(events: &[Event], now: DateTime<Utc>) -> String {
    if events.is_empty() {
        return "Events:            <none>\n".into();
    }
    let when = |e: &Event| {
        e.last_timestamp
            .as_ref()
            .map(|t| t.0.as_second())
            .or_else(|| e.event_time.as_ref().map(|t| t.0.as_second()))
            .or_else(|| {
                e.metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0.as_second())
            })
            .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
    };
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|e| when(e));
    let mut rows = vec![
        ["TYPE", "REASON", "AGE", "COUNT", "MESSAGE"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for e in sorted {
        let age = when(e).map_or_else(|| "-".into(), |t| duration(Some(t), None, now));
        rows.push(vec![
            e.type_.clone().unwrap_or_default(),
            e.reason.clone().unwrap_or_default(),
            age,
            e.count.map_or_else(|| "1".into(), |c| c.to_string()),
            e.message.clone().unwrap_or_default(),
        ]);
    }
    format!("Events:\n{}", indent(&table(&rows)))
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

#[cfg(test)]
mod tests;
