//! `headGroupSpec.enableIngress` on a live control plane: rayop creates the
//! Ingress `<c>-head-ingress` with the RayCluster's annotations, the class
//! from `kubernetes.io/ingress.class`, `ingressOptions`' host, path and TLS,
//! and a backend on the head Service (its custom name) at its `dashboard`
//! port; a spec change updates it, and turning the switch off deletes it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use anyhow::Result;
use k8s_openapi::api::networking::v1::{HTTPIngressPath, Ingress};
use kube::Api;
use rayop::crd::{RayCluster, status::Phase};
use rayop_testenv::wait_until;
use serde_json::json;

fn path(ingress: &Ingress) -> HTTPIngressPath {
    ingress.spec.clone().unwrap().rules.unwrap()[0]
        .http
        .clone()
        .unwrap()
        .paths[0]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_ingress_follows_the_spec() -> Result<()> {
    let (env, ns) = setup("ingress").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let api: Api<Ingress> = Api::namespaced(client.clone(), &ns);

    let c: RayCluster = serde_json::from_value(json!({
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {
            "name": "ing",
            "namespace": ns,
            "annotations": {
                "kubernetes.io/ingress.class": "nginx",
                "nginx.ingress.kubernetes.io/rewrite-target": "/$1"
            }
        },
        "spec": {
            "headGroupSpec": {
                "enableIngress": true,
                "ingressOptions": {
                    "host": "ray.example.com",
                    "path": "/ing/(.*)",
                    "pathType": "ImplementationSpecific",
                    "tls": [{"hosts": ["ray.example.com"], "secretName": "ray-tls"}]
                },
                "headService": {"metadata": {"name": "ing-dashboard"}},
                "rayStartParams": {},
                "template": {"spec": {"containers": [{
                    "name": "ray-head",
                    "ports": [{"name": "dashboard", "containerPort": 9265}],
                    "resources": {"limits": {"cpu": "1", "memory": "2Gi"}}
                }]}}
            }
        }
    }))?;
    create(&client, &c).await?;
    wait_phase(&client, &ns, "ing", Phase::Ready).await?;

    let ingress = api.get("ing-head-ingress").await?;
    let annotations = ingress.metadata.annotations.clone().unwrap();
    assert_eq!(
        annotations["nginx.ingress.kubernetes.io/rewrite-target"],
        "/$1"
    );
    assert!(!annotations.contains_key("kubernetes.io/ingress.class"));
    let labels = ingress.metadata.labels.clone().unwrap();
    assert_eq!(labels["ray.io/cluster"], "ing");
    assert_eq!(labels["ray.io/identifier"], "ing-head");
    assert_eq!(
        ingress.metadata.owner_references.clone().unwrap()[0].name,
        "ing"
    );
    let spec = ingress.spec.clone().unwrap();
    assert_eq!(spec.ingress_class_name.as_deref(), Some("nginx"));
    assert_eq!(
        spec.rules.clone().unwrap()[0].host.as_deref(),
        Some("ray.example.com")
    );
    assert_eq!(spec.tls.unwrap()[0].secret_name.as_deref(), Some("ray-tls"));
    let p = path(&ingress);
    assert_eq!(p.path.as_deref(), Some("/ing/(.*)"));
    assert_eq!(p.path_type, "ImplementationSpecific");
    let backend = p.backend.service.unwrap();
    assert_eq!(backend.name, "ing-dashboard", "the custom head Service");
    assert_eq!(
        backend.port.unwrap().number,
        Some(9265),
        "its dashboard port"
    );

    // A spec change updates the Ingress in place.
    patch_spec(
        &client,
        &ns,
        "ing",
        json!({"headGroupSpec": {"ingressOptions": {"path": "/", "pathType": null, "host": null}}}),
    )
    .await?;
    wait_until("the Ingress follows the new options", TIMEOUT, || async {
        let i = api.get("ing-head-ingress").await?;
        let p = path(&i);
        Ok(p.path.as_deref() == Some("/")
            && p.path_type == "Prefix"
            && i.spec.unwrap().rules.unwrap()[0].host.is_none())
    })
    .await?;

    // Switched off, the Ingress goes.
    patch_spec(
        &client,
        &ns,
        "ing",
        json!({"headGroupSpec": {"enableIngress": false}}),
    )
    .await?;
    wait_until("the Ingress deleted", TIMEOUT, || async {
        Ok(api.get_opt("ing-head-ingress").await?.is_none())
    })
    .await?;
    wait_phase(&client, &ns, "ing", Phase::Ready).await?;
    op.stop().await
}
