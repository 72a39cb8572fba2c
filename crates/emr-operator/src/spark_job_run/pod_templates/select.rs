//! Which template each pod role gets: the job's own, else its VirtualCluster's default (a
//! replacement per role, never a merge), and never together with a hand-set `podTemplateFile`.

use std::collections::BTreeSet;

use emr_api::pod_template::{PodRole, PodTemplate};
use emr_api::{SparkJobRunSpec, VirtualCluster};

use crate::spark_job_run::preflight::spark_conf::SparkConf;

/// Where a chosen template is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The SparkJobRun's `spec.podTemplates`.
    Job,
    /// The named VirtualCluster's `spec.podTemplates` (a default).
    VirtualCluster(String),
}

/// The template one role gets.
#[derive(Clone, Debug, PartialEq)]
pub struct Chosen<'a> {
    pub role: PodRole,
    pub template: &'a PodTemplate,
    pub origin: Origin,
}

impl Chosen<'_> {
    /// The field the template is written in, for messages: `spec.podTemplates.driver`, or
    /// `VirtualCluster team-a spec.podTemplates.driver` for a default.
    pub fn field(&self) -> String {
        match &self.origin {
            Origin::Job => format!("spec.podTemplates.{}", self.role.as_str()),
            Origin::VirtualCluster(name) => {
                format!(
                    "VirtualCluster {name} spec.podTemplates.{}",
                    self.role.as_str()
                )
            }
        }
    }
}

/// The roles whose `podTemplateFile` the job sets itself: in the `spark-defaults`
/// classification or as a `--conf` of its Spark parameters.
pub fn hand_set_roles(spec: &SparkJobRunSpec) -> BTreeSet<PodRole> {
    let properties = spec
        .configuration_overrides
        .iter()
        .flat_map(|o| o.application_configuration.iter())
        .filter(|c| c.classification == "spark-defaults")
        .flat_map(|c| c.properties.keys());
    let parameters = spec.job_driver.iter().flat_map(|d| {
        let submit = d
            .spark_submit_job_driver
            .as_ref()
            .and_then(|s| s.spark_submit_parameters.as_deref());
        let sql = d
            .spark_sql_job_driver
            .as_ref()
            .and_then(|s| s.spark_sql_parameters.as_deref());
        submit.into_iter().chain(sql)
    });
    let texts: Vec<&str> = properties.map(String::as_str).chain(parameters).collect();
    // Also as spark-submit reads the parameters: quotes inside a word
    // (`spark.kubernetes.driver.pod''TemplateFile`) hide the name from a plain search (and
    // from the CRD's CEL rule) but not from the shell EMR hands them to.
    let resolved = SparkConf::of(spec);
    PodRole::ALL
        .into_iter()
        .filter(|role| {
            texts.iter().any(|t| t.contains(role.spark_property()))
                || resolved.get(role.spark_property()).is_some()
        })
        .collect()
}

/// Why the job's inline templates cannot be used with its Spark properties, if they cannot.
pub fn conflict(spec: &SparkJobRunSpec) -> Option<String> {
    spec.pod_templates.as_ref()?;
    let roles = hand_set_roles(spec);
    if roles.is_empty() {
        return None;
    }
    let properties: Vec<&str> = roles.iter().map(|r| r.spark_property()).collect();
    Some(format!(
        "spec.podTemplates is set and so is {} (in spark-defaults or the Spark parameters): \
         use one or the other",
        properties.join(" and ")
    ))
}

