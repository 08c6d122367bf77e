//! A group's Ray node options, `labels` and `resources`, as `ray start`
//! flags and pod labels (KubeRay v1.7's rules).
//!
//! - `labels` become `rayStartParams.labels = "k1=v1,k2=v2"` (keys sorted),
//!   and are added to the pod's labels over the template's own; the three
//!   labels rayop owns (`ray.io/cluster`, `ray.io/node-type`,
//!   `ray.io/group`) are never overridden (the pod template builder drops
//!   them).
//! - `resources`, keys matched case-insensitively, each a quantity:
//!   `cpu` → `num-cpus`, `memory` → `memory` (bytes), a GPU name (ending in
//!   `gpu`, or `nvidia.com/mig-<n>g.<m>gb`) → `num-gpus`, each rounded up as
//!   Kubernetes' `Quantity.Value()`; every other name goes, with its own
//!   case, into the JSON of `rayStartParams.resources` (`{"TPU":4}`, keys
//!   sorted, numbers as Go prints them). A quantity that does not parse is
//!   skipped. Container resources still fill in the flags left missing.
//!
//! Invariant: pure; without `labels` and `resources` the params are the
//! group's `rayStartParams` unchanged.

use std::{borrow::Cow, collections::BTreeMap};

use crate::{
    build::quantity,
    crd::{names::RayNode, spec::RayClusterSpec},
};

/// A group's `labels` and `resources`, either absent.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeOptions<'a> {
    /// The group's `labels`.
    pub labels: Option<&'a BTreeMap<String, String>>,
    /// The group's `resources`.
    pub resources: Option<&'a BTreeMap<String, String>>,
}

/// The options of `node` in `spec`: the head group's or the named worker
/// group's.
#[must_use]
pub fn node_options<'a>(spec: &'a RayClusterSpec, node: RayNode<'_>) -> NodeOptions<'a> {
    match node {
        RayNode::Head => spec
            .head_group_spec
            .as_ref()
            .map(|h| NodeOptions {
                labels: h.labels.as_ref(),
                resources: h.resources.as_ref(),
            })
            .unwrap_or_default(),
        RayNode::Worker(group) => spec
            .worker_group(group)
            .map(|g| NodeOptions {
                labels: g.labels.as_ref(),
                resources: g.resources.as_ref(),
            })
            .unwrap_or_default(),
    }
}

/// `params` with the flags `options` set (see the module docs).
#[must_use]
pub fn with_node_options<'a>(
    params: &'a BTreeMap<String, String>,
    options: NodeOptions<'_>,
) -> Cow<'a, BTreeMap<String, String>> {
    let labels = options.labels.filter(|l| !l.is_empty());
    let resources = options.resources.filter(|r| !r.is_empty());
    if labels.is_none() && resources.is_none() {
        return Cow::Borrowed(params);
    }
    let mut params = params.clone();
    if let Some(labels) = labels {
        let joined = labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        params.insert("labels".to_owned(), joined);
    }
    if let Some(resources) = resources {
        let mut custom = BTreeMap::new();
        for (name, value) in resources {
            let lower = name.to_ascii_lowercase();
            let flag = match lower.as_str() {
                "cpu" => Some("num-cpus"),
                "memory" => Some("memory"),
                _ if is_gpu_name(&lower) => Some("num-gpus"),
                _ => None,
            };
            match flag {
                Some(flag) => {
                    if let Some(whole) = quantity::ceil_whole(value) {
                        params.insert(flag.to_owned(), whole.to_string());
                    }
                }
                None => {
                    if let Some(amount) = approximate(value) {
                        custom.insert(name.clone(), amount);
                    }
                }
            }
        }
        if !custom.is_empty() {
            params.insert("resources".to_owned(), resources_json(&custom));
        }
    }
    Cow::Owned(params)
}

