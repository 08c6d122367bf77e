//! Ray token authentication in the pods, and the token Secret rayop owns.
//!
//! Role: with `authOptions.mode: token`, every process that talks to Ray
//! needs the token: the Ray container (index 0) of the head and every
//! worker, the workers' `wait-gcs-ready` init container, the `autoscaler`
//! sidecar and the `ray-history-collector` sidecar. [`add_auth`] gives each
//! of them, when it does not set the name itself:
//! - `RAY_AUTH_MODE=token`, then
//! - `RAY_AUTH_TOKEN` from the Secret's key `auth_token` (rayop's Secret,
//!   or the user's `secretName`), or, with `enableK8sTokenAuth`,
//!   `RAY_ENABLE_K8S_TOKEN_AUTH=true` and a read-only mount of the projected
//!   ServiceAccount token volume `ray-token` at
//!   `/var/run/secrets/ray.io/serviceaccount`.
//!
//! [`auth_secret`] is the Secret rayop creates when
//! [`AuthOptions::creates_secret`](crate::crd::auth::AuthOptions::creates_secret):
//! labels and owner as every object rayop builds, and **no data**. The
//! builder is pure, so it cannot draw the token; the interpreter fills in 32
//! random bytes (base64) when it creates the Secret, and never writes it
//! again: the Secret is not part of any spec hash, so no spec edit, re-apply
//! or operator restart rotates the token, and the token never enters the
//! journal.

use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, PodSpec, ProjectedVolumeSource, Secret, SecretKeySelector,
    ServiceAccountTokenProjection, Volume, VolumeMount, VolumeProjection,
};

use crate::{
    build::{
        ClusterContext, autoscaler_sidecar::AUTOSCALER_CONTAINER_NAME, env,
        object_meta::object_meta, wait_gcs_ready::WAIT_GCS_READY,
    },
    crd::{
        RayClusterSpec,
        auth::AuthOptions,
        defaults::RAY_CONTAINER_INDEX,
        names::{self, RayNode},
        option_checks::COLLECTOR_CONTAINER,
    },
    desired::Object,
};

/// The key of the token in the Secret.
pub const AUTH_TOKEN_KEY: &str = "auth_token";
/// `token` turns Ray's authentication on.
pub const RAY_AUTH_MODE: &str = "RAY_AUTH_MODE";
/// The shared token, from the Secret.
pub const RAY_AUTH_TOKEN: &str = "RAY_AUTH_TOKEN";
/// `true`: Ray checks ServiceAccount tokens with the API server.
pub const RAY_ENABLE_K8S_TOKEN_AUTH: &str = "RAY_ENABLE_K8S_TOKEN_AUTH";
/// The projected ServiceAccount token volume and its mounts.
pub const RAY_TOKEN_VOLUME: &str = "ray-token";
/// Where the projected token is mounted.
pub const RAY_TOKEN_PATH: &str = "/var/run/secrets/ray.io/serviceaccount";
/// The token's file name in the projected volume.
pub const RAY_TOKEN_FILE: &str = "token";

/// The Secret whose key `auth_token` the pods read: `secretName`, else
/// rayop's own Secret. `None` without a shared token.
#[must_use]
pub fn token_secret_name(ctx: &ClusterContext<'_>) -> Option<String> {
    cluster_token_secret_name(ctx.spec, ctx.name)
}

/// [`token_secret_name`] of the cluster called `cluster` with `spec`, for
/// callers without a [`ClusterContext`] (a RayJob's submitter, built before
/// its cluster is stored).
#[must_use]
pub fn cluster_token_secret_name(spec: &RayClusterSpec, cluster: &str) -> Option<String> {
    let auth = spec.token_auth()?;
    if auth.k8s_token_auth() {
        return None;
    }
    Some(
        auth.user_secret()
            .map_or_else(|| names::auth_secret_name(cluster), str::to_owned),
    )
}

