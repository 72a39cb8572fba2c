//! Spark pod templates written inline in a SparkJobRun (or as a VirtualCluster's defaults), and
//! where the operator stores them in S3 for EMR.
//!
//! The CRD carries Kubernetes' own `PodTemplateSpec` schema (from k8s-openapi, descriptions
//! trimmed so the CRD stays small), so the apiserver refuses a malformed template at apply time.
//! In Rust a template is kept as plain JSON and parsed into k8s-openapi's types only by the
//! operator's check ([`PodTemplate::parse`]): a value the schema lets through but the typed struct
//! refuses (say a port beyond int32, which the apiserver does not bound) then fails that one
//! object with a reason naming the field, instead of making the operator's watch unable to read
//! every SparkJobRun.

use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::patterns;

/// Inline pod templates for a job's driver and executors (Spark's
/// `spark.kubernetes.{driver,executor}.podTemplateFile`, uploaded to S3 by the operator).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplates {
    /// The driver pod's template: metadata labels/annotations and a pod spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<PodTemplate>,
    /// The executor pods' template: metadata labels/annotations and a pod spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<PodTemplate>,
}

impl PodTemplates {
    /// The template of `role`, if any.
    pub fn get(&self, role: PodRole) -> Option<&PodTemplate> {
        match role {
            PodRole::Driver => self.driver.as_ref(),
            PodRole::Executor => self.executor.as_ref(),
        }
    }
}

/// The two pods a Spark job has templates for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PodRole {
    Driver,
    Executor,
}

impl PodRole {
    pub const ALL: [PodRole; 2] = [PodRole::Driver, PodRole::Executor];

    /// `driver` or `executor`, as the field and Spark's property name spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            PodRole::Driver => "driver",
            PodRole::Executor => "executor",
        }
    }

    /// The Spark property naming this role's template file.
    pub fn spark_property(self) -> &'static str {
        match self {
            PodRole::Driver => "spark.kubernetes.driver.podTemplateFile",
            PodRole::Executor => "spark.kubernetes.executor.podTemplateFile",
        }
    }
}

/// One pod template (Kubernetes' `PodTemplateSpec`: `metadata.labels`, `metadata.annotations`
/// and `spec`), kept as JSON; see the module documentation for why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PodTemplate(pub Value);

/// Why a pod template cannot be read as a `PodTemplateSpec`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PodTemplateError {
    /// The field, relative to the template (e.g. `spec.containers[0].ports[0].containerPort`).
    pub field: String,
    pub message: String,
}

impl PodTemplate {
    /// The template as k8s-openapi's typed `PodTemplateSpec`, or the first field it cannot take.
    pub fn parse(&self) -> Result<PodTemplateSpec, PodTemplateError> {
        let object = self.0.as_object().ok_or_else(|| PodTemplateError {
            field: String::new(),
            message: "a pod template must be an object".into(),
        })?;
        for key in object.keys() {
            if key != "metadata" && key != "spec" {
                return Err(PodTemplateError {
                    field: key.clone(),
                    message: "a pod template has only metadata and spec".into(),
                });
            }
        }
        if let Some(metadata) = object.get("metadata") {
            let fields = metadata.as_object().ok_or_else(|| PodTemplateError {
                field: "metadata".into(),
                message: "must be an object".into(),
            })?;
            if let Some(key) = fields
                .keys()
                .find(|k| !matches!(k.as_str(), "labels" | "annotations" | "namespace"))
            {
                return Err(PodTemplateError {
                    field: format!("metadata.{key}"),
                    message: "only labels, annotations and namespace may be set on a pod template"
                        .into(),
                });
            }
        }
        let spec = match object.get("spec") {
            Some(spec) => Some(parse_spec(spec)?),
            None => None,
        };
        let metadata = match object.get("metadata") {
            Some(value) => {
                Some(
                    serde_json::from_value(value.clone()).map_err(|e| PodTemplateError {
                        field: "metadata".into(),
                        message: e.to_string(),
                    })?,
                )
            }
            None => None,
        };
        Ok(PodTemplateSpec { metadata, spec })
    }
}

