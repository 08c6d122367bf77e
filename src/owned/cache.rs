//! One watch cache per owned kind, behind one interface.
//!
//! Invariants:
//! - Every watch is narrowed to objects labelled `ray.io/cluster`, so rayop
//!   caches nothing it does not label as its own; kubectl's last-applied
//!   copy is dropped, managed fields are kept only while another writer
//!   holds some (the evidence of drift, see [`super::drift`]), and a kind's
//!   declared trim drops what no step reads (workload templates). Kinds declared
//!   [`CacheMode::MetaOnly`] are watched as metadata only.
//! - Every cache is indexed by cluster ([`ClusterIndex`]) in the same poll
//!   as the store, so a reconcile reads its own objects and never scans.
//! - Every watch retries with its own backoff and never ends; its errors are
//!   logged and kept out of the trigger stream (see [`retried_quietly`]).

use std::{collections::BTreeMap, sync::Arc};

use futures::{StreamExt, TryStreamExt, future::BoxFuture, stream::BoxStream};
use k8s_openapi::NamespaceResourceScope;
use kube::{
    Api, Client, Resource, ResourceExt,
    api::ObjectMeta,
    core::PartialObjectMeta,
    runtime::{
        WatchStreamExt,
        reflector::{self, ObjectRef, Store, store::WriterDropped},
        watcher::{self, watcher},
    },
};
use serde::de::DeserializeOwned;
use tracing::warn;

use super::{
    Kind,
    drift::{Drift, FieldOwners},
    index::ClusterIndex,
    watch_backoff,
};
use crate::crd::names::{LABEL_CLUSTER, SPEC_HASH_ANNOTATION};

/// What the caches know of one live object.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LiveObject {
    /// The value of its spec-hash annotation.
    pub hash: Option<String>,
    /// `spec.replicas`, for workloads.
    pub replicas: Option<i32>,
    /// Whether its rollout is complete; always true for non-workloads.
    pub rolled_out: bool,
    /// For a StatefulSet that replaces no pod itself (`OnDelete`), its
    /// current template revision (`status.updateRevision`): its pods with
    /// another `controller-revision-hash` run an older template.
    pub on_delete_revision: Option<String>,
    /// Who else holds fields of it, when anyone does.
    pub owners: Option<FieldOwners>,
    /// For Services, whether it is headless (see [`crate::desired::Object::headless`]).
    pub headless: Option<bool>,
}

impl LiveObject {
    /// What the metadata alone says: the hash, no replicas, nothing to roll out.
    #[must_use]
    pub fn of_meta(meta: &ObjectMeta) -> LiveObject {
        LiveObject {
            hash: meta
                .annotations
                .as_ref()
                .and_then(|a| a.get(SPEC_HASH_ANNOTATION).cloned()),
            replicas: None,
            rolled_out: true,
            on_delete_revision: None,
            owners: FieldOwners::of(meta.managed_fields.as_deref().unwrap_or(&[])),
            headless: None,
        }
    }

    /// The fields of `desired` that another writer has taken over.
    #[must_use]
    pub fn drift(&self, desired: &super::Object) -> Vec<Drift> {
        let Some(owners) = &self.owners else {
            return Vec::new();
        };
        match serde_json::to_value(desired) {
            Ok(value) => owners.drift(&value),
            Err(_) => Vec::new(),
        }
    }
}

/// How a kind is cached.
pub enum CacheMode<K> {
    /// The whole object, trimmed by `trim`, read by `live`.
    Full {
        /// Drops what no step reads.
        trim: fn(&mut K),
        /// What observe needs of the object.
        live: fn(&K) -> LiveObject,
    },
    /// Metadata only.
    MetaOnly,
}

/// The object that controls a changed owned object, as a trigger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerRef {
    /// The namespace of both.
    pub namespace: Option<String>,
    /// The controller's `apiVersion`.
    pub api_version: String,
    /// The controller's kind.
    pub kind: String,
    /// The controller's name.
    pub name: String,
}

/// The controllers of changed owned objects.
pub type Trigger = BoxStream<'static, ControllerRef>;

/// Read access to one kind's cache.
pub trait OwnedStore: Send + Sync {
    /// The metadata of `namespace/name`, if cached.
    fn meta(&self, namespace: &str, name: &str) -> Option<ObjectMeta>;
    /// What observe needs of `namespace/name`, if cached.
    fn live(&self, namespace: &str, name: &str) -> Option<LiveObject>;
    /// The names of the objects labelled with `cluster` in `namespace`.
    fn names_of(&self, namespace: &str, cluster: &str) -> Vec<String>;
    /// Resolves once the cache has its first full list.
    fn ready(&self) -> BoxFuture<'static, Result<(), WriterDropped>>;
    /// The cache itself, for typed reads ([`OwnedCaches::get`]).
    fn as_any(&self) -> &dyn std::any::Any;
}

struct Cached<S: reflector::Lookup + Clone + 'static>
where
    S::DynamicType: Eq + std::hash::Hash + Clone,
{
    store: Store<S>,
    index: ClusterIndex,
    live: fn(&S) -> LiveObject,
}

impl<S> OwnedStore for Cached<S>
where
    S: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    fn meta(&self, namespace: &str, name: &str) -> Option<ObjectMeta> {
        self.get(namespace, name).map(|o| o.meta().clone())
    }

    fn live(&self, namespace: &str, name: &str) -> Option<LiveObject> {
        self.get(namespace, name).map(|o| (self.live)(&o))
    }

    fn names_of(&self, namespace: &str, cluster: &str) -> Vec<String> {
        self.index.names(namespace, cluster)
    }

    fn ready(&self) -> BoxFuture<'static, Result<(), WriterDropped>> {
        let store = self.store.clone();
        Box::pin(async move { store.wait_until_ready().await })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl<S> Cached<S>
