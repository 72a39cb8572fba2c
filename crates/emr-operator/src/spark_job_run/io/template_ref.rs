//! `spec.jobTemplateRef`: the SparkJobTemplate a run starts from, resolved to the EMR job
//! template its status names, proved to be that object's (by the template's own tags: the
//! SparkJobTemplate's status alone proves nothing), bound to the run's VirtualCluster, and its
//! parameters checked against the template's before StartJobRun.

use std::collections::BTreeMap;

use emr_api::SparkJobTemplate;
use emr_api::labels::TAG_UID;
use emr_api::spark_job_run::{SparkJobRunStatus, reasons};
use kube::ResourceExt;
use kube::api::Api;

use super::Reconcile;
use super::submit::Refusal;
use crate::spark_job_run::error::Error;

/// What a template reference resolves to: `Ok(None)` without a template, `Ok(Some(id))` the
/// EMR job template to start from, or why the run must not start.
pub(super) type Resolved = Result<Option<String>, Refusal>;

fn refused(reason: &'static str, message: String) -> Resolved {
    Err(Refusal::Refused { reason, message })
}

impl Reconcile<'_> {
    /// The EMR job template this run starts from: `spec.jobTemplateId`, or the one its
    /// `spec.jobTemplateRef` resolves to (kept for the attempt's status and request).
    pub(super) async fn resolve_template(&mut self) -> Result<Resolved, Error> {
        let Some(reference) = self.job.spec.job_template_ref.clone() else {
            return Ok(Ok(self.job.spec.job_template_id.clone()));
        };
        let namespace = self.job.namespace().unwrap_or_default();
        let api: Api<SparkJobTemplate> = Api::namespaced(self.ctx().client.clone(), &namespace);
        let name = reference.name;
        let template = match api.get_opt(&name).await {
            Ok(Some(template)) => template,
            Ok(None) => {
                return Ok(refused(
                    reasons::SPARK_JOB_TEMPLATE_NOT_FOUND,
                    format!(
                        "SparkJobTemplate {name} (spec.jobTemplateRef) does not exist in namespace {namespace}"
                    ),
                ));
            }
            Err(source) => {
                return Err(Error::ReadJobTemplate {
                    object: self.object.clone(),
                    name,
                    source,
                });
            }
        };
        let bound = &template.spec.virtual_cluster.name;
        if self.job.spec.virtual_cluster.name.as_deref() != Some(bound.as_str()) {
            return Ok(refused(
                reasons::JOB_TEMPLATE_OF_OTHER_VIRTUAL_CLUSTER,
                format!("SparkJobTemplate {name} serves VirtualCluster {bound}, not this run's"),
            ));
        }
        let Some(id) = template
            .status
            .as_ref()
            .and_then(|s| s.job_template_id.clone())
        else {
            return Ok(refused(
                reasons::SPARK_JOB_TEMPLATE_NOT_READY,
                format!("SparkJobTemplate {name} has no EMR job template yet"),
            ));
        };
        let emr = match self.ctx().aws.emr.describe_job_template(&id).await {
            Ok(emr) => emr,
            Err(error) if error.is_not_found() => {
                return Ok(refused(
                    reasons::SPARK_JOB_TEMPLATE_NOT_READY,
                    format!(
                        "SparkJobTemplate {name}'s EMR job template {id} is gone; the operator recreates it"
                    ),
                ));
            }
            Err(error) if error.is_access_denied() => {
                return Ok(Err(Refusal::AccessDenied(format!(
                    "the operator may not read job template {id}: {} (grant it {})",
                    error.cause(),
                    error.iam_action()
                ))));
            }
            Err(source) => {
                return Err(Error::DescribeJobTemplate {
                    object: self.object.clone(),
                    source,
                });
            }
        };
        if emr.tags.get(TAG_UID) != template.uid().as_ref() {
            return Ok(refused(
                reasons::SPARK_JOB_TEMPLATE_NOT_READY,
                format!(
                    "the status of SparkJobTemplate {name} names job template {id}, which is not that object's"
                ),
            ));
        }
        if let Some((reason, message)) = parameter_refusal(
            &emr.parameter_defaults,
            &self.job.spec.job_template_parameters,
        ) {
            return Ok(refused(
                reason,
                format!("SparkJobTemplate {name}: {message}"),
            ));
        }
        self.resolved_template = Some(id.clone());
        self.described_template = Some(emr);
        Ok(Ok(Some(id)))
    }

    /// The attempt's status with the EMR job template it starts from.
    pub(super) fn with_template_id(&self, mut recorded: SparkJobRunStatus) -> SparkJobRunStatus {
        if let Some(id) = self
            .resolved_template
            .clone()
            .or_else(|| self.job.spec.job_template_id.clone())
        {
            recorded.job_template_id = Some(id);
        }
        recorded
    }
}

/// A given parameter the template does not declare, or a declared one without a default that
/// is not given: EMR would refuse the StartJobRun, so it is never sent.
fn parameter_refusal(
    declared: &BTreeMap<String, Option<String>>,
    given: &BTreeMap<String, String>,
) -> Option<(&'static str, String)> {
    if let Some(unknown) = given.keys().find(|k| !declared.contains_key(*k)) {
        return Some((
            reasons::UNKNOWN_TEMPLATE_PARAMETER,
            format!(
                "parameter {unknown} (spec.jobTemplateParameters) is not declared by the template"
            ),
        ));
    }
    let missing: Vec<&str> = declared
        .iter()
        .filter(|(name, default)| default.is_none() && !given.contains_key(*name))
        .map(|(name, _)| name.as_str())
        .collect();
    (!missing.is_empty()).then(|| {
        (
            reasons::MISSING_TEMPLATE_PARAMETER,
            format!(
                "parameters without a default need a value in spec.jobTemplateParameters: {}",
                missing.join(", ")
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map<V: Clone>(pairs: &[(&str, V)]) -> BTreeMap<String, V> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn parameters_must_be_declared_and_the_required_ones_given() {
        let declared = map(&[("role", None), ("partitions", Some("10".to_string()))]);
        assert_eq!(
            parameter_refusal(&declared, &map(&[("role", "r".to_string())])),
            None
        );
        assert_eq!(
            parameter_refusal(&declared, &map::<String>(&[])).map(|r| r.0),
            Some(reasons::MISSING_TEMPLATE_PARAMETER)
        );
        assert_eq!(
            parameter_refusal(
                &declared,
                &map(&[("role", "r".to_string()), ("extra", "x".to_string())])
            )
            .map(|r| r.0),
            Some(reasons::UNKNOWN_TEMPLATE_PARAMETER)
        );
    }
}
