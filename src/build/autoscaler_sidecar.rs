//! The Ray autoscaler sidecar of the head pod, with in-tree autoscaling on.
//!
//! Role: add the container `autoscaler` to the head pod, share the Ray log
//! directory `/tmp/ray` with it, and run the pod as the autoscaler's
//! ServiceAccount.
//!
//! The container runs `ray kuberay-autoscaler --cluster-name
//! $(RAY_CLUSTER_NAME) --cluster-namespace $(RAY_CLUSTER_NAMESPACE)` directly
//! (no shell: the kubelet substitutes the two variables), with
//! `RAY_CLUSTER_NAME`, `RAY_CLUSTER_NAMESPACE`, `RAY_HEAD_POD_NAME` (the pod's
//! name, downward API), `KUBERAY_CRD_VER=v1` and
//! `KUBERAY_GEN_AUTOSCALER_START_CMD` (the start command as one string).
//!
//! # How `autoscalerOptions` map
//! | Option | Where it goes |
//! |---|---|
//! | `image` | the sidecar's image; default: the Ray container's image |
//! | `imagePullPolicy` | the sidecar's; default `IfNotPresent` |
//! | `resources` | the sidecar's; default 500m CPU and 512Mi, requests equal to limits |
//! | `env`, `envFrom` | appended to the sidecar's; a user `env` name replaces rayop's variable of that name |
//! | `volumeMounts` | appended after the `/tmp/ray` mount |
//! | `securityContext` | the sidecar's |
//! | `command`, `args` | when non-empty, replace the sidecar's command and args |
//! | `version: v2` | `RAY_enable_autoscaler_v2=true` on the head's Ray container ([`env`](mod@crate::build::env)) |
//! | `idleTimeoutSeconds`, `upscalingMode` | nothing here: the Ray autoscaler reads them from the RayCluster object itself on every iteration (`spec.autoscalerOptions`), as it reads each group's `idleTimeoutSeconds`, bounds and template |
//! | `idleTimeoutMinutes`, `upscalingSpeed` (the seed's spellings) | nothing here, see below |
//!
//! The seed's two spellings cannot be handed to the sidecar: the Ray
//! autoscaler reads only `idleTimeoutSeconds` and `upscalingMode` from the
//! object, and takes no flag or variable for either setting. What rayop means
//! by them is [`AutoscalerOptions::effective_idle_timeout_seconds`] and
//! [`AutoscalerOptions::effective_upscaling_speed`].
//!
//! Invariant: the sidecar and the Ray container mount the *same* volume at
//! `/tmp/ray`: the Ray container's own volume there if the user mounted one,
//! else the emptyDir `ray-logs`.

use k8s_openapi::api::core::v1::{Container, EmptyDirVolumeSource, PodSpec};

use crate::{
    build::{
        ClusterContext,
        env::{self, RAY_CLUSTER_NAME, RAY_CLUSTER_NAMESPACE},
        shm,
    },
    crd::{autoscaler::AutoscalerOptions, defaults::RAY_CONTAINER_INDEX, names},
};

/// Name of the sidecar container in the head pod, as in KubeRay.
pub const AUTOSCALER_CONTAINER_NAME: &str = "autoscaler";
/// Name of the emptyDir that the sidecar and the Ray container share at
/// [`RAY_LOGS_PATH`] when the user mounted nothing there.
pub const RAY_LOGS_VOLUME: &str = "ray-logs";
/// Where Ray and the autoscaler write logs and session files.
pub const RAY_LOGS_PATH: &str = "/tmp/ray";
/// The sidecar's command when `autoscalerOptions.command` is empty.
pub const DEFAULT_COMMAND: [&str; 1] = ["ray"];
/// The autoscaler's start command, word by word; its first word is
/// [`DEFAULT_COMMAND`] and the rest are the default args.
pub const DEFAULT_ARGS: [&str; 6] = [
    "ray",
    "kuberay-autoscaler",
    "--cluster-name",
    "$(RAY_CLUSTER_NAME)",
    "--cluster-namespace",
    "$(RAY_CLUSTER_NAMESPACE)",
];
/// Env of the sidecar holding the autoscaler's start command, for a user
/// `command`/`args` that wraps it (as in KubeRay); validation refuses it in
/// `autoscalerOptions.env`.
pub use crate::crd::validation::GEN_AUTOSCALER_START_CMD;
/// Pull policy of the sidecar's image when none is given.
pub const DEFAULT_PULL_POLICY: &str = "IfNotPresent";

