//! The operator's HTTP server: health, readiness, metrics and the live
//! journal, on one plain-HTTP port (`--metrics-addr`, default `0.0.0.0:8080`).
//!
//! Role: lets Kubernetes probe the operator, Prometheus scrape it, and a
//! person read a cluster's journal while the operator holds it (sled allows
//! one process per journal). The client side of the journal endpoint, for
//! `rayop journal show --from-url`, lives with the CLI (`cli::journal::fetch`);
//! the server imports nothing from the CLI.
//!
//! Invariants:
//! - Every endpoint is read-only (see [`routes`]).
//! - The server never blocks the controller: each connection is its own
//!   task, journal reads run on the blocking pool, and metrics are encoded
//!   from atomics.
//! - It starts before leader election and the journal, so a standby serves
//!   its probes and metrics too; the journal endpoint answers 503 until a
//!   journal is attached with [`ServerState::attach_journal`].

pub mod debug_journal;
pub mod error;
pub mod routes;

use std::{
    convert::Infallible,
    future::Future,
    sync::{Arc, OnceLock},
    time::Duration,
};

use hyper::{server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

pub use self::error::ServerError;
use crate::{health::Health, journaling::JournalHandle, metrics::Metrics};

/// What the endpoints read; built before leader election, the journal attached later.
pub struct ServerState {
    /// The metric families `/metrics` encodes; shared with the controller and elector.
    pub metrics: Arc<Metrics>,
    /// What `/readyz` reports: caches synced, journal open, leader or standby.
    pub health: Arc<Health>,
    journal: OnceLock<Arc<JournalHandle>>,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("health", &self.health)
            .field("journal_attached", &self.journal.get().is_some())
            .finish_non_exhaustive()
    }
}

impl ServerState {
    /// A state without a journal yet.
    #[must_use]
    pub fn new(metrics: Arc<Metrics>, health: Arc<Health>) -> ServerState {
        ServerState {
            metrics,
            health,
            journal: OnceLock::new(),
        }
    }

    /// Serves `journal` on the journal endpoint from now on (first call wins).
    pub fn attach_journal(&self, journal: Arc<JournalHandle>) {
        let _ = self.journal.set(journal);
    }
}

/// Binds `addr` (`host:port`; port 0 picks a free one).
///
/// # Errors
/// [`ServerError::Bind`] when the address is invalid or taken.
pub async fn bind(addr: &str) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind {
            addr: addr.to_owned(),
            source,
        })
}

/// Serves `listener`, one task per connection, until `shutdown` resolves; accept errors are
/// retried.
pub async fn serve(
    listener: TcpListener,
    state: Arc<ServerState>,
    shutdown: impl Future<Output = ()>,
) {
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "serving /healthz /readyz /metrics /debug/journal");
    }
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let state = state.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |request| {
                            let state = state.clone();
                            async move { Ok::<_, Infallible>(routes::respond(&state, &request).await) }
                        });
                        if let Err(error) = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await
                        {
                            debug!(%peer, %error, "HTTP connection ended with an error");
                        }
                    });
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    warn!(%error, "accepting an HTTP connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}
