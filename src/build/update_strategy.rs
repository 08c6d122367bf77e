//! `spec.upgradeStrategy` as the workloads' update strategies.
//!
//! Role: pure; the head StatefulSet and every worker workload take their
//! strategy from here, so one place says what each upgrade type means.
//!
//! Invariants:
//! - Unset: the Kubernetes defaults (rolling updates), which the API server
//!   fills in, so the applied object carries nothing and nothing drifts.
//! - `Recreate`: a worker StatefulSet is `OnDelete`, and the machine deletes
//!   all its pods on an older revision at once once the new template is
//!   applied (a StatefulSet's own `maxUnavailable` is behind a feature gate
//!   that is off by default); a Deployment uses `Recreate`; the head's single
//!   pod keeps the rolling update, which replaces it the same way.
//! - `None`: a StatefulSet is `OnDelete`. A Deployment cannot leave its pods
//!   alone, so it keeps its rolling update (the README says so).

use k8s_openapi::api::apps::v1::{DeploymentStrategy, StatefulSetUpdateStrategy};

use crate::crd::{RayClusterSpec, upgrade::UpgradeType};

fn upgrade_type(spec: &RayClusterSpec) -> Option<UpgradeType> {
    spec.upgrade_strategy.as_ref().and_then(|u| u.type_)
}

/// The `updateStrategy` of a worker group's StatefulSet.
#[must_use]
pub fn worker_statefulset_strategy(spec: &RayClusterSpec) -> Option<StatefulSetUpdateStrategy> {
    upgrade_type(spec).map(|_| on_delete())
}

/// The `updateStrategy` of the head StatefulSet.
#[must_use]
pub fn head_statefulset_strategy(spec: &RayClusterSpec) -> Option<StatefulSetUpdateStrategy> {
    match upgrade_type(spec)? {
        UpgradeType::Recreate => None,
        UpgradeType::None => Some(on_delete()),
    }
}

/// Whether the machine replaces a StatefulSet group's outdated pods itself.
#[must_use]
pub fn replaces_outdated_pods(spec: &RayClusterSpec) -> bool {
    upgrade_type(spec) == Some(UpgradeType::Recreate)
}

fn on_delete() -> StatefulSetUpdateStrategy {
    StatefulSetUpdateStrategy {
        type_: Some("OnDelete".into()),
        rolling_update: None,
    }
}

/// The `strategy` of the cluster's Deployments.
#[must_use]
pub fn deployment_strategy(spec: &RayClusterSpec) -> Option<DeploymentStrategy> {
    match upgrade_type(spec)? {
        UpgradeType::Recreate => Some(DeploymentStrategy {
            type_: Some("Recreate".into()),
            rolling_update: None,
        }),
        UpgradeType::None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::upgrade::UpgradeStrategy;

    fn with(type_: Option<UpgradeType>) -> RayClusterSpec {
        RayClusterSpec {
            upgrade_strategy: Some(UpgradeStrategy { type_ }),
            ..RayClusterSpec::default()
        }
    }

    #[test]
    fn unset_leaves_the_kubernetes_defaults() {
        for spec in [RayClusterSpec::default(), with(None)] {
            assert_eq!(worker_statefulset_strategy(&spec), None);
            assert_eq!(head_statefulset_strategy(&spec), None);
            assert_eq!(deployment_strategy(&spec), None);
            assert!(!replaces_outdated_pods(&spec));
        }
    }

    #[test]
    fn recreate_leaves_replacing_worker_pods_to_the_machine() {
        let spec = with(Some(UpgradeType::Recreate));
        assert_eq!(worker_statefulset_strategy(&spec), Some(on_delete()));
        assert!(replaces_outdated_pods(&spec));
        assert_eq!(head_statefulset_strategy(&spec), None);
        let deploy = deployment_strategy(&spec).unwrap();
        assert_eq!(deploy.type_.as_deref(), Some("Recreate"));
    }

    #[test]
    fn none_leaves_running_statefulset_pods_alone() {
        let spec = with(Some(UpgradeType::None));
        assert_eq!(worker_statefulset_strategy(&spec), Some(on_delete()));
        assert_eq!(head_statefulset_strategy(&spec), Some(on_delete()));
        assert!(!replaces_outdated_pods(&spec));
        assert_eq!(deployment_strategy(&spec), None);
    }
}
