//! Pure comparison of the desired spec with the observed world.
//!
//! An [`Assessment`] answers the questions every state asks: is the head
//! serving, is each object in sync with the spec, is every group at its desired
//! count. It also lists the `Ensure*` commands that would close each gap, so
//! every state closes gaps the same way (level-triggered: the commands depend on
//! the current observation only, never on history).

use std::collections::BTreeMap;

use crate::{
    Command, DesiredSpec, GroupSpec, Notice, ObjectName, Observation, PodRef, PodView, Removal,
    Severity,
    command::DeleteReason,
    observation::{Applied, GroupObservation},
    status::{Hold, HoldReason},
};

/// One worker group's comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GroupAssessment {
    pub name: String,
    pub requested: i32,
    pub clamped: bool,
    pub desired: i32,
    pub ready: i32,
    pub synced: bool,
    pub converged: bool,
    /// Why a scale-down is held back, if it is.
    pub held: Option<Hold>,
    /// Pods named in `workersToDelete` that are deleted without a lower
    /// count, so the workload replaces them.
    pub deleting: Vec<PodRef>,
}

/// What a group's workload should run, and what must happen first.
struct ScalePlan {
    /// The replicas to command (`None`: an HPA owns them).
    replicas: Option<i32>,
    /// Pods to mark before the scale-down can proceed.
    mark: Vec<PodRef>,
    /// Why the scale-down is held back.
    held: Option<Hold>,
    /// Named pods to delete outright: the count stays, so the workload
    /// replaces them.
    delete: Vec<PodRef>,
}

/// The ordinal of a StatefulSet pod `<workload>-<n>`.
fn ordinal(pod: &str) -> Option<i32> {
    pod.rsplit_once('-').and_then(|(_, n)| n.parse().ok())
}

/// Plans a group's replicas: `target` is what the spec asks for, `live` what
/// the workload runs now. A scale-down removes exactly the pods named in
/// `workers_to_delete` (marking them first on a Deployment), never a pod at
/// random while in-tree autoscaling is on, and never a chosen pod a
/// StatefulSet cannot remove. A named pod is deleted outright when the count
/// does not go down (the Ray autoscaler replacing a worker, or a name left
/// over from a scale-up): the workload replaces it, and the autoscaler,
/// which will not act while a named pod exists, clears the list. A
/// StatefulSet recreates the pod under its name, so it is deleted again while
/// the list names it; only with in-tree autoscaling, whose autoscaler clears
/// the list once it sees the pod go: without it nobody would, and the pod
/// would restart for ever.
fn plan_scale(
    group: &GroupSpec,
    live: &GroupObservation,
    target: i32,
    suspended: bool,
) -> ScalePlan {
    if group.external_replicas && !suspended {
        return ScalePlan {
            replicas: None,
            mark: Vec::new(),
            held: None,
            delete: Vec::new(),
        };
    }
    let plain = ScalePlan {
        replicas: Some(target),
        mark: Vec::new(),
        held: None,
        delete: Vec::new(),
    };
    let Some(current) = live.applied.as_ref().map(|a| a.replicas) else {
        return plain;
    };
    if suspended {
        return plain;
    }
    let chosen: Vec<&PodView> = live
        .pods
        .iter()
        .filter(|p| !p.terminating && group.workers_to_delete.contains(&p.name))
        .collect();
    if target >= current {
        let replaced_by_name = group.removal == Removal::HighestOrdinals && !group.autoscaled;
        if replaced_by_name {
            return plain;
        }
        let mut delete: Vec<PodRef> = chosen.iter().map(|p| p.to_ref()).collect();
        delete.sort();
        return ScalePlan { delete, ..plain };
    }
    let hold = |reason, message, mark: Vec<PodRef>| ScalePlan {
        replicas: Some(current),
        mark,
        held: Some(Hold { reason, message }),
        delete: Vec::new(),
    };
    if chosen.is_empty() {
        if group.autoscaled {
            return hold(
                HoldReason::NoRandomScaleDown,
                format!(
                    "{} asks for {target} pods but names no pod in \
                     scaleStrategy.workersToDelete; with in-tree autoscaling no pod is removed at random",
                    group.name
                ),
                Vec::new(),
            );
        }
        return plain;
    }
    match group.removal {
        Removal::MarkedFirst => {
            let mut unmarked: Vec<PodRef> = chosen
                .iter()
                .filter(|p| !p.marked)
                .map(|p| p.to_ref())
                .collect();
            if unmarked.is_empty() {
                return plain;
            }
            unmarked.sort();
            hold(
                HoldReason::MarkingWorkers,
                format!(
                    "marking {} pod(s) of {} for removal first",
                    unmarked.len(),
                    group.name
                ),
                unmarked,
            )
        }
        Removal::HighestOrdinals => {
            if chosen
                .iter()
                .all(|p| ordinal(&p.name).is_some_and(|n| n >= target))
            {
                return plain;
            }
            hold(
                HoldReason::ChosenWorkerNotRemovable,
                format!(
                    "{} is a StatefulSet, which can only remove its highest \
                     ordinals; set workloadKind: Deployment for targeted scale-down",
                    group.name
                ),
                Vec::new(),
            )
        }
    }
}

