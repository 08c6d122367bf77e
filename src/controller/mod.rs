//! The controller: watches, caches and the per-cluster reconcile pipeline.
//!
//! Role: wires kube-runtime's Controller to rayop's steps. RayClusters are
//! watched as dynamic objects and decoded per reconcile, so one malformed
//! object is reported and skipped instead of breaking the watch of all.
//! Children are watched through rayop's own caches (see [`caches`]) and map
//! back to their cluster by owner reference; pods map by the
//! `ray.io/cluster` label.
//!
//! Invariants:
//! - Different clusters reconcile concurrently (`concurrency`, default 32), so
//!   one slow cluster never delays the others (KubeRay #3909).
//! - Graceful shutdown lets in-flight reconciles finish; the journal is
//!   flushed by every append, so nothing acknowledged is lost at exit.
//! - A shutdown always ends [`run`], also one that arrives before the first
//!   RayCluster list completes (an unreachable API server, a Lease lost
//!   while starting): nothing has been reconciled then, so nothing is left
//!   to finish.

pub mod caches;
pub mod context;
pub mod deletion;
pub mod error;
pub mod reconcile;

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures::{StreamExt, TryStreamExt, future::BoxFuture};
use kube::{
    Api, Client, ResourceExt,
    api::{ApiResource, DynamicObject},
    runtime::{
        Controller, WatchStreamExt,
        controller::Config as ControllerConfig,
        events::{Recorder, Reporter},
        reflector::{ObjectRef, store::Writer},
        watcher::{self, watcher},
    },
};
use tokio::sync::mpsc;
use tracing::{info, warn};

use self::context::{Context, WriteCounters};
use crate::{
    build::BuildOptions,
    crd::RayCluster,
    health::Health,
    journaling::{self, JournalHandle},
    metrics::Metrics,
    owned::{ControllerRef, watch_backoff},
};

/// How the controller runs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Namespaces to watch; empty means all.
    pub namespaces: Vec<String>,
    /// Clusters reconciled at once.
    pub concurrency: u16,
    /// The longest wait between two reconciles of one cluster.
    pub resync: Duration,
    /// Build options (cluster domain).
    pub build: BuildOptions,
    /// The name this instance reports Events under.
    pub instance: Option<String>,
    /// How often journal retention runs.
    pub prune_every: Duration,
    /// How often a failed journal is reopened.
    pub heal_every: Duration,
    /// How long a head may stay not Ready before a `HeadNotReady` Warning;
    /// `None` is the machine's default (5 minutes).
    pub head_stuck_after: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            namespaces: Vec::new(),
            concurrency: 32,
            resync: Duration::from_secs(300),
            build: BuildOptions::default(),
            instance: None,
            prune_every: Duration::from_secs(600),
            heal_every: Duration::from_secs(15),
            head_stuck_after: None,
        }
    }
}

/// A running controller's shared handles, for tests and metrics.
#[derive(Clone)]
pub struct Handles {
    /// Writes made so far.
    pub writes: Arc<WriteCounters>,
    /// The journal.
    pub journal: Arc<JournalHandle>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Readiness: told when every scope's caches synced.
    pub health: Arc<Health>,
}

impl Handles {
    /// Handles around `journal`, with zeroed counters, fresh metrics and
    /// the health of a replica without leader election.
    #[must_use]
    pub fn new(journal: Arc<JournalHandle>) -> Handles {
        let metrics = Arc::new(Metrics::new());
        metrics.watch_journal(journal.clone());
        Handles {
            writes: Arc::new(WriteCounters::default()),
            journal,
            metrics,
            health: Arc::new(Health::default()),
        }
    }

    /// The same handles, reporting into `metrics` and `health`.
    #[must_use]
    pub fn observed_by(self, metrics: Arc<Metrics>, health: Arc<Health>) -> Handles {
        metrics.watch_journal(self.journal.clone());
        Handles {
            metrics,
            health,
            ..self
        }
    }
}

