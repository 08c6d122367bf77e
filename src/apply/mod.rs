//! Apply: the one interpreter of the machine's commands.
//!
//! Every command a machine emits is carried out here and nowhere else:
//! object writes and pod deletes go to the API server (the Redis cleanup's
//! finalizer, workloads and Job in [`finalizer`]), `Announce` to the
//! Event recorder, `PublishStatus` and `WakeAt` into the cluster's
//! [`Carried`] memory (the status step writes the status, paced; the
//! reconcile requeues at the wake-up), and `Forget` to the journal.
//!
//! Invariants:
//! - An object is written only when its live spec hash or replicas differ
//!   from the desired ones, or another writer has changed a field rayop
//!   sets (drift, reverted by the forced apply): in steady state this step
//!   makes no API call.
//! - An object that exists but is controlled by something other than this
//!   RayCluster is never written, whether the caches hold it or not (they
//!   hold only objects labelled `ray.io/cluster`): its name is a
//!   `NameConflict`, and nothing of it changes.
//! - A created-once object (the token Secret, [`created_once`]) is created
//!   when missing and never written again.
//! - Objects of a kind a spec field turns on and off (NetworkPolicy,
//!   Ingress) that this RayCluster controls and no desired set lists are
//!   deleted before any set is applied.
//! - Pod writes name the observed UID as a precondition, so a pod recreated
//!   under the same name is never touched by a stale command; a pod that is
//!   already gone counts as done.

use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service};
use kube::{
    Api, Client,
    api::{DeleteParams, Preconditions},
    runtime::events::Recorder,
};
use rayop_machines::{Command, CommandKind, Millis, ObjectName, PodRef, StatusSummary};
use thiserror::Error;

mod created_once;
pub mod finalizer;
pub mod gcs_claim;
pub mod invalid_field;

pub use created_once::{AUTH_SECRET_NOT_READY, new_token};

pub use crate::interpret::Writes;
use crate::{
    desired::{DesiredObjects, Kind, ObjectKey, ObjectSet, service_is_headless},
    interpret::Interpret,
    journaling::{JournalError, JournalHandle},
    observe::{
        Live,
        pods::{DELETION_COST_ANNOTATION, FIRST_TO_GO},
    },
    owned::{ApiError, LiveObject, apply_object, controller_of, delete_object},
};

pub use crate::owned::FIELD_MANAGER;

/// Why a command failed.
#[derive(Debug, Error)]
pub enum ApplyError {
    /// The API server refused or failed a write.
    #[error(transparent)]
    Api(#[from] ApiError),
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
    /// The system's secure random source failed, so no token was drawn.
    #[error("the system's random source failed; no auth token could be drawn")]
    NoRandomness,
    /// The journal could not record the cluster's end.
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
}

impl ApplyError {
    /// A short CamelCase reason for Events and conditions.
    #[must_use]
    pub fn reason(&self, command: CommandKind) -> &'static str {
        match (self, command) {
            (ApplyError::Foreign { .. }, _) => "NameConflict",
            (_, CommandKind::EnsurePki) => "MTLSFailedToReconcile",
            (_, CommandKind::EnsureHead) => "FailedApplyHead",
            (_, CommandKind::EnsureGroup) => "FailedApplyWorkers",
            (_, CommandKind::RemoveGroup) => "FailedRemoveGroup",
            (_, CommandKind::DeletePods) => "FailedDeletePods",
            (_, CommandKind::MarkPods) => "FailedMarkPods",
            (_, CommandKind::Forget) => "JournalUnavailable",
            (_, CommandKind::AddFinalizer) => "FailedAddFinalizer",
            (_, CommandKind::RemoveFinalizer) => "FailedRemoveFinalizer",
            (_, CommandKind::StopWorkloads) => "FailedDeleteAllPods",
            (_, CommandKind::EnsureCleanupJob) => "FailedToCreateRedisCleanupJob",
            _ => "FailedCommand",
        }
    }
}

