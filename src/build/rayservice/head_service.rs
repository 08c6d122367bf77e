//! The RayService's head Service `<rs>-head-svc`: a stable address of the
//! active cluster's head (dashboard, client, GCS), whichever cluster that is.
//!
//! [`head_service`] selects the head of the cluster it is given
//! ([`names::selector_labels`] of that cluster's head), so switching
//! clusters is rewriting the selector of one Service.
//!
//! - **Ports** (KubeRay's rule for this Service): every container port of
//!   the head's Ray container, an unnamed one called `<number>-port`; when
//!   it declares none, `client` 10001, `gcs-server` 6379, `dashboard` 8265,
//!   `metrics` 8080 and `serve` 8000 ([`ports::head_ports`], with the head's
//!   `rayStartParams` `port` and `metrics-export-port`). `metrics` is added
//!   when missing. Every port has `appProtocol: tcp`; they are sorted by
//!   name. A name or number already exposed is skipped, as the API server
//!   refuses duplicates ([`exposed`]).
//! - **Base, type, headless**: as the RayCluster's own head Service: the
//!   `headGroupSpec.headService` of `rayClusterConfig` is the base (its
//!   labels, annotations, spec and extra ports kept; name, namespace,
//!   selector and owner set here); the type is
//!   [`effective_head_service_type`]; without a base, a ClusterIP Service is
//!   headless (`clusterIP: None`, `publishNotReadyAddresses: true`).
//! - **Labels**: the base's, then the origin labels, `ray.io/node-type:
//!   head`, `ray.io/identifier: <rs>-head`, `app.kubernetes.io/name` and
//!   `app.kubernetes.io/created-by`.
//! - **Owner**: the RayService, not the cluster, so the Service outlives
//!   the clusters it points at in turn.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort};

use super::{ServiceBuildError, ServiceIdentity, names, service_meta::origin_labels};
use crate::{
    build::{
        head_service::{HEADLESS, exposed, service_port},
        ingress::IDENTIFIER_LABEL,
        ports::{self, NamedPort},
        ray_container::ray_container,
        ray_start,
    },
    crd::{
        effective_head_service_type, effective_head_template,
        head::ServiceType,
        names::{
            APP_NAME_VALUE, CREATED_BY_VALUE, LABEL_APP_NAME, LABEL_CREATED_BY, LABEL_NODE_TYPE,
            NODE_TYPE_HEAD, RayNode, selector_labels,
        },
        rayservice::RayService,
    },
};

/// `appProtocol` of every port of the head Service.
pub const HEAD_APP_PROTOCOL: &str = "tcp";

