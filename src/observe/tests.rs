//! Unit tests of observe against an in-memory [`Live`].

use std::{collections::BTreeMap, sync::Arc};

use k8s_openapi::api::{
    apps::v1::StatefulSet,
    core::v1::{Pod, PodCondition, PodStatus, Service},
};

use super::*;
use crate::{
    crd::names::{LABEL_CLUSTER, LABEL_GROUP, LABEL_NODE_TYPE},
    desired::{Kind, Object},
    owned::LiveObject,
};

#[derive(Default)]
struct FakeLive {
    objects: BTreeMap<ObjectKey, LiveObject>,
    pods: Vec<Arc<Pod>>,
    workloads: BTreeMap<String, LiveObject>,
}

impl Live for FakeLive {
    fn object(&self, key: &ObjectKey) -> Option<LiveObject> {
        self.objects.get(key).cloned()
    }
    fn pods(&self) -> Vec<Arc<Pod>> {
        self.pods.clone()
    }
    fn workload_groups(&self) -> BTreeMap<String, LiveObject> {
        self.workloads.clone()
    }
}

fn named<T: Default>(name: &str, f: impl FnOnce(&mut T) -> &mut kube::api::ObjectMeta) -> T {
    let mut t = T::default();
    f(&mut t).name = Some(name.into());
    t
}

fn desired() -> DesiredObjects {
    let head = ObjectSet::stamped(vec![
        Object::StatefulSet(named::<StatefulSet>("c-head", |s| &mut s.metadata)),
        Object::Service(named::<Service>("c-head-svc", |s| &mut s.metadata)),
    ]);
    let small = ObjectSet::stamped(vec![
        Object::StatefulSet(named::<StatefulSet>("c-small", |s| &mut s.metadata)),
        Object::Service(named::<Service>("c-small-svc", |s| &mut s.metadata)),
    ]);
    DesiredObjects {
        head,
        groups: vec![("small".into(), small)],
        gcs_claim: None,
        cleanup_job: None,
        pki: None,
    }
}

fn key(kind: Kind, name: &str) -> ObjectKey {
    ObjectKey {
        kind,
        name: name.into(),
    }
}

fn live_obj(hash: &str, replicas: Option<i32>) -> LiveObject {
    LiveObject {
        hash: Some(hash.into()),
        replicas,
        rolled_out: true,
        on_delete_revision: None,
        owners: None,
        headless: None,
    }
}

fn pod(name: &str, node_type: &str, group: &str, ready: bool) -> Arc<Pod> {
    let mut p = Pod::default();
    p.metadata.name = Some(name.into());
    p.metadata.uid = Some(format!("{name}-uid"));
    p.metadata.labels = Some(
        [
            (LABEL_CLUSTER.to_owned(), "c".to_owned()),
            (LABEL_NODE_TYPE.to_owned(), node_type.to_owned()),
            (LABEL_GROUP.to_owned(), group.to_owned()),
        ]
        .into(),
    );
    p.status = Some(PodStatus {
        phase: Some("Running".into()),
        conditions: Some(vec![PodCondition {
            type_: "Ready".into(),
            status: if ready { "True" } else { "False" }.into(),
            ..PodCondition::default()
        }]),
        ..PodStatus::default()
    });
    Arc::new(p)
}

#[test]
fn pods_of_an_on_delete_statefulset_on_another_revision_are_outdated() {
    let d = desired();
    let mut live = FakeLive::default();
    let mut workload = live_obj(&d.groups[0].1.hash, Some(2));
    workload.on_delete_revision = Some("rev-2".into());
    live.objects
        .insert(key(Kind::StatefulSet, "c-small"), workload);
    live.objects.insert(
        key(Kind::Service, "c-small-svc"),
        live_obj(&d.groups[0].1.hash, None),
    );
    for (name, revision) in [("c-small-0", "rev-1"), ("c-small-1", "rev-2")] {
        let mut p = (*pod(name, "worker", "small", true)).clone();
        if let Some(labels) = p.metadata.labels.as_mut() {
            labels.insert("controller-revision-hash".into(), revision.into());
        }
        live.pods.push(Arc::new(p));
    }
    let obs = observe(&d, "c-head-0", &live);
    let outdated: Vec<(&str, bool)> = obs.groups[0]
        .pods
        .iter()
        .map(|p| (p.name.as_str(), p.outdated))
        .collect();
    assert_eq!(outdated, [("c-small-0", true), ("c-small-1", false)]);

    // A rolling StatefulSet replaces its pods itself: none is outdated.
    live.objects
        .get_mut(&key(Kind::StatefulSet, "c-small"))
        .unwrap()
        .on_delete_revision = None;
    let obs = observe(&d, "c-head-0", &live);
    assert!(obs.groups[0].pods.iter().all(|p| !p.outdated));
}

