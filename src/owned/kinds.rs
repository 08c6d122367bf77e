//! The one declaration of the kinds rayop creates: for each, its type, API
//! group and plural (for RBAC and metrics), how it is cached, and whether
//! rayop deletes it itself. Everything else that dispatches on a kind is
//! generated from this list, and a test checks the deploy RBAC against it.

use k8s_openapi::api::{
    apps::v1::{Deployment, StatefulSet},
    autoscaling::v2::HorizontalPodAutoscaler,
    batch::v1::Job,
    core::v1::{PersistentVolumeClaim, Secret, Service, ServiceAccount},
    networking::v1::{Ingress, NetworkPolicy},
    rbac::v1::{Role, RoleBinding},
};

use super::{
    cache::{CacheMode, LiveObject},
    cert_manager::{Certificate, Issuer},
    declare::owned_kinds,
    pod_groups::{SchedulerPluginsPodGroup, VolcanoPodGroup},
    rollout,
};
use crate::build::{BatchScheduler, BuildOptions};

owned_kinds! {
    /// apps/v1 StatefulSet: the head, and StatefulSet worker groups.
    StatefulSet(StatefulSet) {
        group: "apps", plural: "statefulsets",
        cache: CacheMode::Full { trim: trim_statefulset, live: live_statefulset },
        deletable: true,
    },
    /// apps/v1 Deployment: Deployment worker groups.
    Deployment(Deployment) {
        group: "apps", plural: "deployments",
        cache: CacheMode::Full { trim: trim_deployment, live: live_deployment },
        deletable: true,
    },
    /// v1 Service: the head Service and each group's headless Service.
    Service(Service) {
        group: "", plural: "services",
        cache: CacheMode::Full { trim: keep, live: live_service },
        deletable: true,
    },
    /// v1 ServiceAccount: the Ray autoscaler's.
    ServiceAccount(ServiceAccount) {
        group: "", plural: "serviceaccounts",
        cache: CacheMode::MetaOnly,
        deletable: false,
    },
    /// rbac.authorization.k8s.io/v1 Role: the Ray autoscaler's rights.
    Role(Role) {
        group: "rbac.authorization.k8s.io", plural: "roles",
        cache: CacheMode::MetaOnly,
        deletable: false,
    },
    /// rbac.authorization.k8s.io/v1 RoleBinding: binds the autoscaler's Role.
    RoleBinding(RoleBinding) {
        group: "rbac.authorization.k8s.io", plural: "rolebindings",
        cache: CacheMode::MetaOnly,
        deletable: false,
    },
    /// v1 PersistentVolumeClaim: the embedded GCS store's `<cluster>-gcs-pvc`,
    /// created once and never updated; never deleted by rayop (garbage
    /// collection removes it with the cluster unless it is retained).
    PersistentVolumeClaim(PersistentVolumeClaim) {
        group: "", plural: "persistentvolumeclaims",
        cache: CacheMode::MetaOnly,
        deletable: false,
    },
    /// batch/v1 Job: the Redis cleanup `<cluster>-redis-cleanup` of a deleted
    /// cluster; its status (finished or not) is read from the cache.
    Job(Job) {
        group: "batch", plural: "jobs",
        cache: CacheMode::Full { trim: keep, live: live_meta },
        deletable: false,
    },
    /// autoscaling/v2 HorizontalPodAutoscaler: a worker group's HPA.
    HorizontalPodAutoscaler(HorizontalPodAutoscaler) {
        group: "autoscaling", plural: "horizontalpodautoscalers",
        cache: CacheMode::MetaOnly,
        deletable: true,
    },
    /// v1 Secret: the Ray auth token under `authOptions.mode: token`,
    /// created once and never written again (its data is never cached).
    Secret(Secret) {
        group: "", plural: "secrets",
        cache: CacheMode::MetaOnly,
        deletable: false,
    },
    /// networking.k8s.io/v1 NetworkPolicy: `spec.networkPolicy`'s head and
    /// worker-group policies.
    NetworkPolicy(NetworkPolicy) {
        group: "networking.k8s.io", plural: "networkpolicies",
        cache: CacheMode::MetaOnly,
        deletable: true,
    },
    /// networking.k8s.io/v1 Ingress: the dashboard's, with `enableIngress`.
    Ingress(Ingress) {
        group: "networking.k8s.io", plural: "ingresses",
        cache: CacheMode::MetaOnly,
        deletable: true,
    },
    /// scheduling.volcano.sh/v1beta1 PodGroup `ray-<cluster>-pg`: the gang
    /// under `--batch-scheduler=volcano`.
    VolcanoPodGroup(VolcanoPodGroup) {
        group: "scheduling.volcano.sh", plural: "podgroups",
        cache: CacheMode::MetaOnly,
        deletable: false,
    },
    /// scheduling.x-k8s.io/v1alpha1 PodGroup `<cluster>`: the gang under
    /// `--batch-scheduler=scheduler-plugins`, for clusters labelled
    /// `ray.io/gang-scheduling-enabled`.
    SchedulerPluginsPodGroup(SchedulerPluginsPodGroup) {
        group: "scheduling.x-k8s.io", plural: "podgroups",
        cache: CacheMode::MetaOnly,
        deletable: false,
    },
    /// cert-manager.io/v1 Issuer: a TLS cluster's self-signed and CA issuers.
    Issuer(Issuer) {
        group: "cert-manager.io", plural: "issuers",
        cache: CacheMode::MetaOnly,
        deletable: false,
    },
    /// cert-manager.io/v1 Certificate: a TLS cluster's CA, head and worker
    /// certificates; rolled out once cert-manager reports it Ready.
    Certificate(Certificate) {
        group: "cert-manager.io", plural: "certificates",
        cache: CacheMode::Full { trim: keep, live: live_certificate },
        deletable: false,
    },
}

