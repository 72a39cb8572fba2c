//! The pod templates of an attempt, before its StartJobRun: chosen, checked (no AWS call until
//! every check passed), rendered and made sure of in S3.
//!
//! Where this sits in the exactly-once order (see `submit`): a new attempt's templates are
//! checked and uploaded BEFORE the attempt is recorded. A refused or failed upload then uses no
//! attempt number and leaves nothing to recover, and the recorded status carries the URIs in the
//! same write as the attempt. A crash anywhere after the upload is harmless: the next reconcile
//! renders the same bytes, so the same key, and HeadObject finds it (no second PutObject);
//! StartJobRun still goes out once, under the recorded attempt's client token. A recovered
//! attempt recomputes its URIs from spec and VirtualCluster (never from status, which others can
//! write) and makes sure of them again, only after looking for the run it may already have.

use emr_api::SparkJobRunStatus;
use emr_api::pod_template::PodTemplateFiles;
use emr_api::spark_job_run::reasons;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::ResourceExt;
use kube::api::Api;

use super::Reconcile;
use super::submit::Refusal;
use crate::spark_job_run::error::Error;
use crate::spark_job_run::pod_templates::{self, Store, select, upload};

impl Reconcile<'_> {
    /// The S3 URIs of this attempt's pod templates (`None`: it has none), or why StartJobRun
    /// must not be sent.
    pub(super) async fn pod_template_files(
        &mut self,
    ) -> Result<Result<Option<PodTemplateFiles>, Refusal>, Error> {
        if let Some(message) = select::conflict(&self.job.spec) {
            return Ok(Err(refused(reasons::POD_TEMPLATE_CONFLICT, message)));
        }
        let vc = self.lookup().await?.virtual_cluster.clone();
        let job_spec = self.job.spec.clone();
        let chosen = select::choose(&job_spec, vc.as_ref());
        if chosen.is_empty() {
            return Ok(Ok(None));
        }
        let vc_name = job_spec.virtual_cluster.name.clone().unwrap_or_default();
        let Some(store) = vc
            .as_ref()
            .and_then(|vc| vc.spec.pod_template_store.as_ref())
        else {
            let message = match &vc {
                Some(_) => format!(
                    "spec.podTemplates: VirtualCluster {vc_name} has no spec.podTemplateStore to write pod templates to"
                ),
                None => "spec.podTemplates: a job in a raw virtual cluster id has no VirtualCluster podTemplateStore to write pod templates to".to_owned(),
            };
            return Ok(Err(refused(reasons::POD_TEMPLATE_STORE_MISSING, message)));
        };
        let account = vc
            .as_ref()
            .and_then(|vc| vc.status.as_ref())
            .and_then(|s| s.account_id.clone());
        let store = match Store::parse(store, account.as_deref()) {
            Ok(store) => store,
            Err(error) => {
                return Ok(Err(refused(
                    reasons::INVALID_POD_TEMPLATE,
                    format!("VirtualCluster {vc_name} spec.{error}"),
                )));
            }
        };

        // Every check of every template first: a refusal costs no AWS call.
        let namespace = self.job.namespace().unwrap_or_default();
        let fields: Vec<String> = chosen.iter().map(|c| c.field()).collect();
        let jobs = chosen
            .iter()
            .map(|c| pod_templates::Job {
                role: c.role,
                template: c.template.clone(),
                origin: c.origin.clone(),
            })
            .collect();
        let checked = match pod_templates::check_and_render(jobs, namespace).await {
            Ok(Ok(checked)) => checked,
            Ok(Err(invalid)) => {
                return Ok(Err(refused(
                    reasons::INVALID_POD_TEMPLATE,
                    invalid.to_string(),
                )));
            }
            Err(error) => {
                return Err(Error::CheckPodTemplates {
                    object: self.object.clone(),
                    message: error.to_string(),
                });
            }
        };
        for (c, field) in checked.iter().zip(&fields) {
            if let Some(class) = &c.priority_class
                && !Box::pin(self.priority_class_exists(class)).await?
            {
                return Ok(Err(refused(
                    reasons::INVALID_POD_TEMPLATE,
                    format!("{field}.spec.priorityClassName: PriorityClass {class} does not exist"),
                )));
            }
        }
        let rendered: Vec<_> = checked.into_iter().map(|c| c.rendered).collect();

        let mut files = PodTemplateFiles::default();
        for r in &rendered {
            let uri = store.uri(&r.sha256);
            // Boxed: the SDK's S3 futures are large, and inline in the reconcile's future they
            // overflow a runtime worker's stack in an unoptimized build.
            match Box::pin(upload::ensure(&self.ctx().aws.s3, &store, r)).await {
                Ok(outcome) => {
                    tracing::info!(object = %self.object, %uri, outcome = outcome.as_str(), "pod template in S3");
                    self.ctx().metrics.pod_template_upload(outcome.as_str());
                }
                Err(error) => {
                    self.ctx().metrics.pod_template_upload("failed");
                    if error.is_access_denied() {
                        return Ok(Err(Refusal::AccessDenied(format!(
                            "the operator may not write pod template {uri}: {} (grant it {} on the podTemplateStore prefix; with expectedBucketOwner, the bucket must be that account's)",
                            error.cause(),
                            error.iam_action()
                        ))));
                    }
                    return Err(Error::UploadPodTemplate {
                        object: self.object.clone(),
                        uri,
                        source: error,
                    });
                }
            }
            files.set(r.role, uri);
        }
        Ok(Ok(Some(files)))
    }

    /// For a recorded attempt about to be sent again: its URIs made sure of again, and status
    /// corrected when they differ from what it records (a VirtualCluster default changed, or
    /// status was rewritten by someone else).
    pub(super) async fn recovered_pod_template_files(
        &mut self,
    ) -> Result<Result<Option<PodTemplateFiles>, Refusal>, Error> {
        let files = match Box::pin(self.pod_template_files()).await? {
            Ok(files) => files,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if let Some(unwritten) = &mut self.unwritten {
            // Written with the attempt, after StartJobRun.
            unwritten.pod_templates = files.clone();
        } else if self.status().pod_templates != files {
            let mut status: SparkJobRunStatus = self.status();
            status.pod_templates = files.clone();
            self.write(status).await?;
        }
        Ok(Ok(files))
    }

    /// Whether the PriorityClass exists (a read-only `get`; the operator holds no pod rights to
    /// dry-run a Pod with).
    async fn priority_class_exists(&self, name: &str) -> Result<bool, Error> {
        Api::<PriorityClass>::all(self.ctx().client.clone())
            .get_opt(name)
            .await
            .map(|found| found.is_some())
            .map_err(|source| Error::ReadPriorityClass {
                object: self.object.clone(),
                name: name.to_owned(),
                source,
            })
    }
}

fn refused(reason: &'static str, message: String) -> Refusal {
    Refusal::Refused { reason, message }
}
