//! End-to-end tests of the operator against the real local control plane:
//! each test has its own namespace and an in-process operator watching it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use crate::support::*;
use anyhow::Result;
use k8s_openapi::api::{
    apps::v1::StatefulSet,
    core::v1::{Pod, Service, ServiceAccount},
    rbac::v1::{Role, RoleBinding},
};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, ListParams},
};
use rayop::crd::{
    RayCluster,
    status::{ClusterState, Phase},
    test_builders::group,
};
use rayop_testenv::wait_until;

fn uids(pods: &[Pod]) -> BTreeSet<String> {
    pods.iter().filter_map(|p| p.uid()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_sample_reaches_ready_with_sidecar_rbac_and_the_full_path() -> Result<()> {
    let (env, ns) = setup("seed").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    env.apply_yaml(
        &repo().join("tests/fixtures/seed-raycluster.yaml"),
        Some(&ns),
    )
    .await?;
    let c = wait_phase(&client, &ns, "basic-ray-cluster", Phase::Ready).await?;

    let status = c.status.clone().unwrap();
    assert_eq!(status.state, Some(ClusterState::Ready));
    assert_eq!(
        (status.ready_worker_replicas, status.desired_worker_replicas),
        (Some(2), Some(2))
    );
    // Every worker is Running once Ready; the totals are the default
    // templates': head 1 CPU and 2Gi, each of the 2 workers 1 CPU and 1Gi
    // (the autoscaler sidecar is not in the template and does not count).
    assert_eq!(status.available_worker_replicas, Some(2));
    let totals = [
        &status.desired_cpu,
        &status.desired_memory,
        &status.desired_gpu,
        &status.desired_tpu,
    ]
    .map(|q| q.as_ref().map(|q| q.0.as_str()));
    assert_eq!(totals, [Some("3"), Some("4Gi"), Some("0"), Some("0")]);
    let ready_at = status
        .state_transition_times
        .get("ready")
        .expect("stateTransitionTimes stamps ready")
        .0;
    assert_eq!(status.state_transition_times.len(), 1);
    let created = c.metadata.creation_timestamp.clone().unwrap().0;
    assert!(
        ready_at >= created,
        "ready at {ready_at}, created {created}"
    );
    let head = status.head.unwrap();
    assert!(head.pod_ip.is_some(), "head pod IP in status");
    assert!(head.service_ip.is_some(), "head service IP in status");

    let head_sts = must(
        statefulset(&client, &ns, "basic-ray-cluster-head").await?,
        "head StatefulSet",
    )?;
    let containers: Vec<String> = head_sts
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .containers
        .iter()
        .map(|c| c.name.clone())
        .collect();
    assert!(
        containers.contains(&"autoscaler".to_owned()),
        "sidecar in {containers:?}"
    );
    must(
        Api::<Service>::namespaced(client.clone(), &ns)
            .get_opt("basic-ray-cluster-head-svc")
            .await?,
        "head Service",
    )?;
    let workers = must(
        deployment(&client, &ns, "basic-ray-cluster-small-worker").await?,
        "worker Deployment",
    )?;
    assert_eq!(workers.spec.unwrap().replicas, Some(2));
    must(
        Api::<Service>::namespaced(client.clone(), &ns)
            .get_opt("basic-ray-cluster-small-worker-svc")
            .await?,
        "worker Service",
    )?;
    must(
        Api::<ServiceAccount>::namespaced(client.clone(), &ns)
            .get_opt("basic-ray-cluster")
            .await?,
        "ServiceAccount",
    )?;
    must(
        Api::<Role>::namespaced(client.clone(), &ns)
            .get_opt("basic-ray-cluster")
            .await?,
        "Role",
    )?;
    must(
        Api::<RoleBinding>::namespaced(client.clone(), &ns)
            .get_opt("basic-ray-cluster")
            .await?,
        "RoleBinding",
    )?;

    let journaled = op.transitions(&uid(&c));
    let expected = path(&[
        ("Pending", "HeadStarting"),
        ("HeadStarting", "Scaling"),
        ("Scaling", "Ready"),
    ]);
    assert_eq!(journaled, expected);
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_follows_replicas_and_clamps_to_the_bounds() -> Result<()> {
    let (env, ns) = setup("scale").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let c = cluster(
        RayCluster::test("sc").with_group(group("small").with_replicas(2).bounds(1, 3)),
        &ns,
    );
    create(&client, &c).await?;
    wait_phase(&client, &ns, "sc", Phase::Ready).await?;

    for (asked, expected) in [(3, 3), (1, 1), (10, 3)] {
        patch_spec(&client, &ns, "sc", serde_json::json!({ "workerGroupSpecs": [{ "groupName": "small", "replicas": asked, "minReplicas": 1, "maxReplicas": 3 }] })).await?;
        let c = wait_phase(&client, &ns, "sc", Phase::Ready).await?;
        let sts = must(
            statefulset(&client, &ns, "sc-small").await?,
            "worker StatefulSet",
        )?;
        assert_eq!(sts.spec.unwrap().replicas, Some(expected), "asked {asked}");
        assert_eq!(
            pods(&client, &ns, "sc", "worker").await?.len(),
            usize::try_from(expected)?
        );
        let status = c.status.unwrap();
        assert_eq!(status.ready_worker_replicas, Some(expected));
        if asked != expected {
            assert!(
                status
                    .reason
                    .unwrap_or_default()
                    .contains("ReplicasClamped"),
                "status says it clamped"
            );
        }
    }
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_template_change_rolls_the_workload_out() -> Result<()> {
    let (env, ns) = setup("roll").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    create(
        &client,
        &cluster(
            RayCluster::test("rl").with_group(group("small").with_replicas(2).bounds(0, 4)),
            &ns,
        ),
    )
    .await?;
    wait_phase(&client, &ns, "rl", Phase::Ready).await?;
    let before = uids(&pods(&client, &ns, "rl", "worker").await?);

    patch_spec(&client, &ns, "rl", serde_json::json!({ "workerGroupSpecs": [{
        "groupName": "small", "replicas": 2, "minReplicas": 0, "maxReplicas": 4,
        "template": { "spec": { "containers": [{ "name": "ray-worker", "image": "rayproject/ray:2.46.0",
            "env": [{ "name": "ROLLOUT_MARK", "value": "2" }] }] } } }] })).await?;
    wait_phase(&client, &ns, "rl", Phase::Ready).await?;
    let sts = must(
        statefulset(&client, &ns, "rl-small").await?,
        "worker StatefulSet",
    )?;
    let env_names: Vec<String> = sts.spec.unwrap().template.spec.unwrap().containers[0]
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(
        env_names.contains(&"ROLLOUT_MARK".to_owned()),
        "new template applied: {env_names:?}"
    );
    let after = uids(&pods(&client, &ns, "rl", "worker").await?);
    assert_eq!(after.len(), 2);
    assert!(
        before.is_disjoint(&after),
        "every worker pod was replaced by the rollout"
    );
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_head_is_recreated_and_the_workers_restarted() -> Result<()> {
    let (env, ns) = setup("head").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let c = ready_cluster(&client, &ns, "hl", 2).await?;
    let head_before = uids(&pods(&client, &ns, "hl", "head").await?);
    let workers_before = uids(&pods(&client, &ns, "hl", "worker").await?);
    let seen = op.transitions(&uid(&c)).len();

    Api::<Pod>::namespaced(client.clone(), &ns)
        .delete("hl-head-0", &DeleteParams::default())
        .await?;
    wait_transition(&op, &uid(&c), seen, "Ready", "Recovering").await?;
    wait_transition(&op, &uid(&c), seen, "Recovering", "Scaling").await?;
    wait_transition(&op, &uid(&c), seen, "Scaling", "Ready").await?;
    wait_phase(&client, &ns, "hl", Phase::Ready).await?;

    let head_after = pods(&client, &ns, "hl", "head").await?;
    assert_eq!(head_after.len(), 1);
    assert_eq!(head_after[0].name_any(), "hl-head-0", "same stable name");
    assert!(
        head_before.is_disjoint(&uids(&head_after)),
        "a new head incarnation"
    );
    let workers_after = uids(&pods(&client, &ns, "hl", "worker").await?);
    assert_eq!(workers_after.len(), 2);
    assert!(
        workers_before.is_disjoint(&workers_after),
        "workers of the lost head were restarted"
    );
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_worker_goes_through_scaling_back_to_ready() -> Result<()> {
    let (env, ns) = setup("worker").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let c = ready_cluster(&client, &ns, "wl", 2).await?;
    let seen = op.transitions(&uid(&c)).len();
    Api::<Pod>::namespaced(client.clone(), &ns)
        .delete("wl-small-1", &DeleteParams::default())
        .await?;
    wait_transition(&op, &uid(&c), seen, "Ready", "Scaling").await?;
    wait_transition(&op, &uid(&c), seen, "Scaling", "Ready").await?;
    assert_eq!(pods(&client, &ns, "wl", "worker").await?.len(), 2);
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_cluster_removes_every_child_and_keeps_the_journal() -> Result<()> {
    let (env, ns) = setup("delete").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let c = create(
        &client,
        &cluster(
            RayCluster::test("dl").with_group(group("small").with_replicas(1).bounds(0, 2)),
            &ns,
        ),
    )
    .await?;
    wait_phase(&client, &ns, "dl", Phase::Ready).await?;
    clusters(&client, &ns)
        .delete("dl", &DeleteParams::default())
        .await?;
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    let svc: Api<Service> = Api::namespaced(client.clone(), &ns);
    let pod: Api<Pod> = Api::namespaced(client.clone(), &ns);
    wait_until("every child garbage-collected", TIMEOUT, || async {
        let lp = ListParams::default().labels("ray.io/cluster=dl");
        Ok(sts.list(&lp).await?.items.is_empty()
            && svc.list(&lp).await?.items.is_empty()
            && pod.list(&lp).await?.items.is_empty())
    })
    .await?;
    let id = uid(&c);
    wait_until("stream marked deleted", TIMEOUT, || async {
        let journal = op.handles.journal.journal().unwrap();
        Ok(journal.stream_info(&id)?.deleted_at.is_some())
    })
    .await?;
    assert!(
        op.records(&id)
            .iter()
            .any(|r| matches!(r, rayop::record::Record::Event(e) if e.input.kind() == "Deleted"))
    );
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_spec_stays_pending_with_a_reason_while_others_proceed() -> Result<()> {
    let (env, ns) = setup("invalid").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let bad = cluster(
        RayCluster::test("bad")
            .with_group(group("small").with_replicas(1).param("num-cpus", "lots")),
        &ns,
    );
    create(&client, &bad).await?;
    create(
        &client,
        &cluster(RayCluster::test("good").with_workers(1), &ns),
    )
    .await?;
    wait_phase(&client, &ns, "good", Phase::Ready).await?;
    let c = wait_phase(&client, &ns, "bad", Phase::Pending).await?;
    let status = c.status.unwrap();
    let condition = status
        .conditions
        .iter()
        .find(|c| c.type_ == "InvalidSpec")
        .cloned()
        .unwrap();
    assert_eq!(condition.status, "True");
    assert!(
        condition.message.contains("num-cpus"),
        "names the field: {}",
        condition.message
    );
    wait_event(&client, &ns, "a Warning Event InvalidSpec", |e| {
        e.reason.as_deref() == Some("InvalidSpec")
            && e.type_.as_deref() == Some("Warning")
            && e.involved_object.name.as_deref() == Some("bad")
    })
    .await?;
    assert!(
        statefulset(&client, &ns, "bad-head").await?.is_none(),
        "nothing created for an invalid spec"
    );
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_with_the_same_name_in_two_namespaces_do_not_interfere() -> Result<()> {
    let (env, ns_a) = setup("twin-a").await?;
    let ns_b = env.namespace("twin-b").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns_a, &ns_b]).await?;
    create(
        &client,
        &cluster(
            RayCluster::test("twin").with_group(group("small").with_replicas(1).bounds(0, 4)),
            &ns_a,
        ),
    )
    .await?;
    create(
        &client,
        &cluster(
            RayCluster::test("twin").with_group(group("small").with_replicas(3).bounds(0, 4)),
            &ns_b,
        ),
    )
    .await?;
    wait_phase(&client, &ns_a, "twin", Phase::Ready).await?;
    wait_phase(&client, &ns_b, "twin", Phase::Ready).await?;
    assert_eq!(pods(&client, &ns_a, "twin", "worker").await?.len(), 1);
    assert_eq!(pods(&client, &ns_b, "twin", "worker").await?.len(), 3);
    patch_spec(&client, &ns_a, "twin", serde_json::json!({ "workerGroupSpecs": [{ "groupName": "small", "replicas": 2, "minReplicas": 0, "maxReplicas": 4 }] })).await?;
    wait_phase(&client, &ns_a, "twin", Phase::Ready).await?;
    wait_until("twin-a at 2 workers", TIMEOUT, || async {
        Ok(pods(&client, &ns_a, "twin", "worker").await?.len() == 2)
    })
    .await?;
    assert_eq!(
        pods(&client, &ns_b, "twin", "worker").await?.len(),
        3,
        "the other namespace is untouched"
    );
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volume_claim_templates_bind_to_precreated_volumes() -> Result<()> {
    use k8s_openapi::api::{
        core::v1::{PersistentVolume, PersistentVolumeClaim},
        storage::v1::StorageClass,
    };
    use kube::api::PostParams;
    let (env, ns) = setup("pvc").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    // The local control plane has no provisioner: volumes are made up front.
    let class = format!("rayop-{ns}");
    let sc: StorageClass = serde_json::from_value(serde_json::json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": { "name": class },
        "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "Immediate",
    }))?;
    Api::<StorageClass>::all(client.clone())
        .create(&PostParams::default(), &sc)
        .await?;
    for i in 0..2 {
        let pv: PersistentVolume = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": { "name": format!("{ns}-pv-{i}") },
            "spec": {
                "capacity": { "storage": "1Gi" },
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": class,
                "hostPath": { "path": format!("/tmp/{ns}-pv-{i}") },
            },
        }))?;
        Api::<PersistentVolume>::all(client.clone())
            .create(&PostParams::default(), &pv)
            .await?;
    }
    let claim: PersistentVolumeClaim = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "data" },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": class,
            "resources": { "requests": { "storage": "1Gi" } },
        },
    }))?;
    let mut c = RayCluster::test("pv").with_group(group("small").with_replicas(1).bounds(0, 1));
    c.spec
        .head_group_spec
        .get_or_insert_with(Default::default)
        .volume_claim_templates = Some(vec![claim.clone()]);
    c.spec.worker_group_specs[0].volume_claim_templates = Some(vec![claim]);
    create(&client, &cluster(c, &ns)).await?;
    wait_phase(&client, &ns, "pv", Phase::Ready).await?;
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    for name in ["data-pv-head-0", "data-pv-small-0"] {
        wait_until(&format!("PVC {name} Bound"), TIMEOUT, || async {
            Ok(pvcs
                .get_opt(name)
                .await?
                .and_then(|p| p.status)
                .and_then(|s| s.phase)
                .as_deref()
                == Some("Bound"))
        })
        .await?;
    }
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_gcs_fault_tolerance_a_head_restart_keeps_the_workers() -> Result<()> {
    let (env, ns) = setup("gcsft").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let c = RayCluster::test("ft")
        .with_group(group("small").with_replicas(2).bounds(0, 4))
        .with_gcs_fault_tolerance("redis.example:6379");
    let c = create(&client, &cluster(c, &ns)).await?;
    wait_phase(&client, &ns, "ft", Phase::Ready).await?;
    let sts = must(
        statefulset(&client, &ns, "ft-small").await?,
        "worker StatefulSet",
    )?;
    let env_vars = sts.spec.unwrap().template.spec.unwrap().containers[0]
        .env
        .clone()
        .unwrap_or_default();
    assert!(
        env_vars
            .iter()
            .any(|e| e.name == "RAY_gcs_rpc_server_reconnect_timeout_s"
                && e.value.as_deref() == Some("600")),
        "workers wait 600 s for the GCS: {env_vars:?}"
    );
    let workers_before = uids(&pods(&client, &ns, "ft", "worker").await?);
    let seen = op.transitions(&uid(&c)).len();
    Api::<Pod>::namespaced(client.clone(), &ns)
        .delete("ft-head-0", &DeleteParams::default())
        .await?;
    wait_transition(&op, &uid(&c), seen, "Ready", "Recovering").await?;
    wait_phase(&client, &ns, "ft", Phase::Ready).await?;
    assert_eq!(
        uids(&pods(&client, &ns, "ft", "worker").await?),
        workers_before,
        "no worker was restarted"
    );
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_does_not_decode_is_reported_and_skipped() -> Result<()> {
    use kube::api::{ApiResource, DynamicObject, PostParams};
    let (env, ns) = setup("malformed").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    // The CRD keeps pod templates open, so a wrongly typed field inside one is
    // stored; it only fails when decoded into a PodTemplateSpec.
    let resource = ApiResource::erase::<RayCluster>(&());
    let broken: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "ray.io/v1", "kind": "RayCluster",
        "metadata": { "name": "broken", "namespace": ns },
        "spec": { "workerGroupSpecs": [{ "groupName": "small", "replicas": 1,
            "template": { "spec": { "containers": [{ "name": "w", "image": "x" }], "volumes": "not-a-list" } } }] },
    }))?;
    Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &resource)
        .create(&PostParams::default(), &broken)
        .await?;
    create(
        &client,
        &cluster(RayCluster::test("fine").with_workers(1), &ns),
    )
    .await?;
    wait_phase(&client, &ns, "fine", Phase::Ready).await?;
    wait_event(
        &client,
        &ns,
        "a Warning Event InvalidObject on the broken cluster",
        |e| {
            e.reason.as_deref() == Some("InvalidObject")
                && e.involved_object.name.as_deref() == Some("broken")
        },
    )
    .await?;
    assert!(statefulset(&client, &ns, "broken-head").await?.is_none());
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_clusters_stream_is_pruned_after_its_retention_window() -> Result<()> {
    use std::time::Duration;
    let (env, ns) = setup("prune").await?;
    let client = env.client();
    let options = rayop_journal::Options {
        deleted_retention: Duration::from_secs(2),
        ..rayop_journal::Options::default()
    };
    let settings = rayop::controller::Settings {
        prune_every: Duration::from_secs(1),
        ..rayop::controller::Settings::default()
    };
    let op = Operator::start_with(client.clone(), &[&ns], options, settings).await?;
    let c = create(
        &client,
        &cluster(RayCluster::test("pr").with_workers(1), &ns),
    )
    .await?;
    wait_phase(&client, &ns, "pr", Phase::Ready).await?;
    let id = uid(&c);
    assert!(!op.records(&id).is_empty(), "journaled while alive");
    clusters(&client, &ns)
        .delete("pr", &DeleteParams::default())
        .await?;
    wait_until("the deleted stream pruned", TIMEOUT, || async {
        let journal = op.handles.journal.journal().unwrap();
        Ok(!journal.streams()?.iter().any(|s| s.id == id))
    })
    .await?;
    op.stop().await
}
