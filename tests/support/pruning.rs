//! The pruning check of the manifest tests: did the API server store every
//! value a manifest set?
//!
//! Invariant: defaults the API server adds are never reported; a missing
//! field or a changed value is, with its JSON path. Numbers compare by value
//! (`2` and `2.0` are the same). A submitted `null` (a bare `key:` in YAML)
//! sets nothing, so it may come back as `null` or not at all.

use serde_json::Value;

/// Where a fixture's submitted value is not what the API server stored.
pub fn pruned(path: &str, submitted: &Value, stored: Option<&Value>, out: &mut Vec<String>) {
    if submitted.is_null() && stored.is_none_or(Value::is_null) {
        return;
    }
    let Some(stored) = stored else {
        out.push(format!("{path}: missing"));
        return;
    };
    match (submitted, stored) {
        (Value::Object(want), Value::Object(have)) => {
            for (key, value) in want {
                pruned(&format!("{path}.{key}"), value, have.get(key), out);
            }
        }
        (Value::Array(want), Value::Array(have)) if want.len() == have.len() => {
            for (i, (w, h)) in want.iter().zip(have).enumerate() {
                pruned(&format!("{path}[{i}]"), w, Some(h), out);
            }
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        (want, have) if want == have => {}
        (want, have) => out.push(format!("{path}: submitted {want}, stored {have}")),
    }
}

/// Where a stored object lost or changed what the submitted manifest set
/// under `spec`, `metadata.labels` and `metadata.annotations`.
pub fn object_pruned(submitted: &Value, stored: &Value) -> Vec<String> {
    let mut out = Vec::new();
    pruned("spec", &submitted["spec"], stored.get("spec"), &mut out);
    for field in ["labels", "annotations"] {
        if let Some(want) = submitted["metadata"].get(field) {
            pruned(
                &format!("metadata.{field}"),
                want,
                stored["metadata"].get(field),
                &mut out,
            );
        }
    }
    out
}
