//! Deleting a finished SparkJobRun whose `ttlSecondsAfterFinished` passed: an apiserver delete
//! guarded by the copy decided on, after which the finalizer lets it go (no EMR call: the run
//! is over).

use kube::ResourceExt;
use kube::api::{DeleteParams, Preconditions};

use super::Reconcile;
use crate::fair_queue::Action;
use crate::kit::Event;
use crate::spark_job_run::error::Error;

impl Reconcile<'_> {
    pub(super) async fn delete_expired(&mut self, event: Event) -> Result<Action, Error> {
        // Only the copy the decision saw may go: a re-run asked for meanwhile (a new
        // resourceVersion) makes the apiserver refuse, and the next reconcile starts it instead.
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: self.job.uid(),
                resource_version: self.job.resource_version(),
            }),
            ..DeleteParams::background()
        };
        match self.api.delete(&self.job.name_any(), &params).await {
            Ok(_) => {
                // Said once: after the delete, which a stale copy could not make.
                self.publish(vec![event]).await;
                Ok(Action::await_change())
            }
            Err(kube::Error::Api(status)) if status.code == 404 => {
                self.gone = true;
                Ok(Action::await_change())
            }
            Err(kube::Error::Api(status)) if status.code == 409 => Err(Error::StaleObject {
                object: self.object.clone(),
            }),
            Err(source) => Err(Error::DeleteExpired {
                object: self.object.clone(),
                source,
            }),
        }
    }
}
