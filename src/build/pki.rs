//! The cert-manager objects of a TLS-enabled cluster: its private PKI.
//!
//! Role: [`pki_objects`] builds, in the order they depend on each other:
//!
//! | Object | Name | What |
//! |---|---|---|
//! | Issuer | `ray-selfsigned-issuer-<c>` | `selfSigned: {}` |
//! | Certificate | `ray-ca-certificate-<c>` | the CA: secret `<c>-ca-secret-<uid[..8]>`, `isCA`, CN `ray-ca-<c>`, RSA 4096, 87600h, renewed 720h before expiry, cert sign + crl sign |
//! | Issuer | `ray-ca-issuer-<c>` | `ca.secretName` = the CA secret |
//! | Certificate | `ray-head-cert-<c>` | secret `ray-head-secret-<c>`; DNS `localhost` + the head Service's FQDN; IPs = head pod IPs + `127.0.0.1` |
//! | Certificate | `ray-worker-cert-<c>` | secret `ray-worker-secret-<c>`; DNS `localhost`; IPs = worker pod IPs + `127.0.0.1` |
//!
//! Both leaf certificates: 2160h, renewed 360h before expiry, usages digital
//! signature, key encipherment, server auth, client auth, issued by the CA
//! Issuer.
//!
//! Invariants:
//! - Pure: the pod IPs are an input ([`PodIps`]), sorted and de-duplicated
//!   here, so the same pods give byte-identical objects and only a change of
//!   a node type's IP set changes (and re-issues) that node type's
//!   certificate.
//! - Every object carries `ray.io/cluster`, `app.kubernetes.io/name`,
//!   `app.kubernetes.io/created-by` and `app.kubernetes.io/component`, and
//!   the cluster's controller owner reference, but no node-type or group
//!   label: it belongs to no worker group. The Secrets are cert-manager's;
//!   they outlive the cluster unless cert-manager runs with
//!   `--enable-certificate-owner-ref`.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::{
    build::{ClusterContext, object_meta::owner_reference},
    crd::{
        names::{
            APP_NAME_VALUE, CREATED_BY_VALUE, LABEL_APP_NAME, LABEL_CLUSTER, LABEL_CREATED_BY,
        },
        tls::PkiNames,
    },
    desired::Object,
    owned::cert_manager::{
        CaIssuer, Certificate, CertificateSpec, GROUP, Issuer, IssuerRef, IssuerSpec, PrivateKey,
        SelfSignedIssuer,
    },
};

/// The label naming an object's part of the PKI.
pub const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
/// The loopback address every leaf certificate lists.
pub const LOOPBACK_IP: &str = "127.0.0.1";
/// The DNS name every leaf certificate lists.
pub const LOCALHOST: &str = "localhost";
/// Validity of the CA.
pub const CA_DURATION: &str = "87600h";
/// Renewal margin of the CA.
pub const CA_RENEW_BEFORE: &str = "720h";
/// Validity of a leaf certificate.
pub const LEAF_DURATION: &str = "2160h";
/// Renewal margin of a leaf certificate.
pub const LEAF_RENEW_BEFORE: &str = "360h";
/// Usages of a leaf certificate: both ends of every Ray connection.
pub const LEAF_USAGES: [&str; 4] = [
    "digital signature",
    "key encipherment",
    "server auth",
    "client auth",
];

/// The IPs of a cluster's live Ray pods (not terminating, not finished), by
/// node type, in any order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodIps {
    /// The head pods' IPs.
    pub head: Vec<String>,
    /// Every worker pod's IP, all groups together.
    pub workers: Vec<String>,
}

