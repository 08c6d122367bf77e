//! The five components, their command lines, and their readiness checks.
//!
//! Everything listens on 127.0.0.1 only. The command lines are the one place
//! that knows component flags; both the test harness and `deploy/local/up.sh`
//! (through the `rayop-local` binary) start components from here.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::{Namespace, Node, ServiceAccount};
use kube::Client;
use kube::api::{Api, ListParams};

use crate::binaries::Binaries;
use crate::certs::CertPaths;

/// Pod IPs kwok hands out: a /12, about a million addresses, so scale tests
/// never run out (kwok's default /24 holds 254 pods).
pub const POD_CIDR: &str = "10.64.0.0/12";

/// ClusterIPs of Services: a /24, so only about 250 Services with a ClusterIP fit.
pub const SERVICE_CIDR: &str = "10.0.0.0/24";

/// The controllers kube-controller-manager runs: what rayop's objects need
/// (ServiceAccounts and tokens, namespaces, garbage collection, Deployments,
/// ReplicaSets, StatefulSets, HPAs, Jobs, PV/PVC binding and protection,
/// aggregated ClusterRoles,
/// EndpointSlices for Services, the v1 Endpoints the API server's service
/// proxy resolves a Service through (rayop reaches a RayJob's dashboard that
/// way when it runs outside the cluster), the root-CA ConfigMap, PDB status)
/// and nothing that needs real nodes or a cloud.
pub const CONTROLLERS: &[&str] = &[
    "serviceaccount-token-controller",
    "serviceaccount-controller",
    "clusterrole-aggregation-controller",
    "root-ca-certificate-publisher-controller",
    "namespace-controller",
    "garbage-collector-controller",
    "deployment-controller",
    "replicaset-controller",
    "statefulset-controller",
    "horizontal-pod-autoscaler-controller",
    "job-controller",
    "disruption-controller",
    "endpointslice-controller",
    "endpoints-controller",
    "persistentvolume-binder-controller",
    "persistentvolume-protection-controller",
    "persistentvolumeclaim-protection-controller",
    "pod-garbage-collector-controller",
];

/// How often the HPA controller reconciles (default 15s; short for tests).
pub const HPA_SYNC_PERIOD: &str = "2s";

/// One of the control plane's processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// etcd, the store; started first, listening on plain HTTP on loopback.
    Etcd,
    /// kube-apiserver, on HTTPS with the plane's PKI.
    ApiServer,
    /// kube-controller-manager, running only [`CONTROLLERS`].
    ControllerManager,
    /// kube-scheduler, scheduling onto the fake nodes.
    Scheduler,
    /// kwok, playing kubelets for the fake nodes.
    Kwok,
}

impl Component {
    /// All components in start order: etcd and kube-apiserver first, each ready before the rest
    /// start.
    pub const ALL: [Component; 5] = [
        Component::Etcd,
        Component::ApiServer,
        Component::ControllerManager,
        Component::Scheduler,
        Component::Kwok,
    ];

    /// The component's name, also its log file's stem.
    pub fn name(self) -> &'static str {
        match self {
            Component::Etcd => "etcd",
            Component::ApiServer => "kube-apiserver",
            Component::ControllerManager => "kube-controller-manager",
            Component::Scheduler => "kube-scheduler",
            Component::Kwok => "kwok",
        }
    }

    /// The binary to run, from the built [`Binaries`].
    pub fn program(self, bins: &Binaries) -> &Path {
        match self {
            Component::Etcd => &bins.etcd,
            Component::ApiServer => &bins.kube_apiserver,
            Component::ControllerManager => &bins.kube_controller_manager,
            Component::Scheduler => &bins.kube_scheduler,
            Component::Kwok => &bins.kwok,
        }
    }
}

/// Loopback ports of one plane, all distinct, chosen fresh per start.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// etcd client URL port (`http://127.0.0.1:<port>`).
    pub etcd_client: u16,
    /// etcd peer URL port, chosen like the others so two planes never clash.
    pub etcd_peer: u16,
    /// kube-apiserver secure port: the plane's `https://127.0.0.1:<port>`.
    pub apiserver: u16,
    /// kube-controller-manager secure port, serving only `/healthz` and the like.
    pub controller_manager: u16,
    /// kube-scheduler secure port, serving only `/healthz` and the like.
    pub scheduler: u16,
}

