//! The Ray history server's collector sidecar `ray-history-collector`.
//!
//! Role: with `historyServerOptions`, every Ray pod (head and workers) gets
//! the collector, which receives Ray's events on [`EVENTS_PORT`] and reads
//! the session logs under `/tmp/ray`, and uploads both to the storage its
//! env names. [`add_collector`] does three things, each only if absent:
//! - appends the sidecar (on the head after the autoscaler), with the
//!   user's image, pull policy (default `IfNotPresent`), resources (default
//!   requests 50m/64Mi, limits 200m/256Mi) and env after rayop's: `POD_IP`,
//!   `RAY_CLUSTER_NAME`, `RAY_CLUSTER_NAMESPACE`, `RAY_ROLE` (`Head` or
//!   `Worker`), `EVENTS_PORT`, `FQ_RAY_IP`, `OWNER_KIND`/`OWNER_NAME` from
//!   the cluster's `ray.io/originated-from-crd`/`-cr-name` labels, and on the
//!   head `RAY_DASHBOARD_ADDRESS` (the head's `dashboard-port`, default 8265);
//! - shares the Ray container's volume at `/tmp/ray` with it (the emptyDir
//!   `ray-logs` when the user mounted nothing there, the same volume the
//!   autoscaler shares);
//! - gives the Ray container the variables that make Ray export its events
//!   to the collector ([`ray_event_env`]).
//!
//! The auth env is added afterwards by [`auth`](crate::build::auth), which
//! lists this container.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{Container, EnvVar, PodSpec, ResourceRequirements},
    apimachinery::pkg::api::resource::Quantity,
};

use crate::{
    build::{
        ClusterContext,
        auth::add_missing_env,
        autoscaler_sidecar::{self, RAY_LOGS_PATH},
        env::{self, FQ_RAY_IP, RAY_CLUSTER_NAME, RAY_CLUSTER_NAMESPACE},
        ray_start, shm,
    },
    crd::{
        defaults::RAY_CONTAINER_INDEX, history_server::CollectorOptions, names::RayNode,
        option_checks::COLLECTOR_CONTAINER,
    },
};

/// The port the collector receives Ray's events on.
pub const EVENTS_PORT: u16 = 8084;
/// The event types Ray exports to the collector.
pub const EXPOSABLE_EVENT_TYPES: &str = "TASK_DEFINITION_EVENT,TASK_LIFECYCLE_EVENT,ACTOR_TASK_DEFINITION_EVENT,\
TASK_PROFILE_EVENT,DRIVER_JOB_DEFINITION_EVENT,DRIVER_JOB_LIFECYCLE_EVENT,ACTOR_DEFINITION_EVENT,\
ACTOR_LIFECYCLE_EVENT,NODE_DEFINITION_EVENT,NODE_LIFECYCLE_EVENT";

/// Adds the collector to `pod` of `node` (see the module docs); nothing
/// without `historyServerOptions.collectorOptions`.
pub fn add_collector(ctx: &ClusterContext<'_>, pod: &mut PodSpec, node: RayNode<'_>) {
    let Some(options) = ctx.spec.history_collector() else {
        return;
    };
    if pod.containers.iter().any(|c| c.name == COLLECTOR_CONTAINER) {
        return;
    }
    let logs = autoscaler_sidecar::share_ray_logs(pod);
    if let Some(ray) = pod.containers.get_mut(RAY_CONTAINER_INDEX) {
        add_missing_env(ray, &ray_event_env());
    }
    let mut collector = collector(ctx, options, node);
    shm::add_mount(&mut collector, &logs, RAY_LOGS_PATH);
    pod.containers.push(collector);
}

