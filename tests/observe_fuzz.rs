//! Fuzzing the operator's input side with arbitrary and malformed objects.
//!
//! Real objects (the seed and KubeRay manifests, a Pod, a StatefulSet, a
//! Deployment) are mutated at random: fields deleted, replaced by null, by
//! values of the wrong type, by absurd numbers (`i64::MAX`, `-1`, `1e308`),
//! by unicode and shell syntax, unknown fields added, status removed. Then:
//!
//! - `reconcile::decode` gets each RayCluster as the lenient watch object;
//!   what decodes goes on through `validate`, `build::desired_objects`,
//!   `decide::desired_spec` and one machine step;
//! - `observe::pods::pod_view` gets each Pod that still deserializes, and the
//!   rollout checks each StatefulSet and Deployment;
//! - `observe::observe` gets a fake `Live` holding those pods and random
//!   live objects (absent, no hash, absurd replicas) for the desired keys.
//!
//! None of it may panic, and observe must stay deterministic (same input,
//! same observation). Seeds are fixed; `RAYOP_FUZZ_CASES=<n>` sets the count.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{collections::BTreeMap, path::Path, sync::Arc, time::Instant};

use k8s_openapi::api::{
    apps::v1::{Deployment, StatefulSet},
    core::v1::Pod,
};
use kube::api::DynamicObject;
use rayop::{
    build::{BuildOptions, desired_objects},
    controller::reconcile::decode,
    crd::validate,
    decide,
    desired::{DesiredObjects, ObjectKey},
    observe::{Live, observe, pods::pod_view},
    owned::{
        LiveObject,
        rollout::{deployment_rolled_out, statefulset_rolled_out},
    },
};
use rayop_machines::{ClusterMachine, Millis};
use serde::Deserialize;
use serde_json::{Value, json};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n as u64)).unwrap()
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// A hostile value: wrong types, absurd numbers, odd strings.
fn junk(rng: &mut Rng) -> Value {
    match rng.below(18) {
        0 => Value::Null,
        1 => json!(i64::MAX),
        2 => json!(i64::MIN),
        3 => json!(-1),
        4 => json!(99_999_999_999_i64),
        5 => json!(1e308),
        6 => json!(0.5),
        7 => json!(true),
        8 => json!(""),
        9 => json!("$(rm -rf /); `id`\n"),
        10 => json!("ワーカー-グループ-🚀"),
        11 => json!("x".repeat(300)),
        12 => json!({}),
        13 => json!([]),
        14 => json!([null, 1, "a"]),
        15 => json!({"unknownField": {"deep": [1, 2, {"x": null}]}}),
        16 => json!("2147483648"),
        _ => json!(u64::MAX),
    }
}

/// Mutates `value` in place: a few random edits at random depths.
fn mutate(rng: &mut Rng, value: &mut Value, depth: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = &keys[rng.below(keys.len())];
            match rng.below(10) {
                0 => {
                    map.remove(key);
                }
                1 => {
                    map.insert(format!("unknown{}", rng.below(100)), junk(rng));
                }
                2 | 3 => {
                    map.insert(key.clone(), junk(rng));
                }
                _ if depth < 12 => mutate(rng, map.get_mut(key).unwrap(), depth + 1),
                _ => {
                    map.insert(key.clone(), junk(rng));
                }
            }
        }
        Value::Array(items) if !items.is_empty() => match rng.below(6) {
            0 => {
                let i = rng.below(items.len());
                items.remove(i);
            }
            1 => {
                let i = rng.below(items.len());
                let copy = items[i].clone();
                items.push(copy);
            }
            2 => items.push(junk(rng)),
            _ => {
                let i = rng.below(items.len());
                mutate(rng, &mut items[i], depth + 1);
            }
        },
        _ => *value = junk(rng),
    }
}

fn mutated(rng: &mut Rng, base: &Value) -> Value {
    let mut v = base.clone();
    for _ in 0..1 + rng.below(4) {
        mutate(rng, &mut v, 0);
    }
    v
}

fn fixture(path: &str) -> Value {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(path),
    )
    .unwrap();
    let doc = serde_yaml::Deserializer::from_str(&text).next().unwrap();
    let mut v = Value::deserialize(doc).unwrap();
    v["metadata"]["namespace"] = json!("fuzz");
    v["metadata"]["uid"] = json!("0000-uid");
    v["metadata"]["generation"] = json!(3);
    v
}

