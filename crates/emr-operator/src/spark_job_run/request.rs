//! The StartJobRun request a SparkJobRun stands for, built with the SDK's own types so that what
//! is unit-tested here is exactly what `emr_aws` sends (it forwards the input unchanged).
//!
//! Empty lists and maps are left out rather than sent empty: EMR treats both the same, and the
//! request the emulator records then reads like the manifest.

use std::collections::{BTreeMap, HashMap};

use emr_api::SparkJobRun;
use emr_api::labels::{TAG_OBJECT, TAG_UID};
use emr_api::patterns::MAX_TAG_VALUE;
use emr_api::spark_job_run::{
    ApplicationConfiguration, ConfigurationOverrides, LeafConfiguration, MonitoringConfiguration,
    NestedConfiguration, PersistentAppUi,
};
use emr_aws::aws_sdk_emrcontainers::error::BuildError;
use emr_aws::aws_sdk_emrcontainers::operation::start_job_run::StartJobRunInput;
use emr_aws::aws_sdk_emrcontainers::types as sdk;
use kube::ResourceExt;

mod driver;

pub(crate) use driver::job_driver;

/// How many tags the operator adds to every job run ([`TAG_OBJECT`], [`TAG_UID`]); the user's
/// tags must leave room for them under EMR's limit.
pub use emr_api::check::OPERATOR_TAG_COUNT;

/// EMR's limit on a client token's length.
const MAX_CLIENT_TOKEN: usize = 64;

/// Why a request could not be built. Cannot happen for an object the apiserver validated; kept
/// as an error rather than a panic all the same.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("the object has no metadata.uid, so no idempotency token can be derived")]
    MissingUid,
    #[error("{0}")]
    Build(#[from] BuildError),
}

/// The idempotency token of one attempt: the object's UID and the attempt number. Starting the
/// same attempt again (after a crash, a lost answer or a stale cache) returns the run EMR
/// already started instead of starting a second one. UIDs are 36 characters, so the token
/// stays within EMR's 64; an unusually long UID is cut from the front, keeping the attempt.
pub fn client_token(uid: &str, attempt: i32) -> String {
    let suffix = format!("-{attempt}");
    let keep = MAX_CLIENT_TOKEN.saturating_sub(suffix.len());
    let uid: String = uid.chars().take(keep).collect();
    format!("{uid}{suffix}")
}

/// The tags the operator puts on every job run, naming the object that started it.
pub fn operator_tags(job: &SparkJobRun) -> [(String, String); OPERATOR_TAG_COUNT] {
    let object = format!("{}/{}", job.namespace().unwrap_or_default(), job.name_any());
    [
        (
            TAG_OBJECT.to_owned(),
            object.chars().take(MAX_TAG_VALUE).collect(),
        ),
        (TAG_UID.to_owned(), job.uid().unwrap_or_default()),
    ]
}

/// The StartJobRun request for `attempt` of `job` in the virtual cluster `virtual_cluster_id`.
pub fn start_job_run_input(
    job: &SparkJobRun,
    virtual_cluster_id: &str,
    attempt: i32,
) -> Result<StartJobRunInput, RequestError> {
    let uid = job.uid().ok_or(RequestError::MissingUid)?;
    let spec = &job.spec;
    let mut tags: HashMap<String, String> = spec.tags.clone().into_iter().collect();
    tags.extend(operator_tags(job));
    let input = StartJobRunInput::builder()
        .name(job.job_run_name())
        .virtual_cluster_id(virtual_cluster_id)
        .client_token(client_token(&uid, attempt))
        .set_execution_role_arn(spec.execution_role_arn.clone())
        .set_release_label(spec.release_label.clone())
        .set_job_driver(spec.job_driver.as_ref().map(job_driver).transpose()?)
        .set_configuration_overrides(
            spec.configuration_overrides
                .as_ref()
                .map(configuration_overrides)
                .transpose()?,
        )
        .set_tags(Some(tags))
        .set_job_template_id(template_id(job))
        .set_job_template_parameters(non_empty_map(&spec.job_template_parameters))
        .set_retry_policy_configuration(
            spec.retry_policy_configuration
                .as_ref()
                .map(|r| {
                    sdk::RetryPolicyConfiguration::builder()
                        .max_attempts(r.max_attempts)
                        .build()
                })
                .transpose()?,
        )
        .build()?;
    Ok(input)
}

