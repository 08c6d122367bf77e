//! Drift: fields rayop sets on an object it owns that another writer has
//! changed since (`kubectl set image`, a rule added to a Role, a patched
//! Service selector).
//!
//! The API server's managed fields say who last set each field. When anyone
//! else changes a field rayop applied, the field leaves rayop's set and joins
//! the writer's. So a field has drifted when another manager's set holds a
//! path that the desired object sets and rayop's own set no longer holds.
//!
//! Invariants:
//! - Pure, and needs no copy of the live values: the API server has already
//!   compared them, so defaulting and normalisation never look like drift.
//! - A field another writer set to rayop's own value is shared, not taken,
//!   and is not drift; a forced re-apply takes back every field this reports,
//!   so reverting never loops.
//! - Entries of subresources never count: `status` is not rayop's, and
//!   `replicas` (the `scale` subresource) are compared on their own.
//! - Fields rayop does not set stay the other writer's, whatever they hold.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use serde_json::Value;

use super::api::FIELD_MANAGER;

/// Who holds which fields of one live object, as far as drift needs to know.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FieldOwners {
    /// rayop's own applied set, if it has one.
    own: Option<Value>,
    /// Every other writer's set, with its manager name.
    others: Vec<(String, Value)>,
}

/// One field rayop sets that another writer has taken over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drift {
    /// The field, as `spec.template.spec.containers[name=ray-head].image`.
    pub path: String,
    /// The field manager that changed it (`kubectl-set`, `kubectl-edit`, …).
    pub manager: String,
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (changed by {})", self.path, self.manager)
    }
}

fn is_subresource(entry: &ManagedFieldsEntry) -> bool {
    entry.subresource.as_deref().is_some_and(|s| !s.is_empty())
}

fn is_own(entry: &ManagedFieldsEntry) -> bool {
    entry.manager.as_deref() == Some(FIELD_MANAGER) && entry.operation.as_deref() == Some("Apply")
}

impl FieldOwners {
    /// What of `entries` matters for drift; `None` when no writer but rayop
    /// holds fields outside subresources, which is the steady state.
    #[must_use]
    pub fn of(entries: &[ManagedFieldsEntry]) -> Option<FieldOwners> {
        let mut owners = FieldOwners::default();
        for entry in entries.iter().filter(|e| !is_subresource(e)) {
            let Some(fields) = entry.fields_v1.as_ref() else {
                continue;
            };
            if is_own(entry) {
                owners.own = Some(fields.0.clone());
            } else {
                let manager = entry.manager.clone().unwrap_or_else(|| "unknown".into());
                owners.others.push((manager, fields.0.clone()));
            }
        }
        (!owners.others.is_empty()).then_some(owners)
    }

    /// Keeps in `entries` only what [`FieldOwners::of`] reads, or nothing
    /// in the steady state, so caches stay small.
    pub fn retain_evidence(entries: &mut Vec<ManagedFieldsEntry>) {
        let foreign = entries
            .iter()
            .any(|e| !is_subresource(e) && !is_own(e) && e.fields_v1.is_some());
        if foreign {
            entries.retain(|e| !is_subresource(e) && e.fields_v1.is_some());
        } else {
            entries.clear();
        }
    }

    /// The fields of `desired` (the object as rayop applies it, serialized)
    /// that another writer has taken over, in a stable order.
    #[must_use]
    pub fn drift(&self, desired: &Value) -> Vec<Drift> {
        let mut out = Vec::new();
        for (manager, fields) in &self.others {
            let mut path = String::new();
            walk(
                fields,
                desired,
                self.own.as_ref(),
                &mut path,
                manager,
                &mut out,
            );
        }
        out.sort_by(|a, b| (&a.path, &a.manager).cmp(&(&b.path, &b.manager)));
        out.dedup();
        out
    }
}

