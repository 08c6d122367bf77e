//! What `tlsOptions.enabled` adds to a Ray pod template.
//!
//! Role: [`add_tls`] runs last on a head or worker pod, after every other
//! container rayop adds, and gives it:
//! - the secret volume `ray-tls`: the head's Secret (`ray-head-secret-<c>`)
//!   on the head, the workers' (`ray-worker-secret-<c>`) on every worker;
//! - in the Ray container, `wait-gcs-ready` and the `autoscaler` sidecar:
//!   `RAY_USE_TLS=1`, `RAY_TLS_SERVER_CERT`, `RAY_TLS_SERVER_KEY` and
//!   `RAY_TLS_CA_CERT` pointing into `/etc/ray/tls`, where `ray-tls` is
//!   mounted read-only;
//! - a first init container, `wait-for-tls-ip-san`, which waits until the
//!   mounted certificate lists the pod's own IP. A pod's IP is known only
//!   once the pod exists, so its certificate is re-issued after it starts
//!   (rayop adds live pod IPs to the Certificate; the kubelet refreshes the
//!   mounted Secret); Ray must not start with a certificate that does not
//!   name it. It uses the Ray container's image, pull policy and security
//!   context (the image needs `openssl`), and 50m CPU / 64Mi, requests equal
//!   to limits.
//!
//! Invariant: nothing here is added twice: a container or volume of the same
//! name, or a variable already set, is left as it is (validation refuses user
//! values of these names, so only rayop's own can be there).

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{
        Container, EnvVar, PodSpec, ResourceRequirements, SecretVolumeSource, Volume, VolumeMount,
    },
    apimachinery::pkg::api::resource::Quantity,
};

use crate::{
    build::{
        ClusterContext, autoscaler_sidecar::AUTOSCALER_CONTAINER_NAME, env,
        wait_gcs_ready::WAIT_GCS_READY,
    },
    crd::{
        defaults::RAY_CONTAINER_INDEX,
        names::RayNode,
        tls::{
            PkiNames, RAY_TLS_CA_CERT, RAY_TLS_SERVER_CERT, RAY_TLS_SERVER_KEY, RAY_USE_TLS,
            TLS_MOUNT_PATH, TLS_VOLUME,
        },
    },
};

/// Name of the init container that waits for the pod's IP in its certificate.
pub const WAIT_FOR_TLS_IP_SAN: &str = "wait-for-tls-ip-san";
/// Seconds between two looks at the certificate.
pub const RETRY_SECONDS: u32 = 5;

/// The TLS env of a Ray container, in order.
#[must_use]
pub fn tls_env() -> Vec<EnvVar> {
    vec![
        env::value(RAY_USE_TLS, "1"),
        env::value(RAY_TLS_SERVER_CERT, format!("{TLS_MOUNT_PATH}/tls.crt")),
        env::value(RAY_TLS_SERVER_KEY, format!("{TLS_MOUNT_PATH}/tls.key")),
        env::value(RAY_TLS_CA_CERT, format!("{TLS_MOUNT_PATH}/ca.crt")),
    ]
}

/// The script of [`WAIT_FOR_TLS_IP_SAN`]: POSIX sh, reading `POD_IP`.
#[must_use]
pub fn wait_script() -> String {
    format!(
        "until openssl x509 -in {TLS_MOUNT_PATH}/tls.crt -noout -text 2>/dev/null \
         | tr ',' '\\n' | sed 's/^ *//' | grep -qxF \"IP Address:$POD_IP\"; do \
         echo \"Waiting for the certificate in {TLS_MOUNT_PATH} to list this pod's IP $POD_IP\"; \
         sleep {RETRY_SECONDS}; done; \
         echo \"The certificate lists $POD_IP.\""
    )
}

