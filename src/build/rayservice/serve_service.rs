//! The RayService's serve Service: `serveService.metadata.name`, else
//! `<rs>-serve-svc`, the address of the Serve applications.
//!
//! [`serve_service`] selects exactly `ray.io/cluster: <cluster>` and
//! `ray.io/serve: "true"`: the pods of the given cluster whose Serve proxy
//! the controller marked healthy, so traffic moves between clusters by
//! rewriting the selector.
//!
//! - **Ports**: the head Ray container's ports named `serve` or `serve-*`
//!   (`serve-grpc`), each targeting its number, without `appProtocol`. With
//!   `serveService` given, a port of its own with a detected port's name
//!   replaces it (keeping, say, `appProtocol: kubernetes.io/h2c`) and its
//!   other ports are dropped; when none was detected, all of its ports are
//!   kept. No port at all is [`ServiceBuildError::NoServePort`]: without
//!   `serveService` the head must name a `serve` port; with it, the two
//!   together must give one, as a Service without ports is refused.
//! - **Type**: `serveService.spec.type` when set, else
//!   `headGroupSpec.serviceType`, else ClusterIP.
//! - **Metadata**: `serveService`'s labels and annotations are kept;
//!   rayop's labels win over them: the origin labels and `ray.io/serve:
//!   <rs>-serve`. The namespace is always the RayService's, the one owner
//!   the RayService.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ContainerPort, Service, ServicePort};

use super::{
    ServiceBuildError, ServiceIdentity,
    names::{self, SERVE_LABEL_SUFFIX},
    service_meta::origin_labels,
};
use crate::{
    build::{
        head_service::service_port,
        ports::{NamedPort, SERVE_PORT_NAME},
        ray_container::ray_container,
    },
    crd::{
        effective_head_template,
        head::ServiceType,
        names::{LABEL_CLUSTER, LABEL_SERVE, RayNode},
        rayservice::RayService,
    },
};

/// Value of [`LABEL_SERVE`] on a pod whose Serve proxy may take traffic.
pub const SERVING: &str = "true";

/// The serve Service of `service`, selecting the serving pods of the
/// RayCluster `cluster` (see the module docs).
///
/// # Errors
/// The RayService's missing identity ([`ServiceIdentity::of`]),
/// [`ServiceBuildError::Head`] when the head template has no container, and
/// [`ServiceBuildError::NoServePort`] when no port results.
pub fn serve_service(service: &RayService, cluster: &str) -> Result<Service, ServiceBuildError> {
    let id = ServiceIdentity::of(service)?;
    let config = &service.spec.ray_cluster_config;
    let template = effective_head_template(config);
    let ray = ray_container(&template, RayNode::Head)?;
    let detected: Vec<ServicePort> = ray
        .ports
        .iter()
        .flatten()
        .filter(|p| p.name.as_deref().is_some_and(is_serve_port_name))
        .map(detected_port)
        .collect();

    let custom = service.spec.serve_service.clone();
    let has_custom = custom.is_some();
    let base = custom.unwrap_or_default();
    let mut spec = base.spec.unwrap_or_default();
    let user_ports = spec.ports.take().unwrap_or_default();
    let service_ports = if !has_custom {
        detected
    } else if detected.is_empty() {
        user_ports
    } else {
        detected
            .into_iter()
            .map(|port| {
                user_ports
                    .iter()
                    .find(|user| user.name.is_some() && user.name == port.name)
                    .cloned()
                    .unwrap_or(port)
            })
            .collect()
    };
    if service_ports.is_empty() {
        return Err(ServiceBuildError::NoServePort);
    }

    let mut metadata = base.metadata;
    metadata.name = Some(names::serve_service_name(service, id.name));
    metadata.namespace = Some(id.namespace.to_owned());
    metadata.generate_name = None;
    metadata.owner_references = Some(vec![id.owner]);
    let labels = metadata.labels.get_or_insert_with(Default::default);
    labels.extend(origin_labels(id.name));
    labels.insert(
        LABEL_SERVE.to_owned(),
        format!("{}{SERVE_LABEL_SUFFIX}", id.name),
    );

    let service_type = spec
        .type_
        .clone()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| {
            config
                .head_group_spec
                .as_ref()
                .and_then(|h| h.service_type)
                .unwrap_or(ServiceType::ClusterIP)
                .as_str()
                .to_owned()
        });
    spec.type_ = Some(service_type);
    spec.ports = Some(service_ports);
    spec.selector = Some(selector(cluster));
    Ok(Service {
        metadata,
        spec: Some(spec),
        status: None,
    })
}