/// The spec compared with the world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Assessment {
    pub head_pod: Option<PodView>,
    pub head_synced: bool,
    pub groups: Vec<GroupAssessment>,
    /// Groups with live objects that the spec no longer has, sorted.
    pub orphans: Vec<String>,
    /// Worker pods that ended and must be deleted, sorted.
    pub finished_workers: Vec<PodRef>,
    /// Commands that bring every object to the spec.
    pub ensures: Vec<Command>,
    /// TLS only: `Some(None)` when both leaf certificates are usable,
    /// `Some(Some(why))` while Ray pods must wait; `None` with TLS off.
    pub certificates: Option<Option<String>>,
    /// TLS only: when each issued Certificate expires, by name.
    pub certificate_expiry: std::collections::BTreeMap<String, crate::Millis>,
}

/// Whether Ray pods may use the certificates; see
/// [`Assessment::certificates`].
fn pki_gate(spec: &DesiredSpec, world: &Observation) -> Option<Option<String>> {
    spec.pki_hash.as_ref()?;
    Some(match &world.pki {
        None => Some("the cert-manager objects are not created yet".to_owned()),
        Some(pki) if pki.applied.is_none() => {
            Some("the cert-manager objects are not created yet".to_owned())
        }
        Some(pki) => pki.waiting.clone(),
    })
}

fn in_sync(applied: Option<&Applied>, hash: &str, replicas: i32) -> bool {
    applied.is_some_and(|a| a.hash == hash && a.replicas == replicas && a.drifted.is_empty())
}

/// One Warning per object whose hand edits listed in `applied` are being
/// reverted, each about that object.
fn revert_notices(applied: Option<&Applied>, whose: &str) -> Vec<Command> {
    let Some(applied) = applied else {
        return Vec::new();
    };
    let mut by_object: BTreeMap<ObjectName, Vec<String>> = BTreeMap::new();
    for d in &applied.drifted {
        let object = ObjectName {
            kind: d.kind.clone(),
            name: d.name.clone(),
        };
        by_object
            .entry(object)
            .or_default()
            .push(format!("{} (changed by {})", d.field, d.manager));
    }
    by_object
        .into_iter()
        .map(|(object, fields)| {
            let message = format!(
                "reverting what was changed by hand on {whose}, back to the RayCluster's spec: \
                 {} {}: {}",
                object.kind,
                object.name,
                fields.join("; ")
            );
            Command::Announce(Notice {
                severity: Severity::Warning,
                reason: "DriftReverted".to_owned(),
                message,
                related: Some(object),
            })
        })
        .collect()
}

