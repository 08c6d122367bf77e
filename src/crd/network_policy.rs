//! `spec.networkPolicy`: NetworkPolicies that isolate the cluster's pods.
//!
//! Role: data only, with KubeRay v1.7's JSON names and defaults (`mode`
//! defaults to `DenyAll`). The policies themselves are built by
//! [`build::network_policy`](crate::build::network_policy); the rules about
//! rules versus `mode` are checked by [`check`].
//!
//! Invariants: the policy of a worker group uses its `workerGroups` entry
//! when one exists, which replaces `worker` rather than merging with it;
//! every rule a user writes is appended after rayop's base rule, which allows
//! all traffic between the cluster's own pods.

use k8s_openapi::api::networking::v1::{NetworkPolicyEgressRule, NetworkPolicyIngressRule};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which directions the cluster's NetworkPolicies deny by default.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum NetworkPolicyMode {
    /// Deny ingress and egress, except between the cluster's own pods and
    /// what the rules allow.
    #[default]
    DenyAll,
    /// Deny ingress only; egress is not restricted.
    DenyAllIngress,
    /// Deny egress only; ingress is not restricted.
    DenyAllEgress,
}

impl NetworkPolicyMode {
    /// Whether this mode restricts ingress (the policies list `Ingress`).
    #[must_use]
    pub fn restricts_ingress(self) -> bool {
        matches!(
            self,
            NetworkPolicyMode::DenyAll | NetworkPolicyMode::DenyAllIngress
        )
    }

    /// Whether this mode restricts egress (the policies list `Egress`).
    #[must_use]
    pub fn restricts_egress(self) -> bool {
        matches!(
            self,
            NetworkPolicyMode::DenyAll | NetworkPolicyMode::DenyAllEgress
        )
    }

    /// The mode as the CRD spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkPolicyMode::DenyAll => "DenyAll",
            NetworkPolicyMode::DenyAllIngress => "DenyAllIngress",
            NetworkPolicyMode::DenyAllEgress => "DenyAllEgress",
        }
    }
}

/// Network isolation of the cluster: rayop creates a NetworkPolicy
/// `<cluster>-head` for the head pod and one `<cluster>-workers-<group>` per
/// worker group. Traffic between the cluster's own pods is always allowed.
/// DNS and API-server egress are not added: under DenyAll or DenyAllEgress,
/// add a DNS egress rule (kube-dns, port 53) or workers cannot resolve the
/// head Service, and an API-server rule for the autoscaler.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyOptions {
    /// What the policies deny: DenyAll (the default), DenyAllIngress or
    /// DenyAllEgress. Only the denied directions take rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "DenyAll"))]
    pub mode: Option<NetworkPolicyMode>,

    /// Rules added to the head pod's policy, after the rule that allows the
    /// cluster's own pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<NetworkPolicyRules>,

    /// Rules added to each worker group's policy, unless `workerGroups` has
    /// an entry for the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<NetworkPolicyRules>,

    /// Rules of single worker groups, by `groupName`; an entry replaces
    /// `worker` for its group (it does not merge with it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend(
        "x-kubernetes-list-type" = "map",
        "x-kubernetes-list-map-keys" = ["groupName"],
    ))]
    pub worker_groups: Vec<WorkerGroupNetworkPolicyRules>,
}

/// Custom rules of one NetworkPolicy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyRules {
    /// Ingress rules appended to the base rule; only under DenyAll or
    /// DenyAllIngress.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "ingress_rules_schema")]
    pub ingress_rules: Vec<NetworkPolicyIngressRule>,

    /// Egress rules appended to the base rule; only under DenyAll or
    /// DenyAllEgress. DNS egress is not added for you.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "egress_rules_schema")]
    pub egress_rules: Vec<NetworkPolicyEgressRule>,
}

/// The rules of one worker group's NetworkPolicy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkerGroupNetworkPolicyRules {
    /// The worker group these rules are for; it must name a group of
    /// `workerGroupSpecs`.
    pub group_name: String,

    /// Ingress rules appended to the base rule; only under DenyAll or
    /// DenyAllIngress.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "ingress_rules_schema")]
    pub ingress_rules: Vec<NetworkPolicyIngressRule>,

    /// Egress rules appended to the base rule; only under DenyAll or
    /// DenyAllEgress. DNS egress is not added for you.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "egress_rules_schema")]
    pub egress_rules: Vec<NetworkPolicyEgressRule>,
}

/// Schema of `ingressRules`: networking.k8s.io/v1 NetworkPolicyIngressRules,
/// typed but tersely described, so the CRD stays well under the size a
/// client-side `kubectl apply` can store.
pub fn ingress_rules_schema(_: &mut SchemaGenerator) -> Schema {
    rules_schema("from", "Sources allowed in; any source when empty.")
}

/// Schema of `egressRules`: networking.k8s.io/v1 NetworkPolicyEgressRules,
/// typed like [`ingress_rules_schema`].
pub fn egress_rules_schema(_: &mut SchemaGenerator) -> Schema {
    rules_schema(
        "to",
        "Destinations allowed out; any destination when empty.",
    )
}

