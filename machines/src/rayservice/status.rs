//! What a RayService's `status` should say, as the machine decides it; the
//! operator renders it into KubeRay's conditions and fields.
//!
//! Invariant: the summary holds only what the machine decides or observed
//! in the same reconcile (no timestamps), so an unchanged world gives an
//! equal summary and no write.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::app_status::AppStatus;

/// The `Ready` condition's reason (status True only for
/// `NonZeroServeEndpoints`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReadyReason {
    /// No cluster has served yet.
    Initializing,
    /// The serve Service has ready endpoints.
    NonZeroServeEndpoints,
    /// It had, and has none now.
    ZeroServeEndpoints,
    /// The spec is invalid.
    ValidationFailed,
    /// Suspending.
    SuspendInProgress,
    /// Suspended.
    SuspendComplete,
}

/// The `UpgradeInProgress` condition's reason (True only for
/// `BothActivePendingClustersExist`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpgradeReason {
    /// No active cluster yet.
    Initializing,
    /// An active and a pending cluster exist.
    BothActivePendingClustersExist,
    /// Only an active cluster exists.
    NoPendingCluster,
    /// Suspending.
    SuspendInProgress,
    /// Suspended.
    SuspendComplete,
}

/// The `Suspending`/`Suspended` conditions.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Suspension {
    /// Neither condition is set.
    #[default]
    None,
    /// `Suspending=True`: owned objects are being deleted.
    Suspending,
    /// `Suspended=True`.
    Suspended,
}

/// `activeServiceStatus` / `pendingServiceStatus`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// The cluster's index (`rayClusterName` is derived from it).
    pub cluster: u32,
    /// The applications' statuses as last reported; empty while unknown.
    pub applications: BTreeMap<String, AppStatus>,
    /// Its head is ready.
    pub head_ready: bool,
    /// `targetCapacity` (incremental mode).
    pub target_capacity: Option<u8>,
    /// `trafficRoutedPercent` (incremental mode).
    pub traffic_routed_percent: Option<u8>,
}

/// What `status` should say.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatusSummary {
    /// `observedGeneration`.
    pub observed_generation: i64,
    /// `Ready`.
    pub ready: ReadyReason,
    /// `UpgradeInProgress`.
    pub upgrade: UpgradeReason,
    /// `RollbackInProgress=True` while set (removed otherwise, as KubeRay).
    pub rolling_back: bool,
    /// `Suspending` / `Suspended`.
    pub suspension: Suspension,
    /// `activeServiceStatus`.
    pub active: Option<ClusterStatus>,
    /// `pendingServiceStatus`.
    pub pending: Option<ClusterStatus>,
    /// `numServeEndpoints`.
    pub num_serve_endpoints: u32,
    /// A short human sentence about the state (the Ready condition's message).
    pub message: String,
}
