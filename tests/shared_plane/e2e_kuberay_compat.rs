//! A KubeRay v1.7 manifest using `autoscalerOptions.command`/`args`, the
//! `ray.io/overwrite-container-cmd` annotation and a custom
//! `headService.metadata.name` applies unchanged, reaches Ready, and the live
//! objects carry what its author asked for. The default head Service is
//! headless, and is replaced when a new serviceType cannot be headless.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use anyhow::Result;
use k8s_openapi::api::core::v1::{Container, EnvVar, Service};
use kube::{Api, api::ObjectMeta};
use rayop::crd::{RayCluster, status::Phase};

fn literal<'a>(container: &'a Container, name: &str) -> Option<&'a str> {
    container
        .env
        .iter()
        .flatten()
        .find(|e: &&EnvVar| e.name == name)
        .and_then(|e| e.value.as_deref())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_7_manifest_gets_its_commands_and_head_service_name() -> Result<()> {
    let (env, ns) = setup("compat").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    env.apply_yaml(
        &repo().join("tests/fixtures/kuberay-v1.7-compat.yaml"),
        Some(&ns),
    )
    .await?;
    let ready = wait_phase(&client, &ns, "compat", Phase::Ready).await?;
    assert_eq!(
        ready
            .status
            .and_then(|s| s.head)
            .and_then(|h| h.service_name)
            .as_deref(),
        Some("compat-head"),
        "status.head.serviceName names the custom Service"
    );

    let services = Api::<Service>::namespaced(client.clone(), &ns);
    must(
        services.get_opt("compat-head").await?,
        "Service compat-head",
    )?;
    assert!(
        services.get_opt("compat-head-svc").await?.is_none(),
        "no default-named head Service"
    );

    let head = must(
        statefulset(&client, &ns, "compat-head").await?,
        "head StatefulSet",
    )?;
    let head_spec = head.spec.unwrap();
    assert_eq!(head_spec.service_name.as_deref(), Some("compat-head"));
    let containers = head_spec.template.spec.unwrap().containers;
    let ray = &containers[0];
    assert_eq!(ray.command.as_deref().unwrap(), ["/bin/bash", "-c"]);
    assert_eq!(
        ray.args.as_deref().unwrap(),
        ["echo custom; exec $KUBERAY_GEN_RAY_START_CMD"]
    );
    assert!(literal(ray, "KUBERAY_GEN_RAY_START_CMD").is_some_and(|c| c.starts_with("ray start")));
    let sidecar = containers
        .iter()
        .find(|c| c.name == "autoscaler")
        .expect("autoscaler sidecar");
    assert_eq!(
        sidecar.command.as_deref().unwrap(),
        ["/bin/bash", "-lc", "--"]
    );
    assert_eq!(
        sidecar.args.as_deref().unwrap(),
        ["echo starting; $KUBERAY_GEN_AUTOSCALER_START_CMD"]
    );
    assert!(
        literal(sidecar, "KUBERAY_GEN_AUTOSCALER_START_CMD")
            .is_some_and(|c| c.starts_with("ray kuberay-autoscaler"))
    );

    let workers = pods(&client, &ns, "compat", "worker").await?;
    assert_eq!(workers.len(), 1, "one worker pod");
    let worker = &workers[0].spec.as_ref().unwrap().containers[0];
    let fqdn = format!("compat-head.{ns}.svc.cluster.local");
    assert_eq!(literal(worker, "FQ_RAY_IP"), Some(fqdn.as_str()));
    assert_eq!(literal(worker, "RAY_IP"), Some("compat-head"));
    assert_eq!(
        literal(worker, "RAY_ADDRESS"),
        Some(format!("{fqdn}:6379").as_str())
    );
    assert!(
        worker.args.as_deref().unwrap()[0].contains(&format!("--address={fqdn}:6379")),
        "worker ray start joins the custom Service: {:?}",
        worker.args
    );
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_refuses_a_head_service_name_that_is_no_dns_label() -> Result<()> {
    let (env, ns) = setup("compat-bad").await?;
    let client = env.client();
    let mut c = cluster(RayCluster::test("badsvc"), &ns);
    let head = c.spec.head_group_spec.get_or_insert_with(Default::default);
    head.head_service = Some(Service {
        metadata: ObjectMeta {
            name: Some("Not_A_Label".into()),
            ..ObjectMeta::default()
        },
        ..Service::default()
    });
    let err = create(&client, &c).await.expect_err("refused");
    let message = format!("{err:#}");
    assert!(
        message.contains("spec.headGroupSpec.headService.metadata.name"),
        "{message}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_head_service_is_headless_and_is_replaced_when_its_type_changes() -> Result<()>
{
    let (env, ns) = setup("compat-headless").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    create(&client, &cluster(workers("hl", 1), &ns)).await?;
    converged(&client, &ns, "hl", 1).await?;
    let services = Api::<Service>::namespaced(client.clone(), &ns);
    let shape = |svc: Service| svc.spec.map(|s| (s.type_, s.cluster_ip));
    let svc = must(services.get_opt("hl-head-svc").await?, "head Service")?;
    let uid = svc.metadata.uid.clone();
    let spec = svc.spec.clone().unwrap();
    assert_eq!(spec.cluster_ip.as_deref(), Some("None"), "headless");
    assert_eq!(spec.publish_not_ready_addresses, Some(true));
    let ready = clusters(&client, &ns).get("hl").await?;
    let head = ready.status.unwrap().head.unwrap();
    assert_eq!(
        head.service_ip, head.pod_ip,
        "a headless Service reports the pod IP"
    );

    // NodePort cannot be headless: the Service is replaced, not left failing.
    patch_spec(
        &client,
        &ns,
        "hl",
        serde_json::json!({"headGroupSpec": {"serviceType": "NodePort"}}),
    )
    .await?;
    rayop_testenv::wait_until(
        "a NodePort head Service with a cluster IP",
        TIMEOUT,
        || async {
            Ok(services
                .get_opt("hl-head-svc")
                .await?
                .and_then(shape)
                .is_some_and(|(t, ip): (Option<String>, Option<String>)| {
                    t.as_deref() == Some("NodePort") && ip.is_some_and(|ip| ip != "None")
                }))
        },
    )
    .await?;
    let replaced = must(services.get_opt("hl-head-svc").await?, "head Service")?;
    assert_ne!(replaced.metadata.uid, uid, "recreated");
    wait_phase(&client, &ns, "hl", Phase::Ready).await?;
    op.stop().await
}
