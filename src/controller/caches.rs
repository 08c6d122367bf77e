//! The watch caches of the objects rayop owns, and a per-cluster view of them.
//!
//! Invariants:
//! - Every child watch is narrowed by label (`ray.io/cluster` on rayop's
//!   objects, `ray.io/is-ray-node=yes` on pods), so rayop caches nothing it
//!   does not manage.
//! - Caches keep only what the observe and status steps read: managed fields
//!   are dropped everywhere, workload pod templates and pod specs are dropped,
//!   and ServiceAccounts, Roles, RoleBindings and HPAs are watched as metadata
//!   only. This keeps memory per managed pod small (KubeRay #685).
//! - Pods, workloads, Services and HPAs are also indexed by cluster
//!   ([`super::cluster_index`]), so a reconcile reads its own objects and
//!   never scans the others'.
//! - Every watch retries with its own backoff after errors (API server
//!   restarts; see [`super::watch_backoff`]) and never ends on its own. Its
//!   errors are logged and kept out of the controller's trigger stream, so
//!   one failing watch never pauses the others.

use std::{collections::BTreeMap, sync::Arc};

use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::{
    apps::v1::{Deployment, StatefulSet},
    autoscaling::v2::HorizontalPodAutoscaler,
    core::v1::{Pod, Service, ServiceAccount},
    rbac::v1::{Role, RoleBinding},
};
use kube::{
    Api, Client, Resource, ResourceExt,
    core::PartialObjectMeta,
    runtime::{
        WatchStreamExt,
        reflector::{self, ObjectRef, Store},
        watcher::{self, watcher},
    },
};

use super::{cluster_index::ClusterIndex, watch_backoff};
use tracing::warn;

use crate::{
    apply::LiveForApply,
    desired::{Kind, ObjectKey, SPEC_HASH_ANNOTATION},
    observe::{CLUSTER_LABEL, GROUP_LABEL, Live, LiveObject, NODE_TYPE_LABEL, rollout},
};

/// Label selector of rayop's own objects.
pub const OWNED_SELECTOR: &str = "ray.io/cluster";
/// Label selector of Ray pods.
pub const POD_SELECTOR: &str = "ray.io/is-ray-node=yes";

/// A stream of changed objects, for the controller's triggers.
pub type Trigger<K> = std::pin::Pin<Box<dyn Stream<Item = Result<K, watcher::Error>> + Send>>;

/// The caches.
#[derive(Clone)]
pub struct Caches {
    /// StatefulSets (head and worker groups).
    pub statefulsets: Store<StatefulSet>,
    /// Deployments (worker groups).
    pub deployments: Store<Deployment>,
    /// Services.
    pub services: Store<Service>,
    /// The autoscaler's ServiceAccounts, metadata only.
    pub service_accounts: Store<PartialObjectMeta<ServiceAccount>>,
    /// The autoscaler's Roles, metadata only.
    pub roles: Store<PartialObjectMeta<Role>>,
    /// The autoscaler's RoleBindings, metadata only.
    pub role_bindings: Store<PartialObjectMeta<RoleBinding>>,
    /// Worker groups' HPAs, metadata only.
    pub hpas: Store<PartialObjectMeta<HorizontalPodAutoscaler>>,
    /// Ray pods, without their spec.
    pub pods: Store<Pod>,
    /// The caches' objects by cluster, so a reconcile reads only its own.
    pub index: Indexes,
}

/// One [`ClusterIndex`] per cache that reconciles search by cluster.
#[derive(Clone, Default)]
pub struct Indexes {
    /// StatefulSets.
    pub statefulsets: ClusterIndex,
    /// Deployments.
    pub deployments: ClusterIndex,
    /// Services.
    pub services: ClusterIndex,
    /// HPAs.
    pub hpas: ClusterIndex,
    /// Pods.
    pub pods: ClusterIndex,
}

