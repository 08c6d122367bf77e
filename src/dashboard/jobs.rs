//! The JSON of Ray's Jobs API, as the dashboard sends and accepts it.
//!
//! Role: the submit request, the job details `GET /api/jobs/<id>` returns,
//! the small answers of submit, stop, delete and logs, and the outcomes the
//! client hands back ([`SubmitOutcome`], [`Lookup`]).
//!
//! Invariants:
//! - Reading is tolerant: unknown fields are ignored and every field but
//!   `status` may be absent or `null`, so a newer Ray's extra fields (e.g.
//!   its retry policy) do not break a poll. `status` is one of Ray's five
//!   values; anything else is a decode error, not a guess.
//! - Writing is strict: the submit request serializes only the fields that
//!   are set, because Ray rejects (400) a request with a key it does not
//!   know; [`SubmitRequest::extra`] is sent verbatim for keys this type does
//!   not name.
//! - Times are Unix milliseconds, as Ray sends them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The status of a submitted job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    /// Not started yet: waiting for resources or its runtime environment.
    Pending,
    /// The entrypoint is running.
    Running,
    /// Stopped on request.
    Stopped,
    /// The entrypoint exited 0.
    Succeeded,
    /// The entrypoint failed, or the job could not start.
    Failed,
}

impl JobStatus {
    /// `STOPPED`, `SUCCEEDED` and `FAILED`: Ray never moves a job out of them.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Stopped | JobStatus::Succeeded | JobStatus::Failed
        )
    }

    /// Ray's spelling, as KubeRay copies it into `status.jobStatus`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "PENDING",
            JobStatus::Running => "RUNNING",
            JobStatus::Stopped => "STOPPED",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
        }
    }
}

/// How a job came to be: through the Jobs API, or by a driver script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobType {
    /// Submitted through the Jobs API; only these can be stopped or deleted.
    Submission,
    /// Started by a driver script connecting to the cluster.
    Driver,
    /// A kind this client does not know.
    #[serde(other)]
    Other,
}

/// The driver process of a job, once it has one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DriverInfo {
    /// The driver's id (the Ray job id, hex).
    pub id: String,
    /// The IP of the node the driver runs on.
    pub node_ip_address: String,
    /// The driver's process id, as a string.
    pub pid: String,
}

/// One job, as `GET /api/jobs/<id>` returns it (Ray's job details).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobInfo {
    /// The job's status; the one field that must be there.
    pub status: JobStatus,
    /// Submission or driver job.
    #[serde(default, rename = "type")]
    pub job_type: Option<JobType>,
    /// The Ray job id of the job's driver, once it runs.
    #[serde(default)]
    pub job_id: Option<String>,
    /// The id the job was submitted under.
    #[serde(default)]
    pub submission_id: Option<String>,
    /// The last driver the submission launched.
    #[serde(default)]
    pub driver_info: Option<DriverInfo>,
    /// The entrypoint command.
    #[serde(default)]
    pub entrypoint: Option<String>,
    /// A human-readable account of the status.
    #[serde(default)]
    pub message: Option<String>,
    /// Ray's classification of a failure, e.g. a user script error.
    #[serde(default)]
    pub error_type: Option<String>,
    /// When the job started, Unix milliseconds.
    #[serde(default)]
    pub start_time: Option<u64>,
    /// When the job reached a terminal status, Unix milliseconds.
    #[serde(default)]
    pub end_time: Option<u64>,
    /// The metadata given at submission.
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    /// The runtime environment, as Ray holds it.
    #[serde(default)]
    pub runtime_env: Option<Value>,
    /// The HTTP address of the dashboard agent on the driver's node.
    #[serde(default)]
    pub driver_agent_http_address: Option<String>,
    /// The id of the node the driver runs on.
    #[serde(default)]
    pub driver_node_id: Option<String>,
    /// The driver's exit code, once it exited.
    #[serde(default)]
    pub driver_exit_code: Option<i64>,
}

