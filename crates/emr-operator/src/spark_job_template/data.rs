//! A SparkJobTemplate's spec as EMR's JobTemplateData (the SDK's own types, so what is tested
//! here is what is sent). Pure.

use std::collections::HashMap;

use emr_api::spark_job_template::{
    JobTemplateData, TemplateConfigurationOverrides, TemplateParameterType,
};
use emr_aws::aws_sdk_emrcontainers::error::BuildError;
use emr_aws::aws_sdk_emrcontainers::types as sdk;

use crate::spark_job_run::request::{application_configurations, job_driver};

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

fn configuration_overrides(
    o: &TemplateConfigurationOverrides,
) -> Result<sdk::ParametricConfigurationOverrides, BuildError> {
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
        .set_application_configuration(application_configurations(&o.application_configuration)?)
        .set_monitoring_configuration(monitoring)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spark_job_run::request::start_job_run_input;

    /// What a run and a template with the same driver and classifications send: the same
    /// JobDriver and applicationConfiguration (one conversion serves both).
    fn both_send(
        driver: serde_json::Value,
    ) -> [(sdk::JobDriver, Option<Vec<sdk::Configuration>>); 2] {
        let classifications = serde_json::json!([{"classification": "spark-defaults",
            "properties": {"spark.executor.instances": "2"},
            "configurations": [{"classification": "export", "properties": {}}]}]);
        let run: emr_api::SparkJobRun = serde_json::from_value(serde_json::json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
            "metadata": {"name": "pi", "namespace": "spark-a", "uid": "u"},
            "spec": {"virtualCluster": {"name": "team-a"},
                "executionRoleArn": "arn:aws:iam::123456789012:role/r",
                "releaseLabel": "emr-7.2.0-latest", "jobDriver": driver,
                "configurationOverrides": {"applicationConfiguration": classifications}}
        }))
        .unwrap();
        let data: JobTemplateData = serde_json::from_value(serde_json::json!({
            "executionRoleArn": "arn:aws:iam::123456789012:role/r",
            "releaseLabel": "emr-7.2.0-latest", "jobDriver": driver,
            "configurationOverrides": {"applicationConfiguration": classifications}
        }))
        .unwrap();
        let run = start_job_run_input(&run, "vc1", 1).unwrap();
        let template = job_template_data(&data).unwrap();
        [
            (
                run.job_driver().unwrap().clone(),
                run.configuration_overrides()
                    .map(|o| o.application_configuration().to_vec()),
            ),
            (
                template.job_driver().unwrap().clone(),
                template
                    .configuration_overrides()
                    .map(|o| o.application_configuration().to_vec()),
            ),
        ]
    }

    #[test]
    fn runs_and_templates_send_a_driver_alike() {
        let [run, template] = both_send(serde_json::json!({"sparkSubmitJobDriver": {
            "entryPoint": "s3://b/app.py", "entryPointArguments": ["--day", "1"],
            "sparkSubmitParameters": "--conf spark.executor.instances=2"}}));
        assert_eq!(run, template);
        let submit = run.0.spark_submit_job_driver().unwrap();
        assert_eq!(submit.entry_point_arguments(), ["--day", "1"]);
        assert_eq!(
            submit.spark_submit_parameters(),
            Some("--conf spark.executor.instances=2")
        );
        let classes = run.1.unwrap();
        assert_eq!(classes[0].classification(), "spark-defaults");
        // An empty map or list is left out, not sent empty.
        assert_eq!(classes[0].configurations()[0].properties(), None);

        // No arguments: the list is left out, not sent empty.
        let [run, template] =
            both_send(serde_json::json!({"sparkSubmitJobDriver": {"entryPoint": "s3://b/a.py"}}));
        assert_eq!(run, template);
        let submit = run.0.spark_submit_job_driver().unwrap();
        assert_eq!(submit.entry_point_arguments, None);

        let [run, template] = both_send(serde_json::json!({"sparkSqlJobDriver": {
            "entryPoint": "s3://b/q.sql", "sparkSqlParameters": "--conf a=b"}}));
        assert_eq!(run, template);
        let sql = run.0.spark_sql_job_driver().unwrap();
        assert_eq!(sql.entry_point(), Some("s3://b/q.sql"));
        assert_eq!(sql.spark_sql_parameters(), Some("--conf a=b"));
        assert!(run.0.spark_submit_job_driver().is_none());
    }

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
