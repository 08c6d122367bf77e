//! The desired state of a RayCronJob, the `ray.io/v1` resource
//! [`RayCronJob`], and its CRD.
//!
//! Role: KubeRay v1.7.0's RayCronJob API with the same JSON names. Invariant:
//! `jobTemplate` is [`RayJobSpec`], copied verbatim into each RayJob.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{CustomResource, CustomResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{cel, status::RayCronJobStatus};
use crate::crd::{
    rayjob::RayJobSpec,
    versions::{CrdError, finish},
};

/// Longest `schedule`; a cron expression is short.
pub const MAX_SCHEDULE: usize = 256;

/// A schedule of Ray jobs: at each tick of `schedule`, a RayJob is created
/// from `jobTemplate`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "ray.io",
    version = "v1",
    kind = "RayCronJob",
    namespaced,
    status = "RayCronJobStatus",
    derive = "PartialEq",
    category = "all",
    doc = "A schedule of Ray jobs: at each tick of schedule, a RayJob is created from jobTemplate.",
    printcolumn(name = "schedule", type_ = "string", json_path = ".spec.schedule", description = "When RayJobs are created"),
    printcolumn(name = "timezone", type_ = "string", json_path = ".spec.timeZone", description = "The schedule's time zone"),
    printcolumn(name = "last schedule", type_ = "date", json_path = ".status.lastScheduleTime", description = "The tick of the last RayJob"),
    printcolumn(name = "age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(name = "suspend", type_ = "boolean", json_path = ".spec.suspend", description = "Whether new RayJobs are held back"),
    validation = cel::CRONJOB_NAME_IS_DNS1035.to_rule(),
    validation = cel::CRONJOB_NAME_LENGTH.to_rule()
)]
#[serde(rename_all = "camelCase")]
pub struct RayCronJobSpec {
    /// The spec of each RayJob created, copied verbatim.
    pub job_template: RayJobSpec,

    /// When to create a RayJob: a standard 5-field cron expression
    /// (minute hour day-of-month month day-of-week, such as `*/5 * * * *`)
    /// or a descriptor such as `@hourly` or `@every 1h30m`.
    #[schemars(length(min = 1, max = MAX_SCHEDULE), transform = cel::schedule_rules)]
    pub schedule: String,

    /// IANA time zone of the schedule, such as `America/New_York`. Unset:
    /// the operator's local time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub time_zone: Option<String>,

    /// Stops creating RayJobs; existing ones are left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// The RayCronJob CustomResourceDefinition (`v1` only).
///
/// # Errors
/// Never in practice; the signature matches the other CRDs'.
pub fn crd() -> Result<CustomResourceDefinition, CrdError> {
    let mut crd = RayCronJob::crd();
    finish(&mut crd);
    Ok(crd)
}

/// [`crd`] as YAML, exactly as `rayop crd --kind raycronjob` prints it.
///
/// # Errors
/// [`CrdError::Yaml`] if it does not serialize.
pub fn crd_yaml() -> Result<String, CrdError> {
    Ok(serde_yaml::to_string(&crd()?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::rayjob::SubmissionMode;
    use serde_json::json;

    #[test]
    fn kuberay_field_names_round_trip() {
        let wire = json!({
            "jobTemplate": {"entrypoint": "python x.py", "submissionMode": "K8sJobMode", "ttlSecondsAfterFinished": 0,
                            "clusterSelector": {"ray.io/cluster": "c"}},
            "schedule": "*/5 * * * *",
            "timeZone": "Asia/Tokyo",
            "suspend": false
        });
        let spec: RayCronJobSpec = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(spec.time_zone.as_deref(), Some("Asia/Tokyo"));
        assert_eq!(
            spec.job_template.submission_mode,
            SubmissionMode::K8sJobMode
        );
        assert_eq!(serde_json::to_value(&spec).unwrap(), wire);
    }

    #[test]
    fn schedule_and_job_template_are_required() {
        assert!(serde_json::from_value::<RayCronJobSpec>(json!({"schedule": "@hourly"})).is_err());
        assert!(serde_json::from_value::<RayCronJobSpec>(json!({"jobTemplate": {}})).is_err());
    }

    #[test]
    fn the_crd_is_v1_only_with_kuberays_columns() {
        let crd = crd().unwrap();
        assert_eq!(crd.metadata.name.as_deref(), Some("raycronjobs.ray.io"));
        assert_eq!(crd.spec.versions.len(), 1);
        let v1 = &crd.spec.versions[0];
        assert!(v1.served && v1.storage);
        let columns: Vec<_> = v1
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            columns,
            ["schedule", "timezone", "last schedule", "age", "suspend"]
        );
        let schema = serde_json::to_value(v1.schema.as_ref().unwrap()).unwrap();
        let template =
            &schema["openAPIV3Schema"]["properties"]["spec"]["properties"]["jobTemplate"];
        assert!(
            template["x-kubernetes-validations"]
                .as_array()
                .is_some_and(|r| !r.is_empty()),
            "the RayJob spec rules apply to jobTemplate"
        );
    }
}
