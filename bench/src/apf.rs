//! Counting the operator's API requests by verb, on the API server's side.
//!
//! kube-apiserver's `apiserver_request_total` has no user or user-agent
//! label, and the harness does not enable the audit log. API Priority and
//! Fairness (on by default) does label by *flow schema*, so:
//!
//! 1. the operator gets an identity of its own: the ServiceAccount
//!    [`OPERATOR_SA`] in [`SYSTEM_NAMESPACE`], bound to `cluster-admin`, and a
//!    kubeconfig holding a token for it (TokenRequest API);
//! 2. one FlowSchema per verb matches that ServiceAccount and that verb
//!    (`rayop-bench-<verb>`), plus a catch-all for anything else (discovery,
//!    `/version`), all sent to the built-in `workload-low` priority level, which
//!    is where any ServiceAccount's requests go by default;
//!    Writes to the resources in [`WRITE_RESOURCES`] have a schema per verb
//!    and resource (`rayop-bench-patch.statefulsets`), matched first;
//! 3. `apiserver_flowcontrol_dispatched_requests_total{flow_schema=…}` read
//!    from `/metrics` then counts exactly the operator's requests by verb.
//!
//! The bench's own requests use the admin identity (group `system:masters`,
//! matched by the `exempt` schema first), so they never land in these counts.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::config::Kubeconfig;
use kube::{Client, core::DynamicObject};
use serde_json::json;

/// Namespace of the operator's ServiceAccount; created by the bench, outside the test namespace.
pub const SYSTEM_NAMESPACE: &str = "rayop-bench-system";
/// The operator's ServiceAccount: its FlowSchemas match this subject, so only its requests count.
pub const OPERATOR_SA: &str = "rayop-bench-operator";
/// Field manager of the bench's applies.
const MANAGER: &str = "rayop-bench";
/// The verbs counted one by one.
pub const VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];
/// Verbs that change state; [`Counts::writes`] sums these.
pub const WRITE_VERBS: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];
/// Name of the catch-all schema (non-resource requests and other verbs).
const OTHER: &str = "other";
/// Resources whose writes are also counted one by one (`<verb>.<resource>`).
pub const WRITE_RESOURCES: &[&str] = &[
    "rayclusters",
    "rayclusters/status",
    "statefulsets",
    "deployments",
    "services",
    "pods",
    "events",
];
/// Verbs counted per resource of [`WRITE_RESOURCES`], as `<verb>.<resource>`.
const PER_RESOURCE_VERBS: &[&str] = &["create", "update", "patch", "delete"];

fn schema_name(verb: &str) -> String {
    format!("rayop-bench-{verb}")
}

async fn apply(client: &Client, value: serde_json::Value) -> Result<()> {
    let obj: DynamicObject = serde_json::from_value(value.clone())?;
    let types = obj
        .types
        .clone()
        .context("object without apiVersion/kind")?;
    let gvk = kube::api::GroupVersionKind::try_from(&types)?;
    let (resource, caps) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .with_context(|| format!("discovering {}", types.kind))?;
    let name = obj.metadata.name.clone().context("object without a name")?;
    let api: Api<DynamicObject> = match (caps.scope, obj.metadata.namespace.as_deref()) {
        (kube::discovery::Scope::Namespaced, Some(ns)) => {
            Api::namespaced_with(client.clone(), ns, &resource)
        }
        _ => Api::all_with(client.clone(), &resource),
    };
    api.patch(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&obj),
    )
    .await
    .with_context(|| format!("applying {} {name}", types.kind))?;
    Ok(())
}

