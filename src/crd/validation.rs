//! Semantic validation of a RayCluster, in Rust.
//!
//! Role: [`validate`] is what the operator runs before acting on a spec. It
//! mirrors every schema and CEL rule of the CRD (so an object stored before the
//! CRD had a rule, or written through a path that skipped it, is still caught)
//! and adds the checks a schema cannot express:
//! - a given template has at least one container (also a CEL rule, but the
//!   template schema is open, so it is checked again on the typed value);
//! - `rayStartParams` keys are flag names (`^[a-z0-9][a-z0-9-]*$`) and values
//!   hold no control characters. Other characters are allowed: the code that
//!   builds the `ray start` command must shell-quote every value that
//!   [`is_shell_safe`] refuses;
//! - resources are not set twice in `rayStartParams`: the `resources` JSON may
//!   not hold `CPU`, `GPU` or `memory`, which have their own flags (Ray refuses
//!   them there), and the resource flags must be numbers. Setting `num-cpus`
//!   beside a container CPU limit is allowed: the flag wins (the container's
//!   resources only fill in flags that are not given), and `num-cpus: "0"` on
//!   the head is KubeRay's idiom for keeping work off the head;
//! - the pod-count limits of [`limits`], computed exactly as the CEL rules
//!   compute them, so no count rayop derives from a valid spec saturates
//!   (in [`group_checks`](crate::crd::group_checks));
//! - with `tlsOptions.enabled`, no Ray container or `autoscalerOptions`
//!   sets the TLS env names or the `ray-tls` mount rayop owns
//!   ([`tls_checks`](crate::crd::tls_checks));
//! - the API server's invariants of each pod template
//!   ([`pod_template::check_template`]) and the HPA API's ranges of a
//!   group's `behavior`, so they are reported on the RayCluster's fields
//!   before anything is created, not on a StatefulSet's.
//!
//! - `authOptions` and `historyServerOptions` ([`option_checks`]).
//!
//! [`adjustments`] lists what rayop changes on its own without refusing the
//! spec (an ignored `restartPolicy`, a capped unset `maxReplicas`, an HPA
//! floor of 1), for the non-blocking `SpecAdjusted` condition.
//!
//! Invariant: each [`SpecProblem`] names the field to fix with a JSON path such
//! as `spec.workerGroupSpecs[1].minReplicas`, in a stable order.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::PodTemplateSpec;
use kube::ResourceExt;

use crate::crd::{
    cel, gcs_checks, group_checks,
    head::ServiceType,
    limits, names, option_checks, pod_template,
    spec::{RayCluster, RayClusterSpec},
    upgrade,
    worker_group::{WorkerGroupSpec, WorkloadKind},
};

/// `rayStartParams` flags whose value is a number of CPUs or GPUs.
pub const COUNT_FLAGS: [&str; 2] = ["num-cpus", "num-gpus"];
/// `rayStartParams` flags whose value is a whole number of bytes.
pub const BYTE_FLAGS: [&str; 2] = ["memory", "object-store-memory"];
/// The autoscaler container's env variable holding the generated start
/// command; `autoscalerOptions.env` may not set it.
pub const GEN_AUTOSCALER_START_CMD: &str = "KUBERAY_GEN_AUTOSCALER_START_CMD";
/// Keys of the `resources` JSON that have their own flag.
pub const RESOURCES_WITH_FLAGS: [(&str, &str); 3] = [
    ("CPU", "num-cpus"),
    ("GPU", "num-gpus"),
    ("memory", "memory"),
];

pub use rayop_machines::SpecProblem;

pub use crate::crd::group_checks::adjustments;

