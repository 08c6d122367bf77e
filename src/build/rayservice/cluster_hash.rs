//! The hashes that tell how a RayService's goal differs from a cluster it
//! built: KubeRay's muted-copy hash of `rayClusterConfig`, the full hash,
//! the "compatible" hashes of the goal cut to fewer worker groups, and the
//! hash of `serveConfigV2`.
//!
//! - **Muted hash** ([`HASH_WITHOUT_REPLICAS_ANNOTATION`]): SHA-256 over the
//!   canonical JSON of a copy of `rayClusterConfig` with what others own
//!   muted: in every worker group `replicas`, `minReplicas`, `maxReplicas`
//!   and `scaleStrategy.workersToDelete` (the autoscaler's; a strategy left
//!   empty counts as none); `tolerations`
//!   and `schedulingGates` of the head and every worker template (Kueue
//!   injects them); the cluster's `upgradeStrategy` and `suspend`. Equal
//!   muted hashes: nothing to do.
//! - **Compatible hashes**: the muted hash of the goal cut to its first `N`
//!   worker groups, for every `N` below the goal's group count, in rising
//!   `N`. A cluster whose annotation equals the one for its own
//!   [`NUM_WORKER_GROUPS_ANNOTATION`] count only lacks appended groups and
//!   is updated in place.
//! - **Full hash** ([`CLUSTER_CONFIG_FULL_HASH_ANNOTATION`]): nothing muted,
//!   so a replicas-only edit is visible.
//! - **Serve config hash**: of `serveConfigV2`'s text; empty without one.
//!
//! Invariants: pure and deterministic: canonical JSON has every object's
//! keys sorted, whatever serde_json's map order; hex digests, not KubeRay's
//! base32 SHA-1 (a cluster KubeRay built hashes differently once, and is
//! then rolled to a new cluster).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::ServiceBuildError;
use crate::crd::{
    RayClusterSpec,
    names::{
        CLUSTER_CONFIG_FULL_HASH_ANNOTATION, HASH_WITHOUT_REPLICAS_ANNOTATION,
        NUM_WORKER_GROUPS_ANNOTATION,
    },
    rayservice::RayService,
    worker_group::ScaleStrategy,
};

/// The hashes of one RayService spec, as the RayService machine reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceHashes {
    /// Muted hash of `rayClusterConfig`.
    pub cluster_hash: String,
    /// Muted hashes of `rayClusterConfig` cut to its first `N` worker
    /// groups, for `N` from 0 below the group count.
    pub compatible_hashes: Vec<String>,
    /// Hash of the whole `rayClusterConfig`.
    pub full_hash: String,
    /// Hash of `serveConfigV2`, empty when it is empty.
    pub serve_config_hash: String,
    /// Worker groups in `rayClusterConfig`.
    pub worker_groups: usize,
}

impl ServiceHashes {
    /// The hashes of `service`'s spec.
    ///
    /// # Errors
    /// [`ServiceBuildError::Hash`] when the config cannot be written as JSON.
    pub fn of(service: &RayService) -> Result<Self, ServiceBuildError> {
        let config = &service.spec.ray_cluster_config;
        Ok(Self {
            cluster_hash: muted_hash(config)?,
            compatible_hashes: compatible_hashes(config)?,
            full_hash: full_hash(config)?,
            serve_config_hash: serve_config_hash(&service.spec.serve_config_v2),
            worker_groups: config.worker_group_specs.len(),
        })
    }

    /// The annotations a cluster built from this spec carries: the muted
    /// hash, the worker-group count and the full hash.
    #[must_use]
    pub fn annotations(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                HASH_WITHOUT_REPLICAS_ANNOTATION.to_owned(),
                self.cluster_hash.clone(),
            ),
            (
                NUM_WORKER_GROUPS_ANNOTATION.to_owned(),
                self.worker_groups.to_string(),
            ),
            (
                CLUSTER_CONFIG_FULL_HASH_ANNOTATION.to_owned(),
                self.full_hash.clone(),
            ),
        ])
    }
}

