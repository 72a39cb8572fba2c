//! `configurationOverrides` as real structure (not an opaque string), in EMR's own field names so
//! that JSON from `aws emr-containers start-job-run --configuration-overrides` pastes in as YAML.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::patterns;

/// Overrides applied to the job run's configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationOverrides {
    /// Configuration classifications such as `spark-defaults`, `spark-log4j` or `spark-env`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub application_configuration: Vec<ApplicationConfiguration>,
    /// Where logs go and whether the Spark UI outlives the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring_configuration: Option<MonitoringConfiguration>,
}

// EMR's Configuration is recursive; a structural CRD schema cannot be, so the nesting is spelled
// out to three levels (classification > configurations > configurations), more than EMR's own
// classifications use (e.g. spark-env > export).

/// A configuration classification with its properties and nested classifications.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationConfiguration {
    /// The classification, e.g. `spark-defaults`.
    #[schemars(length(min = 1, max = 1024), regex(pattern = patterns::NOT_BLANK))]
    pub classification: String,
    /// Properties of the classification, e.g. `spark.dynamicAllocation.enabled: "false"`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 100, "additionalProperties" = {"type": "string", "maxLength": 1024}))]
    pub properties: BTreeMap<String, String>,
    /// Nested classifications, e.g. `export` under `spark-env`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub configurations: Vec<NestedConfiguration>,
}

/// A classification nested one level down.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NestedConfiguration {
    /// The classification.
    #[schemars(length(min = 1, max = 1024), regex(pattern = patterns::NOT_BLANK))]
    pub classification: String,
    /// Properties of the classification.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 100, "additionalProperties" = {"type": "string", "maxLength": 1024}))]
    pub properties: BTreeMap<String, String>,
    /// Classifications nested one further level down.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub configurations: Vec<LeafConfiguration>,
}

/// A classification nested two levels down.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeafConfiguration {
    /// The classification.
    #[schemars(length(min = 1, max = 1024), regex(pattern = patterns::NOT_BLANK))]
    pub classification: String,
    /// Properties of the classification.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 100, "additionalProperties" = {"type": "string", "maxLength": 1024}))]
    pub properties: BTreeMap<String, String>,
}

/// Monitoring of a job run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringConfiguration {
    /// Keep the Spark UI available in the EMR console after the job ends: ENABLED or DISABLED.
    #[serde(
        default,
        rename = "persistentAppUI",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "persistent_app_ui_schema")]
    pub persistent_app_ui: Option<PersistentAppUi>,
    /// Send driver and executor logs to CloudWatch Logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_monitoring_configuration: Option<CloudWatchMonitoringConfiguration>,
    /// Send driver and executor logs to S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_monitoring_configuration: Option<S3MonitoringConfiguration>,
    /// Rotate container logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_log_rotation_configuration: Option<ContainerLogRotationConfiguration>,
}

/// See [`MonitoringConfiguration::persistent_app_ui`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PersistentAppUi {
    Enabled,
    Disabled,
}

/// The schema of an optional [`PersistentAppUi`]: schemars would list `null` among the enum
/// values, which a 1.20 apiserver refuses in a CRD ("per-version schemas may not all be set to
/// identical values"), so the enum is spelled out and the field made nullable instead.
fn persistent_app_ui_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "nullable": true,
        "enum": ["ENABLED", "DISABLED"]
    })
}

/// CloudWatch Logs destination.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudWatchMonitoringConfiguration {
    /// The log group, e.g. `/emr-on-eks/analytics`.
    #[schemars(length(min = 1, max = 512), regex(pattern = patterns::LOG_GROUP_NAME))]
    pub log_group_name: String,
    /// Prefix of the log streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = patterns::NOT_BLANK))]
    pub log_stream_name_prefix: Option<String>,
}

/// S3 logs destination.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3MonitoringConfiguration {
    /// Where logs go, e.g. `s3://my-bucket/logs/`.
    #[schemars(length(min = 1, max = 10280), regex(pattern = patterns::S3_URI))]
    pub log_uri: String,
}

/// Container log rotation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerLogRotationConfiguration {
    /// Size at which a log file is rotated, e.g. `2KB`, `10M`.
    #[schemars(length(min = 2, max = 12), regex(pattern = patterns::ROTATION_SIZE))]
    pub rotation_size: String,
    /// How many rotated files to keep.
    #[schemars(range(min = 1, max = 50))]
    pub max_files_to_keep: i32,
}
