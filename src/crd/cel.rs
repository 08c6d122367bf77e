//! The CEL rules (`x-kubernetes-validations`) of the RayCluster CRD.
//!
//! Role: every rule the API server evaluates lives here as a [`CelRule`]
//! constant, grouped by the schema node it is attached to, so the rules can be
//! listed ([`ALL_RULES`]), tested offline and attached by schemars transforms
//! (the `*_rules` functions below, referenced from `#[schemars(transform = ...)]`
//! on the types, and [`CelRule::to_rule`] from `#[kube(validation = ...)]` on
//! the root).
//!
//! Invariants:
//! - Each rule has a static message that says what to fix; the API server
//!   prints it after the field path.
//! - Rules only read fields whose size the cost estimator can bound: arrays
//!   they iterate have `maxItems`, strings they compare have `maxLength`
//!   (see [`MAX_WORKER_GROUPS`] and [`MAX_GROUP_NAME`](crate::crd::names::MAX_GROUP_NAME)).
//! - Every rule is mirrored by [`validate`](crate::crd::validation::validate),
//!   which the operator runs on objects the API server may not have checked
//!   (created before the CRD was upgraded, say).
//!
//! Rules that need `self.metadata.name` sit on the root of the schema: spec
//! rules cannot reach metadata.

use kube::core::{Message, Rule};
use schemars::Schema;
use serde_json::Value;

/// Most worker groups a RayCluster may have. The uniqueness rule is quadratic
/// in this number; 64 keeps its estimated cost far below the API server's limit.
pub const MAX_WORKER_GROUPS: usize = 64;

/// One CEL validation rule with its failure message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CelRule {
    /// The CEL expression; `self` is the schema node the rule is attached to.
    pub rule: &'static str,
    /// The message the API server returns when the rule evaluates to false.
    pub message: &'static str,
    /// Field the failure is reported on, relative to the node (e.g. `.minReplicas`).
    pub field_path: Option<&'static str>,
}

impl CelRule {
    /// The rule as kube's [`Rule`], for `#[kube(validation = ...)]`.
    #[must_use]
    pub fn to_rule(&self) -> Rule {
        let rule = Rule::new(self.rule).message(Message::Message(self.message.to_owned()));
        match self.field_path {
            Some(path) => rule.field_path(path),
            None => rule,
        }
    }

    /// The rule as one entry of an `x-kubernetes-validations` list.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut entry = serde_json::Map::new();
        entry.insert("rule".into(), self.rule.into());
        entry.insert("message".into(), self.message.into());
        if let Some(path) = self.field_path {
            entry.insert("fieldPath".into(), path.into());
        }
        Value::Object(entry)
    }
}

// ---- root (the RayCluster object) ----

/// The cluster's name is a DNS-1035 label: it starts Service names.
pub const CLUSTER_NAME_IS_DNS1035: CelRule = CelRule {
    rule: "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
    message: "metadata.name must be a DNS-1035 label: lower-case letters, digits and '-', starting with a letter and ending with a letter or digit",
    field_path: Some(".metadata.name"),
};

/// The cluster's name leaves room for the head StatefulSet's derived names
/// (see [`MAX_CLUSTER_NAME`](crate::crd::names::MAX_CLUSTER_NAME) for the
/// arithmetic).
pub const CLUSTER_NAME_LENGTH: CelRule = CelRule {
    rule: "size(self.metadata.name) <= 47",
    message: "metadata.name must be at most 47 characters: the head StatefulSet '<name>-head' plus the 11-character controller-revision-hash suffix must fit in 63",
    field_path: Some(".metadata.name"),
};

/// Cluster name plus each group name leave room for the worker StatefulSet's
/// derived names (see
/// [`MAX_CLUSTER_AND_GROUP_NAME`](crate::crd::names::MAX_CLUSTER_AND_GROUP_NAME)
/// for the arithmetic).
pub const WORKER_NAME_LENGTH: CelRule = CelRule {
    rule: "!has(self.spec.workerGroupSpecs) || self.spec.workerGroupSpecs.all(g, size(self.metadata.name) + size(g.groupName) <= 51)",
    message: "metadata.name and each groupName must have at most 51 characters together: the worker StatefulSet '<name>-<groupName>' plus the 11-character controller-revision-hash suffix must fit in 63",
    field_path: Some(".spec.workerGroupSpecs"),
};

