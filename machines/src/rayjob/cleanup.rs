//! The cleanup after Complete/Failed, as a plan: which policy is due when.
//!
//! Invariants: pure; a `clusterSelector` job plans nothing (the cluster is not
//! the RayJob's); a policy already applied, or weaker than one applied, is
//! never due again, so each deletion happens exactly once.

use std::collections::BTreeSet;

use super::{
    input::{Deletion, JobSpec, Policy, RuleCondition},
    phase::JobPhase,
    ray_status::RayStatus,
};
use crate::Millis;

/// Every policy the spec asks for after this end, with the moment it is due.
#[must_use]
pub fn plan(
    spec: &JobSpec,
    phase: JobPhase,
    job_status: Option<RayStatus>,
    end: Millis,
) -> Vec<(Policy, Millis)> {
    if spec.cluster_selector {
        return Vec::new();
    }
    let after = |seconds: u32| end.plus(u64::from(seconds) * 1000);
    match &spec.deletion {
        Deletion::Keep => Vec::new(),
        Deletion::Shutdown { delete_self } => {
            let policy = if *delete_self {
                Policy::DeleteSelf
            } else {
                Policy::DeleteCluster
            };
            vec![(policy, after(spec.ttl_seconds))]
        }
        Deletion::Legacy {
            on_success,
            on_failure,
        } => match job_status {
            Some(RayStatus::Succeeded) => vec![(*on_success, after(spec.ttl_seconds))],
            Some(RayStatus::Failed) => vec![(*on_failure, after(spec.ttl_seconds))],
            _ => Vec::new(),
        },
        Deletion::Rules(rules) => rules
            .iter()
            .filter(|rule| match rule.condition {
                RuleCondition::JobSucceeded => job_status == Some(RayStatus::Succeeded),
                RuleCondition::JobFailed => job_status == Some(RayStatus::Failed),
                RuleCondition::DeploymentFailed => phase == JobPhase::Failed,
            })
            .map(|rule| (rule.policy, after(rule.ttl_seconds)))
            .collect(),
    }
}

/// Whether `policy` still has an effect after `cleaned` were applied.
#[must_use]
pub fn pending(policy: Policy, cleaned: &BTreeSet<Policy>) -> bool {
    cleaned.iter().all(|done| *done < policy)
}

/// The strongest pending policy due by `at`.
#[must_use]
pub fn due(plan: &[(Policy, Millis)], cleaned: &BTreeSet<Policy>, at: Millis) -> Option<Policy> {
    plan.iter()
        .filter(|(p, due)| *due <= at && pending(*p, cleaned))
        .map(|(p, _)| *p)
        .max()
}

/// The earliest moment a pending policy comes due.
#[must_use]
pub fn next(plan: &[(Policy, Millis)], cleaned: &BTreeSet<Policy>) -> Option<Millis> {
    plan.iter()
        .filter(|(p, _)| pending(*p, cleaned))
        .map(|(_, due)| *due)
        .min()
}
