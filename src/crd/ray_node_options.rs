//! Checks of the groups' Ray node options: `labels`, `resources` and
//! `priority` of `headGroupSpec` and each `workerGroupSpecs[]` entry.
//!
//! Role: pure rules, each problem naming its field, as KubeRay v1.7 checks
//! them: label keys are qualified names and values label values; no
//! `rayStartParams.labels`; no resource flags beside `resources`; a
//! `priority` other than 0 needs Ray 2.56.0 or later and the v2 autoscaler.

use std::collections::BTreeMap;

use crate::crd::{autoscaler::AutoscalerVersion, spec::RayClusterSpec};

/// `rayStartParams` keys that `resources` replaces.
pub const RESOURCE_PARAMS: [&str; 4] = ["num-cpus", "num-gpus", "memory", "resources"];
/// The first Ray version whose autoscaler reads a group's `priority`.
pub const PRIORITY_SINCE: (u64, u64, u64) = (2, 56, 0);
/// The head env variable that turns on the v2 autoscaler.
pub const AUTOSCALER_V2_ENV: &str = "RAY_enable_autoscaler_v2";

/// Every problem of the groups' `labels`, `resources` and `priority`, as
/// (field, message), head first.
#[must_use]
pub fn check(spec: &RayClusterSpec) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(head) = &spec.head_group_spec {
        check_group(
            &mut out,
            "spec.headGroupSpec",
            &head.ray_start_params,
            head.labels.as_ref(),
            head.resources.as_ref(),
        );
    }
    for (i, group) in spec.worker_group_specs.iter().enumerate() {
        let path = format!("spec.workerGroupSpecs[{i}]");
        check_group(
            &mut out,
            &path,
            &group.ray_start_params,
            group.labels.as_ref(),
            group.resources.as_ref(),
        );
        if group.priority.is_some_and(|p| p != 0) {
            check_priority(&mut out, &path, spec);
        }
    }
    out
}

fn check_group(
    out: &mut Vec<(String, String)>,
    path: &str,
    params: &BTreeMap<String, String>,
    labels: Option<&BTreeMap<String, String>>,
    resources: Option<&BTreeMap<String, String>>,
) {
    if params.contains_key("labels") {
        out.push((
            format!("{path}.rayStartParams[labels]"),
            format!("is not supported: use {path}.labels instead"),
        ));
    }
    for (key, value) in labels.into_iter().flatten() {
        if let Err(why) = qualified_name(key) {
            out.push((
                format!("{path}.labels"),
                format!("key {key:?} is not a valid label key: {why}"),
            ));
        }
        if let Err(why) = label_value(value) {
            out.push((
                format!("{path}.labels[{key}]"),
                format!("{value:?} is not a valid label value: {why}"),
            ));
        }
    }
    if resources.is_some_and(|r| !r.is_empty()) {
        for key in RESOURCE_PARAMS
            .iter()
            .filter(|k| params.get(**k).is_some_and(|v| !v.is_empty()))
        {
            out.push((
                format!("{path}.rayStartParams[{key}]"),
                format!("cannot be set together with {path}.resources: set resources in one place"),
            ));
        }
    }
}

fn check_priority(out: &mut Vec<(String, String)>, path: &str, spec: &RayClusterSpec) {
    let field = format!("{path}.priority");
    let (a, b, c) = PRIORITY_SINCE;
    match parse_version(&spec.ray_version) {
        None => out.push((
            field,
            format!(
                "needs rayVersion {a}.{b}.{c} or later, and {:?} is not a version number",
                spec.ray_version
            ),
        )),
        Some(version) if version < PRIORITY_SINCE => out.push((
            field,
            format!("needs rayVersion {a}.{b}.{c} or later, not {}", spec.ray_version),
        )),
        Some(_) if !autoscaler_v2(spec) => out.push((
            field,
            format!(
                "needs the v2 autoscaler: set autoscalerOptions.version: v2 (or {AUTOSCALER_V2_ENV}=true on the head)"
            ),
        )),
        Some(_) => {}
    }
}

/// Whether the cluster runs the v2 autoscaler: `autoscalerOptions.version`
/// is v2, or the head's Ray container sets [`AUTOSCALER_V2_ENV`] to `1` or
/// `true`.
#[must_use]
pub fn autoscaler_v2(spec: &RayClusterSpec) -> bool {
    let by_option =
        spec.autoscaler_options.as_ref().and_then(|o| o.version) == Some(AutoscalerVersion::V2);
    let by_env = spec
        .head_group_spec
        .as_ref()
        .and_then(|h| h.template.as_ref())
        .and_then(|t| t.spec.as_ref())
        .and_then(|p| p.containers.first())
        .and_then(|c| c.env.as_ref())
        .into_iter()
        .flatten()
        .any(|e| e.name == AUTOSCALER_V2_ENV && matches!(e.value.as_deref(), Some("1" | "true")));
    by_option || by_env
}

/// A generic version `major.minor[.patch]`, optionally after a `v`; what
/// follows the numbers (`-rc1`, `+build`) is ignored. `None` for anything else,
/// such as `nightly`.
#[must_use]
pub fn parse_version(version: &str) -> Option<(u64, u64, u64)> {
    let trimmed = version.trim();
    let trimmed = trimmed.strip_prefix('v').unwrap_or(trimmed);
    let end = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (numbers, rest) = trimmed.split_at(end);
    if !(rest.is_empty() || rest.starts_with('-') || rest.starts_with('+')) {
        return None;
    }
    let parts: Vec<u64> = numbers
        .split('.')
        .map(|p| p.parse::<u64>().ok())
        .collect::<Option<_>>()?;
    match parts.as_slice() {
        [major, minor] => Some((*major, *minor, 0)),
        [major, minor, patch] => Some((*major, *minor, *patch)),
        _ => None,
    }
}

