//! The watch cache a RayCronJob's reconcile reads: the RayJobs RayCronJobs
//! created, found by their `ray.io/cronjob-name` label.
//!
//! Invariants: only the RayJobs' metadata is watched and cached (their
//! names, ticks and owners are all a RayCronJob reads), which also keeps the
//! deep RayJob type out of the watch's decoding; every change of a cached
//! RayJob triggers a reconcile of the RayCronJob that controls it.

use std::sync::Arc;

use futures::stream::BoxStream;
use kube::{Client, Resource, api::PartialObjectMeta, runtime::reflector::Store};

use crate::{
    crd::{names::LABEL_CRONJOB_NAME, raycronjob::RayCronJob, rayjob::RayJob},
    owned::{ControllerRef, children::watch_children, create_once::controlled_by},
};

/// The RayJobs of RayCronJobs in one watch scope.
#[derive(Clone)]
pub struct CronCaches {
    /// RayJobs created by RayCronJobs.
    pub jobs: Store<PartialObjectMeta<RayJob>>,
}

impl CronCaches {
    /// Starts the watch in `namespace` (or everywhere); the stream yields the
    /// RayCronJob controlling each changed RayJob.
    #[must_use]
    pub fn watch(
        client: &Client,
        namespace: Option<&str>,
    ) -> (CronCaches, BoxStream<'static, ControllerRef>) {
        let owner = RayCronJob::kind(&()).into_owned();
        let (jobs, triggers) = watch_children::<PartialObjectMeta<RayJob>>(
            client,
            namespace,
            LABEL_CRONJOB_NAME,
            &owner,
        );
        (CronCaches { jobs }, triggers)
    }

    /// Waits until the cache has its first full list.
    ///
    /// # Errors
    /// When the cache's writer is gone.
    pub async fn wait_until_ready(
        &self,
    ) -> Result<(), kube::runtime::reflector::store::WriterDropped> {
        self.jobs.wait_until_ready().await
    }

    /// The RayJobs that the RayCronJob `uid` in `namespace` controls.
    #[must_use]
    pub fn children(&self, namespace: &str, uid: &str) -> Vec<PartialObjectMeta<RayJob>> {
        self.jobs
            .state()
            .iter()
            .map(Arc::as_ref)
            .filter(|j| {
                j.metadata.namespace.as_deref() == Some(namespace)
                    && controlled_by(&j.metadata, uid)
            })
            .cloned()
            .collect()
    }
}
