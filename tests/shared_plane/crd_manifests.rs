//! Real manifests against the RayCluster API: the seed, KubeRay-style
//! manifests, and invalid manifests that the API server must refuse.
//!
//! The invalid fixtures under `tests/fixtures/invalid/` each start with
//! `# expect: <substring of the API server's message>` and
//! `# field: <the field it names>`; the message must name the field first. Here they are checked
//! offline, as the API server would: schema defaults applied, then the OpenAPI
//! keywords rayop's schema uses (a small checker below that words its messages
//! as the API server does), then the CEL rules with kube's client-side CEL
//! evaluator. Each must also fail rayop's own `validate`.

// Test helpers outside #[test] functions unwrap and panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use crate::support::fixtures::{header, yaml_files};
use kube::core::cel::{Validator, apply_defaults};
use rayop::crd::{
    RayCluster, WorkloadKind, effective_head_service_type, effective_head_template,
    effective_worker_template, head::ServiceType, v1alpha1, validate,
};
use serde::Deserialize;
use serde_json::Value;

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// The non-empty YAML documents of a file, as JSON values.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|doc| !doc.is_null())
        .collect()
}

fn only_document(path: &Path) -> Value {
    let mut docs = documents(path);
    assert_eq!(docs.len(), 1, "{} should hold one manifest", path.display());
    docs.remove(0)
}

/// The openAPIV3Schema of the served `version`.
fn schema(version: &str) -> Value {
    let crd = rayop::crd::crd().unwrap();
    let version = crd
        .spec
        .versions
        .into_iter()
        .find(|v| v.name == version)
        .unwrap();
    serde_json::to_value(version.schema.unwrap().open_api_v3_schema.unwrap()).unwrap()
}

fn version_of(manifest: &Value) -> &str {
    manifest["apiVersion"]
        .as_str()
        .and_then(|v| v.strip_prefix("ray.io/"))
        .unwrap()
}

/// The object the API server stores for `manifest`: schema defaults applied,
/// including defaults inside defaulted values (the API server recurses into
/// what it just defaulted; kube's helper does one level per pass).
fn stored(schema: &Value, manifest: &Value) -> Value {
    let mut current = manifest.clone();
    loop {
        let next = apply_defaults(schema, &current);
        if next == current {
            return current;
        }
        current = next;
    }
}

/// What the API server would answer for `manifest`: OpenAPI then CEL messages.
fn server_errors(manifest: &Value) -> Vec<String> {
    let schema = schema(version_of(manifest));
    let defaulted = stored(&schema, manifest);
    let mut errors = Vec::new();
    openapi_errors(&schema, &defaulted, "", &mut errors);
    if let Err(cel) = Validator::new().validate(&schema, &defaulted, None) {
        errors.extend(cel.iter().map(ToString::to_string));
    }
    errors
}

fn number(value: &Value) -> String {
    match value.as_f64() {
        Some(n) if n.fract() == 0.0 => format!("{}", n as i64),
        _ => value.to_string(),
    }
}

