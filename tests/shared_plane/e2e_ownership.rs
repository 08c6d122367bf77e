//! rayop never takes over an object it did not create: a Service, a
//! ServiceAccount, a Role and a RoleBinding that already exist under the
//! names rayop would give its own are left exactly as they were, the name is
//! reported as a `NameConflict`, and deleting the RayCluster leaves them in
//! place. A RayCluster named `default` leaves the namespace's `default`
//! ServiceAccount alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use crate::support::*;
use anyhow::{Result, ensure};
use k8s_openapi::api::{
    core::v1::{Service, ServiceAccount, ServicePort, ServiceSpec},
    rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject},
};
use kube::{
    Api,
    api::{DeleteParams, ObjectMeta, PostParams},
};
use rayop::crd::{RayCluster, names};
use rayop_testenv::wait_until;

fn named(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        ..ObjectMeta::default()
    }
}

fn web_service(name: &str) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(BTreeMap::from([("app".into(), "web".into())])),
            ports: Some(vec![ServicePort {
                port: 80,
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The object has none of what rayop would have given it.
fn untouched(meta: &ObjectMeta) -> Result<()> {
    ensure!(
        meta.owner_references.is_none(),
        "owner references added: {meta:?}"
    );
    let labels = meta.labels.clone().unwrap_or_default();
    ensure!(
        !labels.contains_key(names::LABEL_CLUSTER),
        "rayop's labels added: {labels:?}"
    );
    let managers: Vec<_> = meta
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.as_deref())
        .collect();
    ensure!(
        !managers.contains(&"rayop"),
        "rayop manages fields: {managers:?}"
    );
    Ok(())
}

async fn conflict_reported(client: &kube::Client, ns: &str, object: &str) -> Result<()> {
    wait_event(
        client,
        ns,
        &format!("a NameConflict naming {object}"),
        |e| {
            e.reason.as_deref() == Some("NameConflict")
                && e.message.as_deref().is_some_and(|n| n.contains(object))
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_under_generated_names_are_never_taken_over() -> Result<()> {
    let (env, ns) = setup("owner").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &ns);

    // A Service under the head Service's name.
    let head_svc = names::head_service_name("svc");
    services
        .create(&PostParams::default(), &web_service(&head_svc))
        .await?;
    let c = create(
        &client,
        &cluster(RayCluster::test("svc").with_workers(1), &ns),
    )
    .await?;
    conflict_reported(&client, &ns, &head_svc).await?;
    let svc = services.get(&head_svc).await?;
    untouched(&svc.metadata)?;
    let selector = svc.spec.and_then(|s| s.selector).unwrap_or_default();
    ensure!(
        selector.get("app").map(String::as_str) == Some("web"),
        "selector re-pointed: {selector:?}"
    );
    ensure!(
        statefulset(&client, &ns, &names::head_statefulset_name("svc"))
            .await?
            .is_none(),
        "no head is started behind a Service that is not the cluster's"
    );

    // A ServiceAccount under the autoscaler's name.
    let sa_name = names::autoscaler_service_account_name("auto");
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(sa_name.clone()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    accounts.create(&PostParams::default(), &account).await?;
    let auto = RayCluster::test("auto").with_workers(1).with_autoscaling();
    let a = create(&client, &cluster(auto, &ns)).await?;
    conflict_reported(&client, &ns, &format!("ServiceAccount {sa_name}")).await?;
    untouched(&accounts.get(&sa_name).await?.metadata)?;

    // A Role and a RoleBinding under the autoscaler's names (its
    // ServiceAccount is free, so rayop gets as far as each).
    let roles: Api<Role> = Api::namespaced(client.clone(), &ns);
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), &ns);
    let role_name = names::autoscaler_service_account_name("role");
    let their_rules = vec![PolicyRule {
        api_groups: Some(vec![String::new()]),
        resources: Some(vec!["configmaps".into()]),
        verbs: vec!["get".into()],
        ..PolicyRule::default()
    }];
    roles
        .create(
            &PostParams::default(),
            &Role {
                metadata: named(&role_name),
                rules: Some(their_rules.clone()),
            },
        )
        .await?;
    let binding_name = names::autoscaler_service_account_name("binding");
    let their_subjects = vec![Subject {
        kind: "ServiceAccount".into(),
        name: "someone-else".into(),
        namespace: Some(ns.clone()),
        ..Subject::default()
    }];
    bindings
        .create(
            &PostParams::default(),
            &RoleBinding {
                metadata: named(&binding_name),
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: "Role".into(),
                    name: "their-role".into(),
                },
                subjects: Some(their_subjects.clone()),
            },
        )
        .await?;
    let mut rbac_clusters = Vec::new();
    for name in ["role", "binding"] {
        let c = RayCluster::test(name).with_workers(1).with_autoscaling();
        rbac_clusters.push(create(&client, &cluster(c, &ns)).await?);
    }
    conflict_reported(&client, &ns, &format!("Role {role_name}")).await?;
    conflict_reported(&client, &ns, &format!("RoleBinding {binding_name}")).await?;
    let role = roles.get(&role_name).await?;
    untouched(&role.metadata)?;
    ensure!(role.rules == Some(their_rules), "the Role's rules changed");
    let binding = bindings.get(&binding_name).await?;
    untouched(&binding.metadata)?;
    ensure!(
        binding.subjects == Some(their_subjects) && binding.role_ref.name == "their-role",
        "the RoleBinding changed: {binding:?}"
    );

    // A RayCluster named `default`: the namespace's default ServiceAccount.
    let before = accounts.get("default").await?;
    let d = RayCluster::test("default")
        .with_workers(1)
        .with_autoscaling();
    let d = create(&client, &cluster(d, &ns)).await?;
    conflict_reported(&client, &ns, "ServiceAccount default").await?;
    let after = accounts.get("default").await?;
    untouched(&after.metadata)?;
    ensure!(
        after.metadata.resource_version == before.metadata.resource_version,
        "the default ServiceAccount was written"
    );

    // Deleting the clusters leaves every one of those objects in place.
    for c in [&c, &a, &d].into_iter().chain(rbac_clusters.iter()) {
        let name = c.metadata.name.clone().unwrap_or_default();
        clusters(&client, &ns)
            .delete(&name, &DeleteParams::default())
            .await?;
    }
    let rc = clusters(&client, &ns);
    wait_until("the RayClusters are gone", TIMEOUT, || {
        let rc = rc.clone();
        async move { Ok(rc.list(&Default::default()).await?.items.is_empty()) }
    })
    .await?;
    // The ServiceAccount of `role` was rayop's: once garbage collection has
    // removed it, it has had its chance at the others.
    wait_until(
        "garbage collection of role's ServiceAccount",
        TIMEOUT,
        || {
            let accounts = accounts.clone();
            async move {
                Ok(accounts
                    .get_opt(&names::autoscaler_service_account_name("role"))
                    .await?
                    .is_none())
            }
        },
    )
    .await?;
    ensure!(
        roles.get_opt(&role_name).await?.is_some(),
        "the Role was deleted"
    );
    ensure!(
        bindings.get_opt(&binding_name).await?.is_some(),
        "the RoleBinding was deleted"
    );
    ensure!(
        services.get_opt(&head_svc).await?.is_some(),
        "the Service was deleted"
    );
    ensure!(
        accounts.get_opt(&sa_name).await?.is_some(),
        "the ServiceAccount was deleted"
    );
    ensure!(
        accounts.get_opt("default").await?.is_some(),
        "the default ServiceAccount was deleted"
    );
    op.stop().await
}
