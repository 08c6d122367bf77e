//! GCS fault tolerance against a real control plane: the embedded RocksDB
//! claim and its deletion policy, the head's wiring under the deprecated
//! `ray.io/ft-enabled` annotation and with `redisUsername`, the refusals,
//! and the Redis cleanup of a deleted cluster behind its finalizer, both
//! when the cleanup Job finishes and when the deadline passes (kwok never
//! finishes a pod by itself: the test finishes the Job's pod, or does not).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use anyhow::{Result, ensure};
use k8s_openapi::api::{
    apps::v1::StatefulSet,
    batch::v1::Job,
    core::v1::{Container, EnvVar, PersistentVolumeClaim, Pod},
};
use kube::{
    Api,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
};
use rayop::{
    controller::Settings,
    crd::{RayCluster, gcs, names},
};
use rayop_testenv::wait_until;

fn env_of<'a>(container: &'a Container, name: &str) -> Option<&'a EnvVar> {
    container.env.iter().flatten().find(|v| v.name == name)
}

fn literal<'a>(container: &'a Container, name: &str) -> Option<&'a str> {
    env_of(container, name).and_then(|v| v.value.as_deref())
}

/// The Ray container and the pod annotations of a StatefulSet's template.
fn ray_of(sts: &StatefulSet) -> (Container, std::collections::BTreeMap<String, String>) {
    let template = sts.spec.clone().unwrap().template;
    let annotations = template
        .metadata
        .and_then(|m| m.annotations)
        .unwrap_or_default();
    (template.spec.unwrap().containers[0].clone(), annotations)
}

async fn wait_statefulset(client: &kube::Client, ns: &str, name: &str) -> Result<StatefulSet> {
    wait_until(&format!("StatefulSet {name}"), TIMEOUT, || async {
        Ok(statefulset(client, ns, name).await?.is_some())
    })
    .await?;
    must(statefulset(client, ns, name).await?, name)
}

fn rocksdb(name: &str, storage: serde_json::Value) -> RayCluster {
    let mut c = RayCluster::test(name).with_workers(1);
    c.spec.gcs_fault_tolerance_options = Some(
        serde_json::from_value(serde_json::json!({ "backend": "rocksdb", "storage": storage }))
            .unwrap(),
    );
    c
}

