//! A small model of a RayService's world for the machine's tests: clusters
//! whose heads come up one observation after creation, whose Serve apps
//! run one observation after a submission, Services, a route; the
//! machine's commands are applied to it.
#![allow(dead_code, clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use rayop_machines::rayservice::{
    AppStatus, ClusterView, RouteView, ServeView, ServiceCommand, ServiceSpec, ServiceWorld,
    Strategy,
};

/// One modelled RayCluster.
#[derive(Clone, Debug)]
pub struct SimCluster {
    pub cluster_hash: String,
    pub full_hash: String,
    /// Observations since creation (or the head's restart).
    pub age: u32,
    /// The config it holds and observations since it was submitted.
    pub config: Option<(String, u32)>,
    pub label: bool,
}

/// The modelled world.
#[derive(Clone, Debug, Default)]
pub struct Sim {
    pub clusters: BTreeMap<u32, SimCluster>,
    pub head_service: Option<u32>,
    pub serve_service: Option<u32>,
    pub route: Option<BTreeMap<u32, u8>>,
}

impl Sim {
    /// The world as the operator would observe it.
    pub fn world(&self) -> ServiceWorld {
        let clusters: Vec<ClusterView> = self
            .clusters
            .iter()
            .map(|(&index, c)| {
                let head_ready = c.age >= 1;
                let serve = if !head_ready {
                    ServeView::Unknown
                } else {
                    ServeView::Apps(
                        c.config
                            .iter()
                            .map(|(_, age)| {
                                let status = if *age >= 1 {
                                    AppStatus::Running
                                } else {
                                    AppStatus::Deploying
                                };
                                ("app".to_owned(), status)
                            })
                            .collect(),
                    )
                };
                ClusterView {
                    index,
                    cluster_hash: c.cluster_hash.clone(),
                    full_hash: c.full_hash.clone(),
                    terminating: false,
                    head_ready,
                    proxy_healthy: head_ready && c.config.is_some(),
                    head_serve_label: Some(c.label),
                    serve,
                }
            })
            .collect();
        let route = self.route.as_ref().map(|w| RouteView {
            ready: true,
            weights: w.clone(),
        });
        let endpoints = clusters
            .iter()
            .filter(|c| c.serving())
            .filter(|c| {
                self.serve_service == Some(c.index)
                    || route.as_ref().is_some_and(|r| r.weight(c.index) > 0)
            })
            .count() as u32
            * 2;
        ServiceWorld {
            clusters,
            head_service: self.head_service,
            serve_service: self.serve_service,
            route,
            serve_endpoints: endpoints,
        }
    }

    /// Time passes between two observations.
    pub fn age(&mut self) {
        for c in self.clusters.values_mut() {
            c.age = c.age.saturating_add(1);
            if let Some((_, age)) = &mut c.config {
                *age = age.saturating_add(1);
            }
        }
    }

    /// The head of `index` restarts without fault tolerance: its apps are gone.
    pub fn restart_head(&mut self, index: u32) {
        if let Some(c) = self.clusters.get_mut(&index) {
            c.age = 0;
            c.config = None;
            c.label = false;
        }
    }

    /// Applies one command issued under `spec`.
    pub fn apply(&mut self, command: &ServiceCommand, spec: &ServiceSpec) {
        let incremental = matches!(spec.strategy, Strategy::Incremental(_));
        match command {
            ServiceCommand::CreateCluster { cluster } => {
                self.clusters.entry(*cluster).or_insert(SimCluster {
                    cluster_hash: spec.cluster_hash.clone(),
                    full_hash: spec.full_hash.clone(),
                    age: 0,
                    config: None,
                    label: false,
                });
            }
            ServiceCommand::UpdateCluster { cluster } => {
                if let Some(c) = self.clusters.get_mut(cluster) {
                    c.cluster_hash.clone_from(&spec.cluster_hash);
                    c.full_hash.clone_from(&spec.full_hash);
                }
            }
            ServiceCommand::LabelHead { cluster, serve } => {
                if let Some(c) = self.clusters.get_mut(cluster) {
                    c.label = *serve;
                }
            }
            ServiceCommand::SubmitServeConfig {
                cluster,
                config_hash,
                ..
            } => {
                if let Some(c) = self.clusters.get_mut(cluster)
                    && c.age >= 1
                {
                    c.config = Some((config_hash.clone(), 0));
                }
            }
            ServiceCommand::SetRoute { backends } => {
                self.route = Some(backends.iter().copied().collect());
            }
            ServiceCommand::PointServices { cluster } => {
                self.head_service = Some(*cluster);
                if !incremental {
                    self.serve_service = Some(*cluster);
                }
            }
            ServiceCommand::DeleteCluster { cluster } => {
                self.clusters.remove(cluster);
            }
            ServiceCommand::DeleteServices => {
                self.head_service = None;
                self.serve_service = None;
                self.route = None;
            }
            ServiceCommand::SetTargetCapacity { .. }
            | ServiceCommand::PublishStatus(_)
            | ServiceCommand::Announce(_)
            | ServiceCommand::WakeAt(_)
            | ServiceCommand::Forget => {}
        }
    }
}
