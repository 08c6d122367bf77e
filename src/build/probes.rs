//! Liveness and readiness probes of the Ray container.
//!
//! Role: without probes a crashed raylet goes unnoticed while its container
//! keeps running. Each probe is added only when the user's container has none
//! of that kind; a user probe is never changed.
//!
//! | Probe | Initial delay | Period | Timeout | Failure threshold |
//! |---|---|---|---|---|
//! | Liveness | 30 s | 5 s | 2 s, head 5 s | 120 |
//! | Readiness | 10 s | 5 s | 2 s, head 5 s | 10 |
//!
//! What they check depends on `rayVersion`:
//! - **Ray 2.53.0 or later**: HTTP GET `/api/healthz` on the dashboard agent.
//! - **Older Ray** (the seed runs 2.6.0), as KubeRay does: an exec probe
//!   `bash -c 'wget -T 2 -q -O- http://localhost:<agent>/api/local_raylet_healthz | grep success'`;
//!   the head also checks `http://localhost:8265/api/gcs_healthz`, joined
//!   with `&&`.
//!
//! The agent port is the group's `dashboard-agent-listen-port`, else 52365;
//! the head's dashboard port is its `dashboard-port`, else 8265 (a value that
//! is not a port number falls back too), so a cluster that moves its dashboard
//! keeps passing probes. Workers' probes call only their own agent.
//! A `rayVersion` that does not start with a `major.minor` number (such as
//! `nightly`) counts as recent.

use k8s_openapi::{
    api::core::v1::{Container, ExecAction, HTTPGetAction, Probe},
    apimachinery::pkg::util::intstr::IntOrString,
};

use crate::{build::ports, crd::names::RayNode};

/// The first Ray version whose probes are HTTP GETs of `/api/healthz`.
pub const HTTP_PROBE_SINCE: (u64, u64, u64) = (2, 53, 0);
/// Path of the health endpoint in Ray 2.53.0 and later.
pub const HEALTHZ_PATH: &str = "/api/healthz";
/// Path of the raylet check on the dashboard agent, before 2.53.0.
pub const RAYLET_HEALTH_PATH: &str = "api/local_raylet_healthz";
/// Path of the GCS check on the dashboard, before 2.53.0.
pub const GCS_HEALTH_PATH: &str = "api/gcs_healthz";

/// The ports a node's probes call, from its `rayStartParams`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbePorts {
    /// The dashboard agent's port (`dashboard-agent-listen-port`).
    pub agent: u16,
    /// The dashboard's port (`dashboard-port`); only the head's probes use it.
    pub dashboard: u16,
}

impl Default for ProbePorts {
    fn default() -> Self {
        Self {
            agent: ports::DASHBOARD_AGENT_PORT,
            dashboard: ports::DASHBOARD_PORT,
        }
    }
}

/// Adds the liveness and readiness probes `ray` lacks.
pub fn add_probes(ray: &mut Container, node: RayNode<'_>, ray_version: &str, ports: ProbePorts) {
    let timeout = match node {
        RayNode::Head => 5,
        RayNode::Worker(_) => 2,
    };
    if ray.liveness_probe.is_none() {
        ray.liveness_probe = Some(Probe {
            initial_delay_seconds: Some(30),
            period_seconds: Some(5),
            timeout_seconds: Some(timeout),
            success_threshold: Some(1),
            failure_threshold: Some(120),
            ..health_check(node, ray_version, ports)
        });
    }
    if ray.readiness_probe.is_none() {
        ray.readiness_probe = Some(Probe {
            initial_delay_seconds: Some(10),
            period_seconds: Some(5),
            timeout_seconds: Some(timeout),
            success_threshold: Some(1),
            failure_threshold: Some(10),
            ..health_check(node, ray_version, ports)
        });
    }
}

/// A probe with only its check set.
fn health_check(node: RayNode<'_>, ray_version: &str, ports: ProbePorts) -> Probe {
    if uses_http_probe(ray_version) {
        return Probe {
            http_get: Some(HTTPGetAction {
                path: Some(HEALTHZ_PATH.to_owned()),
                port: IntOrString::Int(i32::from(ports.agent)),
                ..HTTPGetAction::default()
            }),
            ..Probe::default()
        };
    }
    let mut checks = vec![wget_check(ports.agent, RAYLET_HEALTH_PATH)];
    if node == RayNode::Head {
        checks.push(wget_check(ports.dashboard, GCS_HEALTH_PATH));
    }
    Probe {
        exec: Some(ExecAction {
            command: Some(vec![
                "bash".to_owned(),
                "-c".to_owned(),
                checks.join(" && "),
            ]),
        }),
        ..Probe::default()
    }
}

fn wget_check(port: u16, path: &str) -> String {
    format!("wget -T 2 -q -O- http://localhost:{port}/{path} | grep success")
}

/// Whether `ray_version` is 2.53.0 or later (or not a numbered version).
#[must_use]
pub fn uses_http_probe(ray_version: &str) -> bool {
    parse_version(ray_version).is_none_or(|version| version >= HTTP_PROBE_SINCE)
}

