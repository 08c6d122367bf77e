//! The names of a RayService's children, derived from the RayService's name
//! and, for a cluster, the index the RayService machine handed out.
//!
//! | What | Name |
//! |---|---|
//! | RayCluster of index `i` | `<rs>-<i>`, the RayService part cut so the whole fits [`MAX_CLUSTER_NAME`] |
//! | head Service | `<rs>-head-svc` ([`names::head_service_name`]) |
//! | serve Service | `serveService.metadata.name`, else `<rs>-serve-svc` |
//!
//! Invariants: pure; two indices of one RayService never share a cluster
//! name (the index is the last `-`-separated part, and the RayService part
//! never ends with `-`). KubeRay draws a random 5-character suffix and keeps
//! it in the status; rayop's index comes from the machine's journal, so a
//! replayed command finds the same cluster. A RayService name of at most 41
//! characters (what the CRD's group-name rule assumes) is never cut for an
//! index below 100000.

use crate::crd::{
    names::{self, MAX_CLUSTER_NAME},
    rayservice::RayService,
};

/// Suffix of the serve Service's default name.
pub const SERVE_SERVICE_SUFFIX: &str = "-serve-svc";
/// Value suffix of the serve Service's own `ray.io/serve` label: `<rs>-serve`.
pub const SERVE_LABEL_SUFFIX: &str = "-serve";

/// The RayCluster of `index` for the RayService `service`: `<service>-<index>`,
/// `service` cut (and a trailing `-` dropped) so that the name has at most
/// [`MAX_CLUSTER_NAME`] characters.
#[must_use]
pub fn cluster_name(service: &str, index: u32) -> String {
    let index = index.to_string();
    let room = MAX_CLUSTER_NAME.saturating_sub(index.len() + 1);
    let prefix: String = service.chars().take(room).collect();
    format!("{}-{index}", prefix.trim_end_matches('-'))
}

/// The RayService's head Service: `<service>-head-svc`.
#[must_use]
pub fn head_service_name(service: &str) -> String {
    names::head_service_name(service)
}

/// The serve Service of `service`: `spec.serveService.metadata.name` when
/// set and non-empty, else `<name>-serve-svc`.
#[must_use]
pub fn serve_service_name(service: &RayService, name: &str) -> String {
    service
        .spec
        .serve_service
        .as_ref()
        .and_then(|svc| svc.metadata.name.clone())
        .filter(|custom| !custom.is_empty())
        .unwrap_or_else(|| format!("{name}{SERVE_SERVICE_SUFFIX}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Service;

    #[test]
    fn cluster_names_are_the_service_and_the_index() {
        assert_eq!(cluster_name("rs", 0), "rs-0");
        assert_eq!(cluster_name("rs", 17), "rs-17");
        let long = "a".repeat(41);
        assert_eq!(cluster_name(&long, 99_999), format!("{long}-99999"));
    }

    #[test]
    fn long_names_are_cut_to_fit_and_stay_distinct() {
        let long = "a".repeat(47);
        for index in [0, 9, 10, 123_456, u32::MAX] {
            let name = cluster_name(&long, index);
            assert!(name.len() <= MAX_CLUSTER_NAME, "{name}");
            assert!(names::is_dns1035_label(&name), "{name}");
            assert!(name.ends_with(&format!("-{index}")), "{name}");
        }
        // A cut that would leave a trailing '-' drops it.
        let dashed = format!("{}-b", "a".repeat(43));
        assert_eq!(cluster_name(&dashed, 1), format!("{dashed}-1"));
        assert_eq!(cluster_name(&dashed, 10), format!("{}-10", "a".repeat(43)));
        assert_ne!(cluster_name(&long, 1), cluster_name(&long, 11));
    }

    #[test]
    fn service_names() {
        let mut rs = RayService::test("rs");
        assert_eq!(head_service_name("rs"), "rs-head-svc");
        assert_eq!(serve_service_name(&rs, "rs"), "rs-serve-svc");
        let mut custom = Service::default();
        custom.metadata.name = Some(String::new());
        rs.spec.serve_service = Some(custom.clone());
        assert_eq!(serve_service_name(&rs, "rs"), "rs-serve-svc");
        custom.metadata.name = Some("my-serve".into());
        rs.spec.serve_service = Some(custom);
        assert_eq!(serve_service_name(&rs, "rs"), "my-serve");
    }
}
