//! The client the controllers talk to a Ray head's dashboard with.
//!
//! Role: [`JobsApi`] (and [`ServeApi`](super::ServeApi), in
//! [`serve`](super::serve)) is what a controller needs from a dashboard
//! (and what its tests fake); [`DashboardClient`] is it over one
//! [`Transport`]: direct HTTP to the head Service from inside the cluster,
//! or the API server's service proxy from outside.
//!
//! Invariants:
//! - Each request is bounded by the client's timeout (by default the
//!   transport's: [`DIRECT_TIMEOUT`], [`PROXY_TIMEOUT`]).
//! - Only idempotent calls (info, stop, delete, logs, and Serve's
//!   applications and deploy) are repeated, at most [`DEFAULT_RETRIES`]
//!   more times after a short backoff, and only after a transient failure
//!   ([`DashboardError::is_transient`]). A submit is sent once: if its
//!   answer is lost, the next submit of the same id comes back
//!   [`SubmitOutcome::AlreadySubmitted`], so nothing runs twice.
//! - The token header is on every request when the client has a token, and
//!   on none otherwise; a JSON body is sent only by submit and deploy.

use std::{future::Future, time::Duration};

use backon::{ExponentialBuilder, Retryable};
use http::header::{ACCEPT, CONTENT_TYPE};

use super::{
    DashboardError, DashboardToken, JobInfo, Lookup, SubmitOutcome, SubmitRequest,
    auth::apply_token,
    direct::{DIRECT_TIMEOUT, DirectTransport},
    jobs::{DeleteResponse, LogsResponse, StopResponse},
    paths::Route,
    proxy::{PROXY_TIMEOUT, ProxyTransport},
    reply::{self, Reply},
};

/// How many times an idempotent call is repeated after a transient failure.
pub const DEFAULT_RETRIES: usize = 2;
/// The wait before the first repeat; it doubles for the next.
pub const RETRY_DELAY: Duration = Duration::from_millis(200);

/// What the RayJob controller asks of a Ray dashboard's Jobs API.
pub trait JobsApi: Send + Sync {
    /// Submits a job under `request.submission_id`.
    fn submit(
        &self,
        request: &SubmitRequest,
    ) -> impl Future<Output = Result<SubmitOutcome, DashboardError>> + Send;

    /// The job's details, or [`Lookup::NotFound`].
    fn info(
        &self,
        submission_id: &str,
    ) -> impl Future<Output = Result<Lookup<JobInfo>, DashboardError>> + Send;

    /// Stops the job; `Found(false)` when it was no longer running.
    fn stop(
        &self,
        submission_id: &str,
    ) -> impl Future<Output = Result<Lookup<bool>, DashboardError>> + Send;

    /// Deletes a terminal job's record; `Found(false)` when Ray kept it.
    fn delete(
        &self,
        submission_id: &str,
    ) -> impl Future<Output = Result<Lookup<bool>, DashboardError>> + Send;

    /// The job driver's log so far.
    fn logs(
        &self,
        submission_id: &str,
    ) -> impl Future<Output = Result<Lookup<String>, DashboardError>> + Send;
}

/// How requests reach the dashboard.
#[derive(Clone, Debug)]
pub enum Transport {
    /// Plain HTTP to the dashboard's address (in-cluster).
    Direct(DirectTransport),
    /// Through the API server's service proxy (operator outside the cluster).
    Proxy(ProxyTransport),
}

impl Transport {
    /// The per-request timeout suited to the transport.
    #[must_use]
    pub fn default_timeout(&self) -> Duration {
        match self {
            Transport::Direct(_) => DIRECT_TIMEOUT,
            Transport::Proxy(_) => PROXY_TIMEOUT,
        }
    }

    /// Where a path goes: a full URL, or an API server path.
    #[must_use]
    pub fn target(&self, path: &str) -> String {
        match self {
            Transport::Direct(direct) => direct.url(path),
            Transport::Proxy(proxy) => proxy.path(path),
        }
    }