impl Kind {
    /// Whether rayop only ever creates objects of this kind, never applies
    /// or patches them (so its RBAC needs no `patch`).
    #[must_use]
    pub fn create_only(self) -> bool {
        matches!(self, Kind::Secret)
    }

    /// Whether rayop deletes the objects of this kind that it controls and
    /// no longer wants, whenever it applies a set: kinds a spec field turns
    /// on and off (`networkPolicy`, `enableIngress`).
    #[must_use]
    pub fn pruned(self) -> bool {
        matches!(self, Kind::NetworkPolicy | Kind::Ingress)
    }

    /// Whether the operator configured by `options` builds (and so watches)
    /// objects of this kind: a PodGroup kind only under its batch
    /// scheduler, whose CRD may be missing otherwise.
    #[must_use]
    pub fn built_under(self, options: &BuildOptions) -> bool {
        match self {
            Kind::VolcanoPodGroup => options.batch_scheduler == Some(BatchScheduler::Volcano),
            Kind::SchedulerPluginsPodGroup => {
                options.batch_scheduler == Some(BatchScheduler::SchedulerPlugins)
            }
            _ => true,
        }
    }

    /// Whether the kind's API comes from a CRD another project installs
    /// (cert-manager): its watch may find no such resource, and the caches
    /// do not wait for its first list.
    #[must_use]
    pub fn needs_third_party_crd(self) -> bool {
        self.group() == super::cert_manager::GROUP
    }

    /// Whether objects of this kind run pods and carry replicas.
    #[must_use]
    pub fn is_workload(self) -> bool {
        matches!(self, Kind::StatefulSet | Kind::Deployment)
    }
}

impl Object {
    /// Sets a workload's `spec.replicas`; other kinds are left alone.
    pub fn set_replicas(&mut self, replicas: Option<i32>) {
        match self {
            Object::StatefulSet(o) => {
                if let Some(spec) = o.spec.as_mut() {
                    spec.replicas = replicas;
                }
            }
            Object::Deployment(o) => {
                if let Some(spec) = o.spec.as_mut() {
                    spec.replicas = replicas;
                }
            }
            _ => {}
        }
    }
}

/// Pod templates and claim templates are never read back: the spec hash
/// annotation stands for them.
fn trim_statefulset(s: &mut StatefulSet) {
    if let Some(spec) = s.spec.as_mut() {
        spec.template = Default::default();
        spec.volume_claim_templates = None;
    }
}

fn trim_deployment(d: &mut Deployment) {
    if let Some(spec) = d.spec.as_mut() {
        spec.template = Default::default();
    }
}

fn keep<K>(_: &mut K) {}

fn live_meta<K: kube::Resource>(o: &K) -> LiveObject {
    LiveObject::of_meta(o.meta())
}

fn live_service(s: &Service) -> LiveObject {
    LiveObject {
        headless: Some(crate::desired::service_is_headless(s)),
        ..LiveObject::of_meta(&s.metadata)
    }
}

fn live_statefulset(s: &StatefulSet) -> LiveObject {
    LiveObject {
        replicas: s.spec.as_ref().and_then(|spec| spec.replicas),
        rolled_out: rollout::statefulset_rolled_out(s),
        on_delete_revision: rollout::on_delete_revision(s),
        ..LiveObject::of_meta(&s.metadata)
    }
}

/// A Certificate counts as rolled out once cert-manager issued it for the
/// current spec.
fn live_certificate(c: &Certificate) -> LiveObject {
    LiveObject {
        rolled_out: c.is_ready(),
        ..LiveObject::of_meta(&c.metadata)
    }
}

fn live_deployment(d: &Deployment) -> LiveObject {
    LiveObject {
        replicas: d.spec.as_ref().and_then(|spec| spec.replicas),
        rolled_out: rollout::deployment_rolled_out(d),
        ..LiveObject::of_meta(&d.metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_unique_and_map_back() {
        for kind in Kind::ALL {
            assert_eq!(
                Kind::from_resource(kind.group(), kind.plural()),
                Some(*kind)
            );
        }
        assert_eq!(Kind::from_resource("", "pods"), None);
    }

    #[test]
    fn pod_group_kinds_are_watched_only_under_their_scheduler() {
        let mut options = BuildOptions::default();
        assert!(!Kind::VolcanoPodGroup.built_under(&options));
        assert!(!Kind::SchedulerPluginsPodGroup.built_under(&options));
        assert!(Kind::Service.built_under(&options));
        options.batch_scheduler = Some(BatchScheduler::Volcano);
        assert!(Kind::VolcanoPodGroup.built_under(&options));
        assert!(!Kind::SchedulerPluginsPodGroup.built_under(&options));
        options.batch_scheduler = Some(BatchScheduler::SchedulerPlugins);
        assert!(Kind::SchedulerPluginsPodGroup.built_under(&options));
        assert_eq!(Kind::VolcanoPodGroup.as_str(), "PodGroup");
        assert_eq!(
            Kind::VolcanoPodGroup.api_version(),
            "scheduling.volcano.sh/v1beta1"
        );
    }

    #[test]
    fn only_statefulsets_and_deployments_are_workloads() {
        let workloads: Vec<_> = Kind::ALL.iter().filter(|k| k.is_workload()).collect();
        assert_eq!(workloads, [&Kind::StatefulSet, &Kind::Deployment]);
    }
}