/// The PKI of the cluster, in dependency order (see the module docs).
#[must_use]
pub fn pki_objects(ctx: &ClusterContext<'_>, ips: &PodIps) -> Vec<Object> {
    let names = PkiNames::of(ctx.name, ctx.uid);
    let self_signed = Issuer {
        metadata: meta(ctx, &names.self_signed_issuer, "selfsigned-issuer"),
        spec: IssuerSpec {
            self_signed: Some(SelfSignedIssuer {}),
            ca: None,
        },
        ..Issuer::default()
    };
    let ca = Certificate {
        metadata: meta(ctx, &names.ca_certificate, "ca-certificate"),
        spec: CertificateSpec {
            secret_name: names.ca_secret.clone(),
            issuer_ref: issuer_ref(&names.self_signed_issuer),
            is_ca: Some(true),
            common_name: Some(format!("ray-ca-{}", ctx.name)),
            duration: Some(CA_DURATION.to_owned()),
            renew_before: Some(CA_RENEW_BEFORE.to_owned()),
            private_key: Some(PrivateKey {
                algorithm: Some("RSA".to_owned()),
                size: Some(4096),
            }),
            usages: Some(vec!["cert sign".to_owned(), "crl sign".to_owned()]),
            dns_names: None,
            ip_addresses: None,
        },
        ..Certificate::default()
    };
    let ca_issuer = Issuer {
        metadata: meta(ctx, &names.ca_issuer, "ca-issuer"),
        spec: IssuerSpec {
            self_signed: None,
            ca: Some(CaIssuer {
                secret_name: names.ca_secret.clone(),
            }),
        },
        ..Issuer::default()
    };
    let head = leaf(
        ctx,
        &names.head_certificate,
        "head-certificate",
        &names.head_secret,
        &names.ca_issuer,
        vec![LOCALHOST.to_owned(), ctx.head_host()],
        &ips.head,
    );
    let workers = leaf(
        ctx,
        &names.worker_certificate,
        "worker-certificate",
        &names.worker_secret,
        &names.ca_issuer,
        vec![LOCALHOST.to_owned()],
        &ips.workers,
    );
    vec![
        Object::Issuer(self_signed),
        Object::Certificate(ca),
        Object::Issuer(ca_issuer),
        Object::Certificate(head),
        Object::Certificate(workers),
    ]
}

/// A leaf certificate listing `dns_names` and `pod_ips` plus loopback.
fn leaf(
    ctx: &ClusterContext<'_>,
    name: &str,
    component: &str,
    secret: &str,
    issuer: &str,
    dns_names: Vec<String>,
    pod_ips: &[String],
) -> Certificate {
    Certificate {
        metadata: meta(ctx, name, component),
        spec: CertificateSpec {
            secret_name: secret.to_owned(),
            issuer_ref: issuer_ref(issuer),
            is_ca: None,
            common_name: None,
            duration: Some(LEAF_DURATION.to_owned()),
            renew_before: Some(LEAF_RENEW_BEFORE.to_owned()),
            private_key: None,
            usages: Some(LEAF_USAGES.iter().map(|u| (*u).to_owned()).collect()),
            dns_names: Some(dns_names),
            ip_addresses: Some(ip_list(pod_ips)),
        },
        ..Certificate::default()
    }
}

