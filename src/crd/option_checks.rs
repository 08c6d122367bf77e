//! Checks of `spec.authOptions` and `spec.historyServerOptions`.
//!
//! Role: part of [`validate`](crate::crd::validation::validate). Each
//! problem names the field to fix, as the rest of validation does. The rules
//! are KubeRay's (it checks them in its controller, not at admission):
//! - `authOptions.mode: token` needs `rayVersion` 2.52.0 or later, read as a
//!   semantic version (empty or not a version is refused);
//!   `enableK8sTokenAuth` needs `mode: token`, 2.55.0 or later and no
//!   `secretName`. A `secretName` must be a Secret name.
//! - `historyServerOptions` needs `collectorOptions.image` and a literal
//!   `STORAGE_BACKEND` with its backend's settings; the collector env may not
//!   set the names rayop sets, and no template may already have a container
//!   named `ray-history-collector`.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{EnvVar, PodTemplateSpec};

use crate::crd::{
    auth::{self, AuthMode},
    history_server::{CollectorOptions, RESERVED_ENV, STORAGE_BACKEND},
    pod_template,
    spec::RayClusterSpec,
};

use rayop_machines::SpecProblem;

/// Name of the collector sidecar; a template may not already hold it.
pub const COLLECTOR_CONTAINER: &str = "ray-history-collector";

/// The problems of `spec.authOptions`, in field order.
pub fn check_auth(out: &mut Vec<SpecProblem>, spec: &RayClusterSpec) {
    let Some(options) = &spec.auth_options else {
        return;
    };
    let path = "spec.authOptions";
    if options.k8s_token_auth() {
        if options.mode != Some(AuthMode::Token) {
            out.push(SpecProblem::new(
                format!("{path}.mode"),
                "must be token when enableK8sTokenAuth is true",
            ));
        }
        if options.user_secret().is_some() {
            out.push(SpecProblem::new(
                format!("{path}.secretName"),
                "must be empty when enableK8sTokenAuth is true: Kubernetes token auth uses no Secret",
            ));
        }
    }
    if let Some(name) = &options.secret_name
        && !is_secret_name(name)
    {
        out.push(SpecProblem::new(
            format!("{path}.secretName"),
            format!(
                "{name:?} is not a valid Secret name: lowercase letters, digits, '-' and '.', \
                 starting and ending with a letter or digit, at most 253 characters"
            ),
        ));
    }
    if options.token_enabled() {
        check_min_ray(
            out,
            &spec.ray_version,
            auth::TOKEN_AUTH_MIN_RAY,
            "spec.authOptions.mode: token",
        );
        if options.k8s_token_auth() {
            check_min_ray(
                out,
                &spec.ray_version,
                auth::K8S_TOKEN_AUTH_MIN_RAY,
                "spec.authOptions.enableK8sTokenAuth",
            );
        }
    }
}

fn check_min_ray(out: &mut Vec<SpecProblem>, version: &str, min: (u64, u64, u64), feature: &str) {
    let (major, minor, patch) = min;
    let problem = match auth::ray_version_at_least(version, min) {
        Ok(true) => return,
        Ok(false) => format!("is {version}; {feature} needs Ray {major}.{minor}.{patch} or later"),
        Err(why) => format!(
            "{why}; {feature} needs a semantic version of Ray {major}.{minor}.{patch} or later"
        ),
    };
    out.push(SpecProblem::new("spec.rayVersion", problem));
}

/// Whether `name` is a DNS-1123 subdomain, as Secret names are.
fn is_secret_name(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(pod_template::is_dns1123_label)
}

