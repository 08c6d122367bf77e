//! Build: pure functions from a [`RayCluster`] to the Kubernetes objects it
//! should have.
//!
//! Role: step 4 of the reconcile pipeline. [`desired_objects`] turns one
//! cluster into a [`DesiredObjects`]: the head set and one set per worker
//! group, each stamped with its spec hash by [`ObjectSet::stamped`]. Nothing
//! here reads the API server, the clock or the environment.
//!
//! | Set | Objects, in order |
//! |---|---|
//! | head | StatefulSet `<cluster>-head`, Service `<cluster>-head-svc` (or `headService.metadata.name`), and with in-tree autoscaling a ServiceAccount `<cluster>` (unless the head template names one), Role `<cluster>`, RoleBinding `<cluster>`; under a batch scheduler its PodGroup ([`volcano_pod_group`], [`scheduler_plugins_pod_group`]); created once, outside the hash: the token Secret `<cluster>` under `authOptions.mode: token` ([`auth`]) |
//! | head, when asked for | NetworkPolicy `<cluster>-head` (`networkPolicy`), Ingress `<cluster>-head-ingress` (`enableIngress`) |
//! | outside the sets | with `gcsFaultToleranceOptions.backend: rocksdb` and no `claimName`, the PersistentVolumeClaim `<cluster>-gcs-pvc` ([`gcs_storage`]), created before the head and never updated |
//! | each worker group | StatefulSet or Deployment `<cluster>-<group>`, headless Service `<cluster>-<group>-svc`, HPA and NetworkPolicy `<cluster>-workers-<group>` when asked for |
//! | pki (`tlsOptions.enabled` only) | the cert-manager Issuers and Certificates of [`pki`], built by [`pki_set`] from the live pod IPs |
//!
//! Invariants:
//! - **Deterministic.** The same cluster and options give byte-identical
//!   objects: every map is a `BTreeMap`, every list is built in a fixed order.
//! - **Owned and labelled.** Every object has the cluster's namespace, the
//!   labels `ray.io/cluster`, `ray.io/node-type`, `ray.io/group`,
//!   `app.kubernetes.io/name: kuberay` and `app.kubernetes.io/created-by:
//!   rayop`, and one controller owner reference to the RayCluster
//!   ([`object_meta`]), so deleting the cluster garbage-collects everything.
//! - **Workload first, replicas unset.** Each set lists its workload first;
//!   `replicas` is left `None` for the apply step, which decides it.
//! - **The user's template is the base.** rayop adds to it (labels,
//!   containers, env, volumes, probes, ports) and overrides only what it must
//!   own: the three selector labels, the Ray container's command (see
//!   [`ray_container`]) and the pod's `restartPolicy`, which a workload
//!   requires to be `Always`.
//!
//! The details live in one module per concern: [`ray_start`] (the command
//! line, with [`shell_quote`]), [`env`](mod@env), [`probes`], [`shm`], [`ports`], the
//! head's [`head_statefulset`], [`head_service`], [`autoscaler_sidecar`] and
//! [`autoscaler_rbac`], both kinds' [`history_collector`] and [`auth`], and the workers' [`worker_workload`],
//! [`wait_gcs_ready`] and [`worker_service`]; [`network_policy`] and
//! [`ingress`] for both; [`ray_node_options`] turns a group's `labels` and
//! `resources` into `ray start` flags and pod labels; every pod template gets the
//! configured batch scheduler's metadata ([`batch_scheduler`], with
//! [`yunikorn_task_groups`]); under TLS, [`tls_pod`] and
//! [`pki`]. Besides objects,
//! [`desired_resources`] totals what the spec asks for (with
//! [`quantity_sum`]), for the status. A RayJob's RayCluster, submitter and
//! submission are built by [`rayjob`]; a RayCronJob's RayJobs by [`raycronjob`];
//! a RayService's RayClusters, Services and hashes by [`rayservice`].

