//! The desired objects of one RayCluster, as the build step produces them and
//! the observe and apply steps consume them.
//!
//! Objects come in *sets*: the head set (StatefulSet, Service, and the
//! autoscaler's RBAC when on) and one set per worker group (workload, Service,
//! HPA when asked for). Every object of a set carries the set's spec hash in
//! the [`SPEC_HASH_ANNOTATION`] annotation.
//!
//! Invariants:
//! - The hash covers every object of the set exactly as it will be applied,
//!   except the workload's `replicas`, which the machine decides separately.
//!   A template change therefore changes the hash; a scale does not.
//! - The hash is a SHA-256 of canonical JSON, stable across Rust versions and
//!   platforms, so an operator upgrade does not re-apply unchanged objects.

use k8s_openapi::api::{
    apps::v1::{Deployment, StatefulSet},
    autoscaling::v2::HorizontalPodAutoscaler,
    core::v1::{Service, ServiceAccount},
    rbac::v1::{Role, RoleBinding},
};
use kube::api::ObjectMeta;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The annotation each applied object carries: the hash of its set.
pub const SPEC_HASH_ANNOTATION: &str = "ray.io/rayop-spec-hash";

/// The kinds of object rayop creates.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// apps/v1 StatefulSet.
    StatefulSet,
    /// apps/v1 Deployment.
    Deployment,
    /// v1 Service.
    Service,
    /// v1 ServiceAccount.
    ServiceAccount,
    /// rbac.authorization.k8s.io/v1 Role.
    Role,
    /// rbac.authorization.k8s.io/v1 RoleBinding.
    RoleBinding,
    /// autoscaling/v2 HorizontalPodAutoscaler.
    HorizontalPodAutoscaler,
}

impl Kind {
    /// The kind's name, as in `kind:`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::StatefulSet => "StatefulSet",
            Kind::Deployment => "Deployment",
            Kind::Service => "Service",
            Kind::ServiceAccount => "ServiceAccount",
            Kind::Role => "Role",
            Kind::RoleBinding => "RoleBinding",
            Kind::HorizontalPodAutoscaler => "HorizontalPodAutoscaler",
        }
    }
}

/// An object's identity within the cluster's namespace.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// Its kind.
    pub kind: Kind,
    /// Its name.
    pub name: String,
}

/// One desired object.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)]
pub enum Object {
    /// A StatefulSet (head, or a StatefulSet worker group).
    StatefulSet(StatefulSet),
    /// A Deployment worker group.
    Deployment(Deployment),
    /// A Service.
    Service(Service),
    /// The autoscaler's ServiceAccount.
    ServiceAccount(ServiceAccount),
    /// The autoscaler's Role.
    Role(Role),
    /// The autoscaler's RoleBinding.
    RoleBinding(RoleBinding),
    /// A worker group's HPA.
    HorizontalPodAutoscaler(HorizontalPodAutoscaler),
}

impl Object {
    /// The object's metadata.
    #[must_use]
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Object::StatefulSet(o) => &o.metadata,
            Object::Deployment(o) => &o.metadata,
            Object::Service(o) => &o.metadata,
            Object::ServiceAccount(o) => &o.metadata,
            Object::Role(o) => &o.metadata,
            Object::RoleBinding(o) => &o.metadata,
            Object::HorizontalPodAutoscaler(o) => &o.metadata,
        }
    }

    /// The object's metadata, mutably.
    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Object::StatefulSet(o) => &mut o.metadata,
            Object::Deployment(o) => &mut o.metadata,
            Object::Service(o) => &mut o.metadata,
            Object::ServiceAccount(o) => &mut o.metadata,
            Object::Role(o) => &mut o.metadata,
            Object::RoleBinding(o) => &mut o.metadata,
            Object::HorizontalPodAutoscaler(o) => &mut o.metadata,
        }
    }

    /// The object's kind.
    #[must_use]
    pub fn kind(&self) -> Kind {
        match self {
            Object::StatefulSet(_) => Kind::StatefulSet,
            Object::Deployment(_) => Kind::Deployment,
            Object::Service(_) => Kind::Service,
            Object::ServiceAccount(_) => Kind::ServiceAccount,
            Object::Role(_) => Kind::Role,
            Object::RoleBinding(_) => Kind::RoleBinding,
            Object::HorizontalPodAutoscaler(_) => Kind::HorizontalPodAutoscaler,
        }
    }

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
        matches!(self.kind(), Kind::StatefulSet | Kind::Deployment)
    }

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

/// A set of objects applied together, stamped with one hash.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectSet {
    /// The objects, workload first, replicas unset.
    pub objects: Vec<Object>,
    /// The hash every object carries.
    pub hash: String,
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
        ObjectSet { objects, hash }
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
    use k8s_openapi::api::apps::v1::StatefulSetSpec;

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
