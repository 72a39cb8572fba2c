#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use emr_api::{SparkJobRunSpec, VirtualCluster};
use k8s_openapi::api::core::v1::{
    LimitRange, LimitRangeItem, LimitRangeSpec, ResourceQuota, ResourceQuotaSpec,
    ResourceQuotaStatus,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use proptest::prelude::*;

use super::*;

fn q(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, Quantity>> {
    (!pairs.is_empty()).then(|| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Quantity((*v).to_owned())))
            .collect()
    })
}

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some("teama".to_owned()),
        ..ObjectMeta::default()
    }
}

/// The multi-tenancy seed's LimitRange, as written there.
fn cpu_min_max() -> LimitRange {
    limit_range(
        "cpu-min-max",
        LimitRangeItem {
            type_: "Container".into(),
            max: q(&[("cpu", "6")]),
            min: q(&[("cpu", "100m")]),
            default: q(&[("cpu", "500m")]),
            default_request: q(&[("cpu", "100m")]),
            max_limit_request_ratio: None,
        },
    )
}

fn limit_range(name: &str, item: LimitRangeItem) -> LimitRange {
    LimitRange {
        metadata: meta(name),
        spec: Some(LimitRangeSpec { limits: vec![item] }),
    }
}

/// The multi-tenancy seed's ResourceQuota, with `used` as given.
fn compute_resources(hard: &[(&str, &str)], used: &[(&str, &str)]) -> ResourceQuota {
    ResourceQuota {
        metadata: meta("compute-resources"),
        spec: Some(ResourceQuotaSpec {
            hard: q(hard),
            ..ResourceQuotaSpec::default()
        }),
        status: Some(ResourceQuotaStatus {
            hard: q(hard),
            used: q(used),
        }),
    }
}

const SEED_HARD: [(&str, &str); 4] = [
    ("requests.cpu", "1000"),
    ("requests.memory", "4000Gi"),
    ("limits.cpu", "2000"),
    ("limits.memory", "6000Gi"),
];

fn job(parameters: &str) -> SparkJobRunSpec {
    serde_saphyr::from_str(&format!(
        r#"
virtualCluster: {{name: analytics}}
executionRoleArn: arn:aws:iam::123456789012:role/emr-analytics-job-role
releaseLabel: emr-6.9.0-latest
jobDriver:
  sparkSubmitJobDriver:
    entryPoint: local:///usr/lib/spark/examples/src/main/python/pi.py
    sparkSubmitParameters: "{parameters}"
"#
    ))
    .unwrap()
}

fn seed_rules() -> NamespaceRules {
    NamespaceRules {
        limit_ranges: vec![cpu_min_max()],
        quotas: vec![compute_resources(&SEED_HARD, &[])],
    }
}

/// The preflight of a job without inline pod templates.
fn check(spec: &SparkJobRunSpec, rules: &NamespaceRules) -> Verdict {
    super::check(spec, &[], rules)
}

fn problems(verdict: Verdict) -> Vec<String> {
    match verdict {
        Verdict::Exceeds(problems) => problems,
        other => panic!("expected Exceeds, got {other:?}"),
    }
}

#[test]
fn the_seeds_seven_executor_cores_exceed_cpu_min_max() {
    let found = problems(check(
        &job(
            "--conf spark.executor.cores=7 --conf spark.kubernetes.executor.limit.cores=7 --conf spark.kubernetes.driver.limit.cores=1",
        ),
        &seed_rules(),
    ));
    assert_eq!(
        found,
        [
            "executor: spark.executor.cores=7 requests cpu 7, above the maximum of 6 per container of LimitRange cpu-min-max"
        ]
    );
    // Without a limit of its own, the default limit (500m) is below the request too.
    let found = problems(check(
        &job("--conf spark.executor.cores=7 --conf spark.kubernetes.driver.limit.cores=1"),
        &seed_rules(),
    ));
    assert!(found[0].contains("spark.executor.cores=7"), "{found:?}");
    assert!(
        found.iter().any(|p| p.contains("above its cpu limit 500m")
            && p.contains("set spark.kubernetes.executor.limit.cores to at least 7")),
        "{found:?}"
    );
}

