//! `ScheduledSparkJobRun`: a SparkJobRun started on a schedule (cron or `@every`, in a time zone),
//! each slot's run a child SparkJobRun named after the slot, so the name is the idempotency key.

mod status;

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{CustomResource, CustomResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::SparkJobRunSpec;

pub use status::{
    ChildRef, ScheduledSparkJobRunStatus, SkippedSlot, condition_types, reasons, results,
};

/// The longest schedule name: `<name>-<unix seconds>` (11 more characters) and the label naming
/// the schedule (63 at most) stay valid, as Kubernetes bounds CronJob names.
pub const MAX_NAME_LENGTH: usize = 52;

/// Labels a child SparkJobRun with the name of the schedule that made it.
pub const SCHEDULE_LABEL: &str = "emr-on-eks.dev/scheduled-spark-job-run";
/// The slot a child was made for (RFC 3339, UTC); a run started by `runNow` carries the time
/// it was asked for.
pub const SLOT_ANNOTATION: &str = "emr-on-eks.dev/scheduled-at";

/// When and what to run.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "emr-on-eks.dev",
    version = "v1alpha1",
    kind = "ScheduledSparkJobRun",
    doc = "A SparkJobRun started on a schedule: one child SparkJobRun per slot, named after the slot (exactly one per slot, across restarts and leader changes), finished ones kept up to the history limits.",
    plural = "scheduledsparkjobruns",
    namespaced,
    shortname = "ssjr",
    category = "emr",
    status = "ScheduledSparkJobRunStatus",
    printcolumn = r#"{"name":"Schedule","type":"string","jsonPath":".spec.schedule"}"#,
    printcolumn = r#"{"name":"Time Zone","type":"string","priority":1,"jsonPath":".spec.timeZone"}"#,
    printcolumn = r#"{"name":"Suspended","type":"boolean","jsonPath":".spec.suspend"}"#,
    printcolumn = r#"{"name":"Last Schedule","type":"date","jsonPath":".status.lastScheduleTime"}"#,
    printcolumn = r#"{"name":"Next Schedule","type":"string","jsonPath":".status.nextScheduleTime"}"#,
    printcolumn = r#"{"name":"Active","type":"integer","jsonPath":".status.activeCount"}"#,
    printcolumn = r#"{"name":"Last Result","type":"string","jsonPath":".status.lastResult"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledSparkJobRunSpec {
    /// When to start a run: five cron fields (minute hour day-of-month month day-of-week, e.g.
    /// `30 2 * * *`), `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`, or `@every <duration>`
    /// (`s`, `m`, `h` units, e.g. `@every 90s`, `@every 1h30m`; at least 1s, at most 366 days;
    /// counted from the schedule's creation).
    #[schemars(length(min = 1, max = 128), regex(pattern = SCHEDULE_PATTERN))]
    pub schedule: String,

    /// IANA time zone the cron fields are read in, e.g. `Europe/Berlin`; UTC when unset. Across a
    /// DST change a slot in the skipped hour runs once (at the end of the gap) and a slot in the
    /// repeated hour runs once (its first occurrence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = TIME_ZONE_PATTERN))]
    pub time_zone: Option<String>,

    /// The SparkJobRun each slot starts.
    pub template: SparkJobRunTemplate,

    /// What a slot does while an earlier run is still active: `Allow` (run alongside), `Forbid`
    /// (skip the slot, recorded in status.skipped) or `Replace` (cancel the active run, then start).
    #[serde(default)]
    pub concurrency_policy: ConcurrencyPolicy,

    /// A slot missed by more than this many seconds (the operator was down or busy) is skipped
    /// rather than started late. Unset: a late slot still starts. After downtime at most one
    /// catch-up run starts, whatever this says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 31536000))]
    pub starting_deadline_seconds: Option<i64>,

    /// Finished successful runs kept (the oldest are deleted).
    #[serde(default = "default_successful_history")]
    #[schemars(range(min = 0, max = 100))]
    pub successful_runs_history_limit: i32,

    /// Finished failed or cancelled runs kept (the oldest are deleted).
    #[serde(default = "default_failed_history")]
    #[schemars(range(min = 0, max = 100))]
    pub failed_runs_history_limit: i32,

    /// While true no slot starts a run (runs already started go on); slots passed while
    /// suspended are not caught up.
    #[serde(default)]
    pub suspend: bool,

    /// Set a new value (any string, e.g. a date) to start one run at once, outside the schedule,
    /// under the same concurrencyPolicy. The value present when the schedule is created starts
    /// nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub run_now: Option<String>,
}

/// `@nickname`, `@every <duration>` or five cron fields.
pub const SCHEDULE_PATTERN: &str = r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|@every ([0-9]+[hms])+|[0-9A-Za-z*,/?#+-]+( +[0-9A-Za-z*,/?#+-]+){4})$";
/// IANA zone names such as `America/New_York`, `Etc/GMT+5` or `UTC`.
pub const TIME_ZONE_PATTERN: &str = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$";

fn default_successful_history() -> i32 {
    3
}
fn default_failed_history() -> i32 {
    1
}

/// The child SparkJobRun: labels, annotations and a whole SparkJobRun spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SparkJobRunTemplate {
    /// Labels and annotations put on each child.
    #[serde(default)]
    pub metadata: TemplateMetadata,
    /// The child's spec, as a SparkJobRun's (deadline, resubmitPolicy and all).
    pub spec: SparkJobRunSpec,
}

/// Labels and annotations for each child. Keys under `emr-on-eks.dev/` are the operator's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMetadata {
    /// Labels of each child (at most 32).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32, "additionalProperties" = {"type": "string", "maxLength": 63}))]
    pub labels: BTreeMap<String, String>,
    /// Annotations of each child (at most 32).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32, "additionalProperties" = {"type": "string", "maxLength": 4096}))]
    pub annotations: BTreeMap<String, String>,
}

/// What a slot does while a run is active.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ConcurrencyPolicy {
    /// Start the slot's run alongside the active ones.
    #[default]
    Allow,
    /// Skip the slot (recorded in status.skipped).
    Forbid,
    /// Cancel the active runs (their SparkJobRuns are deleted, which cancels the EMR job run),
    /// then start the slot's run.
    Replace,
}

impl ConcurrencyPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "Allow",
            Self::Forbid => "Forbid",
            Self::Replace => "Replace",
        }
    }
}

/// The CRD, with `metadata.name` bounded to [`MAX_NAME_LENGTH`] (the derive cannot say it; the
/// apiserver accepts a bound on `metadata.name` in a structural schema).
pub fn crd() -> CustomResourceDefinition {
    let mut crd = ScheduledSparkJobRun::crd();
    for version in &mut crd.spec.versions {
        let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        else {
            continue;
        };
        let name =
            k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps {
                type_: Some("string".into()),
                max_length: Some(MAX_NAME_LENGTH as i64),
                description: Some(format!(
                    "At most {MAX_NAME_LENGTH} characters, so that every child's name (`<name>-<unix seconds>`) and the label naming the schedule stay valid."
                )),
                ..Default::default()
            };
        let metadata =
            k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps {
                type_: Some("object".into()),
                properties: Some([("name".to_owned(), name)].into_iter().collect()),
                ..Default::default()
            };
        schema
            .properties
            .get_or_insert_with(Default::default)
            .insert("metadata".to_owned(), metadata);
    }
    crd
}