/// Runs the controller until `shutdown` resolves, then lets in-flight
/// reconciles finish.
pub async fn run(
    client: Client,
    settings: Settings,
    handles: Handles,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let memory = Arc::new(Mutex::new(HashMap::new()));
    let scopes: Vec<Option<String>> = if settings.namespaces.is_empty() {
        vec![None]
    } else {
        settings.namespaces.iter().cloned().map(Some).collect()
    };
    let shutdown = futures::future::FutureExt::shared(Box::pin(shutdown) as BoxFuture<'static, ()>);
    handles.health.expect_scopes(scopes.len());
    let pruning = tokio::spawn(prune_periodically(
        handles.journal.clone(),
        settings.prune_every,
    ));
    let healing = tokio::spawn(heal_periodically(
        handles.journal.clone(),
        handles.metrics.clone(),
        settings.heal_every,
    ));
    let runs = scopes.into_iter().map(|scope| {
        run_scope(
            client.clone(),
            settings.clone(),
            scope,
            handles.clone(),
            memory.clone(),
            shutdown.clone(),
        )
    });
    futures::future::join_all(runs).await;
    // Awaited after the abort, so their journal handles are dropped before
    // `run` returns: the caller may reopen the journal at once.
    for task in [pruning, healing] {
        task.abort();
        let _ = task.await;
    }
}

/// Reopens the journal every `every` while it is failing (a full or
/// unwritable volume, a database sled gave up on), so decisions are recorded
/// again once the damage is removed. No cluster applies, so the outcome is a
/// log line and the `rayop_journal_healthy` metric.
async fn heal_periodically(journal: Arc<JournalHandle>, metrics: Arc<Metrics>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let handle = journal.clone();
        let outcome = match tokio::task::spawn_blocking(move || handle.heal()).await {
            Ok(outcome) => outcome,
            Err(error) => {
                warn!(%error, "journal reopen task failed; will retry");
                continue;
            }
        };
        match outcome {
            journaling::Heal::Healthy => {}
            journaling::Heal::Reopened(report) => {
                metrics.journal_opened(&report);
                if report.is_clean() {
                    info!("journal reopened after a storage failure; decisions are recorded again");
                } else {
                    warn!(
                        ?report,
                        "journal reopened after a storage failure; damage found and moved aside"
                    );
                }
            }
            journaling::Heal::StillBroken(error) => {
                warn!(%error, "journal still failing; reconciling continues without it, reopen retried");
            }
        }
    }
}

/// Applies journal retention every `every`, so deleted clusters' streams go
/// once their retention window has passed and disk use stays bounded.
async fn prune_periodically(journal: Arc<JournalHandle>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match journal.prune(reconcile::now_millis()).await {
            Ok(Some(report))
                if report.entries_removed > 0 || !report.streams_removed.is_empty() =>
            {
                info!(
                    entries = report.entries_removed,
                    streams = report.streams_removed.len(),
                    "journal retention applied"
                );
            }
            Ok(_) => {}
            Err(error) => warn!(%error, "journal retention failed; will retry"),
        }
    }
}

