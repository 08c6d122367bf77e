//! Why a dashboard call failed.
//!
//! Invariants: every call variant names its call (`submit`, `info`, `stop`,
//! `delete`, `logs`, and Serve's `applications`, `deploy`, `healthz`); only [`DashboardError::BaseUrl`] and
//! [`DashboardError::Token`] come from setting a client up, before any
//! call. A 404 about a job and a submit of an id Ray already holds are
//! answers ([`Lookup::NotFound`](super::Lookup::NotFound),
//! [`SubmitOutcome::AlreadySubmitted`](super::SubmitOutcome::AlreadySubmitted)),
//! never errors. Bodies quoted in errors are cut to [`BODY_QUOTE_LIMIT`]
//! characters, since Ray answers failures with whole tracebacks.

use std::time::Duration;

use thiserror::Error;

/// The most characters of an answer's body an error quotes.
pub const BODY_QUOTE_LIMIT: usize = 512;

/// Why a dashboard call failed, or a client could not be set up.
#[derive(Debug, Error)]
pub enum DashboardError {
    /// No complete answer within the client's per-request timeout.
    #[error("dashboard {call}: no answer within {after:?}")]
    Timeout {
        /// The call.
        call: &'static str,
        /// The timeout.
        after: Duration,
    },
    /// The dashboard could not be reached (refused, no route, DNS).
    #[error("dashboard {call}: cannot connect: {source}")]
    Connect {
        /// The call.
        call: &'static str,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The exchange broke after connecting.
    #[error("dashboard {call}: {source}")]
    Http {
        /// The call.
        call: &'static str,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The request through the API server's service (or pod) proxy failed
    /// on the way to the API server.
    #[error("dashboard {call} through the API server: {source}")]
    Kube {
        /// The call.
        call: &'static str,
        /// The kube client's error, boxed to keep the enum small.
        #[source]
        source: Box<kube::Error>,
    },
    /// The API server answered for itself, not for the dashboard: the
    /// Service (or pod) does not exist, has no ready endpoint, or rayop
    /// lacks `services/proxy` (`pods/proxy`).
    #[error("dashboard {call}: the API server's service proxy answered {code} {reason}: {message}")]
    Proxy {
        /// The call.
        call: &'static str,
        /// The HTTP status.
        code: u16,
        /// The Status `reason`, e.g. `NotFound`, `ServiceUnavailable`.
        reason: String,
        /// The Status `message`.
        message: String,
    },
    /// The dashboard refused the token (401 without one, 403 with a wrong one).
    #[error("dashboard {call}: token refused ({code}): {body}")]
    Unauthorized {
        /// The call.
        call: &'static str,
        /// The HTTP status.
        code: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// Any other answer than the call expects.
    #[error("dashboard {call}: HTTP {code}: {body}")]
    Status {
        /// The call.
        call: &'static str,
        /// The HTTP status.
        code: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// A success whose body is not the JSON the call expects.
    #[error("dashboard {call}: unreadable answer: {source}")]
    Decode {
        /// The call.
        call: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The request body could not be encoded.
    #[error("dashboard {call}: cannot encode the request: {source}")]
    Encode {
        /// The call.
        call: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The request URL could not be formed from the base and the path.
    #[error("dashboard {call}: bad request URL {url}: {reason}")]
    Url {
        /// The call.
        call: &'static str,
        /// The URL that did not parse.
        url: String,
        /// Why.
        reason: String,
    },
    /// The job id is empty; nothing was sent.
    #[error("dashboard {call}: empty submission id")]
    EmptyId {
        /// The call.
        call: &'static str,
    },
    /// Setting up: the dashboard's base URL is unusable.
    #[error("dashboard base URL {url:?}: {reason}")]
    BaseUrl {
        /// The URL given.
        url: String,
        /// Why it is unusable.
        reason: String,
    },
    /// Setting up: the auth token cannot be sent as a header.
    #[error("dashboard auth token: {reason}")]
    Token {
        /// Why (never the token itself).
        reason: &'static str,
    },
}

impl DashboardError {
    /// The call that failed; `None` for the set-up errors.
    #[must_use]
    pub fn call(&self) -> Option<&'static str> {
        match self {
            DashboardError::Timeout { call, .. }
            | DashboardError::Connect { call, .. }
            | DashboardError::Http { call, .. }
            | DashboardError::Kube { call, .. }
            | DashboardError::Proxy { call, .. }
            | DashboardError::Unauthorized { call, .. }
            | DashboardError::Status { call, .. }
            | DashboardError::Decode { call, .. }
            | DashboardError::Encode { call, .. }
            | DashboardError::Url { call, .. }
            | DashboardError::EmptyId { call } => Some(call),
            DashboardError::BaseUrl { .. } | DashboardError::Token { .. } => None,
        }
    }

    /// Worth repeating an idempotent call at once: the dashboard could not
    /// be reached, or it (or the proxy in front of it) answered 5xx. A
    /// timeout is not: the caller's next poll is the retry, and waiting
    /// several timeouts in a row would stall a reconcile.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            DashboardError::Connect { .. } => true,
            DashboardError::Proxy { code, .. } | DashboardError::Status { code, .. } => {
                *code >= 500
            }
            _ => false,
        }
    }
}

/// The start of a body, lossily decoded, for an error message.
#[must_use]
pub(crate) fn quote_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(BODY_QUOTE_LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_error_names_its_call() {
        let err = DashboardError::Timeout {
            call: "info",
            after: Duration::from_secs(5),
        };
        assert_eq!(err.call(), Some("info"));
        assert_eq!(err.to_string(), "dashboard info: no answer within 5s");
        assert_eq!(DashboardError::Token { reason: "empty" }.call(), None);
    }

    #[test]
    fn only_unreachable_and_5xx_are_transient() {
        let status = |code| DashboardError::Status {
            call: "info",
            code,
            body: String::new(),
        };
        assert!(status(500).is_transient());
        assert!(status(503).is_transient());
        assert!(!status(400).is_transient());
        let proxy = |code| DashboardError::Proxy {
            call: "info",
            code,
            reason: String::new(),
            message: String::new(),
        };
        assert!(proxy(503).is_transient());
        assert!(!proxy(403).is_transient());
        assert!(
            !DashboardError::Timeout {
                call: "info",
                after: Duration::from_secs(5)
            }
            .is_transient()
        );
    }

    #[test]
    fn long_bodies_are_cut() {
        let long = "x".repeat(BODY_QUOTE_LIMIT + 10);
        let quoted = quote_body(long.as_bytes());
        assert_eq!(quoted.chars().count(), BODY_QUOTE_LIMIT + 1);
        assert!(quoted.ends_with('…'));
        assert_eq!(quote_body(b"  short\n"), "short");
        assert_eq!(quote_body(&[0xff, b'a']), "\u{fffd}a");
    }
}
