//! Semantic validation of a RayJob, in Rust.
//!
//! Role: [`validate`] is what a RayJob controller runs before acting. It
//! mirrors every schema and CEL rule of the RayJob CRD (for objects stored
//! before a rule existed) and adds what a schema cannot express, all of
//! which KubeRay v1.7.0's controller checks too:
//! - `runtimeEnvYAML` is a YAML mapping and `entrypointResources` a JSON
//!   object of resource names to amounts;
//! - SidecarMode's head pod has `restartPolicy` Never or unset;
//! - deletion rules: each (condition, policy) pair once, TTLs not
//!   decreasing along DeleteWorkers, DeleteCluster, DeleteSelf for one
//!   condition, and no DeleteWorkers when the cluster autoscales.
//!
//! [`spec_problems`] checks a spec under any path, so a RayCronJob's
//! `jobTemplate` is checked by the same code.
//!
//! Invariant: each [`SpecProblem`] names the field with a JSON path such as
//! `spec.deletionStrategy.deletionRules[1].condition.ttlSeconds`.

use std::collections::BTreeMap;

use kube::ResourceExt;

use super::{
    deletion::{
        DeletionCondition, DeletionPolicyType, DeletionStrategy, MAX_DELETION_RULES,
        RuleDeploymentStatus, RuleJobStatus,
    },
    spec::{CLUSTER_SELECTOR_KEY, RayJob, RayJobSpec},
    submitter::SubmissionMode,
};
use crate::crd::{names, validation::SpecProblem};

/// Longest RayJob name: the cluster `<name>-<5 characters>` must fit in 53.
pub const MAX_JOB_NAME: usize = 47;

/// The `managedBy` values a RayJob accepts.
pub const MANAGED_BY_VALUES: [&str; 3] = [
    "ray.io/rayop",
    "ray.io/kuberay-operator",
    "kueue.x-k8s.io/multikueue",
];