/// The template of each role that gets one: the job's, else the VirtualCluster's default
/// unless the job names that role's file itself.
pub fn choose<'a>(spec: &'a SparkJobRunSpec, vc: Option<&'a VirtualCluster>) -> Vec<Chosen<'a>> {
    let hand_set = hand_set_roles(spec);
    let vc_name = vc
        .and_then(|vc| vc.metadata.name.clone())
        .unwrap_or_default();
    PodRole::ALL
        .into_iter()
        .filter_map(|role| {
            if let Some(template) = spec.pod_templates.as_ref().and_then(|t| t.get(role)) {
                return Some(Chosen {
                    role,
                    template,
                    origin: Origin::Job,
                });
            }
            if hand_set.contains(&role) {
                return None;
            }
            let default = vc?.spec.pod_templates.as_ref()?.get(role)?;
            Some(Chosen {
                role,
                template: default,
                origin: Origin::VirtualCluster(vc_name.clone()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(extra: serde_json::Value) -> SparkJobRunSpec {
        let mut base = json!({
            "virtualCluster": {"name": "vc"},
            "executionRoleArn": "arn:aws:iam::123456789012:role/job",
            "releaseLabel": "emr-7.2.0-latest",
            "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": "local:///pi.py"}}
        });
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    fn vc(templates: serde_json::Value) -> VirtualCluster {
        serde_json::from_value(json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "VirtualCluster",
            "metadata": {"name": "team-a"},
            "spec": {"eksClusterName": "c", "namespace": {"name": "ns"}, "podTemplates": templates}
        }))
        .unwrap()
    }

    fn spark_defaults(key: &str) -> serde_json::Value {
        json!({"configurationOverrides": {"applicationConfiguration": [
            {"classification": "spark-defaults", "properties": {key: "s3://b/t.yaml"}}
        ]}})
    }

    #[test]
    fn the_jobs_template_replaces_the_default_of_its_role_only() {
        let job =
            spec(json!({"podTemplates": {"driver": {"spec": {"nodeSelector": {"a": "job"}}}}}));
        let vc = vc(json!({
            "driver": {"spec": {"nodeSelector": {"a": "vc"}}},
            "executor": {"spec": {"nodeSelector": {"a": "vc-exec"}}}
        }));
        let chosen = choose(&job, Some(&vc));
        assert_eq!(chosen.len(), 2);
        assert_eq!(chosen[0].origin, Origin::Job);
        assert_eq!(chosen[0].template.0["spec"]["nodeSelector"]["a"], "job");
        assert_eq!(chosen[0].field(), "spec.podTemplates.driver");
        assert_eq!(chosen[1].origin, Origin::VirtualCluster("team-a".into()));
        assert_eq!(
            chosen[1].field(),
            "VirtualCluster team-a spec.podTemplates.executor"
        );
    }

    #[test]
    fn a_hand_set_file_keeps_the_default_away_and_conflicts_with_inline_templates() {
        let job = spec(spark_defaults("spark.kubernetes.executor.podTemplateFile"));
        let vc = vc(json!({
            "driver": {"spec": {}},
            "executor": {"spec": {}}
        }));
        let chosen = choose(&job, Some(&vc));
        assert_eq!(chosen.len(), 1);
        assert_eq!(chosen[0].role, PodRole::Driver);
        assert_eq!(conflict(&job), None, "no inline template, no conflict");

        let mut mixed = job.clone();
        mixed.pod_templates = Some(Default::default());
        let message = conflict(&mixed).unwrap();
        assert!(
            message.contains("spark.kubernetes.executor.podTemplateFile"),
            "{message}"
        );
    }

    #[test]
    fn a_conf_in_the_spark_parameters_counts_as_hand_set() {
        let job = spec(json!({
            "jobDriver": {"sparkSubmitJobDriver": {
                "entryPoint": "local:///pi.py",
                "sparkSubmitParameters": "--conf spark.kubernetes.driver.podTemplateFile=s3://b/d.yaml"
            }},
            "podTemplates": {"executor": {"spec": {}}}
        }));
        assert_eq!(hand_set_roles(&job), BTreeSet::from([PodRole::Driver]));
        assert!(conflict(&job).is_some());
    }

    #[test]
    fn a_file_property_hidden_by_shell_quotes_is_still_hand_set() {
        for parameters in [
            "--conf spark.kubernetes.driver.pod''TemplateFile=s3://b/d.yaml",
            "--conf \"spark.kubernetes.driver.podTemplate\"File=s3://b/d.yaml",
            "--conf=spark.kubernetes.driver.pod\"\"TemplateFile=s3://b/d.yaml",
        ] {
            let job = spec(json!({
                "jobDriver": {"sparkSubmitJobDriver": {
                    "entryPoint": "local:///pi.py", "sparkSubmitParameters": parameters
                }},
                "podTemplates": {"driver": {"spec": {}}}
            }));
            assert_eq!(
                hand_set_roles(&job),
                BTreeSet::from([PodRole::Driver]),
                "{parameters}"
            );
            assert!(conflict(&job).is_some(), "{parameters}");
        }
    }

    #[test]
    fn no_templates_anywhere_chooses_nothing() {
        assert!(choose(&spec(json!({})), None).is_empty());
        assert!(choose(&spec(json!({})), Some(&vc(json!({})))).is_empty());
    }

    #[test]
    fn the_cel_rule_refuses_the_same_mix_as_the_operator() {
        use emr_api::SparkJobRun;
        let object = |spec: SparkJobRunSpec| -> SparkJobRun {
            serde_json::from_value(json!({
                "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
                "metadata": {"name": "j", "namespace": "ns"}, "spec": spec
            }))
            .unwrap()
        };
        let mut cases = vec![
            spec(json!({})),
            spec(json!({"podTemplates": {"driver": {"spec": {}}}})),
            spec(spark_defaults("spark.kubernetes.driver.podTemplateFile")),
        ];
        let mut mixed = spec(spark_defaults("spark.kubernetes.driver.podTemplateFile"));
        mixed.pod_templates = Some(Default::default());
        cases.push(mixed);
        let mut via_conf = spec(json!({"jobDriver": {"sparkSqlJobDriver": {
            "sparkSqlParameters": "--conf spark.kubernetes.executor.podTemplateFile=s3://b/e.yaml"
        }}}));
        via_conf.pod_templates = Some(Default::default());
        cases.push(via_conf);
        for case in cases {
            let refused_by_cel = kube::core::cel::validate_cel(&object(case.clone())).is_err();
            assert_eq!(refused_by_cel, conflict(&case).is_some(), "{case:?}");
        }
    }
}
