//! YuniKorn's `yunikorn.apache.org/task-groups` pod annotation, for clusters
//! labelled `ray.io/gang-scheduling-enabled` under `--batch-scheduler=yunikorn`.
//!
//! Invariants: the RayCluster's own `yunikorn.apache.org/task-groups`
//! annotation, when set and non-empty, is used as it is; otherwise a JSON
//! array with one task group per Ray group, the head first as `headgroup`
//! with `minMember` 1, then each worker group in spec order with `minMember`
//! = `minReplicas` × `numOfHosts`. Each entry's `minResource` is one pod's
//! resources (per container requests, else limits), and `nodeSelector`,
//! `tolerations` and `affinity` are the template's, left out when unset.

use serde_json::{Map, Value, json};

use super::{
    ClusterContext, batch_scheduler::ANNOTATION_YUNIKORN_TASK_GROUPS,
    desired_resources::pod_resources,
};
use crate::crd::{
    effective::{effective_head_template, effective_worker_template},
    names::HEAD_GROUP_LABEL_VALUE,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;

/// The annotation's value for every pod of the cluster.
#[must_use]
pub fn task_groups_annotation(ctx: &ClusterContext<'_>) -> String {
    if let Some(given) = ctx
        .annotations
        .and_then(|a| a.get(ANNOTATION_YUNIKORN_TASK_GROUPS))
        .filter(|v| !v.is_empty())
    {
        return given.clone();
    }
    let mut groups = vec![task_group(
        HEAD_GROUP_LABEL_VALUE,
        1,
        &effective_head_template(ctx.spec),
    )];
    for group in &ctx.spec.worker_group_specs {
        let members = group
            .min_replicas
            .max(0)
            .saturating_mul(group.num_of_hosts.max(0));
        groups.push(task_group(
            &group.group_name,
            members,
            &effective_worker_template(ctx.spec, group),
        ));
    }
    Value::Array(groups).to_string()
}

fn task_group(name: &str, min_member: i32, template: &PodTemplateSpec) -> Value {
    let min_resource: Map<String, Value> = pod_resources(template)
        .into_iter()
        .map(|(resource, amount)| (resource, Value::String(amount.canonical())))
        .collect();
    let mut entry = json!({
        "name": name,
        "minMember": min_member,
        "minResource": min_resource,
    });
    if let (Some(pod), Some(fields)) = (template.spec.as_ref(), entry.as_object_mut()) {
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                fields.insert(key.to_owned(), value);
            }
        };
        put(
            "nodeSelector",
            pod.node_selector
                .as_ref()
                .filter(|m| !m.is_empty())
                .and_then(|m| serde_json::to_value(m).ok()),
        );
        put(
            "tolerations",
            pod.tolerations
                .as_ref()
                .filter(|t| !t.is_empty())
                .and_then(|t| serde_json::to_value(t).ok()),
        );
        put(
            "affinity",
            pod.affinity
                .as_ref()
                .and_then(|a| serde_json::to_value(a).ok()),
        );
    }
    entry
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{
        build::BuildOptions,
        crd::{RayCluster, test_builders::group},
    };

    fn annotation(c: &RayCluster) -> Value {
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(c, &options).unwrap();
        serde_json::from_str(&task_groups_annotation(&ctx)).unwrap()
    }

    #[test]
    fn head_first_then_groups_at_min_replicas() {
        let mut c = RayCluster::test("rc").with_group(group("gpu").with_replicas(3).bounds(2, 4));
        c.spec.worker_group_specs[0].num_of_hosts = 2;
        let mut template = effective_worker_template(&c.spec, &c.spec.worker_group_specs[0]);
        if let Some(pod) = template.spec.as_mut() {
            pod.node_selector = Some(BTreeMap::from([("pool".into(), "gpu".into())]));
        }
        c.spec.worker_group_specs[0].template = Some(template);
        let groups = annotation(&c);
        assert_eq!(groups[0]["name"], "headgroup");
        assert_eq!(groups[0]["minMember"], 1);
        assert!(groups[0].get("nodeSelector").is_none());
        assert_eq!(groups[1]["name"], "gpu");
        assert_eq!(groups[1]["minMember"], 4);
        assert_eq!(groups[1]["nodeSelector"]["pool"], "gpu");
        assert!(groups[1]["minResource"].is_object());
    }

    #[test]
    fn the_clusters_own_annotation_wins() {
        let mut c = RayCluster::test("rc");
        c.metadata.annotations = Some(BTreeMap::from([(
            ANNOTATION_YUNIKORN_TASK_GROUPS.to_owned(),
            r#"[{"name":"mine","minMember":7}]"#.to_owned(),
        )]));
        assert_eq!(annotation(&c)[0]["name"], "mine");
    }
}
