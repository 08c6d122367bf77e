//! How a RayJob's job is submitted: `submissionMode` and `submitterConfig`.
//!
//! Role: the JSON shape of KubeRay v1.7.0's submission settings. The
//! submitter pod template itself is `spec.submitterPodTemplate`, whose schema
//! is [`submitter_template`].
//!
//! Invariant: [`SubmissionMode`] is a closed set. KubeRay accepts any string
//! here and never submits a job with an unknown mode; rayop refuses one at
//! admission (a schema enum naming `spec.submissionMode`).

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// How the job is submitted to the cluster.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum SubmissionMode {
    /// A Kubernetes Job runs `ray job submit` against the cluster's dashboard.
    #[default]
    K8sJobMode,
    /// The operator submits the job through the dashboard's HTTP API.
    HTTPMode,
    /// A container in the head pod submits the job.
    SidecarMode,
    /// The user submits the job and then sets `spec.jobId`.
    InteractiveMode,
}

impl SubmissionMode {
    /// The mode as spelled in `spec.submissionMode`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::K8sJobMode => "K8sJobMode",
            Self::HTTPMode => "HTTPMode",
            Self::SidecarMode => "SidecarMode",
            Self::InteractiveMode => "InteractiveMode",
        }
    }
}

/// Settings of the submitter Kubernetes Job (K8sJobMode).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubmitterConfig {
    /// `backoffLimit` of the submitter Kubernetes Job: how often a failed
    /// submitter pod is retried. Unset means 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub backoff_limit: Option<i32>,
}

/// Schema of `spec.submitterPodTemplate`: any pod template, kept as given
/// (the API server validates it when the submitter Job is created). Only the
/// fields a rule reads are declared.
pub fn submitter_template(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
        "properties": {
            "metadata": {
                "description": "Labels and annotations of the submitter pod.",
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": true,
            },
            "spec": {
                "description": "A Kubernetes PodSpec, kept as given. The first container submits the job.",
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": true,
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn modes_use_kuberays_spelling_and_default_to_k8s_job_mode() {
        for mode in [
            SubmissionMode::K8sJobMode,
            SubmissionMode::HTTPMode,
            SubmissionMode::SidecarMode,
            SubmissionMode::InteractiveMode,
        ] {
            assert_eq!(serde_json::to_value(mode).unwrap(), json!(mode.as_str()));
        }
        assert_eq!(SubmissionMode::default(), SubmissionMode::K8sJobMode);
        assert!(serde_json::from_value::<SubmissionMode>(json!("BatchMode")).is_err());
    }

    #[test]
    fn submitter_config_is_camel_case() {
        let config: SubmitterConfig = serde_json::from_value(json!({"backoffLimit": 3})).unwrap();
        assert_eq!(config.backoff_limit, Some(3));
        assert_eq!(
            serde_json::to_value(&config).unwrap(),
            json!({"backoffLimit": 3})
        );
    }
}
