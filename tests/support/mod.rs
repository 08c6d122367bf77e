//! Shared helpers of the operator's end-to-end tests: a namespace with the
//! CRD installed, an in-process operator scoped to it, RayCluster builders
//! and polling waits.
#![allow(
    dead_code,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod fixtures;
pub mod pruning;
pub mod real_ray;

use std::{path::PathBuf, sync::Arc, time::Duration};

use anyhow::{Context as _, Result, bail};
use k8s_openapi::api::{
    apps::v1::{Deployment, StatefulSet},
    core::v1::Pod,
};
use kube::{
    Api, Client, ResourceExt,
    api::{ListParams, Patch, PatchParams, PostParams},
};
use rayop::{
    controller::{self, Handles, Settings},
    crd::{RayCluster, status::Phase},
    journaling::{JournalHandle, Opened},
    record::Record,
};
use rayop_testenv::{TestEnv, wait_until};
use tokio::{sync::oneshot, task::JoinHandle};

/// How long any wait may take.
pub const TIMEOUT: Duration = Duration::from_secs(90);

/// The repository root: the working directory cargo runs tests in, or the
/// directory the test was compiled in (a shared target dir may hold a binary
/// built from another checkout).
pub fn repo() -> PathBuf {
    std::env::current_dir()
        .ok()
        .filter(|d| d.join("deploy/crd").is_dir())
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// The shared control plane with the CRD installed, and a fresh namespace.
pub async fn setup(prefix: &str) -> Result<(TestEnv, String)> {
    let env = TestEnv::shared().await?;
    env.apply_crd(&repo().join("deploy/crd")).await?;
    let ns = env.namespace(prefix).await?;
    Ok((env, ns))
}

/// `rayop run` as its own process, watching `ns` with its journal in
/// `journal` and its log appended to `log`; killed when dropped.
pub fn operator_process(
    kubeconfig: &std::path::Path,
    ns: &str,
    journal: &std::path::Path,
    log: &std::path::Path,
) -> Result<tokio::process::Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    Ok(tokio::process::Command::new(env!("CARGO_BIN_EXE_rayop"))
        .args(["run", "--namespace", ns, "--resync-seconds", "5"])
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--journal")
        .arg(journal)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()?)
}

