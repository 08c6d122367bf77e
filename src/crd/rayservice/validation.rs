//! Semantic validation of a RayService, in Rust.
//!
//! Role: [`validate`] is what a RayService controller runs before acting (a
//! failure becomes `Ready=False` with reason `ValidationFailed`). It mirrors
//! every schema and CEL rule of the RayService CRD (for objects stored
//! before a rule existed) and adds what a schema cannot express, as KubeRay
//! v1.7.0's webhook and controller check it:
//! - the `ray.io/initializing-timeout` annotation is a positive Go duration
//!   (`30m`) or a positive whole number of seconds ([`initializing_timeout`]);
//! - `rayClusterConfig` passes the whole RayCluster validation, under the
//!   name of the longest cluster the RayService can create and with the
//!   RayService's annotations (which its clusters carry);
//! - `serveConfigV2`, when set, is a YAML mapping (Ray Serve's config).
//!
//! Mirrored schema rules include `serveService.metadata.name` (empty or a
//! DNS-1035 label) and the ranges of `clusterUpgradeOptions`.
//!
//! Invariant: each [`SpecProblem`] names the field with a JSON path such as
//! `spec.upgradeStrategy.clusterUpgradeOptions.stepSizePercent` or
//! `spec.rayClusterConfig.workerGroupSpecs[0].groupName`.

use std::{collections::BTreeMap, time::Duration};

use kube::ResourceExt;
use rayop_machines::raycronjob::go_duration;
use thiserror::Error;

use super::{
    cel,
    spec::{RayService, RayServiceSpec},
    upgrade_strategy::{ClusterUpgradeOptions, MAX_PERCENT},
};
use crate::crd::{
    gcs_checks, names, rayjob,
    validation::{self as cluster_validation, SpecProblem},
};

/// Longest RayService name (KubeRay's bound).
pub const MAX_SERVICE_NAME: usize = 47;
/// What a cluster's name adds after the RayService part: `-` and KubeRay's
/// 5 random characters.
pub const CLUSTER_NAME_SUFFIX_LEN: usize = 6;
/// Longest RayService part of a cluster name, `47 - 6` = 41, so that the
/// cluster name fits rayop's [`names::MAX_CLUSTER_NAME`].
pub const CLUSTER_NAME_PREFIX: usize = names::MAX_CLUSTER_NAME - CLUSTER_NAME_SUFFIX_LEN;
/// Annotation: how long the RayService may stay Initializing before it gives
/// up (a Go duration or whole seconds).
pub const INITIALIZING_TIMEOUT_ANNOTATION: &str = "ray.io/initializing-timeout";

/// Why the `ray.io/initializing-timeout` annotation is refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum InitializingTimeoutError {
    /// It parses, but is zero or negative.
    #[error("must be positive, got {0:?}")]
    NotPositive(String),
    /// It is neither a Go duration nor a whole number of seconds.
    #[error("{0:?} is neither a Go duration (such as 5m or 1h) nor a whole number of seconds")]
    Malformed(String),
}

/// The `ray.io/initializing-timeout` annotation of `annotations`: `None`
/// when absent or empty.
///
/// # Errors
/// [`InitializingTimeoutError`] when it is set but not a positive duration.
pub fn initializing_timeout(
    annotations: &BTreeMap<String, String>,
) -> Result<Option<Duration>, InitializingTimeoutError> {
    let Some(text) = annotations
        .get(INITIALIZING_TIMEOUT_ANNOTATION)
        .filter(|t| !t.is_empty())
    else {
        return Ok(None);
    };
    let not_positive = || InitializingTimeoutError::NotPositive(text.clone());
    if let Some(nanos) = go_duration::parse_nanos(text) {
        let nanos = u64::try_from(nanos)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(not_positive)?;
        return Ok(Some(Duration::from_nanos(nanos)));
    }
    match text.parse::<i64>() {
        Ok(seconds) => u64::try_from(seconds)
            .ok()
            .filter(|s| *s > 0)
            .map(|s| Some(Duration::from_secs(s)))
            .ok_or_else(not_positive),
        Err(_) => Err(InitializingTimeoutError::Malformed(text.clone())),
    }
}

