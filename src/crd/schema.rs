//! Hand-written schema pieces for the embedded Kubernetes objects of the CRD.
//!
//! Role: keep the CRD small and the embedded objects intact. With the full
//! PodTemplateSpec schema in each template, the CRD would outgrow the 256 KiB
//! `last-applied-configuration` annotation that a plain `kubectl apply`
//! writes. So pod templates and the head Service are
//! `x-kubernetes-preserve-unknown-fields` objects that declare only the fields
//! a rule or a default needs:
//! - a template declares `metadata`, `spec.containers[].name` and `.image`, and
//!   carries the CEL rule that it has at least one container
//!   ([`cel::TEMPLATE_HAS_CONTAINER`]). Its `metadata` may be `null` (a bare
//!   `metadata:` line in YAML, as in KubeRay's `ray-service.high-throughput-gemma4.yaml`
//!   sample): a plain apply drops the null, and a server-side apply, which
//!   keeps it, would otherwise be refused;
//! - a template's schema default is the default template of
//!   [`defaults`], so the API server stores it. The Ray autoscaler reads each
//!   group's template (container resources) from the RayCluster object, so a
//!   spec as short as the seed's must still show one there;
//! - the head Service is kept as given;
//! - an HPA's `behavior` is typed with the API server's ranges
//!   ([`hpa_behavior`]), since rayop decodes it.
//!
//! The Kubernetes API server validates the full pod when rayop creates the
//! workload; [`validate`](crate::crd::validation::validate) catches what rayop
//! itself relies on before that.

use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::Value;

use crate::crd::{cel, defaults, limits, names};

/// Schema of `headGroupSpec.template`, defaulting to the default head template.
pub fn head_template(_: &mut SchemaGenerator) -> Schema {
    pod_template(serde_json::to_value(defaults::default_head_template()).ok())
}

/// Schema of `workerGroupSpecs[].template`, defaulting to the default worker template.
pub fn worker_template(_: &mut SchemaGenerator) -> Schema {
    pod_template(serde_json::to_value(defaults::default_worker_template()).ok())
}

/// Schema of `headGroupSpec.headService`: any Service object, kept as given,
/// except that `metadata.name`, which names the head Service, must be empty
/// or a DNS-1035 label (as `validation` checks too).
pub fn service(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
        "properties": {
            "metadata": {
                "description": "Metadata of the head Service; rayop adds its labels, annotations, namespace and owner.",
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": true,
                "properties": {
                    "name": {
                        "description": "Name of the head Service instead of <cluster>-head-svc; a DNS-1035 label. Workers reach the head through it.",
                        "type": "string",
                        "maxLength": names::MAX_DNS_LABEL,
                        "pattern": HEAD_SERVICE_NAME_PATTERN,
                    },
                },
            },
        },
    })
}

/// Pattern of `headGroupSpec.headService.metadata.name`: empty (the default
/// name) or [`names::DNS1035_LABEL_PATTERN`].
pub const HEAD_SERVICE_NAME_PATTERN: &str = "^([a-z]([-a-z0-9]*[a-z0-9])?)?$";

/// Schema of `volumeClaimTemplates`: PersistentVolumeClaims kept as given
/// (the API server validates them when rayop creates the StatefulSet).
pub fn volume_claim_templates(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "maxItems": 16,
        "items": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
        },
    })
}

/// Schema of `horizontalPodAutoscaler.metrics`: autoscaling/v2 MetricSpecs kept as given.
pub fn open_objects(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "maxItems": 16,
        "items": { "type": "object", "x-kubernetes-preserve-unknown-fields": true },
    })
}

