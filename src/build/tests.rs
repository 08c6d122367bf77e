//! Tests of [`desired_objects`] as a whole: the seed sample, ownership and
//! labels of every object, hashes and determinism.

use std::collections::BTreeMap;

use super::*;
use crate::{
    crd::names::SPEC_HASH_ANNOTATION,
    crd::{
        RayCluster, effective_worker_template, test_builders::group, worker_group::WorkloadKind,
    },
    desired::{Kind, Object},
};

fn seed() -> RayCluster {
    let mut cluster: RayCluster =
        serde_yaml::from_str(include_str!("../../tests/fixtures/seed-raycluster.yaml")).unwrap();
    cluster.metadata.namespace = Some("ray".into());
    cluster.metadata.uid = Some("0b7f-seed".into());
    cluster
}

fn build(cluster: &RayCluster) -> DesiredObjects {
    desired_objects(cluster, &BuildOptions::default()).unwrap()
}

fn all(desired: &DesiredObjects) -> Vec<&Object> {
    desired
        .head
        .objects
        .iter()
        .chain(
            desired
                .groups
                .iter()
                .flat_map(|(_, set)| set.objects.iter()),
        )
        .collect()
}

fn kinds_and_names(objects: &[Object]) -> Vec<(Kind, String)> {
    objects.iter().map(|o| (o.kind(), o.key().name)).collect()
}

#[test]
fn the_seed_builds_head_rbac_and_a_deployment_group() {
    let desired = build(&seed());
    assert_eq!(
        kinds_and_names(&desired.head.objects),
        [
            (Kind::StatefulSet, "basic-ray-cluster-head".to_owned()),
            (Kind::Service, "basic-ray-cluster-head-svc".to_owned()),
            (Kind::ServiceAccount, "basic-ray-cluster".to_owned()),
            (Kind::Role, "basic-ray-cluster".to_owned()),
            (Kind::RoleBinding, "basic-ray-cluster".to_owned()),
        ]
    );
    assert_eq!(desired.groups.len(), 1);
    let (name, set) = &desired.groups[0];
    assert_eq!(name, "small-worker");
    assert_eq!(
        kinds_and_names(&set.objects),
        [
            (
                Kind::Deployment,
                "basic-ray-cluster-small-worker".to_owned()
            ),
            (
                Kind::Service,
                "basic-ray-cluster-small-worker-svc".to_owned()
            ),
        ]
    );
}

#[test]
fn the_seed_worker_runs_its_params_and_waits_for_the_gcs() {
    let desired = build(&seed());
    let Some(Object::Deployment(deployment)) = desired.groups[0].1.workload() else {
        panic!("the seed's group is a Deployment");
    };
    let pod = deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    let args = &pod.containers[0].args.as_ref().unwrap()[0];
    assert_eq!(
        args,
        "ulimit -n ${RAY_START_ULIMIT_OPEN_FILES:-65536}; ray start \
         --address=basic-ray-cluster-head-svc.ray.svc.cluster.local:6379 --block \
         --dashboard-agent-listen-port=52365 --dashboard-host=0.0.0.0 --memory=1073741824 \
         --metrics-export-port=8080 --num-cpus=1 --num-gpus=0"
    );
    assert_eq!(
        pod.init_containers.as_ref().unwrap()[0].name,
        "wait-gcs-ready"
    );
    // Ray 2.6.0: exec probes
    assert!(
        pod.containers[0]
            .liveness_probe
            .as_ref()
            .unwrap()
            .exec
            .is_some()
    );
}

#[test]
fn the_seed_head_has_the_sidecar_and_no_monitor() {
    let desired = build(&seed());
    let Some(Object::StatefulSet(sts)) = desired.head.workload() else {
        panic!("the head is a StatefulSet");
    };
    let pod = sts.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    assert_eq!(pod.containers[1].name, "autoscaler");
    assert_eq!(
        pod.service_account_name.as_deref(),
        Some("basic-ray-cluster")
    );
    let args = &pod.containers[0].args.as_ref().unwrap()[0];
    assert_eq!(
        args,
        "ulimit -n ${RAY_START_ULIMIT_OPEN_FILES:-65536}; ray start --block --dashboard-agent-listen-port=52365 \
         --dashboard-host=0.0.0.0 --head --memory=2147483648 --metrics-export-port=8080 \
         --no-monitor --num-cpus=1"
    );
    let image = pod.containers[0].image.as_deref();
    assert_eq!(image, Some("rayproject/ray:2.6.0"));
    assert_eq!(pod.containers[1].image.as_deref(), image);
}

