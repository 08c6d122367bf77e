//! [`TestEnv`]: what a test gets — a client, a kubeconfig, a namespace of its
//! own — and the one control plane shared by all tests of a test binary.
//!
//! The shared plane is started lazily by the first test that asks, on a
//! dedicated thread with its own tokio runtime (each `#[tokio::test]` has its
//! own runtime, which ends with the test), and kept in a static for the rest
//! of the process. Its components die with the test process (see
//! [`crate::process`]). Clients are never shared: every [`TestEnv`] builds a
//! fresh one from the kubeconfig in the caller's runtime.
//!
//! With `RAYOP_TEST_KUBECONFIG=<path>` no plane is started and the same tests
//! run against that cluster.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::{self, Scope};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::binaries::Binaries;
use crate::plane::ControlPlane;
use crate::process::Lifetime;

/// Environment variable naming an existing cluster's kubeconfig to test
/// against instead of starting a plane.
pub const KUBECONFIG_ENV: &str = "RAYOP_TEST_KUBECONFIG";

/// Label put on every namespace made by [`TestEnv::namespace`].
pub const TEST_NAMESPACE_LABEL: &str = "rayop.dev/test-namespace";

/// Field manager of the harness's server-side applies.
pub const FIELD_MANAGER: &str = "rayop-testenv";

enum Shared {
    Local(Box<ControlPlane>),
    External(PathBuf),
}

static SHARED: OnceLock<std::result::Result<Shared, String>> = OnceLock::new();

/// A test's handle on the control plane.
#[derive(Clone)]
pub struct TestEnv {
    client: Client,
    kubeconfig: PathBuf,
    plane: Option<&'static ControlPlane>,
}

impl TestEnv {
    /// The control plane shared by this test binary (started on first use, or
    /// the cluster of `RAYOP_TEST_KUBECONFIG`), with a fresh admin client for
    /// the calling runtime.
    pub async fn shared() -> Result<TestEnv> {
        let shared = tokio::task::spawn_blocking(shared_plane)
            .await
            .map_err(|e| anyhow!("starting the shared control plane: {e}"))??;
        let (kubeconfig, plane) = match shared {
            Shared::Local(p) => (p.kubeconfig().to_path_buf(), Some(&**p)),
            Shared::External(path) => (path.clone(), None),
        };
        let client = crate::kubeconfig::client(&kubeconfig).await?;
        Ok(TestEnv {
            client,
            kubeconfig,
            plane,
        })
    }

