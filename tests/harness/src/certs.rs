//! The plane's PKI, generated fresh for every plane with `rcgen` (ECDSA P-256).
//!
//! - a CA that signs everything else and that clients trust;
//! - one serving certificate for 127.0.0.1 / localhost (plus the in-cluster
//!   names of the `kubernetes` Service), used by kube-apiserver,
//!   kube-controller-manager and kube-scheduler;
//! - an admin client certificate, CN=rayop-admin, O=system:masters, which
//!   RBAC lets do anything;
//! - a service-account signing key pair (kube-apiserver signs and verifies
//!   ServiceAccount tokens with it, kube-controller-manager mints them).
//!
//! Invariant: the files are written once, before any component starts, and
//! never change while the plane lives.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// Paths of the PEM files of one plane.
#[derive(Debug, Clone)]
pub struct CertPaths {
    /// CA certificate: signs the serving and admin certificates; every component trusts it.
    pub ca_cert: PathBuf,
    /// CA private key (kept for tools that want to sign more certificates).
    pub ca_key: PathBuf,
    /// Serving certificate for 127.0.0.1 and localhost.
    pub serving_cert: PathBuf,
    /// Private key of the serving certificate.
    pub serving_key: PathBuf,
    /// Admin client certificate (O=system:masters, so RBAC allows everything).
    pub admin_cert: PathBuf,
    /// Private key of the admin client certificate.
    pub admin_key: PathBuf,
    /// Service-account signing key (private, PKCS#8): kube-apiserver and kube-controller-manager
    /// sign tokens with it.
    pub sa_key: PathBuf,
    /// Service-account public key: kube-apiserver verifies tokens with it.
    pub sa_pub: PathBuf,
}

/// Generates the PKI and writes it under `dir` (created if missing).
pub fn generate(dir: &Path) -> Result<CertPaths> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let p = |name: &str| dir.join(name);
    let paths = CertPaths {
        ca_cert: p("ca.crt"),
        ca_key: p("ca.key"),
        serving_cert: p("serving.crt"),
        serving_key: p("serving.key"),
        admin_cert: p("admin.crt"),
        admin_key: p("admin.key"),
        sa_key: p("sa.key"),
        sa_pub: p("sa.pub"),
    };

    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.distinguished_name = name("rayop-testenv-ca", None);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, &ca_key);

    let serving_key = KeyPair::generate()?;
    let mut serving = CertificateParams::new(vec![
        "127.0.0.1".to_string(),
        "localhost".to_string(),
        "10.0.0.1".to_string(),
        "kubernetes".to_string(),
        "kubernetes.default".to_string(),
        "kubernetes.default.svc".to_string(),
        "kubernetes.default.svc.cluster.local".to_string(),
    ])?;
    serving.distinguished_name = name("rayop-testenv-serving", None);
    serving.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let serving_cert = serving.signed_by(&serving_key, &issuer)?;

    let admin_key = KeyPair::generate()?;
    let mut admin = CertificateParams::new(Vec::<String>::new())?;
    admin.distinguished_name = name("rayop-admin", Some("system:masters"));
    admin.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let admin_cert = admin.signed_by(&admin_key, &issuer)?;

    let sa_key = KeyPair::generate()?;

    write(&paths.ca_cert, &ca_cert.pem())?;
    write(&paths.ca_key, &ca_key.serialize_pem())?;
    write(&paths.serving_cert, &serving_cert.pem())?;
    write(&paths.serving_key, &serving_key.serialize_pem())?;
    write(&paths.admin_cert, &admin_cert.pem())?;
    write(&paths.admin_key, &admin_key.serialize_pem())?;
    write(&paths.sa_key, &sa_key.serialize_pem())?;
    write(&paths.sa_pub, &sa_key.public_key_pem())?;
    Ok(paths)
}

fn name(common_name: &str, organization: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    if let Some(o) = organization {
        dn.push(DnType::OrganizationName, o);
    }
    dn
}

fn write(path: &Path, contents: &str) -> Result<()> {
    fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_all_files() {
        let dir = std::env::temp_dir().join(format!("rayop-testenv-certs-{}", std::process::id()));
        let paths = generate(&dir).unwrap();
        for f in [&paths.ca_cert, &paths.admin_cert, &paths.serving_cert] {
            assert!(
                fs::read_to_string(f)
                    .unwrap()
                    .starts_with("-----BEGIN CERTIFICATE-----")
            );
        }
        assert!(
            fs::read_to_string(&paths.sa_pub)
                .unwrap()
                .contains("PUBLIC KEY")
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