/// Rules on the root of the schema, attached by `#[kube(validation = ...)]`
/// because only the root sees `metadata.name`.
pub const ROOT_RULES: [CelRule; 3] = [
    CLUSTER_NAME_IS_DNS1035,
    CLUSTER_NAME_LENGTH,
    WORKER_NAME_LENGTH,
];

// ---- spec ----

/// `managedBy` cannot be added or removed after creation (the field-level
/// rule [`MANAGED_BY_UNCHANGED`] only runs when both old and new have it).
pub const MANAGED_BY_PRESENCE: CelRule = CelRule {
    rule: "has(self.managedBy) == has(oldSelf.managedBy)",
    message: "managedBy is immutable: it cannot be added or removed after creation",
    field_path: None,
};

/// The two spellings of the head Service type agree.
pub const HEAD_SERVICE_TYPE_AGREES: CelRule = CelRule {
    rule: "!has(self.headService) || !has(self.headService.type) || !has(self.headGroupSpec) || !has(self.headGroupSpec.serviceType) || self.headService.type == self.headGroupSpec.serviceType",
    message: "headService.type and headGroupSpec.serviceType disagree: set only one of them",
    field_path: Some(".headService.type"),
};

/// A group is scaled by the Ray autoscaler or by an HPA, never both: both
/// would write `replicas` and fight (KubeRay #1120, #4149).
pub const ONE_AUTOSCALER_PER_GROUP: CelRule = CelRule {
    rule: "!has(self.enableInTreeAutoscaling) || !self.enableInTreeAutoscaling || self.workerGroupSpecs.all(g, !has(g.horizontalPodAutoscaler))",
    message: "horizontalPodAutoscaler cannot be set on a worker group while enableInTreeAutoscaling is true: both would write replicas",
    field_path: Some(".workerGroupSpecs"),
};

/// The worker groups together ask for at most
/// [`MAX_WORKER_PODS_PER_CLUSTER`](crate::crd::limits::MAX_WORKER_PODS_PER_CLUSTER)
/// pods: each group's `replicas` clamped into `[minReplicas, maxReplicas]`,
/// times `numOfHosts`. Skipped while a `numOfHosts` is over its own maximum
/// (refused by the schema), so the sum never overflows CEL's int64.
pub const CLUSTER_PODS_WITHIN_LIMIT: CelRule = CelRule {
    rule: "!has(self.workerGroupSpecs) || !self.workerGroupSpecs.all(g, g.numOfHosts <= 4096) || self.workerGroupSpecs.map(g, (g.replicas < g.minReplicas ? g.minReplicas : (g.replicas > g.maxReplicas ? g.maxReplicas : g.replicas)) * g.numOfHosts).sum() <= 20000",
    message: "the worker groups ask for more than 20000 pods together (replicas, clamped into [minReplicas, maxReplicas], times numOfHosts, summed over groups): lower replicas or minReplicas",
    field_path: Some(".workerGroupSpecs"),
};

/// Rules on `spec`.
pub const SPEC_RULES: [CelRule; 4] = [
    MANAGED_BY_PRESENCE,
    HEAD_SERVICE_TYPE_AGREES,
    ONE_AUTOSCALER_PER_GROUP,
    CLUSTER_PODS_WITHIN_LIMIT,
];

/// `managedBy` never changes once set.
pub const MANAGED_BY_UNCHANGED: CelRule = CelRule {
    rule: "self == oldSelf",
    message: "managedBy is immutable",
    field_path: None,
};

/// Rules on `spec.managedBy`.
pub const MANAGED_BY_RULES: [CelRule; 1] = [MANAGED_BY_UNCHANGED];

// ---- worker groups ----