/// The problems of `spec.historyServerOptions`, in field order.
pub fn check_history_server(out: &mut Vec<SpecProblem>, spec: &RayClusterSpec) {
    let Some(options) = &spec.history_server_options else {
        return;
    };
    let path = "spec.historyServerOptions.collectorOptions";
    match &options.collector_options {
        None => out.push(SpecProblem::new(
            path,
            "is required: the collector's image and storage settings",
        )),
        Some(collector) => check_collector(out, path, collector),
    }
    if let Some(head) = spec
        .head_group_spec
        .as_ref()
        .and_then(|h| h.template.as_ref())
    {
        no_collector_container(out, "spec.headGroupSpec", head);
    }
    for (i, group) in spec.worker_group_specs.iter().enumerate() {
        if let Some(template) = &group.template {
            no_collector_container(out, &format!("spec.workerGroupSpecs[{i}]"), template);
        }
    }
}

fn check_collector(out: &mut Vec<SpecProblem>, path: &str, collector: &CollectorOptions) {
    if collector.image.as_deref().is_none_or(str::is_empty) {
        out.push(SpecProblem::new(format!("{path}.image"), "is required"));
    }
    let env = collector.env.as_deref().unwrap_or_default();
    let mut seen = BTreeSet::new();
    for (i, var) in env.iter().enumerate() {
        let field = format!("{path}.env[{i}].name");
        if !pod_template::is_env_name(&var.name) {
            out.push(SpecProblem::new(
                field,
                format!(
                    "{:?} is not a valid environment variable name: printable ASCII without '=', not empty",
                    var.name
                ),
            ));
        } else if RESERVED_ENV.contains(&var.name.as_str()) {
            out.push(SpecProblem::new(
                field,
                format!("{} is set by rayop and may not be given", var.name),
            ));
        } else if !seen.insert(var.name.as_str()) {
            out.push(SpecProblem::new(
                field,
                format!("environment variable {:?} is set twice", var.name),
            ));
        }
    }
    let env_path = format!("{path}.env");
    let Some((index, backend)) = env
        .iter()
        .enumerate()
        .find(|(_, var)| var.name == STORAGE_BACKEND)
    else {
        out.push(SpecProblem::new(
            env_path,
            format!("needs {STORAGE_BACKEND} (gcs, s3, aliyunoss or azureblob)"),
        ));
        return;
    };
    let Some(value) = backend
        .value
        .as_deref()
        .filter(|_| backend.value_from.is_none())
    else {
        out.push(SpecProblem::new(
            format!("{env_path}[{index}].value"),
            format!("{STORAGE_BACKEND} must be a literal value, not valueFrom"),
        ));
        return;
    };
    let needs_all = |names: &[&str]| -> Vec<String> {
        names
            .iter()
            .filter(|name| !is_given(env, name))
            .map(|name| (*name).to_owned())
            .collect()
    };
    let missing = match value.to_ascii_lowercase().as_str() {
        "gcs" => needs_all(&["GCS_BUCKET"]),
        "s3" => needs_all(&["S3_REGION"]),
        "aliyunoss" => needs_all(&["OSS_BUCKET", "OSS_ENDPOINT", "OSS_REGION"]),
        "azureblob" => azure_missing(env),
        _ => {
            out.push(SpecProblem::new(
                format!("{env_path}[{index}].value"),
                format!(
                    "{STORAGE_BACKEND} {value:?} is not a known backend: gcs, s3, aliyunoss or azureblob"
                ),
            ));
            return;
        }
    };
    if !missing.is_empty() {
        out.push(SpecProblem::new(
            env_path,
            format!("{STORAGE_BACKEND} {value} needs {}", missing.join(" and ")),
        ));
    }
}

/// What an Azure Blob backend lacks, by its `AZURE_STORAGE_AUTH_MODE`.
fn azure_missing(env: &[EnvVar]) -> Vec<String> {
    const CONNECTION: &str = "AZURE_STORAGE_CONNECTION_STRING";
    const ACCOUNT_URL: &str = "AZURE_STORAGE_ACCOUNT_URL";
    let mode = env
        .iter()
        .find(|var| var.name == "AZURE_STORAGE_AUTH_MODE")
        .and_then(|var| var.value.as_deref())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let needed = match mode.as_str() {
        "connection_string" => CONNECTION,
        "workload_identity" | "default" => ACCOUNT_URL,
        _ if is_given(env, CONNECTION) || is_given(env, ACCOUNT_URL) => return Vec::new(),
        _ => return vec![format!("{CONNECTION} or {ACCOUNT_URL}")],
    };
    if is_given(env, needed) {
        Vec::new()
    } else {
        vec![needed.to_owned()]
    }
}

