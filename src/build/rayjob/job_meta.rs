//! What every child of a RayJob carries: the RayJob's checked identity, the
//! controller owner reference to it, and the labels naming it as origin.
//!
//! Invariants: exactly one owner reference, `ray.io/v1` `RayJob` with the
//! RayJob's name and UID, `controller: true` and `blockOwnerDeletion: true`,
//! so deleting the RayJob garbage-collects its clusters and Jobs; the origin
//! labels are KubeRay's (`ray.io/originated-from-cr-name`,
//! `ray.io/originated-from-crd: RayJob`), which rayop's RayCluster builders
//! read too (network policy, batch schedulers, history collector).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Resource;

use super::JobBuildError;
use crate::{
    crd::names::{LABEL_ORIGINATED_FROM_CR_NAME, LABEL_ORIGINATED_FROM_CRD},
    crd::rayjob::RayJob,
};

/// Value of `ray.io/originated-from-crd` on a RayJob's children.
pub const ORIGIN_KIND: &str = "RayJob";

/// A RayJob with its name, namespace and UID checked.
#[derive(Clone, Debug, PartialEq)]
pub struct JobIdentity<'a> {
    /// `metadata.name`, never empty.
    pub name: &'a str,
    /// `metadata.namespace`, never empty: every child goes there.
    pub namespace: &'a str,
    /// The controller owner reference to the RayJob.
    pub owner: OwnerReference,
}

impl<'a> JobIdentity<'a> {
    /// Checks that `job` has a name, namespace and UID.
    ///
    /// # Errors
    /// [`JobBuildError::MissingName`], [`JobBuildError::MissingNamespace`]
    /// or [`JobBuildError::MissingUid`].
    pub fn of(job: &'a RayJob) -> Result<Self, JobBuildError> {
        let present = |v: &'a Option<String>| v.as_deref().filter(|v| !v.is_empty());
        let name = present(&job.metadata.name).ok_or(JobBuildError::MissingName)?;
        let namespace = present(&job.metadata.namespace).ok_or(JobBuildError::MissingNamespace)?;
        present(&job.metadata.uid).ok_or(JobBuildError::MissingUid)?;
        let owner = job
            .controller_owner_ref(&())
            .ok_or(JobBuildError::MissingUid)?;
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

/// `ray.io/originated-from-cr-name: <rayjob>` and
/// `ray.io/originated-from-crd: RayJob`.
#[must_use]
pub fn origin_labels(rayjob: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_ORIGINATED_FROM_CR_NAME.to_owned(), rayjob.to_owned()),
        (LABEL_ORIGINATED_FROM_CRD.to_owned(), ORIGIN_KIND.to_owned()),
    ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn job() -> RayJob {
        let mut job = RayJob::new("sample", Default::default());
        job.metadata.namespace = Some("ns".into());
        job.metadata.uid = Some("uid-sample".into());
        job
    }

    #[test]
    fn the_owner_is_the_rayjob_as_controller() {
        let job = job();
        let id = JobIdentity::of(&job).unwrap();
        assert_eq!((id.name, id.namespace), ("sample", "ns"));
        let owner = id.owner;
        assert_eq!(owner.api_version, "ray.io/v1");
        assert_eq!(owner.kind, "RayJob");
        assert_eq!(owner.name, "sample");
        assert_eq!(owner.uid, "uid-sample");
        assert_eq!(owner.controller, Some(true));
        assert_eq!(owner.block_owner_deletion, Some(true));
    }

    #[test]
    fn identity_is_required() {
        let mut j = job();
        j.metadata.uid = None;
        assert_eq!(JobIdentity::of(&j).err(), Some(JobBuildError::MissingUid));
        j.metadata.namespace = Some(String::new());
        assert_eq!(
            JobIdentity::of(&j).err(),
            Some(JobBuildError::MissingNamespace)
        );
        j.metadata.name = None;
        assert_eq!(JobIdentity::of(&j).err(), Some(JobBuildError::MissingName));
    }

    #[test]
    fn origin_labels_are_kuberays() {
        let labels = origin_labels("sample");
        assert_eq!(labels["ray.io/originated-from-cr-name"], "sample");
        assert_eq!(labels["ray.io/originated-from-crd"], "RayJob");
    }
}
