//! GCS fault tolerance: `spec.gcsFaultToleranceOptions` and the annotations
//! that go with it.
//!
//! Role: data and the small pure questions about it. With fault tolerance the
//! head's Global Control Store keeps its state outside the head's process,
//! in an external Redis (`backend: redis`, the default) or in an embedded
//! RocksDB on a PersistentVolumeClaim (`backend: rocksdb`), so workers
//! survive a head restart (they get `RAY_gcs_rpc_server_reconnect_timeout_s=600`)
//! and the operator does not restart them when the head comes back.
//!
//! Invariants: fault tolerance is on when the options are set **or** the
//! deprecated annotation [`FT_ENABLED_ANNOTATION`] is `"true"` (any case)
//! ([`ft_enabled`]); the storage namespace is `externalStorageNamespace`,
//! else the annotation [`EXTERNAL_STORAGE_NAMESPACE_ANNOTATION`], else the
//! cluster's UID ([`storage_namespace`]).

use std::collections::BTreeMap;

use k8s_openapi::{api::core::v1::EnvVarSource, apimachinery::pkg::api::resource::Quantity};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::crd::cel;

/// Deprecated switch of GCS fault tolerance on the RayCluster's metadata;
/// also written on the head pod, `"true"` or `"false"`.
pub const FT_ENABLED_ANNOTATION: &str = "ray.io/ft-enabled";
/// The Redis key prefix of the legacy annotation path; also written on the
/// head pod with the namespace in force.
pub const EXTERNAL_STORAGE_NAMESPACE_ANNOTATION: &str = "ray.io/external-storage-namespace";
/// Seconds the Redis cleanup may hold a deleted RayCluster (default
/// [`DEFAULT_DELETION_TIMEOUT_SECONDS`]).
pub const DELETION_TIMEOUT_ANNOTATION: &str = "ray.io/gcs-ft-deletion-timeout";
/// How long the Redis cleanup holds a deleted cluster without the annotation.
pub const DEFAULT_DELETION_TIMEOUT_SECONDS: u64 = 300;
/// The finalizer that holds a deleted Redis-backed cluster until its Redis
/// keys are cleaned up (or the timeout passes).
pub const REDIS_CLEANUP_FINALIZER: &str = "ray.io/gcs-ft-redis-cleanup-finalizer";
/// Size of the operator-managed RocksDB claim when `storage.size` is unset.
pub const DEFAULT_STORAGE_SIZE: &str = "1Gi";
/// Access mode of the operator-managed RocksDB claim when
/// `storage.accessModes` is unset.
pub const DEFAULT_ACCESS_MODE: &str = "ReadWriteOnce";

/// Where the head keeps GCS state.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = cel::gcs_rules)]
pub struct GcsFaultToleranceOptions {
    /// Where GCS state lives: `redis` (an external Redis, the default when
    /// unset) or `rocksdb` (an embedded RocksDB on a PersistentVolumeClaim
    /// mounted on the head). Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<GcsBackend>,

    /// Address of the Redis server, `host:port` or a `redis://` /
    /// `rediss://` URL; the head gets it as `RAY_REDIS_ADDRESS`. Required with
    /// the redis backend, empty with rocksdb.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub redis_address: String,

    /// User name of the Redis server (Redis ACLs, Ray 2.41 or newer), inline
    /// or from a Secret; the head gets it as `REDIS_USERNAME` and passes it to
    /// `ray start --redis-username`. Redis backend only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_username: Option<RedisCredential>,

    /// Password of the Redis server, inline or from a Secret; the head gets it
    /// as `REDIS_PASSWORD` and passes it to `ray start --redis-password`.
    /// Unset: Redis without a password. Redis backend only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_password: Option<RedisCredential>,

    /// Namespace (key prefix) of this cluster's data in Redis. Defaults to the
    /// RayCluster's UID, so a recreated cluster starts clean. Redis backend
    /// only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_storage_namespace: Option<String>,

