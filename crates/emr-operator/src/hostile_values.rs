//! Generators for the property tests that feed every pure decision module what a hostile
//! tenant, a forged status or a strange AWS answer could hold: integers at their extremes,
//! times at the ends of what chrono holds, long names, Unicode, empty and maximal collections.
//! The specs stay within what the CRD schema admits wherever the schema bounds a value (the
//! operator must also survive what an old CRD admitted, so some bounds are exceeded too).

// Statuses are built with `..Default::default()` so that fields added later need no change here.
#![allow(clippy::needless_update)]

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use emr_api::condition::{Condition, ConditionStatus};
use emr_api::spark_job_run::{
    AttemptRecord, CloudWatchMonitoringConfiguration, ConfigurationOverrides, FailureReason,
    JobDriver, MonitoringConfiguration, ResubmitPolicy, S3MonitoringConfiguration,
    SparkJobRunStatus, SparkSqlJobDriver, SparkSubmitJobDriver, VirtualClusterRef,
};
use emr_api::time::Timestamp;
use emr_api::virtual_cluster::{
    ContainerLimits, EmrAccess, EmrAccessMode, ExecutionRole, GuardRails, IrsaServiceAccount,
    ManagedParts, NamespaceSpec, ResourceQuotaSpec, TrustStatementRef, VirtualClusterStatus,
};
use emr_api::{SparkJobRun, SparkJobRunSpec, VirtualCluster, VirtualClusterSpec};
use emr_aws::{JobRunInfo, JobRunState};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;

/// i64 values that break naive arithmetic, and some ordinary ones.
pub fn extreme_i64() -> BoxedStrategy<i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        Just(i64::MAX / 1000),
        Just(9_000_000_000_000),
        Just(31_536_000),
        Just(-1),
        Just(0),
        Just(1),
        any::<i64>(),
    ]
    .boxed()
}

/// i32 values that break naive arithmetic, and some ordinary ones.
pub fn extreme_i32() -> BoxedStrategy<i32> {
    prop_oneof![
        Just(i32::MIN),
        Just(i32::MAX),
        Just(i32::MAX - 1),
        Just(-1),
        Just(0),
        Just(1),
        any::<i32>(),
    ]
    .boxed()
}

/// Any instant chrono holds, the ends included (an RFC 3339 status holds years 0-9999).
pub fn instant() -> BoxedStrategy<DateTime<Utc>> {
    let min = DateTime::<Utc>::MIN_UTC.timestamp();
    let max = DateTime::<Utc>::MAX_UTC.timestamp();
    prop_oneof![
        Just(DateTime::<Utc>::MIN_UTC),
        Just(DateTime::<Utc>::MAX_UTC),
        Just(DateTime::<Utc>::UNIX_EPOCH),
        // Year 0 and year 9999, the ends of what the apiserver stores.
        Just(-62_167_219_200_i64).prop_map(secs),
        Just(253_402_300_799_i64).prop_map(secs),
        (1_600_000_000_i64..1_900_000_000).prop_map(secs),
        (min..=max).prop_map(secs),
    ]
    .boxed()
}

fn secs(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(s, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

pub fn timestamp() -> BoxedStrategy<Timestamp> {
    instant().prop_map(Timestamp::from).boxed()
}

/// Names and free text: empty, ASCII, the longest the schema allows, Unicode, control characters.
pub fn text(max: usize) -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        "[a-z0-9-]{1,12}",
        Just("x".repeat(max)),
        Just("é".repeat(max)),
        "\\PC{0,80}",
        ".{0,20}",
    ]
    .boxed()
}

fn small_map(
    max_entries: usize,
    value_len: usize,
) -> impl Strategy<Value = BTreeMap<String, String>> {
    prop_oneof![
        Just(BTreeMap::new()),
        btree_map(text(64), text(value_len), 0..4),
        Just(
            (0..max_entries)
                .map(|i| (format!("key-{i}"), "v".repeat(value_len)))
                .collect()
        ),
    ]
}

