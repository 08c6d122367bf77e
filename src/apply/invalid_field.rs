//! Maps the API server's refusal of an object rayop built back to the
//! RayCluster field the user writes.
//!
//! A 422 Invalid (or a 400 from server-side apply) names fields of the
//! StatefulSet, Deployment, Service, HPA, NetworkPolicy (mapped to
//! `spec.networkPolicy`) or Ingress (to `ingressOptions`, or the
//! RayCluster's annotations), which the user never wrote:
//! `spec.template.spec.containers[0].ports[1].containerPort` of worker group
//! `gpu`'s StatefulSet is `spec.workerGroupSpecs[1].template.spec.containers[0].ports[1].containerPort`
//! of the RayCluster. The API server's own text is kept as detail.
//!
//! A list index in the built pod template is not the user's: rayop adds
//! env vars, ports, volumes and containers. Each `[i]` is therefore
//! resolved through the element itself: the user's element of the same
//! `name` (or, unnamed, the equal one) gives the user's index; an element
//! rayop added ends the path at its list, and such a cause is left out when
//! another cause names a field the user wrote.
//!
//! Invariants: pure; a field that has no counterpart in the RayCluster maps
//! to the group (or head) spec that produced the object, never to nothing;
//! the sentence is bounded ([`MAX_MESSAGE`] characters).

use k8s_openapi::api::core::v1::PodTemplateSpec;
use kube::core::Status;
use serde_json::Value;

use super::ApplyError;
use crate::{
    crd::RayClusterSpec,
    desired::{DesiredObjects, Kind, Object},
};

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

/// The pod templates a workload path is resolved through: the one rayop
/// built and the one the user wrote (`None`: the user wrote none).
#[derive(Clone, Copy, Debug, Default)]
pub struct Templates<'a> {
    /// The template of the built workload.
    pub built: Option<&'a PodTemplateSpec>,
    /// The template in the RayCluster.
    pub user: Option<&'a PodTemplateSpec>,
}

/// A RayCluster field, and whether the user wrote all of it (`false`: the
/// path stops where rayop's own additions begin).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapped {
    /// The RayCluster path.
    pub field: String,
    /// Whether every step of the path is in what the user wrote.
    pub written: bool,
}

/// The RayCluster field behind `field` (a path into an object of `kind`,
/// with or without a leading dot) of an object built from `origin`, with
/// no templates to resolve list indices through.
#[must_use]
pub fn rayop_field(origin: &Origin, kind: &str, field: &str) -> String {
    map_field(origin, kind, field, Templates::default()).field
}

