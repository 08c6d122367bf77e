//! HTTPMode's submission: the request the operator POSTs to the dashboard,
//! and how to read a refusal.
//!
//! The body is [`JobSubmission`] as JSON: `entrypoint` and `submission_id`
//! always; `runtime_env` (the JSON object of `runtimeEnvYAML`), `metadata`,
//! `entrypoint_num_cpus`, `entrypoint_num_gpus` and `entrypoint_resources`
//! (an object of names to amounts) only when set, as KubeRay sends them.
//!
//! Invariant: the same [`JobSubmission`] the CLI script renders, so an
//! HTTPMode job and a K8sJobMode job of one spec are the same Ray job.

use super::{JobBuildError, submission::JobSubmission};
use crate::crd::rayjob::RayJob;

/// The dashboard's job submission path (the trailing `/` is part of it).
pub const SUBMIT_PATH: &str = "/api/jobs/";
/// What the dashboard says (with status 500) when the submission id is
/// already taken: the job was submitted before.
pub const ID_IN_USE: &str = "Please use a different submission_id";

/// The URL to POST to, for the dashboard at `dashboard_address`
/// (`host:port`).
#[must_use]
pub fn submit_url(dashboard_address: &str) -> String {
    format!("http://{dashboard_address}{SUBMIT_PATH}")
}

/// The body of `POST /api/jobs/` for `attempt` of `job`; serialize it
/// with `serde_json`.
///
/// # Errors
/// Those of [`JobSubmission::of`].
pub fn submit_request(job: &RayJob, attempt: u32) -> Result<JobSubmission, JobBuildError> {
    JobSubmission::of(job, attempt)
}

/// Whether the dashboard's answer `status`, `body` means the id was already
/// submitted (so the job exists: not an error to retry on).
#[must_use]
pub fn id_already_used(status: u16, body: &str) -> bool {
    status == 500 && body.contains(ID_IN_USE)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::build::rayjob::names;
    use serde_json::json;

    fn job(spec: serde_json::Value) -> RayJob {
        let mut job = RayJob::new("sample", serde_json::from_value(spec).unwrap());
        job.metadata.uid = Some("u".into());
        job
    }

    #[test]
    fn the_body_carries_what_is_set() {
        let j = job(json!({
            "entrypoint": "python /home/ray/samples/sample_code.py",
            "submissionMode": "HTTPMode",
            "runtimeEnvYAML": "pip:\n  - requests==2.26.0\nenv_vars:\n  counter_name: test_counter\n",
            "metadata": {"owner": "me"},
            "entrypointNumCpus": 1.5,
            "entrypointResources": "{\"Custom_1\": 1}"
        }));
        let body = serde_json::to_value(submit_request(&j, 2).unwrap()).unwrap();
        assert_eq!(
            body,
            json!({
                "entrypoint": "python /home/ray/samples/sample_code.py",
                "submission_id": names::submission_id(&j, 2).unwrap(),
                "runtime_env": {"pip": ["requests==2.26.0"], "env_vars": {"counter_name": "test_counter"}},
                "metadata": {"owner": "me"},
                "entrypoint_num_cpus": 1.5,
                "entrypoint_resources": {"Custom_1": 1.0}
            })
        );
    }

    #[test]
    fn a_fixed_job_id_is_the_submission_id() {
        let j = job(json!({"entrypoint": "x", "jobId": "my-id"}));
        let body = serde_json::to_value(submit_request(&j, 3).unwrap()).unwrap();
        assert_eq!(body, json!({"entrypoint": "x", "submission_id": "my-id"}));
    }

    #[test]
    fn url_and_refusals() {
        assert_eq!(
            submit_url("rc-head-svc.ns.svc.cluster.local:8265"),
            "http://rc-head-svc.ns.svc.cluster.local:8265/api/jobs/"
        );
        assert!(id_already_used(
            500,
            "Job with submission_id x already exists. Please use a different submission_id."
        ));
        assert!(!id_already_used(500, "internal error"));
        assert!(!id_already_used(400, ID_IN_USE));
    }
}
