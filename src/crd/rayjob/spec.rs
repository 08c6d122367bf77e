//! The desired state of a RayJob: `spec`, and the `ray.io/v1` resource
//! [`RayJob`] derived from it.
//!
//! Role: KubeRay v1.7.0's RayJob API with the same JSON names and schema
//! defaults, so KubeRay's RayJob manifests apply unchanged and nothing is
//! pruned. A RayCronJob's `jobTemplate` is this same type.
//!
//! Invariants: `rayClusterSpec` is rayop's [`RayClusterSpec`], unchanged;
//! the schema refuses at admission what KubeRay's controller would only mark
//! `ValidationFailed` later (see [`cel`]); the `v1alpha1` twin in
//! [`versions`](super::versions) shares this spec and must repeat any
//! `#[kube(...)]` change made here.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodTemplateSpec;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    cel,
    deletion::DeletionStrategy,
    status::RayJobStatus,
    submitter::{SubmissionMode, SubmitterConfig, submitter_template},
};
use crate::crd::spec::RayClusterSpec;

/// The `clusterSelector` key whose value names the existing RayCluster.
pub const CLUSTER_SELECTOR_KEY: &str = "ray.io/cluster";

/// A Ray job: a driver command submitted to a RayCluster the RayJob creates
/// (or an existing one), followed until it ends.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "ray.io",
    version = "v1",
    kind = "RayJob",
    namespaced,
    status = "RayJobStatus",
    derive = "PartialEq",
    category = "all",
    doc = "A Ray job: a driver command submitted to a RayCluster the RayJob creates (or an existing one), followed until it ends.",
    printcolumn(name = "job status", type_ = "string", json_path = ".status.jobStatus", description = "The Ray job's status"),
    printcolumn(name = "deployment status", type_ = "string", json_path = ".status.jobDeploymentStatus", description = "Where the RayJob is"),
    printcolumn(name = "ray cluster name", type_ = "string", json_path = ".status.rayClusterName", description = "The RayCluster the job runs on"),
    printcolumn(name = "start time", type_ = "string", json_path = ".status.startTime", description = "When the current attempt started"),
    printcolumn(name = "end time", type_ = "string", json_path = ".status.endTime", description = "When the RayJob ended"),
    printcolumn(name = "age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = cel::JOB_NAME_IS_DNS1035.to_rule(),
    validation = cel::JOB_NAME_LENGTH.to_rule()
)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = cel::spec_rules)]
pub struct RayJobSpec {
    /// The shell command of the Ray driver, such as `python /home/ray/job.py`.
    /// It is run by a shell, unquoted. Empty in InteractiveMode, where the
    /// user submits the job.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub entrypoint: String,

    /// Ray's runtime environment of the job as a YAML document (such as
    /// `pip:` or `working_dir:`), passed to Ray as JSON.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        rename = "runtimeEnvYAML"
    )]
    pub runtime_env_yaml: String,

    /// The Ray submission id. Empty: `<name>-<5 random characters>` is used.
    /// In InteractiveMode the user sets it after submitting the job.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub job_id: String,

    /// How the job is submitted: K8sJobMode (a Kubernetes Job runs `ray job
    /// submit`), HTTPMode (the operator calls the dashboard), SidecarMode (a
    /// container in the head pod submits) or InteractiveMode (the user does).
    #[serde(default)]
    #[schemars(extend("default" = "K8sJobMode"))]
    pub submission_mode: SubmissionMode,

    /// CPUs reserved for the driver (`--entrypoint-num-cpus`); 0 reserves none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub entrypoint_num_cpus: Option<f32>,

    /// GPUs reserved for the driver (`--entrypoint-num-gpus`); 0 reserves none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub entrypoint_num_gpus: Option<f32>,

    /// Custom resources reserved for the driver, as a JSON object of names to
    /// amounts, such as `{"Custom_1": 1}` (`--entrypoint-resources`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub entrypoint_resources: String,

    /// Metadata of the Ray job (`--metadata-json`); needs Ray 2.6.0 or later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,

    /// The RayCluster to create for the job. Required unless
    /// `clusterSelector` is set. Changes after creation are ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ray_cluster_spec: Option<RayClusterSpec>,

    /// Runs the job on an existing RayCluster instead: the key
    /// `ray.io/cluster` names it. Nothing of that cluster is ever deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_selector: Option<BTreeMap<String, String>>,

    /// Pod template of the submitter Kubernetes Job (K8sJobMode). Unset: one
    /// container `ray-job-submitter` with the head's image. Its first
    /// container runs the submission; a template without `command` gets the
    /// generated `ray job submit` script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "submitter_template")]
    pub submitter_pod_template: Option<PodTemplateSpec>,

    /// Settings of the submitter Kubernetes Job (not in SidecarMode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitter_config: Option<SubmitterConfig>,

    /// Deletes the RayCluster once the job is Complete or Failed (after
    /// `ttlSecondsAfterFinished`). Required for `suspend`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shutdown_after_job_finishes: bool,

    /// Seconds after the job ended before the cluster is deleted (with
    /// `shutdownAfterJobFinishes`) or a legacy deletion policy runs.
    #[serde(default)]
    #[schemars(range(min = 0), extend("default" = 0))]
    pub ttl_seconds_after_finished: i32,

    /// Seconds an attempt may run, counted from `status.startTime`; then the
    /// RayJob fails with DeadlineExceeded and is not retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub active_deadline_seconds: Option<i32>,

    /// Seconds an attempt may take to reach Running, counted from
    /// `status.startTime`; then it fails with PreRunningDeadlineExceeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub pre_running_deadline_seconds: Option<i32>,

    /// How often a failed RayJob is retried, each time on a new cluster.
    /// 0 with `clusterSelector` and in InteractiveMode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("default" = 0))]
    pub backoff_limit: Option<i32>,

    /// While true no cluster exists for the job; setting it on a running job
    /// deletes its cluster. Needs `shutdownAfterJobFinishes: true`. Kueue
    /// uses it to admit jobs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,

    /// The controller that manages this RayJob: `ray.io/rayop`,
    /// `ray.io/kuberay-operator` or `kueue.x-k8s.io/multikueue`; any other
    /// controller leaves it alone. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63), transform = cel::managed_by_rules)]
    pub managed_by: Option<String>,

    /// What is deleted after the job ended: `deletionRules`, or the
    /// deprecated `onSuccess`/`onFailure` pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_strategy: Option<DeletionStrategy>,
}

