//! Validation of GCS fault tolerance: `spec.gcsFaultToleranceOptions`, the
//! deprecated annotation `ray.io/ft-enabled` and the head's Ray container.
//!
//! Role: [`problems`] lists every rule KubeRay v1.7 checks for fault
//! tolerance, each naming the field to fix, plus the Rust twins of the CEL
//! rules in [`cel`] (the API server may not have checked an old object).
//! It reads the RayCluster's annotations, so it runs beside
//! [`validation::problems`](crate::crd::validation::problems), from
//! [`validation::validate`](crate::crd::validation::validate) and the decide step.
//!
//! Invariant: the head's Ray container is `containers[0]` of the head
//! template, as everywhere else in rayop.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec};

use crate::crd::{
    cel,
    gcs::{self, GcsBackend, GcsFaultToleranceOptions},
    spec::RayClusterSpec,
};

/// The head's env with the Redis address (user-supplied only on the
/// deprecated annotation path).
pub const RAY_REDIS_ADDRESS: &str = "RAY_REDIS_ADDRESS";
/// The head's env with the Redis password.
pub const REDIS_PASSWORD: &str = "REDIS_PASSWORD";
/// The head's env with the Redis user name.
pub const REDIS_USERNAME: &str = "REDIS_USERNAME";
/// The head's env naming the embedded GCS store.
pub const RAY_GCS_STORAGE: &str = "RAY_gcs_storage";
/// The head's env with the embedded GCS store's directory.
pub const RAY_GCS_STORAGE_PATH: &str = "RAY_gcs_storage_path";
/// Volume and mount name of the embedded GCS store.
pub const GCS_STORAGE_VOLUME: &str = "gcs-storage";
/// Mount path of the embedded GCS store.
pub const GCS_STORAGE_PATH: &str = "/data/gcs";

const OPTIONS: &str = "spec.gcsFaultToleranceOptions";
const HEAD_CONTAINER: &str = "spec.headGroupSpec.template.spec.containers[0]";
const HEAD_PARAMS: &str = "spec.headGroupSpec.rayStartParams";

/// Every fault-tolerance problem of a cluster with `annotations` and `spec`.
#[must_use]
pub fn problems(
    annotations: Option<&BTreeMap<String, String>>,
    spec: &RayClusterSpec,
) -> Vec<SpecProblem> {
    let mut out = Vec::new();
    let options = spec.gcs_fault_tolerance_options.as_ref();
    let head = spec.head_group_spec.as_ref();
    let pod = head
        .and_then(|h| h.template.as_ref())
        .and_then(|t| t.spec.as_ref());
    let container = pod.and_then(|p| p.containers.first());
    let params = head.map(|h| &h.ray_start_params);
    let has_env = |name: &str| container.is_some_and(|c| env_index(c, name).is_some());
    let env_field = |name: &str| {
        container.and_then(|c| env_index(c, name)).map_or_else(
            || format!("{HEAD_CONTAINER}.env"),
            |i| format!("{HEAD_CONTAINER}.env[{i}]"),
        )
    };
    let annotation_set = |key: &str| {
        annotations
            .and_then(|a| a.get(key))
            .is_some_and(|v| !v.is_empty())
    };

    if options.is_some() && annotation_set(gcs::FT_ENABLED_ANNOTATION) {
        out.push(SpecProblem::new(
            format!("metadata.annotations[{}]", gcs::FT_ENABLED_ANNOTATION),
            "must not be set together with spec.gcsFaultToleranceOptions; remove the deprecated annotation",
        ));
    }
    if !gcs::ft_enabled(annotations, options) && has_env(RAY_REDIS_ADDRESS) {
        out.push(SpecProblem::new(
            env_field(RAY_REDIS_ADDRESS),
            "RAY_REDIS_ADDRESS needs GCS fault tolerance: set spec.gcsFaultToleranceOptions",
        ));
    }
    if params.is_some_and(|p| p.contains_key("redis-username")) {
        out.push(SpecProblem::new(
            format!("{HEAD_PARAMS}.redis-username"),
            "is not allowed; use spec.gcsFaultToleranceOptions.redisUsername",
        ));
    }
    if has_env(REDIS_USERNAME) {
        out.push(SpecProblem::new(
            env_field(REDIS_USERNAME),
            "REDIS_USERNAME is not allowed; use spec.gcsFaultToleranceOptions.redisUsername",
        ));
    }
    let Some(options) = options else {
        return out;
    };
    if params.is_some_and(|p| p.contains_key("redis-password")) {
        out.push(SpecProblem::new(
            format!("{HEAD_PARAMS}.redis-password"),
            "is not allowed with spec.gcsFaultToleranceOptions; use its redisPassword",
        ));
    }
    for (name, instead) in [
        (REDIS_PASSWORD, "redisPassword"),
        (RAY_REDIS_ADDRESS, "redisAddress"),
    ] {
        if has_env(name) {
            out.push(SpecProblem::new(
                env_field(name),
                format!(
                    "{name} is not allowed with spec.gcsFaultToleranceOptions; use its {instead}"
                ),
            ));
        }
    }
    if annotation_set(gcs::EXTERNAL_STORAGE_NAMESPACE_ANNOTATION) {
        out.push(SpecProblem::new(
            format!(
                "metadata.annotations[{}]",
                gcs::EXTERNAL_STORAGE_NAMESPACE_ANNOTATION
            ),
            "must not be set with spec.gcsFaultToleranceOptions; use its externalStorageNamespace",
        ));
    }
    credential(&mut out, "redisUsername", options.redis_username.as_ref());
    credential(&mut out, "redisPassword", options.redis_password.as_ref());
    match options.effective_backend() {
        GcsBackend::Redis => redis_backend(&mut out, options),
        GcsBackend::Rocksdb => rocksdb_backend(&mut out, options, pod, container),
    }
    out
}

