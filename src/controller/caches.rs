//! The watch caches a RayCluster's reconcile reads, and its view of them.
//!
//! Invariants:
//! - Owned objects come from [`crate::owned`]'s caches, one per declared
//!   kind; Ray pods from their own cache, narrowed to
//!   `ray.io/is-ray-node=yes`, without their spec. Both are indexed by
//!   cluster, so a reconcile reads its own objects and never scans.
//! - Every change of a cached object triggers a reconcile of the RayCluster
//!   that controls it (pods: the one their `ray.io/cluster` label names).

use std::{collections::BTreeMap, sync::Arc};

use futures::{StreamExt, TryStreamExt, stream::BoxStream};
use k8s_openapi::api::core::v1::Pod;
use kube::{
    Api, Client, Resource, ResourceExt,
    runtime::{
        WatchStreamExt,
        reflector::{self, ObjectRef, Store},
        watcher::{self, watcher},
    },
};

use crate::{
    apply::LiveForApply,
    build::BuildOptions,
    crd::{
        RayCluster,
        names::{LABEL_CLUSTER, LABEL_GROUP, LABEL_IS_RAY_NODE, LABEL_NODE_TYPE},
    },
    desired::ObjectKey,
    observe::Live,
    owned::{
        self, ControllerRef, Kind, LiveObject, OwnedCaches,
        cache::{retried_quietly, strip_common},
        index::ClusterIndex,
        watch_backoff,
    },
};

/// The caches of one watch scope.
#[derive(Clone)]
pub struct Caches {
    /// Every owned kind's cache.
    pub owned: OwnedCaches,
    /// Ray pods, without their spec.
    pub pods: Store<Pod>,
    /// The pods by cluster.
    pub pod_index: ClusterIndex,
}

/// Starts watching every owned kind built under `options` and Ray pods, in
/// `namespace` or everywhere. The stream yields the controller of each
/// changed object.
#[must_use]
pub fn watch(
    client: &Client,
    namespace: Option<&str>,
    options: &BuildOptions,
) -> (Caches, BoxStream<'static, ControllerRef>) {
    let (owned, triggers) = owned::watch_all(client, namespace, |kind| kind.built_under(options));
    let (pods, pod_index, pod_trigger) = watch_pods(client, namespace);
    let all = futures::stream::select_all(triggers.into_iter().chain([pod_trigger])).boxed();
    (
        Caches {
            owned,
            pods,
            pod_index,
        },
        all,
    )
}

fn watch_pods(
    client: &Client,
    namespace: Option<&str>,
) -> (Store<Pod>, ClusterIndex, BoxStream<'static, ControllerRef>) {
    let api: Api<Pod> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let (store, writer) = reflector::store();
    let index = ClusterIndex::default();
    let observed = index.clone();
    let selector = format!("{LABEL_IS_RAY_NODE}=yes");
    let stream = watcher(
        api,
        watcher::Config::default().labels(&selector).any_semantic(),
    )
    .backoff(watch_backoff::watch_backoff())
    .modify(|p: &mut Pod| {
        strip_common(p);
        p.spec = None;
        if let Some(status) = p.status.as_mut() {
            status.init_container_statuses = None;
            status.ephemeral_container_statuses = None;
        }
    })
    .reflect(writer)
    .inspect_ok(move |event| observed.observe(event))
    .touched_objects()
    .filter_map(retried_quietly)
    .filter_map(|pod| {
        futures::future::ready(pod.ok().and_then(|pod| {
            Some(ControllerRef {
                namespace: pod.namespace(),
                api_version: RayCluster::api_version(&()).into_owned(),
                kind: RayCluster::kind(&()).into_owned(),
                name: pod.labels().get(LABEL_CLUSTER)?.clone(),
            })
        }))
    })
    .boxed();
    (store, index, stream)
}

impl Caches {
    /// Waits until every cache has its first full list.
    ///
    /// # Errors
    /// When a cache's writer is gone (its watch stream was dropped).
    pub async fn wait_until_ready(&self) -> Result<(), reflector::store::WriterDropped> {
        self.owned.wait_until_ready().await?;
        self.pods.wait_until_ready().await
    }

