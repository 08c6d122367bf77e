//! The generated CustomResourceDefinition: versions, schema shape, CEL rules
//! (compiled and evaluated offline with kube's client-side CEL evaluator),
//! printer columns and schema defaults.

// Test helpers outside #[test] functions unwrap and panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kube::core::cel::{ScopeContext, Validator, WarningKind, analyze_rule, compile_schema};
use rayop::crd::{
    RayCluster, cel, defaults, names,
    test_builders::group,
    versions::{STORAGE_VERSION, crd, crd_yaml},
};
use serde_json::{Value, json};

fn schema_of(version: &str) -> Value {
    let crd = crd().unwrap();
    let version = crd
        .spec
        .versions
        .into_iter()
        .find(|v| v.name == version)
        .unwrap();
    serde_json::to_value(version.schema.unwrap().open_api_v3_schema.unwrap()).unwrap()
}

/// The schema node at a dotted path; `[*]` steps into array items.
fn node<'a>(schema: &'a Value, path: &str) -> &'a Value {
    path.split('.')
        .filter(|step| !step.is_empty())
        .fold(schema, |node, step| match step.strip_suffix("[*]") {
            Some(field) => &node["properties"][field]["items"],
            None => &node["properties"][step],
        })
}

fn rules_at(schema: &Value, path: &str) -> Vec<String> {
    node(schema, path)["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|rule| rule["rule"].as_str().unwrap().to_owned())
        .collect()
}

/// Every `x-kubernetes-validations` rule in the schema.
fn all_rules(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "x-kubernetes-validations" {
                    out.extend(
                        value
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|r| r["rule"].as_str().unwrap().to_owned()),
                    );
                } else if key != "default" {
                    all_rules(value, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| all_rules(item, out)),
        _ => {}
    }
}

fn cel_errors(cluster: &RayCluster, old: Option<&RayCluster>) -> Vec<String> {
    let schema = schema_of(STORAGE_VERSION);
    let object = serde_json::to_value(cluster).unwrap();
    let old = old.map(|o| serde_json::to_value(o).unwrap());
    match Validator::new().validate(&schema, &object, old.as_ref()) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn both_versions_served_v1_stored_identity_conversion() {
    let crd = crd().unwrap();
    assert_eq!(crd.metadata.name.as_deref(), Some("rayclusters.ray.io"));
    assert_eq!(crd.spec.group, "ray.io");
    assert_eq!(crd.spec.scope, "Namespaced");
    assert_eq!(crd.spec.names.kind, "RayCluster");
    assert_eq!(crd.spec.names.plural, "rayclusters");
    let versions: Vec<_> = crd
        .spec
        .versions
        .iter()
        .map(|v| (v.name.as_str(), v.served, v.storage))
        .collect();
    assert_eq!(versions, [("v1", true, true), ("v1alpha1", true, false)]);
    assert_eq!(crd.spec.conversion.unwrap().strategy, "None");

    // Same schema, printer columns and subresources: conversion can be the identity.
    let (v1, alpha) = (&crd.spec.versions[0], &crd.spec.versions[1]);
    assert_eq!(
        serde_json::to_value(&v1.schema).unwrap(),
        serde_json::to_value(&alpha.schema).unwrap()
    );
    assert!(v1.schema == alpha.schema);
    assert_eq!(
        v1.additional_printer_columns,
        alpha.additional_printer_columns
    );
    assert_eq!(v1.subresources, alpha.subresources);
    assert!(v1.subresources.as_ref().unwrap().status.is_some());
}

#[test]
fn the_yaml_holds_both_versions_and_the_cel_rules() {
    let yaml: Value = serde_yaml::from_str(&crd_yaml().unwrap()).unwrap();
    let versions: Vec<_> = yaml["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap(), v["storage"].as_bool().unwrap()))
        .collect();
    assert_eq!(versions, [("v1", true), ("v1alpha1", false)]);
    for version in yaml["spec"]["versions"].as_array().unwrap() {
        let mut found = Vec::new();
        all_rules(&version["schema"]["openAPIV3Schema"], &mut found);
        for (_, rule) in cel::ALL_RULES {
            assert!(found.contains(&rule.rule.to_owned()), "{}", rule.rule);
        }
    }
}

#[test]
fn printer_columns() {
    let crd = crd().unwrap();
    for version in &crd.spec.versions {
        let columns: Vec<_> = version
            .additional_printer_columns
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.json_path.as_str(),
                    c.priority.unwrap_or(0),
                )
            })
            .collect();
        assert_eq!(
            columns,
            [
                ("desired workers", ".status.desiredWorkerReplicas", 0),
                ("available workers", ".status.availableWorkerReplicas", 0),
                ("cpus", ".status.desiredCPU", 0),
                ("memory", ".status.desiredMemory", 0),
                ("gpus", ".status.desiredGPU", 0),
                ("tpus", ".status.desiredTPU", 1),
                ("status", ".status.state", 0),
                ("phase", ".status.phase", 0),
                ("age", ".metadata.creationTimestamp", 0),
                ("head pod IP", ".status.head.podIP", 1),
                ("head service IP", ".status.head.serviceIP", 1),
            ],
            "{}",
            version.name
        );
    }
}

