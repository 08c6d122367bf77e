//! `/debug/journal` exposed off loopback refuses whoever the Kubernetes API
//! does not vouch for, end to end on the local control plane.
//!
//! `rayop run --debug-addr 0.0.0.0:PORT` (a process, as in a pod), with
//! ServiceAccount tokens minted through the TokenRequest API:
//! - no token, or a forged one: 401; a ServiceAccount without a grant: 403;
//! - a ServiceAccount bound to the shipped `rayop-journal-reader` ClusterRole
//!   (from `deploy/manifests/debug-journal`): 200 with the cluster's journal,
//!   also through `rayop journal show --from-url --token-file`;
//! - a grant of `/debug/journal/<namespace>/*` covers that namespace only
//!   (rayop authorizes the full request path);
//! - the metrics listener answers `/debug/journal` 404;
//! - an operator running as a ServiceAccount with only the shipped
//!   `rayop-token-review` rights authenticates callers (the RBAC is enough),
//!   and one without them answers 503 instead of failing or letting anyone in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "fixtures/deploy/operator_process.rs"]
mod process;
#[path = "fixtures/deploy/render.rs"]
mod render;
mod support;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::{
    authentication::v1::TokenRequest,
    authorization::v1::SubjectAccessReview,
    core::v1::ServiceAccount,
    rbac::v1::{ClusterRole, ClusterRoleBinding},
};
use kube::{Api, Client, api::PostParams};
use process::{OperatorProcess, Spawn, request_with};
use rayop_testenv::{TestEnv, wait_until};
use serde_json::{Value, json};
use support::*;

/// A shipped ClusterRole of the debug-journal variant, renamed for this test.
fn shipped_role(name: &str, unique: &str) -> Result<ClusterRole> {
    let docs = render::kustomize("debug-journal")?;
    let mut role = docs
        .into_iter()
        .find(|d| d["kind"] == "ClusterRole" && d["metadata"]["name"] == name)
        .with_context(|| format!("deploy/manifests/debug-journal has no ClusterRole {name}"))?;
    role["metadata"]["name"] = json!(unique);
    Ok(serde_json::from_value(role)?)
}

async fn create_role(client: &Client, role: &ClusterRole) -> Result<()> {
    Api::<ClusterRole>::all(client.clone())
        .create(&PostParams::default(), role)
        .await?;
    Ok(())
}

/// Binds ClusterRole `role` to ServiceAccount `ns/sa`.
async fn bind(client: &Client, role: &str, ns: &str, sa: &str) -> Result<()> {
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": { "name": format!("{role}-{sa}") },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role },
        "subjects": [{ "kind": "ServiceAccount", "name": sa, "namespace": ns }],
    }))?;
    Api::<ClusterRoleBinding>::all(client.clone())
        .create(&PostParams::default(), &binding)
        .await?;
    Ok(())
}

/// Creates ServiceAccount `ns/name` and mints a token for it.
async fn service_account_token(client: &Client, ns: &str, name: &str) -> Result<String> {
    let accounts = Api::<ServiceAccount>::namespaced(client.clone(), ns);
    let sa: ServiceAccount = serde_json::from_value(json!({ "metadata": { "name": name } }))?;
    accounts.create(&PostParams::default(), &sa).await?;
    let request: TokenRequest = serde_json::from_value(json!({
        "spec": { "audiences": [], "expirationSeconds": 3600 }
    }))?;
    Ok(accounts
        .create_token_request(name, &PostParams::default(), &request)
        .await?
        .status
        .context("no TokenRequest status")?
        .token)
}

/// A kubeconfig for the admin kubeconfig's cluster that authenticates with `token`.
fn kubeconfig_with(env: &TestEnv, token: &str, path: PathBuf) -> Result<PathBuf> {
    let admin: Value = serde_yaml::from_str(&std::fs::read_to_string(env.kubeconfig())?)?;
    let kubeconfig = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "local", "cluster": admin["clusters"][0]["cluster"] }],
        "users": [{ "name": "sa", "user": { "token": token } }],
        "contexts": [{ "name": "sa", "context": { "cluster": "local", "user": "sa" } }],
        "current-context": "sa",
    });
    std::fs::write(&path, serde_yaml::to_string(&kubeconfig)?)?;
    Ok(path)
}

