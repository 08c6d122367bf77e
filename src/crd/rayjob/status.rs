//! The observed state of a RayJob: `status`, and the enums KubeRay writes there.
//!
//! Role: the JSON shape of KubeRay v1.7.0's RayJob status, so a status written
//! by either operator reads back. Only the operator writes it.
//!
//! Invariants: enum spellings are KubeRay's, including the empty string that
//! KubeRay uses for "not started yet" (`New`); `succeeded` and `failed`
//! default to 0 in the schema.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::crd::status::RayClusterStatus;

/// The Ray job's own status, as Ray's dashboard reports it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum JobStatus {
    /// Not submitted yet (KubeRay's `JobStatusNew`).
    #[serde(rename = "")]
    New,
    /// Submitted, waiting for the driver to start.
    #[serde(rename = "PENDING")]
    Pending,
    /// The driver runs.
    #[serde(rename = "RUNNING")]
    Running,
    /// Stopped by a user.
    #[serde(rename = "STOPPED")]
    Stopped,
    /// The driver exited with success.
    #[serde(rename = "SUCCEEDED")]
    Succeeded,
    /// The driver failed.
    #[serde(rename = "FAILED")]
    Failed,
}

impl JobStatus {
    /// Whether Ray will not change this status again (Ray's `is_terminal`).
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Stopped | Self::Succeeded | Self::Failed)
    }
}

/// Where the RayJob's deployment is: the state of its state machine.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum JobDeploymentStatus {
    /// Not looked at yet.
    #[serde(rename = "")]
    New,
    /// The cluster is being created or waited for.
    Initializing,
    /// The job is submitted and polled.
    Running,
    /// The job ended; the RayJob is done.
    Complete,
    /// The job or its deployment failed; the RayJob is done.
    Failed,
    /// The spec is invalid; `message` says why.
    ValidationFailed,
    /// `suspend` was set; the cluster and submitter are being deleted.
    Suspending,
    /// Suspended: nothing runs until `suspend` is unset.
    Suspended,
    /// A failed attempt is torn down before the next one (`backoffLimit`).
    Retrying,
    /// InteractiveMode: the cluster is ready, waiting for `spec.jobId`.
    Waiting,
}

impl JobDeploymentStatus {
    /// Whether the RayJob is done (`Complete` or `Failed`).
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Complete | Self::Failed)
    }
}

/// Why a RayJob failed.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum JobFailedReason {
    /// The job could not be submitted.
    SubmissionFailed,
    /// `activeDeadlineSeconds` passed.
    DeadlineExceeded,
    /// `preRunningDeadlineSeconds` passed before the job ran.
    PreRunningDeadlineExceeded,
    /// The Ray job itself failed.
    AppFailed,
    /// The submitter ended long before Ray reported a final status.
    JobDeploymentStatusTransitionGracePeriodExceeded,
    /// The dashboard could not be asked for the job's status for too long.
    JobStatusCheckTimeoutExceeded,
    /// The spec is invalid.
    ValidationFailed,
    /// rayop only: the dashboard no longer knows a job that was submitted
    /// (its head lost the job table); retried within `backoffLimit`.
    JobLost,
}

/// Ray's own start and end times of the job.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RayJobStatusInfo {
    /// When Ray started the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// When Ray ended the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Time>,
}

/// What the operator observed of a RayJob.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RayJobStatus {
    /// Ray's start and end times of the job.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "rayJobInfo"
    )]
    pub ray_job_info: Option<RayJobStatusInfo>,
    /// The Ray submission id of the current attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Name of the RayCluster the current attempt runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ray_cluster_name: Option<String>,
    /// `host:port` of the cluster's dashboard (no scheme).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "dashboardURL"
    )]
    pub dashboard_url: Option<String>,
    /// The Ray job's status, as the dashboard reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_status: Option<JobStatus>,
    /// The state of the RayJob's deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_deployment_status: Option<JobDeploymentStatus>,
    /// Why the RayJob failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<JobFailedReason>,
    /// A human-readable explanation of the status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the current attempt started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// When the RayJob reached Complete or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Time>,
    /// Attempts that ended with the Ray job SUCCEEDED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 0))]
    pub succeeded: Option<i32>,
    /// Attempts that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 0))]
    pub failed: Option<i32>,
    /// A copy of the RayCluster's status, refreshed while the job runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ray_cluster_status: Option<RayClusterStatus>,
    /// When asking the dashboard for the job's status first failed; cleared
    /// on the next success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_status_check_failure_start_time: Option<Time>,
    /// The generation of the spec this status was written for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kuberay_status_round_trips_with_its_names() {
        let wire = json!({
            "rayJobInfo": {"startTime": "2026-01-01T00:00:00Z"},
            "jobId": "rayjob-sample-abcde",
            "rayClusterName": "rayjob-sample-xyz12",
            "dashboardURL": "rayjob-sample-xyz12-head-svc.default.svc.cluster.local:8265",
            "jobStatus": "SUCCEEDED",
            "jobDeploymentStatus": "Complete",
            "reason": "AppFailed",
            "message": "done",
            "startTime": "2026-01-01T00:00:00Z",
            "endTime": "2026-01-01T00:01:00Z",
            "succeeded": 1,
            "failed": 0,
            "rayClusterStatus": {"state": "ready"},
            "jobStatusCheckFailureStartTime": "2026-01-01T00:00:30Z",
            "observedGeneration": 2
        });
        let status: RayJobStatus = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(status.job_status, Some(JobStatus::Succeeded));
        assert_eq!(status.reason, Some(JobFailedReason::AppFailed));
        assert!(
            status
                .dashboard_url
                .as_deref()
                .is_some_and(|u| u.ends_with(":8265"))
        );
        assert_eq!(serde_json::to_value(&status).unwrap(), wire);
    }

    #[test]
    fn the_empty_string_is_the_new_state() {
        let status: RayJobStatus =
            serde_json::from_value(json!({"jobStatus": "", "jobDeploymentStatus": ""})).unwrap();
        assert_eq!(status.job_status, Some(JobStatus::New));
        assert_eq!(status.job_deployment_status, Some(JobDeploymentStatus::New));
        assert!(serde_json::from_value::<RayJobStatus>(json!({"jobStatus": "DONE"})).is_err());
    }

    #[test]
    fn terminal_states_are_kuberays() {
        let terminal: Vec<_> = [
            JobStatus::New,
            JobStatus::Pending,
            JobStatus::Running,
            JobStatus::Stopped,
            JobStatus::Succeeded,
            JobStatus::Failed,
        ]
        .into_iter()
        .filter(|s| s.is_terminal())
        .collect();
        assert_eq!(
            terminal,
            [JobStatus::Stopped, JobStatus::Succeeded, JobStatus::Failed]
        );
        assert!(JobDeploymentStatus::Complete.is_terminal());
        assert!(JobDeploymentStatus::Failed.is_terminal());
        assert!(!JobDeploymentStatus::ValidationFailed.is_terminal());
        assert!(!JobDeploymentStatus::Suspended.is_terminal());
    }

    #[test]
    fn an_empty_status_serializes_to_nothing() {
        assert_eq!(
            serde_json::to_value(RayJobStatus::default()).unwrap(),
            json!({})
        );
    }
}
