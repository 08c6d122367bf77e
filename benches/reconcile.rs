//! Micro-benchmarks of the pure reconcile steps, for a cluster of 10 worker
//! groups (3 workers each, so 31 pods and 22 objects):
//!
//! - `build/desired_objects`: the spec becomes the desired, hash-stamped objects;
//! - `observe`: a fake [`Live`] holding exactly that cluster's objects and
//!   Ready pods becomes an `Observation`;
//! - `observe/scan_4000_pods`: the same, but `pods()` filters a cache of
//!   4,000 pods by namespace and cluster label, as the watch cache's
//!   `state_filter` does on every reconcile (see `src/controller/caches.rs`);
//! - `decide/pending_to_ready` and `decide/ready_steady`: the machine's step
//!   for a converged cluster, first seen and already Ready.
//!
//! `cargo bench --bench reconcile` (short measurement times: 10 samples, 2 s).

// criterion_group!/criterion_main! generate undocumented public items.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use k8s_openapi::api::core::v1::Pod;
use rayop::build::{BuildOptions, desired_objects};
use rayop::crd::RayCluster;
use rayop::crd::names::SPEC_HASH_ANNOTATION;
use rayop::crd::names::head_pod_name;
use rayop::crd::test_builders::{TEST_NAMESPACE, group};
use rayop::decide::{decide, desired_spec, observed};
use rayop::desired::{DesiredObjects, ObjectKey};
use rayop::{
    crd::names::{
        LABEL_CLUSTER as CLUSTER_LABEL, LABEL_GROUP as GROUP_LABEL,
        LABEL_NODE_TYPE as NODE_TYPE_LABEL,
    },
    observe::{Live, observe},
    owned::LiveObject,
};
use rayop_machines::{ClusterMachine, Millis};
use serde_json::json;

const GROUPS: usize = 10;
const WORKERS: i32 = 3;

fn cluster() -> RayCluster {
    (0..GROUPS).fold(RayCluster::test("bench"), |c, i| {
        c.with_group(group(&format!("g{i}")).with_replicas(WORKERS).bounds(0, 10))
    })
}

fn pod(cluster: &str, name: &str, node_type: &str, group: &str) -> Arc<Pod> {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {
            "name": name, "namespace": TEST_NAMESPACE, "uid": format!("uid-{name}"),
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {CLUSTER_LABEL: cluster, NODE_TYPE_LABEL: node_type, GROUP_LABEL: group},
        },
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }))
    .unwrap_or_default();
    Arc::new(pod)
}

/// The cluster's pods, then `others` pods of other clusters.
fn pods(name: &str, others: usize) -> Vec<Arc<Pod>> {
    let mut out = vec![pod(name, &head_pod_name(name), "head", "headgroup")];
    for g in 0..GROUPS {
        for w in 0..WORKERS {
            out.push(pod(
                name,
                &format!("{name}-g{g}-{w}"),
                "worker",
                &format!("g{g}"),
            ));
        }
    }
    for i in 0..others {
        out.push(pod(
            &format!("other-{}", i / 4),
            &format!("other-{i}"),
            "worker",
            "g",
        ));
    }
    out
}

/// A converged cache: every desired object present with its hash.
struct FakeLive {
    objects: BTreeMap<ObjectKey, LiveObject>,
    pods: Vec<Arc<Pod>>,
    cluster: String,
}

impl FakeLive {
    fn new(desired: &DesiredObjects, name: &str, other_pods: usize) -> Self {
        let mut objects = BTreeMap::new();
        let sets = std::iter::once(&desired.head).chain(desired.groups.iter().map(|(_, s)| s));
        for set in sets {
            for o in &set.objects {
                let hash = o
                    .meta()
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(SPEC_HASH_ANNOTATION))
                    .cloned();
                let replicas = o.is_workload().then_some(if set.hash == desired.head.hash {
                    1
                } else {
                    WORKERS
                });
                objects.insert(
                    o.key(),
                    LiveObject {
                        hash,
                        replicas,
                        rolled_out: true,
                        on_delete_revision: None,
                        owners: None,
                        headless: o.headless(),
                    },
                );
            }
        }
        FakeLive {
            objects,
            pods: pods(name, other_pods),
            cluster: name.to_owned(),
        }
    }
}

impl Live for FakeLive {
    fn object(&self, key: &ObjectKey) -> Option<LiveObject> {
        self.objects.get(key).cloned()
    }
    fn pods(&self) -> Vec<Arc<Pod>> {
        self.pods
            .iter()
            .filter(|p| {
                p.metadata.namespace.as_deref() == Some(TEST_NAMESPACE)
                    && p.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(CLUSTER_LABEL))
                        .map(String::as_str)
                        == Some(self.cluster.as_str())
            })
            .cloned()
            .collect()
    }
    fn workload_groups(&self) -> BTreeMap<String, LiveObject> {
        BTreeMap::new()
    }
}

fn benches(c: &mut Criterion) {
    let rc = cluster();
    let options = BuildOptions::default();
    let Ok(desired) = desired_objects(&rc, &options) else {
        eprintln!("the bench cluster does not build");
        return;
    };
    let head = head_pod_name("bench");
    c.bench_function("build/desired_objects/10_groups", |b| {
        b.iter(|| desired_objects(black_box(&rc), black_box(&options)))
    });
    let live = FakeLive::new(&desired, "bench", 0);
    c.bench_function("observe/10_groups", |b| {
        b.iter(|| observe(black_box(&desired), &head, black_box(&live)))
    });
    let crowded = FakeLive::new(&desired, "bench", 4000);
    c.bench_function("observe/10_groups/scan_4000_pods", |b| {
        b.iter(|| observe(black_box(&desired), &head, black_box(&crowded)))
    });
    let event = || {
        observed(
            Millis(1_000),
            desired_spec(&rc, Some(&desired), &[], None),
            observe(&desired, &head, &live),
        )
    };
    let first = event();
    c.bench_function("decide/pending_to_ready", |b| {
        b.iter_batched(
            ClusterMachine::new,
            |mut m| decide(&mut m, black_box(&first)),
            BatchSize::SmallInput,
        )
    });
    let mut ready = ClusterMachine::new();
    let _ = decide(&mut ready, &first);
    let again = observed(
        Millis(2_000),
        desired_spec(&rc, Some(&desired), &[], None),
        observe(&desired, &head, &live),
    );
    c.bench_function("decide/ready_steady", |b| {
        b.iter_batched(
            || ready.clone(),
            |mut m| decide(&mut m, black_box(&again)),
            BatchSize::SmallInput,
        )
    });
    c.bench_function("observe_and_decide/ready_steady", |b| {
        b.iter_batched(
            || ready.clone(),
            |mut m| {
                let world = observe(&desired, &head, &live);
                let e = observed(
                    Millis(2_000),
                    desired_spec(&rc, Some(&desired), &[], None),
                    world,
                );
                decide(&mut m, &e)
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group! {
    name = reconcile;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(reconcile);
