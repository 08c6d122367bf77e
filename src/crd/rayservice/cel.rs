//! The CEL rules (`x-kubernetes-validations`) of the RayService CRD.
//!
//! Role: KubeRay v1.7.0's CEL rules (on `managedBy`, shared with the RayJob
//! through [`rayjob::cel`](crate::crd::rayjob::cel)) plus the rules KubeRay's
//! webhook or controller only checks after the object was stored (and then
//! reports as `ValidationFailed`), which rayop refuses at admission: the
//! name, K8s token auth, a custom head Service name, the cluster's own
//! `upgradeStrategy`, and what the incremental upgrade needs. The embedded
//! `rayClusterConfig` carries the RayCluster spec's own rules.
//!
//! Invariants: each message says what to fix and the API server prints it
//! after the field path; every rule is mirrored in
//! [`validation`](super::validation); the numbers in the name rules are
//! those of [`validation`](super::validation)'s constants (a test checks).
//! This module imports no other module of the RayService API.

use schemars::Schema;

use crate::crd::cel::{CelRule, attach};

// ---- root (the RayService object) ----

/// The RayService's name is a DNS-1035 label (it starts Service names).
pub const SERVICE_NAME_IS_DNS1035: CelRule = CelRule {
    rule: "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
    message: "metadata.name must be a DNS-1035 label: lower-case letters, digits and '-', starting with a letter and ending with a letter or digit",
    field_path: Some(".metadata.name"),
};

/// KubeRay's bound on the name: its clusters are `<name>-<5 characters>`.
pub const SERVICE_NAME_LENGTH: CelRule = CelRule {
    rule: "size(self.metadata.name) <= 47",
    message: "metadata.name must be at most 47 characters: each RayCluster is named '<name>-<5 characters>'",
    field_path: Some(".metadata.name"),
};

/// The cluster name (the RayService name cut to 41, plus `-<5
/// characters>`) and each group name fit the worker workloads' bound of 51.
pub const GROUP_NAMES_FIT: CelRule = CelRule {
    rule: "!has(self.spec.rayClusterConfig.workerGroupSpecs) || self.spec.rayClusterConfig.workerGroupSpecs.all(g, (size(self.metadata.name) > 41 ? 41 : size(self.metadata.name)) + size(g.groupName) <= 45)",
    message: "each groupName is too long for this RayService name: the RayCluster '<name, at most 41 characters>-<5 characters>' and '-<groupName>' must have at most 51 characters together",
    field_path: Some(".spec.rayClusterConfig.workerGroupSpecs"),
};

/// Rules on the root of the schema (only the root sees `metadata.name`).
pub const ROOT_RULES: [CelRule; 3] = [
    SERVICE_NAME_IS_DNS1035,
    SERVICE_NAME_LENGTH,
    GROUP_NAMES_FIT,
];

// ---- spec ----

/// KubeRay does not support Kubernetes token auth for RayService clusters.
pub const NO_K8S_TOKEN_AUTH: CelRule = CelRule {
    rule: "!has(self.rayClusterConfig.authOptions) || !has(self.rayClusterConfig.authOptions.enableK8sTokenAuth) || !self.rayClusterConfig.authOptions.enableK8sTokenAuth",
    message: "enableK8sTokenAuth is not supported for a RayService",
    field_path: Some(".rayClusterConfig.authOptions.enableK8sTokenAuth"),
};

/// Two clusters live side by side during an upgrade; one head Service name
/// would collide (KubeRay #2433).
pub const NO_CUSTOM_HEAD_SERVICE_NAME: CelRule = CelRule {
    rule: "!has(self.rayClusterConfig.headGroupSpec) || !has(self.rayClusterConfig.headGroupSpec.headService) || !has(self.rayClusterConfig.headGroupSpec.headService.metadata) || !has(self.rayClusterConfig.headGroupSpec.headService.metadata.name) || self.rayClusterConfig.headGroupSpec.headService.metadata.name == ''",
    message: "must not be set for a RayService: its old and new clusters would share the head Service name",
    field_path: Some(".rayClusterConfig.headGroupSpec.headService.metadata.name"),
};

/// The RayService upgrades its clusters itself (`upgradeStrategy` on the
/// RayService).
pub const NO_CLUSTER_UPGRADE_STRATEGY: CelRule = CelRule {
    rule: "!has(self.rayClusterConfig.upgradeStrategy)",
    message: "must be unset: a RayService replaces its clusters itself; use spec.upgradeStrategy",
    field_path: Some(".rayClusterConfig.upgradeStrategy"),
};

