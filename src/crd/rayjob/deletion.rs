//! What is deleted after a RayJob finishes: `spec.deletionStrategy`.
//!
//! Role: the JSON shape of KubeRay v1.7.0's two styles, the deprecated
//! `onSuccess`/`onFailure` pair and the `deletionRules` list, with the CEL
//! rules KubeRay's CRD has on them (in [`super::cel`]).
//!
//! Invariants: the two styles never coexist; a rule's condition names exactly
//! one of `jobStatus` and `jobDeploymentStatus`. `deletionRules` holds at most
//! [`MAX_DELETION_RULES`] entries: more would repeat a (condition, policy)
//! pair, which the rules forbid.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::cel;

/// Distinct (condition value, policy) pairs: two job statuses and one
/// deployment status, times four policies.
pub const MAX_DELETION_RULES: usize = 12;

/// What a deletion policy deletes.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum DeletionPolicyType {
    /// Suspend every worker group of the cluster; the head stays.
    DeleteWorkers,
    /// Delete the RayCluster.
    DeleteCluster,
    /// Delete the RayJob (and with it everything it owns).
    DeleteSelf,
    /// Delete nothing.
    DeleteNone,
}

impl DeletionPolicyType {
    /// Whether the policy deletes (part of) the cluster, which a RayJob on
    /// an existing cluster (`clusterSelector`) must not do.
    #[must_use]
    pub fn touches_cluster(self) -> bool {
        matches!(self, Self::DeleteWorkers | Self::DeleteCluster)
    }
}

/// Post-completion cleanup: either both `onSuccess` and `onFailure`
/// (deprecated) or `deletionRules`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = cel::deletion_strategy_rules)]
pub struct DeletionStrategy {
    /// Deprecated: the policy applied when the Ray job SUCCEEDED, after
    /// `spec.ttlSecondsAfterFinished`. Use `deletionRules`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_success: Option<DeletionPolicy>,
    /// Deprecated: the policy applied when the Ray job FAILED, after
    /// `spec.ttlSecondsAfterFinished`. Use `deletionRules`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<DeletionPolicy>,
    /// Rules, each deleting something a number of seconds after the RayJob
    /// ended in a given state. Each (condition, policy) pair at most once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = MAX_DELETION_RULES))]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub deletion_rules: Option<Vec<DeletionRule>>,
}

/// A legacy (deprecated) deletion policy.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletionPolicy {
    /// What to delete: DeleteCluster, DeleteWorkers, DeleteSelf or DeleteNone.
    /// Required (KubeRay's schema leaves it optional and refuses it unset later).
    pub policy: DeletionPolicyType,
}

/// One deletion rule: when `condition` holds, apply `policy`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletionRule {
    /// What to delete: DeleteCluster, DeleteWorkers, DeleteSelf or DeleteNone.
    pub policy: DeletionPolicyType,
    /// When the rule applies.
    pub condition: DeletionCondition,
}

/// The final state a rule waits for, and how long after the end.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = cel::deletion_condition_rules)]
pub struct DeletionCondition {
    /// The Ray job's final status the rule waits for: SUCCEEDED or FAILED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_status: Option<RuleJobStatus>,
    /// The RayJob's final deployment status the rule waits for: Failed
    /// (covers failures with no Ray job status, such as a deadline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_deployment_status: Option<RuleDeploymentStatus>,
    /// Seconds after `status.endTime` before the policy runs.
    #[serde(default)]
    #[schemars(range(min = 0), extend("default" = 0))]
    pub ttl_seconds: i32,
}

/// The Ray job statuses a deletion rule can wait for.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum RuleJobStatus {
    /// The job succeeded.
    #[serde(rename = "SUCCEEDED")]
    Succeeded,
    /// The job failed.
    #[serde(rename = "FAILED")]
    Failed,
}

/// The deployment statuses a deletion rule can wait for.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum RuleDeploymentStatus {
    /// The RayJob failed.
    Failed,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_round_trip_with_kuberays_names_and_default_ttl() {
        let wire = json!({"deletionRules": [
            {"policy": "DeleteWorkers", "condition": {"jobStatus": "FAILED", "ttlSeconds": 30}},
            {"policy": "DeleteSelf", "condition": {"jobDeploymentStatus": "Failed"}}
        ]});
        let strategy: DeletionStrategy = serde_json::from_value(wire).unwrap();
        let rules = strategy.deletion_rules.as_deref().unwrap();
        assert_eq!(rules[0].condition.job_status, Some(RuleJobStatus::Failed));
        assert_eq!(rules[0].condition.ttl_seconds, 30);
        assert_eq!(
            rules[1].condition.ttl_seconds, 0,
            "ttlSeconds defaults to 0"
        );
        assert_eq!(
            serde_json::to_value(&strategy).unwrap()["deletionRules"][1],
            json!({"policy": "DeleteSelf", "condition": {"jobDeploymentStatus": "Failed", "ttlSeconds": 0}})
        );
    }

    #[test]
    fn legacy_policies_parse_and_need_a_policy() {
        let strategy: DeletionStrategy = serde_json::from_value(json!({
            "onSuccess": {"policy": "DeleteCluster"}, "onFailure": {"policy": "DeleteNone"}
        }))
        .unwrap();
        assert_eq!(
            strategy.on_failure.map(|p| p.policy),
            Some(DeletionPolicyType::DeleteNone)
        );
        assert!(serde_json::from_value::<DeletionStrategy>(json!({"onSuccess": {}})).is_err());
        assert!(
            serde_json::from_value::<DeletionCondition>(json!({"jobStatus": "STOPPED"})).is_err(),
            "STOPPED is not a rule condition"
        );
    }

    #[test]
    fn only_worker_and_cluster_deletion_touch_the_cluster() {
        assert!(DeletionPolicyType::DeleteWorkers.touches_cluster());
        assert!(DeletionPolicyType::DeleteCluster.touches_cluster());
        assert!(!DeletionPolicyType::DeleteSelf.touches_cluster());
        assert!(!DeletionPolicyType::DeleteNone.touches_cluster());
    }
}