/// The EMR job template to start from: spec.jobTemplateId, or for spec.jobTemplateRef the one
/// the attempt recorded in status (resolved and checked before the attempt was recorded).
fn template_id(job: &SparkJobRun) -> Option<String> {
    match &job.spec.job_template_ref {
        Some(_) => job.status.as_ref()?.job_template_id.clone(),
        None => job.spec.job_template_id.clone(),
    }
}

fn configuration_overrides(
    overrides: &ConfigurationOverrides,
) -> Result<sdk::ConfigurationOverrides, BuildError> {
    Ok(sdk::ConfigurationOverrides::builder()
        .set_application_configuration(application_configurations(
            &overrides.application_configuration,
        )?)
        .set_monitoring_configuration(
            overrides
                .monitoring_configuration
                .as_ref()
                .map(monitoring_configuration)
                .transpose()?,
        )
        .build())
}

// The CRD spells EMR's recursive Configuration as three levels; each maps onto the same SDK type.

/// A run's or a template's applicationConfiguration; an empty list is left out.
pub(crate) fn application_configurations(
    list: &[ApplicationConfiguration],
) -> Result<Option<Vec<sdk::Configuration>>, BuildError> {
    let converted = list
        .iter()
        .map(application_configuration)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((!converted.is_empty()).then_some(converted))
}

fn application_configuration(
    c: &ApplicationConfiguration,
) -> Result<sdk::Configuration, BuildError> {
    let nested = c
        .configurations
        .iter()
        .map(nested_configuration)
        .collect::<Result<Vec<_>, _>>()?;
    configuration(&c.classification, &c.properties, nested)
}

fn nested_configuration(c: &NestedConfiguration) -> Result<sdk::Configuration, BuildError> {
    let leaves = c
        .configurations
        .iter()
        .map(leaf_configuration)
        .collect::<Result<Vec<_>, _>>()?;
    configuration(&c.classification, &c.properties, leaves)
}

fn leaf_configuration(c: &LeafConfiguration) -> Result<sdk::Configuration, BuildError> {
    configuration(&c.classification, &c.properties, Vec::new())
}

fn configuration(
    classification: &str,
    properties: &BTreeMap<String, String>,
    configurations: Vec<sdk::Configuration>,
) -> Result<sdk::Configuration, BuildError> {
    sdk::Configuration::builder()
        .classification(classification)
        .set_properties(non_empty_map(properties))
        .set_configurations((!configurations.is_empty()).then_some(configurations))
        .build()
}

fn monitoring_configuration(
    m: &MonitoringConfiguration,
) -> Result<sdk::MonitoringConfiguration, BuildError> {
    let cloud_watch = m
        .cloud_watch_monitoring_configuration
        .as_ref()
        .map(|c| {
            sdk::CloudWatchMonitoringConfiguration::builder()
                .log_group_name(&c.log_group_name)
                .set_log_stream_name_prefix(c.log_stream_name_prefix.clone())
                .build()
        })
        .transpose()?;
    let s3 = m
        .s3_monitoring_configuration
        .as_ref()
        .map(|s| {
            sdk::S3MonitoringConfiguration::builder()
                .log_uri(&s.log_uri)
                .build()
        })
        .transpose()?;
    let rotation = m
        .container_log_rotation_configuration
        .as_ref()
        .map(|r| {
            sdk::ContainerLogRotationConfiguration::builder()
                .rotation_size(&r.rotation_size)
                .max_files_to_keep(r.max_files_to_keep)
                .build()
        })
        .transpose()?;
    Ok(sdk::MonitoringConfiguration::builder()
        .set_persistent_app_ui(m.persistent_app_ui.map(|ui| match ui {
            PersistentAppUi::Enabled => sdk::PersistentAppUi::Enabled,
            PersistentAppUi::Disabled => sdk::PersistentAppUi::Disabled,
        }))
        .set_cloud_watch_monitoring_configuration(cloud_watch)
        .set_s3_monitoring_configuration(s3)
        .set_container_log_rotation_configuration(rotation)
        .build())
}

fn non_empty_map(map: &BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    (!map.is_empty()).then(|| map.clone().into_iter().collect())
}

#[cfg(test)]
mod tests;