impl RayJobSpec {
    /// The name of the existing RayCluster `clusterSelector` names, if any.
    #[must_use]
    pub fn selected_cluster(&self) -> Option<&str> {
        self.cluster_selector
            .as_ref()
            .and_then(|s| s.get(CLUSTER_SELECTOR_KEY))
            .map(String::as_str)
    }

    /// Whether rayop reconciles this RayJob: `managedBy` unset, rayop's or
    /// KubeRay's (rayop replaces KubeRay). MultiKueue's is left to it.
    #[must_use]
    pub fn managed_by_rayop(&self) -> bool {
        self.managed_by
            .as_deref()
            .is_none_or(|manager| crate::crd::spec::MANAGED_BY_RAYOP.contains(&manager))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::rayjob::deletion::DeletionPolicyType;
    use serde_json::json;

    #[test]
    fn kuberay_field_names_round_trip() {
        let wire = json!({
            "entrypoint": "python /home/ray/samples/sample_code.py",
            "runtimeEnvYAML": "pip:\n  - requests==2.26.0\n",
            "jobId": "my-job",
            "submissionMode": "HTTPMode",
            "entrypointNumCpus": 1.5,
            "entrypointNumGpus": 0.5,
            "entrypointResources": "{\"Custom_1\": 1}",
            "metadata": {"owner": "me"},
            "clusterSelector": {"ray.io/cluster": "existing"},
            "submitterPodTemplate": {"spec": {"restartPolicy": "Never", "containers": [{"name": "s", "image": "i"}]}},
            "submitterConfig": {"backoffLimit": 1},
            "shutdownAfterJobFinishes": true,
            "ttlSecondsAfterFinished": 10,
            "activeDeadlineSeconds": 60,
            "preRunningDeadlineSeconds": 30,
            "backoffLimit": 0,
            "suspend": true,
            "managedBy": "kueue.x-k8s.io/multikueue",
            "deletionStrategy": {"onSuccess": {"policy": "DeleteSelf"}, "onFailure": {"policy": "DeleteCluster"}}
        });
        let spec: RayJobSpec = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(spec.submission_mode, SubmissionMode::HTTPMode);
        assert_eq!(spec.entrypoint_num_cpus, Some(1.5));
        assert_eq!(spec.selected_cluster(), Some("existing"));
        assert_eq!(
            spec.deletion_strategy
                .as_ref()
                .and_then(|d| d.on_success.as_ref())
                .map(|p| p.policy),
            Some(DeletionPolicyType::DeleteSelf)
        );
        assert_eq!(serde_json::to_value(&spec).unwrap(), wire);
    }

    #[test]
    fn an_empty_spec_takes_kuberays_defaults() {
        let spec: RayJobSpec = serde_json::from_value(json!({})).unwrap();
        assert_eq!(spec.submission_mode, SubmissionMode::K8sJobMode);
        assert_eq!(spec.ttl_seconds_after_finished, 0);
        assert!(!spec.shutdown_after_job_finishes && !spec.suspend);
        assert_eq!(spec.backoff_limit, None);
        assert_eq!(
            serde_json::to_value(&spec).unwrap(),
            json!({"submissionMode": "K8sJobMode", "ttlSecondsAfterFinished": 0})
        );
    }

    #[test]
    fn the_embedded_cluster_spec_is_raycluster_spec() {
        let spec: RayJobSpec = serde_json::from_value(json!({
            "entrypoint": "python -c 'print(1)'",
            "rayClusterSpec": {"rayVersion": "2.52.0", "workerGroupSpecs": [
                {"groupName": "small", "replicas": 1, "minReplicas": 1, "maxReplicas": 5, "rayStartParams": {}}
            ]}
        }))
        .unwrap();
        let cluster = spec.ray_cluster_spec.unwrap();
        assert_eq!(cluster.ray_version, "2.52.0");
        assert_eq!(cluster.worker_group_specs[0].group_name, "small");
    }

    #[test]
    fn an_unknown_submission_mode_is_refused() {
        let err = serde_json::from_value::<RayJobSpec>(json!({"submissionMode": "Batch"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("Batch"), "{err}");
    }
}
