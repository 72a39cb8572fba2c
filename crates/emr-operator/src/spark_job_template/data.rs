//! A SparkJobTemplate's spec as EMR's JobTemplateData (the SDK's own types, so what is tested
//! here is what is sent). Pure.

use std::collections::HashMap;

use emr_api::spark_job_template::{
    JobTemplateData, TemplateConfigurationOverrides, TemplateJobDriver, TemplateParameterType,
};
use emr_aws::aws_sdk_emrcontainers::error::BuildError;
use emr_aws::aws_sdk_emrcontainers::types as sdk;

use crate::spark_job_run::request::application_configuration;

pub fn job_template_data(data: &JobTemplateData) -> Result<sdk::JobTemplateData, BuildError> {
    let parameters: HashMap<String, sdk::TemplateParameterConfiguration> = data
        .parameter_configuration
        .iter()
        .map(|(name, p)| {
            let type_ = match p.type_ {
                TemplateParameterType::String => sdk::TemplateParameterDataType::String,
                TemplateParameterType::Number => sdk::TemplateParameterDataType::Number,
            };
            let config = sdk::TemplateParameterConfiguration::builder()
                .r#type(type_)
                .set_default_value(p.default_value.clone())
                .build();
            (name.clone(), config)
        })
        .collect();
    sdk::JobTemplateData::builder()
        .execution_role_arn(&data.execution_role_arn)
        .release_label(&data.release_label)
        .job_driver(job_driver(&data.job_driver)?)
        .set_configuration_overrides(
            data.configuration_overrides
                .as_ref()
                .map(configuration_overrides)
                .transpose()?,
        )
        .set_parameter_configuration((!parameters.is_empty()).then_some(parameters))
        .set_job_tags(
            (!data.job_tags.is_empty())
                .then(|| data.job_tags.clone().into_iter().collect::<HashMap<_, _>>()),
        )
        .build()
}

fn job_driver(driver: &TemplateJobDriver) -> Result<sdk::JobDriver, BuildError> {
    let submit = driver
        .spark_submit_job_driver
        .as_ref()
        .map(|d| {
            sdk::SparkSubmitJobDriver::builder()
                .entry_point(&d.entry_point)
                .set_entry_point_arguments(
                    (!d.entry_point_arguments.is_empty()).then(|| d.entry_point_arguments.clone()),
                )
                .set_spark_submit_parameters(d.spark_submit_parameters.clone())
                .build()
        })
        .transpose()?;
    let sql = driver.spark_sql_job_driver.as_ref().map(|d| {
        sdk::SparkSqlJobDriver::builder()
            .set_entry_point(d.entry_point.clone())
            .set_spark_sql_parameters(d.spark_sql_parameters.clone())
            .build()
    });
    Ok(sdk::JobDriver::builder()
        .set_spark_submit_job_driver(submit)
        .set_spark_sql_job_driver(sql)
        .build())
}

fn configuration_overrides(
    o: &TemplateConfigurationOverrides,
) -> Result<sdk::ParametricConfigurationOverrides, BuildError> {
    let application = o
        .application_configuration
        .iter()
        .map(application_configuration)
        .collect::<Result<Vec<_>, _>>()?;
    let monitoring = o.monitoring_configuration.as_ref().map(|m| {
        sdk::ParametricMonitoringConfiguration::builder()
            .set_persistent_app_ui(m.persistent_app_ui.clone())
            .set_cloud_watch_monitoring_configuration(
                m.cloud_watch_monitoring_configuration.as_ref().map(|c| {
                    sdk::ParametricCloudWatchMonitoringConfiguration::builder()
                        .set_log_group_name(c.log_group_name.clone())
                        .set_log_stream_name_prefix(c.log_stream_name_prefix.clone())
                        .build()
                }),
            )
            .set_s3_monitoring_configuration(m.s3_monitoring_configuration.as_ref().map(|s| {
                sdk::ParametricS3MonitoringConfiguration::builder()
                    .set_log_uri(s.log_uri.clone())
                    .build()
            }))
            .build()
    });
    Ok(sdk::ParametricConfigurationOverrides::builder()
        .set_application_configuration((!application.is_empty()).then_some(application))
        .set_monitoring_configuration(monitoring)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_maps_field_by_field() {
        let data: JobTemplateData = serde_json::from_value(serde_json::json!({
            "executionRoleArn": "arn:aws:iam::123456789012:role/${role}",
            "releaseLabel": "emr-7.2.0-latest",
            "jobDriver": {"sparkSubmitJobDriver": {
                "entryPoint": "local:///usr/lib/spark/examples/src/main/python/pi.py",
                "entryPointArguments": ["${partitions}"]
            }},
            "configurationOverrides": {
                "applicationConfiguration": [{"classification": "spark-defaults",
                    "properties": {"spark.executor.instances": "2"}}],
                "monitoringConfiguration": {"persistentAppUI": "ENABLED",
                    "s3MonitoringConfiguration": {"logUri": "s3://logs/${team}/"}}
            },
            "parameterConfiguration": {
                "role": {"type": "STRING"},
                "partitions": {"type": "NUMBER", "defaultValue": "10"},
                "team": {}
            },
            "jobTags": {"team": "a"}
        }))
        .unwrap();
        let sdk = job_template_data(&data).unwrap();
        assert_eq!(
            sdk.execution_role_arn(),
            "arn:aws:iam::123456789012:role/${role}"
        );
        let params = sdk.parameter_configuration().unwrap();
        assert_eq!(params["partitions"].default_value(), Some("10"));
        assert_eq!(
            params["partitions"].r#type(),
            Some(&sdk::TemplateParameterDataType::Number)
        );
        assert_eq!(
            params["team"].r#type(),
            Some(&sdk::TemplateParameterDataType::String)
        );
        let driver = sdk.job_driver().unwrap().spark_submit_job_driver().unwrap();
        assert_eq!(driver.entry_point_arguments(), ["${partitions}"]);
        let overrides = sdk.configuration_overrides().unwrap();
        assert_eq!(
            overrides
                .monitoring_configuration()
                .and_then(|m| m.s3_monitoring_configuration())
                .and_then(|s| s.log_uri()),
            Some("s3://logs/${team}/")
        );
        assert_eq!(sdk.job_tags().unwrap()["team"], "a");
    }
}