    pub(super) async fn send(
        &self,
        call: &'static str,
        request: http::Request<Vec<u8>>,
    ) -> Result<Reply, DashboardError> {
        match self {
            Transport::Direct(direct) => direct.send(call, request).await,
            Transport::Proxy(proxy) => proxy.send(call, request).await,
        }
    }
}

/// A dashboard client (Jobs and Serve API) for one dashboard.
#[derive(Clone, Debug)]
pub struct DashboardClient {
    transport: Transport,
    token: Option<DashboardToken>,
    timeout: Duration,
    retries: usize,
}

impl DashboardClient {
    /// A client over `transport`, sending `token` when there is one, with
    /// the transport's timeout and [`DEFAULT_RETRIES`].
    #[must_use]
    pub fn new(transport: Transport, token: Option<DashboardToken>) -> DashboardClient {
        DashboardClient {
            timeout: transport.default_timeout(),
            transport,
            token,
            retries: DEFAULT_RETRIES,
        }
    }

    /// The same client with another per-request timeout.
    #[must_use]
    pub fn with_timeout(self, timeout: Duration) -> DashboardClient {
        DashboardClient { timeout, ..self }
    }

    /// The same client repeating idempotent calls at most `retries` times.
    #[must_use]
    pub fn with_retries(self, retries: usize) -> DashboardClient {
        DashboardClient { retries, ..self }
    }

    /// The transport.
    #[must_use]
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The per-request timeout.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The request for `route`: its method and path (the transport adds
    /// its base), `Accept: application/json`, the token header if any, and
    /// a JSON body if any.
    pub(super) fn request(
        &self,
        route: &Route,
        body: Option<&[u8]>,
    ) -> Result<http::Request<Vec<u8>>, DashboardError> {
        let mut builder = http::Request::builder()
            .method(route.method.clone())
            .uri(route.path.as_str())
            .header(ACCEPT, "application/json");
        if body.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        let mut request = builder
            .body(body.map(<[u8]>::to_vec).unwrap_or_default())
            .map_err(|err| DashboardError::Url {
                call: route.call,
                url: route.path.clone(),
                reason: err.to_string(),
            })?;
        apply_token(request.headers_mut(), self.token.as_ref());
        Ok(request)
    }

    /// One attempt, bounded by the timeout.
    async fn attempt(&self, route: &Route, body: Option<&[u8]>) -> Result<Reply, DashboardError> {
        let request = self.request(route, body)?;
        tokio::time::timeout(self.timeout, self.transport.send(route.call, request))
            .await
            .map_err(|_| DashboardError::Timeout {
                call: route.call,
                after: self.timeout,
            })?
    }

    /// The call's outcome, `read` from its answer, after the repeats
    /// [`should_retry`] allows. Reading is part of each attempt, so an
    /// answer that reads as a transient failure (Ray's 5xx) is repeated
    /// like a connection that failed.
    pub(super) async fn exchange<T: Send>(
        &self,
        route: &Route,
        body: Option<&[u8]>,
        read: impl Fn(&Reply) -> Result<T, DashboardError> + Send + Sync,
    ) -> Result<T, DashboardError> {
        let read = &read;
        let once = || async move { read(&self.attempt(route, body).await?) };
        if !route.idempotent || self.retries == 0 {
            return once().await;
        }
        let backoff = ExponentialBuilder::default()
            .with_min_delay(RETRY_DELAY)
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(self.retries);
        once.retry(backoff)
            .when(|err| should_retry(route, err))
            .notify(|err, after| {
                tracing::debug!(call = route.call, error = %err, ?after, "repeating a dashboard call");
            })
            .await
    }
}

/// Whether a failed attempt of `route` is repeated.
fn should_retry(route: &Route, err: &DashboardError) -> bool {
    route.idempotent && err.is_transient()
}

/// Refuses an empty id before any request: Ray would take it for the job
/// list, or mint an id of its own.
fn require_id(call: &'static str, id: &str) -> Result<(), DashboardError> {
    if id.is_empty() {
        return Err(DashboardError::EmptyId { call });
    }
    Ok(())
}

impl JobsApi for DashboardClient {
    async fn submit(&self, request: &SubmitRequest) -> Result<SubmitOutcome, DashboardError> {
        let route = Route::submit();
        require_id(route.call, &request.submission_id)?;
        let body = serde_json::to_vec(request).map_err(|source| DashboardError::Encode {
            call: route.call,
            source,
        })?;
        self.exchange(&route, Some(&body), |reply| {
            reply::submit_outcome(reply, &request.submission_id)
        })
        .await
    }

