//! A worker group's headless Service `<cluster>-<group>-svc`.
//!
//! Role: the governing Service of a StatefulSet group, which gives each worker
//! the stable DNS name `<pod>.<cluster>-<group>-svc.<ns>.svc.<domain>`. A
//! Deployment group gets it too, so a group keeps the same objects when its
//! workload kind changes.
//!
//! Invariants: `clusterIP: None` (headless: DNS only, no load balancing),
//! `publishNotReadyAddresses: true` (a worker's name resolves while it
//! starts, which Ray needs before the readiness probe passes), selector = the
//! group's selector labels. It exposes the metrics port, the one port every
//! worker has, because a Service needs at least one port.

use k8s_openapi::{
    api::core::v1::{Service, ServicePort, ServiceSpec},
    apimachinery::pkg::util::intstr::IntOrString,
};

use crate::{
    build::{ClusterContext, object_meta::object_meta, ports, ray_start},
    crd::{
        WorkerGroupSpec,
        names::{self, RayNode},
    },
    desired::Object,
};

/// The headless Service `<cluster>-<group>-svc` of `group`, exposing its
/// metrics port.
#[must_use]
pub fn worker_service(ctx: &ClusterContext<'_>, group: &WorkerGroupSpec) -> Object {
    let node = RayNode::Worker(&group.group_name);
    let metrics = i32::from(ray_start::metrics_port(Some(&group.ray_start_params)));
    Object::Service(Service {
        metadata: object_meta(
            ctx,
            names::worker_service_name(ctx.name, &group.group_name),
            node,
        ),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            publish_not_ready_addresses: Some(true),
            selector: Some(names::selector_labels(ctx.name, node)),
            ports: Some(vec![ServicePort {
                name: Some(ports::METRICS_PORT_NAME.to_owned()),
                port: metrics,
                target_port: Some(IntOrString::Int(metrics)),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        build::BuildOptions,
        crd::{RayCluster, test_builders::group},
    };

    #[test]
    fn headless_and_selecting_the_group() {
        let cluster = RayCluster::test("rc").with_group(group("gpu"));
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        let Object::Service(svc) = worker_service(&ctx, &cluster.spec.worker_group_specs[0]) else {
            panic!("not a Service");
        };
        assert_eq!(svc.metadata.name.as_deref(), Some("rc-gpu-svc"));
        assert_eq!(svc.metadata.labels.as_ref().unwrap()["ray.io/group"], "gpu");
        let spec = svc.spec.unwrap();
        assert_eq!(spec.cluster_ip.as_deref(), Some("None"));
        assert_eq!(spec.publish_not_ready_addresses, Some(true));
        assert_eq!(
            spec.selector.unwrap(),
            names::selector_labels("rc", RayNode::Worker("gpu"))
        );
        assert_eq!(spec.ports.unwrap()[0].port, 8080);
    }
}
