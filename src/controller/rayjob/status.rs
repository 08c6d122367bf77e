//! The RayJob status step: the machine's last `PublishStatus` plus live
//! facts (names, the dashboard address, the cluster's status) become
//! `status`, written by server-side apply only when it differs.
//!
//! Invariant: in steady state nothing is written; the copy of the cluster's
//! status is refreshed only while the job is not finished, so a finished
//! RayJob's status stops changing.

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{
    Api, Client, ResourceExt,
    api::{Patch, PatchParams},
};
use rayop_machines::{
    Millis,
    rayjob::{FailReason, JobPhase, JobStatusSummary, RayStatus},
};
use serde_json::json;

use crate::{
    crd::{
        RayCluster,
        rayjob::{JobDeploymentStatus, JobStatus, RayJob, RayJobStatus},
        status::RayClusterStatus,
    },
    owned::api::FIELD_MANAGER,
};

/// What the status says beyond the machine's summary.
pub struct JobFacts<'a> {
    /// The current attempt's Ray submission id.
    pub job_id: Option<&'a str>,
    /// The current attempt's RayCluster name.
    pub cluster_name: Option<&'a str>,
    /// `host:port` of its dashboard.
    pub dashboard_url: Option<&'a str>,
    /// The live cluster, whose status is copied.
    pub cluster: Option<&'a RayCluster>,
}

/// `status.jobDeploymentStatus` for a machine phase.
#[must_use]
pub fn deployment_status(phase: JobPhase) -> JobDeploymentStatus {
    match phase {
        JobPhase::New | JobPhase::Deleted => JobDeploymentStatus::New,
        JobPhase::Initializing => JobDeploymentStatus::Initializing,
        JobPhase::Waiting => JobDeploymentStatus::Waiting,
        JobPhase::Running => JobDeploymentStatus::Running,
        JobPhase::Complete => JobDeploymentStatus::Complete,
        JobPhase::Failed => JobDeploymentStatus::Failed,
        JobPhase::ValidationFailed => JobDeploymentStatus::ValidationFailed,
        JobPhase::Suspending => JobDeploymentStatus::Suspending,
        JobPhase::Suspended => JobDeploymentStatus::Suspended,
        JobPhase::Retrying => JobDeploymentStatus::Retrying,
    }
}

fn job_status(status: Option<RayStatus>) -> JobStatus {
    match status {
        None => JobStatus::New,
        Some(RayStatus::Pending) => JobStatus::Pending,
        Some(RayStatus::Running) => JobStatus::Running,
        Some(RayStatus::Succeeded) => JobStatus::Succeeded,
        Some(RayStatus::Failed) => JobStatus::Failed,
        Some(RayStatus::Stopped) => JobStatus::Stopped,
    }
}

fn reason(reason: FailReason) -> crate::crd::rayjob::status::JobFailedReason {
    use crate::crd::rayjob::status::JobFailedReason as R;
    match reason {
        FailReason::SubmissionFailed => R::SubmissionFailed,
        FailReason::DeadlineExceeded => R::DeadlineExceeded,
        FailReason::PreRunningDeadlineExceeded => R::PreRunningDeadlineExceeded,
        FailReason::AppFailed => R::AppFailed,
        FailReason::JobDeploymentStatusTransitionGracePeriodExceeded => {
            R::JobDeploymentStatusTransitionGracePeriodExceeded
        }
        FailReason::JobStatusCheckTimeoutExceeded => R::JobStatusCheckTimeoutExceeded,
        FailReason::ValidationFailed => R::ValidationFailed,
        FailReason::JobLost => R::JobLost,
    }
}

