//! The `ray-job-submitter` container, shared by K8sJobMode's Job pod and
//! SidecarMode's head pod.
//!
//! Invariants:
//! - The default container runs the head's image (the head template's Ray
//!   container's, filled from `rayVersion` when unset) with requests
//!   500m CPU / 200Mi and limits 1 CPU / 1Gi, as KubeRay.
//! - [`configure`] gives a container without a `command` the command
//!   `/bin/bash -ce --` and the script as its one argument; a container with
//!   its own `command` keeps command and args (K8sJobMode's user template).
//! - The env ends with `PYTHONUNBUFFERED=1`, `RAY_DASHBOARD_ADDRESS`
//!   (`host:port`, no scheme), `RAY_JOB_SUBMISSION_ID` and, under
//!   `authOptions.mode: token`, `RAY_AUTH_MODE=token` and `RAY_AUTH_TOKEN`
//!   from the cluster's token Secret; these replace same-named user
//!   variables, because the id and address must be the attempt's.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{Container, EnvVar, ResourceRequirements},
    apimachinery::pkg::api::resource::Quantity,
};

use super::JobBuildError;
use crate::{
    build::{auth, env},
    crd::{RayClusterSpec, defaults::RAY_CONTAINER_INDEX, effective_head_template},
};

/// Name of the submitter container, KubeRay's.
pub const SUBMITTER_CONTAINER: &str = "ray-job-submitter";
/// The command of a submitter container without one; the script is its
/// one argument.
pub const SUBMITTER_SHELL: [&str; 3] = ["/bin/bash", "-ce", "--"];
/// Variable: `1`, so the driver's output reaches the logs at once.
pub const PYTHONUNBUFFERED: &str = "PYTHONUNBUFFERED";
/// Variable: the dashboard's `host:port`.
pub const RAY_DASHBOARD_ADDRESS: &str = "RAY_DASHBOARD_ADDRESS";
/// Variable: the attempt's Ray submission id.
pub const RAY_JOB_SUBMISSION_ID: &str = "RAY_JOB_SUBMISSION_ID";

/// The image of the head's Ray container.
#[must_use]
pub fn head_image(spec: &RayClusterSpec) -> Option<String> {
    effective_head_template(spec)
        .spec?
        .containers
        .get(RAY_CONTAINER_INDEX)?
        .image
        .clone()
}

/// The default submitter container of a cluster with `spec`, before
/// [`configure`].
#[must_use]
pub fn default_container(spec: &RayClusterSpec) -> Container {
    let amounts = |cpu: &str, memory: &str| {
        BTreeMap::from([
            ("cpu".to_owned(), Quantity(cpu.to_owned())),
            ("memory".to_owned(), Quantity(memory.to_owned())),
        ])
    };
    Container {
        name: SUBMITTER_CONTAINER.to_owned(),
        image: head_image(spec),
        resources: Some(ResourceRequirements {
            requests: Some(amounts("500m", "200Mi")),
            limits: Some(amounts("1", "1Gi")),
            ..ResourceRequirements::default()
        }),
        ..Container::default()
    }
}

/// The submitter's variables for the dashboard at `dashboard_address`, the
/// submission `submission_id`, on the cluster `cluster` with `spec`.
///
/// # Errors
/// [`JobBuildError::K8sTokenAuth`] when the cluster uses Kubernetes token
/// authentication: there is no shared token to give the submitter.
pub fn submitter_env(
    dashboard_address: &str,
    submission_id: &str,
    cluster: &str,
    spec: &RayClusterSpec,
) -> Result<Vec<EnvVar>, JobBuildError> {
    let mut vars = vec![
        env::value(PYTHONUNBUFFERED, "1"),
        env::value(RAY_DASHBOARD_ADDRESS, dashboard_address),
        env::value(RAY_JOB_SUBMISSION_ID, submission_id),
    ];
    if let Some(token) = spec.token_auth() {
        if token.k8s_token_auth() {
            return Err(JobBuildError::K8sTokenAuth);
        }
        vars.push(env::value(auth::RAY_AUTH_MODE, "token"));
        if let Some(secret) = auth::cluster_token_secret_name(spec, cluster) {
            vars.push(auth::token_from_secret(secret));
        }
    }
    Ok(vars)
}