fn described(description: &str, mut schema: Value) -> Value {
    if let Some(object) = schema.as_object_mut() {
        object.insert("description".into(), description.into());
    }
    schema
}

fn label_selector(description: &str) -> Value {
    described(
        description,
        serde_json::json!({
            "type": "object",
            "x-kubernetes-map-type": "atomic",
            "properties": {
                "matchLabels": {
                    "description": "Labels the objects must all have.",
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                },
                "matchExpressions": {
                    "description": "Label requirements the objects must all meet.",
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["key", "operator"],
                        "properties": {
                            "key": {"description": "The label key.", "type": "string"},
                            "operator": {"description": "In, NotIn, Exists or DoesNotExist.", "type": "string"},
                            "values": {
                                "description": "The values, for In and NotIn.",
                                "type": "array",
                                "items": {"type": "string"},
                            },
                        },
                    },
                },
            },
        }),
    )
}

fn rules_schema(peers: &str, peers_description: &str) -> Schema {
    let peer = serde_json::json!({
        "type": "object",
        "properties": {
            "ipBlock": {
                "description": "An IP range (CIDR), minus the except ranges.",
                "type": "object",
                "required": ["cidr"],
                "properties": {
                    "cidr": {"description": "The range, such as 10.0.0.0/8.", "type": "string"},
                    "except": {
                        "description": "Ranges inside cidr that are excluded.",
                        "type": "array",
                        "items": {"type": "string"},
                    },
                },
            },
            "namespaceSelector": label_selector("Namespaces whose pods match; alone, all their pods."),
            "podSelector": label_selector("Pods that match, in the policy's namespace unless namespaceSelector is set."),
        },
    });
    let port = serde_json::json!({
        "type": "object",
        "properties": {
            "port": {
                "description": "A port number or name; all ports when unset.",
                "x-kubernetes-int-or-string": true,
            },
            "endPort": {
                "description": "The last port of a range starting at port.",
                "type": "integer",
                "format": "int32",
            },
            "protocol": {"description": "TCP (the default), UDP or SCTP.", "type": "string"},
        },
    });
    let mut properties = serde_json::Map::new();
    properties.insert(
        peers.to_owned(),
        serde_json::json!({"description": peers_description, "type": "array", "items": peer}),
    );
    properties.insert(
        "ports".to_owned(),
        serde_json::json!({
            "description": "Ports allowed; all ports when empty.",
            "type": "array",
            "items": port,
        }),
    );
    json_schema!({
        "type": "array",
        "items": {"type": "object", "properties": properties},
    })
}

impl NetworkPolicyOptions {
    /// `mode`, DenyAll when unset.
    #[must_use]
    pub fn effective_mode(&self) -> NetworkPolicyMode {
        self.mode.unwrap_or_default()
    }

    /// The custom rules of `group`'s policy: its `workerGroups` entry, else
    /// `worker`. `None`: no custom rule.
    #[must_use]
    pub fn group_rules(
        &self,
        group: &str,
    ) -> Option<(&[NetworkPolicyIngressRule], &[NetworkPolicyEgressRule])> {
        if let Some(entry) = self.worker_groups.iter().find(|e| e.group_name == group) {
            return Some((
                entry.ingress_rules.as_slice(),
                entry.egress_rules.as_slice(),
            ));
        }
        self.worker
            .as_ref()
            .map(|w| (w.ingress_rules.as_slice(), w.egress_rules.as_slice()))
    }

    /// The custom rules of the head's policy.
    #[must_use]
    pub fn head_rules(&self) -> Option<(&[NetworkPolicyIngressRule], &[NetworkPolicyEgressRule])> {
        self.head
            .as_ref()
            .map(|h| (h.ingress_rules.as_slice(), h.egress_rules.as_slice()))
    }
}

/// The problems of `spec.networkPolicy` (`policy`) in a cluster whose
/// worker groups are `groups`, in spec order, each naming its field: rules
/// for a direction the mode does not restrict, a `workerGroups` entry naming
/// no group, and group names that are no DNS-1123 label (they end policy
/// names).
#[must_use]
pub fn check(policy: &NetworkPolicyOptions, groups: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mode = policy.effective_mode();
    let path = "spec.networkPolicy";
    let mut rules = |at: String, ingress: usize, egress: usize| {
        if ingress > 0 && !mode.restricts_ingress() {
            out.push((
                format!("{at}.ingressRules"),
                format!(
                    "cannot be set when mode is {}: ingress is not restricted",
                    mode.as_str()
                ),
            ));
        }
        if egress > 0 && !mode.restricts_egress() {
            out.push((
                format!("{at}.egressRules"),
                format!(
                    "cannot be set when mode is {}: egress is not restricted",
                    mode.as_str()
                ),
            ));
        }
    };
    if let Some(head) = &policy.head {
        rules(
            format!("{path}.head"),
            head.ingress_rules.len(),
            head.egress_rules.len(),
        );
    }
    if let Some(worker) = &policy.worker {
        rules(
            format!("{path}.worker"),
            worker.ingress_rules.len(),
            worker.egress_rules.len(),
        );
    }
    for (i, entry) in policy.worker_groups.iter().enumerate() {
        rules(
            format!("{path}.workerGroups[{i}]"),
            entry.ingress_rules.len(),
            entry.egress_rules.len(),
        );
    }
    for (i, entry) in policy.worker_groups.iter().enumerate() {
        if !groups.contains(&entry.group_name.as_str()) {
            out.push((
                format!("{path}.workerGroups[{i}].groupName"),
                format!(
                    "{:?} matches no group of workerGroupSpecs",
                    entry.group_name
                ),
            ));
        }
    }
    for (i, group) in groups.iter().enumerate() {
        if !is_dns1123_label(group) {
            out.push((
                format!("spec.workerGroupSpecs[{i}].groupName"),
                format!(
                    "{group:?} must be a DNS-1123 label when networkPolicy is set: it ends the NetworkPolicy's name"
                ),
            ));
        }
    }
    out
}

