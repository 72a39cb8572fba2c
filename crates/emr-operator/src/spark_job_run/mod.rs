//! The SparkJobRun controller: each SparkJobRun becomes exactly one EMR job run per attempt, and
//! its status tells EMR's truth within seconds.
//!
//! - this file: the wiring (watches, the fair queue, the poller, the sweeper).
//! - [`decide`]: the pure state machine, one module per phase (submit, track, finish, deadline,
//!   resubmit, re-run, refuse spec changes, delete), with [`conditions`], [`transitions`]
//!   (Events), [`target`] (which virtual cluster), [`request`] (the StartJobRun request) and
//!   [`logs`].
//! - [`ownership`]: what status names (virtual cluster, job run) is acted on only once proven
//!   to be this object's; status is writable by more than the operator.
//! - [`tracker`]: the pure bookkeeping of the poller: one ListJobRuns per virtual cluster per
//!   tick, whatever the number of jobs; [`poller`] does its I/O.
//! - [`cache`]: the watch cache, which keeps settled (finished) objects as a few fields.
//! - [`reconcile`] (the edge of one reconcile and the error policy), [`state`] (what reconciles
//!   share) and `io` (the effects); [`serial`] keeps the newest copy of each object this
//!   process wrote, beyond the watch cache. The fair queue ([`crate::fair_queue`]) serves the
//!   objects, per tenant, in two lanes (changes, and what the poller saw change).
//!
//! Status writes, the finalizer, error categories, backoff and Events go through
//! [`kit`](crate::kit), as in every controller.

pub mod admission;
pub mod cache;
pub mod conditions;
pub mod decide;
pub mod error;
mod io;
pub mod logs;
#[cfg(test)]
mod no_panic_tests;
pub mod ownership;
pub mod panic_report;
pub mod pod_templates;
pub mod poller;
pub mod preflight;
pub mod reconcile;
pub mod request;
pub mod serial;
pub mod state;
pub mod sweep;
pub mod target;
mod template_trigger;
pub mod text;
pub mod tracker;
pub mod transitions;
pub mod ttl;

use std::collections::HashMap;
use std::sync::Arc;

use emr_api::{SparkJobRun, SparkJobTemplate, VirtualCluster};
use futures::StreamExt;
use futures::stream::{self, BoxStream, SelectAll};
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};

use crate::context::Context;
use crate::fair_queue::{Lane, Runner, TenantInfo};
use crate::kit::relist::{self, Change};
use crate::lean;
use crate::run::Shutdown;
use cache::JobCache;
use poller::{Poller, SharedTracker, Triggers};
use state::State;
use tracker::Cadence;

pub use error::Error;

/// A request for a reconcile, from a watch or the poller.
type Trigger = (ObjectRef<SparkJobRun>, Lane);

