//! `rayop run`: runs the operator until SIGTERM or Ctrl-C.
//!
//! Role: turns flags into a Kubernetes client, a journal and controller
//! settings, then runs the controller. Logs go to stderr through tracing,
//! human-readable or JSON.
//!
//! Invariants:
//! - A journal held by another process is a clear start-up error naming the
//!   holder; any other journal failure is logged and the operator runs
//!   without one (the API server stays the source of truth).
//! - SIGTERM lets in-flight reconciles finish before the process exits 0.

use std::{io::Write, path::PathBuf, sync::Arc, time::Duration};

use clap::{Args, ValueEnum};
use kube::{Client, Config, config::KubeConfigOptions, config::Kubeconfig};
use thiserror::Error;
use tracing::{info, warn};

use crate::{
    build::BuildOptions,
    controller::{self, Handles, Settings, journaling::JournalHandle},
};

/// Log output format.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Arguments of `rayop run`.
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
    /// RayClusters reconciled at once.
    #[arg(long, env = "RAYOP_CONCURRENCY", default_value_t = 32)]
    pub concurrency: u16,
    /// Directory of the sled journal.
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
    /// Log format.
    #[arg(long, env = "RAYOP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Why `rayop run` stopped with an error.
#[derive(Debug, Error)]
pub enum RunError {
    /// No usable Kubernetes configuration.
    #[error("kubernetes configuration: {0}")]
    Config(String),
    /// The journal is held by another process, or cannot be opened.
    #[error("{0}")]
    Journal(#[from] rayop_journal::Error),
    /// The async runtime could not start.
    #[error("runtime: {0}")]
    Runtime(#[from] std::io::Error),
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

async fn client(args: &RunArgs) -> Result<Client, RunError> {
    let config = match &args.kubeconfig {
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
    };
    Client::try_from(config).map_err(|e| RunError::Config(e.to_string()))
}

fn open_journal(args: &RunArgs) -> Result<JournalHandle, RunError> {
    if args.no_journal {
        warn!("running without a journal: decisions are not recorded");
        return Ok(JournalHandle::disabled());
    }
    match JournalHandle::open(&args.journal, rayop_journal::Options::default()) {
        Ok((handle, report)) => {
            if report.is_clean() {
                info!(dir = %args.journal.display(), "journal open");
            } else {
                warn!(dir = %args.journal.display(), ?report, "journal was damaged and has been moved aside; a fresh one started");
            }
            Ok(handle)
        }
        Err(error @ rayop_journal::Error::Locked { .. }) => Err(RunError::Journal(error)),
        Err(error) => {
            warn!(%error, "journal unavailable; running without one");
            Ok(JournalHandle::disabled())
        }
    }
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

/// Runs the operator.
///
/// # Errors
/// [`RunError`] when the operator cannot start.
pub fn run(args: &RunArgs, _out: &mut dyn Write) -> Result<(), RunError> {
    init_logging(args.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = client(args).await?;
        let journal = Arc::new(open_journal(args)?);
        let settings = Settings {
            namespaces: args.namespaces.clone(),
            concurrency: args.concurrency.max(1),
            resync: Duration::from_secs(args.resync_seconds.max(1)),
            build: BuildOptions {
                cluster_domain: args.cluster_domain.clone(),
            },
            instance: std::env::var("POD_NAME").ok(),
            ..Settings::default()
        };
        controller::run(
            client,
            settings,
            Handles::new(journal.clone()),
            shutdown_signal(),
        )
        .await;
        if let Some(journal) = journal.journal() {
            let _ = journal.flush();
        }
        info!("stopped");
        Ok(())
    })
}