/// The token Secret rayop creates, without its token (see the module docs);
/// `None` unless rayop creates one.
#[must_use]
pub fn auth_secret(ctx: &ClusterContext<'_>) -> Option<Object> {
    let auth = ctx.spec.auth_options.as_ref()?;
    if !auth.creates_secret() {
        return None;
    }
    Some(Object::Secret(Secret {
        metadata: object_meta(ctx, names::auth_secret_name(ctx.name), RayNode::Head),
        type_: Some("Opaque".to_owned()),
        ..Secret::default()
    }))
}

/// The auth variables every listed container gets.
fn auth_env(ctx: &ClusterContext<'_>, auth: &AuthOptions) -> Vec<EnvVar> {
    let mut vars = vec![env::value(RAY_AUTH_MODE, "token")];
    if auth.k8s_token_auth() {
        vars.push(env::value(RAY_ENABLE_K8S_TOKEN_AUTH, "true"));
    } else if let Some(secret) = token_secret_name(ctx) {
        vars.push(token_from_secret(secret));
    }
    vars
}

/// `RAY_AUTH_TOKEN` read from the key `auth_token` of the Secret `secret`.
#[must_use]
pub fn token_from_secret(secret: String) -> EnvVar {
    EnvVar {
        name: RAY_AUTH_TOKEN.to_owned(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret,
                key: AUTH_TOKEN_KEY.to_owned(),
                optional: None,
            }),
            ..EnvVarSource::default()
        }),
    }
}

/// Adds the auth env (and, with Kubernetes token auth, the `ray-token`
/// volume and mounts) to the containers of `pod` that talk to Ray. Nothing
/// without `mode: token`. Call it after every rayop container is added.
pub fn add_auth(ctx: &ClusterContext<'_>, pod: &mut PodSpec) {
    let Some(auth) = ctx.spec.token_auth() else {
        return;
    };
    let vars = auth_env(ctx, auth);
    let k8s = auth.k8s_token_auth();
    let sidecars = [AUTOSCALER_CONTAINER_NAME, COLLECTOR_CONTAINER];
    let containers = pod
        .containers
        .iter_mut()
        .enumerate()
        .filter(|(i, c)| *i == RAY_CONTAINER_INDEX || sidecars.contains(&c.name.as_str()))
        .map(|(_, c)| c);
    let inits = pod
        .init_containers
        .iter_mut()
        .flatten()
        .filter(|c| c.name == WAIT_GCS_READY);
    for container in containers.chain(inits) {
        add_missing_env(container, &vars);
        if k8s {
            mount_token(container);
        }
    }
    if k8s {
        let volumes = pod.volumes.get_or_insert_with(Vec::new);
        if volumes.iter().all(|v| v.name != RAY_TOKEN_VOLUME) {
            volumes.push(token_volume());
        }
    }
}

/// Appends each of `vars` that `container` does not set.
pub fn add_missing_env(container: &mut Container, vars: &[EnvVar]) {
    let env = container.env.get_or_insert_with(Vec::new);
    for var in vars {
        if env.iter().all(|e| e.name != var.name) {
            env.push(var.clone());
        }
    }
}