    /// An admin client (cheap to clone; bound to the runtime that made this
    /// `TestEnv`).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The kubeconfig the client uses: the local plane's, or [`KUBECONFIG_ENV`]'s.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The local plane, or `None` when testing an existing cluster.
    pub fn control_plane(&self) -> Option<&'static ControlPlane> {
        self.plane
    }

    /// The built `kubectl` (`kubectl` from `PATH` for an existing cluster
    /// when nothing was built).
    pub fn kubectl_path(&self) -> PathBuf {
        match self.plane {
            Some(p) => p.binaries().kubectl.clone(),
            None => PathBuf::from("kubectl"),
        }
    }

    /// A `kubectl` command already pointed at this cluster.
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new(self.kubectl_path());
        cmd.env("KUBECONFIG", &self.kubeconfig);
        cmd
    }

    /// Starts the local plane's process node, where pods run as real
    /// processes with real Ray (see [`crate::process_node`]), and cordons the
    /// fake nodes. Against an existing cluster this fails: such tests need
    /// the local plane.
    pub async fn start_process_node(&self) -> Result<()> {
        match self.plane {
            Some(plane) => plane.start_process_node().await,
            None => {
                bail!("the process node needs the local control plane (unset {KUBECONFIG_ENV})")
            }
        }
    }

    /// Starts the local plane's second kube-scheduler, which schedules pods
    /// whose `schedulerName` is one of [`crate::batch_schedulers::PROFILES`]
    /// (no gang scheduling); see [`crate::batch_schedulers`]. Against an
    /// existing cluster this does nothing: that cluster must run those
    /// schedulers itself.
    pub async fn start_batch_schedulers(&self) -> Result<()> {
        match self.plane {
            Some(plane) => plane.start_batch_schedulers().await,
            None => Ok(()),
        }
    }

    /// Creates a fresh namespace `<prefix>-<unique suffix>` for one test,
    /// waits until it can take pods (its `default` ServiceAccount exists),
    /// and returns its name. Namespaces are left behind (they die with the plane)
    /// and carry the label [`TEST_NAMESPACE_LABEL`] for clean-up on existing
    /// clusters.
    pub async fn namespace(&self, prefix: &str) -> Result<String> {
        let name = unique_name(prefix);
        let ns: Namespace = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": { "name": name, "labels": { TEST_NAMESPACE_LABEL: "true" } },
        }))?;
        Api::<Namespace>::all(self.client())
            .create(&PostParams::default(), &ns)
            .await
            .with_context(|| format!("creating namespace {name}"))?;
        // Pods are refused until the namespace's `default` ServiceAccount
        // exists; the ServiceAccount controller creates it asynchronously.
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client(), &name);
        wait_until(
            &format!("ServiceAccount {name}/default"),
            Duration::from_secs(60),
            || async { Ok(accounts.get_opt("default").await?.is_some()) },
        )
        .await?;
        Ok(name)
    }

    /// Server-side-applies every CustomResourceDefinition in the `*.yaml` /
    /// `*.yml` files of `dir` and waits until each is Established. Returns the
    /// CRD names.
    pub async fn apply_crd(&self, dir: &Path) -> Result<Vec<String>> {
        let api: Api<CustomResourceDefinition> = Api::all(self.client());
        let mut names = Vec::new();
        for file in yaml_files(dir)? {
            for doc in crate::yaml::documents(&file)? {
                let crd: CustomResourceDefinition = serde_json::from_value(doc)
                    .with_context(|| format!("{} holds a non-CRD document", file.display()))?;
                let name = crd.name_any();
                api.patch(&name, &apply_params(), &Patch::Apply(&crd))
                    .await
                    .with_context(|| format!("applying CRD {name} from {}", file.display()))?;
                names.push(name);
            }
        }
        if names.is_empty() {
            bail!("no CRD found in {}", dir.display());
        }
        for name in &names {
            wait_until(
                &format!("CRD {name} Established"),
                Duration::from_secs(60),
                || async {
                    let crd = api.get(name).await?;
                    let established = crd.status.and_then(|s| s.conditions).is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c.type_ == "Established" && c.status == "True")
                    });
                    Ok(established)
                },
            )
            .await?;
        }
        Ok(names)
    }

    /// Server-side-applies every object of a YAML file (multi-document),
    /// in `namespace` for namespaced kinds that name none. Returns the
    /// applied objects as the server stored them.
    pub async fn apply_yaml(
        &self,
        path: &Path,
        namespace: Option<&str>,
    ) -> Result<Vec<DynamicObject>> {
        let mut applied = Vec::new();
        for doc in crate::yaml::documents(path)? {
            let obj: DynamicObject = serde_json::from_value(doc).with_context(|| {
                format!(
                    "{} holds a document without apiVersion/kind",
                    path.display()
                )
            })?;
            let types = obj.types.clone().with_context(|| {
                format!("{}: a document has no apiVersion/kind", path.display())
            })?;
            let gvk = kube::api::GroupVersionKind::try_from(&types)?;
            let (resource, caps) = discovery::pinned_kind(&self.client(), &gvk)
                .await
                .with_context(|| format!("discovering {}/{}", types.api_version, types.kind))?;
            let api: Api<DynamicObject> = match caps.scope {
                Scope::Cluster => Api::all_with(self.client(), &resource),
                Scope::Namespaced => match obj.metadata.namespace.as_deref().or(namespace) {
                    Some(ns) => Api::namespaced_with(self.client(), ns, &resource),
                    None => Api::default_namespaced_with(self.client(), &resource),
                },
            };
            let name = obj.name_any();
            let out = api
                .patch(&name, &apply_params(), &Patch::Apply(&obj))
                .await
                .with_context(|| {
                    format!("applying {} {name} from {}", types.kind, path.display())
                })?;
            applied.push(out);
        }
        Ok(applied)
    }
}

fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}

/// Polls `check` (pausing briefly between polls) until it returns `true`,
/// failing with the last error after `timeout`.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = match check().await {
            Ok(true) => return Ok(()),
            Ok(false) => String::from("condition false"),
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}: {last}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `<prefix>-<pid base36><counter>`, unique in this cluster across test
/// processes, at most 63 characters.
fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let suffix = format!(
        "{}{}{}",
        base36(u64::from(std::process::id())),
        base36(n),
        base36(u64::from(nanos % 1296))
    );
    let mut prefix: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    prefix.truncate(62 - suffix.len());
    format!("{}-{suffix}", prefix.trim_matches('-'))
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Blocking: the shared plane, started on first call.
fn shared_plane() -> Result<&'static Shared> {
    SHARED
        .get_or_init(|| init_shared().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("the shared control plane failed to start: {e}"))
}

fn init_shared() -> Result<Shared> {
    if let Some(path) = std::env::var_os(KUBECONFIG_ENV).filter(|v| !v.is_empty()) {
        return Ok(Shared::External(PathBuf::from(path)));
    }
    let binaries = Binaries::ensure_built()?;
    let dir = crate::tempdir::fresh("rayop-testenv")?;
    // A thread of our own with a runtime of our own: the caller is a tokio
    // blocking-pool thread, and the plane must not depend on any test's runtime.
    let handle = std::thread::Builder::new()
        .name("rayop-testenv-start".into())
        .spawn(move || -> Result<Shared> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let started = Instant::now();
            let plane = rt.block_on(ControlPlane::start(
                &dir,
                binaries,
                Lifetime::TiedToTestProcess,
                false,
            ))?;
            eprintln!(
                "rayop-testenv: control plane ready in {:.1}s at {} (kubeconfig {})",
                started.elapsed().as_secs_f64(),
                plane.apiserver_url(),
                plane.kubeconfig().display()
            );
            Ok(Shared::Local(Box::new(plane)))
        })?;
    handle
        .join()
        .map_err(|_| anyhow!("the control-plane start-up thread panicked"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_are_dns_labels_and_distinct() {
        let a = unique_name("My_Test");
        let b = unique_name("My_Test");
        assert_ne!(a, b);
        assert!(a.starts_with("my-test-"), "{a}");
        let long = unique_name(&"x".repeat(100));
        assert!(long.len() <= 63, "{}", long.len());
        assert!(
            long.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }

    #[test]
    fn base36_digits() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }
}
