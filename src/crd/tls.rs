//! Mutual TLS between Ray nodes: `spec.tlsOptions`, and the names and checks
//! that go with it.
//!
//! Role: the field, the fixed paths and env names every TLS-enabled Ray
//! container gets, and the names of the cert-manager objects (Issuers,
//! Certificates, Secrets) of a cluster. The checks of a TLS-enabled spec are
//! in [`tls_checks`](crate::crd::tls_checks). Certificates always come from cert-manager; there is no
//! bring-your-own-certificate field (a manually configured TLS cluster sets
//! the `RAY_TLS_*` env itself and leaves `tlsOptions` unset).
//!
//! Invariant: with TLS on, rayop owns the four TLS env names and the
//! `ray-tls` volume mounted at [`TLS_MOUNT_PATH`]; a spec that sets any of
//! them itself is refused, naming the field.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// mTLS settings of a RayCluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsOptions {
    /// Turns on mutual TLS between all Ray nodes. rayop then has cert-manager
    /// (which must be installed) issue a CA and one certificate for the head
    /// and one for the workers, mounts them into every Ray container and sets
    /// `RAY_USE_TLS=1`; no Ray pod starts before both certificates are Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub enabled: Option<bool>,
}

/// The pod volume and container mount holding a node's certificate.
pub const TLS_VOLUME: &str = "ray-tls";
/// Where [`TLS_VOLUME`] is mounted.
pub const TLS_MOUNT_PATH: &str = "/etc/ray/tls";
/// The env that turns TLS on in Ray.
pub const RAY_USE_TLS: &str = "RAY_USE_TLS";
/// The env naming the node's certificate.
pub const RAY_TLS_SERVER_CERT: &str = "RAY_TLS_SERVER_CERT";
/// The env naming the node's private key.
pub const RAY_TLS_SERVER_KEY: &str = "RAY_TLS_SERVER_KEY";
/// The env naming the CA certificate.
pub const RAY_TLS_CA_CERT: &str = "RAY_TLS_CA_CERT";
/// The env names rayop sets under TLS, in the order it sets them.
pub const TLS_ENV_NAMES: [&str; 4] = [
    RAY_USE_TLS,
    RAY_TLS_SERVER_CERT,
    RAY_TLS_SERVER_KEY,
    RAY_TLS_CA_CERT,
];
/// The keys a leaf Secret must hold before pods may use it.
pub const SECRET_KEYS: [&str; 3] = ["tls.crt", "tls.key", "ca.crt"];

/// The names of one cluster's cert-manager objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PkiNames {
    /// The self-signed Issuer that signs the CA.
    pub self_signed_issuer: String,
    /// The CA Certificate.
    pub ca_certificate: String,
    /// The Secret cert-manager writes the CA into.
    pub ca_secret: String,
    /// The Issuer that signs the leaf certificates with the CA.
    pub ca_issuer: String,
    /// The head's Certificate.
    pub head_certificate: String,
    /// The Secret of the head's certificate.
    pub head_secret: String,
    /// The workers' Certificate.
    pub worker_certificate: String,
    /// The Secret of the workers' certificate.
    pub worker_secret: String,
}

impl PkiNames {
    /// The names for cluster `cluster` with UID `uid`; the CA Secret carries
    /// the UID's first 8 characters, so a recreated cluster gets a new CA.
    #[must_use]
    pub fn of(cluster: &str, uid: &str) -> PkiNames {
        let short_uid: String = uid.chars().take(8).collect();
        PkiNames {
            self_signed_issuer: format!("ray-selfsigned-issuer-{cluster}"),
            ca_certificate: format!("ray-ca-certificate-{cluster}"),
            ca_secret: format!("{cluster}-ca-secret-{short_uid}"),
            ca_issuer: format!("ray-ca-issuer-{cluster}"),
            head_certificate: format!("ray-head-cert-{cluster}"),
            head_secret: format!("ray-head-secret-{cluster}"),
            worker_certificate: format!("ray-worker-cert-{cluster}"),
            worker_secret: format!("ray-worker-secret-{cluster}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_cluster_and_uid() {
        let names = PkiNames::of("rc", "0123456789abcdef");
        assert_eq!(names.ca_secret, "rc-ca-secret-01234567");
        assert_eq!(names.head_certificate, "ray-head-cert-rc");
        assert_eq!(names.worker_secret, "ray-worker-secret-rc");
        assert_eq!(names.self_signed_issuer, "ray-selfsigned-issuer-rc");
        assert_eq!(names.ca_issuer, "ray-ca-issuer-rc");
    }
}
