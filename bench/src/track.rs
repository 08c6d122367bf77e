//! Watches that timestamp what the operator does, per cluster.
//!
//! Watches rather than polling: an event arrives within milliseconds of the
//! write, so per-cluster latencies are not rounded up to a poll interval, and
//! a watch costs the API server far less than a list every 500 ms over
//! thousands of objects. Objects are attributed to their cluster by the
//! `ray.io/cluster` label (rayop's and KubeRay's).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use anyhow::{Result, anyhow};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PartialObjectMeta};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource};
use tokio::task::JoinHandle;

/// The label naming an object's cluster.
pub const CLUSTER_LABEL: &str = "ray.io/cluster";

/// Which step of the scenario is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Creating; Ready means `status.phase` Ready (rayop) or `status.state` ready (KubeRay).
    Create,
    /// Idle for `--idle-seconds`; Ready changes are not timestamped.
    Idle,
    /// Scaled; waiting for Ready with the new worker count.
    Scale,
    /// Deleting every RayCluster; Ready changes are not timestamped.
    Delete,
}

/// What the watches saw, keyed by RayCluster name; times are on the monotonic clock.
#[derive(Debug)]
pub struct State {
    /// The current stage; the scenario sets it, the watches read it.
    pub stage: Stage,
    /// Workers per cluster that count as scaled.
    pub scaled_workers: i64,
    /// When each cluster's create request was sent.
    pub created: BTreeMap<String, Instant>,
    /// Workloads and Services seen per cluster (`kind/name`).
    pub objects: BTreeMap<String, BTreeSet<String>>,
    /// When each cluster's objects first all existed.
    pub objects_at: BTreeMap<String, Instant>,
    /// Pods seen per cluster (`Pod/<name>`); a name once seen is never removed.
    pub pods: BTreeMap<String, BTreeSet<String>>,
    /// When each cluster's pods first all existed.
    pub pods_at: BTreeMap<String, Instant>,
    /// When each cluster was first Ready.
    pub ready_at: BTreeMap<String, Instant>,
    /// When each cluster was Ready with the scaled worker count.
    pub scaled_at: BTreeMap<String, Instant>,
    /// Workloads and Services per cluster that count as "all objects exist"
    /// (`--objects-per-cluster`).
    pub objects_per_cluster: usize,
    /// Pods expected per cluster at creation.
    pub pods_per_cluster: usize,
}

/// Shared tracker state: cloned into every watch task, one mutex over [`State`].
#[derive(Clone)]
pub struct Tracker(Arc<Mutex<State>>);

impl Tracker {
    /// A tracker expecting this many objects and pods per cluster.
    pub fn new(objects_per_cluster: usize, pods_per_cluster: usize, scaled_workers: i64) -> Self {
        Tracker(Arc::new(Mutex::new(State {
            stage: Stage::Create,
            scaled_workers,
            created: BTreeMap::new(),
            objects: BTreeMap::new(),
            objects_at: BTreeMap::new(),
            pods: BTreeMap::new(),
            pods_at: BTreeMap::new(),
            ready_at: BTreeMap::new(),
            scaled_at: BTreeMap::new(),
            objects_per_cluster,
            pods_per_cluster,
        })))
    }

    /// Locks the state; an error only if a watch task panicked while holding it.
    pub fn lock(&self) -> Result<MutexGuard<'_, State>> {
        self.0.lock().map_err(|_| anyhow!("tracker state poisoned"))
    }

    /// Starts the watches in `ns`; abort the handles to stop them.
    pub fn spawn_watches(
        &self,
        client: &Client,
        ns: &str,
        rayclusters: &ApiResource,
    ) -> Vec<JoinHandle<()>> {
        let mut handles = vec![
            self.spawn_children::<StatefulSet>(client, ns, "StatefulSet", false),
            self.spawn_children::<Deployment>(client, ns, "Deployment", false),
            self.spawn_children::<Service>(client, ns, "Service", false),
            self.spawn_children::<Pod>(client, ns, "Pod", true),
        ];
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, rayclusters);
        let me = self.clone();
        handles.push(tokio::spawn(async move {
            // Backed off: a plane that went away must not turn into a busy loop of errors.
            let mut stream = watcher::watcher(api, watcher::Config::default())
                .default_backoff()
                .boxed();
            loop {
                match stream.try_next().await {
                    Ok(Some(Event::Apply(o) | Event::InitApply(o))) => me.on_raycluster(&o),
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => eprintln!("rayop-bench: RayCluster watch: {e}"),
                }
            }
        }));
        handles
    }

    fn spawn_children<K>(
        &self,
        client: &Client,
        ns: &str,
        kind: &'static str,
        pod: bool,
    ) -> JoinHandle<()>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug
            + Send
            + 'static,
    {
        let api: Api<PartialObjectMeta<K>> = Api::namespaced(client.clone(), ns);
        let me = self.clone();
        tokio::spawn(async move {
            let mut stream =
                watcher::watcher(api, watcher::Config::default().labels(CLUSTER_LABEL))
                    .default_backoff()
                    .boxed();
            loop {
                match stream.try_next().await {
                    Ok(Some(Event::Apply(o) | Event::InitApply(o))) => {
                        let cluster = o
                            .metadata
                            .labels
                            .as_ref()
                            .and_then(|l| l.get(CLUSTER_LABEL))
                            .cloned();
                        if let (Some(cluster), Some(name)) = (cluster, o.metadata.name) {
                            me.on_child(&cluster, &format!("{kind}/{name}"), pod);
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => eprintln!("rayop-bench: {kind} watch: {e}"),
                }
            }
        })
    }

    fn on_child(&self, cluster: &str, key: &str, pod: bool) {
        let now = Instant::now();
        let Ok(mut s) = self.lock() else { return };
        let s = &mut *s;
        let (seen, at, want) = if pod {
            (&mut s.pods, &mut s.pods_at, s.pods_per_cluster)
        } else {
            (&mut s.objects, &mut s.objects_at, s.objects_per_cluster)
        };
        let set = seen.entry(cluster.to_string()).or_default();
        set.insert(key.to_string());
        if set.len() >= want && !at.contains_key(cluster) {
            at.insert(cluster.to_string(), now);
        }
    }

    fn on_raycluster(&self, o: &DynamicObject) {
        let now = Instant::now();
        let Some(name) = o.metadata.name.clone() else {
            return;
        };
        let status = o.data.get("status");
        let field = |k: &str| status.and_then(|s| s.get(k));
        let ready = field("phase").and_then(|v| v.as_str()) == Some("Ready")
            || field("state").and_then(|v| v.as_str()) == Some("ready");
        if !ready {
            return;
        }
        let workers = field("readyWorkerReplicas").and_then(serde_json::Value::as_i64);
        let observed = field("observedGeneration").and_then(serde_json::Value::as_i64);
        let current = observed.is_none_or(|g| Some(g) >= o.metadata.generation);
        let Ok(mut s) = self.lock() else { return };
        match s.stage {
            Stage::Create => {
                s.ready_at.entry(name).or_insert(now);
            }
            Stage::Scale => {
                if current && workers.is_none_or(|w| w >= s.scaled_workers) {
                    s.scaled_at.entry(name).or_insert(now);
                }
            }
            Stage::Idle | Stage::Delete => {}
        }
    }
}

/// The ApiResource of `ray.io/v1` RayClusters, for dynamic watches and creates (no CRD types
/// needed).
pub fn rayclusters() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("ray.io", "v1", "RayCluster"),
        "rayclusters",
    )
}