/// Runs the SparkJobRun controller (one watch per watched namespace, or one for all; one fair
/// queue for all) and the poller until `shutdown` is requested; in-flight reconciles finish first.
///
/// The same watch tells the SparkJobTemplate controller which templates the changed runs name
/// (`templates`): a run that changes or goes may free a previous template. Every SparkJobRun
/// event is thus received and decoded once, not once more by a watch of that controller.
pub async fn run(ctx: Arc<Context>, shutdown: Shutdown, templates: TemplateWakes) {
    let config = &ctx.config;
    let cadence = Cadence {
        poll_interval: config.poll_interval,
        young_poll_interval: config.young_poll_interval,
        young_job_age: config.young_job_age,
    };
    let tracker = Arc::new(SharedTracker::new(cadence));
    let state = Arc::new(State::new(ctx.clone(), tracker.clone()));
    let apis: Vec<Api<SparkJobRun>> = if config.watch_namespaces.is_empty() {
        vec![Api::all(ctx.client.clone())]
    } else {
        config
            .watch_namespaces
            .iter()
            .map(|ns| Api::namespaced(ctx.client.clone(), ns))
            .collect()
    };

    let mut triggers: SelectAll<BoxStream<'static, Trigger>> = SelectAll::new();
    let mut stores = Vec::new();
    for api in apis {
        let (store, mut writer) = cache::cache();
        stores.push(store);
        let admission = state.clone();
        let templates = templates.clone();
        let changes = watcher(api, ctx.watcher_config())
            .modify(cache::trim)
            .default_backoff()
            .inspect(move |event| {
                if let Ok(event) = event {
                    writer.apply_watcher_event(event);
                }
            })
            .scan(Vec::new(), move |listed, event| {
                // The store has applied the event: a freed slot wakes who waits for it.
                admission.admission.observe(&event);
                let wakes = triggered(listed, event);
                for template in wakes.iter().filter_map(|wake| wake.template.clone()) {
                    // Err: the template controller has stopped (shutdown); nothing to wake.
                    let _ = templates.unbounded_send(template);
                }
                futures::future::ready(Some(stream::iter(
                    wakes
                        .into_iter()
                        .filter_map(|wake| wake.job)
                        .map(|job| (job, Lane::Changes)),
                )))
            })
            .flatten();
        triggers.push(changes.boxed());
    }

    // A VirtualCluster's change may unblock the jobs waiting on it, and sets its tenant's share.
    let (vc_store, vc_writer) = reflector::store();
    let vc_changes = {
        let (stores, vc_store, queue) = (stores.clone(), vc_store.clone(), state.queue.clone());
        reflector::reflector(
            vc_writer,
            watcher(
                Api::<VirtualCluster>::all(ctx.client.clone()),
                ctx.watcher_config(),
            )
            .modify(lean::trim)
            .default_backoff(),
        )
        .map(move |event| {
            let woken = match event {
                Ok(watcher::Event::Apply(vc) | watcher::Event::Delete(vc)) => {
                    queue.lock().set_tenants(tenants(&vc_store));
                    waiting_on(&stores, &vc)
                }
                Ok(watcher::Event::InitApply(vc)) => waiting_on(&stores, &vc),
                Ok(watcher::Event::InitDone) => {
                    queue.lock().set_tenants(tenants(&vc_store));
                    Vec::new()
                }
                Ok(watcher::Event::Init) => Vec::new(),
                Err(error) => {
                    tracing::warn!(%error, "VirtualCluster watch (SparkJobRun controller)");
                    Vec::new()
                }
            };
            stream::iter(woken.into_iter().map(|job| (job, Lane::Changes)))
        })
        .flatten()
    };
    triggers.push(vc_changes.boxed());
    let (wake, woken) = futures::channel::mpsc::unbounded();
    state.admission.wire(stores.clone(), vc_store.clone(), wake);
    triggers.push(woken.map(|job| (job, Lane::Changes)).boxed());
    triggers.push(template_trigger::changes(&ctx, stores.clone()));

    // What the poller saw change goes through a lane of its own: in a burst of thousands of
    // new objects, a finished job's status must not wait behind every submission.
    let (sender, polled) = futures::channel::mpsc::unbounded();
    let mut poller_triggers = Triggers::default();
    poller_triggers.add(None, sender);
    triggers.push(polled.map(|job| (job, Lane::Polled)).boxed());

    let lookup_stores = stores.clone();
    let ready_stores = stores.clone();
    let metrics = ctx.metrics.clone();
    // Weak: the metrics outlive the controller (and a controller started again replaces it).
    let weak = Arc::downgrade(&state);
    metrics.set_queue_load(Box::new(move || {
        weak.upgrade()
            .map(|state| state.queue.lock().load(std::time::Instant::now()))
            .unwrap_or_default()
    }));
    let reconciling = Runner {
        queue: state.queue.clone(),
        concurrency: usize::from(config.concurrency),
    }
    .run(
        move |job| lookup_stores.iter().find_map(|store| store.get(job)),
        async move {
            for store in &ready_stores {
                // Err: the watch is gone, which only happens at shutdown.
                let _ = store.wait_until_ready().await;
            }
        },
        triggers,
        {
            let state = state.clone();
            move |job: cache::Cached| {
                let state = state.clone();
                async move {
                    let object = job.object();
                    match reconcile::reconcile_cached(job, state.clone()).await {
                        Ok(action) => action,
                        Err(error) => reconcile::error_policy(object, &error, state),
                    }
                }
            }
        },
        move |dispatch| metrics.queue_dispatched(dispatch.lane.as_str(), dispatch.waited),
        shutdown.wait(),
    );

    let sweeper = sweep::run(
        state.clone(),
        ctx.metrics.clone(),
        stores.clone(),
        shutdown.wait(),
    );
    let poller = Poller {
        tracker,
        aws: ctx.aws.clone(),
        metrics: ctx.metrics.clone(),
        cadence,
        triggers: poller_triggers,
        stores,
    };
    tracing::info!("SparkJobRun controller started");
    let limits = state
        .namespace_limits
        .clone()
        .run(ctx.client.clone(), shutdown.wait());
    tokio::join!(reconciling, poller.run(shutdown.wait()), sweeper, limits);
    tracing::info!("SparkJobRun controller stopped");
}

