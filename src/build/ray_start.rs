//! The `ray start` command line of a Ray container, from its `rayStartParams`
//! and its resources.
//!
//! # Flags
//! Each entry becomes `--key=value`, sorted by key, so the command (and the
//! spec hash over it) is stable. A value of `true` (any case) becomes a bare
//! `--key` and `false` drops the flag, except for [`VALUE_BOOLEAN_FLAGS`],
//! whose `true`/`false` is a value (`--include-dashboard=false`).
//!
//! What rayop adds:
//!
//! | Flag | When | If the user set it |
//! |---|---|---|
//! | `--block` | always | forced on: without it `ray start` returns and the container exits |
//! | `--head` | head | forced on the head, removed on workers |
//! | `--no-monitor` | head, in-tree autoscaling | forced: the sidecar is the autoscaler, a second one would fight it |
//! | `--metrics-export-port=8080` | always | the user's value |
//! | `--dashboard-agent-listen-port=52365` | always | the user's value |
//! | `--dashboard-host=0.0.0.0` | head | the user's value |
//! | `--address=<head-svc>.<ns>.svc.<domain>:<gcs port>` | workers | the user's value |
//! | `--redis-password="${REDIS_PASSWORD}"` | head, GCS fault tolerance with a password | the user's value |
//! | `--redis-username="${REDIS_USERNAME}"` | head, GCS fault tolerance with `redisUsername` | refused by validation |
//! | `--num-cpus` | the Ray container's CPU limit, else request, rounded up | the user's value |
//! | `--memory` | the memory limit, in bytes | the user's value |
//! | `--num-gpus` | the first resource limit whose name ends in `gpu` (`nvidia.com/gpu`) | the user's value |
//! | `--resources={"TPU":n}` | a `google.com/tpu` limit (`neuron_cores` from `aws.amazon.com/neuroncore`) | merged into the user's JSON when its key is missing |
//!
//! A zero resource derives no flag, as in KubeRay.
//!
//! # Safety
//! The command goes into a `bash -c` string. Keys must be flag names
//! (`^[a-z0-9][a-z0-9-]*$`, else [`BuildError::UnsafeFlagName`]); values go
//! through [`shell_word`], which quotes anything not plainly safe.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::{
    build::{
        BuildError, ports, quantity,
        shell_quote::{shell_word, unwrap_user_quotes},
    },
    crd::{names::RayNode, validation::is_flag_name},
};

/// Flags whose `true`/`false` is a value rather than an on/off switch.
pub const VALUE_BOOLEAN_FLAGS: [&str; 2] = ["include-dashboard", "log-color"];
/// The environment variable the head's `--redis-password` reads.
pub const REDIS_PASSWORD_ENV: &str = "REDIS_PASSWORD";
/// The environment variable the head's `--redis-username` reads.
pub const REDIS_USERNAME_ENV: &str = "REDIS_USERNAME";

/// Everything the command line depends on.
#[derive(Clone, Copy, Debug)]
pub struct RayStartInput<'a> {
    /// Head or worker group: decides `--head`, `--address`, `--dashboard-host`
    /// and `--no-monitor`.
    pub node: RayNode<'a>,
    /// The group's `rayStartParams` as the user wrote them; rayop's flags go on
    /// top.
    pub params: &'a BTreeMap<String, String>,
    /// The Ray container's resources, which give `--num-cpus`, `--memory` and
    /// `--num-gpus` when the params lack them.
    pub resources: Option<&'a ResourceRequirements>,
    /// Whether in-tree autoscaling is on (matters on the head).
    pub autoscaling: bool,
    /// The GCS address workers join, `host:port` (matters on workers).
    pub head_address: &'a str,
    /// Whether the head reads its Redis password from [`REDIS_PASSWORD_ENV`].
    pub redis_password_in_env: bool,
    /// Whether the head reads its Redis user name from [`REDIS_USERNAME_ENV`].
    pub redis_username_in_env: bool,
}