/// The OpenAPI keywords rayop's schema uses, with the API server's wording.
fn openapi_errors(schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    if value.is_null() {
        if schema["nullable"] != Value::Bool(true) {
            out.push(format!("{path}: Invalid value: \"null\""));
        }
        return;
    }
    let preserve = schema["x-kubernetes-preserve-unknown-fields"] == Value::Bool(true);
    match schema["type"].as_str() {
        Some("object") => {
            let Some(object) = value.as_object() else {
                out.push(format!(
                    "{path}: Invalid value: {path} in body must be of type object"
                ));
                return;
            };
            for required in schema["required"].as_array().into_iter().flatten() {
                let key = required.as_str().unwrap();
                if !object.contains_key(key) {
                    out.push(format!("{path}.{key}: Required value"));
                }
            }
            for (key, child) in object {
                if path.is_empty() && ["apiVersion", "kind", "metadata"].contains(&key.as_str()) {
                    continue;
                }
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if let Some(property) = schema["properties"].get(key) {
                    openapi_errors(property, child, &child_path, out);
                } else if schema["additionalProperties"].is_object() {
                    openapi_errors(&schema["additionalProperties"], child, &child_path, out);
                } else if !preserve {
                    out.push(format!("unknown field \"{child_path}\""));
                }
            }
        }
        Some("array") => {
            let Some(items) = value.as_array() else {
                out.push(format!(
                    "{path}: Invalid value: {path} in body must be of type array"
                ));
                return;
            };
            if let Some(max) = schema["maxItems"].as_u64()
                && items.len() as u64 > max
            {
                out.push(format!(
                    "{path}: Too many: {}: must have at most {max} items",
                    items.len()
                ));
            }
            if schema["x-kubernetes-list-type"] == "map" {
                // Server-side apply refuses two items with the same key.
                let keys: Vec<&str> = schema["x-kubernetes-list-map-keys"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let mut seen = std::collections::BTreeSet::new();
                for item in items {
                    let key = keys
                        .iter()
                        .map(|k| format!("{k}={}", item[*k]))
                        .collect::<Vec<_>>()
                        .join(",");
                    if !seen.insert(key.clone()) {
                        out.push(format!("{path}: duplicate entries for key [{key}]"));
                    }
                }
            }
            for (i, item) in items.iter().enumerate() {
                openapi_errors(&schema["items"], item, &format!("{path}[{i}]"), out);
            }
        }
        Some("string") => {
            let Some(text) = value.as_str() else {
                out.push(format!(
                    "{path}: Invalid value: {path} in body must be of type string"
                ));
                return;
            };
            if let Some(max) = schema["maxLength"].as_u64()
                && text.len() as u64 > max
            {
                out.push(format!(
                    "{path}: Too long: may not be more than {max} bytes"
                ));
            }
            if let Some(min) = schema["minLength"].as_u64()
                && (text.len() as u64) < min
            {
                out.push(format!(
                    "{path}: Invalid value: {path} in body should be at least {min} chars long"
                ));
            }
            if let Some(pattern) = schema["pattern"].as_str()
                && !regex::Regex::new(pattern).unwrap().is_match(text)
            {
                out.push(format!(
                    "{path}: Invalid value: {value}: {path} in body should match '{pattern}'"
                ));
            }
            if let Some(allowed) = schema["enum"].as_array()
                && !allowed.contains(value)
            {
                out.push(format!("{path}: Unsupported value: {value}"));
            }
        }
        Some(kind @ ("integer" | "number")) => {
            let ok = if kind == "integer" {
                value.is_i64()
            } else {
                value.is_number()
            };
            if !ok {
                out.push(format!(
                    "{path}: Invalid value: {path} in body must be of type {kind}"
                ));
                return;
            }
            let n = value.as_f64().unwrap();
            if let Some(min) = schema["minimum"].as_f64()
                && n < min
            {
                out.push(format!(
                    "{path}: Invalid value: {value}: {path} in body should be greater than or equal to {}",
                    number(&schema["minimum"])
                ));
            }
            if let Some(max) = schema["maximum"].as_f64()
                && n > max
            {
                out.push(format!(
                    "{path}: Invalid value: {value}: {path} in body should be less than or equal to {}",
                    number(&schema["maximum"])
                ));
            }
        }
        Some("boolean") if !value.is_boolean() => {
            out.push(format!(
                "{path}: Invalid value: {path} in body must be of type boolean"
            ));
        }
        _ => {} // int-or-string and preserved objects accept anything here
    }
}

/// Whether `message` names `field` and says `expect` after it.
fn names_field(message: &str, field: &str, expect: &str) -> bool {
    message
        .match_indices(field)
        .any(|(at, _)| message[at..].contains(expect))
}

/// Deserializes a manifest as v1, whatever its apiVersion (the two are identical).
fn as_v1(manifest: &Value) -> RayCluster {
    match version_of(manifest) {
        "v1" => serde_json::from_value(manifest.clone()).unwrap(),
        "v1alpha1" => serde_json::from_value::<v1alpha1::RayCluster>(manifest.clone())
            .unwrap()
            .into(),
        other => panic!("unexpected version {other}"),
    }
}

#[test]
fn the_seed_is_v1alpha1_and_equals_its_v1_form() {
    let seed = only_document(&fixture("seed-raycluster.yaml"));
    assert_eq!(seed["apiVersion"], "ray.io/v1alpha1");
    let alpha: v1alpha1::RayCluster = serde_json::from_value(seed.clone()).unwrap();
    let direct: RayCluster = serde_json::from_value(seed.clone()).unwrap();
    let converted = RayCluster::from(alpha.clone());
    assert_eq!(converted, direct);
    assert_eq!(v1alpha1::RayCluster::from(converted.clone()), alpha);

    // Only apiVersion differs between the two serialized forms.
    let mut v1_json = serde_json::to_value(&converted).unwrap();
    let alpha_json = serde_json::to_value(&alpha).unwrap();
    assert_eq!(v1_json["apiVersion"], "ray.io/v1");
    assert_eq!(alpha_json["apiVersion"], "ray.io/v1alpha1");
    v1_json["apiVersion"] = alpha_json["apiVersion"].clone();
    assert_eq!(v1_json, alpha_json);
}

#[test]
fn the_seed_is_valid_and_fully_defaulted() {
    let seed = only_document(&fixture("seed-raycluster.yaml"));
    assert_eq!(server_errors(&seed), Vec::<String>::new());
    let cluster = as_v1(&seed);
    assert_eq!(validate(&cluster), Ok(()));

    let spec = &cluster.spec;
    assert_eq!(spec.ray_version, "2.6.0");
    assert!(spec.autoscaling_enabled());
    assert_eq!(effective_head_service_type(spec), ServiceType::ClusterIP);
    let group = &spec.worker_group_specs[0];
    assert_eq!(group.group_name, "small-worker");
    assert_eq!(
        (group.replicas, group.min_replicas, group.max_replicas),
        (2, 1, 3)
    );
    assert_eq!(group.num_of_hosts, 1);
    assert_eq!(
        spec.effective_workload_kind(group),
        WorkloadKind::Deployment
    );

    let head = effective_head_template(spec);
    let head_container = &head.spec.as_ref().unwrap().containers[0];
    assert_eq!(head_container.name, "ray-head");
    assert_eq!(
        head_container.image.as_deref(),
        Some("rayproject/ray:2.6.0")
    );
    let worker = effective_worker_template(spec, group);
    let worker_container = &worker.spec.as_ref().unwrap().containers[0];
    assert_eq!(worker_container.name, "ray-worker");
    assert_eq!(
        worker_container.image.as_deref(),
        Some("rayproject/ray:2.6.0")
    );
}

#[test]
fn the_api_server_stores_defaults_the_autoscaler_can_read() {
    // The Ray autoscaler reads headGroupSpec and each group's template and
    // rayStartParams from the stored object; schema defaults put them there.
    let seed = only_document(&fixture("seed-raycluster.yaml"));
    let stored = stored(&schema("v1alpha1"), &seed);
    let head = &stored["spec"]["headGroupSpec"];
    assert_eq!(head["rayStartParams"], serde_json::json!({}));
    assert_eq!(
        head["template"]["spec"]["containers"][0]["name"],
        "ray-head"
    );
    let group = &stored["spec"]["workerGroupSpecs"][0];
    assert_eq!(group["numOfHosts"], 1);
    assert_eq!(
        group["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"],
        "1"
    );
    // What the API server stores reads back as the same effective templates.
    let stored_cluster = as_v1(&stored);
    let cluster = as_v1(&seed);
    assert_eq!(
        effective_head_template(&stored_cluster.spec),
        effective_head_template(&cluster.spec)
    );
    assert_eq!(
        effective_worker_template(
            &stored_cluster.spec,
            &stored_cluster.spec.worker_group_specs[0]
        ),
        effective_worker_template(&cluster.spec, &cluster.spec.worker_group_specs[0])
    );
}

#[test]
fn kuberay_manifests_deserialize_and_validate() {
    let files = yaml_files("tests/fixtures/kuberay").unwrap();
    assert!(files.len() >= 3);
    for path in files {
        let manifest = only_document(&path);
        assert_eq!(
            server_errors(&manifest),
            Vec::<String>::new(),
            "{}",
            path.display()
        );
        let cluster = as_v1(&manifest);
        assert_eq!(validate(&cluster), Ok(()), "{}", path.display());
        // Nothing the types model is lost on the way through them.
        let round_trip: RayCluster =
            serde_json::from_value(serde_json::to_value(&cluster).unwrap()).unwrap();
        assert_eq!(round_trip, cluster, "{}", path.display());
    }
}

#[test]
fn kuberay_manifest_details_survive() {
    let complete = as_v1(&only_document(&fixture("kuberay/complete.yaml")));
    let spec = &complete.spec;
    let head = spec.head_group_spec.as_ref().unwrap();
    assert_eq!(head.ray_start_params["num-cpus"], "0");
    assert!(head.head_service.is_some());
    assert_eq!(spec.worker_group_specs.len(), 2);
    assert_eq!(
        spec.effective_workload_kind(&spec.worker_group_specs[0]),
        WorkloadKind::StatefulSet
    );
    let gpu = &spec.worker_group_specs[1];
    let template = effective_worker_template(spec, gpu);
    assert_eq!(
        template.spec.unwrap().containers[0].image.as_deref(),
        Some("rayproject/ray-ml:2.46.0-gpu")
    );

    let autoscaler = as_v1(&only_document(&fixture("kuberay/autoscaler.yaml")));
    let options = autoscaler.spec.autoscaler_options.as_ref().unwrap();
    assert_eq!(options.effective_idle_timeout_seconds(), 120);
    assert_eq!(options.effective_upscaling_speed(), 1.0);
    assert_eq!(autoscaler.spec.worker_group_specs[1].num_of_hosts, 4);

    let gcs = as_v1(&only_document(&fixture("kuberay/gcs-fault-tolerance.yaml")));
    assert!(gcs.spec.gcs_fault_tolerant());
    assert_eq!(gcs.spec.worker_group_specs[0].clamped_replicas(), 0);
}

#[test]
fn unknown_kuberay_fields_do_not_break_deserialization() {
    let mut manifest = only_document(&fixture("kuberay/complete.yaml"));
    manifest["spec"]["upgradeStrategy"] = serde_json::json!({"type": "Recreate"});
    manifest["spec"]["workerGroupSpecs"][0]["labels"] = serde_json::json!({"zone": "a"});
    let cluster = as_v1(&manifest);
    assert_eq!(cluster.spec.worker_group_specs[0].group_name, "cpu-workers");
}

#[test]
fn invalid_manifests_are_refused_with_the_expected_message() {
    let files = yaml_files("tests/fixtures/invalid").unwrap();
    assert!(files.len() >= 5);
    for path in files {
        let expect = header(&path, "# expect: ").unwrap();
        let field = header(&path, "# field: ").unwrap();
        let manifest = only_document(&path);
        let errors = server_errors(&manifest);
        assert!(
            errors.iter().any(|e| names_field(e, &field, &expect)),
            "{}: expected a message naming {field:?} and containing {expect:?}, got {errors:#?}",
            path.display()
        );
        let cluster = as_v1(&manifest);
        assert!(
            validate(&cluster).is_err(),
            "{}: rayop's validate accepted it",
            path.display()
        );
    }
}
