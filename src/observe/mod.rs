//! Observe: the live objects of one cluster become a machine [`Observation`].
//!
//! Role: the first step of a reconcile. It reads the watch caches (through
//! [`Live`]) for the objects the build step says should exist, and reports
//! facts only: which objects exist with which spec hash and replicas, which
//! fields rayop sets someone else has changed by hand (drift), whether
//! workloads finished rolling out, and each Ray pod's identity and health.
//!
//! Invariants:
//! - Pure over its inputs and total: missing or malformed objects become
//!   "absent" or conservative facts (not Ready, not rolled out), never errors.
//! - Output order is deterministic (groups in spec order, then leftover
//!   groups by name; pods by name), so equal caches give equal observations
//!   and therefore equal journal entries.

pub mod pods;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use rayop_machines::{
    Applied, DriftedField, GroupObservation, HeadObservation, Observation, PodView,
};

use crate::{
    crd::names::{LABEL_GROUP, LABEL_NODE_TYPE},
    desired::{DesiredObjects, ObjectKey, ObjectSet},
    owned::LiveObject,
};

/// Read access to the watch caches, scoped to one cluster's namespace.
pub trait Live {
    /// The live object with this key, if the cache has it.
    fn object(&self, key: &ObjectKey) -> Option<LiveObject>;
    /// The cluster's pods (label `ray.io/cluster`).
    fn pods(&self) -> Vec<std::sync::Arc<Pod>>;
    /// Groups that have a live workload labelled with this cluster, with it.
    fn workload_groups(&self) -> BTreeMap<String, LiveObject>;
}

/// The applied state of `set`, whether its workload rolled out, and the
/// revision of an `OnDelete` workload.
fn applied(set: &ObjectSet, live: &impl Live) -> (Option<Applied>, bool, Option<String>) {
    // A missing created-once object (the token Secret) makes the set
    // unapplied, so the machine ensures it again and the interpreter
    // creates it; an existing one is never compared.
    if set
        .created_once
        .iter()
        .any(|object| live.object(&object.key()).is_none())
    {
        return (None, false, None);
    }
    let mut hashes = Vec::with_capacity(set.objects.len());
    let mut replicas = 0;
    let mut rolled_out = true;
    let mut on_delete_revision = None;
    let mut drifted = Vec::new();
    for object in &set.objects {
        let Some(found) = live.object(&object.key()) else {
            return (None, false, None);
        };
        drifted.extend(found.drift(object).into_iter().map(|d| DriftedField {
            kind: object.kind().as_str().to_owned(),
            name: object.key().name,
            field: d.path,
            manager: d.manager,
        }));
        if object.is_workload() {
            replicas = found.replicas.unwrap_or(1);
            rolled_out = found.rolled_out;
            on_delete_revision.clone_from(&found.on_delete_revision);
        }
        hashes.push(found.hash.unwrap_or_default());
    }
    let hash = match hashes.split_first() {
        Some((first, rest)) if rest.iter().all(|h| h == first) => first.clone(),
        Some(_) => "mixed".to_owned(),
        None => String::new(),
    };
    (
        Some(Applied {
            hash,
            replicas,
            drifted,
        }),
        rolled_out,
        on_delete_revision,
    )
}

/// The label a StatefulSet puts on each pod: the revision it was made from.
const REVISION_LABEL: &str = "controller-revision-hash";

fn label<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map(String::as_str)
}

/// Observes one cluster: `desired` says which objects should exist,
/// `head_pod` is the head pod's name.
#[must_use]
pub fn observe(desired: &DesiredObjects, head_pod: &str, live: &impl Live) -> Observation {
    let pods = live.pods();
    let mut head_pods: Vec<PodView> = Vec::new();
    // Worker pods by group, with their StatefulSet revision.
    let mut by_group: BTreeMap<&str, Vec<(PodView, Option<&str>)>> = BTreeMap::new();
    let head_containers = pods::template_containers(&desired.head);
    let group_containers: BTreeMap<&str, Vec<String>> = desired
        .groups
        .iter()
        .map(|(name, set)| (name.as_str(), pods::template_containers(set)))
        .collect();
    for pod in &pods {
        match label(pod, LABEL_NODE_TYPE) {
            Some("head") => head_pods.push(pods::pod_view_in(pod, &head_containers)),
            Some("worker") => {
                if let Some(group) = label(pod, LABEL_GROUP) {
                    let containers = group_containers.get(group).map_or(&[][..], Vec::as_slice);
                    by_group.entry(group).or_default().push((
                        pods::pod_view_in(pod, containers),
                        label(pod, REVISION_LABEL),
                    ));
                }
            }
            _ => {}
        }
    }
    // The StatefulSet's own pod first; otherwise the newest head pod.
    head_pods.sort_by(|a, b| {
        (b.name == head_pod, b.created, &b.name).cmp(&(a.name == head_pod, a.created, &a.name))
    });
    let (head_applied, _, _) = applied(&desired.head, live);
    let head = HeadObservation {
        applied: head_applied,
        pod: head_pods.into_iter().next(),
        failed_create: None,
    };

    let mut groups = Vec::with_capacity(desired.groups.len());
    for (name, set) in &desired.groups {
        let (applied, rolled_out, revision) = applied(set, live);
        let mut pods: Vec<PodView> = by_group
            .remove(name.as_str())
            .unwrap_or_default()
            .into_iter()
            .map(|(mut pod, pod_revision)| {
                pod.outdated = revision
                    .as_deref()
                    .is_some_and(|current| pod_revision != Some(current));
                pod
            })
            .collect();
        pods.sort_by(|a, b| a.name.cmp(&b.name));
        groups.push(GroupObservation {
            name: name.clone(),
            applied,
            rolled_out,
            pods,
            failed_create: None,
        });
    }
    for (name, workload) in live.workload_groups() {
        if desired.group(&name).is_some() {
            continue;
        }
        let mut pods: Vec<PodView> = by_group
            .remove(name.as_str())
            .unwrap_or_default()
            .into_iter()
            .map(|(pod, _)| pod)
            .collect();
        pods.sort_by(|a, b| a.name.cmp(&b.name));
        groups.push(GroupObservation {
            name,
            applied: Some(Applied::new(
                workload.hash.unwrap_or_default(),
                workload.replicas.unwrap_or(0),
            )),
            rolled_out: workload.rolled_out,
            pods,
            failed_create: None,
        });
    }
    Observation {
        head,
        groups,
        cleanup_finalizer: false,
        pki: None,
    }
}

/// The PKI set as applied (all its objects exist), for a TLS-enabled
/// cluster; whether its certificates are usable is read separately.
#[must_use]
pub fn pki_applied(set: &ObjectSet, live: &impl Live) -> Option<Applied> {
    applied(set, live).0
}

#[cfg(test)]
mod tests;
