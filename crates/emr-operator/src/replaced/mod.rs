//! Replace-then-retire, for the kinds that stand for an immutable EMR object (SparkJobTemplate,
//! SecurityConfiguration): EMR cannot update them, so a spec change creates a new one (client
//! token from UID + generation), status moves to it, the earlier ones wait in
//! `status.previous` until nothing uses them and are then deleted; the finalizer deletes them
//! all on deletion unless still in use; one deleted outside the operator is recreated.
//!
//! Nothing is deleted on status' word: an EMR object is deleted only when its own tags name this
//! object's UID. [`plan`] holds the decisions (pure), [`reconcile`] the I/O; each kind supplies
//! a [`Kind`] (its AWS calls, its users, its checks).

mod carry;
pub mod plan;
pub mod reconcile;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;

use emr_api::emr_object::ReplacedObjectStatus;
use emr_aws::{AwsError, CreatedEmrObject};
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::kit::finalizer::Finalizer;
use crate::kit::{Category, ReconcileError};

/// A refusal before anything is created in EMR: the condition reason and message.
pub type Refusal = (&'static str, String);

/// What one kind supplies to the shared reconcile.
pub trait Kind: Send + Sync + 'static {
    type Object: Resource<DynamicType = ()>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static;
    type Status: ReplacedObjectStatus + Serialize + Send + Sync;

    /// The kind's name, for logs, metrics and messages.
    const KIND: &'static str;
    /// What an EMR object of this kind is called in messages.
    const WHAT: &'static str;
    const FINALIZER: Finalizer;

    fn context(&self) -> &crate::Context;
    fn status(object: &Self::Object) -> Option<&Self::Status>;
    fn api(&self, object: &Self::Object) -> kube::Api<Self::Object>;

    /// Why the object must not be created in EMR as it stands, if so.
    fn refusal(
        &self,
        object: &Self::Object,
    ) -> impl Future<Output = Result<Option<Refusal>, Error>> + Send;
    /// Creates the EMR object with these tags (the operator's included).
    fn create(
        &self,
        object: &Self::Object,
        client_token: String,
        tags: BTreeMap<String, String>,
    ) -> impl Future<Output = Result<CreatedEmrObject, AwsError>> + Send;
    /// The tags of EMR object `id`, or `None` when EMR has no such object.
    fn tags_of(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<BTreeMap<String, String>>, AwsError>> + Send;
    /// Deletes EMR object `id` (gone already counts as deleted).
    fn delete(&self, id: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// The objects that still use EMR object `id` (`namespace/name`), read fresh.
    fn users(
        &self,
        object: &Self::Object,
        id: &str,
    ) -> impl Future<Output = Result<Vec<String>, Error>> + Send;
}

/// A describe, with "EMR has no such object" as `None`: for [`Kind::tags_of`].
pub async fn unless_gone<T>(
    describe: impl Future<Output = Result<T, AwsError>>,
) -> Result<Option<T>, AwsError> {
    match describe.await {
        Ok(found) => Ok(Some(found)),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(error),
    }
}

/// A delete, with an object EMR no longer has counted as deleted: for [`Kind::delete`].
pub async fn gone_is_deleted(
    delete: impl Future<Output = Result<(), AwsError>>,
) -> Result<(), AwsError> {
    match delete.await {
        Err(error) if error.is_not_found() => Ok(()),
        other => other,
    }
}

/// Why a reconcile of a replaced kind failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{kind} {object}: {source}")]
    Aws {
        kind: &'static str,
        object: String,
        #[source]
        source: AwsError,
    },
    #[error("{kind} {object}: {action} failed: {source}")]
    Kube {
        kind: &'static str,
        object: String,
        action: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("{kind} {object}: the object changed while it was reconciled; read again")]
    Stale { kind: &'static str, object: String },
    #[error("{kind} {object} has no metadata.uid or generation")]
    MissingIdentity { kind: &'static str, object: String },
    #[error("{kind} {object}: the reconcile panicked: {message}")]
    Panicked {
        kind: &'static str,
        object: String,
        message: String,
    },
}

impl ReconcileError for Error {
    fn category(&self) -> Category {
        match self {
            Error::Aws { source, .. } => Category::of_aws(source),
            Error::Kube { source, .. } => Category::of_kube(source),
            Error::Stale { .. } => Category::Conflict,
            Error::MissingIdentity { .. } => Category::TerminalInput,
            Error::Panicked { .. } => Category::Panicked,
        }
    }

    fn metric_label(&self) -> &'static str {
        match self {
            Error::Aws { .. } => "AwsCallFailed",
            Error::Kube { .. } => "KubernetesCallFailed",
            Error::Stale { .. } => "StaleObject",
            Error::MissingIdentity { .. } => "MissingIdentity",
            Error::Panicked { .. } => "ReconcilePanicked",
        }
    }
}

#[cfg(test)]
mod tests {
    use emr_aws::{AwsFault, FaultKind, Operation};

    use super::*;

    fn fault(kind: FaultKind) -> AwsError {
        AwsError::EmrObject {
            operation: Operation::DeleteJobTemplate,
            target: "job template t1".into(),
            cause: AwsFault {
                kind,
                code: None,
                message: String::new(),
                request_id: None,
                http_status: None,
            },
        }
    }

    #[tokio::test]
    async fn an_object_emr_no_longer_has_is_gone_and_any_other_error_stays_one() {
        let described = |answer: Result<i32, AwsError>| unless_gone(std::future::ready(answer));
        assert_eq!(described(Ok(7)).await.unwrap(), Some(7));
        let gone = described(Err(fault(FaultKind::NotFound)));
        assert_eq!(gone.await.unwrap(), None);
        assert!(
            described(Err(fault(FaultKind::AccessDenied)))
                .await
                .is_err()
        );
        let deleted = |answer: Result<(), AwsError>| gone_is_deleted(std::future::ready(answer));
        assert!(deleted(Ok(())).await.is_ok());
        assert!(deleted(Err(fault(FaultKind::NotFound))).await.is_ok());
        assert!(deleted(Err(fault(FaultKind::Throttled))).await.is_err());
    }
}
