//! Generated malformed and hostile SparkJobRun manifests: huge strings, wrong types, missing or
//! contradictory fields, unknown virtual clusters, roles the virtual cluster does not allow,
//! other tenants' virtual clusters, shell metacharacters, releases and tags EMR refuses.
//!
//! Each must be rejected by the apiserver (the CRD schema) or refused by the operator with a
//! reason in status; none may get a job run.

use serde_json::{Value, json};

use crate::fleet::Fleet;

/// Categories, in generation order; manifest i belongs to `CATEGORIES[i % len]`.
pub const CATEGORIES: [&str; 21] = [
    "huge-entry-point",
    "huge-submit-parameters",
    "huge-annotation",
    "huge-tag-value",
    "too-many-tags",
    "wrong-type-role",
    "wrong-type-tags",
    "wrong-type-driver",
    "bad-deadline",
    "missing-fields",
    "contradictory-fields",
    "unknown-virtual-cluster",
    "other-tenants-virtual-cluster",
    "raw-id-of-other-tenant",
    "role-not-allowed",
    "malformed-role-arn",
    "shell-metacharacters",
    "release-emr-refuses",
    "tags-emr-refuses",
    "bad-retry-policy",
    "extreme-values",
];

/// `n` hostile manifests: (category, manifest). Names are `hostile-<k>-<category>`.
pub fn generate(fleet: &Fleet, n: usize) -> Vec<(String, Value)> {
    (0..n).map(|k| one(fleet, k)).collect()
}

fn one(fleet: &Fleet, k: usize) -> (String, Value) {
    let category = CATEGORIES[k % CATEGORIES.len()];
    let v = k / CATEGORIES.len(); // variant within the category
    let tenants = &fleet.tenants;
    let other = &tenants[(k + 1) % tenants.len()];
    let mut m = fleet.job(k % tenants.len(), &format!("hostile-{k:04}-{category}"));
    let spec = &mut m["spec"];
    match category {
        "huge-entry-point" => {
            spec["jobDriver"]["sparkSubmitJobDriver"]["entryPoint"] =
                json!(format!("s3://bucket/{}.py", "a".repeat(300 + v * 1000)));
        }
        "huge-submit-parameters" => {
            spec["jobDriver"]["sparkSubmitJobDriver"]["sparkSubmitParameters"] = json!(format!(
                "--conf spark.x={}",
                "y".repeat(102_400 + v * 10_000)
            ));
        }
        "huge-annotation" => {
            m["metadata"]["annotations"] =
                json!({"bench.emr-on-eks.dev/blob": "z".repeat(300_000 + v * 100_000)});
        }
        "huge-tag-value" => {
            spec["tags"]["owner"] = json!("v".repeat(257 + v * 50));
        }
        "too-many-tags" => {
            for t in 0..(51 + v) {
                spec["tags"][format!("tag-{t}")] = json!("x");
            }
        }
        "wrong-type-role" => {
            spec["executionRoleArn"] =
                [json!(12345), json!(true), json!({"arn": "x"}), json!(["a"])][v % 4].clone();
        }
        "wrong-type-tags" => {
            spec["tags"] = [
                json!(["a", "b"]),
                json!("team=a"),
                json!(5),
                json!({"n": 5}),
            ][v % 4]
                .clone();
        }
        "wrong-type-driver" => match v % 4 {
            0 => spec["jobDriver"] = json!("spark-submit pi.py"),
            1 => spec["jobDriver"]["sparkSubmitJobDriver"] = json!([]),
            2 => spec["jobDriver"]["sparkSubmitJobDriver"]["entryPoint"] = json!(42),
            _ => spec["jobDriver"]["sparkSubmitJobDriver"]["entryPointArguments"] = json!("100"),
        },
        "bad-deadline" => {
            spec["activeDeadlineSeconds"] =
                [json!("ten"), json!(-5), json!(0), json!(1.5)][v % 4].clone();
        }
        "missing-fields" => match v % 4 {
            0 => {
                spec.as_object_mut().map(|o| o.remove("executionRoleArn"));
            }
            1 => {
                spec.as_object_mut().map(|o| o.remove("virtualCluster"));
            }
            2 => {
                spec.as_object_mut().map(|o| {
                    o.remove("releaseLabel");
                    o.remove("jobDriver")
                });
            }
            _ => m["spec"] = json!({}),
        },
        "contradictory-fields" => match v % 3 {
            0 => {
                spec["jobDriver"]["sparkSqlJobDriver"] = json!({"entryPoint": "s3://b/q.sql"});
            }
            1 => spec["virtualCluster"]["id"] = json!(other.vc_id),
            _ => spec["virtualCluster"] = json!({}),
        },
        "unknown-virtual-cluster" => {
            spec["virtualCluster"] = json!({"name": format!("no-such-virtual-cluster-{v}")});
        }
        "other-tenants-virtual-cluster" => {
            spec["virtualCluster"] = json!({"name": other.vc_name});
            spec["executionRoleArn"] = json!(other.role_arn);
        }
        "raw-id-of-other-tenant" => {
            spec["virtualCluster"] = json!({"id": other.vc_id});
            spec["executionRoleArn"] = json!(other.role_arn);
        }
        "role-not-allowed" => {
            spec["executionRoleArn"] = json!(if v.is_multiple_of(2) {
                other.role_arn.clone()
            } else {
                "arn:aws:iam::999999999999:role/attacker".to_string()
            });
        }
        "malformed-role-arn" => {
            spec["executionRoleArn"] = json!(
                [
                    "arn:aws:iam::12345:role/short-account",
                    "not-an-arn-at-all-but-long-enough",
                    "arn:aws:s3:::some-bucket-name-here",
                    "",
                ][v % 4]
            );
        }
        "shell-metacharacters" => match v % 4 {
            0 => {
                spec["jobDriver"]["sparkSubmitJobDriver"]["entryPoint"] =
                    json!("s3://b/x.py; curl http://169.254.169.254/ | sh")
            }
            1 => {
                spec["jobDriver"]["sparkSubmitJobDriver"]["entryPointArguments"] =
                    json!(["$(reboot)"])
            }
            2 => {
                spec["jobDriver"]["sparkSubmitJobDriver"]["sparkSubmitParameters"] =
                    json!("--conf a=`id`")
            }
            _ => spec["jobDriver"]["sparkSubmitJobDriver"]["entryPointArguments"] = json!(["   "]),
        },
        "release-emr-refuses" => {
            spec["releaseLabel"] = json!(
                [
                    "emr-6.15.1-latest",
                    "emr-99.0.0-latest",
                    "bogus-release",
                    "emr-6.15.0-2024"
                ][v % 4]
            );
        }
        "tags-emr-refuses" => match v % 3 {
            0 => spec["tags"]["emulator/outcome"] = json!("EXPLODE"),
            1 => spec["tags"]["emulator/self-destruct"] = json!("1"),
            _ => spec["tags"]["emulator/run-seconds"] = json!("-1"),
        },
        "bad-retry-policy" => match v % 4 {
            0 => spec["retryPolicyConfiguration"] = json!({"maxAttempts": 0}),
            1 => spec["retryPolicyConfiguration"] = json!({"maxAttempts": 11}),
            2 => spec["retryPolicyConfiguration"] = json!({"maxAttempts": "3"}),
            _ => spec["resubmitPolicy"] = json!({"limit": 1000}),
        },
        "extreme-values" => extreme_values(spec, v, other),
        _ => {}
    }
    (category.to_string(), m)
}