/// The incremental upgrade scales both clusters through Ray Serve's
/// `target_capacity`, which needs the autoscaler.
pub const INCREMENTAL_NEEDS_AUTOSCALING: CelRule = CelRule {
    rule: "!has(self.upgradeStrategy) || !has(self.upgradeStrategy.type) || self.upgradeStrategy.type != 'NewClusterWithIncrementalUpgrade' || (has(self.rayClusterConfig.enableInTreeAutoscaling) && self.rayClusterConfig.enableInTreeAutoscaling)",
    message: "must be true with upgradeStrategy.type NewClusterWithIncrementalUpgrade: the upgrade scales the clusters through the Ray autoscaler",
    field_path: Some(".rayClusterConfig.enableInTreeAutoscaling"),
};

/// Every rule on `RayServiceSpec`.
pub const SPEC_RULES: [CelRule; 4] = [
    NO_K8S_TOKEN_AUTH,
    NO_CUSTOM_HEAD_SERVICE_NAME,
    NO_CLUSTER_UPGRADE_STRATEGY,
    INCREMENTAL_NEEDS_AUTOSCALING,
];

// ---- spec.upgradeStrategy ----

/// The incremental type needs its options.
pub const INCREMENTAL_NEEDS_OPTIONS: CelRule = CelRule {
    rule: "!has(self.type) || self.type != 'NewClusterWithIncrementalUpgrade' || has(self.clusterUpgradeOptions)",
    message: "clusterUpgradeOptions is required with type NewClusterWithIncrementalUpgrade",
    field_path: Some(".clusterUpgradeOptions"),
};

/// Every rule on `upgradeStrategy`.
pub const UPGRADE_STRATEGY_RULES: [CelRule; 1] = [INCREMENTAL_NEEDS_OPTIONS];

// ---- spec.upgradeStrategy.clusterUpgradeOptions ----

/// Traffic never moves faster than capacity.
pub const STEP_WITHIN_SURGE: CelRule = CelRule {
    rule: "!has(self.maxSurgePercent) || self.stepSizePercent <= self.maxSurgePercent",
    message: "stepSizePercent must be less than or equal to maxSurgePercent",
    field_path: Some(".stepSizePercent"),
};

/// Every rule on `clusterUpgradeOptions`.
pub const CLUSTER_UPGRADE_OPTIONS_RULES: [CelRule; 1] = [STEP_WITHIN_SURGE];

/// The `#[schemars(transform)]` of `RayServiceSpec`: attaches [`SPEC_RULES`].
pub fn spec_rules(schema: &mut Schema) {
    attach(schema, &SPEC_RULES);
}

/// The `#[schemars(transform)]` of `RayServiceUpgradeStrategy`.
pub fn upgrade_strategy_rules(schema: &mut Schema) {
    attach(schema, &UPGRADE_STRATEGY_RULES);
}

/// The `#[schemars(transform)]` of `ClusterUpgradeOptions`.
pub fn cluster_upgrade_options_rules(schema: &mut Schema) {
    attach(schema, &CLUSTER_UPGRADE_OPTIONS_RULES);
}

#[cfg(test)]
mod tests {
    use kube::core::cel::Validator;
    use serde_json::{Value, json};

    use super::*;

    /// The v1 schema of the RayService CRD, as JSON.
    fn schema() -> Value {
        let crd = crate::crd::rayservice::crd().unwrap();
        let schema = crd.spec.versions[0].schema.clone().unwrap();
        serde_json::to_value(schema.open_api_v3_schema.unwrap()).unwrap()
    }

