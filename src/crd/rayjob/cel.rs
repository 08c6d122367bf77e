//! The CEL rules (`x-kubernetes-validations`) of the RayJob CRD.
//!
//! Role: KubeRay v1.7.0's CEL rules (on `managedBy`, `deletionStrategy` and
//! its conditions) plus the rules KubeRay's controller only checks at
//! reconcile time (and reports as `ValidationFailed`), which rayop refuses at
//! admission instead. The spec rules also apply to a RayCronJob's
//! `jobTemplate`, which has the same type.
//!
//! Invariants: each message says what to fix and the API server prints it
//! after the field path; every rule is mirrored in
//! [`validation`](super::validation); arrays a rule iterates have `maxItems`.

use schemars::Schema;

use crate::crd::cel::{CelRule, attach};

// ---- root (the RayJob object) ----

/// The RayJob's name is a DNS-1035 label (it starts the cluster's name).
pub const JOB_NAME_IS_DNS1035: CelRule = CelRule {
    rule: "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
    message: "metadata.name must be a DNS-1035 label: lower-case letters, digits and '-', starting with a letter and ending with a letter or digit",
    field_path: Some(".metadata.name"),
};

/// The RayJob's name leaves room for the cluster's `-xxxxx` suffix.
pub const JOB_NAME_LENGTH: CelRule = CelRule {
    rule: "size(self.metadata.name) <= 47",
    message: "metadata.name must be at most 47 characters: the RayCluster is named '<name>-<5 characters>' and must fit in 53",
    field_path: Some(".metadata.name"),
};

// ---- spec (RayJobSpec, also a RayCronJob's jobTemplate) ----

/// A job needs a cluster: one to create or an existing one.
pub const CLUSTER_OR_SELECTOR: CelRule = CelRule {
    rule: "has(self.rayClusterSpec) || has(self.clusterSelector)",
    message: "set rayClusterSpec (the cluster to create) or clusterSelector (an existing cluster)",
    field_path: None,
};

/// `clusterSelector` names the cluster by its `ray.io/cluster` key.
pub const SELECTOR_NAMES_CLUSTER: CelRule = CelRule {
    rule: "!has(self.clusterSelector) || ('ray.io/cluster' in self.clusterSelector && self.clusterSelector['ray.io/cluster'] != '')",
    message: "clusterSelector must have the key ray.io/cluster with the name of an existing RayCluster",
    field_path: Some(".clusterSelector"),
};

/// Suspending deletes the cluster, which only a job that shuts down may do.
pub const SUSPEND_NEEDS_SHUTDOWN: CelRule = CelRule {
    rule: "!(has(self.suspend) && self.suspend) || (has(self.shutdownAfterJobFinishes) && self.shutdownAfterJobFinishes)",
    message: "suspend needs shutdownAfterJobFinishes: true",
    field_path: Some(".suspend"),
};

/// An existing cluster is not the job's to suspend.
pub const SUSPEND_NOT_WITH_SELECTOR: CelRule = CelRule {
    rule: "!(has(self.suspend) && self.suspend && has(self.clusterSelector))",
    message: "suspend cannot be used with clusterSelector: the existing cluster is not the RayJob's",
    field_path: Some(".suspend"),
};

/// The TTL delays the shutdown, so there must be one.
pub const TTL_NEEDS_SHUTDOWN: CelRule = CelRule {
    rule: "!has(self.ttlSecondsAfterFinished) || self.ttlSecondsAfterFinished == 0 || (has(self.shutdownAfterJobFinishes) && self.shutdownAfterJobFinishes)",
    message: "ttlSecondsAfterFinished above 0 needs shutdownAfterJobFinishes: true",
    field_path: Some(".ttlSecondsAfterFinished"),
};

/// A retry recreates the cluster, which an existing cluster cannot be.
pub const BACKOFF_NOT_WITH_SELECTOR: CelRule = CelRule {
    rule: "!has(self.clusterSelector) || !has(self.backoffLimit) || self.backoffLimit == 0",
    message: "backoffLimit must be 0 with clusterSelector: a retry recreates the cluster",
    field_path: Some(".backoffLimit"),
};

