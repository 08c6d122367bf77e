//! The dashboard's Ingress `<cluster>-head-ingress`, when
//! `headGroupSpec.enableIngress` is true.
//!
//! Invariants:
//! - The name is [`ingress_name`]: `<cluster>-head-ingress` trimmed from the
//!   front to 50 characters, a leading digit or punctuation mark then
//!   replaced by `r` (KubeRay's rule, so both operators name it alike).
//! - Annotations are the RayCluster's, except `kubernetes.io/ingress.class`,
//!   whose value becomes `spec.ingressClassName` (unset without it), and
//!   kubectl's `last-applied-configuration`, which describes the RayCluster
//!   and would mislead a `kubectl apply` of the Ingress.
//! - One rule (`ingressOptions.host`, else any host) with one path
//!   (`ingressOptions.path`, `/`; `pathType`, Prefix) to the head Service
//!   (its custom name included) on the number of its `dashboard` port.
//!   `ingressOptions.tls` is copied as given.

use std::collections::BTreeMap;

use k8s_openapi::api::{
    core::v1::Service,
    networking::v1::{
        HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
        IngressServiceBackend, IngressSpec, ServiceBackendPort,
    },
};

use crate::{
    build::{BuildError, ClusterContext, head_service, object_meta::object_meta, ports},
    crd::{ingress::IngressOptions, names::RayNode},
    desired::Object,
};

/// The RayCluster annotation whose value becomes `spec.ingressClassName`.
pub const INGRESS_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
/// kubectl's copy of the applied RayCluster, never copied to the Ingress.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// Label naming the head whose dashboard the Ingress serves.
pub const IDENTIFIER_LABEL: &str = "ray.io/identifier";
/// Longest name KubeRay's name rule keeps.
pub const MAX_NAME: usize = 50;

/// `name` made a valid object name the way KubeRay does: its last
/// [`MAX_NAME`] characters, with a leading digit or punctuation mark
/// replaced by `r`.
#[must_use]
pub fn checked_name(name: &str) -> String {
    let start = name.len().saturating_sub(MAX_NAME);
    let trimmed = name.get(start..).unwrap_or(name);
    match trimmed.chars().next() {
        Some(first) if first.is_ascii_digit() || first.is_ascii_punctuation() => {
            format!("r{}", &trimmed[first.len_utf8()..])
        }
        _ => trimmed.to_owned(),
    }
}

/// The Ingress's name: [`checked_name`] of `<cluster>-head-ingress`.
#[must_use]
pub fn ingress_name(cluster: &str) -> String {
    checked_name(&format!("{cluster}-head-ingress"))
}

/// The dashboard's Ingress, when `enableIngress` is true.
///
/// # Errors
/// As [`head_service::head_service`], whose `dashboard` port it targets.
pub fn head_ingress(ctx: &ClusterContext<'_>) -> Result<Option<Object>, BuildError> {
    let Some(head) = ctx
        .spec
        .head_group_spec
        .as_ref()
        .filter(|h| h.ingress_enabled())
    else {
        return Ok(None);
    };
    let default_options = IngressOptions::default();
    let options = head.ingress_options.as_ref().unwrap_or(&default_options);
    let service_port = match head_service::head_service(ctx)? {
        Object::Service(service) => dashboard_port(&service),
        _ => None,
    }
    .unwrap_or(i32::from(ports::DASHBOARD_PORT));

    let mut metadata = object_meta(ctx, ingress_name(ctx.name), RayNode::Head);
    metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert(IDENTIFIER_LABEL.to_owned(), format!("{}-head", ctx.name));
    let annotations = ctx.annotations.map(|all| {
        all.iter()
            .filter(|(k, _)| *k != INGRESS_CLASS_ANNOTATION && *k != LAST_APPLIED_ANNOTATION)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<BTreeMap<_, _>>()
    });
    metadata.annotations = annotations.filter(|a| !a.is_empty());

    let path = HTTPIngressPath {
        path: Some(options.effective_path().to_owned()),
        path_type: options.effective_path_type().as_str().to_owned(),
        backend: IngressBackend {
            service: Some(IngressServiceBackend {
                name: ctx.head_service_name(),
                port: Some(ServiceBackendPort {
                    number: Some(service_port),
                    name: None,
                }),
            }),
            resource: None,
        },
    };
    let spec = IngressSpec {
        ingress_class_name: ctx
            .annotations
            .and_then(|a| a.get(INGRESS_CLASS_ANNOTATION))
            .cloned(),
        rules: Some(vec![IngressRule {
            host: options.host.clone(),
            http: Some(HTTPIngressRuleValue { paths: vec![path] }),
        }]),
        tls: (!options.tls.is_empty()).then(|| options.tls.clone()),
        default_backend: None,
    };
    Ok(Some(Object::Ingress(Ingress {
        metadata,
        spec: Some(spec),
        status: None,
    })))
}

