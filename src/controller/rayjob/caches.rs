//! The watch caches a RayJob's reconcile reads: the RayClusters and the
//! submitter Jobs that RayJobs created, found by their
//! `ray.io/originated-from-crd=RayJob` label.
//!
//! Invariants:
//! - Only labelled objects are cached, so the caches hold what RayJobs made
//!   and nothing else; a RayCluster chosen by `clusterSelector` is read by
//!   name when needed, never cached.
//! - Every change of a cached object triggers a reconcile of the RayJob that
//!   controls it (its controller ownerReference).

use futures::{StreamExt, stream::BoxStream};
use k8s_openapi::api::batch::v1::Job;
use kube::{
    Api, Client, Resource, ResourceExt,
    runtime::{
        WatchStreamExt,
        reflector::{self, ObjectRef, Store},
        watcher::{self, watcher},
    },
};
use serde::de::DeserializeOwned;

use crate::{
    crd::{RayCluster, names::LABEL_ORIGINATED_FROM_CRD, rayjob::RayJob},
    owned::{
        ControllerRef,
        api::controller,
        cache::{retried_quietly, strip_common},
        watch_backoff,
    },
};

/// The caches of one watch scope for RayJobs.
#[derive(Clone)]
pub struct JobCaches {
    /// RayClusters created for RayJobs.
    pub clusters: Store<RayCluster>,
    /// Submitter Jobs created for RayJobs.
    pub submitters: Store<Job>,
}

impl JobCaches {
    /// Starts both watches in `namespace` (or everywhere); the stream yields
    /// the RayJob controlling each changed object.
    #[must_use]
    pub fn watch(
        client: &Client,
        namespace: Option<&str>,
    ) -> (JobCaches, BoxStream<'static, ControllerRef>) {
        let (clusters, cluster_triggers) = watch_labelled::<RayCluster>(client, namespace);
        let (submitters, job_triggers) = watch_labelled::<Job>(client, namespace);
        (
            JobCaches {
                clusters,
                submitters,
            },
            futures::stream::select(cluster_triggers, job_triggers).boxed(),
        )
    }

    /// Waits until both caches have their first full list.
    ///
    /// # Errors
    /// When a cache's writer is gone.
    pub async fn wait_until_ready(&self) -> Result<(), reflector::store::WriterDropped> {
        self.clusters.wait_until_ready().await?;
        self.submitters.wait_until_ready().await
    }

    /// The cached RayCluster `namespace/name`.
    #[must_use]
    pub fn cluster(&self, namespace: &str, name: &str) -> Option<std::sync::Arc<RayCluster>> {
        self.clusters.get(&ObjectRef::new(name).within(namespace))
    }

    /// The cached submitter Job `namespace/name`.
    #[must_use]
    pub fn submitter(&self, namespace: &str, name: &str) -> Option<std::sync::Arc<Job>> {
        self.submitters.get(&ObjectRef::new(name).within(namespace))
    }
}

fn watch_labelled<K>(
    client: &Client,
    namespace: Option<&str>,
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
    let (store, writer) = reflector::store();
    let selector = format!("{LABEL_ORIGINATED_FROM_CRD}=RayJob");
    let triggers = watcher(
        api,
        watcher::Config::default().labels(&selector).any_semantic(),
    )
    .backoff(watch_backoff::watch_backoff())
    .modify(strip_common)
    .reflect(writer)
    .touched_objects()
    .filter_map(retried_quietly)
    .filter_map(|object| {
        futures::future::ready(object.ok().and_then(|object| {
            let owner = controller(object.meta())?;
            (owner.kind == RayJob::kind(&())).then(|| ControllerRef {
                namespace: object.namespace(),
                api_version: owner.api_version.clone(),
                kind: owner.kind.clone(),
                name: owner.name.clone(),
            })
        }))
    })
    .boxed();
    (store, triggers)
}
