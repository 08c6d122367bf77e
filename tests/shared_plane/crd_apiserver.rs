//! The committed CRD against a real kube-apiserver (the local control plane of
//! `rayop-testenv`): it installs and becomes Established (so its schema is
//! structural and every CEL rule compiles within the cost budget), the seed and
//! the KubeRay-style manifests apply, the API server stores the schema
//! defaults, and every invalid fixture is refused with the message its
//! `# expect:` line names, after the field its `# field:` line names.

use std::path::{Path, PathBuf};

use crate::support::fixtures::{header, yaml_files};
use anyhow::{Context, Result, bail};
use kube::api::{Api, Patch, PatchParams};
use rayop::crd::{RayCluster, defaults};
use rayop_testenv::TestEnv;
use serde_json::json;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Whether `message` names `field` and says `expect` after it.
fn names_field(message: &str, field: &str, expect: &str) -> bool {
    message
        .match_indices(field)
        .any(|(at, _)| message[at..].contains(expect))
}

#[tokio::test]
async fn the_api_server_takes_the_crd_and_judges_manifests_as_expected() -> Result<()> {
    let env = TestEnv::shared().await?;
    let names = env.apply_crd(&repo("deploy/crd")).await?;
    assert_eq!(
        names,
        [
            "rayclusters.ray.io",
            "raycronjobs.ray.io",
            "rayjobs.ray.io",
            "rayservices.ray.io"
        ]
    );
    let ns = env.namespace("crd").await?;

    // The seed (v1alpha1) applies and reads back as v1 with the defaults stored.
    env.apply_yaml(&repo("tests/fixtures/seed-raycluster.yaml"), Some(&ns))
        .await?;
    let api: Api<RayCluster> = Api::namespaced(env.client(), &ns);
    let seed = api.get("basic-ray-cluster").await?;
    assert_eq!(seed.spec.ray_version, "2.6.0");
    let head = seed
        .spec
        .head_group_spec
        .as_ref()
        .context("headGroupSpec defaulted")?;
    assert_eq!(head.template, Some(defaults::default_head_template()));
    let group = &seed.spec.worker_group_specs[0];
    assert_eq!(group.template, Some(defaults::default_worker_template()));
    assert_eq!(
        (group.replicas, group.min_replicas, group.max_replicas),
        (2, 1, 3)
    );

    // KubeRay-style manifests apply unmodified.
    for path in yaml_files("tests/fixtures/kuberay")? {
        env.apply_yaml(&path, Some(&ns))
            .await
            .with_context(|| format!("{} was refused", path.display()))?;
    }

    // Every invalid manifest is refused with the expected message.
    let mut wrong = Vec::new();
    for path in yaml_files("tests/fixtures/invalid")? {
        let expect = header(&path, "# expect: ")?;
        let field = header(&path, "# field: ")?;
        match env.apply_yaml(&path, Some(&ns)).await {
            Ok(_) => wrong.push(format!("{}: accepted", path.display())),
            Err(error) => {
                let message = format!("{error:#}");
                if !names_field(&message, &field, &expect) {
                    wrong.push(format!(
                        "{}: expected {field:?} then {expect:?} in {message:?}",
                        path.display()
                    ));
                }
            }
        }
    }
    if !wrong.is_empty() {
        bail!("invalid fixtures judged wrongly:\n{}", wrong.join("\n"));
    }

    // managedBy is immutable once set, and cannot be added later.
    let params = PatchParams::default();
    let set = json!({"spec": {"managedBy": "ray.io/rayop"}});
    let added = api
        .patch("basic-ray-cluster", &params, &Patch::Merge(&set))
        .await;
    assert!(added.is_err(), "adding managedBy was accepted");
    Ok(())
}
