//! The pure rule: what this replica does with the Lease, judged by its own monotonic clock.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use tokio::time::Instant;

/// What this replica last saw of the Lease, and when by its own monotonic clock. Any write to
/// the Lease (a renewal included) changes its resourceVersion, so "unchanged for the lease
/// duration" means "not renewed for the lease duration", whatever the holder's clock says.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    resource_version: Option<String>,
    spec: Option<LeaseSpec>,
    /// When this replica first saw the Lease in this form.
    pub at: Instant,
}

impl Observation {
    /// The observation after reading `lease` at `now`: the previous one if the Lease has not
    /// changed since, else a new one starting now.
    pub fn update(previous: Option<Observation>, lease: &Lease, now: Instant) -> Observation {
        let resource_version = lease.metadata.resource_version.clone();
        match previous {
            Some(seen) if seen.resource_version == resource_version && seen.spec == lease.spec => {
                seen
            }
            _ => Observation {
                resource_version,
                spec: lease.spec.clone(),
                at: now,
            },
        }
    }
}

/// What this replica should do with the Lease, given what it saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseAction {
    /// No Lease exists: create it, holding it.
    Create,
    /// We hold it: renew it.
    Renew,
    /// Another holder let it expire (or released it): take it over.
    TakeOver,
    /// Another holder's Lease is still valid: wait and look again.
    Wait { holder: String },
}

/// The pure rule. `observed_at` is when this replica first saw the Lease as it is now (see
/// [`Observation`]); the holder's `renewTime` is not consulted. A Lease without a usable
/// duration counts with `default_duration`.
pub fn decide(
    spec: Option<&LeaseSpec>,
    observed_at: Instant,
    me: &str,
    default_duration: Duration,
    now: Instant,
) -> LeaseAction {
    let Some(spec) = spec else {
        return LeaseAction::Create;
    };
    let holder = spec.holder_identity.clone().unwrap_or_default();
    if holder == me {
        return LeaseAction::Renew;
    }
    if holder.is_empty() {
        return LeaseAction::TakeOver;
    }
    let duration = spec
        .lease_duration_seconds
        .and_then(|s| u64::try_from(s).ok())
        .filter(|s| *s > 0)
        .map_or(default_duration, Duration::from_secs);
    // An expiry too far ahead to represent is never reached.
    match observed_at.checked_add(duration) {
        Some(expiry) if now >= expiry => LeaseAction::TakeOver,
        _ => LeaseAction::Wait { holder },
    }
}
