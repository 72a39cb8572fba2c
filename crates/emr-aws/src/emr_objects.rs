//! The immutable EMR objects the operator keeps for Kubernetes objects: job templates
//! (Create/DeleteJobTemplate; DescribeJobTemplate is in `emr.rs`) and security configurations
//! (Create/Describe/DeleteSecurityConfiguration). Neither can be updated in EMR.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_emrcontainers::types::{JobTemplateData, SecurityConfigurationData};

use crate::emr::EmrContainers;
use crate::error::{AwsError, AwsFault};
use crate::operation::Operation;

/// What a create call returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedEmrObject {
    pub id: String,
    pub arn: Option<String>,
}

/// What the operator needs of a security configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityConfigurationInfo {
    pub id: String,
    pub name: Option<String>,
    pub arn: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// A create request shared by both kinds.
#[derive(Clone, Debug)]
pub struct CreateEmrObject<D> {
    pub name: String,
    pub client_token: String,
    pub data: D,
    pub tags: BTreeMap<String, String>,
}

fn fault(operation: Operation, target: &str) -> impl Fn(AwsFault) -> AwsError + '_ {
    move |cause| AwsError::EmrObject {
        operation,
        target: target.to_owned(),
        cause,
    }
}

fn tag_map(tags: &BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    (!tags.is_empty()).then(|| tags.clone().into_iter().collect())
}

impl EmrContainers {
    /// CreateJobTemplate; the same client token returns the template made for it.
    pub async fn create_job_template(
        &self,
        request: CreateEmrObject<JobTemplateData>,
        kms_key_arn: Option<String>,
    ) -> Result<CreatedEmrObject, AwsError> {
        let target = format!("job template {}", request.name);
        let error = fault(Operation::CreateJobTemplate, &target);
        let call = self
            .client()
            .create_job_template()
            .name(&request.name)
            .client_token(&request.client_token)
            .job_template_data(request.data)
            .set_tags(tag_map(&request.tags))
            .set_kms_key_arn(kms_key_arn);
        let out = self
            .caller()
            .call(Operation::CreateJobTemplate, call.send())
            .await
            .map_err(&error)?;
        let id = out.id().ok_or_else(|| {
            error(AwsFault::malformed_response(
                "CreateJobTemplate returned no id",
            ))
        })?;
        Ok(CreatedEmrObject {
            id: id.to_owned(),
            arn: out.arn().map(str::to_owned),
        })
    }

    /// DeleteJobTemplate; a missing one is `is_not_found()`.
    pub async fn delete_job_template(&self, template_id: &str) -> Result<(), AwsError> {
        let target = format!("job template {template_id}");
        let call = self.client().delete_job_template().id(template_id);
        self.caller()
            .call(Operation::DeleteJobTemplate, call.send())
            .await
            .map_err(fault(Operation::DeleteJobTemplate, &target))?;
        Ok(())
    }

    /// CreateSecurityConfiguration; the same client token returns the one made for it.
    pub async fn create_security_configuration(
        &self,
        request: CreateEmrObject<SecurityConfigurationData>,
    ) -> Result<CreatedEmrObject, AwsError> {
        let target = format!("security configuration {}", request.name);
        let error = fault(Operation::CreateSecurityConfiguration, &target);
        let call = self
            .client()
            .create_security_configuration()
            .name(&request.name)
            .client_token(&request.client_token)
            .security_configuration_data(request.data)
            .set_tags(tag_map(&request.tags));
        let out = self
            .caller()
            .call(Operation::CreateSecurityConfiguration, call.send())
            .await
            .map_err(&error)?;
        let id = out.id().ok_or_else(|| {
            error(AwsFault::malformed_response(
                "CreateSecurityConfiguration returned no id",
            ))
        })?;
        Ok(CreatedEmrObject {
            id: id.to_owned(),
            arn: out.arn().map(str::to_owned),
        })
    }

    /// DescribeSecurityConfiguration; a missing one is `is_not_found()`.
    pub async fn describe_security_configuration(
        &self,
        id: &str,
    ) -> Result<SecurityConfigurationInfo, AwsError> {
        let target = format!("security configuration {id}");
        let error = fault(Operation::DescribeSecurityConfiguration, &target);
        let call = self.client().describe_security_configuration().id(id);
        let out = self
            .caller()
            .call(Operation::DescribeSecurityConfiguration, call.send())
            .await
            .map_err(&error)?;
        let found = out.security_configuration().and_then(|c| {
            Some(SecurityConfigurationInfo {
                id: c.id()?.to_owned(),
                name: c.name().map(str::to_owned),
                arn: c.arn().map(str::to_owned),
                tags: c
                    .tags()
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
            })
        });
        found.ok_or_else(|| {
            error(AwsFault::malformed_response(
                "DescribeSecurityConfiguration returned no security configuration with an id",
            ))
        })
    }

    /// DeleteSecurityConfiguration; a missing one is `is_not_found()`.
    pub async fn delete_security_configuration(&self, id: &str) -> Result<(), AwsError> {
        let target = format!("security configuration {id}");
        let call = self.client().delete_security_configuration().id(id);
        self.caller()
            .call(Operation::DeleteSecurityConfiguration, call.send())
            .await
            .map_err(fault(Operation::DeleteSecurityConfiguration, &target))?;
        Ok(())
    }
}