pub fn role_arn() -> BoxedStrategy<String> {
    prop_oneof![
        Just("arn:aws:iam::123456789012:role/emr-job-role".to_owned()),
        Just(format!("arn:aws:iam::123456789012:role/{}", "r".repeat(64))),
        Just("arn:aws-cn:iam:::role/path/with/ünïcode/x".to_owned()),
        text(40),
    ]
    .boxed()
}

fn job_driver() -> BoxedStrategy<JobDriver> {
    let submit = (
        text(256),
        prop_oneof![
            Just(Vec::new()),
            vec(text(64), 0..4),
            Just(vec!["a".repeat(10_280); 8]),
        ],
        option::of(text(200)),
    )
        .prop_map(
            |(entry_point, entry_point_arguments, spark_submit_parameters)| SparkSubmitJobDriver {
                entry_point,
                entry_point_arguments,
                spark_submit_parameters,
            },
        );
    let sql = (option::of(text(256)), option::of(text(200))).prop_map(
        |(entry_point, spark_sql_parameters)| SparkSqlJobDriver {
            entry_point,
            spark_sql_parameters,
        },
    );
    (option::of(submit), option::of(sql))
        .prop_map(
            |(spark_submit_job_driver, spark_sql_job_driver)| JobDriver {
                spark_submit_job_driver,
                spark_sql_job_driver,
            },
        )
        .boxed()
}

fn overrides() -> BoxedStrategy<ConfigurationOverrides> {
    let classification =
        (text(64), small_map(100, 1024)).prop_map(|(classification, properties)| {
            emr_api::spark_job_run::ApplicationConfiguration {
                classification,
                properties,
                configurations: Vec::new(),
            }
        });
    let monitoring = (
        option::of(
            text(512).prop_map(|log_group_name| CloudWatchMonitoringConfiguration {
                log_group_name,
                log_stream_name_prefix: None,
            }),
        ),
        option::of(text(300).prop_map(|log_uri| S3MonitoringConfiguration { log_uri })),
    )
        .prop_map(|(cloud_watch, s3)| MonitoringConfiguration {
            persistent_app_ui: None,
            cloud_watch_monitoring_configuration: cloud_watch,
            s3_monitoring_configuration: s3,
            container_log_rotation_configuration: None,
        });
    (vec(classification, 0..3), option::of(monitoring))
        .prop_map(
            |(application_configuration, monitoring_configuration)| ConfigurationOverrides {
                application_configuration,
                monitoring_configuration,
            },
        )
        .boxed()
}

fn resubmit_policy() -> BoxedStrategy<ResubmitPolicy> {
    (
        extreme_i32(),
        extreme_i64(),
        extreme_i64(),
        vec(
            prop_oneof![
                Just(FailureReason::InternalError),
                Just(FailureReason::UserError),
                Just(FailureReason::ValidationError),
                Just(FailureReason::ClusterUnavailable),
            ],
            0..4,
        ),
    )
        .prop_map(
            |(limit, backoff_seconds, max_backoff_seconds, on_failure_reasons)| ResubmitPolicy {
                limit,
                backoff_seconds,
                max_backoff_seconds,
                on_failure_reasons,
            },
        )
        .boxed()
}