/// Checks a RayService: its name, its annotations and its spec.
///
/// # Errors
/// Every problem found, in field order.
pub fn validate(svc: &RayService) -> Result<(), Vec<SpecProblem>> {
    let name = svc.name_any();
    let mut out = rayjob::validation::name_problems(&name, MAX_SERVICE_NAME);
    if let Err(e) = initializing_timeout(svc.annotations()) {
        out.push(SpecProblem::new(
            format!("metadata.annotations[{INITIALIZING_TIMEOUT_ANNOTATION}]"),
            e.to_string(),
        ));
    }
    out.extend(spec_problems(&name, svc.annotations(), &svc.spec));
    if out.is_empty() { Ok(()) } else { Err(out) }
}

/// The problems of the spec of the RayService `name` with `annotations`.
#[must_use]
pub fn spec_problems(
    name: &str,
    annotations: &BTreeMap<String, String>,
    spec: &RayServiceSpec,
) -> Vec<SpecProblem> {
    let mut out = Vec::new();
    let mut problem = |field: &str, message: &str| {
        out.push(SpecProblem::new(format!("spec{field}"), message));
    };
    if spec
        .ray_cluster_deletion_delay_seconds
        .is_some_and(|d| d < 0)
    {
        problem(".rayClusterDeletionDelaySeconds", "must be 0 or more");
    }
    if let Some(managed_by) = spec.managed_by.as_deref()
        && !rayjob::validation::MANAGED_BY_VALUES.contains(&managed_by)
    {
        problem(
            ".managedBy",
            "managedBy must be ray.io/rayop, ray.io/kuberay-operator or kueue.x-k8s.io/multikueue",
        );
    }
    if let Some(strategy) = &spec.upgrade_strategy {
        if strategy.is_incremental() && strategy.cluster_upgrade_options.is_none() {
            problem(
                ".upgradeStrategy.clusterUpgradeOptions",
                cel::INCREMENTAL_NEEDS_OPTIONS.message,
            );
        }
        if let Some(options) = &strategy.cluster_upgrade_options {
            option_problems(options, &mut problem);
        }
    }
    let cluster = &spec.ray_cluster_config;
    if cluster
        .auth_options
        .as_ref()
        .is_some_and(|a| a.k8s_token_auth())
    {
        problem(
            ".rayClusterConfig.authOptions.enableK8sTokenAuth",
            cel::NO_K8S_TOKEN_AUTH.message,
        );
    }
    if spec.is_incremental() && !cluster.autoscaling_enabled() {
        problem(
            ".rayClusterConfig.enableInTreeAutoscaling",
            cel::INCREMENTAL_NEEDS_AUTOSCALING.message,
        );
    }
    if cluster.custom_head_service_name().is_some() {
        problem(
            ".rayClusterConfig.headGroupSpec.headService.metadata.name",
            cel::NO_CUSTOM_HEAD_SERVICE_NAME.message,
        );
    }
    if cluster.upgrade_strategy.is_some() {
        problem(
            ".rayClusterConfig.upgradeStrategy",
            cel::NO_CLUSTER_UPGRADE_STRATEGY.message,
        );
    }
    if let Some(serve_name) = spec
        .serve_service
        .as_ref()
        .and_then(|s| s.metadata.name.as_deref())
        .filter(|n| !n.is_empty())
        && !names::is_dns1035_label(serve_name)
    {
        problem(
            ".serveService.metadata.name",
            "must be empty or a DNS-1035 label of at most 63 characters: lower-case letters, digits and '-', starting with a letter and ending with a letter or digit",
        );
    }
    if !spec.serve_config_v2.is_empty()
        && !matches!(
            serde_yaml::from_str::<serde_yaml::Value>(&spec.serve_config_v2),
            Ok(serde_yaml::Value::Mapping(_))
        )
    {
        problem(
            ".serveConfigV2",
            "must be Ray Serve's config as a YAML mapping, such as 'applications: [...]'",
        );
    }
    out.extend(cluster_config_problems(name, annotations, cluster));
    out
}