/// What the interpreter keeps for one cluster between its reconciles. It is
/// memory, not truth: lost on restart, and rebuilt then from the machine's
/// [`rayop_machines::ClusterMachine::resume`] commands.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Carried {
    /// The last summary a `PublishStatus` asked for; the status step keeps
    /// the live status equal to it.
    pub status: Option<StatusSummary>,
    /// The last `WakeAt`: deliver a `Tick` no later than this.
    pub wake: Option<Millis>,
    /// A `Forget` was carried out: the cluster's stream is marked deleted.
    pub forgotten: bool,
}

impl Carried {
    /// Whether the wake-up is due at `now`; it is cleared then.
    pub fn take_due_wake(&mut self, now: Millis) -> bool {
        crate::interpret::take_due_wake(&mut self.wake, now)
    }
}

/// What apply needs of the caches beyond observe's view.
pub trait LiveForApply: Live + Send + Sync {
    /// The UID of the controller owner of the live object, if it has one.
    fn controller_uid(&self, key: &ObjectKey) -> Option<Option<String>>;
    /// Keys of live objects of `group` (workloads, Services, HPAs) that this cluster controls.
    fn group_keys(&self, group: &str) -> Vec<ObjectKey>;
    /// Keys of live objects of `kind` that this cluster controls.
    fn keys_of(&self, kind: Kind) -> Vec<ObjectKey>;
}

/// The caches of a cluster that is gone: nothing is live.
pub struct NothingLive;

impl Live for NothingLive {
    fn object(&self, _: &ObjectKey) -> Option<LiveObject> {
        None
    }

    fn pods(&self) -> Vec<std::sync::Arc<Pod>> {
        Vec::new()
    }

    fn workload_groups(&self) -> std::collections::BTreeMap<String, LiveObject> {
        std::collections::BTreeMap::new()
    }
}

impl LiveForApply for NothingLive {
    fn controller_uid(&self, _: &ObjectKey) -> Option<Option<String>> {
        None
    }

    fn group_keys(&self, _: &str) -> Vec<ObjectKey> {
        Vec::new()
    }

    fn keys_of(&self, _: Kind) -> Vec<ObjectKey> {
        Vec::new()
    }
}

/// Everything one cluster's commands need.
pub struct Interpreter<'a> {
    /// The client.
    pub client: Client,
    /// The cluster's namespace.
    pub namespace: &'a str,
    /// The cluster's UID, to recognise objects it controls and name its stream.
    pub owner_uid: &'a str,
    /// When the commands are carried out, for the journal.
    pub at: Millis,
    /// The desired objects, when they could be built.
    pub desired: Option<&'a DesiredObjects>,
    /// The RayCluster's spec, to name its fields in errors; `None` when gone.
    pub spec: Option<&'a crate::crd::RayClusterSpec>,
    /// The caches, to skip writes of objects already in sync.
    pub live: &'a dyn LiveForApply,
    /// Records Events on the cluster.
    pub recorder: &'a Recorder,
    /// The RayCluster's reference, for Events.
    pub reference: &'a ObjectReference,
    /// The journal, for `Forget`.
    pub journal: &'a JournalHandle,
    /// The RayCluster as read, for `AddFinalizer` and `RemoveFinalizer`;
    /// `None` when gone.
    pub cluster: Option<finalizer::ClusterMeta<'a>>,
}

impl Interpret<rayop_machines::ClusterMachine> for Interpreter<'_> {
    type Carried = Carried;
    type Error = ApplyError;

    async fn carry_out(
        &self,
        command: &Command,
        carried: &mut Carried,
        writes: &mut Writes,
    ) -> Result<(), ApplyError> {
        Interpreter::carry_out(self, command, carried, writes).await
    }

    fn forgotten(carried: &Carried) -> bool {
        carried.forgotten
    }

    fn reason(error: &ApplyError, kind: CommandKind) -> &'static str {
        error.reason(kind)
    }

    fn describe(&self, error: &ApplyError) -> String {
        invalid_field::explain(self.desired, self.spec, error).unwrap_or_else(|| error.to_string())
    }

    fn ends_turn(error: &ApplyError) -> bool {
        matches!(error, ApplyError::Api(e) if e.namespace_terminating())
    }
}