fn walk(
    theirs: &Value,
    desired: &Value,
    own: Option<&Value>,
    path: &mut String,
    manager: &str,
    out: &mut Vec<Drift>,
) {
    let Some(map) = theirs.as_object() else {
        return;
    };
    for (key, child) in map {
        // `.` is a list item's own presence; its fields are listed beside it.
        if key == "." {
            continue;
        }
        // Every set is an object of objects; anything else is not one.
        let Some(grandchildren) = child.as_object() else {
            continue;
        };
        let Some(next) = step(desired, key) else {
            continue;
        };
        let own_child = own.and_then(|o| o.get(key));
        let at = path.len();
        push_segment(path, key);
        if grandchildren.keys().all(|k| k == ".") {
            if own_child.is_none() {
                out.push(Drift {
                    path: path.clone(),
                    manager: manager.to_owned(),
                });
            }
        } else {
            walk(child, next, own_child, path, manager, out);
        }
        path.truncate(at);
    }
}

/// The part of `desired` that a managed-fields key names, if it sets it.
fn step<'a>(desired: &'a Value, key: &str) -> Option<&'a Value> {
    let found = if let Some(name) = key.strip_prefix("f:") {
        desired.as_object()?.get(name)
    } else if let Some(json) = key.strip_prefix("k:") {
        let wanted: serde_json::Map<String, Value> = serde_json::from_str(json).ok()?;
        desired.as_array()?.iter().find(|item| {
            // A key field the desired item leaves out is one the API
            // server defaults (a port's protocol): it does not tell apart.
            wanted
                .iter()
                .all(|(k, v)| item.get(k).is_none_or(|mine| mine == v))
                && wanted.keys().any(|k| item.get(k).is_some())
        })
    } else if let Some(json) = key.strip_prefix("v:") {
        let wanted: Value = serde_json::from_str(json).ok()?;
        desired.as_array()?.iter().find(|item| **item == wanted)
    } else if let Some(index) = key.strip_prefix("i:") {
        desired.as_array()?.get(index.parse::<usize>().ok()?)
    } else {
        None
    };
    found.filter(|v| !v.is_null())
}

