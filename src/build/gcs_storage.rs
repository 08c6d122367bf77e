//! GCS fault tolerance on the head pod: the embedded RocksDB volume, the
//! operator-managed claim `<cluster>-gcs-pvc`, and the head pod's
//! fault-tolerance annotations.
//!
//! Role: pure builders. With `backend: rocksdb` the head's Ray container
//! mounts the volume `gcs-storage` at `/data/gcs` (with `storage.subPath`),
//! backed by `storage.claimName` or by the claim [`gcs_claim`] builds.
//!
//! Why a claim of its own and not a `volumeClaimTemplates` entry of the head
//! StatefulSet: a template's claim is named after the pod
//! (`gcs-storage-<cluster>-head-0`), is bound to the StatefulSet's life
//! (its retention policy acts when the StatefulSet is deleted, which rayop
//! may do for reasons that are not the cluster's end), and a StatefulSet's
//! claim templates cannot change. A claim owned by the RayCluster itself
//! keeps KubeRay's name, survives every head pod restart and every
//! StatefulSet replacement, and goes with the cluster only
//! (`DeleteWithCluster`), or never (`Retain`).
//!
//! Invariants: the claim is created once and never updated (size, class and
//! access modes are the creation's; the apply step warns about a spec that
//! differs); its only owner reference is the RayCluster's, unless `Retain`.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{
        PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource,
        PodSpec, PodTemplateSpec, Volume, VolumeMount, VolumeResourceRequirements,
    },
    apimachinery::pkg::api::resource::Quantity,
};

use crate::{
    build::{ClusterContext, object_meta::object_meta},
    crd::{
        gcs::{self, GcsBackend, GcsEmbeddedStorage},
        gcs_checks::{GCS_STORAGE_PATH, GCS_STORAGE_VOLUME},
        names::RayNode,
    },
};

/// Suffix of the operator-managed claim's name, `<cluster>-gcs-pvc`.
pub const CLAIM_SUFFIX: &str = "-gcs-pvc";

/// Annotation of the head StatefulSet with the hash of the claim as built:
/// a change of `storage` changes the head set's hash, so the apply step
/// ensures the claim again (its owner reference, the drift Warning).
pub const CLAIM_HASH_ANNOTATION: &str = "ray.io/rayop-gcs-claim-hash";

/// The operator-managed claim and what the apply step does with it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[allow(clippy::large_enum_variant)]
pub enum GcsClaim {
    /// `storage.claimName`: used as-is; its absence is reported.
    Own(String),
    /// `<cluster>-gcs-pvc`: created when absent, its owner reference kept
    /// as the deletion policy says; never updated otherwise.
    Managed {
        /// The claim as it is created. Its owner references are the
        /// cluster's (empty with `Retain`).
        claim: PersistentVolumeClaim,
        /// `deletionPolicy: Retain`: no owner reference.
        retained: bool,
    },
}

impl GcsClaim {
    /// The claim's name.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            GcsClaim::Own(name) => name,
            GcsClaim::Managed { claim, .. } => claim.metadata.name.as_deref().unwrap_or_default(),
        }
    }
}

/// The name of the operator-managed claim of `cluster`.
#[must_use]
pub fn managed_claim_name(cluster: &str) -> String {
    format!("{cluster}{CLAIM_SUFFIX}")
}

fn storage<'a>(ctx: &ClusterContext<'a>) -> Option<Option<&'a GcsEmbeddedStorage>> {
    let options = ctx.spec.gcs_fault_tolerance_options.as_ref()?;
    (options.effective_backend() == GcsBackend::Rocksdb).then_some(options.storage.as_ref())
}

