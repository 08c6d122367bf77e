//! Reaching the dashboard over plain HTTP, as an operator inside the
//! cluster does: through the head Service's DNS name.
//!
//! Invariants: the base URL is `http://` (a bare `host:port`, as KubeRay
//! keeps `status.dashboardURL`, gets the scheme added) and has no trailing
//! slash, query or fragment, so joining a Jobs API path is concatenation;
//! `https` is refused at set-up, since this client is built without TLS.

use std::time::Duration;

use super::{DashboardError, reply::Reply};

/// The per-request timeout of the direct transport (KubeRay uses 2 s; a
/// busy head can take longer to answer a submit).
pub const DIRECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The dashboard at a base URL, reached with reqwest.
#[derive(Clone, Debug)]
pub struct DirectTransport {
    http: reqwest::Client,
    base: String,
}

impl DirectTransport {
    /// The dashboard at `base`, with a connection pool of its own.
    ///
    /// # Errors
    /// [`DashboardError::BaseUrl`] if `base` is not a usable `http` URL.
    pub fn new(base: &str) -> Result<DirectTransport, DashboardError> {
        let http =
            reqwest::Client::builder()
                .build()
                .map_err(|source| DashboardError::BaseUrl {
                    url: base.to_owned(),
                    reason: format!("no HTTP client: {source}"),
                })?;
        DirectTransport::with_http_client(http, base)
    }

    /// The dashboard at `base`, sharing `http`'s connection pool.
    ///
    /// # Errors
    /// [`DashboardError::BaseUrl`] if `base` is not a usable `http` URL.
    pub fn with_http_client(
        http: reqwest::Client,
        base: &str,
    ) -> Result<DirectTransport, DashboardError> {
        Ok(DirectTransport {
            http,
            base: normalize_base(base)?,
        })
    }

    /// The dashboard behind a head Service, by its cluster DNS name:
    /// `http://<service>.<namespace>.svc.<cluster_domain>:<port>`.
    ///
    /// # Errors
    /// [`DashboardError::BaseUrl`] if the names do not make a URL.
    pub fn head_service(
        service: &str,
        namespace: &str,
        cluster_domain: &str,
        port: u16,
    ) -> Result<DirectTransport, DashboardError> {
        DirectTransport::new(&head_service_url(service, namespace, cluster_domain, port))
    }

    /// The base URL every path is joined to.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The full URL of a Jobs API path.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `request` (whose URI is a Jobs API path) aimed at the dashboard.
    fn prepare(
        &self,
        call: &'static str,
        request: http::Request<Vec<u8>>,
    ) -> Result<reqwest::Request, DashboardError> {
        let (mut parts, body) = request.into_parts();
        let url = self.url(parts.uri.path_and_query().map_or("/", |p| p.as_str()));
        parts.uri = url
            .parse()
            .map_err(|err: http::uri::InvalidUri| DashboardError::Url {
                call,
                url: url.clone(),
                reason: err.to_string(),
            })?;
        reqwest::Request::try_from(http::Request::from_parts(parts, body))
            .map_err(|source| DashboardError::Http { call, source })
    }

    /// Sends `request` and reads the whole answer.
    ///
    /// # Errors
    /// [`DashboardError::Connect`] if the dashboard is unreachable,
    /// [`DashboardError::Http`] if the exchange broke.
    pub(crate) async fn send(
        &self,
        call: &'static str,
        request: http::Request<Vec<u8>>,
    ) -> Result<Reply, DashboardError> {
        let request = self.prepare(call, request)?;
        let broken = |source: reqwest::Error| {
            if source.is_connect() {
                DashboardError::Connect { call, source }
            } else {
                DashboardError::Http { call, source }
            }
        };
        let response = self.http.execute(request).await.map_err(broken)?;
        let status = response.status();
        let body = response.bytes().await.map_err(broken)?;
        Ok(Reply {
            status,
            body: body.to_vec(),
        })
    }
}

