//! One reconcile of one VirtualCluster: the object, the status being built, and the changes made
//! so far (each a Normal [`Event`]).

use emr_api::{VirtualCluster, VirtualClusterStatus};

use super::children::Owner;
use super::status::carry;
use crate::Context;
use crate::kit::Event;

/// The action every Event of this controller names.
pub const ACTION: &str = "Reconcile";

pub struct Reconciliation<'a> {
    pub ctx: &'a Context,
    pub vc: &'a VirtualCluster,
    pub owner: Owner,
    pub status: VirtualClusterStatus,
    pub changes: Vec<Event>,
    /// The resourceVersion the status is written onto: the copy's, or the one this pass's own
    /// finalizer write produced.
    pub version: Option<String>,
}

impl<'a> Reconciliation<'a> {
    /// Starts from the object's status, with what a refused write of an earlier try recorded
    /// (`carried`) added. `None` for an object without name or uid (never stored).
    pub fn new(
        ctx: &'a Context,
        vc: &'a VirtualCluster,
        carried: Option<&VirtualClusterStatus>,
    ) -> Option<Self> {
        let owner = Owner::of(vc)?;
        let mut status = vc.status.clone().unwrap_or_default();
        if let Some(refused) = carried {
            carry::carry(&mut status, refused);
        }
        Some(Self {
            ctx,
            vc,
            owner,
            status,
            changes: Vec::new(),
            version: vc.metadata.resource_version.clone(),
        })
    }

    pub fn client(&self) -> kube::Client {
        self.ctx.client.clone()
    }

    /// The namespace the spec names.
    pub fn namespace(&self) -> &str {
        &self.vc.spec.namespace.name
    }

    pub fn changed(&mut self, reason: &str, note: impl Into<String>) {
        self.changes.push(Event::normal(reason, ACTION, note));
    }
}
