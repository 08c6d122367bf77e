//! The checks of a TLS-enabled spec ([`tls_problems`]).
//!
//! Invariant: with `tlsOptions.enabled`, rayop owns the four TLS env names
//! and the `ray-tls` volume mounted at `/etc/ray/tls`; a spec that sets any
//! of them itself in a Ray container or in `autoscalerOptions` is refused,
//! each problem naming the field.

use k8s_openapi::api::core::v1::{Container, EnvVar, PodTemplateSpec, VolumeMount};
use rayop_machines::SpecProblem;

use crate::crd::{
    defaults::RAY_CONTAINER_INDEX,
    spec::RayClusterSpec,
    tls::{TLS_ENV_NAMES, TLS_MOUNT_PATH, TLS_VOLUME},
};

/// The problems of a TLS-enabled spec: a Ray container or the autoscaler's
/// env that sets one of [`TLS_ENV_NAMES`], or a mount named [`TLS_VOLUME`]
/// or at [`TLS_MOUNT_PATH`]. None when TLS is off.
#[must_use]
pub fn tls_problems(spec: &RayClusterSpec) -> Vec<SpecProblem> {
    let mut out = Vec::new();
    if !spec.tls_enabled() {
        return out;
    }
    if let Some(head) = &spec.head_group_spec
        && let Some(template) = &head.template
    {
        check_ray_container(&mut out, "spec.headGroupSpec.template", template);
    }
    for (i, group) in spec.worker_group_specs.iter().enumerate() {
        if let Some(template) = &group.template {
            check_ray_container(
                &mut out,
                &format!("spec.workerGroupSpecs[{i}].template"),
                template,
            );
        }
    }
    if let Some(options) = &spec.autoscaler_options {
        check_env(
            &mut out,
            "spec.autoscalerOptions.env",
            options.env.as_deref(),
        );
        check_mounts(
            &mut out,
            "spec.autoscalerOptions.volumeMounts",
            options.volume_mounts.as_deref(),
        );
    }
    out
}

fn check_ray_container(out: &mut Vec<SpecProblem>, path: &str, template: &PodTemplateSpec) {
    let Some(ray) = template
        .spec
        .as_ref()
        .and_then(|pod| pod.containers.get(RAY_CONTAINER_INDEX))
    else {
        return;
    };
    let container = format!("{path}.spec.containers[{RAY_CONTAINER_INDEX}]");
    check_container(out, &container, ray);
}

fn check_container(out: &mut Vec<SpecProblem>, path: &str, container: &Container) {
    check_env(out, &format!("{path}.env"), container.env.as_deref());
    check_mounts(
        out,
        &format!("{path}.volumeMounts"),
        container.volume_mounts.as_deref(),
    );
}

fn check_env(out: &mut Vec<SpecProblem>, path: &str, env: Option<&[EnvVar]>) {
    for (i, var) in env.unwrap_or_default().iter().enumerate() {
        if TLS_ENV_NAMES.contains(&var.name.as_str()) {
            out.push(SpecProblem::new(
                format!("{path}[{i}].name"),
                format!(
                    "{} is set by rayop when tlsOptions.enabled is true; remove it",
                    var.name
                ),
            ));
        }
    }
}

fn check_mounts(out: &mut Vec<SpecProblem>, path: &str, mounts: Option<&[VolumeMount]>) {
    for (i, mount) in mounts.unwrap_or_default().iter().enumerate() {
        if mount.name == TLS_VOLUME {
            out.push(SpecProblem::new(
                format!("{path}[{i}].name"),
                format!("the mount name {TLS_VOLUME} is reserved when tlsOptions.enabled is true"),
            ));
        }
        if mount.mount_path.trim_end_matches('/') == TLS_MOUNT_PATH {
            out.push(SpecProblem::new(
                format!("{path}[{i}].mountPath"),
                format!("{TLS_MOUNT_PATH} is reserved for the TLS certificates when tlsOptions.enabled is true"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::crd::tls::{RAY_TLS_CA_CERT, RAY_USE_TLS};
    use crate::crd::{
        RayCluster, autoscaler::AutoscalerOptions, test_builders::group, tls::TlsOptions,
    };

    fn tls(mut cluster: RayCluster) -> RayCluster {
        cluster.spec.tls_options = Some(TlsOptions {
            enabled: Some(true),
        });
        cluster
    }

    #[test]
    fn enabled_only_when_true() {
        let mut spec = RayClusterSpec::default();
        assert!(!spec.tls_enabled());
        spec.tls_options = Some(TlsOptions::default());
        assert!(!spec.tls_enabled());
        spec.tls_options = Some(TlsOptions {
            enabled: Some(true),
        });
        assert!(spec.tls_enabled());
    }

    #[test]
    fn reserved_env_and_mounts_are_refused_with_their_field() {
        let mut cluster = tls(RayCluster::test("rc").with_group(group("g")));
        let template = cluster.spec.worker_group_specs[0]
            .template
            .get_or_insert_with(Default::default);
        let pod = template.spec.get_or_insert_with(Default::default);
        pod.containers = vec![Container {
            name: "ray-worker".into(),
            ..Container::default()
        }];
        let ray = &mut pod.containers[0];
        ray.env = Some(vec![EnvVar {
            name: RAY_USE_TLS.into(),
            value: Some("0".into()),
            ..EnvVar::default()
        }]);
        ray.volume_mounts = Some(vec![VolumeMount {
            name: "certs".into(),
            mount_path: "/etc/ray/tls/".into(),
            ..VolumeMount::default()
        }]);
        cluster.spec.autoscaler_options = Some(AutoscalerOptions {
            volume_mounts: Some(vec![VolumeMount {
                name: TLS_VOLUME.into(),
                mount_path: "/x".into(),
                ..VolumeMount::default()
            }]),
            ..AutoscalerOptions::default()
        });
        let fields: Vec<String> = tls_problems(&cluster.spec)
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(
            fields,
            [
                "spec.workerGroupSpecs[0].template.spec.containers[0].env[0].name",
                "spec.workerGroupSpecs[0].template.spec.containers[0].volumeMounts[0].mountPath",
                "spec.autoscalerOptions.volumeMounts[0].name",
            ]
        );
    }

    #[test]
    fn nothing_is_checked_with_tls_off() {
        let mut cluster = RayCluster::test("rc");
        cluster.spec.autoscaler_options = Some(AutoscalerOptions {
            env: Some(vec![EnvVar {
                name: RAY_TLS_CA_CERT.into(),
                ..EnvVar::default()
            }]),
            ..AutoscalerOptions::default()
        });
        assert!(tls_problems(&cluster.spec).is_empty());
        assert_eq!(tls_problems(&tls(cluster).spec).len(), 1);
    }
}
