//! Maps the API server's refusal of an object rayop built back to the
//! RayCluster field the user writes.
//!
//! A 422 Invalid (or a 400 from server-side apply) names fields of the
//! StatefulSet, Deployment, Service or HPA, which the user never wrote:
//! `spec.template.spec.containers[0].ports[1].containerPort` of worker group
//! `gpu`'s StatefulSet is `spec.workerGroupSpecs[1].template.spec.containers[0].ports[1].containerPort`
//! of the RayCluster. The API server's own text is kept as detail.
//!
//! Invariants: pure; a field that has no counterpart in the RayCluster maps
//! to the group (or head) spec that produced the object, never to nothing;
//! the sentence is bounded ([`MAX_MESSAGE`] characters).

use kube::core::Status;

use super::ApplyError;
use crate::desired::{DesiredObjects, Kind};

/// The longest sentence [`explain`] returns, in characters.
pub const MAX_MESSAGE: usize = 1000;

/// The part of the RayCluster an object was built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `spec.headGroupSpec` (and the cluster-wide fields the head uses).
    Head,
    /// `spec.workerGroupSpecs[index]`.
    Group(usize),
}

impl Origin {
    /// The RayCluster path of this part.
    #[must_use]
    pub fn prefix(&self) -> String {
        match self {
            Origin::Head => "spec.headGroupSpec".to_owned(),
            Origin::Group(index) => format!("spec.workerGroupSpecs[{index}]"),
        }
    }
}

/// Which part of the RayCluster built the object `kind`/`name`.
#[must_use]
pub fn origin_of(desired: &DesiredObjects, kind: &str, name: &str) -> Option<Origin> {
    let built = |set: &crate::desired::ObjectSet| {
        set.keys()
            .iter()
            .any(|k| k.kind.as_str() == kind && k.name == name)
    };
    if built(&desired.head) {
        return Some(Origin::Head);
    }
    desired
        .groups
        .iter()
        .position(|(_, set)| built(set))
        .map(Origin::Group)
}

/// The RayCluster field behind `field` (a path into an object of `kind`,
/// with or without a leading dot) of an object built from `origin`.
#[must_use]
pub fn rayop_field(origin: &Origin, kind: &str, field: &str) -> String {
    let prefix = origin.prefix();
    let field = field.trim_start_matches('.');
    let workload = kind == Kind::StatefulSet.as_str() || kind == Kind::Deployment.as_str();
    if workload {
        if let Some(rest) = field.strip_prefix("spec.template") {
            return format!("{prefix}.template{rest}");
        }
        if field == "spec.replicas" && matches!(origin, Origin::Group(_)) {
            return format!("{prefix}.replicas");
        }
    }
    if kind == Kind::Service.as_str() && *origin == Origin::Head {
        if field == "spec.type" {
            return format!("{prefix}.serviceType");
        }
        if field.starts_with("metadata.annotations") {
            return "spec.headServiceAnnotations".to_owned();
        }
        if field.starts_with("spec.") || field.starts_with("metadata.") {
            return format!("{prefix}.headService.{field}");
        }
    }
    if kind == Kind::HorizontalPodAutoscaler.as_str() {
        match field {
            "spec.minReplicas" => return format!("{prefix}.minReplicas"),
            "spec.maxReplicas" => return format!("{prefix}.maxReplicas"),
            _ => {}
        }
    }
    prefix
}

/// The fields and reasons an API status gives: its causes, or else the
/// first object path in its message.
fn causes(status: &Status) -> Vec<(String, String)> {
    let listed: Vec<(String, String)> = status
        .details
        .iter()
        .flat_map(|d| d.causes.iter())
        .filter(|c| !c.field.is_empty())
        .map(|c| (c.field.clone(), c.message.clone()))
        .collect();
    if !listed.is_empty() {
        return listed;
    }
    path_in(&status.message)
        .map(|path| (path.to_owned(), String::new()))
        .into_iter()
        .collect()
}