fn mount_token(container: &mut Container) {
    let mounts = container.volume_mounts.get_or_insert_with(Vec::new);
    if mounts
        .iter()
        .all(|m| m.name != RAY_TOKEN_VOLUME && m.mount_path != RAY_TOKEN_PATH)
    {
        mounts.push(VolumeMount {
            name: RAY_TOKEN_VOLUME.to_owned(),
            mount_path: RAY_TOKEN_PATH.to_owned(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }
}

fn token_volume() -> Volume {
    Volume {
        name: RAY_TOKEN_VOLUME.to_owned(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(vec![VolumeProjection {
                service_account_token: Some(ServiceAccountTokenProjection {
                    path: RAY_TOKEN_FILE.to_owned(),
                    audience: None,
                    expiration_seconds: None,
                }),
                ..VolumeProjection::default()
            }]),
            default_mode: None,
        }),
        ..Volume::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        build::BuildOptions,
        crd::{RayCluster, auth::AuthMode},
    };

    fn cluster(auth: AuthOptions) -> RayCluster {
        let mut cluster = RayCluster::test("rc");
        cluster.spec.ray_version = "2.55.0".into();
        cluster.spec.auth_options = Some(auth);
        cluster
    }

    fn token() -> AuthOptions {
        AuthOptions {
            mode: Some(AuthMode::Token),
            ..AuthOptions::default()
        }
    }

    fn pod() -> PodSpec {
        let named = |name: &str| Container {
            name: name.into(),
            ..Container::default()
        };
        PodSpec {
            containers: vec![
                named("ray-head"),
                named("user-sidecar"),
                named("autoscaler"),
            ],
            init_containers: Some(vec![named("user-init"), named(WAIT_GCS_READY)]),
            ..PodSpec::default()
        }
    }

    fn names(c: &Container) -> Vec<&str> {
        c.env.iter().flatten().map(|e| e.name.as_str()).collect()
    }

    #[test]
    fn token_env_goes_to_ray_processes_only() {
        let cluster = cluster(token());
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        let mut pod = pod();
        add_auth(&ctx, &mut pod);
        let init = pod.init_containers.as_ref().unwrap();
        for c in [&pod.containers[0], &pod.containers[2], &init[1]] {
            assert_eq!(names(c), [RAY_AUTH_MODE, RAY_AUTH_TOKEN], "{}", c.name);
            let from = c.env.as_ref().unwrap()[1].value_from.as_ref().unwrap();
            let key = from.secret_key_ref.as_ref().unwrap();
            assert_eq!((key.name.as_str(), key.key.as_str()), ("rc", "auth_token"));
        }
        assert!(names(&pod.containers[1]).is_empty());
        assert!(names(&init[0]).is_empty());
        assert_eq!(pod.volumes, None);
        assert!(auth_secret(&ctx).is_some());
    }

    #[test]
    fn a_user_variable_wins_and_a_user_secret_is_named() {
        let cluster = cluster(AuthOptions {
            secret_name: Some("mine".into()),
            ..token()
        });
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        let mut pod = pod();
        pod.containers[0].env = Some(vec![env::value(RAY_AUTH_MODE, "disabled")]);
        add_auth(&ctx, &mut pod);
        let env = pod.containers[0].env.as_ref().unwrap();
        assert_eq!(env[0].value.as_deref(), Some("disabled"));
        assert_eq!(env.len(), 2);
        let key = env[1]
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!(key.name, "mine");
        assert!(auth_secret(&ctx).is_none());
    }

    #[test]
    fn k8s_token_auth_mounts_the_projected_token() {
        let cluster = cluster(AuthOptions {
            enable_k8s_token_auth: Some(true),
            ..token()
        });
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        let mut pod = pod();
        add_auth(&ctx, &mut pod);
        add_auth(&ctx, &mut pod);
        assert_eq!(
            names(&pod.containers[0]),
            [RAY_AUTH_MODE, RAY_ENABLE_K8S_TOKEN_AUTH]
        );
        let mounts = pod.containers[0].volume_mounts.as_ref().unwrap();
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0].mount_path, RAY_TOKEN_PATH);
        assert_eq!(mounts[0].read_only, Some(true));
        let volumes = pod.volumes.as_ref().unwrap();
        assert_eq!(volumes.len(), 1);
        let projection = &volumes[0]
            .projected
            .as_ref()
            .unwrap()
            .sources
            .as_ref()
            .unwrap()[0];
        assert_eq!(
            projection.service_account_token.as_ref().unwrap().path,
            "token"
        );
        assert!(auth_secret(&ctx).is_none());
    }

    #[test]
    fn nothing_without_token_mode() {
        let cluster = cluster(AuthOptions {
            mode: Some(AuthMode::Disabled),
            ..AuthOptions::default()
        });
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        let mut pod = pod();
        add_auth(&ctx, &mut pod);
        assert_eq!(pod, self::pod());
        assert!(auth_secret(&ctx).is_none());
    }
}
