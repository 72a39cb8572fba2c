#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::channel::mpsc;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ObjectMeta;
use tokio::sync::oneshot;

use super::*;

type Log = Arc<Mutex<Vec<String>>>;

fn object(key: &ObjectRef<ConfigMap>) -> Option<Arc<ConfigMap>> {
    Some(Arc::new(ConfigMap {
        metadata: ObjectMeta {
            name: Some(key.name.clone()),
            namespace: key.namespace.clone(),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    }))
}

fn name(cm: &ConfigMap) -> String {
    format!(
        "{}/{}",
        cm.metadata.namespace.clone().unwrap_or_default(),
        cm.metadata.name.clone().unwrap_or_default()
    )
}

fn at(ns: &str, name: &str) -> (ObjectRef<ConfigMap>, Lane) {
    (ObjectRef::new(name).within(ns), Lane::Changes)
}

/// These requests, then none: the watch stays open.
fn requests(
    requests: impl IntoIterator<Item = (ObjectRef<ConfigMap>, Lane)>,
) -> impl Stream<Item = (ObjectRef<ConfigMap>, Lane)> {
    futures::stream::iter(requests).chain(futures::stream::pending())
}

/// A reconcile that takes `pause`, then writes the object's name to `log` and waits for a change.
fn logging(log: &Log, pause: Duration) -> impl Fn(Arc<ConfigMap>) -> BoxFuture<'static, Action> {
    let log = log.clone();
    move |cm| {
        let log = log.clone();
        async move {
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            log.lock().unwrap().push(name(&cm));
            Action::await_change()
        }
        .boxed()
    }
}

/// A runner of `concurrency` workers, over a store that holds every object, serving `requests`
/// once `ready` until `stop` has passed.
async fn serve<Fut>(
    concurrency: usize,
    ready: impl Future<Output = ()>,
    requests: impl Stream<Item = (ObjectRef<ConfigMap>, Lane)>,
    reconcile: impl Fn(Arc<ConfigMap>) -> Fut,
    stop: Duration,
) where
    Fut: Future<Output = Action> + Send + 'static,
{
    Runner {
        queue: SharedQueue::default(),
        concurrency,
    }
    .run(
        object,
        ready,
        requests,
        reconcile,
        |_| {},
        tokio::time::sleep(stop),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_tenant_behind_a_backlog_is_served_next() {
    let log: Log = Arc::default();
    let mut triggers: Vec<_> = (0..50).map(|i| at("a", &format!("j{i}"))).collect();
    triggers.push(at("b", "only"));
    serve(
        1,
        // Everything is queued before the first reconcile, as after a restart.
        tokio::time::sleep(Duration::from_millis(10)),
        requests(triggers),
        logging(&log, Duration::from_millis(100)),
        Duration::from_secs(60),
    )
    .await;
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 51);
    assert_eq!(log[..2], ["a/j0".to_owned(), "b/only".to_owned()]);
}

#[tokio::test(start_paused = true)]
async fn an_object_is_never_reconciled_twice_at_once() {
    let busy: Arc<Mutex<HashMap<String, bool>>> = Arc::default();
    let overlaps = Arc::new(AtomicBool::new(false));
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (tx, rx) = mpsc::unbounded();
    for round in 0..20 {
        let lane = if round % 2 == 0 {
            Lane::Changes
        } else {
            Lane::Polled
        };
        tx.unbounded_send((ObjectRef::new("x").within("a"), lane))
            .unwrap();
    }
    let feeder = tx.clone();
    tokio::spawn(async move {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(30)).await;
            let _ = feeder.unbounded_send((ObjectRef::new("x").within("a"), Lane::Polled));
            let _ = feeder.unbounded_send((ObjectRef::new("x").within("a"), Lane::Changes));
        }
    });
    let (b, o, r) = (busy.clone(), overlaps.clone(), runs.clone());
    serve(
        8,
        async {},
        rx,
        move |cm| {
            let (busy, overlaps, runs) = (b.clone(), o.clone(), r.clone());
            async move {
                if busy.lock().unwrap().insert(name(&cm), true) == Some(true) {
                    overlaps.store(true, Ordering::SeqCst);
                }
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                busy.lock().unwrap().insert(name(&cm), false);
                Action::await_change()
            }
        },
        Duration::from_secs(10),
    )
    .await;
    assert!(!overlaps.load(Ordering::SeqCst));
    // Requests that came while it ran are served after, coalesced: not 60 reconciles.
    let runs = runs.load(Ordering::SeqCst);
    assert!((2..=12).contains(&runs), "{runs}");
}

#[tokio::test(start_paused = true)]
async fn a_requeue_runs_the_object_again_after_its_delay() {
    let log: Log = Arc::default();
    let seen = log.clone();
    let started = Instant::now();
    serve(
        4,
        async {},
        requests([at("a", "x")]),
        move |_| {
            let seen = seen.clone();
            async move {
                seen.lock()
                    .unwrap()
                    .push(format!("{}", started.elapsed().as_secs()));
                Action::requeue(Duration::from_secs(30))
            }
        },
        Duration::from_secs(100),
    )
    .await;
    assert_eq!(*log.lock().unwrap(), ["0", "30", "60", "90"]);
}

#[tokio::test(start_paused = true)]
async fn nothing_runs_before_the_cache_is_ready() {
    let log: Log = Arc::default();
    let (ready_tx, ready_rx) = oneshot::channel::<()>();
    let checked = log.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(checked.lock().unwrap().is_empty());
        let _ = ready_tx.send(());
    });
    serve(
        4,
        async move {
            let _ = ready_rx.await;
        },
        requests([at("a", "x")]),
        logging(&log, Duration::ZERO),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(*log.lock().unwrap(), ["a/x"]);
}

#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_running_reconciles_and_starts_no_more() {
    let log: Log = Arc::default();
    let triggers: Vec<_> = (0..10).map(|i| at("a", &format!("j{i}"))).collect();
    serve(
        2,
        async {},
        requests(triggers),
        logging(&log, Duration::from_secs(3)),
        // Two reconciles are running when shutdown comes.
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(*log.lock().unwrap(), ["a/j0", "a/j1"]);
}

#[tokio::test(start_paused = true)]
async fn a_deleted_object_is_dropped_not_reconciled() {
    let log: Log = Arc::default();
    let queue = SharedQueue::default();
    Runner {
        queue: queue.clone(),
        concurrency: 2,
    }
    .run(
        |key: &ObjectRef<ConfigMap>| (key.name != "gone").then(|| object(key)).flatten(),
        async {},
        requests([at("a", "gone"), at("a", "here")]),
        logging(&log, Duration::ZERO),
        |_| {},
        tokio::time::sleep(Duration::from_secs(1)),
    )
    .await;
    assert_eq!(*log.lock().unwrap(), ["a/here"]);
    assert!(queue.lock().is_empty());
}
