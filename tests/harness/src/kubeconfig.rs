//! The admin kubeconfig of a plane, and `kube::Client`s built from it.
//!
//! The file names the certificate files by absolute path (it is only valid
//! while the plane's directory exists). Every caller gets a fresh `Client`
//! built from the file: a `Client` is bound to the tokio runtime it was made
//! in, and each `#[tokio::test]` has its own runtime.

use std::path::Path;

use anyhow::{Context, Result};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::certs::CertPaths;

/// Writes an admin kubeconfig for `https://127.0.0.1:<port>` to `path`.
pub fn write_admin(path: &Path, apiserver_port: u16, certs: &CertPaths) -> Result<()> {
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: rayop-local
  cluster:
    server: https://127.0.0.1:{apiserver_port}
    certificate-authority: {ca}
users:
- name: rayop-admin
  user:
    client-certificate: {cert}
    client-key: {key}
contexts:
- name: rayop-local
  context:
    cluster: rayop-local
    user: rayop-admin
    namespace: default
current-context: rayop-local
",
        ca = certs.ca_cert.display(),
        cert = certs.admin_cert.display(),
        key = certs.admin_key.display(),
    );
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The client `Config` of a kubeconfig file (its current context).
pub async fn config(path: &Path) -> Result<Config> {
    let kc = Kubeconfig::read_from(path)
        .with_context(|| format!("reading kubeconfig {}", path.display()))?;
    Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("loading kubeconfig {}", path.display()))
}

/// A fresh client for a kubeconfig file, bound to the current tokio runtime.
pub async fn client(path: &Path) -> Result<Client> {
    Client::try_from(config(path).await?).context("building a kube client")
}
