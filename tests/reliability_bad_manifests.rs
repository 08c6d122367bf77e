//! The bad-manifest corpus against the real API server and operator.
//!
//! - `tests/fixtures/invalid/*.yaml` (refused by the schema or CEL) are
//!   checked by `crd_manifests.rs` and `crd_apiserver.rs`.
//! - `tests/fixtures/invalid/types/*.yaml` hold wrong types and numbers that
//!   do not fit the types (`replicas: 99999999999`, refused by the int32
//!   bounds the CRD generator adds): the API server must refuse each with
//!   the message its `# expect:` line names. They cannot go through
//!   `crd_manifests.rs`, which deserializes every fixture.
//! - `tests/fixtures/invalid-semantic/*.yaml` pass admission but are
//!   semantically invalid: applied together with a valid cluster, each must
//!   stay Pending with an `InvalidSpec` condition whose message contains its
//!   `# expect-condition:` line (the field path and the reason), nothing may
//!   be created for it, and the valid cluster must reach Ready. (An object
//!   stored but not decodable is reported as a Warning Event
//!   `InvalidObject`; `e2e_operator.rs` covers it.)
//! - `rayStartParams` values with shell syntax are valid: the cluster reaches
//!   Ready, and its live workloads carry the values quoted; running their
//!   command line through bash (with a fake `ray`) executes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use k8s_openapi::api::{apps::v1::StatefulSet, core::v1::Service};
use kube::{Api, api::ListParams};
use rayop::crd::{RayCluster, status::Phase, test_builders::group};
use rayop_testenv::wait_until;
use support::*;

fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn header(path: &Path, prefix: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("{} has no {prefix:?} line", path.display()))
        .trim()
        .to_owned()
}

fn name_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let value: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    value["metadata"]["name"].as_str().unwrap().to_owned()
}

