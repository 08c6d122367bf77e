//! The RayCluster API: `ray.io/v1` (stored) and `ray.io/v1alpha1` (served).
//!
//! Role: the types users write and the operator reads, the CRD generated from
//! them, and the pure rules around them. Nothing here does I/O.
//!
//! | Module | What it holds |
//! |---|---|
//! | [`spec`] | `RayClusterSpec` and the v1 [`RayCluster`] resource |
//! | [`head`] | `headGroupSpec`, the seed's `headService` |
//! | [`worker_group`] | `workerGroupSpecs[]`, `workloadKind` |
//! | [`autoscaler`] | `autoscalerOptions` |
//! | [`gcs`] | `gcsFaultToleranceOptions` |
//! | [`tls`] | `tlsOptions`, TLS paths and env names, the cert-manager object names |
//! | [`tls_checks`] | the checks of a TLS-enabled spec |
//! | [`status`] | `status`, phases, condition types |
//! | [`defaults`] | default values and templates (a leaf: imports no `crd` module) |
//! | [`effective`] | what rayop runs for a spec: defaults applied, worker counts |
//! | [`names`] | derived object names, labels, the name-length bound |
//! | [`limits`] | pod-count limits and exact pod arithmetic |
//! | [`group_checks`] | worker groups' pod counts and HPA checks, `SpecAdjusted` notes |
//! | [`pod_template`] | the API server's invariants of an embedded pod template |
//! | [`validation`] | `validate`, the Rust mirror of the CRD's rules plus semantic checks |
//! | [`cel`] | the CRD's CEL rules |
//! | [`schema`] | hand-written schemas of embedded pod templates and Services |
//! | [`versions`] | `v1alpha1`, conversions, the merged CRD |
//! | [`test_builders`] | `RayCluster::test("rc").with_workers(2)` |
//!
//! Invariants: JSON names and defaults are KubeRay's; every rule the API
//! server enforces is also enforced by [`validation::validate`]. Imports run
//! one way: `defaults`, `cel`, `limits` and `names` import no `crd` module outside
//! tests, `schema` only those; the type modules import these helpers (and
//! `spec` the other types); `effective`, `validation`, `group_checks`, `tls_checks`, `pod_template`,
//! `versions` and `test_builders` read the types, and no type module imports them.

pub mod autoscaler;
pub mod cel;
pub mod defaults;
pub mod effective;
pub mod gcs;
pub mod group_checks;
pub mod head;
pub mod limits;
pub mod names;
pub mod pod_template;
pub mod schema;
pub mod spec;
pub mod status;
pub mod test_builders;
pub mod tls;
pub mod tls_checks;
pub mod validation;
pub mod versions;
pub mod worker_group;

pub use effective::{
    effective_head_service_type, effective_head_template, effective_worker_template,
};
pub use spec::{RayCluster, RayClusterSpec};
pub use status::{Phase, RayClusterStatus};
pub use validation::{SpecProblem, validate};
pub use versions::{crd, crd_yaml, v1alpha1};
pub use worker_group::{WorkerGroupSpec, WorkloadKind};