/// The variables that make Ray export its events to the collector.
#[must_use]
pub fn ray_event_env() -> Vec<EnvVar> {
    vec![
        env::value("RAY_enable_ray_event", "true"),
        env::value("RAY_enable_core_worker_ray_event_to_aggregator", "true"),
        env::value(
            "RAY_DASHBOARD_AGGREGATOR_AGENT_EVENTS_EXPORT_ADDR",
            format!("http://localhost:{EVENTS_PORT}/v1/events"),
        ),
        env::value(
            "RAY_DASHBOARD_AGGREGATOR_AGENT_EXPOSABLE_EVENT_TYPES",
            EXPOSABLE_EVENT_TYPES,
        ),
        env::value(
            "RAY_DASHBOARD_AGGREGATOR_AGENT_PUBLISHER_HTTP_ENDPOINT_EXPOSABLE_EVENT_TYPES",
            EXPOSABLE_EVENT_TYPES,
        ),
    ]
}

/// Default resources: requests 50m CPU and 64Mi, limits 200m and 256Mi.
#[must_use]
pub fn default_resources() -> ResourceRequirements {
    let amounts = |cpu: &str, memory: &str| -> BTreeMap<String, Quantity> {
        [
            ("cpu".to_owned(), Quantity(cpu.to_owned())),
            ("memory".to_owned(), Quantity(memory.to_owned())),
        ]
        .into()
    };
    ResourceRequirements {
        requests: Some(amounts("50m", "64Mi")),
        limits: Some(amounts("200m", "256Mi")),
        ..ResourceRequirements::default()
    }
}