/// Checks a RayCluster: its name and its spec.
///
/// # Errors
/// Every problem found, in field order.
pub fn validate(cluster: &RayCluster) -> Result<(), Vec<SpecProblem>> {
    let problems = cluster_problems(cluster);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Every problem of `cluster`: [`problems`] of its name and spec, then those
/// of GCS fault tolerance, which also read its annotations
/// ([`gcs_checks::problems`]), then those the spec has together with the
/// cluster's labels.
#[must_use]
pub fn cluster_problems(cluster: &RayCluster) -> Vec<SpecProblem> {
    let mut out = problems(&cluster.name_any(), &cluster.spec);
    out.extend(gcs_checks::problems(
        cluster.metadata.annotations.as_ref(),
        &cluster.spec,
    ));
    check_upgrade_origin(&mut out, cluster.labels(), &cluster.spec);
    out
}

/// A cluster a RayJob or RayService made is upgraded by its owner:
/// `upgradeStrategy` is not for it.
fn check_upgrade_origin(
    out: &mut Vec<SpecProblem>,
    labels: &BTreeMap<String, String>,
    spec: &RayClusterSpec,
) {
    let Some(origin) = labels.get(super::names::LABEL_ORIGINATED_FROM_CRD) else {
        return;
    };
    if spec.upgrade_strategy.is_some() && upgrade::MANAGED_ORIGINS.contains(&origin.as_str()) {
        out.push(SpecProblem::new(
            "spec.upgradeStrategy",
            format!(
                "must be unset on a cluster made by a {origin} (label {}={origin}): the {origin} upgrades its cluster itself",
                super::names::LABEL_ORIGINATED_FROM_CRD
            ),
        ));
    }
}

/// Every problem of the cluster called `name` with `spec`, in field order;
/// GCS fault tolerance is checked by [`cluster_problems`].
#[must_use]
pub fn problems(name: &str, spec: &RayClusterSpec) -> Vec<SpecProblem> {
    let mut out = Vec::new();
    if let Err(errors) = names::check_cluster_name(name) {
        out.extend(
            errors
                .into_iter()
                .map(|e| SpecProblem::new("metadata.name", e.to_string())),
        );
    }
    if spec.ray_version.is_empty() {
        out.push(SpecProblem::new(
            "spec.rayVersion",
            "must not be empty; omit it for the default",
        ));
    } else if !names::is_image_tag(&spec.ray_version) {
        out.push(SpecProblem::new(
            "spec.rayVersion",
            format!(
                "{:?} is not an image tag: use letters, digits, '_', '.' and '-' only (for example 2.46.0), \
                 not starting with '.' or '-', at most 128 characters",
                spec.ray_version
            ),
        ));
    }
    if let Some(head) = &spec.head_group_spec {
        let path = "spec.headGroupSpec";
        check_ray_start_params(&mut out, path, &head.ray_start_params);
        if let Some(template) = &head.template {
            check_template(
                &mut out,
                path,
                template,
                &claim_names(head.volume_claim_templates.as_deref()),
            );
        }
    }
    out.extend(
        crate::crd::ray_node_options::check(spec)
            .into_iter()
            .map(|(field, message)| SpecProblem::new(field, message)),
    );
    if let Some(policy) = &spec.network_policy {
        let groups: Vec<&str> = spec
            .worker_group_specs
            .iter()
            .map(|g| g.group_name.as_str())
            .collect();
        out.extend(
            crate::crd::network_policy::check(policy, &groups)
                .into_iter()
                .map(|(field, message)| SpecProblem::new(field, message)),
        );
    }
    check_head_service_type(&mut out, spec);
    check_head_service_name(&mut out, spec);
    check_claim_templates(&mut out, spec);
    check_worker_groups(&mut out, name, &spec.worker_group_specs);
    out.extend(crate::crd::tls_checks::tls_problems(spec));
    if let Some(options) = &spec.autoscaler_options {
        let path = "spec.autoscalerOptions";
        non_negative(
            &mut out,
            path,
            "idleTimeoutSeconds",
            options.idle_timeout_seconds,
        );
        non_negative(
            &mut out,
            path,
            "idleTimeoutMinutes",
            options.idle_timeout_minutes,
        );
        if options.idle_timeout_seconds.is_some() && options.idle_timeout_minutes.is_some() {
            out.push(SpecProblem::new(path, cel::ONE_IDLE_TIMEOUT.message));
        }
        if options
            .upscaling_speed
            .is_some_and(|s| s.is_nan() || s < 0.0)
        {
            out.push(SpecProblem::new(
                format!("{path}.upscalingSpeed"),
                "must be a number greater than or equal to 0",
            ));
        }
        if options.upscaling_mode.is_some() && options.upscaling_speed.is_some() {
            out.push(SpecProblem::new(path, cel::ONE_UPSCALING_SETTING.message));
        }
        for (i, var) in options.env.iter().flatten().enumerate() {
            if var.name == GEN_AUTOSCALER_START_CMD {
                out.push(SpecProblem::new(
                    format!("{path}.env[{i}].name"),
                    format!(
                        "must not be {GEN_AUTOSCALER_START_CMD}: the operator sets it to the generated \
                         autoscaler start command, for a custom command or args to run"
                    ),
                ));
            }
        }
        if spec.autoscaling_enabled() {
            check_autoscaler_container(&mut out, spec, options);
        }
    }
    option_checks::check_auth(&mut out, spec);
    option_checks::check_history_server(&mut out, spec);
    if spec
        .managed_by
        .as_ref()
        .is_some_and(|m| m.len() > names::MAX_DNS_LABEL)
    {
        out.push(SpecProblem::new(
            "spec.managedBy",
            "must be at most 63 characters",
        ));
    }
    out
}

/// The autoscaler container runs in the head pod: its env names must be
/// valid and unique, and its mounts must name a volume of the head's pod.
fn check_autoscaler_container(
    out: &mut Vec<SpecProblem>,
    spec: &RayClusterSpec,
    options: &crate::crd::autoscaler::AutoscalerOptions,
) {
    let mut seen = BTreeSet::new();
    for (i, var) in options.env.iter().flatten().enumerate() {
        let field = format!("spec.autoscalerOptions.env[{i}].name");
        if !pod_template::is_env_name(&var.name) {
            out.push(SpecProblem::new(
                field,
                format!(
                    "{:?} is not a valid environment variable name: printable ASCII without '=', not empty",
                    var.name
                ),
            ));
        } else if !seen.insert(var.name.as_str()) {
            out.push(SpecProblem::new(
                field,
                format!("environment variable {:?} is set twice", var.name),
            ));
        }
    }
    let head = spec.head_group_spec.as_ref();
    let volumes: BTreeSet<&str> = head
        .and_then(|h| h.template.as_ref())
        .and_then(|t| t.spec.as_ref())
        .and_then(|p| p.volumes.as_ref())
        .into_iter()
        .flatten()
        .map(|v| v.name.as_str())
        .chain(
            head.and_then(|h| h.volume_claim_templates.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|c| c.metadata.name.as_deref()),
        )
        .chain(pod_template::ROOT_PROVIDED_VOLUMES)
        .collect();
    for (i, mount) in options.volume_mounts.iter().flatten().enumerate() {
        if !volumes.contains(mount.name.as_str()) {
            out.push(SpecProblem::new(
                format!("spec.autoscalerOptions.volumeMounts[{i}].name"),
                format!(
                    "mounts volume {:?}, which the head's pod does not have: add it to headGroupSpec.template.spec.volumes",
                    mount.name
                ),
            ));
        }
    }
}

fn check_head_service_type(out: &mut Vec<SpecProblem>, spec: &RayClusterSpec) {
    let in_head: Option<ServiceType> = spec.head_group_spec.as_ref().and_then(|h| h.service_type);
    let in_seed = spec.head_service.as_ref().and_then(|s| s.type_);
    if let (Some(a), Some(b)) = (in_head, in_seed)
        && a != b
    {
        out.push(SpecProblem::new(
            "spec.headService.type",
            cel::HEAD_SERVICE_TYPE_AGREES.message,
        ));
    }
}

/// A custom head Service name must be a Service name: a DNS-1035 label.
fn check_head_service_name(out: &mut Vec<SpecProblem>, spec: &RayClusterSpec) {
    if let Some(name) = spec.custom_head_service_name()
        && !names::is_dns1035_label(name)
    {
        out.push(SpecProblem::new(
            "spec.headGroupSpec.headService.metadata.name",
            format!(
                "{name:?} is not a valid Service name: use at most {} lowercase letters, digits and '-', \
                 starting with a letter and ending with a letter or digit",
                names::MAX_DNS_LABEL
            ),
        ));
    }
}

/// `volumeClaimTemplates` need a StatefulSet: a Deployment has no per-pod
/// claims. A group is scaled by the Ray autoscaler or an HPA, not both.
fn check_claim_templates(out: &mut Vec<SpecProblem>, spec: &RayClusterSpec) {
    for (i, group) in spec.worker_group_specs.iter().enumerate() {
        if group.horizontal_pod_autoscaler.is_some() && spec.autoscaling_enabled() {
            out.push(SpecProblem::new(
                format!("spec.workerGroupSpecs[{i}].horizontalPodAutoscaler"),
                cel::ONE_AUTOSCALER_PER_GROUP.message,
            ));
        }
        let has_claims = group
            .volume_claim_templates
            .as_ref()
            .is_some_and(|c| !c.is_empty());
        if has_claims && spec.effective_workload_kind(group) == WorkloadKind::Deployment {
            out.push(SpecProblem::new(
                format!("spec.workerGroupSpecs[{i}].volumeClaimTemplates"),
                "needs workloadKind: StatefulSet (a Deployment has no per-pod volumes; \
                 with enableInTreeAutoscaling the default kind is Deployment)",
            ));
        }
    }
}

fn check_worker_groups(out: &mut Vec<SpecProblem>, cluster: &str, groups: &[WorkerGroupSpec]) {
    if groups.len() > cel::MAX_WORKER_GROUPS {
        out.push(SpecProblem::new(
            "spec.workerGroupSpecs",
            format!(
                "at most {} worker groups are allowed",
                cel::MAX_WORKER_GROUPS
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, group) in groups.iter().enumerate() {
        let path = format!("spec.workerGroupSpecs[{i}]");
        if let Err(errors) = names::check_group_name(cluster, &group.group_name) {
            // the length bound involves metadata.name too; it is reported on the group
            out.extend(
                errors
                    .into_iter()
                    .map(|e| SpecProblem::new(format!("{path}.groupName"), e.to_string())),
            );
        }
        if !seen.insert(group.group_name.as_str()) {
            out.push(SpecProblem::new(
                format!("{path}.groupName"),
                cel::GROUP_NAMES_UNIQUE.message,
            ));
        }
        non_negative(out, &path, "replicas", Some(group.replicas));
        non_negative(out, &path, "minReplicas", Some(group.min_replicas));
        non_negative(out, &path, "maxReplicas", Some(group.max_replicas));
        if group.min_replicas > group.max_replicas {
            out.push(SpecProblem::new(
                format!("{path}.minReplicas"),
                cel::MIN_LE_MAX.message,
            ));
        }
        if group.num_of_hosts < 1 {
            out.push(SpecProblem::new(
                format!("{path}.numOfHosts"),
                "must be greater than or equal to 1",
            ));
        } else if group.num_of_hosts > limits::MAX_NUM_OF_HOSTS {
            out.push(SpecProblem::new(
                format!("{path}.numOfHosts"),
                format!("must be less than or equal to {}", limits::MAX_NUM_OF_HOSTS),
            ));
        }
        group_checks::check_group_pods(out, &path, group);
        non_negative(out, &path, "idleTimeoutSeconds", group.idle_timeout_seconds);
        check_ray_start_params(out, &path, &group.ray_start_params);
        if let Some(template) = &group.template {
            check_template(
                out,
                &path,
                template,
                &claim_names(group.volume_claim_templates.as_deref()),
            );
        }
        if let Some(hpa) = &group.horizontal_pod_autoscaler {
            group_checks::check_hpa(out, &path, group, hpa);
        }
    }
    group_checks::check_cluster_pods(out, groups);
}

fn claim_names(
    claims: Option<&[k8s_openapi::api::core::v1::PersistentVolumeClaim]>,
) -> Vec<String> {
    claims
        .into_iter()
        .flatten()
        .filter_map(|c| c.metadata.name.clone())
        .collect()
}

fn non_negative(out: &mut Vec<SpecProblem>, path: &str, field: &str, value: Option<i32>) {
    if value.is_some_and(|v| v < 0) {
        out.push(SpecProblem::new(
            format!("{path}.{field}"),
            "must be greater than or equal to 0",
        ));
    }
}

fn check_template(
    out: &mut Vec<SpecProblem>,
    path: &str,
    template: &PodTemplateSpec,
    claims: &[String],
) {
    if template
        .spec
        .as_ref()
        .is_none_or(|s| s.containers.is_empty())
    {
        out.push(SpecProblem::new(
            format!("{path}.template.spec.containers"),
            cel::TEMPLATE_HAS_CONTAINER.message,
        ));
    }
    pod_template::check_template(out, &format!("{path}.template"), template, claims);
}

/// Whether `key` is a `ray start` flag name: `^[a-z0-9][a-z0-9-]*$`.
#[must_use]
pub fn is_flag_name(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Whether `value` can stand in a shell command line unquoted: only
/// `[A-Za-z0-9._:/=,+@%-]`, and not empty. Any other value must be shell-quoted
/// by the code that builds the `ray start` command.
#[must_use]
pub fn is_shell_safe(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:/=,+@%-".contains(&b))
}

fn check_ray_start_params(
    out: &mut Vec<SpecProblem>,
    path: &str,
    params: &BTreeMap<String, String>,
) {
    for (key, value) in params {
        let field = format!("{path}.rayStartParams[{key}]");
        if !is_flag_name(key) {
            out.push(SpecProblem::new(
                format!("{path}.rayStartParams"),
                format!(
                    "key {key:?} is not a flag name: use lower-case letters, digits and '-', without leading dashes"
                ),
            ));
            continue;
        }
        if value.chars().any(char::is_control) {
            out.push(SpecProblem::new(
                field,
                "must not contain control characters such as newlines",
            ));
            continue;
        }
        if COUNT_FLAGS.contains(&key.as_str())
            && !value.trim().parse::<f64>().is_ok_and(|n| n >= 0.0)
        {
            out.push(SpecProblem::new(
                field,
                format!("{value:?} is not a non-negative number"),
            ));
        } else if BYTE_FLAGS.contains(&key.as_str()) && value.trim().parse::<u64>().is_err() {
            out.push(SpecProblem::new(
                field,
                format!("{value:?} is not a whole number of bytes"),
            ));
        } else if key == "resources" {
            check_custom_resources(out, field, value);
        }
    }
}

/// The `resources` flag holds a JSON object of custom resources. KubeRay's docs
/// wrap it in an extra pair of quotes for the shell; both forms are accepted.
fn check_custom_resources(out: &mut Vec<SpecProblem>, field: String, value: &str) {
    let trimmed = value.trim();
    let unwrapped = trimmed
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .map(|v| v.replace("\\\"", "\""))
        .or_else(|| {
            trimmed
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| trimmed.to_owned());
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&unwrapped) {
        Err(_) => out.push(SpecProblem::new(
            field,
            "must be a JSON object of custom resource names to amounts, such as {\"TPU\": 4}",
        )),
        Ok(resources) => {
            for (resource, flag) in RESOURCES_WITH_FLAGS {
                if resources.contains_key(resource) {
                    out.push(SpecProblem::new(
                        field.clone(),
                        format!(
                            "sets {resource}, which has its own flag: use rayStartParams[{flag}] instead (Ray refuses {resource} in resources)"
                        ),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::test_builders::*;

    fn fields(cluster: &RayCluster) -> Vec<String> {
        validate(cluster)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.field)
            .collect()
    }

    #[test]
    fn an_upgrade_strategy_is_refused_on_a_rayjob_or_rayservice_cluster() {
        use crate::crd::upgrade::{UpgradeStrategy, UpgradeType};
        let with_origin = |origin: Option<&str>| {
            let mut cluster = RayCluster::test("rc");
            cluster.spec.upgrade_strategy = Some(UpgradeStrategy {
                type_: Some(UpgradeType::Recreate),
            });
            if let Some(origin) = origin {
                cluster
                    .labels_mut()
                    .insert("ray.io/originated-from-crd".into(), origin.into());
            }
            cluster
        };
        assert!(fields(&with_origin(None)).is_empty());
        assert!(fields(&with_origin(Some("SomethingElse"))).is_empty());
        for origin in ["RayJob", "RayService"] {
            let problems = validate(&with_origin(Some(origin))).unwrap_err();
            assert_eq!(problems[0].field, "spec.upgradeStrategy");
            assert!(
                problems[0].message.contains(origin),
                "{}",
                problems[0].message
            );
        }
    }

    #[test]
    fn a_custom_head_service_name_must_be_a_dns_label() {
        let with_name = |name: &str| {
            let mut cluster = RayCluster::test("rc");
            let head = cluster
                .spec
                .head_group_spec
                .get_or_insert_with(Default::default);
            head.head_service = Some(k8s_openapi::api::core::v1::Service {
                metadata: kube::api::ObjectMeta {
                    name: Some(name.to_owned()),
                    ..Default::default()
                },
                ..Default::default()
            });
            fields(&cluster)
        };
        assert!(with_name("my-head").is_empty());
        for bad in ["My_Head", "1head", "head-", &"a".repeat(64)] {
            assert_eq!(
                with_name(bad),
                ["spec.headGroupSpec.headService.metadata.name"],
                "{bad}"
            );
        }
    }

    #[test]
    fn the_autoscaler_env_may_not_set_the_generated_start_command() {
        use k8s_openapi::api::core::v1::EnvVar;
        let mut c = RayCluster::test("rc");
        c.spec.autoscaler_options = Some(crate::crd::autoscaler::AutoscalerOptions {
            env: Some(vec![
                EnvVar {
                    name: "OTHER".into(),
                    value: Some("1".into()),
                    ..EnvVar::default()
                },
                EnvVar {
                    name: GEN_AUTOSCALER_START_CMD.into(),
                    value: Some("ray kuberay-autoscaler".into()),
                    ..EnvVar::default()
                },
            ]),
            ..Default::default()
        });
        // Refused whether or not in-tree autoscaling is on, as KubeRay does.
        assert_eq!(fields(&c), ["spec.autoscalerOptions.env[1].name"]);
        c.spec.enable_in_tree_autoscaling = Some(true);
        assert_eq!(fields(&c), ["spec.autoscalerOptions.env[1].name"]);
    }

    #[test]
    fn a_built_cluster_is_valid() {
        let cluster = RayCluster::test("ok").with_workers(2);
        assert_eq!(validate(&cluster), Ok(()));
    }

    #[test]
    fn min_above_max() {
        let cluster = RayCluster::test("rc").with_group(group("g").bounds(3, 1));
        assert_eq!(fields(&cluster), ["spec.workerGroupSpecs[0].minReplicas"]);
    }

    #[test]
    fn negative_counts() {
        let mut g = group("g");
        g.replicas = -1;
        g.num_of_hosts = 0;
        let cluster = RayCluster::test("rc").with_group(g);
        assert_eq!(
            fields(&cluster),
            [
                "spec.workerGroupSpecs[0].replicas",
                "spec.workerGroupSpecs[0].numOfHosts"
            ]
        );
    }

    #[test]
    fn duplicate_and_bad_group_names() {
        let cluster = RayCluster::test("rc")
            .with_group(group("a"))
            .with_group(group("a"))
            .with_group(group("Bad_Name"))
            .with_group(group("head"));
        assert_eq!(
            fields(&cluster),
            [
                "spec.workerGroupSpecs[1].groupName",
                "spec.workerGroupSpecs[2].groupName",
                "spec.workerGroupSpecs[3].groupName"
            ]
        );
    }

    #[test]
    fn name_length_bounds() {
        let at_limit = "a".repeat(names::MAX_CLUSTER_NAME);
        assert_eq!(validate(&RayCluster::test(&at_limit)), Ok(()));
        let over = "a".repeat(names::MAX_CLUSTER_NAME + 1);
        assert_eq!(fields(&RayCluster::test(&over)), ["metadata.name"]);

        let cluster = "c".repeat(40);
        let fits = RayCluster::test(&cluster).with_group(group(&"g".repeat(11)));
        assert_eq!(validate(&fits), Ok(()));
        let too_long = RayCluster::test(&cluster).with_group(group(&"g".repeat(12)));
        assert_eq!(fields(&too_long), ["spec.workerGroupSpecs[0].groupName"]);
    }

    #[test]
    fn templates_need_a_container() {
        let mut g = group("g");
        g.template = Some(PodTemplateSpec::default());
        let cluster = RayCluster::test("rc").with_group(g);
        assert_eq!(
            fields(&cluster),
            ["spec.workerGroupSpecs[0].template.spec.containers"]
        );
    }

    #[test]
    fn ray_start_params() {
        let g = group("g")
            .param("num-cpus", "2")
            .param("--block", "true")
            .param("num-gpus", "many")
            .param("memory", "1.5")
            .param("node-ip-address", "$(MY_POD_IP)\necho pwned")
            .param("resources", r#""{\"GPU\": 1, \"TPU\": 4}""#);
        let cluster = RayCluster::test("rc").with_group(g);
        let problems = validate(&cluster).unwrap_err();
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.workerGroupSpecs[0].rayStartParams",
                "spec.workerGroupSpecs[0].rayStartParams[memory]",
                "spec.workerGroupSpecs[0].rayStartParams[node-ip-address]",
                "spec.workerGroupSpecs[0].rayStartParams[num-gpus]",
                "spec.workerGroupSpecs[0].rayStartParams[resources]",
            ]
        );
        assert!(problems[4].message.contains("num-gpus"));
    }

    #[test]
    fn custom_resources_in_plain_json_are_fine() {
        let g = group("g").param("resources", r#"{"TPU": 4}"#);
        assert_eq!(validate(&RayCluster::test("rc").with_group(g)), Ok(()));
    }

    #[test]
    fn shell_safety() {
        assert!(is_shell_safe("0.0.0.0"));
        assert!(is_shell_safe("10.0.0.1:6379"));
        assert!(!is_shell_safe("a b"));
        assert!(!is_shell_safe("$(reboot)"));
        assert!(!is_shell_safe("x;y"));
        assert!(!is_shell_safe(""));
        assert!(is_flag_name("dashboard-host"));
        assert!(!is_flag_name("-dashboard-host"));
        assert!(!is_flag_name("Dashboard"));
    }
}

#[cfg(test)]
mod claim_template_tests {
    use super::*;
    use crate::crd::test_builders::group;
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;

    fn with_claims(kind: Option<WorkloadKind>, autoscaling: bool) -> RayCluster {
        let mut g = group("data").with_replicas(1);
        g.workload_kind = kind;
        g.volume_claim_templates = Some(vec![PersistentVolumeClaim::default()]);
        let mut c = RayCluster::test("rc").with_group(g);
        if autoscaling {
            c = c.with_autoscaling();
        }
        c
    }

    #[test]
    fn claims_on_a_statefulset_group_are_fine() {
        assert!(validate(&with_claims(None, false)).is_ok());
        assert!(validate(&with_claims(Some(WorkloadKind::StatefulSet), true)).is_ok());
    }

    #[test]
    fn claims_on_a_deployment_group_are_refused_naming_the_field() {
        for cluster in [
            with_claims(Some(WorkloadKind::Deployment), false),
            with_claims(None, true),
        ] {
            let problems = validate(&cluster).unwrap_err();
            assert_eq!(
                problems[0].field,
                "spec.workerGroupSpecs[0].volumeClaimTemplates"
            );
        }
    }
}
