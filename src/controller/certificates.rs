//! What a TLS-enabled cluster's reconcile needs beyond the other caches:
//! whether cert-manager is installed, the live pod IPs its certificates
//! must list, and whether the leaf certificates can be used yet.
//!
//! Invariants:
//! - cert-manager's presence is asked of discovery (`cert-manager.io/v1`
//!   serving `issuers` and `certificates`) lazily, on the first TLS cluster,
//!   and remembered: a "yes" for good, a "no" for [`ABSENT_RECHECK`] only,
//!   so installing cert-manager after rayop started is noticed without a
//!   restart and a cluster without TLS never costs a discovery call.
//! - The pod IPs are those of live pods only (not terminating, not
//!   Succeeded or Failed), split by `ray.io/node-type`.
//! - The gate opens only when both leaf Certificates are `Ready` for their
//!   current generation ([`Certificate::is_ready`]) **and** both Secrets hold
//!   `tls.crt`, `tls.key` and `ca.crt`; the Secrets are read (one `get`
//!   each) only once both Certificates are Ready.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use k8s_openapi::{ByteString, api::core::v1::Pod, api::core::v1::Secret};
use kube::{Api, Client};
use rayop_machines::PkiObservation;

use crate::{
    build::pki::PodIps,
    crd::{
        names::{LABEL_NODE_TYPE, NODE_TYPE_HEAD, NODE_TYPE_WORKER},
        tls::{PkiNames, SECRET_KEYS},
    },
    desired::{Kind, ObjectSet},
    observe::pki_applied,
    owned::cert_manager::{API_VERSION, Certificate},
};

use super::caches::ClusterView;

/// How long an answer "cert-manager is not installed" is trusted.
pub const ABSENT_RECHECK: Duration = Duration::from_secs(10);
/// How soon a TLS cluster without cert-manager is looked at again.
pub const REQUEUE_WITHOUT_CERT_MANAGER: Duration = Duration::from_secs(15);
/// The field a missing cert-manager is reported on.
pub const TLS_FIELD: &str = "spec.tlsOptions.enabled";

/// The remembered answer of discovery.
#[derive(Debug, Default)]
pub struct CertManagerPresence {
    known: Mutex<Option<(bool, Instant)>>,
}

impl CertManagerPresence {
    /// Whether cert-manager's API is served, from memory when fresh.
    pub async fn served(&self, client: &Client) -> bool {
        if let Ok(known) = self.known.lock()
            && let Some((present, at)) = *known
            && (present || at.elapsed() < ABSENT_RECHECK)
        {
            return present;
        }
        let present = match client.list_api_group_resources(API_VERSION).await {
            Ok(list) => ["issuers", "certificates"]
                .iter()
                .all(|plural| list.resources.iter().any(|r| r.name == *plural)),
            Err(error) => {
                tracing::debug!(%error, "cert-manager.io/v1 is not served");
                false
            }
        };
        if let Ok(mut known) = self.known.lock() {
            *known = Some((present, Instant::now()));
        }
        present
    }
}

/// The problem of a TLS cluster when cert-manager is missing.
#[must_use]
pub fn missing_cert_manager() -> rayop_machines::SpecProblem {
    rayop_machines::SpecProblem::new(
        TLS_FIELD,
        "requires cert-manager, which is not installed: the API cert-manager.io/v1 \
         (issuers, certificates) is not served; install cert-manager, or set it to false",
    )
}

/// The IPs of the live head and worker pods among `pods`.
#[must_use]
pub fn pod_ips(pods: &[Arc<Pod>]) -> PodIps {
    let mut ips = PodIps::default();
    for pod in pods {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(status) = &pod.status else { continue };
        if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
            continue;
        }
        let Some(ip) = status.pod_ip.clone().filter(|ip| !ip.is_empty()) else {
            continue;
        };
        match pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_NODE_TYPE))
            .map(String::as_str)
        {
            Some(NODE_TYPE_HEAD) => ips.head.push(ip),
            Some(NODE_TYPE_WORKER) => ips.workers.push(ip),
            _ => {}
        }
    }
    ips
}

/// What the caches and the two Secrets say of the cluster's PKI.
pub async fn observe_pki(
    client: &Client,
    namespace: &str,
    names: &PkiNames,
    set: &ObjectSet,
    view: &ClusterView<'_>,
) -> PkiObservation {
    let applied = pki_applied(set, view);
    let waiting = if applied.is_none() {
        Some("the cert-manager objects are being created".to_owned())
    } else {
        waiting_for(client, namespace, names, view).await
    };
    let not_after = [
        &names.ca_certificate,
        &names.head_certificate,
        &names.worker_certificate,
    ]
    .into_iter()
    .filter_map(|name| {
        let live = view.owned::<Certificate>(Kind::Certificate, name)?;
        let at = expiry(live.status.as_ref()?.not_after.as_deref()?)?;
        Some((name.clone(), at))
    })
    .collect();
    PkiObservation {
        applied,
        waiting,
        not_after,
    }
}