fn collector(ctx: &ClusterContext<'_>, options: &CollectorOptions, node: RayNode<'_>) -> Container {
    let mut ours = vec![
        env::field_ref("POD_IP", "status.podIP"),
        env::value(RAY_CLUSTER_NAME, ctx.name),
        env::value(RAY_CLUSTER_NAMESPACE, ctx.namespace),
        env::value(
            "RAY_ROLE",
            match node {
                RayNode::Head => "Head",
                RayNode::Worker(_) => "Worker",
            },
        ),
        env::value("EVENTS_PORT", EVENTS_PORT.to_string()),
        env::value(FQ_RAY_IP, ctx.head_host()),
    ];
    if let Some(kind) = ctx.label(crate::crd::names::LABEL_ORIGINATED_FROM_CRD) {
        ours.push(env::value("OWNER_KIND", kind));
    }
    if let Some(name) = ctx.label(crate::crd::names::LABEL_ORIGINATED_FROM_CR_NAME) {
        ours.push(env::value("OWNER_NAME", name));
    }
    if node == RayNode::Head {
        let port = ray_start::dashboard_port(ctx.head_params());
        ours.push(env::value(
            "RAY_DASHBOARD_ADDRESS",
            format!("http://localhost:{port}"),
        ));
    }
    Container {
        name: COLLECTOR_CONTAINER.to_owned(),
        image: options.image.clone(),
        image_pull_policy: Some(
            options
                .image_pull_policy
                .map_or(
                    autoscaler_sidecar::DEFAULT_PULL_POLICY,
                    autoscaler_sidecar::pull_policy,
                )
                .to_owned(),
        ),
        env: Some(env::merge_env(
            ours,
            options.env.as_deref().unwrap_or_default(),
        )),
        resources: Some(options.resources.clone().unwrap_or_else(default_resources)),
        ..Container::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        build::BuildOptions,
        crd::{RayCluster, history_server::HistoryServerOptions},
    };
    use k8s_openapi::api::core::v1::VolumeMount;

    fn cluster() -> RayCluster {
        let mut cluster = RayCluster::test("rc");
        cluster.metadata.labels = Some(
            [
                (
                    crate::crd::names::LABEL_ORIGINATED_FROM_CRD.to_owned(),
                    "RayJob".to_owned(),
                ),
                (
                    crate::crd::names::LABEL_ORIGINATED_FROM_CR_NAME.to_owned(),
                    "job".to_owned(),
                ),
            ]
            .into(),
        );
        cluster.spec.history_server_options = Some(HistoryServerOptions {
            collector_options: Some(CollectorOptions {
                image: Some("collector:1".into()),
                env: Some(vec![
                    env::value("STORAGE_BACKEND", "s3"),
                    env::value("RAY_DASHBOARD_ADDRESS", "http://elsewhere:1"),
                ]),
                ..CollectorOptions::default()
            }),
        });
        cluster
    }

    fn ray_pod() -> PodSpec {
        PodSpec {
            containers: vec![Container {
                name: "ray-head".into(),
                env: Some(vec![env::value("RAY_enable_ray_event", "false")]),
                ..Container::default()
            }],
            ..PodSpec::default()
        }
    }

    fn value<'a>(c: &'a Container, name: &str) -> Option<&'a str> {
        c.env
            .iter()
            .flatten()
            .find(|e| e.name == name)
            .and_then(|e| e.value.as_deref())
    }

    #[test]
    fn head_gets_the_sidecar_the_shared_logs_and_event_env() {
        let cluster = cluster();
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        let mut pod = ray_pod();
        add_collector(&ctx, &mut pod, RayNode::Head);
        add_collector(&ctx, &mut pod, RayNode::Head);
        assert_eq!(pod.containers.len(), 2);
        let (ray, collector) = (&pod.containers[0], &pod.containers[1]);
        assert_eq!(collector.name, "ray-history-collector");
        assert_eq!(collector.image.as_deref(), Some("collector:1"));
        assert_eq!(collector.image_pull_policy.as_deref(), Some("IfNotPresent"));
        assert_eq!(collector.resources, Some(default_resources()));
        assert_eq!(value(collector, "RAY_ROLE"), Some("Head"));
        assert_eq!(value(collector, "EVENTS_PORT"), Some("8084"));
        assert_eq!(value(collector, "OWNER_KIND"), Some("RayJob"));
        assert_eq!(value(collector, "OWNER_NAME"), Some("job"));
        assert_eq!(
            value(collector, "FQ_RAY_IP"),
            Some("rc-head-svc.default.svc.cluster.local")
        );
        // the user's RAY_DASHBOARD_ADDRESS wins, and comes once
        assert_eq!(
            value(collector, "RAY_DASHBOARD_ADDRESS"),
            Some("http://elsewhere:1")
        );
        let count = collector
            .env
            .iter()
            .flatten()
            .filter(|e| e.name == "RAY_DASHBOARD_ADDRESS")
            .count();
        assert_eq!(count, 1);
        // the user's Ray env wins; the rest is added
        assert_eq!(value(ray, "RAY_enable_ray_event"), Some("false"));
        assert_eq!(
            value(ray, "RAY_DASHBOARD_AGGREGATOR_AGENT_EVENTS_EXPORT_ADDR"),
            Some("http://localhost:8084/v1/events")
        );
        let mount = |c: &Container| c.volume_mounts.clone().unwrap_or_default();
        assert_eq!(mount(ray)[0].mount_path, "/tmp/ray");
        assert_eq!(mount(collector)[0].name, mount(ray)[0].name);
        assert_eq!(pod.volumes.as_ref().unwrap()[0].name, "ray-logs");
    }

    #[test]
    fn workers_get_their_role_and_keep_a_user_log_volume() {
        let cluster = cluster();
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        let mut pod = ray_pod();
        pod.containers[0].volume_mounts = Some(vec![VolumeMount {
            name: "my-logs".into(),
            mount_path: "/tmp/ray".into(),
            ..VolumeMount::default()
        }]);
        add_collector(&ctx, &mut pod, RayNode::Worker("g"));
        let collector = &pod.containers[1];
        assert_eq!(value(collector, "RAY_ROLE"), Some("Worker"));
        assert_eq!(
            value(collector, "RAY_DASHBOARD_ADDRESS"),
            Some("http://elsewhere:1")
        );
        assert_eq!(collector.volume_mounts.as_ref().unwrap()[0].name, "my-logs");
        assert_eq!(pod.volumes, None);
        assert_eq!(pod.containers[0].volume_mounts.as_ref().unwrap().len(), 1);
    }
}
