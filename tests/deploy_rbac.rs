//! The deploy RBAC: no wildcard anywhere, the same rules in every variant
//! (cluster-wide ClusterRole, namespaced Role, and the chart's renders), the
//! Lease rights narrowed to the one Lease, and every permission of the Role
//! rayop creates for the Ray autoscaler held by rayop itself (RBAC lets a
//! subject create a Role only with permissions it holds). The review rights
//! of the exposed `/debug/journal` only where the debug listener is exposed,
//! a reader ClusterRole for people there, and never the debug port behind the
//! metrics Service. That these rights are *enough* is proven end to end by
//! tests/e2e_incluster_rbac.rs and tests/e2e_debug_journal_auth.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "fixtures/deploy/render.rs"]
mod render;

use anyhow::{Result, ensure};
use render::*;
use serde_json::Value;

const RULE_LISTS: [&str; 5] = [
    "apiGroups",
    "resources",
    "verbs",
    "resourceNames",
    "nonResourceURLs",
];

fn is_rbac_role(doc: &Value) -> bool {
    matches!(doc["kind"].as_str(), Some("Role" | "ClusterRole"))
}

/// The non-resource URLs of the journal reader: the one place a `*` may
/// appear, as the trailing segment of a path prefix (RBAC's prefix match),
/// never a bare wildcard.
const READER_URLS: [&str; 2] = ["/debug/journal", "/debug/journal/*"];

fn is_reader(role: &Value) -> bool {
    role["kind"] == "ClusterRole" && role["metadata"]["name"] == "rayop-journal-reader"
}

/// Every rendering of the deploy RBAC: the kustomize variants and the chart.
fn every_render() -> Result<Vec<(String, Vec<Value>)>> {
    let mut all = Vec::new();
    for variant in [
        "cluster",
        "namespaced",
        "journal-pvc",
        "debug-journal",
        "batch-scheduler",
    ] {
        all.push((format!("deploy/manifests/{variant}"), kustomize(variant)?));
    }
    for sets in [
        &[][..],
        &["watchNamespaces={a,b}"][..],
        &["leaderElection.enabled=false", "replicas=1"][..],
        &["debugJournal.enabled=true"][..],
        &["debugJournal.enabled=true", "watchNamespaces={a,b}"][..],
        &[
            "debugJournal.enabled=true",
            "debugJournal.localhostOnly=true",
        ][..],
    ] {
        all.push((format!("helm template {sets:?}"), helm_template(sets)?));
    }
    Ok(all)
}

fn rules_of<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter()
        .filter(|d| d["kind"] == kind && d["metadata"]["name"] == "rayop")
        .collect()
}

#[test]
fn no_rule_has_a_wildcard() -> Result<()> {
    let mut roles = 0;
    for (source, docs) in every_render()? {
        for role in docs.iter().filter(|d| is_rbac_role(d)) {
            roles += 1;
            ensure!(
                role.get("aggregationRule").is_none(),
                "{source}: {} aggregates other roles",
                identity(role)
            );
            for rule in role["rules"].as_array().into_iter().flatten() {
                for list in RULE_LISTS {
                    for item in rule[list].as_array().into_iter().flatten() {
                        let text = item.as_str().unwrap_or_default();
                        if list == "nonResourceURLs"
                            && is_reader(role)
                            && READER_URLS.contains(&text)
                        {
                            continue;
                        }
                        ensure!(
                            !text.contains('*'),
                            "{source}: {} grants {list} {text:?}",
                            identity(role)
                        );
                    }
                }
                ensure!(
                    rule["verbs"].as_array().is_some_and(|v| !v.is_empty()),
                    "{source}: a rule without verbs"
                );
            }
        }
    }
    ensure!(roles >= 10, "looked at {roles} roles");
    // And in the files themselves, whatever they render to.
    for dir in ["deploy/manifests", "deploy/helm/rayop/templates"] {
        for file in walk(&repo().join(dir))? {
            let text = std::fs::read_to_string(&file)?;
            ensure!(
                !text.contains("\"*\"") && !text.contains("'*'") && !text.contains("[*]"),
                "{} mentions a wildcard",
                file.display()
            );
        }
    }
    Ok(())
}

fn walk(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(walk(&path)?);
        } else {
            out.push(path);
        }
    }
    Ok(out)
}

