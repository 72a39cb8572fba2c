//! `SparkJobRun`: one EMR on EKS job run (per attempt), mirroring StartJobRun in full, plus what
//! Kubernetes users expect and EMR lacks: a deadline, operator-level resubmission and re-runs.

mod immutability;
mod overrides;
mod status;

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::patterns;

pub use immutability::{IMMUTABLE_SPEC_FIELDS, MUTABLE_SPEC_FIELDS, immutable_spec_rule};
pub use overrides::{
    ApplicationConfiguration, CloudWatchMonitoringConfiguration, ConfigurationOverrides,
    ContainerLogRotationConfiguration, LeafConfiguration, MonitoringConfiguration,
    NestedConfiguration, PersistentAppUi, S3MonitoringConfiguration,
};
pub use status::{AttemptRecord, LogLocations, SparkJobRunStatus, condition_types, reasons};

/// What to run, where, and how the operator watches over it. Fields mirror EMR's StartJobRun.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "emr-on-eks.dev",
    version = "v1alpha1",
    kind = "SparkJobRun",
    doc = "One EMR on EKS job run: applied with kubectl or kept in Git, started exactly once per attempt, its live state written back to status.",
    plural = "sparkjobruns",
    namespaced,
    shortname = "sjr",
    category = "emr",
    status = "SparkJobRunStatus",
    validation = immutable_spec_rule(),
    printcolumn = r#"{"name":"State","type":"string","jsonPath":".status.state"}"#,
    printcolumn = r#"{"name":"Job Run","type":"string","jsonPath":".status.jobRunId"}"#,
    printcolumn = r#"{"name":"Attempt","type":"integer","jsonPath":".status.attempt"}"#,
    printcolumn = r#"{"name":"Succeeded","type":"string","jsonPath":".status.conditions[?(@.type==\"Succeeded\")].status"}"#,
    printcolumn = r#"{"name":"Virtual Cluster","type":"string","priority":1,"jsonPath":".status.virtualClusterId"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.message"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
// The usual case first: when neither branch holds, the apiserver names the first branch's missing
// fields ("spec.releaseLabel: Required value"), which is what most users forgot.
#[schemars(extend("anyOf" = [
    {"required": ["executionRoleArn", "releaseLabel", "jobDriver"]},
    {"required": ["executionRoleArn", "jobTemplateId"]},
    {"required": ["jobTemplateRef"]}
]))]
// A SparkJobTemplate supplies the role, release and driver, and names the EMR template itself;
// inline pod templates exclude the podTemplateFile Spark properties.
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!has(self.jobTemplateRef) || (!has(self.jobTemplateId) && !has(self.executionRoleArn) && !has(self.releaseLabel) && !has(self.jobDriver))",
    "message": "jobTemplateRef excludes jobTemplateId, executionRoleArn, releaseLabel and jobDriver: the SparkJobTemplate supplies them",
    "reason": "FieldValueForbidden"
}, crate::pod_template::conflict_rule()]))]
pub struct SparkJobRunSpec {
    /// The virtual cluster to run in: a VirtualCluster object by name (its namespace must be this
    /// object's namespace), or a raw EMR virtual cluster id (only when the operator allows it).
    pub virtual_cluster: VirtualClusterRef,

    /// Name of the EMR job run. Defaults to the object's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = patterns::RESOURCE_NAME))]
    pub name: Option<String>,

    /// IAM role the job runs as; must be one of the VirtualCluster's executionRoles. Required
    /// unless jobTemplateRef is set (the template supplies it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 20, max = 2048), regex(pattern = patterns::IAM_ROLE_ARN))]
    pub execution_role_arn: Option<String>,

    /// EMR release, e.g. `emr-7.2.0-latest` or `emr-6.15.0-20240105`. Required unless jobTemplateId is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = patterns::RELEASE_LABEL))]
    pub release_label: Option<String>,

    /// What to run: exactly one of sparkSubmitJobDriver or sparkSqlJobDriver. Required unless jobTemplateId is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_driver: Option<JobDriver>,

    /// Spark configuration classifications and monitoring (logs, persistent UI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration_overrides: Option<ConfigurationOverrides>,