/// What the stored status says, as the machine's summary: given to a
/// machine that remembers nothing, so it goes on from there. `None` when
/// the status names no phase yet. The attempt is the one whose RayCluster
/// the status names; with `clusterSelector`, the one its counters imply.
#[must_use]
pub fn stored_summary(job: &RayJob) -> Option<JobStatusSummary> {
    let live = job.status.as_ref()?;
    let stored = live.job_deployment_status?;
    let deployment = JobPhase::ALL
        .into_iter()
        .find(|p| deployment_status(*p) == stored)?;
    let failed = live.failed.and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
    let implied = if deployment == JobPhase::Failed {
        failed.max(1)
    } else {
        failed.saturating_add(1)
    };
    let attempt = (1..=failed.saturating_add(1))
        .find(|n| {
            live.ray_cluster_name.as_deref()
                == Some(crate::build::rayjob::names::cluster_name(job, *n).as_str())
        })
        .unwrap_or(implied);
    let stored_job = live.job_status.unwrap_or(JobStatus::New);
    Some(JobStatusSummary {
        deployment,
        job_status: RayStatus::ALL
            .into_iter()
            .find(|s| job_status(Some(*s)) == stored_job),
        reason: live
            .reason
            .and_then(|r| FailReason::ALL.into_iter().find(|f| reason(*f) == r)),
        message: live.message.clone().unwrap_or_default(),
        attempt,
        succeeded: live
            .succeeded
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        failed,
        start_time: live.start_time.as_ref().and_then(millis),
        end_time: live.end_time.as_ref().and_then(millis),
    })
}

fn millis(time: &Time) -> Option<Millis> {
    u64::try_from(time.0.as_millisecond()).ok().map(Millis)
}

/// `at` in whole seconds: a Kubernetes time is written in seconds, so a
/// finer one would never equal the stored status and be written again at
/// every reconcile.
fn time(at: Millis) -> Option<Time> {
    let seconds = i64::try_from(at.0 / 1000).ok()?;
    Timestamp::from_second(seconds).ok().map(Time)
}

/// The status `summary` and `facts` describe, keeping what only the live
/// status knows (Ray's own job times) from `live`.
#[must_use]
pub fn desired_status(
    job: &RayJob,
    summary: &JobStatusSummary,
    facts: &JobFacts<'_>,
) -> RayJobStatus {
    let live = job.status.clone().unwrap_or_default();
    let finished = summary.deployment.is_finished();
    let cluster_status: Option<RayClusterStatus> = if finished {
        live.ray_cluster_status.clone()
    } else {
        facts.cluster.and_then(|c| c.status.clone()).map(|mut s| {
            // Timestamps that change on every cluster write would make the
            // copy differ each time.
            s.last_update_time = None;
            s
        })
    };
    RayJobStatus {
        ray_job_info: live.ray_job_info,
        job_id: facts.job_id.map(str::to_owned),
        ray_cluster_name: facts.cluster_name.map(str::to_owned),
        dashboard_url: facts.dashboard_url.map(str::to_owned),
        job_status: Some(job_status(summary.job_status)),
        job_deployment_status: Some(deployment_status(summary.deployment)),
        reason: summary.reason.map(reason),
        message: (!summary.message.is_empty()).then(|| summary.message.clone()),
        start_time: summary.start_time.and_then(time),
        end_time: summary.end_time.and_then(time),
        succeeded: Some(i32::try_from(summary.succeeded).unwrap_or(i32::MAX)),
        failed: Some(i32::try_from(summary.failed).unwrap_or(i32::MAX)),
        ray_cluster_status: cluster_status,
        job_status_check_failure_start_time: None,
        observed_generation: job.metadata.generation,
    }
}