/// The body of `POST /api/jobs/`: the entrypoint and what it runs with.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SubmitRequest {
    /// The shell command that starts the job.
    pub entrypoint: String,
    /// The id to submit under; a second submit of the same id is
    /// [`SubmitOutcome::AlreadySubmitted`].
    pub submission_id: String,
    /// The runtime environment, a JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_env: Option<Value>,
    /// Free-form string metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// CPUs reserved for the entrypoint itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint_num_cpus: Option<f64>,
    /// GPUs reserved for the entrypoint itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint_num_gpus: Option<f64>,
    /// Memory in bytes reserved for the entrypoint itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint_memory: Option<u64>,
    /// Custom resources reserved for the entrypoint itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint_resources: Option<BTreeMap<String, f64>>,
    /// Keys this type does not name, sent as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SubmitRequest {
    /// The request with only `entrypoint` and `submission_id` set.
    #[must_use]
    pub fn new(entrypoint: impl Into<String>, submission_id: impl Into<String>) -> SubmitRequest {
        SubmitRequest {
            entrypoint: entrypoint.into(),
            submission_id: submission_id.into(),
            ..SubmitRequest::default()
        }
    }

    /// The request from a JSON body built elsewhere; it must name
    /// `entrypoint` and `submission_id`, other keys are kept.
    ///
    /// # Errors
    /// The body is not an object of that shape.
    pub fn from_value(body: Value) -> Result<SubmitRequest, serde_json::Error> {
        serde_json::from_value(body)
    }
}

/// The answer to a successful submit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SubmitResponse {
    /// The id the job runs under.
    pub submission_id: Option<String>,
    /// The same id, under its deprecated name.
    pub job_id: Option<String>,
}

/// The answer to `POST /api/jobs/<id>/stop`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StopResponse {
    /// `false` when the job was no longer running.
    pub stopped: bool,
}

/// The answer to `DELETE /api/jobs/<id>`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct DeleteResponse {
    /// `false` when Ray kept the job (it was not terminal).
    pub deleted: bool,
}

/// The answer to `GET /api/jobs/<id>/logs`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct LogsResponse {
    /// The driver's whole log so far.
    pub logs: String,
}

/// What a submit achieved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// Ray accepted the job under this id.
    Submitted {
        /// The id Ray answered with (the requested one).
        submission_id: String,
    },
    /// Ray already holds a job with the requested id; nothing was started.
    AlreadySubmitted {
        /// The requested id.
        submission_id: String,
    },
}

impl SubmitOutcome {
    /// The id the job runs under, either way.
    #[must_use]
    pub fn submission_id(&self) -> &str {
        match self {
            SubmitOutcome::Submitted { submission_id }
            | SubmitOutcome::AlreadySubmitted { submission_id } => submission_id,
        }
    }
}

/// The answer of a call about one job: the job is there, or Ray does not
/// know it (404). Not knowing a job is an answer, not an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup<T> {
    /// Ray knows the job; its answer.
    Found(T),
    /// Ray answered 404: no job with that id.
    NotFound,
}