/// The change streams that feed the caches; the controller consumes them.
pub struct Triggers {
    /// StatefulSets.
    pub statefulsets: Trigger<StatefulSet>,
    /// Deployments.
    pub deployments: Trigger<Deployment>,
    /// Services.
    pub services: Trigger<Service>,
    /// ServiceAccounts.
    pub service_accounts: Trigger<PartialObjectMeta<ServiceAccount>>,
    /// Roles.
    pub roles: Trigger<PartialObjectMeta<Role>>,
    /// RoleBindings.
    pub role_bindings: Trigger<PartialObjectMeta<RoleBinding>>,
    /// HPAs.
    pub hpas: Trigger<PartialObjectMeta<HorizontalPodAutoscaler>>,
    /// Pods.
    pub pods: Trigger<Pod>,
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

fn full<K>(
    client: &Client,
    namespace: Option<&str>,
    selector: &str,
    trim: fn(&mut K),
    index: ClusterIndex,
) -> (Store<K>, Trigger<K>)
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let config = watcher::Config::default().labels(selector).any_semantic();
    let stream = watcher(api::<K>(client, namespace), config)
        .backoff(watch_backoff::watch_backoff())
        .modify(move |o: &mut K| {
            o.managed_fields_mut().clear();
            trim(o);
        })
        .reflect(writer)
        .inspect_ok(move |event| index.observe(event))
        .touched_objects()
        .filter_map(retried_quietly)
        .boxed();
    (reader, stream)
}

fn meta_only<K>(
    client: &Client,
    namespace: Option<&str>,
    index: Option<ClusterIndex>,
) -> (Store<PartialObjectMeta<K>>, Trigger<PartialObjectMeta<K>>)
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let config = watcher::Config::default()
        .labels(OWNED_SELECTOR)
        .any_semantic();
    let api: Api<PartialObjectMeta<K>> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let stream = watcher(api, config)
        .backoff(watch_backoff::watch_backoff())
        .modify(|o: &mut PartialObjectMeta<K>| o.managed_fields_mut().clear())
        .reflect(writer)
        .inspect_ok(move |event| {
            if let Some(index) = &index {
                index.observe(event);
            }
        })
        .touched_objects()
        .filter_map(retried_quietly)
        .boxed();
    (reader, stream)
}

/// Drops a watch error from the trigger stream after logging it. The watch
/// itself has already scheduled its retry with its own backoff; passed on,
/// the error would also pause kube-runtime's shared trigger stream, so one
/// failing watch would delay the triggers of all the others.
pub async fn retried_quietly<K>(
    item: Result<K, watcher::Error>,
) -> Option<Result<K, watcher::Error>> {
    match item {
        Ok(object) => Some(Ok(object)),
        Err(error) => {
            warn!(%error, "watch failed; retrying with backoff");
            None
        }
    }
}

fn trim_statefulset(s: &mut StatefulSet) {
    if let Some(spec) = s.spec.as_mut() {
        spec.template = Default::default();
        spec.volume_claim_templates = None;
    }
}

fn trim_deployment(d: &mut Deployment) {
    if let Some(spec) = d.spec.as_mut() {
        spec.template = Default::default();
    }
}

fn trim_pod(p: &mut Pod) {
    p.spec = None;
    if let Some(status) = p.status.as_mut() {
        status.init_container_statuses = None;
        status.ephemeral_container_statuses = None;
    }
}

fn keep<K>(_: &mut K) {}

/// Starts watching every kind rayop owns, in `namespace` or everywhere.
#[must_use]
pub fn watch(client: &Client, namespace: Option<&str>) -> (Caches, Triggers) {
    let index = Indexes::default();
    let ix = index.clone();
    let (statefulsets, sts_t) = full(
        client,
        namespace,
        OWNED_SELECTOR,
        trim_statefulset,
        ix.statefulsets,
    );
    let (deployments, deploy_t) = full(
        client,
        namespace,
        OWNED_SELECTOR,
        trim_deployment,
        ix.deployments,
    );
    let (services, svc_t) = full(
        client,
        namespace,
        OWNED_SELECTOR,
        keep::<Service>,
        ix.services,
    );
    let (pods, pod_t) = full(client, namespace, POD_SELECTOR, trim_pod, ix.pods);
    let (service_accounts, sa_t) = meta_only::<ServiceAccount>(client, namespace, None);
    let (roles, role_t) = meta_only::<Role>(client, namespace, None);
    let (role_bindings, rb_t) = meta_only::<RoleBinding>(client, namespace, None);
    let (hpas, hpa_t) = meta_only::<HorizontalPodAutoscaler>(client, namespace, Some(ix.hpas));
    (
        Caches {
            statefulsets,
            deployments,
            services,
            service_accounts,
            roles,
            role_bindings,
            hpas,
            pods,
            index,
        },
        Triggers {
            statefulsets: sts_t,
            deployments: deploy_t,
            services: svc_t,
            service_accounts: sa_t,
            roles: role_t,
            role_bindings: rb_t,
            hpas: hpa_t,
            pods: pod_t,
        },
    )
}

