//! The head's Service: `headGroupSpec.headService.metadata.name` when set,
//! else `<cluster>-head-svc` ([`ClusterContext::head_service_name`]).
//!
//! Role: the stable address of the GCS, dashboard, client, metrics and Serve
//! ports, which workers, drivers and users connect to.
//!
//! - **Base.** `headGroupSpec.headService`, when given, is the starting point:
//!   its labels, annotations and spec are kept. rayop sets the name, the
//!   namespace, the owner reference, its own labels, the selector, the type
//!   and the Ray ports.
//! - **Type.** [`effective_head_service_type`]: the base's, else
//!   `headGroupSpec.serviceType`, else the seed's `headService.type`, else
//!   ClusterIP.
//! - **Headless.** Without a base, a ClusterIP head Service is headless
//!   (`clusterIP: None`, `publishNotReadyAddresses: true`), as KubeRay's
//!   default: its DNS name resolves to the head pod, before it is Ready too,
//!   so workers' `<service>.<namespace>.svc` address works unchanged. A
//!   custom base is never made headless.
//! - **Annotations.** The base's, then `headServiceAnnotations` (which win).
//! - **Ports.** `gcs-server` 6379, `dashboard` 8265, `client` 10001,
//!   `metrics` 8080 and `serve` 8000, each number taken from a same-named
//!   container port of the Ray container when there is one; then the Ray
//!   container's other named TCP ports, by name; then the base's own ports.
//!   A port whose name or number is already exposed is skipped, because the
//!   API server refuses duplicates. Each port targets the same number on the
//!   pod.

use k8s_openapi::{
    api::core::v1::{Service, ServicePort},
    apimachinery::pkg::util::intstr::IntOrString,
};

use crate::{
    build::{
        BuildError, ClusterContext,
        object_meta::{object_labels, owner_reference},
        ports::{self, NamedPort},
        ray_container::ray_container,
        ray_start,
    },
    crd::{
        effective_head_service_type, effective_head_template,
        head::ServiceType,
        names::{self, RayNode},
    },
    desired::Object,
};

/// `clusterIP` of a headless Service.
pub const HEADLESS: &str = "None";

/// The head Service (`<cluster>-head-svc` or the custom name), built on `headGroupSpec.headService`
/// when given (see the module docs).
///
/// # Errors
/// [`BuildError::NoContainer`] when the head template has no container.
pub fn head_service(ctx: &ClusterContext<'_>) -> Result<Object, BuildError> {
    let template = effective_head_template(ctx.spec);
    let ray = ray_container(&template, RayNode::Head)?;

    let custom = ctx
        .spec
        .head_group_spec
        .as_ref()
        .and_then(|head| head.head_service.clone());
    let headless = custom.is_none();
    let base = custom.unwrap_or_default();
    let mut metadata = base.metadata;
    metadata.name = Some(ctx.head_service_name());
    metadata.namespace = Some(ctx.namespace.to_owned());
    metadata.generate_name = None;
    metadata.owner_references = Some(vec![owner_reference(ctx)]);
    metadata
        .labels
        .get_or_insert_with(Default::default)
        .extend(object_labels(ctx, RayNode::Head));
    if let Some(annotations) = &ctx.spec.head_service_annotations {
        metadata
            .annotations
            .get_or_insert_with(Default::default)
            .extend(annotations.clone());
    }

    let mut spec = base.spec.unwrap_or_default();
    let mut wanted = ports::head_ports(
        ray,
        ctx.gcs_port(),
        ray_start::metrics_port(ctx.head_params()),
    );
    wanted.extend(other_named_ports(ray));
    let mut service_ports: Vec<ServicePort> = Vec::new();
    for port in wanted {
        if !exposed(&service_ports, port.name.as_str(), port.port) {
            service_ports.push(service_port(&port));
        }
    }
    for port in spec.ports.take().unwrap_or_default() {
        if !exposed(
            &service_ports,
            port.name.as_deref().unwrap_or(""),
            port.port,
        ) {
            service_ports.push(port);
        }
    }
    spec.ports = Some(service_ports);
    spec.selector = Some(names::selector_labels(ctx.name, RayNode::Head));
    let service_type = effective_head_service_type(ctx.spec);
    spec.type_ = Some(service_type.as_str().to_owned());
    if headless && service_type == ServiceType::ClusterIP {
        spec.cluster_ip = Some(HEADLESS.to_owned());
        spec.publish_not_ready_addresses = Some(true);
    }

    Ok(Object::Service(Service {
        metadata,
        spec: Some(spec),
        status: None,
    }))
}

