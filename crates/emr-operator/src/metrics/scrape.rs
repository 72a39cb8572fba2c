//! What `/metrics` reads when it is scraped: the controllers' map sizes, the fair queue's load
//! per tenant and the SparkJobRuns by state, each from a source the controllers registered.

use std::collections::BTreeMap;

use super::Metrics;
use super::labels::{MapLabel, StateLabel, TenantLabels};

impl Metrics {
    pub(super) fn refresh_map_sizes(&self) {
        let Ok(all) = self.map_sizes.lock() else {
            return;
        };
        for (map, size) in all.values().flat_map(|sizes| sizes()) {
            self.tracked_objects
                .get_or_create(&MapLabel { map: map.into() })
                .set(i64::try_from(size).unwrap_or(i64::MAX));
        }
    }

    pub(super) fn refresh_queue_load(&self) {
        let loads = match self.queue_load.lock() {
            Ok(load) => load.as_ref().map(|load| load()).unwrap_or_default(),
            Err(_) => return,
        };
        let Ok(mut last) = self.last_tenants.lock() else {
            return;
        };
        let now: Vec<TenantLabels> = loads
            .iter()
            .map(|load| TenantLabels {
                namespace: load.tenant.clone(),
                virtual_cluster: load.virtual_cluster.clone().unwrap_or_default(),
            })
            .collect();
        for gone in last.iter().filter(|labels| !now.contains(labels)) {
            self.queue_depth.remove(gone);
            self.queue_wait.remove(gone);
        }
        for (labels, load) in now.iter().zip(&loads) {
            self.queue_depth
                .get_or_create(labels)
                .set(i64::try_from(load.depth).unwrap_or(i64::MAX));
            self.queue_wait
                .get_or_create(labels)
                .set(load.oldest_wait.as_secs_f64());
        }
        *last = now;
    }

    /// Replaces the per-state job counts.
    pub(super) fn set_job_runs_by_state(&self, counts: &BTreeMap<String, i64>) {
        let Ok(mut last) = self.last_states.lock() else {
            return;
        };
        for state in last.iter() {
            if !counts.contains_key(state) {
                self.job_runs
                    .get_or_create(&StateLabel {
                        state: state.clone(),
                    })
                    .set(0);
            }
        }
        for (state, count) in counts {
            self.job_runs
                .get_or_create(&StateLabel {
                    state: state.clone(),
                })
                .set(*count);
        }
        *last = counts.keys().cloned().collect();
    }
}