impl Interpreter<'_> {
    /// Carries out one command.
    ///
    /// # Errors
    /// The first failed API call, or the journal's refusal to forget.
    pub async fn carry_out(
        &self,
        command: &Command,
        carried: &mut Carried,
        writes: &mut Writes,
    ) -> Result<(), ApplyError> {
        match command {
            Command::EnsurePki => {
                let set = self
                    .desired_or(command)?
                    .pki
                    .as_ref()
                    .ok_or_else(|| ApplyError::NothingBuilt("the TLS certificates".into()))?;
                self.ensure_set(set, None, writes).await
            }
            Command::EnsureHead { replicas } => {
                let desired = self.desired_or(command)?;
                self.prune(desired, writes).await?;
                // The claim first: the head pod mounts it.
                if let Some(claim) = &desired.gcs_claim {
                    self.ensure_claim(claim, writes).await?;
                }
                let set = &desired.head;
                // The token Secret before the pods that read it.
                self.ensure_created_once(set, writes).await?;
                self.ensure_set(set, Some(*replicas), writes).await?;
                self.check_user_secret(writes).await;
                Ok(())
            }
            Command::EnsureGroup { group, replicas } => {
                let desired = self.desired_or(command)?;
                let set = desired
                    .group(group)
                    .ok_or_else(|| ApplyError::NothingBuilt(format!("group {group}")))?;
                self.prune(desired, writes).await?;
                self.remove_other_kind(set, writes).await?;
                self.ensure_set(set, *replicas, writes).await
            }
            Command::RemoveGroup { group } => {
                let deletable = self.live.group_keys(group).into_iter();
                for key in deletable.filter(|k| k.kind.deletable()) {
                    delete_object(&self.client, self.namespace, key.kind, &key.name).await?;
                    writes.deletes += 1;
                }
                Ok(())
            }
            Command::MarkPods { pods, .. } => {
                for pod in pods {
                    self.mark_pod(pod).await?;
                    writes.applies += 1;
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
                let related = notice.related.as_ref().and_then(|r| self.reference_to(r));
                if crate::interpret::announce(self.recorder, self.reference, notice, related).await
                {
                    writes.events += 1;
                }
                Ok(())
            }
            Command::PublishStatus(summary) => {
                carried.status = Some(summary.clone());
                Ok(())
            }
            Command::WakeAt(at) => {
                carried.wake = Some(*at);
                Ok(())
            }
            Command::AddFinalizer => self.add_finalizer(writes).await,
            Command::RemoveFinalizer => self.remove_finalizer(writes).await,
            Command::StopWorkloads => self.stop_workloads(writes).await,
            Command::EnsureCleanupJob => self.ensure_cleanup_job(writes).await,
            Command::Forget => {
                carried.forgotten = true;
                self.journal
                    .mark_deleted(self.owner_uid, self.at)
                    .await
                    .map_err(ApplyError::Journal)
            }
        }
    }

    /// The reference of an object of this cluster's namespace (an owned
    /// kind or a pod), for an Event's `related`; `None` otherwise.
    fn reference_to(&self, object: &ObjectName) -> Option<ObjectReference> {
        let api_version = match Kind::from_name(&object.kind) {
            Some(kind) => kind.api_version(),
            None if object.kind == "Pod" => "v1",
            None => return None,
        };
        Some(ObjectReference {
            api_version: Some(api_version.to_owned()),
            kind: Some(object.kind.clone()),
            name: Some(object.name.clone()),
            namespace: Some(self.namespace.to_owned()),
            ..ObjectReference::default()
        })
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
            let owner = match self.live.object(&key) {
                Some(live) => {
                    let hash_ok = live.hash.as_deref() == Some(set.hash.as_str());
                    // `None`: an HPA owns replicas; whatever it chose is fine.
                    let replicas_ok = !object.is_workload()
                        || want_replicas.is_none()
                        || live.replicas == want_replicas;
                    // A field changed by hand is written back (forced apply).
                    if hash_ok && replicas_ok && live.drift(object).is_empty() {
                        continue;
                    }
                    self.live.controller_uid(&key)
                }
                // Not in the caches, which hold only labelled objects: an
                // unlabelled one of that name may exist and be someone else's.
                None => controller_of(&self.client, self.namespace, key.kind, &key.name).await?,
            };
            if let Some(owner) = owner
                && owner.as_deref() != Some(self.owner_uid)
            {
                return Err(ApplyError::Foreign {
                    kind: key.kind.as_str(),
                    name: key.name,
                });
            }
            // A Service cannot turn headless or back in place (its
            // clusterIP is immutable): replace it.
            if let Some(live) = self.live.object(&key)
                && live.headless.is_some()
                && live.headless != object.headless()
                && self.delete_service_of_other_headlessness(object).await?
            {
                writes.deletes += 1;
            }
            let mut object = object.clone();
            object.set_replicas(want_replicas);
            apply_object(&self.client, self.namespace, &object).await?;
            writes.applies += 1;
        }
        Ok(())
    }

    /// Deletes the objects of [`Kind::pruned`] kinds that this cluster
    /// controls and no set wants any more (a removed `networkPolicy`, an
    /// `enableIngress` turned off). Done before the set is applied, so a
    /// failed delete leaves the set's hash stale and the command is retried.
    async fn prune(&self, desired: &DesiredObjects, writes: &mut Writes) -> Result<(), ApplyError> {
        let wanted: std::collections::BTreeSet<ObjectKey> = desired
            .head
            .keys()
            .into_iter()
            .chain(desired.groups.iter().flat_map(|(_, set)| set.keys()))
            .collect();
        for kind in Kind::ALL.iter().copied().filter(|k| k.pruned()) {
            for key in self.live.keys_of(kind) {
                if !wanted.contains(&key) {
                    delete_object(&self.client, self.namespace, key.kind, &key.name).await?;
                    writes.deletes += 1;
                }
            }
        }
        Ok(())
    }

    /// Deletes the live Service `desired` names when the API server (not
    /// the cache, which may lag behind an earlier replacement) says its
    /// headlessness differs; the UID precondition spares a Service
    /// recreated since. Whether it deleted one.
    async fn delete_service_of_other_headlessness(
        &self,
        desired: &crate::desired::Object,
    ) -> Result<bool, ApplyError> {
        let name = desired.meta().name.clone().unwrap_or_default();
        let api: Api<Service> = Api::namespaced(self.client.clone(), self.namespace);
        let error = |source| ApiError {
            verb: "delete",
            kind: "Service",
            name: name.clone(),
            source,
        };
        let Some(live) = api.get_opt(&name).await.map_err(error)? else {
            return Ok(false);
        };
        if Some(service_is_headless(&live)) == desired.headless() {
            return Ok(false);
        }
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: live.metadata.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&name, &params).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(false),
            Err(source) => Err(error(source).into()),
        }
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
            delete_object(&self.client, self.namespace, other.kind, &other.name).await?;
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
            Err(source) => Err(pod_error("patch", pod, source)),
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
            Err(source) => Err(pod_error("delete", pod, source)),
        }
    }
}

