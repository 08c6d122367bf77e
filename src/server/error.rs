//! Errors of the HTTP server and of the journal fetch client.

use thiserror::Error;

/// The server could not start.
#[derive(Debug, Error)]
pub enum ServerError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Fetching a cluster's journal from a running operator failed.
#[derive(Debug, Error)]
pub enum FetchError {
    /// The target is not `namespace/name`.
    #[error("{0:?} is not namespace/name")]
    Target(String),
    /// The operator address is not a usable http:// URL.
    #[error("{url:?} is not an operator address (http://host:port): {reason}")]
    Url {
        /// What was given.
        url: String,
        /// Why it does not work.
        reason: String,
    },
    /// The request failed (connection refused, timeout, …).
    #[error("GET {url}: {reason}")]
    Request {
        /// The URL requested.
        url: String,
        /// Why.
        reason: String,
    },
    /// The operator answered with an error status.
    #[error("GET {url}: HTTP {status}: {body}")]
    Status {
        /// The URL requested.
        url: String,
        /// The status code.
        status: u16,
        /// The operator's explanation.
        body: String,
    },
    /// The answer is not the journal's JSON-lines export.
    #[error("GET {url}: the answer is not a journal export: {reason}")]
    Parse {
        /// The URL requested.
        url: String,
        /// Why.
        reason: String,
    },
    /// The runtime for a blocking fetch could not start.
    #[error("runtime: {0}")]
    Runtime(#[from] std::io::Error),
}
