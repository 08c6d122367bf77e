//! The client side of `/debug/journal/<namespace>/<name>`: fetch a running
//! operator's journal of one cluster, for `rayop journal show --from-url`.
//!
//! Role: turn an operator address (`http://host:port`, for instance through
//! `kubectl port-forward`) and a `namespace/name` into the export's JSON
//! lines, or into [`StreamDump`]s parsed exactly as the CLI parses a local
//! export ([`crate::journal_view::load::parse_export`]), whose payloads
//! decode as [`crate::record::Record`] with [`crate::journal_view::load::decode`].
//! It lives with the CLI, its one user; the server's endpoint
//! ([`crate::server::debug_journal`]) is the other end of the wire, and the
//! two meet only in the export format of [`crate::journal_view`].
//!
//! The endpoint is on the operator's debug listener (`rayop run
//! --debug-addr`); unless that listens on loopback, it wants a bearer token
//! (sent as `Authorization: Bearer <token>` when one is given).
//!
//! Invariant: only GET requests to the operator's own endpoint; a non-200
//! answer is an error carrying the operator's explanation (401: no or a bad
//! token, 403: the token's user may not `get` the path).

use std::time::Duration;

use http::{HeaderValue, Request, StatusCode, Uri, header::AUTHORIZATION};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use thiserror::Error;

use crate::{
    journal_view::load::{self, StreamDump},
    journaling::StreamKind,
};

/// Fetching a cluster's journal from a running operator failed.
#[derive(Debug, Error)]
pub enum FetchError {
    /// The target is not `namespace/name` with both parts non-empty; a UID cannot be fetched.
    #[error("{0:?} is not namespace/name")]
    Target(String),
    /// The target is a stream key of a kind the endpoint does not serve
    /// (a RayJob's `RayJob:namespace/name`).
    #[error(
        "{target}: the operator's /debug/journal serves RayCluster streams only; \
         copy the journal directory and read it with --journal"
    )]
    NotServed {
        /// The target exactly as given.
        target: String,
    },
    /// The operator address is not a usable http:// URL.
    #[error("{url:?} is not an operator address (http://host:port): {reason}")]
    Url {
        /// The address after trimming `/` and adding `http://` when it had no scheme.
        url: String,
        /// The scheme is not `http://`, or the URL does not parse.
        reason: String,
    },
    /// The request failed (connection refused, timeout, …).
    #[error("GET {url}: {reason}")]
    Request {
        /// The full `/debug/journal/<namespace>/<name>` URL.
        url: String,
        /// The connection or body error, or no answer within [`FETCH_TIMEOUT`].
        reason: String,
    },
    /// The token is not usable in an `Authorization` header.
    #[error("the bearer token is not a single line of visible ASCII")]
    Token,
    /// The operator answered with an error status.
    #[error("GET {url}: HTTP {status}: {body}")]
    Status {
        /// The full `/debug/journal/<namespace>/<name>` URL.
        url: String,
        /// The HTTP status, never 200; a standby answers 503.
        status: u16,
        /// The answer's body, trimmed: the operator's reason in words.
        body: String,
    },
    /// The answer is not the journal's JSON-lines export.
    #[error("GET {url}: the answer is not a journal export: {reason}")]
    Parse {
        /// The full `/debug/journal/<namespace>/<name>` URL.
        url: String,
        /// The export parser's error for the first bad line.
        reason: String,
    },
    /// The runtime for a blocking fetch could not start.
    #[error("runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// How long one fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// The endpoint URL for `target` (`namespace/name`) on the operator at `base`.
///
/// # Errors
/// [`FetchError::NotServed`], [`FetchError::Target`] or [`FetchError::Url`].
pub fn journal_url(base: &str, target: &str) -> Result<Uri, FetchError> {
    if StreamKind::of_key(target).0 != StreamKind::RayCluster {
        return Err(FetchError::NotServed {
            target: target.to_owned(),
        });
    }
    let Some((namespace, name)) = target.split_once('/') else {
        return Err(FetchError::Target(target.to_owned()));
    };
    if namespace.is_empty() || name.is_empty() || name.contains('/') {
        return Err(FetchError::Target(target.to_owned()));
    }
    let base = base.trim_end_matches('/');
    let base = if base.contains("://") {
        base.to_owned()
    } else {
        format!("http://{base}")
    };
    let bad = |reason: String| FetchError::Url {
        url: base.clone(),
        reason,
    };
    if !base.starts_with("http://") {
        return Err(bad("only http:// is served by the operator".to_owned()));
    }
    format!("{base}/debug/journal/{namespace}/{name}")
        .parse::<Uri>()
        .map_err(|e| bad(e.to_string()))
}