#[test]
fn every_listed_rule_sits_where_listed_and_none_is_unlisted() {
    let schema = schema_of(STORAGE_VERSION);
    for (path, rule) in cel::ALL_RULES {
        assert!(
            rules_at(&schema, path).contains(&rule.rule.to_owned()),
            "{:?} not found at {path:?}",
            rule.rule
        );
    }
    let mut found = Vec::new();
    all_rules(&schema, &mut found);
    assert_eq!(found.len(), cel::ALL_RULES.len(), "{found:#?}");
}

#[test]
fn rules_compile_stay_in_scope_and_within_cost() {
    let schema = schema_of(STORAGE_VERSION);
    let compiled = compile_schema(&schema);
    for (path, rule) in cel::ALL_RULES {
        let node =
            path.split('.')
                .filter(|s| !s.is_empty())
                .fold(&compiled, |node, step| match step.strip_suffix("[*]") {
                    Some(field) => node.properties[field].items.as_deref().unwrap(),
                    None => &node.properties[step],
                });
        assert!(
            !node.has_errors(),
            "{path}: {:?}",
            node.compilation_errors()
        );
        let warnings = analyze_rule(rule.rule, node, ScopeContext::CrdValidation);
        // The analyzer does not know comprehension variables (`all(g, ...)`).
        let bound_by_macro = |message: &str| {
            message
                .split('\'')
                .nth(1)
                .is_some_and(|var| rule.rule.contains(&format!("({var}, ")))
        };
        let serious: Vec<_> = warnings
            .iter()
            .filter(|w| match w.kind {
                WarningKind::WrongScope => !bound_by_macro(&w.message),
                WarningKind::CostExceeded => true,
                _ => false,
            })
            .collect();
        assert!(serious.is_empty(), "{path}: {serious:#?}");
    }
}

#[test]
fn worker_group_lists_are_bounded_for_the_cost_estimator() {
    let schema = schema_of(STORAGE_VERSION);
    let groups = node(&schema, "spec.workerGroupSpecs");
    assert_eq!(groups["maxItems"], json!(cel::MAX_WORKER_GROUPS));
    let name = node(&schema, "spec.workerGroupSpecs[*].groupName");
    assert_eq!(name["maxLength"], json!(names::MAX_GROUP_NAME));
    assert_eq!(name["pattern"], json!(names::DNS1035_LABEL_PATTERN));
}

#[test]
fn name_bounds_hold_in_cel() {
    let at_limit = "a".repeat(names::MAX_CLUSTER_NAME);
    assert_eq!(
        cel_errors(&RayCluster::test(&at_limit), None),
        Vec::<String>::new()
    );
    let over = "a".repeat(names::MAX_CLUSTER_NAME + 1);
    let errors = cel_errors(&RayCluster::test(&over), None);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains(cel::CLUSTER_NAME_LENGTH.message));

    let cluster = "c".repeat(30);
    let fits = group(&"g".repeat(names::MAX_CLUSTER_AND_GROUP_NAME - 30));
    assert_eq!(
        cel_errors(&RayCluster::test(&cluster).with_group(fits), None),
        Vec::<String>::new()
    );
    let too_long = group(&"g".repeat(names::MAX_CLUSTER_AND_GROUP_NAME - 29));
    let errors = cel_errors(&RayCluster::test(&cluster).with_group(too_long), None);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains(cel::WORKER_NAME_LENGTH.message));
}

#[test]
fn a_built_cluster_passes_every_rule() {
    let cluster = RayCluster::test("rc")
        .with_workers(2)
        .with_group(group("gpu").bounds(0, 4))
        .with_autoscaling()
        .with_gcs_fault_tolerance("redis:6379");
    assert_eq!(cel_errors(&cluster, None), Vec::<String>::new());
}

