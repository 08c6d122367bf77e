//! Every manifest under `tests/fixtures/kuberay-samples/` (our own fixtures,
//! one per KubeRay v1.7.0 `ray-cluster*.yaml` sample, same file names) is
//! applied twice to the local control plane, in a namespace of its own each
//! time: once with `kubectl apply` and once with `kubectl apply
//! --server-side`. For each RayCluster in it the test checks that
//! - nothing was pruned: every field path the manifest sets under `spec`,
//!   `metadata.labels` and `metadata.annotations` is stored with the same
//!   value (the API server may add defaults, never drop or change a value);
//! - it reaches phase Ready with `status.state: ready` under a running rayop.
//!
//! New files in the directory are covered without touching this test. All
//! clusters run at once; the fake nodes (see `rayop_testenv::nodes`) have
//! `nvidia.com/gpu`, `google.com/tpu` with GKE's TPU accelerator/topology
//! labels, and GKE's Workload Identity and writable-cgroups labels, so GPU,
//! TPU and GKE samples schedule.
//!
//! # Per-file hints
//!
//! A file may start with comment lines `# rayop-test: <key>=<value>`; only
//! the comment lines before the first YAML content are read, and an unknown
//! key fails the test (a typo must not silently change what runs):
//! - `needs=<name>[,<name>...]`: install the third-party CRDs of these
//!   entries of `deploy/local/third-party.env` (e.g. `cert-manager`,
//!   `scheduler-plugins`) before anything is applied, so the file may hold
//!   objects of those kinds (a Volcano Queue, a cert-manager Issuer).
//! - `runs=<name>[,<name>...]`: start these third-party controllers first:
//!   `cert-manager` (the real controller, built from its Go module) and
//!   `batch-schedulers` (the plane's second kube-scheduler, which answers to
//!   the batch schedulers' names so their pods are scheduled).
//! - `operator-args=<flags>`: the file's clusters run under their own
//!   in-process rayop started with these `rayop run` flags (split on
//!   whitespace, e.g. `--batch-scheduler=volcano`); files with the same
//!   flags share one operator. Files without the hint share the default one.
//!
//! Writing fixtures: values must read the same to kubectl's YAML parser and to
//! this test's, so quote strings such as `"yes"`/`"on"` and write file modes
//! in decimal (`defaultMode: 511` for 0777). A namespaced object without a
//! namespace lands in the namespace the file is applied to.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Output,
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use clap::Parser as _;
use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject},
};
use rayop::{
    cli::{Cli, Command},
    crd::{RayCluster, status::ClusterState, status::Phase},
};
use rayop_testenv::{TestEnv, third_party_crds, wait_until};
use serde_json::Value;
use support::*;

/// The directory every sample fixture lives in.
const SAMPLES: &str = "tests/fixtures/kuberay-samples";
/// The prefix of a hint line.
const HINT: &str = "# rayop-test:";
/// How long all clusters together may take to become Ready.
const READY_TIMEOUT: Duration = Duration::from_secs(240);

/// What a file's leading `# rayop-test:` lines ask for.
#[derive(Debug, Default, PartialEq)]
struct Hints {
    /// Third-party CRD sets to install first.
    needs: Vec<String>,
    /// Flags of `rayop run` for the operator of this file's clusters.
    operator_args: Vec<String>,
    /// Third-party controllers to run: `cert-manager` (built from its Go
    /// module) or `batch-schedulers` (the plane's second kube-scheduler,
    /// which answers to the batch schedulers' names).
    runs: Vec<String>,
}

/// The controllers a `runs=` hint may name.
const RUNNABLE: [&str; 2] = ["cert-manager", "batch-schedulers"];

/// The hints of a fixture's text: its leading comment lines only.
fn hints(text: &str) -> Result<Hints> {
    let mut hints = Hints::default();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            continue;
        }
        if !line.starts_with('#') {
            break;
        }
        let Some(hint) = line.strip_prefix(HINT) else {
            continue;
        };
        let Some((key, value)) = hint.trim().split_once('=') else {
            bail!("{line:?}: a hint is `{HINT} <key>=<value>`");
        };
        match key.trim() {
            "needs" => hints.needs.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            ),
            "operator-args" => hints
                .operator_args
                .extend(value.split_whitespace().map(str::to_owned)),
            "runs" => {
                for name in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if !RUNNABLE.contains(&name) {
                        bail!("{line:?}: cannot run {name:?} (known: {RUNNABLE:?})");
                    }
                    hints.runs.push(name.to_owned());
                }
            }
            other => {
                bail!("{line:?}: unknown hint {other:?} (known: needs, operator-args, runs)")
            }
        }
    }
    Ok(hints)
}

/// One fixture file.
struct Sample {
    path: PathBuf,
    name: String,
    hints: Hints,
    /// The RayClusters it declares, as written.
    clusters: Vec<Value>,
}