/// Integers at their edges wherever the schema has an integer, the largest deadline and
/// collections it allows (issue 10: one such manifest once made the operator panic). Beyond the
/// schema's bounds the apiserver refuses them naming the field; within them they go through the
/// operator's decisions and are refused there (a role the virtual cluster does not allow), so
/// none runs and none crashes anything.
fn extreme_values(spec: &mut Value, v: usize, other: &crate::fleet::Tenant) {
    match v % 8 {
        // The original reproducer, and i64's ends.
        0 => spec["activeDeadlineSeconds"] = json!(9_000_000_000_000_i64),
        1 => spec["activeDeadlineSeconds"] = json!(i64::MAX),
        2 => spec["activeDeadlineSeconds"] = json!(i64::MIN),
        3 => {
            spec["resubmitPolicy"] = json!({
                "limit": i32::MAX, "backoffSeconds": i64::MAX, "maxBackoffSeconds": i64::MAX
            })
        }
        4 => spec["retryPolicyConfiguration"] = json!({"maxAttempts": i32::MIN}),
        5 => {
            spec["configurationOverrides"] = json!({"monitoringConfiguration": {
                "containerLogRotationConfiguration": {"rotationSize": "10MB", "maxFilesToKeep": i32::MAX}
            }})
        }
        // Every bound at its maximum: valid, so the operator's own decisions see it.
        6 => {
            spec["activeDeadlineSeconds"] = json!(31_536_000);
            spec["resubmitPolicy"] =
                json!({"limit": 100, "backoffSeconds": 86_400, "maxBackoffSeconds": 86_400});
            spec["retryPolicyConfiguration"] = json!({"maxAttempts": 10});
            spec["rerun"] = json!("r".repeat(253));
            spec["executionRoleArn"] = json!(other.role_arn);
        }
        // The largest collections: 1 000 arguments, 100 classifications of 100 properties.
        _ => {
            spec["jobDriver"]["sparkSubmitJobDriver"]["entryPointArguments"] =
                json!(vec!["a".repeat(64); 1000]);
            let classification = |c: usize| {
                let properties: serde_json::Map<String, Value> = (0..100)
                    .map(|p| (format!("spark.x{c}.p{p}"), json!("v")))
                    .collect();
                json!({"classification": format!("c{c}"), "properties": properties})
            };
            spec["configurationOverrides"] = json!({
                "applicationConfiguration": (0..100).map(classification).collect::<Vec<_>>()
            });
            spec["executionRoleArn"] = json!(other.role_arn);
        }
    }
}
