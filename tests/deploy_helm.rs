//! The Helm chart (`deploy/helm/rayop`) and the plain manifests
//! (`deploy/manifests/`) agree: `helm template` of the chart renders exactly
//! the objects `kubectl kustomize` renders for each variant (except the
//! Namespace, which `helm install --create-namespace` makes), and every chart
//! value reaches the Deployment.
//!
//! helm comes from `deploy/helm/build-helm.sh` (built from its Go module on
//! first use, then cached; Debian bookworm has no helm package).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "fixtures/deploy/render.rs"]
mod render;

use anyhow::{Result, ensure};
use render::*;
use serde_json::Value;

fn same_objects(helm: &[Value], plain: &[Value]) -> Result<()> {
    let plain: Vec<Value> = plain
        .iter()
        .filter(|d| d["kind"] != "Namespace")
        .cloned()
        .collect();
    let (h, p) = (by_identity(helm), by_identity(&plain));
    ensure!(
        h.keys().eq(p.keys()),
        "different objects:\n helm  {:?}\n plain {:?}",
        h.keys().collect::<Vec<_>>(),
        p.keys().collect::<Vec<_>>()
    );
    for (id, object) in &h {
        ensure!(
            Some(object) == p.get(id),
            "{id} differs:\n helm  {}\n plain {}",
            serde_json::to_string_pretty(object)?,
            serde_json::to_string_pretty(&p[id])?
        );
    }
    Ok(())
}

#[test]
fn the_chart_with_defaults_renders_the_cluster_wide_manifests() -> Result<()> {
    same_objects(&helm_template(&[])?, &kustomize("cluster")?)
}

#[test]
fn the_chart_watching_one_namespace_renders_the_namespaced_manifests() -> Result<()> {
    let helm = helm_template(&["watchNamespaces={ray}"])?;
    ensure!(
        !helm.iter().any(|d| d["kind"] == "ClusterRole"),
        "no cluster-wide rights"
    );
    same_objects(&helm, &kustomize("namespaced")?)
}

#[test]
fn the_chart_with_persistence_renders_the_journal_pvc_manifests() -> Result<()> {
    same_objects(
        &helm_template(&["journal.persistence.enabled=true"])?,
        &kustomize("journal-pvc")?,
    )
}

#[test]
fn the_chart_with_the_debug_journal_renders_the_debug_journal_manifests() -> Result<()> {
    same_objects(
        &helm_template(&["debugJournal.enabled=true"])?,
        &kustomize("debug-journal")?,
    )
}

#[test]
fn the_chart_with_a_batch_scheduler_renders_the_batch_scheduler_manifests() -> Result<()> {
    same_objects(
        &helm_template(&["batchScheduler.name=volcano"])?,
        &kustomize("batch-scheduler")?,
    )
}

#[test]
fn the_deprecated_batch_scheduler_switch_and_its_conflict() -> Result<()> {
    let args = operator_args(&helm_template(&["batchScheduler.enabled=true"])?);
    ensure!(
        args.iter().any(|a| a == "--enable-batch-scheduler")
            && !args.iter().any(|a| a.starts_with("--batch-scheduler")),
        "{args:?}"
    );
    let args = operator_args(&helm_template(&[])?);
    ensure!(
        !args.iter().any(|a| a.contains("batch-scheduler")),
        "no scheduler by default: {args:?}"
    );
    let both = helm_template(&[
        "batchScheduler.enabled=true",
        "batchScheduler.name=yunikorn",
    ]);
    let error = format!("{:#}", both.expect_err("both values must fail the render"));
    ensure!(error.contains("exclusive"), "{error}");
    Ok(())
}

#[test]
fn the_debug_journal_on_localhost_needs_no_port_and_no_rbac() -> Result<()> {
    let docs = helm_template(&[
        "debugJournal.enabled=true",
        "debugJournal.localhostOnly=true",
        "debugJournal.port=9191",
    ])?;
    ensure!(
        operator_args(&docs).contains(&"--debug-addr=127.0.0.1:9191".to_owned()),
        "{:?}",
        operator_args(&docs)
    );
    // Otherwise the same objects as without the debug listener.
    let without = helm_template(&[])?;
    ensure!(
        by_identity(&docs).keys().eq(by_identity(&without).keys()),
        "no extra objects"
    );
    let ports = |docs: &[Value]| {
        docs.iter().find(|d| d["kind"] == "Deployment").unwrap()["spec"]["template"]["spec"]
            ["containers"][0]["ports"]
            .clone()
    };
    ensure!(ports(&docs) == ports(&without), "no declared debug port");
    Ok(())
}