/// The serve Service's selector: the serving pods of `cluster`.
#[must_use]
pub fn selector(cluster: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_CLUSTER.to_owned(), cluster.to_owned()),
        (LABEL_SERVE.to_owned(), SERVING.to_owned()),
    ])
}

/// Whether a container port called `name` is a Serve port: `serve` or
/// `serve-<suffix>`.
#[must_use]
pub fn is_serve_port_name(name: &str) -> bool {
    name == SERVE_PORT_NAME
        || name
            .strip_prefix(SERVE_PORT_NAME)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|suffix| !suffix.is_empty())
}

fn detected_port(port: &ContainerPort) -> ServicePort {
    ServicePort {
        protocol: port.protocol.clone().or(Some("TCP".to_owned())),
        ..service_port(&NamedPort {
            name: port.name.clone().unwrap_or_default(),
            port: port.container_port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::head::HeadGroupSpec;
    use k8s_openapi::{api::core::v1::ServiceSpec, apimachinery::pkg::apis::meta::v1::ObjectMeta};

    fn with_ports(ports: &[(&str, i32)]) -> RayService {
        let mut rs = RayService::test("rs");
        let config = &mut rs.spec.ray_cluster_config;
        let mut template = effective_head_template(config);
        template.spec.as_mut().unwrap().containers[0].ports = Some(
            ports
                .iter()
                .map(|(name, number)| ContainerPort {
                    name: Some((*name).to_owned()),
                    container_port: *number,
                    ..ContainerPort::default()
                })
                .collect(),
        );
        config
            .head_group_spec
            .get_or_insert_with(HeadGroupSpec::default)
            .template = Some(template);
        rs
    }

    fn pairs(svc: &Service) -> Vec<(String, i32)> {
        svc.spec
            .as_ref()
            .unwrap()
            .ports
            .iter()
            .flatten()
            .map(|p| (p.name.clone().unwrap_or_default(), p.port))
            .collect()
    }

    fn user_port(name: &str, number: i32, app_protocol: Option<&str>) -> ServicePort {
        ServicePort {
            name: Some(name.to_owned()),
            port: number,
            app_protocol: app_protocol.map(str::to_owned),
            ..ServicePort::default()
        }
    }

    fn custom(name: Option<&str>, type_: Option<&str>, ports: Vec<ServicePort>) -> Service {
        Service {
            metadata: ObjectMeta {
                name: name.map(str::to_owned),
                namespace: Some("elsewhere".into()),
                labels: Some(
                    [
                        ("team".to_owned(), "ml".to_owned()),
                        ("ray.io/serve".to_owned(), "mine".to_owned()),
                    ]
                    .into(),
                ),
                annotations: Some([("note".to_owned(), "kept".to_owned())].into()),
                ..ObjectMeta::default()
            },
            spec: Some(ServiceSpec {
                type_: type_.map(str::to_owned),
                ports: Some(ports),
                ..ServiceSpec::default()
            }),
            status: None,
        }
    }

    #[test]
    fn serve_ports_of_the_head_and_the_exact_selector() {
        let rs = with_ports(&[
            ("dashboard", 8265),
            ("serve", 8000),
            ("serve-grpc", 9000),
            ("server", 9100),
            ("serve-", 9200),
        ]);
        let svc = serve_service(&rs, "rs-2").unwrap();
        assert_eq!(svc.metadata.name.as_deref(), Some("rs-serve-svc"));
        assert_eq!(
            pairs(&svc),
            [("serve".to_owned(), 8000), ("serve-grpc".to_owned(), 9000)]
        );
        let spec = svc.spec.unwrap();
        assert_eq!(
            spec.selector.unwrap(),
            BTreeMap::from([
                ("ray.io/cluster".to_owned(), "rs-2".to_owned()),
                ("ray.io/serve".to_owned(), "true".to_owned()),
            ])
        );
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
        assert!(spec.ports.unwrap().iter().all(|p| p.app_protocol.is_none()));
        let labels = svc.metadata.labels.unwrap();
        assert_eq!(labels["ray.io/serve"], "rs-serve");
        assert_eq!(labels["ray.io/originated-from-crd"], "RayService");
        assert_eq!(labels["ray.io/originated-from-cr-name"], "rs");
        let owners = svc.metadata.owner_references.unwrap();
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0].kind, "RayService");
    }

    #[test]
    fn no_serve_port_and_no_serve_service_is_an_error_naming_the_field() {
        let rs = with_ports(&[("dashboard", 8265)]);
        let err = serve_service(&rs, "rs-0").unwrap_err();
        assert_eq!(err, ServiceBuildError::NoServePort);
        let text = err.to_string();
        assert!(text.contains("port named serve"), "{text}");
        assert!(text.contains("headGroupSpec"), "{text}");
        assert!(text.contains("spec.serveService"), "{text}");
    }

    #[test]
    fn user_ports_replace_detected_ones_by_name_and_others_are_dropped() {
        let mut rs = with_ports(&[("serve", 8000), ("serve-grpc", 9000)]);
        rs.spec.serve_service = Some(custom(
            Some("my-serve"),
            Some("LoadBalancer"),
            vec![
                user_port("serve-grpc", 9000, Some("kubernetes.io/h2c")),
                user_port("other", 7000, None),
            ],
        ));
        let svc = serve_service(&rs, "rs-0").unwrap();
        assert_eq!(svc.metadata.name.as_deref(), Some("my-serve"));
        assert_eq!(svc.metadata.namespace, rs.metadata.namespace);
        assert_eq!(
            pairs(&svc),
            [("serve".to_owned(), 8000), ("serve-grpc".to_owned(), 9000)]
        );
        let ports = svc.spec.as_ref().unwrap().ports.clone().unwrap();
        assert_eq!(ports[1].app_protocol.as_deref(), Some("kubernetes.io/h2c"));
        assert_eq!(
            svc.spec.as_ref().unwrap().type_.as_deref(),
            Some("LoadBalancer")
        );
        let labels = svc.metadata.labels.unwrap();
        assert_eq!(labels["team"], "ml");
        assert_eq!(labels["ray.io/serve"], "rs-serve", "rayop's label wins");
        assert_eq!(svc.metadata.annotations.unwrap()["note"], "kept");
    }

    #[test]
    fn with_no_detected_port_all_user_ports_are_kept() {
        let mut rs = with_ports(&[("dashboard", 8265)]);
        rs.spec.serve_service = Some(custom(
            None,
            None,
            vec![user_port("http", 8000, None), user_port("grpc", 9000, None)],
        ));
        let svc = serve_service(&rs, "rs-0").unwrap();
        assert_eq!(svc.metadata.name.as_deref(), Some("rs-serve-svc"));
        assert_eq!(
            pairs(&svc),
            [("http".to_owned(), 8000), ("grpc".to_owned(), 9000)]
        );
        // A serveService without ports cannot make up for the missing one.
        rs.spec.serve_service = Some(custom(None, None, vec![]));
        assert_eq!(
            serve_service(&rs, "rs-0").err(),
            Some(ServiceBuildError::NoServePort)
        );
    }

    #[test]
    fn the_type_follows_the_head_group_unless_serve_service_sets_one() {
        let mut rs = with_ports(&[("serve", 8000)]);
        rs.spec
            .ray_cluster_config
            .head_group_spec
            .as_mut()
            .unwrap()
            .service_type = Some(ServiceType::NodePort);
        let svc = serve_service(&rs, "rs-0").unwrap();
        assert_eq!(svc.spec.unwrap().type_.as_deref(), Some("NodePort"));
        rs.spec.serve_service = Some(custom(None, Some("LoadBalancer"), vec![]));
        let svc = serve_service(&rs, "rs-0").unwrap();
        assert_eq!(svc.spec.unwrap().type_.as_deref(), Some("LoadBalancer"));
    }

    #[test]
    fn serve_port_names() {
        assert!(is_serve_port_name("serve"));
        assert!(is_serve_port_name("serve-grpc"));
        assert!(!is_serve_port_name("serve-"));
        assert!(!is_serve_port_name("server"));
        assert!(!is_serve_port_name("my-serve"));
    }
}
