//! `rayop run`: runs the operator until SIGTERM or Ctrl-C.
//!
//! Role: turns flags into a Kubernetes client, a journal and controller
//! settings, then runs the controller. Logs go to stderr through tracing,
//! human-readable or JSON.
//!
//! It also serves `/healthz`, `/readyz` and `/metrics` on `--metrics-addr`,
//! and, with `--debug-addr`, `/debug/journal` on a listener of its own (open
//! on a loopback address, else behind TokenReview and SubjectAccessReview;
//! see [`crate::server`] and [`crate::server::auth`]) and, with `--leader-elect`,
//! stands for election on a Lease first (see [`crate::leader`]): a standby
//! serves its endpoints and waits; the leader opens the journal and runs the
//! controller.
//!
//! Invariants:
//! - A journal held by another process is a clear start-up error naming the
//!   holder (with leader election, only after waiting for a lease duration
//!   twice, since a previous leader may still be flushing it); any other
//!   journal failure is logged and the operator runs without one (the API
//!   server stays the source of truth) while it retries opening it.
//! - SIGTERM lets in-flight reconciles finish, flushes the journal, releases
//!   the Lease, and the process exits 0.
//! - A leader that loses its Lease stops the controller (its writes are
//!   already refused by the client's write gate) and exits 1, to come back
//!   as a fresh standby.