    /// The volume of the embedded RocksDB store. rocksdb backend only; unset
    /// means an operator-managed claim with the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<GcsEmbeddedStorage>,
}

/// The GCS fault-tolerance backends.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = cel::backend_rules)]
pub enum GcsBackend {
    /// An external Redis server.
    #[default]
    Redis,
    /// An embedded RocksDB store on a PersistentVolumeClaim.
    Rocksdb,
}

/// The PersistentVolumeClaim of the embedded RocksDB store.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = cel::storage_rules)]
pub struct GcsEmbeddedStorage {
    /// An existing claim of your own to use as-is: rayop never creates,
    /// changes, owns or deletes it. Excludes `size`, `storageClassName` and
    /// `accessModes`, which configure the operator-managed claim
    /// `<cluster>-gcs-pvc` used when this is unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_name: Option<String>,

    /// Size of the operator-managed claim; `1Gi` when unset. Set once at
    /// creation: a later change is reported as a Warning, never applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Quantity>,

    /// StorageClass of the operator-managed claim; the cluster's default
    /// class when unset. Set once at creation, like `size`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,

    /// Access modes of the operator-managed claim; `[ReadWriteOnce]` when
    /// unset. Set once at creation, like `size`. RocksDB allows one writer
    /// at a time whatever the mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_modes: Option<Vec<String>>,

    /// A subdirectory of the volume to mount instead of its root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,

    /// What happens to the operator-managed claim when the RayCluster is
    /// deleted: `DeleteWithCluster` (the default when unset; the claim is
    /// owned by the cluster and garbage-collected with it) or `Retain` (no
    /// owner reference; a cluster of the same name adopts it again). Ignored
    /// with `claimName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<GcsStorageDeletionPolicy>,
}

/// What happens to the operator-managed RocksDB claim on cluster deletion.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum GcsStorageDeletionPolicy {
    /// The claim is owned by the RayCluster and deleted with it.
    #[default]
    DeleteWithCluster,
    /// The claim outlives the RayCluster.
    Retain,
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

impl GcsFaultToleranceOptions {
    /// The backend in force: `redis` when unset.
    #[must_use]
    pub fn effective_backend(&self) -> GcsBackend {
        self.backend.unwrap_or_default()
    }
}

impl GcsEmbeddedStorage {
    /// The bring-your-own claim, when `claimName` is set and not empty.
    #[must_use]
    pub fn own_claim(&self) -> Option<&str> {
        self.claim_name.as_deref().filter(|c| !c.is_empty())
    }

    /// Whether the operator-managed claim is retained after the cluster.
    #[must_use]
    pub fn retained(&self) -> bool {
        self.deletion_policy == Some(GcsStorageDeletionPolicy::Retain)
    }
}

/// Whether the deprecated annotation [`FT_ENABLED_ANNOTATION`] is `"true"`
/// (case-insensitive).
#[must_use]
pub fn ft_annotation_on(annotations: Option<&BTreeMap<String, String>>) -> bool {
    annotations
        .and_then(|a| a.get(FT_ENABLED_ANNOTATION))
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Whether GCS fault tolerance is on: the options are set, or the deprecated
/// annotation says `"true"`.
#[must_use]
pub fn ft_enabled(
    annotations: Option<&BTreeMap<String, String>>,
    options: Option<&GcsFaultToleranceOptions>,
) -> bool {
    options.is_some() || ft_annotation_on(annotations)
}

/// The backend in force when fault tolerance is on (`redis` through the
/// annotation), `None` when it is off.
#[must_use]
pub fn backend(
    annotations: Option<&BTreeMap<String, String>>,
    options: Option<&GcsFaultToleranceOptions>,
) -> Option<GcsBackend> {
    match options {
        Some(options) => Some(options.effective_backend()),
        None => ft_annotation_on(annotations).then_some(GcsBackend::Redis),
    }
}

/// The Redis key prefix of the cluster: `externalStorageNamespace`, else
/// the annotation [`EXTERNAL_STORAGE_NAMESPACE_ANNOTATION`], else `uid`.
#[must_use]
pub fn storage_namespace<'a>(
    annotations: Option<&'a BTreeMap<String, String>>,
    options: Option<&'a GcsFaultToleranceOptions>,
    uid: &'a str,
) -> &'a str {
    options
        .and_then(|o| o.external_storage_namespace.as_deref())
        .filter(|ns| !ns.is_empty())
        .or_else(|| {
            annotations
                .and_then(|a| a.get(EXTERNAL_STORAGE_NAMESPACE_ANNOTATION))
                .map(String::as_str)
                .filter(|ns| !ns.is_empty())
        })
        .unwrap_or(uid)
}

