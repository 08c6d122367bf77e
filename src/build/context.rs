//! What every builder needs to know about the cluster being built, checked once.
//!
//! Role: [`ClusterContext`] holds the cluster's identity (name, namespace, UID)
//! and spec plus the operator's [`BuildOptions`], and derives the addresses
//! the Ray containers use. Builders take it instead of the raw
//! [`RayCluster`], so a missing name, namespace or UID is refused in one place.
//!
//! Invariant: the GCS port is the head's `rayStartParams.port` when it is a
//! valid port number, else [`GCS_SERVER_PORT`](crate::build::ports::GCS_SERVER_PORT); the workers' address,
//! `RAY_ADDRESS`, the init container and the head Service's default all use
//! this one value.

use kube::Resource;

use crate::{
    build::{BatchScheduler, BuildError, ray_start},
    crd::{RayCluster, RayClusterSpec, gcs, names},
};

/// Settings of the build step that come from the operator, not the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildOptions {
    /// The cluster DNS domain, as in `<svc>.<ns>.svc.<domain>`.
    pub cluster_domain: String,
    /// The batch scheduler every pod is handed to (`--batch-scheduler`);
    /// `None`: the default scheduler, no scheduler metadata.
    pub batch_scheduler: Option<BatchScheduler>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            cluster_domain: names::DEFAULT_CLUSTER_DOMAIN.to_owned(),
            batch_scheduler: None,
        }
    }
}

/// A RayCluster with its identity checked, and the build options.
#[derive(Clone, Copy, Debug)]
pub struct ClusterContext<'a> {
    /// The cluster's `metadata.name`, never empty: every derived name starts
    /// with it.
    pub name: &'a str,
    /// The cluster's `metadata.namespace`, never empty: every built object
    /// goes there.
    pub namespace: &'a str,
    /// The cluster's `metadata.uid`, never empty: owner references point at
    /// it, and it is the default GCS storage namespace.
    pub uid: &'a str,
    /// The spec as given (a stored one carries the schema defaults); builders
    /// fill in what is missing through [`effective`](crate::crd::effective).
    pub spec: &'a RayClusterSpec,
    /// The operator's settings, the same for every cluster.
    pub options: &'a BuildOptions,
    /// The RayCluster carries `ray.io/overwrite-container-cmd: "true"`: no
    /// group's Ray container command is wrapped.
    pub overwrite_container_cmd: bool,
    /// The RayCluster's labels (empty when it has none), for what they
    /// tell about its owner (`ray.io/originated-from-crd`) and for batch
    /// schedulers, which read theirs there.
    pub labels: Option<&'a std::collections::BTreeMap<String, String>>,
    /// The RayCluster's annotations, which its Ingress carries (and a
    /// Volcano PodGroup; YuniKorn's task groups may be given there; GCS
    /// fault tolerance reads `ray.io/ft-enabled` and
    /// `ray.io/external-storage-namespace`).
    pub annotations: Option<&'a std::collections::BTreeMap<String, String>>,
    /// The name of the K8sJobMode RayJob that controls the cluster, whose
    /// submitter pod may reach the head's dashboard through a NetworkPolicy.
    pub submitter: Option<&'a str>,
}

impl<'a> ClusterContext<'a> {
    /// Checks that `cluster` has a name, namespace and UID.
    ///
    /// # Errors
    /// [`BuildError::MissingName`], [`BuildError::MissingNamespace`] or
    /// [`BuildError::MissingUid`].
    pub fn new(cluster: &'a RayCluster, options: &'a BuildOptions) -> Result<Self, BuildError> {
        let meta = cluster.meta();
        let present = |value: &'a Option<String>| value.as_deref().filter(|v| !v.is_empty());
        Ok(Self {
            name: present(&meta.name).ok_or(BuildError::MissingName)?,
            namespace: present(&meta.namespace).ok_or(BuildError::MissingNamespace)?,
            uid: present(&meta.uid).ok_or(BuildError::MissingUid)?,
            spec: &cluster.spec,
            options,
            overwrite_container_cmd: names::overwrites_container_cmd(meta.annotations.as_ref()),
            labels: meta.labels.as_ref(),
            annotations: meta.annotations.as_ref(),
            submitter: crate::build::network_policy::rayjob_submitter(meta),
        })
    }

    /// The RayCluster's label `key`, if set.
    #[must_use]
    pub fn label(&self, key: &str) -> Option<&'a str> {
        self.labels?.get(key).map(String::as_str)
    }

    /// The GCS fault-tolerance backend in force, `None` without fault
    /// tolerance (see [`gcs::backend`]).
    #[must_use]
    pub fn gcs_backend(&self) -> Option<gcs::GcsBackend> {
        gcs::backend(
            self.annotations,
            self.spec.gcs_fault_tolerance_options.as_ref(),
        )
    }

    /// The Redis key prefix of the cluster (see [`gcs::storage_namespace`]).
    #[must_use]
    pub fn storage_namespace(&self) -> &'a str {
        gcs::storage_namespace(
            self.annotations,
            self.spec.gcs_fault_tolerance_options.as_ref(),
            self.uid,
        )
    }

    /// The head's `rayStartParams`; `None` without a `headGroupSpec`.
    #[must_use]
    pub fn head_params(&self) -> Option<&'a std::collections::BTreeMap<String, String>> {
        self.spec
            .head_group_spec
            .as_ref()
            .map(|head| &head.ray_start_params)
    }

    /// The port the head's GCS listens on: `rayStartParams.port`, else 6379.
    #[must_use]
    pub fn gcs_port(&self) -> u16 {
        ray_start::gcs_port(self.head_params())
    }

    /// The head Service's name: `headService.metadata.name`, else
    /// `<cluster>-head-svc`.
    #[must_use]
    pub fn head_service_name(&self) -> String {
        self.spec.head_service_name(self.name)
    }

    /// The head Service's DNS name: `<head service>.<ns>.svc.<domain>`.
    #[must_use]
    pub fn head_host(&self) -> String {
        names::head_service_host(
            &self.head_service_name(),
            self.namespace,
            &self.options.cluster_domain,
        )
    }

    /// The GCS address workers connect to: `<head host>:<gcs port>`.
    #[must_use]
    pub fn head_address(&self) -> String {
        format!("{}:{}", self.head_host(), self.gcs_port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_required() {
        let options = BuildOptions::default();
        let mut cluster = RayCluster::test("rc");
        assert!(ClusterContext::new(&cluster, &options).is_ok());
        cluster.metadata.uid = None;
        assert_eq!(
            ClusterContext::new(&cluster, &options).err(),
            Some(BuildError::MissingUid)
        );
        cluster.metadata.namespace = Some(String::new());
        assert_eq!(
            ClusterContext::new(&cluster, &options).err(),
            Some(BuildError::MissingNamespace)
        );
        cluster.metadata.name = None;
        assert_eq!(
            ClusterContext::new(&cluster, &options).err(),
            Some(BuildError::MissingName)
        );
    }

    #[test]
    fn head_address_uses_domain_and_port() {
        let options = BuildOptions {
            cluster_domain: "corp.example".into(),
            ..BuildOptions::default()
        };
        let mut cluster = RayCluster::test("rc");
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        assert_eq!(
            ctx.head_address(),
            "rc-head-svc.default.svc.corp.example:6379"
        );

        cluster.spec.head_group_spec = Some(crate::crd::head::HeadGroupSpec {
            ray_start_params: [("port".to_owned(), "6380".to_owned())].into(),
            ..Default::default()
        });
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        assert_eq!(ctx.gcs_port(), 6380);
        assert!(ctx.head_address().ends_with(":6380"));
    }
}