/// The number of the Service port named `dashboard`.
#[must_use]
pub fn dashboard_port(service: &Service) -> Option<i32> {
    service
        .spec
        .as_ref()?
        .ports
        .iter()
        .flatten()
        .find(|p| p.name.as_deref() == Some(ports::DASHBOARD_PORT_NAME))
        .map(|p| p.port)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::networking::v1::IngressTLS;

    use super::*;
    use crate::{
        build::BuildOptions,
        crd::{RayCluster, head::HeadGroupSpec, ingress::IngressPathType},
    };

    fn ingress_of(cluster: &RayCluster) -> Option<Ingress> {
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(cluster, &options).unwrap();
        match head_ingress(&ctx).unwrap() {
            Some(Object::Ingress(i)) => Some(i),
            None => None,
            other => panic!("not an Ingress: {other:?}"),
        }
    }

    fn with_ingress(name: &str) -> RayCluster {
        let mut c = RayCluster::test(name);
        c.spec.head_group_spec = Some(HeadGroupSpec {
            enable_ingress: Some(true),
            ..HeadGroupSpec::default()
        });
        c
    }

    fn path(ingress: &Ingress) -> HTTPIngressPath {
        ingress.spec.as_ref().unwrap().rules.as_ref().unwrap()[0]
            .http
            .as_ref()
            .unwrap()
            .paths[0]
            .clone()
    }

    #[test]
    fn no_ingress_unless_enabled() {
        assert!(ingress_of(&RayCluster::test("rc")).is_none());
        let mut c = with_ingress("rc");
        if let Some(h) = c.spec.head_group_spec.as_mut() {
            h.enable_ingress = Some(false);
        }
        assert!(ingress_of(&c).is_none());
    }

    #[test]
    fn defaults_route_everything_to_the_dashboard() {
        let ingress = ingress_of(&with_ingress("rc")).unwrap();
        assert_eq!(ingress.metadata.name.as_deref(), Some("rc-head-ingress"));
        let labels = ingress.metadata.labels.clone().unwrap();
        assert_eq!(labels["ray.io/cluster"], "rc");
        assert_eq!(labels[IDENTIFIER_LABEL], "rc-head");
        assert_eq!(labels["app.kubernetes.io/name"], "kuberay");
        assert!(ingress.metadata.annotations.is_none());
        let spec = ingress.spec.clone().unwrap();
        assert_eq!(spec.ingress_class_name, None);
        assert_eq!(spec.rules.as_ref().unwrap()[0].host, None);
        assert!(spec.tls.is_none());
        let p = path(&ingress);
        assert_eq!(p.path.as_deref(), Some("/"));
        assert_eq!(p.path_type, "Prefix");
        let backend = p.backend.service.unwrap();
        assert_eq!(backend.name, "rc-head-svc");
        assert_eq!(backend.port.unwrap().number, Some(8265));
    }

    #[test]
    fn options_annotations_class_custom_service_and_dashboard_port() {
        let mut c = with_ingress("rc");
        c.metadata.annotations = Some(BTreeMap::from([
            (INGRESS_CLASS_ANNOTATION.to_owned(), "nginx".to_owned()),
            (
                "nginx.ingress.kubernetes.io/rewrite-target".to_owned(),
                "/$1".to_owned(),
            ),
            (LAST_APPLIED_ANNOTATION.to_owned(), "{}".to_owned()),
        ]));
        let template: k8s_openapi::api::core::v1::PodTemplateSpec =
            serde_json::from_value(serde_json::json!({"spec": {"containers": [
                {"name": "ray-head", "ports": [{"name": "dashboard", "containerPort": 9265}]}
            ]}}))
            .unwrap();
        let service: Service =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "my-head"}})).unwrap();
        if let Some(h) = c.spec.head_group_spec.as_mut() {
            h.template = Some(template);
            h.head_service = Some(service);
            h.ingress_options = Some(IngressOptions {
                host: Some("ray.example.com".into()),
                path: Some("/rc/(.*)".into()),
                path_type: Some(IngressPathType::ImplementationSpecific),
                tls: vec![IngressTLS {
                    hosts: Some(vec!["ray.example.com".into()]),
                    secret_name: Some("tls".into()),
                }],
            });
        }
        let ingress = ingress_of(&c).unwrap();
        assert_eq!(
            ingress.metadata.annotations.clone().unwrap(),
            BTreeMap::from([(
                "nginx.ingress.kubernetes.io/rewrite-target".to_owned(),
                "/$1".to_owned()
            )])
        );
        let spec = ingress.spec.clone().unwrap();
        assert_eq!(spec.ingress_class_name.as_deref(), Some("nginx"));
        assert_eq!(
            spec.rules.as_ref().unwrap()[0].host.as_deref(),
            Some("ray.example.com")
        );
        assert_eq!(spec.tls.unwrap()[0].secret_name.as_deref(), Some("tls"));
        let p = path(&ingress);
        assert_eq!(p.path.as_deref(), Some("/rc/(.*)"));
        assert_eq!(p.path_type, "ImplementationSpecific");
        let backend = p.backend.service.unwrap();
        assert_eq!(backend.name, "my-head");
        assert_eq!(backend.port.unwrap().number, Some(9265));
    }

    #[test]
    fn long_names_are_trimmed_from_the_front() {
        assert_eq!(ingress_name("rc"), "rc-head-ingress");
        let long = format!("a{}", "b".repeat(46));
        let name = ingress_name(&long);
        assert_eq!(name.len(), MAX_NAME);
        assert!(name.ends_with("-head-ingress"));
        assert_eq!(checked_name("-x"), "rx");
        assert_eq!(checked_name("9x"), "rx");
        assert_eq!(
            checked_name(&format!("{}1abc", "z".repeat(10))),
            format!("{}1abc", "z".repeat(10))
        );
    }
}
