//! The RayJob spec summarized for the state machine
//! ([`rayop_machines::rayjob::JobSpec`]).
//!
//! Role: [`summarize`] is what the controller feeds the machine each
//! reconcile. It resolves KubeRay's cleanup precedence (§3.8) into a
//! [`Deletion`]: `deletionStrategy.deletionRules`, else its legacy
//! `onSuccess`/`onFailure`, else `shutdownAfterJobFinishes` (deleting the
//! cluster, or the RayJob when the operator is set to), else nothing.
//! rayop has no `RayJobDeletionPolicy` gate: `deletionStrategy` is always
//! honoured. `clusterSelector` is passed on; the machine plans no cleanup
//! for it.
//!
//! Invariant: `problems` is empty iff the RayJob can run: the rules of
//! [`crate::crd::rayjob::validate`], then (only when those pass, so nothing
//! is said twice) what building the first attempt refuses: its RayCluster
//! (with that cluster's own validation, reported under
//! `spec.rayClusterSpec`), the mode's submission, Kubernetes token auth.
//! Each problem starts with the field to fix. Negative numbers (which
//! validation refuses) read as 0 or unset.

use rayop_machines::rayjob::{
    Deletion, DeletionRule, JobSpec, Policy, RuleCondition, SubmissionMode as MachineMode,
};

use super::{
    JobBuildError,
    cluster::ray_cluster,
    submission::JobSubmission,
    submit_script::{DashboardTarget, submit_script},
};
use crate::crd::{
    rayjob::{
        RayJob, RayJobSpec, SubmissionMode,
        deletion::{
            DeletionPolicy, DeletionPolicyType, DeletionRule as SpecRule, RuleDeploymentStatus,
            RuleJobStatus,
        },
        validate,
    },
    validation::cluster_problems,
};

/// The operator's settings that change what a RayJob means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobSettings {
    /// `DELETE_RAYJOB_CR_AFTER_JOB_FINISHES=true`: `shutdownAfterJobFinishes`
    /// deletes the RayJob (and so everything it owns) instead of only its
    /// RayCluster.
    pub delete_rayjob_after_finish: bool,
}

/// `job`'s spec as the machine reads it (see the module docs).
#[must_use]
pub fn summarize(job: &RayJob, settings: &JobSettings) -> JobSpec {
    let spec = &job.spec;
    let seconds = |v: i32| u32::try_from(v).unwrap_or(0);
    let positive = |v: Option<i32>| v.and_then(|v| u32::try_from(v).ok()).filter(|v| *v > 0);
    JobSpec {
        generation: job.metadata.generation.unwrap_or(0),
        mode: mode(spec.submission_mode),
        ttl_seconds: seconds(spec.ttl_seconds_after_finished),
        active_deadline_seconds: positive(spec.active_deadline_seconds),
        pre_running_deadline_seconds: positive(spec.pre_running_deadline_seconds),
        backoff_limit: spec.backoff_limit.map_or(0, seconds),
        suspend: spec.suspend,
        deletion: deletion(spec, settings),
        cluster_selector: spec.cluster_selector.is_some(),
        user_job_id: !spec.job_id.trim().is_empty(),
        problems: problems(job),
    }
}

/// The machine's spelling of `mode`.
#[must_use]
pub fn mode(mode: SubmissionMode) -> MachineMode {
    match mode {
        SubmissionMode::K8sJobMode => MachineMode::K8sJobMode,
        SubmissionMode::HTTPMode => MachineMode::HTTPMode,
        SubmissionMode::SidecarMode => MachineMode::SidecarMode,
        SubmissionMode::InteractiveMode => MachineMode::InteractiveMode,
    }
}

/// The cleanup after the job ends, KubeRay's precedence resolved.
#[must_use]
pub fn deletion(spec: &RayJobSpec, settings: &JobSettings) -> Deletion {
    if let Some(strategy) = &spec.deletion_strategy {
        if let Some(rules) = &strategy.deletion_rules {
            return Deletion::Rules(rules.iter().filter_map(rule).collect());
        }
        if strategy.on_success.is_some() || strategy.on_failure.is_some() {
            let legacy =
                |p: Option<&DeletionPolicy>| p.map_or(Policy::DeleteNone, |p| policy(p.policy));
            return Deletion::Legacy {
                on_success: legacy(strategy.on_success.as_ref()),
                on_failure: legacy(strategy.on_failure.as_ref()),
            };
        }
    }
    if spec.shutdown_after_job_finishes {
        Deletion::Shutdown {
            delete_self: settings.delete_rayjob_after_finish,
        }
    } else {
        Deletion::Keep
    }
}

fn policy(p: DeletionPolicyType) -> Policy {
    match p {
        DeletionPolicyType::DeleteWorkers => Policy::DeleteWorkers,
        DeletionPolicyType::DeleteCluster => Policy::DeleteCluster,
        DeletionPolicyType::DeleteSelf => Policy::DeleteSelf,
        DeletionPolicyType::DeleteNone => Policy::DeleteNone,
    }
}