    /// EMR's own driver retry (EMR 6.9.0+): EMR restarts a failed driver up to maxAttempts times
    /// within one job run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy_configuration: Option<RetryPolicyConfiguration>,

    /// Tags for the job run (at most 50; keys 1-128, values up to 256 characters).
    #[serde(default)]
    #[schemars(extend("maxProperties" = 50, "additionalProperties" = {"type": "string", "maxLength": 256}))]
    pub tags: BTreeMap<String, String>,

    /// Id of an EMR job template to start the run from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = patterns::RESOURCE_ID))]
    pub job_template_id: Option<String>,

    /// A SparkJobTemplate in this namespace to start the run from (bound to the same
    /// VirtualCluster); excludes jobTemplateId, executionRoleArn, releaseLabel and jobDriver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_template_ref: Option<JobTemplateRef>,

    /// Values for the job template's parameters.
    #[serde(default)]
    #[schemars(extend("maxProperties" = 20, "additionalProperties" = {"type": "string", "minLength": 1, "maxLength": 1024}))]
    pub job_template_parameters: BTreeMap<String, String>,

    /// Cancel a job run that has not finished this many seconds after it was started; the attempt
    /// ends Failed with reason DeadlineExceeded (and is not resubmitted). At most one year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 31536000))]
    pub active_deadline_seconds: Option<i64>,

    /// Operator-level resubmission: start a new job run (a new attempt) when one fails for a
    /// listed reason. Independent of EMR's retryPolicyConfiguration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resubmit_policy: Option<ResubmitPolicy>,

    /// Change this value (any string, e.g. a date) to run the job again after the current run has
    /// finished. The only field that may change once the job has been submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub rerun: Option<String>,

    /// Delete this object this many seconds after its job run finished (0: at once), without
    /// any EMR call. Not for objects kept in Git: a GitOps tool recreates a deleted tracked
    /// object, which runs the job again (a Warning Event says so when Argo CD's tracking
    /// annotation or label is on it). Children of a ScheduledSparkJobRun are kept by its history
    /// limits instead. At most one year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 31536000))]
    pub ttl_seconds_after_finished: Option<i64>,

    /// While true, the job is not submitted (condition Suspended); set it to false (or remove
    /// it) and the job is submitted as attempt 1. Only holds back the first submission: once the
    /// job has been submitted, it has no effect (a running job run is neither paused nor
    /// cancelled, and resubmissions and re-runs go ahead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,

    /// Order among the jobs waiting for a slot of a VirtualCluster with `maxConcurrentJobRuns`:
    /// a higher priority is admitted first, then the older object (-1000 to 1000, default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = -1000, max = 1000))]
    pub priority: Option<i32>,

    /// Pod templates for the driver and the executors, written here instead of uploaded by
    /// hand: the operator checks them, writes them to the VirtualCluster's podTemplateStore
    /// and sets `spark.kubernetes.{driver,executor}.podTemplateFile`. A template here replaces
    /// the VirtualCluster's default for that role. Not with those Spark properties set by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_templates: Option<crate::pod_template::PodTemplates>,
}

/// A SparkJobTemplate by name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobTemplateRef {
    /// Name of a SparkJobTemplate in this namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Where a job runs: exactly one of `name` or `id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("oneOf" = [{"required": ["name"]}, {"required": ["id"]}]))]
pub struct VirtualClusterRef {
    /// Name of a VirtualCluster object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub name: Option<String>,
    /// A raw EMR virtual cluster id, for virtual clusters the operator does not manage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = patterns::RESOURCE_ID))]
    pub id: Option<String>,
}

/// The job driver: exactly one of spark-submit or Spark SQL.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("oneOf" = [
    {"required": ["sparkSubmitJobDriver"]},
    {"required": ["sparkSqlJobDriver"]}
]))]
pub struct JobDriver {
    /// Run a Spark application with spark-submit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spark_submit_job_driver: Option<SparkSubmitJobDriver>,
    /// Run a Spark SQL script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spark_sql_job_driver: Option<SparkSqlJobDriver>,
}

