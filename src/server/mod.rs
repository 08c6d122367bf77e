//! The operator's HTTP servers: health, readiness and metrics on one
//! plain-HTTP listener (`--metrics-addr`, default `0.0.0.0:8080`), and the
//! live journal on its own (`--debug-addr`, off by default).
//!
//! Role: lets Kubernetes probe the operator, Prometheus scrape it, and a
//! person read a cluster's journal while the operator holds it (sled allows
//! one process per journal). The client side of the journal endpoint, for
//! `rayop journal show --from-url`, lives with the CLI (`cli::journal::fetch`);
//! the server imports nothing from the CLI.
//!
//! Invariants:
//! - Every endpoint is read-only (see [`routes`]).
//! - The journal is never served on the metrics listener (whose Service is
//!   open to every scraper); on the debug listener every request passes
//!   [`auth::Guard`] first: open on a loopback address, TokenReview and
//!   SubjectAccessReview on any other.
//! - The server never blocks the controller: each connection is its own
//!   task, journal reads run on the blocking pool, and metrics are encoded
//!   from atomics.
//! - It starts before leader election and the journal, so a standby serves
//!   its probes and metrics too; the journal endpoint answers 503 until a
//!   journal is attached with [`ServerState::attach_journal`].

pub mod auth;
pub mod debug_journal;
pub mod error;
pub mod routes;

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Duration,
};

use hyper::{server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

use self::auth::{Guard, KubeReviewer};
pub use self::error::ServerError;
use crate::{health::Health, journaling::JournalHandle, metrics::Metrics};

/// Which endpoints a listener serves.
#[derive(Clone, Debug)]
pub enum Endpoints {
    /// `/healthz`, `/readyz`, `/metrics` (`--metrics-addr`).
    Metrics,
    /// `/debug/journal/<namespace>/<name>` behind the guard (`--debug-addr`).
    Debug(Arc<Guard>),
}

impl Endpoints {
    /// The debug endpoints for a listener bound to `addr`: open on a loopback
    /// address (reachable only inside the pod), otherwise every caller is
    /// reviewed through `client` (see [`auth`]).
    #[must_use]
    pub fn debug(addr: SocketAddr, client: kube::Client) -> Endpoints {
        Endpoints::Debug(Arc::new(if addr.ip().is_loopback() {
            Guard::open()
        } else {
            Guard::reviewing(KubeReviewer::new(client))
        }))
    }
}

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

/// Serves `endpoints` on `listener`, one task per connection, until
/// `shutdown` resolves; accept errors are retried.
pub async fn serve(
    listener: TcpListener,
    state: Arc<ServerState>,
    endpoints: Endpoints,
    shutdown: impl Future<Output = ()>,
) {
    if let Ok(addr) = listener.local_addr() {
        match &endpoints {
            Endpoints::Metrics => info!(%addr, "serving /healthz /readyz /metrics"),
            Endpoints::Debug(guard) if guard.authenticates() => info!(
                %addr,
                "serving /debug/journal to callers with a bearer token the API server accepts and a grant to get the path"
            ),
            Endpoints::Debug(_) => info!(
                %addr,
                "serving /debug/journal without authentication (a loopback address: reachable only inside the pod)"
            ),
        }
    }
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let (state, endpoints) = (state.clone(), endpoints.clone());
                    tokio::spawn(async move {
                        let service = service_fn(move |request| {
                            let (state, endpoints) = (state.clone(), endpoints.clone());
                            async move {
                                Ok::<_, Infallible>(match &endpoints {
                                    Endpoints::Metrics => routes::respond(&state, &request).await,
                                    Endpoints::Debug(guard) => {
                                        routes::respond_debug(&state, guard, &request).await
                                    }
                                })
                            }
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
