//! The pod template of a Ray node, head or worker: the user's template with
//! rayop's labels and a runnable Ray container.
//!
//! Role: the part the head StatefulSet and the worker workloads share. The
//! Ray container is the first container ([`RAY_CONTAINER_INDEX`]); it gets:
//! - the command `["/bin/bash", "-c", "--"]` and one argument
//!   `ulimit -n ${RAY_START_ULIMIT_OPEN_FILES:-65536}; <user command> && ray start …`
//!   ([`ray_start`]): the open-file limit is the container's own
//!   `RAY_START_ULIMIT_OPEN_FILES` when it sets one, else 65536; rayop never
//!   injects that variable. The
//!   user's `command` and `args`, joined with spaces, are shell text as in
//!   KubeRay; they run first, and Ray starts only if they succeed (with
//!   `--block`, nothing after `ray start` would ever run). When the user's
//!   command or args already contain `ray start`, or the RayCluster or the
//!   pod template has the annotation `ray.io/overwrite-container-cmd: "true"`
//!   (any case), they are kept unchanged: the user starts Ray themselves, and
//!   `KUBERAY_GEN_RAY_START_CMD` still tells them what rayop would run;
//! - the [`env`](mod@env) variables, the [`probes`], a memory-backed `/dev/shm`
//!   ([`shm`]) and the default [`ports`] (head: its five Service ports,
//!   workers: `metrics`).
//!
//! Every init container already in the template gets `FQ_RAY_IP` and `RAY_IP`
//! ([`env::add_init_container_env`]).
//!
//! A group's `labels` and `resources` add `ray start` flags
//! ([`ray_node_options`]).
//!
//! Pod labels: [`names::pod_labels`], then the template's own labels with the
//! group's `labels` over them, except the three rayop owns (`ray.io/cluster`, `ray.io/node-type`,
//! `ray.io/group`), which a template can never override. The pod's
//! `restartPolicy` is cleared unless it is `Always`, the only policy a
//! StatefulSet or Deployment accepts.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};

use crate::{
    build::{
        BuildError, ClusterContext, env, gcs_storage, ports, probes, ray_node_options,
        ray_start::{self, RayStartInput},
        shm,
    },
    crd::{
        defaults::RAY_CONTAINER_INDEX,
        names::{self, RayNode},
    },
};

/// The shell prefix that raises the open-file limit for Ray and its workers:
/// the container's [`ULIMIT_ENV`] when set and non-empty, else 65536.
pub const ULIMIT: &str = "ulimit -n ${RAY_START_ULIMIT_OPEN_FILES:-65536}";
/// The variable of the Ray container's own env that sets [`ULIMIT`]'s limit.
pub const ULIMIT_ENV: &str = "RAY_START_ULIMIT_OPEN_FILES";
/// The Ray container's command; its single argument is the script.
pub const SHELL: [&str; 3] = ["/bin/bash", "-c", "--"];

/// The Ray container of `template`: its container at [`RAY_CONTAINER_INDEX`].
///
/// # Errors
/// [`BuildError::NoContainer`] when the template has none.
pub fn ray_container<'a>(
    template: &'a PodTemplateSpec,
    node: RayNode<'_>,
) -> Result<&'a Container, BuildError> {
    template
        .spec
        .as_ref()
        .and_then(|pod| pod.containers.get(RAY_CONTAINER_INDEX))
        .ok_or_else(|| no_container(node))
}

fn no_container(node: RayNode<'_>) -> BuildError {
    BuildError::NoContainer {
        group: node.group_label().to_owned(),
    }
}

