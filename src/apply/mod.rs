//! Apply: the machine's commands become API calls.
//!
//! Invariants:
//! - Every write is a server-side apply under the one field manager
//!   [`FIELD_MANAGER`], so rayop owns exactly the fields it sets and never
//!   erases a field another writer owns.
//! - An object is written only when its live spec hash or replicas differ
//!   from the desired ones: in steady state this step makes no API call.
//! - Deletes name the observed UID as a precondition, so a pod recreated
//!   under the same name is never deleted by a stale command; a pod that is
//!   already gone counts as deleted.
//! - An object that exists but is controlled by something other than this
//!   RayCluster is never overwritten (names can collide across clusters).

mod objects;

use k8s_openapi::api::core::v1::Pod;
use kube::{
    Api, Client,
    api::{DeleteParams, Preconditions},
    runtime::events::{Event as KubeEvent, EventType, Recorder},
};
use rayop_machines::{Command, PodRef, Severity};
use thiserror::Error;

use crate::{
    desired::{DesiredObjects, Kind, ObjectKey, ObjectSet},
    observe::{
        Live,
        pods::{DELETION_COST_ANNOTATION, FIRST_TO_GO},
    },
};

pub use objects::{apply_object, delete_object};

/// The one field manager rayop writes under.
pub const FIELD_MANAGER: &str = "rayop";

/// Why a command failed.
#[derive(Debug, Error)]
pub enum ApplyError {
    /// The API server refused or failed a write.
    #[error("{verb} {kind} {name}: {source}")]
    Api {
        /// apply, delete, ...
        verb: &'static str,
        /// The object's kind.
        kind: &'static str,
        /// The object's name.
        name: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// An object of that name exists and belongs to something else.
    #[error(
        "{kind} {name} exists and is not controlled by this RayCluster; rename the cluster or the group"
    )]
    Foreign {
        /// The object's kind.
        kind: &'static str,
        /// The object's name.
        name: String,
    },
    /// The command needs desired objects that could not be built.
    #[error("no desired objects for {0}")]
    NothingBuilt(String),
}

impl ApplyError {
    /// A short CamelCase reason for Events and conditions.
    #[must_use]
    pub fn reason(&self, command: &Command) -> &'static str {
        match (self, command) {
            (ApplyError::Foreign { .. }, _) => "NameConflict",
            (_, Command::EnsureHead { .. }) => "FailedApplyHead",
            (_, Command::EnsureGroup { .. }) => "FailedApplyWorkers",
            (_, Command::RemoveGroup { .. }) => "FailedRemoveGroup",
            (_, Command::DeletePods { .. }) => "FailedDeletePods",
            (_, Command::MarkPods { .. }) => "FailedMarkPods",
            _ => "FailedCommand",
        }
    }
}

/// Everything one cluster's commands need.
pub struct Applier<'a> {
    /// The client.
    pub client: Client,
    /// The cluster's namespace.
    pub namespace: &'a str,
    /// The cluster's UID, to recognise objects it controls.
    pub owner_uid: &'a str,
    /// The desired objects, when they could be built.
    pub desired: Option<&'a DesiredObjects>,
    /// The caches, to skip writes of objects already in sync.
    pub live: &'a dyn LiveForApply,
    /// Records Events on the cluster.
    pub recorder: &'a Recorder,
    /// The RayCluster's reference, for Events.
    pub reference: &'a k8s_openapi::api::core::v1::ObjectReference,
}

/// What apply needs of the caches beyond observe's view.
pub trait LiveForApply: Live + Send + Sync {
    /// The UID of the controller owner of the live object, if it has one.
    fn controller_uid(&self, key: &ObjectKey) -> Option<Option<String>>;
    /// Keys of live objects of `group` (workloads, Services, HPAs) that this cluster controls.
    fn group_keys(&self, group: &str) -> Vec<ObjectKey>;
}

/// Counts of API calls made, for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Writes {
    /// Server-side applies.
    pub applies: u32,
    /// Deletes.
    pub deletes: u32,
    /// Events recorded.
    pub events: u32,
}