/// The Ray container's named TCP ports, sorted by name.
fn other_named_ports(ray: &k8s_openapi::api::core::v1::Container) -> Vec<NamedPort> {
    let mut named: Vec<NamedPort> = ray
        .ports
        .iter()
        .flatten()
        .filter(|p| p.protocol.as_deref().is_none_or(|proto| proto == "TCP"))
        .filter_map(|p| {
            Some(NamedPort {
                name: p.name.clone().filter(|n| !n.is_empty())?,
                port: p.container_port,
            })
        })
        .collect();
    named.sort_by(|a, b| a.name.cmp(&b.name));
    named
}

/// Whether `ports` already has a port called `name` (when not empty) or of
/// number `number`: the API server refuses either twice.
#[must_use]
pub fn exposed(ports: &[ServicePort], name: &str, number: i32) -> bool {
    ports
        .iter()
        .any(|p| (!name.is_empty() && p.name.as_deref() == Some(name)) || p.port == number)
}

/// The TCP Service port for `port`, targeting the same number on the pod.
#[must_use]
pub fn service_port(port: &NamedPort) -> ServicePort {
    ServicePort {
        name: Some(port.name.clone()),
        port: port.port,
        target_port: Some(IntOrString::Int(port.port)),
        protocol: Some("TCP".to_owned()),
        ..ServicePort::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        build::BuildOptions,
        crd::{
            RayCluster,
            head::{HeadGroupSpec, HeadServiceOptions, ServiceType},
        },
    };
    use k8s_openapi::api::core::v1::{ContainerPort, ServiceSpec};
    use kube::api::ObjectMeta;

    fn build(cluster: &RayCluster) -> Service {
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(cluster, &options).unwrap();
        match head_service(&ctx).unwrap() {
            Object::Service(svc) => svc,
            other => panic!("not a Service: {other:?}"),
        }
    }

    fn ports(svc: &Service) -> Vec<(String, i32)> {
        svc.spec
            .as_ref()
            .unwrap()
            .ports
            .iter()
            .flatten()
            .map(|p| (p.name.clone().unwrap(), p.port))
            .collect()
    }

    #[test]
    fn defaults() {
        let svc = build(&RayCluster::test("rc"));
        assert_eq!(svc.metadata.name.as_deref(), Some("rc-head-svc"));
        assert_eq!(
            svc.metadata.labels.as_ref().unwrap()["ray.io/node-type"],
            "head"
        );
        let spec = svc.spec.as_ref().unwrap();
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
        assert_eq!(
            spec.selector.as_ref().unwrap(),
            &names::selector_labels("rc", RayNode::Head)
        );
        assert_eq!(
            ports(&svc),
            [
                ("gcs-server".to_owned(), 6379),
                ("dashboard".to_owned(), 8265),
                ("client".to_owned(), 10001),
                ("metrics".to_owned(), 8080),
                ("serve".to_owned(), 8000)
            ]
        );
        let gcs = &spec.ports.as_ref().unwrap()[0];
        assert_eq!(gcs.target_port, Some(IntOrString::Int(6379)));
    }

    #[test]
    fn the_default_service_is_headless_and_a_custom_one_is_not() {
        let mut cluster = RayCluster::test("rc");
        let spec = build(&cluster).spec.unwrap();
        assert_eq!(spec.cluster_ip.as_deref(), Some(HEADLESS));
        assert_eq!(spec.publish_not_ready_addresses, Some(true));
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));

        // A NodePort or LoadBalancer Service cannot be headless.
        cluster.spec.head_group_spec = Some(HeadGroupSpec {
            service_type: Some(ServiceType::NodePort),
            ..HeadGroupSpec::default()
        });
        let spec = build(&cluster).spec.unwrap();
        assert_eq!(spec.cluster_ip, None);
        assert_eq!(spec.publish_not_ready_addresses, None);

        // A custom Service keeps a cluster IP; with no type of its own it
        // takes serviceType, and its own type wins over serviceType.
        let custom = |type_: Option<&str>| Service {
            metadata: ObjectMeta {
                name: Some("my-head".into()),
                ..ObjectMeta::default()
            },
            spec: Some(ServiceSpec {
                type_: type_.map(str::to_owned),
                ..ServiceSpec::default()
            }),
            status: None,
        };
        cluster.spec.head_group_spec = Some(HeadGroupSpec {
            head_service: Some(custom(None)),
            ..HeadGroupSpec::default()
        });
        let svc = build(&cluster);
        let spec = svc.spec.unwrap();
        assert_eq!(spec.cluster_ip, None, "a custom Service is not headless");
        assert_eq!(spec.publish_not_ready_addresses, None);
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
        cluster.spec.head_group_spec = Some(HeadGroupSpec {
            head_service: Some(custom(Some("LoadBalancer"))),
            service_type: Some(ServiceType::NodePort),
            ..HeadGroupSpec::default()
        });
        let spec = build(&cluster).spec.unwrap();
        assert_eq!(spec.type_.as_deref(), Some("LoadBalancer"));
        assert_eq!(spec.cluster_ip, None);
    }

    #[test]
    fn type_from_seed_or_head_group() {
        let mut cluster = RayCluster::test("rc");
        cluster.spec.head_service = Some(HeadServiceOptions {
            type_: Some(ServiceType::NodePort),
        });
        let svc = build(&cluster);
        assert_eq!(svc.spec.unwrap().type_.as_deref(), Some("NodePort"));
        cluster.spec.head_service = None;
        cluster.spec.head_group_spec = Some(HeadGroupSpec {
            service_type: Some(ServiceType::LoadBalancer),
            ..HeadGroupSpec::default()
        });
        let svc = build(&cluster);
        assert_eq!(svc.spec.unwrap().type_.as_deref(), Some("LoadBalancer"));
    }

    #[test]
    fn named_container_ports_override_and_extend() {
        let mut cluster = RayCluster::test("rc");
        let mut template = effective_head_template(&cluster.spec);
        template.spec.as_mut().unwrap().containers[0].ports = Some(vec![
            ContainerPort {
                name: Some("dashboard".into()),
                container_port: 9265,
                ..ContainerPort::default()
            },
            ContainerPort {
                name: Some("gcs".into()),
                container_port: 6379,
                ..ContainerPort::default()
            },
            ContainerPort {
                name: Some("grpc".into()),
                container_port: 9000,
                ..ContainerPort::default()
            },
        ]);
        cluster.spec.head_group_spec = Some(HeadGroupSpec {
            template: Some(template),
            ..HeadGroupSpec::default()
        });
        assert_eq!(
            ports(&build(&cluster)),
            [
                ("gcs-server".to_owned(), 6379),
                ("dashboard".to_owned(), 9265),
                ("client".to_owned(), 10001),
                ("metrics".to_owned(), 8080),
                ("serve".to_owned(), 8000),
                ("grpc".to_owned(), 9000)
            ]
        );
    }

    #[test]
    fn an_empty_custom_name_keeps_the_default() {
        let mut cluster = RayCluster::test("rc");
        cluster.spec.head_group_spec = Some(HeadGroupSpec {
            head_service: Some(Service {
                metadata: ObjectMeta {
                    name: Some(String::new()),
                    ..ObjectMeta::default()
                },
                ..Service::default()
            }),
            ..HeadGroupSpec::default()
        });
        assert_eq!(
            build(&cluster).metadata.name.as_deref(),
            Some("rc-head-svc")
        );
    }

    #[test]
    fn base_service_and_annotations() {
        let mut cluster = RayCluster::test("rc");
        let base = Service {
            metadata: ObjectMeta {
                name: Some("my-head".into()),
                labels: Some([("team".to_owned(), "ml".to_owned())].into()),
                annotations: Some(
                    [
                        ("a".to_owned(), "base".to_owned()),
                        ("b".to_owned(), "base".to_owned()),
                    ]
                    .into(),
                ),
                ..ObjectMeta::default()
            },
            spec: Some(ServiceSpec {
                session_affinity: Some("ClientIP".into()),
                ports: Some(vec![
                    ServicePort {
                        name: Some("extra".into()),
                        port: 7000,
                        ..ServicePort::default()
                    },
                    ServicePort {
                        name: Some("clash".into()),
                        port: 6379,
                        ..ServicePort::default()
                    },
                ]),
                ..ServiceSpec::default()
            }),
            status: None,
        };
        cluster.spec.head_group_spec = Some(HeadGroupSpec {
            head_service: Some(base),
            ..HeadGroupSpec::default()
        });
        cluster.spec.head_service_annotations =
            Some([("b".to_owned(), "cluster".to_owned())].into());
        let svc = build(&cluster);
        assert_eq!(svc.metadata.name.as_deref(), Some("my-head"));
        assert_eq!(svc.metadata.labels.as_ref().unwrap()["team"], "ml");
        assert_eq!(
            svc.metadata.labels.as_ref().unwrap()["ray.io/cluster"],
            "rc"
        );
        let annotations = svc.metadata.annotations.clone().unwrap();
        assert_eq!(annotations["a"], "base");
        assert_eq!(annotations["b"], "cluster");
        assert_eq!(
            svc.spec.as_ref().unwrap().session_affinity.as_deref(),
            Some("ClientIP")
        );
        let names: Vec<_> = ports(&svc).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "gcs-server",
                "dashboard",
                "client",
                "metrics",
                "serve",
                "extra"
            ]
        );
    }
}