/// `pod_ips` and loopback, sorted and without repeats or empty entries.
#[must_use]
pub fn ip_list(pod_ips: &[String]) -> Vec<String> {
    pod_ips
        .iter()
        .map(|ip| ip.trim())
        .filter(|ip| !ip.is_empty())
        .chain([LOOPBACK_IP])
        .map(str::to_owned)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn issuer_ref(name: &str) -> IssuerRef {
    IssuerRef {
        name: name.to_owned(),
        kind: Some("Issuer".to_owned()),
        group: Some(GROUP.to_owned()),
    }
}

fn meta(ctx: &ClusterContext<'_>, name: &str, component: &str) -> ObjectMeta {
    let labels: BTreeMap<String, String> = [
        (LABEL_CLUSTER, ctx.name),
        (LABEL_APP_NAME, APP_NAME_VALUE),
        (LABEL_CREATED_BY, CREATED_BY_VALUE),
        (LABEL_COMPONENT, component),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(ctx.namespace.to_owned()),
        labels: Some(labels),
        owner_references: Some(vec![owner_reference(ctx)]),
        ..ObjectMeta::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::{build::BuildOptions, crd::RayCluster};

    fn build(ips: &PodIps) -> Vec<Object> {
        let mut cluster = RayCluster::test("rc");
        cluster.metadata.uid = Some("abcdef0123456789".into());
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        pki_objects(&ctx, ips)
    }

    fn certificate(objects: &[Object], name: &str) -> Certificate {
        objects
            .iter()
            .find_map(|o| match o {
                Object::Certificate(c) if c.metadata.name.as_deref() == Some(name) => {
                    Some(c.clone())
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("no certificate {name}"))
    }

    #[test]
    fn five_objects_in_dependency_order_with_labels_and_owner() {
        let objects = build(&PodIps::default());
        let keys: Vec<(String, String)> = objects
            .iter()
            .map(|o| (o.kind().as_str().to_owned(), o.key().name))
            .collect();
        assert_eq!(
            keys,
            [
                ("Issuer", "ray-selfsigned-issuer-rc"),
                ("Certificate", "ray-ca-certificate-rc"),
                ("Issuer", "ray-ca-issuer-rc"),
                ("Certificate", "ray-head-cert-rc"),
                ("Certificate", "ray-worker-cert-rc"),
            ]
            .map(|(k, n)| (k.to_owned(), n.to_owned()))
        );
        let components: Vec<&str> = objects
            .iter()
            .map(|o| o.meta().labels.as_ref().unwrap()[LABEL_COMPONENT].as_str())
            .collect();
        assert_eq!(
            components,
            [
                "selfsigned-issuer",
                "ca-certificate",
                "ca-issuer",
                "head-certificate",
                "worker-certificate"
            ]
        );
        for o in &objects {
            let labels = o.meta().labels.as_ref().unwrap();
            assert_eq!(labels[LABEL_CLUSTER], "rc");
            assert_eq!(labels[LABEL_APP_NAME], "kuberay");
            assert!(!labels.contains_key("ray.io/node-type"));
            let owner = &o.meta().owner_references.as_ref().unwrap()[0];
            assert_eq!(
                (owner.kind.as_str(), owner.controller),
                ("RayCluster", Some(true))
            );
        }
    }

    #[test]
    fn the_ca_is_self_signed_and_signs_the_leaves() {
        let objects = build(&PodIps::default());
        let ca = certificate(&objects, "ray-ca-certificate-rc");
        assert_eq!(ca.spec.secret_name, "rc-ca-secret-abcdef01");
        assert_eq!(ca.spec.is_ca, Some(true));
        assert_eq!(ca.spec.common_name.as_deref(), Some("ray-ca-rc"));
        assert_eq!(ca.spec.issuer_ref.name, "ray-selfsigned-issuer-rc");
        assert_eq!(ca.spec.private_key.as_ref().unwrap().size, Some(4096));
        assert_eq!(ca.spec.duration.as_deref(), Some("87600h"));
        match &objects[2] {
            Object::Issuer(i) => {
                assert_eq!(i.spec.ca.as_ref().unwrap().secret_name, ca.spec.secret_name);
            }
            other => panic!("{other:?}"),
        }
        let head = certificate(&objects, "ray-head-cert-rc");
        assert_eq!(head.spec.issuer_ref.name, "ray-ca-issuer-rc");
        assert_eq!(head.spec.issuer_ref.kind.as_deref(), Some("Issuer"));
        assert_eq!(
            head.spec.issuer_ref.group.as_deref(),
            Some("cert-manager.io")
        );
        assert_eq!(head.spec.secret_name, "ray-head-secret-rc");
        assert_eq!(head.spec.duration.as_deref(), Some("2160h"));
        assert_eq!(head.spec.renew_before.as_deref(), Some("360h"));
        assert_eq!(head.spec.usages.as_ref().unwrap().len(), 4);
    }

    #[test]
    fn leaves_list_dns_names_and_sorted_unique_pod_ips() {
        let ips = PodIps {
            head: vec!["10.0.0.9".into()],
            workers: vec![
                "10.0.0.3".into(),
                "10.0.0.2".into(),
                "10.0.0.3".into(),
                String::new(),
            ],
        };
        let objects = build(&ips);
        let head = certificate(&objects, "ray-head-cert-rc");
        assert_eq!(
            head.spec.dns_names.unwrap(),
            ["localhost", "rc-head-svc.default.svc.cluster.local"]
        );
        assert_eq!(head.spec.ip_addresses.unwrap(), ["10.0.0.9", "127.0.0.1"]);
        let workers = certificate(&objects, "ray-worker-cert-rc");
        assert_eq!(workers.spec.dns_names.unwrap(), ["localhost"]);
        assert_eq!(
            workers.spec.ip_addresses.unwrap(),
            ["10.0.0.2", "10.0.0.3", "127.0.0.1"]
        );
    }

    #[test]
    fn only_the_changed_node_type_changes() {
        let before = build(&PodIps {
            head: vec!["10.0.0.9".into()],
            workers: vec!["10.0.0.2".into()],
        });
        let after = build(&PodIps {
            head: vec!["10.0.0.9".into()],
            workers: vec!["10.0.0.2".into(), "10.0.0.4".into()],
        });
        assert_eq!(before[..4], after[..4]);
        assert_ne!(before[4], after[4]);
    }
}
