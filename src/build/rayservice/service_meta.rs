//! What every child of a RayService carries: the RayService's checked
//! identity, the controller owner reference to it, and the labels naming it
//! as origin.
//!
//! Invariants: exactly one owner reference, `ray.io/v1` `RayService` with
//! the RayService's name and UID, `controller: true` and
//! `blockOwnerDeletion: true`, so deleting the RayService garbage-collects
//! its clusters and Services; the origin labels are KubeRay's
//! (`ray.io/originated-from-cr-name`, `ray.io/originated-from-crd:
//! RayService`), by which a suspend finds what to delete.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Resource;

use super::ServiceBuildError;
use crate::crd::{
    names::{LABEL_ORIGINATED_FROM_CR_NAME, LABEL_ORIGINATED_FROM_CRD, ORIGIN_RAYSERVICE},
    rayservice::RayService,
};

/// A RayService with its name, namespace and UID checked.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceIdentity<'a> {
    /// `metadata.name`, never empty.
    pub name: &'a str,
    /// `metadata.namespace`, never empty: every child goes there.
    pub namespace: &'a str,
    /// The controller owner reference to the RayService.
    pub owner: OwnerReference,
}

impl<'a> ServiceIdentity<'a> {
    /// Checks that `service` has a name, namespace and UID.
    ///
    /// # Errors
    /// [`ServiceBuildError::MissingName`],
    /// [`ServiceBuildError::MissingNamespace`] or
    /// [`ServiceBuildError::MissingUid`].
    pub fn of(service: &'a RayService) -> Result<Self, ServiceBuildError> {
        let present = |v: &'a Option<String>| v.as_deref().filter(|v| !v.is_empty());
        let name = present(&service.metadata.name).ok_or(ServiceBuildError::MissingName)?;
        let namespace =
            present(&service.metadata.namespace).ok_or(ServiceBuildError::MissingNamespace)?;
        present(&service.metadata.uid).ok_or(ServiceBuildError::MissingUid)?;
        let owner = service
            .controller_owner_ref(&())
            .ok_or(ServiceBuildError::MissingUid)?;
        Ok(Self {
            name,
            namespace,
            owner: OwnerReference {
                block_owner_deletion: Some(true),
                ..owner
            },
        })
    }
}

/// `ray.io/originated-from-cr-name: <rayservice>` and
/// `ray.io/originated-from-crd: RayService`.
#[must_use]
pub fn origin_labels(rayservice: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            LABEL_ORIGINATED_FROM_CR_NAME.to_owned(),
            rayservice.to_owned(),
        ),
        (
            LABEL_ORIGINATED_FROM_CRD.to_owned(),
            ORIGIN_RAYSERVICE.to_owned(),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_is_the_rayservice_as_controller() {
        let rs = RayService::test("rs");
        let id = ServiceIdentity::of(&rs).unwrap();
        assert_eq!(id.name, "rs");
        assert_eq!(id.namespace, rs.metadata.namespace.as_deref().unwrap());
        let owner = id.owner;
        assert_eq!(owner.api_version, "ray.io/v1");
        assert_eq!(owner.kind, "RayService");
        assert_eq!(owner.name, "rs");
        assert_eq!(owner.uid, "uid-rs");
        assert_eq!(owner.controller, Some(true));
        assert_eq!(owner.block_owner_deletion, Some(true));
    }

    #[test]
    fn identity_is_required() {
        let mut rs = RayService::test("rs");
        rs.metadata.uid = None;
        assert_eq!(
            ServiceIdentity::of(&rs).err(),
            Some(ServiceBuildError::MissingUid)
        );
        rs.metadata.namespace = Some(String::new());
        assert_eq!(
            ServiceIdentity::of(&rs).err(),
            Some(ServiceBuildError::MissingNamespace)
        );
        rs.metadata.name = None;
        assert_eq!(
            ServiceIdentity::of(&rs).err(),
            Some(ServiceBuildError::MissingName)
        );
    }

    #[test]
    fn origin_labels_are_kuberays() {
        let labels = origin_labels("rs");
        assert_eq!(labels["ray.io/originated-from-cr-name"], "rs");
        assert_eq!(labels["ray.io/originated-from-crd"], "RayService");
    }
}
