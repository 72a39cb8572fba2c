//! What a ScheduledSparkJobRun reports: the slots it decided on, its active runs, the last
//! result, the skipped slots and why, and conditions.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::condition::Condition;
use crate::time::Timestamp;

/// The observed state of a ScheduledSparkJobRun.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledSparkJobRunStatus {
    /// The `.metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The slot of the latest run started by the schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Timestamp>,
    /// The next slot (recomputed when the schedule or time zone changes); unset while suspended
    /// or while the schedule is invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_schedule_time: Option<Timestamp>,
    /// When the latest successful run finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_time: Option<Timestamp>,
    /// How the latest finished run ended: Succeeded, Failed or Cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_result: Option<String>,
    /// Every slot up to this time has been decided on (run or skipped); the next one comes after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_until: Option<Timestamp>,
    /// The schedule and time zone `decidedUntil` and `nextScheduleTime` were computed with; an
    /// edit starts counting from the time it was seen (no catch-up of the old schedule's slots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_schedule: Option<String>,
    /// The `spec.runNow` value already acted upon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_run_now: Option<String>,
    /// Runs that have not finished, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub active: Vec<ChildRef>,
    /// How many runs are active.
    #[serde(default)]
    #[schemars(range(min = 0, max = 2147483647))]
    pub active_count: i32,
    /// Slots that started no run, newest last, at most the last 10.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10))]
    pub skipped: Vec<SkippedSlot>,
    /// Conditions: ScheduleValid and Ready.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// One line saying what the schedule is doing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A child SparkJobRun.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChildRef {
    /// Its name.
    pub name: String,
    /// The slot it was started for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_time: Option<Timestamp>,
}

/// A slot that started no run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkippedSlot {
    /// The slot (for several missed slots: the latest of them).
    pub schedule_time: Timestamp,
    /// Why: ConcurrencyForbidden, MissedStartingDeadline, Missed (the operator was not running),
    /// NameTaken or CreateRefused.
    pub reason: String,
    /// Detail, e.g. how many slots were missed.
    pub message: String,
}

/// Condition types of a ScheduledSparkJobRun.
pub mod condition_types {
    /// The schedule and time zone parse; False names the parse error.
    pub const SCHEDULE_VALID: &str = "ScheduleValid";
    /// The schedule is valid and its last child could be created.
    pub const READY: &str = "Ready";
}

/// Condition and skip reasons.
pub mod reasons {
    pub const SCHEDULED: &str = "Scheduled";
    pub const SUSPENDED: &str = "Suspended";
    pub const INVALID_SCHEDULE: &str = "InvalidSchedule";
    pub const INVALID_TIME_ZONE: &str = "InvalidTimeZone";
    pub const INVALID_TEMPLATE: &str = "InvalidTemplate";
    pub const NAME_TOO_LONG: &str = "NameTooLong";
    pub const CONCURRENCY_FORBIDDEN: &str = "ConcurrencyForbidden";
    pub const MISSED_STARTING_DEADLINE: &str = "MissedStartingDeadline";
    pub const MISSED: &str = "Missed";
    pub const NAME_TAKEN: &str = "NameTaken";
    pub const CREATE_REFUSED: &str = "CreateRefused";
    /// A reconcile panicked (an operator bug); retried with a growing backoff.
    pub const RECONCILE_PANICKED: &str = "ReconcilePanicked";
}

/// Values of `status.lastResult`.
pub mod results {
    pub const SUCCEEDED: &str = "Succeeded";
    pub const FAILED: &str = "Failed";
    pub const CANCELLED: &str = "Cancelled";
}
