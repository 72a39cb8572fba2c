//! The one place every AWS request passes through: times it, classifies its failure and tells
//! the observer, so no API method repeats that bookkeeping.

use std::error::Error as StdError;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::{AwsFault, FaultKind};
use crate::observer::{CallObserver, CallOutcome};
use crate::operation::Operation;
use crate::outage::{Admission, Outage, held_fault};
use crate::pacing::Pacer;

#[derive(Clone)]
pub(crate) struct Caller {
    observer: Arc<dyn CallObserver>,
    pacer: Pacer,
    outage: Outage,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller").finish_non_exhaustive()
    }
}

impl Caller {
    pub(crate) fn new(observer: Arc<dyn CallObserver>) -> Self {
        Caller {
            observer,
            pacer: Pacer::default(),
            outage: Outage::default(),
        }
    }

    /// The same caller, taking a token from `pacer` before each request.
    pub(crate) fn paced(mut self, pacer: Pacer) -> Self {
        self.pacer = pacer;
        self
    }

    pub(crate) async fn call<T, E>(
        &self,
        op: Operation,
        request: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, AwsFault>
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let probe = self.admit(op)?;
        // The wait is not part of the call's duration: it is the operator's own pacing.
        let waited = self.pacer.wait(op).await;
        if !waited.is_zero() {
            self.observer.paced(op, waited);
        }
        let started = Instant::now();
        let result = request.await.map_err(|e| AwsFault::from_sdk_error(&e));
        self.finish(op, started, probe, result.as_ref().err());
        result
    }

    /// Whether the call may be sent (see [`crate::outage`]): `Ok(probe)`, or the error of a
    /// call held while its service is down.
    fn admit(&self, op: Operation) -> Result<bool, AwsFault> {
        match self.outage.admit(tokio::time::Instant::now()) {
            Admission::Send { probe } => Ok(probe),
            Admission::Held(left) => {
                tracing::debug!(
                    operation = op.as_str(),
                    "AWS call held: its service is down"
                );
                self.observer.held(op);
                Err(held_fault(op, left))
            }
        }
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
        let probe = self.admit(op)?;
        let started = Instant::now();
        let result = match request.await {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.as_service_error().is_some_and(&absent) => Ok(None),
            Err(e) => Err(AwsFault::from_sdk_error(&e)),
        };
        self.finish(op, started, probe, result.as_ref().err());
        result
    }

    fn finish(&self, op: Operation, started: Instant, probe: bool, fault: Option<&AwsFault>) {
        let elapsed = started.elapsed();
        let outage = fault.is_some_and(|f| f.kind == FaultKind::Unavailable);
        self.outage
            .record(outage, probe, tokio::time::Instant::now());
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;
    use std::time::Duration;

    use aws_sdk_emrcontainers::operation::start_job_run::StartJobRunError;

    use super::*;
    use crate::pacing::{Pacer, Rate};

    #[derive(Default)]
    struct Seen {
        paced: Mutex<Vec<(Operation, Duration)>>,
        calls: Mutex<Vec<(Operation, Duration)>>,
        held: Mutex<Vec<Operation>>,
    }

    impl CallObserver for Seen {
        fn observe(&self, op: Operation, _: CallOutcome, elapsed: Duration) {
            self.calls.lock().unwrap().push((op, elapsed));
        }
        fn paced(&self, op: Operation, waited: Duration) {
            self.paced.lock().unwrap().push((op, waited));
        }
        fn held(&self, op: Operation) {
            self.held.lock().unwrap().push(op);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_paced_call_waits_for_its_token_and_the_observer_is_told_apart_from_its_duration() {
        let seen = Arc::new(Seen::default());
        let pacer = Pacer::new([(
            Operation::StartJobRun,
            Rate {
                per_second: 1.0,
                burst: 1,
            },
        )]);
        let caller = Caller::new(seen.clone()).paced(pacer);
        let started = tokio::time::Instant::now();
        for _ in 0..3 {
            caller
                .call(Operation::StartJobRun, async {
                    Ok::<_, SdkError<StartJobRunError, HttpResponse>>(())
                })
                .await
                .unwrap();
        }
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        assert_eq!(
            *seen.paced.lock().unwrap(),
            [
                (Operation::StartJobRun, Duration::from_secs(1)),
                (Operation::StartJobRun, Duration::from_secs(1))
            ]
        );
        assert_eq!(seen.calls.lock().unwrap().len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn calls_into_an_outage_are_held_unsent_until_one_probe_finds_the_service_back() {
        type Answer = Result<(), SdkError<StartJobRunError, HttpResponse>>;
        let seen = Arc::new(Seen::default());
        let caller = Caller::new(seen.clone());
        let op = Operation::StartJobRun;
        for _ in 0..3 {
            let down = async { Answer::Err(SdkError::timeout_error("no answer")) };
            let fault = caller.call(op, down).await.unwrap_err();
            assert_eq!(fault.kind, FaultKind::Unavailable);
        }
        let sent = std::sync::atomic::AtomicBool::new(false);
        let held = caller
            .call(op, async {
                sent.store(true, std::sync::atomic::Ordering::SeqCst);
                Answer::Ok(())
            })
            .await
            .unwrap_err();
        assert!(
            !sent.load(std::sync::atomic::Ordering::SeqCst),
            "a held call was sent"
        );
        assert_eq!(held.kind, FaultKind::Unavailable);
        assert!(held.message.contains("not sent"), "{held}");
        assert_eq!(
            seen.calls.lock().unwrap().len(),
            3,
            "only sent calls are observed as calls"
        );
        assert_eq!(*seen.held.lock().unwrap(), [op]);
        // After the hold, one probe goes out; its answer lets everything through again.
        tokio::time::advance(Duration::from_secs(1)).await;
        caller.call(op, async { Answer::Ok(()) }).await.unwrap();
        caller.call(op, async { Answer::Ok(()) }).await.unwrap();
        assert_eq!(seen.calls.lock().unwrap().len(), 5);
    }
}