pub fn spark_job_run_spec() -> BoxedStrategy<SparkJobRunSpec> {
    (
        (option::of(text(253)), option::of(text(64))),
        option::of(text(64)),
        option::of(role_arn()),
        option::of(text(64)),
        option::of(job_driver()),
        option::of(overrides()),
        small_map(50, 256),
        option::of(extreme_i64()),
        option::of(resubmit_policy()),
        (
            option::of(text(253)),
            option::of(extreme_i64()),
            option::of(any::<bool>()),
            option::of(extreme_i32()),
        ),
        option::of(text(64)),
    )
        .prop_map(
            |(
                (vc_name, vc_id),
                name,
                execution_role_arn,
                release_label,
                job_driver,
                configuration_overrides,
                tags,
                active_deadline_seconds,
                resubmit_policy,
                (rerun, ttl_seconds_after_finished, suspend, priority),
                job_template_id,
            )| SparkJobRunSpec {
                virtual_cluster: VirtualClusterRef {
                    name: vc_name,
                    id: vc_id,
                },
                name,
                execution_role_arn,
                release_label,
                job_driver,
                configuration_overrides,
                retry_policy_configuration: None,
                tags,
                job_template_id,
                job_template_ref: None,
                job_template_parameters: BTreeMap::new(),
                active_deadline_seconds,
                resubmit_policy,
                rerun,
                ttl_seconds_after_finished,
                suspend,
                priority,
                pod_templates: None,
            },
        )
        .boxed()
}

fn condition_status() -> BoxedStrategy<ConditionStatus> {
    prop_oneof![
        Just(ConditionStatus::True),
        Just(ConditionStatus::False),
        Just(ConditionStatus::Unknown),
    ]
    .boxed()
}

pub fn conditions() -> BoxedStrategy<Vec<Condition>> {
    let kind = prop_oneof![
        Just("Submitted".to_owned()),
        Just("Running".to_owned()),
        Just("Succeeded".to_owned()),
        Just("Failed".to_owned()),
        Just("Ready".to_owned()),
        Just("SpecChangeRefused".to_owned()),
        Just("NamespaceReady".to_owned()),
        text(20),
    ];
    let reason = prop_oneof![
        Just("Submitting".to_owned()),
        Just("DeadlineExceeded".to_owned()),
        Just("ReconcilePanicked".to_owned()),
        Just("EmrValidationError".to_owned()),
        text(20),
    ];
    vec(
        (
            kind,
            condition_status(),
            reason,
            text(100),
            option::of(extreme_i64()),
            timestamp(),
        )
            .prop_map(
                |(type_, status, reason, message, observed_generation, at)| Condition {
                    type_,
                    status,
                    reason,
                    message,
                    observed_generation,
                    last_transition_time: at,
                },
            ),
        0..8,
    )
    .boxed()
}

fn state_text() -> BoxedStrategy<String> {
    prop_oneof![
        Just("PENDING".to_owned()),
        Just("RUNNING".to_owned()),
        Just("CANCEL_PENDING".to_owned()),
        Just("COMPLETED".to_owned()),
        Just("FAILED".to_owned()),
        Just("CANCELLED".to_owned()),
        text(20),
    ]
    .boxed()
}

/// A status as the operator writes it, or as anyone with `sparkjobruns/status` could.
pub fn spark_job_run_status() -> BoxedStrategy<SparkJobRunStatus> {
    let record = (
        extreme_i32(),
        option::of(text(64)),
        option::of(state_text()),
        option::of(text(40)),
        option::of(timestamp()),
        option::of(timestamp()),
    )
        .prop_map(
            |(attempt, job_run_id, state, reason, created_at, finished_at)| AttemptRecord {
                attempt,
                job_run_id,
                state,
                reason,
                created_at,
                finished_at,
            },
        );
    (
        (
            option::of(extreme_i64()),
            option::of(text(64)),
            option::of(text(64)),
            option::of(state_text()),
            option::of(text(40)),
            option::of(text(400)),
        ),
        (
            option::of(timestamp()),
            option::of(timestamp()),
            option::of(extreme_i32()),
            extreme_i32(),
            extreme_i32(),
            prop_oneof![Just(Vec::new()), vec(record, 0..12)],
        ),
        (
            option::of(timestamp()),
            option::of(text(16)),
            option::of(text(253)),
            conditions(),
        ),
    )
        .prop_map(
            |(
                (
                    observed_generation,
                    virtual_cluster_id,
                    job_run_id,
                    state,
                    failure_reason,
                    state_details,
                ),
                (created_at, finished_at, emr_attempt_count, attempt, resubmissions, attempts),
                (next_attempt_at, submitted_spec_fingerprint, submitted_rerun, conditions),
            )| SparkJobRunStatus {
                observed_generation,
                virtual_cluster_id,
                job_run_id,
                state,
                failure_reason,
                state_details,
                created_at,
                finished_at,
                emr_attempt_count,
                attempt,
                resubmissions,
                attempts,
                next_attempt_at,
                submitted_spec_fingerprint,
                submitted_rerun,
                conditions,
                ..Default::default()
            },
        )
        .boxed()
}