/// `template` turned into the pod template of a Ray `node`, with `params` as
/// its `rayStartParams` (see the module docs).
///
/// # Errors
/// [`BuildError::NoContainer`] for a template without containers, and the
/// errors of [`ray_start::ray_start_command`].
pub fn ray_pod_template(
    ctx: &ClusterContext<'_>,
    node: RayNode<'_>,
    mut template: PodTemplateSpec,
    params: Option<&BTreeMap<String, String>>,
) -> Result<PodTemplateSpec, BuildError> {
    let options = ray_node_options::node_options(ctx.spec, node);
    let meta = template.metadata.get_or_insert_with(Default::default);
    let user_labels =
        ray_node_options::merged_pod_labels(meta.labels.take().unwrap_or_default(), options);
    meta.labels = Some(pod_labels(ctx, node, user_labels));

    let keep_command =
        ctx.overwrite_container_cmd || names::overwrites_container_cmd(meta.annotations.as_ref());

    let pod = template.spec.get_or_insert_with(PodSpec::default);
    if pod.restart_policy.as_deref().is_some_and(|p| p != "Always") {
        pod.restart_policy = None;
    }
    let empty = BTreeMap::new();
    let params = ray_node_options::with_node_options(params.unwrap_or(&empty), options);
    let params: &BTreeMap<String, String> = &params;
    let ray = pod
        .containers
        .get_mut(RAY_CONTAINER_INDEX)
        .ok_or_else(|| no_container(node))?;
    let command = ray_start::ray_start_command(&RayStartInput {
        node,
        params,
        resources: ray.resources.as_ref(),
        autoscaling: ctx.spec.autoscaling_enabled(),
        head_address: &ctx.head_address(),
        redis_password_in_env: node == RayNode::Head && env::redis_password_in_env(ctx),
        redis_username_in_env: node == RayNode::Head && env::redis_username_in_env(ctx),
    })?;
    if !keep_command {
        set_command(ray, &command);
    }
    let ours = env::ray_env(ctx, node, &command);
    ray.env = Some(env::merge_env(ours, ray.env.as_deref().unwrap_or_default()));
    let default_ports = match node {
        RayNode::Head => {
            ports::head_ports(ray, ctx.gcs_port(), ray_start::metrics_port(Some(params)))
        }
        RayNode::Worker(_) => ports::worker_ports(ray, ray_start::metrics_port(Some(params))),
    };
    ports::add_default_container_ports(ray, &default_ports);
    probes::add_probes(
        ray,
        node,
        &ctx.spec.ray_version,
        probes::ProbePorts {
            agent: ray_start::dashboard_agent_port(Some(params)),
            dashboard: ray_start::dashboard_port(Some(params)),
        },
    );
    shm::mount_shared_memory(pod, RAY_CONTAINER_INDEX);
    env::add_init_container_env(ctx, pod);
    if node == RayNode::Head {
        gcs_storage::mount_storage(ctx, pod, RAY_CONTAINER_INDEX);
        gcs_storage::annotate_head_pod(ctx, &mut template);
    }
    Ok(template)
}

/// [`names::pod_labels`] plus the template's labels, except the protected ones.
fn pod_labels(
    ctx: &ClusterContext<'_>,
    node: RayNode<'_>,
    user: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut labels = names::pod_labels(ctx.name, node);
    labels.extend(
        user.into_iter()
            .filter(|(key, _)| !names::PROTECTED_LABELS.contains(&key.as_str())),
    );
    labels
}