/// The `rayStartParams` after rayop's additions (see the module docs).
///
/// # Errors
/// [`BuildError::UnsafeFlagName`] for a key that is not a flag name, and
/// [`BuildError::InvalidQuantity`] for a resource that must be read and does
/// not parse.
pub fn effective_params(input: &RayStartInput<'_>) -> Result<BTreeMap<String, String>, BuildError> {
    let group = input.node.group_label();
    if let Some(key) = input.params.keys().find(|key| !is_flag_name(key)) {
        return Err(BuildError::UnsafeFlagName {
            group: group.to_owned(),
            key: key.clone(),
        });
    }
    let mut params = input.params.clone();
    let mut default = |key: &str, value: String| {
        params.entry(key.to_owned()).or_insert(value);
    };
    default("metrics-export-port", ports::METRICS_PORT.to_string());
    default(
        "dashboard-agent-listen-port",
        ports::DASHBOARD_AGENT_PORT.to_string(),
    );
    match input.node {
        RayNode::Head => {
            default("dashboard-host", "0.0.0.0".to_owned());
            if input.redis_password_in_env {
                default("redis-password", format!("${REDIS_PASSWORD_ENV}"));
            }
            if input.redis_username_in_env {
                default("redis-username", format!("${REDIS_USERNAME_ENV}"));
            }
        }
        RayNode::Worker(_) => default("address", input.head_address.to_owned()),
    }
    if let Some(resources) = input.resources {
        for (key, value) in derived_flags(group, resources, &params)? {
            params.insert(key.to_owned(), value);
        }
    }
    params.insert("block".to_owned(), "true".to_owned());
    match input.node {
        RayNode::Head => {
            params.insert("head".to_owned(), "true".to_owned());
            if input.autoscaling {
                params.insert("no-monitor".to_owned(), "true".to_owned());
            }
        }
        RayNode::Worker(_) => {
            params.remove("head");
        }
    }
    Ok(params)
}

/// The command line: `ray start` and the rendered [`effective_params`].
///
/// # Errors
/// As [`effective_params`].
pub fn ray_start_command(input: &RayStartInput<'_>) -> Result<String, BuildError> {
    let params = effective_params(input)?;
    let mut command = String::from("ray start");
    for flag in render_flags(&params) {
        command.push(' ');
        command.push_str(&flag);
    }
    Ok(command)
}

/// Each parameter as a flag, in key order. Keys must already be flag names.
#[must_use]
pub fn render_flags(params: &BTreeMap<String, String>) -> Vec<String> {
    params
        .iter()
        .filter_map(|(key, value)| {
            let switch = !VALUE_BOOLEAN_FLAGS.contains(&key.as_str());
            if switch && value.eq_ignore_ascii_case("true") {
                Some(format!("--{key}"))
            } else if switch && value.eq_ignore_ascii_case("false") {
                None
            } else {
                Some(format!("--{key}={}", shell_word(value)))
            }
        })
        .collect()
}

/// The head GCS's port with `params`: `port`, else 6379 (also for a value
/// that is not a non-zero port number).
#[must_use]
pub fn gcs_port(params: Option<&BTreeMap<String, String>>) -> u16 {
    port_param(params, "port").unwrap_or(ports::GCS_SERVER_PORT)
}

/// The metrics port of a node with `params`: `metrics-export-port`, else 8080.
#[must_use]
pub fn metrics_port(params: Option<&BTreeMap<String, String>>) -> u16 {
    port_param(params, "metrics-export-port").unwrap_or(ports::METRICS_PORT)
}

/// The dashboard agent's port of a node with `params`:
/// `dashboard-agent-listen-port`, else 52365.
#[must_use]
pub fn dashboard_agent_port(params: Option<&BTreeMap<String, String>>) -> u16 {
    port_param(params, "dashboard-agent-listen-port").unwrap_or(ports::DASHBOARD_AGENT_PORT)
}

/// The head dashboard's port of a node with `params`: `dashboard-port`, else
/// 8265 (also for a value that is not a port number, as in KubeRay).
#[must_use]
pub fn dashboard_port(params: Option<&BTreeMap<String, String>>) -> u16 {
    port_param(params, "dashboard-port").unwrap_or(ports::DASHBOARD_PORT)
}

