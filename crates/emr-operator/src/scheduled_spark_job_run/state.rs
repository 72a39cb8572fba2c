//! What the controller keeps between reconciles: the shared context, the children's watch cache
//! and each schedule's failure streak (the kit's [`Streaks`], for the backoff).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use emr_api::{ScheduledSparkJobRun, SparkJobRun};
use kube::ResourceExt;
use kube::runtime::reflector::Store;

use crate::Context;
use crate::kit::{Backoff, Category, Streaks};

pub struct State {
    pub ctx: Arc<Context>,
    /// Every SparkJobRun carrying the schedule label (ownership is checked per child).
    pub children: Store<SparkJobRun>,
    failures: Streaks<String>,
    /// Per schedule, the resourceVersion its last status write was made on: a copy still at that
    /// version is older than the write (the watch has not delivered it yet), and deciding on it
    /// would only end in a 409.
    written_over: Mutex<HashMap<String, String>>,
}

impl State {
    pub fn new(ctx: Arc<Context>, children: Store<SparkJobRun>) -> Self {
        Self {
            ctx,
            children,
            failures: Streaks::default(),
            written_over: Mutex::new(HashMap::new()),
        }
    }

    pub fn succeeded(&self, schedule: &ScheduledSparkJobRun) {
        self.failures.succeeded(&key(schedule));
    }

    /// The requeue after a failed reconcile of `category`.
    pub fn after_error(&self, schedule: &ScheduledSparkJobRun, category: Category) -> Duration {
        self.failures
            .next_delay(key(schedule), category, &Backoff::DEFAULT)
    }

    /// Notes that a status write was made on `schedule`'s version.
    pub fn wrote_over(&self, schedule: &ScheduledSparkJobRun) {
        if let Some(version) = schedule.metadata.resource_version.clone() {
            self.written().insert(key(schedule), version);
        }
    }

    /// Whether `schedule` is a copy from before this controller's last status write on it.
    pub fn is_older_than_my_write(&self, schedule: &ScheduledSparkJobRun) -> bool {
        let written = self.written();
        written.get(&key(schedule)) == schedule.metadata.resource_version.as_ref()
    }

    fn written(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.written_over
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets what is kept for schedules whose key `present` rejects.
    pub fn forget_absent(&self, present: impl Fn(&str) -> bool) {
        self.failures.retain(|k| present(k));
        self.written().retain(|k, _| present(k));
    }

    pub fn map_sizes(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("scheduledsparkjobrun_failures", self.failures.len()),
            ("scheduledsparkjobrun_written", self.written().len()),
        ]
    }
}

pub fn key(schedule: &ScheduledSparkJobRun) -> String {
    schedule
        .metadata
        .uid
        .clone()
        .unwrap_or_else(|| schedule.name_any())
}