#[test]
fn every_variant_grants_the_same_rules() -> Result<()> {
    let cluster = kustomize("cluster")?;
    let reference = &rules_of(&cluster, "ClusterRole")[0]["rules"];
    let namespaced = kustomize("namespaced")?;
    ensure!(rules_of(&namespaced, "ClusterRole").is_empty());
    ensure!(&rules_of(&namespaced, "Role")[0]["rules"] == reference);
    let helm = helm_template(&[])?;
    ensure!(&rules_of(&helm, "ClusterRole")[0]["rules"] == reference);
    let helm_ns = helm_template(&["watchNamespaces={a,b}"])?;
    let roles = rules_of(&helm_ns, "Role");
    ensure!(roles.len() == 2 && roles.iter().all(|r| &r["rules"] == reference));
    Ok(())
}

/// True when `rules` grant `verb` on `group`/`resource`.
fn grants(rules: &Value, group: &str, resource: &str, verb: &str) -> bool {
    let has = |v: &Value, s: &str| v.as_array().is_some_and(|a| a.iter().any(|x| x == s));
    rules.as_array().into_iter().flatten().any(|r| {
        has(&r["apiGroups"], group)
            && has(&r["resources"], resource)
            && has(&r["verbs"], verb)
            && r.get("resourceNames").is_none()
    })
}

#[test]
fn rayop_holds_every_permission_of_the_autoscaler_role_it_creates() -> Result<()> {
    let cluster = kustomize("cluster")?;
    let rules = &rules_of(&cluster, "ClusterRole")[0]["rules"];
    for rule in rayop::build::autoscaler_rbac::autoscaler_rules("any-cluster") {
        for group in rule.api_groups.clone().unwrap_or_default() {
            for resource in rule.resources.clone().unwrap_or_default() {
                for verb in &rule.verbs {
                    ensure!(
                        grants(rules, &group, &resource, verb),
                        "the autoscaler Role grants {verb} {group}/{resource}; rayop must hold it to create that Role"
                    );
                }
            }
        }
    }
    Ok(())
}

