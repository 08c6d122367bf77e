//! The checks of a worker group's pod counts and autoscaling, and what rayop
//! adjusts in a spec on its own.
//!
//! Role: the twins of the CRD's pod-count and HPA rules
//! ([`cel::GROUP_PODS_WITHIN_LIMIT`] and its siblings, computed as the rules
//! compute them, with [`limits`]), the HPA API's ranges of a group's
//! `behavior`, and [`adjustments`]: the non-blocking notes of the
//! `SpecAdjusted` condition. Called by
//! [`validation`](crate::crd::validation), which orders the problems.
//!
//! Invariant: pure; every count is exact (`i64` where a product may not fit).

use rayop_machines::SpecProblem;

use crate::crd::{
    cel, limits, pod_template,
    spec::RayClusterSpec,
    worker_group::{GroupAutoscaler, WorkerGroupSpec},
};

/// The twins of the per-group pod-count rules of the CRD.
pub(crate) fn check_group_pods(out: &mut Vec<SpecProblem>, path: &str, group: &WorkerGroupSpec) {
    let hosts = group.num_of_hosts;
    if !limits::fits_group(group.replicas, hosts) {
        out.push(SpecProblem::new(
            format!("{path}.replicas"),
            cel::GROUP_PODS_WITHIN_LIMIT.message,
        ));
    }
    if !limits::fits_group(group.min_replicas, hosts) {
        out.push(SpecProblem::new(
            format!("{path}.minReplicas"),
            cel::GROUP_MIN_PODS_WITHIN_LIMIT.message,
        ));
    }
    if group.max_replicas != limits::UNSET_MAX_REPLICAS
        && !limits::fits_group(group.max_replicas, hosts)
    {
        out.push(SpecProblem::new(
            format!("{path}.maxReplicas"),
            cel::GROUP_MAX_PODS_WITHIN_LIMIT.message,
        ));
    }
}

/// The twin of [`cel::CLUSTER_PODS_WITHIN_LIMIT`], computed as the rule does.
pub(crate) fn check_cluster_pods(out: &mut Vec<SpecProblem>, groups: &[WorkerGroupSpec]) {
    if groups
        .iter()
        .any(|g| g.num_of_hosts > limits::MAX_NUM_OF_HOSTS)
    {
        return;
    }
    let total: i64 = groups
        .iter()
        .map(|g| limits::cluster_share(g.replicas, g.min_replicas, g.max_replicas, g.num_of_hosts))
        .sum();
    if total > i64::from(limits::MAX_WORKER_PODS_PER_CLUSTER) {
        out.push(SpecProblem::new(
            "spec.workerGroupSpecs",
            cel::CLUSTER_PODS_WITHIN_LIMIT.message,
        ));
    }
}

/// The HPA rules: a replica to run (the twin of [`cel::HPA_NEEDS_A_REPLICA`]),
/// and the ranges the API server checks in `behavior` (also in the schema).
pub(crate) fn check_hpa(
    out: &mut Vec<SpecProblem>,
    path: &str,
    group: &WorkerGroupSpec,
    hpa: &GroupAutoscaler,
) {
    if group.max_replicas < 1 {
        out.push(SpecProblem::new(
            format!("{path}.maxReplicas"),
            cel::HPA_NEEDS_A_REPLICA.message,
        ));
    }
    let Some(behavior) = &hpa.behavior else {
        return;
    };
    let rules = [
        ("scaleUp", behavior.scale_up.as_ref()),
        ("scaleDown", behavior.scale_down.as_ref()),
    ];
    for (name, rules) in rules {
        let Some(rules) = rules else { continue };
        let at = format!("{path}.horizontalPodAutoscaler.behavior.{name}");
        if rules
            .stabilization_window_seconds
            .is_some_and(|s| !(0..=limits::MAX_HPA_STABILIZATION_SECONDS).contains(&s))
        {
            out.push(SpecProblem::new(
                format!("{at}.stabilizationWindowSeconds"),
                format!(
                    "must be between 0 and {}",
                    limits::MAX_HPA_STABILIZATION_SECONDS
                ),
            ));
        }
        if rules
            .select_policy
            .as_deref()
            .is_some_and(|p| !limits::HPA_SELECT_POLICIES.contains(&p))
        {
            out.push(SpecProblem::new(
                format!("{at}.selectPolicy"),
                "must be Max, Min or Disabled",
            ));
        }
        for (k, policy) in rules.policies.iter().flatten().enumerate() {
            let at = format!("{at}.policies[{k}]");
            if !limits::HPA_POLICY_TYPES.contains(&policy.type_.as_str()) {
                out.push(SpecProblem::new(
                    format!("{at}.type"),
                    "must be Pods or Percent",
                ));
            }
            if policy.value < 1 {
                out.push(SpecProblem::new(
                    format!("{at}.value"),
                    "must be greater than or equal to 1",
                ));
            }
            if !(1..=limits::MAX_HPA_PERIOD_SECONDS).contains(&policy.period_seconds) {
                out.push(SpecProblem::new(
                    format!("{at}.periodSeconds"),
                    format!("must be between 1 and {}", limits::MAX_HPA_PERIOD_SECONDS),
                ));
            }
        }
    }
}

