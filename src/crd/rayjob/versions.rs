//! The two served versions of the RayJob API and the merged CRD.
//!
//! Role: `ray.io/v1` ([`RayJob`], stored) and `ray.io/v1alpha1`
//! ([`v1alpha1::RayJob`], served and deprecated, as in KubeRay v1.7.0).
//!
//! Invariants: as for the RayCluster API, both versions have one schema
//! (`v1alpha1`'s spec is a transparent newtype over the v1 spec, the status
//! type is shared), so conversion is the identity and the CRD declares
//! strategy `None`. KubeRay's v1alpha1 has fewer fields; serving the v1 schema
//! there accepts every v1alpha1 manifest and prunes nothing.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::crd::{CustomResourceExt, merge_crds};

use super::spec::RayJob;
use crate::crd::versions::{CrdError, STORAGE_VERSION, finish};

/// `ray.io/v1alpha1`: the same API as v1, served for older manifests.
pub mod v1alpha1 {
    use kube::CustomResource;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    use crate::crd::rayjob::{cel, status::RayJobStatus};

    // The v1 spec, unchanged; the doc comment is the v1 spec's, word for word.
    /// A Ray job: a driver command submitted to a RayCluster the RayJob creates
    /// (or an existing one), followed until it ends.
    #[derive(
        CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema,
    )]
    #[kube(
        group = "ray.io",
        version = "v1alpha1",
        kind = "RayJob",
        namespaced,
        storage = false,
        status = "RayJobStatus",
        derive = "PartialEq",
        category = "all",
        deprecated = "ray.io/v1alpha1 RayJob is deprecated; use ray.io/v1 RayJob",
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
    #[serde(transparent)]
    #[schemars(transparent)]
    pub struct RayJobSpec(pub crate::crd::rayjob::spec::RayJobSpec);

    impl std::ops::Deref for RayJobSpec {
        type Target = crate::crd::rayjob::spec::RayJobSpec;

        fn deref(&self) -> &Self::Target {
            &self.0
        }
    }
}

impl From<v1alpha1::RayJob> for RayJob {
    fn from(old: v1alpha1::RayJob) -> Self {
        Self {
            metadata: old.metadata,
            spec: old.spec.0,
            status: old.status,
        }
    }
}

impl From<RayJob> for v1alpha1::RayJob {
    fn from(new: RayJob) -> Self {
        Self {
            metadata: new.metadata,
            spec: v1alpha1::RayJobSpec(new.spec),
            status: new.status,
        }
    }
}

/// The RayJob CustomResourceDefinition: both versions, `v1` stored.
///
/// # Errors
/// [`CrdError::Merge`] if the versions disagree on group, kind or scope.
pub fn crd() -> Result<CustomResourceDefinition, CrdError> {
    let mut crd = merge_crds(
        vec![RayJob::crd(), v1alpha1::RayJob::crd()],
        STORAGE_VERSION,
    )?;
    finish(&mut crd);
    Ok(crd)
}

/// [`crd`] as YAML, exactly as `rayop crd --kind rayjob` prints it.
///
/// # Errors
/// As [`crd`], or [`CrdError::Yaml`].
pub fn crd_yaml() -> Result<String, CrdError> {
    Ok(serde_yaml::to_string(&crd()?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_is_stored_and_v1alpha1_served_with_the_same_schema() {
        let crd = crd().unwrap();
        assert_eq!(crd.metadata.name.as_deref(), Some("rayjobs.ray.io"));
        let versions: Vec<_> = crd
            .spec
            .versions
            .iter()
            .map(|v| (v.name.as_str(), v.served, v.storage))
            .collect();
        assert_eq!(versions, [("v1", true, true), ("v1alpha1", true, false)]);
        assert_eq!(crd.spec.versions[0].schema, crd.spec.versions[1].schema);
        assert_eq!(
            crd.spec.versions[0].additional_printer_columns,
            crd.spec.versions[1].additional_printer_columns
        );
        assert_eq!(crd.spec.versions[1].deprecated, Some(true));
        assert!(
            crd.spec.versions[0]
                .subresources
                .as_ref()
                .is_some_and(|s| s.status.is_some())
        );
    }

    #[test]
    fn printer_columns_are_kuberays() {
        let crd = crd().unwrap();
        let columns: Vec<_> = crd.spec.versions[0]
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| (c.name.as_str(), c.json_path.as_str()))
            .collect();
        assert_eq!(
            columns,
            [
                ("job status", ".status.jobStatus"),
                ("deployment status", ".status.jobDeploymentStatus"),
                ("ray cluster name", ".status.rayClusterName"),
                ("start time", ".status.startTime"),
                ("end time", ".status.endTime"),
                ("age", ".metadata.creationTimestamp"),
            ]
        );
    }

    #[test]
    fn conversion_is_the_identity() {
        let mut job = RayJob::new(
            "j",
            serde_json::from_value(serde_json::json!({"entrypoint": "x"})).unwrap(),
        );
        job.status = Some(Default::default());
        let old: v1alpha1::RayJob = job.clone().into();
        assert_eq!(old.spec.entrypoint, "x");
        assert_eq!(RayJob::from(old), job);
    }
}
