//! The emr-containers (EMR on EKS) API: job runs and virtual clusters.

use std::sync::Arc;

use aws_sdk_emrcontainers::Client;
use aws_sdk_emrcontainers::operation::start_job_run::StartJobRunInput;
use aws_sdk_emrcontainers::types::{
    ContainerInfo, ContainerProvider, ContainerProviderType, EksInfo,
};
use chrono::{DateTime, Utc};

use crate::call::Caller;
use crate::error::{AwsError, AwsFault};
use crate::job_run::{JobRunInfo, JobRunState, StartedJobRun, job_run_info};
use crate::job_template::{JobTemplateInfo, job_template_info};
use crate::observer::CallObserver;
use crate::operation::Operation;
use crate::pagination::Pages;
use crate::time::to_smithy;
use crate::virtual_cluster::{
    CreateVirtualClusterRequest, CreatedVirtualCluster, VirtualClusterInfo, VirtualClusterState,
    virtual_cluster_info,
};

#[derive(Clone, Debug)]
pub struct EmrContainers {
    client: Client,
    caller: Caller,
}

impl EmrContainers {
    pub fn new(client: Client, observer: Arc<dyn CallObserver>) -> Self {
        EmrContainers {
            client,
            caller: Caller::new(observer),
        }
    }

    /// Takes a token from `pacer` before each call (see [`crate::pacing`]).
    pub fn with_pacer(mut self, pacer: crate::pacing::Pacer) -> Self {
        self.caller = self.caller.paced(pacer);
        self
    }

