//! The Ray autoscaler's RBAC: a ServiceAccount, Role and RoleBinding named
//! after the cluster, with in-tree autoscaling on.
//!
//! The Role grants exactly what the autoscaler uses, and nothing more:
//!
//! | API group | Resource | Verbs |
//! |---|---|---|
//! | `""` | `pods` | get, list, watch, patch |
//! | `""` | `pods/resize` | patch |
//! | `ray.io` | `rayclusters`, only its own (`resourceNames`) | get, patch |
//!
//! Pods cannot be narrowed by name (the workload controllers name them), so
//! the pod rights are the namespace's; the RayCluster rights are not, so one
//! cluster's autoscaler can never rescale another cluster.
//!
//! Invariant: when the head template names its own `serviceAccountName`, the
//! head pod runs as that account and rayop creates no ServiceAccount (it would
//! be unused); the Role and RoleBinding are still created, bound to the
//! user's account, so the autoscaler can work. All three objects are in the
//! head set, after the head's StatefulSet and Service.

use k8s_openapi::api::{
    core::v1::ServiceAccount,
    rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject},
};

use crate::{
    build::{ClusterContext, autoscaler_sidecar, object_meta::object_meta},
    crd::{
        effective_head_template,
        names::{self, RayNode},
    },
    desired::Object,
};

/// API group of the Role and RoleBinding, and of the binding's `roleRef`.
pub const RBAC_API_GROUP: &str = "rbac.authorization.k8s.io";

/// The Role's rules for the autoscaler of `cluster`: what `ray
/// kuberay-autoscaler` calls, nothing more (see the module docs' table).
#[must_use]
pub fn autoscaler_rules(cluster: &str) -> Vec<PolicyRule> {
    let rule = |group: &str, resource: &str, verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(vec![resource.to_owned()]),
        verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
        ..PolicyRule::default()
    };
    let own_cluster = PolicyRule {
        resource_names: Some(vec![cluster.to_owned()]),
        ..rule("ray.io", "rayclusters", &["get", "patch"])
    };
    vec![
        rule("", "pods", &["get", "list", "watch", "patch"]),
        rule("", "pods/resize", &["patch"]),
        own_cluster,
    ]
}

/// The ServiceAccount (unless the head template names one), Role and
/// RoleBinding of the autoscaler.
#[must_use]
pub fn autoscaler_rbac(ctx: &ClusterContext<'_>) -> Vec<Object> {
    let name = names::autoscaler_service_account_name(ctx.name);
    let template = effective_head_template(ctx.spec);
    let user_account = template
        .spec
        .as_ref()
        .and_then(autoscaler_sidecar::user_service_account)
        .map(str::to_owned);
    let meta = || object_meta(ctx, name.clone(), RayNode::Head);

    let mut objects = Vec::with_capacity(3);
    if user_account.is_none() {
        objects.push(Object::ServiceAccount(ServiceAccount {
            metadata: meta(),
            ..ServiceAccount::default()
        }));
    }
    objects.push(Object::Role(Role {
        metadata: meta(),
        rules: Some(autoscaler_rules(ctx.name)),
    }));
    objects.push(Object::RoleBinding(RoleBinding {
        metadata: meta(),
        role_ref: RoleRef {
            api_group: RBAC_API_GROUP.to_owned(),
            kind: "Role".to_owned(),
            name: name.clone(),
        },
        subjects: Some(vec![Subject {
            api_group: None,
            kind: "ServiceAccount".to_owned(),
            name: user_account.unwrap_or_else(|| name.clone()),
            namespace: Some(ctx.namespace.to_owned()),
        }]),
    }));
    objects
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        build::BuildOptions,
        crd::{RayCluster, head::HeadGroupSpec},
        desired::Kind,
    };

    fn rbac(cluster: &RayCluster) -> Vec<Object> {
        let options = BuildOptions::default();
        autoscaler_rbac(&ClusterContext::new(cluster, &options).unwrap())
    }

    #[test]
    fn account_role_and_binding_named_after_the_cluster() {
        let objects = rbac(&RayCluster::test("rc").with_autoscaling());
        let keys: Vec<_> = objects.iter().map(|o| (o.kind(), o.key().name)).collect();
        assert_eq!(
            keys,
            [
                (Kind::ServiceAccount, "rc".to_owned()),
                (Kind::Role, "rc".to_owned()),
                (Kind::RoleBinding, "rc".to_owned())
            ]
        );
        for object in &objects {
            assert_eq!(object.meta().namespace.as_deref(), Some("default"));
            assert_eq!(object.meta().owner_references.as_ref().unwrap().len(), 1);
        }
        let Object::RoleBinding(binding) = &objects[2] else {
            panic!("not a RoleBinding");
        };
        assert_eq!(binding.role_ref.name, "rc");
        assert_eq!(binding.role_ref.kind, "Role");
        assert_eq!(binding.role_ref.api_group, "rbac.authorization.k8s.io");
        let subject = &binding.subjects.as_ref().unwrap()[0];
        assert_eq!(
            (
                subject.kind.as_str(),
                subject.name.as_str(),
                subject.namespace.as_deref()
            ),
            ("ServiceAccount", "rc", Some("default"))
        );
    }

    #[test]
    fn exactly_the_facts_rules() {
        let rules: Vec<_> = autoscaler_rules("rc")
            .into_iter()
            .map(|r| {
                assert!(r.non_resource_urls.is_none());
                (
                    r.api_groups.unwrap().join(","),
                    r.resources.unwrap().join(","),
                    r.verbs.join(","),
                    r.resource_names.map(|n| n.join(",")),
                )
            })
            .collect();
        assert_eq!(
            rules,
            [
                (
                    "".into(),
                    "pods".into(),
                    "get,list,watch,patch".into(),
                    None
                ),
                ("".into(), "pods/resize".into(), "patch".into(), None),
                (
                    "ray.io".into(),
                    "rayclusters".into(),
                    "get,patch".into(),
                    Some("rc".into())
                ),
            ]
        );
    }

    #[test]
    fn a_user_service_account_suppresses_ours() {
        let mut cluster = RayCluster::test("rc").with_autoscaling();
        let mut template = effective_head_template(&cluster.spec);
        template.spec.as_mut().unwrap().service_account_name = Some("mine".into());
        cluster.spec.head_group_spec = Some(HeadGroupSpec {
            template: Some(template),
            ..HeadGroupSpec::default()
        });
        let objects = rbac(&cluster);
        let kinds: Vec<_> = objects.iter().map(Object::kind).collect();
        assert_eq!(kinds, [Kind::Role, Kind::RoleBinding]);
        let Object::RoleBinding(binding) = &objects[1] else {
            panic!("not a RoleBinding");
        };
        assert_eq!(binding.subjects.as_ref().unwrap()[0].name, "mine");
    }
}