#[test]
fn the_corpus_holds_at_least_thirty_bad_manifests() {
    let n = yaml_files("tests/fixtures/invalid").len()
        + yaml_files("tests/fixtures/invalid/types").len()
        + yaml_files("tests/fixtures/invalid-semantic").len();
    assert!(n >= 30, "only {n} bad manifests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_types_and_numbers_that_do_not_fit_are_refused_at_admission() -> Result<()> {
    let (env, ns) = setup("bad-types").await?;
    let files = yaml_files("tests/fixtures/invalid/types");
    assert!(files.len() >= 5);
    let mut wrong = Vec::new();
    for path in &files {
        let expect = header(path, "# expect: ");
        match env.apply_yaml(path, Some(&ns)).await {
            Ok(_) => wrong.push(format!("{}: accepted", path.display())),
            Err(e) => {
                let message = format!("{e:#}");
                if !message.contains(&expect) {
                    wrong.push(format!(
                        "{}: expected {expect:?} in {message}",
                        path.display()
                    ));
                }
            }
        }
    }
    if !wrong.is_empty() {
        bail!("judged wrongly:\n{}", wrong.join("\n"));
    }
    let stored = clusters(&env.client(), &ns)
        .list(&ListParams::default())
        .await?;
    assert!(stored.items.is_empty(), "something was stored");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantically_invalid_manifests_get_an_invalid_spec_condition_naming_the_field()
-> Result<()> {
    let (env, ns) = setup("bad-semantic").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let files = yaml_files("tests/fixtures/invalid-semantic");
    assert!(files.len() >= 8);
    for path in &files {
        env.apply_yaml(path, Some(&ns))
            .await
            .with_context(|| format!("{} was refused at admission", path.display()))?;
    }
    create(
        &client,
        &cluster(
            RayCluster::test("good").with_group(group("small").with_replicas(2).bounds(0, 3)),
            &ns,
        ),
    )
    .await?;
    wait_phase(&client, &ns, "good", Phase::Ready).await?;

    let mut wrong = Vec::new();
    for path in &files {
        let name = name_of(path);
        let expect = header(path, "# expect-condition: ");
        let c = wait_phase(&client, &ns, &name, Phase::Pending).await?;
        let condition = c
            .status
            .unwrap_or_default()
            .conditions
            .into_iter()
            .find(|c| c.type_ == "InvalidSpec");
        match condition {
            Some(c) if c.status == "True" && c.message.contains(&expect) => {}
            other => wrong.push(format!(
                "{}: expected InvalidSpec with {expect:?}, got {other:?}",
                path.display()
            )),
        }
        if statefulset(&client, &ns, &format!("{name}-head"))
            .await?
            .is_some()
        {
            wrong.push(format!(
                "{}: a head StatefulSet was created",
                path.display()
            ));
        }
    }
    if !wrong.is_empty() {
        bail!("judged wrongly:\n{}", wrong.join("\n"));
    }
    // Only the valid cluster has objects.
    let services = Api::<Service>::namespaced(client.clone(), &ns)
        .list(&ListParams::default())
        .await?;
    assert!(
        services
            .items
            .iter()
            .all(|s| s.metadata.name.as_deref().unwrap().starts_with("good-")),
        "objects of an invalid cluster exist"
    );
    // The valid cluster is still Ready after the operator judged them all.
    wait_phase(&client, &ns, "good", Phase::Ready).await?;
    op.stop().await
}

/// The `bash -c` line of the Ray container of a live StatefulSet.
fn command_line(sts: &StatefulSet) -> String {
    let spec = sts.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let ray = &spec.containers[0];
    assert_eq!(
        ray.command.as_deref().unwrap(),
        ["/bin/bash", "-c", "--"],
        "the Ray container runs a bash line"
    );
    ray.args.as_ref().unwrap().join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_syntax_in_ray_start_params_is_quoted_and_never_executed() -> Result<()> {
    let (env, ns) = setup("bad-shell").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let marker = tempfile::tempdir()?;
    let pwned = marker.path().join("pwned");
    let p = pwned.display();
    let hostile = [
        ("node-ip-address", format!("$(touch {p})")),
        ("temp-dir", format!("`touch {p}`")),
        ("labels", format!("a=b; touch {p}")),
        ("namespace", format!("x && touch {p} || true")),
        ("storage", format!("it's'; touch {p}; '")),
        ("plasma-directory", format!("${{IFS}}|touch {p}")),
    ];
    let mut head_params = std::collections::BTreeMap::new();
    head_params.insert("dashboard-host".to_owned(), format!("0.0.0.0;touch {p}"));
    let mut c = RayCluster::test("shell").with_group(
        hostile
            .iter()
            .fold(group("small").with_replicas(1).bounds(0, 2), |g, (k, v)| {
                g.param(k, v)
            }),
    );
    c.spec
        .head_group_spec
        .get_or_insert_with(Default::default)
        .ray_start_params = head_params;
    create(&client, &cluster(c, &ns)).await?;
    wait_phase(&client, &ns, "shell", Phase::Ready).await?;

    let worker = must(
        statefulset(&client, &ns, "shell-small").await?,
        "worker StatefulSet",
    )?;
    let head = must(
        statefulset(&client, &ns, "shell-head").await?,
        "head StatefulSet",
    )?;
    let worker_line = command_line(&worker);
    let head_line = command_line(&head);
    for (key, value) in &hostile {
        // Single-quoted, with embedded single quotes as '\''.
        let quoted = format!("--{key}='{}'", value.replace('\'', r"'\''"));
        assert!(
            worker_line.contains(&quoted),
            "{quoted} not in {worker_line}"
        );
    }
    assert!(
        head_line.contains(&format!("--dashboard-host='0.0.0.0;touch {p}'")),
        "{head_line}"
    );

    // Run both lines with a fake `ray` that prints its arguments: every value
    // arrives intact as one argument, and nothing else runs.
    for line in [&worker_line, &head_line] {
        let script = format!("ray() {{ printf '%s\\n' \"$@\"; }}; ulimit() {{ :; }}; {line}");
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(marker.path())
            .env("PATH", "/usr/bin:/bin")
            .output()?;
        let args = String::from_utf8_lossy(&out.stdout);
        assert!(
            args.lines().any(|l| l == "start"),
            "ray start did not run: {args} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!pwned.exists(), "a rayStartParams value was executed");
    }
    let worker_args = {
        let script =
            format!("ray() {{ printf '%s\\n' \"$@\"; }}; ulimit() {{ :; }}; {worker_line}");
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(marker.path())
            .output()?;
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for (key, value) in &hostile {
        let arg = format!("--{key}={value}");
        assert!(
            worker_args.lines().any(|l| l == arg),
            "{arg:?} not passed intact: {worker_args}"
        );
    }
    assert!(!pwned.exists());
    wait_until("the cluster stays Ready", TIMEOUT, || async {
        let c = clusters(&client, &ns).get("shell").await?;
        Ok(c.status.and_then(|s| s.phase) == Some(Phase::Ready))
    })
    .await?;
    op.stop().await
}
