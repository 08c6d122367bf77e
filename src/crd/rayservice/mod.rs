//! The RayService API: `ray.io/v1` (stored) and `ray.io/v1alpha1` (served),
//! JSON-compatible with KubeRay v1.7.0.
//!
//! Role: the types a RayService controller will read, the CRD generated from
//! them, and the pure rules around them. Nothing here does I/O; no
//! controller acts on RayServices yet.
//!
//! | Module | What it holds |
//! |---|---|
//! | [`spec`] | `RayServiceSpec` and the v1 [`RayService`] resource |
//! | [`upgrade_strategy`] | `upgradeStrategy` and `clusterUpgradeOptions` |
//! | [`serve_service`] | the schema of `serveService` |
//! | [`status`] | `status`, and the condition, reason and status strings |
//! | [`cel`] | the CRD's CEL rules |
//! | [`validation`] | `validate`, the Rust mirror of the rules plus semantic checks |
//! | [`versions`] | `v1alpha1`, conversions, the merged CRD |
//! | [`test_builders`] | `RayService::test("rs").with_workers(2)` |
//!
//! Invariants: JSON names and defaults are KubeRay's; every rule the API
//! server enforces is also in [`validation::validate`]. `cel` imports no
//! module here; the type modules import `cel`; `validation`, `versions` and
//! `test_builders` read the types. `rayClusterConfig` is the RayCluster spec
//! type, with its own rules.

pub mod cel;
pub mod serve_service;
pub mod spec;
pub mod status;
pub mod test_builders;
pub mod upgrade_strategy;
pub mod validation;
pub mod versions;

pub use spec::{RayService, RayServiceSpec};
pub use status::{
    ApplicationStatus, ConditionReason, ConditionType, DeploymentStatus, RayServiceStatus,
    RayServiceStatuses, ServiceStatus,
};
pub use upgrade_strategy::{
    ClusterUpgradeOptions, RayServiceUpgradeStrategy, RayServiceUpgradeType,
};
pub use validation::validate;
pub use versions::{crd, crd_yaml, v1alpha1};