/// Creates the operator's identity and the per-verb FlowSchemas, and writes a
/// kubeconfig for the operator to `out` (same server and CA as `admin`).
pub async fn set_up(client: &Client, admin: &Path, out: &Path) -> Result<()> {
    apply(
        client,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NAMESPACE}}),
    )
    .await?;
    apply(
        client,
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": OPERATOR_SA, "namespace": SYSTEM_NAMESPACE}}),
    )
    .await?;
    apply(
        client,
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": OPERATOR_SA},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [{"kind": "ServiceAccount", "name": OPERATOR_SA, "namespace": SYSTEM_NAMESPACE}]}),
    )
    .await?;
    let subject = json!([{"kind": "ServiceAccount",
        "serviceAccount": {"name": OPERATOR_SA, "namespace": SYSTEM_NAMESPACE}}]);
    // Writes per resource first (lower precedence number wins).
    let mut precedence = 400;
    for verb in PER_RESOURCE_VERBS {
        for resource in WRITE_RESOURCES {
            precedence += 1;
            apply(
                client,
                json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
                    "metadata": {"name": schema_name(&format!("{verb}.{}", resource.replace('/', "-")))},
                    "spec": {
                        "priorityLevelConfiguration": {"name": "workload-low"},
                        "matchingPrecedence": precedence,
                        "distinguisherMethod": {"type": "ByUser"},
                        "rules": [{"subjects": subject, "resourceRules": [{
                            "verbs": [verb], "apiGroups": ["*"], "resources": [resource],
                            "clusterScope": true, "namespaces": ["*"]}]}]}}),
            )
            .await?;
        }
    }
    for (i, verb) in VERBS.iter().enumerate() {
        apply(
            client,
            json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
                "metadata": {"name": schema_name(verb)},
                "spec": {
                    "priorityLevelConfiguration": {"name": "workload-low"},
                    "matchingPrecedence": 500 + i,
                    "distinguisherMethod": {"type": "ByUser"},
                    "rules": [{"subjects": subject, "resourceRules": [{
                        "verbs": [verb], "apiGroups": ["*"], "resources": ["*"],
                        "clusterScope": true, "namespaces": ["*"]}]}]}}),
        )
        .await?;
    }
    apply(
        client,
        json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
            "metadata": {"name": schema_name(OTHER)},
            "spec": {
                "priorityLevelConfiguration": {"name": "workload-low"},
                "matchingPrecedence": 600,
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [{"subjects": subject,
                    "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                        "clusterScope": true, "namespaces": ["*"]}],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]}]}}),
    )
    .await?;

    let token = Api::<ServiceAccount>::namespaced(client.clone(), SYSTEM_NAMESPACE)
        .create_token_request(
            OPERATOR_SA,
            &PostParams::default(),
            &serde_json::from_value::<TokenRequest>(
                json!({"spec": {"audiences": [], "expirationSeconds": 86400}}),
            )?,
        )
        .await
        .context("requesting a token for the operator's ServiceAccount")?
        .status
        .context("TokenRequest without status")?
        .token;
    write_kubeconfig(admin, out, &token)?;

    // The API server picks FlowSchemas up asynchronously: probe as the
    // operator until a GET shows up in its schema's counter.
    let op = rayop_testenv::kubeconfig::client(out).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let before = scrape(client).await?;
        Api::<Namespace>::all(op.clone())
            .get(SYSTEM_NAMESPACE)
            .await
            .context("a GET as the operator's ServiceAccount")?;
        let after = scrape(client).await?;
        if after.get("get") > before.get("get") {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("the per-verb FlowSchemas never counted the operator's requests");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn write_kubeconfig(admin: &Path, out: &Path, token: &str) -> Result<()> {
    let kc = Kubeconfig::read_from(admin)
        .with_context(|| format!("reading kubeconfig {}", admin.display()))?;
    let cluster = kc
        .clusters
        .first()
        .and_then(|c| c.cluster.clone())
        .context("the admin kubeconfig names no cluster")?;
    let server = cluster
        .server
        .context("the admin kubeconfig has no server")?;
    let ca = match (
        &cluster.certificate_authority,
        &cluster.certificate_authority_data,
    ) {
        (Some(path), _) => format!("certificate-authority: {path}"),
        (None, Some(data)) => format!("certificate-authority-data: {data}"),
        (None, None) => "insecure-skip-tls-verify: true".to_string(),
    };
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: bench
  cluster:
    server: {server}
    {ca}
users:
- name: {OPERATOR_SA}
  user:
    token: {token}
contexts:
- name: bench
  context:
    cluster: bench
    user: {OPERATOR_SA}
current-context: bench
"
    );
    std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))
}

/// The operator's requests so far, by verb (`other` for the rest), plus
/// `rejected` for requests APF refused (429).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts(pub BTreeMap<String, u64>);

impl Counts {
    /// The count of one verb (or `<verb>.<resource>`); 0 when never seen.
    pub fn get(&self, verb: &str) -> u64 {
        self.0.get(verb).copied().unwrap_or(0)
    }

    /// Writes: create, update, patch, delete, deletecollection.
    pub fn writes(&self) -> u64 {
        WRITE_VERBS.iter().map(|v| self.get(v)).sum()
    }

    /// All requests: every verb of [`VERBS`] plus `other`; per-resource counts are not added twice.
    pub fn total(&self) -> u64 {
        VERBS.iter().chain([&OTHER]).map(|v| self.get(v)).sum()
    }

    /// `self - earlier`, verb by verb.
    pub fn since(&self, earlier: &Counts) -> Counts {
        Counts(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.saturating_sub(earlier.get(k))))
                .collect(),
        )
    }
}

