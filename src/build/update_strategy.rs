//! `spec.upgradeStrategy` as the workloads' update strategies.
//!
//! Role: pure; the head StatefulSet and every worker workload take their
//! strategy from here, so one place says what each upgrade type means.
//!
//! Invariants:
//! - Unset: the Kubernetes defaults (rolling updates), which the API server
//!   fills in, so the applied object carries nothing and nothing drifts.
//! - `Recreate`: a StatefulSet replaces all its pods at once (rolling update
//!   with `maxUnavailable: 100%`, its pods are `Parallel`); a Deployment uses
//!   `Recreate`.
//! - `None`: a StatefulSet is `OnDelete`. A Deployment cannot leave its pods
//!   alone, so it keeps its rolling update (the README says so).

use k8s_openapi::{
    api::apps::v1::{
        DeploymentStrategy, RollingUpdateStatefulSetStrategy, StatefulSetUpdateStrategy,
    },
    apimachinery::pkg::util::intstr::IntOrString,
};

use crate::crd::{RayClusterSpec, upgrade::UpgradeType};

fn upgrade_type(spec: &RayClusterSpec) -> Option<UpgradeType> {
    spec.upgrade_strategy.as_ref().and_then(|u| u.type_)
}

/// The `updateStrategy` of the cluster's StatefulSets.
#[must_use]
pub fn statefulset_strategy(spec: &RayClusterSpec) -> Option<StatefulSetUpdateStrategy> {
    match upgrade_type(spec)? {
        UpgradeType::Recreate => Some(StatefulSetUpdateStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateStatefulSetStrategy {
                max_unavailable: Some(IntOrString::String("100%".into())),
                partition: None,
            }),
        }),
        UpgradeType::None => Some(StatefulSetUpdateStrategy {
            type_: Some("OnDelete".into()),
            rolling_update: None,
        }),
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
        assert_eq!(statefulset_strategy(&RayClusterSpec::default()), None);
        assert_eq!(deployment_strategy(&RayClusterSpec::default()), None);
        assert_eq!(statefulset_strategy(&with(None)), None);
    }

    #[test]
    fn recreate_replaces_all_pods_at_once() {
        let sts = statefulset_strategy(&with(Some(UpgradeType::Recreate))).unwrap();
        assert_eq!(sts.type_.as_deref(), Some("RollingUpdate"));
        assert_eq!(
            sts.rolling_update.unwrap().max_unavailable,
            Some(IntOrString::String("100%".into()))
        );
        let deploy = deployment_strategy(&with(Some(UpgradeType::Recreate))).unwrap();
        assert_eq!(deploy.type_.as_deref(), Some("Recreate"));
    }

    #[test]
    fn none_leaves_running_statefulset_pods_alone() {
        let sts = statefulset_strategy(&with(Some(UpgradeType::None))).unwrap();
        assert_eq!(sts.type_.as_deref(), Some("OnDelete"));
        assert_eq!(deployment_strategy(&with(Some(UpgradeType::None))), None);
    }
}
