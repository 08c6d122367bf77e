//! Why the HTTP server could not start.
//!
//! Only binding can fail: once it serves, a failed connection or accept is
//! logged and the server carries on, so a scrape or probe never stops the
//! operator.

use thiserror::Error;

/// A listener could not start; `rayop run` stops when the address was given
/// (`--metrics-addr`, `--debug-addr`), and only warns for the default metrics address.
#[derive(Debug, Error)]
pub enum ServerError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The `HOST:PORT` exactly as given.
        addr: String,
        /// The bind or address-parse error (address in use, permission denied, …).
        #[source]
        source: std::io::Error,
    },
}