/// Parses a pod spec field by field, so an error names the field (serde_json alone says only
/// "invalid type at line 1 column 312").
fn parse_spec(spec: &Value) -> Result<PodSpec, PodTemplateError> {
    let object = spec.as_object().ok_or_else(|| PodTemplateError {
        field: "spec".into(),
        message: "must be an object".into(),
    })?;
    // Each top-level field is tried on its own in an otherwise empty spec; the one that fails
    // is searched deeper (list items, then their fields) for the exact path.
    for (key, value) in object {
        let mut alone = serde_json::Map::new();
        alone.insert(key.clone(), value.clone());
        if let Err(error) = serde_json::from_value::<PodSpec>(Value::Object(alone)) {
            let path = format!("spec.{key}");
            return Err(PodTemplateError {
                field: deepest_failing(&path, value, |candidate| {
                    let mut alone = serde_json::Map::new();
                    alone.insert(key.clone(), candidate);
                    serde_json::from_value::<PodSpec>(Value::Object(alone)).is_ok()
                })
                .unwrap_or(path),
                message: error.to_string(),
            });
        }
    }
    serde_json::from_value(spec.clone()).map_err(|e| PodTemplateError {
        field: "spec".into(),
        message: e.to_string(),
    })
}

/// For a list value that fails, the index of its first failing item (and within an object
/// item, its first failing field), e.g. `spec.containers[1].ports`.
fn deepest_failing(path: &str, value: &Value, accepts: impl Fn(Value) -> bool) -> Option<String> {
    let items = value.as_array()?;
    for (i, item) in items.iter().enumerate() {
        if accepts(Value::Array(vec![item.clone()])) {
            continue;
        }
        let here = format!("{path}[{i}]");
        if let Some(fields) = item.as_object() {
            // The item's required fields stay in, so only the field at fault makes it fail.
            let required: serde_json::Map<String, Value> = fields
                .iter()
                .filter(|(k, _)| *k == "name")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for (key, field) in fields {
                let mut alone = required.clone();
                alone.insert(key.clone(), field.clone());
                if !accepts(Value::Array(vec![Value::Object(alone)])) {
                    return Some(format!("{here}.{key}"));
                }
            }
        }
        return Some(here);
    }
    None
}

impl JsonSchema for PodTemplate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PodTemplate".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut spec = generator.subschema_for::<PodSpec>().to_value();
        strip_descriptions(&mut spec);
        // Spark merges a template into the pods it builds: a template naming no container (say,
        // only a nodeSelector) is complete, so `containers` is not required as in a Pod.
        if let Some(object) = spec.as_object_mut() {
            object.remove("required");
            // A Pod cannot be created with ephemeral containers (the apiserver refuses them on
            // create), so a template has no use for them; a fifth of PodSpec's schema.
            if let Some(Value::Object(properties)) = object.get_mut("properties") {
                properties.remove("ephemeralContainers");
            }
            object.insert(
                "description".into(),
                "The pod spec: Kubernetes' PodSpec (see `kubectl explain pod.spec`), checked by the apiserver; containers are optional (Spark adds its own).".into(),
            );
        }
        let schema = json!({
            "type": "object",
            "description": "A pod template: metadata labels/annotations and a pod spec.",
            "properties": {
                "metadata": {
                    "type": "object",
                    "description": "Labels and annotations for the pods.",
                    "properties": {
                        "namespace": {
                            "type": "string",
                            "description": "If set, the job's namespace (the pods run there whatever it says).",
                            "maxLength": 63
                        },
                        "labels": {
                            "type": "object",
                            "description": "Labels for the pods.",
                            "maxProperties": 64,
                            "additionalProperties": {"type": "string", "maxLength": 63}
                        },
                        "annotations": {
                            "type": "object",
                            "description": "Annotations for the pods.",
                            "maxProperties": 64,
                            "additionalProperties": {"type": "string", "maxLength": 4096}
                        }
                    }
                },
                "spec": spec
            }
        });
        schemars::Schema::try_from(schema).unwrap_or_default()
    }
}

/// Whether a schema path (`spec.podTemplates.driver.spec`, any prefix) is a template's pod
/// spec: Kubernetes' own PodSpec, whose fields `kubectl explain pod.spec` documents, so the
/// reference and the description check stop there.
pub fn is_pod_spec_path(path: &str) -> bool {
    path.ends_with("podTemplates.driver.spec") || path.ends_with("podTemplates.executor.spec")
}