async fn gone<K>(api: &Api<K>, what: &str) -> Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    wait_until(&format!("{what} gone"), TIMEOUT, || async {
        Ok(api.get_opt(what).await?.is_none())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocksdb_gets_its_claim_and_the_claim_follows_the_deletion_policy() -> Result<()> {
    let (env, ns) = setup("gcs-rocks").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);

    let kept = create(
        &client,
        &cluster(
            rocksdb("kept", serde_json::json!({ "subPath": "gcs" })),
            &ns,
        ),
    )
    .await?;
    let sts = wait_statefulset(&client, &ns, &names::head_statefulset_name("kept")).await?;
    let claim = must(claims.get_opt("kept-gcs-pvc").await?, "kept-gcs-pvc")?;
    let owner = claim.metadata.owner_references.clone().unwrap_or_default();
    ensure!(
        owner.len() == 1 && owner[0].uid == uid(&kept) && owner[0].controller == Some(true),
        "{owner:?}"
    );
    let spec = claim.spec.clone().unwrap();
    ensure!(spec.access_modes == Some(vec!["ReadWriteOnce".into()]));
    ensure!(
        spec.resources.unwrap().requests.unwrap()["storage"].0 == "1Gi",
        "the default size"
    );
    let (ray, annotations) = ray_of(&sts);
    ensure!(
        annotations
            .get(gcs::FT_ENABLED_ANNOTATION)
            .map(String::as_str)
            == Some("true")
    );
    ensure!(literal(&ray, "RAY_gcs_storage") == Some("rocksdb"));
    ensure!(literal(&ray, "RAY_gcs_storage_path") == Some("/data/gcs"));
    let mount = ray
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == "gcs-storage")
        .cloned();
    let mount = must(mount, "the gcs-storage mount")?;
    ensure!(mount.mount_path == "/data/gcs" && mount.sub_path.as_deref() == Some("gcs"));
    let volume = sts
        .spec
        .clone()
        .unwrap()
        .template
        .spec
        .unwrap()
        .volumes
        .unwrap_or_default()
        .into_iter()
        .find(|v| v.name == "gcs-storage");
    ensure!(
        volume
            .and_then(|v| v.persistent_volume_claim)
            .is_some_and(|c| c.claim_name == "kept-gcs-pvc"),
        "the head mounts the managed claim"
    );
    ensure!(
        !finalize_holds(&clusters(&client, &ns).get("kept").await?),
        "no Redis cleanup finalizer with rocksdb"
    );

    // Retain: the owner reference goes; a new size is a Warning, not a resize.
    patch_spec(
        &client,
        &ns,
        "kept",
        serde_json::json!({ "gcsFaultToleranceOptions": { "storage": {
            "subPath": "gcs", "deletionPolicy": "Retain", "size": "2Gi" } } }),
    )
    .await?;
    wait_until("the claim loses its owner", TIMEOUT, || async {
        let c = claims.get("kept-gcs-pvc").await?;
        Ok(c.metadata.owner_references.unwrap_or_default().is_empty())
    })
    .await?;
    wait_event(&client, &ns, "a Warning naming the size drift", |e| {
        e.reason.as_deref() == Some("FailedToCreatePVC")
            && e.message.as_deref().is_some_and(|m| m.contains("size"))
    })
    .await?;
    let size = claims
        .get("kept-gcs-pvc")
        .await?
        .spec
        .unwrap()
        .resources
        .unwrap();
    ensure!(
        size.requests.unwrap()["storage"].0 == "1Gi",
        "never resized"
    );
    clusters(&client, &ns)
        .delete("kept", &DeleteParams::default())
        .await?;
    gone(&clusters(&client, &ns), "kept").await?;

    // DeleteWithCluster (the default): the claim goes with its cluster.
    let _dropped = create(
        &client,
        &cluster(rocksdb("dropped", serde_json::json!({})), &ns),
    )
    .await?;
    wait_until("the dropped claim", TIMEOUT, || async {
        Ok(claims.get_opt("dropped-gcs-pvc").await?.is_some())
    })
    .await?;
    clusters(&client, &ns)
        .delete("dropped", &DeleteParams::default())
        .await?;
    gone(&claims, "dropped-gcs-pvc").await?;
    ensure!(
        claims.get_opt("kept-gcs-pvc").await?.is_some(),
        "a retained claim outlives its cluster"
    );

    // A claim of one's own that does not exist is named in a Warning.
    let own = rocksdb("own", serde_json::json!({ "claimName": "missing-claim" }));
    create(&client, &cluster(own, &ns)).await?;
    wait_event(&client, &ns, "a Warning naming the missing claim", |e| {
        e.reason.as_deref() == Some("FailedToCreatePVC")
            && e.message
                .as_deref()
                .is_some_and(|m| m.contains("missing-claim"))
    })
    .await?;
    ensure!(
        claims.get_opt("missing-claim").await?.is_none(),
        "never created"
    );
    op.stop().await
}

fn finalize_holds(c: &RayCluster) -> bool {
    c.metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == gcs::REDIS_CLEANUP_FINALIZER)
}

