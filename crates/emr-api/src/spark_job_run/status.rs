//! What a SparkJobRun reports: the current attempt's EMR job run, a bounded attempt history,
//! where its logs are, and standard conditions.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::condition::Condition;
use crate::time::Timestamp;

/// The observed state of a SparkJobRun.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SparkJobRunStatus {
    /// The `.metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The EMR virtual cluster the job runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_cluster_id: Option<String>,
    /// Id of the current attempt's EMR job run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_run_id: Option<String>,
    /// ARN of the current attempt's EMR job run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// EMR's state of the current attempt: PENDING, SUBMITTED, RUNNING, CANCEL_PENDING, COMPLETED,
    /// FAILED or CANCELLED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// EMR's failure reason: INTERNAL_ERROR, USER_ERROR, VALIDATION_ERROR or CLUSTER_UNAVAILABLE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// EMR's detail on the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_details: Option<String>,
    /// When EMR created the current job run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// When the current job run finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// EMR's driver attempt count within the current job run (retryPolicyExecution.currentAttemptCount).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = -2147483648, max = 2147483647))]
    pub emr_attempt_count: Option<i32>,
    /// The operator's attempt number (1 for the first job run); part of the idempotency token.
    // Bounded explicitly: a value beyond int32 would make the operator's watch fail to read
    // every SparkJobRun, not just this one.
    #[serde(default)]
    #[schemars(range(min = 0, max = 2147483647))]
    pub attempt: i32,
    /// Operator-level resubmissions of the current run so far (see `spec.resubmitPolicy`); a
    /// re-run (`spec.rerun`) starts again from 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(range(min = 0, max = 2147483647))]
    pub resubmissions: i32,
    /// Past and current attempts, newest last, at most the last 10.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10))]
    pub attempts: Vec<AttemptRecord>,
    /// When the next attempt will be started, while waiting to resubmit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Timestamp>,
    /// Fingerprint of the spec (all but `rerun`) when the job was first submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_spec_fingerprint: Option<String>,
    /// The value of `spec.rerun` the current series of attempts was started for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_rerun: Option<String>,
    /// The EMR job template the current attempt was started from (spec.jobTemplateRef's
    /// SparkJobTemplate, resolved when the attempt was recorded, or spec.jobTemplateId).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_template_id: Option<String>,
    /// Where the operator put the current attempt's pod templates (S3 URIs, as sent to EMR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_templates: Option<crate::pod_template::PodTemplateFiles>,
    /// Where the current attempt's logs are, derived from the monitoring configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<LogLocations>,
    /// Conditions: Submitted, Running, Succeeded, Failed and Ready (plus SpecChangeRefused while
    /// the spec differs from the one submitted, Suspended and Queued).
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// One line saying what the job is doing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One attempt: one EMR job run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptRecord {
    /// The operator's attempt number.
    #[schemars(range(min = 0, max = 2147483647))]
    pub attempt: i32,
    /// The EMR job run id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_run_id: Option<String>,
    /// EMR's state of that job run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Why it failed, when it did: EMR's failure reason or DeadlineExceeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
}

/// Where to find a job run's logs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogLocations {
    /// CloudWatch log group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_log_group: Option<String>,
    /// CloudWatch log stream prefix of this job run's containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_log_stream_prefix: Option<String>,
    /// S3 prefix of this job run's logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_prefix: Option<String>,
}

/// Condition types of a SparkJobRun.
pub mod condition_types {
    /// The current attempt's job run was started in EMR.
    pub const SUBMITTED: &str = "Submitted";
    /// The current attempt's job run is running.
    pub const RUNNING: &str = "Running";
    /// The job completed; final.
    pub const SUCCEEDED: &str = "Succeeded";
    /// The job failed or was cancelled and will not be resubmitted; final until a rerun.
    pub const FAILED: &str = "Failed";
    /// True exactly when the job has succeeded.
    pub const READY: &str = "Ready";
    /// Present (True) only while the spec differs from the one submitted: the change is not applied.
    pub const SPEC_CHANGE_REFUSED: &str = "SpecChangeRefused";
    /// True once the operator discarded status fields naming a virtual cluster or job run it
    /// could not prove to be this object's (status is writable by more than the operator); the
    /// message says what was discarded. Nothing was called in AWS with them.
    pub const STATUS_NOT_OWNED: &str = "StatusNotOwned";
    /// True while `spec.suspend` holds back the first submission; False (reason Resumed) once
    /// it no longer does.
    pub const SUSPENDED: &str = "Suspended";
    /// True while the job waits for a slot of its VirtualCluster (`maxConcurrentJobRuns`), its
    /// place in the message; False (reason Admitted) once it got one.
    pub const QUEUED: &str = "Queued";
}

