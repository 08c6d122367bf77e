//! The health check of one pod's Serve proxy: `GET /-/healthz` on its
//! Serve HTTP port, for the head pod's `ray.io/serve` label.
//!
//! Role: [`ServeProxyProbe`] asks one pod, either directly at
//! `http://<pod ip>:<serve port>` (operator in the cluster) or through the
//! API server's pod proxy (operator outside, [`ProxyTransport::pod`]).
//!
//! Invariants: 200 is [`ProxyHealth::Healthy`] and any other answer of the
//! proxy is [`ProxyHealth::Unhealthy`] with its status and the start of its
//! body: both are values. An unreachable proxy, a timeout, or the API
//! server answering for itself (no such pod) is a [`DashboardError`]
//! naming the call `healthz`; the caller reads that as "not healthy" too.
//! A probe is sent once, bounded by its timeout, with no token (the Serve
//! proxy asks for none): the caller's next pass is the retry.

use std::{net::IpAddr, time::Duration};

use http::{StatusCode, header::ACCEPT};

use super::{
    DashboardError, Transport,
    direct::{DirectTransport, pod_url},
    error::quote_body,
    paths::Route,
    proxy::ProxyTransport,
};

/// What a Serve proxy said about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProxyHealth {
    /// It answered 200.
    Healthy,
    /// It answered, with another status (e.g. 503 while draining).
    Unhealthy {
        /// The HTTP status.
        code: u16,
        /// The start of the answer's body.
        body: String,
    },
}

impl ProxyHealth {
    /// Healthy.
    #[must_use]
    pub fn is_healthy(&self) -> bool {
        matches!(self, ProxyHealth::Healthy)
    }
}

/// A health check of the Serve proxy on one pod.
#[derive(Clone, Debug)]
pub struct ServeProxyProbe {
    transport: Transport,
    timeout: Duration,
}

impl ServeProxyProbe {
    /// A probe over `transport` (its base is the pod's Serve port), with
    /// the transport's timeout.
    #[must_use]
    pub fn new(transport: Transport) -> ServeProxyProbe {
        ServeProxyProbe {
            timeout: transport.default_timeout(),
            transport,
        }
    }

    /// The Serve proxy at `http://<ip>:<port>`, sharing `http`'s
    /// connection pool.
    ///
    /// # Errors
    /// [`DashboardError::BaseUrl`] if the address makes no URL.
    pub fn direct(
        http: reqwest::Client,
        ip: IpAddr,
        port: u16,
    ) -> Result<ServeProxyProbe, DashboardError> {
        let direct = DirectTransport::with_http_client(http, &pod_url(ip, port))?;
        Ok(ServeProxyProbe::new(Transport::Direct(direct)))
    }

    /// The Serve proxy on port `port` of pod `pod`, through the API server.
    #[must_use]
    pub fn through_api_server(
        client: kube::Client,
        namespace: &str,
        pod: &str,
        port: u16,
    ) -> ServeProxyProbe {
        ServeProxyProbe::new(Transport::Proxy(ProxyTransport::pod(
            client, namespace, pod, port,
        )))
    }

    /// The same probe with another timeout.
    #[must_use]
    pub fn with_timeout(self, timeout: Duration) -> ServeProxyProbe {
        ServeProxyProbe { timeout, ..self }
    }

    /// Where the probe goes: a full URL, or an API server path.
    #[must_use]
    pub fn target(&self) -> String {
        self.transport.target(&Route::serve_healthz().path)
    }

    /// Asks the proxy once.
    ///
    /// # Errors
    /// [`DashboardError`] (call `healthz`) when no answer of the proxy
    /// came back: unreachable, timed out, or the API server's own refusal.
    pub async fn check(&self) -> Result<ProxyHealth, DashboardError> {
        let route = Route::serve_healthz();
        let request = http::Request::builder()
            .method(route.method.clone())
            .uri(route.path.as_str())
            .header(ACCEPT, "*/*")
            .body(Vec::new())
            .map_err(|err| DashboardError::Url {
                call: route.call,
                url: route.path.clone(),
                reason: err.to_string(),
            })?;
        let reply = tokio::time::timeout(self.timeout, self.transport.send(route.call, request))
            .await
            .map_err(|_| DashboardError::Timeout {
                call: route.call,
                after: self.timeout,
            })??;
        Ok(if reply.status == StatusCode::OK {
            ProxyHealth::Healthy
        } else {
            ProxyHealth::Unhealthy {
                code: reply.status.as_u16(),
                body: quote_body(&reply.body),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::canned_http::CannedServer;

    fn probe(port: u16) -> ServeProxyProbe {
        ServeProxyProbe::direct(reqwest::Client::new(), [127, 0, 0, 1].into(), port).unwrap()
    }

    fn port_of(server: &CannedServer) -> u16 {
        server.address.rsplit(':').next().unwrap().parse().unwrap()
    }

    #[tokio::test]
    async fn a_200_is_healthy_and_the_probe_asks_healthz() {
        // Ray's proxy answers `success`.
        let server = CannedServer::start(vec![(200, "success".to_owned())]);
        let health = probe(port_of(&server)).check().await.unwrap();
        assert_eq!(health, ProxyHealth::Healthy);
        let requests = server.requests();
        assert!(
            requests[0].starts_with("GET /-/healthz HTTP/1.1\r\n"),
            "{requests:?}"
        );
        assert!(
            !requests[0]
                .to_ascii_lowercase()
                .contains("x-ray-authorization")
        );
    }

    #[tokio::test]
    async fn another_answer_is_unhealthy_with_its_status_and_body() {
        let server = CannedServer::start(vec![(503, "This node is being drained.".to_owned())]);
        let health = probe(port_of(&server)).check().await.unwrap();
        assert!(!health.is_healthy());
        assert_eq!(
            health,
            ProxyHealth::Unhealthy {
                code: 503,
                body: "This node is being drained.".to_owned()
            }
        );
    }

    #[tokio::test]
    async fn no_proxy_is_an_error_naming_healthz() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let err = probe(port).check().await.unwrap_err();
        assert!(
            matches!(
                err,
                DashboardError::Connect {
                    call: "healthz",
                    ..
                }
            ),
            "{err}"
        );

        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = silent.local_addr().unwrap().port();
        let err = probe(port)
            .with_timeout(Duration::from_millis(200))
            .check()
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                DashboardError::Timeout {
                    call: "healthz",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn the_probe_targets_the_pod_directly_or_through_the_pod_proxy() {
        let direct =
            ServeProxyProbe::direct(reqwest::Client::new(), [10, 244, 0, 7].into(), 8000).unwrap();
        assert_eq!(direct.target(), "http://10.244.0.7:8000/-/healthz");
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = kube::Client::try_from(config).unwrap();
        let proxied = ServeProxyProbe::through_api_server(client, "ml", "demo-head-x7k2p", 8000);
        assert_eq!(
            proxied.target(),
            "/api/v1/namespaces/ml/pods/demo-head-x7k2p:8000/proxy/-/healthz"
        );
    }
}
