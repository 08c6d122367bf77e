//! Hand edits of what rayop owns are reverted: `kubectl set image` on a
//! worker StatefulSet, a rule added to the autoscaler's Role with
//! `kubectl patch`, and a head Service's selector re-pointed all go back to
//! the RayCluster's spec within seconds, each with a `DriftReverted` Warning
//! naming the field and who changed it. A field rayop does not set (an
//! annotation added with `kubectl annotate`) stays the user's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use anyhow::{Result, ensure};
use k8s_openapi::api::{
    apps::v1::StatefulSet,
    core::v1::{Event, Service},
    rbac::v1::Role,
};
use kube::Api;
use rayop::crd::{
    RayCluster, names,
    test_builders::{TEST_GROUP, group},
    worker_group::WorkloadKind,
};
use rayop_testenv::{TestEnv, wait_until};

fn kubectl(env: &TestEnv, args: &[&str]) -> Result<()> {
    let out = env.kubectl().args(args).output()?;
    ensure!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn worker_image(s: &StatefulSet) -> Option<String> {
    s.spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .containers
        .first()?
        .image
        .clone()
}

fn container_name(s: &StatefulSet) -> Option<String> {
    Some(
        s.spec
            .as_ref()?
            .template
            .spec
            .as_ref()?
            .containers
            .first()?
            .name
            .clone(),
    )
}

async fn wait_reverted_event(client: &kube::Client, ns: &str, field: &str) -> Result<()> {
    let field = field.to_owned();
    let found = wait_event(
        client,
        ns,
        &format!("a DriftReverted Event naming {field}"),
        |e| {
            e.reason.as_deref() == Some("DriftReverted")
                && e.type_.as_deref() == Some("Warning")
                && e.message.as_deref().is_some_and(|m| m.contains(&field))
        },
    )
    .await;
    if found.is_err() {
        let events: Api<Event> = Api::namespaced(client.clone(), ns);
        for e in events.list(&Default::default()).await?.items {
            eprintln!("Event {:?} {:?}: {:?}", e.type_, e.reason, e.message);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_edits_are_reverted_and_other_fields_stay() -> Result<()> {
    let (env, ns) = setup("drift").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    // In-tree autoscaling for the Role; the group kept a StatefulSet.
    let c = RayCluster::test("edited")
        .with_group(
            group(TEST_GROUP)
                .with_replicas(1)
                .bounds(0, 2)
                .with_kind(WorkloadKind::StatefulSet),
        )
        .with_autoscaling();
    create(&client, &cluster(c, &ns)).await?;
    wait_phase(&client, &ns, "edited", rayop::crd::status::Phase::Ready).await?;

    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    let worker = names::worker_workload_name("edited", TEST_GROUP);
    let live = sets.get(&worker).await?;
    let image = must(worker_image(&live), "the worker image")?;
    let container = must(container_name(&live), "the worker container")?;

    // A field rayop does not set, added by hand, first.
    kubectl(
        &env,
        &["annotate", "-n", &ns, "statefulset", &worker, "team=data"],
    )?;

    // `kubectl set image` on the worker StatefulSet.
    kubectl(
        &env,
        &[
            "set",
            "image",
            "-n",
            &ns,
            &format!("statefulset/{worker}"),
            &format!("{container}=example.invalid/hijacked:1"),
        ],
    )?;
    wait_until("the worker image is reverted", TIMEOUT, || {
        let (sets, worker, image) = (sets.clone(), worker.clone(), image.clone());
        async move { Ok(worker_image(&sets.get(&worker).await?).as_deref() == Some(&image)) }
    })
    .await?;
    wait_reverted_event(
        &client,
        &ns,
        &format!("spec.template.spec.containers[name={container}].image (changed by kubectl-set)"),
    )
    .await?;
    let annotations = sets
        .get(&worker)
        .await?
        .metadata
        .annotations
        .unwrap_or_default();
    ensure!(
        annotations.get("team").map(String::as_str) == Some("data"),
        "the user's annotation was removed: {annotations:?}"
    );

    // A rule added to the autoscaler's Role.
    let roles: Api<Role> = Api::namespaced(client.clone(), &ns);
    let role = names::autoscaler_service_account_name("edited");
    let rules = roles.get(&role).await?.rules;
    kubectl(
        &env,
        &[
            "patch",
            "-n",
            &ns,
            "role",
            &role,
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/rules/-","value":{"apiGroups":[""],"resources":["secrets"],"verbs":["get","list"]}}]"#,
        ],
    )?;
    wait_until("the Role's rules are reverted", TIMEOUT, || {
        let (roles, role, rules) = (roles.clone(), role.clone(), rules.clone());
        async move { Ok(roles.get(&role).await?.rules == rules) }
    })
    .await?;
    wait_reverted_event(&client, &ns, &format!("Role {role}: rules")).await?;

    // The head Service re-pointed at something else.
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    let head = names::head_service_name("edited");
    let selector = services.get(&head).await?.spec.and_then(|s| s.selector);
    kubectl(
        &env,
        &[
            "patch",
            "-n",
            &ns,
            "service",
            &head,
            "--type=merge",
            "-p",
            r#"{"spec":{"selector":{"app":"web"}}}"#,
        ],
    )?;
    wait_until("the head Service's selector is reverted", TIMEOUT, || {
        let (services, head, selector) = (services.clone(), head.clone(), selector.clone());
        async move { Ok(services.get(&head).await?.spec.and_then(|s| s.selector) == selector) }
    })
    .await?;
    wait_reverted_event(&client, &ns, &format!("Service {head}: spec.selector")).await?;

    wait_phase(&client, &ns, "edited", rayop::crd::status::Phase::Ready).await?;
    op.stop().await
}