#[test]
fn a_request_above_the_default_limit_names_the_limit_property() {
    // What the Spot examples asked before they set limit.cores: 2 cores under a 500m default.
    let found = problems(check(
        &job(
            "--conf spark.executor.instances=4 --conf spark.executor.memory=4G --conf spark.executor.cores=2 --conf spark.driver.cores=1",
        ),
        &seed_rules(),
    ));
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("driver: spark.driver.cores=1 requests cpu 1, above its cpu limit 500m (the default cpu limit of LimitRange cpu-min-max, as spark.kubernetes.driver.limit.cores is not set); set spark.kubernetes.driver.limit.cores to at least 1"), "{found:?}");
    assert!(
        found[1].starts_with("executor: spark.executor.cores=2"),
        "{found:?}"
    );
    // With their limits set, the same job fits.
    let fixed = check(
        &job(
            "--conf spark.executor.instances=4 --conf spark.executor.memory=4G --conf spark.executor.cores=2 --conf spark.driver.cores=1 --conf spark.kubernetes.driver.limit.cores=1 --conf spark.kubernetes.executor.limit.cores=2",
        ),
        &seed_rules(),
    );
    assert_eq!(fixed, Verdict::Fits { warnings: vec![] });
}

#[test]
fn min_max_ratio_and_memory_rules_are_read_as_the_apiserver_reads_them() {
    let rules = NamespaceRules {
        limit_ranges: vec![limit_range(
            "tight",
            LimitRangeItem {
                type_: "Container".into(),
                max: q(&[("memory", "4Gi")]),
                min: q(&[("cpu", "200m")]),
                max_limit_request_ratio: q(&[("cpu", "2")]),
                default: None,
                default_request: None,
            },
        )],
        quotas: vec![],
    };
    let found = problems(check(
        &job(
            "--conf spark.executor.memory=4g --conf spark.kubernetes.driver.request.cores=100m --conf spark.kubernetes.driver.limit.cores=1 --conf spark.kubernetes.executor.limit.cores=3",
        ),
        &rules,
    ));
    let text = found.join("\n");
    assert!(text.contains("driver: spark.kubernetes.driver.request.cores=100m requests cpu 100m, below the minimum of 200m"), "{text}");
    assert!(text.contains("driver: cpu limit 1 (spark.kubernetes.driver.limit.cores=1) is more than 2 times the request 100m"), "{text}");
    assert!(text.contains("executor: cpu limit 3 (spark.kubernetes.executor.limit.cores=3) is more than 2 times the request 1"), "{text}");
    // 4g + 0.4 x 4096 (Python) = 5734Mi, above 4Gi.
    assert!(text.contains("executor: spark.executor.memory=4g + memory overhead 1638Mi requests memory 5734Mi, above the maximum of 4Gi"), "{text}");
}

#[test]
fn a_limits_cpu_quota_without_any_cpu_limit_refuses_every_pod() {
    let rules = NamespaceRules {
        limit_ranges: vec![],
        quotas: vec![compute_resources(&SEED_HARD, &[])],
    };
    let found = problems(check(&job("--conf spark.executor.cores=2"), &rules));
    assert!(
        found[0].contains(
            "ResourceQuota compute-resources tracks limits.cpu, so every pod must set it"
        ),
        "{found:?}"
    );
    assert!(
        found[0].contains("spark.kubernetes.driver.limit.cores"),
        "{found:?}"
    );
}

#[test]
fn a_driver_that_never_fits_is_refused_one_that_does_not_fit_now_waits() {
    let hard = [("requests.cpu", "4"), ("pods", "10")];
    let base = "--conf spark.kubernetes.driver.request.cores=2 --conf spark.executor.cores=1";
    let rules = |used: &[(&str, &str)]| NamespaceRules {
        limit_ranges: vec![],
        quotas: vec![compute_resources(&hard, used)],
    };
    assert_eq!(
        check(&job(base), &rules(&[])),
        Verdict::Fits { warnings: vec![] }
    );
    match check(&job(base), &rules(&[("requests.cpu", "3")])) {
        Verdict::WaitForQuota(w) => assert_eq!(
            w,
            [
                "ResourceQuota compute-resources: the driver needs requests.cpu 2, and 1 of 4 is free (3 used by what already runs)"
            ]
        ),
        other => panic!("{other:?}"),
    }
    match check(&job(base), &rules(&[("requests.cpu", "1")])) {
        Verdict::Fits { warnings } => assert_eq!(
            warnings,
            [
                "ResourceQuota compute-resources: the driver and 2 executors need requests.cpu 4, and 3 is free now: 1 executors start, the others wait for quota"
            ]
        ),
        other => panic!("{other:?}"),
    }
    let big = "--conf spark.kubernetes.driver.request.cores=5";
    assert!(problems(check(&job(big), &rules(&[])))[0].contains(
        "driver: needs requests.cpu 5, more than ResourceQuota compute-resources allows"
    ));
    let no_room = "--conf spark.kubernetes.driver.request.cores=3 --conf spark.executor.cores=2";
    assert!(
        problems(check(&job(no_room), &rules(&[])))[0].contains("no executor could ever start")
    );
    let one_pod = NamespaceRules {
        limit_ranges: vec![],
        quotas: vec![compute_resources(&[("count/pods", "1")], &[])],
    };
    assert!(
        problems(check(&job(""), &one_pod))[0]
            .contains("the driver and one executor need count/pods 2")
    );
}

