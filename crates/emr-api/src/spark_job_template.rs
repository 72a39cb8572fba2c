//! `SparkJobTemplate`: an EMR on EKS job template kept in Git, bound to one VirtualCluster.
//! EMR job templates cannot be updated: the operator replaces the EMR template when the spec
//! changes and retires the previous one once no active SparkJobRun uses it.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::emr_object::emr_object_status;
use crate::patterns;
use crate::spark_job_run::ApplicationConfiguration;

/// An EMR job template: EMR's CreateJobTemplate in EMR's own field names, plus the tenant binding.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "emr-on-eks.dev",
    version = "v1alpha1",
    kind = "SparkJobTemplate",
    doc = "An EMR on EKS job template kept in Git: created in EMR, replaced when the spec changes (EMR templates are immutable), usable by the SparkJobRuns of one VirtualCluster through spec.jobTemplateRef.",
    plural = "sparkjobtemplates",
    namespaced,
    shortname = "sjt",
    category = "emr",
    status = "SparkJobTemplateStatus",
    printcolumn = r#"{"name":"Virtual Cluster","type":"string","jsonPath":".spec.virtualCluster.name"}"#,
    printcolumn = r#"{"name":"Template","type":"string","jsonPath":".status.jobTemplateId"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Previous","type":"string","priority":1,"jsonPath":".status.previous[*].id"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.message"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SparkJobTemplateSpec {
    /// The VirtualCluster (in this namespace) whose SparkJobRuns may use the template. Its
    /// execution role must be one of that VirtualCluster's executionRoles; a `${param}` role is
    /// checked for each run once resolved.
    pub virtual_cluster: TemplateVirtualClusterRef,

    /// Name of the EMR job template. Defaults to the object's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = patterns::RESOURCE_NAME))]
    pub name: Option<String>,

    /// The values a run started from the template gets (EMR's jobTemplateData).
    pub job_template_data: JobTemplateData,

    /// KMS key EMR encrypts the template with (the operator's role needs kms:Encrypt,
    /// kms:Decrypt and kms:GenerateDataKey on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 2048), regex(pattern = patterns::KMS_KEY_ARN))]
    pub kms_key_arn: Option<String>,

    /// Tags for the EMR job template (at most 47: the operator adds three).
    #[serde(default)]
    #[schemars(extend("maxProperties" = 47, "additionalProperties" = {"type": "string", "maxLength": 256}))]
    pub tags: BTreeMap<String, String>,
}

/// The VirtualCluster a template is bound to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateVirtualClusterRef {
    /// Name of a VirtualCluster object.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// EMR's jobTemplateData. Values may hold `${param}` placeholders declared in
/// parameterConfiguration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobTemplateData {
    /// IAM role the job runs as, or a `${param}`.
    #[schemars(length(min = 4, max = 2048), regex(pattern = patterns::PARAMETRIC_IAM_ROLE_ARN))]
    pub execution_role_arn: String,
    /// EMR release, e.g. `emr-7.2.0-latest`, or a `${param}`.
    #[schemars(length(min = 1, max = 64), regex(pattern = patterns::PARAMETRIC_RELEASE_LABEL))]
    pub release_label: String,
    /// What to run: exactly one of sparkSubmitJobDriver or sparkSqlJobDriver.
    pub job_driver: TemplateJobDriver,
    /// Spark configuration classifications and monitoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration_overrides: Option<TemplateConfigurationOverrides>,
    /// The parameters runs may (or, without a defaultValue, must) give in jobTemplateParameters.
    #[serde(default)]
    #[schemars(extend("maxProperties" = 100))]
    pub parameter_configuration: BTreeMap<String, TemplateParameter>,
    /// Tags every job run started from the template gets.
    #[serde(default)]
    #[schemars(extend("maxProperties" = 48, "additionalProperties" = {"type": "string", "maxLength": 256}))]
    pub job_tags: BTreeMap<String, String>,
}

/// A declared template parameter.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateParameter {
    /// STRING (default) or NUMBER.
    #[serde(default, rename = "type")]
    pub type_: TemplateParameterType,
    /// The value when a run gives none; without it, every run must give the parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024), regex(pattern = patterns::ONE_LINE))]
    pub default_value: Option<String>,
}