/// A stored SparkJobRun: metadata as the apiserver fills it, or not.
pub fn spark_job_run() -> BoxedStrategy<SparkJobRun> {
    (
        text(253),
        text(63),
        option::of(text(36)),
        option::of(extreme_i64()),
        spark_job_run_spec(),
        option::of(spark_job_run_status()),
    )
        .prop_map(|(name, namespace, uid, generation, spec, status)| {
            let mut job = SparkJobRun::new(&name, spec);
            job.metadata.namespace = Some(namespace);
            job.metadata.uid = uid;
            job.metadata.generation = generation;
            job.status = status;
            job
        })
        .boxed()
}

pub fn job_run_state() -> BoxedStrategy<JobRunState> {
    prop_oneof![
        Just(JobRunState::Pending),
        Just(JobRunState::Submitted),
        Just(JobRunState::Running),
        Just(JobRunState::CancelPending),
        Just(JobRunState::Completed),
        Just(JobRunState::Failed),
        Just(JobRunState::Cancelled),
        text(20).prop_map(JobRunState::Unknown),
    ]
    .boxed()
}

/// What EMR could answer about a job run, including what it should not.
pub fn job_run_info() -> BoxedStrategy<JobRunInfo> {
    (
        (text(64), option::of(text(64)), text(64), job_run_state()),
        (
            option::of(text(40)),
            option::of(text(2000)),
            option::of(instant()),
            option::of(instant()),
            option::of(extreme_i32()),
            option::of(text(64)),
        ),
    )
        .prop_map(
            |(
                (id, name, virtual_cluster_id, state),
                (
                    failure_reason,
                    state_details,
                    created_at,
                    finished_at,
                    retry_attempts,
                    client_token,
                ),
            )| JobRunInfo {
                id,
                name,
                arn: None,
                virtual_cluster_id,
                state,
                failure_reason,
                state_details,
                created_at,
                finished_at,
                retry_attempts,
                client_token,
            },
        )
        .boxed()
}

pub fn span() -> BoxedStrategy<TimeDelta> {
    prop_oneof![
        Just(TimeDelta::MIN),
        Just(TimeDelta::MAX),
        Just(TimeDelta::zero()),
        any::<i64>().prop_map(|ms| TimeDelta::try_milliseconds(ms).unwrap_or(TimeDelta::MAX)),
    ]
    .boxed()
}

fn quantities() -> BoxedStrategy<BTreeMap<String, Quantity>> {
    prop_oneof![
        Just(BTreeMap::new()),
        btree_map(text(30), text(20).prop_map(Quantity), 0..4),
        Just(
            (0..100)
                .map(|i| (format!("count/r{i}"), Quantity("9".repeat(30))))
                .collect()
        ),
    ]
    .boxed()
}