#[test]
fn scoped_quotas_that_may_not_cover_spark_pods_are_left_out() {
    let mut quota = compute_resources(&[("requests.cpu", "1")], &[]);
    quota.spec.as_mut().unwrap().scopes = Some(vec!["BestEffort".into()]);
    let rules = NamespaceRules {
        limit_ranges: vec![],
        quotas: vec![quota],
    };
    assert_eq!(
        check(&job("--conf spark.executor.cores=4"), &rules),
        Verdict::Fits { warnings: vec![] }
    );
}

#[test]
fn a_limit_range_defaults_from_max_and_min_as_the_apiserver_does() {
    // Only max: the default limit is the max (6), the default request the max too.
    let rules = NamespaceRules {
        limit_ranges: vec![limit_range(
            "only-max",
            LimitRangeItem {
                type_: "Container".into(),
                max: q(&[("cpu", "6")]),
                ..LimitRangeItem::default()
            },
        )],
        quotas: vec![],
    };
    assert_eq!(
        check(&job("--conf spark.executor.cores=2"), &rules),
        Verdict::Fits { warnings: vec![] }
    );
}

#[test]
fn job_templates_and_empty_namespaces_are_not_checked() {
    let mut templated = job("--conf spark.executor.cores=7");
    templated.job_template_id = Some("abc".into());
    assert_eq!(
        check(&templated, &seed_rules()),
        Verdict::Fits { warnings: vec![] }
    );
    let mut referenced = job("--conf spark.executor.cores=7");
    referenced.job_template_ref = Some(emr_api::spark_job_run::JobTemplateRef {
        name: "sales-report-sql".into(),
    });
    assert_eq!(
        check(&referenced, &seed_rules()),
        Verdict::Fits { warnings: vec![] }
    );
    assert_eq!(
        check(
            &job("--conf spark.executor.cores=70000"),
            &NamespaceRules::default()
        ),
        Verdict::Fits { warnings: vec![] }
    );
}

