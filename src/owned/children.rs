//! Watches of the children a Ray kind made (a RayJob's clusters and
//! submitters, a RayCronJob's RayJobs), found by a label.
//!
//! Invariants: only labelled objects are cached, so a cache holds what the
//! owners made and nothing else; every change of a cached object triggers a
//! reconcile of the owner of `owner_kind` that controls it.

use futures::{StreamExt, stream::BoxStream};
use kube::{
    Api, Client, Resource,
    api::ObjectMeta,
    runtime::{
        WatchStreamExt,
        reflector::{self, Store},
        watcher::{self, watcher},
    },
};
use serde::de::DeserializeOwned;

use super::{
    ControllerRef,
    api::controller,
    cache::{retried_quietly, strip_common},
    watch_backoff,
};

/// A cache of the objects labelled `selector` in `namespace` (or
/// everywhere), and the stream of the `owner_kind` objects controlling each
/// changed one. With `K = PartialObjectMeta<_>` only metadata is watched.
pub fn watch_children<K>(
    client: &Client,
    namespace: Option<&str>,
    selector: &str,
    owner_kind: &str,
) -> (Store<K>, BoxStream<'static, ControllerRef>)
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let api: Api<K> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let owner_kind = owner_kind.to_owned();
    let (store, writer) = reflector::store();
    let triggers = watcher(
        api,
        watcher::Config::default().labels(selector).any_semantic(),
    )
    .backoff(watch_backoff::watch_backoff())
    .modify(strip_common)
    .reflect(writer)
    .touched_objects()
    .filter_map(retried_quietly)
    .filter_map(move |object| {
        futures::future::ready(object.ok().and_then(|o| owner_of(o.meta(), &owner_kind)))
    })
    .boxed();
    (store, triggers)
}

/// The controlling owner of `meta` when it is of `owner_kind`.
fn owner_of(meta: &ObjectMeta, owner_kind: &str) -> Option<ControllerRef> {
    let owner = controller(meta)?;
    (owner.kind == owner_kind).then(|| ControllerRef {
        namespace: meta.namespace.clone(),
        api_version: owner.api_version.clone(),
        kind: owner.kind.clone(),
        name: owner.name.clone(),
    })
}
