//! The one interpreter of RayCronJob commands: creates the RayJob of a
//! tick, records Events, and keeps the status and timer the machine asked
//! for.
//!
//! Invariant: a RayJob is created by its tick's name and only when absent;
//! one of that name this RayCronJob does not control is a conflict reported
//! to the user, never adopted.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::{Client, runtime::events::Recorder};
use rayop_machines::raycronjob::{CronCommand, CronCommandKind, CronMachine};

use super::{context::CronCarried, error::CronApplyError};
use crate::{
    build::raycronjob as build,
    crd::raycronjob::RayCronJob,
    interpret::{Interpret, Writes},
    journaling::JournalHandle,
    owned::create_once::{CreateError, create_once},
};

/// Carries out the commands of one RayCronJob.
pub struct CronInterpreter<'a> {
    /// The API client.
    pub client: Client,
    /// The RayCronJob (absent once it is gone).
    pub cron: Option<&'a RayCronJob>,
    /// Its namespace.
    pub namespace: &'a str,
    /// Its UID.
    pub uid: &'a str,
    /// Records Events.
    pub recorder: &'a Recorder,
    /// The RayCronJob's reference, for Events.
    pub reference: &'a ObjectReference,
    /// The journal, for `Forget`.
    pub journal: &'a JournalHandle,
    /// The event's time.
    pub at: rayop_machines::Millis,
}

impl Interpret<CronMachine> for CronInterpreter<'_> {
    type Carried = CronCarried;
    type Error = CronApplyError;

    async fn carry_out(
        &self,
        command: &CronCommand,
        carried: &mut CronCarried,
        writes: &mut Writes,
    ) -> Result<(), CronApplyError> {
        match command {
            CronCommand::CreateRayJob { tick } => {
                let cron = self.cron.ok_or(CronApplyError::Gone)?;
                let job = build::child_rayjob(cron, *tick)
                    .map_err(|e| CronApplyError::Build(e.to_string()))?;
                let created = create_once(
                    &self.client,
                    self.namespace,
                    "RayCronJob",
                    self.uid,
                    "RayJob",
                    &job,
                )
                .await?;
                if created {
                    writes.applies += 1;
                }
                Ok(())
            }
            CronCommand::PatchStatus { last_schedule } => {
                carried.last_schedule = Some(*last_schedule);
                Ok(())
            }
            CronCommand::Announce(notice) => {
                if crate::interpret::announce(self.recorder, self.reference, notice, None).await {
                    writes.events += 1;
                }
                Ok(())
            }
            CronCommand::WakeAt(at) => {
                carried.wake = Some(*at);
                Ok(())
            }
            CronCommand::Forget => {
                if let Err(error) = self.journal.mark_deleted(self.uid, self.at).await {
                    tracing::warn!(%error, "could not mark the RayCronJob's journal stream deleted");
                }
                carried.forgotten = true;
                Ok(())
            }
        }
    }

    fn forgotten(carried: &CronCarried) -> bool {
        carried.forgotten
    }

    fn reason(error: &CronApplyError, kind: CronCommandKind) -> &'static str {
        match error {
            CronApplyError::Create(CreateError::Conflict { .. }) => "NameConflict",
            CronApplyError::Build(_) => "InvalidSpec",
            _ => match kind {
                CronCommandKind::CreateRayJob => "FailedCreateRayJob",
                CronCommandKind::PatchStatus
                | CronCommandKind::Announce
                | CronCommandKind::WakeAt
                | CronCommandKind::Forget => "Failed",
            },
        }
    }
}
