//! The one interpreter of RayJob commands: creates and deletes the
//! attempt's RayCluster and submitter Job, talks to the dashboard, records
//! Events, and keeps the status and timer the machine asked for.
//!
//! Invariants:
//! - Creates are by deterministic name and only when absent; an object of
//!   that name that this RayJob does not control is a conflict reported to
//!   the user, never adopted or overwritten.
//! - Deletes touch only objects this RayJob controls; a missing object is
//!   already what was asked.
//! - A cluster chosen by `clusterSelector` is never created, changed or
//!   deleted.

use k8s_openapi::api::{batch::v1::Job, core::v1::ObjectReference};
use kube::{
    Api, Client, Resource,
    api::{DeleteParams, Patch, PatchParams, PropagationPolicy},
    runtime::events::Recorder,
};
use rayop_machines::rayjob::{JobCommand, JobCommandKind, JobMachine};

pub use super::error::JobApplyError;
use super::{context::JobCarried, dashboard_access::Dashboards};
use crate::owned::create_once::CreateError;
use crate::{
    build::rayjob as build,
    crd::{RayCluster, rayjob::RayJob},
    dashboard::{JobsApi, Lookup},
    interpret::{Interpret, Writes},
    journaling::JournalHandle,
    owned::{
        api::FIELD_MANAGER,
        create_once::{controlled_by, create_once},
    },
};

/// Carries out the commands of one RayJob.
pub struct JobInterpreter<'a> {
    /// The API client.
    pub client: Client,
    /// The RayJob (absent once it is gone).
    pub job: Option<&'a RayJob>,
    /// Its namespace.
    pub namespace: &'a str,
    /// Its UID.
    pub uid: &'a str,
    /// How the attempt's dashboard is reached.
    pub dashboards: &'a Dashboards,
    /// The live cluster of the current attempt, if any.
    pub cluster: Option<&'a RayCluster>,
    /// Records Events.
    pub recorder: &'a Recorder,
    /// The RayJob's reference, for Events.
    pub reference: &'a ObjectReference,
    /// The journal, for `Forget`.
    pub journal: &'a JournalHandle,
    /// The event's time.
    pub at: rayop_machines::Millis,
}

fn api_error(
    step: &'static str,
    kind: &'static str,
    name: &str,
) -> impl FnOnce(kube::Error) -> JobApplyError {
    let name = name.to_owned();
    move |source| JobApplyError::Api {
        step,
        kind,
        name,
        source,
    }
}

fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

impl JobInterpreter<'_> {
    fn job(&self) -> Result<&RayJob, JobApplyError> {
        self.job
            .ok_or_else(|| JobApplyError::NoCluster("(the RayJob is gone)".into()))
    }

    fn ours(&self, meta: &kube::api::ObjectMeta) -> bool {
        controlled_by(meta, self.uid)
    }

    /// Creates `object` unless this RayJob already made it; a foreign
    /// object of its name is a conflict.
    async fn create<K>(
        &self,
        kind: &'static str,
        object: &K,
        writes: &mut Writes,
    ) -> Result<(), JobApplyError>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::Serialize
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        let created = create_once(
            &self.client,
            self.namespace,
            "RayJob",
            self.uid,
            kind,
            object,
        )
        .await?;
        if created {
            writes.applies += 1;
        }
        Ok(())
    }

    /// Deletes `name` if this RayJob controls it.
    async fn delete<K>(
        &self,
        kind: &'static str,
        name: &str,
        writes: &mut Writes,
    ) -> Result<(), JobApplyError>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), self.namespace);
        let Some(live) = api
            .get_opt(name)
            .await
            .map_err(api_error("get", kind, name))?
        else {
            return Ok(());
        };
        if !self.ours(live.meta()) || live.meta().deletion_timestamp.is_some() {
            return Ok(());
        }
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: live.meta().uid.clone().map(|uid| kube::api::Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(name, &params).await {
            Ok(_) => {
                writes.deletes += 1;
                Ok(())
            }
            Err(error) if is_not_found(&error) => Ok(()),
            Err(source) => Err(JobApplyError::Api {
                step: "delete",
                kind,
                name: name.to_owned(),
                source,
            }),
        }
    }

    async fn suspend_workers(&self, name: &str, writes: &mut Writes) -> Result<(), JobApplyError> {
        let api: Api<RayCluster> = Api::namespaced(self.client.clone(), self.namespace);
        let Some(live) = api
            .get_opt(name)
            .await
            .map_err(api_error("get", "RayCluster", name))?
        else {
            return Ok(());
        };
        if !self.ours(live.meta()) {
            return Ok(());
        }
        let groups: Vec<serde_json::Value> = live
            .spec
            .worker_group_specs
            .iter()
            .filter(|g| g.suspend != Some(true))
            .map(|g| serde_json::json!({"groupName": g.group_name, "suspend": true}))
            .collect();
        if groups.is_empty() {
            return Ok(());
        }
        let patch = serde_json::json!({
            "apiVersion": "ray.io/v1",
            "kind": "RayCluster",
            "spec": {"workerGroupSpecs": groups},
        });
        api.patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(api_error("patch", "RayCluster", name))?;
        writes.applies += 1;
        Ok(())
    }

    async fn dashboard_call(
        &self,
        command: &JobCommand,
        attempt: u32,
    ) -> Result<(), JobApplyError> {
        let job = self.job()?;
        let cluster = self
            .cluster
            .ok_or_else(|| JobApplyError::NoCluster(build::names::cluster_name(job, attempt)))?;
        let client = self.dashboards.client_for(&self.client, cluster).await?;
        let id = build::names::submission_id(job, attempt).unwrap_or_default();
        match command {
            JobCommand::SubmitHttp { .. } => {
                let submission = build::http_submit::submit_request(job, attempt)?;
                let request = serde_json::to_value(&submission)
                    .and_then(crate::dashboard::SubmitRequest::from_value)
                    .map_err(|e| JobApplyError::Encode(e.to_string()))?;
                client.submit(&request).await?;
            }
            _ => {
                // Stopped, already over, or unknown: the job no longer runs.
                let _: Lookup<bool> = client.stop(&id).await?;
            }
        }
        Ok(())
    }
}

