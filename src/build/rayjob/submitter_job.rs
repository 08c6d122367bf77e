//! The submitter Kubernetes Job of one K8sJobMode attempt.
//!
//! [`submitter_job`] builds the `batch/v1` Job [`names::submitter_job_name`]
//! in the RayJob's namespace:
//! - labels on the Job and its pod template: `ray.io/originated-from-cr-name`,
//!   `ray.io/originated-from-crd: RayJob` and `app.kubernetes.io/created-by:
//!   rayop` (the pod template's own labels stay, ours win);
//! - `backoffLimit`: `submitterConfig.backoffLimit`, else
//!   [`DEFAULT_BACKOFF_LIMIT`]; one controller owner reference to the RayJob;
//! - pod template: `submitterPodTemplate`, else one default
//!   `ray-job-submitter` container ([`default_container`], the head's image)
//!   with `restartPolicy: Never`. A user template without `restartPolicy`
//!   gets `Never` too (a Job refuses the pod default `Always`; KubeRay lets
//!   the Job creation fail), one without containers gets the default one.
//! - its first container is [`configure`]d: the script of
//!   [`submit_script`] against the head Service unless it has its own
//!   `command`, and the submitter env (dashboard `host:port`, submission id,
//!   the cluster's token under token auth).
//!
//! Invariant: pure; the cluster is passed in (the attempt's, or the
//! selected one with `clusterSelector`): its head image and auth are used.

use k8s_openapi::api::{
    batch::v1::{Job, JobSpec},
    core::v1::{PodSpec, PodTemplateSpec},
};
use kube::api::ObjectMeta;

use super::{
    JobBuildError, JobIdentity,
    job_meta::origin_labels,
    names,
    submit_script::{DashboardTarget, submit_script},
    submitter_container::{configure, default_container, submitter_env},
};
use crate::{
    build::BuildError,
    crd::{RayCluster, names::CREATED_BY_VALUE, names::LABEL_CREATED_BY, rayjob::RayJob},
};

/// The submitter Job's `backoffLimit` without `submitterConfig.backoffLimit`.
pub const DEFAULT_BACKOFF_LIMIT: i32 = 2;
/// The submitter pod's `restartPolicy` unless its template sets one.
pub const RESTART_NEVER: &str = "Never";