/// A rule whose condition names exactly one state; `None` otherwise
/// (validation reports it).
fn rule(r: &SpecRule) -> Option<DeletionRule> {
    let c = &r.condition;
    let condition = match (c.job_status, c.job_deployment_status) {
        (Some(RuleJobStatus::Succeeded), None) => RuleCondition::JobSucceeded,
        (Some(RuleJobStatus::Failed), None) => RuleCondition::JobFailed,
        (None, Some(RuleDeploymentStatus::Failed)) => RuleCondition::DeploymentFailed,
        _ => return None,
    };
    Some(DeletionRule {
        policy: policy(r.policy),
        condition,
        ttl_seconds: u32::try_from(c.ttl_seconds).unwrap_or(0),
    })
}

/// Every reason `job` cannot run, each starting with its field (see the
/// module docs); empty when it can.
#[must_use]
pub fn problems(job: &RayJob) -> Vec<String> {
    if let Err(problems) = validate(job) {
        return problems.iter().map(ToString::to_string).collect();
    }
    let spec = &job.spec;
    let mut out: Vec<String> = Vec::new();
    let mut push = |p: String| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    if spec
        .ray_cluster_spec
        .as_ref()
        .and_then(|c| c.token_auth())
        .is_some_and(|a| a.k8s_token_auth())
    {
        push(JobBuildError::K8sTokenAuth.to_string());
    }
    if spec.cluster_selector.is_none() {
        match ray_cluster(job, 1) {
            Ok(cluster) => {
                for p in cluster_problems(&cluster) {
                    push(match p.field.strip_prefix("spec") {
                        Some(rest) => format!("spec.rayClusterSpec{rest}: {}", p.message),
                        None => format!(
                            "{} (of the RayCluster {:?} the RayJob creates): {}",
                            p.field,
                            cluster.metadata.name.as_deref().unwrap_or_default(),
                            p.message
                        ),
                    });
                }
            }
            Err(e) => push(e.to_string()),
        }
    }
    let submission = match spec.submission_mode {
        SubmissionMode::K8sJobMode if !user_command(spec) => {
            submit_script(job, 1, DashboardTarget::Local(0)).err()
        }
        SubmissionMode::HTTPMode => JobSubmission::of(job, 1).err(),
        // SidecarMode's script is built with its cluster, above; the user
        // submits in InteractiveMode, or runs their own submitter command.
        _ => None,
    };
    if let Some(e) = submission {
        push(e.to_string());
    }
    out
}

