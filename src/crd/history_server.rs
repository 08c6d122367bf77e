//! The Ray history server's collector: `spec.historyServerOptions`.
//!
//! Role: data only, plus the names the collector reads. With these options
//! every Ray pod (head and workers) gets the sidecar `ray-history-collector`,
//! which receives Ray's events on port 8084, reads the logs under `/tmp/ray`
//! and uploads both to the storage backend its env names.
//!
//! Invariant: `collectorOptions.image` and a literal `STORAGE_BACKEND` are
//! required (see [`validation`](crate::crd::validation)); the env names
//! rayop sets itself ([`RESERVED_ENV`]) cannot be given.

use k8s_openapi::api::core::v1::{EnvVar, ResourceRequirements};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::crd::autoscaler::PullPolicy;

/// The collector's env variable naming its storage backend.
pub const STORAGE_BACKEND: &str = "STORAGE_BACKEND";
/// Env names rayop sets on the collector; the user's env may not hold them.
pub const RESERVED_ENV: [&str; 8] = [
    "POD_IP",
    "FQ_RAY_IP",
    "RAY_CLUSTER_NAME",
    "RAY_CLUSTER_NAMESPACE",
    "RAY_ROLE",
    "OWNER_KIND",
    "OWNER_NAME",
    "EVENTS_PORT",
];

/// Settings of the Ray history server's parts that run in the cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryServerOptions {
    /// The collector sidecar added to every Ray pod. Required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector_options: Option<CollectorOptions>,
}

/// The `ray-history-collector` sidecar.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CollectorOptions {
    /// The collector's image. Required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,

    /// When the kubelet pulls the collector image: Always, IfNotPresent (the
    /// default) or Never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<PullPolicy>,

    /// Resources of the collector. Defaults to requests of 50m CPU and 64Mi,
    /// limits of 200m CPU and 256Mi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// The collector's env, after rayop's own. `STORAGE_BACKEND` (a literal
    /// `value`: `gcs`, `s3`, `aliyunoss` or `azureblob`, any case) is
    /// required, with the backend's settings: `GCS_BUCKET`; `S3_REGION`;
    /// `OSS_BUCKET`, `OSS_ENDPOINT` and `OSS_REGION`; or, per
    /// `AZURE_STORAGE_AUTH_MODE`, `AZURE_STORAGE_CONNECTION_STRING` or
    /// `AZURE_STORAGE_ACCOUNT_URL`. The names rayop sets (`POD_IP`,
    /// `FQ_RAY_IP`, `RAY_CLUSTER_NAME`, `RAY_CLUSTER_NAMESPACE`, `RAY_ROLE`,
    /// `OWNER_KIND`, `OWNER_NAME`, `EVENTS_PORT`) are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
}
