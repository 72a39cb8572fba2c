//! The ScheduledSparkJobRun controller: starts a child SparkJobRun per slot of a schedule.
//!
//! Layout: [`schedule`] reads a schedule (cron in a time zone, or `@every`); [`decide`] is the
//! pure decision (which slot is due, what to create, cancel or delete, what was skipped and
//! why); [`children`] reads children into facts and builds new ones; [`reconcile`] gathers the
//! facts, applies the plan and writes status through the kit; [`controller`] wires the watches.
//! A schedule sleeps until its next slot (kube-runtime's per-object requeue, bounded), so
//! hundreds of schedules poll nothing.
//!
//! Exactly one child per slot: the child's name is the slot (`<name>-<unix seconds>`), created
//! with that name; AlreadyExists from a child this schedule owns (owner reference UID) means the
//! slot was already started, by this or an earlier reconcile or leader.

mod children;
mod controller;
pub mod decide;
mod error;
mod reconcile;
pub mod schedule;
mod state;

pub use controller::run;

/// The controller label of metrics and spans: the kind.
pub const CONTROLLER: &str = "ScheduledSparkJobRun";