/// The submitter template's first container has its own command, so the
/// generated script (and the entrypoint) is not used.
fn user_command(spec: &RayJobSpec) -> bool {
    spec.submitter_pod_template
        .as_ref()
        .and_then(|t| t.spec.as_ref())
        .and_then(|p| p.containers.first())
        .and_then(|c| c.command.as_ref())
        .is_some_and(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::{Value, json};

    fn job(spec: Value) -> RayJob {
        let mut job = RayJob::new("sample", serde_json::from_value(spec).unwrap());
        job.metadata.namespace = Some("ns".into());
        job.metadata.uid = Some("uid".into());
        job.metadata.generation = Some(4);
        job
    }

    fn cluster() -> Value {
        json!({"rayVersion": "2.52.0", "headGroupSpec": {"rayStartParams": {}}})
    }

    fn with(extra: Value) -> Value {
        let mut spec = json!({"entrypoint": "python x.py", "rayClusterSpec": cluster()});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        spec
    }

    fn summary(extra: Value) -> JobSpec {
        summarize(&job(with(extra)), &JobSettings::default())
    }

    #[test]
    fn a_plain_job_summarizes_to_the_defaults() {
        let s = summary(json!({}));
        assert_eq!(
            s,
            JobSpec {
                generation: 4,
                mode: MachineMode::K8sJobMode,
                ..JobSpec::default()
            }
        );
    }

    #[test]
    fn numbers_modes_and_flags_carry_over() {
        let s = summary(json!({
            "submissionMode": "HTTPMode", "backoffLimit": 3, "activeDeadlineSeconds": 60,
            "preRunningDeadlineSeconds": 30, "shutdownAfterJobFinishes": true,
            "ttlSecondsAfterFinished": 10, "suspend": true, "jobId": "mine"
        }));
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        assert_eq!(s.mode, MachineMode::HTTPMode);
        assert_eq!((s.backoff_limit, s.ttl_seconds), (3, 10));
        assert_eq!(s.active_deadline_seconds, Some(60));
        assert_eq!(s.pre_running_deadline_seconds, Some(30));
        assert!(s.suspend && s.user_job_id && !s.cluster_selector);
        assert_eq!(s.deletion, Deletion::Shutdown { delete_self: false });
        let s = summarize(
            &job(with(json!({"shutdownAfterJobFinishes": true}))),
            &JobSettings {
                delete_rayjob_after_finish: true,
            },
        );
        assert_eq!(s.deletion, Deletion::Shutdown { delete_self: true });
        let selector = summarize(
            &job(json!({"entrypoint": "x", "clusterSelector": {"ray.io/cluster": "c"}})),
            &JobSettings::default(),
        );
        assert!(
            selector.cluster_selector && selector.problems.is_empty(),
            "{:?}",
            selector.problems
        );
    }

    #[test]
    fn deletion_strategy_wins_over_shutdown() {
        let legacy = summary(
            json!({"shutdownAfterJobFinishes": true, "deletionStrategy": {
            "onSuccess": {"policy": "DeleteSelf"}, "onFailure": {"policy": "DeleteCluster"}}}),
        );
        assert!(legacy.problems.is_empty(), "{:?}", legacy.problems);
        assert_eq!(
            legacy.deletion,
            Deletion::Legacy {
                on_success: Policy::DeleteSelf,
                on_failure: Policy::DeleteCluster
            }
        );
        let rules = summary(json!({"deletionStrategy": {"deletionRules": [
            {"policy": "DeleteWorkers", "condition": {"jobStatus": "FAILED", "ttlSeconds": 30}},
            {"policy": "DeleteCluster", "condition": {"jobStatus": "SUCCEEDED"}},
            {"policy": "DeleteSelf", "condition": {"jobDeploymentStatus": "Failed", "ttlSeconds": 90}}
        ]}}));
        assert!(rules.problems.is_empty(), "{:?}", rules.problems);
        assert_eq!(
            rules.deletion,
            Deletion::Rules(vec![
                DeletionRule {
                    policy: Policy::DeleteWorkers,
                    condition: RuleCondition::JobFailed,
                    ttl_seconds: 30
                },
                DeletionRule {
                    policy: Policy::DeleteCluster,
                    condition: RuleCondition::JobSucceeded,
                    ttl_seconds: 0
                },
                DeletionRule {
                    policy: Policy::DeleteSelf,
                    condition: RuleCondition::DeploymentFailed,
                    ttl_seconds: 90
                },
            ])
        );
        assert_eq!(summary(json!({})).deletion, Deletion::Keep);
    }

    #[test]
    fn validation_problems_name_their_field() {
        let s = summary(json!({"suspend": true, "activeDeadlineSeconds": 0}));
        assert_eq!(s.problems.len(), 2, "{:?}", s.problems);
        assert!(s.problems[0].starts_with("spec.suspend: "));
        assert!(s.problems[1].starts_with("spec.activeDeadlineSeconds: "));
        assert_eq!(s.active_deadline_seconds, None);
    }

    #[test]
    fn the_built_cluster_is_validated_under_ray_cluster_spec() {
        let long_group = json!({"rayVersion": "2.52.0", "headGroupSpec": {"rayStartParams": {}},
            "workerGroupSpecs": [{"groupName": "g".repeat(10), "rayStartParams": {}}]});
        let mut j = job(json!({"entrypoint": "x", "rayClusterSpec": long_group}));
        assert!(problems(&j).is_empty(), "{:?}", problems(&j));
        j.metadata.name = Some("a".repeat(47));
        let p = problems(&j);
        assert!(
            p.iter()
                .any(|p| p.starts_with("spec.rayClusterSpec.workerGroupSpecs[0]")),
            "a 47-character cluster name leaves no room for the group: {p:?}"
        );
    }

    #[test]
    fn the_submission_is_checked_for_the_mode() {
        let empty = json!({"entrypoint": ""});
        assert_eq!(
            summary(empty.clone()).problems,
            [JobBuildError::EmptyEntrypoint.to_string()]
        );
        let mut http = empty.clone();
        http["submissionMode"] = json!("HTTPMode");
        assert_eq!(summary(http).problems.len(), 1);
        let mut interactive = empty.clone();
        interactive["submissionMode"] = json!("InteractiveMode");
        assert!(summary(interactive).problems.is_empty());
        let own = json!({"entrypoint": "", "submitterPodTemplate": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "s", "image": "i", "command": ["/submitter"]}]}}});
        assert!(summary(own).problems.is_empty());
        let mut sidecar = empty;
        sidecar["submissionMode"] = json!("SidecarMode");
        assert_eq!(
            summary(sidecar).problems,
            [JobBuildError::EmptyEntrypoint.to_string()]
        );
        let old = summarize(
            &job(json!({"entrypoint": "x", "metadata": {"a": "b"},
                "rayClusterSpec": {"rayVersion": "2.5.0", "headGroupSpec": {"rayStartParams": {}}}})),
            &JobSettings::default(),
        );
        assert!(
            old.problems
                .iter()
                .any(|p| p.starts_with("spec.metadata: ")),
            "{:?}",
            old.problems
        );
    }

    #[test]
    fn kubernetes_token_auth_is_refused_once() {
        let mut c = cluster();
        c["rayVersion"] = json!("2.55.0");
        c["authOptions"] = json!({"mode": "token", "enableK8sTokenAuth": true});
        let s = summarize(
            &job(json!({"entrypoint": "x", "submissionMode": "SidecarMode", "rayClusterSpec": c})),
            &JobSettings::default(),
        );
        assert_eq!(s.problems, [JobBuildError::K8sTokenAuth.to_string()]);
    }
}
