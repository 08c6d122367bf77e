//! An opt-in node whose pods run as real processes: `rayop-process-node`
//! (built by `deploy/local/process-node.sh` from the Go module in
//! `deploy/local/modules/process-node/`), with Ray images mapped to the
//! pinned Ray virtual environment of `deploy/local/ray-venv.sh`.
//!
//! Starting it cordons kwok's fake nodes, so every pod created afterwards in
//! that plane lands on the process node and really runs.
//!
//! Invariants: at most one per plane; each gets a subnet `10.213.<n>.0/24`
//! and bridge `rayop-pn<n>` of its own, claimed by an advisory lock held for
//! the node's life, so two planes on one machine never share addresses; it is
//! stopped with SIGTERM (also when the test process dies), and then removes
//! every pod process, namespace and address it made.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Node;
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;

use crate::process::{Lifetime, Process};
use crate::scripts::local_script_path;

/// The process node's name.
pub const NODE_NAME: &str = "rayop-process-node";
/// Label the process node carries (value `"true"`), for node selectors.
pub const NODE_LABEL: &str = "rayop.dev/process-node";
/// CPU the node offers to the scheduler (nothing enforces it): room for a
/// few clusters' default requests.
pub const CPU: &str = "32";
/// Memory the node offers to the scheduler (nothing enforces it).
pub const MEMORY: &str = "128Gi";
/// How long pods may take to stop when the node stops.
pub const STOP_GRACE: Duration = Duration::from_secs(40);
/// Subnets tried, as the third octet of `10.213.<n>.0/24` (250 and up are
/// left to the process node's own tests).
const SUBNETS: std::ops::RangeInclusive<u8> = 1..=249;

/// A running process node.
#[derive(Debug)]
pub struct ProcessNode {
    process: Process,
    /// Held for the node's life: the claim on its subnet.
    _subnet_lock: File,
    subnet: u8,
}

impl ProcessNode {
    /// Builds what is missing, starts the node against the plane whose admin
    /// kubeconfig is `kubeconfig` and API server port is `apiserver_port`,
    /// waits until the Node is Ready and cordons every other node.
    pub async fn start(
        client: &Client,
        kubeconfig: &Path,
        apiserver_port: u16,
        dir: &Path,
        lifetime: Lifetime,
    ) -> Result<ProcessNode> {
        let binary = local_script_path("process-node.sh", &[])?;
        let venv = ray_venv()?;
        let modern = ray_venv_of(MODERN_RAY)?;
        let (subnet, lock) = claim_subnet()?;
        let [listen] = crate::ports::free_ports::<1>()?;
        std::fs::create_dir_all(dir)?;
        let args = args(
            kubeconfig,
            apiserver_port,
            subnet,
            listen,
            &venv,
            &modern,
            dir,
        );
        let process = Process::spawn_graceful(
            NODE_NAME,
            &binary,
            &args,
            &dir.join("process-node.log"),
            lifetime,
        )?;
        let mut node = ProcessNode {
            process,
            _subnet_lock: lock,
            subnet,
        };
        node.wait_ready(client).await?;
        cordon_others(client).await?;
        Ok(node)
    }

    /// The node's pod subnet, `10.213.<n>.0/24`.
    pub fn cidr(&self) -> String {
        format!("10.213.{}.0/24", self.subnet)
    }

