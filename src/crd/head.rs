//! The head group of a RayCluster: `spec.headGroupSpec`, and the seed's
//! shorter `spec.headService`.
//!
//! Role: data only. A missing head group, template or service type means the
//! defaults that [`effective`](crate::crd::effective) applies.
//! Invariant: the JSON names are KubeRay's, so KubeRay manifests parse as is.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PodTemplateSpec, Service};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::crd::{ingress::IngressOptions, schema};

/// The head pod of the cluster: one pod, run by the head StatefulSet.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeadGroupSpec {
    /// Pod template of the head. Its first container runs Ray; a container
    /// without an image gets `rayproject/ray:<rayVersion>`. When omitted, the
    /// API server stores a default: one container `ray-head` with 1 CPU and
    /// 2Gi of memory (requests equal limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::head_template")]
    pub template: Option<PodTemplateSpec>,

    /// Flags for `ray start` on the head: each entry becomes `--key=value`;
    /// `"true"` becomes a bare `--key`, `"false"` drops the flag. Keys are flag
    /// names without the leading dashes, such as `num-cpus` or `dashboard-host`.
    #[serde(default)]
    #[schemars(extend("default" = {}))]
    pub ray_start_params: BTreeMap<String, String>,

    /// Type of the head Service `<cluster>-head-svc`: ClusterIP (reachable
    /// inside the cluster only), NodePort or LoadBalancer. A `headService`
    /// base with one of these types wins; else this, else the seed's
    /// `spec.headService.type`, else ClusterIP. Without a `headService` base,
    /// a ClusterIP head Service is headless (`clusterIP: None`, ready or not):
    /// its name resolves to the head pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<ServiceType>,

    /// A full Service used as the base of the head Service: its metadata and
    /// spec are kept, rayop sets the selector and Ray ports. Its
    /// `metadata.name` (a DNS-1035 label), when set, names the head Service
    /// instead of `<cluster>-head-svc`, and workers reach the head through it.
    /// It is never made headless: its type is its own, else `serviceType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::service")]
    pub head_service: Option<Service>,

    /// Creates an Ingress `<cluster>-head-ingress` (the name trimmed to its
    /// last 50 characters) to the head Service's `dashboard` port. It carries
    /// the RayCluster's annotations; `kubernetes.io/ingress.class` becomes its
    /// `ingressClassName` instead. Set false or unset, rayop deletes the
    /// Ingress it created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_ingress: Option<bool>,

    /// Host, path and TLS of the Ingress that `enableIngress` creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_options: Option<IngressOptions>,

    /// Ray node labels of the head: passed to `ray start` as
    /// `--labels=k1=v1,...` (keys sorted) and added to the head pod's labels
    /// (over the template's; `ray.io/cluster`, `ray.io/node-type` and
    /// `ray.io/group` stay rayop's). Keys and values must be valid label keys
    /// and values; `rayStartParams.labels` cannot be set as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,

    /// Ray resources of the head, as quantities: `cpu` becomes `--num-cpus`,
    /// `memory` `--memory` (bytes), a GPU name (ending in `gpu`) `--num-gpus`,
    /// each rounded up; any other name goes into `--resources` as is (for
    /// example `TPU`). Keys match case-insensitively; the pod's container
    /// resources are not changed. Not allowed beside `rayStartParams`
    /// `num-cpus`, `num-gpus`, `memory` or `resources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<BTreeMap<String, String>>,

    /// rayop: PersistentVolumeClaims passed through to the head StatefulSet's
    /// `volumeClaimTemplates`, so the head pod keeps its volumes across
    /// restarts (mount them in the template by name). They cannot change
    /// after the StatefulSet is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::volume_claim_templates")]
    pub volume_claim_templates: Option<Vec<k8s_openapi::api::core::v1::PersistentVolumeClaim>>,
}

/// The seed's spelling of head Service settings: `spec.headService.type`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeadServiceOptions {
    /// Type of the head Service; the same as `headGroupSpec.serviceType`.
    /// Setting both to different values is refused.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<ServiceType>,
}

/// The Service types rayop builds (`ExternalName` has no pods to select).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum ServiceType {
    /// A cluster-internal virtual IP.
    #[default]
    ClusterIP,
    /// A port on every node, plus ClusterIP.
    NodePort,
    /// An external load balancer, plus NodePort.
    LoadBalancer,
}

impl HeadGroupSpec {
    /// Whether `enableIngress` is true (unset means no Ingress).
    #[must_use]
    pub fn ingress_enabled(&self) -> bool {
        self.enable_ingress == Some(true)
    }
}

impl ServiceType {
    /// The value as Kubernetes spells it in `Service.spec.type`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::ClusterIP => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
        }
    }
}