/// The user submits an interactive job, so the operator cannot retry it.
pub const BACKOFF_NOT_INTERACTIVE: CelRule = CelRule {
    rule: "!has(self.submissionMode) || self.submissionMode != 'InteractiveMode' || !has(self.backoffLimit) || self.backoffLimit == 0",
    message: "backoffLimit must be 0 in InteractiveMode: the user submits the job",
    field_path: Some(".backoffLimit"),
};

/// The sidecar runs in the head pod of a cluster the job creates.
pub const SIDECAR_NOT_WITH_SELECTOR: CelRule = CelRule {
    rule: "!(has(self.submissionMode) && self.submissionMode == 'SidecarMode' && has(self.clusterSelector))",
    message: "clusterSelector cannot be used in SidecarMode: the submitter runs in the head pod of the cluster the RayJob creates",
    field_path: Some(".clusterSelector"),
};

/// SidecarMode has no submitter pod.
pub const SIDECAR_NO_SUBMITTER_TEMPLATE: CelRule = CelRule {
    rule: "!(has(self.submissionMode) && self.submissionMode == 'SidecarMode' && has(self.submitterPodTemplate))",
    message: "submitterPodTemplate cannot be used in SidecarMode: there is no submitter pod",
    field_path: Some(".submitterPodTemplate"),
};

/// SidecarMode has no submitter Job.
pub const SIDECAR_NO_SUBMITTER_CONFIG: CelRule = CelRule {
    rule: "!(has(self.submissionMode) && self.submissionMode == 'SidecarMode' && has(self.submitterConfig))",
    message: "submitterConfig cannot be used in SidecarMode: there is no submitter Job",
    field_path: Some(".submitterConfig"),
};

/// Rules decide what is deleted; shutdownAfterJobFinishes would too.
pub const RULES_EXCLUDE_SHUTDOWN: CelRule = CelRule {
    rule: "!(has(self.deletionStrategy) && has(self.deletionStrategy.deletionRules) && has(self.shutdownAfterJobFinishes) && self.shutdownAfterJobFinishes)",
    message: "shutdownAfterJobFinishes cannot be true with deletionStrategy.deletionRules: the rules decide what is deleted",
    field_path: Some(".shutdownAfterJobFinishes"),
};

/// A job that shuts down deletes something, so DeleteNone contradicts it.
pub const SHUTDOWN_NOT_DELETE_NONE: CelRule = CelRule {
    rule: "!(has(self.shutdownAfterJobFinishes) && self.shutdownAfterJobFinishes && has(self.deletionStrategy) && ((has(self.deletionStrategy.onSuccess) && self.deletionStrategy.onSuccess.policy == 'DeleteNone') || (has(self.deletionStrategy.onFailure) && self.deletionStrategy.onFailure.policy == 'DeleteNone')))",
    message: "onSuccess and onFailure cannot be DeleteNone with shutdownAfterJobFinishes: true",
    field_path: Some(".deletionStrategy"),
};

/// An existing cluster is not the job's to delete.
pub const SELECTOR_KEEPS_CLUSTER: CelRule = CelRule {
    rule: "!has(self.clusterSelector) || !has(self.deletionStrategy) || ((!has(self.deletionStrategy.onSuccess) || !(self.deletionStrategy.onSuccess.policy in ['DeleteCluster', 'DeleteWorkers'])) && (!has(self.deletionStrategy.onFailure) || !(self.deletionStrategy.onFailure.policy in ['DeleteCluster', 'DeleteWorkers'])) && (!has(self.deletionStrategy.deletionRules) || self.deletionStrategy.deletionRules.all(r, !(r.policy in ['DeleteCluster', 'DeleteWorkers']))))",
    message: "DeleteCluster and DeleteWorkers cannot be used with clusterSelector: the existing cluster is not the RayJob's",
    field_path: Some(".deletionStrategy"),
};