/// The claim of the embedded RocksDB store, `None` without `backend: rocksdb`.
#[must_use]
pub fn gcs_claim(ctx: &ClusterContext<'_>) -> Option<GcsClaim> {
    let storage = storage(ctx)?;
    if let Some(own) = storage.and_then(GcsEmbeddedStorage::own_claim) {
        return Some(GcsClaim::Own(own.to_owned()));
    }
    let retained = storage.is_some_and(GcsEmbeddedStorage::retained);
    let mut metadata = object_meta(ctx, managed_claim_name(ctx.name), RayNode::Head);
    if retained {
        metadata.owner_references = None;
    }
    let size = storage
        .and_then(|s| s.size.clone())
        .unwrap_or_else(|| Quantity(gcs::DEFAULT_STORAGE_SIZE.to_owned()));
    let access_modes = storage
        .and_then(|s| s.access_modes.clone())
        .filter(|modes| !modes.is_empty())
        .unwrap_or_else(|| vec![gcs::DEFAULT_ACCESS_MODE.to_owned()]);
    Some(GcsClaim::Managed {
        claim: PersistentVolumeClaim {
            metadata,
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(access_modes),
                storage_class_name: storage.and_then(|s| s.storage_class_name.clone()),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([("storage".to_owned(), size)])),
                    limits: None,
                }),
                ..PersistentVolumeClaimSpec::default()
            }),
            status: None,
        },
        retained,
    })
}

/// With `backend: rocksdb`: the volume `gcs-storage` on `pod` and its
/// mount at `/data/gcs` (with `storage.subPath`) on the container at `ray`.
pub fn mount_storage(ctx: &ClusterContext<'_>, pod: &mut PodSpec, ray: usize) {
    let Some(claim) = gcs_claim(ctx) else {
        return;
    };
    let sub_path = storage(ctx)
        .flatten()
        .and_then(|s| s.sub_path.clone())
        .filter(|p| !p.is_empty());
    pod.volumes.get_or_insert_with(Vec::new).push(Volume {
        name: GCS_STORAGE_VOLUME.to_owned(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim.name().to_owned(),
            read_only: None,
        }),
        ..Volume::default()
    });
    if let Some(container) = pod.containers.get_mut(ray) {
        container
            .volume_mounts
            .get_or_insert_with(Vec::new)
            .push(VolumeMount {
                name: GCS_STORAGE_VOLUME.to_owned(),
                mount_path: GCS_STORAGE_PATH.to_owned(),
                sub_path,
                ..VolumeMount::default()
            });
    }
}