async fn run_scope(
    client: Client,
    settings: Settings,
    namespace: Option<String>,
    handles: Handles,
    memory: Arc<Mutex<HashMap<String, context::Memory>>>,
    shutdown: futures::future::Shared<BoxFuture<'static, ()>>,
) {
    let ns = namespace.as_deref();
    let (caches, triggers) = caches::watch(&client, ns);
    let (synced_tx, synced) = tokio::sync::watch::channel(false);
    let reporter = Reporter {
        controller: "rayop".into(),
        instance: settings.instance.clone(),
    };
    let ctx = Arc::new(Context {
        client: client.clone(),
        caches,
        journal: handles.journal.clone(),
        memory,
        recorder: Recorder::new(client.clone(), reporter),
        build: settings.build.clone(),
        resync: settings.resync,
        head_stuck_after: settings.head_stuck_after,
        writes: handles.writes.clone(),
        metrics: handles.metrics.clone(),
        synced,
    });

    let resource = ApiResource::erase::<RayCluster>(&());
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let writer = Writer::new(resource.clone());
    let reader = writer.as_reader();
    let (deleted_tx, mut deleted_rx) = mpsc::unbounded_channel::<Deletion>();
    // Set in the same poll in which the reflector marks the store ready.
    let listed_once = Arc::new(AtomicBool::new(false));
    let listed_flag = listed_once.clone();
    let clusters = watcher(api, watcher::Config::default().any_semantic())
        .backoff(watch_backoff::watch_backoff())
        .modify(|o: &mut DynamicObject| {
            o.managed_fields_mut().clear();
            // kubectl's copy of the whole object: never read, as large as the spec.
            o.annotations_mut()
                .remove("kubectl.kubernetes.io/last-applied-configuration");
        })
        .reflect(writer)
        .inspect_ok(move |event| {
            let message = match event {
                watcher::Event::Delete(obj) => Deletion::One(Box::new(obj.clone())),
                watcher::Event::InitDone => {
                    listed_flag.store(true, Ordering::Release);
                    Deletion::Listed
                }
                _ => return,
            };
            let _ = deleted_tx.send(message);
        })
        .touched_objects()
        .filter_map(crate::owned::cache::retried_quietly);

    // Deletions, and clusters that vanished while the operator was down.
    let deletion_ctx = ctx.clone();
    let store = reader.clone();
    let (listed_tx, listed) = tokio::sync::oneshot::channel::<()>();
    let deletions = tokio::spawn(async move {
        let mut first_list = true;
        let mut listed_tx = Some(listed_tx);
        while let Some(message) = deleted_rx.recv().await {
            match message {
                Deletion::One(obj) => {
                    deletion::record_deletion(&deletion_ctx, &obj).await;
                }
                Deletion::Listed if first_list => {
                    first_list = false;
                    if let Some(tx) = listed_tx.take() {
                        let _ = tx.send(());
                    }
                    let live: HashSet<String> =
                        store.state().iter().filter_map(|o| o.uid()).collect();
                    deletion::forget_vanished(&deletion_ctx, &live).await;
                }
                Deletion::Listed => {}
            }
        }
    });

    // The one waiter on the caches' first lists: kube-runtime's store
    // readiness wakes only the last of several concurrent waiters, so
    // reconciles and readiness wait on `Context::synced` instead. The scope
    // is ready once the caches and the RayCluster list are complete.
    let syncing = {
        let (caches, health, scope) = (
            ctx.caches.clone(),
            handles.health.clone(),
            ns.unwrap_or("<all>").to_owned(),
        );
        tokio::spawn(async move {
            if caches.wait_until_ready().await.is_ok() {
                let _ = synced_tx.send(true);
                if listed.await.is_ok() {
                    info!(namespace = %scope, "watch caches synced");
                    health.scope_synced();
                }
            }
        })
    };
    let owner_resource = resource.clone();
    let config = ControllerConfig::default().concurrency(settings.concurrency);
    info!(
        namespace = ns.unwrap_or("<all>"),
        concurrency = settings.concurrency,
        "controller starting"
    );
    let controller = Controller::for_stream_with(clusters, reader, resource)
        .with_config(config)
        // The triggers yield no errors (each watch retries on its own), so
        // this shared backoff is a second line only.
        .trigger_backoff(watch_backoff::watch_backoff())
        .reconcile_on(triggers.filter_map(move |owner| {
            futures::future::ready(reconciled_ref(&owner, &owner_resource))
        }))
        .graceful_shutdown_on(shutdown.clone())
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                warn!(%error, "controller event");
            }
        });
    // kube-runtime's runner holds every reconcile until the RayCluster store
    // is ready, and keeps waiting for that even after a shutdown has cut its
    // input: a shutdown before the first list would hang forever. Nothing
    // has run then, so the controller is dropped instead. (The flag, not the
    // store, is checked: the store's readiness keeps only one waker.)
    let before_first_list = async {
        shutdown.await;
        if listed_once.load(Ordering::Acquire) {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = controller => {}
        () = before_first_list => {
            info!(
                namespace = ns.unwrap_or("<all>"),
                "stopping before the first RayCluster list completed; nothing was reconciled"
            );
        }
    }
    deletions.abort();
    syncing.abort();
    let _ = deletions.await;
    let _ = syncing.await;
    info!(namespace = ns.unwrap_or("<all>"), "controller stopped");
}

/// The reconciled object a changed owned object or pod belongs to, if it is
/// one of this controller's kind.
fn reconciled_ref(
    owner: &ControllerRef,
    resource: &ApiResource,
) -> Option<ObjectRef<DynamicObject>> {
    if owner.kind != resource.kind
        || owner.api_version.split('/').next() != Some(resource.group.as_str())
    {
        return None;
    }
    let r = ObjectRef::new_with(&owner.name, resource.clone());
    Some(match &owner.namespace {
        Some(ns) => r.within(ns),
        None => r,
    })
}

enum Deletion {
    One(Box<DynamicObject>),
    Listed,
}