/// The head Service of `service`, selecting the head of the RayCluster
/// `cluster` (see the module docs).
///
/// # Errors
/// The RayService's missing identity ([`ServiceIdentity::of`]), or
/// [`ServiceBuildError::Head`] when the head template has no container.
pub fn head_service(service: &RayService, cluster: &str) -> Result<Service, ServiceBuildError> {
    let id = ServiceIdentity::of(service)?;
    let config = &service.spec.ray_cluster_config;
    let head = config.head_group_spec.as_ref();
    let custom = head.and_then(|h| h.head_service.clone());
    let headless = custom.is_none();
    let base = custom.unwrap_or_default();

    let mut metadata = base.metadata;
    metadata.name = Some(names::head_service_name(id.name));
    metadata.namespace = Some(id.namespace.to_owned());
    metadata.generate_name = None;
    metadata.owner_references = Some(vec![id.owner]);
    metadata
        .labels
        .get_or_insert_with(Default::default)
        .extend(labels(id.name));

    let mut spec = base.spec.unwrap_or_default();
    let template = effective_head_template(config);
    let ray = ray_container(&template, RayNode::Head)?;
    let params = head.map(|h| &h.ray_start_params);
    let mut service_ports: Vec<ServicePort> = Vec::new();
    let mut add = |port: ServicePort| {
        if !exposed(
            &service_ports,
            port.name.as_deref().unwrap_or(""),
            port.port,
        ) {
            service_ports.push(port);
        }
    };
    let declared = ray.ports.as_deref().unwrap_or_default();
    if declared.is_empty() {
        for port in ports::head_ports(
            ray,
            ray_start::gcs_port(params),
            ray_start::metrics_port(params),
        ) {
            add(service_port(&port));
        }
    } else {
        for port in declared {
            let name = port
                .name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| format!("{}-port", port.container_port));
            add(ServicePort {
                protocol: port.protocol.clone().or(Some("TCP".to_owned())),
                ..service_port(&NamedPort {
                    name,
                    port: port.container_port,
                })
            });
        }
    }
    add(service_port(&NamedPort {
        name: ports::METRICS_PORT_NAME.to_owned(),
        port: i32::from(ray_start::metrics_port(params)),
    }));
    for port in spec.ports.take().unwrap_or_default() {
        add(port);
    }
    for port in &mut service_ports {
        port.app_protocol = Some(HEAD_APP_PROTOCOL.to_owned());
    }
    service_ports.sort_by(|a, b| a.name.cmp(&b.name));

    spec.ports = Some(service_ports);
    spec.selector = Some(selector_labels(cluster, RayNode::Head));
    let service_type = effective_head_service_type(config);
    spec.type_ = Some(service_type.as_str().to_owned());
    if headless && service_type == ServiceType::ClusterIP {
        spec.cluster_ip = Some(HEADLESS.to_owned());
        spec.publish_not_ready_addresses = Some(true);
    }
    Ok(Service {
        metadata,
        spec: Some(spec),
        status: None,
    })
}