impl<T> Lookup<T> {
    /// The answer mapped through `f`; `NotFound` stays.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Lookup<U> {
        match self {
            Lookup::Found(value) => Lookup::Found(f(value)),
            Lookup::NotFound => Lookup::NotFound,
        }
    }

    /// The answer, if Ray knew the job.
    pub fn found(self) -> Option<T> {
        match self {
            Lookup::Found(value) => Some(value),
            Lookup::NotFound => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fixture(name: &str) -> JobInfo {
        let path = format!(
            "{}/tests/fixtures/dashboard/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn a_pending_submission_has_no_driver_yet() {
        let info = fixture("job_pending.json");
        assert_eq!(info.status, JobStatus::Pending);
        assert!(!info.status.is_terminal());
        assert_eq!(info.job_type, Some(JobType::Submission));
        assert_eq!(info.submission_id.as_deref(), Some("rayjob-sample-x7k2p"));
        assert_eq!(info.job_id, None);
        assert_eq!(info.driver_info, None);
        assert_eq!(info.start_time, Some(1_718_000_000_123));
        assert_eq!(info.end_time, None);
        assert_eq!(info.driver_exit_code, None);
    }

    #[test]
    fn a_running_job_names_its_driver_and_ignores_unknown_fields() {
        let info = fixture("job_running.json");
        assert_eq!(info.status, JobStatus::Running);
        assert_eq!(info.job_id.as_deref(), Some("02000000"));
        let driver = info.driver_info.unwrap();
        assert_eq!(driver.id, "02000000");
        assert_eq!(driver.node_ip_address, "10.244.0.12");
        assert_eq!(driver.pid, "2217");
        assert_eq!(
            info.metadata.unwrap().get("owner").map(String::as_str),
            Some("rayop")
        );
        assert_eq!(info.runtime_env.unwrap()["env_vars"]["COUNTER"], json!("1"));
    }

    #[test]
    fn a_failed_job_carries_its_end_time_error_type_and_exit_code() {
        let info = fixture("job_failed.json");
        assert_eq!(info.status, JobStatus::Failed);
        assert!(info.status.is_terminal());
        assert_eq!(
            info.error_type.as_deref(),
            Some("JOB_ENTRYPOINT_COMMAND_ERROR")
        );
        assert_eq!(info.start_time, Some(1_718_000_000_123));
        assert_eq!(info.end_time, Some(1_718_000_042_456));
        assert_eq!(info.driver_exit_code, Some(1));
        assert!(info.message.unwrap().contains("exit code 1"));
    }

    #[test]
    fn every_status_round_trips_in_rays_spelling() {
        for status in [
            JobStatus::Pending,
            JobStatus::Running,
            JobStatus::Stopped,
            JobStatus::Succeeded,
            JobStatus::Failed,
        ] {
            let text = serde_json::to_value(status).unwrap();
            assert_eq!(text, json!(status.as_str()));
            assert_eq!(serde_json::from_value::<JobStatus>(text).unwrap(), status);
        }
    }

    #[test]
    fn the_minimum_ray_returns_decodes_and_a_missing_status_does_not() {
        let info: JobInfo =
            serde_json::from_value(json!({"status": "SUCCEEDED", "message": null})).unwrap();
        assert_eq!(info.status, JobStatus::Succeeded);
        assert_eq!(info.message, None);
        assert!(serde_json::from_value::<JobInfo>(json!({"entrypoint": "x"})).is_err());
        assert!(serde_json::from_value::<JobInfo>(json!({"status": "LOST"})).is_err());
    }

    #[test]
    fn an_unknown_job_type_is_other() {
        let info: JobInfo =
            serde_json::from_value(json!({"status": "RUNNING", "type": "SERVE"})).unwrap();
        assert_eq!(info.job_type, Some(JobType::Other));
    }

    #[test]
    fn a_submit_request_sends_only_what_is_set() {
        let bare = serde_json::to_value(SubmitRequest::new("python run.py", "job-1")).unwrap();
        assert_eq!(
            bare,
            json!({"entrypoint": "python run.py", "submission_id": "job-1"})
        );

        let mut full = SubmitRequest::new("python run.py", "job-1");
        full.runtime_env = Some(json!({"pip": ["requests"]}));
        full.metadata = Some(BTreeMap::from([("owner".to_owned(), "rayop".to_owned())]));
        full.entrypoint_num_cpus = Some(1.5);
        full.entrypoint_memory = Some(1024);
        full.entrypoint_resources = Some(BTreeMap::from([("TPU".to_owned(), 1.0)]));
        full.extra
            .insert("entrypoint_label_selector".to_owned(), json!({"zone": "a"}));
        assert_eq!(
            serde_json::to_value(full).unwrap(),
            json!({
                "entrypoint": "python run.py",
                "submission_id": "job-1",
                "runtime_env": {"pip": ["requests"]},
                "metadata": {"owner": "rayop"},
                "entrypoint_num_cpus": 1.5,
                "entrypoint_memory": 1024,
                "entrypoint_resources": {"TPU": 1.0},
                "entrypoint_label_selector": {"zone": "a"},
            })
        );
    }

    #[test]
    fn a_submit_body_built_elsewhere_keeps_its_keys() {
        let body = json!({
            "entrypoint": "python run.py",
            "submission_id": "job-1",
            "entrypoint_num_gpus": 2,
            "some_future_key": true,
        });
        let request = SubmitRequest::from_value(body.clone()).unwrap();
        assert_eq!(request.entrypoint_num_gpus, Some(2.0));
        assert_eq!(
            serde_json::to_value(&request).unwrap()["some_future_key"],
            json!(true)
        );
        assert!(SubmitRequest::from_value(json!({"entrypoint": "x"})).is_err());
    }

    #[test]
    fn lookups_map_and_unwrap() {
        assert_eq!(Lookup::Found(2).map(|n| n * 2), Lookup::Found(4));
        assert_eq!(Lookup::<i32>::NotFound.map(|n| n * 2), Lookup::NotFound);
        assert_eq!(Lookup::Found("x").found(), Some("x"));
        assert_eq!(Lookup::<&str>::NotFound.found(), None);
    }
}