/// What rayop changes in `spec` on its own without refusing it, each naming
/// the field: a `restartPolicy` other than `Always` in a template (dropped),
/// a `minReplicas` of 0 on an HPA group (the HPA's floor is 1), and an unset
/// `maxReplicas` on an autoscaled group (capped at
/// [`limits::effective_max_replicas`]). These become the non-blocking
/// `SpecAdjusted` condition and a Warning Event.
#[must_use]
pub fn adjustments(spec: &RayClusterSpec) -> Vec<SpecProblem> {
    let mut out = Vec::new();
    if let Some(template) = spec
        .head_group_spec
        .as_ref()
        .and_then(|h| h.template.as_ref())
    {
        out.extend(pod_template::adjustments(
            "spec.headGroupSpec.template",
            template,
        ));
    }
    for (i, group) in spec.worker_group_specs.iter().enumerate() {
        let path = format!("spec.workerGroupSpecs[{i}]");
        if let Some(template) = &group.template {
            out.extend(pod_template::adjustments(
                &format!("{path}.template"),
                template,
            ));
        }
        if group.horizontal_pod_autoscaler.is_some() && group.min_replicas < 1 {
            out.push(SpecProblem::new(
                format!("{path}.minReplicas"),
                "0 is raised to 1 for the HorizontalPodAutoscaler, which always runs at least one replica",
            ));
        }
        let autoscaled = spec.autoscaling_enabled() || group.horizontal_pod_autoscaler.is_some();
        if autoscaled && group.max_replicas == limits::UNSET_MAX_REPLICAS {
            let cap = limits::effective_max_replicas(group.max_replicas, group.num_of_hosts);
            out.push(SpecProblem::new(
                format!("{path}.maxReplicas"),
                format!(
                    "unset (2147483647): the autoscaler may ask for at most {cap} replicas, \
                     the {} pods a worker group may have; set maxReplicas to choose",
                    limits::MAX_PODS_PER_GROUP
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{spec::RayCluster, validation::validate};
    use crate::crd::{test_builders::group, worker_group::GroupAutoscaler};

    fn fields(cluster: &RayCluster) -> Vec<String> {
        validate(cluster)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.field)
            .collect()
    }

    #[test]
    fn the_issue_bomb_is_refused_naming_num_of_hosts() {
        let bomb =
            RayCluster::test("rc").with_group(group("tpu").with_replicas(2).with_hosts(i32::MAX));
        assert_eq!(
            fields(&bomb),
            [
                "spec.workerGroupSpecs[0].numOfHosts",
                "spec.workerGroupSpecs[0].replicas"
            ]
        );
    }

    #[test]
    fn group_products_at_and_over_the_limit() {
        let at = RayCluster::test("rc").with_group(
            group("g")
                .with_replicas(2_500)
                .bounds(0, 2_500)
                .with_hosts(4),
        );
        assert_eq!(validate(&at), Ok(()));
        let over = RayCluster::test("rc").with_group(
            group("g")
                .with_replicas(2_501)
                .bounds(2_501, 2_501)
                .with_hosts(4),
        );
        assert_eq!(
            fields(&over),
            [
                "spec.workerGroupSpecs[0].replicas",
                "spec.workerGroupSpecs[0].minReplicas",
                "spec.workerGroupSpecs[0].maxReplicas"
            ]
        );
        // The unset maxReplicas is exempt; one below it is not.
        let unset = RayCluster::test("rc").with_group(group("g").with_hosts(4));
        assert_eq!(validate(&unset), Ok(()));
        let below = RayCluster::test("rc").with_group(group("g").bounds(0, i32::MAX - 1));
        assert_eq!(fields(&below), ["spec.workerGroupSpecs[0].maxReplicas"]);
    }

    #[test]
    fn the_cluster_sum_counts_clamped_replicas() {
        let fits = (0..2).fold(RayCluster::test("rc"), |c, i| {
            c.with_group(group(&format!("g{i}")).with_replicas(10_000))
        });
        assert_eq!(validate(&fits), Ok(()));
        let over = fits.clone().with_group(group("g2").bounds(1, 1));
        assert_eq!(fields(&over), ["spec.workerGroupSpecs"]);
        // replicas above maxReplicas count as maxReplicas.
        let clamped = RayCluster::test("rc")
            .with_group(group("a").with_replicas(10_000).bounds(0, 10))
            .with_group(group("b").with_replicas(10_000))
            .with_group(group("c").with_replicas(9_990));
        assert_eq!(validate(&clamped), Ok(()));
    }

    #[test]
    fn hpa_needs_a_replica_and_a_behavior_in_range() {
        let mut g = group("g").bounds(0, 0);
        g.horizontal_pod_autoscaler = Some(GroupAutoscaler {
            metrics: None,
            behavior: serde_json::from_value(serde_json::json!({
                "scaleUp": {"selectPolicy": "Fastest", "stabilizationWindowSeconds": 4000,
                            "policies": [{"type": "Nodes", "value": 0, "periodSeconds": 0}]}
            }))
            .unwrap(),
        });
        let at = "spec.workerGroupSpecs[0].horizontalPodAutoscaler.behavior.scaleUp";
        assert_eq!(
            fields(&RayCluster::test("rc").with_group(g)),
            [
                "spec.workerGroupSpecs[0].maxReplicas".to_owned(),
                format!("{at}.stabilizationWindowSeconds"),
                format!("{at}.selectPolicy"),
                format!("{at}.policies[0].type"),
                format!("{at}.policies[0].value"),
                format!("{at}.policies[0].periodSeconds"),
            ]
        );
    }

    #[test]
    fn adjustments_name_their_fields() {
        let mut template = crate::crd::defaults::default_worker_template();
        if let Some(spec) = template.spec.as_mut() {
            spec.restart_policy = Some("Never".into());
        }
        let mut hpa = group("h").bounds(0, 3);
        hpa.horizontal_pod_autoscaler = Some(GroupAutoscaler::default());
        let mut plain = group("p").with_replicas(1);
        plain.template = Some(template);
        let cluster = RayCluster::test("rc").with_group(plain).with_group(hpa);
        let notes: Vec<String> = adjustments(&cluster.spec)
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(
            notes,
            [
                "spec.workerGroupSpecs[0].template.spec.restartPolicy",
                "spec.workerGroupSpecs[1].minReplicas"
            ]
        );
        assert_eq!(validate(&cluster), Ok(()), "adjustments are not problems");
        let autoscaled = RayCluster::test("rc")
            .with_group(group("g"))
            .with_autoscaling();
        let notes = adjustments(&autoscaled.spec);
        assert_eq!(notes[0].field, "spec.workerGroupSpecs[0].maxReplicas");
        assert!(
            notes[0].message.contains("at most 10000 replicas"),
            "{}",
            notes[0].message
        );
    }
}