#[test]
fn a_property_spark_would_refuse_is_named() {
    match check(&job("--conf spark.executor.memory=lots"), &seed_rules()) {
        Verdict::BadProperty(p) => {
            assert_eq!(p, "spark.executor.memory=lots is not a number with a unit")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn huge_values_are_compared_not_overflowed() {
    let found = problems(check(
        &job(
            "--conf spark.executor.instances=2147483647 --conf spark.executor.memory=8388607t --conf spark.kubernetes.executor.limit.cores=99999999999999999999999999999999 --conf spark.kubernetes.driver.limit.cores=1",
        ),
        &NamespaceRules {
            limit_ranges: vec![cpu_min_max()],
            quotas: vec![compute_resources(
                &SEED_HARD,
                &[("requests.cpu", "999999999999999999999999")],
            )],
        },
    ));
    assert!(
        found
            .iter()
            .any(|p| p.contains("cpu limit 99999999999999999999999999999999")),
        "{found:?}"
    );
}

proptest! {
    #[test]
    fn any_property_values_are_judged_without_panicking(
        values in proptest::collection::vec(
            prop_oneof![
                Just(String::new()),
                Just("-1".to_owned()),
                Just("0".to_owned()),
                Just("2147483648".to_owned()),
                Just("9223372036854775807".to_owned()),
                Just("1e38".to_owned()),
                Just("NaN".to_owned()),
                Just("inf".to_owned()),
                Just("500m".to_owned()),
                Just("4g".to_owned()),
                "[0-9]{1,40}[a-zA-Z]{0,3}",
                any::<String>(),
            ],
            12,
        ),
        quota_used in "[0-9]{0,45}",
    ) {
        let keys = [
            "spark.executor.cores", "spark.driver.cores", "spark.executor.memory",
            "spark.driver.memory", "spark.executor.memoryOverhead",
            "spark.driver.memoryOverheadFactor", "spark.kubernetes.executor.limit.cores",
            "spark.kubernetes.driver.request.cores", "spark.executor.instances",
            "spark.dynamicAllocation.maxExecutors", "spark.memory.offHeap.size",
            "spark.executor.pyspark.memory",
        ];
        let mut spec = job("--conf spark.memory.offHeap.enabled=true --conf spark.dynamicAllocation.enabled=true");
        let properties = keys.iter().zip(&values).map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        spec.configuration_overrides = Some(emr_api::spark_job_run::ConfigurationOverrides {
            application_configuration: vec![emr_api::spark_job_run::ApplicationConfiguration {
                classification: "spark-defaults".into(),
                properties,
                configurations: vec![],
            }],
            monitoring_configuration: None,
        });
        let used = if quota_used.is_empty() { "0".to_owned() } else { quota_used };
        let rules = NamespaceRules {
            limit_ranges: vec![cpu_min_max()],
            quotas: vec![compute_resources(&SEED_HARD, &[("requests.cpu", used.as_str()), ("limits.memory", used.as_str())])],
        };
        let _ = check(&spec, &rules);
    }
}

// ---------------------------------------------------------------------------------------------
// Every example job against its own VirtualCluster's guard rails
// ---------------------------------------------------------------------------------------------

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
}

/// The LimitRange and ResourceQuota a VirtualCluster's guard rails make (what the namespace
/// step applies; the names do not matter here).
fn guard_rails(vc: &VirtualCluster) -> NamespaceRules {
    let Some(rails) = &vc.spec.guard_rails else {
        return NamespaceRules::default();
    };
    let non_empty = |m: &BTreeMap<String, Quantity>| (!m.is_empty()).then(|| m.clone());
    NamespaceRules {
        limit_ranges: rails
            .limit_range
            .iter()
            .map(|l| {
                limit_range(
                    "guard-rails",
                    LimitRangeItem {
                        type_: "Container".into(),
                        default: non_empty(&l.default),
                        default_request: non_empty(&l.default_request),
                        max: non_empty(&l.max),
                        min: non_empty(&l.min),
                        max_limit_request_ratio: None,
                    },
                )
            })
            .collect(),
        quotas: rails
            .resource_quota
            .iter()
            .map(|r| ResourceQuota {
                metadata: meta("guard-rails"),
                spec: Some(ResourceQuotaSpec {
                    hard: Some(r.hard.clone()),
                    ..ResourceQuotaSpec::default()
                }),
                status: None,
            })
            .collect(),
    }
}

#[test]
fn every_example_job_passes_its_own_virtual_clusters_preflight() {
    let mut files = Vec::new();
    yaml_files(&examples_dir(), &mut files);
    let mut vcs: Vec<VirtualCluster> = Vec::new();
    let mut jobs: Vec<(String, emr_api::SparkJobRun)> = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for doc in serde_saphyr::from_multiple::<serde_json::Value>(&text).unwrap() {
            if doc["apiVersion"] != "emr-on-eks.dev/v1alpha1" {
                continue;
            }
            let origin = file
                .strip_prefix(examples_dir())
                .unwrap()
                .display()
                .to_string();
            match doc["kind"].as_str() {
                Some("VirtualCluster") => vcs.push(serde_json::from_value(doc).unwrap()),
                Some("SparkJobRun") => jobs.push((origin, serde_json::from_value(doc).unwrap())),
                _ => {}
            }
        }
    }
    let mut checked_with_rails = 0;
    for (origin, job) in &jobs {
        let namespace = job
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let vc = match &job.spec.virtual_cluster.name {
            Some(name) => vcs
                .iter()
                .find(|v| v.metadata.name.as_deref() == Some(name)),
            None => vcs.iter().find(|v| v.spec.namespace.name == namespace),
        };
        let vc = vc.unwrap_or_else(|| panic!("{origin}: no VirtualCluster in examples/"));
        let rules = guard_rails(vc);
        if !rules.is_empty() {
            checked_with_rails += 1;
        }
        // With the inline templates the job gets (its own, else its VirtualCluster's).
        let templates = crate::spark_job_run::pod_templates::select::choose(&job.spec, Some(vc));
        let verdict = super::check(&job.spec, &templates, &rules);
        assert_eq!(verdict, Verdict::Fits { warnings: vec![] }, "{origin}");
    }
    // The Spot and multi-tenancy jobs run under guard rails: the test must see them.
    assert!(
        checked_with_rails >= 4,
        "only {checked_with_rails} example jobs under guard rails"
    );
}

// ---------------------------------------------------------------------------------------------
// Inline pod templates: Spark's container's CPU limit, sidecars and init containers
// ---------------------------------------------------------------------------------------------

fn templates(value: serde_json::Value) -> emr_api::pod_template::PodTemplates {
    serde_json::from_value(value).unwrap()
}

fn chosen(
    t: &emr_api::pod_template::PodTemplates,
) -> Vec<crate::spark_job_run::pod_templates::Chosen<'_>> {
    use crate::spark_job_run::pod_templates::{Chosen, Origin};
    use emr_api::pod_template::PodRole;
    PodRole::ALL
        .into_iter()
        .filter_map(|role| {
            t.get(role).map(|template| Chosen {
                role,
                template,
                origin: Origin::Job,
            })
        })
        .collect()
}