impl Caches {
    /// Waits until every cache has its first full list.
    ///
    /// # Errors
    /// When a cache's writer is gone (its watch stream was dropped).
    pub async fn wait_until_ready(&self) -> Result<(), reflector::store::WriterDropped> {
        self.statefulsets.wait_until_ready().await?;
        self.deployments.wait_until_ready().await?;
        self.services.wait_until_ready().await?;
        self.service_accounts.wait_until_ready().await?;
        self.roles.wait_until_ready().await?;
        self.role_bindings.wait_until_ready().await?;
        self.hpas.wait_until_ready().await?;
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

fn hash_of(annotations: &BTreeMap<String, String>) -> Option<String> {
    annotations.get(SPEC_HASH_ANNOTATION).cloned()
}

fn controller_uid<K: Resource>(o: &K) -> Option<String> {
    o.meta()
        .owner_references
        .as_ref()
        .and_then(|refs| refs.iter().find(|r| r.controller == Some(true)))
        .map(|r| r.uid.clone())
}

impl<'a> ClusterView<'a> {
    fn get<K>(&self, store: &Store<K>, name: &str) -> Option<Arc<K>>
    where
        K: kube::runtime::reflector::Lookup + Clone + 'static,
        K::DynamicType: Default + Eq + std::hash::Hash + Clone,
    {
        store.get(&ObjectRef::new_with(name, K::DynamicType::default()).within(self.namespace))
    }

    /// This cluster's objects in `store`, found through `index`.
    fn indexed<'s, K>(
        &'s self,
        store: &'s Store<K>,
        index: &ClusterIndex,
    ) -> impl Iterator<Item = Arc<K>> + 's
    where
        K: kube::runtime::reflector::Lookup + Clone + 'static,
        K::DynamicType: Default + Eq + std::hash::Hash + Clone,
    {
        index
            .names(self.namespace, self.cluster)
            .into_iter()
            .filter_map(move |name| self.get(store, &name))
    }

    fn ours<K: Resource>(&self, o: &K) -> bool {
        o.meta().namespace.as_deref() == Some(self.namespace)
            && o.labels().get(CLUSTER_LABEL).map(String::as_str) == Some(self.cluster)
            && controller_uid(o).as_deref() == Some(self.uid)
    }

    fn worker_group<K: Resource>(&self, o: &K) -> Option<String> {
        if !self.ours(o) || o.labels().get(NODE_TYPE_LABEL).map(String::as_str) != Some("worker") {
            return None;
        }
        o.labels().get(GROUP_LABEL).cloned()
    }

    /// The head pod by name, if cached.
    #[must_use]
    pub fn pod(&self, name: &str) -> Option<Arc<Pod>> {
        self.get(&self.caches.pods, name)
    }

    /// A Service by name, if cached.
    #[must_use]
    pub fn service(&self, name: &str) -> Option<Arc<Service>> {
        self.get(&self.caches.services, name)
    }

    fn meta_of(&self, key: &ObjectKey) -> Option<kube::api::ObjectMeta> {
        let name = key.name.as_str();
        let c = self.caches;
        match key.kind {
            Kind::StatefulSet => self.get(&c.statefulsets, name).map(|o| o.metadata.clone()),
            Kind::Deployment => self.get(&c.deployments, name).map(|o| o.metadata.clone()),
            Kind::Service => self.get(&c.services, name).map(|o| o.metadata.clone()),
            Kind::ServiceAccount => self
                .get(&c.service_accounts, name)
                .map(|o| o.metadata.clone()),
            Kind::Role => self.get(&c.roles, name).map(|o| o.metadata.clone()),
            Kind::RoleBinding => self.get(&c.role_bindings, name).map(|o| o.metadata.clone()),
            Kind::HorizontalPodAutoscaler => self.get(&c.hpas, name).map(|o| o.metadata.clone()),
        }
    }
}

fn live_statefulset(s: &StatefulSet) -> LiveObject {
    LiveObject {
        hash: hash_of(s.annotations()),
        replicas: s.spec.as_ref().and_then(|spec| spec.replicas),
        rolled_out: rollout::statefulset_rolled_out(s),
    }
}

fn live_deployment(d: &Deployment) -> LiveObject {
    LiveObject {
        hash: hash_of(d.annotations()),
        replicas: d.spec.as_ref().and_then(|spec| spec.replicas),
        rolled_out: rollout::deployment_rolled_out(d),
    }
}

impl Live for ClusterView<'_> {
    fn object(&self, key: &ObjectKey) -> Option<LiveObject> {
        match key.kind {
            Kind::StatefulSet => self
                .get(&self.caches.statefulsets, &key.name)
                .map(|s| live_statefulset(&s)),
            Kind::Deployment => self
                .get(&self.caches.deployments, &key.name)
                .map(|d| live_deployment(&d)),
            _ => self.meta_of(key).map(|meta| LiveObject {
                hash: meta.annotations.as_ref().and_then(hash_of),
                replicas: None,
                rolled_out: true,
            }),
        }
    }