/// `config` with the fields others own cleared (see the module docs).
#[must_use]
pub fn muted(config: &RayClusterSpec) -> RayClusterSpec {
    let mut copy = config.clone();
    copy.upgrade_strategy = None;
    copy.suspend = None;
    if let Some(head) = copy.head_group_spec.as_mut() {
        mute_template(head.template.as_mut());
    }
    for group in &mut copy.worker_group_specs {
        group.replicas = 0;
        group.min_replicas = 0;
        group.max_replicas = 0;
        if let Some(scale) = group.scale_strategy.as_mut() {
            scale.workers_to_delete.clear();
        }
        // An emptied strategy hashes as an absent one.
        if group.scale_strategy.as_ref() == Some(&ScaleStrategy::default()) {
            group.scale_strategy = None;
        }
        mute_template(group.template.as_mut());
    }
    copy
}

fn mute_template(template: Option<&mut PodTemplateSpec>) {
    if let Some(pod) = template.and_then(|t| t.spec.as_mut()) {
        pod.tolerations = None;
        pod.scheduling_gates = None;
    }
}

/// The muted hash of `config`.
///
/// # Errors
/// [`ServiceBuildError::Hash`] when `config` cannot be written as JSON.
pub fn muted_hash(config: &RayClusterSpec) -> Result<String, ServiceBuildError> {
    hash_json(&muted(config))
}

/// The hash of all of `config`.
///
/// # Errors
/// [`ServiceBuildError::Hash`] when `config` cannot be written as JSON.
pub fn full_hash(config: &RayClusterSpec) -> Result<String, ServiceBuildError> {
    hash_json(config)
}

/// The muted hashes of `config` cut to its first `N` worker groups, for
/// every `N` below its group count, in rising `N`.
///
/// # Errors
/// [`ServiceBuildError::Hash`] when `config` cannot be written as JSON.
pub fn compatible_hashes(config: &RayClusterSpec) -> Result<Vec<String>, ServiceBuildError> {
    (0..config.worker_group_specs.len())
        .map(|n| {
            let mut cut = config.clone();
            cut.worker_group_specs.truncate(n);
            muted_hash(&cut)
        })
        .collect()
}

/// The hash of `serveConfigV2`'s text; empty for an empty config.
#[must_use]
pub fn serve_config_hash(config: &str) -> String {
    if config.is_empty() {
        return String::new();
    }
    hex(&Sha256::digest(config.as_bytes()))
}

/// SHA-256, in hex, of `value`'s canonical JSON.
fn hash_json<T: Serialize>(value: &T) -> Result<String, ServiceBuildError> {
    let json = serde_json::to_value(value).map_err(|e| ServiceBuildError::Hash(e.to_string()))?;
    let bytes =
        serde_json::to_vec(&canonical(json)).map_err(|e| ServiceBuildError::Hash(e.to_string()))?;
    Ok(hex(&Sha256::digest(&bytes)))
}

