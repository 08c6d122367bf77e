//! The end-to-end tests that share one control plane with kwok's fake
//! nodes, as one test binary: the plane starts once instead of once per
//! file, the shared helpers compile once, and the tests of all files run in
//! parallel on it, each in its own namespace with its own operator.
//!
//! A test stays out of this binary when it would disturb the others: it
//! takes part of the plane down (`reliability_apiserver*`), cordons kwok's
//! nodes for the process node (`e2e_real_ray*`), runs third-party
//! controllers or needs their CRDs absent (`e2e_batch_schedulers`,
//! `e2e_kuberay_samples`, `e2e_mtls`), or deploys the operator cluster-wide
//! (`e2e_incluster*`, `e2e_debug_journal_auth`, `reliability_rbac`).

#[path = "../support/mod.rs"]
mod support;

mod crd_apiserver;
mod crd_job_samples;
mod crd_manifests;
mod crd_service_samples;
mod e2e_auth;
mod e2e_autoscaler_rights;
mod e2e_autoscaling;
mod e2e_drift;
mod e2e_gcs_ft;
mod e2e_group_labels;
mod e2e_history_server;
mod e2e_ingress;
mod e2e_kuberay_compat;
mod e2e_namespace_deletion;
mod e2e_network_policy;
mod e2e_operator;
mod e2e_ownership;
mod e2e_pod_failures;
mod e2e_raycronjob;
mod e2e_restart;
mod e2e_status_totals;
mod e2e_steady_state;
mod e2e_timers;
mod e2e_upgrade_strategy;
mod reliability_bad_manifests;
mod reliability_chaos;
mod reliability_conflicts;
mod reliability_journal;
