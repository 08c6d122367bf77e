//! `spec.authOptions` end to end: under `mode: token` rayop creates the
//! token Secret once (labels, owner, 32 random bytes) and never changes it,
//! not on a spec edit and not after an operator restart; every Ray process
//! gets the token env; Kubernetes token auth mounts the projected token and
//! creates no Secret; a user's `secretName` Secret is never touched (and a
//! missing one is reported); a foreign Secret of rayop's name is a
//! NameConflict; a rayVersion too old for token mode is refused, naming the
//! field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use crate::support::*;
use anyhow::Result;
use base64::Engine;
use k8s_openapi::{
    ByteString,
    api::core::v1::{Container, PodSpec, Secret, Service},
};
use kube::{
    Api,
    api::{ObjectMeta, PostParams},
};
use rayop::crd::{
    RayCluster,
    auth::{AuthMode, AuthOptions},
    status::Phase,
    test_builders::group,
};
use rayop_testenv::wait_until;

fn with_auth(name: &str, version: &str, auth: AuthOptions) -> RayCluster {
    let mut c = RayCluster::test(name)
        .with_group(group("small").with_replicas(1).bounds(0, 3))
        .with_autoscaling();
    c.spec.ray_version = version.into();
    c.spec.auth_options = Some(auth);
    c
}

fn token() -> AuthOptions {
    AuthOptions {
        mode: Some(AuthMode::Token),
        ..AuthOptions::default()
    }
}

fn env_value<'a>(c: &'a Container, name: &str) -> Option<&'a str> {
    c.env
        .iter()
        .flatten()
        .find(|e| e.name == name)
        .and_then(|e| e.value.as_deref())
}

/// The Secret name and key `RAY_AUTH_TOKEN` of `c` reads.
fn token_ref(c: &Container) -> Option<(String, String)> {
    let var = c
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "RAY_AUTH_TOKEN")?;
    let key = var.value_from.as_ref()?.secret_key_ref.as_ref()?;
    Some((key.name.clone(), key.key.clone()))
}

/// The containers of a live pod that must carry the auth env: the Ray
/// container, and the autoscaler or `wait-gcs-ready` where present.
fn auth_containers(pod: &PodSpec) -> Vec<&Container> {
    let mut listed = vec![&pod.containers[0]];
    listed.extend(pod.containers.iter().filter(|c| c.name == "autoscaler"));
    listed.extend(
        pod.init_containers
            .iter()
            .flatten()
            .filter(|c| c.name == "wait-gcs-ready"),
    );
    listed
}

async fn live_pod_specs(client: &kube::Client, ns: &str, name: &str) -> Result<Vec<PodSpec>> {
    let mut specs = Vec::new();
    for node in ["head", "worker"] {
        let found = pods(client, ns, name, node).await?;
        assert!(!found.is_empty(), "{name} has {node} pods");
        specs.extend(found.into_iter().filter_map(|p| p.spec));
    }
    Ok(specs)
}

fn secret_token(secret: &Secret) -> Vec<u8> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get("auth_token"))
        .map(|v| v.0.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_mode_creates_the_secret_once_and_every_ray_process_reads_it() -> Result<()> {
    let (env, ns) = setup("auth-token").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let created = create(&client, &cluster(with_auth("tok", "2.53.0", token()), &ns)).await?;
    wait_phase(&client, &ns, "tok", Phase::Ready).await?;

    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let secret = must(secrets.get_opt("tok").await?, "Secret tok")?;
    let labels = secret.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels.get("ray.io/cluster").map(String::as_str),
        Some("tok")
    );
    let owner = secret.metadata.owner_references.clone().unwrap_or_default();
    assert_eq!(owner.len(), 1);
    assert_eq!(owner[0].uid, uid(&created));
    assert_eq!(owner[0].controller, Some(true));
    let token = secret_token(&secret);
    let raw = base64::engine::general_purpose::STANDARD.decode(&token)?;
    assert_eq!(raw.len(), 32, "auth_token is base64 of 32 random bytes");

    for pod in live_pod_specs(&client, &ns, "tok").await? {
        let listed = auth_containers(&pod);
        assert!(listed.len() >= 2, "the Ray container and a sidecar or init");
        for c in listed {
            assert_eq!(env_value(c, "RAY_AUTH_MODE"), Some("token"), "{}", c.name);
            assert_eq!(
                token_ref(c),
                Some(("tok".to_owned(), "auth_token".to_owned())),
                "{}",
                c.name
            );
        }
    }

    // A spec edit re-applies the head set; the Secret stays as it was.
    patch_spec(
        &client,
        &ns,
        "tok",
        serde_json::json!({ "headServiceAnnotations": { "edited": "once" } }),
    )
    .await?;
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    let annotated = |key: &'static str| {
        let services = services.clone();
        async move {
            let svc = services.get("tok-head-svc").await?;
            Ok(svc
                .metadata
                .annotations
                .unwrap_or_default()
                .contains_key(key))
        }
    };
    wait_until("the head Service edited", TIMEOUT, || annotated("edited")).await?;
    let after_edit = must(secrets.get_opt("tok").await?, "Secret tok")?;
    assert_eq!(
        after_edit.metadata.resource_version,
        secret.metadata.resource_version
    );
    assert_eq!(secret_token(&after_edit), token);

    // A new operator, with an empty memory, edits again: still the same Secret.
    op.stop().await?;
    let op = Operator::start(client.clone(), &[&ns]).await?;
    patch_spec(
        &client,
        &ns,
        "tok",
        serde_json::json!({ "headServiceAnnotations": { "edited": "once", "again": "yes" } }),
    )
    .await?;
    wait_until("the head Service edited again", TIMEOUT, || {
        annotated("again")
    })
    .await?;
    wait_phase(&client, &ns, "tok", Phase::Ready).await?;
    let after_restart = must(secrets.get_opt("tok").await?, "Secret tok")?;
    assert_eq!(
        after_restart.metadata.resource_version,
        secret.metadata.resource_version
    );
    assert_eq!(secret_token(&after_restart), token);

    // A deleted Secret is created again (with a new token).
    secrets.delete("tok", &Default::default()).await?;
    wait_until("the Secret recreated", TIMEOUT, || async {
        Ok(secrets
            .get_opt("tok")
            .await?
            .is_some_and(|s| s.metadata.uid != secret.metadata.uid))
    })
    .await?;
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_token_auth_mounts_the_projected_token_and_creates_no_secret() -> Result<()> {
    let (env, ns) = setup("auth-k8s").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let auth = AuthOptions {
        enable_k8s_token_auth: Some(true),
        ..token()
    };
    create(&client, &cluster(with_auth("kauth", "2.55.0", auth), &ns)).await?;
    wait_phase(&client, &ns, "kauth", Phase::Ready).await?;
    for pod in live_pod_specs(&client, &ns, "kauth").await? {
        let volume = pod
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == "ray-token")
            .and_then(|v| v.projected.clone())
            .and_then(|p| p.sources)
            .unwrap_or_default();
        assert_eq!(
            volume
                .first()
                .and_then(|s| s.service_account_token.as_ref())
                .map(|t| t.path.as_str()),
            Some("token")
        );
        for c in auth_containers(&pod) {
            assert_eq!(env_value(c, "RAY_AUTH_MODE"), Some("token"));
            assert_eq!(env_value(c, "RAY_ENABLE_K8S_TOKEN_AUTH"), Some("true"));
            assert_eq!(token_ref(c), None);
            let mount = c
                .volume_mounts
                .iter()
                .flatten()
                .find(|m| m.name == "ray-token")
                .cloned()
                .unwrap();
            assert_eq!(mount.mount_path, "/var/run/secrets/ray.io/serviceaccount");
            assert_eq!(mount.read_only, Some(true));
        }
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    assert!(secrets.get_opt("kauth").await?.is_none());
    op.stop().await
}