/// Checks a RayJob: its name and its spec.
///
/// # Errors
/// Every problem found, in field order.
pub fn validate(job: &RayJob) -> Result<(), Vec<SpecProblem>> {
    let mut problems = name_problems(&job.name_any(), MAX_JOB_NAME);
    problems.extend(spec_problems(&job.spec, "spec"));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The problems of a RayJob or RayCronJob name: a DNS-1035 label of at most
/// `max` characters.
#[must_use]
pub fn name_problems(name: &str, max: usize) -> Vec<SpecProblem> {
    let mut out = Vec::new();
    if !names::is_dns1035_label(name) {
        out.push(SpecProblem::new(
            "metadata.name",
            "must be a DNS-1035 label: lower-case letters, digits and '-', starting with a letter and ending with a letter or digit",
        ));
    }
    if name.len() > max {
        out.push(SpecProblem::new(
            "metadata.name",
            format!("must be at most {max} characters"),
        ));
    }
    out
}

/// The problems of a RayJob spec found at `path` (`spec`, or
/// `spec.jobTemplate` in a RayCronJob).
#[must_use]
pub fn spec_problems(spec: &RayJobSpec, path: &str) -> Vec<SpecProblem> {
    let mut out = Vec::new();
    let mut problem = |field: &str, message: &str| {
        out.push(SpecProblem::new(format!("{path}{field}"), message));
    };
    let selector = spec.cluster_selector.is_some();
    let mode = spec.submission_mode;
    if spec.ray_cluster_spec.is_none() && !selector {
        problem(
            "",
            "set rayClusterSpec (the cluster to create) or clusterSelector (an existing cluster)",
        );
    }
    if selector && spec.selected_cluster().is_none_or(str::is_empty) {
        problem(
            ".clusterSelector",
            &format!(
                "must have the key {CLUSTER_SELECTOR_KEY} with the name of an existing RayCluster"
            ),
        );
    }
    if spec.suspend && !spec.shutdown_after_job_finishes {
        problem(".suspend", "suspend needs shutdownAfterJobFinishes: true");
    }
    if spec.suspend && selector {
        problem(
            ".suspend",
            "suspend cannot be used with clusterSelector: the existing cluster is not the RayJob's",
        );
    }
    if spec.ttl_seconds_after_finished < 0 {
        problem(".ttlSecondsAfterFinished", "must be 0 or more");
    } else if spec.ttl_seconds_after_finished > 0 && !spec.shutdown_after_job_finishes {
        problem(
            ".ttlSecondsAfterFinished",
            "ttlSecondsAfterFinished above 0 needs shutdownAfterJobFinishes: true",
        );
    }
    let backoff = spec.backoff_limit.unwrap_or(0);
    if backoff < 0 {
        problem(".backoffLimit", "must be 0 or more");
    }
    if backoff > 0 && selector {
        problem(
            ".backoffLimit",
            "backoffLimit must be 0 with clusterSelector: a retry recreates the cluster",
        );
    }
    if backoff > 0 && mode == SubmissionMode::InteractiveMode {
        problem(
            ".backoffLimit",
            "backoffLimit must be 0 in InteractiveMode: the user submits the job",
        );
    }
    for (field, value) in [
        (".activeDeadlineSeconds", spec.active_deadline_seconds),
        (
            ".preRunningDeadlineSeconds",
            spec.pre_running_deadline_seconds,
        ),
    ] {
        if value.is_some_and(|v| v < 1) {
            problem(field, "must be 1 or more");
        }
    }
    for (field, value) in [
        (".entrypointNumCpus", spec.entrypoint_num_cpus),
        (".entrypointNumGpus", spec.entrypoint_num_gpus),
    ] {
        if value.is_some_and(|v| !(v >= 0.0 && v.is_finite())) {
            problem(field, "must be 0 or more");
        }
    }
    if spec
        .submitter_config
        .as_ref()
        .and_then(|c| c.backoff_limit)
        .is_some_and(|b| b < 0)
    {
        problem(".submitterConfig.backoffLimit", "must be 0 or more");
    }
    if mode == SubmissionMode::SidecarMode {
        if selector {
            problem(
                ".clusterSelector",
                "clusterSelector cannot be used in SidecarMode: the submitter runs in the head pod of the cluster the RayJob creates",
            );
        }
        if spec.submitter_pod_template.is_some() {
            problem(
                ".submitterPodTemplate",
                "submitterPodTemplate cannot be used in SidecarMode: there is no submitter pod",
            );
        }
        if spec.submitter_config.is_some() {
            problem(
                ".submitterConfig",
                "submitterConfig cannot be used in SidecarMode: there is no submitter Job",
            );
        }
        let restart = spec
            .ray_cluster_spec
            .as_ref()
            .and_then(|c| c.head_group_spec.as_ref())
            .and_then(|h| h.template.as_ref())
            .and_then(|t| t.spec.as_ref())
            .and_then(|s| s.restart_policy.as_deref());
        if restart.is_some_and(|r| r != "Never") {
            problem(
                ".rayClusterSpec.headGroupSpec.template.spec.restartPolicy",
                "must be Never or unset in SidecarMode: the submitter container runs once in the head pod",
            );
        }
    }
    if let Some(managed_by) = spec.managed_by.as_deref()
        && !MANAGED_BY_VALUES.contains(&managed_by)
    {
        problem(
            ".managedBy",
            "managedBy must be ray.io/rayop, ray.io/kuberay-operator or kueue.x-k8s.io/multikueue",
        );
    }
    if !spec.runtime_env_yaml.is_empty()
        && !matches!(
            serde_yaml::from_str::<serde_yaml::Value>(&spec.runtime_env_yaml),
            Ok(serde_yaml::Value::Mapping(_))
        )
    {
        problem(
            ".runtimeEnvYAML",
            "must be a YAML mapping, such as 'pip: [requests]'",
        );
    }
    if !spec.entrypoint_resources.is_empty()
        && serde_json::from_str::<BTreeMap<String, f64>>(&spec.entrypoint_resources).is_err()
    {
        problem(
            ".entrypointResources",
            "must be a JSON object of resource names to amounts, such as '{\"Custom_1\": 1}'",
        );
    }
    if let Some(strategy) = &spec.deletion_strategy {
        deletion_problems(spec, strategy, &mut problem);
    }
    out
}

fn deletion_problems(
    spec: &RayJobSpec,
    strategy: &DeletionStrategy,
    problem: &mut impl FnMut(&str, &str),
) {
    let legacy = strategy.on_success.is_some() || strategy.on_failure.is_some();
    let rules = strategy.deletion_rules.as_deref();
    if legacy && rules.is_some() {
        problem(
            ".deletionStrategy",
            "use either onSuccess/onFailure (deprecated) or deletionRules, not both",
        );
    }
    if !(strategy.on_success.is_some() && strategy.on_failure.is_some()) && rules.is_none() {
        problem(
            ".deletionStrategy",
            "set both onSuccess and onFailure, or deletionRules",
        );
    }
    let selector = spec.cluster_selector.is_some();
    let autoscaling = spec
        .ray_cluster_spec
        .as_ref()
        .is_some_and(|c| c.autoscaling_enabled());
    let legacy_policies = [&strategy.on_success, &strategy.on_failure];
    let legacy_policies = legacy_policies
        .iter()
        .filter_map(|p| p.as_ref().map(|p| p.policy));
    let rule_policies = rules.into_iter().flatten().map(|r| r.policy);
    let all: Vec<_> = legacy_policies.clone().chain(rule_policies).collect();
    if spec.shutdown_after_job_finishes
        && legacy_policies
            .clone()
            .any(|p| p == DeletionPolicyType::DeleteNone)
    {
        problem(
            ".deletionStrategy",
            "onSuccess and onFailure cannot be DeleteNone with shutdownAfterJobFinishes: true",
        );
    }
    if selector && all.iter().any(|p| p.touches_cluster()) {
        problem(
            ".deletionStrategy",
            "DeleteCluster and DeleteWorkers cannot be used with clusterSelector: the existing cluster is not the RayJob's",
        );
    }
    if autoscaling && all.contains(&DeletionPolicyType::DeleteWorkers) {
        problem(
            ".deletionStrategy",
            "DeleteWorkers cannot be used when the cluster autoscales (enableInTreeAutoscaling): the autoscaler would bring the workers back",
        );
    }
    let Some(rules) = rules else { return };
    if spec.shutdown_after_job_finishes {
        problem(
            ".shutdownAfterJobFinishes",
            "shutdownAfterJobFinishes cannot be true with deletionStrategy.deletionRules: the rules decide what is deleted",
        );
    }
    if rules.is_empty() || rules.len() > MAX_DELETION_RULES {
        problem(
            ".deletionStrategy.deletionRules",
            &format!("must hold 1 to {MAX_DELETION_RULES} rules"),
        );
    }
    // Seen (condition, policy) pairs, and the TTL of each.
    let mut seen: BTreeMap<(Condition, DeletionPolicyType), i32> = BTreeMap::new();
    for (i, rule) in rules.iter().enumerate() {
        let at = format!(".deletionStrategy.deletionRules[{i}]");
        let c = &rule.condition;
        if c.ttl_seconds < 0 {
            problem(&format!("{at}.condition.ttlSeconds"), "must be 0 or more");
        }
        let Some(condition) = Condition::of(c) else {
            problem(
                &format!("{at}.condition"),
                "set exactly one of jobStatus and jobDeploymentStatus",
            );
            continue;
        };
        if seen
            .insert((condition, rule.policy), c.ttl_seconds)
            .is_some()
        {
            problem(&at, "repeats an earlier rule's condition and policy");
        }
    }
    // For one condition, a wider deletion never comes before a narrower one.
    let order = [
        DeletionPolicyType::DeleteWorkers,
        DeletionPolicyType::DeleteCluster,
        DeletionPolicyType::DeleteSelf,
    ];
    let conditions: Vec<Condition> = seen.keys().map(|(c, _)| *c).collect();
    for condition in conditions {
        let ttls: Vec<(DeletionPolicyType, i32)> = order
            .iter()
            .filter_map(|p| seen.get(&(condition, *p)).map(|ttl| (*p, *ttl)))
            .collect();
        if ttls.windows(2).any(|w| w[0].1 > w[1].1) {
            problem(
                ".deletionStrategy.deletionRules",
                "for one condition, ttlSeconds must not decrease from DeleteWorkers to DeleteCluster to DeleteSelf",
            );
            break;
        }
    }
}

/// The state a deletion rule waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Condition {
    Job(RuleJobStatus),
    Deployment(RuleDeploymentStatus),
}