/// The first `spec.`/`metadata.` path in a message, e.g. in server-side
/// apply's `.spec.template.spec.containers[name="x"].ports: duplicate entries`.
fn path_in(message: &str) -> Option<&str> {
    let start = ["spec.", "metadata."]
        .iter()
        .filter_map(|p| {
            message
                .match_indices(p)
                .map(|(i, _)| i)
                .find(|&i| i == 0 || matches!(message.as_bytes()[i - 1], b' ' | b'.' | b'\t'))
        })
        .min()?;
    let rest = &message[start..];
    let mut depth = 0usize;
    let end = rest
        .char_indices()
        .find(|&(_, c)| {
            match c {
                '[' => depth += 1,
                ']' => depth = depth.saturating_sub(1),
                _ => {}
            }
            depth == 0 && (c == ':' || c.is_whitespace() || c == ',')
        })
        .map_or(rest.len(), |(i, _)| i);
    Some(&rest[..end])
}

/// The sentence for a refused apply: the RayCluster field(s) to fix, with
/// the API server's text as detail. `None` when `error` is not the API
/// server refusing an object of `desired` as invalid.
#[must_use]
pub fn explain(desired: Option<&DesiredObjects>, error: &ApplyError) -> Option<String> {
    let ApplyError::Api(api) = error else {
        return None;
    };
    let kube::Error::Api(status) = &api.source else {
        return None;
    };
    if status.code != 422 && status.code != 400 {
        return None;
    }
    let origin = origin_of(desired?, api.kind, &api.name)?;
    let mut fields: Vec<String> = causes(status)
        .into_iter()
        .map(|(field, why)| {
            let field = rayop_field(&origin, api.kind, &field);
            if why.is_empty() {
                field
            } else {
                format!("{field}: {why}")
            }
        })
        .collect();
    fields.dedup();
    if fields.is_empty() {
        fields.push(origin.prefix());
    }
    let sentence = format!(
        "{} (the API server refused {} {}: {})",
        fields.join("; "),
        api.kind,
        api.name,
        status.message
    );
    Some(bounded(&sentence))
}