/// `http://<ip>:<port>`, with an IPv6 address in brackets: a pod's port.
#[must_use]
pub fn pod_url(ip: std::net::IpAddr, port: u16) -> String {
    format!("http://{}", std::net::SocketAddr::new(ip, port))
}

/// `http://<service>.<namespace>.svc.<cluster_domain>:<port>`.
#[must_use]
pub fn head_service_url(service: &str, namespace: &str, cluster_domain: &str, port: u16) -> String {
    format!("http://{service}.{namespace}.svc.{cluster_domain}:{port}")
}

fn normalize_base(base: &str) -> Result<String, DashboardError> {
    let refuse = |reason: &str| DashboardError::BaseUrl {
        url: base.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = base.trim();
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("http://{trimmed}")
    };
    let url = reqwest::Url::parse(&with_scheme).map_err(|err| refuse(&err.to_string()))?;
    if url.scheme() != "http" {
        return Err(refuse(
            "only http is supported (the client is built without TLS)",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(refuse("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(refuse("a base URL takes no query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::paths::Route;

    #[test]
    fn a_bare_host_and_port_gets_http_and_paths_join_without_double_slashes() {
        let direct =
            DirectTransport::new("rayjob-head-svc.default.svc.cluster.local:8265").unwrap();
        assert_eq!(
            direct.base_url(),
            "http://rayjob-head-svc.default.svc.cluster.local:8265"
        );
        assert_eq!(
            direct.url(&Route::submit().path),
            "http://rayjob-head-svc.default.svc.cluster.local:8265/api/jobs/"
        );
        let slashed = DirectTransport::new("http://10.0.0.7:8265/").unwrap();
        assert_eq!(
            slashed.url(&Route::info("job-1").path),
            "http://10.0.0.7:8265/api/jobs/job-1"
        );
        let prefixed = DirectTransport::new("http://gateway.example/ray/").unwrap();
        assert_eq!(
            prefixed.url(&Route::logs("job-1").path),
            "http://gateway.example/ray/api/jobs/job-1/logs"
        );
    }

    #[test]
    fn the_head_service_url_is_its_cluster_dns_name() {
        let direct =
            DirectTransport::head_service("demo-head-svc", "ml", "cluster.local", 8265).unwrap();
        assert_eq!(
            direct.url(&Route::stop("job-1").path),
            "http://demo-head-svc.ml.svc.cluster.local:8265/api/jobs/job-1/stop"
        );
    }

    #[test]
    fn a_pod_url_is_its_address_and_port_with_ipv6_bracketed() {
        let v4 = DirectTransport::new(&pod_url([10, 244, 0, 7].into(), 8000)).unwrap();
        assert_eq!(v4.url("/-/healthz"), "http://10.244.0.7:8000/-/healthz");
        let ip6: std::net::IpAddr = "fd00::7".parse().unwrap();
        let v6 = DirectTransport::new(&pod_url(ip6, 8000)).unwrap();
        assert_eq!(v6.url("/-/healthz"), "http://[fd00::7]:8000/-/healthz");
    }

    #[test]
    fn unusable_bases_are_refused_at_set_up() {
        for bad in [
            "https://head:8265",
            "http://",
            "http://head:8265/?x=1",
            "http://head:99999",
        ] {
            assert!(
                matches!(
                    DirectTransport::new(bad),
                    Err(DashboardError::BaseUrl { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_prepared_request_keeps_method_headers_and_body() {
        let direct = DirectTransport::new("head:8265").unwrap();
        let request = http::Request::builder()
            .method(http::Method::POST)
            .uri("/api/jobs/")
            .header("content-type", "application/json")
            .body(b"{}".to_vec())
            .unwrap();
        let prepared = direct.prepare("submit", request).unwrap();
        assert_eq!(prepared.method(), http::Method::POST);
        assert_eq!(prepared.url().as_str(), "http://head:8265/api/jobs/");
        assert_eq!(prepared.headers()["content-type"], "application/json");
        assert_eq!(
            prepared.body().and_then(reqwest::Body::as_bytes),
            Some(&b"{}"[..])
        );
    }
}