    /// The CEL messages kube's client-side evaluator gives for a RayService.
    fn messages(name: &str, spec: Value) -> Vec<String> {
        let svc = json!({"apiVersion": "ray.io/v1", "kind": "RayService", "metadata": {"name": name}, "spec": spec});
        match Validator::new().validate(&schema(), &svc, None) {
            Ok(()) => Vec::new(),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    fn refused_with(spec: Value, rule: &CelRule) -> bool {
        messages("s", spec).iter().any(|m| m.contains(rule.message))
    }

    fn cluster() -> Value {
        json!({"rayVersion": "2.52.0", "headGroupSpec": {"rayStartParams": {}}})
    }

    fn incremental(options: Value) -> Value {
        json!({"type": "NewClusterWithIncrementalUpgrade", "clusterUpgradeOptions": options})
    }

    #[test]
    fn every_rule_is_in_the_crd() {
        let schema = schema();
        let spec = &schema["properties"]["spec"];
        let strategy = &spec["properties"]["upgradeStrategy"];
        let options = &strategy["properties"]["clusterUpgradeOptions"];
        for (node, rules) in [
            (&schema, &ROOT_RULES[..]),
            (spec, &SPEC_RULES[..]),
            (strategy, &UPGRADE_STRATEGY_RULES[..]),
            (options, &CLUSTER_UPGRADE_OPTIONS_RULES[..]),
        ] {
            let attached = node["x-kubernetes-validations"].as_array().unwrap();
            for rule in rules {
                assert!(attached.contains(&rule.to_json()), "{}", rule.message);
            }
        }
        let managed_by = &spec["properties"]["managedBy"]["x-kubernetes-validations"];
        assert_eq!(managed_by.as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn the_name_rules_use_validations_numbers() {
        use crate::crd::{names::MAX_CLUSTER_AND_GROUP_NAME, rayservice::validation as v};
        assert!(
            SERVICE_NAME_LENGTH
                .rule
                .ends_with(&format!("<= {}", v::MAX_SERVICE_NAME))
        );
        let prefix = v::CLUSTER_NAME_PREFIX;
        assert!(
            GROUP_NAMES_FIT
                .rule
                .contains(&format!("> {prefix} ? {prefix} :"))
        );
        let bound = MAX_CLUSTER_AND_GROUP_NAME - v::CLUSTER_NAME_SUFFIX_LEN;
        assert!(GROUP_NAMES_FIT.rule.ends_with(&format!("<= {bound})")));
    }

    #[test]
    fn a_valid_service_passes_every_rule() {
        assert_eq!(
            messages("s", json!({"rayClusterConfig": cluster()})),
            Vec::<String>::new()
        );
        let autoscaling = json!({"rayVersion": "2.52.0", "enableInTreeAutoscaling": true});
        let spec = json!({"rayClusterConfig": autoscaling, "managedBy": "ray.io/kuberay-operator",
            "upgradeStrategy": incremental(json!({"gatewayClassName": "istio", "stepSizePercent": 10, "intervalSeconds": 30, "maxSurgePercent": 10}))});
        assert_eq!(messages("s", spec), Vec::<String>::new());
    }

    #[test]
    fn the_root_rules_refuse_bad_names_and_long_groups() {
        let spec = json!({"rayClusterConfig": cluster()});
        assert!(
            messages("My_Service", spec.clone())
                .iter()
                .any(|m| m.contains(SERVICE_NAME_IS_DNS1035.message))
        );
        assert!(
            messages(&"a".repeat(48), spec)
                .iter()
                .any(|m| m.contains(SERVICE_NAME_LENGTH.message))
        );
        let groups = |group: &str| {
            json!({"rayClusterConfig": {"rayVersion": "2.52.0",
            "workerGroupSpecs": [{"groupName": group, "rayStartParams": {}}]}})
        };
        // 41 (cut name) + 4 = 45 fits; 5 does not, even with a 47-character name.
        assert!(messages(&"a".repeat(47), groups("gggg")).is_empty());
        assert!(
            messages(&"a".repeat(47), groups("ggggg"))
                .iter()
                .any(|m| m.contains(GROUP_NAMES_FIT.message))
        );
        assert!(messages("short", groups(&"g".repeat(40))).is_empty());
    }

    #[test]
    fn the_spec_rules_refuse_what_kuberays_controller_refuses_later() {
        let k8s_auth = json!({"rayVersion": "2.52.0", "authOptions": {"mode": "token", "enableK8sTokenAuth": true}});
        assert!(refused_with(
            json!({"rayClusterConfig": k8s_auth}),
            &NO_K8S_TOKEN_AUTH
        ));
        let head_name = json!({"rayVersion": "2.52.0", "headGroupSpec": {"rayStartParams": {},
            "headService": {"metadata": {"name": "my-head"}}}});
        assert!(refused_with(
            json!({"rayClusterConfig": head_name}),
            &NO_CUSTOM_HEAD_SERVICE_NAME
        ));
        let own_strategy = json!({"rayVersion": "2.52.0", "upgradeStrategy": {"type": "Recreate"}});
        assert!(refused_with(
            json!({"rayClusterConfig": own_strategy}),
            &NO_CLUSTER_UPGRADE_STRATEGY
        ));
        let options =
            json!({"gatewayClassName": "istio", "stepSizePercent": 10, "intervalSeconds": 30});
        assert!(refused_with(
            json!({"rayClusterConfig": cluster(), "upgradeStrategy": incremental(options.clone())}),
            &INCREMENTAL_NEEDS_AUTOSCALING
        ));
        assert!(refused_with(
            json!({"rayClusterConfig": cluster(), "upgradeStrategy": {"type": "NewClusterWithIncrementalUpgrade"}}),
            &INCREMENTAL_NEEDS_OPTIONS
        ));
        assert!(refused_with(
            json!({"rayClusterConfig": cluster(), "upgradeStrategy": {"type": "NewCluster", "clusterUpgradeOptions":
                {"gatewayClassName": "g", "stepSizePercent": 20, "intervalSeconds": 1, "maxSurgePercent": 10}}}),
            &STEP_WITHIN_SURGE
        ));
        assert!(
            messages(
                "s",
                json!({"rayClusterConfig": cluster(), "managedBy": "me"})
            )
            .iter()
            .any(|m| m.contains("managedBy must be"))
        );
    }
}