/// A label name part: at most 63 characters, alphanumeric at both ends,
/// `-`, `_` and `.` inside.
fn label_name(name: &str) -> Result<(), &'static str> {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Err("the name part must not be empty");
    }
    if bytes.len() > 63 {
        return Err("the name part must be at most 63 characters");
    }
    let edges = bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
    let inner = bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if edges && inner {
        Ok(())
    } else {
        Err("use letters, digits, '-', '_' and '.', starting and ending with a letter or digit")
    }
}

/// A label key: `[prefix/]name`, the prefix a DNS-1123 subdomain.
fn qualified_name(key: &str) -> Result<(), &'static str> {
    match key.split_once('/') {
        None => label_name(key),
        Some((prefix, name)) => {
            if !is_dns1123_subdomain(prefix) {
                return Err("the prefix must be a DNS subdomain, such as example.com");
            }
            label_name(name)
        }
    }
}

/// A label value: empty, or a [`label_name`].
fn label_value(value: &str) -> Result<(), &'static str> {
    if value.is_empty() {
        Ok(())
    } else {
        label_name(value)
    }
}

fn is_dns1123_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .split('.')
            .all(crate::crd::network_policy::is_dns1123_label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{
        RayCluster, autoscaler::AutoscalerOptions, head::HeadGroupSpec, test_builders::group,
    };

    fn fields(spec: &RayClusterSpec) -> Vec<String> {
        check(spec).into_iter().map(|(f, _)| f).collect()
    }

    fn map(entries: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
        Some(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn labels_need_valid_keys_and_values_and_no_labels_param() {
        let mut g = group("g").param("labels", "");
        g.labels = map(&[
            ("ray.io/market-type", "spot"),
            ("Bad Key", "x"),
            ("k", "-bad"),
            ("UPPER.Prefix/x", "v"),
        ]);
        let cluster = RayCluster::test("rc").with_group(g);
        assert_eq!(
            fields(&cluster.spec),
            [
                "spec.workerGroupSpecs[0].rayStartParams[labels]",
                "spec.workerGroupSpecs[0].labels",
                "spec.workerGroupSpecs[0].labels",
                "spec.workerGroupSpecs[0].labels[k]",
            ]
        );
    }

    #[test]
    fn resources_exclude_the_resource_params() {
        let mut cluster = RayCluster::test("rc");
        cluster.spec.head_group_spec = Some(HeadGroupSpec {
            resources: map(&[("CPU", "0")]),
            ray_start_params: [("num-cpus".to_owned(), "1".to_owned())].into(),
            ..HeadGroupSpec::default()
        });
        assert_eq!(
            fields(&cluster.spec),
            ["spec.headGroupSpec.rayStartParams[num-cpus]"]
        );
        if let Some(head) = cluster.spec.head_group_spec.as_mut() {
            head.ray_start_params.clear();
            head.ray_start_params
                .insert("object-store-memory".into(), "100".into());
        }
        assert!(fields(&cluster.spec).is_empty());
    }

    #[test]
    fn priority_needs_ray_2_56_and_autoscaler_v2() {
        let mut g = group("g");
        g.priority = Some(5);
        let base = RayCluster::test("rc").with_group(g);
        let field = "spec.workerGroupSpecs[0].priority";
        for version in ["2.55.1", "nightly"] {
            let c = base.clone().with_ray_version(version);
            assert_eq!(fields(&c.spec), [field], "{version}");
        }
        let c = base.clone().with_ray_version("2.56.0");
        assert_eq!(fields(&c.spec), [field], "no v2 autoscaler");
        let mut v2 = c.clone();
        v2.spec.autoscaler_options = Some(AutoscalerOptions {
            version: Some(AutoscalerVersion::V2),
            ..AutoscalerOptions::default()
        });
        assert!(fields(&v2.spec).is_empty());
        let mut zero = base.with_ray_version("2.9.0");
        zero.spec.worker_group_specs[0].priority = Some(0);
        assert!(fields(&zero.spec).is_empty(), "0 is always fine");
    }

    #[test]
    fn autoscaler_v2_by_head_env() {
        let mut spec = RayClusterSpec::default();
        let template: k8s_openapi::api::core::v1::PodTemplateSpec =
            serde_json::from_value(serde_json::json!({"spec": {"containers": [
                {"name": "ray-head", "env": [{"name": AUTOSCALER_V2_ENV, "value": "true"}]}
            ]}}))
            .unwrap();
        spec.head_group_spec = Some(HeadGroupSpec {
            template: Some(template),
            ..HeadGroupSpec::default()
        });
        assert!(autoscaler_v2(&spec));
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("2.56.0"), Some((2, 56, 0)));
        assert_eq!(parse_version("v2.56"), Some((2, 56, 0)));
        assert_eq!(parse_version("2.56.1-rc1"), Some((2, 56, 1)));
        assert_eq!(parse_version("nightly"), None);
        assert_eq!(parse_version("2"), None);
        assert_eq!(parse_version(""), None);
    }
}