#[test]
fn managed_by_is_immutable() {
    let mut old = RayCluster::test("rc");
    old.spec.managed_by = Some("ray.io/rayop".into());

    let unchanged = old.clone();
    assert_eq!(cel_errors(&unchanged, Some(&old)), Vec::<String>::new());

    let mut changed = old.clone();
    changed.spec.managed_by = Some("kueue.x-k8s.io/multikueue".into());
    let errors = cel_errors(&changed, Some(&old));
    assert!(
        errors
            .iter()
            .any(|e| e.contains(cel::MANAGED_BY_UNCHANGED.message)),
        "{errors:#?}"
    );

    let mut removed = old.clone();
    removed.spec.managed_by = None;
    let errors = cel_errors(&removed, Some(&old));
    assert!(
        errors
            .iter()
            .any(|e| e.contains(cel::MANAGED_BY_PRESENCE.message)),
        "{errors:#?}"
    );

    let added = old.clone();
    let mut was_unset = old.clone();
    was_unset.spec.managed_by = None;
    let errors = cel_errors(&added, Some(&was_unset));
    assert!(
        errors
            .iter()
            .any(|e| e.contains(cel::MANAGED_BY_PRESENCE.message)),
        "{errors:#?}"
    );

    // Other spec changes are fine.
    let scaled = old.clone().with_workers(5);
    assert_eq!(cel_errors(&scaled, Some(&old)), Vec::<String>::new());
}

#[test]
fn schema_defaults_are_the_rust_defaults() {
    let schema = schema_of(STORAGE_VERSION);
    assert_eq!(
        node(&schema, "spec.headGroupSpec.template")["default"],
        serde_json::to_value(defaults::default_head_template()).unwrap()
    );
    assert_eq!(
        node(&schema, "spec.workerGroupSpecs[*].template")["default"],
        serde_json::to_value(defaults::default_worker_template()).unwrap()
    );
    assert_eq!(
        node(&schema, "spec.rayVersion")["default"],
        json!(defaults::DEFAULT_RAY_VERSION)
    );
    let group = node(&schema, "spec.workerGroupSpecs[*]");
    for (field, value) in [
        ("replicas", json!(0)),
        ("minReplicas", json!(0)),
        ("maxReplicas", json!(2_147_483_647)),
        ("numOfHosts", json!(1)),
    ] {
        assert_eq!(group["properties"][field]["default"], value, "{field}");
    }
    assert_eq!(group["properties"]["replicas"]["minimum"], json!(0.0));
    assert_eq!(group["properties"]["numOfHosts"]["minimum"], json!(1.0));
}

#[test]
fn conditions_are_a_list_map_keyed_by_type() {
    let schema = schema_of(STORAGE_VERSION);
    let conditions = node(&schema, "status.conditions");
    assert_eq!(conditions["x-kubernetes-list-type"], "map");
    assert_eq!(conditions["x-kubernetes-list-map-keys"], json!(["type"]));
    let required = conditions["items"]["required"].as_array().unwrap();
    assert!(required.contains(&json!("type")));
}

/// Structural schema: every node says its type (or is int-or-string or a
/// preserved object), and no `$ref`, `anyOf` or `oneOf` carries types.
fn assert_structural(schema: &Value, path: &str) {
    let object = schema.as_object().unwrap();
    assert!(!object.contains_key("$ref"), "{path}");
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(branches) = object.get(key) {
            for branch in branches.as_array().unwrap() {
                assert!(branch.get("type").is_none(), "{path}.{key} carries a type");
            }
        }
    }
    let typed = object.contains_key("type")
        || object.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        || object.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    assert!(typed, "{path} has no type");
    if let Some(properties) = object.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            assert_structural(child, &format!("{path}.{name}"));
        }
    }
    if let Some(items) = object.get("items") {
        assert_structural(items, &format!("{path}[*]"));
    }
    if let Some(additional) = object.get("additionalProperties").filter(|a| a.is_object()) {
        assert_structural(additional, &format!("{path}{{*}}"));
    }
}

#[test]
fn the_schema_is_structural() {
    assert_structural(&schema_of(STORAGE_VERSION), "");
}

#[test]
fn every_field_is_documented() {
    fn walk(schema: &Value, path: &str) {
        if let Some(properties) = schema["properties"].as_object() {
            for (name, child) in properties {
                let child_path = format!("{path}.{name}");
                assert!(
                    child["description"].as_str().is_some_and(|d| !d.is_empty()),
                    "{child_path} has no description (kubectl explain shows nothing)"
                );
                walk(child, &child_path);
                walk(&child["items"], &format!("{child_path}[*]"));
            }
        }
    }
    let schema = schema_of(STORAGE_VERSION);
    walk(&schema["properties"]["spec"], "spec");
    walk(&schema["properties"]["status"], "status");
}
