//! Reaching the dashboard through the API server's service proxy, for an
//! operator that runs outside the cluster and cannot reach Service IPs
//! (KubeRay's `--use-kubernetes-proxy`).
//!
//! Role: every dashboard path is sent to
//! `/api/v1/namespaces/<ns>/services/<service>:<port>/proxy<path>` with
//! rayop's kube client, which already authenticates to the API server;
//! rayop needs `services/proxy` (get, create) for it. The dashboard's token
//! header passes through the proxy untouched. A Serve proxy's health check
//! goes to one pod instead, through the pod proxy
//! `/api/v1/namespaces/<ns>/pods/<pod>:<port>/proxy<path>` (`pods/proxy`).
//!
//! Invariants: a non-2xx answer whose body is a Kubernetes `Status` comes
//! from the API server, not from Ray (Ray never answers one), and is
//! [`DashboardError::Proxy`]: the API server's 404 for a missing Service
//! must not read as "no such job", nor its 403 as a refused Ray token.

use std::time::Duration;

use http_body_util::BodyExt;
use serde::Deserialize;

use super::{DashboardError, error::quote_body, paths::encode_segment, reply::Reply};

/// The per-request timeout through the proxy, as KubeRay's: the request
/// makes two hops.
pub const PROXY_TIMEOUT: Duration = Duration::from_secs(10);

/// The dashboard behind a Service, reached through the API server.
#[derive(Clone)]
pub struct ProxyTransport {
    client: kube::Client,
    base: String,
}

impl std::fmt::Debug for ProxyTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyTransport")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl ProxyTransport {
    /// The dashboard on `port` (a port name such as `dashboard`, or a
    /// number) of Service `service` in `namespace`, through `client`'s API
    /// server.
    #[must_use]
    pub fn new(client: kube::Client, namespace: &str, service: &str, port: &str) -> ProxyTransport {
        ProxyTransport {
            client,
            base: service_proxy_path(namespace, service, port),
        }
    }

    /// Port `port` of pod `pod` in `namespace`, through `client`'s API
    /// server's pod proxy.
    #[must_use]
    pub fn pod(client: kube::Client, namespace: &str, pod: &str, port: u16) -> ProxyTransport {
        ProxyTransport {
            client,
            base: pod_proxy_path(namespace, pod, port),
        }
    }

    /// The proxy path every request path is appended to.
    #[must_use]
    pub fn base_path(&self) -> &str {
        &self.base
    }

    /// The API server path of a Jobs API path.
    #[must_use]
    pub fn path(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `request` (whose URI is a Jobs API path) aimed at the proxy.
    fn prepare(
        &self,
        call: &'static str,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Request<kube::client::Body>, DashboardError> {
        let (mut parts, body) = request.into_parts();
        let path = self.path(parts.uri.path_and_query().map_or("/", |p| p.as_str()));
        parts.uri = path
            .parse()
            .map_err(|err: http::uri::InvalidUri| DashboardError::Url {
                call,
                url: path.clone(),
                reason: err.to_string(),
            })?;
        Ok(http::Request::from_parts(
            parts,
            kube::client::Body::from(body),
        ))
    }

    /// Sends `request` and reads the whole answer.
    ///
    /// # Errors
    /// [`DashboardError::Kube`] if the API server could not be asked,
    /// [`DashboardError::Proxy`] if it answered for itself.
    pub(crate) async fn send(
        &self,
        call: &'static str,
        request: http::Request<Vec<u8>>,
    ) -> Result<Reply, DashboardError> {
        let request = self.prepare(call, request)?;
        let kube_error = |source: kube::Error| DashboardError::Kube {
            call,
            source: Box::new(source),
        };
        let response = self.client.send(request).await.map_err(kube_error)?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(kube_error)?;
        let reply = Reply {
            status,
            body: body.to_bytes().to_vec(),
        };
        match api_server_answer(call, &reply) {
            Some(err) => Err(err),
            None => Ok(reply),
        }
    }
}

/// `/api/v1/namespaces/<namespace>/services/<service>:<port>/proxy`.
#[must_use]
pub fn service_proxy_path(namespace: &str, service: &str, port: &str) -> String {
    format!(
        "/api/v1/namespaces/{}/services/{}:{}/proxy",
        encode_segment(namespace),
        encode_segment(service),
        encode_segment(port)
    )
}