fn pod_json() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "c-small-0",
            "namespace": "fuzz",
            "uid": "pod-uid",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"ray.io/cluster": "c", "ray.io/node-type": "worker", "ray.io/group": "small"},
            "annotations": {"controller.kubernetes.io/pod-deletion-cost": "-2147483648"}
        },
        "spec": {"containers": [{"name": "ray-worker", "image": "rayproject/ray"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{
                "name": "ray-worker", "ready": true, "restartCount": 2, "image": "i", "imageID": ""
            }]
        }
    })
}

fn head_pod_json() -> Value {
    let mut p = pod_json();
    p["metadata"]["name"] = json!("c-head-0");
    p["metadata"]["labels"] =
        json!({"ray.io/cluster": "c", "ray.io/node-type": "head", "ray.io/group": "headgroup"});
    p
}

fn statefulset_json() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "c-small", "generation": 4},
        "spec": {"replicas": 2, "serviceName": "s", "selector": {}, "template": {}},
        "status": {
            "replicas": 2, "observedGeneration": 4, "updatedReplicas": 2,
            "currentRevision": "r1", "updateRevision": "r1", "readyReplicas": 2
        }
    })
}

fn deployment_json() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "c-small", "generation": 4},
        "spec": {"replicas": 2, "selector": {}, "template": {}},
        "status": {"replicas": 2, "observedGeneration": 4, "updatedReplicas": 2}
    })
}

struct FakeLive {
    objects: BTreeMap<ObjectKey, LiveObject>,
    pods: Vec<Arc<Pod>>,
    workloads: BTreeMap<String, LiveObject>,
}

impl Live for FakeLive {
    fn object(&self, key: &ObjectKey) -> Option<LiveObject> {
        self.objects.get(key).cloned()
    }
    fn pods(&self) -> Vec<Arc<Pod>> {
        self.pods.clone()
    }
    fn workload_groups(&self) -> BTreeMap<String, LiveObject> {
        self.workloads.clone()
    }
}

fn random_live(rng: &mut Rng) -> LiveObject {
    LiveObject {
        hash: match rng.below(4) {
            0 => None,
            1 => Some(String::new()),
            2 => Some("🚀".repeat(rng.below(10))),
            _ => Some(format!("{:x}", rng.next())),
        },
        replicas: match rng.below(6) {
            0 => None,
            1 => Some(i32::MAX),
            2 => Some(i32::MIN),
            3 => Some(-1),
            _ => Some(i32::try_from(rng.below(5)).unwrap()),
        },
        rolled_out: rng.chance(50),
        on_delete_revision: None,
        owners: rayop::owned::drift::FieldOwners::of(&random_managed_fields(rng)),
        headless: match rng.below(3) {
            0 => None,
            1 => Some(true),
            _ => Some(false),
        },
    }
}

/// Managed fields as hand edits and junk leave them: other writers' sets
/// of every shape, well-formed or not.
fn random_managed_fields(
    rng: &mut Rng,
) -> Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry> {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};
    let shapes = [
        serde_json::json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"ray-head\"}": {"f:image": {}}}}}}}),
        serde_json::json!({"f:spec": {"f:selector": {}}}),
        serde_json::json!({"f:rules": {}}),
        serde_json::json!({"f:metadata": {"f:labels": {"f:ray.io/cluster": {}}}}),
        serde_json::json!({"k:{broken": {"i:x": {}}, "v:[": {}, "f:spec": 3}),
        serde_json::json!("not a set"),
    ];
    (0..rng.below(3))
        .map(|_| ManagedFieldsEntry {
            manager: Some(["rayop", "kubectl-set", "kubectl-edit"][rng.below(3)].into()),
            operation: Some(["Apply", "Update"][rng.below(2)].into()),
            subresource: rng.chance(20).then(|| "status".to_owned()),
            fields_v1: Some(FieldsV1(shapes[rng.below(shapes.len())].clone())),
            ..ManagedFieldsEntry::default()
        })
        .collect()
}

