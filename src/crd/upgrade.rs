//! How pods follow a spec change: `spec.upgradeStrategy`.
//!
//! Role: data only, read by the workload builders. rayop's pods belong to
//! StatefulSets and Deployments, so the strategy becomes their update
//! strategy; the workload controllers replace the pods, and rayop deletes
//! none itself.
//!
//! Invariants:
//! - Unset keeps rayop's default: changed templates roll out through the
//!   workloads' rolling updates.
//! - `Recreate` replaces all of a workload's pods at once when its template
//!   changes (Deployment `Recreate`; StatefulSet rolling update with
//!   `maxUnavailable: 100%`). A head change restarts the head, and without
//!   GCS fault tolerance the workers of the lost head are replaced with it.
//! - `None` leaves running pods alone (StatefulSet `OnDelete`); pods created
//!   later use the new template.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How pods follow a spec change.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeStrategy {
    /// `Recreate`: when a template changes, all of its pods are replaced at
    /// once. `None`: running pods are never replaced for a spec change; new
    /// pods use the new template. Unset: pods are replaced one by one
    /// (the workloads' rolling update).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<UpgradeType>,
}

/// The values of `upgradeStrategy.type`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum UpgradeType {
    /// Replace all of a changed template's pods at once.
    Recreate,
    /// Never replace running pods for a spec change.
    None,
}

/// Kinds whose clusters may not set `upgradeStrategy`.
pub const MANAGED_ORIGINS: [&str; 2] = ["RayJob", "RayService"];
