//! The Redis cleanup Job `<cluster>-redis-cleanup`, run once when a
//! Redis-backed fault-tolerant cluster is deleted.
//!
//! Role: a pure builder. The Job's pod is the head pod as rayop builds it,
//! reduced to its Ray container (init containers stay, probes and ports go),
//! with 200m CPU and 256Mi memory (requests = limits), Ray's Redis connect
//! retries raised (`RAY_redis_db_connect_retries=120`,
//! `RAY_redis_db_connect_wait_milliseconds=500`), and a script that deletes
//! the cluster's keys through Ray's own `cleanup_redis_storage`, so it
//! reaches the Redis exactly as the head did (same address, user name,
//! password and storage namespace env).
//!
//! Invariants: `restartPolicy: Never`, `backoffLimit: 0`,
//! `activeDeadlineSeconds: 300`; the Job and its pod carry
//! `ray.io/node-type=redis-cleanup` and none of the head's selector labels'
//! values, so the pod is never taken for the head or a worker.

use k8s_openapi::{
    api::{
        batch::v1::{Job, JobSpec},
        core::v1::{Container, ResourceRequirements},
    },
    apimachinery::pkg::api::resource::Quantity,
};

use crate::{
    build::{BuildError, ClusterContext, env, object_meta::owner_reference, ray_container},
    crd::{
        defaults::RAY_CONTAINER_INDEX,
        effective_head_template,
        names::{self, RayNode},
    },
};

/// Suffix of the Job's name.
pub const JOB_SUFFIX: &str = "-redis-cleanup";
/// The value of `ray.io/node-type` on the Job and its pod.
pub const NODE_TYPE_REDIS_CLEANUP: &str = "redis-cleanup";
/// The Job's deadline, in seconds.
pub const ACTIVE_DEADLINE_SECONDS: i64 = 300;

/// The Python that deletes the cluster's keys: the first address of
/// `RAY_REDIS_ADDRESS` (`redis://` assumed without a scheme; TLS with
/// `rediss://`), `REDIS_USERNAME` only when set (older Ray has no such
/// parameter), `REDIS_PASSWORD` or else the URL's password, and the
/// namespace `RAY_external_storage_namespace`. Exits 1 when Ray reports a
/// failure.
pub const CLEANUP_SCRIPT: &str = r#"python -c '
import os, sys
from urllib.parse import urlparse
from ray._private import gcs_utils
first = os.environ["RAY_REDIS_ADDRESS"].split(",")[0].strip()
url = urlparse(first if "://" in first else "redis://" + first)
kwargs = dict(
    host=url.hostname,
    port=url.port or 6379,
    password=os.environ.get("REDIS_PASSWORD") or url.password or "",
    use_ssl=url.scheme == "rediss",
    storage_namespace=os.environ["RAY_external_storage_namespace"],
)
if "REDIS_USERNAME" in os.environ:
    kwargs["username"] = os.environ["REDIS_USERNAME"]
sys.exit(0 if gcs_utils.cleanup_redis_storage(**kwargs) else 1)
'"#;

/// The Job's name: `<cluster>-redis-cleanup`, trimmed from the front to 63
/// characters.
#[must_use]
pub fn job_name(cluster: &str) -> String {
    let name = format!("{cluster}{JOB_SUFFIX}");
    let skip = name.len().saturating_sub(names::MAX_DNS_LABEL);
    name.chars().skip(skip).collect()
}

/// The cleanup Job of the cluster.
///
/// # Errors
/// As [`ray_container::ray_pod_template`].
pub fn cleanup_job(ctx: &ClusterContext<'_>) -> Result<Job, BuildError> {
    let mut template = ray_container::ray_pod_template(
        ctx,
        RayNode::Head,
        effective_head_template(ctx.spec),
        ctx.head_params(),
    )?;
    let meta = template.metadata.get_or_insert_with(Default::default);
    let labels = meta.labels.get_or_insert_with(Default::default);
    labels.insert(
        names::LABEL_NODE_TYPE.to_owned(),
        NODE_TYPE_REDIS_CLEANUP.to_owned(),
    );
    labels.remove(names::LABEL_IS_RAY_NODE);
    labels.remove(names::LABEL_GROUP);
    let job_labels = labels.clone();
    let job_annotations = meta.annotations.clone();
    let pod = template.spec.get_or_insert_with(Default::default);
    pod.restart_policy = Some("Never".to_owned());
    let mut ray = pod
        .containers
        .get(RAY_CONTAINER_INDEX)
        .cloned()
        .ok_or_else(|| BuildError::NoContainer {
            group: names::HEAD_GROUP_LABEL_VALUE.to_owned(),
        })?;
    reduce(&mut ray);
    pod.containers = vec![ray];
    Ok(Job {
        metadata: kube::api::ObjectMeta {
            name: Some(job_name(ctx.name)),
            namespace: Some(ctx.namespace.to_owned()),
            labels: Some(job_labels),
            annotations: job_annotations,
            owner_references: Some(vec![owner_reference(ctx)]),
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(ACTIVE_DEADLINE_SECONDS),
            template,
            ..JobSpec::default()
        }),
        status: None,
    })
}

