//! The controller: per watch scope, the caches and one controller per
//! registered kind ([`kinds`]), run by the generic [`scope`] runner; the
//! journal's retention and healing in the background.
//!
//! Invariants:
//! - Graceful shutdown lets in-flight reconciles finish; the journal is
//!   flushed by every append, so nothing acknowledged is lost at exit.
//! - A shutdown always ends [`run`], also one that arrives before the first
//!   list completes (an unreachable API server, a Lease lost while
//!   starting): nothing has been reconciled then, so nothing is left to
//!   finish.

pub mod caches;
pub mod certificates;
pub mod context;
pub mod deletion;
pub mod error;
pub mod failed_create;
pub mod finalize;
pub mod kinds;
pub mod raycronjob;
pub mod rayjob;
pub mod reconcile;
pub mod scope;
pub mod steps;
pub mod turn;

use std::{sync::Arc, time::Duration};

use futures::future::BoxFuture;
use kube::{
    Client,
    runtime::events::{Recorder, Reporter},
};
use tracing::{info, warn};

use self::{context::WriteCounters, scope::Scope};
use crate::{
    build::BuildOptions,
    health::Health,
    journaling::{self, JournalHandle},
    metrics::Metrics,
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
    /// Whether a deleted Redis-backed fault-tolerant cluster has its Redis
    /// keys cleaned up behind a finalizer (KubeRay's
    /// `ENABLE_GCS_FT_REDIS_CLEANUP`); on by default.
    pub redis_cleanup: bool,
    /// How RayJobs' dashboards are reached.
    pub dashboard_reach: rayjob::dashboard_access::Reach,
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
            redis_cleanup: true,
            dashboard_reach: rayjob::dashboard_access::Reach::default(),
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
        match journal.prune(steps::now_millis()).await {
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

/// One watch scope: its caches, then one controller per registered kind.
async fn run_scope(
    client: Client,
    settings: Settings,
    namespace: Option<String>,
    handles: Handles,
    shutdown: futures::future::Shared<BoxFuture<'static, ()>>,
) {
    let (caches, triggers) = caches::watch(&client, namespace.as_deref(), &settings.build);
    let (job_caches, job_triggers) =
        rayjob::caches::JobCaches::watch(&client, namespace.as_deref());
    let (cron_caches, cron_triggers) =
        raycronjob::caches::CronCaches::watch(&client, namespace.as_deref());
    let (synced_tx, synced) = tokio::sync::watch::channel(false);
    let reporter = Reporter {
        controller: "rayop".into(),
        instance: settings.instance.clone(),
    };
    let scope = Scope {
        recorder: Recorder::new(client.clone(), reporter),
        client,
        namespace,
        caches,
        job_caches,
        cron_caches,
        settings,
        handles,
        synced,
    };
    // The registered kinds; each gets the triggers of the objects it controls.
    let (listed_tx, listed) = tokio::sync::oneshot::channel::<()>();
    let (jobs_listed_tx, jobs_listed) = tokio::sync::oneshot::channel::<()>();
    let (crons_listed_tx, crons_listed) = tokio::sync::oneshot::channel::<()>();
    // Each kind's controller is a large future: boxed, so the scope's own
    // future stays small on a worker thread's stack.
    let kinds = futures::future::join3(
        Box::pin(scope::run_kind::<kinds::RayClusters>(
            scope.clone(),
            triggers,
            listed_tx,
            shutdown.clone(),
        )),
        Box::pin(scope::run_kind::<kinds::RayJobs>(
            scope.clone(),
            job_triggers,
            jobs_listed_tx,
            shutdown.clone(),
        )),
        Box::pin(scope::run_kind::<kinds::RayCronJobs>(
            scope.clone(),
            cron_triggers,
            crons_listed_tx,
            shutdown,
        )),
    );

    // The one waiter on the caches' first lists: kube-runtime's store
    // readiness wakes only the last of several concurrent waiters, so
    // reconciles and readiness wait on `Scope::synced` instead. The scope is
    // ready once the caches and every kind's first list are complete.
    let syncing = {
        let (caches, health) = (scope.caches.clone(), scope.handles.health.clone());
        let job_caches = scope.job_caches.clone();
        let cron_caches = scope.cron_caches.clone();
        let name = scope.namespace.clone().unwrap_or_else(|| "<all>".into());
        tokio::spawn(async move {
            if caches.wait_until_ready().await.is_ok()
                && job_caches.wait_until_ready().await.is_ok()
                && cron_caches.wait_until_ready().await.is_ok()
            {
                let _ = synced_tx.send(true);
                if listed.await.is_ok() && jobs_listed.await.is_ok() && crons_listed.await.is_ok() {
                    info!(namespace = %name, "watch caches synced");
                    health.scope_synced();
                }
            }
        })
    };
    let _ = kinds.await;
    syncing.abort();
    let _ = syncing.await;
}