/// Adds the TLS volume, env, mounts and init container to the pod of `node`.
pub fn add_tls(ctx: &ClusterContext<'_>, node: RayNode<'_>, pod: &mut PodSpec) {
    let names = PkiNames::of(ctx.name, ctx.uid);
    let secret = match node {
        RayNode::Head => names.head_secret,
        RayNode::Worker(_) => names.worker_secret,
    };
    let volumes = pod.volumes.get_or_insert_with(Vec::new);
    if volumes.iter().all(|v| v.name != TLS_VOLUME) {
        volumes.push(Volume {
            name: TLS_VOLUME.to_owned(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    for (index, container) in pod.containers.iter_mut().enumerate() {
        if index == RAY_CONTAINER_INDEX || container.name == AUTOSCALER_CONTAINER_NAME {
            add_env_and_mount(container);
        }
    }
    let init = pod.init_containers.get_or_insert_with(Vec::new);
    for container in init.iter_mut().filter(|c| c.name == WAIT_GCS_READY) {
        add_env_and_mount(container);
    }
    if init.iter().all(|c| c.name != WAIT_FOR_TLS_IP_SAN)
        && let Some(ray) = pod.containers.get(RAY_CONTAINER_INDEX)
    {
        let wait = wait_for_ip_san(ray);
        pod.init_containers
            .get_or_insert_with(Vec::new)
            .insert(0, wait);
    }
}

fn tls_mount() -> VolumeMount {
    VolumeMount {
        name: TLS_VOLUME.to_owned(),
        mount_path: TLS_MOUNT_PATH.to_owned(),
        read_only: Some(true),
        ..VolumeMount::default()
    }
}

fn add_env_and_mount(container: &mut Container) {
    let env = container.env.get_or_insert_with(Vec::new);
    for var in tls_env() {
        if env.iter().all(|e| e.name != var.name) {
            env.push(var);
        }
    }
    let mounts = container.volume_mounts.get_or_insert_with(Vec::new);
    if mounts.iter().all(|m| m.name != TLS_VOLUME) {
        mounts.push(tls_mount());
    }
}

/// The init container, modelled on the Ray container `ray`.
fn wait_for_ip_san(ray: &Container) -> Container {
    let amounts: BTreeMap<String, Quantity> = [
        ("cpu".to_owned(), Quantity("50m".to_owned())),
        ("memory".to_owned(), Quantity("64Mi".to_owned())),
    ]
    .into();
    Container {
        name: WAIT_FOR_TLS_IP_SAN.to_owned(),
        image: ray.image.clone(),
        image_pull_policy: ray.image_pull_policy.clone(),
        security_context: ray.security_context.clone(),
        command: Some(vec!["sh".to_owned(), "-c".to_owned()]),
        args: Some(vec![wait_script()]),
        env: Some(vec![env::field_ref("POD_IP", "status.podIP")]),
        volume_mounts: Some(vec![tls_mount()]),
        resources: Some(ResourceRequirements {
            limits: Some(amounts.clone()),
            requests: Some(amounts),
            ..ResourceRequirements::default()
        }),
        ..Container::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::{
        build::{BuildOptions, desired_objects},
        crd::{RayCluster, test_builders::group, tls::TlsOptions},
        desired::Object,
    };
    use k8s_openapi::api::core::v1::PodTemplateSpec;

    fn templates(cluster: &RayCluster) -> (PodTemplateSpec, PodTemplateSpec) {
        let desired = desired_objects(cluster, &BuildOptions::default()).unwrap();
        let template = |o: &Object| match o {
            Object::StatefulSet(s) => s.spec.clone().unwrap().template,
            Object::Deployment(d) => d.spec.clone().unwrap().template,
            other => panic!("{other:?}"),
        };
        (
            template(&desired.head.objects[0]),
            template(&desired.groups[0].1.objects[0]),
        )
    }

    fn tls_cluster() -> RayCluster {
        let mut cluster = RayCluster::test("rc")
            .with_group(group("g"))
            .with_autoscaling();
        cluster.spec.tls_options = Some(TlsOptions {
            enabled: Some(true),
        });
        cluster
    }

    fn has_tls(container: &Container) -> bool {
        let env = container.env.as_deref().unwrap_or_default();
        let value = |name: &str| {
            env.iter()
                .find(|e| e.name == name)
                .and_then(|e| e.value.clone())
        };
        value(RAY_USE_TLS).as_deref() == Some("1")
            && value(RAY_TLS_SERVER_CERT).as_deref() == Some("/etc/ray/tls/tls.crt")
            && value(RAY_TLS_SERVER_KEY).as_deref() == Some("/etc/ray/tls/tls.key")
            && value(RAY_TLS_CA_CERT).as_deref() == Some("/etc/ray/tls/ca.crt")
            && container.volume_mounts.iter().flatten().any(|m| {
                m.name == TLS_VOLUME && m.mount_path == TLS_MOUNT_PATH && m.read_only == Some(true)
            })
    }

    fn secret_of(pod: &PodSpec) -> String {
        pod.volumes
            .iter()
            .flatten()
            .find(|v| v.name == TLS_VOLUME)
            .and_then(|v| v.secret.as_ref()?.secret_name.clone())
            .unwrap()
    }

    #[test]
    fn head_and_workers_get_their_secret_env_mounts_and_init_container() {
        let (head, worker) = templates(&tls_cluster());
        let head = head.spec.unwrap();
        let worker = worker.spec.unwrap();
        assert_eq!(secret_of(&head), "ray-head-secret-rc");
        assert_eq!(secret_of(&worker), "ray-worker-secret-rc");
        assert!(has_tls(&head.containers[0]));
        let autoscaler = head
            .containers
            .iter()
            .find(|c| c.name == AUTOSCALER_CONTAINER_NAME)
            .unwrap();
        assert!(has_tls(autoscaler));
        assert!(has_tls(&worker.containers[0]));
        let init = worker.init_containers.unwrap();
        assert_eq!(init[0].name, WAIT_FOR_TLS_IP_SAN);
        assert_eq!(init[1].name, WAIT_GCS_READY);
        assert!(has_tls(&init[1]));
        let head_init = head.init_containers.unwrap();
        assert_eq!(head_init[0].name, WAIT_FOR_TLS_IP_SAN);
    }

    #[test]
    fn the_init_container_waits_for_the_pod_ip_with_the_ray_image() {
        let (_, worker) = templates(&tls_cluster());
        let worker = worker.spec.unwrap();
        let wait = &worker.init_containers.as_ref().unwrap()[0];
        assert_eq!(wait.image, worker.containers[0].image);
        assert_eq!(wait.command.as_deref().unwrap(), ["sh", "-c"]);
        let pod_ip = &wait.env.as_ref().unwrap()[0];
        assert_eq!(pod_ip.name, "POD_IP");
        assert_eq!(
            pod_ip
                .value_from
                .as_ref()
                .unwrap()
                .field_ref
                .as_ref()
                .unwrap()
                .field_path,
            "status.podIP"
        );
        let limits = wait.resources.as_ref().unwrap().limits.as_ref().unwrap();
        assert_eq!(limits["cpu"], Quantity("50m".into()));
        assert_eq!(limits["memory"], Quantity("64Mi".into()));
        assert!(wait.args.as_ref().unwrap()[0].contains("IP Address:$POD_IP"));
    }

    #[test]
    fn nothing_without_tls() {
        let mut cluster = tls_cluster();
        cluster.spec.tls_options = None;
        let (head, worker) = templates(&cluster);
        for pod in [head.spec.unwrap(), worker.spec.unwrap()] {
            assert!(pod.volumes.iter().flatten().all(|v| v.name != TLS_VOLUME));
            assert!(
                pod.init_containers
                    .iter()
                    .flatten()
                    .all(|c| c.name != WAIT_FOR_TLS_IP_SAN)
            );
            assert!(!has_tls(&pod.containers[0]));
        }
    }

    #[test]
    fn the_script_matches_the_exact_ip_only() {
        let script = wait_script();
        let run = |ip: &str, text: &str| {
            let check = script
                .split("; do")
                .next()
                .unwrap()
                .trim_start_matches("until ")
                .replace(
                    "openssl x509 -in /etc/ray/tls/tls.crt -noout -text 2>/dev/null",
                    &format!("printf '%s\\n' '{text}'"),
                );
            std::process::Command::new("sh")
                .args(["-c", &check])
                .env("POD_IP", ip)
                .status()
                .unwrap()
                .success()
        };
        let san = "            DNS:localhost, IP Address:10.0.0.12, IP Address:127.0.0.1";
        assert!(run("10.0.0.12", san));
        assert!(run("127.0.0.1", san));
        assert!(!run("10.0.0.1", san));
    }
}