/// Reads the per-verb counters from kube-apiserver's `/metrics`.
pub async fn scrape(client: &Client) -> Result<Counts> {
    let text = client
        .request_text(http::Request::get("/metrics").body(Vec::new())?)
        .await
        .context("GET /metrics")?;
    Ok(parse(&text))
}

/// Parses the dispatched and rejected counters of the bench's schemas.
pub fn parse(text: &str) -> Counts {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let (metric, rejected) =
            if line.starts_with("apiserver_flowcontrol_dispatched_requests_total{") {
                (line, false)
            } else if line.starts_with("apiserver_flowcontrol_rejected_requests_total{") {
                (line, true)
            } else {
                continue;
            };
        let Some(start) = metric.find("flow_schema=\"rayop-bench-") else {
            continue;
        };
        let rest = &metric[start + "flow_schema=\"rayop-bench-".len()..];
        let Some(end) = rest.find('"') else { continue };
        let verb = &rest[..end];
        let Some(value) = metric
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        else {
            continue;
        };
        if rejected {
            *out.entry("rejected".to_string()).or_insert(0) += value as u64;
            continue;
        }
        // `patch.statefulsets` counts as a patch, and on its own.
        if let Some((plain, _)) = verb.split_once('.') {
            *out.entry(plain.to_string()).or_insert(0) += value as u64;
        }
        *out.entry(verb.to_string()).or_insert(0) += value as u64;
    }
    Counts(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dispatched_and_rejected() {
        let text = r#"# HELP x
apiserver_flowcontrol_dispatched_requests_total{flow_schema="rayop-bench-get",priority_level="workload-low"} 12
apiserver_flowcontrol_dispatched_requests_total{flow_schema="rayop-bench-patch",priority_level="workload-low"} 3
apiserver_flowcontrol_dispatched_requests_total{flow_schema="rayop-bench-patch.rayclusters-status",priority_level="workload-low"} 4
apiserver_flowcontrol_dispatched_requests_total{flow_schema="exempt",priority_level="exempt"} 999
apiserver_flowcontrol_rejected_requests_total{flow_schema="rayop-bench-patch",priority_level="workload-low",reason="queue-full"} 2
"#;
        let c = parse(text);
        assert_eq!(c.get("get"), 12);
        assert_eq!(c.get("patch"), 7);
        assert_eq!(c.get("patch.rayclusters-status"), 4);
        assert_eq!(c.get("rejected"), 2);
        assert_eq!(c.writes(), 7);
        assert_eq!(c.total(), 19);
    }
}
