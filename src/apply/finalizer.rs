//! The Redis cleanup's writes: the RayCluster's finalizer, the workloads of a
//! deleted cluster, and the cleanup Job.
//!
//! Role: part of the interpreter. The finalizer is written with a merge
//! patch naming the `resourceVersion` that was read, so a concurrent change
//! of the finalizer list is a conflict (retried) rather than lost.
//! Workloads go with a background delete; their pods follow by garbage
//! collection. The Job is created once; one that exists already is left as
//! it is.

use k8s_openapi::api::batch::v1::Job;
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams, PostParams},
};

use super::{ApplyError, Interpreter, Writes};
use crate::{
    crd::{RayCluster, gcs::REDIS_CLEANUP_FINALIZER, names},
    desired::{Kind, ObjectKey},
    owned::{ApiError, delete_object},
};

/// What the finalizer commands need of the RayCluster as read.
#[derive(Clone, Copy, Debug)]
pub struct ClusterMeta<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its `resourceVersion`, the patch's precondition.
    pub resource_version: Option<&'a str>,
    /// Its finalizers.
    pub finalizers: &'a [String],
}

impl<'a> ClusterMeta<'a> {
    /// The parts of `cluster` the finalizer commands read.
    #[must_use]
    pub fn of(cluster: &'a RayCluster) -> Self {
        ClusterMeta {
            name: cluster.metadata.name.as_deref().unwrap_or_default(),
            resource_version: cluster.metadata.resource_version.as_deref(),
            finalizers: cluster.finalizers(),
        }
    }

    /// Whether it carries the Redis cleanup finalizer.
    #[must_use]
    pub fn has_cleanup_finalizer(&self) -> bool {
        self.finalizers.iter().any(|f| f == REDIS_CLEANUP_FINALIZER)
    }
}

/// Reason of the Event on a created cleanup Job.
pub const CREATED_REDIS_CLEANUP_JOB: &str = "CreatedRedisCleanupJob";

impl Interpreter<'_> {
    pub(super) async fn add_finalizer(&self, writes: &mut Writes) -> Result<(), ApplyError> {
        let Some(cluster) = self.cluster.filter(|c| !c.has_cleanup_finalizer()) else {
            return Ok(());
        };
        let mut finalizers = cluster.finalizers.to_vec();
        finalizers.push(REDIS_CLEANUP_FINALIZER.to_owned());
        self.patch_finalizers(&cluster, finalizers, writes).await
    }

    pub(super) async fn remove_finalizer(&self, writes: &mut Writes) -> Result<(), ApplyError> {
        let Some(cluster) = self.cluster.filter(ClusterMeta::has_cleanup_finalizer) else {
            return Ok(());
        };
        let finalizers = cluster
            .finalizers
            .iter()
            .filter(|f| *f != REDIS_CLEANUP_FINALIZER)
            .cloned()
            .collect();
        self.patch_finalizers(&cluster, finalizers, writes).await
    }

    async fn patch_finalizers(
        &self,
        cluster: &ClusterMeta<'_>,
        finalizers: Vec<String>,
        writes: &mut Writes,
    ) -> Result<(), ApplyError> {
        let api: Api<RayCluster> = Api::namespaced(self.client.clone(), self.namespace);
        let patch = serde_json::json!({
            "metadata": {
                "resourceVersion": cluster.resource_version,
                "finalizers": finalizers,
            }
        });
        match api
            .patch(cluster.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                writes.applies += 1;
                Ok(())
            }
            // Gone already: nothing is left to hold.
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(source) => Err(ApplyError::Api(ApiError {
                verb: "patch",
                kind: "RayCluster",
                name: cluster.name.to_owned(),
                source,
            })),
        }
    }

    pub(super) async fn stop_workloads(&self, writes: &mut Writes) -> Result<(), ApplyError> {
        let Some(cluster) = self.cluster else {
            return Ok(());
        };
        let head = ObjectKey {
            kind: Kind::StatefulSet,
            name: names::head_statefulset_name(cluster.name),
        };
        let groups = self.live.workload_groups().into_keys();
        let keys = std::iter::once(head).chain(
            groups
                .flat_map(|group| self.live.group_keys(&group))
                .filter(|key| key.kind.is_workload()),
        );
        for key in keys {
            let ours = self.live.controller_uid(&key).flatten().as_deref() == Some(self.owner_uid);
            if self.live.object(&key).is_some() && ours {
                delete_object(&self.client, self.namespace, key.kind, &key.name).await?;
                writes.deletes += 1;
            }
        }
        Ok(())
    }

    pub(super) async fn ensure_cleanup_job(&self, writes: &mut Writes) -> Result<(), ApplyError> {
        let job = self
            .desired
            .and_then(|d| d.cleanup_job.as_ref())
            .ok_or_else(|| ApplyError::NothingBuilt("the Redis cleanup Job".to_owned()))?;
        let name = job.name_any();
        let api: Api<Job> = Api::namespaced(self.client.clone(), self.namespace);
        match api.create(&PostParams::default(), job).await {
            Ok(_) => {
                writes.applies += 1;
                self.event(
                    writes,
                    kube::runtime::events::EventType::Normal,
                    CREATED_REDIS_CLEANUP_JOB,
                    format!("created Job {name} to delete the cluster's keys from Redis"),
                )
                .await;
                Ok(())
            }
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
            Err(source) => Err(ApplyError::Api(ApiError {
                verb: "create",
                kind: "Job",
                name,
                source,
            })),
        }
    }
}
