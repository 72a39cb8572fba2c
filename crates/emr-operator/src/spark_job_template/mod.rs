//! The SparkJobTemplate controller: an EMR job template per object, bound to one
//! VirtualCluster, on the shared replace-then-retire scheme ([`crate::replaced`]). Its users
//! are the unfinished SparkJobRuns of its namespace that were started from (or name) a template.

mod data;
mod users;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use emr_api::check;
use emr_api::labels::SPARK_JOB_TEMPLATE_FINALIZER;
use emr_api::spark_job_template::{SparkJobTemplateStatus, reasons};
use emr_api::{SparkJobRun, SparkJobTemplate, VirtualCluster};
use emr_aws::{AwsError, CreateEmrObject, CreatedEmrObject};
use futures::{Stream, StreamExt};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube::runtime::Controller;
use kube::runtime::reflector::ObjectRef;

use crate::Context;
use crate::kit::finalizer::Finalizer;
use crate::replaced::reconcile::{self, Shared};
use crate::replaced::{Error, Kind, Refusal, gone_is_deleted, unless_gone};

pub use users::template_users;

/// The kind as [`crate::replaced`] sees it.
pub struct JobTemplates {
    ctx: Arc<Context>,
}

impl Kind for JobTemplates {
    type Object = SparkJobTemplate;
    type Status = SparkJobTemplateStatus;
    const KIND: &'static str = "SparkJobTemplate";
    const WHAT: &'static str = "job template";
    const FINALIZER: Finalizer = Finalizer(SPARK_JOB_TEMPLATE_FINALIZER);

    fn context(&self) -> &Context {
        &self.ctx
    }

    fn status(object: &SparkJobTemplate) -> Option<&SparkJobTemplateStatus> {
        object.status.as_ref()
    }

    fn api(&self, object: &SparkJobTemplate) -> Api<SparkJobTemplate> {
        Api::namespaced(
            self.ctx.client.clone(),
            &object.namespace().unwrap_or_default(),
        )
    }

    async fn refusal(&self, object: &SparkJobTemplate) -> Result<Option<Refusal>, Error> {
        let errors = check::spark_job_template(&object.spec);
        if !errors.is_empty() {
            return Ok(Some((
                emr_api::emr_object::reasons::INVALID_SPEC,
                check::summarize(&errors),
            )));
        }
        let name = &object.spec.virtual_cluster.name;
        let api: Api<VirtualCluster> = Api::all(self.ctx.client.clone());
        let vc = api.get_opt(name).await.map_err(|source| Error::Kube {
            kind: Self::KIND,
            object: object.name_any(),
            action: "read VirtualCluster",
            source,
        })?;
        Ok(binding_refusal(object, vc.as_ref()))
    }

    fn create(
        &self,
        object: &SparkJobTemplate,
        client_token: String,
        tags: BTreeMap<String, String>,
    ) -> impl Future<Output = Result<CreatedEmrObject, AwsError>> + Send {
        let built = data::job_template_data(&object.spec.job_template_data);
        let name = object.emr_name();
        let kms = object.spec.kms_key_arn.clone();
        let emr = self.ctx.aws.emr.clone();
        async move {
            let data = built.map_err(|e| AwsError::EmrObject {
                operation: emr_aws::Operation::CreateJobTemplate,
                target: format!("job template {name}"),
                cause: emr_aws::AwsFault {
                    kind: emr_aws::FaultKind::Validation,
                    code: None,
                    message: e.to_string(),
                    request_id: None,
                    http_status: None,
                },
            })?;
            let request = CreateEmrObject {
                name,
                client_token,
                data,
                tags,
            };
            emr.create_job_template(request, kms).await
        }
    }

