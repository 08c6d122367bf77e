//! The desired objects of one RayCluster, as the build step produces them and
//! the observe and apply steps consume them.
//!
//! Objects come in *sets*: the head set (StatefulSet, Service, and the
//! autoscaler's RBAC when on, plus the token Secret, created once), one set per worker group (workload, Service,
//! HPA when asked for), and under TLS the PKI set (Issuers, Certificates). Every object of a set carries the set's spec hash in
//! the `ray.io/rayop-spec-hash` annotation ([`SPEC_HASH_ANNOTATION`]).
//!
//! Invariants:
//! - The hash covers every object of the set exactly as it will be applied,
//!   except the workload's `replicas`, which the machine decides separately.
//!   A template change therefore changes the hash; a scale does not.
//! - The hash is a SHA-256 of canonical JSON, stable across Rust versions and
//!   platforms, so an operator upgrade does not re-apply unchanged objects.

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use crate::owned::{Kind, Object};

use crate::crd::names::SPEC_HASH_ANNOTATION;

/// An object's identity within the cluster's namespace.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// Its kind.
    pub kind: Kind,
    /// Its name.
    pub name: String,
}

impl Object {
    /// The object's key.
    #[must_use]
    pub fn key(&self) -> ObjectKey {
        ObjectKey {
            kind: self.kind(),
            name: self.meta().name.clone().unwrap_or_default(),
        }
    }

    /// Whether this object is a workload (StatefulSet or Deployment).
    #[must_use]
    pub fn is_workload(&self) -> bool {
        self.kind().is_workload()
    }

    /// For a Service, whether it is headless (`clusterIP: None`); `None`
    /// for other kinds. The API server never changes this on a live
    /// Service, so a Service whose headlessness changes is replaced.
    #[must_use]
    pub fn headless(&self) -> Option<bool> {
        match self {
            Object::Service(s) => Some(service_is_headless(s)),
            _ => None,
        }
    }
}

/// Whether a Service is headless (`spec.clusterIP: None`).
#[must_use]
pub fn service_is_headless(service: &k8s_openapi::api::core::v1::Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .is_some_and(|ip| ip == "None")
}

/// A set of objects applied together, stamped with one hash.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectSet {
    /// The objects, workload first, replicas unset.
    pub objects: Vec<Object>,
    /// The hash every object carries.
    pub hash: String,
    /// Objects created once when missing and never written again (the token
    /// Secret): outside the hash, carrying none, so no spec change rewrites
    /// them. The set counts as applied only while they exist.
    pub created_once: Vec<Object>,
}

impl ObjectSet {
    /// Stamps `objects` with the hash of their content (replicas excluded).
    #[must_use]
    pub fn stamped(mut objects: Vec<Object>) -> ObjectSet {
        for object in &mut objects {
            object.set_replicas(None);
            let meta = object.meta_mut();
            if let Some(annotations) = meta.annotations.as_mut() {
                annotations.remove(SPEC_HASH_ANNOTATION);
                if annotations.is_empty() {
                    meta.annotations = None;
                }
            }
        }
        let hash = content_hash(&objects);
        for object in &mut objects {
            object
                .meta_mut()
                .annotations
                .get_or_insert_with(Default::default)
                .insert(SPEC_HASH_ANNOTATION.to_owned(), hash.clone());
        }
        ObjectSet {
            objects,
            hash,
            created_once: Vec::new(),
        }
    }

    /// The set with `objects` to create once (see [`ObjectSet::created_once`]).
    #[must_use]
    pub fn with_created_once(mut self, objects: impl IntoIterator<Item = Object>) -> ObjectSet {
        self.created_once.extend(objects);
        self
    }

    /// The keys of the set's objects.
    #[must_use]
    pub fn keys(&self) -> Vec<ObjectKey> {
        self.objects.iter().map(Object::key).collect()
    }

    /// The set's workload, if it has one.
    #[must_use]
    pub fn workload(&self) -> Option<&Object> {
        self.objects.iter().find(|o| o.is_workload())
    }
}

/// All desired objects of one cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredObjects {
    /// The head set.
    pub head: ObjectSet,
    /// One set per worker group, in spec order, with the group name.
    pub groups: Vec<(String, ObjectSet)>,
    /// The embedded GCS store's claim (`backend: rocksdb`), ensured before
    /// the head set; outside the sets because it is created once and never
    /// re-applied.
    pub gcs_claim: Option<crate::build::gcs_storage::GcsClaim>,
    /// The Redis cleanup Job, built only for a deleted cluster held by the
    /// cleanup finalizer.
    pub cleanup_job: Option<k8s_openapi::api::batch::v1::Job>,
    /// The cert-manager objects of a TLS-enabled cluster; `None` with TLS off.
    pub pki: Option<ObjectSet>,
}

impl DesiredObjects {
    /// The set of the named group.
    #[must_use]
    pub fn group(&self, name: &str) -> Option<&ObjectSet> {
        self.groups
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, set)| set)
    }
}

/// SHA-256 of the canonical JSON of `value`, as 16 hex characters.
///
/// serde_json writes struct fields in declaration order and maps
/// (`BTreeMap`) in key order, so the same value always gives the same bytes.
#[must_use]
pub fn content_hash<T: Serialize>(value: &T) -> String {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};

    fn sts(replicas: i32, image: &str) -> Object {
        let mut s = StatefulSet::default();
        s.metadata.name = Some("c-head".into());
        s.spec = Some(StatefulSetSpec {
            replicas: Some(replicas),
            service_name: Some(image.into()),
            ..StatefulSetSpec::default()
        });
        Object::StatefulSet(s)
    }

    #[test]
    fn replicas_do_not_change_the_hash() {
        assert_eq!(
            ObjectSet::stamped(vec![sts(1, "a")]).hash,
            ObjectSet::stamped(vec![sts(5, "a")]).hash
        );
    }

    #[test]
    fn content_changes_the_hash() {
        assert_ne!(
            ObjectSet::stamped(vec![sts(1, "a")]).hash,
            ObjectSet::stamped(vec![sts(1, "b")]).hash
        );
    }

    #[test]
    fn every_object_carries_the_hash_and_restamping_is_stable() {
        let set = ObjectSet::stamped(vec![sts(1, "a")]);
        let again = ObjectSet::stamped(set.objects.clone());
        assert_eq!(set.hash, again.hash);
        for o in &set.objects {
            assert_eq!(
                o.meta()
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(SPEC_HASH_ANNOTATION)),
                Some(&set.hash)
            );
        }
    }

    #[test]
    fn hash_is_sixteen_hex_chars() {
        let h = content_hash(&"x");
        assert_eq!(h.len(), 16);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