/// Where the SparkJobRun watch sends the SparkJobTemplates that changed runs name.
pub type TemplateWakes = futures::channel::mpsc::UnboundedSender<ObjectRef<SparkJobTemplate>>;

/// What one changed job asks for.
#[derive(Debug, PartialEq)]
struct Wake {
    /// The job to reconcile (a deleted job needs nothing).
    job: Option<ObjectRef<SparkJobRun>>,
    /// The SparkJobTemplate it names, changed or deleted alike.
    template: Option<ObjectRef<SparkJobTemplate>>,
}

/// What a watch event asks for (see [`relist`]).
fn triggered(
    listed: &mut Vec<Wake>,
    event: Result<watcher::Event<SparkJobRun>, watcher::Error>,
) -> Vec<Wake> {
    match event {
        Ok(event) => relist::triggered(listed, event, |job, change| {
            let template = job
                .spec
                .job_template_ref
                .as_ref()
                .zip(job.metadata.namespace.as_deref())
                .map(|(by, namespace)| ObjectRef::new(&by.name).within(namespace));
            let job = (change == Change::Applied).then(|| ObjectRef::from_obj(&job));
            (job.is_some() || template.is_some()).then_some(Wake { job, template })
        }),
        Err(error) => {
            tracing::warn!(%error, "SparkJobRun watch");
            Vec::new()
        }
    }
}

/// Each tenant (namespace) with a VirtualCluster: its share and the VirtualCluster's name.
/// Two VirtualClusters naming one namespace cannot both own it; the first by name counts.
fn tenants(vcs: &Store<VirtualCluster>) -> HashMap<String, TenantInfo> {
    let mut vcs = vcs.state();
    vcs.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut tenants = HashMap::new();
    for vc in vcs {
        if vc.metadata.deletion_timestamp.is_some() {
            continue;
        }
        tenants
            .entry(vc.spec.namespace.name.clone())
            .or_insert_with(|| TenantInfo {
                share: vc.spec.share.unwrap_or(1),
                virtual_cluster: vc.metadata.name.clone(),
            });
    }
    tenants
}

/// The jobs a change of `vc` may unblock: those naming it that wait for (or were refused by)
/// their VirtualCluster. Running jobs do not care.
fn waiting_on(stores: &[JobCache], vc: &VirtualCluster) -> Vec<ObjectRef<SparkJobRun>> {
    let name = vc.metadata.name.as_deref();
    stores
        .iter()
        .flat_map(|store| jobs_waiting_on(store.whole().iter().map(AsRef::as_ref), name))
        .collect()
}