/// Group names are unique within the cluster.
pub const GROUP_NAMES_UNIQUE: CelRule = CelRule {
    rule: "self.all(g, self.exists_one(h, h.groupName == g.groupName))",
    message: "groupName must be unique within the cluster",
    field_path: None,
};

/// Rules on `spec.workerGroupSpecs`.
pub const WORKER_GROUPS_RULES: [CelRule; 1] = [GROUP_NAMES_UNIQUE];

/// `minReplicas <= maxReplicas`. Both have schema defaults, so both are set
/// when the rule runs.
pub const MIN_LE_MAX: CelRule = CelRule {
    rule: "self.minReplicas <= self.maxReplicas",
    message: "minReplicas must be less than or equal to maxReplicas",
    field_path: Some(".minReplicas"),
};

/// `replicas × numOfHosts` fits a group
/// ([`MAX_PODS_PER_GROUP`](crate::crd::limits::MAX_PODS_PER_GROUP)). Both are
/// int32, so the product fits CEL's int64.
pub const GROUP_PODS_WITHIN_LIMIT: CelRule = CelRule {
    rule: "self.replicas * self.numOfHosts <= 10000",
    message: "replicas times numOfHosts must be at most 10000 pods per worker group",
    field_path: Some(".replicas"),
};

/// `minReplicas × numOfHosts` fits a group: `replicas` is raised to it.
pub const GROUP_MIN_PODS_WITHIN_LIMIT: CelRule = CelRule {
    rule: "self.minReplicas * self.numOfHosts <= 10000",
    message: "minReplicas times numOfHosts must be at most 10000 pods per worker group",
    field_path: Some(".minReplicas"),
};

/// `maxReplicas × numOfHosts` fits a group, unless `maxReplicas` is unset
/// (stored as 2147483647, KubeRay's default): rayop then caps it itself.
pub const GROUP_MAX_PODS_WITHIN_LIMIT: CelRule = CelRule {
    rule: "self.maxReplicas == 2147483647 || self.maxReplicas * self.numOfHosts <= 10000",
    message: "maxReplicas times numOfHosts must be at most 10000 pods per worker group; leave maxReplicas unset to let rayop cap it at that limit",
    field_path: Some(".maxReplicas"),
};

/// An HPA runs at least one replica, so a group it scales needs
/// `maxReplicas` of at least 1 (else the status would say 0 while one runs).
pub const HPA_NEEDS_A_REPLICA: CelRule = CelRule {
    rule: "!has(self.horizontalPodAutoscaler) || self.maxReplicas >= 1",
    message: "maxReplicas must be at least 1 with horizontalPodAutoscaler: an HPA always runs at least one replica",
    field_path: Some(".maxReplicas"),
};

/// Rules on each `spec.workerGroupSpecs[i]`.
pub const WORKER_GROUP_RULES: [CelRule; 5] = [
    MIN_LE_MAX,
    GROUP_PODS_WITHIN_LIMIT,
    GROUP_MIN_PODS_WITHIN_LIMIT,
    GROUP_MAX_PODS_WITHIN_LIMIT,
    HPA_NEEDS_A_REPLICA,
];

/// Group names the head's names and labels use are refused.
pub const GROUP_NAME_NOT_RESERVED: CelRule = CelRule {
    rule: "self != 'head' && self != 'headgroup'",
    message: "groupName 'head' and 'headgroup' are reserved: the head's StatefulSet, Service and ray.io/group label use them",
    field_path: None,
};

/// Rules on `spec.workerGroupSpecs[i].groupName`.
pub const GROUP_NAME_RULES: [CelRule; 1] = [GROUP_NAME_NOT_RESERVED];

// ---- pod templates ----

/// A pod template has a container to run Ray in.
pub const TEMPLATE_HAS_CONTAINER: CelRule = CelRule {
    rule: "has(self.spec) && has(self.spec.containers) && size(self.spec.containers) > 0",
    message: "a pod template needs at least one container in spec.containers; the first one runs Ray",
    field_path: None,
};

/// Rules on every `template`.
pub const TEMPLATE_RULES: [CelRule; 1] = [TEMPLATE_HAS_CONTAINER];