fn cases() -> usize {
    std::env::var("RAYOP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

#[test]
fn malformed_rayclusters_never_panic_decode_build_or_decide() {
    let bases = [
        fixture("seed-raycluster.yaml"),
        fixture("kuberay/complete.yaml"),
        fixture("kuberay/autoscaler.yaml"),
        fixture("kuberay/gcs-fault-tolerance.yaml"),
    ];
    let mut rng = Rng(0x5EED);
    let started = Instant::now();
    let (mut decoded, mut valid, mut built) = (0, 0, 0);
    let n = cases();
    for i in 0..n {
        let base = &bases[i % bases.len()];
        let value = mutated(&mut rng, base);
        // The watch hands over a DynamicObject; anything that is not even
        // that never reaches decode.
        let Ok(obj) = serde_json::from_value::<DynamicObject>(value.clone()) else {
            continue;
        };
        let Ok(cluster) = decode(&obj) else {
            continue;
        };
        decoded += 1;
        valid += usize::from(validate(&cluster).is_ok());
        let desired = desired_objects(&cluster, &BuildOptions::default()).ok();
        built += usize::from(desired.is_some());
        let spec = decide::desired_spec(&cluster, desired.as_ref(), &[], None);
        let mut machine = ClusterMachine::new();
        let event = decide::observed(Millis(1), spec, rayop_machines::Observation::default());
        let _ = decide::decide(&mut machine, &event);
    }
    eprintln!(
        "raycluster fuzz: {n} cases, {decoded} decoded, {valid} valid, {built} built, in {:.1?}",
        started.elapsed()
    );
    // The mutations must leave enough decodable objects to reach build and
    // decide, and break enough to exercise the refusals.
    assert!(decoded * 5 > n, "only {decoded} of {n} decoded");
    assert!(decoded < n, "no mutation broke decoding");
    assert!(built > 0 && valid < decoded);
}

#[test]
fn malformed_pods_and_workloads_never_panic_observe() {
    let cluster: rayop::crd::RayCluster =
        serde_json::from_value(fixture("kuberay/complete.yaml")).unwrap();
    let desired: DesiredObjects = desired_objects(&cluster, &BuildOptions::default()).unwrap();
    let keys: Vec<ObjectKey> = desired
        .head
        .keys()
        .into_iter()
        .chain(desired.groups.iter().flat_map(|(_, set)| set.keys()))
        .collect();
    let head_name = format!("{}-head-0", cluster.metadata.name.clone().unwrap());
    let (pod, head_pod, sts, deploy) = (
        pod_json(),
        head_pod_json(),
        statefulset_json(),
        deployment_json(),
    );
    let mut rng = Rng(0xBAD_F00D);
    let started = Instant::now();
    let (mut pods_seen, mut workloads_seen) = (0, 0);
    let n = cases();
    for _ in 0..n {
        let mut pods = Vec::new();
        for _ in 0..rng.below(6) {
            let base = if rng.chance(30) { &head_pod } else { &pod };
            let mut v = mutated(&mut rng, base);
            if rng.chance(20) {
                v.as_object_mut().unwrap().remove("status");
            }
            if let Ok(p) = serde_json::from_value::<Pod>(v) {
                let _ = pod_view(&p);
                pods_seen += 1;
                pods.push(Arc::new(p));
            }
        }
        if let Ok(s) = serde_json::from_value::<StatefulSet>(mutated(&mut rng, &sts)) {
            let _ = statefulset_rolled_out(&s);
            workloads_seen += 1;
        }
        if let Ok(d) = serde_json::from_value::<Deployment>(mutated(&mut rng, &deploy)) {
            let _ = deployment_rolled_out(&d);
            workloads_seen += 1;
        }
        let mut objects = BTreeMap::new();
        for k in &keys {
            if rng.chance(70) {
                objects.insert(k.clone(), random_live(&mut rng));
            }
        }
        let live = FakeLive {
            objects,
            pods,
            workloads: (0..rng.below(3))
                .map(|i| (format!("gone-{i}"), random_live(&mut rng)))
                .collect(),
        };
        let first = observe(&desired, &head_name, &live);
        let second = observe(&desired, &head_name, &live);
        assert_eq!(first, second, "observe is not deterministic");
    }
    eprintln!(
        "observe fuzz: {n} cases, {pods_seen} pods, {workloads_seen} workloads, in {:.1?}",
        started.elapsed()
    );
    assert!(pods_seen > n / 4 && workloads_seen > n / 4);
}