/// Sets the container's command to run `ray_start` after the user's command.
fn set_command(ray: &mut Container, ray_start: &str) {
    let user = ray
        .command
        .iter()
        .flatten()
        .chain(ray.args.iter().flatten())
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    if user.contains("ray start") {
        return;
    }
    let script = if user.trim().is_empty() {
        format!("{ULIMIT}; {ray_start}")
    } else {
        format!("{ULIMIT}; {user} && {ray_start}")
    };
    ray.command = Some(SHELL.iter().map(|s| (*s).to_owned()).collect());
    ray.args = Some(vec![script]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        build::BuildOptions,
        crd::{
            RayCluster, effective_head_template, effective_worker_template, test_builders::group,
        },
    };

    fn head(cluster: &RayCluster) -> PodTemplateSpec {
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(cluster, &options).unwrap();
        let params = cluster
            .spec
            .head_group_spec
            .as_ref()
            .map(|h| &h.ray_start_params);
        ray_pod_template(
            &ctx,
            RayNode::Head,
            effective_head_template(&cluster.spec),
            params,
        )
        .unwrap()
    }

    fn ray(template: &PodTemplateSpec) -> &Container {
        &template.spec.as_ref().unwrap().containers[0]
    }

    #[test]
    fn command_is_bash_with_ulimit_and_ray_start() {
        let template = head(&RayCluster::test("rc"));
        let c = ray(&template);
        assert_eq!(c.command.as_ref().unwrap(), &["/bin/bash", "-c", "--"]);
        let args = c.args.as_ref().unwrap();
        assert_eq!(args.len(), 1);
        assert!(
            args[0].starts_with("ulimit -n ${RAY_START_ULIMIT_OPEN_FILES:-65536}; ray start "),
            "{}",
            args[0]
        );
        assert!(args[0].contains(" --head"));
        // 1 CPU, 2Gi from the default head template
        assert!(args[0].contains("--num-cpus=1"));
        assert!(args[0].contains("--memory=2147483648"));
    }

    #[test]
    fn the_open_file_limit_comes_from_the_container_env() {
        // A fake `ulimit` prints the limit bash hands it.
        let run = |env: &str| {
            let script = format!(
                "ulimit() {{ echo \"limit $2\"; }}; ray() {{ :; }}; {env} {ULIMIT}; ray start"
            );
            crate::build::shell_quote::test_bash::run(&script)
                .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        };
        let Some(default) = run("") else {
            return;
        };
        assert_eq!(default, "limit 65536\n");
        assert_eq!(run(&format!("{ULIMIT_ENV}=1024;")).unwrap(), "limit 1024\n");
        assert_eq!(run(&format!("{ULIMIT_ENV}=;")).unwrap(), "limit 65536\n");
        // rayop never sets the variable itself.
        let template = head(&RayCluster::test("rc"));
        assert!(
            ray(&template)
                .env
                .iter()
                .flatten()
                .all(|e| e.name != ULIMIT_ENV)
        );
    }

    #[test]
    fn probes_follow_a_custom_dashboard_port() {
        let mut cluster = RayCluster::test("rc");
        let mut head_spec = cluster.spec.head_group_spec.clone().unwrap_or_default();
        head_spec
            .ray_start_params
            .insert("dashboard-port".into(), "9265".into());
        cluster.spec.head_group_spec = Some(head_spec);
        cluster.spec.ray_version = "2.41.0".into();
        let built = head(&cluster);
        let command = ray(&built)
            .readiness_probe
            .as_ref()
            .and_then(|p| p.exec.as_ref())
            .and_then(|e| e.command.as_ref())
            .unwrap()[2]
            .clone();
        assert!(
            command.ends_with("http://localhost:9265/api/gcs_healthz | grep success"),
            "{command}"
        );
    }

    #[test]
    fn user_init_containers_get_the_head_host() {
        let mut cluster = RayCluster::test("rc");
        let mut template = effective_head_template(&cluster.spec);
        template.spec.as_mut().unwrap().init_containers = Some(vec![Container {
            name: "setup".into(),
            ..Container::default()
        }]);
        cluster.spec.head_group_spec = Some(crate::crd::head::HeadGroupSpec {
            template: Some(template),
            ..Default::default()
        });
        let built = head(&cluster);
        let init = &built
            .spec
            .as_ref()
            .unwrap()
            .init_containers
            .as_ref()
            .unwrap()[0];
        let fqdn = init
            .env
            .iter()
            .flatten()
            .find(|e| e.name == env::FQ_RAY_IP)
            .and_then(|e| e.value.as_deref());
        assert_eq!(fqdn, Some("rc-head-svc.default.svc.cluster.local"));
    }

    #[test]
    fn a_user_command_runs_first() {
        let mut cluster = RayCluster::test("rc");
        let mut template = effective_head_template(&cluster.spec);
        let c = &mut template.spec.as_mut().unwrap().containers[0];
        c.command = Some(vec!["pip".into(), "install".into()]);
        c.args = Some(vec!["requests".into()]);
        cluster.spec.head_group_spec = Some(crate::crd::head::HeadGroupSpec {
            template: Some(template),
            ..Default::default()
        });
        let args = ray(&head(&cluster)).args.clone().unwrap();
        assert!(
            args[0].starts_with(
                "ulimit -n ${RAY_START_ULIMIT_OPEN_FILES:-65536}; pip install requests && ray start "
            ),
            "{}",
            args[0]
        );
    }

    #[test]
    fn a_user_ray_start_is_kept() {
        let mut cluster = RayCluster::test("rc");
        let mut template = effective_head_template(&cluster.spec);
        let c = &mut template.spec.as_mut().unwrap().containers[0];
        c.command = Some(vec!["ray start --head --block".into()]);
        cluster.spec.head_group_spec = Some(crate::crd::head::HeadGroupSpec {
            template: Some(template),
            ..Default::default()
        });
        let built = head(&cluster);
        let c = ray(&built);
        assert_eq!(c.command.as_ref().unwrap(), &["ray start --head --block"]);
        assert_eq!(c.args, None);
        let generated = c
            .env
            .iter()
            .flatten()
            .find(|e| e.name == env::KUBERAY_GEN_RAY_START_CMD)
            .and_then(|e| e.value.clone())
            .unwrap();
        assert!(generated.starts_with("ray start "));
    }

    fn with_head_command(cluster: &mut RayCluster, annotation: Option<&str>) {
        let mut template = effective_head_template(&cluster.spec);
        if let Some(value) = annotation {
            template
                .metadata
                .get_or_insert_with(Default::default)
                .annotations = Some(
                [(
                    names::OVERWRITE_CONTAINER_CMD_ANNOTATION.to_owned(),
                    value.to_owned(),
                )]
                .into(),
            );
        }
        let c = &mut template.spec.as_mut().unwrap().containers[0];
        c.command = Some(vec!["/bin/sh".into(), "-c".into()]);
        c.args = Some(vec!["echo hi; exec $KUBERAY_GEN_RAY_START_CMD".into()]);
        cluster.spec.head_group_spec = Some(crate::crd::head::HeadGroupSpec {
            template: Some(template),
            ..Default::default()
        });
    }

    #[test]
    fn the_template_annotation_keeps_the_user_command() {
        let mut cluster = RayCluster::test("rc");
        with_head_command(&mut cluster, Some("TRUE"));
        let c = ray(&head(&cluster)).clone();
        assert_eq!(c.command.unwrap(), ["/bin/sh", "-c"]);
        assert_eq!(
            c.args.unwrap(),
            ["echo hi; exec $KUBERAY_GEN_RAY_START_CMD"]
        );
        assert!(
            c.env
                .iter()
                .flatten()
                .any(|e| e.name == env::KUBERAY_GEN_RAY_START_CMD)
        );
    }

    #[test]
    fn the_cluster_annotation_keeps_the_user_command() {
        let mut cluster = RayCluster::test("rc");
        with_head_command(&mut cluster, None);
        cluster.metadata.annotations = Some(
            [(
                names::OVERWRITE_CONTAINER_CMD_ANNOTATION.to_owned(),
                "true".to_owned(),
            )]
            .into(),
        );
        let c = ray(&head(&cluster)).clone();
        assert_eq!(c.command.unwrap(), ["/bin/sh", "-c"]);
    }

    #[test]
    fn without_the_annotation_or_with_false_the_command_is_wrapped() {
        for annotation in [None, Some("false")] {
            let mut cluster = RayCluster::test("rc");
            with_head_command(&mut cluster, annotation);
            let c = ray(&head(&cluster)).clone();
            assert_eq!(c.command.unwrap(), ["/bin/bash", "-c", "--"]);
            assert!(c.args.unwrap()[0].contains("/bin/sh -c echo hi"));
        }
    }

    #[test]
    fn ray_start_in_the_args_keeps_the_command() {
        let mut cluster = RayCluster::test("rc");
        let mut template = effective_head_template(&cluster.spec);
        let c = &mut template.spec.as_mut().unwrap().containers[0];
        c.command = Some(vec!["/bin/bash".into(), "-c".into()]);
        c.args = Some(vec!["ray start --head --block".into()]);
        cluster.spec.head_group_spec = Some(crate::crd::head::HeadGroupSpec {
            template: Some(template),
            ..Default::default()
        });
        let c = ray(&head(&cluster)).clone();
        assert_eq!(c.command.unwrap(), ["/bin/bash", "-c"]);
        assert_eq!(c.args.unwrap(), ["ray start --head --block"]);
    }

    #[test]
    fn protected_labels_cannot_be_overridden_others_can() {
        let mut cluster = RayCluster::test("rc");
        let mut template = effective_head_template(&cluster.spec);
        template.metadata = Some(kube::api::ObjectMeta {
            labels: Some(
                [
                    ("ray.io/cluster", "evil"),
                    ("ray.io/node-type", "worker"),
                    ("ray.io/group", "x"),
                    ("team", "ml"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            ),
            ..Default::default()
        });
        cluster.spec.head_group_spec = Some(crate::crd::head::HeadGroupSpec {
            template: Some(template),
            ..Default::default()
        });
        let built = head(&cluster);
        let labels = built.metadata.unwrap().labels.unwrap();
        assert_eq!(labels["ray.io/cluster"], "rc");
        assert_eq!(labels["ray.io/node-type"], "head");
        assert_eq!(labels["ray.io/group"], "headgroup");
        assert_eq!(labels["ray.io/is-ray-node"], "yes");
        assert_eq!(labels["team"], "ml");
    }

    #[test]
    fn head_and_worker_ports_probes_and_shm() {
        let cluster = RayCluster::test("rc").with_group(group("g"));
        let built = head(&cluster);
        let names: Vec<_> = ray(&built)
            .ports
            .iter()
            .flatten()
            .map(|p| (p.name.clone().unwrap(), p.container_port))
            .collect();
        assert_eq!(
            names,
            [
                ("gcs-server".to_owned(), 6379),
                ("dashboard".to_owned(), 8265),
                ("client".to_owned(), 10001),
                ("metrics".to_owned(), 8080),
                ("serve".to_owned(), 8000)
            ]
        );
        assert!(ray(&built).liveness_probe.is_some());
        assert_eq!(shm::mount_at(ray(&built), "/dev/shm"), Some("shared-mem"));

        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        let g = &cluster.spec.worker_group_specs[0];
        let worker = ray_pod_template(
            &ctx,
            RayNode::Worker("g"),
            effective_worker_template(&cluster.spec, g),
            Some(&g.ray_start_params),
        )
        .unwrap();
        let ports: Vec<_> = ray(&worker)
            .ports
            .iter()
            .flatten()
            .map(|p| (p.name.clone().unwrap(), p.container_port))
            .collect();
        assert_eq!(ports, [("metrics".to_owned(), 8080)]);
        assert!(
            ray(&worker).args.as_ref().unwrap()[0]
                .contains("--address=rc-head-svc.default.svc.cluster.local:6379")
        );
    }

    #[test]
    fn restart_policy_must_be_always() {
        let mut cluster = RayCluster::test("rc");
        let mut template = effective_head_template(&cluster.spec);
        template.spec.as_mut().unwrap().restart_policy = Some("Never".into());
        cluster.spec.head_group_spec = Some(crate::crd::head::HeadGroupSpec {
            template: Some(template),
            ..Default::default()
        });
        assert_eq!(head(&cluster).spec.unwrap().restart_policy, None);
    }

    #[test]
    fn no_container_is_an_error() {
        let cluster = RayCluster::test("rc");
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        let empty = PodTemplateSpec {
            metadata: None,
            spec: Some(PodSpec::default()),
        };
        assert_eq!(
            ray_pod_template(&ctx, RayNode::Worker("g"), empty, None),
            Err(BuildError::NoContainer { group: "g".into() })
        );
    }
}
