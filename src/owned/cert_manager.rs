//! The two cert-manager kinds rayop creates, `cert-manager.io/v1` Issuer and
//! Certificate, as small typed structs (k8s-openapi has no cert-manager
//! types).
//!
//! Role: only the fields rayop writes or reads; every other field of the live
//! object is ignored when read and never written (server-side apply leaves
//! it to its writer). `apiVersion` and `kind` are fields, always those of the
//! type ([`Default`] sets them), so an applied object carries them.
//!
//! Invariant: [`Certificate::is_ready`] is cert-manager's own verdict for the
//! current spec: `Ready=True` with `observedGeneration` equal to
//! `metadata.generation`, never a Ready condition left from an older spec.

use k8s_openapi::{NamespaceResourceScope, apimachinery::pkg::apis::meta::v1::ObjectMeta};
use serde::{Deserialize, Serialize};

/// The API group of cert-manager.
pub const GROUP: &str = "cert-manager.io";
/// The served version rayop writes.
pub const API_VERSION: &str = "cert-manager.io/v1";

/// Implements k8s-openapi's traits for a namespaced cert-manager type, which
/// gives it kube's `Resource` too.
macro_rules! cert_manager_resource {
    ($ty:ident, $kind:literal, $plural:literal) => {
        impl k8s_openapi::Resource for $ty {
            const API_VERSION: &'static str = API_VERSION;
            const GROUP: &'static str = GROUP;
            const KIND: &'static str = $kind;
            const VERSION: &'static str = "v1";
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = NamespaceResourceScope;
        }

        impl k8s_openapi::Metadata for $ty {
            type Ty = ObjectMeta;
            fn metadata(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }

        impl Default for $ty {
            fn default() -> Self {
                Self {
                    api_version: API_VERSION.to_owned(),
                    kind: $kind.to_owned(),
                    metadata: ObjectMeta::default(),
                    spec: Default::default(),
                    status: None,
                }
            }
        }
    };
}

/// A cert-manager Issuer: self-signed, or signing with a CA Secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Issuer {
    /// Always `cert-manager.io/v1`.
    pub api_version: String,
    /// Always `Issuer`.
    pub kind: String,
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The issuer's type.
    #[serde(default)]
    pub spec: IssuerSpec,
    /// Never read; kept so a read object round-trips.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

/// What signs: exactly one of the two is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuerSpec {
    /// Signs each certificate with its own key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_signed: Option<SelfSignedIssuer>,
    /// Signs with the CA in a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<CaIssuer>,
}

/// `selfSigned: {}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SelfSignedIssuer {}

/// `ca: {secretName}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaIssuer {
    /// The Secret holding the CA's `tls.crt` and `tls.key`.
    pub secret_name: String,
}

/// A cert-manager Certificate: cert-manager keeps `secretName` holding a key
/// and a certificate for this spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Certificate {
    /// Always `cert-manager.io/v1`.
    pub api_version: String,
    /// Always `Certificate`.
    pub kind: String,
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// What to issue.
    #[serde(default)]
    pub spec: CertificateSpec,
    /// cert-manager's report; never written by rayop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CertificateStatus>,
}

/// The fields of a Certificate's spec rayop sets.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSpec {
    /// The Secret cert-manager writes `tls.crt`, `tls.key` and `ca.crt` into.
    pub secret_name: String,
    /// The issuer that signs it.
    pub issuer_ref: IssuerRef,
    /// Whether it is a CA certificate (`isCA`).
    #[serde(default, rename = "isCA", skip_serializing_if = "Option::is_none")]
    pub is_ca: Option<bool>,
    /// The subject's common name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// Validity, as a Go duration (`2160h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// How long before expiry cert-manager renews it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_before: Option<String>,
    /// The key's algorithm and size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<PrivateKey>,
    /// Key usages (`digital signature`, `server auth`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usages: Option<Vec<String>>,
    /// DNS subject alternative names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_names: Option<Vec<String>>,
    /// IP subject alternative names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_addresses: Option<Vec<String>>,
}

/// `issuerRef`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IssuerRef {
    /// The issuer's name.
    pub name: String,
    /// `Issuer` (namespaced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `cert-manager.io`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// `privateKey`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PrivateKey {
    /// `RSA`, `ECDSA` or `Ed25519`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// Key size in bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i32>,
}

/// The part of a Certificate's status rayop reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateStatus {
    /// cert-manager's conditions (`Ready`, `Issuing`).
    #[serde(default)]
    pub conditions: Vec<CertificateCondition>,
    /// When the current certificate expires (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
}

/// One condition of a Certificate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateCondition {
    /// `Ready`, `Issuing`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// The generation the condition is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// A CamelCase reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

cert_manager_resource!(Issuer, "Issuer", "issuers");
cert_manager_resource!(Certificate, "Certificate", "certificates");

impl Certificate {
    /// The `Ready` condition, if cert-manager wrote one.
    #[must_use]
    pub fn ready_condition(&self) -> Option<&CertificateCondition> {
        self.status
            .as_ref()?
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
    }

    /// Whether cert-manager says the certificate of the current spec is
    /// issued: `Ready=True` observed at `metadata.generation`.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.ready_condition().is_some_and(|c| {
            c.status == "True"
                && c.observed_generation.is_some()
                && c.observed_generation == self.metadata.generation
        })
    }

    /// Why it is not ready, in a few words: cert-manager's reason and
    /// message, or that it has not reported yet.
    #[must_use]
    pub fn waiting_for(&self) -> String {
        match self.ready_condition() {
            None => "cert-manager has not reported on it yet".to_owned(),
            Some(c) if c.status == "True" => {
                "cert-manager has not yet issued it for the current spec".to_owned()
            }
            Some(c) => format!(
                "{}: {}",
                c.reason.as_deref().unwrap_or("NotReady"),
                c.message.as_deref().unwrap_or("")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn certificate(generation: i64, status: &str, observed: Option<i64>) -> Certificate {
        let mut c = Certificate::default();
        c.metadata.generation = Some(generation);
        c.status = Some(CertificateStatus {
            conditions: vec![CertificateCondition {
                type_: "Ready".into(),
                status: status.into(),
                observed_generation: observed,
                ..CertificateCondition::default()
            }],
            not_after: None,
        });
        c
    }

    #[test]
    fn ready_needs_true_at_the_current_generation() {
        assert!(certificate(2, "True", Some(2)).is_ready());
        assert!(!certificate(2, "True", Some(1)).is_ready());
        assert!(!certificate(2, "False", Some(2)).is_ready());
        assert!(!certificate(2, "True", None).is_ready());
        assert!(!Certificate::default().is_ready());
    }

    #[test]
    fn serializes_with_api_version_and_kind_and_reads_back() {
        let value = serde_json::to_value(Certificate::default()).unwrap();
        assert_eq!(value["apiVersion"], "cert-manager.io/v1");
        assert_eq!(value["kind"], "Certificate");
        let ca = Certificate {
            spec: CertificateSpec {
                is_ca: Some(true),
                ..CertificateSpec::default()
            },
            ..Certificate::default()
        };
        assert_eq!(serde_json::to_value(ca).unwrap()["spec"]["isCA"], true);
        let live = serde_json::json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "c", "generation": 1},
            "spec": {"secretName": "s", "issuerRef": {"name": "i"}, "subject": {"organizations": ["x"]}},
            "status": {"conditions": [{"type": "Ready", "status": "True", "observedGeneration": 1}]}
        });
        let read: Certificate = serde_json::from_value(live).unwrap();
        assert!(read.is_ready());
        assert_eq!(read.spec.secret_name, "s");
    }
}