#[test]
fn lease_rights_are_narrowed_to_the_one_lease() -> Result<()> {
    for (source, docs) in every_render()? {
        let args = operator_args(&docs);
        let Some(lease) = args
            .iter()
            .find_map(|a| a.strip_prefix("--leader-elect-lease="))
        else {
            continue;
        };
        let role = docs
            .iter()
            .find(|d| d["kind"] == "Role" && d["metadata"]["name"] == "rayop-leader-election")
            .unwrap();
        for rule in role["rules"].as_array().unwrap() {
            let verbs: Vec<&str> = rule["verbs"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            ensure!(
                rule["apiGroups"][0] == "coordination.k8s.io" && rule["resources"][0] == "leases"
            );
            if verbs == ["create"] {
                ensure!(rule.get("resourceNames").is_none());
            } else {
                ensure!(verbs == ["get", "update"], "{source}: {verbs:?}");
                ensure!(
                    rule["resourceNames"] == serde_json::json!([lease]),
                    "{source}: get/update only on {lease}"
                );
            }
        }
    }
    Ok(())
}

/// Every owned kind of `rayop::owned`'s registry has its rule in every
/// rendering: list and watch for its cache, create and patch for
/// server-side apply (create alone for a create-only kind), and delete
/// when rayop deletes that kind itself. A new
/// owned kind that forgets its RBAC fails here.
#[test]
fn every_owned_kind_has_its_rule() -> Result<()> {
    for (source, docs) in every_render()? {
        let rules: Vec<&Value> = docs
            .iter()
            .filter(|d| is_rbac_role(d) && d["metadata"]["name"] == "rayop")
            .flat_map(|role| role["rules"].as_array().into_iter().flatten())
            .collect();
        for kind in rayop::owned::Kind::ALL {
            let verbs: Vec<&str> = rules
                .iter()
                .filter(|r| {
                    let has = |list: &str, want: &str| {
                        r[list]
                            .as_array()
                            .is_some_and(|v| v.iter().any(|x| x == want))
                    };
                    has("apiGroups", kind.group()) && has("resources", kind.plural())
                })
                .flat_map(|r| r["verbs"].as_array().into_iter().flatten())
                .filter_map(Value::as_str)
                .collect();
            let mut needed = vec!["list", "watch", "create"];
            if !kind.create_only() {
                needed.push("patch");
            }
            if kind.deletable() {
                needed.push("delete");
            }
            for verb in needed {
                ensure!(
                    verbs.contains(&verb),
                    "{source}: no `{verb}` on {}/{} for owned kind {}",
                    kind.group(),
                    kind.plural(),
                    kind.as_str()
                );
            }
        }
    }
    Ok(())
}

/// True when the renders's Deployment serves /debug/journal off loopback.
fn exposes_the_journal(docs: &[Value]) -> bool {
    operator_args(docs)
        .iter()
        .any(|a| a.starts_with("--debug-addr=") && !a.starts_with("--debug-addr=127.0.0.1:"))
}

/// Where `/debug/journal` is exposed, rayop may create TokenReviews and
/// SubjectAccessReviews (a ClusterRole: both kinds are cluster-scoped, also
/// for a namespaced install) and a reader ClusterRole is there to bind;
/// elsewhere neither exists, and the rayop role never holds review rights.
#[test]
fn review_rights_exist_exactly_where_the_journal_is_exposed() -> Result<()> {
    let mut exposed = 0;
    for (source, docs) in every_render()? {
        let review = docs
            .iter()
            .find(|d| d["kind"] == "ClusterRole" && d["metadata"]["name"] == "rayop-token-review");
        let reader = docs.iter().find(|d| is_reader(d));
        for role in rules_of(&docs, "ClusterRole")
            .into_iter()
            .chain(rules_of(&docs, "Role"))
        {
            ensure!(
                !grants(
                    &role["rules"],
                    "authentication.k8s.io",
                    "tokenreviews",
                    "create"
                ),
                "{source}: the rayop role itself holds review rights"
            );
        }
        if !exposes_the_journal(&docs) {
            ensure!(
                review.is_none() && reader.is_none(),
                "{source}: review or reader roles without an exposed /debug/journal"
            );
            continue;
        }
        exposed += 1;
        let review = review.ok_or_else(|| anyhow::anyhow!("{source}: no rayop-token-review"))?;
        ensure!(
            review["rules"]
                == serde_json::json!([
                    { "apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"] },
                    { "apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"] },
                ]),
            "{source}: rayop-token-review grants exactly the two reviews"
        );
        let binding = docs
            .iter()
            .find(|d| {
                d["kind"] == "ClusterRoleBinding" && d["metadata"]["name"] == "rayop-token-review"
            })
            .ok_or_else(|| anyhow::anyhow!("{source}: rayop-token-review is not bound"))?;
        ensure!(binding["roleRef"]["name"] == "rayop-token-review");
        ensure!(
            binding["subjects"]
                == serde_json::json!([{ "kind": "ServiceAccount", "name": "rayop", "namespace": NAMESPACE }]),
            "{source}: bound to rayop's ServiceAccount"
        );
        let reader = reader.ok_or_else(|| anyhow::anyhow!("{source}: no rayop-journal-reader"))?;
        ensure!(
            reader["rules"]
                == serde_json::json!([{ "nonResourceURLs": READER_URLS, "verbs": ["get"] }]),
            "{source}: the reader may get the journal and nothing else"
        );
        ensure!(
            !docs.iter().any(|d| d["kind"] == "ClusterRoleBinding"
                && d["roleRef"]["name"] == "rayop-journal-reader"),
            "{source}: the reader ClusterRole is for people to bind, not bound"
        );
    }
    ensure!(
        exposed == 3,
        "looked at {exposed} renders exposing the journal"
    );
    Ok(())
}

/// The metrics Service, open to every scraper, never leads to the debug
/// listener; the container declares the debug port only when it is exposed.
#[test]
fn the_metrics_service_never_exposes_the_debug_port() -> Result<()> {
    for (source, docs) in every_render()? {
        let services: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "Service").collect();
        ensure!(services.len() == 1, "{source}: one Service");
        let ports = services[0]["spec"]["ports"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        ensure!(
            ports.len() == 1 && ports[0]["targetPort"] == "http-metrics",
            "{source}: the metrics Service serves http-metrics only: {ports:?}"
        );
        let container = docs
            .iter()
            .find(|d| d["kind"] == "Deployment")
            .map(|d| d["spec"]["template"]["spec"]["containers"][0].clone())
            .unwrap_or_default();
        let debug_port = container["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == "http-debug");
        ensure!(
            debug_port.is_some() == exposes_the_journal(&docs),
            "{source}: the http-debug port is declared exactly when the journal is exposed"
        );
        if let Some(port) = debug_port {
            let addr = format!("--debug-addr=0.0.0.0:{}", port["containerPort"]);
            ensure!(
                operator_args(&docs).contains(&addr),
                "{source}: {addr} matches the declared port"
            );
        }
    }
    Ok(())
}