    /// The underlying SDK client, for calls this crate does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn caller(&self) -> &Caller {
        &self.caller
    }

    /// Sends the operator's own [`StartJobRunInput`] unchanged: every field is copied, so what
    /// the operator's pure conversion produced (and tested) is what EMR receives.
    pub async fn start_job_run(&self, input: StartJobRunInput) -> Result<StartedJobRun, AwsError> {
        let StartJobRunInput {
            name,
            virtual_cluster_id,
            client_token,
            execution_role_arn,
            release_label,
            job_driver,
            configuration_overrides,
            tags,
            job_template_id,
            job_template_parameters,
            retry_policy_configuration,
            ..
        } = input;
        let error = |cause| AwsError::StartJobRun {
            virtual_cluster_id: virtual_cluster_id.clone().unwrap_or_default(),
            job_run_name: name.clone(),
            client_token: client_token.clone(),
            cause,
        };
        let request = self
            .client
            .start_job_run()
            .set_name(name.clone())
            .set_virtual_cluster_id(virtual_cluster_id.clone())
            .set_client_token(client_token.clone())
            .set_execution_role_arn(execution_role_arn)
            .set_release_label(release_label)
            .set_job_driver(job_driver)
            .set_configuration_overrides(configuration_overrides)
            .set_tags(tags)
            .set_job_template_id(job_template_id)
            .set_job_template_parameters(job_template_parameters)
            .set_retry_policy_configuration(retry_policy_configuration);
        let out = self
            .caller
            .call(Operation::StartJobRun, request.send())
            .await
            .map_err(error)?;
        let id = out
            .id()
            .ok_or_else(|| error(AwsFault::malformed_response("StartJobRun returned no id")))?;
        Ok(StartedJobRun {
            id: id.to_owned(),
            arn: out.arn().map(str::to_owned),
            name: out.name().map(str::to_owned),
            virtual_cluster_id: out
                .virtual_cluster_id()
                .map(str::to_owned)
                .or_else(|| virtual_cluster_id.clone())
                .unwrap_or_default(),
        })
    }

    pub async fn describe_job_run(
        &self,
        virtual_cluster_id: &str,
        job_run_id: &str,
    ) -> Result<JobRunInfo, AwsError> {
        let error = |cause| AwsError::DescribeJobRun {
            virtual_cluster_id: virtual_cluster_id.to_owned(),
            job_run_id: job_run_id.to_owned(),
            cause,
        };
        let request = self
            .client
            .describe_job_run()
            .virtual_cluster_id(virtual_cluster_id)
            .id(job_run_id);
        let out = self
            .caller
            .call(Operation::DescribeJobRun, request.send())
            .await
            .map_err(error)?;
        out.job_run()
            .and_then(|run| job_run_info(run, virtual_cluster_id))
            .ok_or_else(|| {
                error(AwsFault::malformed_response(
                    "DescribeJobRun returned no job run with an id",
                ))
            })
    }

    /// Every job run of the virtual cluster in one of `states` (all states when empty) created
    /// after `created_after`, following pagination; one call refreshes all active runs at once.
    pub async fn list_job_runs(
        &self,
        virtual_cluster_id: &str,
        states: &[JobRunState],
        created_after: Option<DateTime<Utc>>,
    ) -> Result<Vec<JobRunInfo>, AwsError> {
        let error = |cause| AwsError::ListJobRuns {
            virtual_cluster_id: virtual_cluster_id.to_owned(),
            cause,
        };
        let states = state_filter::<_, aws_sdk_emrcontainers::types::JobRunState>(states);
        let mut runs = Vec::new();
        let mut pages = Pages::new(Operation::ListJobRuns);
        while let Some(next_token) = pages.next_request() {
            let request = self
                .client
                .list_job_runs()
                .virtual_cluster_id(virtual_cluster_id)
                .set_states(states.clone())
                .set_created_after(created_after.map(to_smithy))
                .set_next_token(next_token);
            let out = self
                .caller
                .call(Operation::ListJobRuns, request.send())
                .await
                .map_err(error)?;
            runs.extend(
                out.job_runs()
                    .iter()
                    .filter_map(|run| job_run_info(run, virtual_cluster_id)),
            );
            pages.advance(out.next_token()).map_err(error)?;
        }
        Ok(runs)
    }

    pub async fn cancel_job_run(
        &self,
        virtual_cluster_id: &str,
        job_run_id: &str,
    ) -> Result<(), AwsError> {
        let request = self
            .client
            .cancel_job_run()
            .virtual_cluster_id(virtual_cluster_id)
            .id(job_run_id);
        self.caller
            .call(Operation::CancelJobRun, request.send())
            .await
            .map_err(|cause| AwsError::CancelJobRun {
                virtual_cluster_id: virtual_cluster_id.to_owned(),
                job_run_id: job_run_id.to_owned(),
                cause,
            })?;
        Ok(())
    }

    /// The job template `template_id`; a missing one is `is_not_found()`.
    pub async fn describe_job_template(
        &self,
        template_id: &str,
    ) -> Result<JobTemplateInfo, AwsError> {
        let error = |cause| AwsError::DescribeJobTemplate {
            template_id: template_id.to_owned(),
            cause,
        };
        let request = self.client.describe_job_template().id(template_id);
        let out = self
            .caller
            .call(Operation::DescribeJobTemplate, request.send())
            .await
            .map_err(error)?;
        out.job_template()
            .and_then(job_template_info)
            .ok_or_else(|| {
                error(AwsFault::malformed_response(
                    "DescribeJobTemplate returned no job template with an id and data",
                ))
            })
    }

    pub async fn create_virtual_cluster(
        &self,
        req: &CreateVirtualClusterRequest,
    ) -> Result<CreatedVirtualCluster, AwsError> {
        let error = |cause| AwsError::CreateVirtualCluster {
            name: req.name.clone(),
            eks_cluster_name: req.eks_cluster_name.clone(),
            namespace: req.namespace.clone(),
            cause,
        };
        let provider = ContainerProvider::builder()
            .r#type(ContainerProviderType::Eks)
            .id(&req.eks_cluster_name)
            .info(ContainerInfo::EksInfo(
                EksInfo::builder().namespace(&req.namespace).build(),
            ))
            .build()
            .map_err(|e| error(AwsFault::invalid_request(e.to_string())))?;
        let request = self
            .client
            .create_virtual_cluster()
            .name(&req.name)
            .container_provider(provider)
            .client_token(&req.client_token)
            .set_tags((!req.tags.is_empty()).then(|| req.tags.clone().into_iter().collect()))
            .set_security_configuration_id(req.security_configuration_id.clone());
        let out = self
            .caller
            .call(Operation::CreateVirtualCluster, request.send())
            .await
            .map_err(error)?;
        let id = out.id().ok_or_else(|| {
            error(AwsFault::malformed_response(
                "CreateVirtualCluster returned no id",
            ))
        })?;
        Ok(CreatedVirtualCluster {
            id: id.to_owned(),
            arn: out.arn().map(str::to_owned),
            name: out.name().map(str::to_owned),
        })
    }

    pub async fn describe_virtual_cluster(
        &self,
        virtual_cluster_id: &str,
    ) -> Result<VirtualClusterInfo, AwsError> {
        let error = |cause| AwsError::DescribeVirtualCluster {
            virtual_cluster_id: virtual_cluster_id.to_owned(),
            cause,
        };
        let request = self
            .client
            .describe_virtual_cluster()
            .id(virtual_cluster_id);
        let out = self
            .caller
            .call(Operation::DescribeVirtualCluster, request.send())
            .await
            .map_err(error)?;
        out.virtual_cluster()
            .and_then(virtual_cluster_info)
            .ok_or_else(|| {
                error(AwsFault::malformed_response(
                    "DescribeVirtualCluster returned no virtual cluster with an id",
                ))
            })
    }

    /// The EKS cluster's virtual clusters in one of `states` (all states when empty), following
    /// pagination.
    pub async fn list_virtual_clusters(
        &self,
        eks_cluster_name: &str,
        states: &[VirtualClusterState],
    ) -> Result<Vec<VirtualClusterInfo>, AwsError> {
        let error = |cause| AwsError::ListVirtualClusters {
            eks_cluster_name: eks_cluster_name.to_owned(),
            cause,
        };
        let states = state_filter::<_, aws_sdk_emrcontainers::types::VirtualClusterState>(states);
        let mut clusters = Vec::new();
        let mut pages = Pages::new(Operation::ListVirtualClusters);
        while let Some(next_token) = pages.next_request() {
            let request = self
                .client
                .list_virtual_clusters()
                .container_provider_type(ContainerProviderType::Eks)
                .container_provider_id(eks_cluster_name)
                .set_states(states.clone())
                .set_next_token(next_token);
            let out = self
                .caller
                .call(Operation::ListVirtualClusters, request.send())
                .await
                .map_err(error)?;
            clusters.extend(
                out.virtual_clusters()
                    .iter()
                    .filter_map(virtual_cluster_info),
            );
            pages.advance(out.next_token()).map_err(error)?;
        }
        Ok(clusters)
    }

    pub async fn delete_virtual_cluster(&self, virtual_cluster_id: &str) -> Result<(), AwsError> {
        let request = self.client.delete_virtual_cluster().id(virtual_cluster_id);
        self.caller
            .call(Operation::DeleteVirtualCluster, request.send())
            .await
            .map_err(|cause| AwsError::DeleteVirtualCluster {
                virtual_cluster_id: virtual_cluster_id.to_owned(),
                cause,
            })?;
        Ok(())
    }
}

/// `None` means "no filter": EMR then lists every state. Duplicates are dropped because EMR
/// limits how many states one filter may name.
fn state_filter<S, T>(states: &[S]) -> Option<Vec<T>>
where
    T: for<'a> From<&'a S> + PartialEq,
{
    if states.is_empty() {
        return None;
    }
    let mut sdk = Vec::with_capacity(states.len());
    for state in states {
        let state = T::from(state);
        if !sdk.contains(&state) {
            sdk.push(state);
        }
    }
    Some(sdk)
}

#[cfg(test)]
mod tests;
