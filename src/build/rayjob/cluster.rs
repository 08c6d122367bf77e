//! The RayCluster of one RayJob attempt, and the dashboard address of a
//! cluster.
//!
//! [`ray_cluster`] copies `spec.rayClusterSpec` into a RayCluster named by
//! [`names::cluster_name`], in the RayJob's namespace, with:
//! - labels: the RayJob's, then `ray.io/originated-from-cr-name`,
//!   `ray.io/originated-from-crd: RayJob` and `ray.io/job-submission-mode`;
//! - annotations: the RayJob's, except kubectl's
//!   `last-applied-configuration` (it describes the RayJob, and would make
//!   `kubectl apply` of the cluster diff against the wrong object);
//! - one controller owner reference to the RayJob ([`JobIdentity`]);
//! - SidecarMode: the `ray-job-submitter` container appended to the head
//!   template (replacing one of that name), running the guarded script
//!   against `127.0.0.1:<dashboard port>` (the head's
//!   `rayStartParams.dashboard-port`, where the dashboard listens; its
//!   `RAY_DASHBOARD_ADDRESS` is that address, where KubeRay leaves it empty),
//!   the head's `restartPolicy: Never` and the annotation
//!   `ray.io/disable-provisioned-head-restart: "true"`, as KubeRay stores
//!   them (rayop's head StatefulSet still restarts containers; the script's
//!   guard keeps a restart from resubmitting).
//!
//! Invariant: pure and deterministic; the same RayJob and attempt give the
//! same cluster, so creating it is idempotent by name.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{
    JobBuildError, JobIdentity,
    job_meta::origin_labels,
    names,
    submit_script::{DashboardTarget, LOCAL_DASHBOARD_HOST, submit_script},
    submitter_container::{SUBMITTER_CONTAINER, configure, default_container, submitter_env},
};
use crate::{
    build::{
        BuildOptions, ClusterContext, head_service, ingress, network_policy, ports, ray_start,
    },
    crd::{
        RayCluster, RayClusterSpec, defaults,
        rayjob::{RayJob, SubmissionMode},
    },
};

/// Annotation that keeps the RayCluster controller from recreating a
/// deleted head pod once the cluster was provisioned (SidecarMode: the job
/// died with its head).
pub const DISABLE_PROVISIONED_HEAD_RESTART: &str = "ray.io/disable-provisioned-head-restart";

/// The RayCluster of `attempt` of `job` (see the module docs).
///
/// # Errors
/// The RayJob's missing identity ([`JobIdentity::of`]),
/// [`JobBuildError::SelectedCluster`] with `clusterSelector`,
/// [`JobBuildError::NoClusterSpec`] without `rayClusterSpec`; in
/// SidecarMode, those of [`submit_script`] and [`submitter_env`].
pub fn ray_cluster(job: &RayJob, attempt: u32) -> Result<RayCluster, JobBuildError> {
    let id = JobIdentity::of(job)?;
    if job.spec.cluster_selector.is_some() {
        return Err(JobBuildError::SelectedCluster(
            job.spec.selected_cluster().unwrap_or_default().to_owned(),
        ));
    }
    let mut spec = job
        .spec
        .ray_cluster_spec
        .clone()
        .ok_or(JobBuildError::NoClusterSpec)?;
    let name = names::cluster_name(job, attempt);
    let mode = job.spec.submission_mode;

    let mut labels = job.metadata.labels.clone().unwrap_or_default();
    labels.extend(origin_labels(id.name));
    labels.insert(
        network_policy::JOB_SUBMISSION_MODE_LABEL.to_owned(),
        mode.as_str().to_owned(),
    );
    let mut annotations = job.metadata.annotations.clone().unwrap_or_default();
    annotations.remove(ingress::LAST_APPLIED_ANNOTATION);
    if mode == SubmissionMode::SidecarMode {
        add_sidecar(&mut spec, job, attempt, &name)?;
        annotations.insert(
            DISABLE_PROVISIONED_HEAD_RESTART.to_owned(),
            "true".to_owned(),
        );
    }

    Ok(RayCluster {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(id.namespace.to_owned()),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            owner_references: Some(vec![id.owner]),
            ..ObjectMeta::default()
        },
        spec,
        status: None,
    })
}

