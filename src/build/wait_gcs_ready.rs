//! The workers' init container `wait-gcs-ready`.
//!
//! Role: workers are created at the same moment as the head; this init
//! container holds each worker until the head's GCS answers, by running
//! `ray health-check --address <head-svc>.<ns>.svc.<domain>:<gcs port>` every
//! 5 s until it passes. Without it, `ray start` on a worker fails against a
//! head that is not up yet and the container restarts with growing backoff.
//!
//! It uses the Ray container's image, pull policy and security context, and
//! its env and volume mounts as the user wrote them (TLS settings for the
//! health check may live there). Its resources are fixed at 200m CPU and
//! 256Mi, requests equal to limits, so a namespace ResourceQuota accepts the
//! pod and a GPU is never reserved for a wait loop. The address is a DNS name
//! rayop builds from DNS labels, so the script holds nothing to quote.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{Container, PodSpec, ResourceRequirements},
    apimachinery::pkg::api::resource::Quantity,
};

use crate::build::{ClusterContext, ray_container::SHELL};

/// Name of the init container; a template that already has an init container
/// of this name keeps its own.
pub const WAIT_GCS_READY: &str = "wait-gcs-ready";
/// Seconds between two health checks.
pub const RETRY_SECONDS: u32 = 5;

/// The script that waits for the GCS at `address`.
#[must_use]
pub fn wait_script(address: &str) -> String {
    format!(
        "until ray health-check --address {address} > /dev/null 2>&1; do \
         echo \"Waiting for the GCS at {address}\"; sleep {RETRY_SECONDS}; done; \
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
        env: ray.env.clone(),
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
        assert!(script.starts_with(
            "until ray health-check --address rc-head-svc.default.svc.cluster.local:6379 "
        ));
        assert!(script.contains("sleep 5"));
        let resources = init.resources.unwrap();
        assert_eq!(resources.limits, resources.requests);
    }

    #[test]
    fn the_script_loops_until_the_check_passes() {
        // A fake `ray` that fails twice then passes; `sleep` made instant.
        let dir = std::env::temp_dir().join(format!("rayop-wait-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let counter = dir.join("count");
        let script = format!(
            "ray() {{ n=$(cat {c} 2>/dev/null || echo 0); echo $((n+1)) > {c}; [ \"$n\" -ge 2 ]; }}; \
             sleep() {{ :; }}; {}",
            wait_script("h:6379"),
            c = counter.display()
        );
        let Some(output) = crate::build::shell_quote::test_bash::run(&script) else {
            return;
        };
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success());
        assert_eq!(
            stdout.matches("Waiting for the GCS at h:6379").count(),
            2,
            "{stdout}"
        );
        assert!(stdout.ends_with("The GCS at h:6379 is ready.\n"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
