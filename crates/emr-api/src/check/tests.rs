use super::*;

fn job(yaml: &str) -> SparkJobRunSpec {
    serde_saphyr::from_str(yaml).unwrap()
}

const BASE: &str = r#"
virtualCluster: {name: analytics}
executionRoleArn: arn:aws:iam::123456789012:role/emr-job-role
releaseLabel: emr-7.2.0-latest
jobDriver:
  sparkSubmitJobDriver: {entryPoint: "local:///usr/lib/spark/examples/src/main/python/pi.py"}
"#;

#[test]
fn a_plain_job_passes() {
    assert_eq!(spark_job_run(&job(BASE)), vec![]);
}

#[test]
fn reserved_and_oversized_tags_are_named() {
    let mut spec = job(BASE);
    spec.tags.insert("aws:owner".into(), "x".into());
    spec.tags.insert("k".repeat(129), "v".into());
    let errors = spark_job_run(&spec);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(summarize(&errors).contains("spec.tags[aws:owner]"));
}

#[test]
fn overlong_property_and_parameter_names_are_named() {
    let mut spec = job(BASE);
    let nested: crate::spark_job_run::NestedConfiguration = serde_json::from_value(
        serde_json::json!({"classification": "export", "properties": {"k".repeat(1025): "v"}}),
    )
    .unwrap();
    spec.configuration_overrides = Some(crate::spark_job_run::ConfigurationOverrides {
        application_configuration: vec![crate::spark_job_run::ApplicationConfiguration {
            classification: "spark-env".into(),
            properties: Default::default(),
            configurations: vec![nested],
        }],
        monitoring_configuration: None,
    });
    spec.job_template_parameters
        .insert("p".repeat(513), "v".into());
    let fields: Vec<String> = spark_job_run(&spec).into_iter().map(|e| e.field).collect();
    assert_eq!(
        fields,
        [
            "spec.configurationOverrides.applicationConfiguration[0].properties",
            "spec.jobTemplateParameters"
        ]
    );
}

#[test]
fn java_line_semantics_of_not_blank() {
    assert!(is_one_nonblank_line("--conf a=1 --conf b=2"));
    assert!(is_one_nonblank_line("\u{a0}"));
    for bad in ["", "   ", "\t", "a\nb", "a\rb", "a\u{2028}b", "a\u{85}"] {
        assert!(!is_one_nonblank_line(bad), "{bad:?}");
    }
}

#[test]
fn multi_line_and_blank_texts_are_named() {
    let mut spec = job(BASE);
    let submit = spec
        .job_driver
        .as_mut()
        .and_then(|d| d.spark_submit_job_driver.as_mut())
        .unwrap();
    submit.spark_submit_parameters = Some("--conf a=1\n--conf b=2".into());
    submit.entry_point_arguments = vec!["ok".into(), " ".into()];
    spec.tags.insert("team".into(), "a\nb".into());
    spec.tags.insert("empty".into(), String::new());
    spec.job_template_parameters
        .insert("day".into(), "\n".into());
    let fields: Vec<String> = spark_job_run(&spec).into_iter().map(|e| e.field).collect();
    assert_eq!(
        fields,
        [
            "spec.tags[team]",
            "spec.jobDriver.sparkSubmitJobDriver.entryPointArguments[1]",
            "spec.jobDriver.sparkSubmitJobDriver.sparkSubmitParameters",
            "spec.jobTemplateParameters[day]",
        ]
    );
}

#[test]
fn a_virtual_cluster_leaves_room_for_the_operator_tags() {
    let mut spec: VirtualClusterSpec =
        serde_saphyr::from_str("eksClusterName: c\nnamespace: {name: ns}\n").unwrap();
    spec.tags = (0..48).map(|i| (format!("k{i}"), "v".into())).collect();
    assert_eq!(virtual_cluster(&spec), vec![]);
    spec.tags.insert("one-more".into(), "v".into());
    assert_eq!(virtual_cluster(&spec)[0].field, "spec.tags");
}

#[test]
fn both_drivers_are_refused() {
    let mut spec = job(BASE);
    let driver = spec.job_driver.as_mut().unwrap();
    driver.spark_sql_job_driver = Some(crate::spark_job_run::SparkSqlJobDriver {
        entry_point: Some("s3://b/q.sql".into()),
        spark_sql_parameters: None,
    });
    assert_eq!(spark_job_run(&spec)[0].field, "spec.jobDriver");
}

#[test]
fn duplicate_roles_are_named() {
    let spec: VirtualClusterSpec = serde_saphyr::from_str(
        r#"
eksClusterName: c
namespace: {name: ns}
executionRoles:
- arn: arn:aws:iam::123456789012:role/r
- arn: arn:aws:iam::123456789012:role/r
"#,
    )
    .unwrap();
    assert_eq!(
        virtual_cluster(&spec)[0].field,
        "spec.executionRoles[1].arn"
    );
}

#[test]
fn reserved_namespace_keys_are_named() {
    let spec: VirtualClusterSpec = serde_saphyr::from_str(
        r#"
eksClusterName: c
namespace:
  name: ns
  labels:
    team: a
    emr-on-eks.dev/virtual-cluster: victim
    app.kubernetes.io/managed-by: emr-on-eks-operator
  annotations:
    note: fine
    emr-on-eks.dev/created-by-operator: "true"
    argocd.argoproj.io/compare-options: IgnoreExtraneous
    x.emr-on-eks.dev/other: "not the prefix"
"#,
    )
    .unwrap();
    let fields: Vec<String> = virtual_cluster(&spec)
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(
        fields,
        [
            "spec.namespace.labels[app.kubernetes.io/managed-by]",
            "spec.namespace.labels[emr-on-eks.dev/virtual-cluster]",
            "spec.namespace.annotations[argocd.argoproj.io/compare-options]",
            "spec.namespace.annotations[emr-on-eks.dev/created-by-operator]",
        ]
    );
}