fn samples() -> Result<Vec<Sample>> {
    let dir = repo().join(SAMPLES);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"));
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)?;
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let hints = hints(&text).with_context(|| name.clone())?;
            let clusters = rayop_testenv::yaml::parse(&text)
                .with_context(|| name.clone())?
                .into_iter()
                .filter(|d| {
                    d["kind"] == "RayCluster"
                        && d["apiVersion"]
                            .as_str()
                            .is_some_and(|v| v.starts_with("ray.io/"))
                })
                .collect();
            Ok(Sample {
                path,
                name,
                hints,
                clusters,
            })
        })
        .collect()
}

/// Runs `kubectl apply` (server-side or not) of `file` into `ns`.
fn kubectl_apply(
    env: &TestEnv,
    cache: &Path,
    file: &Path,
    ns: &str,
    server_side: bool,
) -> Result<std::process::Child> {
    let mut cmd = env.kubectl();
    cmd.arg("apply")
        .arg("--cache-dir")
        .arg(cache)
        .arg("-n")
        .arg(ns)
        .arg("-f")
        .arg(file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if server_side {
        cmd.arg("--server-side");
    }
    cmd.spawn().context("starting kubectl")
}

fn finished(what: &str, output: &Output) -> Result<()> {
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// One applied RayCluster to check.
struct Applied {
    file: String,
    mode: &'static str,
    ns: String,
    name: String,
    submitted: Value,
}

/// The operator settings of `rayop run <args>`.
fn operator_settings(args: &[String]) -> Result<rayop::controller::Settings> {
    let argv = ["rayop", "run"]
        .into_iter()
        .map(str::to_owned)
        .chain(args.iter().cloned());
    let cli = Cli::try_parse_from(argv).with_context(|| format!("operator-args {args:?}"))?;
    match cli.command {
        Command::Run(run) => Ok(rayop::cli::run::settings(&run)?),
        other => bail!("operator-args parsed as {other:?}"),
    }
}

async fn describe(client: &Client, a: &Applied) -> String {
    let status = clusters(client, &a.ns)
        .get(&a.name)
        .await
        .map(|c| format!("{:#?}", c.status))
        .unwrap_or_else(|e| e.to_string());
    let pods = k8s_pods(client, &a.ns).await;
    format!(
        "{} ({}) {}/{}: status {status}\npods {pods}",
        a.file, a.mode, a.ns, a.name
    )
}

async fn k8s_pods(client: &Client, ns: &str) -> String {
    match Api::<k8s_openapi::api::core::v1::Pod>::namespaced(client.clone(), ns)
        .list(&Default::default())
        .await
    {
        Ok(list) => format!(
            "{:#?}",
            list.items
                .iter()
                .map(|p| (
                    p.metadata.name.clone(),
                    p.status.as_ref().and_then(|s| s.phase.clone()),
                    p.status.as_ref().and_then(|s| s.conditions.clone()),
                ))
                .collect::<Vec<_>>()
        ),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kuberay_sample_applies_unpruned_and_becomes_ready() -> Result<()> {
    let samples = samples()?;
    assert!(!samples.is_empty(), "no fixtures under {SAMPLES}");
    let (env, _) = setup("samples").await?;
    let client = env.client();

    let needs: BTreeSet<&str> = samples
        .iter()
        .flat_map(|s| s.hints.needs.iter().map(String::as_str))
        .collect();
    for name in needs {
        env.apply_crd(&third_party_crds(name)?).await?;
    }
    let runs: BTreeSet<&str> = samples
        .iter()
        .flat_map(|s| s.hints.runs.iter().map(String::as_str))
        .collect();
    let logs = tempfile::tempdir()?;
    let _cert_manager = if runs.contains("cert-manager") {
        Some(CertManager::start(
            &env,
            None,
            &logs.path().join("cert-manager.log"),
        )?)
    } else {
        None
    };
    if runs.contains("batch-schedulers") {
        env.start_batch_schedulers().await?;
    }

    // Two namespaces per file: client-side and server-side apply.
    let mut namespaces = Vec::new();
    for _ in &samples {
        namespaces.push((
            env.namespace("sample-csa").await?,
            env.namespace("sample-ssa").await?,
        ));
    }

    // One operator per distinct operator-args, each watching its files' namespaces.
    let mut by_args: BTreeMap<&[String], Vec<&str>> = BTreeMap::new();
    for (sample, (csa, ssa)) in samples.iter().zip(&namespaces) {
        by_args
            .entry(sample.hints.operator_args.as_slice())
            .or_default()
            .extend([csa.as_str(), ssa.as_str()]);
    }
    let mut operators = Vec::new();
    for (args, watched) in &by_args {
        let settings = operator_settings(args)?;
        operators.push(
            Operator::start_with(
                client.clone(),
                watched,
                rayop_journal::Options::default(),
                settings,
            )
            .await?,
        );
    }

    // Apply every file at once, client-side first, then server-side: a
    // file's cluster-scoped objects (a Volcano Queue, a PersistentVolume)
    // are then created by one apply and found by the other.
    let cache = tempfile::tempdir()?;
    for server_side in [false, true] {
        let mut children = Vec::new();
        for (sample, (csa, ssa)) in samples.iter().zip(&namespaces) {
            let ns = if server_side { ssa } else { csa };
            let child = kubectl_apply(&env, cache.path(), &sample.path, ns, server_side)?;
            children.push((
                format!(
                    "kubectl apply{} -f {}",
                    if server_side { " --server-side" } else { "" },
                    sample.name
                ),
                child,
            ));
        }
        for (what, child) in children {
            finished(&what, &child.wait_with_output()?)?;
        }
    }

    let mut applied = Vec::new();
    for (sample, (csa, ssa)) in samples.iter().zip(&namespaces) {
        for (ns, mode) in [(csa, "client-side"), (ssa, "server-side")] {
            for submitted in &sample.clusters {
                applied.push(Applied {
                    file: sample.name.clone(),
                    mode,
                    ns: ns.clone(),
                    name: submitted["metadata"]["name"].as_str().unwrap().to_owned(),
                    submitted: submitted.clone(),
                });
            }
        }
    }

    // Nothing pruned: the stored object holds every submitted field.
    let resource = ApiResource::erase::<RayCluster>(&());
    let mut problems = Vec::new();
    for a in &applied {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &a.ns, &resource);
        let stored = serde_json::to_value(api.get(&a.name).await?)?;
        let out = pruning::object_pruned(&a.submitted, &stored);
        problems.extend(
            out.into_iter()
                .map(|p| format!("{} ({}): {p}", a.file, a.mode)),
        );
    }
    assert!(
        problems.is_empty(),
        "pruned or changed fields:\n{}",
        problems.join("\n")
    );

    // Every cluster Ready, all polled together.
    let waits = applied.iter().map(|a| {
        let client = client.clone();
        async move {
            let api = clusters(&client, &a.ns);
            let ready = wait_until(
                &format!("{} ({}) Ready", a.file, a.mode),
                READY_TIMEOUT,
                || async {
                    let c = api.get(&a.name).await?;
                    let s = c.status.clone().unwrap_or_default();
                    Ok(s.phase == Some(Phase::Ready)
                        && s.state == Some(ClusterState::Ready)
                        && s.observed_generation == c.metadata.generation)
                },
            )
            .await;
            match ready {
                Ok(()) => None,
                Err(e) => Some(format!("{e:#}\n{}", describe(&client, a).await)),
            }
        }
    });
    let failures: Vec<String> = futures::future::join_all(waits)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert!(failures.is_empty(), "not Ready:\n{}", failures.join("\n\n"));

    for op in operators {
        op.stop().await?;
    }
    Ok(())
}

#[test]
fn hints_are_read_from_leading_comments_only() {
    let text = "# A sample.\n# rayop-test: needs=cert-manager, scheduler-plugins\n\
                # rayop-test: operator-args=--batch-scheduler=volcano --concurrency=4\n\
                # rayop-test: runs=cert-manager\n\
                apiVersion: v1\n# rayop-test: needs=ignored\n";
    assert_eq!(
        hints(text).unwrap(),
        Hints {
            needs: vec!["cert-manager".into(), "scheduler-plugins".into()],
            operator_args: vec!["--batch-scheduler=volcano".into(), "--concurrency=4".into()],
            runs: vec!["cert-manager".into()],
        }
    );
    assert!(
        hints("# rayop-test: runs=nothing\n").is_err(),
        "an unknown controller"
    );
    assert!(
        hints("# rayop-test: need=x\n").is_err(),
        "a typo is an error"
    );
    assert_eq!(hints("apiVersion: v1\n").unwrap(), Hints::default());
}

#[test]
fn pruning_is_found_and_defaults_are_not() {
    let submitted = serde_json::json!({"a": {"b": [1, {"c": "x"}], "e": {}}, "f": 2});
    let defaulted =
        serde_json::json!({"a": {"b": [1, {"c": "x", "d": true}], "e": {}}, "f": 2.0, "g": 1});
    let mut out = Vec::new();
    pruning::pruned("spec", &submitted, Some(&defaulted), &mut out);
    assert!(out.is_empty(), "{out:?}");
    let lost = serde_json::json!({"a": {"b": [1, {"c": "y"}]}, "f": 2});
    pruning::pruned("spec", &submitted, Some(&lost), &mut out);
    assert_eq!(
        out,
        [
            "spec.a.b[1].c: submitted \"x\", stored \"y\"",
            "spec.a.e: missing"
        ]
    );
}

#[test]
fn operator_args_reach_the_settings() {
    let settings = operator_settings(&["--concurrency=3".into()]).unwrap();
    assert_eq!(settings.concurrency, 3);
    assert!(operator_settings(&["--no-such-flag".into()]).is_err());
}