fn head_env(c: &mut RayCluster, name: &str, value: &str) {
    let head = c.spec.head_group_spec.get_or_insert_with(Default::default);
    if head.template.is_none() {
        head.template = Some(rayop::crd::effective_head_template(&Default::default()));
    }
    let template = head.template.get_or_insert_with(Default::default);
    let pod = template.spec.get_or_insert_with(Default::default);
    pod.containers[0]
        .env
        .get_or_insert_with(Vec::new)
        .push(EnvVar {
            name: name.into(),
            value: Some(value.into()),
            value_from: None,
        });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_annotation_and_redis_username_wire_the_head_and_bad_specs_are_refused() -> Result<()> {
    let (env, ns) = setup("gcs-wire").await?;
    let client = env.client();
    let settings = Settings {
        redis_cleanup: false,
        ..Settings::default()
    };
    let op = Operator::start_with(
        client.clone(),
        &[&ns],
        rayop_journal::Options::default(),
        settings,
    )
    .await?;

    // The deprecated annotation, any case, with the user's address and password.
    let mut legacy = RayCluster::test("legacy").with_workers(1);
    legacy.metadata.annotations = Some([(gcs::FT_ENABLED_ANNOTATION.into(), "TRUE".into())].into());
    head_env(&mut legacy, "RAY_REDIS_ADDRESS", "redis:6379");
    if let Some(head) = legacy.spec.head_group_spec.as_mut() {
        head.ray_start_params
            .insert("redis-password".into(), "pw".into());
    }
    let legacy = create(&client, &cluster(legacy, &ns)).await?;
    let head = wait_statefulset(&client, &ns, &names::head_statefulset_name("legacy")).await?;
    let (ray, annotations) = ray_of(&head);
    ensure!(annotations[gcs::FT_ENABLED_ANNOTATION] == "true");
    ensure!(annotations[gcs::EXTERNAL_STORAGE_NAMESPACE_ANNOTATION] == uid(&legacy));
    ensure!(literal(&ray, "REDIS_PASSWORD") == Some("pw"));
    ensure!(literal(&ray, "RAY_external_storage_namespace") == Some(uid(&legacy).as_str()));
    let worker = wait_statefulset(&client, &ns, "legacy-workers").await?;
    ensure!(literal(&ray_of(&worker).0, "RAY_gcs_rpc_server_reconnect_timeout_s") == Some("600"));
    ensure!(
        !finalize_holds(&clusters(&client, &ns).get("legacy").await?),
        "the cleanup is off in this operator"
    );

    // redisUsername from a Secret.
    let mut user = RayCluster::test("user").with_workers(1);
    user.spec.gcs_fault_tolerance_options = Some(serde_json::from_value(serde_json::json!({
        "redisAddress": "redis:6379",
        "redisUsername": { "valueFrom": { "secretKeyRef": { "name": "redis", "key": "user" } } },
        "redisPassword": { "value": "pw" },
    }))?);
    create(&client, &cluster(user, &ns)).await?;
    let head = wait_statefulset(&client, &ns, &names::head_statefulset_name("user")).await?;
    let (ray, annotations) = ray_of(&head);
    ensure!(annotations[gcs::FT_ENABLED_ANNOTATION] == "true");
    let username = must(env_of(&ray, "REDIS_USERNAME").cloned(), "REDIS_USERNAME")?;
    ensure!(
        username
            .value_from
            .and_then(|f| f.secret_key_ref)
            .is_some_and(|s| s.key == "user"),
        "from the Secret"
    );
    let script = ray.args.clone().unwrap_or_default().join(" ");
    ensure!(
        script.contains("--redis-username=\"${REDIS_USERNAME}\""),
        "{script}"
    );
    let plain = wait_statefulset(&client, &ns, &names::head_statefulset_name("legacy")).await?;
    ensure!(ray_of(&plain).1.contains_key(gcs::FT_ENABLED_ANNOTATION));

    // The API server refuses what its rules catch.
    let api = clusters(&client, &ns);
    let mut mixed = RayCluster::test("mixed");
    mixed.spec.gcs_fault_tolerance_options = Some(serde_json::from_value(
        serde_json::json!({ "backend": "rocksdb", "redisAddress": "redis:6379" }),
    )?);
    let refused = api
        .create(&PostParams::default(), &cluster(mixed, &ns))
        .await;
    ensure!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("must be empty with backend rocksdb")),
        "{refused:?}"
    );
    let mut storage = RayCluster::test("storage");
    storage.spec.gcs_fault_tolerance_options = Some(serde_json::from_value(
        serde_json::json!({ "redisAddress": "r:1", "storage": {} }),
    )?);
    let refused = api
        .create(&PostParams::default(), &cluster(storage, &ns))
        .await;
    ensure!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("storage is only allowed")),
        "{refused:?}"
    );
    let switched = api
        .patch(
            "user",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "spec": { "gcsFaultToleranceOptions": {
                "backend": "redis" } } })),
        )
        .await;
    ensure!(
        switched.is_ok(),
        "setting the backend the first time: {switched:?}"
    );
    let switched = api
        .patch(
            "user",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "spec": { "gcsFaultToleranceOptions": {
                "backend": "rocksdb", "redisAddress": null, "redisUsername": null,
                "redisPassword": null } } })),
        )
        .await;
    ensure!(
        switched
            .as_ref()
            .is_err_and(|e| e.to_string().contains("backend is immutable")),
        "{switched:?}"
    );

    // The operator refuses what only it can see: the annotation beside the options.
    let mut both = RayCluster::test("both").with_gcs_fault_tolerance("redis:6379");
    both.metadata.annotations = Some([(gcs::FT_ENABLED_ANNOTATION.into(), "true".into())].into());
    create(&client, &cluster(both, &ns)).await?;
    wait_event(&client, &ns, "the refusal naming the annotation", |e| {
        e.message
            .as_deref()
            .is_some_and(|m| m.contains("metadata.annotations[ray.io/ft-enabled]"))
    })
    .await?;
    ensure!(
        statefulset(&client, &ns, &names::head_statefulset_name("both"))
            .await?
            .is_none(),
        "nothing is created for a refused spec"
    );
    op.stop().await
}

