//! Shared memory for Ray's object store, and the pod-level volume helpers the
//! head's log volume shares.
//!
//! Role: a container's `/dev/shm` is 64 MiB by default, far too small for the
//! object store, which then falls back to slow disk. rayop mounts an emptyDir
//! with medium `Memory` at `/dev/shm` in the Ray container, sized by the
//! container's memory limit (else its request; unbounded if neither is set).
//!
//! Invariants: nothing is added when the container already mounts something
//! at the path; a pod volume of the same name is reused, never duplicated.

use k8s_openapi::api::core::v1::{Container, EmptyDirVolumeSource, PodSpec, Volume, VolumeMount};

/// Name of the memory-backed emptyDir at [`SHARED_MEMORY_PATH`]; a pod volume
/// of this name is reused.
pub const SHARED_MEMORY_VOLUME: &str = "shared-mem";
/// Where the Ray container gets the volume: Ray's object store lives in
/// `/dev/shm`.
pub const SHARED_MEMORY_PATH: &str = "/dev/shm";

/// Mounts a memory-backed `/dev/shm` in the container at `index` of `pod`.
pub fn mount_shared_memory(pod: &mut PodSpec, index: usize) {
    let Some(container) = pod.containers.get(index) else {
        return;
    };
    if mount_at(container, SHARED_MEMORY_PATH).is_some() {
        return;
    }
    let resources = container.resources.as_ref();
    let size_limit = resources
        .and_then(|r| r.limits.as_ref())
        .and_then(|l| l.get("memory"))
        .or_else(|| {
            resources
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get("memory"))
        })
        .cloned();
    ensure_empty_dir(
        pod,
        SHARED_MEMORY_VOLUME,
        EmptyDirVolumeSource {
            medium: Some("Memory".to_owned()),
            size_limit,
        },
    );
    if let Some(container) = pod.containers.get_mut(index) {
        add_mount(container, SHARED_MEMORY_VOLUME, SHARED_MEMORY_PATH);
    }
}

/// The name of the volume `container` mounts at `path`, if any.
#[must_use]
pub fn mount_at<'a>(container: &'a Container, path: &str) -> Option<&'a str> {
    container
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.mount_path == path)
        .map(|m| m.name.as_str())
}

/// Adds an emptyDir volume `name` to `pod` unless a volume of that name exists.
pub fn ensure_empty_dir(pod: &mut PodSpec, name: &str, source: EmptyDirVolumeSource) {
    let volumes = pod.volumes.get_or_insert_with(Vec::new);
    if volumes.iter().all(|v| v.name != name) {
        volumes.push(Volume {
            name: name.to_owned(),
            empty_dir: Some(source),
            ..Volume::default()
        });
    }
}

/// Mounts volume `name` at `path` in `container`.
pub fn add_mount(container: &mut Container, name: &str, path: &str) {
    container
        .volume_mounts
        .get_or_insert_with(Vec::new)
        .push(VolumeMount {
            name: name.to_owned(),
            mount_path: path.to_owned(),
            ..VolumeMount::default()
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::{
        api::core::v1::ResourceRequirements, apimachinery::pkg::api::resource::Quantity,
    };

    fn pod(limit: Option<&str>, request: Option<&str>) -> PodSpec {
        let list =
            |q: Option<&str>| q.map(|q| [("memory".to_owned(), Quantity(q.to_owned()))].into());
        PodSpec {
            containers: vec![Container {
                resources: Some(ResourceRequirements {
                    limits: list(limit),
                    requests: list(request),
                    ..ResourceRequirements::default()
                }),
                ..Container::default()
            }],
            ..PodSpec::default()
        }
    }

    #[test]
    fn sized_by_the_memory_limit() {
        let mut p = pod(Some("2Gi"), Some("1Gi"));
        mount_shared_memory(&mut p, 0);
        let volume = &p.volumes.as_ref().unwrap()[0];
        assert_eq!(volume.name, "shared-mem");
        let dir = volume.empty_dir.as_ref().unwrap();
        assert_eq!(dir.medium.as_deref(), Some("Memory"));
        assert_eq!(dir.size_limit, Some(Quantity("2Gi".into())));
        assert_eq!(mount_at(&p.containers[0], "/dev/shm"), Some("shared-mem"));
    }

    #[test]
    fn falls_back_to_the_request() {
        let mut p = pod(None, Some("1Gi"));
        mount_shared_memory(&mut p, 0);
        let dir = p.volumes.unwrap()[0].empty_dir.clone().unwrap();
        assert_eq!(dir.size_limit, Some(Quantity("1Gi".into())));
    }

    #[test]
    fn a_user_mount_is_kept() {
        let mut p = pod(Some("1Gi"), None);
        add_mount(&mut p.containers[0], "mine", "/dev/shm");
        mount_shared_memory(&mut p, 0);
        assert!(p.volumes.is_none());
        assert_eq!(p.containers[0].volume_mounts.as_ref().unwrap().len(), 1);
    }

    #[test]
    fn idempotent() {
        let mut p = pod(Some("1Gi"), None);
        mount_shared_memory(&mut p, 0);
        let once = p.clone();
        mount_shared_memory(&mut p, 0);
        assert_eq!(p, once);
    }
}
