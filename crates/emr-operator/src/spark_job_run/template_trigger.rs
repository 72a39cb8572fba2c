//! SparkJobTemplate changes wake the runs that wait on them (a template becoming ready, or
//! edited), as VirtualCluster changes wake the runs that wait on those.

use emr_api::{SparkJobRun, SparkJobTemplate};
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, watcher};

use super::Trigger;
use super::cache::JobCache;
use super::decide;
use crate::context::Context;
use crate::fair_queue::Lane;

/// A stream of reconcile requests for runs waiting on a SparkJobTemplate that changed.
pub(super) fn changes(ctx: &Context, stores: Vec<JobCache>) -> BoxStream<'static, Trigger> {
    watcher(
        Api::<SparkJobTemplate>::all(ctx.client.clone()),
        ctx.watcher_config(),
    )
    .default_backoff()
    .map(move |event| {
        let woken = match event {
            Ok(watcher::Event::Apply(template)) => waiting_on(&stores, &template),
            Ok(_) => Vec::new(),
            Err(error) => {
                tracing::warn!(%error, "SparkJobTemplate watch (SparkJobRun controller)");
                Vec::new()
            }
        };
        stream::iter(woken.into_iter().map(|job| (job, Lane::Changes)))
    })
    .flatten()
    .boxed()
}

fn waiting_on(stores: &[JobCache], template: &SparkJobTemplate) -> Vec<ObjectRef<SparkJobRun>> {
    stores
        .iter()
        .flat_map(|store| jobs_waiting_on(store.whole().iter().map(AsRef::as_ref), template))
        .collect()
}

/// The runs of the template's namespace that reference it and have not started.
fn jobs_waiting_on<'a>(
    jobs: impl Iterator<Item = &'a SparkJobRun>,
    template: &SparkJobTemplate,
) -> Vec<ObjectRef<SparkJobRun>> {
    let name = template.name_any();
    let namespace = template.namespace();
    jobs.filter(|job| job.namespace() == namespace)
        .filter(|job| {
            job.spec
                .job_template_ref
                .as_ref()
                .is_some_and(|r| r.name == name)
        })
        .filter(|job| decide::waits_for_virtual_cluster(&job.status.clone().unwrap_or_default()))
        .map(ObjectRef::from_obj)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(namespace: &str, template: &str, status: serde_json::Value) -> SparkJobRun {
        serde_json::from_value(json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobRun",
            "metadata": {"name": format!("{namespace}-{template}"), "namespace": namespace},
            "spec": {"virtualCluster": {"name": "vc"}, "jobTemplateRef": {"name": template}},
            "status": status
        }))
        .unwrap()
    }

    #[test]
    fn only_unstarted_runs_of_that_template_in_its_namespace_wake() {
        let template: SparkJobTemplate = serde_json::from_value(json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobTemplate",
            "metadata": {"name": "pi", "namespace": "a"},
            "spec": {"virtualCluster": {"name": "vc"}, "jobTemplateData": {
                "executionRoleArn": "${r}", "releaseLabel": "emr-7.2.0-latest",
                "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": "x"}}}}
        }))
        .unwrap();
        let jobs = [
            run("a", "pi", json!({})),
            run("b", "pi", json!({})),
            run("a", "other", json!({})),
            run(
                "a",
                "pi",
                json!({"attempt": 1, "jobRunId": "j", "submittedSpecFingerprint": "f",
                "conditions": [{"type": "Submitted", "status": "True", "reason": "x", "message": "",
                "lastTransitionTime": "2026-01-01T00:00:00Z"}]}),
            ),
        ];
        let woken = jobs_waiting_on(jobs.iter(), &template);
        assert_eq!(woken.len(), 1);
        assert_eq!(woken[0].namespace.as_deref(), Some("a"));
    }
}