use std::{
    io::Write,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use clap::{Args, ValueEnum};
use futures::{FutureExt, future::BoxFuture};
use kube::{Client, Config, client::ClientBuilder, config::KubeConfigOptions, config::Kubeconfig};
use thiserror::Error;
use tracing::{info, warn};

use crate::{
    build::{BatchScheduler, BuildOptions},
    client::ApiWriteLayer,
    controller::{self, Handles, Settings, rayjob::dashboard_access::Reach},
    health::Health,
    journaling::JournalHandle,
    leader::{Elector, LeaderError, Leadership, LeaseConfig, Role, Timings},
    metrics::Metrics,
    server::{self, Endpoints, ServerError, ServerState},
};

/// Where the HTTP server listens unless `--metrics-addr` says otherwise.
pub const DEFAULT_METRICS_ADDR: &str = "0.0.0.0:8080";

/// Log output format on stderr (`--log-format`).
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Arguments of `rayop run`; most flags can also be set by a `RAYOP_*` variable.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  rayop run --kubeconfig ~/.kube/config --journal /var/lib/rayop/journal --namespace ray-a,ray-b"
)]
pub struct RunArgs {
    /// Kubeconfig to use; without it, $KUBECONFIG, ~/.kube/config or the in-cluster configuration.
    #[arg(long, env = "RAYOP_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Namespaces to watch, comma-separated; all namespaces when omitted.
    #[arg(long = "namespace", env = "RAYOP_NAMESPACES", value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// RayClusters reconciled at once; further due clusters wait their turn.
    #[arg(long, env = "RAYOP_CONCURRENCY", default_value_t = 32)]
    pub concurrency: u16,
    /// Directory of the sled journal; only one process may hold it at a time.
    #[arg(long, env = "RAYOP_JOURNAL", default_value = "/var/lib/rayop/journal")]
    pub journal: PathBuf,
    /// Run without a journal (decisions are not recorded).
    #[arg(long)]
    pub no_journal: bool,
    /// DNS domain of the cluster, for worker → head addresses.
    #[arg(long, env = "RAYOP_CLUSTER_DOMAIN", default_value = "cluster.local")]
    pub cluster_domain: String,
    /// Longest wait between two reconciles of a RayCluster, in seconds.
    #[arg(long, env = "RAYOP_RESYNC_SECONDS", default_value_t = 300)]
    pub resync_seconds: u64,
    /// Seconds a head may stay not Ready (starting, or recovering) before a
    /// `HeadNotReady` Warning Event; at least 1.
    #[arg(long, env = "RAYOP_HEAD_STUCK_SECONDS", default_value_t = 300)]
    pub head_stuck_seconds: u64,
    /// Whether a deleted RayCluster with Redis GCS fault tolerance is held by
    /// the finalizer `ray.io/gcs-ft-redis-cleanup-finalizer` until a Job has
    /// deleted its keys from Redis (at most `ray.io/gcs-ft-deletion-timeout`
    /// seconds, default 300). KubeRay's variable name.
    #[arg(
        long,
        env = "ENABLE_GCS_FT_REDIS_CLEANUP",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub gcs_ft_redis_cleanup: bool,
    /// How RayJobs' dashboards are reached: `direct` at the head Service's
    /// DNS name (rayop in the cluster), `proxy` through the API server's
    /// service proxy (rayop outside it, like KubeRay's
    /// `--use-kubernetes-proxy`), `auto` direct when running in a pod.
    #[arg(long, env = "RAYOP_DASHBOARD_VIA", value_enum, default_value_t = Reach::Auto)]
    pub dashboard_via: Reach,
    /// Log format on stderr: text for people, json for log collectors.
    #[arg(long, env = "RAYOP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Journal retention: a live cluster keeps at least its last N entries.
    #[arg(long, env = "RAYOP_JOURNAL_KEEP_ENTRIES", default_value_t = 1000)]
    pub journal_keep_entries: u64,
    /// Journal retention: a live cluster keeps at least the entries of the last N hours.
    #[arg(long, env = "RAYOP_JOURNAL_KEEP_HOURS", default_value_t = 168)]
    pub journal_keep_hours: u64,
    /// Journal retention: a deleted cluster's journal is removed N hours after its deletion.
    #[arg(
        long,
        env = "RAYOP_JOURNAL_DELETED_RETENTION_HOURS",
        default_value_t = 336
    )]
    pub journal_deleted_retention_hours: u64,
    /// The journal's page cache in MiB: what sled may keep in memory. The
    /// operator appends and rarely reads (restores at start), so a small
    /// cache keeps its memory small.
    #[arg(long, env = "RAYOP_JOURNAL_CACHE_MIB", default_value_t = 8)]
    pub journal_cache_mib: u64,
    /// Address of the HTTP server (/healthz, /readyz, /metrics) [default: 0.0.0.0:8080].
    ///
    /// An address given here that cannot be bound stops the operator; when
    /// the default is taken (a second operator on a workstation), the
    /// operator runs without the server and says so.
    #[arg(long, env = "RAYOP_METRICS_ADDR", value_name = "HOST:PORT")]
    pub metrics_addr: Option<String>,
    /// Serve /debug/journal/<namespace>/<name> on this address [default: off].
    ///
    /// A loopback address (127.0.0.1:8081) needs no credentials: only
    /// processes in the pod reach it, e.g. through `kubectl port-forward`.
    /// Any other address (0.0.0.0:8081) requires `Authorization: Bearer
    /// <token>` on every request, checked with a TokenReview and a
    /// SubjectAccessReview (verb `get` on the request path as a non-resource
    /// URL), so rayop needs `create` on tokenreviews and subjectaccessreviews.
    /// An address that cannot be bound stops the operator.
    #[arg(long, env = "RAYOP_DEBUG_ADDR", value_name = "HOST:PORT")]
    pub debug_addr: Option<String>,
    /// Stand for election on a coordination.k8s.io Lease; only the leader reconciles.
    #[arg(long, env = "RAYOP_LEADER_ELECT")]
    pub leader_elect: bool,
    /// Name of the Lease the replicas compete for; all replicas must use the same one.
    #[arg(long, env = "RAYOP_LEADER_ELECT_LEASE", default_value = "rayop-leader")]
    pub leader_elect_lease: String,
    /// Namespace of the leader Lease; default $POD_NAMESPACE, else the client's namespace.
    #[arg(long, env = "RAYOP_LEADER_ELECT_NAMESPACE")]
    pub leader_elect_namespace: Option<String>,
    /// This replica's identity in the Lease; default $POD_NAME, else `<hostname>-<pid>`.
    #[arg(long, env = "RAYOP_LEADER_ELECT_IDENTITY")]
    pub leader_elect_identity: Option<String>,
    /// Seconds a silent leader keeps the Lease before a standby takes it.
    #[arg(long, env = "RAYOP_LEADER_ELECT_LEASE_SECONDS", default_value_t = 15)]
    pub leader_elect_lease_seconds: u64,
    /// Seconds after its last successful renewal that the leader stops writing (< lease seconds).
    #[arg(long, env = "RAYOP_LEADER_ELECT_RENEW_SECONDS", default_value_t = 10)]
    pub leader_elect_renew_seconds: u64,
    /// Seconds between two renewals (leader) or looks at the Lease (standby).
    #[arg(long, env = "RAYOP_LEADER_ELECT_RETRY_SECONDS", default_value_t = 2)]
    pub leader_elect_retry_seconds: u64,
    /// Hand every Ray pod to this batch scheduler: volcano, yunikorn,
    /// kai-scheduler or scheduler-plugins [default: none, the default scheduler].
    ///
    /// Sets the pods' schedulerName and the scheduler's labels and
    /// annotations; volcano and scheduler-plugins also get a PodGroup per
    /// cluster, whose CRD must be installed.
    #[arg(long, env = "RAYOP_BATCH_SCHEDULER", value_name = "NAME")]
    pub batch_scheduler: Option<String>,
    /// Deprecated: the same as `--batch-scheduler=volcano`.
    #[arg(long, env = "RAYOP_ENABLE_BATCH_SCHEDULER")]
    pub enable_batch_scheduler: bool,
}