/// Whether `name` is a DNS-1123 label: at most 63 lower-case letters, digits
/// and `-`, starting and ending with a letter or digit.
#[must_use]
pub fn is_dns1123_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum)
        && bytes.iter().all(|b| alnum(b) || *b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingress_rule() -> NetworkPolicyIngressRule {
        NetworkPolicyIngressRule::default()
    }

    fn egress_rule() -> NetworkPolicyEgressRule {
        NetworkPolicyEgressRule::default()
    }

    fn fields(policy: &NetworkPolicyOptions) -> Vec<String> {
        check(policy, &["cpu"])
            .into_iter()
            .map(|(f, _)| f)
            .collect()
    }

    #[test]
    fn mode_defaults_to_deny_all_and_says_what_it_restricts() {
        let options: NetworkPolicyOptions = serde_json::from_str("{}").unwrap();
        assert_eq!(options.effective_mode(), NetworkPolicyMode::DenyAll);
        assert!(NetworkPolicyMode::DenyAll.restricts_ingress());
        assert!(NetworkPolicyMode::DenyAll.restricts_egress());
        assert!(!NetworkPolicyMode::DenyAllIngress.restricts_egress());
        assert!(!NetworkPolicyMode::DenyAllEgress.restricts_ingress());
    }

    #[test]
    fn rules_for_an_unrestricted_direction_are_refused_naming_the_field() {
        let mut policy = NetworkPolicyOptions {
            mode: Some(NetworkPolicyMode::DenyAllEgress),
            head: Some(NetworkPolicyRules {
                ingress_rules: vec![ingress_rule()],
                egress_rules: vec![egress_rule()],
            }),
            worker: None,
            worker_groups: vec![WorkerGroupNetworkPolicyRules {
                group_name: "cpu".into(),
                ingress_rules: vec![ingress_rule()],
                egress_rules: Vec::new(),
            }],
        };
        assert_eq!(
            fields(&policy),
            [
                "spec.networkPolicy.head.ingressRules",
                "spec.networkPolicy.workerGroups[0].ingressRules"
            ]
        );
        policy.mode = Some(NetworkPolicyMode::DenyAllIngress);
        policy.worker = policy.head.take();
        assert_eq!(fields(&policy), ["spec.networkPolicy.worker.egressRules"]);
    }

    #[test]
    fn a_group_entry_must_name_a_group() {
        let policy = NetworkPolicyOptions {
            worker_groups: vec![WorkerGroupNetworkPolicyRules {
                group_name: "gpu".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            fields(&policy),
            ["spec.networkPolicy.workerGroups[0].groupName"]
        );
        let bad_name = check(&NetworkPolicyOptions::default(), &["Upper_Case"]);
        assert_eq!(bad_name[0].0, "spec.workerGroupSpecs[0].groupName");
    }

    #[test]
    fn group_rules_replace_worker_rules() {
        let options = NetworkPolicyOptions {
            worker: Some(NetworkPolicyRules {
                ingress_rules: vec![ingress_rule()],
                egress_rules: Vec::new(),
            }),
            worker_groups: vec![WorkerGroupNetworkPolicyRules {
                group_name: "gpu".into(),
                egress_rules: vec![egress_rule(), egress_rule()],
                ..Default::default()
            }],
            ..Default::default()
        };
        let (i, e) = options.group_rules("cpu").unwrap();
        assert_eq!((i.len(), e.len()), (1, 0));
        let (i, e) = options.group_rules("gpu").unwrap();
        assert_eq!((i.len(), e.len()), (0, 2));
        assert!(NetworkPolicyOptions::default().group_rules("cpu").is_none());
    }

    #[test]
    fn dns1123_labels() {
        for ok in ["a", "1a", "a-b", "0"] {
            assert!(is_dns1123_label(ok), "{ok}");
        }
        for bad in ["", "A", "a_b", "-a", "a-", &"a".repeat(64)] {
            assert!(!is_dns1123_label(bad), "{bad}");
        }
    }
}
