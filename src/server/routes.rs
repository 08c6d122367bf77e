//! The endpoints: one function from a request to a response per listener.
//!
//! The metrics listener (`--metrics-addr`, [`respond`]):
//!
//! | Path | Answer |
//! |---|---|
//! | `/healthz` | 200 `ok` while the process serves requests |
//! | `/readyz` | 200 when ready (see [`crate::health`]), else 503 with the reason |
//! | `/metrics` | OpenMetrics text of [`crate::metrics::Metrics`] |
//! | `/debug/journal…` | 404, with a line saying it moved to the debug listener |
//!
//! The debug listener (`--debug-addr`, off by default, [`respond_debug`]):
//!
//! | Path | Answer |
//! |---|---|
//! | `/debug/journal/<namespace>/<name>` | the cluster's journal as JSON lines, once [`super::auth::Guard`] lets the caller through (401 no or bad token, 403 not granted, 503 a review failed) |
//!
//! Invariants: every endpoint is read-only; anything but GET or HEAD is 405
//! (on the debug listener only after authentication). The path a caller is
//! authorized for is the exact path served: the journal route accepts only
//! two DNS-1123 names, so no `..` or extra segment can reach another cluster.

use http::{HeaderValue, Method, Request, Response, StatusCode, header::CONTENT_TYPE};
use http_body_util::Full;
use hyper::body::Bytes;

use super::{
    ServerState,
    auth::{Guard, Reviewer, Verdict},
    debug_journal,
};

/// The answer of the metrics listener to `/debug/journal…`.
pub const JOURNAL_MOVED: &str = "/debug/journal is served on its own listener now: \
    rayop run --debug-addr HOST:PORT (see the README, \"Reading a running operator's journal\")\n";

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

fn read_only<B>(request: &Request<B>) -> Option<Response<Full<Bytes>>> {
    (request.method() != Method::GET && request.method() != Method::HEAD)
        .then(|| text(StatusCode::METHOD_NOT_ALLOWED, "read-only: use GET\n"))
}

/// Answers one request on the metrics listener; never fails, every error is a
/// status code with a one-line reason.
pub async fn respond<B>(state: &ServerState, request: &Request<B>) -> Response<Full<Bytes>> {
    if let Some(refused) = read_only(request) {
        return refused;
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
        _ if path == "/debug/journal" || path.starts_with("/debug/journal/") => {
            text(StatusCode::NOT_FOUND, JOURNAL_MOVED)
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "endpoints: /healthz /readyz /metrics\n",
        ),
    }
}

fn refusal(verdict: Verdict) -> Option<Response<Full<Bytes>>> {
    let (status, why) = match verdict {
        Verdict::Allowed => return None,
        Verdict::Unauthenticated(why) => (StatusCode::UNAUTHORIZED, why),
        Verdict::Forbidden(why) => (StatusCode::FORBIDDEN, why),
        Verdict::Unavailable(why) => (StatusCode::SERVICE_UNAVAILABLE, why),
    };
    let mut response = text(status, format!("{why}\n"));
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer"),
        );
    }
    Some(response)
}

/// Answers one request on the debug listener: authenticate, check the method,
/// authorize the path, then serve the journal. Never fails.
pub async fn respond_debug<B, R: Reviewer>(
    state: &ServerState,
    guard: &Guard<R>,
    request: &Request<B>,
) -> Response<Full<Bytes>> {
    let who = match guard.authenticate(request.headers()).await {
        Ok(who) => who,
        // Never `Allowed`; answered 500 rather than served if it ever were.
        Err(verdict) => {
            return refusal(verdict).unwrap_or_else(|| {
                text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "authentication gave no answer\n",
                )
            });
        }
    };
    if let Some(refused) = read_only(request) {
        return refused;
    }
    let path = request.uri().path();
    if let Some(refused) = refusal(guard.authorize(&who, path).await) {
        return refused;
    }
    match path
        .strip_prefix("/debug/journal/")
        .map(|rest| rest.split('/').collect::<Vec<_>>())
        .as_deref()
    {
        Some([namespace, name]) => {
            let journal = state.journal.get().cloned();
            match debug_journal::export(journal, namespace, name).await {
                debug_journal::Export::Lines(lines) => body_of(StatusCode::OK, JSON_LINES, lines),
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
            "this listener serves /debug/journal/<namespace>/<name> only\n",
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use k8s_openapi::api::{
        authentication::v1::{TokenReviewStatus, UserInfo},
        authorization::v1::SubjectAccessReviewStatus,
    };

    use super::*;
    use crate::{
        health::Health,
        leader::Leadership,
        metrics::Metrics,
        server::auth::{Caller, ReviewError},
    };

    /// Every token is `bob`, who may get nothing.
    struct Bob;

    impl Reviewer for Bob {
        async fn review_token(&self, _: &str) -> Result<TokenReviewStatus, ReviewError> {
            Ok(TokenReviewStatus {
                authenticated: Some(true),
                user: Some(UserInfo {
                    username: Some("bob".to_owned()),
                    ..UserInfo::default()
                }),
                ..TokenReviewStatus::default()
            })
        }

        async fn review_access(
            &self,
            _: &Caller,
            _: &str,
        ) -> Result<SubjectAccessReviewStatus, ReviewError> {
            Ok(SubjectAccessReviewStatus::default())
        }
    }

    fn state() -> ServerState {
        let leadership = Arc::new(Leadership::always());
        ServerState::new(Arc::new(Metrics::new()), Arc::new(Health::new(leadership)))
    }

    fn get(path: &str, token: Option<&str>) -> Request<()> {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        request.body(()).unwrap()
    }

    #[tokio::test]
    async fn the_metrics_listener_no_longer_serves_the_journal() {
        let state = state();
        for path in ["/debug/journal", "/debug/journal/ns/c"] {
            let answer = respond(&state, &get(path, None)).await;
            assert_eq!(answer.status(), StatusCode::NOT_FOUND);
        }
        assert_eq!(
            respond(&state, &get("/healthz", None)).await.status(),
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn the_debug_listener_authenticates_then_authorizes() {
        let state = state();
        let guard = Guard::reviewing(Bob);
        let path = "/debug/journal/ns/c";
        let answer = respond_debug(&state, &guard, &get(path, None)).await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(answer.headers()[http::header::WWW_AUTHENTICATE], "Bearer");
        let post = Request::post(path)
            .header(http::header::AUTHORIZATION, "Bearer t")
            .body(())
            .unwrap();
        assert_eq!(
            respond_debug(&state, &guard, &post).await.status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            respond_debug(&state, &guard, &get(path, Some("t")))
                .await
                .status(),
            StatusCode::FORBIDDEN
        );
    }

    #[tokio::test]
    async fn an_open_debug_listener_serves_the_journal_route_only() {
        let state = state();
        let guard = Guard::open();
        let status = |path: &'static str| {
            let (state, guard) = (&state, &guard);
            async move { respond_debug(state, guard, &get(path, None)).await.status() }
        };
        // No journal attached yet: 503, as on a standby.
        assert_eq!(
            status("/debug/journal/ns/c").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(status("/debug/journal/ns").await, StatusCode::BAD_REQUEST);
        assert_eq!(
            status("/debug/journal/ns/..").await,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(status("/metrics").await, StatusCode::NOT_FOUND);
    }
}
