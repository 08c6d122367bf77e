//! What a RayService machine asks the operator to do, as data.
//!
//! Invariants: every object-touching command names its RayCluster by the
//! index the machine handed out, from which the operator derives the name,
//! so a repeated command is idempotent (`AlreadyExists` on a create is a
//! success). Commands of one step come in a fixed order: clusters, head
//! labels, Serve submissions, target capacities, the route, the Services,
//! deletions, status, events, timers.

use serde::{Deserialize, Serialize};

use super::status::ServiceStatusSummary;
use crate::{Millis, Notice};

/// One side effect for the operator to perform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceCommand {
    /// Create the RayCluster of this index from the current spec, if absent.
    CreateCluster {
        /// The cluster's index.
        cluster: u32,
    },
    /// Rewrite the RayCluster of this index from the current spec in place
    /// (a replica-only change, or appended worker groups).
    UpdateCluster {
        /// The cluster's index.
        cluster: u32,
    },
    /// Set the head pod's `ray.io/serve` label.
    LabelHead {
        /// The cluster's index.
        cluster: u32,
        /// The label's value.
        serve: bool,
    },
    /// PUT the current `serveConfigV2` to the cluster's dashboard.
    SubmitServeConfig {
        /// The cluster's index.
        cluster: u32,
        /// The hash of the config to submit (the spec's).
        config_hash: String,
        /// `target_capacity` to send with it, in incremental mode.
        target_capacity: Option<u8>,
    },
    /// PUT the config with a new `target_capacity` (incremental mode).
    SetTargetCapacity {
        /// The cluster's index.
        cluster: u32,
        /// The percentage.
        percent: u8,
    },
    /// Ensure the Gateway and the HTTPRoute with these backends (per-cluster
    /// serve Services) and weights.
    SetRoute {
        /// `(cluster index, weight)`, the active cluster first.
        backends: Vec<(u32, u8)>,
    },
    /// Point `<rs>-head-svc` (and `<rs>-serve-svc` outside incremental mode)
    /// at this cluster, creating them if absent.
    PointServices {
        /// The cluster's index.
        cluster: u32,
    },
    /// Delete the RayCluster of this index (background propagation).
    DeleteCluster {
        /// The cluster's index.
        cluster: u32,
    },
    /// Delete the head and serve Services, the Gateway and the HTTPRoute.
    DeleteServices,
    /// Write this summary into `status`, if it differs.
    PublishStatus(ServiceStatusSummary),
    /// Record a Kubernetes Event on the RayService.
    Announce(Notice),
    /// Deliver a `Tick` no later than this moment.
    WakeAt(Millis),
    /// The RayService is gone: mark its journal stream deleted.
    Forget,
}

/// A command's kind without its data.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ServiceCommandKind {
    /// [`ServiceCommand::CreateCluster`].
    CreateCluster,
    /// [`ServiceCommand::UpdateCluster`].
    UpdateCluster,
    /// [`ServiceCommand::LabelHead`].
    LabelHead,
    /// [`ServiceCommand::SubmitServeConfig`].
    SubmitServeConfig,
    /// [`ServiceCommand::SetTargetCapacity`].
    SetTargetCapacity,
    /// [`ServiceCommand::SetRoute`].
    SetRoute,
    /// [`ServiceCommand::PointServices`].
    PointServices,
    /// [`ServiceCommand::DeleteCluster`].
    DeleteCluster,
    /// [`ServiceCommand::DeleteServices`].
    DeleteServices,
    /// [`ServiceCommand::PublishStatus`].
    PublishStatus,
    /// [`ServiceCommand::Announce`].
    Announce,
    /// [`ServiceCommand::WakeAt`].
    WakeAt,
    /// [`ServiceCommand::Forget`].
    Forget,
}

impl ServiceCommand {
    /// The command's kind.
    #[must_use]
    pub fn kind(&self) -> ServiceCommandKind {
        match self {
            ServiceCommand::CreateCluster { .. } => ServiceCommandKind::CreateCluster,
            ServiceCommand::UpdateCluster { .. } => ServiceCommandKind::UpdateCluster,
            ServiceCommand::LabelHead { .. } => ServiceCommandKind::LabelHead,
            ServiceCommand::SubmitServeConfig { .. } => ServiceCommandKind::SubmitServeConfig,
            ServiceCommand::SetTargetCapacity { .. } => ServiceCommandKind::SetTargetCapacity,
            ServiceCommand::SetRoute { .. } => ServiceCommandKind::SetRoute,
            ServiceCommand::PointServices { .. } => ServiceCommandKind::PointServices,
            ServiceCommand::DeleteCluster { .. } => ServiceCommandKind::DeleteCluster,
            ServiceCommand::DeleteServices => ServiceCommandKind::DeleteServices,
            ServiceCommand::PublishStatus(_) => ServiceCommandKind::PublishStatus,
            ServiceCommand::Announce(_) => ServiceCommandKind::Announce,
            ServiceCommand::WakeAt(_) => ServiceCommandKind::WakeAt,
            ServiceCommand::Forget => ServiceCommandKind::Forget,
        }
    }
}

impl ServiceCommandKind {
    /// The kind's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceCommandKind::CreateCluster => "CreateCluster",
            ServiceCommandKind::UpdateCluster => "UpdateCluster",
            ServiceCommandKind::LabelHead => "LabelHead",
            ServiceCommandKind::SubmitServeConfig => "SubmitServeConfig",
            ServiceCommandKind::SetTargetCapacity => "SetTargetCapacity",
            ServiceCommandKind::SetRoute => "SetRoute",
            ServiceCommandKind::PointServices => "PointServices",
            ServiceCommandKind::DeleteCluster => "DeleteCluster",
            ServiceCommandKind::DeleteServices => "DeleteServices",
            ServiceCommandKind::PublishStatus => "PublishStatus",
            ServiceCommandKind::Announce => "Announce",
            ServiceCommandKind::WakeAt => "WakeAt",
            ServiceCommandKind::Forget => "Forget",
        }
    }

    /// Whether carrying it out writes to the API server (or a dashboard) at once.
    #[must_use]
    pub fn writes_at_once(self) -> bool {
        !matches!(
            self,
            ServiceCommandKind::PublishStatus
                | ServiceCommandKind::WakeAt
                | ServiceCommandKind::Forget
        )
    }
}

impl std::fmt::Display for ServiceCommandKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
