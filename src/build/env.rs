//! Environment variables of the Ray container (and the merge rule the
//! autoscaler sidecar shares).
//!
//! # What every Ray container gets
//! In this order, KubeRay's:
//!
//! | Variable | Head | Workers |
//! |---|---|---|
//! | `FQ_RAY_IP` | — | the head Service's FQDN `<head-svc>.<ns>.svc.<domain>` |
//! | `RAY_IP` | — | its first DNS label, `<head-svc>` (deprecated in KubeRay) |
//! | `RAY_CLUSTER_NAME` | the cluster's name | same |
//! | `RAY_CLUSTER_NAMESPACE` | its namespace | same |
//! | `RAY_CLOUD_INSTANCE_ID` | the pod's name (downward API) | same |
//! | `RAY_NODE_TYPE_NAME` | `headgroup` | the group's name |
//! | `KUBERAY_GEN_RAY_START_CMD` | the generated `ray start …` | same |
//! | `RAY_PORT` | the GCS port | same |
//! | `RAY_ADDRESS` | `127.0.0.1:<gcs port>` | `<FQDN>:<gcs port>` |
//! | `RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE` | `1` | same |
//!
//! Every init container of a Ray pod, the user's included, gets `FQ_RAY_IP`
//! and `RAY_IP` ([`head_host_env`]), on the head as on workers.
//!
//! Deliberate differences from KubeRay:
//! - `RAY_PORT` is the head's GCS port ([`ClusterContext::gcs_port`]) on
//!   workers too: it is the port `RAY_ADDRESS` names, and a worker group's own
//!   `port` parameter does not move the head's GCS.
//! - `RAY_USAGE_STATS_KUBERAY_IN_USE` and `RAY_USAGE_STATS_EXTRA_TAGS` are not
//!   set: they report KubeRay and its version to Ray's usage statistics, and
//!   rayop is not KubeRay. A user who wants them sets them in the template.
//!
//! With GCS fault tolerance (`gcsFaultToleranceOptions`, or the deprecated
//! annotation `ray.io/ft-enabled: "true"`) workers get
//! `RAY_gcs_rpc_server_reconnect_timeout_s=600`, so they wait out a head
//! restart instead of exiting after Ray's default 60 s, and the head gets:
//! - redis backend: `RAY_REDIS_ADDRESS`, `REDIS_USERNAME` and
//!   `REDIS_PASSWORD` (each `value` or `valueFrom`, when given) and
//!   `RAY_external_storage_namespace` (`externalStorageNamespace`, else the
//!   annotation `ray.io/external-storage-namespace`, else the cluster's UID,
//!   so a recreated cluster starts with a clean namespace). On the annotation
//!   path the user sets `RAY_REDIS_ADDRESS`, and `REDIS_PASSWORD` is the
//!   literal `rayStartParams.redis-password`;
//! - rocksdb backend: `RAY_gcs_storage=rocksdb` and
//!   `RAY_gcs_storage_path=/data/gcs`, where the claim is mounted.
//!
//! With `autoscalerOptions.version: v2` the head gets `RAY_enable_autoscaler_v2=true`.
//!
//! # Precedence: the user wins
//! A variable the user's container already sets is never added or changed:
//! users can pin any of these (a different `RAY_ADDRESS`, a longer reconnect
//! timeout) and rayop never emits a duplicate name. rayop's variables come
//! first and the user's follow in their own order, so a user variable may
//! refer to ours with `$(RAY_ADDRESS)`.

use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, PodSpec};

use crate::{
    build::{
        ClusterContext,
        ray_start::{REDIS_PASSWORD_ENV, REDIS_USERNAME_ENV},
    },
    crd::{
        autoscaler::AutoscalerVersion,
        gcs::{GcsBackend, GcsFaultToleranceOptions, RedisCredential},
        gcs_checks,
        names::RayNode,
    },
};