impl RunArgs {
    /// The batch scheduler the flags choose, if any.
    ///
    /// # Errors
    /// [`RunError::BatchScheduler`] for an unknown name, or when both
    /// `--batch-scheduler` and `--enable-batch-scheduler` are given.
    pub fn batch_scheduler(&self) -> Result<Option<BatchScheduler>, RunError> {
        match (&self.batch_scheduler, self.enable_batch_scheduler) {
            (Some(_), true) => Err(RunError::BatchScheduler(
                "--batch-scheduler and --enable-batch-scheduler are exclusive; \
                 use --batch-scheduler=volcano alone"
                    .to_owned(),
            )),
            (None, true) => Ok(Some(BatchScheduler::Volcano)),
            (None, false) => Ok(None),
            (Some(name), false) => BatchScheduler::from_name(name).map(Some).ok_or_else(|| {
                let known: Vec<_> = BatchScheduler::ALL.iter().map(|s| s.name()).collect();
                RunError::BatchScheduler(format!(
                    "--batch-scheduler={name}: unknown scheduler; use one of {}",
                    known.join(", ")
                ))
            }),
        }
    }
}

/// Why `rayop run` stopped with an error.
#[derive(Debug, Error)]
pub enum RunError {
    /// The Kubernetes configuration (`--kubeconfig`, $KUBECONFIG, ~/.kube/config or in-cluster)
    /// could not be loaded, or no client could be built from it.
    #[error("kubernetes configuration: {0}")]
    Config(String),
    /// The journal is held by another process, or cannot be opened.
    #[error("{0}")]
    Journal(#[from] rayop_journal::Error),
    /// The async runtime could not start.
    #[error("runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// The HTTP server could not start.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// Leader election could not start: its timings are inconsistent.
    #[error(transparent)]
    Leader(#[from] LeaderError),
    /// The batch-scheduler flags are invalid.
    #[error("{0}")]
    BatchScheduler(String),
    /// This replica led and lost the Lease; it stopped writing.
    #[error("lost the leader Lease; stopped reconciling (restart to stand again)")]
    LostLeadership,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube_runtime=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The Kubernetes configuration the flags name.
async fn kube_config(args: &RunArgs) -> Result<Config, RunError> {
    Ok(match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .map_err(|e| RunError::Config(format!("{}: {e}", path.display())))?;
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|e| RunError::Config(e.to_string()))?
        }
        None => Config::infer()
            .await
            .map_err(|e| RunError::Config(e.to_string()))?,
    })
}

/// A client whose writes are counted and, with leader election, refused
/// unless this replica holds the Lease.
fn client(
    config: Config,
    metrics: &Arc<Metrics>,
    leadership: &Arc<Leadership>,
) -> Result<Client, RunError> {
    let layer = ApiWriteLayer::new(metrics.clone(), leadership.clone());
    Ok(ClientBuilder::try_from(config)
        .map_err(|e| RunError::Config(e.to_string()))?
        .with_layer(&layer)
        .build())
}