fn credential(out: &mut Vec<SpecProblem>, field: &str, value: Option<&gcs::RedisCredential>) {
    if let Some(c) = value
        && c.value.is_some() == c.value_from.is_some()
    {
        out.push(SpecProblem::new(
            format!("{OPTIONS}.{field}"),
            cel::ONE_PASSWORD_SOURCE.message,
        ));
    }
}

fn redis_backend(out: &mut Vec<SpecProblem>, options: &GcsFaultToleranceOptions) {
    if options.redis_address.is_empty() {
        out.push(SpecProblem::new(
            format!("{OPTIONS}.redisAddress"),
            cel::REDIS_NEEDS_ADDRESS.message,
        ));
    }
    if options.storage.is_some() {
        out.push(SpecProblem::new(
            format!("{OPTIONS}.storage"),
            cel::STORAGE_NEEDS_ROCKSDB.message,
        ));
    }
}

fn rocksdb_backend(
    out: &mut Vec<SpecProblem>,
    options: &GcsFaultToleranceOptions,
    pod: Option<&PodSpec>,
    container: Option<&Container>,
) {
    let redis_fields = [
        ("redisAddress", !options.redis_address.is_empty()),
        ("redisUsername", options.redis_username.is_some()),
        ("redisPassword", options.redis_password.is_some()),
        (
            "externalStorageNamespace",
            options
                .external_storage_namespace
                .as_deref()
                .is_some_and(|ns| !ns.is_empty()),
        ),
    ];
    for (field, set) in redis_fields {
        if set {
            out.push(SpecProblem::new(
                format!("{OPTIONS}.{field}"),
                "must be empty with backend rocksdb",
            ));
        }
    }
    if let Some(storage) = &options.storage
        && storage.own_claim().is_some()
        && (storage.size.is_some()
            || storage.storage_class_name.is_some()
            || storage.access_modes.is_some())
    {
        out.push(SpecProblem::new(
            format!("{OPTIONS}.storage.claimName"),
            cel::CLAIM_EXCLUDES_SETTINGS.message,
        ));
    }
    if let Some(c) = container {
        for name in [RAY_GCS_STORAGE, RAY_GCS_STORAGE_PATH] {
            if let Some(i) = env_index(c, name) {
                out.push(SpecProblem::new(
                    format!("{HEAD_CONTAINER}.env[{i}]"),
                    format!("{name} is set by rayop with backend rocksdb; remove it"),
                ));
            }
        }
        for (i, mount) in c.volume_mounts.iter().flatten().enumerate() {
            if mount.name == GCS_STORAGE_VOLUME || mount.mount_path == GCS_STORAGE_PATH {
                out.push(SpecProblem::new(
                    format!("{HEAD_CONTAINER}.volumeMounts[{i}]"),
                    format!(
                        "the mount {GCS_STORAGE_VOLUME:?} at {GCS_STORAGE_PATH} is rayop's with backend rocksdb; \
                         use another name and path"
                    ),
                ));
            }
        }
    }
    for (i, volume) in pod
        .and_then(|p| p.volumes.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        if volume.name == GCS_STORAGE_VOLUME {
            out.push(SpecProblem::new(
                format!("spec.headGroupSpec.template.spec.volumes[{i}]"),
                format!(
                    "the volume {GCS_STORAGE_VOLUME:?} is rayop's with backend rocksdb; use another name"
                ),
            ));
        }
    }
}

