//! The one place every AWS request passes through: times it, classifies its failure and tells
//! the observer, so no API method repeats that bookkeeping.

use std::error::Error as StdError;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::AwsFault;
use crate::observer::{CallObserver, CallOutcome};
use crate::operation::Operation;

#[derive(Clone)]
pub(crate) struct Caller {
    observer: Arc<dyn CallObserver>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller").finish_non_exhaustive()
    }
}

impl Caller {
    pub(crate) fn new(observer: Arc<dyn CallObserver>) -> Self {
        Caller { observer }
    }

    pub(crate) async fn call<T, E>(
        &self,
        op: Operation,
        request: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, AwsFault>
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let started = Instant::now();
        let result = request.await.map_err(|e| AwsFault::from_sdk_error(&e));
        self.finish(op, started, result.as_ref().err());
        result
    }

    /// Like [`Caller::call`], for a call where one error is an answer, not a failure (S3's
    /// HeadObject 404: "not there"): that error is `Ok(None)` and is observed as a success.
    pub(crate) async fn call_or_absent<T, E>(
        &self,
        op: Operation,
        request: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        absent: impl Fn(&E) -> bool,
    ) -> Result<Option<T>, AwsFault>
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let started = Instant::now();
        let result = match request.await {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.as_service_error().is_some_and(&absent) => Ok(None),
            Err(e) => Err(AwsFault::from_sdk_error(&e)),
        };
        self.finish(op, started, result.as_ref().err());
        result
    }

    fn finish(&self, op: Operation, started: Instant, fault: Option<&AwsFault>) {
        let elapsed = started.elapsed();
        let outcome = match fault {
            None => CallOutcome::Ok,
            Some(fault) => CallOutcome::Fault(fault.kind),
        };
        match fault {
            None => tracing::debug!(
                operation = op.as_str(),
                elapsed_ms = elapsed.as_millis() as u64,
                "AWS call succeeded"
            ),
            Some(fault) => tracing::debug!(
                operation = op.as_str(),
                elapsed_ms = elapsed.as_millis() as u64,
                kind = fault.kind.as_str(),
                code = fault.code.as_deref().unwrap_or(""),
                "AWS call failed: {fault}"
            ),
        }
        self.observer.observe(op, outcome, elapsed);
    }
}
