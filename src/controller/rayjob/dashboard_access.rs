//! How the RayJob controller reaches a cluster's dashboard: directly at the
//! head Service (rayop runs in the cluster), or through the API server's
//! service proxy (rayop runs outside it, like KubeRay's
//! `--use-kubernetes-proxy`), with the cluster's token under token
//! authentication.
//!
//! Invariant: one HTTP client is shared by every direct call, so
//! connections are pooled; the token is read from its Secret at each use
//! and never kept or journaled.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client, ResourceExt};

use super::error::JobApplyError;
use crate::{
    build::{BuildOptions, ClusterContext, auth::AUTH_TOKEN_KEY, auth::token_secret_name, rayjob},
    crd::RayCluster,
    dashboard::{
        DashboardClient, DashboardError, DashboardToken, DirectTransport, ProxyTransport, Transport,
    },
};

/// Which way dashboards are reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Reach {
    /// In the cluster, the head Service's DNS name; outside, the proxy.
    #[default]
    Auto,
    /// The head Service's DNS name, over plain HTTP.
    Direct,
    /// The API server's service proxy.
    Proxy,
}

impl Reach {
    /// `Auto` resolved: direct when running in a pod.
    #[must_use]
    pub fn resolved(self) -> Reach {
        match self {
            Reach::Auto if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() => Reach::Direct,
            Reach::Auto => Reach::Proxy,
            other => other,
        }
    }
}

/// The dashboards of RayJob clusters.
#[derive(Clone)]
pub struct Dashboards {
    /// Which way.
    pub reach: Reach,
    /// The shared HTTP client of direct calls; `None` if it could not be
    /// made, and then each call makes its own (and reports why it cannot).
    pub http: Option<reqwest::Client>,
    /// Build options (the cluster domain).
    pub options: BuildOptions,
}

impl Dashboards {
    /// The dashboard's `host:port` (no scheme), as `status.dashboardURL`
    /// and the submitter use it.
    ///
    /// # Errors
    /// When the cluster's head Service cannot be built.
    pub fn address(&self, cluster: &RayCluster) -> Result<String, JobApplyError> {
        Ok(rayjob::dashboard_address(cluster, &self.options)?)
    }

    /// A Jobs API client for `cluster`'s dashboard.
    ///
    /// # Errors
    /// When the address cannot be built or the token Secret cannot be read.
    pub async fn client_for(
        &self,
        client: &Client,
        cluster: &RayCluster,
    ) -> Result<DashboardClient, JobApplyError> {
        let address = self.address(cluster)?;
        let transport = match self.reach.resolved() {
            Reach::Proxy => {
                let namespace = cluster.namespace().unwrap_or_default();
                let service = cluster.spec.head_service_name(&cluster.name_any());
                let port = address.rsplit_once(':').map_or("8265", |(_, p)| p);
                Transport::Proxy(ProxyTransport::new(
                    client.clone(),
                    &namespace,
                    &service,
                    port,
                ))
            }
            Reach::Direct | Reach::Auto => {
                let base = format!("http://{address}");
                Transport::Direct(match &self.http {
                    Some(http) => DirectTransport::with_http_client(http.clone(), &base)?,
                    None => DirectTransport::new(&base)?,
                })
            }
        };
        Ok(DashboardClient::new(
            transport,
            self.token(client, cluster).await?,
        ))
    }

    async fn token(
        &self,
        client: &Client,
        cluster: &RayCluster,
    ) -> Result<Option<DashboardToken>, JobApplyError> {
        let ctx = ClusterContext::new(cluster, &self.options)
            .map_err(|e| JobApplyError::Build(rayjob::JobBuildError::from(e)))?;
        let Some(secret) = token_secret_name(&ctx) else {
            return Ok(None);
        };
        let namespace = cluster.namespace().unwrap_or_default();
        let live = Api::<Secret>::namespaced(client.clone(), &namespace)
            .get_opt(&secret)
            .await
            .map_err(|source| JobApplyError::Api {
                step: "get",
                kind: "Secret",
                name: secret.clone(),
                source,
            })?;
        let bytes = live
            .and_then(|s| s.data)
            .and_then(|mut d| d.remove(AUTH_TOKEN_KEY))
            .ok_or(DashboardError::Token {
                reason: "the token Secret has no auth_token",
            })?;
        Ok(Some(DashboardToken::from_secret_bytes(&bytes.0)?))
    }
}