impl Interpret<JobMachine> for JobInterpreter<'_> {
    type Carried = JobCarried;
    type Error = JobApplyError;

    async fn carry_out(
        &self,
        command: &JobCommand,
        carried: &mut JobCarried,
        writes: &mut Writes,
    ) -> Result<(), JobApplyError> {
        match command {
            JobCommand::CreateCluster { attempt } => {
                let job = self.job()?;
                if job.spec.cluster_selector.is_some() {
                    return Ok(());
                }
                let cluster = build::ray_cluster(job, *attempt)?;
                self.create("RayCluster", &cluster, writes).await
            }
            JobCommand::CreateSubmitter { attempt } => {
                let job = self.job()?;
                let cluster = self.cluster.ok_or_else(|| {
                    JobApplyError::NoCluster(build::names::cluster_name(job, *attempt))
                })?;
                let address = self.dashboards.address(cluster)?;
                let submitter = build::submitter_job(job, *attempt, cluster, &address)?;
                self.create("Job", &submitter, writes).await
            }
            JobCommand::SubmitHttp { attempt } | JobCommand::StopJob { attempt } => {
                self.dashboard_call(command, *attempt).await
            }
            JobCommand::DeleteSubmitter { attempt } => {
                let job = self.job()?;
                let name = build::names::submitter_job_name(job, *attempt);
                self.delete::<Job>("Job", &name, writes).await
            }
            JobCommand::DeleteCluster { attempt } => {
                let job = self.job()?;
                if job.spec.cluster_selector.is_some() {
                    return Ok(());
                }
                let name = build::names::cluster_name(job, *attempt);
                self.delete::<RayCluster>("RayCluster", &name, writes).await
            }
            JobCommand::DeleteWorkers { attempt } => {
                let job = self.job()?;
                if job.spec.cluster_selector.is_some() {
                    return Ok(());
                }
                self.suspend_workers(&build::names::cluster_name(job, *attempt), writes)
                    .await
            }
            JobCommand::DeleteSelf => {
                let api: Api<RayJob> = Api::namespaced(self.client.clone(), self.namespace);
                let name = self.reference.name.clone().unwrap_or_default();
                let params = DeleteParams {
                    propagation_policy: Some(PropagationPolicy::Background),
                    preconditions: Some(kube::api::Preconditions {
                        uid: Some(self.uid.to_owned()),
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                };
                match api.delete(&name, &params).await {
                    Ok(_) => {
                        writes.deletes += 1;
                        Ok(())
                    }
                    Err(error) if is_not_found(&error) => Ok(()),
                    Err(source) => Err(JobApplyError::Api {
                        step: "delete",
                        kind: "RayJob",
                        name,
                        source,
                    }),
                }
            }
            JobCommand::PublishStatus(summary) => {
                carried.status = Some(summary.clone());
                Ok(())
            }
            JobCommand::Announce(notice) => {
                if crate::interpret::announce(self.recorder, self.reference, notice, None).await {
                    writes.events += 1;
                }
                Ok(())
            }
            JobCommand::WakeAt(at) => {
                carried.wake = Some(*at);
                Ok(())
            }
            JobCommand::Forget => {
                if let Err(error) = self.journal.mark_deleted(self.uid, self.at).await {
                    tracing::warn!(%error, "could not mark the RayJob's journal stream deleted");
                }
                carried.forgotten = true;
                Ok(())
            }
        }
    }

    fn forgotten(carried: &JobCarried) -> bool {
        carried.forgotten
    }

    fn reason(error: &JobApplyError, kind: JobCommandKind) -> &'static str {
        match error {
            JobApplyError::Create(CreateError::Conflict { .. }) => "NameConflict",
            JobApplyError::Build(_) => "InvalidSpec",
            _ => match kind {
                JobCommandKind::CreateCluster => "FailedCreateCluster",
                JobCommandKind::CreateSubmitter => "FailedCreateSubmitter",
                JobCommandKind::SubmitHttp => "FailedSubmitJob",
                JobCommandKind::StopJob => "FailedStopJob",
                JobCommandKind::DeleteSubmitter => "FailedDeleteSubmitter",
                JobCommandKind::DeleteCluster => "FailedDeleteCluster",
                JobCommandKind::DeleteWorkers => "FailedDeleteWorkers",
                JobCommandKind::DeleteSelf => "FailedDeleteRayJob",
                JobCommandKind::PublishStatus
                | JobCommandKind::Announce
                | JobCommandKind::WakeAt
                | JobCommandKind::Forget => "Failed",
            },
        }
    }
}