fn option_problems(options: &ClusterUpgradeOptions, problem: &mut impl FnMut(&str, &str)) {
    let at = ".upgradeStrategy.clusterUpgradeOptions";
    let percent = 0..=MAX_PERCENT;
    if !percent.contains(&options.max_surge_percent) {
        problem(
            &format!("{at}.maxSurgePercent"),
            "must be between 0 and 100",
        );
    }
    if !percent.contains(&options.step_size_percent) {
        problem(
            &format!("{at}.stepSizePercent"),
            "must be between 0 and 100",
        );
    } else if options.step_size_percent > options.max_surge_percent {
        problem(
            &format!("{at}.stepSizePercent"),
            cel::STEP_WITHIN_SURGE.message,
        );
    }
    if options.interval_seconds < 1 {
        problem(&format!("{at}.intervalSeconds"), "must be 1 or more");
    }
    if options.gateway_class_name.is_empty() {
        problem(
            &format!("{at}.gatewayClassName"),
            "must name the Gateway class installed in the cluster",
        );
    }
}

/// The RayCluster problems of `rayClusterConfig`, checked as the longest
/// cluster the RayService `name` can create (`<name cut to 41>-xxxxx`) with
/// the RayService's annotations, under `spec.rayClusterConfig`. Name
/// problems of that cluster are the RayService's own and left out; the
/// group-name bound ([`cel::GROUP_NAMES_FIT`]) is reported on each group.
fn cluster_config_problems(
    name: &str,
    annotations: &BTreeMap<String, String>,
    cluster: &crate::crd::RayClusterSpec,
) -> Vec<SpecProblem> {
    let prefix = name.get(..CLUSTER_NAME_PREFIX).unwrap_or(name);
    let stand_in = format!(
        "{prefix}-{}",
        "x".repeat(CLUSTER_NAME_SUFFIX_LEN.saturating_sub(1))
    );
    let mut found = cluster_validation::problems(&stand_in, cluster);
    found.extend(gcs_checks::problems(Some(annotations), cluster));
    found
        .into_iter()
        .filter(|p| p.field != "metadata.name")
        .map(|p| {
            let field = match p.field.strip_prefix("spec") {
                Some(rest) if rest.is_empty() || rest.starts_with(['.', '[']) => {
                    format!("spec.rayClusterConfig{rest}")
                }
                _ => p.field,
            };
            SpecProblem::new(field, p.message)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn service(name: &str, spec: Value) -> RayService {
        RayService::new(name, serde_json::from_value(spec).unwrap())
    }

    fn cluster() -> Value {
        json!({"rayVersion": "2.52.0", "headGroupSpec": {"rayStartParams": {}}})
    }

    /// The fields of every problem of the RayService `name` with `spec`.
    fn fields_of(name: &str, spec: Value) -> Vec<String> {
        match validate(&service(name, spec)) {
            Ok(()) => Vec::new(),
            Err(problems) => problems.into_iter().map(|p| p.field).collect(),
        }
    }

    fn fields(spec: Value) -> Vec<String> {
        fields_of("s", spec)
    }

    fn incremental(options: Value) -> Value {
        json!({"type": "NewClusterWithIncrementalUpgrade", "clusterUpgradeOptions": options})
    }

    fn autoscaling() -> Value {
        json!({"rayVersion": "2.52.0", "enableInTreeAutoscaling": true, "headGroupSpec": {"rayStartParams": {}}})
    }

    #[test]
    fn a_plain_service_and_the_test_builder_are_valid() {
        assert!(fields(json!({"rayClusterConfig": cluster()})).is_empty());
        assert_eq!(validate(&RayService::test("s")), Ok(()));
    }

    #[test]
    fn the_cluster_prefix_is_the_rayjobs() {
        assert_eq!(CLUSTER_NAME_PREFIX, 41);
        assert_eq!(
            CLUSTER_NAME_PREFIX,
            crate::build::rayjob::names::MAX_CLUSTER_PREFIX
        );
        assert_eq!(
            CLUSTER_NAME_SUFFIX_LEN,
            crate::build::rayjob::names::SUFFIX_LEN + 1
        );
    }

    #[test]
    fn names_are_dns1035_labels_of_at_most_47() {
        let spec = json!({"rayClusterConfig": cluster()});
        assert!(fields_of(&"a".repeat(47), spec.clone()).is_empty());
        assert_eq!(fields_of(&"a".repeat(48), spec.clone()), ["metadata.name"]);
        assert_eq!(fields_of("My_Service", spec), ["metadata.name"]);
    }

    #[test]
    fn group_names_must_fit_the_cluster_name() {
        let groups = |group: &str| {
            json!({"rayClusterConfig": {"rayVersion": "2.52.0",
            "workerGroupSpecs": [{"groupName": group, "rayStartParams": {}}]}})
        };
        assert!(fields_of(&"a".repeat(47), groups("gggg")).is_empty());
        assert_eq!(
            fields_of(&"a".repeat(47), groups("ggggg")),
            ["spec.rayClusterConfig.workerGroupSpecs[0].groupName"]
        );
        assert!(fields_of("short", groups(&"g".repeat(40))).is_empty());
    }

    #[test]
    fn the_initializing_timeout_is_a_positive_duration_or_seconds() {
        let with = |value: &str| {
            BTreeMap::from([(INITIALIZING_TIMEOUT_ANNOTATION.to_owned(), value.to_owned())])
        };
        assert_eq!(
            initializing_timeout(&with("30m")),
            Ok(Some(Duration::from_secs(1800)))
        );
        assert_eq!(
            initializing_timeout(&with("1h30m")),
            Ok(Some(Duration::from_secs(5400)))
        );
        assert_eq!(
            initializing_timeout(&with("300")),
            Ok(Some(Duration::from_secs(300)))
        );
        assert_eq!(initializing_timeout(&with("")), Ok(None));
        assert_eq!(initializing_timeout(&BTreeMap::new()), Ok(None));
        for bad in ["0", "0s", "-5m", "-3"] {
            assert_eq!(
                initializing_timeout(&with(bad)),
                Err(InitializingTimeoutError::NotPositive(bad.to_owned())),
                "{bad}"
            );
        }
        for bad in ["soon", "5 minutes", "1.5"] {
            assert_eq!(
                initializing_timeout(&with(bad)),
                Err(InitializingTimeoutError::Malformed(bad.to_owned())),
                "{bad}"
            );
        }
        let mut svc = service("s", json!({"rayClusterConfig": cluster()}));
        svc.metadata.annotations = Some(with("never"));
        let problems = validate(&svc).unwrap_err();
        assert_eq!(
            problems[0].field,
            "metadata.annotations[ray.io/initializing-timeout]"
        );
        assert!(
            problems[0].message.contains("never"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn the_deletion_delay_is_not_negative() {
        assert_eq!(
            fields(json!({"rayClusterConfig": cluster(), "rayClusterDeletionDelaySeconds": -1})),
            ["spec.rayClusterDeletionDelaySeconds"]
        );
        assert!(
            fields(json!({"rayClusterConfig": cluster(), "rayClusterDeletionDelaySeconds": 0}))
                .is_empty()
        );
    }

    #[test]
    fn managed_by_takes_the_known_controllers() {
        assert!(
            fields(
                json!({"rayClusterConfig": cluster(), "managedBy": "kueue.x-k8s.io/multikueue"})
            )
            .is_empty()
        );
        assert_eq!(
            fields(json!({"rayClusterConfig": cluster(), "managedBy": "me"})),
            ["spec.managedBy"]
        );
    }

    #[test]
    fn k8s_token_auth_is_not_for_a_rayservice() {
        let c = json!({"rayVersion": "2.52.0", "authOptions": {"mode": "token", "enableK8sTokenAuth": true}});
        assert!(
            fields(json!({"rayClusterConfig": c}))
                .contains(&"spec.rayClusterConfig.authOptions.enableK8sTokenAuth".to_owned())
        );
    }

    #[test]
    fn the_head_service_keeps_its_generated_name() {
        let c = json!({"rayVersion": "2.52.0", "headGroupSpec": {"rayStartParams": {},
            "headService": {"metadata": {"name": "my-head"}}}});
        assert_eq!(
            fields(json!({"rayClusterConfig": c})),
            ["spec.rayClusterConfig.headGroupSpec.headService.metadata.name"]
        );
        let unnamed = json!({"rayVersion": "2.52.0", "headGroupSpec": {"rayStartParams": {},
            "headService": {"metadata": {"labels": {"a": "b"}}}}});
        assert!(fields(json!({"rayClusterConfig": unnamed})).is_empty());
    }

    #[test]
    fn the_cluster_has_no_upgrade_strategy_of_its_own() {
        let c = json!({"rayVersion": "2.52.0", "upgradeStrategy": {"type": "Recreate"}});
        assert_eq!(
            fields(json!({"rayClusterConfig": c})),
            ["spec.rayClusterConfig.upgradeStrategy"]
        );
    }

    #[test]
    fn the_incremental_upgrade_needs_options_and_autoscaling() {
        let options = json!({"gatewayClassName": "istio", "stepSizePercent": 10, "intervalSeconds": 30, "maxSurgePercent": 10});
        assert!(
            fields(json!({"rayClusterConfig": autoscaling(), "upgradeStrategy": incremental(options.clone())}))
                .is_empty()
        );
        assert_eq!(
            fields(json!({"rayClusterConfig": cluster(), "upgradeStrategy": incremental(options)})),
            ["spec.rayClusterConfig.enableInTreeAutoscaling"]
        );
        assert_eq!(
            fields(
                json!({"rayClusterConfig": autoscaling(), "upgradeStrategy": {"type": "NewClusterWithIncrementalUpgrade"}})
            ),
            ["spec.upgradeStrategy.clusterUpgradeOptions"]
        );
        assert!(
            fields(
                json!({"rayClusterConfig": cluster(), "upgradeStrategy": {"type": "NewCluster"}})
            )
            .is_empty()
        );
    }

    #[test]
    fn upgrade_options_have_ranges_and_step_within_surge() {
        let at = |field: &str| format!("spec.upgradeStrategy.clusterUpgradeOptions.{field}");
        let with = |options: Value| {
            fields(
                json!({"rayClusterConfig": autoscaling(), "upgradeStrategy": incremental(options)}),
            )
        };
        assert_eq!(
            with(
                json!({"gatewayClassName": "g", "stepSizePercent": 20, "intervalSeconds": 1, "maxSurgePercent": 10})
            ),
            [at("stepSizePercent")]
        );
        assert_eq!(
            with(
                json!({"gatewayClassName": "g", "stepSizePercent": 101, "intervalSeconds": 1, "maxSurgePercent": 101})
            ),
            [at("maxSurgePercent"), at("stepSizePercent")]
        );
        assert_eq!(
            with(json!({"gatewayClassName": "", "stepSizePercent": 5, "intervalSeconds": 0})),
            [at("intervalSeconds"), at("gatewayClassName")]
        );
        assert!(
            with(json!({"gatewayClassName": "g", "stepSizePercent": 100, "intervalSeconds": 1}))
                .is_empty()
        );
    }

    #[test]
    fn the_serve_service_name_is_a_dns1035_label() {
        let with = |name: &str| {
            fields(
                json!({"rayClusterConfig": cluster(), "serveService": {"metadata": {"name": name}}}),
            )
        };
        assert!(with("custom-ray-serve-service-name").is_empty());
        assert!(with("").is_empty());
        assert_eq!(with("My_Serve_Svc"), ["spec.serveService.metadata.name"]);
        assert_eq!(with(&"s".repeat(64)), ["spec.serveService.metadata.name"]);
    }

    #[test]
    fn the_serve_config_is_a_yaml_mapping() {
        let with =
            |config: &str| fields(json!({"rayClusterConfig": cluster(), "serveConfigV2": config}));
        assert!(with("applications:\n  - name: a\n    import_path: m:app\n").is_empty());
        assert_eq!(with("- just\n- a list\n"), ["spec.serveConfigV2"]);
        assert_eq!(with("applications: [unclosed"), ["spec.serveConfigV2"]);
    }

    #[test]
    fn the_cluster_config_is_checked_as_a_raycluster_under_its_path() {
        let c = json!({"rayVersion": "2.52.0", "workerGroupSpecs": [
            {"groupName": "g", "minReplicas": 3, "maxReplicas": 1, "rayStartParams": {}}]});
        let found = fields(json!({"rayClusterConfig": c}));
        assert!(!found.is_empty());
        assert!(
            found
                .iter()
                .all(|f| f.starts_with("spec.rayClusterConfig.workerGroupSpecs[0]")),
            "{found:?}"
        );
    }
}
