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
//!   A pod template over the API server's 256 KiB annotation limit is
//!   built in code (a 300 KB fixture would bloat the repository) and judged
//!   the same way.
//! - `tests/fixtures/invalid-adjusted/*.yaml` are accepted and run, but rayop
//!   changes something on its own (an ignored `restartPolicy`, an unset
//!   `maxReplicas` capped at the group limit): each gets a `SpecAdjusted`
//!   condition whose message contains its `# expect-adjusted:` line, naming
//!   the field, a Warning Event, and objects that say the same.
//! - A pod-count bomb (the `numOfHosts: 2147483647` of the issue, and
//!   products or sums over the limits of `rayop::crd::limits`) is refused at
//!   admission by the real API server, on create and on update, naming the
//!   field; nothing is stored.
//! - Every fixture names the field its outcome is about: `# field:` for the
//!   admission fixtures, a JSON path first on the condition lines.
//! - `rayStartParams` values with shell syntax are valid: the cluster reaches
//!   Ready, and its live workloads carry the values quoted; running their
//!   command line through bash (with a fake `ray`) executes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use crate::support::{
    fixtures::{header, yaml_files},
    *,
};
use anyhow::{Context as _, Result, bail};
use k8s_openapi::api::{apps::v1::StatefulSet, core::v1::Service};
use kube::{Api, api::ListParams};
use rayop::crd::{RayCluster, status::Phase, test_builders::group};
use rayop_testenv::wait_until;

fn name_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let value: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    value["metadata"]["name"].as_str().unwrap().to_owned()
}

/// The directories of the corpus and the header each fixture's outcome is on.
const CORPUS: [(&str, &str); 4] = [
    ("tests/fixtures/invalid", "# field: "),
    ("tests/fixtures/invalid/types", "# field: "),
    ("tests/fixtures/invalid-semantic", "# expect-condition: "),
    ("tests/fixtures/invalid-adjusted", "# expect-adjusted: "),
];

/// Whether `text` starts with a RayCluster field path such as
/// `spec.workerGroupSpecs[0].template.spec.containers[1].ports`.
fn starts_with_field(text: &str) -> bool {
    let path = text.split([':', ' ']).next().unwrap_or_default();
    (path.starts_with("spec.") || path.starts_with("metadata.")) && path.len() > 5
}

#[test]
fn the_corpus_holds_at_least_sixty_bad_manifests_each_naming_its_field() {
    let mut n = 0;
    let mut unnamed = Vec::new();
    for (dir, prefix) in CORPUS {
        for path in yaml_files(dir).unwrap() {
            n += 1;
            if !starts_with_field(&header(&path, prefix).unwrap()) {
                unnamed.push(path.display().to_string());
            }
        }
    }
    assert!(n >= 60, "only {n} bad manifests");
    assert!(unnamed.is_empty(), "outcomes naming no field: {unnamed:#?}");
}