/// [`rayop_field`], resolving list indices of a workload's template through `templates`.
#[must_use]
pub fn map_field(origin: &Origin, kind: &str, field: &str, templates: Templates<'_>) -> Mapped {
    let prefix = origin.prefix();
    let field = field.trim_start_matches('.');
    let workload = kind == Kind::StatefulSet.as_str() || kind == Kind::Deployment.as_str();
    let plain = |field: String| Mapped {
        field,
        written: true,
    };
    if workload {
        if let Some(rest) = field.strip_prefix("spec.template") {
            return match (templates.built, templates.user) {
                (Some(built), Some(user)) => {
                    let (path, written) = resolve(rest, built, user);
                    Mapped {
                        field: format!("{prefix}.template{path}"),
                        written,
                    }
                }
                (Some(_), None) => Mapped {
                    field: format!("{prefix}.template"),
                    written: false,
                },
                _ => plain(format!("{prefix}.template{rest}")),
            };
        }
        if field == "spec.replicas" && matches!(origin, Origin::Group(_)) {
            return plain(format!("{prefix}.replicas"));
        }
    }
    if kind == Kind::Service.as_str() && *origin == Origin::Head {
        if field == "spec.type" {
            return plain(format!("{prefix}.serviceType"));
        }
        if field.starts_with("metadata.annotations") {
            return plain("spec.headServiceAnnotations".to_owned());
        }
        if field.starts_with("spec.") || field.starts_with("metadata.") {
            return plain(format!("{prefix}.headService.{field}"));
        }
    }
    if kind == Kind::NetworkPolicy.as_str() {
        return plain("spec.networkPolicy".to_owned());
    }
    if kind == Kind::Ingress.as_str() {
        return plain(if field.starts_with("metadata.annotations") {
            "metadata.annotations".to_owned()
        } else {
            format!("{prefix}.ingressOptions")
        });
    }
    if kind == Kind::HorizontalPodAutoscaler.as_str() {
        match field {
            "spec.minReplicas" => return plain(format!("{prefix}.minReplicas")),
            "spec.maxReplicas" => return plain(format!("{prefix}.maxReplicas")),
            _ => {}
        }
    }
    Mapped {
        field: prefix,
        written: false,
    }
}

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment<'a> {
    /// `.name`
    Key(&'a str),
    /// `[3]`
    Index(usize),
    /// `[name="x"]` and other selectors, kept as written.
    Select(&'a str),
}

fn segments(path: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            rest = after;
            continue;
        }
        if let Some(inner) = rest.strip_prefix('[') {
            let Some(close) = inner.find(']') else {
                out.push(Segment::Key(rest));
                break;
            };
            let body = &inner[..close];
            out.push(match body.parse() {
                Ok(i) => Segment::Index(i),
                Err(_) => Segment::Select(body),
            });
            rest = &inner[close + 1..];
            continue;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        out.push(Segment::Key(&rest[..end]));
        rest = &rest[end..];
    }
    out
}

/// Walks `path` (below `spec.template`) through the built and the user's
/// template; returns the user's path and whether it is all the user's.
fn resolve(path: &str, built: &PodTemplateSpec, user: &PodTemplateSpec) -> (String, bool) {
    let built = serde_json::to_value(built).unwrap_or(Value::Null);
    let user = serde_json::to_value(user).unwrap_or(Value::Null);
    let (mut built, mut user) = (&built, &user);
    let mut out = String::new();
    for segment in segments(path) {
        match segment {
            Segment::Key(key) => {
                out.push('.');
                out.push_str(key);
                built = built.get(key).unwrap_or(&Value::Null);
                user = user.get(key).unwrap_or(&Value::Null);
            }
            Segment::Index(i) => {
                let element = built.get(i).unwrap_or(&Value::Null);
                let Some(j) = user_index(element, user) else {
                    return (out, false);
                };
                out.push_str(&format!("[{j}]"));
                built = element;
                user = user.get(j).unwrap_or(&Value::Null);
            }
            Segment::Select(selector) => {
                let Some(name) = selector.strip_prefix("name=").map(|n| n.trim_matches('"')) else {
                    // Keyed by something other than a name: kept as written,
                    // and the walk ends there.
                    out.push_str(&format!("[{selector}]"));
                    return (out, true);
                };
                let (Some(b), Some(u)) = (named(built, name), named(user, name)) else {
                    return (out, false);
                };
                out.push_str(&format!("[{selector}]"));
                built = b;
                user = u;
            }
        }
    }
    (out, true)
}

/// The element of `list` whose `name` is `name`.
fn named<'v>(list: &'v Value, name: &str) -> Option<&'v Value> {
    list.as_array()?
        .iter()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
}

/// The position in the user's list of the element the built list has:
/// the one of the same `name`, or else an equal one.
fn user_index(element: &Value, user: &Value) -> Option<usize> {
    let list = user.as_array()?;
    match element.get("name").and_then(Value::as_str) {
        Some(name) => list
            .iter()
            .position(|e| e.get("name").and_then(Value::as_str) == Some(name)),
        None => list.iter().position(|e| e == element),
    }
}

/// The template of a built workload.
fn built_template(object: &Object) -> Option<&PodTemplateSpec> {
    match object {
        Object::StatefulSet(s) => s.spec.as_ref().map(|s| &s.template),
        Object::Deployment(d) => d.spec.as_ref().map(|s| &s.template),
        _ => None,
    }
}