#[test]
fn a_cpu_limit_on_sparks_container_in_the_template_counts_as_spark_keeps_it() {
    // The seed's LimitRange defaults the CPU limit to 500m; a template limit of 2 (instead of
    // limit.cores) is what Spark's pod gets, and the pods are admitted.
    let spec = job("--conf spark.executor.cores=2 --conf spark.kubernetes.driver.limit.cores=1");
    let t = templates(serde_json::json!({"executor": {"spec": {"containers": [
        {"name": "spark-kubernetes-executor", "resources": {"limits": {"cpu": "2"}}}
    ]}}}));
    assert_eq!(
        super::check(&spec, &chosen(&t), &seed_rules()),
        Verdict::Fits { warnings: vec![] }
    );
    // Without the template, the default limit is below the request.
    assert!(matches!(check(&spec, &seed_rules()), Verdict::Exceeds(_)));

    // Spark's container is the named one (else the first); its limit above the maximum is
    // named by its field. A number is a quantity too.
    let over = templates(serde_json::json!({"executor": {"spec": {"containers": [
        {"name": "sidecar", "resources": {"limits": {"memory": "64Mi"}}},
        {"name": "spark-kubernetes-executor", "resources": {"limits": {"cpu": 8}}}
    ]}}}));
    let found = problems(super::check(&spec, &chosen(&over), &seed_rules()));
    assert!(
        found.iter().any(|p| p.starts_with("executor: cpu limit 8 (spec.podTemplates.executor.spec.containers[1].resources.limits.cpu=8) is above the maximum of 6")),
        "{found:?}"
    );
    // limit.cores wins over the template, as in Spark.
    let spec = job(
        "--conf spark.executor.cores=2 --conf spark.kubernetes.executor.limit.cores=2 --conf spark.kubernetes.driver.limit.cores=1",
    );
    assert_eq!(
        super::check(&spec, &chosen(&over), &seed_rules()),
        Verdict::Fits { warnings: vec![] }
    );
}