impl Assessment {
    /// Compares `spec` with `world`; `suspended` holds every workload at zero.
    pub fn new(spec: &DesiredSpec, world: &Observation, suspended: bool) -> Assessment {
        let head_replicas = if suspended { 0 } else { 1 };
        let head_synced = in_sync(world.head.applied.as_ref(), &spec.head_hash, head_replicas);
        let mut ensures = Vec::new();
        let certificates = pki_gate(spec, world);
        if let Some(hash) = &spec.pki_hash {
            let pki_applied = world.pki.as_ref().and_then(|p| p.applied.as_ref());
            ensures.extend(revert_notices(pki_applied, "the TLS certificates"));
            if !pki_applied.is_some_and(|a| &a.hash == hash && a.drifted.is_empty()) {
                if pki_applied.is_some_and(|a| &a.hash != hash) {
                    ensures.push(Notice::normal(
                        "MTLSCertificatesUpdated",
                        "updating the TLS certificates to the spec (their names or the pod IPs changed); \
                         cert-manager re-issues them"
                            .to_owned(),
                    ));
                }
                ensures.push(Command::EnsurePki);
            }
        }
        // No workload is created before its certificates can be used; one
        // that exists keeps being reconciled (its new pods wait in their
        // init container for a certificate that names them).
        let gate_closed = matches!(certificates, Some(Some(_)));
        let held_back = |exists: bool| gate_closed && !exists;
        ensures.extend(revert_notices(
            world.head.applied.as_ref(),
            "the head's objects",
        ));
        if !head_synced && !held_back(world.head.applied.is_some()) {
            ensures.push(Command::EnsureHead {
                replicas: head_replicas,
            });
        }

        let empty = GroupObservation::default();
        let mut groups = Vec::with_capacity(spec.groups.len());
        for group in &spec.groups {
            let live = world
                .groups
                .iter()
                .find(|g| g.name == group.name)
                .unwrap_or(&empty);
            let plan = plan_scale(group, live, group.desired_pods(suspended), suspended);
            let desired = match plan.replicas {
                Some(replicas) => replicas,
                None => live.applied.as_ref().map_or(0, |a| a.replicas),
            };
            let synced = live.applied.as_ref().is_some_and(|a| {
                a.hash == group.hash
                    && plan.replicas.is_none_or(|r| r == a.replicas)
                    && a.drifted.is_empty()
            });
            ensures.extend(revert_notices(
                live.applied.as_ref(),
                &format!("worker group {}'s objects", group.name),
            ));
            if !plan.mark.is_empty() {
                ensures.push(Command::MarkPods {
                    group: group.name.clone(),
                    pods: plan.mark.clone(),
                });
            }
            if !synced && !held_back(live.applied.is_some()) {
                ensures.push(Command::EnsureGroup {
                    group: group.name.clone(),
                    replicas: plan.replicas,
                });
            }
            if !plan.delete.is_empty() {
                ensures.push(Command::DeletePods {
                    reason: DeleteReason::NamedForRemoval,
                    pods: plan.delete.clone(),
                });
            }
            let mut outdated: Vec<PodRef> = live
                .pods
                .iter()
                .filter(|p| group.replace_outdated && p.outdated && !p.terminating)
                .map(PodView::to_ref)
                .collect();
            outdated.sort();
            // Only once the workload holds the new template: its pods are
            // then recreated from it.
            if synced && !outdated.is_empty() {
                ensures.push(Notice::normal(
                    "RecreatingPods",
                    format!(
                        "worker group {}: deleting {} pod(s) on an older template at once (upgradeStrategy Recreate)",
                        group.name,
                        outdated.len()
                    ),
                ));
                ensures.push(Command::DeletePods {
                    reason: DeleteReason::TemplateChanged,
                    pods: outdated.clone(),
                });
            }
            let live_pods = live.pods.iter().filter(|p| !p.terminating).count();
            let ready = live.pods.iter().filter(|p| p.is_serving()).count();
            let ready = i32::try_from(ready).unwrap_or(i32::MAX);
            let converged = synced
                && outdated.is_empty()
                && plan.delete.is_empty()
                && live.rolled_out
                && ready == desired
                && i32::try_from(live_pods).unwrap_or(i32::MAX) == desired;
            groups.push(GroupAssessment {
                name: group.name.clone(),
                requested: group.replicas,
                clamped: group.is_clamped(),
                desired,
                ready,
                synced,
                converged,
                held: plan.held,
                deleting: plan.delete,
            });
        }

        let mut orphans: Vec<String> = world
            .groups
            .iter()
            .filter(|g| g.applied.is_some() && !spec.groups.iter().any(|s| s.name == g.name))
            .map(|g| g.name.clone())
            .collect();
        orphans.sort();
        orphans.dedup();
        ensures.extend(orphans.iter().map(|group| Command::RemoveGroup {
            group: group.clone(),
        }));

        let mut finished_workers: Vec<PodRef> = world
            .groups
            .iter()
            .flat_map(|g| g.pods.iter())
            .filter(|p| p.is_finished() && !p.terminating)
            .map(PodView::to_ref)
            .collect();
        finished_workers.sort();
        finished_workers.dedup();
        if !finished_workers.is_empty() {
            ensures.push(Command::DeletePods {
                reason: DeleteReason::WorkerPodFinished,
                pods: finished_workers.clone(),
            });
        }

        Assessment {
            head_pod: world.head.pod.clone(),
            head_synced,
            groups,
            orphans,
            finished_workers,
            ensures,
            certificates,
            certificate_expiry: world
                .pki
                .as_ref()
                .map(|p| p.not_after.clone())
                .unwrap_or_default(),
        }
    }

    /// Whether the head pod is Running and Ready.
    pub fn head_serving(&self) -> bool {
        self.head_pod.as_ref().is_some_and(PodView::is_serving)
    }

    /// Whether every object matches the spec (counts aside).
    pub fn all_synced(&self) -> bool {
        self.head_synced && self.groups.iter().all(|g| g.synced) && self.orphans.is_empty()
    }

    /// Whether the cluster is at its desired state: head serving and in sync,
    /// every group in sync and at its desired count, no leftover groups.
    pub fn converged(&self) -> bool {
        self.head_serving()
            && self.all_synced()
            && self.groups.iter().all(|g| g.converged)
            && self.finished_workers.is_empty()
    }

    /// Worker pods created before `moment` and not already being deleted, sorted.
    pub fn workers_created_before(world: &Observation, moment: crate::Millis) -> Vec<PodRef> {
        let mut pods: Vec<PodRef> = world
            .groups
            .iter()
            .flat_map(|g| g.pods.iter())
            .filter(|p| p.created < moment && !p.terminating && !p.is_finished())
            .map(PodView::to_ref)
            .collect();
        pods.sort();
        pods
    }
}