/// The deletion timeout in seconds: the annotation
/// [`DELETION_TIMEOUT_ANNOTATION`] when it is a whole number above zero,
/// else [`DEFAULT_DELETION_TIMEOUT_SECONDS`].
#[must_use]
pub fn deletion_timeout_seconds(annotations: Option<&BTreeMap<String, String>>) -> u64 {
    annotations
        .and_then(|a| a.get(DELETION_TIMEOUT_ANNOTATION))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(DEFAULT_DELETION_TIMEOUT_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_annotation_enables_fault_tolerance_in_any_case() {
        let spec: Option<&GcsFaultToleranceOptions> = None;
        for value in ["true", "TRUE", "True"] {
            let a = annotations(&[(FT_ENABLED_ANNOTATION, value)]);
            assert!(ft_enabled(Some(&a), spec), "{value}");
            assert_eq!(backend(Some(&a), spec), Some(GcsBackend::Redis));
        }
        let a = annotations(&[(FT_ENABLED_ANNOTATION, "false")]);
        assert!(!ft_enabled(Some(&a), spec));
        assert!(!ft_enabled(None, spec));
        assert_eq!(backend(None, spec), None);
    }

    #[test]
    fn storage_namespace_prefers_the_field_then_the_annotation_then_the_uid() {
        let a = annotations(&[(EXTERNAL_STORAGE_NAMESPACE_ANNOTATION, "from-annotation")]);
        assert_eq!(storage_namespace(None, None, "uid-1"), "uid-1");
        assert_eq!(
            storage_namespace(Some(&a), None, "uid-1"),
            "from-annotation"
        );
        let options = GcsFaultToleranceOptions {
            external_storage_namespace: Some("from-field".into()),
            ..Default::default()
        };
        assert_eq!(
            storage_namespace(Some(&a), Some(&options), "uid-1"),
            "from-field"
        );
    }

    #[test]
    fn deletion_timeout_falls_back_on_bad_values() {
        assert_eq!(deletion_timeout_seconds(None), 300);
        for bad in ["0", "-5", "soon", ""] {
            let a = annotations(&[(DELETION_TIMEOUT_ANNOTATION, bad)]);
            assert_eq!(deletion_timeout_seconds(Some(&a)), 300, "{bad}");
        }
        let a = annotations(&[(DELETION_TIMEOUT_ANNOTATION, "5")]);
        assert_eq!(deletion_timeout_seconds(Some(&a)), 5);
    }

    #[test]
    fn the_backend_spells_as_kuberay() {
        assert_eq!(
            serde_json::to_value(GcsBackend::Rocksdb).unwrap(),
            serde_json::json!("rocksdb")
        );
        let options: GcsFaultToleranceOptions =
            serde_json::from_value(serde_json::json!({"backend": "rocksdb"})).unwrap();
        assert_eq!(options.effective_backend(), GcsBackend::Rocksdb);
        assert_eq!(
            GcsFaultToleranceOptions::default().effective_backend(),
            GcsBackend::Redis
        );
    }
}