/// Every rule on `RayJobSpec`.
pub const SPEC_RULES: [CelRule; 13] = [
    CLUSTER_OR_SELECTOR,
    SELECTOR_NAMES_CLUSTER,
    SUSPEND_NEEDS_SHUTDOWN,
    SUSPEND_NOT_WITH_SELECTOR,
    TTL_NEEDS_SHUTDOWN,
    BACKOFF_NOT_WITH_SELECTOR,
    BACKOFF_NOT_INTERACTIVE,
    SIDECAR_NOT_WITH_SELECTOR,
    SIDECAR_NO_SUBMITTER_TEMPLATE,
    SIDECAR_NO_SUBMITTER_CONFIG,
    RULES_EXCLUDE_SHUTDOWN,
    SHUTDOWN_NOT_DELETE_NONE,
    SELECTOR_KEEPS_CLUSTER,
];

// ---- spec.managedBy (KubeRay's rules) ----

/// `managedBy` is set at creation and never changed.
pub const MANAGED_BY_UNCHANGED: CelRule = CelRule {
    rule: "self == oldSelf",
    message: "managedBy is immutable",
    field_path: None,
};

/// The controllers a RayJob may be left to.
pub const MANAGED_BY_KNOWN: CelRule = CelRule {
    rule: "self in ['ray.io/rayop', 'ray.io/kuberay-operator', 'kueue.x-k8s.io/multikueue']",
    message: "managedBy must be ray.io/rayop, ray.io/kuberay-operator or kueue.x-k8s.io/multikueue",
    field_path: None,
};

/// Every rule on `spec.managedBy`.
pub const MANAGED_BY_RULES: [CelRule; 2] = [MANAGED_BY_UNCHANGED, MANAGED_BY_KNOWN];

// ---- spec.deletionStrategy (KubeRay's rules) ----

/// The legacy pair and the rules are two styles; one at a time.
pub const ONE_DELETION_STYLE: CelRule = CelRule {
    rule: "!((has(self.onSuccess) || has(self.onFailure)) && has(self.deletionRules))",
    message: "use either onSuccess/onFailure (deprecated) or deletionRules, not both",
    field_path: None,
};

/// The legacy pair is both or nothing, and something must be set.
pub const DELETION_STYLE_COMPLETE: CelRule = CelRule {
    rule: "(has(self.onSuccess) && has(self.onFailure)) || has(self.deletionRules)",
    message: "set both onSuccess and onFailure, or deletionRules",
    field_path: None,
};

/// Every rule on `deletionStrategy`.
pub const DELETION_STRATEGY_RULES: [CelRule; 2] = [ONE_DELETION_STYLE, DELETION_STYLE_COMPLETE];

// ---- deletionRules[].condition (KubeRay's rules) ----

/// A condition waits for one kind of state.
pub const ONE_CONDITION_KIND: CelRule = CelRule {
    rule: "!(has(self.jobStatus) && has(self.jobDeploymentStatus))",
    message: "set jobStatus or jobDeploymentStatus, not both",
    field_path: None,
};

/// A condition waits for something.
pub const CONDITION_NAMES_A_STATE: CelRule = CelRule {
    rule: "has(self.jobStatus) || has(self.jobDeploymentStatus)",
    message: "set jobStatus or jobDeploymentStatus",
    field_path: None,
};

/// Every rule on a deletion rule's `condition`.
pub const DELETION_CONDITION_RULES: [CelRule; 2] = [ONE_CONDITION_KIND, CONDITION_NAMES_A_STATE];

/// The `#[schemars(transform)]` of `RayJobSpec`: attaches [`SPEC_RULES`].
pub fn spec_rules(schema: &mut Schema) {
    attach(schema, &SPEC_RULES);
}

/// The `#[schemars(transform)]` of `RayJobSpec::managed_by`.
pub fn managed_by_rules(schema: &mut Schema) {
    attach(schema, &MANAGED_BY_RULES);
}

/// The `#[schemars(transform)]` of `DeletionStrategy`.
pub fn deletion_strategy_rules(schema: &mut Schema) {
    attach(schema, &DELETION_STRATEGY_RULES);
}

/// The `#[schemars(transform)]` of `DeletionCondition`.
pub fn deletion_condition_rules(schema: &mut Schema) {
    attach(schema, &DELETION_CONDITION_RULES);
}

#[cfg(test)]
mod tests {
    use kube::core::cel::Validator;
    use serde_json::{Value, json};