fn pod_error(verb: &'static str, pod: &PodRef, source: kube::Error) -> ApplyError {
    ApplyError::Api(ApiError {
        verb,
        kind: "Pod",
        name: pod.name.clone(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wake_is_taken_once_when_due() {
        let mut carried = Carried {
            wake: Some(Millis(10)),
            ..Carried::default()
        };
        assert!(!carried.take_due_wake(Millis(9)));
        assert!(carried.take_due_wake(Millis(10)));
        assert!(!carried.take_due_wake(Millis(11)));
        assert_eq!(carried.wake, None);
    }

    #[test]
    fn every_failed_command_has_a_reason() {
        let error = ApplyError::NothingBuilt("x".into());
        for kind in [
            CommandKind::EnsurePki,
            CommandKind::EnsureHead,
            CommandKind::EnsureGroup,
            CommandKind::RemoveGroup,
            CommandKind::DeletePods,
            CommandKind::MarkPods,
            CommandKind::Forget,
            CommandKind::AddFinalizer,
            CommandKind::RemoveFinalizer,
            CommandKind::StopWorkloads,
            CommandKind::EnsureCleanupJob,
        ] {
            assert_ne!(error.reason(kind), "FailedCommand", "{kind}");
        }
        let foreign = ApplyError::Foreign {
            kind: "Service",
            name: "x".into(),
        };
        assert_eq!(foreign.reason(CommandKind::EnsureHead), "NameConflict");
    }
}