pub fn virtual_cluster_spec() -> BoxedStrategy<VirtualClusterSpec> {
    let roles = vec(
        (role_arn(), any::<bool>()).prop_map(|(arn, manage_trust_policy)| ExecutionRole {
            arn,
            manage_trust_policy,
        }),
        0..6,
    );
    let accounts = vec(
        (text(253), role_arn(), any::<bool>()).prop_map(|(name, role_arn, manage_trust_policy)| {
            IrsaServiceAccount {
                name,
                role_arn,
                manage_trust_policy,
            }
        }),
        0..6,
    );
    let guard_rails = (
        option::of(quantities()),
        option::of(quantities()),
        any::<bool>(),
    )
        .prop_map(|(hard, max, network_isolation)| GuardRails {
            resource_quota: hard.map(|hard| ResourceQuotaSpec { name: None, hard }),
            limit_range: max.map(|max| ContainerLimits {
                max,
                ..Default::default()
            }),
            network_isolation,
            network_policy: None,
        });
    (
        (text(100), option::of(text(64)), text(63), any::<bool>()),
        (small_map(100, 63), small_map(100, 4096)),
        (any::<bool>(), option::of(text(255)), option::of(text(12))),
        (roles, accounts, option::of(guard_rails), small_map(50, 256)),
    )
        .prop_map(
            |(
                (eks_cluster_name, virtual_cluster_name, namespace, create),
                (labels, annotations),
                (access_entry, oidc_provider, account_id),
                (execution_roles, service_accounts, guard_rails, tags),
            )| VirtualClusterSpec {
                eks_cluster_name,
                virtual_cluster_name,
                namespace: NamespaceSpec {
                    name: namespace,
                    create,
                    labels,
                    annotations,
                },
                emr_access: EmrAccess {
                    mode: if access_entry {
                        EmrAccessMode::AccessEntry
                    } else {
                        EmrAccessMode::AwsAuthConfigMap
                    },
                },
                oidc_provider,
                account_id,
                execution_roles,
                service_accounts,
                guard_rails,
                security_configuration_id: None,
                fargate: None,
                security_configuration: None,
                tags,
                deletion_policy: Default::default(),
                running_jobs_on_delete: Default::default(),
                share: None,
                max_concurrent_job_runs: None,
                pod_templates: None,
                pod_template_store: None,
            },
        )
        .boxed()
}

pub fn trust_statement_ref() -> BoxedStrategy<TrustStatementRef> {
    (
        role_arn(),
        option::of(text(253)),
        option::of(text(63)),
        option::of(text(12)),
        option::of(text(255)),
    )
        .prop_map(
            |(role_arn, service_account, namespace, account_id, oidc_provider)| TrustStatementRef {
                role_arn,
                service_account,
                namespace,
                account_id,
                oidc_provider,
            },
        )
        .boxed()
}

pub fn virtual_cluster_status() -> BoxedStrategy<VirtualClusterStatus> {
    (
        (
            option::of(extreme_i64()),
            option::of(text(64)),
            option::of(text(20)),
        ),
        extreme_i32(),
        (
            option::of(text(63)),
            any::<bool>(),
            any::<bool>(),
            vec(trust_statement_ref(), 0..6),
        ),
        conditions(),
    )
        .prop_map(
            |(
                (observed_generation, virtual_cluster_id, state),
                virtual_cluster_creations,
                (namespace, namespace_created, aws_auth_entry_added, trust_statements),
                conditions,
            )| VirtualClusterStatus {
                observed_generation,
                virtual_cluster_id,
                state,
                virtual_cluster_creations,
                managed: ManagedParts {
                    namespace,
                    namespace_created,
                    aws_auth_entry_added,
                    trust_statements,
                    ..Default::default()
                },
                conditions,
                ..Default::default()
            },
        )
        .boxed()
}

pub fn virtual_cluster() -> BoxedStrategy<VirtualCluster> {
    (
        text(253),
        option::of(text(36)),
        option::of(extreme_i64()),
        virtual_cluster_spec(),
        option::of(virtual_cluster_status()),
    )
        .prop_map(|(name, uid, generation, spec, status)| {
            let mut vc = VirtualCluster::new(&name, spec);
            vc.metadata.uid = uid;
            vc.metadata.generation = generation;
            vc.status = status;
            vc
        })
        .boxed()
}