/// The submitter Job of `attempt` of `job`, submitting to `cluster`'s
/// dashboard at `dashboard_address` (`host:port`, see
/// [`super::cluster::dashboard_address`]).
///
/// # Errors
/// The RayJob's missing identity ([`JobIdentity::of`]), a cluster without
/// a name ([`JobBuildError::Cluster`]), [`JobBuildError::NoSubmissionId`],
/// those of [`submit_script`] (only when the script is used) and of
/// [`submitter_env`].
pub fn submitter_job(
    job: &RayJob,
    attempt: u32,
    cluster: &RayCluster,
    dashboard_address: &str,
) -> Result<Job, JobBuildError> {
    let id = JobIdentity::of(job)?;
    let cluster_name = cluster
        .metadata
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .ok_or(JobBuildError::Cluster(BuildError::MissingName))?;
    let submission_id = names::submission_id(job, attempt).ok_or(JobBuildError::NoSubmissionId)?;
    let vars = submitter_env(
        dashboard_address,
        &submission_id,
        cluster_name,
        &cluster.spec,
    )?;

    let mut labels = origin_labels(id.name);
    labels.insert(LABEL_CREATED_BY.to_owned(), CREATED_BY_VALUE.to_owned());

    let mut template = job
        .spec
        .submitter_pod_template
        .clone()
        .unwrap_or_else(|| PodTemplateSpec {
            metadata: None,
            spec: Some(PodSpec {
                containers: vec![default_container(&cluster.spec)],
                restart_policy: Some(RESTART_NEVER.to_owned()),
                ..PodSpec::default()
            }),
        });
    template
        .metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(Default::default)
        .extend(labels.clone());
    let pod = template.spec.get_or_insert_with(Default::default);
    if pod.restart_policy.is_none() {
        pod.restart_policy = Some(RESTART_NEVER.to_owned());
    }
    if pod.containers.is_empty() {
        pod.containers.push(default_container(&cluster.spec));
    }
    if let Some(submitter) = pod.containers.first_mut() {
        let script = if submitter.command.as_ref().is_none_or(Vec::is_empty) {
            submit_script(job, attempt, DashboardTarget::Service(dashboard_address))?
        } else {
            String::new()
        };
        configure(submitter, script, &vars);
    }

    Ok(Job {
        metadata: ObjectMeta {
            name: Some(names::submitter_job_name(job, attempt)),
            namespace: Some(id.namespace.to_owned()),
            labels: Some(labels),
            owner_references: Some(vec![id.owner]),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(
                job.spec
                    .submitter_config
                    .as_ref()
                    .and_then(|c| c.backoff_limit)
                    .unwrap_or(DEFAULT_BACKOFF_LIMIT),
            ),
            template,
            ..JobSpec::default()
        }),
        status: None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::build::rayjob::cluster::ray_cluster;
    use serde_json::{Value, json};

    const ADDRESS: &str = "c-head-svc.ns.svc.cluster.local:8265";

    fn job(spec: Value) -> RayJob {
        let mut job = RayJob::new("sample", serde_json::from_value(spec).unwrap());
        job.metadata.namespace = Some("ns".into());
        job.metadata.uid = Some("uid-sample".into());
        job
    }

    fn spec(extra: Value) -> Value {
        let mut spec = json!({"entrypoint": "python /home/ray/job.py", "rayClusterSpec": {
            "rayVersion": "2.52.0", "headGroupSpec": {"rayStartParams": {}}}});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        spec
    }

    fn build(j: &RayJob) -> Result<Job, JobBuildError> {
        submitter_job(j, 1, &ray_cluster(j, 1).unwrap(), ADDRESS)
    }

    fn env(job: &Job) -> Vec<(String, String)> {
        let pod = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
        pod.containers[0]
            .env
            .iter()
            .flatten()
            .map(|v| (v.name.clone(), v.value.clone().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn the_default_job_runs_the_script_in_the_heads_image() {
        let j = job(spec(json!({})));
        let built = build(&j).unwrap();
        assert_eq!(built.metadata.name, Some(names::submitter_job_name(&j, 1)));
        assert_eq!(built.metadata.namespace.as_deref(), Some("ns"));
        let labels = built.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["ray.io/originated-from-cr-name"], "sample");
        assert_eq!(labels["ray.io/originated-from-crd"], "RayJob");
        assert_eq!(labels["app.kubernetes.io/created-by"], "rayop");
        let owner = &built.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.controller),
            ("RayJob", Some(true))
        );
        let spec = built.spec.as_ref().unwrap();
        assert_eq!(spec.backoff_limit, Some(2));
        let template = &spec.template;
        assert_eq!(
            template.metadata.as_ref().unwrap().labels.as_ref(),
            Some(labels)
        );
        let pod = template.spec.as_ref().unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        let c = &pod.containers[0];
        assert_eq!(c.name, "ray-job-submitter");
        assert_eq!(c.image.as_deref(), Some("rayproject/ray:2.52.0"));
        assert_eq!(c.command.as_ref().unwrap(), &["/bin/bash", "-ce", "--"]);
        assert!(c.args.as_ref().unwrap()[0].contains(&format!("--address http://{ADDRESS} ")));
        let id = names::submission_id(&j, 1).unwrap();
        assert_eq!(
            env(&built),
            [
                ("PYTHONUNBUFFERED".to_owned(), "1".to_owned()),
                ("RAY_DASHBOARD_ADDRESS".to_owned(), ADDRESS.to_owned()),
                ("RAY_JOB_SUBMISSION_ID".to_owned(), id),
            ]
        );
    }

    #[test]
    fn submitter_config_sets_the_backoff_limit() {
        let j = job(spec(json!({"submitterConfig": {"backoffLimit": 0}})));
        assert_eq!(build(&j).unwrap().spec.unwrap().backoff_limit, Some(0));
    }

    #[test]
    fn a_user_template_keeps_its_command_labels_and_restart_policy() {
        let j = job(spec(json!({"entrypoint": "", "submitterPodTemplate": {
            "metadata": {"labels": {"app": "submitter"}},
            "spec": {"restartPolicy": "OnFailure", "containers": [{
                "name": "light", "image": "quay.io/kuberay/submitter:v1.5.1", "command": ["/submitter"]}]}}})));
        let built = build(&j).unwrap();
        let template = &built.spec.as_ref().unwrap().template;
        let labels = template.metadata.as_ref().unwrap().labels.as_ref().unwrap();
        assert_eq!(labels["app"], "submitter");
        assert_eq!(labels["ray.io/originated-from-crd"], "RayJob");
        let pod = template.spec.as_ref().unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("OnFailure"));
        assert_eq!(pod.containers[0].command.as_ref().unwrap(), &["/submitter"]);
        assert_eq!(
            pod.containers[0].args, None,
            "no script: the entrypoint may be empty"
        );
        assert_eq!(env(&built).len(), 3);
    }

    #[test]
    fn a_user_template_without_command_or_restart_policy_gets_ours() {
        let j = job(spec(
            json!({"submitterPodTemplate": {"spec": {"containers": [{
            "name": "mine", "image": "my/ray:1"}]}}}),
        ));
        let built = build(&j).unwrap();
        let pod = built.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        assert_eq!(pod.containers[0].image.as_deref(), Some("my/ray:1"));
        assert!(pod.containers[0].args.as_ref().unwrap()[0].contains("ray job submit"));
    }

    #[test]
    fn token_auth_gives_the_clusters_token() {
        let mut s = spec(json!({}));
        s["rayClusterSpec"]["authOptions"] = json!({"mode": "token"});
        let j = job(s);
        let cluster = ray_cluster(&j, 1).unwrap();
        let built = submitter_job(&j, 1, &cluster, ADDRESS).unwrap();
        let pod = built.spec.unwrap().template.spec.unwrap();
        let env = pod.containers[0].env.clone().unwrap();
        assert_eq!(env[3].name, "RAY_AUTH_MODE");
        assert_eq!(env[3].value.as_deref(), Some("token"));
        let secret = env[4].value_from.clone().unwrap().secret_key_ref.unwrap();
        assert_eq!(env[4].name, "RAY_AUTH_TOKEN");
        assert_eq!(secret.name, cluster.metadata.name.unwrap());
        assert_eq!(secret.key, "auth_token");
    }

    #[test]
    fn a_selected_cluster_gives_image_and_address() {
        let j = job(
            json!({"entrypoint": "python x.py", "clusterSelector": {"ray.io/cluster": "shared"}}),
        );
        let mut shared = RayCluster::test("shared").with_ray_version("2.46.0");
        let built =
            submitter_job(&j, 1, &shared, "shared-head-svc.ns.svc.cluster.local:8265").unwrap();
        let pod = built.spec.unwrap().template.spec.unwrap();
        assert_eq!(
            pod.containers[0].image.as_deref(),
            Some("rayproject/ray:2.46.0")
        );
        shared.metadata.name = None;
        assert_eq!(
            submitter_job(&j, 1, &shared, ADDRESS),
            Err(JobBuildError::Cluster(BuildError::MissingName))
        );
    }

    #[test]
    fn errors_name_the_field() {
        let j = job(spec(json!({"runtimeEnvYAML": "- not a mapping"})));
        let err = build(&j).unwrap_err().to_string();
        assert!(err.starts_with("spec.runtimeEnvYAML: "), "{err}");
    }
}