/// Whether the API server's authorizer lets `ns/sa` do `attributes`
/// (resource or non-resource), asked as the admin.
async fn may(client: &Client, ns: &str, sa: &str, attributes: Value) -> Result<bool> {
    let mut spec = json!({ "user": format!("system:serviceaccount:{ns}:{sa}"),
        "groups": ["system:serviceaccounts", format!("system:serviceaccounts:{ns}")] });
    let key = if attributes.get("path").is_some() {
        "nonResourceAttributes"
    } else {
        "resourceAttributes"
    };
    spec[key] = attributes;
    let review: SubjectAccessReview = serde_json::from_value(json!({ "spec": spec }))?;
    Ok(Api::<SubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await?
        .status
        .is_some_and(|s| s.allowed))
}

async fn wait_granted(client: &Client, ns: &str, sa: &str, attributes: Value) -> Result<()> {
    wait_until(
        &format!("{ns}/{sa} is granted {attributes}"),
        TIMEOUT,
        || {
            let attributes = attributes.clone();
            async move { may(client, ns, sa, attributes).await }
        },
    )
    .await
}

fn spawn(kubeconfig: &Path, watched: &str, dir: &Path, who: &str) -> Spawn {
    Spawn {
        kubeconfig: kubeconfig.to_path_buf(),
        namespaces: vec![watched.to_owned()],
        journal: dir.join(format!("journal-{who}")),
        log: dir.join(format!("{who}.log")),
        election: None,
    }
}