/// The Ray container made into the cleanup's: script, small resources, no
/// probes or ports, longer Redis connect retries.
fn reduce(ray: &mut Container) {
    ray.command = Some(vec!["/bin/bash".to_owned(), "-c".to_owned()]);
    ray.args = Some(vec![CLEANUP_SCRIPT.to_owned()]);
    ray.liveness_probe = None;
    ray.readiness_probe = None;
    ray.startup_probe = None;
    ray.ports = None;
    let small = || {
        [
            ("cpu".to_owned(), Quantity("200m".to_owned())),
            ("memory".to_owned(), Quantity("256Mi".to_owned())),
        ]
        .into()
    };
    ray.resources = Some(ResourceRequirements {
        requests: Some(small()),
        limits: Some(small()),
        ..ResourceRequirements::default()
    });
    let user = ray.env.take().unwrap_or_default();
    ray.env = Some(env::merge_env(
        vec![
            env::value("RAY_redis_db_connect_retries", "120"),
            env::value("RAY_redis_db_connect_wait_milliseconds", "500"),
        ],
        &user,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{build::BuildOptions, crd::RayCluster};

    fn build(cluster: &RayCluster) -> Job {
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(cluster, &options).unwrap();
        cleanup_job(&ctx).unwrap()
    }

    #[test]
    fn the_job_is_the_head_reduced_to_the_ray_container() {
        let cluster = RayCluster::test("rc")
            .with_autoscaling()
            .with_gcs_fault_tolerance("redis:6379");
        let job = build(&cluster);
        assert_eq!(job.metadata.name.as_deref(), Some("rc-redis-cleanup"));
        let labels = job.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["ray.io/node-type"], "redis-cleanup");
        assert_eq!(labels["ray.io/cluster"], "rc");
        assert_eq!(
            job.metadata.owner_references.as_ref().unwrap()[0].controller,
            Some(true)
        );
        let spec = job.spec.unwrap();
        assert_eq!(spec.backoff_limit, Some(0));
        assert_eq!(spec.active_deadline_seconds, Some(300));
        let pod = spec.template.spec.unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        assert_eq!(pod.containers.len(), 1, "the autoscaler sidecar is gone");
        let ray = &pod.containers[0];
        assert!(ray.liveness_probe.is_none() && ray.readiness_probe.is_none());
        assert!(ray.args.as_ref().unwrap()[0].contains("cleanup_redis_storage"));
        let limits = ray.resources.as_ref().unwrap().limits.as_ref().unwrap();
        assert_eq!(limits["cpu"], Quantity("200m".into()));
        let env = ray.env.as_ref().unwrap();
        let value = |name: &str| {
            env.iter()
                .find(|v| v.name == name)
                .and_then(|v| v.value.as_deref())
        };
        assert_eq!(value("RAY_REDIS_ADDRESS"), Some("redis:6379"));
        assert_eq!(value("RAY_redis_db_connect_retries"), Some("120"));
        assert_eq!(
            value("RAY_external_storage_namespace"),
            cluster.metadata.uid.as_deref()
        );
        let pod_labels = spec.template.metadata.unwrap().labels.unwrap();
        assert_eq!(pod_labels["ray.io/node-type"], "redis-cleanup");
        assert!(!pod_labels.contains_key("ray.io/group"));
    }

    #[test]
    fn a_long_name_is_trimmed_from_the_front() {
        let name = job_name(&"a".repeat(60));
        assert_eq!(name.len(), 63);
        assert!(name.ends_with("-redis-cleanup"));
    }
}