fn port_param(params: Option<&BTreeMap<String, String>>, key: &str) -> Option<u16> {
    params?
        .get(key)?
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
}

/// `num-cpus`, `memory` and `num-gpus` from the container's resources, for
/// those that `given` lacks and that are non-zero. A resource is read (and
/// must parse) only when its flag is derived from it.
fn derived_flags(
    group: &str,
    resources: &ResourceRequirements,
    given: &BTreeMap<String, String>,
) -> Result<Vec<(&'static str, String)>, BuildError> {
    let amount =
        |list: &Option<BTreeMap<String, Quantity>>, name: &str| whole_amount(group, list, name);
    let mut flags = Vec::new();
    if !given.contains_key("num-cpus") {
        let cpus = match amount(&resources.limits, "cpu")? {
            Some(n) => Some(n),
            None => amount(&resources.requests, "cpu")?,
        };
        if let Some(cpus) = cpus {
            flags.push(("num-cpus", cpus.to_string()));
        }
    }
    if !given.contains_key("memory")
        && let Some(bytes) = amount(&resources.limits, "memory")?
    {
        flags.push(("memory", bytes.to_string()));
    }
    if !given.contains_key("num-gpus") {
        let gpu_names = resources
            .limits
            .iter()
            .flatten()
            .map(|(name, _)| name.as_str())
            .filter(|name| name.ends_with("gpu"));
        for name in gpu_names {
            if let Some(gpus) = amount(&resources.limits, name)? {
                flags.push(("num-gpus", gpus.to_string()));
                break;
            }
        }
    }
    if let Some(resources) = accelerator_resources(group, resources, given)? {
        flags.push(("resources", resources));
    }
    Ok(flags)
}

/// The whole amount (rounded up) of resource `name` in `list`; `None` when
/// absent or zero. A resource is read (and must parse) only when asked for.
fn whole_amount(
    group: &str,
    list: &Option<BTreeMap<String, Quantity>>,
    name: &str,
) -> Result<Option<u64>, BuildError> {
    let Some(Quantity(text)) = list.as_ref().and_then(|l| l.get(name)) else {
        return Ok(None);
    };
    quantity::ceil_whole(text)
        .map(|n| (n > 0).then_some(n))
        .ok_or_else(|| BuildError::InvalidQuantity {
            group: group.to_owned(),
            resource: name.to_owned(),
            value: text.clone(),
        })
}

/// Accelerators Ray counts as custom resources: the Kubernetes resource
/// name, and Ray's name for it.
const ACCELERATOR_RESOURCES: [(&str, &str); 2] = [
    ("google.com/tpu", "TPU"),
    ("aws.amazon.com/neuroncore", "neuron_cores"),
];