/// The head pod's annotations: `ray.io/ft-enabled` always (`"true"` or
/// `"false"`), and with the redis backend `ray.io/external-storage-namespace`
/// with the namespace in force.
pub fn annotate_head_pod(ctx: &ClusterContext<'_>, template: &mut PodTemplateSpec) {
    let backend = ctx.gcs_backend();
    let annotations = template
        .metadata
        .get_or_insert_with(Default::default)
        .annotations
        .get_or_insert_with(BTreeMap::new);
    annotations.insert(
        gcs::FT_ENABLED_ANNOTATION.to_owned(),
        backend.is_some().to_string(),
    );
    if backend == Some(GcsBackend::Redis) {
        annotations.insert(
            gcs::EXTERNAL_STORAGE_NAMESPACE_ANNOTATION.to_owned(),
            ctx.storage_namespace().to_owned(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        build::BuildOptions,
        crd::{
            RayCluster,
            gcs::{GcsFaultToleranceOptions, GcsStorageDeletionPolicy},
        },
    };

    fn rocksdb(storage: Option<GcsEmbeddedStorage>) -> RayCluster {
        let mut cluster = RayCluster::test("rc");
        cluster.spec.gcs_fault_tolerance_options = Some(GcsFaultToleranceOptions {
            backend: Some(GcsBackend::Rocksdb),
            storage,
            ..Default::default()
        });
        cluster
    }

    fn claim_of(cluster: &RayCluster) -> Option<GcsClaim> {
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(cluster, &options).unwrap();
        gcs_claim(&ctx)
    }

    #[test]
    fn no_claim_without_rocksdb() {
        assert_eq!(claim_of(&RayCluster::test("rc")), None);
        assert_eq!(
            claim_of(&RayCluster::test("rc").with_gcs_fault_tolerance("r:1")),
            None
        );
    }

    #[test]
    fn the_managed_claim_has_the_defaults_and_the_cluster_as_owner() {
        let Some(GcsClaim::Managed { claim, retained }) = claim_of(&rocksdb(None)) else {
            panic!("no managed claim");
        };
        assert!(!retained);
        assert_eq!(claim.metadata.name.as_deref(), Some("rc-gcs-pvc"));
        assert_eq!(
            claim.metadata.labels.as_ref().unwrap()["ray.io/cluster"],
            "rc"
        );
        let owners = claim.metadata.owner_references.unwrap();
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0].controller, Some(true));
        let spec = claim.spec.unwrap();
        assert_eq!(spec.access_modes.unwrap(), ["ReadWriteOnce"]);
        assert_eq!(spec.storage_class_name, None);
        assert_eq!(
            spec.resources.unwrap().requests.unwrap()["storage"],
            Quantity("1Gi".into())
        );
    }

    #[test]
    fn retain_drops_the_owner_and_settings_are_used() {
        let cluster = rocksdb(Some(GcsEmbeddedStorage {
            size: Some(Quantity("5Gi".into())),
            storage_class_name: Some("fast".into()),
            access_modes: Some(vec!["ReadWriteMany".into()]),
            deletion_policy: Some(GcsStorageDeletionPolicy::Retain),
            ..Default::default()
        }));
        let Some(GcsClaim::Managed { claim, retained }) = claim_of(&cluster) else {
            panic!("no managed claim");
        };
        assert!(retained);
        assert_eq!(claim.metadata.owner_references, None);
        let spec = claim.spec.unwrap();
        assert_eq!(spec.storage_class_name.as_deref(), Some("fast"));
        assert_eq!(spec.access_modes.unwrap(), ["ReadWriteMany"]);
    }

    #[test]
    fn a_claim_of_ones_own_is_used_as_is() {
        let cluster = rocksdb(Some(GcsEmbeddedStorage {
            claim_name: Some("mine".into()),
            deletion_policy: Some(GcsStorageDeletionPolicy::Retain),
            ..Default::default()
        }));
        assert_eq!(claim_of(&cluster), Some(GcsClaim::Own("mine".into())));
    }

    #[test]
    fn the_head_mounts_the_claim_with_the_sub_path() {
        let cluster = rocksdb(Some(GcsEmbeddedStorage {
            sub_path: Some("gcs".into()),
            ..Default::default()
        }));
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        let mut pod = PodSpec {
            containers: vec![Default::default()],
            ..Default::default()
        };
        mount_storage(&ctx, &mut pod, 0);
        let volume = &pod.volumes.unwrap()[0];
        assert_eq!(volume.name, "gcs-storage");
        assert_eq!(
            volume.persistent_volume_claim.as_ref().unwrap().claim_name,
            "rc-gcs-pvc"
        );
        let mount = &pod.containers[0].volume_mounts.as_ref().unwrap()[0];
        assert_eq!(mount.mount_path, "/data/gcs");
        assert_eq!(mount.sub_path.as_deref(), Some("gcs"));
    }

    #[test]
    fn the_head_pod_says_whether_ft_is_on() {
        let options = BuildOptions::default();
        for (cluster, on, namespace) in [
            (RayCluster::test("rc"), "false", None),
            (
                RayCluster::test("rc").with_gcs_fault_tolerance("r:1"),
                "true",
                Some("uid-rc"),
            ),
            (rocksdb(None), "true", None),
        ] {
            let ctx = ClusterContext::new(&cluster, &options).unwrap();
            let mut template = PodTemplateSpec::default();
            annotate_head_pod(&ctx, &mut template);
            let annotations = template.metadata.unwrap().annotations.unwrap();
            assert_eq!(annotations["ray.io/ft-enabled"], on);
            assert_eq!(
                annotations
                    .get("ray.io/external-storage-namespace")
                    .map(String::as_str),
                namespace.map(|_| cluster.metadata.uid.as_deref().unwrap())
            );
        }
    }
}
