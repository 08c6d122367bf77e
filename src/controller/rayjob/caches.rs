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
    Client, Resource,
    runtime::reflector::{self, ObjectRef, Store},
};

use crate::{
    crd::{RayCluster, names::LABEL_ORIGINATED_FROM_CRD, rayjob::RayJob},
    owned::{ControllerRef, children::watch_children},
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
        let selector = format!("{LABEL_ORIGINATED_FROM_CRD}=RayJob");
        let owner = RayJob::kind(&()).into_owned();
        let (clusters, cluster_triggers) =
            watch_children::<RayCluster>(client, namespace, &selector, &owner);
        let (submitters, job_triggers) =
            watch_children::<Job>(client, namespace, &selector, &owner);
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