/// The `resources` JSON with each accelerator limit of
/// [`ACCELERATOR_RESOURCES`] added under Ray's name, unless the user's
/// `resources` already has that key. `None` when nothing is added, or when
/// the user's value is not a JSON object (then it is passed on untouched, as
/// the user wrote it, for Ray to judge).
fn accelerator_resources(
    group: &str,
    resources: &ResourceRequirements,
    given: &BTreeMap<String, String>,
) -> Result<Option<String>, BuildError> {
    let mut merged = match given.get("resources") {
        Some(value) => {
            match serde_json::from_str::<serde_json::Value>(&unwrap_user_quotes(value)) {
                Ok(serde_json::Value::Object(map)) => map,
                _ => return Ok(None),
            }
        }
        None => serde_json::Map::new(),
    };
    let mut added = false;
    for (k8s_name, ray_name) in ACCELERATOR_RESOURCES {
        if merged.contains_key(ray_name) {
            continue;
        }
        if let Some(n) = whole_amount(group, &resources.limits, k8s_name)? {
            merged.insert(ray_name.to_owned(), n.into());
            added = true;
        }
    }
    Ok(added.then(|| serde_json::Value::Object(merged).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    const HEAD_ADDRESS: &str = "rc-head-svc.ns.svc.cluster.local:6379";

    fn params(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn resources(limits: &[(&str, &str)], requests: &[(&str, &str)]) -> ResourceRequirements {
        let list = |entries: &[(&str, &str)]| {
            (!entries.is_empty()).then(|| {
                entries
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), Quantity((*v).to_owned())))
                    .collect()
            })
        };
        ResourceRequirements {
            limits: list(limits),
            requests: list(requests),
            ..ResourceRequirements::default()
        }
    }

    fn input<'a>(
        node: RayNode<'a>,
        params: &'a BTreeMap<String, String>,
        resources: Option<&'a ResourceRequirements>,
    ) -> RayStartInput<'a> {
        RayStartInput {
            node,
            params,
            resources,
            autoscaling: false,
            head_address: HEAD_ADDRESS,
            redis_password_in_env: false,
            redis_username_in_env: false,
        }
    }

    #[test]
    fn head_defaults_sorted() {
        let p = params(&[]);
        let command = ray_start_command(&input(RayNode::Head, &p, None)).unwrap();
        assert_eq!(
            command,
            "ray start --block --dashboard-agent-listen-port=52365 --dashboard-host=0.0.0.0 \
             --head --metrics-export-port=8080"
        );
    }

    #[test]
    fn worker_defaults_and_resources() {
        let p = params(&[]);
        let r = resources(&[("cpu", "2"), ("memory", "1Gi")], &[]);
        let command = ray_start_command(&input(RayNode::Worker("g"), &p, Some(&r))).unwrap();
        assert_eq!(
            command,
            format!(
                "ray start --address={HEAD_ADDRESS} --block --dashboard-agent-listen-port=52365 \
                 --memory=1073741824 --metrics-export-port=8080 --num-cpus=2"
            )
        );
    }

    #[test]
    fn true_is_bare_false_is_dropped() {
        let p = params(&[
            ("disable-usage-stats", "true"),
            ("verbose", "False"),
            ("x", "TRUE"),
        ]);
        let flags = render_flags(&p);
        assert_eq!(flags, ["--disable-usage-stats", "--x"]);
    }

    #[test]
    fn value_booleans_keep_their_value() {
        let p = params(&[("include-dashboard", "false"), ("log-color", "true")]);
        assert_eq!(
            render_flags(&p),
            ["--include-dashboard=false", "--log-color=true"]
        );
    }

    #[test]
    fn user_values_win_over_defaults() {
        let p = params(&[
            ("metrics-export-port", "9090"),
            ("dashboard-agent-listen-port", "52366"),
            ("dashboard-host", "127.0.0.1"),
            ("num-cpus", "0"),
            ("memory", "100"),
            ("num-gpus", "0"),
        ]);
        let r = resources(
            &[("cpu", "4"), ("memory", "2Gi"), ("nvidia.com/gpu", "1")],
            &[],
        );
        let effective = effective_params(&input(RayNode::Head, &p, Some(&r))).unwrap();
        assert_eq!(effective["metrics-export-port"], "9090");
        assert_eq!(effective["dashboard-agent-listen-port"], "52366");
        assert_eq!(effective["dashboard-host"], "127.0.0.1");
        assert_eq!(effective["num-cpus"], "0");
        assert_eq!(effective["memory"], "100");
        assert_eq!(effective["num-gpus"], "0");

        let w = params(&[("address", "other:1234")]);
        let effective = effective_params(&input(RayNode::Worker("g"), &w, None)).unwrap();
        assert_eq!(effective["address"], "other:1234");
    }

    #[test]
    fn block_head_and_no_monitor_are_forced() {
        let p = params(&[
            ("block", "false"),
            ("head", "false"),
            ("no-monitor", "false"),
        ]);
        let mut i = input(RayNode::Head, &p, None);
        i.autoscaling = true;
        let effective = effective_params(&i).unwrap();
        assert_eq!(effective["block"], "true");
        assert_eq!(effective["head"], "true");
        assert_eq!(effective["no-monitor"], "true");

        let w = params(&[("head", "true")]);
        let effective = effective_params(&input(RayNode::Worker("g"), &w, None)).unwrap();
        assert!(!effective.contains_key("head"));
        assert!(!effective.contains_key("no-monitor"));
        assert!(!effective.contains_key("dashboard-host"));
    }

    #[test]
    fn no_monitor_only_with_autoscaling() {
        let p = params(&[]);
        let effective = effective_params(&input(RayNode::Head, &p, None)).unwrap();
        assert!(!effective.contains_key("no-monitor"));
    }

    #[test]
    fn cpu_falls_back_to_request_and_rounds_up() {
        let p = params(&[]);
        let r = resources(&[("memory", "512Mi")], &[("cpu", "1500m")]);
        let effective = effective_params(&input(RayNode::Worker("g"), &p, Some(&r))).unwrap();
        assert_eq!(effective["num-cpus"], "2");
        assert_eq!(effective["memory"], "536870912");
        // a memory request alone derives nothing
        let r = resources(&[], &[("memory", "1Gi")]);
        let effective = effective_params(&input(RayNode::Worker("g"), &p, Some(&r))).unwrap();
        assert!(!effective.contains_key("memory"));
    }

    #[test]
    fn gpus_from_any_gpu_limit_and_zero_derives_nothing() {
        let p = params(&[]);
        let r = resources(&[("cpu", "0"), ("nvidia.com/gpu", "2")], &[]);
        let effective = effective_params(&input(RayNode::Worker("g"), &p, Some(&r))).unwrap();
        assert_eq!(effective["num-gpus"], "2");
        assert!(!effective.contains_key("num-cpus"));
        let r = resources(&[("amd.com/gpu", "1")], &[]);
        let effective = effective_params(&input(RayNode::Worker("g"), &p, Some(&r))).unwrap();
        assert_eq!(effective["num-gpus"], "1");
    }

    #[test]
    fn tpu_and_neuron_limits_fill_the_resources_json() {
        let p = params(&[]);
        let r = resources(
            &[("google.com/tpu", "4"), ("aws.amazon.com/neuroncore", "2")],
            &[],
        );
        let effective = effective_params(&input(RayNode::Worker("g"), &p, Some(&r))).unwrap();
        assert_eq!(effective["resources"], r#"{"TPU":4,"neuron_cores":2}"#);
        // Merged into the user's JSON (KubeRay's quoting unwrapped); the
        // user's own TPU count wins.
        let p = params(&[("resources", r#""{\"TPU\": 8, \"x\": 1}""#)]);
        let effective = effective_params(&input(RayNode::Worker("g"), &p, Some(&r))).unwrap();
        assert_eq!(
            effective["resources"],
            r#"{"TPU":8,"neuron_cores":2,"x":1}"#
        );
        // Nothing to add: the user's value stays exactly as written.
        let r = resources(&[("google.com/tpu", "4")], &[]);
        let p = params(&[("resources", r#"'{"TPU": 1}'"#)]);
        let effective = effective_params(&input(RayNode::Worker("g"), &p, Some(&r))).unwrap();
        assert_eq!(effective["resources"], r#"'{"TPU": 1}'"#);
        // A zero limit adds nothing.
        let r = resources(&[("google.com/tpu", "0")], &[]);
        let effective =
            effective_params(&input(RayNode::Worker("g"), &params(&[]), Some(&r))).unwrap();
        assert!(!effective.contains_key("resources"));
    }

    #[test]
    fn a_bad_quantity_is_an_error() {
        let p = params(&[]);
        let r = resources(&[("cpu", "lots")], &[]);
        assert_eq!(
            effective_params(&input(RayNode::Worker("g"), &p, Some(&r))),
            Err(BuildError::InvalidQuantity {
                group: "g".into(),
                resource: "cpu".into(),
                value: "lots".into()
            })
        );
        // not read when the user gave the flag
        let p = params(&[("num-cpus", "1")]);
        assert!(effective_params(&input(RayNode::Worker("g"), &p, Some(&r))).is_ok());
    }

    #[test]
    fn unsafe_keys_are_refused() {
        for key in ["--block", "a b", "x;rm", "Upper", "$(id)", ""] {
            let p = params(&[(key, "1")]);
            assert_eq!(
                ray_start_command(&input(RayNode::Head, &p, None)),
                Err(BuildError::UnsafeFlagName {
                    group: "headgroup".into(),
                    key: key.into()
                }),
                "{key:?}"
            );
        }
    }

    #[test]
    fn values_are_shell_quoted() {
        let p = params(&[
            ("node-ip-address", "$(rm -rf /)"),
            ("temp-dir", "`reboot`"),
            ("labels", "a=b; echo pwned"),
            ("object-store-memory", "1\nrm -rf /"),
            ("namespace", "it's"),
            ("redis-password", "$REDIS_PASSWORD"),
        ]);
        let command = ray_start_command(&input(RayNode::Worker("g"), &p, None)).unwrap();
        assert!(
            command.contains("--node-ip-address='$(rm -rf /)'"),
            "{command}"
        );
        assert!(command.contains("--temp-dir='`reboot`'"));
        assert!(command.contains("--labels='a=b; echo pwned'"));
        assert!(command.contains("--object-store-memory='1\nrm -rf /'"));
        assert!(command.contains(r"--namespace='it'\''s'"));
        assert!(command.contains("--redis-password=\"${REDIS_PASSWORD}\""));
    }

    #[test]
    fn the_generated_command_runs_nothing_but_ray() {
        // A fake `ray` that prints its arguments one per line shows what bash
        // hands to it: every value intact, nothing executed.
        let p = params(&[
            ("node-ip-address", "$(touch /tmp/rayop-pwned)"),
            ("labels", "x;touch /tmp/rayop-pwned"),
        ]);
        let command = ray_start_command(&input(RayNode::Worker("g"), &p, None)).unwrap();
        let script = format!("ray() {{ printf '%s\\n' \"$@\"; }}; {command}");
        let Some(output) = crate::build::shell_quote::test_bash::run(&script) else {
            return;
        };
        let args = String::from_utf8_lossy(&output.stdout);
        assert!(
            args.contains("--node-ip-address=$(touch /tmp/rayop-pwned)\n"),
            "{args}"
        );
        assert!(
            args.contains("--labels=x;touch /tmp/rayop-pwned\n"),
            "{args}"
        );
        assert_eq!(args.lines().next(), Some("start"));
    }

    #[test]
    fn redis_password_defaults_to_the_env_reference() {
        let p = params(&[]);
        let mut i = input(RayNode::Head, &p, None);
        i.redis_password_in_env = true;
        assert_eq!(
            effective_params(&i).unwrap()["redis-password"],
            "$REDIS_PASSWORD"
        );
    }

    #[test]
    fn redis_username_defaults_to_the_env_reference() {
        let p = params(&[]);
        let mut i = input(RayNode::Head, &p, None);
        assert!(!effective_params(&i).unwrap().contains_key("redis-username"));
        i.redis_username_in_env = true;
        assert_eq!(
            effective_params(&i).unwrap()["redis-username"],
            "$REDIS_USERNAME"
        );
        assert!(
            ray_start_command(&i)
                .unwrap()
                .contains("--redis-username=\"${REDIS_USERNAME}\""),
            "{}",
            ray_start_command(&i).unwrap()
        );
    }

    #[test]
    fn ports_from_params() {
        let p = params(&[
            ("metrics-export-port", "9090"),
            ("dashboard-agent-listen-port", "x"),
            ("dashboard-port", "9265"),
        ]);
        assert_eq!(dashboard_port(Some(&p)), 9265);
        assert_eq!(
            dashboard_port(Some(&params(&[("dashboard-port", "0")]))),
            8265
        );
        assert_eq!(dashboard_port(None), 8265);
        assert_eq!(metrics_port(Some(&p)), 9090);
        assert_eq!(dashboard_agent_port(Some(&p)), 52365);
        assert_eq!(metrics_port(None), 8080);
    }
}
