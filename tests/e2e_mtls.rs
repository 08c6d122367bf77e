//! `tlsOptions.enabled` end to end, against a real control plane and the
//! real cert-manager controller (built from cert-manager's Go module by
//! `deploy/local/cert-manager.sh`):
//! - before cert-manager's CRDs exist, a TLS cluster is refused on
//!   `spec.tlsOptions.enabled` with a Warning naming cert-manager, and gets
//!   no workload;
//! - once the CRDs are installed (rayop keeps running), the PKI objects
//!   appear with their names, labels and specs, and no workload is created
//!   while the certificates are not Ready (`CertificatesReady` False);
//! - with cert-manager running, the certificates become Ready, the workloads
//!   and pods appear with the TLS env, volume and `wait-for-tls-ip-san` init
//!   container, the certificates list the live pod IPs, and scaling the
//!   workers re-issues the worker certificate only;
//! - a TLS spec that sets a reserved env name is refused on that field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use anyhow::{Context as _, Result, ensure};
use k8s_openapi::api::{
    apps::v1::StatefulSet,
    core::v1::{Container, EnvVar, Pod},
};
use kube::{Api, Client, api::ListParams};
use rayop::{
    crd::{
        RayCluster,
        tls::{PkiNames, TlsOptions},
    },
    owned::cert_manager::{Certificate, Issuer},
};
use rayop_testenv::{third_party_crds, wait_until};
use support::*;

fn tls_cluster(name: &str, ns: &str, replicas: i32) -> RayCluster {
    let mut c = cluster(workers(name, replicas), ns);
    c.spec.tls_options = Some(TlsOptions {
        enabled: Some(true),
    });
    c
}

fn condition(c: &RayCluster, kind: &str) -> Option<(String, String, String)> {
    c.status
        .as_ref()?
        .conditions
        .iter()
        .find(|x| x.type_ == kind)
        .map(|x| (x.status.clone(), x.reason.clone(), x.message.clone()))
}

async fn statefulsets(client: &Client, ns: &str) -> Result<Vec<StatefulSet>> {
    Ok(Api::<StatefulSet>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await?
        .items)
}

async fn certificate(client: &Client, ns: &str, name: &str) -> Result<Option<Certificate>> {
    Ok(Api::<Certificate>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await?)
}

fn env_value(env: &[EnvVar], name: &str) -> Option<String> {
    env.iter()
        .find(|e| e.name == name)
        .and_then(|e| e.value.clone())
}

fn has_tls_env(env: &[EnvVar]) -> bool {
    env_value(env, "RAY_USE_TLS").as_deref() == Some("1")
        && env_value(env, "RAY_TLS_SERVER_CERT").as_deref() == Some("/etc/ray/tls/tls.crt")
        && env_value(env, "RAY_TLS_SERVER_KEY").as_deref() == Some("/etc/ray/tls/tls.key")
        && env_value(env, "RAY_TLS_CA_CERT").as_deref() == Some("/etc/ray/tls/ca.crt")
}