fn journal_options(args: &RunArgs) -> rayop_journal::Options {
    let hours = |h: u64| Duration::from_secs(h.saturating_mul(3600));
    rayop_journal::Options {
        keep_entries: args.journal_keep_entries,
        keep_for: hours(args.journal_keep_hours),
        deleted_retention: hours(args.journal_deleted_retention_hours),
        cache_capacity: args.journal_cache_mib.saturating_mul(1024 * 1024),
        ..rayop_journal::Options::default()
    }
}

fn open_journal(args: &RunArgs, metrics: &Metrics) -> Result<JournalHandle, RunError> {
    if args.no_journal {
        warn!("running without a journal: decisions are not recorded");
        return Ok(JournalHandle::disabled());
    }
    let (handle, _) = crate::metrics::open_journal(&args.journal, journal_options(args), metrics)?;
    Ok(handle)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = tokio::signal::ctrl_c() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    info!("shutdown requested; finishing in-flight reconciles");
}

/// With leader election, a previous leader may still hold the journal for a
/// moment (a shared volume): wait for it, up to twice the lease duration.
async fn open_journal_when_free(
    args: &RunArgs,
    metrics: &Metrics,
    elected: bool,
) -> Result<JournalHandle, RunError> {
    let patience = Duration::from_secs(args.leader_elect_lease_seconds.saturating_mul(2));
    let deadline = Instant::now() + patience;
    loop {
        match open_journal(args, metrics) {
            Err(RunError::Journal(rayop_journal::Error::Locked { .. }))
                if elected && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            other => return other,
        }
    }
}

fn lease_config(args: &RunArgs, client: &Client) -> LeaseConfig {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let identity = args
        .leader_elect_identity
        .clone()
        .or_else(|| env("POD_NAME"))
        .unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_else(|_| "rayop".to_owned());
            format!("{host}-{}", std::process::id())
        });
    LeaseConfig {
        name: args.leader_elect_lease.clone(),
        namespace: args
            .leader_elect_namespace
            .clone()
            .or_else(|| env("POD_NAMESPACE"))
            .unwrap_or_else(|| client.default_namespace().to_owned()),
        identity,
        timings: Timings {
            lease_duration: Duration::from_secs(args.leader_elect_lease_seconds),
            renew_deadline: Duration::from_secs(args.leader_elect_renew_seconds),
            retry: Duration::from_secs(args.leader_elect_retry_seconds),
        },
    }
}

/// The controller's settings the flags of `rayop run` ask for; tests that
/// run the controller in-process read operator flags through this too.
///
/// # Errors
/// [`RunError::BatchScheduler`] for batch-scheduler flags that conflict.
pub fn settings(args: &RunArgs) -> Result<Settings, RunError> {
    Ok(Settings {
        namespaces: args.namespaces.clone(),
        concurrency: args.concurrency.max(1),
        resync: Duration::from_secs(args.resync_seconds.max(1)),
        build: BuildOptions {
            cluster_domain: args.cluster_domain.clone(),
            batch_scheduler: args.batch_scheduler()?,
        },
        instance: std::env::var("POD_NAME").ok(),
        head_stuck_after: (args.head_stuck_seconds != 300)
            .then(|| Duration::from_secs(args.head_stuck_seconds.max(1))),
        redis_cleanup: args.gcs_ft_redis_cleanup,
        dashboard_reach: args.dashboard_via,
        ..Settings::default()
    })
}

/// Threads for blocking work: journal appends (group-committed, so more
/// threads only queue on the same flush), journal reopens and file I/O.
/// Tokio's default (512) let a burst of reconciles start dozens of threads,
/// each with its own malloc arena and stack.
const BLOCKING_THREADS: usize = 4;

