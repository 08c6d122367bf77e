//! Whether a workload's rollout is complete, from its status.
//!
//! Invariant: a workload whose controller has not yet observed its latest
//! generation is never reported rolled out, so a template change is not
//! mistaken for a finished rollout in the moment after it was applied. An
//! `OnDelete` StatefulSet replaces no pod, so it is rolled out once observed.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};

/// A StatefulSet has rolled out when its controller saw the latest generation,
/// every replica runs the update revision, and the current revision is it.
#[must_use]
pub fn statefulset_rolled_out(sts: &StatefulSet) -> bool {
    let generation = sts.metadata.generation.unwrap_or(0);
    let replicas = sts.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(status) = sts.status.as_ref() else {
        return false;
    };
    let observed = status.observed_generation.unwrap_or(0) >= generation;
    // `OnDelete` (upgradeStrategy None) never replaces running pods: its
    // rollout is done once the controller saw the spec.
    let on_delete = sts
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        == Some("OnDelete");
    if on_delete {
        return observed && status.replicas <= replicas;
    }
    let updated = status.updated_replicas.unwrap_or(0) >= replicas;
    let revision_current = replicas == 0
        || status.update_revision.is_none()
        || status.current_revision == status.update_revision;
    observed && updated && revision_current && status.replicas <= replicas
}

/// The current template revision of an `OnDelete` StatefulSet, whose pods
/// on other revisions stay until someone deletes them.
#[must_use]
pub fn on_delete_revision(sts: &StatefulSet) -> Option<String> {
    let on_delete = sts
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        == Some("OnDelete");
    if !on_delete {
        return None;
    }
    sts.status.as_ref()?.update_revision.clone()
}

/// A Deployment has rolled out when its controller saw the latest generation,
/// every replica is updated, and no old replica remains.
#[must_use]
pub fn deployment_rolled_out(deploy: &Deployment) -> bool {
    let generation = deploy.metadata.generation.unwrap_or(0);
    let replicas = deploy.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(status) = deploy.status.as_ref() else {
        return false;
    };
    status.observed_generation.unwrap_or(0) >= generation
        && status.updated_replicas.unwrap_or(0) >= replicas
        && status.replicas.unwrap_or(0) <= replicas
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{
        DeploymentSpec, DeploymentStatus, StatefulSetSpec, StatefulSetStatus,
    };

    fn sts(
        generation: i64,
        observed: i64,
        replicas: i32,
        updated: i32,
        cur: &str,
        upd: &str,
    ) -> StatefulSet {
        let mut s = StatefulSet::default();
        s.metadata.generation = Some(generation);
        s.spec = Some(StatefulSetSpec {
            replicas: Some(replicas),
            ..StatefulSetSpec::default()
        });
        s.status = Some(StatefulSetStatus {
            observed_generation: Some(observed),
            replicas,
            updated_replicas: Some(updated),
            current_revision: Some(cur.into()),
            update_revision: Some(upd.into()),
            ..StatefulSetStatus::default()
        });
        s
    }

    #[test]
    fn statefulset_done_when_all_updated_on_current_revision() {
        assert!(statefulset_rolled_out(&sts(2, 2, 3, 3, "r2", "r2")));
    }

    #[test]
    fn statefulset_not_done_before_its_controller_saw_the_change() {
        assert!(!statefulset_rolled_out(&sts(3, 2, 3, 3, "r2", "r2")));
    }

    #[test]
    fn statefulset_not_done_mid_rollout() {
        assert!(!statefulset_rolled_out(&sts(2, 2, 3, 1, "r1", "r2")));
    }

    #[test]
    fn an_on_delete_statefulset_is_done_once_observed() {
        let mut s = sts(2, 2, 3, 1, "r1", "r2");
        if let Some(spec) = s.spec.as_mut() {
            spec.update_strategy = Some(k8s_openapi::api::apps::v1::StatefulSetUpdateStrategy {
                type_: Some("OnDelete".into()),
                rolling_update: None,
            });
        }
        assert!(statefulset_rolled_out(&s), "old pods stay on purpose");
        s.metadata.generation = Some(3);
        assert!(!statefulset_rolled_out(&s), "not yet observed");
    }

    #[test]
    fn statefulset_without_status_is_not_done() {
        assert!(!statefulset_rolled_out(&StatefulSet::default()));
    }

    #[test]
    fn deployment_done_and_not_done() {
        let mut d = Deployment::default();
        d.metadata.generation = Some(4);
        d.spec = Some(DeploymentSpec {
            replicas: Some(2),
            ..DeploymentSpec::default()
        });
        d.status = Some(DeploymentStatus {
            observed_generation: Some(4),
            replicas: Some(3),
            updated_replicas: Some(2),
            ..DeploymentStatus::default()
        });
        assert!(!deployment_rolled_out(&d), "an old replica remains");
        if let Some(s) = d.status.as_mut() {
            s.replicas = Some(2);
        }
        assert!(deployment_rolled_out(&d));
    }
}