/// Condition reasons the operator writes that are not EMR states or failure reasons.
pub mod reasons {
    pub const DEADLINE_EXCEEDED: &str = "DeadlineExceeded";
    pub const VIRTUAL_CLUSTER_NOT_FOUND: &str = "VirtualClusterNotFound";
    pub const VIRTUAL_CLUSTER_NOT_READY: &str = "VirtualClusterNotReady";
    pub const VIRTUAL_CLUSTER_IN_OTHER_NAMESPACE: &str = "VirtualClusterInOtherNamespace";
    pub const RAW_VIRTUAL_CLUSTER_ID_NOT_ALLOWED: &str = "RawVirtualClusterIdNotAllowed";
    pub const EXECUTION_ROLE_NOT_ALLOWED: &str = "ExecutionRoleNotAllowed";
    /// The namespace's LimitRange or ResourceQuota would refuse the job's pods (preflight).
    pub const EXCEEDS_NAMESPACE_LIMITS: &str = "ExceedsNamespaceLimits";
    /// The driver does not fit in what the namespace's ResourceQuota leaves free (preflight).
    pub const WAITING_FOR_NAMESPACE_QUOTA: &str = "WaitingForNamespaceQuota";
    pub const INVALID_SPEC: &str = "InvalidSpec";
    pub const SPEC_CHANGED_AFTER_SUBMISSION: &str = "SpecChangedAfterSubmission";
    pub const EMR_VALIDATION_ERROR: &str = "EmrValidationError";
    pub const ACCESS_DENIED: &str = "AccessDenied";
    pub const JOB_RUN_NOT_FOUND: &str = "JobRunNotFound";
    pub const WAITING_TO_RESUBMIT: &str = "WaitingToResubmit";
    pub const CANCELLED: &str = "Cancelled";
    pub const COMPLETED: &str = "Completed";
    /// A reconcile of the object panicked (an operator bug); it is retried with a growing backoff.
    pub const RECONCILE_PANICKED: &str = "ReconcilePanicked";
    /// Status named a virtual cluster or job run that is not this object's (see
    /// `condition_types::STATUS_NOT_OWNED`).
    pub const FORGED_STATUS: &str = "ForgedStatus";
    /// A pod template cannot be used as it stands (the message names the field).
    pub const INVALID_POD_TEMPLATE: &str = "InvalidPodTemplate";
    /// Inline pod templates together with the `podTemplateFile` Spark properties.
    pub const POD_TEMPLATE_CONFLICT: &str = "PodTemplateConflict";
    /// Inline pod templates, but the VirtualCluster names no `podTemplateStore` (or the job
    /// names a raw virtual cluster id, which has none).
    pub const POD_TEMPLATE_STORE_MISSING: &str = "PodTemplateStoreMissing";
    /// `spec.jobTemplateId` names no job template EMR knows.
    pub const JOB_TEMPLATE_NOT_FOUND: &str = "JobTemplateNotFound";
    /// The job template's execution role cannot be resolved with `spec.jobTemplateParameters`.
    pub const INVALID_JOB_TEMPLATE_PARAMETERS: &str = "InvalidJobTemplateParameters";
    /// `spec.suspend` holds the job back.
    pub const SUSPENDED: &str = "Suspended";
    /// `spec.suspend` was lifted.
    pub const RESUMED: &str = "Resumed";
    /// The job waits for a slot of its VirtualCluster.
    pub const QUEUED: &str = "Queued";
    /// The job got a slot of its VirtualCluster.
    pub const ADMITTED: &str = "Admitted";
    /// Event: the object is deleted because `spec.ttlSecondsAfterFinished` passed.
    pub const TTL_EXPIRED: &str = "TtlExpired";
    /// Warning Event: a TTL on an object a GitOps tool tracks (it would be recreated and run again).
    pub const TTL_ON_TRACKED_OBJECT: &str = "TtlOnTrackedObject";
    /// A parameter the template declares without a default is missing from jobTemplateParameters.
    pub const MISSING_TEMPLATE_PARAMETER: &str = "MissingTemplateParameter";
    /// jobTemplateParameters names a parameter the template does not declare.
    pub const UNKNOWN_TEMPLATE_PARAMETER: &str = "UnknownTemplateParameter";
    /// spec.jobTemplateRef names no SparkJobTemplate in this namespace.
    pub const SPARK_JOB_TEMPLATE_NOT_FOUND: &str = "SparkJobTemplateNotFound";
    /// The SparkJobTemplate has no EMR job template (yet) that is provably its own.
    pub const SPARK_JOB_TEMPLATE_NOT_READY: &str = "SparkJobTemplateNotReady";
    /// The SparkJobTemplate is bound to another VirtualCluster than the run's.
    pub const JOB_TEMPLATE_OF_OTHER_VIRTUAL_CLUSTER: &str = "JobTemplateOfOtherVirtualCluster";
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}