/// Holds the RayCluster's name, in the Ray container and the autoscaler
/// sidecar.
pub const RAY_CLUSTER_NAME: &str = "RAY_CLUSTER_NAME";
/// Holds the RayCluster's namespace, in the Ray container and the autoscaler
/// sidecar.
pub const RAY_CLUSTER_NAMESPACE: &str = "RAY_CLUSTER_NAMESPACE";
/// Where `ray.init()` connects.
pub const RAY_ADDRESS: &str = "RAY_ADDRESS";
/// The pod's name, for the Ray autoscaler v2.
pub const RAY_CLOUD_INSTANCE_ID: &str = "RAY_CLOUD_INSTANCE_ID";
/// The group's name, for the Ray autoscaler v2.
pub const RAY_NODE_TYPE_NAME: &str = "RAY_NODE_TYPE_NAME";
/// The generated `ray start` command, for users who run their own.
pub const KUBERAY_GEN_RAY_START_CMD: &str = "KUBERAY_GEN_RAY_START_CMD";
/// The head's `host:port` of the Redis that keeps GCS state, from
/// `gcsFaultToleranceOptions.redisAddress`.
pub const RAY_REDIS_ADDRESS: &str = "RAY_REDIS_ADDRESS";
/// The key prefix of this cluster's GCS state in Redis.
pub const RAY_EXTERNAL_STORAGE_NAMESPACE: &str = "RAY_external_storage_namespace";
/// How long a worker's raylet waits for the GCS to come back.
pub const RAY_GCS_RECONNECT_TIMEOUT: &str = "RAY_gcs_rpc_server_reconnect_timeout_s";
/// Workers' reconnect timeout under GCS fault tolerance, in seconds.
pub const GCS_RECONNECT_TIMEOUT_SECONDS: &str = "600";
/// `true` on the head with `autoscalerOptions.version: v2`, which makes Ray
/// run the v2 autoscaler.
pub const RAY_ENABLE_AUTOSCALER_V2: &str = "RAY_enable_autoscaler_v2";
/// The head Service's fully qualified DNS name, on workers and init
/// containers.
pub const FQ_RAY_IP: &str = "FQ_RAY_IP";
/// The first DNS label of [`FQ_RAY_IP`] (deprecated in KubeRay, kept for old
/// scripts).
pub const RAY_IP: &str = "RAY_IP";
/// The head's GCS port.
pub const RAY_PORT: &str = "RAY_PORT";
/// `1` lets the Ray dashboard report disk usage as Kubernetes sees it.
pub const RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE: &str = "RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE";
/// The head's GCS address as seen from inside the head pod.
pub const LOCAL_HOST: &str = "127.0.0.1";

/// A variable with a literal value.
#[must_use]
pub fn value(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.into()),
        value_from: None,
    }
}

/// A variable read from the pod's own field `path` (downward API).
#[must_use]
pub fn field_ref(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.to_owned(),
                api_version: None,
            }),
            ..EnvVarSource::default()
        }),
    }
}

/// `ours` that `user` does not set, followed by `user`.
#[must_use]
pub fn merge_env(ours: Vec<EnvVar>, user: &[EnvVar]) -> Vec<EnvVar> {
    let mut merged: Vec<EnvVar> = ours
        .into_iter()
        .filter(|var| user.iter().all(|u| u.name != var.name))
        .collect();
    merged.extend(user.iter().cloned());
    merged
}

/// rayop's variables for the Ray container of `node`, before the merge.
#[must_use]
pub fn ray_env(
    ctx: &ClusterContext<'_>,
    node: RayNode<'_>,
    ray_start_command: &str,
) -> Vec<EnvVar> {
    let address = match node {
        RayNode::Head => format!("{LOCAL_HOST}:{}", ctx.gcs_port()),
        RayNode::Worker(_) => ctx.head_address(),
    };
    let mut env = match node {
        RayNode::Head => Vec::new(),
        RayNode::Worker(_) => head_host_env(ctx),
    };
    env.extend([
        value(RAY_CLUSTER_NAME, ctx.name),
        value(RAY_CLUSTER_NAMESPACE, ctx.namespace),
        field_ref(RAY_CLOUD_INSTANCE_ID, "metadata.name"),
        value(RAY_NODE_TYPE_NAME, node.group_label()),
        value(KUBERAY_GEN_RAY_START_CMD, ray_start_command),
        value(RAY_PORT, ctx.gcs_port().to_string()),
        value(RAY_ADDRESS, address),
        value(RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE, "1"),
    ]);
    env.extend(gcs_fault_tolerance_env(ctx, node));
    let autoscaler_v2 = ctx.spec.autoscaling_enabled()
        && ctx.spec.autoscaler_options.as_ref().and_then(|o| o.version)
            == Some(AutoscalerVersion::V2);
    if autoscaler_v2 && node == RayNode::Head {
        env.push(value(RAY_ENABLE_AUTOSCALER_V2, "true"));
    }
    env
}

/// `FQ_RAY_IP` (the head Service's FQDN) and `RAY_IP` (its first DNS label).
#[must_use]
pub fn head_host_env(ctx: &ClusterContext<'_>) -> Vec<EnvVar> {
    let host = ctx.head_host();
    let first_label = host.split('.').next().unwrap_or_default().to_owned();
    vec![value(FQ_RAY_IP, host), value(RAY_IP, first_label)]
}