async fn cleanup_job(client: &kube::Client, ns: &str, name: &str) -> Result<Job> {
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    wait_until(&format!("Job {name}"), TIMEOUT, || async {
        Ok(jobs.get_opt(name).await?.is_some())
    })
    .await?;
    Ok(jobs.get(name).await?)
}

/// A Redis-backed cluster with the finalizer in place, then deleted.
async fn deleted_ft_cluster(
    client: &kube::Client,
    ns: &str,
    name: &str,
    timeout: Option<&str>,
) -> Result<()> {
    let mut c = RayCluster::test(name)
        .with_workers(1)
        .with_gcs_fault_tolerance("redis.invalid:6379");
    if let Some(timeout) = timeout {
        c.metadata.annotations =
            Some([(gcs::DELETION_TIMEOUT_ANNOTATION.into(), timeout.into())].into());
    }
    create(client, &cluster(c, ns)).await?;
    let api = clusters(client, ns);
    wait_until("the cleanup finalizer", TIMEOUT, || async {
        Ok(finalize_holds(&api.get(name).await?))
    })
    .await?;
    wait_statefulset(client, ns, &names::head_statefulset_name(name)).await?;
    api.delete(name, &DeleteParams::default()).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_redis_cluster_waits_for_its_cleanup_job() -> Result<()> {
    let (env, ns) = setup("gcs-clean").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    deleted_ft_cluster(&client, &ns, "clean", None).await?;
    let job = cleanup_job(&client, &ns, "clean-redis-cleanup").await?;
    let spec = job.spec.clone().unwrap();
    ensure!(spec.backoff_limit == Some(0) && spec.active_deadline_seconds == Some(300));
    ensure!(
        statefulset(&client, &ns, &names::head_statefulset_name("clean"))
            .await?
            .is_none(),
        "the head is stopped before the cleanup runs"
    );
    ensure!(
        clusters(&client, &ns).get_opt("clean").await?.is_some(),
        "held while the Job runs"
    );
    // kwok runs the Job's pod forever; finish it as a kubelet would.
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let selector = ListParams::default().labels("job-name=clean-redis-cleanup");
    wait_until("the cleanup pod", TIMEOUT, || async {
        Ok(!pods.list(&selector).await?.items.is_empty())
    })
    .await?;
    for pod in pods.list(&selector).await?.items {
        let name = pod.metadata.name.clone().unwrap();
        let status = serde_json::json!({ "status": {
            "phase": "Succeeded",
            "containerStatuses": [{
                "name": pod.spec.as_ref().unwrap().containers[0].name,
                "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                "state": { "terminated": { "exitCode": 0, "reason": "Completed" } },
            }],
        }});
        pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
            .await?;
    }
    gone(&clusters(&client, &ns), "clean").await?;
    wait_event(&client, &ns, "RedisCleanupFinished", |e| {
        e.reason.as_deref() == Some("RedisCleanupFinished")
    })
    .await?;
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_cleanup_gives_up_at_the_deadline() -> Result<()> {
    let (env, ns) = setup("gcs-stuck").await?;
    let client = env.client();
    let op = Operator::start(client.clone(), &[&ns]).await?;
    deleted_ft_cluster(&client, &ns, "stuck", Some("8")).await?;
    cleanup_job(&client, &ns, "stuck-redis-cleanup").await?;
    gone(&clusters(&client, &ns), "stuck").await?;
    wait_event(&client, &ns, "ForceDeletedStuckCluster", |e| {
        e.reason.as_deref() == Some("ForceDeletedStuckCluster")
            && e.type_.as_deref() == Some("Warning")
    })
    .await?;
    op.stop().await
}