/// Writes the status if it differs from the live one. Returns whether it wrote.
///
/// # Errors
/// When the API server refuses the status patch.
pub async fn publish(
    client: &Client,
    job: &RayJob,
    summary: &JobStatusSummary,
    facts: &JobFacts<'_>,
) -> Result<bool, kube::Error> {
    let desired = desired_status(job, summary, facts);
    if job.status.as_ref() == Some(&desired) {
        return Ok(false);
    }
    let api: Api<RayJob> = Api::namespaced(client.clone(), &job.namespace().unwrap_or_default());
    let patch = json!({"apiVersion": "ray.io/v1", "kind": "RayJob", "status": desired});
    api.patch_status(
        &job.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn summary(deployment: JobPhase) -> JobStatusSummary {
        JobStatusSummary {
            deployment,
            job_status: Some(RayStatus::Running),
            reason: None,
            message: "the job runs".into(),
            attempt: 1,
            succeeded: 0,
            failed: 0,
            start_time: Some(Millis(1_700_000_000_000)),
            end_time: None,
        }
    }

    fn job() -> RayJob {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "ray.io/v1", "kind": "RayJob",
            "metadata": {"name": "j", "namespace": "ns", "generation": 3},
            "spec": {"entrypoint": "python x.py"}
        }))
        .unwrap()
    }

    #[test]
    fn a_status_with_times_off_the_second_equals_itself_once_stored() {
        let mut job = job();
        let summary = JobStatusSummary {
            start_time: Some(Millis(1_700_000_000_456)),
            end_time: Some(Millis(1_700_000_100_789)),
            ..summary(JobPhase::Complete)
        };
        let facts = JobFacts {
            job_id: None,
            cluster_name: None,
            dashboard_url: None,
            cluster: None,
        };
        let desired = desired_status(&job, &summary, &facts);
        // What the API server hands back: the status as JSON.
        let stored: RayJobStatus =
            serde_json::from_value(serde_json::to_value(&desired).unwrap()).unwrap();
        job.status = Some(stored);
        assert_eq!(job.status, Some(desired_status(&job, &summary, &facts)));
    }

    #[test]
    fn a_written_status_reads_back_as_its_summary() {
        let mut job = job();
        job.metadata.uid = Some("u-1".into());
        for (deployment, attempt, failed, reason) in [
            (JobPhase::Running, 2, 1, None),
            (JobPhase::Complete, 1, 0, None),
            (JobPhase::Failed, 3, 3, Some(FailReason::JobLost)),
            (JobPhase::Retrying, 2, 2, Some(FailReason::AppFailed)),
        ] {
            let summary = JobStatusSummary {
                attempt,
                failed,
                reason,
                end_time: deployment
                    .is_finished()
                    .then_some(Millis(1_700_000_100_000)),
                ..summary(deployment)
            };
            let cluster = crate::build::rayjob::names::cluster_name(&job, attempt);
            let facts = JobFacts {
                job_id: None,
                cluster_name: Some(&cluster),
                dashboard_url: None,
                cluster: None,
            };
            job.status = Some(desired_status(&job, &summary, &facts));
            assert_eq!(stored_summary(&job), Some(summary), "{deployment}");
        }
        job.status = None;
        assert_eq!(stored_summary(&job), None);
    }

    #[test]
    fn the_summary_becomes_kuberays_status_fields() {
        let facts = JobFacts {
            job_id: Some("j-abcde"),
            cluster_name: Some("j-xyz12"),
            dashboard_url: Some("j-xyz12-head-svc.ns.svc.cluster.local:8265"),
            cluster: None,
        };
        let s = desired_status(&job(), &summary(JobPhase::Running), &facts);
        assert_eq!(s.job_deployment_status, Some(JobDeploymentStatus::Running));
        assert_eq!(s.job_status, Some(JobStatus::Running));
        assert_eq!(s.job_id.as_deref(), Some("j-abcde"));
        assert_eq!(s.observed_generation, Some(3));
        assert_eq!(s.succeeded, Some(0));
        assert_eq!(
            s.start_time.as_ref().map(|t| t.0.to_string()).as_deref(),
            Some("2023-11-14T22:13:20Z")
        );
        let wire = serde_json::to_value(&s).unwrap();
        assert_eq!(
            wire["dashboardURL"],
            "j-xyz12-head-svc.ns.svc.cluster.local:8265"
        );
    }

    #[test]
    fn a_status_equal_to_the_live_one_is_not_written_again() {
        let facts = JobFacts {
            job_id: None,
            cluster_name: None,
            dashboard_url: None,
            cluster: None,
        };
        let mut j = job();
        let s = desired_status(&j, &summary(JobPhase::Initializing), &facts);
        j.status = Some(s.clone());
        assert_eq!(
            desired_status(&j, &summary(JobPhase::Initializing), &facts),
            s
        );
    }
}
