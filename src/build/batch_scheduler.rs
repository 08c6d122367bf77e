//! Batch schedulers: which one the operator hands pods to
//! (`--batch-scheduler`), and the metadata each one reads on the pods.
//!
//! Role: [`add_pod_metadata`] stamps a pod template (the head's or a worker
//! group's) with the configured scheduler's `schedulerName`, labels and
//! annotations, from the RayCluster's own labels and annotations. The
//! PodGroups are built by [`volcano_pod_group`](super::volcano_pod_group) and
//! [`scheduler_plugins_pod_group`](super::scheduler_plugins_pod_group).
//!
//! | Scheduler | `schedulerName` | pod metadata |
//! |---|---|---|
//! | volcano | `volcano` | labels `volcano.sh/queue-name`, `ray.io/priority-class-name` copied; annotations `scheduling.k8s.io/group-name=ray-<c>-pg`, `volcano.sh/task-spec=<group>` |
//! | yunikorn | `yunikorn` | labels `applicationId` ← `yunikorn.apache.org/app-id`, `queue` ← `yunikorn.apache.org/queue`; with `ray.io/gang-scheduling-enabled`, annotations `yunikorn.apache.org/task-groups` and `yunikorn.apache.org/task-group-name=<group>` |
//! | kai-scheduler | `kai-scheduler` | label `kai.scheduler/queue` copied |
//! | scheduler-plugins | `scheduler-plugins-scheduler` | with `ray.io/gang-scheduling-enabled`, label `scheduling.x-k8s.io/pod-group=<c>` |
//!
//! Invariants: without a configured scheduler nothing is added; a label is
//! copied only when the RayCluster sets it to a non-empty value; rayop's own
//! selector labels are never overwritten (the scheduler labels never collide
//! with them).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodTemplateSpec;

use super::{ClusterContext, volcano_pod_group, yunikorn_task_groups};
use crate::crd::names::RayNode;

/// RayCluster label whose presence turns on gang scheduling (YuniKorn,
/// scheduler-plugins).
pub const LABEL_GANG_SCHEDULING: &str = "ray.io/gang-scheduling-enabled";
/// RayCluster label naming the PriorityClass of a Volcano gang.
pub const LABEL_PRIORITY_CLASS: &str = "ray.io/priority-class-name";
/// RayCluster label naming the Volcano Queue.
pub const LABEL_VOLCANO_QUEUE: &str = "volcano.sh/queue-name";
/// Pod annotation naming the Volcano PodGroup.
pub const ANNOTATION_VOLCANO_GROUP: &str = "scheduling.k8s.io/group-name";
/// Pod annotation naming the pod's Volcano task (its Ray group).
pub const ANNOTATION_VOLCANO_TASK: &str = "volcano.sh/task-spec";
/// RayCluster label giving the YuniKorn application ID.
pub const LABEL_YUNIKORN_APP_ID: &str = "yunikorn.apache.org/app-id";
/// RayCluster label giving the YuniKorn queue.
pub const LABEL_YUNIKORN_QUEUE: &str = "yunikorn.apache.org/queue";
/// Pod label YuniKorn reads the application ID from.
pub const POD_LABEL_YUNIKORN_APP_ID: &str = "applicationId";
/// Pod label YuniKorn reads the queue from.
pub const POD_LABEL_YUNIKORN_QUEUE: &str = "queue";
/// Pod annotation (and RayCluster annotation) with YuniKorn's task groups.
pub const ANNOTATION_YUNIKORN_TASK_GROUPS: &str = "yunikorn.apache.org/task-groups";
/// Pod annotation naming the pod's YuniKorn task group.
pub const ANNOTATION_YUNIKORN_TASK_GROUP_NAME: &str = "yunikorn.apache.org/task-group-name";
/// RayCluster label (copied to pods) naming the KAI queue.
pub const LABEL_KAI_QUEUE: &str = "kai.scheduler/queue";
/// Pod label naming the scheduler-plugins PodGroup.
pub const LABEL_SCHEDULER_PLUGINS_POD_GROUP: &str = "scheduling.x-k8s.io/pod-group";

/// A batch scheduler rayop hands every pod to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BatchScheduler {
    /// Volcano, with a PodGroup per cluster.
    Volcano,
    /// Apache YuniKorn, with task groups under gang scheduling.
    Yunikorn,
    /// NVIDIA KAI Scheduler, whose podgrouper makes the PodGroup.
    KaiScheduler,
    /// kubernetes-sigs/scheduler-plugins' coscheduling, with a PodGroup
    /// under gang scheduling.
    SchedulerPlugins,
}

impl BatchScheduler {
    /// Every scheduler, in the order the flag's help lists them.
    pub const ALL: [BatchScheduler; 4] = [
        BatchScheduler::Volcano,
        BatchScheduler::Yunikorn,
        BatchScheduler::KaiScheduler,
        BatchScheduler::SchedulerPlugins,
    ];

