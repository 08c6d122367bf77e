//! The RayService transition table as data: the source of
//! `machines/RAYSERVICE_TRANSITIONS.md`; a test walks every row through the
//! real machine and checks the target phase and the command kinds, and the
//! golden journals pin one recorded run per row and phase.

use super::{command::ServiceCommandKind, phase::ServicePhase};
pub use crate::table::Target;
use crate::table::{KindEdge, kind_markdown};

/// One row of the table.
pub type ServiceEdge = KindEdge<ServicePhase, ServiceCommandKind>;

use ServiceCommandKind::{
    Announce, CreateCluster, DeleteCluster, DeleteServices, Forget, LabelHead, PointServices,
    PublishStatus, SetRoute, SetTargetCapacity, SubmitServeConfig, UpdateCluster, WakeAt,
};
use ServicePhase::{
    Deleted, Invalid, New, RollingBack, Running, Suspended, Suspending, Upgrading,
    WaitForServeDeploymentReady as First,
};
use Target::{Same, To};

const LIVE: &[ServicePhase] = &[
    New,
    First,
    Running,
    Upgrading,
    RollingBack,
    Suspending,
    Suspended,
    Invalid,
];

/// Every row of the RayService machine's table.
pub const SERVICE_TABLE: &[ServiceEdge] = &[
    ServiceEdge {
        id: "new-create",
        from: &[New],
        on: "Observed: spec valid, nothing exists",
        to: To(First),
        commands: &[CreateCluster, PublishStatus],
    },
    ServiceEdge {
        id: "new-adopt",
        from: &[New],
        on: "Observed: no memory, the head Service selects a serving cluster of this spec (its config is submitted once)",
        to: To(Running),
        commands: &[SubmitServeConfig, PublishStatus],
    },
    ServiceEdge {
        id: "first-waiting",
        from: &[First],
        on: "Observed: the cluster's head is not ready",
        to: Same,
        commands: &[],
    },
    ServiceEdge {
        id: "first-submit",
        from: &[First],
        on: "Observed: the head is ready, the dashboard answers without applications",
        to: Same,
        commands: &[SubmitServeConfig, PublishStatus],
    },
    ServiceEdge {
        id: "first-serving",
        from: &[First],
        on: "Observed: every application RUNNING: the Services are pointed at it",
        to: Same,
        commands: &[PointServices, PublishStatus],
    },
    ServiceEdge {
        id: "first-promoted",
        from: &[First],
        on: "Observed: the head Service selects it",
        to: To(Running),
        commands: &[PublishStatus, Announce],
    },
    ServiceEdge {
        id: "first-respec",
        from: &[First],
        on: "Observed: the cluster spec changed before it served: replaced at once",
        to: Same,
        commands: &[CreateCluster, DeleteCluster, PublishStatus],
    },
    ServiceEdge {
        id: "steady",
        from: &[Running],
        on: "Observed: nothing changed",
        to: Same,
        commands: &[],
    },
    ServiceEdge {
        id: "config-changed",
        from: &[Running],
        on: "Observed: serveConfigV2 changed: submitted to the active cluster",
        to: Same,
        commands: &[SubmitServeConfig, PublishStatus],
    },
    ServiceEdge {
        id: "replicas-changed",
        from: &[Running],
        on: "Observed: only replica fields changed: updated in place",
        to: Same,
        commands: &[UpdateCluster, PublishStatus],
    },
    ServiceEdge {
        id: "groups-appended",
        from: &[Running],
        on: "Observed: worker groups appended (a compatible hash): updated in place",
        to: Same,
        commands: &[UpdateCluster, PublishStatus],
    },
    ServiceEdge {
        id: "upgrade",
        from: &[Running],
        on: "Observed: the cluster spec changed (NewCluster or incremental): one pending cluster",
        to: To(Upgrading),
        commands: &[CreateCluster, PublishStatus, Announce],
    },
    ServiceEdge {
        id: "upgrade-none",
        from: &[Running],
        on: "Observed: the cluster spec changed, upgradeStrategy None: ignored",
        to: Same,
        commands: &[PublishStatus],
    },
    ServiceEdge {
        id: "head-lost",
        from: &[Running],
        on: "Observed: the active head is not ready: status says so, traffic stays",
        to: Same,
        commands: &[PublishStatus, Announce],
    },
    ServiceEdge {
        id: "head-back",
        from: &[Running],
        on: "Observed: the active cluster serves again",
        to: Same,
        commands: &[PublishStatus, Announce],
    },
    ServiceEdge {
        id: "config-lost",
        from: &[Running],
        on: "Observed: the dashboard answers without the applications it had: resubmitted once (and the active cluster does not serve meanwhile)",
        to: Same,
        commands: &[SubmitServeConfig, PublishStatus, Announce, Announce],
    },
    ServiceEdge {
        id: "label-head",
        from: &[Running],
        on: "Observed: the head's proxy is healthy, its serve label false",
        to: Same,
        commands: &[LabelHead],
    },
    ServiceEdge {
        id: "endpoints-lost",
        from: &[Running],
        on: "Observed: no ready serve endpoint left (Ready False, ZeroServeEndpoints)",
        to: Same,
        commands: &[PublishStatus],
    },
    ServiceEdge {
        id: "route-restored",
        from: &[Running],
        on: "Observed: incremental, the HTTPRoute is missing: asked for with all weight on the active cluster",
        to: Same,
        commands: &[SetRoute, PublishStatus],
    },
    ServiceEdge {
        id: "dangling",
        from: &[Running],
        on: "Observed: a cluster of this RayService the machine does not know: retired with the delay",
        to: Same,
        commands: &[WakeAt],
    },
    ServiceEdge {
        id: "old-cluster-due",
        from: &[Running],
        on: "Tick: a retired cluster's delay is over and no traffic reaches it",
        to: Same,
        commands: &[DeleteCluster],
    },
    ServiceEdge {
        id: "pending-submit",
        from: &[Upgrading],
        on: "Observed: the pending head is ready, no applications yet",
        to: Same,
        commands: &[SubmitServeConfig, PublishStatus],
    },
    ServiceEdge {
        id: "pending-serving",
        from: &[Upgrading],
        on: "Observed: blue/green, the pending cluster serves: the Services switch",
        to: Same,
        commands: &[PointServices, PublishStatus],
    },
    ServiceEdge {
        id: "promoted",
        from: &[Upgrading],
        on: "Observed: the head Service selects the pending cluster: it becomes active, the old one retires",
        to: To(Running),
        commands: &[PublishStatus, Announce, WakeAt],
    },
    ServiceEdge {
        id: "retarget",
        from: &[Upgrading],
        on: "Observed: a third cluster spec while the pending cluster has no traffic: replaced",
        to: Same,
        commands: &[CreateCluster, DeleteCluster, PublishStatus, Announce],
    },
    ServiceEdge {
        id: "cancel",
        from: &[Upgrading],
        on: "Observed: the spec is the active cluster's again, no traffic on the pending one",
        to: To(Running),
        commands: &[DeleteCluster, PublishStatus, Announce],
    },
    ServiceEdge {
        id: "capacity-step",
        from: &[Upgrading],
        on: "Observed: incremental, route and capacities settled, weight caught up: capacity moves by maxSurgePercent (the next weight step waits for the interval)",
        to: Same,
        commands: &[SetTargetCapacity, PublishStatus, WakeAt],
    },
    ServiceEdge {
        id: "weight-step",
        from: &[Upgrading],
        on: "Tick or Observed: incremental, the pending cluster serves, the interval passed: weight moves by stepSizePercent",
        to: Same,
        commands: &[SetRoute],
    },
    ServiceEdge {
        id: "incremental-switch",
        from: &[Upgrading],
        on: "Observed: incremental, active capacity 0 and all weight on the pending cluster: the head Service switches",
        to: Same,
        commands: &[SetTargetCapacity, PointServices, PublishStatus],
    },
    ServiceEdge {
        id: "rollback",
        from: &[Upgrading],
        on: "Observed: incremental, the spec changed while the pending cluster has weight: the active capacity returns to 100, then the weight",
        to: To(RollingBack),
        commands: &[SetTargetCapacity, PublishStatus, Announce, WakeAt],
    },
    ServiceEdge {
        id: "rollback-step",
        from: &[RollingBack],
        on: "Tick or Observed: the interval passed, the active cluster serves: weight returns by stepSizePercent",
        to: Same,
        commands: &[SetRoute],
    },
    ServiceEdge {
        id: "rollback-complete",
        from: &[RollingBack],
        on: "Observed: no weight on the pending cluster: it retires, the active serves alone",
        to: To(Running),
        commands: &[PublishStatus, Announce, WakeAt],
    },
    ServiceEdge {
        id: "rollback-cancelled",
        from: &[RollingBack],
        on: "Observed: the spec is the pending cluster's again: the upgrade resumes",
        to: To(Upgrading),
        commands: &[SetTargetCapacity, PublishStatus, Announce],
    },
    ServiceEdge {
        id: "suspend-first",
        from: &[First],
        on: "Observed: spec.suspend, the first cluster exists",
        to: To(Suspending),
        commands: &[DeleteCluster, PublishStatus, Announce],
    },
    ServiceEdge {
        id: "suspend",
        from: &[Running],
        on: "Observed: spec.suspend: the Services and the cluster are deleted at once",
        to: To(Suspending),
        commands: &[DeleteServices, DeleteCluster, PublishStatus, Announce],
    },
    ServiceEdge {
        id: "suspend-upgrading",
        from: &[Upgrading, RollingBack],
        on: "Observed: spec.suspend during an upgrade: the Services, the route and both clusters",
        to: To(Suspending),
        commands: &[
            DeleteServices,
            DeleteCluster,
            DeleteCluster,
            PublishStatus,
            Announce,
        ],
    },
    ServiceEdge {
        id: "suspending-wait",
        from: &[Suspending],
        on: "Observed: objects remain (also when spec.suspend flipped back: it runs to completion)",
        to: Same,
        commands: &[],
    },
    ServiceEdge {
        id: "suspended",
        from: &[Suspending],
        on: "Observed: nothing remains",
        to: To(Suspended),
        commands: &[PublishStatus, Announce],
    },
    ServiceEdge {
        id: "new-suspended",
        from: &[New],
        on: "Observed: spec.suspend, nothing exists",
        to: To(Suspended),
        commands: &[PublishStatus, Announce, Announce],
    },
    ServiceEdge {
        id: "suspended-steady",
        from: &[Suspended],
        on: "Observed: still suspended",
        to: Same,
        commands: &[],
    },
    ServiceEdge {
        id: "resume",
        from: &[Suspended],
        on: "Observed: spec.suspend cleared: a new first cluster",
        to: To(First),
        commands: &[CreateCluster, PublishStatus, Announce],
    },
    ServiceEdge {
        id: "invalid",
        from: &[New, First, Running, Upgrading, RollingBack, Suspended],
        on: "Observed: spec problems: nothing changes until a valid generation",
        to: To(Invalid),
        commands: &[PublishStatus, Announce],
    },
    ServiceEdge {
        id: "invalid-steady",
        from: &[Invalid],
        on: "Observed: the same invalid generation",
        to: Same,
        commands: &[],
    },
    ServiceEdge {
        id: "invalid-new-generation",
        from: &[Invalid],
        on: "Observed: a new generation, still invalid",
        to: Same,
        commands: &[PublishStatus, Announce],
    },
    ServiceEdge {
        id: "fixed",
        from: &[Invalid],
        on: "Observed: spec valid again: the roles go on where they were",
        to: To(Running),
        commands: &[PublishStatus],
    },
    ServiceEdge {
        id: "idle-tick",
        from: &[New, First, Running, Upgrading, Suspended, Invalid],
        on: "Tick: nothing due",
        to: Same,
        commands: &[],
    },
    ServiceEdge {
        id: "command-failed",
        from: &[
            First,
            Running,
            Upgrading,
            RollingBack,
            Suspending,
            Suspended,
            Invalid,
        ],
        on: "CommandFailed: announced; what it asked for is asked again when still needed",
        to: Same,
        commands: &[Announce],
    },
    ServiceEdge {
        id: "deleted",
        from: LIVE,
        on: "Deleted",
        to: To(Deleted),
        commands: &[Forget],
    },
    ServiceEdge {
        id: "terminal",
        from: &[Deleted],
        on: "any event",
        to: Same,
        commands: &[],
    },
];

/// The table as Markdown, one row per edge.
#[must_use]
pub fn markdown() -> String {
    kind_markdown(SERVICE_TABLE)
}
