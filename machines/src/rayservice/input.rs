//! What a RayService machine is fed: one observation per reconcile (a
//! summary of the spec and of the world), a due timer, a failed command, or
//! deletion.
//!
//! Invariants: clusters are named by an index the machine hands out
//! (`<rayservice>-<index>`, rendered by the operator), and the world lists
//! every RayCluster labelled as originating from this RayService by that
//! index, so a leftover of an earlier generation is never mistaken for the
//! current one. Hashes are computed by the operator; the machine only
//! compares them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use super::app_status::AppStatus;
use super::command::ServiceCommandKind;
use crate::SpecProblem;

/// One input to a RayService machine; the moment is the event's `at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceInput {
    /// The spec and the world, read in one reconcile.
    Observed {
        /// The spec, summarized.
        spec: ServiceSpec,
        /// The clusters, Services, route and dashboards.
        world: ServiceWorld,
    },
    /// A timer set by an earlier `WakeAt` came due.
    Tick,
    /// A command issued earlier failed.
    CommandFailed {
        /// The failed command's kind.
        command: ServiceCommandKind,
        /// A short CamelCase reason.
        reason: String,
        /// The error as reported.
        message: String,
    },
    /// The RayService is being deleted (or is gone).
    Deleted,
}

/// How cluster-spec changes are rolled out (`spec.upgradeStrategy`), as the
/// operator resolved it (an unset type and `ENABLE_ZERO_DOWNTIME`, the
/// incremental feature gate and whether the Gateway API is served).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Strategy {
    /// `NewCluster`: blue/green, one switch of the Services.
    #[default]
    NewCluster,
    /// `NewClusterWithIncrementalUpgrade`: traffic moves through the
    /// HTTPRoute's weights step by step.
    Incremental(IncrementalOptions),
    /// `None`: a cluster-spec change that cannot be applied in place is
    /// ignored.
    None,
}

/// `upgradeStrategy.clusterUpgradeOptions`, validated (0–100,
/// `step ≤ max_surge`, interval > 0).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncrementalOptions {
    /// `maxSurgePercent`: target capacity moved per step.
    pub max_surge_percent: u8,
    /// `stepSizePercent`: route weight moved per interval.
    pub step_size_percent: u8,
    /// `intervalSeconds`: the least time between two weight steps.
    pub interval_seconds: u32,
}

/// The spec of one RayService, summarized for the machine.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// `metadata.generation`.
    pub generation: i64,
    /// Hash of `rayClusterConfig` without the replica-only fields (KubeRay's
    /// muted copy): a change of it needs a new cluster.
    pub cluster_hash: String,
    /// Hashes under which an existing cluster can still be brought to this
    /// spec in place (the spec truncated to an existing cluster's worker
    /// groups, when groups were only appended).
    pub compatible_hashes: Vec<String>,
    /// Hash of the whole `rayClusterConfig`: a change of it alone (replicas)
    /// updates the cluster in place.
    pub full_hash: String,
    /// Hash of `serveConfigV2`, empty when there is none.
    pub serve_config_hash: String,
    /// `upgradeStrategy`, resolved.
    pub strategy: Strategy,
    /// `rayClusterDeletionDelaySeconds` (60 when unset).
    pub deletion_delay_seconds: u32,
    /// `spec.suspend`.
    pub suspend: bool,
    /// `excludeHeadPodFromServeSvc`.
    pub exclude_head_from_serve_svc: bool,
    /// Validation failures, empty when the spec is valid.
    pub problems: Vec<SpecProblem>,
}

/// What a cluster's dashboard said about Serve.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ServeView {
    /// Not asked (the head is not ready) or no answer.
    #[default]
    Unknown,
    /// The applications by name (`default` for `""`); empty when Serve has
    /// none.
    Apps(BTreeMap<String, AppStatus>),
}

/// One RayCluster of this RayService.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClusterView {
    /// The index in its name.
    pub index: u32,
    /// Its `ray.io/hash-without-replicas-and-workers-to-delete` annotation.
    pub cluster_hash: String,
    /// Its full-spec hash annotation.
    pub full_hash: String,
    /// It has a deletion timestamp.
    pub terminating: bool,
    /// The RayCluster's `HeadPodReady` condition is True.
    pub head_ready: bool,
    /// The head's Serve proxy answers `/-/healthz` with 200.
    pub proxy_healthy: bool,
    /// The head pod's `ray.io/serve` label; `None` without a head pod.
    pub head_serve_label: Option<bool>,
    /// The dashboard's answer about Serve.
    pub serve: ServeView,
}

impl ClusterView {
    /// Serving: the head is ready and Serve reports at least one
    /// application, every one of them `RUNNING`.
    #[must_use]
    pub fn serving(&self) -> bool {
        self.head_ready
            && !self.terminating
            && matches!(&self.serve, ServeView::Apps(apps)
                if !apps.is_empty() && apps.values().all(|s| *s == AppStatus::Running))
    }

    /// The dashboard answers and Serve has no application at all.
    #[must_use]
    pub fn answers_without_apps(&self) -> bool {
        self.head_ready && matches!(&self.serve, ServeView::Apps(apps) if apps.is_empty())
    }
}

/// The Gateway and HTTPRoute of an incremental upgrade.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RouteView {
    /// The Gateway is Accepted and Programmed, and the HTTPRoute is Accepted
    /// with ResolvedRefs for it.
    pub ready: bool,
    /// The weight of each backend, by the index of the cluster whose serve
    /// Service it names.
    pub weights: BTreeMap<u32, u8>,
}

impl RouteView {
    /// The weight of `index`'s backend, 0 when it has none.
    #[must_use]
    pub fn weight(&self, index: u32) -> u8 {
        self.weights.get(&index).copied().unwrap_or(0)
    }
}

/// The world of one RayService, as read in one reconcile.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServiceWorld {
    /// Every RayCluster labelled as originating from this RayService.
    pub clusters: Vec<ClusterView>,
    /// The index in the `ray.io/cluster` selector of `<rs>-head-svc`;
    /// `None` when the Service is absent.
    pub head_service: Option<u32>,
    /// The same for `<rs>-serve-svc` (absent in incremental mode).
    pub serve_service: Option<u32>,
    /// The Gateway and HTTPRoute, when they exist.
    pub route: Option<RouteView>,
    /// Ready endpoints behind the serve Service(s).
    pub serve_endpoints: u32,
}

impl ServiceWorld {
    /// The cluster of index `index`, if it exists.
    #[must_use]
    pub fn cluster(&self, index: u32) -> Option<&ClusterView> {
        self.clusters.iter().find(|c| c.index == index)
    }

    /// Whether `index` receives traffic: a Service selects it, or the route
    /// gives it weight.
    #[must_use]
    pub fn has_traffic(&self, index: u32) -> bool {
        self.head_service == Some(index)
            || self.serve_service == Some(index)
            || self.route.as_ref().is_some_and(|r| r.weight(index) > 0)
    }
}