    fn tags_of(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<BTreeMap<String, String>>, AwsError>> + Send {
        let emr = self.ctx.aws.emr.clone();
        let id = id.to_owned();
        async move {
            Ok(unless_gone(emr.describe_job_template(&id))
                .await?
                .map(|found| found.tags))
        }
    }

    fn delete(&self, id: &str) -> impl Future<Output = Result<(), AwsError>> + Send {
        let emr = self.ctx.aws.emr.clone();
        let id = id.to_owned();
        async move { gone_is_deleted(emr.delete_job_template(&id)).await }
    }

    fn users(
        &self,
        object: &SparkJobTemplate,
        id: &str,
    ) -> impl Future<Output = Result<Vec<String>, Error>> + Send {
        let namespace = object.namespace().unwrap_or_default();
        let api: Api<SparkJobRun> = Api::namespaced(self.ctx.client.clone(), &namespace);
        let id = id.to_owned();
        let name = object.name_any();
        let template = name.clone();
        async move {
            let runs = api
                .list(&ListParams::default())
                .await
                .map_err(|source| Error::Kube {
                    kind: Self::KIND,
                    object: name,
                    action: "list SparkJobRuns",
                    source,
                })?;
            Ok(template_users(&runs.items, &template, &id))
        }
    }
}

/// Whether the template's VirtualCluster lets it be created: it must exist, be bound to the
/// template's namespace, and allow a fixed execution role (a `${param}` role is checked per run).
fn binding_refusal(template: &SparkJobTemplate, vc: Option<&VirtualCluster>) -> Option<Refusal> {
    let name = &template.spec.virtual_cluster.name;
    let namespace = template.namespace().unwrap_or_default();
    let Some(vc) = vc else {
        return Some((
            reasons::VIRTUAL_CLUSTER_NOT_FOUND,
            format!("VirtualCluster {name} (spec.virtualCluster.name) does not exist"),
        ));
    };
    let bound = vc
        .status
        .as_ref()
        .and_then(|s| s.managed.namespace.as_deref())
        .unwrap_or(&vc.spec.namespace.name);
    if bound != namespace {
        return Some((
            reasons::VIRTUAL_CLUSTER_IN_OTHER_NAMESPACE,
            format!("VirtualCluster {name} serves namespace {bound}, not {namespace}"),
        ));
    }
    let role = &template.spec.job_template_data.execution_role_arn;
    if !role.contains("${") && !vc.allows_execution_role(role) {
        return Some((
            reasons::EXECUTION_ROLE_NOT_ALLOWED,
            format!("execution role {role} is not one of VirtualCluster {name}'s executionRoles"),
        ));
    }
    None
}

/// Runs the controller until `shutdown` completes. `runs` names the templates of SparkJobRuns
/// that changed or went (a finished run may free a previous template); it comes from the
/// SparkJobRun controller's watch, so the runs are not watched a second time here.
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
    runs: impl Stream<Item = ObjectRef<SparkJobTemplate>> + Send + 'static,
) {
    let shared = Shared::new(JobTemplates { ctx: ctx.clone() });
    Controller::new(
        Api::<SparkJobTemplate>::all(ctx.client.clone()),
        ctx.watcher_config(),
    )
    .reconcile_on(runs)
    .with_config(kube::runtime::controller::Config::default().concurrency(ctx.config.concurrency))
    .graceful_shutdown_on(shutdown)
    .run(reconcile::run, reconcile::error_policy, shared)
    .for_each(|result| async move {
        if let Err(error) = result {
            tracing::debug!(%error, "sparkjobtemplate controller event");
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(role: &str) -> SparkJobTemplate {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "SparkJobTemplate",
            "metadata": {"name": "pi", "namespace": "spark-a", "uid": "u"},
            "spec": {"virtualCluster": {"name": "team-a"}, "jobTemplateData": {
                "executionRoleArn": role, "releaseLabel": "emr-7.2.0-latest",
                "jobDriver": {"sparkSubmitJobDriver": {"entryPoint": "local:///pi.py"}}}}
        }))
        .unwrap()
    }

    fn vc(namespace: &str, role: &str) -> VirtualCluster {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "VirtualCluster",
            "metadata": {"name": "team-a"},
            "spec": {"eksClusterName": "prod", "namespace": {"name": namespace},
                     "executionRoles": [{"arn": role}]}
        }))
        .unwrap()
    }

    const ROLE: &str = "arn:aws:iam::123456789012:role/team-a";

    #[test]
    fn a_template_binds_only_to_its_namespaces_virtual_cluster_and_its_roles() {
        assert_eq!(
            binding_refusal(&template(ROLE), Some(&vc("spark-a", ROLE))),
            None
        );
        assert_eq!(
            binding_refusal(&template(ROLE), None).map(|r| r.0),
            Some(reasons::VIRTUAL_CLUSTER_NOT_FOUND)
        );
        assert_eq!(
            binding_refusal(&template(ROLE), Some(&vc("spark-b", ROLE))).map(|r| r.0),
            Some(reasons::VIRTUAL_CLUSTER_IN_OTHER_NAMESPACE)
        );
        let other = "arn:aws:iam::123456789012:role/admin";
        assert_eq!(
            binding_refusal(&template(other), Some(&vc("spark-a", ROLE))).map(|r| r.0),
            Some(reasons::EXECUTION_ROLE_NOT_ALLOWED)
        );
        // A parameter is resolved, and checked, per run.
        assert_eq!(
            binding_refusal(&template("${role}"), Some(&vc("spark-a", ROLE))),
            None
        );
    }
}