/// cert-manager's `status.notAfter` (RFC 3339) as milliseconds since the
/// epoch; `None` if it does not parse or lies before 1970.
fn expiry(not_after: &str) -> Option<rayop_machines::Millis> {
    let at: k8s_openapi::jiff::Timestamp = not_after.parse().ok()?;
    u64::try_from(at.as_millisecond())
        .ok()
        .map(rayop_machines::Millis)
}

async fn waiting_for(
    client: &Client,
    namespace: &str,
    names: &PkiNames,
    view: &ClusterView<'_>,
) -> Option<String> {
    let leaves = [
        (&names.head_certificate, &names.head_secret),
        (&names.worker_certificate, &names.worker_secret),
    ];
    for (certificate, _) in leaves {
        let Some(live) = view.owned::<Certificate>(Kind::Certificate, certificate) else {
            return Some(format!("Certificate {certificate} is not in the cache yet"));
        };
        if !live.is_ready() {
            return Some(format!(
                "Certificate {certificate} is not Ready: {}",
                live.waiting_for()
            ));
        }
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    for (_, secret) in leaves {
        match secrets.get_opt(secret).await {
            Ok(Some(found)) => {
                if let Some(key) = missing_key(&found) {
                    return Some(format!("Secret {secret} has no {key} yet"));
                }
            }
            Ok(None) => return Some(format!("Secret {secret} does not exist yet")),
            Err(error) => return Some(format!("Secret {secret} could not be read: {error}")),
        }
    }
    None
}

/// The first of [`SECRET_KEYS`] that `secret` lacks or holds empty.
#[must_use]
pub fn missing_key(secret: &Secret) -> Option<&'static str> {
    let empty = std::collections::BTreeMap::<String, ByteString>::new();
    let data = secret.data.as_ref().unwrap_or(&empty);
    SECRET_KEYS
        .into_iter()
        .find(|key| data.get(*key).is_none_or(|v| v.0.is_empty()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use k8s_openapi::{
        api::core::v1::PodStatus, apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp,
    };

    fn pod(node: &str, ip: &str, phase: &str, terminating: bool) -> Arc<Pod> {
        let mut p = Pod::default();
        p.metadata.labels = Some([(LABEL_NODE_TYPE.to_owned(), node.to_owned())].into());
        if terminating {
            p.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        }
        p.status = Some(PodStatus {
            phase: Some(phase.into()),
            pod_ip: Some(ip.into()),
            ..PodStatus::default()
        });
        Arc::new(p)
    }

    #[test]
    fn only_live_pods_count() {
        let pods = [
            pod("head", "10.0.0.1", "Running", false),
            pod("worker", "10.0.0.2", "Pending", false),
            pod("worker", "10.0.0.3", "Running", true),
            pod("worker", "10.0.0.4", "Failed", false),
            pod("worker", "", "Pending", false),
        ];
        let ips = pod_ips(&pods);
        assert_eq!(ips.head, ["10.0.0.1"]);
        assert_eq!(ips.workers, ["10.0.0.2"]);
    }

    #[test]
    fn not_after_is_read_as_epoch_milliseconds() {
        assert_eq!(
            expiry("1970-01-02T00:00:00Z"),
            Some(rayop_machines::Millis(86_400_000))
        );
        assert_eq!(expiry("yesterday"), None);
        assert_eq!(expiry("1969-12-31T00:00:00Z"), None);
    }

    #[test]
    fn a_secret_needs_all_three_keys() {
        let mut secret = Secret::default();
        assert_eq!(missing_key(&secret), Some("tls.crt"));
        secret.data = Some(
            [
                ("tls.crt".to_owned(), ByteString(b"c".to_vec())),
                ("tls.key".to_owned(), ByteString(b"k".to_vec())),
                ("ca.crt".to_owned(), ByteString(Vec::new())),
            ]
            .into(),
        );
        assert_eq!(missing_key(&secret), Some("ca.crt"));
        if let Some(data) = secret.data.as_mut() {
            data.insert("ca.crt".into(), ByteString(b"a".to_vec()));
        }
        assert_eq!(missing_key(&secret), None);
    }
}