#[test]
fn the_chart_installs_the_crds_of_deploy_crd() -> Result<()> {
    let rendered = rayop_testenv::yaml::parse(&helm_run("template", &["--include-crds"])?)?;
    let mut crds: Vec<&Value> = rendered
        .iter()
        .filter(|d| d["kind"] == "CustomResourceDefinition")
        .collect();
    crds.sort_by_key(|d| d["metadata"]["name"].as_str().map(str::to_owned));
    let mut expected = Vec::new();
    for file in [
        "rayclusters.ray.io.yaml",
        "raycronjobs.ray.io.yaml",
        "rayjobs.ray.io.yaml",
        "rayservices.ray.io.yaml",
    ] {
        expected.extend(rayop_testenv::yaml::documents(
            &repo().join("deploy/crd").join(file),
        )?);
    }
    ensure!(
        crds.len() == expected.len() && crds.iter().zip(&expected).all(|(a, b)| *a == b),
        "the chart's crds/ is deploy/crd: {:?}",
        crds.iter()
            .map(|d| &d["metadata"]["name"])
            .collect::<Vec<_>>()
    );
    Ok(())
}

#[test]
fn helm_lint_passes() -> Result<()> {
    helm_run("lint", &["--strict"])?;
    Ok(())
}

#[test]
fn every_value_reaches_the_deployment() -> Result<()> {
    let docs = helm_template(&[
        "image.repository=registry.example/rayop",
        "image.tag=1.2.3",
        "replicas=3",
        "concurrency=8",
        "logFormat=text",
        "watchNamespaces={a,b}",
        "metrics.port=9090",
        "resources.limits.memory=1Gi",
        "journal.retention.keepEntries=50",
        "journal.retention.keepHours=2",
        "journal.retention.deletedRetentionHours=3",
        "journal.persistence.enabled=true",
        "journal.persistence.existingClaim=mine",
        "leaderElection.leaseName=other-lease",
        "leaderElection.leaseDurationSeconds=30",
        "leaderElection.renewDeadlineSeconds=20",
        "leaderElection.retryPeriodSeconds=4",
        "debugJournal.enabled=true",
        "debugJournal.port=9191",
    ])?;
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    ensure!(deployment["spec"]["replicas"] == 3);
    ensure!(container["image"] == "registry.example/rayop:1.2.3");
    ensure!(container["resources"]["limits"]["memory"] == "1Gi");
    ensure!(container["ports"][0]["containerPort"] == 9090);
    ensure!(container["ports"][1]["name"] == "http-debug");
    ensure!(container["ports"][1]["containerPort"] == 9191);
    ensure!(pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "mine");
    ensure!(
        !docs.iter().any(|d| d["kind"] == "PersistentVolumeClaim"),
        "an existing claim is used, not created"
    );
    let args = operator_args(&docs);
    for expected in [
        "--metrics-addr=0.0.0.0:9090",
        "--debug-addr=0.0.0.0:9191",
        "--concurrency=8",
        "--log-format=text",
        "--namespace=a,b",
        "--journal-keep-entries=50",
        "--journal-keep-hours=2",
        "--journal-deleted-retention-hours=3",
        "--leader-elect",
        "--leader-elect-lease=other-lease",
        "--leader-elect-lease-seconds=30",
        "--leader-elect-renew-seconds=20",
        "--leader-elect-retry-seconds=4",
    ] {
        ensure!(
            args.iter().any(|a| a == expected),
            "{expected} missing in {args:?}"
        );
    }
    let lease_role = docs
        .iter()
        .find(|d| d["kind"] == "Role" && d["metadata"]["name"] == "rayop-leader-election")
        .unwrap();
    ensure!(lease_role["rules"][0]["resourceNames"][0] == "other-lease");
    let service = docs.iter().find(|d| d["kind"] == "Service").unwrap();
    ensure!(service["spec"]["ports"][0]["port"] == 9090);
    ensure!(
        service["spec"]["ports"].as_array().map(Vec::len) == Some(1),
        "the metrics Service does not expose the debug port"
    );
    ensure!(
        docs.iter()
            .filter(|d| d["kind"] == "Role" && d["metadata"]["name"] == "rayop")
            .count()
            == 2,
        "a Role in each watched namespace"
    );
    Ok(())
}

#[test]
fn every_flag_the_manifests_pass_is_one_rayop_run_accepts() -> Result<()> {
    use clap::CommandFactory;
    for variant in ["namespaced", "debug-journal"] {
        let mut args = operator_args(&kustomize(variant)?);
        ensure!(args.first().map(String::as_str) == Some("run"));
        args.insert(0, "rayop".to_owned());
        let matches = rayop::cli::Cli::command().try_get_matches_from(&args);
        ensure!(matches.is_ok(), "rayop {args:?}: {:?}", matches.err());
    }
    Ok(())
}

#[test]
fn two_replicas_without_leader_election_are_refused() -> Result<()> {
    let refused = helm_template(&["leaderElection.enabled=false"]);
    ensure!(
        refused.is_err_and(|e| e.to_string().contains("needs leaderElection.enabled")),
        "two replicas would both reconcile"
    );
    let single = helm_template(&["leaderElection.enabled=false", "replicas=1"])?;
    ensure!(
        !operator_args(&single)
            .iter()
            .any(|a| a.starts_with("--leader-elect"))
    );
    ensure!(
        !single
            .iter()
            .any(|d| d["metadata"]["name"] == "rayop-leader-election"),
        "no Lease rights without election"
    );
    Ok(())
}
