//! The SecurityConfiguration controller (cluster-scoped): an EMR security configuration per
//! object on the shared replace-then-retire scheme ([`crate::replaced`]). Its users are the
//! VirtualClusters whose EMR virtual cluster was created with it and is not terminated.

mod data;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use emr_api::check;
use emr_api::labels::SECURITY_CONFIGURATION_FINALIZER;
use emr_api::security_configuration::SecurityConfigurationStatus;
use emr_api::{SecurityConfiguration, VirtualCluster};
use emr_aws::{AwsError, CreateEmrObject, CreatedEmrObject};
use futures::StreamExt;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};

use crate::Context;
use crate::kit::finalizer::Finalizer;
use crate::replaced::reconcile::{self, Shared};
use crate::replaced::{Error, Kind, Refusal, gone_is_deleted, unless_gone};

/// The kind as [`crate::replaced`] sees it.
pub struct SecurityConfigurations {
    ctx: Arc<Context>,
}

impl Kind for SecurityConfigurations {
    type Object = SecurityConfiguration;
    type Status = SecurityConfigurationStatus;
    const KIND: &'static str = "SecurityConfiguration";
    const WHAT: &'static str = "security configuration";
    const FINALIZER: Finalizer = Finalizer(SECURITY_CONFIGURATION_FINALIZER);

    fn context(&self) -> &Context {
        &self.ctx
    }

    fn status(object: &SecurityConfiguration) -> Option<&SecurityConfigurationStatus> {
        object.status.as_ref()
    }

    fn api(&self, _object: &SecurityConfiguration) -> Api<SecurityConfiguration> {
        Api::all(self.ctx.client.clone())
    }

    fn refusal(
        &self,
        object: &SecurityConfiguration,
    ) -> impl Future<Output = Result<Option<Refusal>, Error>> + Send {
        let errors = check::security_configuration(&object.spec);
        async move {
            Ok((!errors.is_empty()).then(|| {
                (
                    emr_api::emr_object::reasons::INVALID_SPEC,
                    check::summarize(&errors),
                )
            }))
        }
    }

    fn create(
        &self,
        object: &SecurityConfiguration,
        client_token: String,
        tags: BTreeMap<String, String>,
    ) -> impl Future<Output = Result<CreatedEmrObject, AwsError>> + Send {
        let request = CreateEmrObject {
            name: object.emr_name(),
            client_token,
            data: data::security_configuration_data(&object.spec.security_configuration_data),
            tags,
        };
        let emr = self.ctx.aws.emr.clone();
        async move { emr.create_security_configuration(request).await }
    }

    fn tags_of(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<BTreeMap<String, String>>, AwsError>> + Send {
        let emr = self.ctx.aws.emr.clone();
        let id = id.to_owned();
        async move {
            Ok(unless_gone(emr.describe_security_configuration(&id))
                .await?
                .map(|found| found.tags))
        }
    }

    fn delete(&self, id: &str) -> impl Future<Output = Result<(), AwsError>> + Send {
        let emr = self.ctx.aws.emr.clone();
        let id = id.to_owned();
        async move { gone_is_deleted(emr.delete_security_configuration(&id)).await }
    }

    fn users(
        &self,
        object: &SecurityConfiguration,
        id: &str,
    ) -> impl Future<Output = Result<Vec<String>, Error>> + Send {
        let api: Api<VirtualCluster> = Api::all(self.ctx.client.clone());
        let id = id.to_owned();
        let name = object.name_any();
        async move {
            let vcs = api
                .list(&ListParams::default())
                .await
                .map_err(|source| Error::Kube {
                    kind: Self::KIND,
                    object: name,
                    action: "list VirtualClusters",
                    source,
                })?;
            Ok(users(&vcs.items, &id))
        }
    }
}

/// The VirtualClusters whose live EMR virtual cluster was created with security configuration `id`.
fn users(vcs: &[VirtualCluster], id: &str) -> Vec<String> {
    vcs.iter()
        .filter(|vc| {
            vc.status.as_ref().is_some_and(|s| {
                s.security_configuration_id.as_deref() == Some(id)
                    && s.virtual_cluster_id.is_some()
                    && s.state.as_deref() != Some("TERMINATED")
            })
        })
        .map(ResourceExt::name_any)
        .collect()
}

/// Runs the controller until `shutdown` completes.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let client = ctx.client.clone();
    let controller = Controller::new(
        Api::<SecurityConfiguration>::all(client.clone()),
        ctx.watcher_config(),
    );
    let store = controller.store();
    let shared = Shared::new(SecurityConfigurations { ctx: ctx.clone() });
    // A VirtualCluster that changes (is deleted, or recreated) may free a previous one.
    controller
        .watches(
            Api::<VirtualCluster>::all(client),
            watcher::Config::default().any_semantic(),
            move |vc: VirtualCluster| {
                let name = vc.spec.security_configuration.as_ref()?.name.clone();
                let found = store.get(&ObjectRef::new(&name))?;
                Some(ObjectRef::from_obj(found.as_ref()))
            },
        )
        .with_config(
            kube::runtime::controller::Config::default().concurrency(ctx.config.concurrency),
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile::run, reconcile::error_policy, shared)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "securityconfiguration controller event");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vc(name: &str, status: serde_json::Value) -> VirtualCluster {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "emr-on-eks.dev/v1alpha1", "kind": "VirtualCluster",
            "metadata": {"name": name},
            "spec": {"eksClusterName": "prod", "namespace": {"name": "ns"}},
            "status": status
        }))
        .unwrap()
    }

    #[test]
    fn only_live_virtual_clusters_created_with_it_use_it() {
        let vcs = vec![
            vc(
                "live",
                serde_json::json!({"securityConfigurationId": "sc1", "virtualClusterId": "v1", "state": "RUNNING"}),
            ),
            vc(
                "gone",
                serde_json::json!({"securityConfigurationId": "sc1", "virtualClusterId": "v2", "state": "TERMINATED"}),
            ),
            vc(
                "not-created",
                serde_json::json!({"securityConfigurationId": "sc1"}),
            ),
            vc(
                "other",
                serde_json::json!({"securityConfigurationId": "sc2", "virtualClusterId": "v3"}),
            ),
        ];
        assert_eq!(users(&vcs, "sc1"), vec!["live"]);
    }
}