/// `value` with every object's keys in sorted order.
fn canonical(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<String, Value> =
                map.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().collect::<Map<String, Value>>())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{defaults, upgrade::UpgradeStrategy};
    use k8s_openapi::api::core::v1::{PodSchedulingGate, Toleration};

    fn service() -> RayService {
        RayService::test("rs").with_workers(2)
    }

    fn hashes(rs: &RayService) -> ServiceHashes {
        ServiceHashes::of(rs).unwrap()
    }

    fn template_of(rs: &mut RayService, group: Option<usize>) -> &mut PodTemplateSpec {
        let config = &mut rs.spec.ray_cluster_config;
        match group {
            None => config
                .head_group_spec
                .get_or_insert_with(Default::default)
                .template
                .get_or_insert_with(defaults::default_head_template),
            Some(i) => config.worker_group_specs[i]
                .template
                .get_or_insert_with(defaults::default_worker_template),
        }
    }

    #[test]
    fn hashes_are_deterministic_hex() {
        let a = hashes(&service());
        assert_eq!(a, hashes(&service()));
        for h in [&a.cluster_hash, &a.full_hash, &a.serve_config_hash] {
            assert_eq!(h.len(), 64);
            assert!(h.chars().all(|c| c.is_ascii_hexdigit()), "{h}");
        }
        assert_ne!(
            a.cluster_hash, a.full_hash,
            "replicas are in the full hash only"
        );
    }

    #[test]
    fn muted_fields_change_only_the_full_hash() {
        let mut rs = service();
        // Templates given, so only the muted fields differ below.
        template_of(&mut rs, None);
        template_of(&mut rs, Some(0));
        let before = hashes(&rs);
        {
            let config = &mut rs.spec.ray_cluster_config;
            let group = &mut config.worker_group_specs[0];
            assert_ne!((group.replicas, group.max_replicas), (5, 9));
            group.replicas = 5;
            group.min_replicas = 3;
            group.max_replicas = 9;
            group.scale_strategy = Some(ScaleStrategy {
                workers_to_delete: vec!["rs-0-small-1".into()],
            });
            config.suspend = Some(true);
            config.upgrade_strategy = Some(UpgradeStrategy::default());
        }
        for group in [None, Some(0)] {
            let pod = template_of(&mut rs, group)
                .spec
                .get_or_insert_with(Default::default);
            pod.tolerations = Some(vec![Toleration {
                key: Some("kueue".into()),
                ..Toleration::default()
            }]);
            pod.scheduling_gates = Some(vec![PodSchedulingGate {
                name: "kueue.x-k8s.io/admission".into(),
            }]);
        }
        let after = hashes(&rs);
        assert_eq!(after.cluster_hash, before.cluster_hash);
        assert_ne!(after.full_hash, before.full_hash);
    }

    #[test]
    fn other_fields_change_the_muted_hash() {
        let before = hashes(&service());
        let mut rs = service();
        rs.spec.ray_cluster_config.ray_version = "2.99.0".into();
        assert_ne!(hashes(&rs).cluster_hash, before.cluster_hash);

        let mut rs = service();
        template_of(&mut rs, Some(0))
            .spec
            .get_or_insert_with(Default::default)
            .node_selector = Some([("pool".to_owned(), "gpu".to_owned())].into());
        assert_ne!(hashes(&rs).cluster_hash, before.cluster_hash);
    }

    #[test]
    fn the_serve_config_is_hashed_apart() {
        let before = hashes(&service());
        let rs = service().with_serve_config("applications: []\n");
        let after = hashes(&rs);
        assert_eq!(after.cluster_hash, before.cluster_hash);
        assert_eq!(after.full_hash, before.full_hash);
        assert_ne!(after.serve_config_hash, before.serve_config_hash);
        assert_eq!(serve_config_hash(""), "");
    }

    #[test]
    fn compatible_hashes_are_the_goal_cut_to_fewer_groups() {
        let one_group = hashes(&service());
        assert_eq!(one_group.worker_groups, 1);

        let mut rs = service();
        let mut extra = rs.spec.ray_cluster_config.worker_group_specs[0].clone();
        extra.group_name = "extra".into();
        extra.replicas = 5;
        rs.spec.ray_cluster_config.worker_group_specs.push(extra);
        let two_groups = hashes(&rs);
        assert_eq!(two_groups.worker_groups, 2);
        assert_eq!(two_groups.compatible_hashes.len(), 2);
        // The cluster built with the first group only is compatible at N = 1.
        assert_eq!(two_groups.compatible_hashes[1], one_group.cluster_hash);
        assert_ne!(two_groups.cluster_hash, one_group.cluster_hash);
        // N = 0 is the config without workers.
        let mut none = service();
        none.spec.ray_cluster_config.worker_group_specs.clear();
        assert_eq!(two_groups.compatible_hashes[0], hashes(&none).cluster_hash);
        assert!(hashes(&none).compatible_hashes.is_empty());
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let mut inner = Map::new();
        inner.insert("z".into(), Value::from(1));
        inner.insert("a".into(), Value::from(2));
        let mut outer = Map::new();
        outer.insert("y".into(), Value::Array(vec![Value::Object(inner)]));
        outer.insert("b".into(), Value::Null);
        let text = serde_json::to_string(&canonical(Value::Object(outer))).unwrap();
        assert_eq!(text, r#"{"b":null,"y":[{"a":2,"z":1}]}"#);
    }

    #[test]
    fn annotations_carry_the_hashes_and_the_group_count() {
        let h = hashes(&service());
        let a = h.annotations();
        assert_eq!(a[HASH_WITHOUT_REPLICAS_ANNOTATION], h.cluster_hash);
        assert_eq!(a[NUM_WORKER_GROUPS_ANNOTATION], "1");
        assert_eq!(a[CLUSTER_CONFIG_FULL_HASH_ANNOTATION], h.full_hash);
    }
}
