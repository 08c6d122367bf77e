//! An opt-in second kube-scheduler that plays the batch schedulers rayop can
//! hand pods to, so that pods with `schedulerName: volcano` (and the others)
//! are scheduled onto the fake nodes instead of staying Pending.
//!
//! It is the same cached kube-scheduler binary, run with a
//! KubeSchedulerConfiguration of one profile per name in [`PROFILES`] (the
//! default plugins each), leader election off. It only *schedules* such
//! pods, one at a time like the default scheduler: it does no gang
//! scheduling, reads no PodGroup, queue or task group.
//!
//! Invariant: at most one runs per plane; it is stopped with the plane.

use std::path::PathBuf;

use anyhow::Result;

use crate::components::Layout;

/// The scheduler names the second scheduler answers to: those rayop sets
/// under `--batch-scheduler` (volcano, yunikorn, kai-scheduler,
/// scheduler-plugins).
pub const PROFILES: [&str; 4] = [
    "volcano",
    "yunikorn",
    "kai-scheduler",
    "scheduler-plugins-scheduler",
];

/// The component name of the second scheduler, also its log file's stem.
pub const NAME: &str = "batch-schedulers";

/// Writes the second scheduler's KubeSchedulerConfiguration into the plane's
/// directory and returns its path.
pub fn write_config(layout: &Layout) -> Result<PathBuf> {
    let profiles: String = PROFILES
        .iter()
        .map(|name| format!("  - schedulerName: {name}\n"))
        .collect();
    let text = format!(
        "apiVersion: kubescheduler.config.k8s.io/v1\n\
         kind: KubeSchedulerConfiguration\n\
         clientConnection:\n  kubeconfig: {kubeconfig}\n\
         leaderElection:\n  leaderElect: false\n\
         profiles:\n{profiles}",
        kubeconfig = layout.kubeconfig.display(),
    );
    let path = layout.dir.join(format!("{NAME}.yaml"));
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The second scheduler's command line: its config, and `/healthz` on `port`.
pub fn args(layout: &Layout, config: &std::path::Path, port: u16) -> Vec<String> {
    vec![
        format!("--config={}", config.display()),
        "--bind-address=127.0.0.1".to_string(),
        format!("--secure-port={port}"),
        format!("--tls-cert-file={}", layout.certs.serving_cert.display()),
        format!(
            "--tls-private-key-file={}",
            layout.certs.serving_key.display()
        ),
        "--profiling=false".to_string(),
    ]
}
