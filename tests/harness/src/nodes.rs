//! The fake Nodes kwok plays: a few nodes with room for thousands of pods.
//!
//! They carry kwok's `kwok.x-k8s.io/node: fake` annotation and a `type: kwok`
//! label, and no taints, so any pod schedules onto them. kwok (started with
//! `--manage-all-nodes`) makes them Ready and keeps their heartbeat.

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Node;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

/// How many fake nodes a plane has.
pub const NODE_COUNT: usize = 3;
/// Pods each fake node accepts (`status.capacity.pods`), far above kubelet's default 110.
pub const PODS_PER_NODE: u32 = 1000;
/// CPU each fake node offers, in cores: enough that requests never block scheduling.
pub const CPU_PER_NODE: &str = "1000";
/// Memory each fake node offers: enough that requests never block scheduling.
pub const MEMORY_PER_NODE: &str = "4Ti";

/// The name of fake node `i`.
pub fn node_name(i: usize) -> String {
    format!("kwok-node-{i}")
}

/// Creates the fake nodes (those that already exist are left alone, then
/// given the expected capacity).
pub async fn create_fake_nodes(client: &Client) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    for i in 0..NODE_COUNT {
        let name = node_name(i);
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {
                    "kwok.x-k8s.io/node": "fake",
                    "node.alpha.kubernetes.io/ttl": "0",
                },
                "labels": {
                    "type": "kwok",
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "node-role.kubernetes.io/agent": "",
                },
            },
        }))?;
        match nodes.create(&PostParams::default(), &node).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e).with_context(|| format!("creating node {name}")),
        }
        let capacity = json!({
            "cpu": CPU_PER_NODE,
            "memory": MEMORY_PER_NODE,
            "pods": PODS_PER_NODE.to_string(),
        });
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