fn env_index(container: &Container, name: &str) -> Option<usize> {
    container
        .env
        .iter()
        .flatten()
        .position(|var| var.name == name)
}

pub use rayop_machines::SpecProblem;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{
        RayCluster,
        gcs::{GcsEmbeddedStorage, RedisCredential},
    };
    use k8s_openapi::api::core::v1::{EnvVar, Volume, VolumeMount};

    fn fields(cluster: &RayCluster) -> Vec<String> {
        problems(cluster.metadata.annotations.as_ref(), &cluster.spec)
            .into_iter()
            .map(|p| p.field)
            .collect()
    }

    fn annotate(cluster: &mut RayCluster, key: &str, value: &str) {
        cluster
            .metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(key.into(), value.into());
    }

    fn head_container(cluster: &mut RayCluster) -> &mut Container {
        let head = cluster
            .spec
            .head_group_spec
            .get_or_insert_with(Default::default);
        let template = head.template.get_or_insert_with(Default::default);
        let pod = template.spec.get_or_insert_with(Default::default);
        if pod.containers.is_empty() {
            pod.containers.push(Container {
                name: "ray-head".into(),
                ..Default::default()
            });
        }
        &mut pod.containers[0]
    }

    fn add_env(cluster: &mut RayCluster, name: &str) {
        head_container(cluster)
            .env
            .get_or_insert_with(Default::default)
            .push(EnvVar {
                name: name.into(),
                value: Some("x".into()),
                value_from: None,
            });
    }

    fn rocksdb() -> GcsFaultToleranceOptions {
        GcsFaultToleranceOptions {
            backend: Some(GcsBackend::Rocksdb),
            ..Default::default()
        }
    }

    #[test]
    fn a_plain_cluster_and_redis_ft_pass() {
        assert!(fields(&RayCluster::test("rc")).is_empty());
        assert!(fields(&RayCluster::test("rc").with_gcs_fault_tolerance("r:6379")).is_empty());
        let mut rocks = RayCluster::test("rc");
        rocks.spec.gcs_fault_tolerance_options = Some(rocksdb());
        assert!(fields(&rocks).is_empty());
    }

    #[test]
    fn annotation_and_options_exclude_each_other() {
        let mut cluster = RayCluster::test("rc").with_gcs_fault_tolerance("r:6379");
        annotate(&mut cluster, gcs::FT_ENABLED_ANNOTATION, "true");
        assert_eq!(
            fields(&cluster),
            ["metadata.annotations[ray.io/ft-enabled]"]
        );
    }

    #[test]
    fn redis_address_env_needs_ft() {
        let mut cluster = RayCluster::test("rc");
        add_env(&mut cluster, RAY_REDIS_ADDRESS);
        assert_eq!(
            fields(&cluster),
            ["spec.headGroupSpec.template.spec.containers[0].env[0]"]
        );
        annotate(&mut cluster, gcs::FT_ENABLED_ANNOTATION, "True");
        assert!(fields(&cluster).is_empty(), "the legacy path supplies it");
    }

    #[test]
    fn redis_username_only_through_the_field() {
        let mut cluster = RayCluster::test("rc").with_gcs_fault_tolerance("r:6379");
        add_env(&mut cluster, REDIS_USERNAME);
        if let Some(head) = cluster.spec.head_group_spec.as_mut() {
            head.ray_start_params
                .insert("redis-username".into(), "u".into());
        }
        assert_eq!(
            fields(&cluster),
            [
                "spec.headGroupSpec.rayStartParams.redis-username",
                "spec.headGroupSpec.template.spec.containers[0].env[0]"
            ]
        );
    }

    #[test]
    fn options_forbid_the_legacy_settings() {
        let mut cluster = RayCluster::test("rc").with_gcs_fault_tolerance("r:6379");
        add_env(&mut cluster, REDIS_PASSWORD);
        add_env(&mut cluster, RAY_REDIS_ADDRESS);
        annotate(
            &mut cluster,
            gcs::EXTERNAL_STORAGE_NAMESPACE_ANNOTATION,
            "ns",
        );
        if let Some(head) = cluster.spec.head_group_spec.as_mut() {
            head.ray_start_params
                .insert("redis-password".into(), "p".into());
        }
        let found = problems(cluster.metadata.annotations.as_ref(), &cluster.spec);
        let names: Vec<_> = found.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            names,
            [
                "spec.headGroupSpec.rayStartParams.redis-password",
                "spec.headGroupSpec.template.spec.containers[0].env[0]",
                "spec.headGroupSpec.template.spec.containers[0].env[1]",
                "metadata.annotations[ray.io/external-storage-namespace]"
            ]
        );
        assert!(found[1].message.contains("REDIS_PASSWORD"));
    }

    #[test]
    fn redis_backend_needs_an_address_and_no_storage() {
        let mut cluster = RayCluster::test("rc");
        cluster.spec.gcs_fault_tolerance_options = Some(GcsFaultToleranceOptions {
            storage: Some(GcsEmbeddedStorage::default()),
            ..Default::default()
        });
        assert_eq!(
            fields(&cluster),
            [
                "spec.gcsFaultToleranceOptions.redisAddress",
                "spec.gcsFaultToleranceOptions.storage"
            ]
        );
    }

    #[test]
    fn rocksdb_refuses_redis_fields_and_rayops_names() {
        let mut cluster = RayCluster::test("rc");
        cluster.spec.gcs_fault_tolerance_options = Some(GcsFaultToleranceOptions {
            redis_address: "r:1".into(),
            redis_username: Some(RedisCredential {
                value: Some("u".into()),
                value_from: None,
            }),
            external_storage_namespace: Some("ns".into()),
            storage: Some(GcsEmbeddedStorage {
                claim_name: Some("mine".into()),
                size: Some(k8s_openapi::apimachinery::pkg::api::resource::Quantity(
                    "2Gi".into(),
                )),
                ..Default::default()
            }),
            ..rocksdb()
        });
        add_env(&mut cluster, RAY_GCS_STORAGE_PATH);
        head_container(&mut cluster).volume_mounts = Some(vec![VolumeMount {
            name: "data".into(),
            mount_path: GCS_STORAGE_PATH.into(),
            ..Default::default()
        }]);
        if let Some(pod) = cluster
            .spec
            .head_group_spec
            .as_mut()
            .and_then(|h| h.template.as_mut())
            .and_then(|t| t.spec.as_mut())
        {
            pod.volumes = Some(vec![Volume {
                name: GCS_STORAGE_VOLUME.into(),
                ..Default::default()
            }]);
        }
        assert_eq!(
            fields(&cluster),
            [
                "spec.gcsFaultToleranceOptions.redisAddress",
                "spec.gcsFaultToleranceOptions.redisUsername",
                "spec.gcsFaultToleranceOptions.externalStorageNamespace",
                "spec.gcsFaultToleranceOptions.storage.claimName",
                "spec.headGroupSpec.template.spec.containers[0].env[0]",
                "spec.headGroupSpec.template.spec.containers[0].volumeMounts[0]",
                "spec.headGroupSpec.template.spec.volumes[0]"
            ]
        );
    }

    #[test]
    fn a_username_needs_exactly_one_source() {
        let mut cluster = RayCluster::test("rc").with_gcs_fault_tolerance("r:6379");
        if let Some(gcs) = cluster.spec.gcs_fault_tolerance_options.as_mut() {
            gcs.redis_username = Some(RedisCredential::default());
        }
        assert_eq!(
            fields(&cluster),
            ["spec.gcsFaultToleranceOptions.redisUsername"]
        );
    }
}