    /// The name `--batch-scheduler` takes.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            BatchScheduler::Volcano => "volcano",
            BatchScheduler::Yunikorn => "yunikorn",
            BatchScheduler::KaiScheduler => "kai-scheduler",
            BatchScheduler::SchedulerPlugins => "scheduler-plugins",
        }
    }

    /// The scheduler named `name` on the command line.
    #[must_use]
    pub fn from_name(name: &str) -> Option<BatchScheduler> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The pods' `spec.schedulerName`.
    #[must_use]
    pub fn scheduler_name(self) -> &'static str {
        match self {
            BatchScheduler::Volcano => "volcano",
            BatchScheduler::Yunikorn => "yunikorn",
            BatchScheduler::KaiScheduler => "kai-scheduler",
            BatchScheduler::SchedulerPlugins => "scheduler-plugins-scheduler",
        }
    }
}

/// Whether the RayCluster asks for gang scheduling (the label's presence,
/// whatever its value).
#[must_use]
pub fn gang_scheduling(ctx: &ClusterContext<'_>) -> bool {
    ctx.labels
        .is_some_and(|labels| labels.contains_key(LABEL_GANG_SCHEDULING))
}

/// Adds the configured scheduler's `schedulerName`, labels and annotations
/// to the pod template of `node`.
pub fn add_pod_metadata(
    ctx: &ClusterContext<'_>,
    node: RayNode<'_>,
    template: &mut PodTemplateSpec,
) {
    let Some(scheduler) = ctx.options.batch_scheduler else {
        return;
    };
    if let Some(pod) = template.spec.as_mut() {
        pod.scheduler_name = Some(scheduler.scheduler_name().to_owned());
    }
    let meta = template.metadata.get_or_insert_with(Default::default);
    let mut labels = BTreeMap::new();
    let mut annotations = BTreeMap::new();
    let mut copy = |from: &str, to: &str| {
        if let Some(value) = ctx.label(from).filter(|v| !v.is_empty()) {
            labels.insert(to.to_owned(), value.to_owned());
        }
    };
    let group = node.group_label();
    match scheduler {
        BatchScheduler::Volcano => {
            copy(LABEL_VOLCANO_QUEUE, LABEL_VOLCANO_QUEUE);
            copy(LABEL_PRIORITY_CLASS, LABEL_PRIORITY_CLASS);
            annotations.insert(
                ANNOTATION_VOLCANO_GROUP.to_owned(),
                volcano_pod_group::pod_group_name(ctx.name),
            );
            annotations.insert(ANNOTATION_VOLCANO_TASK.to_owned(), group.to_owned());
        }
        BatchScheduler::Yunikorn => {
            copy(LABEL_YUNIKORN_APP_ID, POD_LABEL_YUNIKORN_APP_ID);
            copy(LABEL_YUNIKORN_QUEUE, POD_LABEL_YUNIKORN_QUEUE);
            if gang_scheduling(ctx) {
                annotations.insert(
                    ANNOTATION_YUNIKORN_TASK_GROUPS.to_owned(),
                    yunikorn_task_groups::task_groups_annotation(ctx),
                );
                annotations.insert(
                    ANNOTATION_YUNIKORN_TASK_GROUP_NAME.to_owned(),
                    group.to_owned(),
                );
            }
        }
        BatchScheduler::KaiScheduler => copy(LABEL_KAI_QUEUE, LABEL_KAI_QUEUE),
        BatchScheduler::SchedulerPlugins => {
            if gang_scheduling(ctx) {
                labels.insert(
                    LABEL_SCHEDULER_PLUGINS_POD_GROUP.to_owned(),
                    ctx.name.to_owned(),
                );
            }
        }
    }
    if !labels.is_empty() {
        let pod_labels = meta.labels.get_or_insert_with(Default::default);
        for (key, value) in labels {
            pod_labels.entry(key).or_insert(value);
        }
    }
    if !annotations.is_empty() {
        meta.annotations
            .get_or_insert_with(Default::default)
            .extend(annotations);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        build::{BuildOptions, desired_objects},
        crd::{RayCluster, test_builders::group},
        desired::Object,
    };

    fn cluster(labels: &[(&str, &str)]) -> RayCluster {
        let mut c = RayCluster::test("rc").with_group(group("gpu").with_replicas(2));
        c.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        c
    }

    /// A pod template's `(schedulerName, labels, annotations)`.
    type PodMeta = (
        Option<String>,
        BTreeMap<String, String>,
        BTreeMap<String, String>,
    );

    /// [`PodMeta`] of the head's and the group's pod templates.
    fn pods(c: &RayCluster, scheduler: Option<BatchScheduler>) -> Vec<PodMeta> {
        let options = BuildOptions {
            batch_scheduler: scheduler,
            ..BuildOptions::default()
        };
        let desired = desired_objects(c, &options).unwrap();
        [&desired.head, &desired.groups[0].1]
            .into_iter()
            .map(|set| {
                let template = match set.workload().unwrap() {
                    Object::StatefulSet(s) => s.spec.clone().unwrap().template,
                    Object::Deployment(d) => d.spec.clone().unwrap().template,
                    other => panic!("{other:?}"),
                };
                let meta = template.metadata.unwrap_or_default();
                (
                    template.spec.unwrap().scheduler_name,
                    meta.labels.unwrap_or_default(),
                    meta.annotations.unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn names_round_trip_and_scheduler_names() {
        for s in BatchScheduler::ALL {
            assert_eq!(BatchScheduler::from_name(s.name()), Some(s));
        }
        assert_eq!(BatchScheduler::from_name("kube-batch"), None);
        assert_eq!(
            BatchScheduler::SchedulerPlugins.scheduler_name(),
            "scheduler-plugins-scheduler"
        );
    }

    #[test]
    fn no_scheduler_adds_nothing() {
        let c = cluster(&[(LABEL_VOLCANO_QUEUE, "q"), (LABEL_GANG_SCHEDULING, "true")]);
        for (name, labels, annotations) in pods(&c, None) {
            assert_eq!(name, None);
            assert!(!labels.contains_key(LABEL_VOLCANO_QUEUE));
            // The head pod always says whether GCS fault tolerance is on.
            assert!(
                annotations.keys().all(|k| k == "ray.io/ft-enabled"),
                "{annotations:?}"
            );
        }
    }

    #[test]
    fn volcano_names_queue_priority_group_and_task() {
        let c = cluster(&[(LABEL_VOLCANO_QUEUE, "q1"), (LABEL_PRIORITY_CLASS, "high")]);
        let pods = pods(&c, Some(BatchScheduler::Volcano));
        for ((name, labels, annotations), task) in pods.iter().zip(["headgroup", "gpu"]) {
            assert_eq!(name.as_deref(), Some("volcano"));
            assert_eq!(labels[LABEL_VOLCANO_QUEUE], "q1");
            assert_eq!(labels[LABEL_PRIORITY_CLASS], "high");
            assert_eq!(annotations[ANNOTATION_VOLCANO_GROUP], "ray-rc-pg");
            assert_eq!(annotations[ANNOTATION_VOLCANO_TASK], task);
        }
    }

    #[test]
    fn yunikorn_labels_and_task_groups_only_with_the_gang_label() {
        let plain = cluster(&[
            (LABEL_YUNIKORN_APP_ID, "app-1"),
            (LABEL_YUNIKORN_QUEUE, "root.a"),
        ]);
        for (name, labels, annotations) in pods(&plain, Some(BatchScheduler::Yunikorn)) {
            assert_eq!(name.as_deref(), Some("yunikorn"));
            assert_eq!(labels[POD_LABEL_YUNIKORN_APP_ID], "app-1");
            assert_eq!(labels[POD_LABEL_YUNIKORN_QUEUE], "root.a");
            // The head pod always says whether GCS fault tolerance is on.
            assert!(
                annotations.keys().all(|k| k == "ray.io/ft-enabled"),
                "{annotations:?}"
            );
        }
        let gang = cluster(&[
            (LABEL_YUNIKORN_APP_ID, "app-1"),
            (LABEL_GANG_SCHEDULING, ""),
        ]);
        let pods = pods(&gang, Some(BatchScheduler::Yunikorn));
        for ((_, _, annotations), group) in pods.iter().zip(["headgroup", "gpu"]) {
            assert_eq!(annotations[ANNOTATION_YUNIKORN_TASK_GROUP_NAME], group);
            let groups: serde_json::Value =
                serde_json::from_str(&annotations[ANNOTATION_YUNIKORN_TASK_GROUPS]).unwrap();
            assert_eq!(groups[0]["name"], "headgroup");
            assert_eq!(groups[1]["name"], "gpu");
        }
    }

    #[test]
    fn kai_copies_the_queue() {
        let c = cluster(&[(LABEL_KAI_QUEUE, "team-a")]);
        for (name, labels, _) in pods(&c, Some(BatchScheduler::KaiScheduler)) {
            assert_eq!(name.as_deref(), Some("kai-scheduler"));
            assert_eq!(labels[LABEL_KAI_QUEUE], "team-a");
        }
        for (_, labels, _) in pods(&cluster(&[]), Some(BatchScheduler::KaiScheduler)) {
            assert!(!labels.contains_key(LABEL_KAI_QUEUE));
        }
    }

    #[test]
    fn scheduler_plugins_label_only_with_the_gang_label() {
        for (name, labels, _) in pods(&cluster(&[]), Some(BatchScheduler::SchedulerPlugins)) {
            assert_eq!(name.as_deref(), Some("scheduler-plugins-scheduler"));
            assert!(!labels.contains_key(LABEL_SCHEDULER_PLUGINS_POD_GROUP));
        }
        let gang = cluster(&[(LABEL_GANG_SCHEDULING, "true")]);
        for (_, labels, _) in pods(&gang, Some(BatchScheduler::SchedulerPlugins)) {
            assert_eq!(labels[LABEL_SCHEDULER_PLUGINS_POD_GROUP], "rc");
        }
    }
}