#[test]
fn every_object_is_owned_namespaced_labelled_and_stamped() {
    let desired = build(&seed());
    for object in all(&desired) {
        let meta = object.meta();
        let what = format!("{:?} {:?}", object.kind(), meta.name);
        assert_eq!(meta.namespace.as_deref(), Some("ray"), "{what}");
        let owners = meta.owner_references.as_ref().unwrap();
        assert_eq!(owners.len(), 1, "{what}");
        assert_eq!(owners[0].uid, "0b7f-seed", "{what}");
        assert_eq!(owners[0].name, "basic-ray-cluster", "{what}");
        assert_eq!(owners[0].controller, Some(true), "{what}");
        assert_eq!(owners[0].block_owner_deletion, Some(true), "{what}");
        let labels = meta.labels.as_ref().unwrap();
        for key in [
            "ray.io/cluster",
            "ray.io/node-type",
            "ray.io/group",
            "app.kubernetes.io/name",
            "app.kubernetes.io/created-by",
        ] {
            assert!(labels.contains_key(key), "{what} lacks {key}");
        }
        assert_eq!(labels["app.kubernetes.io/created-by"], "rayop");
        assert!(
            meta.annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(SPEC_HASH_ANNOTATION)),
            "{what}"
        );
    }
}

#[test]
fn workloads_come_first_without_replicas() {
    let desired = build(
        &RayCluster::test("rc")
            .with_workers(3)
            .with_group(group("b")),
    );
    for set in std::iter::once(&desired.head).chain(desired.groups.iter().map(|(_, s)| s)) {
        assert!(set.objects[0].is_workload());
        let replicas = match &set.objects[0] {
            Object::StatefulSet(s) => s.spec.as_ref().unwrap().replicas,
            Object::Deployment(d) => d.spec.as_ref().unwrap().replicas,
            _ => unreachable!(),
        };
        assert_eq!(replicas, None);
    }
    let names: Vec<_> = desired.groups.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["workers", "b"]);
}

#[test]
fn no_rbac_without_autoscaling() {
    let desired = build(&RayCluster::test("rc").with_workers(1));
    let kinds: Vec<_> = desired.head.objects.iter().map(Object::kind).collect();
    assert_eq!(kinds, [Kind::StatefulSet, Kind::Service]);
    assert_eq!(
        desired.groups[0].1.objects[0].kind(),
        Kind::StatefulSet,
        "StatefulSet groups without autoscaling"
    );
}

#[test]
fn same_input_same_objects() {
    let cluster = seed();
    let a = build(&cluster);
    let b = build(&cluster.clone());
    assert_eq!(a, b);
    assert_eq!(
        serde_json::to_string(&a.head.objects).unwrap(),
        serde_json::to_string(&b.head.objects).unwrap()
    );
}

#[test]
fn replicas_do_not_change_the_hash() {
    let before = build(&seed());
    let mut scaled = seed();
    scaled.spec.worker_group_specs[0].replicas = 3;
    scaled.spec.worker_group_specs[0].scale_strategy =
        Some(crate::crd::worker_group::ScaleStrategy {
            workers_to_delete: vec!["basic-ray-cluster-small-worker-abc".into()],
        });
    let after = build(&scaled);
    assert_eq!(before.head.hash, after.head.hash);
    assert_eq!(before.groups[0].1.hash, after.groups[0].1.hash);
}

#[test]
fn a_template_change_changes_only_its_sets_hash() {
    let cluster = RayCluster::test("rc")
        .with_group(group("a"))
        .with_group(group("b"));
    let before = build(&cluster);
    let mut changed = cluster.clone();
    let mut template =
        effective_worker_template(&changed.spec, &changed.spec.worker_group_specs[0]);
    template.spec.as_mut().unwrap().containers[0].image = Some("rayproject/ray:2.47.0".into());
    changed.spec.worker_group_specs[0].template = Some(template);
    let after = build(&changed);
    assert_ne!(before.groups[0].1.hash, after.groups[0].1.hash);
    assert_eq!(before.groups[1].1.hash, after.groups[1].1.hash);
    assert_eq!(before.head.hash, after.head.hash);
}

#[test]
fn a_params_change_changes_the_hash() {
    let cluster = RayCluster::test("rc").with_group(group("a"));
    let before = build(&cluster);
    let mut changed = cluster.clone();
    changed.spec.worker_group_specs[0]
        .ray_start_params
        .insert("num-gpus".into(), "1".into());
    assert_ne!(before.groups[0].1.hash, build(&changed).groups[0].1.hash);
}

#[test]
fn workload_kind_follows_the_spec() {
    let cluster = RayCluster::test("rc")
        .with_autoscaling()
        .with_group(group("sts").with_kind(WorkloadKind::StatefulSet))
        .with_group(group("dep"));
    let desired = build(&cluster);
    let kinds: BTreeMap<_, _> = desired
        .groups
        .iter()
        .map(|(name, set)| (name.as_str(), set.objects[0].kind()))
        .collect();
    assert_eq!(kinds["sts"], Kind::StatefulSet);
    assert_eq!(kinds["dep"], Kind::Deployment);
}

#[test]
fn identity_and_flag_errors_surface() {
    let mut cluster = RayCluster::test("rc");
    cluster.metadata.uid = None;
    assert_eq!(
        desired_objects(&cluster, &BuildOptions::default()),
        Err(BuildError::MissingUid)
    );
    let cluster = RayCluster::test("rc").with_group(group("g").param("bad key", "1"));
    assert_eq!(
        desired_objects(&cluster, &BuildOptions::default()),
        Err(BuildError::UnsafeFlagName {
            group: "g".into(),
            key: "bad key".into()
        })
    );
}