/// `"2.6.0"` as `(2, 6, 0)`; a missing patch is 0 and anything after the
/// leading digits of a part (`2.9.0rc1`) is ignored. `None` without at least
/// `major.minor`.
fn parse_version(version: &str) -> Option<(u64, u64, u64)> {
    let mut parts = version.trim().trim_start_matches('v').split('.');
    let mut number = |required: bool| -> Option<u64> {
        let part = parts.next();
        let digits: String = part
            .unwrap_or("")
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        match digits.parse() {
            Ok(n) => Some(n),
            Err(_) if !required => Some(0),
            Err(_) => None,
        }
    };
    Some((number(true)?, number(true)?, number(false)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probed(node: RayNode<'_>, version: &str) -> Container {
        let mut c = Container::default();
        add_probes(&mut c, node, version, ProbePorts::default());
        c
    }

    fn exec(probe: &Option<Probe>) -> String {
        probe
            .as_ref()
            .unwrap()
            .exec
            .as_ref()
            .unwrap()
            .command
            .as_ref()
            .unwrap()[2]
            .clone()
    }

    #[test]
    fn versions() {
        assert!(!uses_http_probe("2.6.0"));
        assert!(!uses_http_probe("2.52.1"));
        assert!(uses_http_probe("2.53.0"));
        assert!(uses_http_probe("2.53"));
        assert!(uses_http_probe("3.0.0"));
        assert!(!uses_http_probe("2.9.0rc1"));
        assert!(uses_http_probe("nightly"));
    }

    #[test]
    fn old_ray_worker_exec_probe() {
        let c = probed(RayNode::Worker("g"), "2.6.0");
        assert_eq!(
            exec(&c.liveness_probe),
            "wget -T 2 -q -O- http://localhost:52365/api/local_raylet_healthz | grep success"
        );
        let live = c.liveness_probe.unwrap();
        assert_eq!(
            (
                live.initial_delay_seconds,
                live.period_seconds,
                live.timeout_seconds,
                live.failure_threshold
            ),
            (Some(30), Some(5), Some(2), Some(120))
        );
        let ready = c.readiness_probe.unwrap();
        assert_eq!(
            (
                ready.initial_delay_seconds,
                ready.period_seconds,
                ready.timeout_seconds,
                ready.failure_threshold
            ),
            (Some(10), Some(5), Some(2), Some(10))
        );
    }

    #[test]
    fn old_ray_head_also_checks_the_gcs() {
        let c = probed(RayNode::Head, "2.6.0");
        assert_eq!(
            exec(&c.readiness_probe),
            "wget -T 2 -q -O- http://localhost:52365/api/local_raylet_healthz | grep success \
             && wget -T 2 -q -O- http://localhost:8265/api/gcs_healthz | grep success"
        );
        assert_eq!(c.liveness_probe.unwrap().timeout_seconds, Some(5));
        assert_eq!(c.readiness_probe.unwrap().timeout_seconds, Some(5));
    }

    #[test]
    fn new_ray_http_probe() {
        let c = probed(RayNode::Head, "2.53.0");
        let get = c.liveness_probe.unwrap().http_get.unwrap();
        assert_eq!(get.path.as_deref(), Some("/api/healthz"));
        assert_eq!(get.port, IntOrString::Int(52365));
        assert!(c.readiness_probe.unwrap().exec.is_none());
    }

    #[test]
    fn custom_ports_are_followed() {
        let ports = ProbePorts {
            agent: 52366,
            dashboard: 9265,
        };
        let mut head = Container::default();
        add_probes(&mut head, RayNode::Head, "2.41.0", ports);
        for probe in [&head.liveness_probe, &head.readiness_probe] {
            assert_eq!(
                exec(probe),
                "wget -T 2 -q -O- http://localhost:52366/api/local_raylet_healthz | grep success \
                 && wget -T 2 -q -O- http://localhost:9265/api/gcs_healthz | grep success"
            );
        }
        let mut worker = Container::default();
        add_probes(&mut worker, RayNode::Worker("g"), "2.41.0", ports);
        assert_eq!(
            exec(&worker.readiness_probe),
            "wget -T 2 -q -O- http://localhost:52366/api/local_raylet_healthz | grep success"
        );
        let mut recent = Container::default();
        add_probes(&mut recent, RayNode::Head, "2.60.0", ports);
        assert_eq!(
            recent.liveness_probe.unwrap().http_get.unwrap().port,
            IntOrString::Int(52366)
        );
    }

    #[test]
    fn user_probes_are_kept() {
        let mine = Probe {
            period_seconds: Some(99),
            ..Probe::default()
        };
        let mut c = Container {
            readiness_probe: Some(mine.clone()),
            ..Container::default()
        };
        add_probes(&mut c, RayNode::Head, "2.6.0", ProbePorts::default());
        assert_eq!(c.readiness_probe, Some(mine));
        assert!(c.liveness_probe.is_some());
    }
}