    /// The node's log file.
    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }

    /// The node process's pid.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Hands the running node over (for `deploy/local/up.sh`); returns its pid.
    pub fn release(self) -> u32 {
        self.process.release()
    }

    /// Stops the node: its pods get their grace period, then it cleans up.
    pub fn stop(mut self) -> Result<()> {
        self.process.stop(STOP_GRACE)
    }

    async fn wait_ready(&mut self, client: &Client) -> Result<()> {
        let nodes: Api<Node> = Api::all(client.clone());
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.process.exited() {
                bail!(
                    "{NODE_NAME} exited ({status}); last lines of {}:\n{}",
                    self.log_path().display(),
                    self.process.log_tail(40)
                );
            }
            let ready = nodes.get_opt(NODE_NAME).await?.is_some_and(|n| {
                n.status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            });
            if ready {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                bail!(
                    "{NODE_NAME} is not Ready after 120s; last lines of {}:\n{}",
                    self.log_path().display(),
                    self.process.log_tail(40)
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A recent Ray, for features older Ray lacks (token authentication needs
/// 2.52): images `rayproject/ray:2.60*` run it.
pub const MODERN_RAY: &str = "2.60.0";

/// The pinned Ray virtual environment (`RAY_VERSION` of
/// `deploy/local/versions.env`, the seed's; built on first use, cached after).
pub fn ray_venv() -> Result<PathBuf> {
    local_script_path("ray-venv.sh", &[])
}

/// The virtual environment of Ray `version` (built on first use, cached after).
pub fn ray_venv_of(version: &str) -> Result<PathBuf> {
    local_script_path("ray-venv.sh", &[version])
}

/// `redis-server` from Debian (installed on first use).
pub fn redis_server() -> Result<PathBuf> {
    local_script_path("redis.sh", &[])
}

/// The node's command line.
fn args(
    kubeconfig: &Path,
    apiserver_port: u16,
    subnet: u8,
    listen: u16,
    venv: &Path,
    modern: &Path,
    dir: &Path,
) -> Vec<String> {
    let venv = venv.display();
    let modern = modern.display();
    let modern_tag = MODERN_RAY
        .rsplit_once('.')
        .map_or(MODERN_RAY, |(minor, _)| minor);
    vec![
        format!("--kubeconfig={}", kubeconfig.display()),
        format!("--node-name={NODE_NAME}"),
        format!("--bridge=rayop-pn{subnet}"),
        format!("--cidr=10.213.{subnet}.0/24"),
        format!("--apiserver=127.0.0.1:{apiserver_port}"),
        // The first matching pattern wins: a 2.60 image runs the recent
        // Ray, every other Ray image the pinned one.
        format!("--image-map=rayproject/ray:{modern_tag}*={modern}"),
        format!("--image-map=docker.io/rayproject/ray:{modern_tag}*={modern}"),
        format!("--image-map=rayproject/ray*={venv}"),
        format!("--image-map=docker.io/rayproject/ray*={venv}"),
        // Redis images run Debian's redis-server (`deploy/local/redis.sh`).
        "--image-map=redis*=host".to_string(),
        "--image-map=docker.io/library/redis*=host".to_string(),
        format!("--state-dir={}", dir.join("pods").display()),
        format!("--listen=127.0.0.1:{listen}"),
        format!("--cpu={CPU}"),
        format!("--memory={MEMORY}"),
        "--pods=50".to_string(),
    ]
}

/// Claims the first free subnet by an advisory lock under the cache dir.
fn claim_subnet() -> Result<(u8, File)> {
    let dir = cache_dir().join("process-node");
    std::fs::create_dir_all(&dir)?;
    for n in SUBNETS {
        // A bridge still present belongs to a node that is still cleaning
        // up (or crashed): leave that subnet alone.
        if Path::new(&format!("/sys/class/net/rayop-pn{n}")).exists() {
            continue;
        }
        let file = File::create(dir.join(format!("subnet-{n}.lock")))?;
        if file.try_lock().is_ok() {
            return Ok((n, file));
        }
    }
    bail!(
        "every process-node subnet is taken (locks under {})",
        dir.display()
    )
}

fn cache_dir() -> PathBuf {
    std::env::var_os("RAYOP_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/rayop")))
        .unwrap_or_else(|| PathBuf::from("/tmp/rayop-cache"))
}

/// Marks every node but the process node unschedulable.
async fn cordon_others(client: &Client) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    for node in nodes.list(&ListParams::default()).await? {
        let name = node.metadata.name.unwrap_or_default();
        if name != NODE_NAME {
            nodes
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({ "spec": { "unschedulable": true } })),
                )
                .await
                .with_context(|| format!("cordoning node {name}"))?;
        }
    }
    Ok(())
}