// ---- autoscaler ----

/// Only one of the two idle timeout spellings.
pub const ONE_IDLE_TIMEOUT: CelRule = CelRule {
    rule: "!(has(self.idleTimeoutSeconds) && has(self.idleTimeoutMinutes))",
    message: "set idleTimeoutSeconds or idleTimeoutMinutes, not both",
    field_path: None,
};

/// Only one of the two upscaling settings.
pub const ONE_UPSCALING_SETTING: CelRule = CelRule {
    rule: "!(has(self.upscalingMode) && has(self.upscalingSpeed))",
    message: "set upscalingMode or upscalingSpeed, not both",
    field_path: None,
};

/// Rules on `spec.autoscalerOptions`.
pub const AUTOSCALER_RULES: [CelRule; 2] = [ONE_IDLE_TIMEOUT, ONE_UPSCALING_SETTING];

// ---- GCS fault tolerance ----

/// A Redis password comes from exactly one source.
pub const ONE_PASSWORD_SOURCE: CelRule = CelRule {
    rule: "has(self.value) != has(self.valueFrom)",
    message: "set exactly one of value or valueFrom",
    field_path: None,
};

/// Rules on `spec.gcsFaultToleranceOptions.redisPassword` and `redisUsername`.
pub const REDIS_PASSWORD_RULES: [CelRule; 1] = [ONE_PASSWORD_SOURCE];

/// The backend cannot be switched on an existing cluster. A transition
/// rule: it binds only when the old and the new object both set it.
pub const BACKEND_UNCHANGED: CelRule = CelRule {
    rule: "self == oldSelf",
    message: "gcsFaultToleranceOptions.backend is immutable",
    field_path: None,
};

/// Rules on `spec.gcsFaultToleranceOptions.backend`.
pub const BACKEND_RULES: [CelRule; 1] = [BACKEND_UNCHANGED];

/// The redis backend needs an address.
pub const REDIS_NEEDS_ADDRESS: CelRule = CelRule {
    rule: "(has(self.backend) && self.backend == 'rocksdb') || (has(self.redisAddress) && self.redisAddress != '')",
    message: "redisAddress is required with the redis backend",
    field_path: Some(".redisAddress"),
};

/// `storage` configures the embedded RocksDB only.
pub const STORAGE_NEEDS_ROCKSDB: CelRule = CelRule {
    rule: "!has(self.storage) || (has(self.backend) && self.backend == 'rocksdb')",
    message: "storage is only allowed with backend rocksdb",
    field_path: Some(".storage"),
};

/// The rocksdb backend takes none of the Redis fields.
pub const ROCKSDB_WITHOUT_REDIS_FIELDS: CelRule = CelRule {
    rule: "!has(self.backend) || self.backend != 'rocksdb' || ((!has(self.redisAddress) || self.redisAddress == '') && !has(self.redisUsername) && !has(self.redisPassword) && (!has(self.externalStorageNamespace) || self.externalStorageNamespace == ''))",
    message: "redisAddress, redisUsername, redisPassword and externalStorageNamespace must be empty with backend rocksdb",
    field_path: None,
};

/// Rules on `spec.gcsFaultToleranceOptions`.
pub const GCS_RULES: [CelRule; 3] = [
    REDIS_NEEDS_ADDRESS,
    STORAGE_NEEDS_ROCKSDB,
    ROCKSDB_WITHOUT_REDIS_FIELDS,
];

/// A bring-your-own claim excludes the settings of the managed one.
pub const CLAIM_EXCLUDES_SETTINGS: CelRule = CelRule {
    rule: "!has(self.claimName) || self.claimName == '' || (!has(self.size) && !has(self.storageClassName) && !has(self.accessModes))",
    message: "claimName excludes size, storageClassName and accessModes, which configure the operator-managed claim",
    field_path: None,
};

/// Rules on `spec.gcsFaultToleranceOptions.storage`.
pub const STORAGE_RULES: [CelRule; 1] = [CLAIM_EXCLUDES_SETTINGS];