/// `template_labels` with the group's `labels` over them.
#[must_use]
pub fn merged_pod_labels(
    template_labels: BTreeMap<String, String>,
    options: NodeOptions<'_>,
) -> BTreeMap<String, String> {
    let mut labels = template_labels;
    labels.extend(
        options
            .labels
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    labels
}

/// Whether `name` (lower case) is a GPU resource: it ends in `gpu`, or is a
/// MIG slice `nvidia.com/mig-<n>g.<m>gb`.
#[must_use]
pub fn is_gpu_name(name: &str) -> bool {
    if name.ends_with("gpu") {
        return true;
    }
    let Some(slice) = name
        .strip_prefix("nvidia.com/mig-")
        .and_then(|s| s.strip_suffix("gb"))
    else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    slice
        .split_once("g.")
        .is_some_and(|(n, m)| digits(n) && digits(m))
}

/// A quantity as a float, as Kubernetes' `AsApproximateFloat64`; `None` for
/// a malformed or negative one.
fn approximate(value: &str) -> Option<f64> {
    let (mantissa, suffix) = quantity::split_number(value.trim())?;
    let (digits, fraction_len) = quantity::parse_decimal(mantissa)?;
    let (pow10, pow2) = quantity::suffix_scale(suffix)?;
    let exp10 = pow10 - i32::try_from(fraction_len).ok()?;
    // Precision loss is the point: an approximate float.
    #[allow(clippy::cast_precision_loss)]
    let base = digits as f64;
    let value = base * 2f64.powi(i32::try_from(pow2).ok()?) * 10f64.powi(exp10);
    value.is_finite().then_some(value)
}

/// `{"A":1,"b":0.5}`: keys JSON-escaped and sorted, whole numbers without a
/// fraction (as Go's encoder writes them).
fn resources_json(resources: &BTreeMap<String, f64>) -> String {
    let entries: Vec<String> = resources
        .iter()
        .map(|(name, amount)| {
            let key = serde_json::Value::String(name.clone()).to_string();
            format!("{key}:{}", go_number(*amount))
        })
        .collect();
    format!("{{{}}}", entries.join(","))
}

fn go_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e21 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn nothing_set_leaves_the_params_alone() {
        let params = map(&[("num-cpus", "1")]);
        assert!(matches!(
            with_node_options(&params, NodeOptions::default()),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn labels_become_one_sorted_flag() {
        let labels = map(&[("ray.io/market-type", "spot"), ("cpu-family", "amd")]);
        let params = BTreeMap::new();
        let out = with_node_options(
            &params,
            NodeOptions {
                labels: Some(&labels),
                resources: None,
            },
        );
        assert_eq!(out["labels"], "cpu-family=amd,ray.io/market-type=spot");
    }

    #[test]
    fn resources_map_to_flags_and_custom_json() {
        let resources = map(&[
            ("CPU", "1500m"),
            ("Memory", "1Gi"),
            ("nvidia.com/gpu", "2"),
            ("TPU", "4"),
            ("accelerator_type:A100", "0.5"),
            ("bad", "lots"),
        ]);
        let params = BTreeMap::new();
        let out = with_node_options(
            &params,
            NodeOptions {
                labels: None,
                resources: Some(&resources),
            },
        );
        assert_eq!(out["num-cpus"], "2");
        assert_eq!(out["memory"], "1073741824");
        assert_eq!(out["num-gpus"], "2");
        assert_eq!(out["resources"], r#"{"TPU":4,"accelerator_type:A100":0.5}"#);
        assert!(!out.contains_key("bad"));
    }

    #[test]
    fn zero_cpu_is_kept_and_gpu_alone_gives_no_resources() {
        let resources = map(&[("CPU", "0"), ("GPU", "1")]);
        let params = BTreeMap::new();
        let out = with_node_options(
            &params,
            NodeOptions {
                labels: None,
                resources: Some(&resources),
            },
        );
        assert_eq!(out["num-cpus"], "0");
        assert_eq!(out["num-gpus"], "1");
        assert!(!out.contains_key("resources"));
    }

    #[test]
    fn gpu_names() {
        assert!(is_gpu_name("gpu"));
        assert!(is_gpu_name("amd.com/gpu"));
        assert!(is_gpu_name("nvidia.com/mig-1g.5gb"));
        assert!(!is_gpu_name("nvidia.com/mig-xg.5gb"));
        assert!(!is_gpu_name("tpu"));
    }

    #[test]
    fn group_labels_win_over_template_labels() {
        let labels = map(&[("team", "b")]);
        let merged = merged_pod_labels(
            map(&[("team", "a"), ("app", "x")]),
            NodeOptions {
                labels: Some(&labels),
                resources: None,
            },
        );
        assert_eq!(merged, map(&[("app", "x"), ("team", "b")]));
    }
}