fn bounded(text: &str) -> String {
    if text.chars().count() <= MAX_MESSAGE {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(MAX_MESSAGE - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::owned::ApiError;
    use k8s_openapi::api::{
        apps::v1::StatefulSet, autoscaling::v2::HorizontalPodAutoscaler, core::v1::Service,
    };
    use kube::core::response::{StatusCause, StatusDetails};

    use crate::desired::{Object, ObjectSet};

    fn named<K: kube::Resource + Default>(name: &str) -> K {
        let mut k = K::default();
        k.meta_mut().name = Some(name.into());
        k
    }

    fn desired() -> DesiredObjects {
        DesiredObjects {
            head: ObjectSet::stamped(vec![
                Object::StatefulSet(named::<StatefulSet>("c-head")),
                Object::Service(named::<Service>("c-head-svc")),
            ]),
            groups: vec![
                (
                    "small".into(),
                    ObjectSet::stamped(vec![Object::StatefulSet(named::<StatefulSet>("c-small"))]),
                ),
                (
                    "gpu".into(),
                    ObjectSet::stamped(vec![
                        Object::StatefulSet(named::<StatefulSet>("c-gpu")),
                        Object::HorizontalPodAutoscaler(named::<HorizontalPodAutoscaler>("c-gpu")),
                    ]),
                ),
            ],
        }
    }

    fn invalid(
        kind: &'static str,
        name: &str,
        causes: Vec<(&str, &str)>,
        message: &str,
    ) -> ApplyError {
        let status = Status::failure(message, "Invalid")
            .with_code(422)
            .with_details(StatusDetails {
                name: name.into(),
                kind: kind.to_lowercase(),
                causes: causes
                    .into_iter()
                    .map(|(field, message)| StatusCause {
                        reason: "FieldValueInvalid".into(),
                        message: message.into(),
                        field: field.into(),
                    })
                    .collect(),
                group: String::new(),
                uid: String::new(),
                retry_after_seconds: 0,
            });
        ApplyError::Api(ApiError {
            verb: "apply",
            kind,
            name: name.into(),
            source: kube::Error::Api(status.boxed()),
        })
    }

    #[test]
    fn a_worker_statefulset_port_maps_to_the_groups_template() {
        let error = invalid(
            "StatefulSet",
            "c-gpu",
            vec![(
                "spec.template.spec.containers[0].ports[1].containerPort",
                "Invalid value: 0: must be between 1 and 65535, inclusive",
            )],
            "StatefulSet.apps \"c-gpu\" is invalid: spec.template.spec.containers[0].ports[1].containerPort: Invalid value: 0",
        );
        let text = explain(Some(&desired()), &error).unwrap();
        assert!(
            text.starts_with(
                "spec.workerGroupSpecs[1].template.spec.containers[0].ports[1].containerPort: \
                 Invalid value: 0: must be between 1 and 65535, inclusive (the API server \
                 refused StatefulSet c-gpu: StatefulSet.apps \"c-gpu\" is invalid"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_head_service_maps_to_head_service_and_service_type() {
        let head = Origin::Head;
        assert_eq!(
            rayop_field(&head, "Service", "spec.type"),
            "spec.headGroupSpec.serviceType"
        );
        assert_eq!(
            rayop_field(&head, "Service", "spec.ports[0].port"),
            "spec.headGroupSpec.headService.spec.ports[0].port"
        );
        assert_eq!(
            rayop_field(&head, "Service", "metadata.annotations"),
            "spec.headServiceAnnotations"
        );
    }

    #[test]
    fn an_hpa_bound_maps_to_the_groups_bound_and_anything_else_to_the_group() {
        let gpu = Origin::Group(1);
        assert_eq!(
            rayop_field(&gpu, "HorizontalPodAutoscaler", "spec.maxReplicas"),
            "spec.workerGroupSpecs[1].maxReplicas"
        );
        assert_eq!(
            rayop_field(&gpu, "HorizontalPodAutoscaler", "spec.metrics[0]"),
            "spec.workerGroupSpecs[1]"
        );
        assert_eq!(
            rayop_field(&gpu, "Service", "spec.clusterIP"),
            "spec.workerGroupSpecs[1]"
        );
    }

    #[test]
    fn a_server_side_apply_message_without_causes_is_read_for_its_path() {
        let error = invalid(
            "StatefulSet",
            "c-head",
            Vec::new(),
            "failed to create typed patch object (ns/c-head; apps/v1, Kind=StatefulSet): \
             .spec.template.spec.containers[name=\"ray-head\"].ports: duplicate entries for key \
             [containerPort=6379,protocol=\"TCP\"]",
        );
        let text = explain(Some(&desired()), &error).unwrap();
        assert!(
            text.starts_with(
                "spec.headGroupSpec.template.spec.containers[name=\"ray-head\"].ports (the API \
                 server refused StatefulSet c-head: failed to create typed patch object"
            ),
            "{text}"
        );
    }

    #[test]
    fn other_errors_and_unknown_objects_are_left_alone() {
        let conflict = ApplyError::Foreign {
            kind: "Service",
            name: "x".into(),
        };
        assert_eq!(explain(Some(&desired()), &conflict), None);
        let stranger = invalid("StatefulSet", "someone-else", Vec::new(), "is invalid");
        assert_eq!(explain(Some(&desired()), &stranger), None);
        let no_desired = invalid("StatefulSet", "c-gpu", Vec::new(), "is invalid");
        assert_eq!(explain(None, &no_desired), None);
    }

    #[test]
    fn an_invalid_object_without_a_path_names_its_origin() {
        let error = invalid("StatefulSet", "c-small", Vec::new(), "something is wrong");
        let text = explain(Some(&desired()), &error).unwrap();
        assert!(
            text.starts_with("spec.workerGroupSpecs[0] (the API server refused"),
            "{text}"
        );
    }

    #[test]
    fn explanations_are_bounded() {
        let long = "x".repeat(5000);
        let error = invalid("StatefulSet", "c-small", Vec::new(), &long);
        let text = explain(Some(&desired()), &error).unwrap();
        assert_eq!(text.chars().count(), MAX_MESSAGE);
    }
}
