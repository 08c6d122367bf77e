//! The workers' init container `wait-gcs-ready`.
//!
//! Role: workers are created at the same moment as the head; this init
//! container holds each worker until the head's GCS answers, by running
//! `ray health-check --address <head-svc>.<ns>.svc.<domain>:<gcs port>` every
//! 5 s until it passes. Without it, `ray start` on a worker fails against a
//! head that is not up yet and the container restarts with growing backoff.
//!
//! For the first [`QUIET_SECONDS`] each failed check logs one short line, as
//! a head normally takes that long to start; after that each line also carries
//! the health check's own output, so `kubectl logs -c wait-gcs-ready` says
//! why the worker still waits (a DNS name that does not resolve, a refused
//! connection, a TLS error) instead of only that it does.
//!
//! It uses the Ray container's image, pull policy and security context, and
//! its env and volume mounts as the user wrote them (TLS settings for the
//! health check may live there), after `FQ_RAY_IP` and `RAY_IP`
//! ([`env::head_host_env`]), which every init container gets. Its resources are fixed at 200m CPU and
//! 256Mi, requests equal to limits, so a namespace ResourceQuota accepts the
//! pod and a GPU is never reserved for a wait loop. The address is a DNS name
//! rayop builds from DNS labels, so the script holds nothing to quote.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{Container, PodSpec, ResourceRequirements},
    apimachinery::pkg::api::resource::Quantity,
};

use crate::build::{ClusterContext, env, ray_container::SHELL};

/// Name of the init container; a template that already has an init container
/// of this name keeps its own.
pub const WAIT_GCS_READY: &str = "wait-gcs-ready";
/// Seconds between two health checks.
pub const RETRY_SECONDS: u32 = 5;

/// Seconds of waiting after which each failed check also logs its output.
pub const QUIET_SECONDS: u32 = 120;

/// The script that waits for the GCS at `address`. It needs bash (for
/// `SECONDS`), which [`SHELL`] is.
#[must_use]
pub fn wait_script(address: &str) -> String {
    format!(
        "SECONDS=0; \
         until check=$(ray health-check --address {address} 2>&1); do \
         if (( SECONDS < {QUIET_SECONDS} )); then \
         echo \"Waiting for the GCS at {address} (${{SECONDS}}s)\"; \
         else \
         echo \"Still waiting for the GCS at {address} after ${{SECONDS}}s; the health check says: $check\"; \
         fi; \
         sleep {RETRY_SECONDS}; done; \
         echo \"The GCS at {address} is ready.\""
    )
}

/// The init container, modelled on the user's Ray container `ray`.
#[must_use]
pub fn wait_gcs_ready(ctx: &ClusterContext<'_>, ray: &Container) -> Container {
    let amounts: BTreeMap<String, Quantity> = [
        ("cpu".to_owned(), Quantity("200m".to_owned())),
        ("memory".to_owned(), Quantity("256Mi".to_owned())),
    ]
    .into();
    Container {
        name: WAIT_GCS_READY.to_owned(),
        image: ray.image.clone(),
        image_pull_policy: ray.image_pull_policy.clone(),
        command: Some(SHELL.iter().map(|s| (*s).to_owned()).collect()),
        args: Some(vec![wait_script(&ctx.head_address())]),
        env: Some(env::merge_env(
            env::head_host_env(ctx),
            ray.env.as_deref().unwrap_or_default(),
        )),
        volume_mounts: ray.volume_mounts.clone(),
        security_context: ray.security_context.clone(),
        resources: Some(ResourceRequirements {
            limits: Some(amounts.clone()),
            requests: Some(amounts),
            ..ResourceRequirements::default()
        }),
        ..Container::default()
    }
}