/// The labels rayop sets on the head Service of the RayService `name`.
fn labels(name: &str) -> BTreeMap<String, String> {
    let mut labels = origin_labels(name);
    labels.extend([
        (LABEL_NODE_TYPE.to_owned(), NODE_TYPE_HEAD.to_owned()),
        (IDENTIFIER_LABEL.to_owned(), format!("{name}-head")),
        (LABEL_APP_NAME.to_owned(), APP_NAME_VALUE.to_owned()),
        (LABEL_CREATED_BY.to_owned(), CREATED_BY_VALUE.to_owned()),
    ]);
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::head::HeadGroupSpec;
    use k8s_openapi::api::core::v1::{ContainerPort, ServiceSpec};

    fn with_ports(ports: Vec<ContainerPort>) -> RayService {
        let mut rs = RayService::test("rs");
        let config = &mut rs.spec.ray_cluster_config;
        let mut template = effective_head_template(config);
        template.spec.as_mut().unwrap().containers[0].ports = Some(ports);
        config
            .head_group_spec
            .get_or_insert_with(HeadGroupSpec::default)
            .template = Some(template);
        rs
    }

    fn port(name: Option<&str>, number: i32) -> ContainerPort {
        ContainerPort {
            name: name.map(str::to_owned),
            container_port: number,
            ..ContainerPort::default()
        }
    }

    fn pairs(svc: &Service) -> Vec<(String, i32)> {
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
    fn defaults_without_container_ports_sorted_by_name() {
        let svc = head_service(&with_ports(vec![]), "rs-0").unwrap();
        assert_eq!(svc.metadata.name.as_deref(), Some("rs-head-svc"));
        assert_eq!(
            pairs(&svc),
            [
                ("client".to_owned(), 10001),
                ("dashboard".to_owned(), 8265),
                ("gcs-server".to_owned(), 6379),
                ("metrics".to_owned(), 8080),
                ("serve".to_owned(), 8000),
            ]
        );
        let spec = svc.spec.unwrap();
        for p in spec.ports.unwrap() {
            assert_eq!(p.app_protocol.as_deref(), Some("tcp"));
            assert_eq!(p.target_port, Some(port_target(p.port)));
        }
        assert_eq!(spec.cluster_ip.as_deref(), Some(HEADLESS));
        assert_eq!(spec.publish_not_ready_addresses, Some(true));
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    }

    fn port_target(number: i32) -> k8s_openapi::apimachinery::pkg::util::intstr::IntOrString {
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(number)
    }

    #[test]
    fn declared_ports_replace_the_defaults_and_metrics_is_added() {
        let rs = with_ports(vec![
            port(Some("serve"), 9000),
            port(None, 7000),
            port(Some("dashboard"), 8265),
        ]);
        assert_eq!(
            pairs(&head_service(&rs, "rs-0").unwrap()),
            [
                ("7000-port".to_owned(), 7000),
                ("dashboard".to_owned(), 8265),
                ("metrics".to_owned(), 8080),
                ("serve".to_owned(), 9000),
            ]
        );
        let mut rs = with_ports(vec![port(Some("metrics"), 9090)]);
        rs.spec
            .ray_cluster_config
            .head_group_spec
            .as_mut()
            .unwrap()
            .ray_start_params
            .insert("metrics-export-port".into(), "9191".into());
        assert_eq!(
            pairs(&head_service(&rs, "rs-0").unwrap()),
            [("metrics".to_owned(), 9090)]
        );
    }

    #[test]
    fn selects_the_given_clusters_head_and_is_owned_by_the_rayservice() {
        let svc = head_service(&RayService::test("rs"), "rs-7").unwrap();
        let spec = svc.spec.unwrap();
        assert_eq!(
            spec.selector.unwrap(),
            selector_labels("rs-7", RayNode::Head)
        );
        let owners = svc.metadata.owner_references.unwrap();
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0].kind, "RayService");
        assert_eq!(owners[0].name, "rs");
        let labels = svc.metadata.labels.unwrap();
        assert_eq!(labels["ray.io/originated-from-cr-name"], "rs");
        assert_eq!(labels["ray.io/originated-from-crd"], "RayService");
        assert_eq!(labels["ray.io/node-type"], "head");
        assert_eq!(labels["ray.io/identifier"], "rs-head");
        assert!(!labels.contains_key("ray.io/cluster"));
    }

    #[test]
    fn a_non_cluster_ip_type_is_not_headless() {
        let mut rs = RayService::test("rs");
        rs.spec
            .ray_cluster_config
            .head_group_spec
            .get_or_insert_with(HeadGroupSpec::default)
            .service_type = Some(ServiceType::NodePort);
        let spec = head_service(&rs, "rs-0").unwrap().spec.unwrap();
        assert_eq!(spec.type_.as_deref(), Some("NodePort"));
        assert_eq!(spec.cluster_ip, None);
        assert_eq!(spec.publish_not_ready_addresses, None);
    }

    #[test]
    fn a_base_service_keeps_its_spec_and_extra_ports() {
        let mut rs = with_ports(vec![]);
        rs.spec
            .ray_cluster_config
            .head_group_spec
            .as_mut()
            .unwrap()
            .head_service = Some(Service {
            spec: Some(ServiceSpec {
                session_affinity: Some("ClientIP".into()),
                ports: Some(vec![
                    ServicePort {
                        name: Some("extra".into()),
                        port: 7100,
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
            ..Service::default()
        });
        let svc = head_service(&rs, "rs-0").unwrap();
        let names: Vec<_> = pairs(&svc).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "client",
                "dashboard",
                "extra",
                "gcs-server",
                "metrics",
                "serve"
            ]
        );
        let spec = svc.spec.unwrap();
        assert_eq!(spec.session_affinity.as_deref(), Some("ClientIP"));
        assert_eq!(spec.cluster_ip, None, "a base Service is not made headless");
    }

    #[test]
    fn identity_is_required() {
        let mut rs = RayService::test("rs");
        rs.metadata.namespace = None;
        assert_eq!(
            head_service(&rs, "rs-0").err(),
            Some(ServiceBuildError::MissingNamespace)
        );
    }
}