impl Condition {
    fn of(c: &DeletionCondition) -> Option<Self> {
        match (c.job_status, c.job_deployment_status) {
            (Some(s), None) => Some(Self::Job(s)),
            (None, Some(s)) => Some(Self::Deployment(s)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn job(name: &str, spec: Value) -> RayJob {
        RayJob::new(name, serde_json::from_value(spec).unwrap())
    }

    fn cluster() -> Value {
        json!({"rayVersion": "2.52.0", "headGroupSpec": {"rayStartParams": {}}})
    }

    /// The fields of every problem of `spec` (under `spec`).
    fn fields(spec: Value) -> Vec<String> {
        match validate(&job("j", spec)) {
            Ok(()) => Vec::new(),
            Err(problems) => problems.into_iter().map(|p| p.field).collect(),
        }
    }

    #[test]
    fn a_plain_job_is_valid() {
        assert_eq!(
            fields(json!({"entrypoint": "python x.py", "rayClusterSpec": cluster()})),
            Vec::<String>::new()
        );
        assert_eq!(
            fields(json!({"clusterSelector": {"ray.io/cluster": "c"}})),
            Vec::<String>::new()
        );
    }

    #[test]
    fn names_are_dns1035_labels_of_at_most_47() {
        let spec = json!({"rayClusterSpec": cluster()});
        assert!(validate(&job(&"a".repeat(47), spec.clone())).is_ok());
        assert!(validate(&job(&"a".repeat(48), spec.clone())).is_err());
        assert!(validate(&job("My_Job", spec)).is_err());
    }

    #[test]
    fn a_job_needs_a_cluster_and_a_selector_names_one() {
        assert_eq!(fields(json!({})), ["spec"]);
        assert_eq!(
            fields(json!({"clusterSelector": {"app": "x"}})),
            ["spec.clusterSelector"]
        );
        assert_eq!(
            fields(json!({"clusterSelector": {"ray.io/cluster": ""}})),
            ["spec.clusterSelector"]
        );
    }

    #[test]
    fn suspend_and_ttl_need_shutdown() {
        let c = cluster();
        assert_eq!(
            fields(json!({"rayClusterSpec": c, "suspend": true})),
            ["spec.suspend"]
        );
        assert_eq!(
            fields(json!({"rayClusterSpec": c, "ttlSecondsAfterFinished": 5})),
            ["spec.ttlSecondsAfterFinished"]
        );
        assert!(fields(json!({"rayClusterSpec": c, "suspend": true, "shutdownAfterJobFinishes": true, "ttlSecondsAfterFinished": 5})).is_empty());
        assert_eq!(
            fields(
                json!({"clusterSelector": {"ray.io/cluster": "c"}, "suspend": true, "shutdownAfterJobFinishes": true})
            ),
            ["spec.suspend"]
        );
    }

    #[test]
    fn retries_need_a_cluster_of_the_jobs_own_and_no_interactive_user() {
        assert_eq!(
            fields(json!({"clusterSelector": {"ray.io/cluster": "c"}, "backoffLimit": 1})),
            ["spec.backoffLimit"]
        );
        assert_eq!(
            fields(
                json!({"rayClusterSpec": cluster(), "submissionMode": "InteractiveMode", "backoffLimit": 2})
            ),
            ["spec.backoffLimit"]
        );
        assert!(fields(json!({"rayClusterSpec": cluster(), "backoffLimit": 2})).is_empty());
        assert_eq!(
            fields(json!({"rayClusterSpec": cluster(), "backoffLimit": -1})),
            ["spec.backoffLimit"]
        );
    }

    #[test]
    fn deadlines_and_amounts_have_lower_bounds() {
        let c = cluster();
        assert_eq!(
            fields(json!({"rayClusterSpec": c, "activeDeadlineSeconds": 0})),
            ["spec.activeDeadlineSeconds"]
        );
        assert_eq!(
            fields(json!({"rayClusterSpec": c, "preRunningDeadlineSeconds": 0})),
            ["spec.preRunningDeadlineSeconds"]
        );
        assert_eq!(
            fields(json!({"rayClusterSpec": c, "entrypointNumCpus": -1})),
            ["spec.entrypointNumCpus"]
        );
    }

    #[test]
    fn sidecar_mode_has_no_submitter_and_a_never_restarting_head() {
        let spec = json!({
            "submissionMode": "SidecarMode",
            "clusterSelector": {"ray.io/cluster": "c"},
            "submitterPodTemplate": {"spec": {"containers": []}},
            "submitterConfig": {"backoffLimit": 1}
        });
        assert_eq!(
            fields(spec),
            [
                "spec.clusterSelector",
                "spec.submitterPodTemplate",
                "spec.submitterConfig"
            ]
        );
        let head = json!({"rayVersion": "2.52.0", "headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"restartPolicy": "Always", "containers": [{"name": "ray-head"}]}}}});
        assert_eq!(
            fields(json!({"submissionMode": "SidecarMode", "rayClusterSpec": head})),
            ["spec.rayClusterSpec.headGroupSpec.template.spec.restartPolicy"]
        );
    }

    #[test]
    fn runtime_env_and_resources_must_parse() {
        let c = cluster();
        assert!(fields(json!({"rayClusterSpec": c, "runtimeEnvYAML": "pip:\n  - requests\n", "entrypointResources": "{\"Custom_1\": 1}"})).is_empty());
        assert_eq!(
            fields(json!({"rayClusterSpec": c, "runtimeEnvYAML": "- a list"})),
            ["spec.runtimeEnvYAML"]
        );
        assert_eq!(
            fields(json!({"rayClusterSpec": c, "entrypointResources": "Custom_1=1"})),
            ["spec.entrypointResources"]
        );
    }

    #[test]
    fn managed_by_takes_the_known_controllers() {
        assert!(
            fields(json!({"rayClusterSpec": cluster(), "managedBy": "kueue.x-k8s.io/multikueue"}))
                .is_empty()
        );
        assert_eq!(
            fields(json!({"rayClusterSpec": cluster(), "managedBy": "me"})),
            ["spec.managedBy"]
        );
    }

    #[test]
    fn deletion_styles_do_not_mix_and_are_complete() {
        let c = cluster();
        let rule = json!({"policy": "DeleteCluster", "condition": {"jobStatus": "FAILED"}});
        assert_eq!(
            fields(
                json!({"rayClusterSpec": c, "deletionStrategy": {"onSuccess": {"policy": "DeleteCluster"}, "deletionRules": [rule]}})
            ),
            ["spec.deletionStrategy"]
        );
        assert_eq!(
            fields(
                json!({"rayClusterSpec": c, "deletionStrategy": {"onSuccess": {"policy": "DeleteCluster"}}})
            ),
            ["spec.deletionStrategy"]
        );
        assert_eq!(
            fields(
                json!({"rayClusterSpec": c, "shutdownAfterJobFinishes": true, "deletionStrategy": {"deletionRules": [rule]}})
            ),
            ["spec.shutdownAfterJobFinishes"]
        );
        assert_eq!(
            fields(
                json!({"rayClusterSpec": c, "shutdownAfterJobFinishes": true, "deletionStrategy": {"onSuccess": {"policy": "DeleteNone"}, "onFailure": {"policy": "DeleteCluster"}}})
            ),
            ["spec.deletionStrategy"]
        );
    }

    #[test]
    fn rules_are_unique_ordered_and_spare_an_existing_cluster() {
        let c = cluster();
        let rule = |policy: &str, status: &str, ttl: i32| json!({"policy": policy, "condition": {"jobStatus": status, "ttlSeconds": ttl}});
        let kuberay_sample = json!([
            rule("DeleteWorkers", "FAILED", 30),
            rule("DeleteCluster", "FAILED", 60),
            rule("DeleteSelf", "FAILED", 90),
            rule("DeleteWorkers", "SUCCEEDED", 30),
            rule("DeleteCluster", "SUCCEEDED", 60),
            rule("DeleteSelf", "SUCCEEDED", 90)
        ]);
        assert!(
            fields(
                json!({"rayClusterSpec": c, "deletionStrategy": {"deletionRules": kuberay_sample}})
            )
            .is_empty()
        );
        let repeated = json!([
            rule("DeleteSelf", "FAILED", 1),
            rule("DeleteSelf", "FAILED", 2)
        ]);
        assert_eq!(
            fields(json!({"rayClusterSpec": c, "deletionStrategy": {"deletionRules": repeated}})),
            ["spec.deletionStrategy.deletionRules[1]"]
        );
        let backwards = json!([
            rule("DeleteCluster", "FAILED", 60),
            rule("DeleteWorkers", "FAILED", 90)
        ]);
        assert_eq!(
            fields(json!({"rayClusterSpec": c, "deletionStrategy": {"deletionRules": backwards}})),
            ["spec.deletionStrategy.deletionRules"]
        );
        let other_conditions = json!([
            rule("DeleteCluster", "FAILED", 60),
            rule("DeleteWorkers", "SUCCEEDED", 90)
        ]);
        assert!(fields(json!({"rayClusterSpec": c, "deletionStrategy": {"deletionRules": other_conditions}})).is_empty());
        let both = json!([{"policy": "DeleteSelf", "condition": {"jobStatus": "FAILED", "jobDeploymentStatus": "Failed"}}]);
        assert_eq!(
            fields(json!({"rayClusterSpec": c, "deletionStrategy": {"deletionRules": both}})),
            ["spec.deletionStrategy.deletionRules[0].condition"]
        );
        let on_existing = json!([rule("DeleteCluster", "FAILED", 0)]);
        assert_eq!(
            fields(
                json!({"clusterSelector": {"ray.io/cluster": "c"}, "deletionStrategy": {"deletionRules": on_existing}})
            ),
            ["spec.deletionStrategy"]
        );
    }

    #[test]
    fn delete_workers_is_refused_for_an_autoscaling_cluster() {
        let c = json!({"rayVersion": "2.52.0", "enableInTreeAutoscaling": true, "headGroupSpec": {"rayStartParams": {}}});
        let rules = json!([{"policy": "DeleteWorkers", "condition": {"jobStatus": "FAILED"}}]);
        assert_eq!(
            fields(json!({"rayClusterSpec": c, "deletionStrategy": {"deletionRules": rules}})),
            ["spec.deletionStrategy"]
        );
    }

    #[test]
    fn a_template_is_checked_under_its_own_path() {
        let spec: RayJobSpec =
            serde_json::from_value(json!({"suspend": true, "rayClusterSpec": cluster()})).unwrap();
        let fields: Vec<_> = spec_problems(&spec, "spec.jobTemplate")
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, ["spec.jobTemplate.suspend"]);
    }
}