/// Appends the init container to `pod` unless one of that name is there.
pub fn add_wait_gcs_ready(ctx: &ClusterContext<'_>, pod: &mut PodSpec, ray: &Container) {
    let init = pod.init_containers.get_or_insert_with(Vec::new);
    if init.iter().all(|c| c.name != WAIT_GCS_READY) {
        init.push(wait_gcs_ready(ctx, ray));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{build::BuildOptions, crd::RayCluster};

    #[test]
    fn waits_for_the_head_address_every_five_seconds() {
        let cluster = RayCluster::test("rc");
        let options = BuildOptions::default();
        let ctx = ClusterContext::new(&cluster, &options).unwrap();
        let ray = Container {
            name: "ray-worker".into(),
            image: Some("rayproject/ray:2.6.0".into()),
            image_pull_policy: Some("Always".into()),
            ..Container::default()
        };
        let init = wait_gcs_ready(&ctx, &ray);
        assert_eq!(init.name, "wait-gcs-ready");
        assert_eq!(init.image.as_deref(), Some("rayproject/ray:2.6.0"));
        assert_eq!(init.image_pull_policy.as_deref(), Some("Always"));
        assert_eq!(init.command.as_ref().unwrap(), &["/bin/bash", "-c", "--"]);
        let script = &init.args.as_ref().unwrap()[0];
        assert!(script.contains(
            "until check=$(ray health-check --address rc-head-svc.default.svc.cluster.local:6379 2>&1)"
        ));
        assert!(script.contains("sleep 5"));
        let env = init.env.as_ref().unwrap();
        assert_eq!(env[0].name, "FQ_RAY_IP");
        assert_eq!(
            env[0].value.as_deref(),
            Some("rc-head-svc.default.svc.cluster.local")
        );
        assert_eq!(env[1].name, "RAY_IP");
        assert_eq!(env[1].value.as_deref(), Some("rc-head-svc"));
        let resources = init.resources.unwrap();
        assert_eq!(resources.limits, resources.requests);
    }

    /// Runs the script against a fake `ray` whose health check fails
    /// `failures` times, printing `boom <n>`, then passes; `sleep` is instant
    /// but advances bash's `SECONDS` clock by its argument.
    fn run_with_failures(failures: u32) -> Option<String> {
        let dir =
            std::env::temp_dir().join(format!("rayop-wait-{}-{failures}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let counter = dir.join("count");
        let script = format!(
            "ray() {{ n=$(cat {c} 2>/dev/null || echo 0); echo $((n+1)) > {c}; \
             [ \"$n\" -ge {failures} ] || {{ echo \"boom $n\" >&2; return 1; }}; }}; \
             sleep() {{ SECONDS=$((SECONDS + $1)); }}; {}",
            wait_script("h:6379"),
            c = counter.display()
        );
        let output = crate::build::shell_quote::test_bash::run(&script)?;
        std::fs::remove_dir_all(&dir).ok();
        assert!(output.status.success());
        Some(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    #[test]
    fn the_script_loops_until_the_check_passes() {
        let Some(stdout) = run_with_failures(2) else {
            return;
        };
        assert_eq!(
            stdout.matches("Waiting for the GCS at h:6379").count(),
            2,
            "{stdout}"
        );
        assert!(!stdout.contains("boom"), "{stdout}");
        assert!(stdout.ends_with("The GCS at h:6379 is ready.\n"));
    }

    #[test]
    fn after_a_while_it_says_why_it_still_waits() {
        // 30 failures, 5 s apart on the fake clock: about 24 quiet lines
        // (0 s to 115 s), then lines with the health check's error. Real time
        // also ticks `SECONDS`, so the switch may come a line or two early.
        let Some(stdout) = run_with_failures(30) else {
            return;
        };
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 31, "{stdout}");
        assert_eq!(lines[0], "Waiting for the GCS at h:6379 (0s)");
        let switch = lines
            .iter()
            .position(|l| l.starts_with("Still waiting"))
            .expect("never said why");
        assert!((22..=24).contains(&switch), "{stdout}");
        for line in &lines[..switch] {
            assert!(
                line.starts_with("Waiting for the GCS at h:6379 ("),
                "{line}"
            );
            assert!(!line.contains("boom"), "{line}");
        }
        for (n, line) in lines[switch..30].iter().enumerate() {
            assert!(
                line.starts_with("Still waiting for the GCS at h:6379 after "),
                "{line}"
            );
            assert!(
                line.ends_with(&format!("s; the health check says: boom {}", switch + n)),
                "{line}"
            );
        }
        assert_eq!(lines[30], "The GCS at h:6379 is ready.");
    }
}