    use super::*;

    /// The v1 schema of the RayJob CRD, as JSON.
    fn schema() -> Value {
        let crd = crate::crd::rayjob::crd().unwrap();
        let schema = crd.spec.versions[0].schema.clone().unwrap();
        serde_json::to_value(schema.open_api_v3_schema.unwrap()).unwrap()
    }

    /// The CEL messages kube's client-side evaluator gives for a RayJob spec.
    fn messages(spec: Value) -> Vec<String> {
        let job = json!({"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": "j"}, "spec": spec});
        match Validator::new().validate(&schema(), &job, None) {
            Ok(()) => Vec::new(),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    fn refused_with(spec: Value, rule: &CelRule) -> bool {
        messages(spec).iter().any(|m| m.contains(rule.message))
    }

    #[test]
    fn every_spec_rule_is_in_the_crd() {
        let schema = schema();
        let rules = schema["properties"]["spec"]["x-kubernetes-validations"]
            .as_array()
            .unwrap();
        for rule in SPEC_RULES {
            assert!(rules.contains(&rule.to_json()), "{}", rule.message);
        }
    }

    #[test]
    fn a_valid_spec_passes_every_rule() {
        let ok = json!({"entrypoint": "x", "rayClusterSpec": {"rayVersion": "2.52.0"}, "submissionMode": "K8sJobMode",
                        "shutdownAfterJobFinishes": true, "suspend": true, "ttlSecondsAfterFinished": 5, "backoffLimit": 2});
        assert_eq!(messages(ok), Vec::<String>::new());
        let selector = json!({"clusterSelector": {"ray.io/cluster": "c"}, "deletionStrategy": {"deletionRules": [
            {"policy": "DeleteSelf", "condition": {"jobStatus": "FAILED", "ttlSeconds": 0}}]}});
        assert_eq!(messages(selector), Vec::<String>::new());
    }

    #[test]
    fn the_rules_refuse_what_kuberays_controller_refuses_later() {
        let cluster = json!({"rayVersion": "2.52.0"});
        assert!(refused_with(
            json!({"entrypoint": "x"}),
            &CLUSTER_OR_SELECTOR
        ));
        assert!(refused_with(
            json!({"clusterSelector": {"app": "c"}}),
            &SELECTOR_NAMES_CLUSTER
        ));
        assert!(refused_with(
            json!({"rayClusterSpec": cluster, "suspend": true}),
            &SUSPEND_NEEDS_SHUTDOWN
        ));
        assert!(refused_with(
            json!({"rayClusterSpec": cluster, "ttlSecondsAfterFinished": 1}),
            &TTL_NEEDS_SHUTDOWN
        ));
        assert!(refused_with(
            json!({"rayClusterSpec": cluster, "submissionMode": "InteractiveMode", "backoffLimit": 1}),
            &BACKOFF_NOT_INTERACTIVE
        ));
        assert!(refused_with(
            json!({"rayClusterSpec": cluster, "submissionMode": "SidecarMode", "submitterConfig": {"backoffLimit": 1}}),
            &SIDECAR_NO_SUBMITTER_CONFIG
        ));
        assert!(refused_with(
            json!({"clusterSelector": {"ray.io/cluster": "c"}, "deletionStrategy": {"onSuccess": {"policy": "DeleteWorkers"}, "onFailure": {"policy": "DeleteSelf"}}}),
            &SELECTOR_KEEPS_CLUSTER
        ));
        assert!(refused_with(
            json!({"rayClusterSpec": cluster, "deletionStrategy": {"onSuccess": {"policy": "DeleteSelf"}}}),
            &DELETION_STYLE_COMPLETE
        ));
        assert!(refused_with(
            json!({"rayClusterSpec": cluster, "deletionStrategy": {"deletionRules": [{"policy": "DeleteSelf", "condition": {"ttlSeconds": 0}}]}}),
            &CONDITION_NAMES_A_STATE
        ));
        assert!(refused_with(
            json!({"rayClusterSpec": cluster, "managedBy": "me"}),
            &MANAGED_BY_KNOWN
        ));
    }
}