async fn status(op: &OperatorProcess, path: &str, token: Option<&str>) -> Result<(u16, String)> {
    let answer = request_with(&op.debug_addr, "GET", path, token).await?;
    Ok((answer.status, answer.text()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exposed_debug_journal_refuses_callers_the_api_server_does_not_vouch_for() -> Result<()>
{
    let (env, ns) = setup("dj").await?;
    let client = env.client();
    let dir = tempfile::tempdir()?;

    // Callers: one bound to the shipped reader ClusterRole, one bound to a
    // reader of another namespace only, one with nothing.
    let reader_role = format!("rayop-journal-reader-{ns}");
    create_role(
        &client,
        &shipped_role("rayop-journal-reader", &reader_role)?,
    )
    .await?;
    let reader = service_account_token(&client, &ns, "reader").await?;
    bind(&client, &reader_role, &ns, "reader").await?;
    let elsewhere_role = format!("rayop-journal-reader-elsewhere-{ns}");
    let mut elsewhere = shipped_role("rayop-journal-reader", &elsewhere_role)?;
    elsewhere.rules.as_mut().unwrap()[0].non_resource_urls =
        Some(vec!["/debug/journal/elsewhere/*".to_owned()]);
    create_role(&client, &elsewhere).await?;
    let other_reader = service_account_token(&client, &ns, "other-reader").await?;
    bind(&client, &elsewhere_role, &ns, "other-reader").await?;
    let nobody = service_account_token(&client, &ns, "nobody").await?;

    let path = format!("/debug/journal/{ns}/jc");
    let get_path = json!({ "path": path, "verb": "get" });
    wait_granted(&client, &ns, "reader", get_path.clone()).await?;
    wait_granted(
        &client,
        &ns,
        "other-reader",
        json!({ "path": "/debug/journal/elsewhere/x", "verb": "get" }),
    )
    .await?;

    // The operator, with the admin's credentials, serving the journal on every address.
    let op = OperatorProcess::spawn_with_debug_host(
        &spawn(env.kubeconfig(), &ns, dir.path(), "admin"),
        "0.0.0.0",
    )
    .await?;
    op.wait_ready("ready\n").await?;
    ready_cluster(&client, &ns, "jc", 1).await?;

    let (code, body) = status(&op, &path, None).await?;
    ensure!(
        code == 401 && body.contains("Bearer"),
        "no token: {code} {body}"
    );
    let (code, body) = status(&op, &path, Some("not-a-token")).await?;
    ensure!(code == 401, "a forged token: {code} {body}");
    let (code, body) = status(&op, &path, Some(&nobody)).await?;
    ensure!(
        code == 403 && body.contains(&format!("system:serviceaccount:{ns}:nobody")),
        "a ServiceAccount without a grant: {code} {body}"
    );
    let (code, body) = status(&op, &path, Some(&other_reader)).await?;
    ensure!(code == 403, "a grant for another namespace: {code} {body}");
    let (code, body) = status(&op, "/debug/journal/elsewhere/x", Some(&other_reader)).await?;
    ensure!(
        code == 404 && body.contains("no journal stream"),
        "that grant covers its own namespace: {code} {body}"
    );
    let (code, body) = status(&op, &path, Some(&reader)).await?;
    ensure!(code == 200, "the reader: {code} {body}");
    ensure!(
        body.contains(&format!("{ns}/jc")) && body.contains("HeadStarting"),
        "the reader gets the journal lines of {ns}/jc:\n{body}"
    );
    // A refused method is refused only once the caller is known.
    let post = request_with(&op.debug_addr, "POST", &path, None).await?;
    ensure!(post.status == 401, "POST without a token: {}", post.status);

    // The metrics listener does not serve it at all.
    let moved = op.get(&path).await?;
    ensure!(
        moved.status == 404 && moved.text().contains("--debug-addr"),
        "/debug/journal on the metrics listener: {} {}",
        moved.status,
        moved.text()
    );

    // The CLI sends the token from a file.
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{reader}\n"))?;
    let show = |token: Option<&Path>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rayop"));
        cmd.args(["journal", "show", &format!("{ns}/jc"), "--from-url"])
            .arg(op.debug_url());
        if let Some(file) = token {
            cmd.arg("--token-file").arg(file);
        }
        cmd.output()
    };
    let shown = show(Some(&token_file))?;
    let timeline = String::from_utf8_lossy(&shown.stdout);
    ensure!(
        shown.status.success() && timeline.contains("Pending → HeadStarting"),
        "journal show --token-file: {timeline}{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let refused = show(None)?;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    ensure!(
        !refused.status.success() && stderr.contains("401"),
        "journal show without a token: {stderr}"
    );
    ensure!(
        !op.log_text().contains(&reader),
        "the operator never logs a caller's token"
    );

    // The shipped review rights are enough: an operator running as a
    // ServiceAccount with only rayop-token-review authenticates and
    // authorizes (the reader passes and finds no stream: this operator
    // watches an empty namespace), and one without them answers 503.
    let empty = env.namespace("dj-empty").await?;
    let review_role = format!("rayop-token-review-{ns}");
    create_role(&client, &shipped_role("rayop-token-review", &review_role)?).await?;
    let reviewer = service_account_token(&client, &ns, "reviewer").await?;
    bind(&client, &review_role, &ns, "reviewer").await?;
    for attributes in [
        json!({ "group": "authentication.k8s.io", "resource": "tokenreviews", "verb": "create" }),
        json!({ "group": "authorization.k8s.io", "resource": "subjectaccessreviews", "verb": "create" }),
    ] {
        wait_granted(&client, &ns, "reviewer", attributes).await?;
    }
    let reviewing = OperatorProcess::spawn_with_debug_host(
        &spawn(
            &kubeconfig_with(&env, &reviewer, dir.path().join("reviewer.kubeconfig"))?,
            &empty,
            dir.path(),
            "reviewer",
        ),
        "0.0.0.0",
    )
    .await?;
    let missing = format!("/debug/journal/{empty}/jc");
    wait_until(
        "the reviewing operator has its journal",
        TIMEOUT,
        || async { Ok(status(&reviewing, &missing, Some(&reader)).await?.0 == 404) },
    )
    .await?;
    let (code, body) = status(&reviewing, &missing, Some(&nobody)).await?;
    ensure!(code == 403, "reviewed by rayop-token-review: {code} {body}");
    let (code, _) = status(&reviewing, &missing, None).await?;
    ensure!(code == 401, "no token: {code}");

    let unable = OperatorProcess::spawn_with_debug_host(
        &spawn(
            &kubeconfig_with(&env, &nobody, dir.path().join("nobody.kubeconfig"))?,
            &empty,
            dir.path(),
            "nobody",
        ),
        "0.0.0.0",
    )
    .await?;
    for _ in 0..2 {
        let (code, body) = status(&unable, &missing, Some(&reader)).await?;
        ensure!(
            code == 503 && body.contains("TokenReview"),
            "an operator that may not create TokenReviews: {code} {body}"
        );
    }
    let (code, _) = status(&unable, &missing, None).await?;
    ensure!(
        code == 401,
        "no token is refused without asking anyone: {code}"
    );
    let (code, _) = status(&op, &path, Some(&reader)).await?;
    ensure!(code == 200, "the first operator still serves");
    Ok(())
}
