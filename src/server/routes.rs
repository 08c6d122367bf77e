//! The endpoints: one function from a request to a response.
//!
//! | Path | Answer |
//! |---|---|
//! | `/healthz` | 200 `ok` while the process serves requests |
//! | `/readyz` | 200 when ready (see [`crate::health`]), else 503 with the reason |
//! | `/metrics` | OpenMetrics text of [`crate::metrics::Metrics`] |
//! | `/debug/journal/<namespace>/<name>` | the cluster's journal as JSON lines |
//!
//! Invariant: every endpoint is read-only; anything but GET or HEAD is 405.

use http::{Method, Request, Response, StatusCode, header::CONTENT_TYPE};
use http_body_util::Full;
use hyper::body::Bytes;

use super::{ServerState, debug_journal};

/// Content type of `/metrics`: OpenMetrics 1.0.0 text in UTF-8.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Content type of `/debug/journal/...`: one JSON object per line.
pub const JSON_LINES: &str = "application/jsonl";

fn text(status: StatusCode, body: impl Into<String>) -> Response<Full<Bytes>> {
    body_of(
        status,
        "text/plain; charset=utf-8",
        body.into().into_bytes(),
    )
}

fn body_of(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(CONTENT_TYPE, value);
    }
    response
}

/// Answers one request; never fails, every error is a status code with a one-line reason.
pub async fn respond<B>(state: &ServerState, request: &Request<B>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "read-only: use GET\n".to_owned(),
        );
    }
    let path = request.uri().path();
    match path {
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" => match state.health.readiness() {
            Ok(what) => text(StatusCode::OK, format!("{what}\n")),
            Err(why) => text(StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
        },
        "/metrics" => body_of(
            StatusCode::OK,
            OPENMETRICS,
            state.metrics.encode().into_bytes(),
        ),
        _ => match path
            .strip_prefix("/debug/journal/")
            .map(|rest| rest.split('/').collect::<Vec<_>>())
            .as_deref()
        {
            Some([namespace, name]) => {
                let journal = state.journal.get().cloned();
                match debug_journal::export(journal, namespace, name).await {
                    debug_journal::Export::Lines(lines) => {
                        body_of(StatusCode::OK, JSON_LINES, lines)
                    }
                    debug_journal::Export::BadTarget(why) => {
                        text(StatusCode::BAD_REQUEST, format!("{why}\n"))
                    }
                    debug_journal::Export::NotFound(why) => {
                        text(StatusCode::NOT_FOUND, format!("{why}\n"))
                    }
                    debug_journal::Export::Unavailable(why) => {
                        text(StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n"))
                    }
                    debug_journal::Export::Failed(why) => {
                        text(StatusCode::INTERNAL_SERVER_ERROR, format!("{why}\n"))
                    }
                }
            }
            Some(_) => text(
                StatusCode::BAD_REQUEST,
                "use /debug/journal/<namespace>/<name>\n",
            ),
            None => text(
                StatusCode::NOT_FOUND,
                "endpoints: /healthz /readyz /metrics /debug/journal/<namespace>/<name>\n",
            ),
        },
    }
}