/// Every rule of the CRD, each with the schema path it is attached to.
pub const ALL_RULES: [(&str, CelRule); 26] = [
    ("", CLUSTER_NAME_IS_DNS1035),
    ("", CLUSTER_NAME_LENGTH),
    ("", WORKER_NAME_LENGTH),
    ("spec", MANAGED_BY_PRESENCE),
    ("spec", HEAD_SERVICE_TYPE_AGREES),
    ("spec", ONE_AUTOSCALER_PER_GROUP),
    ("spec", CLUSTER_PODS_WITHIN_LIMIT),
    ("spec.managedBy", MANAGED_BY_UNCHANGED),
    ("spec.workerGroupSpecs", GROUP_NAMES_UNIQUE),
    ("spec.workerGroupSpecs[*]", MIN_LE_MAX),
    ("spec.workerGroupSpecs[*]", GROUP_PODS_WITHIN_LIMIT),
    ("spec.workerGroupSpecs[*]", GROUP_MIN_PODS_WITHIN_LIMIT),
    ("spec.workerGroupSpecs[*]", GROUP_MAX_PODS_WITHIN_LIMIT),
    ("spec.workerGroupSpecs[*]", HPA_NEEDS_A_REPLICA),
    (
        "spec.workerGroupSpecs[*].groupName",
        GROUP_NAME_NOT_RESERVED,
    ),
    ("spec.headGroupSpec.template", TEMPLATE_HAS_CONTAINER),
    ("spec.workerGroupSpecs[*].template", TEMPLATE_HAS_CONTAINER),
    ("spec.autoscalerOptions", ONE_IDLE_TIMEOUT),
    ("spec.autoscalerOptions", ONE_UPSCALING_SETTING),
    (
        "spec.gcsFaultToleranceOptions.redisPassword",
        ONE_PASSWORD_SOURCE,
    ),
    (
        "spec.gcsFaultToleranceOptions.redisUsername",
        ONE_PASSWORD_SOURCE,
    ),
    ("spec.gcsFaultToleranceOptions.backend", BACKEND_UNCHANGED),
    ("spec.gcsFaultToleranceOptions", REDIS_NEEDS_ADDRESS),
    ("spec.gcsFaultToleranceOptions", STORAGE_NEEDS_ROCKSDB),
    (
        "spec.gcsFaultToleranceOptions",
        ROCKSDB_WITHOUT_REDIS_FIELDS,
    ),
    (
        "spec.gcsFaultToleranceOptions.storage",
        CLAIM_EXCLUDES_SETTINGS,
    ),
];

/// Appends `rules` to the schema's `x-kubernetes-validations`.
pub fn attach(schema: &mut Schema, rules: &[CelRule]) {
    let entries = rules.iter().map(CelRule::to_json);
    match schema
        .ensure_object()
        .entry("x-kubernetes-validations")
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        Value::Array(list) => list.extend(entries),
        other => *other = Value::Array(entries.collect()),
    }
}

/// The `#[schemars(transform)]` of `RayClusterSpec`: attaches [`SPEC_RULES`].
pub fn spec_rules(schema: &mut Schema) {
    attach(schema, &SPEC_RULES);
}

/// The `#[schemars(transform)]` of `RayClusterSpec::managed_by`:
/// attaches [`MANAGED_BY_RULES`].
pub fn managed_by_rules(schema: &mut Schema) {
    attach(schema, &MANAGED_BY_RULES);
}

/// The `#[schemars(transform)]` of `RayClusterSpec::worker_group_specs`:
/// attaches [`WORKER_GROUPS_RULES`].
pub fn worker_groups_rules(schema: &mut Schema) {
    attach(schema, &WORKER_GROUPS_RULES);
}

/// The `#[schemars(transform)]` of `WorkerGroupSpec`: attaches [`WORKER_GROUP_RULES`].
pub fn worker_group_rules(schema: &mut Schema) {
    attach(schema, &WORKER_GROUP_RULES);
}

/// The `#[schemars(transform)]` of `WorkerGroupSpec::group_name`:
/// attaches [`GROUP_NAME_RULES`].
pub fn group_name_rules(schema: &mut Schema) {
    attach(schema, &GROUP_NAME_RULES);
}

