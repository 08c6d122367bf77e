//! The Ray autoscaler's rights reach no further than its own cluster: with
//! two autoscaled RayClusters in one namespace, each autoscaler's
//! ServiceAccount may patch its own RayCluster and not the other's, as
//! kube-apiserver's authorizer answers a SubjectAccessReview, and as
//! `kubectl auth can-i --as` answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use anyhow::{Result, ensure};
use k8s_openapi::api::{
    authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec},
    rbac::v1::Role,
};
use kube::{Api, api::PostParams};
use rayop::crd::{RayCluster, names};
use rayop_testenv::wait_until;

async fn may(
    client: &kube::Client,
    ns: &str,
    account: &str,
    verb: &str,
    cluster: &str,
) -> Result<bool> {
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(format!("system:serviceaccount:{ns}:{account}")),
            groups: Some(vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
            ]),
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(ns.into()),
                verb: Some(verb.into()),
                group: Some("ray.io".into()),
                resource: Some("rayclusters".into()),
                name: Some(cluster.into()),
                ..ResourceAttributes::default()
            }),
            ..SubjectAccessReviewSpec::default()
        },
        ..SubjectAccessReview::default()
    };
    let reviews: Api<SubjectAccessReview> = Api::all(client.clone());
    let answer = reviews.create(&PostParams::default(), &review).await?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_autoscaler_may_patch_only_its_own_raycluster() -> Result<()> {
    let (env, ns) = setup("rights").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    for name in ["alpha", "beta"] {
        let c = RayCluster::test(name).with_workers(1).with_autoscaling();
        create(&client, &cluster(c, &ns)).await?;
    }
    let roles: Api<Role> = Api::namespaced(client.clone(), &ns);
    for name in ["alpha", "beta"] {
        let role = names::autoscaler_service_account_name(name);
        wait_until(&format!("the autoscaler Role {role}"), TIMEOUT, || {
            let (roles, role) = (roles.clone(), role.clone());
            async move { Ok(roles.get_opt(&role).await?.is_some()) }
        })
        .await?;
    }
    let alpha = names::autoscaler_service_account_name("alpha");
    // The Role, then the RoleBinding, are applied one after the other, and
    // the authorizer sees them a moment later: wait for alpha's own right.
    wait_until("alpha's autoscaler bound to its Role", TIMEOUT, || {
        let (client, ns, alpha) = (client.clone(), ns.clone(), alpha.clone());
        async move { may(&client, &ns, &alpha, "get", "alpha").await }
    })
    .await?;
    for verb in ["get", "patch"] {
        ensure!(
            may(&client, &ns, &alpha, verb, "alpha").await?,
            "alpha's autoscaler may {verb} alpha"
        );
        ensure!(
            !may(&client, &ns, &alpha, verb, "beta").await?,
            "alpha's autoscaler may not {verb} beta"
        );
    }
    ensure!(
        !may(&client, &ns, &alpha, "list", "").await?,
        "alpha's autoscaler may not list every RayCluster"
    );
    // The same through kubectl's impersonation, as an admin would ask.
    let can_i = |cluster: &str| -> Result<String> {
        let out = env
            .kubectl()
            .args([
                "auth",
                "can-i",
                "patch",
                &format!("rayclusters.ray.io/{cluster}"),
                "-n",
                &ns,
                "--as",
                &format!("system:serviceaccount:{ns}:{alpha}"),
            ])
            .output()?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    ensure!(can_i("alpha")? == "yes", "kubectl: alpha may patch alpha");
    ensure!(can_i("beta")? == "no", "kubectl: alpha may not patch beta");
    op.stop().await
}