/// Schema of `horizontalPodAutoscaler.behavior`: the autoscaling/v2
/// `HorizontalPodAutoscalerBehavior` fields rayop must decode, with the
/// API server's ranges, so a behavior that would not decode, or that the HPA
/// API would refuse, is refused at admission naming the field. Unknown fields
/// are kept (newer Kubernetes versions add some).
pub fn hpa_behavior(_: &mut SchemaGenerator) -> Schema {
    let rules = json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
        "properties": {
            "selectPolicy": {
                "description": "Which policy wins when several apply: Max (the default), Min, or Disabled (no scaling in this direction).",
                "type": "string",
                "enum": limits::HPA_SELECT_POLICIES,
            },
            "stabilizationWindowSeconds": {
                "description": "Seconds of past recommendations the HPA considers before scaling, 0 to 3600.",
                "type": "integer",
                "format": "int32",
                "minimum": 0,
                "maximum": limits::MAX_HPA_STABILIZATION_SECONDS,
            },
            "policies": {
                "description": "How much the HPA may scale per period.",
                "type": "array",
                "maxItems": 16,
                "items": {
                    "description": "One scaling policy.",
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": true,
                    "required": ["type", "value", "periodSeconds"],
                    "properties": {
                        "type": { "description": "Pods (a number of pods) or Percent (of the current pods).", "type": "string", "enum": limits::HPA_POLICY_TYPES },
                        "value": { "description": "Pods or percent per period, at least 1.", "type": "integer", "format": "int32", "minimum": 1, "maximum": i32::MAX },
                        "periodSeconds": {
                            "description": "Length of the period in seconds, 1 to 1800.",
                            "type": "integer",
                            "format": "int32",
                            "minimum": 1,
                            "maximum": limits::MAX_HPA_PERIOD_SECONDS,
                        },
                    },
                },
            },
        },
    });
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
        "properties": {
            "scaleUp": with_description(rules.clone(), "How the HPA scales up."),
            "scaleDown": with_description(rules, "How the HPA scales down."),
        },
    })
}

fn with_description(mut schema: Schema, description: &str) -> Schema {
    schema.insert("description".into(), description.into());
    schema
}

/// Schema of an embedded Kubernetes object kept as given.
pub fn open_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}

fn pod_template(default: Option<Value>) -> Schema {
    let mut schema = json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
        "properties": {
            "metadata": {
                "description": "Labels and annotations of the pods. rayop sets ray.io/cluster, ray.io/node-type and ray.io/group itself.",
                "type": "object",
                "nullable": true,
                "x-kubernetes-preserve-unknown-fields": true,
            },
            "spec": {
                "description": "A Kubernetes PodSpec, kept as given; the API server validates it when rayop creates the workload.",
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": true,
                "properties": {
                    "containers": {
                        "description": "The pod's containers; the first one runs Ray.",
                        "type": "array",
                        "items": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": true,
                            "properties": {
                                "name": {
                                    "description": "Name of the container; the Ray container defaults to ray-head or ray-worker.",
                                    "type": "string",
                                },
                                "image": {
                                    "description": "Image of the container; the Ray container defaults to rayproject/ray:<rayVersion>.",
                                    "type": "string",
                                },
                            },
                        },
                    },
                },
            },
        },
    });
    if let Some(default) = default {
        schema.insert("default".into(), default);
    }
    cel::attach(&mut schema, &cel::TEMPLATE_RULES);
    schema
}

/// Removes the type's own description from an enum's schema, so that the
/// documentation of the field using it stays. (kube hoists an optional enum's
/// schema into the field's, and the enum's description would replace the
/// field's.)
pub fn drop_description(schema: &mut Schema) {
    schema.remove("description");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_service_name_pattern_is_the_validation_twin() {
        let pattern = regex::Regex::new(HEAD_SERVICE_NAME_PATTERN).unwrap();
        for name in [
            "my-head", "a", "a1-b2", "My_Head", "1head", "head-", "-x", "a.b",
        ] {
            assert_eq!(
                pattern.is_match(name),
                names::is_dns1035_label(name),
                "{name}"
            );
        }
        assert!(pattern.is_match(""), "empty keeps the default name");
    }
}
