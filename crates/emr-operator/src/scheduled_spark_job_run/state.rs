//! What the controller keeps between reconciles: the shared context, the children's watch cache
//! and each schedule's failure streak (the kit's [`Streaks`], for the backoff).

use std::sync::Arc;
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
}

impl State {
    pub fn new(ctx: Arc<Context>, children: Store<SparkJobRun>) -> Self {
        Self {
            ctx,
            children,
            failures: Streaks::default(),
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

    /// Forgets the streaks of schedules whose key `present` rejects.
    pub fn forget_absent(&self, present: impl Fn(&str) -> bool) {
        self.failures.retain(|k| present(k));
    }

    pub fn map_sizes(&self) -> Vec<(&'static str, usize)> {
        vec![("scheduledsparkjobrun_failures", self.failures.len())]
    }
}

pub fn key(schedule: &ScheduledSparkJobRun) -> String {
    schedule
        .metadata
        .uid
        .clone()
        .unwrap_or_else(|| schedule.name_any())
}
