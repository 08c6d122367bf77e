//! How a RayService rolls out a change of `rayClusterConfig`:
//! `spec.upgradeStrategy`.
//!
//! Role: KubeRay v1.7.0's `upgradeStrategy` with its JSON names and the
//! schema default of `maxSurgePercent` (100). Data only; the controller
//! decides what each type does.
//!
//! Invariants: `type` is an enum in the schema (KubeRay's controller refuses
//! other values later; rayop's API server refuses them at admission). The
//! option ranges are schema bounds and `stepSizePercent <= maxSurgePercent`
//! a CEL rule ([`cel`](super::cel)); options are required with the
//! incremental type.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::cel;

/// `maxSurgePercent` when the manifest leaves it out (KubeRay's CRD default).
pub const DEFAULT_MAX_SURGE_PERCENT: i32 = 100;
/// The largest percentage an option takes.
pub const MAX_PERCENT: i32 = 100;

/// How a change of `rayClusterConfig` is rolled out.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = cel::upgrade_strategy_rules)]
pub struct RayServiceUpgradeStrategy {
    /// `NewCluster`: a new RayCluster is created and traffic switches to it
    /// once it serves (blue/green). `NewClusterWithIncrementalUpgrade`: the
    /// new cluster takes traffic step by step through a Gateway
    /// (`clusterUpgradeOptions` required, and in-tree autoscaling). `None`: no
    /// new cluster; cluster changes are not rolled out, except added worker
    /// groups, and `serveConfigV2` changes still apply in place. Unset: as
    /// `NewCluster`, unless the operator disables zero-downtime upgrades.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<RayServiceUpgradeType>,

    /// Settings of `NewClusterWithIncrementalUpgrade`; ignored by the
    /// other types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_upgrade_options: Option<ClusterUpgradeOptions>,
}

/// The values of `upgradeStrategy.type`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum RayServiceUpgradeType {
    /// Blue/green: a new cluster, traffic switched at once when it serves.
    NewCluster,
    /// A new cluster that takes traffic gradually through a Gateway.
    NewClusterWithIncrementalUpgrade,
    /// No new cluster is ever created.
    None,
}

impl RayServiceUpgradeType {
    /// Every type, in declaration order.
    pub const ALL: [Self; 3] = [
        Self::NewCluster,
        Self::NewClusterWithIncrementalUpgrade,
        Self::None,
    ];

    /// The value as written in the spec.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NewCluster => "NewCluster",
            Self::NewClusterWithIncrementalUpgrade => "NewClusterWithIncrementalUpgrade",
            Self::None => "None",
        }
    }
}

/// Settings of an incremental upgrade.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = cel::cluster_upgrade_options_rules)]
pub struct ClusterUpgradeOptions {
    /// Percent by which Serve's `target_capacity` moves per step: the new
    /// cluster is scaled up, then the old one down, by this much. 0 to 100.
    #[serde(default = "default_max_surge_percent")]
    #[schemars(range(min = 0, max = MAX_PERCENT), extend("default" = DEFAULT_MAX_SURGE_PERCENT))]
    pub max_surge_percent: i32,

    /// Percent of the traffic moved to the new cluster every
    /// `intervalSeconds`. 0 to 100, and at most `maxSurgePercent`.
    #[schemars(range(min = 0, max = MAX_PERCENT))]
    pub step_size_percent: i32,

    /// Seconds between two traffic steps; at least 1.
    #[schemars(range(min = 1))]
    pub interval_seconds: i32,

    /// `gatewayClassName` of the Gateway the operator creates: a Gateway
    /// class installed in the Kubernetes cluster, such as `istio`.
    #[schemars(length(min = 1))]
    pub gateway_class_name: String,
}

fn default_max_surge_percent() -> i32 {
    DEFAULT_MAX_SURGE_PERCENT
}

impl RayServiceUpgradeStrategy {
    /// Whether the type is `NewClusterWithIncrementalUpgrade`.
    #[must_use]
    pub fn is_incremental(&self) -> bool {
        self.type_ == Some(RayServiceUpgradeType::NewClusterWithIncrementalUpgrade)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kuberays_incremental_sample_round_trips() {
        let wire = json!({"type": "NewClusterWithIncrementalUpgrade", "clusterUpgradeOptions": {
            "gatewayClassName": "istio", "stepSizePercent": 10, "intervalSeconds": 30, "maxSurgePercent": 10}});
        let strategy: RayServiceUpgradeStrategy = serde_json::from_value(wire.clone()).unwrap();
        assert!(strategy.is_incremental());
        assert_eq!(
            strategy
                .cluster_upgrade_options
                .as_ref()
                .map(|o| o.max_surge_percent),
            Some(10)
        );
        assert_eq!(serde_json::to_value(&strategy).unwrap(), wire);
    }

    #[test]
    fn max_surge_defaults_to_100_and_the_rest_is_required() {
        let options: ClusterUpgradeOptions = serde_json::from_value(
            json!({"gatewayClassName": "g", "stepSizePercent": 5, "intervalSeconds": 1}),
        )
        .unwrap();
        assert_eq!(options.max_surge_percent, 100);
        assert!(
            serde_json::from_value::<ClusterUpgradeOptions>(
                json!({"gatewayClassName": "g", "stepSizePercent": 5})
            )
            .is_err()
        );
    }

    #[test]
    fn the_types_are_kuberays_and_others_are_refused() {
        for t in RayServiceUpgradeType::ALL {
            let back: RayServiceUpgradeType = serde_json::from_value(json!(t.as_str())).unwrap();
            assert_eq!(back, t);
        }
        assert!(serde_json::from_value::<RayServiceUpgradeType>(json!("BlueGreen")).is_err());
        assert!(!RayServiceUpgradeStrategy::default().is_incremental());
    }
}