/// The `#[schemars(transform)]` of `AutoscalerOptions`: attaches [`AUTOSCALER_RULES`].
pub fn autoscaler_rules(schema: &mut Schema) {
    attach(schema, &AUTOSCALER_RULES);
}

/// The `#[schemars(transform)]` of `RedisCredential`: attaches [`REDIS_PASSWORD_RULES`].
pub fn redis_password_rules(schema: &mut Schema) {
    attach(schema, &REDIS_PASSWORD_RULES);
}

/// The `#[schemars(transform)]` of `GcsBackend`: attaches [`BACKEND_RULES`],
/// and drops the enum's own description so the field's stays.
pub fn backend_rules(schema: &mut Schema) {
    schema.remove("description");
    attach(schema, &BACKEND_RULES);
}

/// The `#[schemars(transform)]` of `GcsFaultToleranceOptions`: attaches [`GCS_RULES`].
pub fn gcs_rules(schema: &mut Schema) {
    attach(schema, &GCS_RULES);
}

/// The `#[schemars(transform)]` of `GcsEmbeddedStorage`: attaches [`STORAGE_RULES`].
pub fn storage_rules(schema: &mut Schema) {
    attach(schema, &STORAGE_RULES);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::names;

    #[test]
    fn root_rule_numbers_match_the_names_module() {
        assert!(
            CLUSTER_NAME_LENGTH
                .rule
                .ends_with(&format!("<= {}", names::MAX_CLUSTER_NAME))
        );
        assert!(
            WORKER_NAME_LENGTH
                .rule
                .ends_with(&format!("<= {})", names::MAX_CLUSTER_AND_GROUP_NAME))
        );
        assert!(
            CLUSTER_NAME_IS_DNS1035
                .rule
                .contains(names::DNS1035_LABEL_PATTERN)
        );
        for reserved in names::RESERVED_GROUP_NAMES {
            assert!(
                GROUP_NAME_NOT_RESERVED
                    .rule
                    .contains(&format!("'{reserved}'"))
            );
        }
    }

    #[test]
    fn limit_rule_numbers_match_the_limits_module() {
        use crate::crd::limits;
        let group = format!("<= {}", limits::MAX_PODS_PER_GROUP);
        for rule in [
            GROUP_PODS_WITHIN_LIMIT,
            GROUP_MIN_PODS_WITHIN_LIMIT,
            GROUP_MAX_PODS_WITHIN_LIMIT,
        ] {
            assert!(rule.rule.ends_with(&group), "{}", rule.rule);
            assert!(
                rule.message
                    .contains(&format!("at most {} pods", limits::MAX_PODS_PER_GROUP)),
                "{}",
                rule.message
            );
        }
        assert!(GROUP_MAX_PODS_WITHIN_LIMIT.rule.starts_with(&format!(
            "self.maxReplicas == {} ||",
            limits::UNSET_MAX_REPLICAS
        )));
        let cluster = CLUSTER_PODS_WITHIN_LIMIT;
        assert!(cluster.rule.ends_with(&format!(
            ".sum() <= {}",
            limits::MAX_WORKER_PODS_PER_CLUSTER
        )));
        assert!(
            cluster
                .rule
                .contains(&format!("g.numOfHosts <= {}", limits::MAX_NUM_OF_HOSTS))
        );
        assert!(cluster.message.contains(&format!(
            "more than {} pods",
            limits::MAX_WORKER_PODS_PER_CLUSTER
        )));
    }

    #[test]
    fn attach_appends() {
        let mut schema = Schema::default();
        attach(&mut schema, &[MIN_LE_MAX]);
        attach(&mut schema, &[GROUP_NAMES_UNIQUE]);
        let rules = schema
            .get("x-kubernetes-validations")
            .and_then(Value::as_array)
            .map(Vec::len);
        assert_eq!(rules, Some(2));
        assert_eq!(
            MIN_LE_MAX.to_json()["fieldPath"],
            Value::from(".minReplicas")
        );
    }
}