#[test]
fn nothing_live_observes_nothing_applied() {
    let obs = observe(&desired(), "c-head-0", &FakeLive::default());
    assert!(obs.head.applied.is_none());
    assert!(obs.head.pod.is_none());
    assert_eq!(obs.groups.len(), 1);
    assert!(obs.groups[0].applied.is_none());
}

#[test]
fn a_fully_applied_set_reports_its_hash_and_replicas() {
    let d = desired();
    let mut live = FakeLive::default();
    live.objects.insert(
        key(Kind::StatefulSet, "c-head"),
        live_obj(&d.head.hash, Some(1)),
    );
    live.objects.insert(
        key(Kind::Service, "c-head-svc"),
        live_obj(&d.head.hash, None),
    );
    let obs = observe(&d, "c-head-0", &live);
    let applied = obs.head.applied.unwrap();
    assert_eq!(applied.hash, d.head.hash);
    assert_eq!(applied.replicas, 1);
}

#[test]
fn a_set_with_a_missing_object_is_not_applied() {
    let d = desired();
    let mut live = FakeLive::default();
    live.objects.insert(
        key(Kind::StatefulSet, "c-head"),
        live_obj(&d.head.hash, Some(1)),
    );
    assert!(observe(&d, "c-head-0", &live).head.applied.is_none());
}

#[test]
fn objects_with_different_hashes_are_mixed() {
    let d = desired();
    let mut live = FakeLive::default();
    live.objects
        .insert(key(Kind::StatefulSet, "c-head"), live_obj("old", Some(1)));
    live.objects.insert(
        key(Kind::Service, "c-head-svc"),
        live_obj(&d.head.hash, None),
    );
    assert_eq!(
        observe(&d, "c-head-0", &live).head.applied.unwrap().hash,
        "mixed"
    );
}

#[test]
fn pods_are_sorted_into_head_and_groups() {
    let live = FakeLive {
        pods: vec![
            pod("c-small-1", "worker", "small", true),
            pod("c-head-0", "head", "headgroup", true),
            pod("c-small-0", "worker", "small", false),
            pod("stray", "other", "x", true),
        ],
        ..FakeLive::default()
    };
    let obs = observe(&desired(), "c-head-0", &live);
    assert_eq!(obs.head.pod.unwrap().name, "c-head-0");
    let names: Vec<_> = obs.groups[0].pods.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["c-small-0", "c-small-1"]);
}

#[test]
fn the_statefulset_head_pod_is_preferred_over_strays() {
    let live = FakeLive {
        pods: vec![
            pod("zz-old-head", "head", "headgroup", true),
            pod("c-head-0", "head", "headgroup", false),
        ],
        ..FakeLive::default()
    };
    assert_eq!(
        observe(&desired(), "c-head-0", &live)
            .head
            .pod
            .unwrap()
            .name,
        "c-head-0"
    );
}

#[test]
fn a_live_group_missing_from_the_spec_is_reported_as_leftover() {
    let mut live = FakeLive::default();
    live.workloads
        .insert("small".into(), live_obj("h", Some(2)));
    live.workloads.insert("gone".into(), live_obj("h", Some(3)));
    live.pods = vec![pod("c-gone-0", "worker", "gone", true)];
    let obs = observe(&desired(), "c-head-0", &live);
    assert_eq!(obs.groups.len(), 2);
    assert_eq!(obs.groups[1].name, "gone");
    assert_eq!(obs.groups[1].applied.as_ref().unwrap().replicas, 3);
    assert_eq!(obs.groups[1].pods.len(), 1);
}