where
    S: Resource<DynamicType = ()> + Clone + 'static,
{
    fn get(&self, namespace: &str, name: &str) -> Option<Arc<S>> {
        self.store.get(&ObjectRef::new(name).within(namespace))
    }
}

/// The caches of every owned kind.
#[derive(Clone)]
pub struct OwnedCaches {
    stores: Arc<BTreeMap<Kind, Box<dyn OwnedStore>>>,
}

impl OwnedCaches {
    pub(super) fn new(stores: BTreeMap<Kind, Box<dyn OwnedStore>>) -> OwnedCaches {
        OwnedCaches {
            stores: Arc::new(stores),
        }
    }

    /// The cache of `kind`.
    #[must_use]
    pub fn of(&self, kind: Kind) -> Option<&dyn OwnedStore> {
        self.stores.get(&kind).map(AsRef::as_ref)
    }

    /// The whole cached object `namespace/name` of a kind cached in full as
    /// `K`; `None` for kinds cached as metadata only.
    #[must_use]
    pub fn get<K>(&self, kind: Kind, namespace: &str, name: &str) -> Option<Arc<K>>
    where
        K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    {
        let cached = self.of(kind)?.as_any().downcast_ref::<Cached<K>>()?;
        cached.get(namespace, name)
    }

    /// Waits until every cache has its first full list, except those of
    /// kinds whose CRD may not be installed
    /// ([`Kind::needs_third_party_crd`]).
    ///
    /// # Errors
    /// When a cache's writer is gone (its watch stream was dropped).
    pub async fn wait_until_ready(&self) -> Result<(), WriterDropped> {
        for (kind, store) in self.stores.iter() {
            if !kind.needs_third_party_crd() {
                store.ready().await?;
            }
        }
        Ok(())
    }
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

fn controller_ref<K: Resource>(object: &K) -> Option<ControllerRef> {
    let owner = super::api::controller(object.meta())?;
    Some(ControllerRef {
        namespace: object.meta().namespace.clone(),
        api_version: owner.api_version.clone(),
        kind: owner.kind.clone(),
        name: owner.name.clone(),
    })
}

/// Strips what no cached object needs: managed fields and kubectl's copy of
/// the whole object, which is as large as the spec and never read.
pub fn strip_common<K: Resource>(object: &mut K) {
    object.managed_fields_mut().clear();
    object
        .annotations_mut()
        .remove("kubectl.kubernetes.io/last-applied-configuration");
}

/// Strips an owned object like [`strip_common`], but keeps the managed
/// fields drift is read from while another writer holds some.
fn strip_owned<K: Resource>(object: &mut K) {
    FieldOwners::retain_evidence(object.managed_fields_mut());
    object
        .annotations_mut()
        .remove("kubectl.kubernetes.io/last-applied-configuration");
}

/// Starts the watch of `K` under `mode`.
pub fn watch<K>(
    client: &Client,
    namespace: Option<&str>,
    mode: CacheMode<K>,
) -> (Box<dyn OwnedStore>, Trigger)
where
    K: super::api::Typed,
{
    match mode {
        CacheMode::Full { trim, live } => cached(api::<K>(client, namespace), trim, live),
        CacheMode::MetaOnly => cached(
            api::<PartialObjectMeta<K>>(client, namespace),
            |_| {},
            |o| LiveObject::of_meta(&o.metadata),
        ),
    }
}

/// One labelled, indexed watch cache of `S`, read by `live`.
fn cached<S>(
    api: Api<S>,
    trim: fn(&mut S),
    live: fn(&S) -> LiveObject,
) -> (Box<dyn OwnedStore>, Trigger)
where
    S: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let config = watcher::Config::default()
        .labels(LABEL_CLUSTER)
        .any_semantic();
    let index = ClusterIndex::default();
    let (store, writer) = reflector::store();
    let observed = index.clone();
    let stream = watcher(api, config)
        .backoff(watch_backoff::watch_backoff())
        .modify(move |o: &mut S| {
            strip_owned(o);
            trim(o);
        })
        .reflect(writer)
        .inspect_ok(move |event| observed.observe(event))
        .touched_objects()
        .filter_map(retried_quietly)
        .filter_map(|o| futures::future::ready(o.ok().and_then(|o| controller_ref(&o))))
        .boxed();
    (Box::new(Cached { store, index, live }), stream)
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
        // A kind whose CRD is not installed (cert-manager's, on a cluster
        // without it) answers 404 on every retry: not worth a warning each time.
        // Waiting here holds back the next poll of this watch only, so its
        // retry comes that much later; the other watches run on.
        Err(error) if not_served(&error) => {
            tracing::debug!(%error, "resource not served; retrying later");
            tokio::time::sleep(watch_backoff::NOT_SERVED_RETRY).await;
            None
        }
        Err(error) => {
            warn!(%error, "watch failed; retrying with backoff");
            None
        }
    }
}

/// Whether a watch failed because the API server does not serve the resource.
fn not_served(error: &watcher::Error) -> bool {
    matches!(
        error,
        watcher::Error::InitialListFailed(kube::Error::Api(status))
            | watcher::Error::WatchStartFailed(kube::Error::Api(status))
            if status.code == 404
    )
}