fn push_segment(path: &mut String, key: &str) {
    if let Some(name) = key.strip_prefix("f:") {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(name);
    } else if let Some(json) = key.strip_prefix("k:") {
        let fields: Vec<String> = serde_json::from_str::<serde_json::Map<String, Value>>(json)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| match v {
                        Value::String(s) => format!("{k}={s}"),
                        other => format!("{k}={other}"),
                    })
                    .collect()
            })
            .unwrap_or_else(|_| vec![json.to_owned()]);
        path.push('[');
        path.push_str(&fields.join(","));
        path.push(']');
    } else {
        let inner = key.get(2..).unwrap_or(key);
        path.push('[');
        path.push_str(inner);
        path.push(']');
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::FieldsV1;
    use serde_json::json;

    use super::*;

    fn entry(
        manager: &str,
        operation: &str,
        subresource: Option<&str>,
        fields: Value,
    ) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            manager: Some(manager.into()),
            operation: Some(operation.into()),
            subresource: subresource.map(Into::into),
            fields_v1: Some(FieldsV1(fields)),
            fields_type: Some("FieldsV1".into()),
            ..ManagedFieldsEntry::default()
        }
    }

    fn statefulset() -> Value {
        json!({
            "metadata": {"labels": {"ray.io/cluster": "c"}},
            "spec": {
                "replicas": 2,
                "template": {"spec": {"containers": [
                    {"name": "ray-worker", "image": "rayproject/ray:2.46.0",
                     "ports": [{"containerPort": 8080, "name": "metrics"}]}
                ]}}
            }
        })
    }

    fn own_all() -> Value {
        json!({
            "f:metadata": {"f:labels": {"f:ray.io/cluster": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"ray-worker\"}": {
                        ".": {}, "f:name": {}, "f:image": {},
                        "f:ports": {"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}, "f:name": {}}}
                    }
                }}}
            }
        })
    }

    #[test]
    fn only_rayop_and_subresources_is_the_steady_state() {
        let entries = [
            entry("rayop", "Apply", None, own_all()),
            entry(
                "kube-controller-manager",
                "Update",
                Some("status"),
                json!({"f:status": {}}),
            ),
            entry(
                "kube-controller-manager",
                "Update",
                Some("scale"),
                json!({"f:spec": {"f:replicas": {}}}),
            ),
        ];
        assert_eq!(FieldOwners::of(&entries), None);
        let mut kept = entries.to_vec();
        FieldOwners::retain_evidence(&mut kept);
        assert!(kept.is_empty());
    }

    #[test]
    fn a_taken_image_is_drift_naming_the_container_and_the_writer() {
        let mut own = own_all();
        let container = &mut own["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"ray-worker\"}"];
        container.as_object_mut().unwrap().remove("f:image");
        let theirs = json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
            "k:{\"name\":\"ray-worker\"}": {"f:image": {}}
        }}}}});
        let mut entries = vec![
            entry("rayop", "Apply", None, own),
            entry("kubectl-set", "Update", None, theirs),
        ];
        FieldOwners::retain_evidence(&mut entries);
        assert_eq!(entries.len(), 2);
        let owners = FieldOwners::of(&entries).unwrap();
        let drift = owners.drift(&statefulset());
        assert_eq!(
            drift,
            [Drift {
                path: "spec.template.spec.containers[name=ray-worker].image".into(),
                manager: "kubectl-set".into(),
            }]
        );
        assert_eq!(
            drift[0].to_string(),
            "spec.template.spec.containers[name=ray-worker].image (changed by kubectl-set)"
        );
    }

    #[test]
    fn a_field_shared_at_rayops_value_is_not_drift() {
        let theirs = json!({"f:spec": {"f:replicas": {}}});
        let entries = [
            entry("rayop", "Apply", None, own_all()),
            entry("other", "Apply", None, theirs),
        ];
        let owners = FieldOwners::of(&entries).unwrap();
        assert!(owners.drift(&statefulset()).is_empty());
    }

    #[test]
    fn fields_rayop_does_not_set_stay_the_writers() {
        let theirs = json!({
            "f:metadata": {"f:annotations": {"f:deployment.kubernetes.io/revision": {}}},
            "f:spec": {"f:template": {"f:metadata": {"f:annotations": {"f:kubectl.kubernetes.io/restartedAt": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"sidecar\"}": {".": {}, "f:image": {}}}}}}
        });
        let entries = [
            entry("rayop", "Apply", None, own_all()),
            entry("kubectl", "Update", None, theirs),
        ];
        let owners = FieldOwners::of(&entries).unwrap();
        assert!(owners.drift(&statefulset()).is_empty());
    }

    #[test]
    fn an_atomic_list_taken_whole_is_one_drift() {
        let role = json!({"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]});
        let own = json!({"f:metadata": {}});
        let theirs = json!({"f:rules": {}});
        let entries = [
            entry("rayop", "Apply", None, own),
            entry("kubectl-edit", "Update", None, theirs),
        ];
        let drift = FieldOwners::of(&entries).unwrap().drift(&role);
        assert_eq!(drift.len(), 1);
        assert_eq!(drift[0].path, "rules");
    }

    #[test]
    fn a_port_keyed_with_a_defaulted_protocol_still_matches() {
        let theirs = json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
            "k:{\"name\":\"ray-worker\"}": {"f:ports": {
                "k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {"f:name": {}}
            }}
        }}}}});
        let own = json!({});
        let entries = [
            entry("rayop", "Apply", None, own),
            entry("kubectl-patch", "Update", None, theirs),
        ];
        let drift = FieldOwners::of(&entries).unwrap().drift(&statefulset());
        assert_eq!(
            drift[0].path,
            "spec.template.spec.containers[name=ray-worker].ports[containerPort=8080,protocol=TCP].name"
        );
    }

    #[test]
    fn malformed_keys_are_ignored_not_fatal() {
        let theirs = json!({"k:not json": {}, "x:what": {}, "f:spec": "not an object", "i:zz": {}});
        let entries = [entry("other", "Update", None, theirs)];
        assert!(
            FieldOwners::of(&entries)
                .unwrap()
                .drift(&statefulset())
                .is_empty()
        );
    }
}