/// An operator running in this test's runtime, watching `namespaces`.
pub struct Operator {
    pub handles: Handles,
    pub journal_dir: Option<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Operator {
    pub async fn start(client: Client, namespaces: &[&str]) -> Result<Operator> {
        let options = rayop_journal::Options::default();
        Self::start_with(client, namespaces, options, Settings::default()).await
    }

    /// Like [`Operator::start`], with journal options and settings of the test's choosing.
    pub async fn start_with(
        client: Client,
        namespaces: &[&str],
        options: rayop_journal::Options,
        settings: Settings,
    ) -> Result<Operator> {
        let journal_dir = tempfile::tempdir()?;
        let (journal, _report) = JournalHandle::open(journal_dir.path(), options)?;
        let handles = Handles::new(Arc::new(journal));
        Ok(Self::launch(
            client,
            namespaces,
            handles,
            settings,
            Some(journal_dir),
        ))
    }

    /// An operator whose journal lives in `dir`, opened as `rayop run` opens
    /// it: a journal that cannot be opened now is retried later.
    pub async fn start_in(
        client: Client,
        namespaces: &[&str],
        dir: &std::path::Path,
        settings: Settings,
    ) -> Result<(Operator, Opened)> {
        let metrics = Arc::new(rayop::metrics::Metrics::new());
        let (journal, opened) =
            rayop::metrics::open_journal(dir, rayop_journal::Options::default(), &metrics)?;
        let handles = Handles::new(Arc::new(journal))
            .observed_by(metrics, Arc::new(rayop::health::Health::default()));
        Ok((
            Self::launch(client, namespaces, handles, settings, None),
            opened,
        ))
    }

    fn launch(
        client: Client,
        namespaces: &[&str],
        handles: Handles,
        settings: Settings,
        journal_dir: Option<tempfile::TempDir>,
    ) -> Operator {
        let settings = Settings {
            namespaces: namespaces.iter().map(|s| (*s).to_owned()).collect(),
            concurrency: 8,
            ..settings
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(controller::run(
            client,
            settings,
            handles.clone(),
            async move {
                let _ = stopped.await;
            },
        ));
        Operator {
            handles,
            journal_dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Graceful stop: in-flight reconciles finish.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(TIMEOUT, task).await??;
        }
        Ok(())
    }

    /// Total API writes so far.
    pub fn writes(&self) -> u64 {
        self.handles.writes.total()
    }

    /// The records of the stream of cluster `uid`.
    pub fn records(&self, uid: &str) -> Vec<Record> {
        self.records_of(uid)
    }

    /// The records of the stream `uid` of a machine of type `M`.
    pub fn records_of<M: rayop_machines::Machine>(
        &self,
        uid: &str,
    ) -> Vec<rayop::record::Record<M>> {
        let Some(journal) = self.handles.journal.journal() else {
            return Vec::new();
        };
        journal
            .read_from::<rayop::record::Record<M>>(uid, 1)
            .map(|entries| entries.into_iter().map(|e| e.payload).collect())
            .unwrap_or_default()
    }

    /// The phase transitions journaled for `uid`, in order.
    pub fn transitions(&self, uid: &str) -> Vec<(String, String)> {
        self.records(uid)
            .into_iter()
            .filter_map(|r| match r {
                Record::Transition { from, to } => Some((from.to_string(), to.to_string())),
                _ => None,
            })
            .collect()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A RayCluster named `name` in `ns`, built with the test builders.
pub fn cluster(base: RayCluster, ns: &str) -> RayCluster {
    let mut c = base;
    c.metadata.namespace = Some(ns.to_owned());
    c.metadata.uid = None;
    c.metadata.generation = None;
    c
}

pub async fn create(client: &Client, c: &RayCluster) -> Result<RayCluster> {
    let api: Api<RayCluster> = Api::namespaced(client.clone(), &c.namespace().unwrap());
    Ok(api.create(&PostParams::default(), c).await?)
}

pub fn clusters(client: &Client, ns: &str) -> Api<RayCluster> {
    Api::namespaced(client.clone(), ns)
}

/// Waits until `name` reports `phase` and, when Ready, its observed generation is current.
pub async fn wait_phase(client: &Client, ns: &str, name: &str, phase: Phase) -> Result<RayCluster> {
    wait_phase_within(client, ns, name, phase, TIMEOUT).await
}

/// [`wait_phase`] with a deadline of the caller's choosing.
pub async fn wait_phase_within(
    client: &Client,
    ns: &str,
    name: &str,
    phase: Phase,
    timeout: Duration,
) -> Result<RayCluster> {
    let api = clusters(client, ns);
    let waited = wait_until(
        &format!("{ns}/{name} in phase {phase:?}"),
        timeout,
        || async {
            let c = api.get(name).await?;
            let status = c.status.clone().unwrap_or_default();
            Ok(status.phase == Some(phase) && status.observed_generation == c.metadata.generation)
        },
    )
    .await;
    if let Err(e) = waited {
        // Say where it got stuck: the status the cluster reports at the deadline.
        let status = api
            .get(name)
            .await
            .ok()
            .and_then(|c| serde_json::to_string(&c.status).ok());
        return Err(e.context(format!(
            "status at the deadline: {}",
            status.unwrap_or_default()
        )));
    }
    Ok(api.get(name).await?)
}

/// Merge-patches the spec of `name`.
pub async fn patch_spec(
    client: &Client,
    ns: &str,
    name: &str,
    spec: serde_json::Value,
) -> Result<()> {
    clusters(client, ns)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "spec": spec })),
        )
        .await
        .context("patching the spec")?;
    Ok(())
}

/// The cluster's pods with this node type, by name.
pub async fn pods(client: &Client, ns: &str, cluster: &str, node_type: &str) -> Result<Vec<Pod>> {
    let mut pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&format!(
            "ray.io/cluster={cluster},ray.io/node-type={node_type}"
        )))
        .await?
        .items;
    pods.retain(|p| p.metadata.deletion_timestamp.is_none());
    pods.sort_by_key(ResourceExt::name_any);
    Ok(pods)
}

pub async fn statefulset(client: &Client, ns: &str, name: &str) -> Result<Option<StatefulSet>> {
    Ok(Api::<StatefulSet>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await?)
}

pub async fn deployment(client: &Client, ns: &str, name: &str) -> Result<Option<Deployment>> {
    Ok(Api::<Deployment>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await?)
}

/// Waits until the journal of `uid` holds the transition `from → to` after
/// the first `skip` transitions.
pub async fn wait_transition(
    op: &Operator,
    uid: &str,
    skip: usize,
    from: &str,
    to: &str,
) -> Result<()> {
    wait_until(
        &format!("journaled transition {from} → {to}"),
        TIMEOUT,
        || async {
            Ok(op
                .transitions(uid)
                .iter()
                .skip(skip)
                .any(|(f, t)| f == from && t == to))
        },
    )
    .await
}

pub fn uid(c: &RayCluster) -> String {
    c.uid().unwrap_or_default()
}

pub fn must<T>(value: Option<T>, what: &str) -> Result<T> {
    match value {
        Some(v) => Ok(v),
        None => bail!("missing: {what}"),
    }
}

/// Creates `name` in `ns` with one group `small` of `replicas` workers in
/// [0, 4], and waits until it is Ready.
pub async fn ready_cluster(
    client: &Client,
    ns: &str,
    name: &str,
    replicas: i32,
) -> Result<RayCluster> {
    use rayop::crd::test_builders::group;
    let c = RayCluster::test(name).with_group(group("small").with_replicas(replicas).bounds(0, 4));
    let created = create(client, &cluster(c, ns)).await?;
    wait_phase(client, ns, name, Phase::Ready).await?;
    Ok(created)
}

