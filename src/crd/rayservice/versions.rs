//! The two served versions of the RayService API and the merged CRD.
//!
//! Role: `ray.io/v1` ([`RayService`], stored) and `ray.io/v1alpha1`
//! ([`v1alpha1::RayService`], served and deprecated, as in KubeRay v1.7.0).
//!
//! Invariants: as for the RayCluster and RayJob APIs, both versions have one
//! schema (`v1alpha1`'s spec is a transparent newtype over the v1 spec, the
//! status type is shared), so conversion is the identity and the CRD
//! declares strategy `None`. KubeRay's v1alpha1 has fewer fields; serving
//! the v1 schema there accepts every v1alpha1 manifest and prunes nothing.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::crd::{CustomResourceExt, merge_crds};

use super::spec::RayService;
use crate::crd::versions::{CrdError, STORAGE_VERSION, finish};

/// `ray.io/v1alpha1`: the same API as v1, served for older manifests.
pub mod v1alpha1 {
    use kube::CustomResource;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    use crate::crd::rayservice::{cel, status::RayServiceStatuses};

    // The v1 spec, unchanged; the doc comment is the v1 spec's, word for word.
    /// A Ray Serve application: the operator runs it on a RayCluster built from
    /// `rayClusterConfig`, and rolls out cluster changes on a new cluster
    /// without downtime.
    #[derive(
        CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema,
    )]
    #[kube(
        group = "ray.io",
        version = "v1alpha1",
        kind = "RayService",
        namespaced,
        storage = false,
        status = "RayServiceStatuses",
        derive = "PartialEq",
        category = "all",
        deprecated = "ray.io/v1alpha1 RayService is deprecated; use ray.io/v1 RayService",
        doc = "A Ray Serve application: the operator runs it on a RayCluster built from rayClusterConfig, and rolls out cluster changes on a new cluster without downtime.",
        printcolumn(name = "service status", type_ = "string", json_path = ".status.serviceStatus", description = "Running when the Ready condition is True (deprecated)"),
        printcolumn(name = "num serve endpoints", type_ = "string", json_path = ".status.numServeEndpoints", description = "Ray pods ready behind the serve Service"),
        validation = cel::SERVICE_NAME_IS_DNS1035.to_rule(),
        validation = cel::SERVICE_NAME_LENGTH.to_rule(),
        validation = cel::GROUP_NAMES_FIT.to_rule()
    )]
    #[serde(transparent)]
    #[schemars(transparent)]
    pub struct RayServiceSpec(pub crate::crd::rayservice::spec::RayServiceSpec);

    impl std::ops::Deref for RayServiceSpec {
        type Target = crate::crd::rayservice::spec::RayServiceSpec;

        fn deref(&self) -> &Self::Target {
            &self.0
        }
    }
}

impl From<v1alpha1::RayService> for RayService {
    fn from(old: v1alpha1::RayService) -> Self {
        Self {
            metadata: old.metadata,
            spec: old.spec.0,
            status: old.status,
        }
    }
}

impl From<RayService> for v1alpha1::RayService {
    fn from(new: RayService) -> Self {
        Self {
            metadata: new.metadata,
            spec: v1alpha1::RayServiceSpec(new.spec),
            status: new.status,
        }
    }
}

/// The RayService CustomResourceDefinition: both versions, `v1` stored.
///
/// # Errors
/// [`CrdError::Merge`] if the versions disagree on group, kind or scope.
pub fn crd() -> Result<CustomResourceDefinition, CrdError> {
    let mut crd = merge_crds(
        vec![RayService::crd(), v1alpha1::RayService::crd()],
        STORAGE_VERSION,
    )?;
    finish(&mut crd);
    Ok(crd)
}

/// [`crd`] as YAML, exactly as `rayop crd --kind rayservice` prints it.
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
        assert_eq!(crd.metadata.name.as_deref(), Some("rayservices.ray.io"));
        assert_eq!(crd.spec.names.categories, Some(vec!["all".to_owned()]));
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
            .map(|c| (c.name.as_str(), c.type_.as_str(), c.json_path.as_str()))
            .collect();
        assert_eq!(
            columns,
            [
                ("service status", "string", ".status.serviceStatus"),
                ("num serve endpoints", "string", ".status.numServeEndpoints"),
            ]
        );
    }

    #[test]
    fn conversion_is_the_identity() {
        let mut svc = RayService::test("s");
        svc.status = Some(Default::default());
        let old: v1alpha1::RayService = svc.clone().into();
        assert_eq!(old.spec.serve_config_v2, svc.spec.serve_config_v2);
        assert_eq!(RayService::from(old), svc);
    }
}