/// Whether `env` gives `name` a value or a `valueFrom`.
fn is_given(env: &[EnvVar], name: &str) -> bool {
    env.iter().any(|var| {
        var.name == name
            && (var.value.as_deref().is_some_and(|v| !v.is_empty()) || var.value_from.is_some())
    })
}

fn no_collector_container(out: &mut Vec<SpecProblem>, path: &str, template: &PodTemplateSpec) {
    let containers = template.spec.iter().flat_map(|pod| pod.containers.iter());
    for (i, container) in containers.enumerate() {
        if container.name == COLLECTOR_CONTAINER {
            out.push(SpecProblem::new(
                format!("{path}.template.spec.containers[{i}].name"),
                format!(
                    "{COLLECTOR_CONTAINER} is the name of the collector rayop adds with historyServerOptions"
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::env::value;
    use crate::crd::{RayCluster, auth::AuthOptions, history_server::HistoryServerOptions};

    fn fields(spec: &RayClusterSpec) -> Vec<(String, String)> {
        let mut out = Vec::new();
        check_auth(&mut out, spec);
        check_history_server(&mut out, spec);
        out.into_iter().map(|p| (p.field, p.message)).collect()
    }

    fn with_auth(version: &str, auth: AuthOptions) -> RayClusterSpec {
        let mut spec = RayCluster::test("rc").spec;
        spec.ray_version = version.into();
        spec.auth_options = Some(auth);
        spec
    }

    fn token() -> AuthOptions {
        AuthOptions {
            mode: Some(AuthMode::Token),
            ..AuthOptions::default()
        }
    }

    #[test]
    fn token_mode_needs_ray_2_52() {
        assert!(fields(&with_auth("2.52.0", token())).is_empty());
        let old = fields(&with_auth("2.46.0", token()));
        assert_eq!(old.len(), 1);
        assert_eq!(old[0].0, "spec.rayVersion");
        assert!(old[0].1.contains("is 2.46.0"), "{}", old[0].1);
        assert!(
            old[0].1.contains("spec.authOptions.mode: token"),
            "{}",
            old[0].1
        );
        let odd = fields(&with_auth("nightly", token()));
        assert!(odd[0].1.contains("not a semantic version"), "{}", odd[0].1);
        // disabled mode needs no version
        let disabled = AuthOptions {
            mode: Some(AuthMode::Disabled),
            ..AuthOptions::default()
        };
        assert!(fields(&with_auth("2.9.0", disabled)).is_empty());
    }

    #[test]
    fn k8s_token_auth_rules() {
        let k8s = AuthOptions {
            enable_k8s_token_auth: Some(true),
            ..token()
        };
        assert!(fields(&with_auth("2.55.0", k8s.clone())).is_empty());
        let old = fields(&with_auth("2.54.0", k8s.clone()));
        assert_eq!(old.len(), 1);
        assert!(old[0].1.contains("enableK8sTokenAuth"));
        let named = AuthOptions {
            secret_name: Some("s".into()),
            ..k8s.clone()
        };
        assert_eq!(
            fields(&with_auth("2.55.0", named))[0].0,
            "spec.authOptions.secretName"
        );
        let no_mode = AuthOptions { mode: None, ..k8s };
        assert_eq!(
            fields(&with_auth("2.55.0", no_mode))[0].0,
            "spec.authOptions.mode"
        );
        let bad_name = AuthOptions {
            secret_name: Some("Not_A_Name".into()),
            ..token()
        };
        assert_eq!(
            fields(&with_auth("2.55.0", bad_name))[0].0,
            "spec.authOptions.secretName"
        );
    }

    fn history(env: Vec<EnvVar>) -> RayClusterSpec {
        let mut spec = RayCluster::test("rc").spec;
        spec.history_server_options = Some(HistoryServerOptions {
            collector_options: Some(CollectorOptions {
                image: Some("collector:1".into()),
                env: Some(env),
                ..CollectorOptions::default()
            }),
        });
        spec
    }

    #[test]
    fn storage_backends_need_their_settings() {
        assert!(
            fields(&history(vec![
                value("STORAGE_BACKEND", "gcs"),
                value("GCS_BUCKET", "b")
            ]))
            .is_empty()
        );
        assert!(
            fields(&history(vec![
                value("STORAGE_BACKEND", "S3"),
                value("S3_REGION", "r")
            ]))
            .is_empty()
        );
        let oss = fields(&history(vec![
            value("STORAGE_BACKEND", "aliyunoss"),
            value("OSS_BUCKET", "b"),
        ]));
        assert_eq!(oss.len(), 1);
        assert!(
            oss[0].1.contains("OSS_ENDPOINT and OSS_REGION"),
            "{}",
            oss[0].1
        );
        let azure = fields(&history(vec![
            value("STORAGE_BACKEND", "azureblob"),
            value("AZURE_STORAGE_AUTH_MODE", "workload_identity"),
            value("AZURE_STORAGE_CONNECTION_STRING", "x"),
        ]));
        assert!(
            azure[0].1.contains("AZURE_STORAGE_ACCOUNT_URL"),
            "{}",
            azure[0].1
        );
        assert!(
            fields(&history(vec![
                value("STORAGE_BACKEND", "azureblob"),
                value("AZURE_STORAGE_CONNECTION_STRING", "x"),
            ]))
            .is_empty()
        );
        let none = fields(&history(vec![]));
        assert_eq!(none[0].0, "spec.historyServerOptions.collectorOptions.env");
        let mut from = value("STORAGE_BACKEND", "gcs");
        from.value = None;
        from.value_from = Some(Default::default());
        assert_eq!(
            fields(&history(vec![from]))[0].0,
            "spec.historyServerOptions.collectorOptions.env[0].value"
        );
        let unknown = fields(&history(vec![value("STORAGE_BACKEND", "ftp")]));
        assert!(unknown[0].1.contains("not a known backend"));
    }

    #[test]
    fn collector_needs_an_image_and_keeps_rayop_names() {
        let mut spec = history(vec![
            value("STORAGE_BACKEND", "gcs"),
            value("GCS_BUCKET", "b"),
            value("POD_IP", "1.2.3.4"),
        ]);
        if let Some(c) = spec
            .history_server_options
            .as_mut()
            .and_then(|h| h.collector_options.as_mut())
        {
            c.image = None;
        }
        let found = fields(&spec);
        assert_eq!(
            found[0].0,
            "spec.historyServerOptions.collectorOptions.image"
        );
        assert_eq!(
            found[1].0,
            "spec.historyServerOptions.collectorOptions.env[2].name"
        );
        spec.history_server_options = Some(HistoryServerOptions::default());
        assert_eq!(
            fields(&spec)[0].0,
            "spec.historyServerOptions.collectorOptions"
        );
    }

    #[test]
    fn templates_may_not_hold_the_collector() {
        let mut spec = history(vec![
            value("STORAGE_BACKEND", "gcs"),
            value("GCS_BUCKET", "b"),
        ]);
        let mut template = crate::crd::defaults::default_head_template();
        if let Some(pod) = template.spec.as_mut() {
            pod.containers.push(k8s_openapi::api::core::v1::Container {
                name: COLLECTOR_CONTAINER.into(),
                ..Default::default()
            });
        }
        spec.head_group_spec = Some(crate::crd::head::HeadGroupSpec {
            template: Some(template),
            ..Default::default()
        });
        assert_eq!(
            fields(&spec)[0].0,
            "spec.headGroupSpec.template.spec.containers[1].name"
        );
    }
}