/// `/api/v1/namespaces/<namespace>/pods/<pod>:<port>/proxy`.
#[must_use]
pub fn pod_proxy_path(namespace: &str, pod: &str, port: u16) -> String {
    format!(
        "/api/v1/namespaces/{}/pods/{}:{port}/proxy",
        encode_segment(namespace),
        encode_segment(pod),
    )
}

/// The parts of a Kubernetes `Status` that tell it apart and explain it.
#[derive(Deserialize)]
struct ApiStatus {
    kind: String,
    #[serde(rename = "apiVersion")]
    api_version: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    message: String,
}

/// The error for an answer the API server gave itself, if `reply` is one.
fn api_server_answer(call: &'static str, reply: &Reply) -> Option<DashboardError> {
    if reply.status.is_success() {
        return None;
    }
    let status: ApiStatus = serde_json::from_slice(&reply.body).ok()?;
    if status.kind != "Status" || status.api_version != "v1" {
        return None;
    }
    Some(DashboardError::Proxy {
        call,
        code: reply.status.as_u16(),
        reason: status.reason,
        message: quote_body(status.message.as_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use http::StatusCode;
    use serde_json::json;

    use super::*;
    use crate::dashboard::paths::Route;

    #[test]
    fn the_proxy_path_names_namespace_service_and_port() {
        assert_eq!(
            service_proxy_path("ml", "demo-head-svc", "dashboard"),
            "/api/v1/namespaces/ml/services/demo-head-svc:dashboard/proxy"
        );
        assert_eq!(
            service_proxy_path("ml", "demo-head-svc", "8265"),
            "/api/v1/namespaces/ml/services/demo-head-svc:8265/proxy"
        );
    }

    #[tokio::test]
    async fn the_pod_proxy_path_names_namespace_pod_and_port() {
        assert_eq!(
            pod_proxy_path("ml", "demo-head-x7k2p", 8000),
            "/api/v1/namespaces/ml/pods/demo-head-x7k2p:8000/proxy"
        );
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = kube::Client::try_from(config).unwrap();
        let proxy = ProxyTransport::pod(client, "ml", "demo-head-x7k2p", 8000);
        assert_eq!(
            proxy.path(&Route::serve_healthz().path),
            "/api/v1/namespaces/ml/pods/demo-head-x7k2p:8000/proxy/-/healthz"
        );
    }

    fn reply(code: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(code).unwrap(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn the_api_servers_own_answers_are_proxy_errors() {
        let missing_service = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "services \"demo-head-svc\" not found", "reason": "NotFound",
            "details": {"name": "demo-head-svc", "kind": "services"}, "code": 404
        });
        match api_server_answer("info", &reply(404, &missing_service.to_string())) {
            Some(DashboardError::Proxy {
                call,
                code,
                reason,
                message,
            }) => {
                assert_eq!((call, code, reason.as_str()), ("info", 404, "NotFound"));
                assert_eq!(message, "services \"demo-head-svc\" not found");
            }
            other => panic!("{other:?}"),
        }
        let no_endpoints = json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 503,
            "message": "no endpoints available for service \"demo-head-svc:dashboard\"",
            "reason": "ServiceUnavailable"
        });
        let err = api_server_answer("info", &reply(503, &no_endpoints.to_string())).unwrap();
        assert!(err.is_transient());
    }

    #[test]
    fn rays_answers_pass_through() {
        assert!(api_server_answer("info", &reply(404, "Job job-1 does not exist")).is_none());
        assert!(api_server_answer("info", &reply(500, r#"{"kind": "Job"}"#)).is_none());
        let success_status = json!({"kind": "Status", "apiVersion": "v1"}).to_string();
        assert!(api_server_answer("info", &reply(200, &success_status)).is_none());
    }

    #[tokio::test]
    async fn a_prepared_request_goes_to_the_proxy_path_with_its_headers() {
        // A client that is never used to send: its API server is unreachable.
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = kube::Client::try_from(config).unwrap();
        let proxy = ProxyTransport::new(client, "ml", "demo-head-svc", "dashboard");
        let request = http::Request::builder()
            .method(http::Method::POST)
            .uri(Route::stop("job-1").path)
            .header("x-ray-authorization", "Bearer t")
            .body(Vec::new())
            .unwrap();
        let prepared = proxy.prepare("stop", request).unwrap();
        assert_eq!(prepared.method(), http::Method::POST);
        assert_eq!(
            prepared.uri().path(),
            "/api/v1/namespaces/ml/services/demo-head-svc:dashboard/proxy/api/jobs/job-1/stop"
        );
        assert_eq!(prepared.headers()["x-ray-authorization"], "Bearer t");
    }
}