/// SidecarMode's changes to the head: the submitter container and
/// `restartPolicy: Never`.
fn add_sidecar(
    spec: &mut RayClusterSpec,
    job: &RayJob,
    attempt: u32,
    cluster: &str,
) -> Result<(), JobBuildError> {
    let port =
        ray_start::dashboard_port(spec.head_group_spec.as_ref().map(|h| &h.ray_start_params));
    let script = submit_script(job, attempt, DashboardTarget::Local(port))?;
    let id = names::submission_id(job, attempt).ok_or(JobBuildError::NoSubmissionId)?;
    let vars = submitter_env(
        &format!("{LOCAL_DASHBOARD_HOST}:{port}"),
        &id,
        cluster,
        spec,
    )?;
    let mut container = default_container(spec);
    configure(&mut container, script, &vars);

    let head = spec.head_group_spec.get_or_insert_with(Default::default);
    let pod = head
        .template
        .get_or_insert_with(defaults::default_head_template)
        .spec
        .get_or_insert_with(Default::default);
    if pod.containers.is_empty() {
        // Keep the Ray container first: the submitter is never it.
        pod.containers.push(defaults::head_container());
    }
    pod.restart_policy = Some("Never".to_owned());
    match pod
        .containers
        .iter_mut()
        .find(|c| c.name == SUBMITTER_CONTAINER)
    {
        Some(existing) => *existing = container,
        None => pod.containers.push(container),
    }
    Ok(())
}