/// Adds the sidecar to the head `pod`, shares `/tmp/ray`, and sets the pod's
/// ServiceAccount to [`service_account_name`].
pub fn add_autoscaler(ctx: &ClusterContext<'_>, pod: &mut PodSpec) {
    let options = ctx.spec.autoscaler_options.clone().unwrap_or_default();
    let ray_image = pod
        .containers
        .get(RAY_CONTAINER_INDEX)
        .and_then(|ray| ray.image.clone());
    let logs_volume = share_ray_logs(pod);
    let mut sidecar = sidecar(ctx, &options, ray_image);
    shm::add_mount(&mut sidecar, &logs_volume, RAY_LOGS_PATH);
    if let Some(mounts) = &options.volume_mounts {
        sidecar
            .volume_mounts
            .get_or_insert_with(Vec::new)
            .extend(mounts.iter().cloned());
    }
    if pod
        .containers
        .iter()
        .all(|c| c.name != AUTOSCALER_CONTAINER_NAME)
    {
        pod.containers.push(sidecar);
    }
    pod.service_account_name = Some(service_account_name(ctx, pod));
}

/// The head pod's ServiceAccount under autoscaling: the one the template
/// names, else the cluster's name.
#[must_use]
pub fn service_account_name(ctx: &ClusterContext<'_>, pod: &PodSpec) -> String {
    user_service_account(pod)
        .map(str::to_owned)
        .unwrap_or_else(|| names::autoscaler_service_account_name(ctx.name))
}

/// The ServiceAccount the head template names, if any.
#[must_use]
pub fn user_service_account(pod: &PodSpec) -> Option<&str> {
    pod.service_account_name
        .as_deref()
        .filter(|name| !name.is_empty())
}

/// The volume mounted at `/tmp/ray` in the Ray container, adding the emptyDir
/// `ray-logs` there when the user mounted nothing.
pub fn share_ray_logs(pod: &mut PodSpec) -> String {
    if let Some(name) = pod
        .containers
        .get(RAY_CONTAINER_INDEX)
        .and_then(|ray| shm::mount_at(ray, RAY_LOGS_PATH))
    {
        return name.to_owned();
    }
    shm::ensure_empty_dir(pod, RAY_LOGS_VOLUME, EmptyDirVolumeSource::default());
    if let Some(ray) = pod.containers.get_mut(RAY_CONTAINER_INDEX) {
        shm::add_mount(ray, RAY_LOGS_VOLUME, RAY_LOGS_PATH);
    }
    RAY_LOGS_VOLUME.to_owned()
}

/// The sidecar container, without its volume mounts.
fn sidecar(
    ctx: &ClusterContext<'_>,
    options: &AutoscalerOptions,
    ray_image: Option<String>,
) -> Container {
    let ours = vec![
        env::value(RAY_CLUSTER_NAME, ctx.name),
        env::value(RAY_CLUSTER_NAMESPACE, ctx.namespace),
        env::field_ref("RAY_HEAD_POD_NAME", "metadata.name"),
        env::value("KUBERAY_CRD_VER", "v1"),
        env::value(GEN_AUTOSCALER_START_CMD, DEFAULT_ARGS.join(" ")),
    ];
    Container {
        name: AUTOSCALER_CONTAINER_NAME.to_owned(),
        image: options.image.clone().or(ray_image),
        image_pull_policy: Some(
            options
                .image_pull_policy
                .map_or(DEFAULT_PULL_POLICY, pull_policy)
                .to_owned(),
        ),
        command: Some(non_empty_or(options.command.as_deref(), &DEFAULT_COMMAND)),
        args: Some(non_empty_or(options.args.as_deref(), &DEFAULT_ARGS[1..])),
        env: Some(env::merge_env(
            ours,
            options.env.as_deref().unwrap_or_default(),
        )),
        env_from: options.env_from.clone(),
        resources: Some(options.effective_resources()),
        security_context: options.security_context.clone(),
        ..Container::default()
    }
}

