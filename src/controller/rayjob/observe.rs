//! The RayJob observe step: the current attempt's RayCluster and submitter,
//! and what the dashboard says of its job, as the machine's [`JobWorld`].
//!
//! Invariants:
//! - Only the current attempt's names are looked at, so a leftover of an
//!   earlier attempt never reads as this one.
//! - Owned clusters and submitter Jobs come from the caches; only a cluster
//!   chosen by `clusterSelector` is read by name.
//! - The dashboard is asked only while the cluster is ready and the machine
//!   can use the answer, never for a finished RayJob.

use k8s_openapi::api::batch::v1::Job;
use kube::{Api, Resource};
use rayop_machines::rayjob::{ClusterView, JobPhase, RayJobView, RayStatus, SubmitterView};

use crate::{
    crd::{RayCluster, status::ClusterState},
    dashboard::{self, JobInfo},
};

/// The current attempt's RayCluster as the machine sees it.
#[must_use]
pub fn cluster_view(cluster: Option<&RayCluster>) -> ClusterView {
    match cluster {
        None => ClusterView::Absent,
        Some(c) if c.meta().deletion_timestamp.is_some() => ClusterView::Terminating,
        Some(c) if c.status.as_ref().and_then(|s| s.state) == Some(ClusterState::Ready) => {
            ClusterView::Ready
        }
        Some(_) => ClusterView::NotReady,
    }
}

/// The submitter Job as the machine sees it.
#[must_use]
pub fn submitter_view(job: Option<&Job>) -> SubmitterView {
    let Some(job) = job else {
        return SubmitterView::Absent;
    };
    if job.metadata.deletion_timestamp.is_some() {
        return SubmitterView::Terminating;
    }
    let conditions = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let holds = |kind: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == kind && c.status == "True")
    };
    if holds("Complete").is_some() {
        return SubmitterView::Complete;
    }
    if let Some(failed) = holds("Failed") {
        return SubmitterView::Failed {
            reason: failed.reason.clone().unwrap_or_else(|| "Failed".into()),
        };
    }
    SubmitterView::Running
}

/// Whether the machine in `phase` uses the dashboard's answer.
#[must_use]
pub fn asks_dashboard(phase: JobPhase) -> bool {
    matches!(
        phase,
        JobPhase::Initializing | JobPhase::Waiting | JobPhase::Running
    )
}

/// The dashboard's answer about the job, as the machine sees it.
#[must_use]
pub fn ray_job_view<E>(answer: &Result<Option<JobInfo>, E>) -> RayJobView {
    match answer {
        Ok(None) => RayJobView::NotFound,
        Ok(Some(info)) => RayJobView::Found {
            status: ray_status(info.status),
            message: info.message.clone().unwrap_or_default(),
        },
        Err(_) => RayJobView::Unreachable,
    }
}

fn ray_status(status: dashboard::JobStatus) -> RayStatus {
    match status {
        dashboard::JobStatus::Pending => RayStatus::Pending,
        dashboard::JobStatus::Running => RayStatus::Running,
        dashboard::JobStatus::Stopped => RayStatus::Stopped,
        dashboard::JobStatus::Succeeded => RayStatus::Succeeded,
        dashboard::JobStatus::Failed => RayStatus::Failed,
    }
}

/// Reads the RayCluster `namespace/name` chosen by `clusterSelector`.
///
/// # Errors
/// When the API server fails; a missing cluster is `Ok(None)`.
pub async fn selected_cluster(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Option<RayCluster>, kube::Error> {
    Api::<RayCluster>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn job_with(conditions: serde_json::Value) -> Job {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "s"},
            "status": {"conditions": conditions}
        }))
        .unwrap()
    }

    #[test]
    fn a_submitter_is_read_from_its_conditions() {
        assert_eq!(submitter_view(None), SubmitterView::Absent);
        assert_eq!(
            submitter_view(Some(&job_with(serde_json::json!([])))),
            SubmitterView::Running
        );
        assert_eq!(
            submitter_view(Some(&job_with(
                serde_json::json!([{"type": "Complete", "status": "True"}])
            ))),
            SubmitterView::Complete
        );
        assert_eq!(
            submitter_view(Some(&job_with(serde_json::json!([
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}
            ])))),
            SubmitterView::Failed {
                reason: "BackoffLimitExceeded".into()
            }
        );
        // A condition that is not True does not count.
        assert_eq!(
            submitter_view(Some(&job_with(
                serde_json::json!([{"type": "Failed", "status": "False"}])
            ))),
            SubmitterView::Running
        );
    }

    #[test]
    fn a_cluster_is_ready_only_by_its_state() {
        let mut c = crate::crd::RayCluster::test("c");
        assert_eq!(cluster_view(None), ClusterView::Absent);
        assert_eq!(cluster_view(Some(&c)), ClusterView::NotReady);
        c.status = Some(crate::crd::status::RayClusterStatus {
            state: Some(ClusterState::Ready),
            ..Default::default()
        });
        assert_eq!(cluster_view(Some(&c)), ClusterView::Ready);
    }
}