/// Fetches the JSON lines of `target`'s streams from the operator at `base`,
/// sending `token` as a bearer token when given.
///
/// # Errors
/// [`FetchError`] for a bad address or token, a failed request or a non-200 answer.
pub async fn fetch_journal(
    base: &str,
    target: &str,
    token: Option<&str>,
) -> Result<Vec<u8>, FetchError> {
    let uri = journal_url(base, target)?;
    let url = uri.to_string();
    let failed = |reason: String| FetchError::Request {
        url: url.clone(),
        reason,
    };
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut request = Request::get(uri);
    if let Some(token) = token {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
            .map_err(|_| FetchError::Token)?;
        value.set_sensitive(true);
        request = request.header(AUTHORIZATION, value);
    }
    let request = request
        .body(Empty::new())
        .map_err(|e| failed(e.to_string()))?;
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| failed(e.to_string()))?
            .to_bytes();
        Ok::<_, FetchError>((status, body))
    };
    let (status, body) = tokio::time::timeout(FETCH_TIMEOUT, exchange)
        .await
        .map_err(|_| failed(format!("no answer within {FETCH_TIMEOUT:?}")))??;
    if status != StatusCode::OK {
        return Err(FetchError::Status {
            url,
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body).trim().to_owned(),
        });
    }
    Ok(body.to_vec())
}

/// Fetches and parses `target`'s streams, as the CLI reads a local export.
///
/// # Errors
/// [`FetchError`], or [`FetchError::Parse`] when the answer is not an export.
pub async fn fetch_streams(
    base: &str,
    target: &str,
    token: Option<&str>,
) -> Result<Vec<StreamDump>, FetchError> {
    let lines = fetch_journal(base, target, token).await?;
    load::parse_export(&lines).map_err(|e| FetchError::Parse {
        url: journal_url(base, target).map_or_else(|_| base.to_owned(), |u| u.to_string()),
        reason: e.to_string(),
    })
}

/// [`fetch_streams`] for synchronous callers (the `rayop journal` CLI):
/// runs it on a private single-threaded runtime.
///
/// # Errors
/// As [`fetch_streams`], or [`FetchError::Runtime`].
pub fn fetch_streams_blocking(
    base: &str,
    target: &str,
    token: Option<&str>,
) -> Result<Vec<StreamDump>, FetchError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(fetch_streams(base, target, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = |b, t| journal_url(b, t).map(|u| u.to_string());
        assert_eq!(
            u("http://127.0.0.1:8080/", "ns/c").ok().as_deref(),
            Some("http://127.0.0.1:8080/debug/journal/ns/c")
        );
        assert_eq!(
            u("localhost:8080", "ns/c").ok().as_deref(),
            Some("http://localhost:8080/debug/journal/ns/c")
        );
        assert!(matches!(
            u("https://x", "ns/c"),
            Err(FetchError::Url { .. })
        ));
        assert!(matches!(u("x", "c"), Err(FetchError::Target(_))));
        assert!(matches!(u("x", "a/b/c"), Err(FetchError::Target(_))));
        assert!(matches!(
            u("x", "RayJob:ns/j"),
            Err(FetchError::NotServed { .. })
        ));
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_request_error() {
        // Port 1 on loopback: nothing listens there.
        let err = fetch_journal("http://127.0.0.1:1", "ns/c", None).await;
        assert!(matches!(err, Err(FetchError::Request { .. })), "{err:?}");
        let err = fetch_journal("http://127.0.0.1:1", "ns/c", Some("a\nb")).await;
        assert!(matches!(err, Err(FetchError::Token)), "{err:?}");
    }
}