#[test]
fn the_cluster_domain_reaches_every_address() {
    let options = BuildOptions {
        cluster_domain: "k8s.internal".into(),
        ..BuildOptions::default()
    };
    let desired = desired_objects(&RayCluster::test("rc").with_workers(1), &options).unwrap();
    let json = serde_json::to_string(&desired.groups[0].1.objects).unwrap();
    assert!(json.contains("rc-head-svc.default.svc.k8s.internal:6379"));
    assert!(!json.contains("cluster.local"));
}

fn ray_container_of(object: &Object) -> &k8s_openapi::api::core::v1::Container {
    let template = match object {
        Object::StatefulSet(s) => &s.spec.as_ref().unwrap().template,
        Object::Deployment(d) => &d.spec.as_ref().unwrap().template,
        other => panic!("not a workload: {other:?}"),
    };
    &template.spec.as_ref().unwrap().containers[0]
}

fn env_value<'a>(
    container: &'a k8s_openapi::api::core::v1::Container,
    name: &str,
) -> Option<&'a str> {
    container
        .env
        .iter()
        .flatten()
        .find(|e| e.name == name)
        .and_then(|e| e.value.as_deref())
}

#[test]
fn gcs_fault_tolerance_wires_redis_on_the_head_and_patience_on_workers() {
    let mut cluster = RayCluster::test("rc")
        .with_workers(1)
        .with_gcs_fault_tolerance("redis.ray:6379");
    if let Some(gcs) = cluster.spec.gcs_fault_tolerance_options.as_mut() {
        gcs.redis_password = Some(crate::crd::gcs::RedisCredential {
            value: Some("hunter2".into()),
            value_from: None,
        });
    }
    let desired = build(&cluster);
    let head = ray_container_of(&desired.head.objects[0]);
    assert_eq!(env_value(head, "RAY_REDIS_ADDRESS"), Some("redis.ray:6379"));
    assert_eq!(env_value(head, "REDIS_PASSWORD"), Some("hunter2"));
    assert_eq!(
        env_value(head, "RAY_external_storage_namespace"),
        Some("uid-rc")
    );
    let script = &head.args.as_ref().unwrap()[0];
    assert!(
        script.contains("--redis-password=\"${REDIS_PASSWORD}\""),
        "{script}"
    );
    assert!(
        !script.contains("hunter2"),
        "the password stays out of the command"
    );

    let worker = ray_container_of(&desired.groups[0].1.objects[0]);
    assert_eq!(
        env_value(worker, "RAY_gcs_rpc_server_reconnect_timeout_s"),
        Some("600")
    );
    assert_eq!(env_value(worker, "RAY_REDIS_ADDRESS"), None);
}

#[test]
fn user_env_wins_over_rayop_env() {
    let mut cluster = RayCluster::test("rc")
        .with_workers(1)
        .with_gcs_fault_tolerance("r:1");
    let group = &mut cluster.spec.worker_group_specs[0];
    let mut template = effective_worker_template(&crate::crd::RayClusterSpec::default(), group);
    template.spec.as_mut().unwrap().containers[0].env = Some(vec![
        crate::build::env::value("RAY_gcs_rpc_server_reconnect_timeout_s", "1200"),
        crate::build::env::value("RAY_ADDRESS", "elsewhere:6379"),
    ]);
    group.template = Some(template);
    let desired = build(&cluster);
    let worker = ray_container_of(&desired.groups[0].1.objects[0]);
    let env = worker.env.as_ref().unwrap();
    assert_eq!(
        env_value(worker, "RAY_gcs_rpc_server_reconnect_timeout_s"),
        Some("1200")
    );
    assert_eq!(env_value(worker, "RAY_ADDRESS"), Some("elsewhere:6379"));
    assert_eq!(env.iter().filter(|e| e.name == "RAY_ADDRESS").count(), 1);
    assert_eq!(env.last().map(|e| e.name.as_str()), Some("RAY_ADDRESS"));
}

#[test]
fn a_user_service_account_is_used_and_ours_not_created() {
    let mut cluster = seed();
    let mut template = crate::crd::effective_head_template(&cluster.spec);
    template.spec.as_mut().unwrap().service_account_name = Some("team-ray".into());
    cluster.spec.head_group_spec = Some(crate::crd::head::HeadGroupSpec {
        template: Some(template),
        ..Default::default()
    });
    let desired = build(&cluster);
    let kinds: Vec<_> = desired.head.objects.iter().map(Object::kind).collect();
    assert_eq!(
        kinds,
        [
            Kind::StatefulSet,
            Kind::Service,
            Kind::Role,
            Kind::RoleBinding
        ]
    );
    let Object::StatefulSet(sts) = &desired.head.objects[0] else {
        panic!("the head is a StatefulSet");
    };
    let pod = sts.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("team-ray"));
    let Object::RoleBinding(binding) = &desired.head.objects[3] else {
        panic!("not a RoleBinding");
    };
    assert_eq!(binding.subjects.as_ref().unwrap()[0].name, "team-ray");
}
