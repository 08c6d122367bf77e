//! What is submitted to Ray for one attempt, read and checked once from the
//! spec: the entrypoint, the submission id and the optional settings.
//!
//! Role: the one reading of `entrypoint`, `runtimeEnvYAML`, `metadata`,
//! `entrypointNumCpus`/`Gpus` and `entrypointResources` that both the CLI
//! script ([`super::submit_script`]) and the dashboard body
//! ([`super::http_submit`]) render, so the two modes submit the same job.
//! Its field names are the dashboard's (`POST /api/jobs/`).
//!
//! Invariants: the entrypoint is trimmed and not empty; an option is `None`
//! when KubeRay would not send it: an empty `runtimeEnvYAML` or `metadata`,
//! a CPU or GPU amount that is not above 0, an empty `entrypointResources`.
//! `runtimeEnvYAML` must be a YAML mapping and becomes a JSON object;
//! `entrypointResources` must be a JSON object of names to amounts.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::{JobBuildError, names};
use crate::crd::rayjob::RayJob;

/// One attempt's job, as Ray's job submission API takes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobSubmission {
    /// The driver's shell command, trimmed.
    pub entrypoint: String,
    /// The Ray submission id ([`names::submission_id`]).
    pub submission_id: String,
    /// `runtimeEnvYAML` as a JSON object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_env: Option<Map<String, Value>>,
    /// `metadata`, when it has entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// `entrypointNumCpus`, when above 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint_num_cpus: Option<f32>,
    /// `entrypointNumGpus`, when above 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint_num_gpus: Option<f32>,
    /// `entrypointResources`, parsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint_resources: Option<BTreeMap<String, f64>>,
}

impl JobSubmission {
    /// The job of `attempt` of `job`.
    ///
    /// # Errors
    /// [`JobBuildError::EmptyEntrypoint`], [`JobBuildError::NoSubmissionId`]
    /// (InteractiveMode without `spec.jobId`), [`JobBuildError::RuntimeEnv`]
    /// and [`JobBuildError::EntrypointResources`].
    pub fn of(job: &RayJob, attempt: u32) -> Result<Self, JobBuildError> {
        let spec = &job.spec;
        let entrypoint = spec.entrypoint.trim();
        if entrypoint.is_empty() {
            return Err(JobBuildError::EmptyEntrypoint);
        }
        let above_zero = |v: Option<f32>| v.filter(|v| *v > 0.0 && v.is_finite());
        Ok(Self {
            entrypoint: entrypoint.to_owned(),
            submission_id: names::submission_id(job, attempt)
                .ok_or(JobBuildError::NoSubmissionId)?,
            runtime_env: runtime_env(&spec.runtime_env_yaml)?,
            metadata: spec.metadata.clone().filter(|m| !m.is_empty()),
            entrypoint_num_cpus: above_zero(spec.entrypoint_num_cpus),
            entrypoint_num_gpus: above_zero(spec.entrypoint_num_gpus),
            entrypoint_resources: entrypoint_resources(&spec.entrypoint_resources)?,
        })
    }
}

/// `runtimeEnvYAML` as a JSON object; `None` when it is empty (or a YAML
/// document that is only `null`).
///
/// # Errors
/// [`JobBuildError::RuntimeEnv`] when it is no YAML, not a mapping, or has
/// what JSON cannot hold (such as a list as a key); scalar keys become
/// strings.
pub fn runtime_env(yaml: &str) -> Result<Option<Map<String, Value>>, JobBuildError> {
    if yaml.trim().is_empty() {
        return Ok(None);
    }
    match serde_yaml::from_str::<Value>(yaml) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(Value::Null) => Ok(None),
        Ok(_) => Err(JobBuildError::RuntimeEnv(
            "must be a YAML mapping, such as 'pip: [requests]'".to_owned(),
        )),
        Err(e) => Err(JobBuildError::RuntimeEnv(format!(
            "is not YAML that converts to JSON: {e}"
        ))),
    }
}

/// `entrypointResources` parsed; `None` when empty.
///
/// # Errors
/// [`JobBuildError::EntrypointResources`] unless it is a JSON object of
/// resource names to amounts.
pub fn entrypoint_resources(json: &str) -> Result<Option<BTreeMap<String, f64>>, JobBuildError> {
    if json.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(json).map(Some).map_err(|e| {
        JobBuildError::EntrypointResources(format!(
            "must be a JSON object of resource names to amounts, such as '{{\"Custom_1\": 1}}': {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn job(spec: Value) -> RayJob {
        let mut job = RayJob::new("sample", serde_json::from_value(spec).unwrap());
        job.metadata.uid = Some("u".into());
        job
    }

    #[test]
    fn a_plain_job_sends_only_entrypoint_and_id() {
        let j = job(json!({"entrypoint": "  python /home/ray/job.py \n"}));
        let s = JobSubmission::of(&j, 1).unwrap();
        assert_eq!(s.entrypoint, "python /home/ray/job.py");
        assert_eq!(Some(s.submission_id.clone()), names::submission_id(&j, 1));
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"entrypoint": "python /home/ray/job.py", "submission_id": s.submission_id})
        );
    }

    #[test]
    fn zero_and_empty_options_are_not_sent() {
        let j = job(json!({
            "entrypoint": "x", "entrypointNumCpus": 0, "entrypointNumGpus": -1,
            "metadata": {}, "runtimeEnvYAML": "  \n", "entrypointResources": ""
        }));
        let s = JobSubmission::of(&j, 1).unwrap();
        assert_eq!((s.entrypoint_num_cpus, s.entrypoint_num_gpus), (None, None));
        assert!(s.metadata.is_none() && s.runtime_env.is_none());
        assert!(s.entrypoint_resources.is_none());
    }

    #[test]
    fn runtime_env_yaml_becomes_a_json_object() {
        let yaml = "pip:\n  - requests==2.26.0\n  - pendulum==2.1.2\nenv_vars:\n  counter_name: \"test_counter\"\n";
        assert_eq!(
            Value::Object(runtime_env(yaml).unwrap().unwrap()),
            json!({"pip": ["requests==2.26.0", "pendulum==2.1.2"], "env_vars": {"counter_name": "test_counter"}})
        );
        assert_eq!(runtime_env("~").unwrap(), None);
        assert_eq!(
            Value::Object(runtime_env("1: one").unwrap().unwrap()),
            json!({"1": "one"}),
            "keys become strings, as Kubernetes' YAML-to-JSON makes them"
        );
        for bad in ["- a list", "pip: [unclosed", "? [a, b]\n: c"] {
            let err = runtime_env(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("spec.runtimeEnvYAML: "),
                "{err}"
            );
        }
    }

    #[test]
    fn entrypoint_resources_must_be_amounts() {
        assert_eq!(
            entrypoint_resources("{\"Custom_1\": 1, \"b\": 0.5}").unwrap(),
            Some(BTreeMap::from([
                ("Custom_1".into(), 1.0),
                ("b".into(), 0.5)
            ]))
        );
        let err = entrypoint_resources("Custom_1=1").unwrap_err();
        assert!(err.to_string().starts_with("spec.entrypointResources: "));
    }

    #[test]
    fn nothing_to_submit_is_an_error() {
        assert_eq!(
            JobSubmission::of(&job(json!({"entrypoint": "  "})), 1),
            Err(JobBuildError::EmptyEntrypoint)
        );
        assert_eq!(
            JobSubmission::of(
                &job(json!({"entrypoint": "x", "submissionMode": "InteractiveMode"})),
                1
            ),
            Err(JobBuildError::NoSubmissionId)
        );
    }
}