/// Whether `message` names `field` and says `expect` after it.
fn names_field(message: &str, field: &str, expect: &str) -> bool {
    message
        .match_indices(field)
        .any(|(at, _)| message[at..].contains(expect))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_types_and_numbers_that_do_not_fit_are_refused_at_admission() -> Result<()> {
    let (env, ns) = setup("bad-types").await?;
    let files = yaml_files("tests/fixtures/invalid/types")?;
    assert!(files.len() >= 5);
    let mut wrong = Vec::new();
    for path in &files {
        let expect = header(path, "# expect: ")?;
        let field = header(path, "# field: ")?;
        match env.apply_yaml(path, Some(&ns)).await {
            Ok(_) => wrong.push(format!("{}: accepted", path.display())),
            Err(e) => {
                let message = format!("{e:#}");
                if !names_field(&message, &field, &expect) {
                    wrong.push(format!(
                        "{}: expected {field:?} then {expect:?} in {message}",
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
    let files = yaml_files("tests/fixtures/invalid-semantic")?;
    assert!(files.len() >= 8);
    for path in &files {
        env.apply_yaml(path, Some(&ns))
            .await
            .with_context(|| format!("{} was refused at admission", path.display()))?;
    }
    // A 300 KB annotation: over the API server's 256 KiB limit on the
    // workload's pod template, within the RayCluster's own size limit.
    let mut big = group("small").with_replicas(1);
    let mut template = rayop::crd::defaults::default_worker_template();
    template
        .metadata
        .get_or_insert_with(Default::default)
        .annotations = Some([("example.com/blob".to_owned(), "x".repeat(300_000))].into());
    big.template = Some(template);
    create(
        &client,
        &cluster(RayCluster::test("sem-big-annotation").with_group(big), &ns),
    )
    .await?;
    let mut cases: Vec<(String, String, String)> = files
        .iter()
        .map(|path| {
            Ok((
                path.display().to_string(),
                name_of(path),
                header(path, "# expect-condition: ")?,
            ))
        })
        .collect::<Result<_>>()?;
    cases.push((
        "a 300 KB template annotation".to_owned(),
        "sem-big-annotation".to_owned(),
        "spec.workerGroupSpecs[0].template.metadata.annotations: annotations hold 300016 bytes"
            .to_owned(),
    ));
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
    for (what, name, expect) in &cases {
        let c = wait_phase(&client, &ns, name, Phase::Pending).await?;
        let condition = c
            .status
            .unwrap_or_default()
            .conditions
            .into_iter()
            .find(|c| c.type_ == "InvalidSpec");
        match condition {
            Some(c) if c.status == "True" && c.message.contains(expect.as_str()) => {}
            other => wrong.push(format!(
                "{what}: expected InvalidSpec with {expect:?}, got {other:?}"
            )),
        }
        if statefulset(&client, &ns, &format!("{name}-head"))
            .await?
            .is_some()
        {
            wrong.push(format!("{what}: a head StatefulSet was created"));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adjusted_manifests_run_with_a_spec_adjusted_condition_naming_the_field() -> Result<()> {
    let (env, ns) = setup("bad-adjusted").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let files = yaml_files("tests/fixtures/invalid-adjusted")?;
    assert!(files.len() >= 4);
    for path in &files {
        env.apply_yaml(path, Some(&ns))
            .await
            .with_context(|| format!("{} was refused at admission", path.display()))?;
    }
    let mut wrong = Vec::new();
    for path in &files {
        let name = name_of(path);
        let expect = header(path, "# expect-adjusted: ")?;
        let api = clusters(&client, &ns);
        let seen = wait_until(&format!("{name} has SpecAdjusted"), TIMEOUT, || async {
            let c = api.get(&name).await?;
            Ok(c.status.unwrap_or_default().conditions.iter().any(|c| {
                c.type_ == "SpecAdjusted" && c.status == "True" && c.message.contains(&expect)
            }))
        })
        .await;
        if let Err(e) = seen {
            wrong.push(format!("{}: {e:#}", path.display()));
            continue;
        }
        let c = api.get(&name).await?;
        let conditions = c.status.unwrap_or_default().conditions;
        if conditions
            .iter()
            .any(|c| c.type_ == "InvalidSpec" && c.status == "True")
        {
            wrong.push(format!("{}: judged invalid", path.display()));
        }
        // The cluster runs: its head exists, with the pods' policy Always.
        let head = wait_until(&format!("{name} has a head"), TIMEOUT, || async {
            Ok(statefulset(&client, &ns, &format!("{name}-head"))
                .await?
                .is_some())
        })
        .await;
        if head.is_err() {
            wrong.push(format!("{}: no head StatefulSet", path.display()));
        }
    }
    if !wrong.is_empty() {
        bail!("judged wrongly:\n{}", wrong.join("\n"));
    }
    let head = must(
        statefulset(&client, &ns, "adj-head-never-head").await?,
        "head StatefulSet",
    )?;
    let policy = head.spec.unwrap().template.spec.unwrap().restart_policy;
    assert!(
        policy.is_none() || policy.as_deref() == Some("Always"),
        "{policy:?}"
    );
    // The HPA of a group without maxReplicas is capped at the group limit.
    let hpas: Api<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler> =
        Api::namespaced(client.clone(), &ns);
    let hpa = wait_until("the HPA of adj-hpa-max", TIMEOUT, || async {
        Ok(hpas.get_opt("adj-hpa-max-small").await?.is_some())
    })
    .await;
    hpa?;
    let hpa = hpas.get("adj-hpa-max-small").await?;
    assert_eq!(
        hpa.spec.unwrap().max_replicas,
        rayop::crd::limits::MAX_PODS_PER_GROUP
    );
    let status = clusters(&client, &ns)
        .get("adj-hpa-max")
        .await?
        .status
        .unwrap_or_default();
    assert_eq!(
        status.max_worker_replicas,
        Some(rayop::crd::limits::MAX_PODS_PER_GROUP),
        "the status reports the cap, not 2147483647"
    );
    wait_event(&client, &ns, "a SpecAdjusted Warning", |e| {
        e.reason.as_deref() == Some("SpecAdjusted")
            && e.type_.as_deref() == Some("Warning")
            && e.message
                .as_deref()
                .is_some_and(|m| m.contains("spec.headGroupSpec.template.spec.restartPolicy"))
    })
    .await?;
    op.stop().await
}

/// The acceptance test of the pod-count limits: bombs are refused by the real
/// API server at admission, on create and on update, naming the field, and
/// nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_count_bomb_is_refused_at_admission() -> Result<()> {
    let (env, ns) = setup("bomb").await?;
    let client = env.client();
    let api = clusters(&client, &ns);
    let refused = |result: kube::Result<RayCluster>, field: &str, what: &str| -> Result<()> {
        match result {
            Ok(_) => bail!("{what} was accepted"),
            Err(kube::Error::Api(e)) if e.code == 422 && e.message.contains(field) => Ok(()),
            Err(e) => bail!("{what}: expected a 422 naming {field}, got {e:#}"),
        }
    };
    // The issue's manifest: 2 replicas of 2147483647 hosts.
    let issue = cluster(
        RayCluster::test("bomb").with_group(group("tpu").with_replicas(2).with_hosts(i32::MAX)),
        &ns,
    );
    refused(
        api.create(&Default::default(), &issue).await,
        "spec.workerGroupSpecs[0].numOfHosts",
        "numOfHosts 2147483647",
    )?;
    let product = cluster(
        RayCluster::test("bomb").with_group(group("tpu").with_replicas(2_501).with_hosts(4)),
        &ns,
    );
    refused(
        api.create(&Default::default(), &product).await,
        "spec.workerGroupSpecs[0].replicas",
        "2501 replicas of 4 hosts",
    )?;
    let ceiling = cluster(
        RayCluster::test("bomb").with_group(group("tpu").bounds(0, 5_000).with_hosts(4)),
        &ns,
    );
    refused(
        api.create(&Default::default(), &ceiling).await,
        "spec.workerGroupSpecs[0].maxReplicas",
        "maxReplicas 5000 of 4 hosts",
    )?;
    let many = cluster(
        (0..3).fold(RayCluster::test("bomb"), |c, i| {
            c.with_group(group(&format!("g{i}")).with_replicas(8_000))
        }),
        &ns,
    );
    refused(
        api.create(&Default::default(), &many).await,
        "spec.workerGroupSpecs",
        "24000 pods over three groups",
    )?;
    assert!(
        api.list(&ListParams::default()).await?.items.is_empty(),
        "a bomb was stored"
    );
    // At the limit is fine; an update past it (as an autoscaler might
    // write) is refused and the stored object is unchanged.
    create(
        &client,
        &cluster(
            RayCluster::test("edge").with_group(group("tpu").with_replicas(2_500).with_hosts(4)),
            &ns,
        ),
    )
    .await?;
    let update = api
        .patch(
            "edge",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(serde_json::json!({
                "spec": {"workerGroupSpecs": [{"groupName": "tpu", "replicas": 2, "numOfHosts": 2147483647}]}
            })),
        )
        .await;
    refused(
        update,
        "spec.workerGroupSpecs[0].numOfHosts",
        "an update to 2147483647 hosts",
    )?;
    let stored = api.get("edge").await?;
    assert_eq!(stored.spec.worker_group_specs[0].num_of_hosts, 4);
    Ok(())
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
        ("log-style", format!("a=b; touch {p}")),
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