impl Ports {
    /// Fresh distinct free ports; another process may still take one before it is bound.
    pub fn free() -> Result<Ports> {
        let [
            etcd_client,
            etcd_peer,
            apiserver,
            controller_manager,
            scheduler,
        ] = crate::ports::free_ports::<5>()?;
        Ok(Ports {
            etcd_client,
            etcd_peer,
            apiserver,
            controller_manager,
            scheduler,
        })
    }
}

/// Where one plane keeps its files.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The plane's directory; everything below is inside it.
    pub dir: PathBuf,
    /// The plane's PKI, generated fresh for this plane.
    pub certs: CertPaths,
    /// The admin kubeconfig (also used by the components).
    pub kubeconfig: PathBuf,
    /// The directory of one `<component>.log` per component.
    pub logs: PathBuf,
    /// etcd's data directory, inside the plane's; a retried start begins with it empty.
    pub etcd_data: PathBuf,
}

impl Layout {
    /// The log file of a component.
    pub fn log(&self, c: Component) -> PathBuf {
        self.logs.join(format!("{}.log", c.name()))
    }
}

/// The command-line arguments of `c`: the one place its flags are set.
pub fn args(c: Component, layout: &Layout, ports: &Ports, bins: &Binaries) -> Vec<String> {
    let certs = &layout.certs;
    let kc = layout.kubeconfig.display().to_string();
    let p = |path: &Path| path.display().to_string();
    let etcd_client = format!("http://127.0.0.1:{}", ports.etcd_client);
    let etcd_peer = format!("http://127.0.0.1:{}", ports.etcd_peer);
    // Flags shared by the two components that serve only /healthz & co.
    let secure_serving = |port: u16| {
        vec![
            format!("--kubeconfig={kc}"),
            // No --authentication/authorization-kubeconfig: their /healthz is
            // always allowed, and delegated authn would log errors forever
            // about the request-header CA this plane does not use.
            "--leader-elect=false".to_string(),
            "--bind-address=127.0.0.1".to_string(),
            format!("--secure-port={port}"),
            format!("--tls-cert-file={}", p(&certs.serving_cert)),
            format!("--tls-private-key-file={}", p(&certs.serving_key)),
        ]
    };
    match c {
        Component::Etcd => vec![
            "--name=rayop".to_string(),
            format!("--data-dir={}", p(&layout.etcd_data)),
            format!("--listen-client-urls={etcd_client}"),
            format!("--advertise-client-urls={etcd_client}"),
            format!("--listen-peer-urls={etcd_peer}"),
            format!("--initial-advertise-peer-urls={etcd_peer}"),
            format!("--initial-cluster=rayop={etcd_peer}"),
            // Tests never need durability; fsync dominates etcd latency.
            "--unsafe-no-fsync=true".to_string(),
            "--log-level=warn".to_string(),
        ],
        Component::ApiServer => vec![
            format!("--etcd-servers={etcd_client}"),
            "--bind-address=127.0.0.1".to_string(),
            "--advertise-address=127.0.0.1".to_string(),
            format!("--secure-port={}", ports.apiserver),
            // Never written (we pass our own serving cert) but keeps the
            // default /var/run/kubernetes out of the picture.
            format!("--cert-dir={}", p(&layout.dir.join("apiserver-cert-dir"))),
            format!("--tls-cert-file={}", p(&certs.serving_cert)),
            format!("--tls-private-key-file={}", p(&certs.serving_key)),
            format!("--client-ca-file={}", p(&certs.ca_cert)),
            format!("--service-cluster-ip-range={SERVICE_CIDR}"),
            "--allow-privileged=true".to_string(),
            "--authorization-mode=RBAC".to_string(),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".to_string(),
            format!("--service-account-key-file={}", p(&certs.sa_pub)),
            format!("--service-account-signing-key-file={}", p(&certs.sa_key)),
            // The `kubernetes` Service would get 127.0.0.1 as endpoint, which
            // Endpoints validation rejects (loopback) — error logs forever.
            "--endpoint-reconciler-type=none".to_string(),
            // This plugin taints every new Node not-ready; only the
            // node-lifecycle controller (which needs real kubelet leases)
            // removes the taint. kwok's nodes are Ready from the start.
            "--disable-admission-plugins=TaintNodesByCondition".to_string(),
            "--profiling=false".to_string(),
        ],
        Component::ControllerManager => {
            let mut a = secure_serving(ports.controller_manager);
            a.extend([
                format!("--root-ca-file={}", p(&certs.ca_cert)),
                format!("--service-account-private-key-file={}", p(&certs.sa_key)),
                format!("--controllers={}", CONTROLLERS.join(",")),
                format!("--horizontal-pod-autoscaler-sync-period={HPA_SYNC_PERIOD}"),
                "--kube-api-qps=200".to_string(),
                "--kube-api-burst=400".to_string(),
                "--profiling=false".to_string(),
            ]);
            a
        }
        Component::Scheduler => {
            let mut a = secure_serving(ports.scheduler);
            a.push("--profiling=false".to_string());
            a
        }
        Component::Kwok => vec![
            format!("--kubeconfig={kc}"),
            // Only the fake nodes: the process node runs its own pods.
            "--manage-all-nodes=false".to_string(),
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake".to_string(),
            format!("--config={}", p(&bins.kwok_stages)),
            format!("--cidr={POD_CIDR}"),
        ],
    }
}