impl Applier<'_> {
    /// Performs one command. `PublishStatus`, `WakeAt` and `Forget` are
    /// handled by the status step, the requeue and the journal step.
    ///
    /// # Errors
    /// The first failed API call.
    pub async fn perform(&self, command: &Command, writes: &mut Writes) -> Result<(), ApplyError> {
        match command {
            Command::EnsureHead { replicas } => {
                let set = &self.desired_or(command)?.head;
                self.ensure_set(set, Some(*replicas), writes).await
            }
            Command::MarkPods { pods, .. } => {
                for pod in pods {
                    self.mark_pod(pod).await?;
                    writes.applies += 1;
                }
                Ok(())
            }
            Command::EnsureGroup { group, replicas } => {
                let desired = self.desired_or(command)?;
                let set = desired
                    .group(group)
                    .ok_or_else(|| ApplyError::NothingBuilt(format!("group {group}")))?;
                self.remove_other_kind(set, writes).await?;
                self.ensure_set(set, *replicas, writes).await
            }
            Command::RemoveGroup { group } => {
                for key in self.live.group_keys(group) {
                    delete_object(&self.client, self.namespace, &key).await?;
                    writes.deletes += 1;
                }
                Ok(())
            }
            Command::DeletePods { pods, .. } => {
                for pod in pods {
                    self.delete_pod(pod).await?;
                    writes.deletes += 1;
                }
                Ok(())
            }
            Command::Announce(notice) => {
                let event = KubeEvent {
                    type_: match notice.severity {
                        Severity::Normal => EventType::Normal,
                        Severity::Warning => EventType::Warning,
                    },
                    reason: notice.reason.clone(),
                    note: Some(notice.message.chars().take(1000).collect()),
                    action: "Reconcile".into(),
                    secondary: None,
                };
                // An Event that cannot be recorded must not fail the reconcile.
                if let Err(error) = self.recorder.publish(&event, self.reference).await {
                    tracing::warn!(%error, reason = %notice.reason, "could not record Event");
                } else {
                    writes.events += 1;
                }
                Ok(())
            }
            Command::PublishStatus(_) | Command::WakeAt(_) | Command::Forget => Ok(()),
        }
    }

    fn desired_or(&self, command: &Command) -> Result<&DesiredObjects, ApplyError> {
        self.desired
            .ok_or_else(|| ApplyError::NothingBuilt(command.kind().to_string()))
    }

    async fn ensure_set(
        &self,
        set: &ObjectSet,
        replicas: Option<i32>,
        writes: &mut Writes,
    ) -> Result<(), ApplyError> {
        // Supporting objects (ServiceAccount, RBAC, Services) before the
        // workload, so its pods never start without the account they run as.
        let ordered = set
            .objects
            .iter()
            .filter(|o| !o.is_workload())
            .chain(set.objects.iter().filter(|o| o.is_workload()));
        for object in ordered {
            let key = object.key();
            let want_replicas = object.is_workload().then_some(replicas).flatten();
            if let Some(live) = self.live.object(&key) {
                let hash_ok = live.hash.as_deref() == Some(set.hash.as_str());
                // `None`: an HPA owns replicas; whatever it chose is fine.
                let replicas_ok = !object.is_workload()
                    || want_replicas.is_none()
                    || live.replicas == want_replicas;
                if hash_ok && replicas_ok {
                    continue;
                }
                if let Some(owner) = self.live.controller_uid(&key)
                    && owner.as_deref() != Some(self.owner_uid)
                {
                    return Err(ApplyError::Foreign {
                        kind: key.kind.as_str(),
                        name: key.name,
                    });
                }
            }
            let mut object = object.clone();
            object.set_replicas(want_replicas);
            apply_object(&self.client, self.namespace, &object).await?;
            writes.applies += 1;
        }
        Ok(())
    }

    /// A group whose `workloadKind` changed still has a workload of the
    /// other kind under the same name: remove it.
    async fn remove_other_kind(
        &self,
        set: &ObjectSet,
        writes: &mut Writes,
    ) -> Result<(), ApplyError> {
        let Some(workload) = set.workload() else {
            return Ok(());
        };
        let other = ObjectKey {
            kind: match workload.kind() {
                Kind::StatefulSet => Kind::Deployment,
                _ => Kind::StatefulSet,
            },
            name: workload.key().name,
        };
        if self.live.object(&other).is_some()
            && self.live.controller_uid(&other).flatten().as_deref() == Some(self.owner_uid)
        {
            delete_object(&self.client, self.namespace, &other).await?;
            writes.deletes += 1;
        }
        Ok(())
    }

    /// Gives `pod` the lowest deletion cost, so its ReplicaSet removes it
    /// first. The patch names the UID, so a recreated pod is never marked.
    async fn mark_pod(&self, pod: &PodRef) -> Result<(), ApplyError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), self.namespace);
        let patch = serde_json::json!({
            "metadata": {
                "uid": pod.uid,
                "annotations": { DELETION_COST_ANNOTATION: FIRST_TO_GO },
            }
        });
        match api
            .patch(
                &pod.name,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
            Err(source) => Err(ApplyError::Api {
                verb: "patch",
                kind: "Pod",
                name: pod.name.clone(),
                source,
            }),
        }
    }

    async fn delete_pod(&self, pod: &PodRef) -> Result<(), ApplyError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), self.namespace);
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(pod.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&pod.name, &params).await {
            Ok(_) => Ok(()),
            // Gone already, or replaced by a new incarnation: nothing to do.
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
            Err(source) => Err(ApplyError::Api {
                verb: "delete",
                kind: "Pod",
                name: pod.name.clone(),
                source,
            }),
        }
    }
}