/// Removes every `description` below the top (k8s-openapi's are most of PodSpec's schema:
/// ~1 MB with them); properties literally named `description` are kept.
fn strip_descriptions(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if object.get("description").is_some_and(Value::is_string) {
                object.remove("description");
            }
            for (key, child) in object.iter_mut() {
                if key == "properties" {
                    if let Value::Object(props) = child {
                        props.values_mut().for_each(strip_descriptions);
                    }
                } else {
                    strip_descriptions(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_descriptions),
        _ => {}
    }
}

/// Where the operator writes a VirtualCluster's pod templates, and how.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplateStore {
    /// An S3 prefix, `s3://bucket/prefix/`: each template is written once, to
    /// `<s3Uri><sha256 of its YAML>.yaml`, and shared by every job with the same template. The
    /// operator needs s3:PutObject and s3:GetObject there, the job execution roles s3:GetObject;
    /// the operator never deletes (an S3 lifecycle rule on the prefix does).
    #[schemars(length(min = 6, max = 512), regex(pattern = patterns::S3_PREFIX_URI))]
    pub s3_uri: String,
    /// Server-side encryption of the objects: `AES256` (SSE-S3) or `aws:kms` (SSE-KMS). Unset:
    /// the bucket's default encryption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "sse_schema")]
    pub sse: Option<ServerSideEncryption>,
    /// The KMS key for `aws:kms` (key id, ARN or alias); unset: the account's S3 AWS managed key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048), regex(pattern = patterns::NOT_BLANK))]
    pub kms_key_id: Option<String>,
    /// The account that must own the bucket (S3's expected bucket owner): a request to a bucket
    /// of another account fails rather than hands it the template. Defaults to the
    /// VirtualCluster's account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = patterns::ACCOUNT_ID))]
    pub expected_bucket_owner: Option<String>,
}

/// The schema of an optional [`ServerSideEncryption`]: spelled out, since schemars would list
/// `null` among the enum values, which a 1.20 apiserver refuses in a CRD (see
/// `persistent_app_ui_schema`).
fn sse_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "nullable": true,
        "enum": ["AES256", "aws:kms"],
        "description": "Server-side encryption of the objects: `AES256` (SSE-S3) or `aws:kms` (SSE-KMS). Unset: the bucket's default encryption."
    })
}

/// See [`PodTemplateStore::sse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ServerSideEncryption {
    #[serde(rename = "AES256")]
    Aes256,
    #[serde(rename = "aws:kms")]
    AwsKms,
}

impl ServerSideEncryption {
    /// S3's spelling (`x-amz-server-side-encryption`).
    pub fn as_str(self) -> &'static str {
        match self {
            ServerSideEncryption::Aes256 => "AES256",
            ServerSideEncryption::AwsKms => "aws:kms",
        }
    }
}

/// Where the operator put a job's pod templates (`status.podTemplates`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplateFiles {
    /// S3 URI of the driver's template, as sent in `spark.kubernetes.driver.podTemplateFile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// S3 URI of the executors' template, as sent in `spark.kubernetes.executor.podTemplateFile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
}

impl PodTemplateFiles {
    pub fn get(&self, role: PodRole) -> Option<&str> {
        match role {
            PodRole::Driver => self.driver.as_deref(),
            PodRole::Executor => self.executor.as_deref(),
        }
    }

    pub fn set(&mut self, role: PodRole, uri: String) {
        match role {
            PodRole::Driver => self.driver = Some(uri),
            PodRole::Executor => self.executor = Some(uri),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.driver.is_none() && self.executor.is_none()
    }

    /// `(role, uri)` for each role with a file.
    pub fn iter(&self) -> impl Iterator<Item = (PodRole, &str)> {
        PodRole::ALL
            .into_iter()
            .filter_map(|role| self.get(role).map(|uri| (role, uri)))
    }
}

/// The CEL rule on a SparkJobRun spec refusing inline templates together with the
/// `podTemplateFile` Spark properties (the operator refuses the mix too, with
/// `PodTemplateConflict`, on apiservers that drop CEL rules).
pub fn conflict_rule() -> Value {
    json!({
        "rule": "!has(self.podTemplates) || ((!has(self.configurationOverrides) || !has(self.configurationOverrides.applicationConfiguration) || !self.configurationOverrides.applicationConfiguration.exists(c, c.classification == 'spark-defaults' && has(c.properties) && ('spark.kubernetes.driver.podTemplateFile' in c.properties || 'spark.kubernetes.executor.podTemplateFile' in c.properties))) && (!has(self.jobDriver) || ((!has(self.jobDriver.sparkSubmitJobDriver) || !has(self.jobDriver.sparkSubmitJobDriver.sparkSubmitParameters) || !self.jobDriver.sparkSubmitJobDriver.sparkSubmitParameters.contains('podTemplateFile')) && (!has(self.jobDriver.sparkSqlJobDriver) || !has(self.jobDriver.sparkSqlJobDriver.sparkSqlParameters) || !self.jobDriver.sparkSqlJobDriver.sparkSqlParameters.contains('podTemplateFile')))))",
        "message": "set either spec.podTemplates or the spark.kubernetes.{driver,executor}.podTemplateFile Spark properties, not both",
        "reason": "FieldValueForbidden"
    })
}