/// The template the user wrote for `origin`.
fn user_template<'a>(spec: &'a RayClusterSpec, origin: &Origin) -> Option<&'a PodTemplateSpec> {
    match origin {
        Origin::Head => spec.head_group_spec.as_ref()?.template.as_ref(),
        Origin::Group(i) => spec.worker_group_specs.get(*i)?.template.as_ref(),
    }
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
/// server refusing an object of `desired` as invalid. `spec`, the
/// RayCluster's, resolves list indices of pod templates.
#[must_use]
pub fn explain(
    desired: Option<&DesiredObjects>,
    spec: Option<&RayClusterSpec>,
    error: &ApplyError,
) -> Option<String> {
    let ApplyError::Api(api) = error else {
        return None;
    };
    let kube::Error::Api(status) = &api.source else {
        return None;
    };
    if status.code != 422 && status.code != 400 {
        return None;
    }
    let desired = desired?;
    let origin = origin_of(desired, api.kind, &api.name)?;
    let set = match origin {
        Origin::Head => Some(&desired.head),
        Origin::Group(i) => desired.groups.get(i).map(|(_, set)| set),
    };
    let templates = Templates {
        built: set
            .and_then(|s| s.workload())
            .filter(|w| w.key().name == api.name)
            .and_then(built_template),
        user: spec.and_then(|s| user_template(s, &origin)),
    };
    let mapped: Vec<(Mapped, String)> = causes(status)
        .into_iter()
        .map(|(field, why)| (map_field(&origin, api.kind, &field, templates), why))
        .collect();
    let any_written = mapped.iter().any(|(m, _)| m.written);
    let mut fields: Vec<String> = mapped
        .into_iter()
        .filter(|(m, _)| m.written || !any_written)
        .map(|(m, why)| {
            if why.is_empty() {
                m.field
            } else {
                format!("{}: {why}", m.field)
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
    rayop_machines::bounded(text, MAX_MESSAGE)
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
            gcs_claim: None,
            cleanup_job: None,
            pki: None,
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
        let text = explain(Some(&desired()), None, &error).unwrap();
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
    fn network_policies_and_the_ingress_map_to_their_fields() {
        assert_eq!(
            rayop_field(
                &Origin::Group(0),
                "NetworkPolicy",
                "spec.egress[1].to[0].ipBlock.cidr"
            ),
            "spec.networkPolicy"
        );
        assert_eq!(
            rayop_field(&Origin::Head, "Ingress", "spec.rules[0].host"),
            "spec.headGroupSpec.ingressOptions"
        );
        assert_eq!(
            rayop_field(&Origin::Head, "Ingress", "metadata.annotations"),
            "metadata.annotations"
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
        let text = explain(Some(&desired()), None, &error).unwrap();
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
        assert_eq!(explain(Some(&desired()), None, &conflict), None);
        let stranger = invalid("StatefulSet", "someone-else", Vec::new(), "is invalid");
        assert_eq!(explain(Some(&desired()), None, &stranger), None);
        let no_desired = invalid("StatefulSet", "c-gpu", Vec::new(), "is invalid");
        assert_eq!(explain(None, None, &no_desired), None);
    }

    #[test]
    fn an_invalid_object_without_a_path_names_its_origin() {
        let error = invalid("StatefulSet", "c-small", Vec::new(), "something is wrong");
        let text = explain(Some(&desired()), None, &error).unwrap();
        assert!(
            text.starts_with("spec.workerGroupSpecs[0] (the API server refused"),
            "{text}"
        );
    }

    #[test]
    fn explanations_are_bounded() {
        let long = "x".repeat(5000);
        let error = invalid("StatefulSet", "c-small", Vec::new(), &long);
        let text = explain(Some(&desired()), None, &error).unwrap();
        assert_eq!(text.chars().count(), MAX_MESSAGE);
    }

    fn template(json: serde_json::Value) -> PodTemplateSpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn an_index_into_a_list_rayop_extended_is_the_users_index() {
        let built = template(serde_json::json!({"spec": {"containers": [{
            "name": "ray-worker",
            "env": [{"name": "RAY_CLUSTER_NAME", "value": "c"}, {"name": "BROKEN", "valueFrom": {}}],
        }], "initContainers": [{
            "name": "wait-gcs-ready",
            "env": [{"name": "BROKEN", "valueFrom": {}}],
        }]}}));
        let user = template(serde_json::json!({"spec": {"containers": [{
            "name": "ray-worker",
            "env": [{"name": "BROKEN", "valueFrom": {}}],
        }]}}));
        let templates = Templates {
            built: Some(&built),
            user: Some(&user),
        };
        let gpu = Origin::Group(1);
        assert_eq!(
            map_field(
                &gpu,
                "StatefulSet",
                "spec.template.spec.containers[0].env[1].valueFrom",
                templates
            ),
            Mapped {
                field: "spec.workerGroupSpecs[1].template.spec.containers[0].env[0].valueFrom"
                    .into(),
                written: true,
            }
        );
        // A container rayop added stops the path at its list.
        assert_eq!(
            map_field(
                &gpu,
                "StatefulSet",
                "spec.template.spec.initContainers[0].env[0].valueFrom",
                templates
            ),
            Mapped {
                field: "spec.workerGroupSpecs[1].template.spec.initContainers".into(),
                written: false,
            }
        );
        // Server-side apply's selectors resolve by name alike.
        assert_eq!(
            map_field(
                &gpu,
                "StatefulSet",
                ".spec.template.spec.containers[name=\"ray-worker\"].env",
                templates
            )
            .field,
            "spec.workerGroupSpecs[1].template.spec.containers[name=\"ray-worker\"].env"
        );
        // A default template, which the user never wrote: the template itself.
        let defaulted = Templates {
            built: Some(&built),
            user: None,
        };
        assert_eq!(
            map_field(
                &gpu,
                "StatefulSet",
                "spec.template.spec.containers[0].image",
                defaulted
            )
            .field,
            "spec.workerGroupSpecs[1].template"
        );
    }

    #[test]
    fn causes_in_what_rayop_added_give_way_to_those_the_user_wrote() {
        let mut spec = RayClusterSpec::default();
        let user = template(serde_json::json!({"spec": {"containers": [{
            "name": "ray-worker",
            "env": [{"name": "BROKEN", "valueFrom": {}}],
        }]}}));
        spec.worker_group_specs = vec![
            crate::crd::test_builders::group("small"),
            crate::crd::test_builders::group("gpu"),
        ];
        spec.worker_group_specs[1].template = Some(user);
        let mut desired = desired();
        let mut sts = named::<StatefulSet>("c-gpu");
        sts.spec = Some(k8s_openapi::api::apps::v1::StatefulSetSpec {
            template: template(serde_json::json!({"spec": {"containers": [{
                "name": "ray-worker",
                "env": [{"name": "RAY_ADDRESS", "value": "x"}, {"name": "BROKEN", "valueFrom": {}}],
            }], "initContainers": [{
                "name": "wait-gcs-ready",
                "env": [{"name": "BROKEN", "valueFrom": {}}],
            }]}})),
            ..Default::default()
        });
        desired.groups[1].1 = ObjectSet::stamped(vec![Object::StatefulSet(sts)]);
        let error = invalid(
            "StatefulSet",
            "c-gpu",
            vec![
                (
                    "spec.template.spec.containers[0].env[1].valueFrom",
                    "Invalid value: \"\"",
                ),
                (
                    "spec.template.spec.initContainers[0].env[0].valueFrom",
                    "Invalid value: \"\"",
                ),
            ],
            "StatefulSet.apps \"c-gpu\" is invalid",
        );
        let text = explain(Some(&desired), Some(&spec), &error).unwrap();
        assert!(
            text.starts_with(
                "spec.workerGroupSpecs[1].template.spec.containers[0].env[0].valueFrom: Invalid \
                 value: \"\" (the API server refused"
            ),
            "{text}"
        );
    }
}