/// The user's list when it is non-empty, else `default`.
fn non_empty_or(user: Option<&[String]>, default: &[&str]) -> Vec<String> {
    match user {
        Some(given) if !given.is_empty() => given.to_vec(),
        _ => default.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// The Kubernetes spelling of `policy`.
#[must_use]
pub fn pull_policy(policy: crate::crd::autoscaler::PullPolicy) -> &'static str {
    use crate::crd::autoscaler::PullPolicy;
    match policy {
        PullPolicy::Always => "Always",
        PullPolicy::IfNotPresent => "IfNotPresent",
        PullPolicy::Never => "Never",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        build::BuildOptions,
        crd::{RayCluster, autoscaler::PullPolicy},
    };
    use k8s_openapi::{
        api::core::v1::{EnvVar, ResourceRequirements, SecurityContext, VolumeMount},
        apimachinery::pkg::api::resource::Quantity,
    };

    fn head_pod() -> PodSpec {
        PodSpec {
            containers: vec![Container {
                name: "ray-head".into(),
                image: Some("rayproject/ray:2.6.0".into()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }
    }

    fn with_autoscaler(cluster: &RayCluster, mut pod: PodSpec) -> PodSpec {
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(cluster, &options).unwrap();
        add_autoscaler(&ctx, &mut pod);
        pod
    }

    #[test]
    fn default_sidecar() {
        let pod = with_autoscaler(&RayCluster::test("rc").with_autoscaling(), head_pod());
        assert_eq!(pod.service_account_name.as_deref(), Some("rc"));
        let sidecar = &pod.containers[1];
        assert_eq!(sidecar.name, "autoscaler");
        assert_eq!(sidecar.image.as_deref(), Some("rayproject/ray:2.6.0"));
        assert_eq!(sidecar.image_pull_policy.as_deref(), Some("IfNotPresent"));
        assert_eq!(sidecar.command.as_ref().unwrap(), &["ray"]);
        assert_eq!(
            sidecar.args.as_ref().unwrap().join(" "),
            "kuberay-autoscaler --cluster-name $(RAY_CLUSTER_NAME) --cluster-namespace $(RAY_CLUSTER_NAMESPACE)"
        );
        let env: Vec<_> = sidecar
            .env
            .iter()
            .flatten()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(
            env,
            [
                "RAY_CLUSTER_NAME",
                "RAY_CLUSTER_NAMESPACE",
                "RAY_HEAD_POD_NAME",
                "KUBERAY_CRD_VER",
                "KUBERAY_GEN_AUTOSCALER_START_CMD"
            ]
        );
        let head_pod_name = sidecar.env.as_ref().unwrap()[2]
            .value_from
            .as_ref()
            .and_then(|f| f.field_ref.as_ref())
            .map(|f| f.field_path.clone());
        assert_eq!(head_pod_name.as_deref(), Some("metadata.name"));
        assert_eq!(
            sidecar.env.as_ref().unwrap()[3].value.as_deref(),
            Some("v1")
        );
        let resources = sidecar.resources.as_ref().unwrap();
        assert_eq!(resources.limits, resources.requests);
        assert_eq!(
            resources.limits.as_ref().unwrap()["cpu"],
            Quantity("500m".into())
        );
        assert_eq!(
            resources.limits.as_ref().unwrap()["memory"],
            Quantity("512Mi".into())
        );
        // one shared /tmp/ray volume
        assert_eq!(
            shm::mount_at(&pod.containers[0], "/tmp/ray"),
            Some("ray-logs")
        );
        assert_eq!(shm::mount_at(sidecar, "/tmp/ray"), Some("ray-logs"));
        let volume = &pod.volumes.as_ref().unwrap()[0];
        assert_eq!(volume.name, "ray-logs");
        assert_eq!(volume.empty_dir, Some(EmptyDirVolumeSource::default()));
    }

    #[test]
    fn options_override() {
        let mut cluster = RayCluster::test("rc").with_autoscaling();
        let resources = ResourceRequirements {
            limits: Some([("cpu".to_owned(), Quantity("1".into()))].into()),
            ..ResourceRequirements::default()
        };
        cluster.spec.autoscaler_options = Some(AutoscalerOptions {
            image: Some("my/autoscaler:1".into()),
            image_pull_policy: Some(PullPolicy::Always),
            resources: Some(resources.clone()),
            env: Some(vec![
                env::value("KUBERAY_CRD_VER", "v1"),
                env::value("EXTRA", "1"),
            ]),
            volume_mounts: Some(vec![VolumeMount {
                name: "cfg".into(),
                mount_path: "/cfg".into(),
                ..VolumeMount::default()
            }]),
            security_context: Some(SecurityContext {
                run_as_non_root: Some(true),
                ..SecurityContext::default()
            }),
            ..AutoscalerOptions::default()
        });
        let pod = with_autoscaler(&cluster, head_pod());
        let sidecar = &pod.containers[1];
        assert_eq!(sidecar.image.as_deref(), Some("my/autoscaler:1"));
        assert_eq!(sidecar.image_pull_policy.as_deref(), Some("Always"));
        assert_eq!(sidecar.resources.as_ref(), Some(&resources));
        let env: Vec<&EnvVar> = sidecar.env.iter().flatten().collect();
        assert_eq!(
            env.iter().filter(|e| e.name == "KUBERAY_CRD_VER").count(),
            1
        );
        assert_eq!(env.last().unwrap().name, "EXTRA");
        let mounts: Vec<_> = sidecar
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| m.mount_path.as_str())
            .collect();
        assert_eq!(mounts, ["/tmp/ray", "/cfg"]);
        assert_eq!(
            sidecar
                .security_context
                .as_ref()
                .and_then(|s| s.run_as_non_root),
            Some(true)
        );
    }

    #[test]
    fn user_command_and_args_replace_the_defaults() {
        let mut cluster = RayCluster::test("rc").with_autoscaling();
        cluster.spec.autoscaler_options = Some(AutoscalerOptions {
            command: Some(vec!["/bin/bash".into(), "-lc".into(), "--".into()]),
            args: Some(vec!["echo hi; $KUBERAY_GEN_AUTOSCALER_START_CMD".into()]),
            ..AutoscalerOptions::default()
        });
        let pod = with_autoscaler(&cluster, head_pod());
        let sidecar = &pod.containers[1];
        assert_eq!(
            sidecar.command.as_ref().unwrap(),
            &["/bin/bash", "-lc", "--"]
        );
        assert_eq!(
            sidecar.args.as_ref().unwrap(),
            &["echo hi; $KUBERAY_GEN_AUTOSCALER_START_CMD"]
        );
        let start = sidecar
            .env
            .iter()
            .flatten()
            .find(|e| e.name == GEN_AUTOSCALER_START_CMD)
            .and_then(|e| e.value.clone());
        assert_eq!(
            start.as_deref(),
            Some(
                "ray kuberay-autoscaler --cluster-name $(RAY_CLUSTER_NAME) --cluster-namespace $(RAY_CLUSTER_NAMESPACE)"
            )
        );
    }

    #[test]
    fn empty_command_and_args_keep_the_defaults() {
        let mut cluster = RayCluster::test("rc").with_autoscaling();
        cluster.spec.autoscaler_options = Some(AutoscalerOptions {
            command: Some(vec![]),
            args: Some(vec![]),
            ..AutoscalerOptions::default()
        });
        let pod = with_autoscaler(&cluster, head_pod());
        let sidecar = &pod.containers[1];
        assert_eq!(sidecar.command.as_ref().unwrap(), &["ray"]);
        assert_eq!(sidecar.args.as_ref().unwrap()[0], "kuberay-autoscaler");
    }

    #[test]
    fn a_user_service_account_and_log_volume_are_used() {
        let mut pod = head_pod();
        pod.service_account_name = Some("mine".into());
        shm::add_mount(&mut pod.containers[0], "my-logs", "/tmp/ray");
        let pod = with_autoscaler(&RayCluster::test("rc").with_autoscaling(), pod);
        assert_eq!(pod.service_account_name.as_deref(), Some("mine"));
        assert_eq!(
            shm::mount_at(&pod.containers[1], "/tmp/ray"),
            Some("my-logs")
        );
        assert!(pod.volumes.is_none());
        assert_eq!(pod.containers[0].volume_mounts.as_ref().unwrap().len(), 1);
    }
}