/// Runs the operator.
///
/// # Errors
/// [`RunError`] when the operator cannot start.
pub fn run(args: &RunArgs, _out: &mut dyn Write) -> Result<(), RunError> {
    init_logging(args.log_format);
    // Conflicting scheduler flags stop the operator before anything starts.
    args.batch_scheduler()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let metrics = Arc::new(Metrics::new());
        let leadership = Arc::new(if args.leader_elect {
            Leadership::elected()
        } else {
            Leadership::always()
        });
        let health = Arc::new(Health::new(leadership.clone()));
        let state = Arc::new(ServerState::new(metrics.clone(), health.clone()));
        let shutdown = (Box::pin(shutdown_signal()) as BoxFuture<'static, ()>).shared();
        let serve_metrics = |listener| {
            tokio::spawn(server::serve(
                listener,
                state.clone(),
                Endpoints::Metrics,
                shutdown.clone(),
            ));
        };
        match &args.metrics_addr {
            Some(addr) => serve_metrics(server::bind(addr).await?),
            None => match server::bind(DEFAULT_METRICS_ADDR).await {
                Ok(listener) => serve_metrics(listener),
                Err(error) => {
                    warn!(%error, "running without /healthz, /readyz and /metrics; pass --metrics-addr");
                }
            },
        }
        let config = kube_config(args).await?;
        if let Some(addr) = &args.debug_addr {
            // Reviews change nothing and a standby makes them too: a client
            // without the write gate, and not counted as writes.
            let reviews = Client::try_from(config.clone())
                .map_err(|e| RunError::Config(e.to_string()))?;
            let listener = server::bind(addr).await?;
            let bound = listener.local_addr().map_err(|source| ServerError::Bind {
                addr: addr.clone(),
                source,
            })?;
            tokio::spawn(server::serve(
                listener,
                state.clone(),
                Endpoints::debug(bound, reviews),
                shutdown.clone(),
            ));
        }
        let client = client(config, &metrics, &leadership)?;

        // Leader election: a standby waits here, serving its endpoints.
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let election = if args.leader_elect {
            let config = lease_config(args, &client);
            let elector =
                Elector::new(client.clone(), config, leadership.clone(), metrics.clone())?;
            let task = tokio::spawn(elector.run(async move {
                let _ = released.await;
            }));
            let leads = tokio::select! {
                leads = leadership.wait_leader() => leads,
                () = shutdown.clone() => false,
            };
            if !leads {
                let _ = release.send(());
                let _ = task.await;
                info!("stopped before leading");
                return Ok(());
            }
            Some(task)
        } else {
            metrics.set_leader(true);
            None
        };

        let journal = Arc::new(open_journal_when_free(args, &metrics, args.leader_elect).await?);
        state.attach_journal(journal.clone());
        health.journal_settled();
        let settings = settings(args)?;
        // Stop on SIGTERM, or as soon as the Lease is lost.
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let watcher = {
            let (shutdown, leadership) = (shutdown.clone(), leadership.clone());
            tokio::spawn(async move {
                tokio::select! {
                    () = shutdown => {},
                    () = leadership.wait_lost() => {},
                }
                let _ = stop.send(());
            })
        };
        controller::run(
            client,
            settings,
            Handles::new(journal.clone()).observed_by(metrics.clone(), health.clone()),
            async move {
                let _ = stopped.await;
            },
        )
        .await;
        watcher.abort();
        if let Some(journal) = journal.journal() {
            let _ = journal.flush();
        }
        if leadership.role() == Role::Lost {
            return Err(RunError::LostLeadership);
        }
        if let Some(task) = election {
            let _ = release.send(());
            let _ = task.await;
        }
        info!("stopped");
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    fn chosen(flags: &[&str]) -> Result<Option<BatchScheduler>, String> {
        let cli = Cli::try_parse_from(std::iter::once("rayop").chain(flags.iter().copied()))
            .map_err(|e| e.to_string())?;
        cli.run.batch_scheduler().map_err(|e| e.to_string())
    }

    #[test]
    fn batch_scheduler_flags() {
        assert_eq!(chosen(&[]), Ok(None));
        assert_eq!(
            chosen(&["--batch-scheduler=kai-scheduler"]),
            Ok(Some(BatchScheduler::KaiScheduler))
        );
        assert_eq!(
            chosen(&["--enable-batch-scheduler"]),
            Ok(Some(BatchScheduler::Volcano))
        );
        let unknown = chosen(&["--batch-scheduler=kube-batch"]).unwrap_err();
        assert!(
            unknown.contains("--batch-scheduler=kube-batch"),
            "{unknown}"
        );
        assert!(unknown.contains("scheduler-plugins"), "{unknown}");
        let both = chosen(&["--batch-scheduler=volcano", "--enable-batch-scheduler"]).unwrap_err();
        assert!(both.contains("--enable-batch-scheduler"), "{both}");
    }
}
