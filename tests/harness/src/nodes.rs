//! The fake Nodes kwok plays: a few nodes with room for thousands of pods.
//!
//! They carry kwok's `kwok.x-k8s.io/node: fake` annotation and a `type: kwok`
//! label, and no taints, so any pod schedules onto them. kwok (started
//! with an annotation selector on it) makes them Ready and keeps their
//! heartbeat; it leaves other nodes (the process node) alone.
//!
//! Two sorts, so that manifests written for real clouds schedule too:
//! - [`NODE_COUNT`] general nodes with CPU, memory, ephemeral storage and
//!   `nvidia.com/gpu` to spare, labelled as GKE labels nodes with Workload
//!   Identity and writable cgroups (the selectors of KubeRay's GKE samples);
//! - one TPU node per [`TPU_SLICES`] entry, with `google.com/tpu` and the GKE
//!   TPU labels `cloud.google.com/gke-tpu-accelerator` and
//!   `cloud.google.com/gke-tpu-topology` that TPU worker groups select.

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Node;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Map, Value, json};

/// How many general fake nodes a plane has.
pub const NODE_COUNT: usize = 3;
/// Pods each fake node accepts (`status.capacity.pods`), far above kubelet's default 110.
pub const PODS_PER_NODE: u32 = 1000;
/// CPU each general fake node offers, in cores: enough that requests never block scheduling.
pub const CPU_PER_NODE: &str = "1000";
/// Memory each general fake node offers: enough that requests never block scheduling.
pub const MEMORY_PER_NODE: &str = "4Ti";
/// Ephemeral storage each fake node offers.
pub const EPHEMERAL_STORAGE_PER_NODE: &str = "100Ti";
/// `nvidia.com/gpu` each general fake node offers.
pub const GPUS_PER_NODE: &str = "1000";
/// Labels every general node carries: GKE's Workload Identity and
/// writable-cgroups node labels, as KubeRay's GKE samples select them.
pub const GENERAL_NODE_LABELS: [(&str, &str); 2] = [
    ("iam.gke.io/gke-metadata-server-enabled", "true"),
    ("node.gke.io/enable-writable-cgroups", "true"),
];
/// The TPU slices with a node each: (`gke-tpu-accelerator`, `gke-tpu-topology`).
pub const TPU_SLICES: [(&str, &str); 5] = [
    ("tpu-v4-podslice", "2x2x1"),
    ("tpu-v4-podslice", "2x2x2"),
    ("tpu-v6e-slice", "2x2"),
    ("tpu-v6e-slice", "4x4"),
    ("tpu-v6e-slice", "16x16"),
];
/// `google.com/tpu` each TPU node offers: a whole 16x16 slice's hosts fit on one node.
pub const TPUS_PER_NODE: &str = "10000";
/// CPU of a TPU node: 64 hosts of 24 cores, twice over.
pub const CPU_PER_TPU_NODE: &str = "10000";
/// Memory of a TPU node: 64 hosts of 200G, twice over.
pub const MEMORY_PER_TPU_NODE: &str = "100Ti";

/// The name of general fake node `i`.
pub fn node_name(i: usize) -> String {
    format!("kwok-node-{i}")
}

/// The name of the TPU node of [`TPU_SLICES`] entry `i`.
pub fn tpu_node_name(i: usize) -> String {
    format!("kwok-tpu-node-{i}")
}

/// One node to create: its name, extra labels and capacity.
struct NodeShape {
    name: String,
    labels: Vec<(&'static str, &'static str)>,
    capacity: Value,
}

fn shapes() -> Vec<NodeShape> {
    let general = (0..NODE_COUNT).map(|i| NodeShape {
        name: node_name(i),
        labels: GENERAL_NODE_LABELS.to_vec(),
        capacity: json!({
            "cpu": CPU_PER_NODE,
            "memory": MEMORY_PER_NODE,
            "ephemeral-storage": EPHEMERAL_STORAGE_PER_NODE,
            "nvidia.com/gpu": GPUS_PER_NODE,
            "pods": PODS_PER_NODE.to_string(),
        }),
    });
    let tpu = TPU_SLICES
        .iter()
        .enumerate()
        .map(|(i, (accelerator, topology))| NodeShape {
            name: tpu_node_name(i),
            labels: vec![
                ("cloud.google.com/gke-tpu-accelerator", accelerator),
                ("cloud.google.com/gke-tpu-topology", topology),
            ],
            capacity: json!({
                "cpu": CPU_PER_TPU_NODE,
                "memory": MEMORY_PER_TPU_NODE,
                "ephemeral-storage": EPHEMERAL_STORAGE_PER_NODE,
                "google.com/tpu": TPUS_PER_NODE,
                "pods": PODS_PER_NODE.to_string(),
            }),
        });
    general.chain(tpu).collect()
}

/// Creates the fake nodes (those that already exist are left alone, then
/// given the expected capacity).
pub async fn create_fake_nodes(client: &Client) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    for shape in shapes() {
        let name = shape.name;
        let mut labels = Map::new();
        for (k, v) in [
            ("type", "kwok"),
            ("kubernetes.io/hostname", name.as_str()),
            ("kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", "amd64"),
            ("node-role.kubernetes.io/agent", ""),
        ]
        .into_iter()
        .chain(shape.labels)
        {
            labels.insert(k.to_owned(), Value::from(v));
        }
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {
                    "kwok.x-k8s.io/node": "fake",
                    "node.alpha.kubernetes.io/ttl": "0",
                },
                "labels": labels,
            },
        }))?;
        match nodes.create(&PostParams::default(), &node).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e).with_context(|| format!("creating node {name}")),
        }
        let capacity = shape.capacity;
        nodes
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({
                    "status": { "capacity": capacity, "allocatable": capacity }
                })),
            )
            .await
            .with_context(|| format!("setting the capacity of node {name}"))?;
    }
    Ok(())
}