/// A journaled path of transitions, as `(from, to)` names.
pub fn path(steps: &[(&str, &str)]) -> Vec<(String, String)> {
    steps
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// A cluster with one worker group `small` of `replicas` (bounds 0..=5).
pub fn workers(name: &str, replicas: i32) -> RayCluster {
    RayCluster::test(name).with_group(
        rayop::crd::test_builders::group("small")
            .with_replicas(replicas)
            .bounds(0, 5),
    )
}

/// Scales group `small` of `name`, retrying while the API server settles.
pub async fn scale(client: &Client, ns: &str, name: &str, replicas: i32) -> Result<()> {
    // The API server may still be settling: retry until the patch lands.
    wait_until(&format!("scaling {name}"), TIMEOUT, || async {
        patch_spec(
            client,
            ns,
            name,
            serde_json::json!({"workerGroupSpecs": [{"groupName": "small", "replicas": replicas}]}),
        )
        .await?;
        Ok(true)
    })
    .await
}

/// Waits until `name` is Ready with one head and `workers` worker pods;
/// on a timeout, prints its status, StatefulSets and pods.
pub async fn converged(client: &Client, ns: &str, name: &str, workers: usize) -> Result<()> {
    if let Err(e) = wait_phase(client, ns, name, Phase::Ready).await {
        let c = clusters(client, ns).get(name).await?;
        let sts = Api::<StatefulSet>::namespaced(client.clone(), ns)
            .list(&ListParams::default().labels(&format!("ray.io/cluster={name}")))
            .await?;
        let pods = Api::<k8s_openapi::api::core::v1::Pod>::namespaced(client.clone(), ns)
            .list(&ListParams::default().labels(&format!("ray.io/cluster={name}")))
            .await?;
        eprintln!(
            "{name} did not converge; status {:#?}\nStatefulSets {:#?}\npods {:#?}",
            c.status,
            sts.items
                .iter()
                .map(|s| (
                    s.metadata.name.clone(),
                    s.spec.as_ref().map(|x| x.replicas),
                    s.status.clone()
                ))
                .collect::<Vec<_>>(),
            pods.items
                .iter()
                .map(|p| (
                    p.metadata.name.clone(),
                    p.spec.as_ref().and_then(|x| x.node_name.clone()),
                    p.status
                        .as_ref()
                        .map(|s| (s.phase.clone(), s.conditions.clone()))
                ))
                .collect::<Vec<_>>()
        );
        return Err(e);
    }
    wait_until(
        &format!("{name} with {workers} workers"),
        TIMEOUT,
        || async {
            Ok(pods(client, ns, name, "worker").await?.len() == workers
                && pods(client, ns, name, "head").await?.len() == 1)
        },
    )
    .await
}

/// Waits until an Event in `ns` satisfies `matches`; `what` names it in the
/// timeout error.
pub async fn wait_event(
    client: &Client,
    ns: &str,
    what: &str,
    matches: impl Fn(&k8s_openapi::api::core::v1::Event) -> bool,
) -> Result<()> {
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), ns);
    let matches = &matches;
    let events = &events;
    wait_until(what, TIMEOUT, || async move {
        Ok(events
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .any(matches))
    })
    .await
}

/// Asserts that each of `names` owns exactly a head and one worker
/// StatefulSet: no duplicates, none missing.
pub async fn assert_two_statefulsets(client: &Client, ns: &str, names: &[&str]) -> Result<()> {
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    for name in names {
        let owned = sts
            .list(&ListParams::default().labels(&format!("ray.io/cluster={name}")))
            .await?
            .items;
        assert_eq!(owned.len(), 2, "{name}: head and one worker StatefulSet");
    }
    Ok(())
}

/// The cert-manager controller, built (or taken from the cache) by the
/// repository's script.
pub fn cert_manager_controller() -> Result<PathBuf> {
    rayop_testenv::local_script_path("cert-manager.sh", &[])
}

/// A running cert-manager controller, killed when dropped.
pub struct CertManager(std::process::Child);

impl CertManager {
    pub fn start(
        env: &TestEnv,
        namespace: Option<&str>,
        log: &std::path::Path,
    ) -> Result<CertManager> {
        let binary = cert_manager_controller()?;
        let log = std::fs::File::create(log)?;
        let mut command = std::process::Command::new(binary);
        command.arg("--kubeconfig").arg(env.kubeconfig());
        if let Some(namespace) = namespace {
            command.arg("--namespace").arg(namespace);
        }
        let child = command
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting the cert-manager controller")?;
        Ok(CertManager(child))
    }
}

impl Drop for CertManager {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