/// EMR's TemplateParameterDataType.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateParameterType {
    #[default]
    String,
    Number,
}

/// A template's job driver: spark-submit or Spark SQL, values may hold `${param}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("oneOf" = [
    {"required": ["sparkSubmitJobDriver"]},
    {"required": ["sparkSqlJobDriver"]}
]))]
pub struct TemplateJobDriver {
    /// Run a Spark application with spark-submit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spark_submit_job_driver: Option<TemplateSparkSubmit>,
    /// Run a Spark SQL script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spark_sql_job_driver: Option<TemplateSparkSql>,
}

/// spark-submit's arguments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateSparkSubmit {
    /// The application: an S3 or `local://` path, or a `${param}`.
    #[schemars(length(min = 1, max = 256), regex(pattern = patterns::ONE_LINE))]
    pub entry_point: String,
    /// Arguments passed to the application.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000), inner(length(min = 1, max = 10280), regex(pattern = patterns::ONE_LINE)))]
    pub entry_point_arguments: Vec<String>,
    /// spark-submit options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 102400), regex(pattern = patterns::ONE_LINE))]
    pub spark_submit_parameters: Option<String>,
}

/// A Spark SQL script.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateSparkSql {
    /// The SQL file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = patterns::ONE_LINE))]
    pub entry_point: Option<String>,
    /// Spark options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 102400), regex(pattern = patterns::ONE_LINE))]
    pub spark_sql_parameters: Option<String>,
}

/// EMR's ParametricConfigurationOverrides.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateConfigurationOverrides {
    /// Configuration classifications such as `spark-defaults`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub application_configuration: Vec<ApplicationConfiguration>,
    /// Where logs go and whether the Spark UI outlives the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring_configuration: Option<TemplateMonitoringConfiguration>,
}

/// EMR's ParametricMonitoringConfiguration (no container log rotation: EMR's template model
/// has none; a run may add it in its own configurationOverrides when the template has none).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMonitoringConfiguration {
    /// ENABLED or DISABLED, or a `${param}`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "persistentAppUI"
    )]
    #[schemars(length(min = 1, max = 512), regex(pattern = patterns::TEMPLATE_PARAMETER_TEXT))]
    pub persistent_app_ui: Option<String>,
    /// CloudWatch Logs destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_monitoring_configuration: Option<TemplateCloudWatch>,
    /// S3 destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_monitoring_configuration: Option<TemplateS3>,
}

/// CloudWatch Logs destination of a template.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateCloudWatch {
    /// The log group, or a `${param}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512), regex(pattern = patterns::TEMPLATE_PARAMETER_TEXT))]
    pub log_group_name: Option<String>,
    /// Prefix of the log streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = patterns::ONE_LINE))]
    pub log_stream_name_prefix: Option<String>,
}

/// S3 destination of a template.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateS3 {
    /// S3 URI logs are written under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 10280), regex(pattern = patterns::ONE_LINE))]
    pub log_uri: Option<String>,
}

emr_object_status!(
    /// The observed state of a SparkJobTemplate.
    SparkJobTemplateStatus,
    /// Id of the EMR job template that serves the current spec; runs started now use it.
    job_template_id
);

impl SparkJobTemplate {
    /// The EMR job template's name: `spec.name`, else the object's name fitted to EMR's rules.
    pub fn emr_name(&self) -> String {
        self.spec.name.clone().unwrap_or_else(|| {
            crate::emr_name::fit_resource_name(self.metadata.name.as_deref().unwrap_or_default())
        })
    }
}

/// Reasons a SparkJobTemplate or SecurityConfiguration reports, beyond the shared ones in
/// [`crate::emr_object::reasons`].
pub mod reasons {
    /// The template's fixed execution role is not one of its VirtualCluster's executionRoles.
    pub const EXECUTION_ROLE_NOT_ALLOWED: &str = "ExecutionRoleNotAllowed";
    /// spec.virtualCluster names no VirtualCluster.
    pub const VIRTUAL_CLUSTER_NOT_FOUND: &str = "VirtualClusterNotFound";
    /// spec.virtualCluster names a VirtualCluster bound to another namespace.
    pub const VIRTUAL_CLUSTER_IN_OTHER_NAMESPACE: &str = "VirtualClusterInOtherNamespace";
}