/// Adds [`head_host_env`] to every init container of `pod` that does not set
/// those names itself, ahead of the container's own variables.
pub fn add_init_container_env(ctx: &ClusterContext<'_>, pod: &mut PodSpec) {
    for init in pod.init_containers.iter_mut().flatten() {
        let user = init.env.take().unwrap_or_default();
        init.env = Some(merge_env(head_host_env(ctx), &user));
    }
}

/// Whether the head's `ray start` reads the Redis password from the env.
#[must_use]
pub fn redis_password_in_env(ctx: &ClusterContext<'_>) -> bool {
    redis_options(ctx).is_some_and(|gcs| gcs.redis_password.is_some())
}

/// Whether the head's `ray start` reads the Redis user name from the env.
#[must_use]
pub fn redis_username_in_env(ctx: &ClusterContext<'_>) -> bool {
    redis_options(ctx).is_some_and(|gcs| gcs.redis_username.is_some())
}

/// The options, when they select the redis backend.
fn redis_options<'a>(ctx: &ClusterContext<'a>) -> Option<&'a GcsFaultToleranceOptions> {
    ctx.spec
        .gcs_fault_tolerance_options
        .as_ref()
        .filter(|gcs| gcs.effective_backend() == GcsBackend::Redis)
}

/// A credential as the env variable `name`.
fn credential(name: &str, credential: &RedisCredential) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: credential.value.clone(),
        value_from: credential.value_from.clone(),
    }
}