/// Makes `container` run `script` (unless it has its own `command`) with
/// `vars` (see the module docs).
pub fn configure(container: &mut Container, script: String, vars: &[EnvVar]) {
    if container.command.as_ref().is_none_or(Vec::is_empty) {
        container.command = Some(SUBMITTER_SHELL.map(str::to_owned).to_vec());
        container.args = Some(vec![script]);
    }
    let user = container.env.take().unwrap_or_default();
    // The user's variables that rayop does not set, then rayop's.
    container.env = Some(env::merge_env(user, vars));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::crd::auth::{AuthMode, AuthOptions};

    fn spec(version: &str) -> RayClusterSpec {
        RayClusterSpec {
            ray_version: version.into(),
            ..RayClusterSpec::default()
        }
    }

    #[test]
    fn the_default_runs_the_heads_image_with_kuberays_resources() {
        let c = default_container(&spec("2.52.0"));
        assert_eq!(c.name, "ray-job-submitter");
        assert_eq!(c.image.as_deref(), Some("rayproject/ray:2.52.0"));
        let r = c.resources.unwrap();
        assert_eq!(r.requests.as_ref().unwrap()["cpu"].0, "500m");
        assert_eq!(r.requests.as_ref().unwrap()["memory"].0, "200Mi");
        assert_eq!(r.limits.as_ref().unwrap()["cpu"].0, "1");
        assert_eq!(r.limits.as_ref().unwrap()["memory"].0, "1Gi");
    }

    #[test]
    fn configure_keeps_a_users_command_and_overrides_our_variables() {
        let vars = submitter_env("h:8265", "id-1", "rc", &spec("2.52.0")).unwrap();
        let mut mine = Container {
            command: Some(vec!["/submitter".into()]),
            env: Some(vec![
                env::value("RAY_JOB_SUBMISSION_ID", "stale"),
                env::value("KEEP", "1"),
            ]),
            ..Container::default()
        };
        configure(&mut mine, "script".into(), &vars);
        assert_eq!(mine.command.unwrap(), ["/submitter"]);
        assert_eq!(mine.args, None);
        let names: Vec<_> = mine
            .env
            .unwrap()
            .into_iter()
            .map(|v| (v.name, v.value.unwrap_or_default()))
            .collect();
        assert_eq!(
            names,
            [
                ("KEEP".into(), "1".into()),
                ("PYTHONUNBUFFERED".into(), "1".into()),
                ("RAY_DASHBOARD_ADDRESS".into(), "h:8265".into()),
                ("RAY_JOB_SUBMISSION_ID".into(), "id-1".into()),
            ]
        );

        let mut default = default_container(&spec("2.52.0"));
        configure(&mut default, "script".into(), &vars);
        assert_eq!(default.command.unwrap(), ["/bin/bash", "-ce", "--"]);
        assert_eq!(default.args.unwrap(), ["script"]);
    }

    #[test]
    fn token_auth_reads_the_clusters_secret() {
        let mut s = spec("2.52.0");
        s.auth_options = Some(AuthOptions {
            mode: Some(AuthMode::Token),
            ..AuthOptions::default()
        });
        let vars = submitter_env("h:8265", "id", "rc", &s).unwrap();
        assert_eq!(vars[3].value.as_deref(), Some("token"));
        let secret = vars[4]
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!(
            (
                vars[4].name.as_str(),
                secret.name.as_str(),
                secret.key.as_str()
            ),
            ("RAY_AUTH_TOKEN", "rc", "auth_token")
        );

        s.auth_options.as_mut().unwrap().secret_name = Some("mine".into());
        let vars = submitter_env("h:8265", "id", "rc", &s).unwrap();
        let secret = vars[4]
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!(secret.name, "mine");

        s.auth_options.as_mut().unwrap().secret_name = None;
        s.auth_options.as_mut().unwrap().enable_k8s_token_auth = Some(true);
        assert_eq!(
            submitter_env("h:8265", "id", "rc", &s),
            Err(JobBuildError::K8sTokenAuth)
        );
    }
}
