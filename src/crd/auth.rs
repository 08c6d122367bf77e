//! Ray token authentication: `spec.authOptions`.
//!
//! Role: data only, plus the rules that read it. Authentication is on only
//! with `mode: token`; the token is then either rayop's own Secret (named by
//! [`names::auth_secret_name`](crate::crd::names::auth_secret_name)), a Secret
//! the user names in `secretName`, or, with `enableK8sTokenAuth`, the pod's
//! projected ServiceAccount token checked by the Kubernetes API server.
//!
//! Invariant: rayop creates a Secret exactly when [`AuthOptions::creates_secret`]
//! holds, and never writes a Secret named by `secretName`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The oldest Ray that accepts `mode: token`.
pub const TOKEN_AUTH_MIN_RAY: (u64, u64, u64) = (2, 52, 0);
/// The oldest Ray that accepts `enableK8sTokenAuth`.
pub const K8S_TOKEN_AUTH_MIN_RAY: (u64, u64, u64) = (2, 55, 0);

/// How Ray authenticates requests to its GCS, dashboard and clients.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthOptions {
    /// `token` turns authentication on: every Ray container, the workers'
    /// `wait-gcs-ready`, the autoscaler and the history collector get
    /// `RAY_AUTH_MODE=token` and the token. `disabled` or unset: nothing.
    /// Needs `rayVersion` 2.52.0 or later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<AuthMode>,

    /// A Secret of the cluster's namespace whose key `auth_token` holds the
    /// token. rayop then creates no Secret and never reads or writes this one
    /// beyond checking that it exists with that key. Unset: rayop creates the
    /// Secret (named after the cluster) once, with a random token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,

    /// Ray checks each request's Kubernetes ServiceAccount token with the API
    /// server instead of a shared token: pods get
    /// `RAY_ENABLE_K8S_TOKEN_AUTH=true` and a projected token volume
    /// `ray-token`, and no Secret is used. Needs `mode: token`, `rayVersion`
    /// 2.55.0 or later and no `secretName`; the pods' ServiceAccount needs
    /// rights to create TokenReviews and SubjectAccessReviews and the verb
    /// `ray:write` on `rayclusters`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_k8s_token_auth: Option<bool>,
}

/// Values of `authOptions.mode`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum AuthMode {
    /// No authentication.
    Disabled,
    /// Token authentication.
    Token,
}

impl AuthOptions {
    /// Whether authentication is on: `mode: token`.
    #[must_use]
    pub fn token_enabled(&self) -> bool {
        self.mode == Some(AuthMode::Token)
    }

    /// Whether Kubernetes token authentication is asked for.
    #[must_use]
    pub fn k8s_token_auth(&self) -> bool {
        self.enable_k8s_token_auth == Some(true)
    }

    /// The user's `secretName`, when set and not empty.
    #[must_use]
    pub fn user_secret(&self) -> Option<&str> {
        self.secret_name.as_deref().filter(|name| !name.is_empty())
    }

    /// Whether rayop creates the token Secret: token mode, no Kubernetes
    /// token auth, no `secretName`.
    #[must_use]
    pub fn creates_secret(&self) -> bool {
        self.token_enabled() && !self.k8s_token_auth() && self.user_secret().is_none()
    }
}

/// `rayVersion` read as semantic version `major.minor.patch`, with an
/// optional leading `v`; a missing minor or patch is 0. A pre-release
/// (`2.52.0-rc1`) is older than its release, so it reads as one patch less
/// than it; build metadata is ignored. `None` when it is no such version.
#[must_use]
pub fn semantic_ray_version(version: &str) -> Option<(u64, u64, u64, bool)> {
    let version = version.strip_prefix('v').unwrap_or(version);
    let version = version.split('+').next().unwrap_or_default();
    let (core, pre) = match version.split_once('-') {
        Some((core, pre)) if !pre.is_empty() => (core, true),
        Some(_) => return None,
        None => (version, false),
    };
    let mut numbers = [0u64; 3];
    for (index, part) in core.split('.').enumerate() {
        let slot = numbers.get_mut(index)?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    let [major, minor, patch] = numbers;
    Some((major, minor, patch, !pre))
}

/// Whether `version` is at least `min`; `Err` with the reason when it is no
/// semantic version.
///
/// # Errors
/// A sentence saying why `version` is not a version.
pub fn ray_version_at_least(version: &str, min: (u64, u64, u64)) -> Result<bool, String> {
    if version.is_empty() {
        return Err("is empty".to_owned());
    }
    let (major, minor, patch, release) = semantic_ray_version(version)
        .ok_or_else(|| format!("{version:?} is not a semantic version such as 2.52.0"))?;
    Ok((major, minor, patch, release) >= (min.0, min.1, min.2, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_as_semver() {
        assert_eq!(semantic_ray_version("2.52.0"), Some((2, 52, 0, true)));
        assert_eq!(semantic_ray_version("v2.55"), Some((2, 55, 0, true)));
        assert_eq!(semantic_ray_version("2.52.0-rc1"), Some((2, 52, 0, false)));
        assert_eq!(semantic_ray_version("2.52.x"), None);
        assert_eq!(semantic_ray_version("latest"), None);
        assert_eq!(semantic_ray_version("2.52.0.1"), None);
        assert_eq!(semantic_ray_version("2..1"), None);
        assert_eq!(semantic_ray_version("2.52.0-"), None);
    }

    #[test]
    fn minimum_versions() {
        assert_eq!(ray_version_at_least("2.52.0", TOKEN_AUTH_MIN_RAY), Ok(true));
        assert_eq!(ray_version_at_least("2.53.1", TOKEN_AUTH_MIN_RAY), Ok(true));
        assert_eq!(
            ray_version_at_least("2.51.9", TOKEN_AUTH_MIN_RAY),
            Ok(false)
        );
        assert_eq!(
            ray_version_at_least("2.52.0-rc1", TOKEN_AUTH_MIN_RAY),
            Ok(false)
        );
        assert!(ray_version_at_least("", TOKEN_AUTH_MIN_RAY).is_err());
        assert!(ray_version_at_least("nightly", TOKEN_AUTH_MIN_RAY).is_err());
    }

    #[test]
    fn the_secret_is_created_only_for_plain_token_mode() {
        let token = AuthOptions {
            mode: Some(AuthMode::Token),
            ..AuthOptions::default()
        };
        assert!(token.creates_secret());
        let named = AuthOptions {
            secret_name: Some("mine".into()),
            ..token.clone()
        };
        assert!(!named.creates_secret());
        let k8s = AuthOptions {
            enable_k8s_token_auth: Some(true),
            ..token
        };
        assert!(!k8s.creates_secret());
        assert!(!AuthOptions::default().creates_secret());
    }
}