#[test]
fn sidecars_and_init_containers_are_admitted_and_counted() {
    let spec = job(
        "--conf spark.driver.cores=1 --conf spark.kubernetes.driver.limit.cores=1 --conf spark.kubernetes.executor.limit.cores=1",
    );
    // A sidecar asking for more than a container may have.
    let big = templates(serde_json::json!({"driver": {"spec": {"containers": [
        {"name": "spark-kubernetes-driver"},
        {"name": "fluentd", "resources": {"limits": {"cpu": "7", "memory": "64Mi"}}}
    ]}}}));
    let found = problems(super::check(&spec, &chosen(&big), &seed_rules()));
    assert_eq!(
        found,
        [
            "driver spec.podTemplates.driver.spec.containers[1] (fluentd): spec.podTemplates.driver.spec.containers[1].resources.limits.cpu=7 requests cpu 7, above the maximum of 6 per container of LimitRange cpu-min-max"
        ]
    );

    // The seed's LimitRange has no memory default and its quota tracks memory: a sidecar
    // without memory is refused by the quota.
    let bare = templates(serde_json::json!({"driver": {"spec": {"containers": [
        {"name": "spark-kubernetes-driver"}, {"name": "a"}
    ]}}}));
    let found = problems(super::check(&spec, &chosen(&bare), &seed_rules()));
    assert!(
        found.iter().any(|p| p.starts_with("driver: ResourceQuota compute-resources tracks requests.memory, so every pod must set it")),
        "{found:?}"
    );
    // A sidecar without CPU gets the LimitRange's CPU defaults (fits); under a quota it adds to
    // the pod: driver 1 + sidecar 100m (default request) + 1 over a hard requests.cpu of 2.
    let small = templates(serde_json::json!({"driver": {"spec": {"containers": [
        {"name": "spark-kubernetes-driver"},
        {"name": "a", "resources": {"limits": {"memory": "64Mi"}}},
        {"name": "b", "resources": {"limits": {"cpu": "1", "memory": "64Mi"}}}
    ]}}}));
    assert_eq!(
        super::check(&spec, &chosen(&small), &seed_rules()),
        Verdict::Fits { warnings: vec![] }
    );
    let tight = NamespaceRules {
        limit_ranges: vec![cpu_min_max()],
        quotas: vec![compute_resources(&[("requests.cpu", "2")], &[])],
    };
    let found = problems(super::check(&spec, &chosen(&small), &tight));
    assert!(
        found.iter().any(|p| p.starts_with(
            "driver: needs requests.cpu 2100m, more than ResourceQuota compute-resources allows"
        )),
        "{found:?}"
    );

    // An init container runs alone: the pod needs the larger of it and the others together.
    let init = templates(serde_json::json!({"driver": {"spec": {
        "containers": [{"name": "spark-kubernetes-driver"}],
        "initContainers": [{"name": "chown", "resources": {"requests": {"cpu": "3"}, "limits": {"cpu": "3"}}}]
    }}}));
    let found = problems(super::check(&spec, &chosen(&init), &tight));
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("driver: needs requests.cpu 3, more than")),
        "{found:?}"
    );
    // A quota on limits.cpu: a sidecar without a limit, in a namespace with no default
    // limit, makes the pod inadmissible.
    let no_defaults = NamespaceRules {
        limit_ranges: vec![],
        quotas: vec![compute_resources(&[("limits.cpu", "100")], &[])],
    };
    let unlimited = templates(serde_json::json!({"executor": {"spec": {"containers": [
        {"name": "spark-kubernetes-executor"},
        {"name": "sidecar", "resources": {"requests": {"cpu": "100m"}}}
    ]}}}));
    let found = problems(super::check(&spec, &chosen(&unlimited), &no_defaults));
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("executor: ResourceQuota compute-resources tracks limits.cpu")),
        "{found:?}"
    );
}

#[test]
fn unreadable_template_quantities_are_left_to_kubernetes() {
    let spec = job(
        "--conf spark.kubernetes.driver.limit.cores=1 --conf spark.kubernetes.executor.limit.cores=1",
    );
    let odd = templates(serde_json::json!({"executor": {"spec": {"containers": [
        {"name": "spark-kubernetes-executor", "resources": {"limits": {"cpu": "lots"}}},
        {"name": "s", "resources": {"requests": {"cpu": [1]}, "limits": {"memory": "99999999999999999999999999999999999999999Ei"}}},
        "not an object"
    ], "initContainers": {"not": "a list"}}}}));
    let limits_only = NamespaceRules {
        limit_ranges: vec![cpu_min_max()],
        quotas: vec![],
    };
    assert_eq!(
        super::check(&spec, &chosen(&odd), &limits_only),
        Verdict::Fits { warnings: vec![] }
    );
}

fn template_json() -> impl Strategy<Value = serde_json::Value> {
    const KEYS: [&str; 10] = [
        "spec",
        "containers",
        "initContainers",
        "name",
        "resources",
        "limits",
        "requests",
        "cpu",
        "memory",
        "spark-kubernetes-executor",
    ];
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        "[0-9.eE+-]{0,30}[a-zA-Z]{0,3}".prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::vec((prop::sample::select(KEYS.to_vec()), inner), 0..5).prop_map(
                |pairs| serde_json::Value::Object(
                    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )
            ),
        ]
    })
}

proptest! {
    #[test]
    fn any_template_is_judged_without_panicking(driver in template_json(), executor in template_json()) {
        let t = emr_api::pod_template::PodTemplates {
            driver: Some(emr_api::pod_template::PodTemplate(driver)),
            executor: Some(emr_api::pod_template::PodTemplate(executor)),
        };
        let spec = job("--conf spark.kubernetes.driver.limit.cores=1");
        let rules = NamespaceRules {
            limit_ranges: vec![cpu_min_max()],
            quotas: vec![compute_resources(&SEED_HARD, &[])],
        };
        let _ = super::check(&spec, &chosen(&t), &rules);
    }
}
