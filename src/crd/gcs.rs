//! GCS fault tolerance: `spec.gcsFaultToleranceOptions`.
//!
//! Role: data only. With these options the head's Global Control Store keeps
//! its state in an external Redis, so workers survive a head restart (they get
//! `RAY_gcs_rpc_server_reconnect_timeout_s=600`) and the operator does not
//! restart them when the head comes back.

use k8s_openapi::api::core::v1::EnvVarSource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::crd::cel;

/// Where the head keeps GCS state.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GcsFaultToleranceOptions {
    /// Address of the Redis server, `host:port`; the head gets it as
    /// `RAY_REDIS_ADDRESS`.
    #[schemars(length(min = 1))]
    pub redis_address: String,

    /// Password of the Redis server, inline or from a Secret; the head gets it
    /// as `REDIS_PASSWORD` and passes it to `ray start --redis-password`.
    /// Unset: Redis without a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_password: Option<RedisCredential>,

    /// Namespace (key prefix) of this cluster's data in Redis. Defaults to the
    /// RayCluster's UID, so a recreated cluster starts clean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_storage_namespace: Option<String>,
}

/// A secret value, given inline or taken from a Secret or ConfigMap.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = cel::redis_password_rules)]
pub struct RedisCredential {
    /// The secret in plain text, readable by anyone who can read the
    /// RayCluster; prefer `valueFrom`. Set exactly one of the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,

    /// A Secret or ConfigMap key holding the value, as a container env's
    /// `valueFrom` (`secretKeyRef`, `configMapKeyRef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<EnvVarSource>,
}