pub mod auth;
pub mod autoscaler_rbac;
pub mod autoscaler_sidecar;
pub mod batch_scheduler;
pub mod context;
pub mod desired_resources;
pub mod env;
pub mod error;
pub mod gcs_storage;
pub mod head_service;
pub mod head_statefulset;
pub mod history_collector;
pub mod ingress;
pub mod network_policy;
pub mod object_meta;
pub mod pki;
pub mod ports;
pub mod probes;
pub mod quantity;
pub mod quantity_sum;
pub mod ray_container;
pub mod ray_node_options;
pub mod ray_start;
pub mod raycronjob;
pub mod rayjob;
pub mod rayservice;
pub mod redis_cleanup;
pub mod scheduler_plugins_pod_group;
pub mod service_account;
pub mod shell_quote;
pub mod shm;
pub mod tls_pod;
pub mod update_strategy;
pub mod volcano_pod_group;
pub mod wait_gcs_ready;
pub mod worker_hpa;
pub mod worker_service;
pub mod worker_workload;
pub mod yunikorn_task_groups;

#[cfg(test)]
mod tests;

pub use batch_scheduler::BatchScheduler;
pub use context::{BuildOptions, ClusterContext};
pub use error::BuildError;

use crate::{
    crd::RayCluster,
    desired::{DesiredObjects, ObjectSet},
};

/// The desired objects of `cluster`: the head set and one set per worker
/// group, in spec order.
///
/// # Errors
/// [`BuildError`] when the cluster lacks a name, namespace or UID, or when a
/// template cannot be turned into a runnable pod (no container, a
/// `rayStartParams` key that is not a flag name, a resource quantity that does
/// not parse).
pub fn desired_objects(
    cluster: &RayCluster,
    options: &BuildOptions,
) -> Result<DesiredObjects, BuildError> {
    let ctx = ClusterContext::new(cluster, options)?;
    let head = ObjectSet::stamped(head_objects(&ctx)?).with_created_once(auth::auth_secret(&ctx));
    let groups = cluster
        .spec
        .worker_group_specs
        .iter()
        .map(|group| {
            let mut objects = vec![
                worker_workload::worker_workload(&ctx, group)?,
                worker_service::worker_service(&ctx, group),
            ];
            objects.extend(worker_hpa::worker_hpa(&ctx, group));
            objects.extend(network_policy::group_policy(&ctx, &group.group_name));
            Ok((group.group_name.clone(), ObjectSet::stamped(objects)))
        })
        .collect::<Result<Vec<_>, BuildError>>()?;
    Ok(DesiredObjects {
        head,
        groups,
        gcs_claim: gcs_storage::gcs_claim(&ctx),
        cleanup_job: None,
        pki: None,
    })
}

/// The PKI set of a TLS-enabled `cluster` whose live pods have `ips`;
/// `None` with TLS off.
///
/// # Errors
/// As [`ClusterContext::new`].
pub fn pki_set(
    cluster: &RayCluster,
    options: &BuildOptions,
    ips: &pki::PodIps,
) -> Result<Option<ObjectSet>, BuildError> {
    if !cluster.spec.tls_enabled() {
        return Ok(None);
    }
    let ctx = ClusterContext::new(cluster, options)?;
    Ok(Some(ObjectSet::stamped(pki::pki_objects(&ctx, ips))))
}

/// The head set's objects, workload first, before stamping.
fn head_objects(ctx: &ClusterContext<'_>) -> Result<Vec<crate::desired::Object>, BuildError> {
    let mut workload = head_statefulset::head_statefulset(ctx)?;
    if let Some(claim) = gcs_storage::gcs_claim(ctx) {
        workload
            .meta_mut()
            .annotations
            .get_or_insert_with(Default::default)
            .insert(
                gcs_storage::CLAIM_HASH_ANNOTATION.to_owned(),
                crate::desired::content_hash(&claim),
            );
    }
    let mut objects = vec![workload, head_service::head_service(ctx)?];
    if ctx.spec.autoscaling_enabled() {
        objects.extend(autoscaler_rbac::autoscaler_rbac(ctx));
    }
    objects.extend(network_policy::head_policy(ctx));
    objects.extend(ingress::head_ingress(ctx)?);
    objects.extend(volcano_pod_group::volcano_pod_group(ctx)?);
    objects.extend(scheduler_plugins_pod_group::scheduler_plugins_pod_group(
        ctx,
    ));
    Ok(objects)
}
