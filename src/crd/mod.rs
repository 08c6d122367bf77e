//! The RayCluster API: `ray.io/v1` (stored) and `ray.io/v1alpha1` (served),
//! and in submodules the RayJob, RayCronJob and RayService APIs.
//!
//! Role: the types users write and the operator reads, the CRD generated from
//! them, and the pure rules around them. Nothing here does I/O.
//!
//! | Module | What it holds |
//! |---|---|
//! | [`spec`] | `RayClusterSpec` and the v1 [`RayCluster`] resource |
//! | [`head`] | `headGroupSpec`, the seed's `headService` |
//! | [`ingress`] | `headGroupSpec.ingressOptions` |
//! | [`network_policy`] | `networkPolicy`, and its checks |
//! | [`worker_group`] | `workerGroupSpecs[]`, `workloadKind` |
//! | [`autoscaler`] | `autoscalerOptions` |
//! | [`auth`] | `authOptions`, the Ray versions it needs |
//! | [`history_server`] | `historyServerOptions` |
//! | [`gcs`] | `gcsFaultToleranceOptions` and its annotations |
//! | [`gcs_checks`] | validation of GCS fault tolerance (reads annotations) |
//! | [`tls`] | `tlsOptions`, TLS paths and env names, the cert-manager object names |
//! | [`tls_checks`] | the checks of a TLS-enabled spec |
//! | [`status`] | `status`, phases, condition types |
//! | [`defaults`] | default values and templates (a leaf: imports no `crd` module) |
//! | [`effective`] | what rayop runs for a spec: defaults applied, worker counts |
//! | [`names`] | derived object names, labels, the name-length bound |
//! | [`limits`] | pod-count limits and exact pod arithmetic |
//! | [`group_checks`] | worker groups' pod counts and HPA checks, `SpecAdjusted` notes |
//! | [`ray_node_options`] | checks of the groups' `labels`, `resources`, `priority` |
//! | [`pod_template`] | the API server's invariants of an embedded pod template |
//! | [`option_checks`] | the rules of `authOptions` and `historyServerOptions` |
//! | [`validation`] | `validate`, the Rust mirror of the CRD's rules plus semantic checks |
//! | [`cel`] | the CRD's CEL rules |
//! | [`schema`] | hand-written schemas of embedded pod templates and Services |
//! | [`versions`] | `v1alpha1`, conversions, the merged CRD |
//! | [`test_builders`] | `RayCluster::test("rc").with_workers(2)` |
//! | [`rayjob`] | the RayJob API (its own module table): spec, submission, deletion, status, CEL, validation, versions |
//! | [`raycronjob`] | the RayCronJob API (its own module table): spec and CRD, status, CEL, validation |
//! | [`rayservice`] | the RayService API (its own module table): spec, upgrade strategy, status, CEL, validation, versions |
//!
//! Invariants: JSON names and defaults are KubeRay's; every rule the API
//! server enforces is also enforced by [`validation::validate`]. Imports run
//! one way: `defaults`, `cel`, `limits` and `names` import no `crd` module outside
//! tests, `schema` only those; the type modules import these helpers (and
//! `spec` the other types, `head` the ingress options); `effective`, `validation`,
//! `group_checks`, `option_checks`, `ray_node_options`, `tls_checks`, `pod_template`,
//! `versions`, `gcs_checks` and `test_builders` read the types, and no type module imports them.
//! `rayjob`, `raycronjob` and `rayservice` read the RayCluster types and
//! helpers (`cel`, `names`, `schema`, `versions`; `rayservice` also the
//! RayJob's `managedBy` rules and name checks); no RayCluster module imports them.

pub mod auth;
pub mod autoscaler;
pub mod cel;
pub mod defaults;
pub mod effective;
pub mod gcs;
pub mod gcs_checks;
pub mod group_checks;
pub mod head;
pub mod history_server;
pub mod ingress;
pub mod limits;
pub mod names;
pub mod network_policy;
pub mod option_checks;
pub mod pod_template;
pub mod ray_node_options;
pub mod raycronjob;
pub mod rayjob;
pub mod rayservice;
pub mod schema;
pub mod spec;
pub mod status;
pub mod test_builders;
pub mod tls;
pub mod tls_checks;
pub mod upgrade;
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