/// One readiness probe: `Ok(())` when ready, `Err(why not)` otherwise.
pub async fn probe(c: Component, layout: &Layout, ports: &Ports) -> Result<()> {
    match c {
        Component::Etcd => {
            let body = plain_http_get(ports.etcd_client, "/health")?;
            if !body.contains(r#""health":"true""#) {
                bail!("etcd /health says {body}");
            }
            Ok(())
        }
        Component::ApiServer => {
            let client = crate::kubeconfig::client(&layout.kubeconfig).await?;
            let readyz = client
                .request_text(http::Request::get("/readyz").body(Vec::new())?)
                .await
                .context("GET /readyz")?;
            if readyz.trim() != "ok" {
                bail!("/readyz says {readyz}");
            }
            Api::<Namespace>::all(client)
                .get("default")
                .await
                .context("namespace default")?;
            Ok(())
        }
        Component::ControllerManager => {
            healthz(layout, ports.controller_manager).await?;
            // The ServiceAccount controller has run: pods can be admitted.
            let client = crate::kubeconfig::client(&layout.kubeconfig).await?;
            Api::<ServiceAccount>::namespaced(client, "default")
                .get("default")
                .await
                .context("ServiceAccount default/default")?;
            Ok(())
        }
        Component::Scheduler => healthz(layout, ports.scheduler).await,
        Component::Kwok => {
            let client = crate::kubeconfig::client(&layout.kubeconfig).await?;
            nodes_ready(&client).await
        }
    }
}

/// `Ok` when every node exists and reports Ready=True (kwok plays them).
pub async fn nodes_ready(client: &Client) -> Result<()> {
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    if nodes.items.is_empty() {
        bail!("no nodes yet");
    }
    for n in &nodes.items {
        let ready = n
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if !ready {
            bail!(
                "node {} not Ready yet",
                n.metadata.name.as_deref().unwrap_or("?")
            );
        }
    }
    Ok(())
}

/// GET https://127.0.0.1:port/healthz, trusting the plane's CA.
pub async fn healthz(layout: &Layout, port: u16) -> Result<()> {
    let mut config = crate::kubeconfig::config(&layout.kubeconfig).await?;
    config.cluster_url = format!("https://127.0.0.1:{port}").parse()?;
    let client = Client::try_from(config)?;
    let body = client
        .request_text(http::Request::get("/healthz").body(Vec::new())?)
        .await
        .with_context(|| format!("GET https://127.0.0.1:{port}/healthz"))?;
    if body.trim() != "ok" {
        bail!("/healthz says {body}");
    }
    Ok(())
}

/// A minimal HTTP/1.0 GET on loopback (etcd serves plain HTTP); the body of a
/// 200 response.
fn plain_http_get(port: u16, path: &str) -> Result<String> {
    let timeout = Duration::from_secs(2);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        bail!(
            "GET {path}: {}",
            head.lines().next().unwrap_or("no status line")
        );
    }
    Ok(body.to_string())
}