    fn pods(&self) -> Vec<Arc<Pod>> {
        self.indexed(&self.caches.pods, &self.caches.index.pods)
            .filter(|p| p.labels().get(CLUSTER_LABEL).map(String::as_str) == Some(self.cluster))
            .collect()
    }

    fn workload_groups(&self) -> BTreeMap<String, LiveObject> {
        let c = self.caches;
        let mut out = BTreeMap::new();
        for s in self.indexed(&c.statefulsets, &c.index.statefulsets) {
            if let Some(group) = self.worker_group(s.as_ref()) {
                out.insert(group, live_statefulset(&s));
            }
        }
        for d in self.indexed(&c.deployments, &c.index.deployments) {
            if let Some(group) = self.worker_group(d.as_ref()) {
                out.insert(group, live_deployment(&d));
            }
        }
        out
    }
}

impl LiveForApply for ClusterView<'_> {
    fn controller_uid(&self, key: &ObjectKey) -> Option<Option<String>> {
        self.meta_of(key).map(|meta| {
            meta.owner_references
                .as_ref()
                .and_then(|refs| refs.iter().find(|r| r.controller == Some(true)))
                .map(|r| r.uid.clone())
        })
    }

    fn group_keys(&self, group: &str) -> Vec<ObjectKey> {
        let in_group = |labels: &BTreeMap<String, String>| {
            labels.get(GROUP_LABEL).map(String::as_str) == Some(group)
                && labels.get(NODE_TYPE_LABEL).map(String::as_str) == Some("worker")
        };
        let mut keys = Vec::new();
        let c = self.caches;
        for s in self.indexed(&c.statefulsets, &c.index.statefulsets) {
            if self.ours(s.as_ref()) && in_group(s.labels()) {
                keys.push(ObjectKey {
                    kind: Kind::StatefulSet,
                    name: s.name_any(),
                });
            }
        }
        for d in self.indexed(&c.deployments, &c.index.deployments) {
            if self.ours(d.as_ref()) && in_group(d.labels()) {
                keys.push(ObjectKey {
                    kind: Kind::Deployment,
                    name: d.name_any(),
                });
            }
        }
        for s in self.indexed(&c.services, &c.index.services) {
            if self.ours(s.as_ref()) && in_group(s.labels()) {
                keys.push(ObjectKey {
                    kind: Kind::Service,
                    name: s.name_any(),
                });
            }
        }
        for h in self.indexed(&c.hpas, &c.index.hpas) {
            if self.ours(h.as_ref()) && in_group(h.labels()) {
                keys.push(ObjectKey {
                    kind: Kind::HorizontalPodAutoscaler,
                    name: h.name_any(),
                });
            }
        }
        keys.sort();
        keys
    }
}
