//! The RayCluster of one index of a RayService.
//!
//! [`child_cluster`] copies `spec.rayClusterConfig` into a RayCluster named
//! by [`names::cluster_name`], in the RayService's namespace, with:
//! - labels: the RayService's, then `ray.io/originated-from-cr-name: <rs>`
//!   and `ray.io/originated-from-crd: RayService` (which win);
//! - annotations: the RayService's, except kubectl's
//!   `last-applied-configuration` (it describes the RayService), then the
//!   hash annotations of [`ServiceHashes::annotations`];
//! - one controller owner reference to the RayService ([`ServiceIdentity`]);
//! - in the Ray container of the head and of every worker group,
//!   [`SERVICE_ENV`] (short GCS and Serve KV timeouts, so Serve notices a
//!   dead head or node quickly) for each variable the container does not
//!   set already. A group without a template gets the default one first,
//!   which is what the API server would store.
//!
//! Invariant: pure and deterministic; the same RayService and index give the
//! same cluster, so creating it is idempotent by name. The hashes are of
//! `rayClusterConfig` as given, before the env vars are added.

use k8s_openapi::{
    api::core::v1::{PodSpec, PodTemplateSpec},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

use super::{
    ServiceBuildError, ServiceHashes, ServiceIdentity, names, service_meta::origin_labels,
};
use crate::{
    build::{env, ingress},
    crd::{RayCluster, defaults, rayservice::RayService},
};

/// Variables every Ray container of a RayService's cluster gets unless it
/// sets them: no wait for death info of failed tasks, and 5-second GCS
/// request and Serve KV timeouts (KubeRay's values).
pub const SERVICE_ENV: [(&str, &str); 3] = [
    ("RAY_timeout_ms_task_wait_for_death_info", "0"),
    ("RAY_gcs_server_request_timeout_seconds", "5"),
    ("RAY_SERVE_KV_TIMEOUT_S", "5"),
];

/// The RayCluster of `index` of `service` (see the module docs).
///
/// # Errors
/// The RayService's missing identity ([`ServiceIdentity::of`]), or
/// [`ServiceBuildError::Hash`].
pub fn child_cluster(service: &RayService, index: u32) -> Result<RayCluster, ServiceBuildError> {
    let id = ServiceIdentity::of(service)?;
    let hashes = ServiceHashes::of(service)?;
    let mut spec = service.spec.ray_cluster_config.clone();
    let head = spec.head_group_spec.get_or_insert_with(Default::default);
    add_service_env(
        head.template
            .get_or_insert_with(defaults::default_head_template),
    );
    for group in &mut spec.worker_group_specs {
        add_service_env(
            group
                .template
                .get_or_insert_with(defaults::default_worker_template),
        );
    }

    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    labels.extend(origin_labels(id.name));
    let mut annotations = service.metadata.annotations.clone().unwrap_or_default();
    annotations.remove(ingress::LAST_APPLIED_ANNOTATION);
    annotations.extend(hashes.annotations());

    Ok(RayCluster {
        metadata: ObjectMeta {
            name: Some(names::cluster_name(id.name, index)),
            namespace: Some(id.namespace.to_owned()),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references: Some(vec![id.owner]),
            ..ObjectMeta::default()
        },
        spec,
        status: None,
    })
}

/// Adds each of [`SERVICE_ENV`] the Ray container of `template` lacks.
fn add_service_env(template: &mut PodTemplateSpec) {
    let pod = template.spec.get_or_insert_with(PodSpec::default);
    let Some(ray) = pod.containers.get_mut(defaults::RAY_CONTAINER_INDEX) else {
        return;
    };
    let vars = ray.env.get_or_insert_with(Vec::new);
    for (name, value) in SERVICE_ENV {
        if vars.iter().all(|v| v.name != name) {
            vars.push(env::value(name, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::names::{
        CLUSTER_CONFIG_FULL_HASH_ANNOTATION, HASH_WITHOUT_REPLICAS_ANNOTATION,
        NUM_WORKER_GROUPS_ANNOTATION,
    };
    use k8s_openapi::api::core::v1::{Container, EnvVar};

    fn service() -> RayService {
        let mut rs = RayService::test("rs").with_workers(2);
        rs.metadata.labels = Some(
            [
                ("team".to_owned(), "ml".to_owned()),
                ("ray.io/originated-from-crd".to_owned(), "Mine".to_owned()),
            ]
            .into(),
        );
        rs.metadata.annotations = Some(
            [
                ("note".to_owned(), "kept".to_owned()),
                (ingress::LAST_APPLIED_ANNOTATION.to_owned(), "{}".to_owned()),
            ]
            .into(),
        );
        rs
    }

    fn ray_env(template: Option<&PodTemplateSpec>) -> Vec<EnvVar> {
        template
            .and_then(|t| t.spec.as_ref())
            .and_then(|p| p.containers.first())
            .and_then(|c| c.env.clone())
            .unwrap_or_default()
    }

    fn value_of(vars: &[EnvVar], name: &str) -> Option<String> {
        vars.iter()
            .find(|v| v.name == name)
            .and_then(|v| v.value.clone())
    }

    #[test]
    fn name_namespace_owner_and_spec() {
        let rs = service();
        let cluster = child_cluster(&rs, 3).unwrap();
        assert_eq!(cluster.metadata.name.as_deref(), Some("rs-3"));
        assert_eq!(cluster.metadata.namespace, rs.metadata.namespace);
        let owners = cluster.metadata.owner_references.unwrap();
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0].kind, "RayService");
        assert_eq!(owners[0].controller, Some(true));
        let config = &rs.spec.ray_cluster_config;
        assert_eq!(cluster.spec.ray_version, config.ray_version);
        assert_eq!(
            cluster.spec.worker_group_specs[0].replicas,
            config.worker_group_specs[0].replicas
        );
        assert_eq!(child_cluster(&rs, 3).unwrap().spec, cluster.spec);
    }

    #[test]
    fn labels_and_annotations() {
        let rs = service();
        let cluster = child_cluster(&rs, 0).unwrap();
        let labels = cluster.metadata.labels.unwrap();
        assert_eq!(labels["team"], "ml");
        assert_eq!(labels["ray.io/originated-from-cr-name"], "rs");
        assert_eq!(labels["ray.io/originated-from-crd"], "RayService");
        let annotations = cluster.metadata.annotations.unwrap();
        assert_eq!(annotations["note"], "kept");
        assert!(!annotations.contains_key(ingress::LAST_APPLIED_ANNOTATION));
        let hashes = ServiceHashes::of(&rs).unwrap();
        assert_eq!(
            annotations[HASH_WITHOUT_REPLICAS_ANNOTATION],
            hashes.cluster_hash
        );
        assert_eq!(annotations[NUM_WORKER_GROUPS_ANNOTATION], "1");
        assert_eq!(
            annotations[CLUSTER_CONFIG_FULL_HASH_ANNOTATION],
            hashes.full_hash
        );
    }

    #[test]
    fn every_ray_container_gets_the_service_env_unless_set() {
        let mut rs = service();
        let head = rs
            .spec
            .ray_cluster_config
            .head_group_spec
            .get_or_insert_with(Default::default);
        let pod = head
            .template
            .get_or_insert_with(defaults::default_head_template)
            .spec
            .get_or_insert_with(Default::default);
        pod.containers[0].env = Some(vec![env::value("RAY_SERVE_KV_TIMEOUT_S", "30")]);
        // A sidecar is not a Ray container.
        pod.containers.push(Container {
            name: "sidecar".into(),
            ..Container::default()
        });
        rs.spec.ray_cluster_config.worker_group_specs[0].template = None;

        let cluster = child_cluster(&rs, 1).unwrap();
        let head = cluster.spec.head_group_spec.as_ref().unwrap();
        let head_env = ray_env(head.template.as_ref());
        assert_eq!(
            value_of(&head_env, "RAY_SERVE_KV_TIMEOUT_S").as_deref(),
            Some("30")
        );
        assert_eq!(
            head_env
                .iter()
                .filter(|v| v.name == "RAY_SERVE_KV_TIMEOUT_S")
                .count(),
            1
        );
        assert_eq!(
            value_of(&head_env, "RAY_timeout_ms_task_wait_for_death_info").as_deref(),
            Some("0")
        );
        let sidecar = &head
            .template
            .as_ref()
            .unwrap()
            .spec
            .as_ref()
            .unwrap()
            .containers[1];
        assert_eq!(sidecar.env, None);

        let worker_env = ray_env(cluster.spec.worker_group_specs[0].template.as_ref());
        for (name, value) in SERVICE_ENV {
            assert_eq!(
                value_of(&worker_env, name).as_deref(),
                Some(value),
                "{name}"
            );
        }
    }

    #[test]
    fn the_hashes_are_of_the_config_before_the_env() {
        let rs = service();
        let cluster = child_cluster(&rs, 0).unwrap();
        let annotations = cluster.metadata.annotations.unwrap();
        let again = RayService::test("rs")
            .with_workers(2)
            .with_cluster(cluster.spec.clone());
        assert_ne!(
            annotations[HASH_WITHOUT_REPLICAS_ANNOTATION],
            ServiceHashes::of(&again).unwrap().cluster_hash,
            "the injected env is not part of the goal"
        );
        assert_eq!(
            annotations[HASH_WITHOUT_REPLICAS_ANNOTATION],
            ServiceHashes::of(&rs).unwrap().cluster_hash
        );
    }

    #[test]
    fn identity_is_required() {
        let mut rs = service();
        rs.metadata.uid = None;
        assert_eq!(
            child_cluster(&rs, 0).err(),
            Some(ServiceBuildError::MissingUid)
        );
    }
}