fn jobs_waiting_on<'a>(
    jobs: impl Iterator<Item = &'a SparkJobRun>,
    vc_name: Option<&str>,
) -> Vec<ObjectRef<SparkJobRun>> {
    jobs.filter(|job| vc_name.is_some() && job.spec.virtual_cluster.name.as_deref() == vc_name)
        .filter(|job| decide::waits_for_virtual_cluster(&job.status.clone().unwrap_or_default()))
        .map(ObjectRef::from_obj)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use emr_api::SparkJobRunStatus;

    use super::*;

    fn job(name: &str, vc: &str, status: Option<SparkJobRunStatus>) -> SparkJobRun {
        let mut job = SparkJobRun::new(
            name,
            serde_saphyr::from_str(&format!(
                "{{virtualCluster: {{name: {vc}}}, executionRoleArn: arn:aws:iam::123456789012:role/r, releaseLabel: emr-7.2.0-latest}}"
            ))
            .unwrap(),
        );
        job.metadata.namespace = Some("ns".into());
        job.status = status;
        job
    }

    #[test]
    fn a_listed_object_is_asked_for_once_the_store_holds_it() {
        let mut listed = Vec::new();
        let (a, b, c) = (
            job("a", "vc", None),
            job("b", "vc", None),
            job("c", "vc", None),
        );
        let r = |name: &str| Wake {
            job: Some(ObjectRef::new(name).within("ns")),
            template: None,
        };
        assert!(triggered(&mut listed, Ok(watcher::Event::Init)).is_empty());
        assert!(triggered(&mut listed, Ok(watcher::Event::InitApply(a))).is_empty());
        assert!(triggered(&mut listed, Ok(watcher::Event::InitApply(b))).is_empty());
        assert_eq!(
            triggered(&mut listed, Ok(watcher::Event::InitDone)),
            [r("a"), r("b")]
        );
        assert_eq!(
            triggered(&mut listed, Ok(watcher::Event::Apply(c.clone()))),
            [r("c")]
        );
        assert!(triggered(&mut listed, Ok(watcher::Event::Delete(c))).is_empty());
        // A list redone after an error starts afresh.
        assert!(triggered(&mut listed, Ok(watcher::Event::Init)).is_empty());
        assert!(triggered(&mut listed, Ok(watcher::Event::InitDone)).is_empty());
    }

    #[test]
    fn a_run_naming_a_template_wakes_it_when_it_changes_and_when_it_goes() {
        let mut listed = Vec::new();
        let mut run = job("uses", "vc", None);
        run.spec.job_template_ref =
            Some(emr_api::spark_job_run::JobTemplateRef { name: "pi".into() });
        let template = Some(ObjectRef::<SparkJobTemplate>::new("pi").within("ns"));
        let changed = triggered(&mut listed, Ok(watcher::Event::Apply(run.clone())));
        assert_eq!(
            changed,
            [Wake {
                job: Some(ObjectRef::new("uses").within("ns")),
                template: template.clone(),
            }]
        );
        // Gone: nothing to reconcile, but its template may now be free.
        assert_eq!(
            triggered(&mut listed, Ok(watcher::Event::Delete(run.clone()))),
            [Wake {
                job: None,
                template: template.clone(),
            }]
        );
        // Listed: asked for at the list's end, like the jobs.
        assert!(triggered(&mut listed, Ok(watcher::Event::Init)).is_empty());
        assert!(triggered(&mut listed, Ok(watcher::Event::InitApply(run))).is_empty());
        assert_eq!(
            triggered(&mut listed, Ok(watcher::Event::InitDone))[0].template,
            template
        );
    }

    #[test]
    fn a_virtual_cluster_wakes_only_the_jobs_waiting_on_it() {
        let running = SparkJobRunStatus {
            submitted_spec_fingerprint: Some("f".into()),
            job_run_id: Some("jr".into()),
            state: Some("RUNNING".into()),
            ..Default::default()
        };
        let jobs = [
            job("new", "a", None),
            job("other-vc", "b", None),
            job("running", "a", Some(running)),
        ];
        let woken = jobs_waiting_on(jobs.iter(), Some("a"));
        assert_eq!(woken, vec![ObjectRef::new("new").within("ns")]);
    }
}
