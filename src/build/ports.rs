//! Ray's ports: their names and default numbers, the head Service's ports, and
//! the default ports of the Ray container.
//!
//! Invariants:
//! - The head exposes `gcs-server` 6379, `dashboard` 8265, `client` 10001,
//!   `metrics` 8080 and `serve` 8000, in that order. A container port of the
//!   Ray container with one of these names overrides the number.
//! - Defaults never duplicate a port: a default is added to a container (or a
//!   Service) only when neither its name nor its number is already there,
//!   because the API server refuses duplicate port names, and a Service also
//!   refuses a duplicate port number.

use k8s_openapi::api::core::v1::{Container, ContainerPort};

/// Default port of the GCS server, which workers and drivers connect to; the
/// head's `rayStartParams.port` changes it.
pub const GCS_SERVER_PORT: u16 = 6379;
/// Port of the Ray dashboard (web UI and job submission), on the head.
pub const DASHBOARD_PORT: u16 = 8265;
/// Port of the Ray client server, for `ray://` connections, on the head.
pub const CLIENT_PORT: u16 = 10001;
/// Default port of the Prometheus metrics export on every node;
/// `rayStartParams.metrics-export-port` changes it.
pub const METRICS_PORT: u16 = 8080;
/// Port of Ray Serve's HTTP proxy, on the head.
pub const SERVE_PORT: u16 = 8000;
/// Port of the dashboard agent, which the probes call.
pub const DASHBOARD_AGENT_PORT: u16 = 52365;

/// Name of the GCS port on the head's container and Service; a container port
/// of this name sets the number, as for every name below.
pub const GCS_SERVER_PORT_NAME: &str = "gcs-server";
/// Name of the dashboard port, [`DASHBOARD_PORT`] unless the container says.
pub const DASHBOARD_PORT_NAME: &str = "dashboard";
/// Name of the client port, [`CLIENT_PORT`] unless the container says.
pub const CLIENT_PORT_NAME: &str = "client";
/// Name of the metrics port, the one port every node's container and
/// Service has.
pub const METRICS_PORT_NAME: &str = "metrics";
/// Name of the Serve port, [`SERVE_PORT`] unless the container says.
pub const SERVE_PORT_NAME: &str = "serve";

/// A named TCP port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedPort {
    /// Port name, unique within a container and within a Service.
    pub name: String,
    /// Port number, the same on the container and the Service (the Service
    /// port targets it).
    pub port: i32,
}

/// The number of the container port called `name` in `container`.
#[must_use]
pub fn named_container_port(container: &Container, name: &str) -> Option<i32> {
    container
        .ports
        .iter()
        .flatten()
        .find(|p| p.name.as_deref() == Some(name))
        .map(|p| p.container_port)
}

/// The head's five Ray ports, each overridden by a same-named container port of
/// `ray`. `gcs_port` and `metrics_port` come from `rayStartParams` (`port`,
/// `metrics-export-port`) or their defaults.
#[must_use]
pub fn head_ports(ray: &Container, gcs_port: u16, metrics_port: u16) -> Vec<NamedPort> {
    [
        (GCS_SERVER_PORT_NAME, gcs_port),
        (DASHBOARD_PORT_NAME, DASHBOARD_PORT),
        (CLIENT_PORT_NAME, CLIENT_PORT),
        (METRICS_PORT_NAME, metrics_port),
        (SERVE_PORT_NAME, SERVE_PORT),
    ]
    .into_iter()
    .map(|(name, default)| NamedPort {
        name: name.to_owned(),
        port: named_container_port(ray, name).unwrap_or(i32::from(default)),
    })
    .collect()
}

/// A worker's default port: metrics on `metrics_port`, overridden by a
/// same-named container port.
#[must_use]
pub fn worker_ports(ray: &Container, metrics_port: u16) -> Vec<NamedPort> {
    vec![NamedPort {
        name: METRICS_PORT_NAME.to_owned(),
        port: named_container_port(ray, METRICS_PORT_NAME).unwrap_or(i32::from(metrics_port)),
    }]
}

/// Adds each of `defaults` to `container` unless a port of that name or
/// number (TCP) is already there.
pub fn add_default_container_ports(container: &mut Container, defaults: &[NamedPort]) {
    let ports = container.ports.get_or_insert_with(Vec::new);
    for default in defaults {
        let taken = ports.iter().any(|p| {
            p.name.as_deref() == Some(default.name.as_str())
                || (p.container_port == default.port
                    && p.protocol.as_deref().is_none_or(|proto| proto == "TCP"))
        });
        if !taken {
            ports.push(ContainerPort {
                name: Some(default.name.clone()),
                container_port: default.port,
                protocol: Some("TCP".to_owned()),
                ..ContainerPort::default()
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(ports: &[(&str, i32)]) -> Container {
        Container {
            ports: Some(
                ports
                    .iter()
                    .map(|(name, port)| ContainerPort {
                        name: Some((*name).to_owned()),
                        container_port: *port,
                        ..ContainerPort::default()
                    })
                    .collect(),
            ),
            ..Container::default()
        }
    }

    #[test]
    fn head_ports_default_and_override() {
        let ports = head_ports(&container(&[("dashboard", 9000)]), 6379, 8080);
        let pairs: Vec<_> = ports.iter().map(|p| (p.name.as_str(), p.port)).collect();
        assert_eq!(
            pairs,
            [
                ("gcs-server", 6379),
                ("dashboard", 9000),
                ("client", 10001),
                ("metrics", 8080),
                ("serve", 8000)
            ]
        );
    }

    #[test]
    fn defaults_never_duplicate_a_name_or_number() {
        let mut ray = container(&[("gcs", 6379), ("metrics", 9090)]);
        let defaults = head_ports(&ray, 6379, 8080);
        add_default_container_ports(&mut ray, &defaults);
        let names: Vec<_> = ray
            .ports
            .unwrap()
            .into_iter()
            .map(|p| (p.name.unwrap(), p.container_port))
            .collect();
        assert_eq!(
            names,
            [
                ("gcs".to_owned(), 6379),
                ("metrics".to_owned(), 9090),
                ("dashboard".to_owned(), 8265),
                ("client".to_owned(), 10001),
                ("serve".to_owned(), 8000)
            ]
        );
    }
}