    async fn info(&self, submission_id: &str) -> Result<Lookup<JobInfo>, DashboardError> {
        let route = Route::info(submission_id);
        require_id(route.call, submission_id)?;
        self.exchange(&route, None, |reply| reply::lookup(route.call, reply))
            .await
    }

    async fn stop(&self, submission_id: &str) -> Result<Lookup<bool>, DashboardError> {
        let route = Route::stop(submission_id);
        require_id(route.call, submission_id)?;
        self.exchange(&route, None, |reply| {
            Ok(reply::lookup::<StopResponse>(route.call, reply)?.map(|answer| answer.stopped))
        })
        .await
    }

    async fn delete(&self, submission_id: &str) -> Result<Lookup<bool>, DashboardError> {
        let route = Route::delete(submission_id);
        require_id(route.call, submission_id)?;
        self.exchange(&route, None, |reply| {
            Ok(reply::lookup::<DeleteResponse>(route.call, reply)?.map(|answer| answer.deleted))
        })
        .await
    }

    async fn logs(&self, submission_id: &str) -> Result<Lookup<String>, DashboardError> {
        let route = Route::logs(submission_id);
        require_id(route.call, submission_id)?;
        self.exchange(&route, None, |reply| {
            Ok(reply::lookup::<LogsResponse>(route.call, reply)?.map(|answer| answer.logs))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn direct(token: Option<&str>) -> DashboardClient {
        let transport =
            Transport::Direct(DirectTransport::new("demo-head-svc.ml.svc:8265").unwrap());
        DashboardClient::new(transport, token.map(|t| DashboardToken::new(t).unwrap()))
    }

    fn proxy() -> DashboardClient {
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = kube::Client::try_from(config).unwrap();
        let transport = Transport::Proxy(ProxyTransport::new(
            client,
            "ml",
            "demo-head-svc",
            "dashboard",
        ));
        DashboardClient::new(transport, None)
    }

    #[test]
    fn each_transport_aims_the_same_path_at_its_own_base() {
        let path = Route::info("job-1").path;
        assert_eq!(
            direct(None).transport().target(&path),
            "http://demo-head-svc.ml.svc:8265/api/jobs/job-1"
        );
    }

    #[tokio::test]
    async fn the_proxy_transport_targets_the_api_server_path_with_a_longer_timeout() {
        let client = proxy();
        assert_eq!(
            client.transport().target(&Route::submit().path),
            "/api/v1/namespaces/ml/services/demo-head-svc:dashboard/proxy/api/jobs/"
        );
        assert_eq!(client.timeout(), PROXY_TIMEOUT);
        assert_eq!(direct(None).timeout(), DIRECT_TIMEOUT);
        assert_eq!(
            direct(None).with_timeout(Duration::from_secs(1)).timeout(),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn the_token_header_is_sent_only_with_a_token() {
        let with = direct(Some("c2VjcmV0"))
            .request(&Route::info("job-1"), None)
            .unwrap();
        assert_eq!(with.headers()["x-ray-authorization"], "Bearer c2VjcmV0");
        let without = direct(None).request(&Route::info("job-1"), None).unwrap();
        assert!(without.headers().get("x-ray-authorization").is_none());
    }

    #[test]
    fn only_a_body_brings_a_content_type() {
        let get = direct(None).request(&Route::info("job-1"), None).unwrap();
        assert_eq!(get.method(), http::Method::GET);
        assert_eq!(get.uri(), "/api/jobs/job-1");
        assert_eq!(get.headers()[ACCEPT], "application/json");
        assert!(get.headers().get(CONTENT_TYPE).is_none());
        assert!(get.body().is_empty());

        let stop = direct(None).request(&Route::stop("job-1"), None).unwrap();
        assert_eq!(stop.method(), http::Method::POST);
        assert!(stop.body().is_empty());
    }

    #[test]
    fn a_submit_request_carries_the_json_of_the_request() {
        let mut submit = SubmitRequest::new("python run.py", "job-1");
        submit.entrypoint_num_cpus = Some(1.0);
        let body = serde_json::to_vec(&submit).unwrap();
        let request = direct(Some("t"))
            .request(&Route::submit(), Some(&body))
            .unwrap();
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(request.uri(), "/api/jobs/");
        assert_eq!(request.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(request.headers()["x-ray-authorization"], "Bearer t");
        let sent: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
        assert_eq!(
            sent,
            json!({"entrypoint": "python run.py", "submission_id": "job-1", "entrypoint_num_cpus": 1.0})
        );
    }

    #[test]
    fn only_idempotent_calls_are_repeated_and_only_after_transient_failures() {
        let unavailable = DashboardError::Status {
            call: "x",
            code: 503,
            body: String::new(),
        };
        let bad_request = DashboardError::Status {
            call: "x",
            code: 400,
            body: String::new(),
        };
        assert!(should_retry(&Route::info("j"), &unavailable));
        assert!(should_retry(&Route::stop("j"), &unavailable));
        assert!(should_retry(&Route::delete("j"), &unavailable));
        assert!(should_retry(&Route::logs("j"), &unavailable));
        assert!(!should_retry(&Route::submit(), &unavailable));
        assert!(!should_retry(&Route::info("j"), &bad_request));
    }

    #[tokio::test]
    async fn an_empty_id_is_refused_before_any_request() {
        let client = direct(None);
        assert!(matches!(
            client.info("").await,
            Err(DashboardError::EmptyId { call: "info" })
        ));
        assert!(matches!(
            client.stop("").await,
            Err(DashboardError::EmptyId { call: "stop" })
        ));
        assert!(matches!(
            client
                .submit(&SubmitRequest::new("python run.py", ""))
                .await,
            Err(DashboardError::EmptyId { call: "submit" })
        ));
    }

    #[tokio::test]
    async fn a_5xx_from_ray_is_repeated_for_an_idempotent_call_and_not_for_a_submit() {
        use crate::dashboard::canned_http::CannedServer;
        let running = json!({"status": "RUNNING"}).to_string();
        let server = CannedServer::start(vec![(503, "busy".to_owned()), (200, running)]);
        let transport = Transport::Direct(DirectTransport::new(&server.address).unwrap());
        let client = DashboardClient::new(transport, None);
        let info = client.info("job-1").await.unwrap().found().unwrap();
        assert_eq!(info.status, crate::dashboard::JobStatus::Running);
        assert_eq!(server.requests().len(), 2);

        let server = CannedServer::start(vec![(503, "busy".to_owned())]);
        let transport = Transport::Direct(DirectTransport::new(&server.address).unwrap());
        let client = DashboardClient::new(transport, None);
        let err = client
            .submit(&SubmitRequest::new("python run.py", "job-1"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                DashboardError::Status {
                    call: "submit",
                    code: 503,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test]
    async fn a_silent_dashboard_is_a_timeout_naming_the_call() {
        // A socket that completes connections (the kernel's backlog) but
        // never answers: no HTTP is spoken.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = silent.local_addr().unwrap();
        let transport = Transport::Direct(DirectTransport::new(&address.to_string()).unwrap());
        let client = DashboardClient::new(transport, None)
            .with_timeout(Duration::from_millis(200))
            .with_retries(0);
        match client.info("job-1").await {
            Err(DashboardError::Timeout { call, after }) => {
                assert_eq!((call, after), ("info", Duration::from_millis(200)));
            }
            other => panic!("{other:?}"),
        }
    }
}