/// spark-submit's arguments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SparkSubmitJobDriver {
    /// The application: an S3 or `local://` path to a .py file or a jar.
    #[schemars(length(min = 1, max = 256), regex(pattern = patterns::SAFE_COMMAND_TEXT))]
    pub entry_point: String,
    /// Arguments passed to the application.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000), inner(length(min = 1, max = 10280), regex(pattern = patterns::SAFE_COMMAND_TEXT)))]
    pub entry_point_arguments: Vec<String>,
    /// spark-submit options, e.g. `--conf spark.executor.instances=2 --conf spark.executor.memory=2G`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 102400), regex(pattern = patterns::SAFE_COMMAND_TEXT))]
    pub spark_submit_parameters: Option<String>,
}

/// A Spark SQL script.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SparkSqlJobDriver {
    /// The SQL file, e.g. `s3://bucket/queries/report.sql`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = patterns::SAFE_COMMAND_TEXT))]
    pub entry_point: Option<String>,
    /// Spark options, e.g. `--conf spark.executor.instances=2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 102400), regex(pattern = patterns::SAFE_COMMAND_TEXT))]
    pub spark_sql_parameters: Option<String>,
}

/// EMR's driver retry policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicyConfiguration {
    /// How many times EMR starts the driver in total.
    #[schemars(range(min = 1, max = 10))]
    pub max_attempts: i32,
}

/// Why EMR says a job run failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailureReason {
    InternalError,
    UserError,
    ValidationError,
    ClusterUnavailable,
}

impl FailureReason {
    /// EMR's spelling, e.g. `USER_ERROR`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::InternalError => "INTERNAL_ERROR",
            Self::UserError => "USER_ERROR",
            Self::ValidationError => "VALIDATION_ERROR",
            Self::ClusterUnavailable => "CLUSTER_UNAVAILABLE",
        }
    }
}

/// When and how often the operator starts a new job run after one fails.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResubmitPolicy {
    /// How many new job runs may follow the first one (0 = never resubmit).
    #[serde(default = "default_resubmit_limit")]
    #[schemars(range(min = 0, max = 100))]
    pub limit: i32,
    /// Wait before the first resubmission, doubled after each further failure.
    #[serde(default = "default_backoff_seconds")]
    #[schemars(range(min = 0, max = 86400))]
    pub backoff_seconds: i64,
    /// The longest wait between attempts.
    #[serde(default = "default_max_backoff_seconds")]
    #[schemars(range(min = 0, max = 86400))]
    pub max_backoff_seconds: i64,
    /// The failure reasons worth another attempt. A run cancelled or past its deadline is never resubmitted.
    #[serde(default = "default_failure_reasons")]
    #[schemars(length(max = 4))]
    pub on_failure_reasons: Vec<FailureReason>,
}

fn default_resubmit_limit() -> i32 {
    2
}
fn default_backoff_seconds() -> i64 {
    30
}
fn default_max_backoff_seconds() -> i64 {
    600
}
fn default_failure_reasons() -> Vec<FailureReason> {
    vec![
        FailureReason::InternalError,
        FailureReason::ClusterUnavailable,
    ]
}

impl SparkJobRun {
    /// The EMR job run name: `spec.name` (the schema holds it to EMR's rules), else the object's
    /// name fitted to EMR's 64 characters (see [`crate::emr_name::fit_resource_name`]).
    pub fn job_run_name(&self) -> String {
        self.spec.name.clone().unwrap_or_else(|| {
            crate::emr_name::fit_resource_name(self.metadata.name.as_deref().unwrap_or_default())
        })
    }
}

impl SparkJobRunSpec {
    /// A stable fingerprint of everything but the mutable fields ([`MUTABLE_SPEC_FIELDS`]): the part of the spec that may not change
    /// once the job has been submitted. FNV-1a over canonical JSON, so it is the same across
    /// operator versions and platforms (unlike `DefaultHasher`).
    pub fn submission_fingerprint(&self) -> String {
        let mut frozen = self.clone();
        // The fields that may change after submission (left out, absent ones serialise to
        // nothing, so fingerprints recorded before these fields existed stay valid).
        frozen.rerun = None;
        frozen.ttl_seconds_after_finished = None;
        frozen.suspend = None;
        frozen.priority = None;
        // serde_json maps keep insertion order from the struct and BTreeMaps are sorted, so the
        // text is canonical for a given spec.
        let text = serde_json::to_string(&frozen).unwrap_or_default();
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in text.as_bytes() {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{hash:016x}")
    }
}