fn pod_ips(pods: &[Pod]) -> Vec<String> {
    let mut ips: Vec<String> = pods
        .iter()
        .filter_map(|p| p.status.as_ref()?.pod_ip.clone())
        .chain(["127.0.0.1".to_owned()])
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_from_no_cert_manager_to_issued_certificates() -> Result<()> {
    let (env, ns) = setup("mtls").await?;
    let client = env.client();
    let operator = Operator::start(client.clone(), &[&ns]).await?;
    let name = "tls";
    let created = create(&client, &tls_cluster(name, &ns, 1)).await?;
    let uid = uid(&created);
    let names = PkiNames::of(name, &uid);
    let api = clusters(&client, &ns);

    // 1. No cert-manager: refused on the field, a Warning, nothing created.
    wait_until("InvalidSpec naming cert-manager", TIMEOUT, || async {
        let c = api.get(name).await?;
        Ok(
            condition(&c, "InvalidSpec").is_some_and(|(status, _, message)| {
                status == "True"
                    && message.contains("spec.tlsOptions.enabled")
                    && message.contains("cert-manager")
            }),
        )
    })
    .await?;
    wait_event(
        &client,
        &ns,
        "InvalidSpec Warning naming cert-manager",
        |e| {
            e.type_.as_deref() == Some("Warning")
                && e.message
                    .as_deref()
                    .is_some_and(|m| m.contains("cert-manager.io/v1"))
        },
    )
    .await?;
    ensure!(statefulsets(&client, &ns).await?.is_empty());

    // 2. cert-manager's CRDs arrive, its controller not yet: the PKI is
    //    created, the workloads are not.
    env.apply_crd(&third_party_crds("cert-manager")?).await?;
    wait_until("the five PKI objects", TIMEOUT, || async {
        let issuers = Api::<Issuer>::namespaced(client.clone(), &ns)
            .list(&ListParams::default())
            .await
            .map(|l| l.items.len())
            .unwrap_or(0);
        let certificates = Api::<Certificate>::namespaced(client.clone(), &ns)
            .list(&ListParams::default())
            .await
            .map(|l| l.items.len())
            .unwrap_or(0);
        Ok(issuers == 2 && certificates == 3)
    })
    .await?;
    let issuers = Api::<Issuer>::namespaced(client.clone(), &ns);
    let self_signed = issuers.get(&names.self_signed_issuer).await?;
    ensure!(self_signed.spec.self_signed.is_some());
    let ca_issuer = issuers.get(&names.ca_issuer).await?;
    ensure!(
        ca_issuer.spec.ca.as_ref().map(|c| c.secret_name.clone()) == Some(names.ca_secret.clone())
    );
    ensure!(names.ca_secret == format!("{name}-ca-secret-{}", &uid[..8]));
    let ca = must(
        certificate(&client, &ns, &names.ca_certificate).await?,
        "CA",
    )?;
    ensure!(ca.spec.is_ca == Some(true) && ca.spec.secret_name == names.ca_secret);
    ensure!(ca.spec.issuer_ref.name == names.self_signed_issuer);
    let head_cert = must(
        certificate(&client, &ns, &names.head_certificate).await?,
        "head",
    )?;
    ensure!(head_cert.spec.secret_name == names.head_secret);
    ensure!(head_cert.spec.issuer_ref.name == names.ca_issuer);
    ensure!(
        head_cert.spec.dns_names.clone().unwrap_or_default()
            == [
                "localhost".to_owned(),
                format!("{name}-head-svc.{ns}.svc.cluster.local")
            ]
    );
    ensure!(head_cert.spec.ip_addresses.clone().unwrap_or_default() == ["127.0.0.1"]);
    let labels = head_cert.metadata.labels.clone().unwrap_or_default();
    ensure!(
        labels
            .get("app.kubernetes.io/component")
            .map(String::as_str)
            == Some("head-certificate")
    );
    ensure!(labels.get("ray.io/cluster").map(String::as_str) == Some(name));
    ensure!(labels.get("app.kubernetes.io/name").map(String::as_str) == Some("kuberay"));
    wait_until("CertificatesReady False", TIMEOUT, || async {
        let c = api.get(name).await?;
        Ok(
            condition(&c, "CertificatesReady").is_some_and(|(status, reason, _)| {
                status == "False" && reason == "CertificatesNotReady"
            }),
        )
    })
    .await?;
    ensure!(
        statefulsets(&client, &ns).await?.is_empty(),
        "a workload was created before its certificates were Ready"
    );
    ensure!(pods(&client, &ns, name, "head").await?.is_empty());

    // 3. cert-manager runs: certificates Ready, then workloads and pods.
    let log = std::env::temp_dir().join(format!("cert-manager-{ns}.log"));
    let _cert_manager = CertManager::start(&env, Some(&ns), &log)?;
    wait_until("CertificatesReady True", TIMEOUT, || async {
        let c = api.get(name).await?;
        Ok(condition(&c, "CertificatesReady").is_some_and(|(status, _, _)| status == "True"))
    })
    .await
    .with_context(|| format!("cert-manager's log: {}", log.display()))?;
    wait_event(&client, &ns, "MTLSPKIReady", |e| {
        e.reason.as_deref() == Some("MTLSPKIReady")
    })
    .await?;
    converged(&client, &ns, name, 1).await?;
    let head = pods(&client, &ns, name, "head").await?;
    let worker = pods(&client, &ns, name, "worker").await?;
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    for (workload, secret) in [
        (format!("{name}-head"), &names.head_secret),
        (format!("{name}-small"), &names.worker_secret),
    ] {
        let pod = sts
            .get(&workload)
            .await?
            .spec
            .unwrap()
            .template
            .spec
            .unwrap();
        let init = pod.init_containers.clone().unwrap_or_default();
        ensure!(
            init.first().map(|c| c.name.as_str()) == Some("wait-for-tls-ip-san"),
            "{workload}: {init:?}"
        );
        let volume = pod.volumes.clone().unwrap_or_default();
        ensure!(
            volume.iter().any(|v| v.name == "ray-tls"
                && v.secret.as_ref().and_then(|s| s.secret_name.as_ref()) == Some(secret)),
            "{workload}: {volume:?}"
        );
        ensure!(
            has_tls_env(pod.containers[0].env.as_deref().unwrap_or_default()),
            "{workload}"
        );
    }

    // The certificates follow the live pod IPs.
    let want_head = pod_ips(&head);
    wait_until(
        "the head certificate lists the head pod IP",
        TIMEOUT,
        || async {
            let c = certificate(&client, &ns, &names.head_certificate).await?;
            Ok(c.and_then(|c| c.spec.ip_addresses) == Some(want_head.clone()))
        },
    )
    .await?;
    let want_workers = pod_ips(&worker);
    wait_until(
        "the worker certificate lists the worker pod IP",
        TIMEOUT,
        || async {
            let c = certificate(&client, &ns, &names.worker_certificate).await?;
            Ok(c.and_then(|c| c.spec.ip_addresses) == Some(want_workers.clone()))
        },
    )
    .await?;
    let head_generation = certificate(&client, &ns, &names.head_certificate)
        .await?
        .and_then(|c| c.metadata.generation);

    // 4. Scaling the workers re-issues the worker certificate only.
    scale(&client, &ns, name, 3).await?;
    converged(&client, &ns, name, 3).await?;
    let worker = pods(&client, &ns, name, "worker").await?;
    let want_workers = pod_ips(&worker);
    ensure!(want_workers.len() == 4, "{want_workers:?}");
    wait_until(
        "the worker certificate lists all three workers, Ready",
        TIMEOUT,
        || async {
            let c = certificate(&client, &ns, &names.worker_certificate).await?;
            Ok(
                c.is_some_and(|c| {
                    c.is_ready() && c.spec.ip_addresses == Some(want_workers.clone())
                }),
            )
        },
    )
    .await?;
    let head_after = certificate(&client, &ns, &names.head_certificate)
        .await?
        .and_then(|c| c.metadata.generation);
    ensure!(
        head_after == head_generation,
        "the head certificate changed on a worker scale"
    );
    operator.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reserved_tls_env_name_is_refused_on_its_field() -> Result<()> {
    let (env, ns) = setup("mtls-invalid").await?;
    let client = env.client();
    let operator = Operator::start(client.clone(), &[&ns]).await?;
    let name = "tls-bad";
    let mut c = tls_cluster(name, &ns, 1);
    let template = c.spec.worker_group_specs[0]
        .template
        .get_or_insert_with(Default::default);
    template
        .spec
        .get_or_insert_with(Default::default)
        .containers = vec![Container {
        name: "ray-worker".into(),
        image: Some("rayproject/ray:2.46.0".into()),
        env: Some(vec![EnvVar {
            name: "RAY_TLS_CA_CERT".into(),
            value: Some("/mine/ca.crt".into()),
            ..EnvVar::default()
        }]),
        ..Container::default()
    }];
    create(&client, &c).await?;
    let api = clusters(&client, &ns);
    wait_until("InvalidSpec naming the env field", TIMEOUT, || async {
        let c = api.get(name).await?;
        Ok(
            condition(&c, "InvalidSpec").is_some_and(|(status, _, message)| {
                status == "True"
                    && message.contains(
                        "spec.workerGroupSpecs[0].template.spec.containers[0].env[0].name",
                    )
            }),
        )
    })
    .await?;
    ensure!(statefulsets(&client, &ns).await?.is_empty());
    operator.stop().await
}