    /// A view scoped to one cluster.
    #[must_use]
    pub fn view<'a>(
        &'a self,
        namespace: &'a str,
        cluster: &'a str,
        uid: &'a str,
    ) -> ClusterView<'a> {
        ClusterView {
            caches: self,
            namespace,
            cluster,
            uid,
        }
    }
}

/// The caches as one cluster sees them.
pub struct ClusterView<'a> {
    caches: &'a Caches,
    namespace: &'a str,
    cluster: &'a str,
    uid: &'a str,
}

fn controller_uid(meta: &kube::api::ObjectMeta) -> Option<String> {
    owned::api::controller(meta).map(|r| r.uid.clone())
}

impl ClusterView<'_> {
    /// A cached pod by name.
    #[must_use]
    pub fn pod(&self, name: &str) -> Option<Arc<Pod>> {
        self.caches
            .pods
            .get(&ObjectRef::new(name).within(self.namespace))
    }

    /// A cached object of an owned kind cached in full, by name.
    #[must_use]
    pub fn owned<K>(&self, kind: Kind, name: &str) -> Option<Arc<K>>
    where
        K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    {
        self.caches.owned.get(kind, self.namespace, name)
    }

    /// Keys and metadata of this cluster's objects (labelled with it and
    /// controlled by its UID) of the kinds `kinds`, sorted.
    fn ours(&self, kinds: impl Iterator<Item = Kind>) -> Vec<(ObjectKey, kube::api::ObjectMeta)> {
        let mut out = Vec::new();
        for kind in kinds {
            let Some(store) = self.caches.owned.of(kind) else {
                continue;
            };
            for name in store.names_of(self.namespace, self.cluster) {
                let Some(meta) = store.meta(self.namespace, &name) else {
                    continue;
                };
                if controller_uid(&meta).as_deref() == Some(self.uid) {
                    out.push((ObjectKey { kind, name }, meta));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

fn worker_group(meta: &kube::api::ObjectMeta) -> Option<&str> {
    let labels = meta.labels.as_ref()?;
    (labels.get(LABEL_NODE_TYPE).map(String::as_str) == Some("worker"))
        .then(|| labels.get(LABEL_GROUP).map(String::as_str))
        .flatten()
}

impl Live for ClusterView<'_> {
    fn object(&self, key: &ObjectKey) -> Option<LiveObject> {
        self.caches
            .owned
            .of(key.kind)?
            .live(self.namespace, &key.name)
    }

    fn pods(&self) -> Vec<Arc<Pod>> {
        self.caches
            .pod_index
            .names(self.namespace, self.cluster)
            .into_iter()
            .filter_map(|name| self.pod(&name))
            .collect()
    }

    fn workload_groups(&self) -> BTreeMap<String, LiveObject> {
        let workloads = Kind::ALL.iter().copied().filter(|k| k.is_workload());
        self.ours(workloads)
            .into_iter()
            .filter_map(|(key, meta)| {
                let group = worker_group(&meta)?.to_owned();
                Some((group, self.object(&key)?))
            })
            .collect()
    }
}

impl LiveForApply for ClusterView<'_> {
    fn controller_uid(&self, key: &ObjectKey) -> Option<Option<String>> {
        let meta = self
            .caches
            .owned
            .of(key.kind)?
            .meta(self.namespace, &key.name)?;
        Some(controller_uid(&meta))
    }

    fn keys_of(&self, kind: Kind) -> Vec<ObjectKey> {
        self.ours(std::iter::once(kind))
            .into_iter()
            .map(|(key, _)| key)
            .collect()
    }

    fn group_keys(&self, group: &str) -> Vec<ObjectKey> {
        self.ours(Kind::ALL.iter().copied())
            .into_iter()
            .filter(|(_, meta)| worker_group(meta) == Some(group))
            .map(|(key, _)| key)
            .collect()
    }
}