fn user_secret(name: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "auth_token".to_owned(),
            ByteString(b"the-user-token".to_vec()),
        )])),
        ..Secret::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_secret_is_never_touched_and_a_missing_one_is_reported() -> Result<()> {
    let (env, ns) = setup("auth-user").await?;
    let client = env.client();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let mine = secrets
        .create(&PostParams::default(), &user_secret("mine"))
        .await?;
    // A Secret under rayop's own name that is not the cluster's.
    let foreign = secrets
        .create(&PostParams::default(), &user_secret("clash"))
        .await?;
    let op = Operator::start(client.clone(), &[&ns]).await?;

    let named = AuthOptions {
        secret_name: Some("mine".into()),
        ..token()
    };
    create(&client, &cluster(with_auth("uses", "2.53.0", named), &ns)).await?;
    wait_phase(&client, &ns, "uses", Phase::Ready).await?;
    for pod in live_pod_specs(&client, &ns, "uses").await? {
        for c in auth_containers(&pod) {
            assert_eq!(
                token_ref(c),
                Some(("mine".to_owned(), "auth_token".to_owned()))
            );
        }
    }
    let still = must(secrets.get_opt("mine").await?, "Secret mine")?;
    assert_eq!(
        still.metadata.resource_version,
        mine.metadata.resource_version
    );
    assert!(still.metadata.owner_references.is_none());
    assert!(
        secrets.get_opt("uses").await?.is_none(),
        "no Secret of rayop's"
    );

    let absent = AuthOptions {
        secret_name: Some("absent".into()),
        ..token()
    };
    create(&client, &cluster(with_auth("lacks", "2.53.0", absent), &ns)).await?;
    wait_event(&client, &ns, "a Warning about the missing Secret", |e| {
        e.reason.as_deref() == Some("AuthSecretNotReady")
            && e.involved_object.name.as_deref() == Some("lacks")
            && e.message
                .as_deref()
                .is_some_and(|m| m.contains("spec.authOptions.secretName") && m.contains("absent"))
    })
    .await?;
    assert!(secrets.get_opt("absent").await?.is_none(), "never created");

    create(
        &client,
        &cluster(with_auth("clash", "2.53.0", token()), &ns),
    )
    .await?;
    wait_event(&client, &ns, "a NameConflict on the foreign Secret", |e| {
        e.reason.as_deref() == Some("NameConflict")
            && e.involved_object.name.as_deref() == Some("clash")
            && e.message
                .as_deref()
                .is_some_and(|m| m.contains("Secret clash"))
    })
    .await?;
    let untouched = must(secrets.get_opt("clash").await?, "Secret clash")?;
    assert_eq!(
        untouched.metadata.resource_version,
        foreign.metadata.resource_version
    );
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ray_version_too_old_for_token_mode_is_refused_naming_the_field() -> Result<()> {
    let (env, ns) = setup("auth-old").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    create(&client, &cluster(with_auth("old", "2.46.0", token()), &ns)).await?;
    let c = wait_phase(&client, &ns, "old", Phase::Pending).await?;
    let condition = c
        .status
        .unwrap_or_default()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "InvalidSpec")
        .unwrap();
    assert_eq!(condition.status, "True");
    assert!(
        condition.message.contains("spec.rayVersion")
            && condition.message.contains("spec.authOptions.mode: token"),
        "{}",
        condition.message
    );
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    assert!(secrets.get_opt("old").await?.is_none());
    assert!(statefulset(&client, &ns, "old-head").await?.is_none());
    op.stop().await
}
