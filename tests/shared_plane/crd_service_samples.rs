//! The RayService CRD against the real local control plane.
//!
//! Every manifest under `tests/fixtures/kuberay-service-samples/` (one per
//! KubeRay v1.7.0 `ray-service.*.yaml` sample, same file names, the
//! RayService copied verbatim) is applied with `kubectl apply
//! --dry-run=server` and with `kubectl apply --server-side
//! --dry-run=server`. The API server admits it (schema, defaults and CEL
//! rules) and returns the object it would store; every field path the
//! manifest sets under `spec`, `metadata.labels` and `metadata.annotations`
//! must come back with the same value (nothing pruned), and rayop's own
//! `validate` must accept it. No controller runs for RayServices yet, so
//! nothing is awaited.
//!
//! Every manifest under `tests/fixtures/invalid-rayservice/` starts with
//! `# expect: <part of the message>` and `# field: <the field it names>`; the
//! API server must refuse it with a message naming the field first, and
//! rayop's own decoding or `validate` must refuse it too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use crate::support::{
    fixtures::{header, yaml_files},
    pruning, repo,
};
use anyhow::{Context as _, Result, bail};
use rayop::crd::rayservice::{RayService, validate};
use rayop_testenv::TestEnv;
use serde_json::Value;

const SAMPLES: &str = "tests/fixtures/kuberay-service-samples";
const INVALID: &str = "tests/fixtures/invalid-rayservice";

/// `kubectl apply --dry-run=server -o json` of `file` into `ns`: the objects
/// the API server would store, or its refusal.
fn dry_run(env: &TestEnv, file: &Path, ns: &str, server_side: bool) -> Result<Vec<Value>> {
    let mut cmd = env.kubectl();
    cmd.args(["apply", "--dry-run=server", "-o", "json", "-n", ns, "-f"])
        .arg(file);
    if server_side {
        cmd.args(["--server-side", "--field-manager=crd-service-samples"]);
    }
    let output = cmd.output().context("running kubectl")?;
    if !output.status.success() {
        bail!("{}", String::from_utf8_lossy(&output.stderr));
    }
    let value: Value = serde_json::from_slice(&output.stdout).context("kubectl's JSON")?;
    Ok(match value["kind"].as_str() {
        Some("List") => value["items"].as_array().cloned().unwrap_or_default(),
        _ => vec![value],
    })
}

/// Whether rayop itself refuses `doc`: it does not decode, or `validate` fails.
fn rayop_refuses(doc: &Value) -> Option<String> {
    match serde_json::from_value::<RayService>(doc.clone()) {
        Err(e) => Some(format!("does not decode: {e}")),
        Ok(svc) => validate(&svc).err().map(|problems| {
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        }),
    }
}

#[tokio::test]
async fn kuberay_service_samples_are_admitted_unpruned_and_invalid_ones_refused() -> Result<()> {
    let env = TestEnv::shared().await?;
    let names = env.apply_crd(&repo().join("deploy/crd")).await?;
    assert!(
        names.iter().any(|n| n == "rayservices.ray.io"),
        "rayservices.ray.io installed: {names:?}"
    );
    let ns = env.namespace("service-samples").await?;

    let samples = yaml_files(SAMPLES)?;
    assert!(
        samples.len() >= 16,
        "one fixture per KubeRay sample: {samples:?}"
    );
    let mut problems = Vec::new();
    for file in &samples {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let submitted = rayop_testenv::yaml::documents(file)?;
        if submitted.len() != 1 || submitted[0]["kind"] != "RayService" {
            problems.push(format!("{name}: not exactly one RayService"));
        }
        for doc in &submitted {
            if let Some(why) = rayop_refuses(doc) {
                problems.push(format!("{name}: rayop's own validation refuses it: {why}"));
            }
        }
        for (mode, server_side) in [("apply", false), ("server-side apply", true)] {
            let stored = match dry_run(&env, file, &ns, server_side) {
                Ok(stored) => stored,
                Err(error) => {
                    problems.push(format!("{name} ({mode}): refused: {error:#}"));
                    continue;
                }
            };
            if stored.len() != submitted.len() {
                problems.push(format!(
                    "{name} ({mode}): {} objects back for {}",
                    stored.len(),
                    submitted.len()
                ));
                continue;
            }
            for (want, have) in submitted.iter().zip(&stored) {
                problems.extend(
                    pruning::object_pruned(want, have)
                        .into_iter()
                        .map(|p| format!("{name} ({mode}): {p}")),
                );
            }
        }
    }

    let invalid = yaml_files(INVALID)?;
    assert!(!invalid.is_empty(), "invalid fixtures under {INVALID}");
    for file in invalid {
        let expect = header(&file, "# expect: ")?;
        let field = header(&file, "# field: ")?;
        let name = file.display();
        for doc in rayop_testenv::yaml::documents(&file)? {
            if rayop_refuses(&doc).is_none() {
                problems.push(format!("{name}: rayop's own validation accepts it"));
            }
        }
        for server_side in [false, true] {
            match dry_run(&env, &file, &ns, server_side) {
                Ok(_) => problems.push(format!("{name}: accepted (server-side: {server_side})")),
                Err(error) => {
                    let message = format!("{error:#}");
                    let named = message
                        .match_indices(&field)
                        .any(|(at, _)| message[at..].contains(&expect));
                    if !named {
                        problems.push(format!(
                            "{name}: expected {field:?} then {expect:?} in {message:?}"
                        ));
                    }
                }
            }
        }
    }
    if !problems.is_empty() {
        bail!("{} problems:\n{}", problems.len(), problems.join("\n"));
    }
    Ok(())
}