/// The GCS fault-tolerance variables of `node` (none without fault
/// tolerance).
fn gcs_fault_tolerance_env(ctx: &ClusterContext<'_>, node: RayNode<'_>) -> Vec<EnvVar> {
    let Some(backend) = ctx.gcs_backend() else {
        return Vec::new();
    };
    if let RayNode::Worker(_) = node {
        return vec![value(
            RAY_GCS_RECONNECT_TIMEOUT,
            GCS_RECONNECT_TIMEOUT_SECONDS,
        )];
    }
    if backend == GcsBackend::Rocksdb {
        return vec![
            value(gcs_checks::RAY_GCS_STORAGE, "rocksdb"),
            value(
                gcs_checks::RAY_GCS_STORAGE_PATH,
                gcs_checks::GCS_STORAGE_PATH,
            ),
        ];
    }
    let mut env = Vec::new();
    match ctx.spec.gcs_fault_tolerance_options.as_ref() {
        Some(gcs) => {
            env.push(value(RAY_REDIS_ADDRESS, gcs.redis_address.clone()));
            if let Some(username) = &gcs.redis_username {
                env.push(credential(REDIS_USERNAME_ENV, username));
            }
            if let Some(password) = &gcs.redis_password {
                env.push(credential(REDIS_PASSWORD_ENV, password));
            }
        }
        // The deprecated annotation: the user gives `RAY_REDIS_ADDRESS` and
        // `rayStartParams.redis-password`; the password also goes to the env,
        // where the Redis cleanup reads it.
        None => {
            if let Some(password) = ctx.head_params().and_then(|p| p.get("redis-password")) {
                env.push(value(REDIS_PASSWORD_ENV, password.clone()));
            }
        }
    }
    env.push(value(
        RAY_EXTERNAL_STORAGE_NAMESPACE,
        ctx.storage_namespace(),
    ));
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        build::BuildOptions,
        crd::{
            RayCluster,
            autoscaler::AutoscalerOptions,
            gcs::{GcsFaultToleranceOptions, RedisCredential},
        },
    };
    use k8s_openapi::api::core::v1::SecretKeySelector;

    fn find<'a>(env: &'a [EnvVar], name: &str) -> Option<&'a EnvVar> {
        env.iter().find(|v| v.name == name)
    }

    fn literal<'a>(env: &'a [EnvVar], name: &str) -> Option<&'a str> {
        find(env, name).and_then(|v| v.value.as_deref())
    }

    #[test]
    fn head_and_worker_basics() {
        let cluster = RayCluster::test("rc");
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        let head = ray_env(&ctx, RayNode::Head, "ray start --head");
        assert_eq!(literal(&head, RAY_CLUSTER_NAME), Some("rc"));
        assert_eq!(literal(&head, RAY_CLUSTER_NAMESPACE), Some("default"));
        assert_eq!(literal(&head, RAY_ADDRESS), Some("127.0.0.1:6379"));
        assert_eq!(literal(&head, RAY_NODE_TYPE_NAME), Some("headgroup"));
        assert_eq!(
            literal(&head, KUBERAY_GEN_RAY_START_CMD),
            Some("ray start --head")
        );
        let pod_name = find(&head, RAY_CLOUD_INSTANCE_ID)
            .and_then(|v| v.value_from.as_ref())
            .and_then(|f| f.field_ref.as_ref())
            .map(|f| f.field_path.as_str());
        assert_eq!(pod_name, Some("metadata.name"));
        assert!(find(&head, RAY_REDIS_ADDRESS).is_none());

        let worker = ray_env(&ctx, RayNode::Worker("g"), "ray start");
        assert_eq!(
            literal(&worker, RAY_ADDRESS),
            Some("rc-head-svc.default.svc.cluster.local:6379")
        );
        assert_eq!(literal(&worker, RAY_NODE_TYPE_NAME), Some("g"));
        assert!(find(&worker, RAY_GCS_RECONNECT_TIMEOUT).is_none());
    }

    #[test]
    fn gcs_fault_tolerance() {
        let mut cluster = RayCluster::test("rc").with_gcs_fault_tolerance("redis:6379");
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        let head = ray_env(&ctx, RayNode::Head, "");
        assert_eq!(literal(&head, RAY_REDIS_ADDRESS), Some("redis:6379"));
        assert_eq!(
            literal(&head, RAY_EXTERNAL_STORAGE_NAMESPACE),
            Some("uid-rc")
        );
        assert!(find(&head, REDIS_PASSWORD_ENV).is_none());
        assert!(!redis_password_in_env(&ctx));
        let worker = ray_env(&ctx, RayNode::Worker("g"), "");
        assert_eq!(literal(&worker, RAY_GCS_RECONNECT_TIMEOUT), Some("600"));
        assert!(find(&worker, RAY_REDIS_ADDRESS).is_none());

        let from_secret = EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: "redis".into(),
                key: "password".into(),
                optional: None,
            }),
            ..EnvVarSource::default()
        };
        cluster.spec.gcs_fault_tolerance_options = Some(GcsFaultToleranceOptions {
            redis_address: "redis:6379".into(),
            redis_password: Some(RedisCredential {
                value: None,
                value_from: Some(from_secret.clone()),
            }),
            external_storage_namespace: Some("shared".into()),
            ..GcsFaultToleranceOptions::default()
        });
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        let head = ray_env(&ctx, RayNode::Head, "");
        assert_eq!(
            find(&head, REDIS_PASSWORD_ENV).and_then(|v| v.value_from.clone()),
            Some(from_secret)
        );
        assert_eq!(
            literal(&head, RAY_EXTERNAL_STORAGE_NAMESPACE),
            Some("shared")
        );
        assert!(redis_password_in_env(&ctx));
    }

    #[test]
    fn autoscaler_v2_flag() {
        let mut cluster = RayCluster::test("rc").with_autoscaling();
        cluster.spec.autoscaler_options = Some(AutoscalerOptions {
            version: Some(AutoscalerVersion::V2),
            ..AutoscalerOptions::default()
        });
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        assert_eq!(
            literal(&ray_env(&ctx, RayNode::Head, ""), RAY_ENABLE_AUTOSCALER_V2),
            Some("true")
        );
        assert!(
            find(
                &ray_env(&ctx, RayNode::Worker("g"), ""),
                RAY_ENABLE_AUTOSCALER_V2
            )
            .is_none()
        );
    }

    fn names(env: &[EnvVar]) -> Vec<&str> {
        env.iter().map(|v| v.name.as_str()).collect()
    }

    #[test]
    fn kuberay_order_and_values() {
        let mut cluster = RayCluster::test("rc");
        cluster.spec.head_group_spec = Some(crate::crd::head::HeadGroupSpec {
            ray_start_params: [("port".to_owned(), "6380".to_owned())].into(),
            ..Default::default()
        });
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        let worker = ray_env(&ctx, RayNode::Worker("g"), "ray start");
        assert_eq!(
            names(&worker),
            [
                FQ_RAY_IP,
                RAY_IP,
                RAY_CLUSTER_NAME,
                RAY_CLUSTER_NAMESPACE,
                RAY_CLOUD_INSTANCE_ID,
                RAY_NODE_TYPE_NAME,
                KUBERAY_GEN_RAY_START_CMD,
                RAY_PORT,
                RAY_ADDRESS,
                RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE,
            ]
        );
        assert_eq!(
            literal(&worker, FQ_RAY_IP),
            Some("rc-head-svc.default.svc.cluster.local")
        );
        assert_eq!(literal(&worker, RAY_IP), Some("rc-head-svc"));
        assert_eq!(literal(&worker, RAY_PORT), Some("6380"));
        assert_eq!(
            literal(&worker, RAY_ADDRESS),
            Some("rc-head-svc.default.svc.cluster.local:6380")
        );
        assert_eq!(
            literal(&worker, RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE),
            Some("1")
        );

        let head = ray_env(&ctx, RayNode::Head, "ray start --head");
        assert_eq!(names(&head)[0], RAY_CLUSTER_NAME);
        assert!(find(&head, FQ_RAY_IP).is_none());
        assert!(find(&head, RAY_IP).is_none());
        assert_eq!(literal(&head, RAY_PORT), Some("6380"));
        assert_eq!(
            literal(&head, RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE),
            Some("1")
        );
    }

    #[test]
    fn workers_point_at_a_custom_head_service_name() {
        let mut cluster = RayCluster::test("rc");
        cluster.spec.head_group_spec = Some(crate::crd::head::HeadGroupSpec {
            head_service: Some(k8s_openapi::api::core::v1::Service {
                metadata: kube::api::ObjectMeta {
                    name: Some("my-head".into()),
                    ..Default::default()
                },
                ..Default::default()
            }),
            ..Default::default()
        });
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        let worker = ray_env(&ctx, RayNode::Worker("g"), "ray start");
        assert_eq!(
            literal(&worker, FQ_RAY_IP),
            Some("my-head.default.svc.cluster.local")
        );
        assert_eq!(literal(&worker, RAY_IP), Some("my-head"));
        assert_eq!(
            literal(&worker, RAY_ADDRESS),
            Some("my-head.default.svc.cluster.local:6379")
        );
    }

    #[test]
    fn a_user_value_of_a_new_variable_wins() {
        let cluster = RayCluster::test("rc");
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        let user = [
            value(RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE, "0"),
            value(RAY_PORT, "7000"),
            value(FQ_RAY_IP, "elsewhere"),
        ];
        let merged = merge_env(ray_env(&ctx, RayNode::Worker("g"), ""), &user);
        assert_eq!(
            literal(&merged, RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE),
            Some("0")
        );
        assert_eq!(literal(&merged, RAY_PORT), Some("7000"));
        assert_eq!(literal(&merged, FQ_RAY_IP), Some("elsewhere"));
        for name in [RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE, RAY_PORT, FQ_RAY_IP] {
            assert_eq!(names(&merged).iter().filter(|n| **n == name).count(), 1);
        }
    }

    #[test]
    fn every_init_container_gets_the_head_host() {
        use k8s_openapi::api::core::v1::Container;
        let cluster = RayCluster::test("rc");
        let options = BuildOptions {
            cluster_domain: "corp.example".into(),
            ..BuildOptions::default()
        };
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        let mut pod = PodSpec {
            init_containers: Some(vec![
                Container {
                    name: "plain".into(),
                    ..Container::default()
                },
                Container {
                    name: "pinned".into(),
                    env: Some(vec![value(RAY_IP, "mine"), value("X", "1")]),
                    ..Container::default()
                },
            ]),
            ..PodSpec::default()
        };
        add_init_container_env(&ctx, &mut pod);
        let init = pod.init_containers.unwrap();
        let plain = init[0].env.as_deref().unwrap();
        assert_eq!(names(plain), [FQ_RAY_IP, RAY_IP]);
        assert_eq!(
            literal(plain, FQ_RAY_IP),
            Some("rc-head-svc.default.svc.corp.example")
        );
        assert_eq!(literal(plain, RAY_IP), Some("rc-head-svc"));
        let pinned = init[1].env.as_deref().unwrap();
        assert_eq!(names(pinned), [FQ_RAY_IP, RAY_IP, "X"]);
        assert_eq!(literal(pinned, RAY_IP), Some("mine"));

        let mut none = PodSpec::default();
        add_init_container_env(&ctx, &mut none);
        assert_eq!(none.init_containers, None);
    }

    #[test]
    fn user_values_win_and_come_last() {
        let ours = vec![value("A", "ours"), value("B", "ours")];
        let user = vec![value("B", "user"), value("C", "user")];
        let merged = merge_env(ours, &user);
        let pairs: Vec<_> = merged
            .iter()
            .map(|v| (v.name.as_str(), v.value.as_deref().unwrap()))
            .collect();
        assert_eq!(pairs, [("A", "ours"), ("B", "user"), ("C", "user")]);
    }
}
