//! The job as sent: its spec with the `podTemplateFile` properties of the uploaded templates in
//! the `spark-defaults` classification. Only the request sees it; the object's spec is never
//! written.

use emr_api::SparkJobRun;
use emr_api::pod_template::PodTemplateFiles;
use emr_api::spark_job_run::{ApplicationConfiguration, ConfigurationOverrides};

/// `job` with each file's property in `spark-defaults` (added, or the classification created).
pub fn with_files(job: &SparkJobRun, files: Option<&PodTemplateFiles>) -> SparkJobRun {
    let mut job = job.clone();
    let Some(files) = files.filter(|f| !f.is_empty()) else {
        return job;
    };
    let overrides = job
        .spec
        .configuration_overrides
        .get_or_insert_with(ConfigurationOverrides::default);
    let configurations = &mut overrides.application_configuration;
    let index = match configurations
        .iter()
        .position(|c| c.classification == "spark-defaults")
    {
        Some(index) => index,
        None => {
            configurations.push(ApplicationConfiguration {
                classification: "spark-defaults".into(),
                properties: Default::default(),
                configurations: Vec::new(),
            });
            configurations.len().saturating_sub(1)
        }
    };
    if let Some(defaults) = configurations.get_mut(index) {
        for (role, uri) in files.iter() {
            defaults
                .properties
                .insert(role.spark_property().to_owned(), uri.to_owned());
        }
    }
    job
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(overrides: serde_json::Value) -> SparkJobRun {
        serde_json::from_value(json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
            "metadata": {"name": "j", "namespace": "ns"},
            "spec": {
                "virtualCluster": {"name": "vc"},
                "executionRoleArn": "arn:aws:iam::123456789012:role/job",
                "releaseLabel": "emr-7.2.0-latest",
                "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": "local:///pi.py"}},
                "configurationOverrides": overrides
            }
        }))
        .unwrap()
    }

    fn files() -> PodTemplateFiles {
        PodTemplateFiles {
            driver: Some("s3://b/p/d.yaml".into()),
            executor: None,
        }
    }

    #[test]
    fn the_property_joins_an_existing_spark_defaults() {
        let original = job(json!({"applicationConfiguration": [
            {"classification": "spark-log4j", "properties": {"a": "b"}},
            {"classification": "spark-defaults", "properties": {"spark.executor.cores": "2"}}
        ]}));
        let sent = with_files(&original, Some(&files()));
        let defaults = &sent
            .spec
            .configuration_overrides
            .unwrap()
            .application_configuration[1];
        assert_eq!(defaults.properties["spark.executor.cores"], "2");
        assert_eq!(
            defaults.properties["spark.kubernetes.driver.podTemplateFile"],
            "s3://b/p/d.yaml"
        );
        assert!(
            !defaults
                .properties
                .contains_key("spark.kubernetes.executor.podTemplateFile")
        );
    }

    #[test]
    fn spark_defaults_is_created_when_missing_and_nothing_changes_without_files() {
        let original = job(json!({"monitoringConfiguration": {"persistentAppUI": "ENABLED"}}));
        let sent = with_files(&original, Some(&files()));
        let overrides = sent.spec.configuration_overrides.unwrap();
        assert_eq!(overrides.application_configuration.len(), 1);
        assert_eq!(
            overrides.application_configuration[0].classification,
            "spark-defaults"
        );
        assert!(overrides.monitoring_configuration.is_some());
        assert_eq!(with_files(&original, None).spec, original.spec);
        assert_eq!(
            with_files(&original, Some(&PodTemplateFiles::default())).spec,
            original.spec
        );
    }
}
