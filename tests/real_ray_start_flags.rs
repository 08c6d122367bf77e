//! Real Ray's own `ray start` parser accepts exactly the command rayop
//! generates, for every RayCluster fixture: the KubeRay v1.7.0 samples
//! (`tests/fixtures/kuberay-samples/`), the real-Ray fixtures and the seed.
//!
//! For each Ray container of the desired objects (built by rayop's pure
//! builders, no server), the generated `ray start …` (the container's
//! `KUBERAY_GEN_RAY_START_CMD`) is expanded as the container's shell would
//! expand it, then handed to the `start` command of the Ray CLI (click) of
//! the Ray the image runs on the process node: 2.6.0 for `rayproject/ray:2.6*`,
//! 2.60.0 for every other image (the samples use 2.46 to nightly). Click
//! parses and type-checks every flag without starting anything, so an
//! unknown flag or a value of the wrong type fails here, not in a pod.

// Test helpers outside #[test] functions unwrap and panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::{io::Write, process::Stdio};

use rayop::{
    build::{BuildOptions, desired_objects},
    crd::RayCluster,
};
use serde_json::{Value, json};

/// Parses each JSON line `{"where", "args"}` of stdin with the Ray CLI's
/// `start` command; prints `OK <where>` or `REFUSED <where>: <message>`.
const PARSE: &str = r#"
import json, sys, click
from ray.scripts.scripts import start
for line in sys.stdin:
    case = json.loads(line)
    try:
        start.make_context("start", case["args"])
        print("OK", case["where"])
    except click.ClickException as e:
        print("REFUSED", case["where"] + ":", e.format_message())
"#;

/// The `ray start` commands of `cluster`'s Ray containers: where, image,
/// the command and the container's env (see [`env_value`]).
fn start_commands(cluster: &RayCluster, file: &str) -> Vec<(String, String, String, Value)> {
    let desired = desired_objects(cluster, &BuildOptions::default())
        .unwrap_or_else(|e| panic!("{file}: rayop cannot build the cluster: {e}"));
    let objects = desired.head.objects.iter().chain(
        desired
            .groups
            .iter()
            .flat_map(|(_, set)| set.objects.iter()),
    );
    let mut found = Vec::new();
    for object in objects {
        let value = serde_json::to_value(object).unwrap();
        let containers = value
            .pointer("/spec/template/spec/containers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for c in containers {
            let env = c["env"].as_array().cloned().unwrap_or_default();
            let Some(cmd) = env
                .iter()
                .find(|e| e["name"] == "KUBERAY_GEN_RAY_START_CMD")
                .and_then(|e| e["value"].as_str())
            else {
                continue;
            };
            let literal: serde_json::Map<String, Value> = env
                .iter()
                .filter_map(|e| Some((e["name"].as_str()?.to_owned(), env_value(e))))
                .collect();
            let name = format!(
                "{file} {}/{}",
                cluster.metadata.name.as_deref().unwrap_or("?"),
                c["name"].as_str().unwrap_or("?")
            );
            found.push((
                name,
                c["image"].as_str().unwrap_or_default().to_owned(),
                cmd.to_owned(),
                Value::Object(literal),
            ));
        }
    }
    found
}

/// What the container sees in env entry `e`: its literal value, or a stand-in
/// of the right shape for what the API server or kubelet fills in (a field
/// such as the pod IP, a Secret key, a resource amount).
fn env_value(e: &Value) -> Value {
    if let Some(v) = e["value"].as_str() {
        return v.into();
    }
    let from = &e["valueFrom"];
    if from.get("fieldRef").is_some() {
        "10.0.0.7".into()
    } else if from.get("resourceFieldRef").is_some() {
        "1".into()
    } else {
        "stand-in-secret".into()
    }
}

/// `cmd` split and expanded by bash as the container runs it, with the
/// container's env (see [`env_value`]).
fn expand(cmd: &str, env: &Value) -> Vec<String> {
    let mut script = String::from("set -u\n");
    for (name, value) in env.as_object().into_iter().flatten() {
        let value = value.as_str().unwrap_or_default().replace('\'', r"'\''");
        script.push_str(&format!("export {name}='{value}'\n"));
    }
    script.push_str(&format!("set -- {cmd}\nprintf '%s\\0' \"$@\"\n"));
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bash cannot expand `{cmd}`: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The Ray version the process node runs `image` with.
fn ray_of(image: &str) -> &'static str {
    let tag = image.rsplit_once(':').map_or("", |(_, t)| t);
    if tag.starts_with("2.6.") {
        "2.6.0"
    } else {
        rayop_testenv::process_node::MODERN_RAY
    }
}

/// Every RayCluster in the YAML files of `dir` (relative to the repository), with a namespace and UID so
/// the builders accept them.
fn clusters_in(dir: &str) -> Vec<(String, RayCluster)> {
    let mut clusters = Vec::new();
    for path in support::fixtures::yaml_files(dir).unwrap() {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(doc).unwrap();
            if value["kind"] != "RayCluster" {
                continue;
            }
            let mut cluster: RayCluster = serde_json::from_value(value)
                .unwrap_or_else(|e| panic!("{file}: not a RayCluster rayop reads: {e}"));
            cluster
                .metadata
                .namespace
                .get_or_insert_with(|| "flags".into());
            cluster.metadata.uid = Some("00000000-0000-0000-0000-000000000001".into());
            clusters.push((file.clone(), cluster));
        }
    }
    clusters
}

#[test]
fn real_ray_start_accepts_every_command_rayop_generates() {
    let mut clusters = clusters_in("tests/fixtures/kuberay-samples");
    clusters.extend(clusters_in("tests/fixtures/real-ray"));
    clusters.extend(clusters_in("tests/fixtures"));

    // Cases per Ray version, as JSON lines for the parser.
    let mut by_ray: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for (file, cluster) in &clusters {
        for (at, image, cmd, env) in start_commands(cluster, file) {
            let args = expand(&cmd, &env);
            assert_eq!(args[..2], ["ray", "start"], "{at}: `{cmd}`");
            by_ray
                .entry(ray_of(&image))
                .or_default()
                .push(json!({ "where": at, "args": args[2..] }).to_string());
        }
    }
    let cases: usize = by_ray.values().map(Vec::len).sum();
    assert!(
        cases > clusters.len(),
        "{cases} Ray containers in {} clusters: every cluster has a head and most have workers",
        clusters.len()
    );

    let mut refused = Vec::new();
    let mut accepted = 0;
    for (ray, lines) in &by_ray {
        let venv = rayop_testenv::process_node::ray_venv_of(ray).unwrap();
        let mut child = std::process::Command::new(venv.join("bin/python"))
            .args(["-c", PARSE])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all((lines.join("\n") + "\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "the Ray {ray} parser failed");
        let text = String::from_utf8_lossy(&out.stdout);
        accepted += text.lines().filter(|l| l.starts_with("OK ")).count();
        refused.extend(
            text.lines()
                .filter(|l| l.starts_with("REFUSED "))
                .map(|l| format!("Ray {ray}: {l}")),
        );
        assert_eq!(
            text.lines().count(),
            lines.len(),
            "the Ray {ray} parser answered not once per command:\n{text}"
        );
    }
    assert!(
        refused.is_empty(),
        "real `ray start` refuses what rayop generates:\n{}",
        refused.join("\n")
    );
    assert_eq!(accepted, cases);
}