/// The dashboard of `cluster` as its head Service serves it:
/// `<head service>.<namespace>.svc.<domain>:<port named dashboard>` (no
/// scheme), KubeRay's `status.dashboardURL`. The Service name and port are
/// those of [`head_service::head_service`] (`headService.metadata.name` or
/// `<cluster>-head-svc`; the Ray container's port `dashboard`, else 8265).
///
/// # Errors
/// [`JobBuildError::Cluster`] when `cluster` lacks a name, namespace or
/// UID (pass the stored cluster) or the head has no container.
pub fn dashboard_address(
    cluster: &RayCluster,
    options: &BuildOptions,
) -> Result<String, JobBuildError> {
    let ctx = ClusterContext::new(cluster, options)?;
    let port = match head_service::head_service(&ctx)? {
        crate::desired::Object::Service(service) => ingress::dashboard_port(&service),
        _ => None,
    }
    .unwrap_or(i32::from(ports::DASHBOARD_PORT));
    Ok(format!("{}:{port}", ctx.head_host()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::crd::validation::cluster_problems;
    use serde_json::{Value, json};

    fn job(spec: Value) -> RayJob {
        let mut job = RayJob::new("sample", serde_json::from_value(spec).unwrap());
        job.metadata.namespace = Some("ns".into());
        job.metadata.uid = Some("uid-sample".into());
        job.metadata.labels = Some([("team".to_owned(), "ml".to_owned())].into());
        job.metadata.annotations = Some(
            [
                ("note".to_owned(), "x".to_owned()),
                (ingress::LAST_APPLIED_ANNOTATION.to_owned(), "{}".to_owned()),
            ]
            .into(),
        );
        job
    }

    fn cluster_spec() -> Value {
        json!({"rayVersion": "2.52.0", "headGroupSpec": {"rayStartParams": {}, "template": {"spec": {
            "containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}]}}}})
    }

    #[test]
    fn the_cluster_is_the_jobs_named_labelled_and_owned() {
        let j = job(json!({"entrypoint": "python x.py", "rayClusterSpec": cluster_spec()}));
        let c = ray_cluster(&j, 1).unwrap();
        assert_eq!(c.metadata.name, Some(names::cluster_name(&j, 1)));
        assert_ne!(ray_cluster(&j, 2).unwrap().metadata.name, c.metadata.name);
        assert_eq!(c.metadata.namespace.as_deref(), Some("ns"));
        let labels = c.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["team"], "ml");
        assert_eq!(labels["ray.io/originated-from-cr-name"], "sample");
        assert_eq!(labels["ray.io/originated-from-crd"], "RayJob");
        assert_eq!(labels["ray.io/job-submission-mode"], "K8sJobMode");
        let annotations = c.metadata.annotations.as_ref().unwrap();
        assert_eq!(annotations.len(), 1, "{annotations:?}");
        assert_eq!(annotations["note"], "x");
        let owners = c.metadata.owner_references.as_ref().unwrap();
        assert_eq!((owners.len(), owners[0].kind.as_str()), (1, "RayJob"));
        assert_eq!(owners[0].controller, Some(true));
        assert_eq!(Some(c.spec.clone()), j.spec.ray_cluster_spec);
        assert!(
            cluster_problems(&c).is_empty(),
            "{:?}",
            cluster_problems(&c)
        );
        assert_eq!(
            network_policy::rayjob_submitter(&c.metadata),
            Some("sample"),
            "the head's NetworkPolicy admits the submitter"
        );
    }

    #[test]
    fn a_selector_or_a_missing_spec_builds_nothing() {
        let j = job(json!({"clusterSelector": {"ray.io/cluster": "shared"}}));
        assert_eq!(
            ray_cluster(&j, 1),
            Err(JobBuildError::SelectedCluster("shared".into()))
        );
        assert_eq!(
            ray_cluster(&job(json!({})), 1),
            Err(JobBuildError::NoClusterSpec)
        );
        let mut j = job(json!({"rayClusterSpec": cluster_spec()}));
        j.metadata.uid = None;
        assert_eq!(ray_cluster(&j, 1), Err(JobBuildError::MissingUid));
    }

    #[test]
    fn sidecar_mode_adds_the_submitter_to_a_never_restarting_head() {
        let mut spec = cluster_spec();
        spec["headGroupSpec"]["rayStartParams"] = json!({"dashboard-port": "9265"});
        let j = job(
            json!({"entrypoint": "python x.py", "submissionMode": "SidecarMode", "rayClusterSpec": spec}),
        );
        let c = ray_cluster(&j, 1).unwrap();
        assert_eq!(
            c.metadata.annotations.as_ref().unwrap()["ray.io/disable-provisioned-head-restart"],
            "true"
        );
        assert_eq!(
            c.metadata.labels.as_ref().unwrap()["ray.io/job-submission-mode"],
            "SidecarMode"
        );
        let pod = c
            .spec
            .head_group_spec
            .unwrap()
            .template
            .unwrap()
            .spec
            .unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        let names: Vec<_> = pod.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["ray-head", "ray-job-submitter"]);
        let submitter = &pod.containers[1];
        assert_eq!(submitter.image.as_deref(), Some("rayproject/ray:2.52.0"));
        assert_eq!(
            submitter.command.as_ref().unwrap(),
            &["/bin/bash", "-ce", "--"]
        );
        let script = &submitter.args.as_ref().unwrap()[0];
        assert!(
            script.contains("--address http://127.0.0.1:9265 "),
            "{script}"
        );
        let env = submitter.env.as_ref().unwrap();
        let id = env
            .iter()
            .find(|v| v.name == "RAY_JOB_SUBMISSION_ID")
            .unwrap();
        assert_eq!(id.value, names::submission_id(&j, 1));
        let address = env
            .iter()
            .find(|v| v.name == "RAY_DASHBOARD_ADDRESS")
            .unwrap();
        assert_eq!(address.value.as_deref(), Some("127.0.0.1:9265"));
    }

    #[test]
    fn sidecar_mode_without_a_head_template_keeps_the_ray_container_first() {
        let j = job(
            json!({"entrypoint": "python x.py", "submissionMode": "SidecarMode",
            "rayClusterSpec": {"rayVersion": "2.52.0", "headGroupSpec": {"rayStartParams": {}}}}),
        );
        let c = ray_cluster(&j, 1).unwrap();
        let pod = c
            .spec
            .head_group_spec
            .unwrap()
            .template
            .unwrap()
            .spec
            .unwrap();
        let names: Vec<_> = pod.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["ray-head", "ray-job-submitter"]);
        assert_eq!(
            pod.containers[1].image.as_deref(),
            Some("rayproject/ray:2.52.0")
        );
    }

    #[test]
    fn sidecar_mode_needs_something_to_submit() {
        let j = job(json!({"submissionMode": "SidecarMode", "rayClusterSpec": cluster_spec()}));
        assert_eq!(ray_cluster(&j, 1), Err(JobBuildError::EmptyEntrypoint));
    }

    #[test]
    fn the_dashboard_address_is_the_head_services_dashboard_port() {
        let j = job(json!({"rayClusterSpec": cluster_spec()}));
        let mut c = ray_cluster(&j, 1).unwrap();
        assert!(matches!(
            dashboard_address(&c, &BuildOptions::default()),
            Err(JobBuildError::Cluster(crate::build::BuildError::MissingUid))
        ));
        c.metadata.uid = Some("uid-c".into());
        let name = c.metadata.name.clone().unwrap();
        assert_eq!(
            dashboard_address(&c, &BuildOptions::default()).unwrap(),
            format!("{name}-head-svc.ns.svc.cluster.local:8265")
        );
        let head = c.spec.head_group_spec.as_mut().unwrap();
        head.template
            .as_mut()
            .unwrap()
            .spec
            .as_mut()
            .unwrap()
            .containers[0]
            .ports = Some(vec![k8s_openapi::api::core::v1::ContainerPort {
            name: Some("dashboard".into()),
            container_port: 9000,
            ..Default::default()
        }]);
        head.head_service = Some(k8s_openapi::api::core::v1::Service {
            metadata: ObjectMeta {
                name: Some("my-head".into()),
                ..ObjectMeta::default()
            },
            ..Default::default()
        });
        let options = BuildOptions {
            cluster_domain: "corp.example".into(),
            ..BuildOptions::default()
        };
        assert_eq!(
            dashboard_address(&c, &options).unwrap(),
            "my-head.ns.svc.corp.example:9000"
        );
    }
}
