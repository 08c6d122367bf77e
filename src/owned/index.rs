//! An index of one watch cache by the RayCluster its objects belong to.
//!
//! Role: lets a reconcile find its own cluster's objects without scanning
//! the whole cache (kube-runtime's `Store` is keyed by name only), so a
//! reconcile costs the same at 10 clusters as at 1,000.
//!
//! Invariants:
//! - The index follows the same watch events as the store, in the same
//!   order: applies and deletes at once, and a relist (`Init` … `InitDone`)
//!   replaces the whole index at `InitDone`, as the store does.
//! - An object is filed under (namespace, value of its `ray.io/cluster`
//!   label); one without the label is not indexed. An object whose label
//!   changes moves to its new cluster.
//! - The index holds names only; callers read the objects from the store,
//!   and skip names the store no longer has.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, RwLock},
};

use kube::{Resource, ResourceExt, runtime::watcher::Event};

use crate::crd::names::LABEL_CLUSTER as CLUSTER_LABEL;

/// (namespace, cluster name).
type ClusterKey = (String, String);
/// (namespace, object name).
type ObjectKey = (String, String);

#[derive(Default)]
struct Entries {
    by_cluster: HashMap<ClusterKey, BTreeSet<String>>,
    cluster_of: HashMap<ObjectKey, ClusterKey>,
}

impl Entries {
    fn insert<K: Resource>(&mut self, object: &K) {
        let namespace = object.namespace().unwrap_or_default();
        let name = object.name_any();
        let cluster = object
            .labels()
            .get(CLUSTER_LABEL)
            .map(|c| (namespace.clone(), c.clone()));
        let key = (namespace, name);
        if let Some(old) = self.cluster_of.get(&key)
            && Some(old) != cluster.as_ref()
        {
            let old = old.clone();
            self.forget(&key, &old);
        }
        if let Some(cluster) = cluster {
            self.by_cluster
                .entry(cluster.clone())
                .or_default()
                .insert(key.1.clone());
            self.cluster_of.insert(key, cluster);
        }
    }

    fn remove<K: Resource>(&mut self, object: &K) {
        let key = (object.namespace().unwrap_or_default(), object.name_any());
        if let Some(cluster) = self.cluster_of.get(&key).cloned() {
            self.forget(&key, &cluster);
        }
    }

    fn forget(&mut self, key: &ObjectKey, cluster: &ClusterKey) {
        self.cluster_of.remove(key);
        if let Some(names) = self.by_cluster.get_mut(cluster) {
            names.remove(&key.1);
            if names.is_empty() {
                self.by_cluster.remove(cluster);
            }
        }
    }
}

#[derive(Default)]
struct State {
    live: Entries,
    /// A relist in progress: it replaces `live` when complete.
    relisting: Option<Entries>,
}

/// Names of cached objects by cluster; cheap to clone, shared.
#[derive(Clone, Default)]
pub struct ClusterIndex {
    state: Arc<RwLock<State>>,
}

impl ClusterIndex {
    /// Follows one watch event (call it for every event the store sees).
    pub fn observe<K: Resource>(&self, event: &Event<K>) {
        let Ok(mut state) = self.state.write() else {
            return;
        };
        match event {
            Event::Apply(object) => state.live.insert(object),
            Event::Delete(object) => state.live.remove(object),
            Event::Init => state.relisting = Some(Entries::default()),
            Event::InitApply(object) => state
                .relisting
                .get_or_insert_with(Entries::default)
                .insert(object),
            Event::InitDone => {
                if let Some(fresh) = state.relisting.take() {
                    state.live = fresh;
                }
            }
        }
    }

    /// The names of the objects of cluster `cluster` in `namespace`, sorted.
    #[must_use]
    pub fn names(&self, namespace: &str, cluster: &str) -> Vec<String> {
        let Ok(state) = self.state.read() else {
            return Vec::new();
        };
        state
            .live
            .by_cluster
            .get(&(namespace.to_owned(), cluster.to_owned()))
            .map(|names| names.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// How many objects are indexed.
    #[must_use]
    pub fn len(&self) -> usize {
        self.state.read().map_or(0, |s| s.live.cluster_of.len())
    }

    /// Whether nothing is indexed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::ObjectMeta;

    use super::*;

    fn pod(ns: &str, name: &str, cluster: Option<&str>) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(ns.into()),
                labels: cluster.map(|c| [(CLUSTER_LABEL.to_owned(), c.to_owned())].into()),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        }
    }

    #[test]
    fn applies_and_deletes_file_objects_by_namespace_and_cluster() {
        let index = ClusterIndex::default();
        index.observe(&Event::Apply(pod("a", "x-head-0", Some("x"))));
        index.observe(&Event::Apply(pod("a", "x-w-1", Some("x"))));
        index.observe(&Event::Apply(pod("b", "x-head-0", Some("x"))));
        index.observe(&Event::Apply(pod("a", "stray", None)));
        assert_eq!(index.names("a", "x"), vec!["x-head-0", "x-w-1"]);
        assert_eq!(index.names("b", "x"), vec!["x-head-0"]);
        assert!(index.names("a", "y").is_empty());
        assert_eq!(index.len(), 3, "unlabelled objects are not indexed");

        index.observe(&Event::Delete(pod("a", "x-w-1", Some("x"))));
        assert_eq!(index.names("a", "x"), vec!["x-head-0"]);
        index.observe(&Event::Delete(pod("a", "never-seen", Some("x"))));
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn a_relabelled_object_moves_and_losing_the_label_unindexes_it() {
        let index = ClusterIndex::default();
        index.observe(&Event::Apply(pod("a", "p", Some("x"))));
        index.observe(&Event::Apply(pod("a", "p", Some("y"))));
        assert!(index.names("a", "x").is_empty());
        assert_eq!(index.names("a", "y"), vec!["p"]);
        index.observe(&Event::Apply(pod("a", "p", None)));
        assert!(index.names("a", "y").is_empty());
        assert!(index.is_empty());
    }

    #[test]
    fn a_relist_replaces_the_index_when_it_completes() {
        let index = ClusterIndex::default();
        index.observe(&Event::Apply(pod("a", "gone", Some("x"))));
        index.observe(&Event::<Pod>::Init);
        index.observe(&Event::InitApply(pod("a", "kept", Some("x"))));
        // Until InitDone, lookups see the old state, as the store's do.
        assert_eq!(index.names("a", "x"), vec!["gone"]);
        index.observe(&Event::<Pod>::InitDone);
        assert_eq!(index.names("a", "x"), vec!["kept"]);
        assert_eq!(index.len(), 1);
    }
}
