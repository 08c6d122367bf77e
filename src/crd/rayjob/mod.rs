//! The RayJob API: `ray.io/v1` (stored) and `ray.io/v1alpha1` (served),
//! JSON-compatible with KubeRay v1.7.0.
//!
//! Role: the types a RayJob controller will read, the CRD generated from
//! them, and the pure rules around them. Nothing here does I/O; no
//! controller acts on RayJobs yet.
//!
//! | Module | What it holds |
//! |---|---|
//! | [`spec`] | `RayJobSpec` and the v1 [`RayJob`] resource |
//! | [`submitter`] | `submissionMode`, `submitterConfig`, the submitter template's schema |
//! | [`deletion`] | `deletionStrategy`: legacy policies and `deletionRules` |
//! | [`status`] | `status` and its enums |
//! | [`cel`] | the CRD's CEL rules |
//! | [`validation`] | `validate`, the Rust mirror of the rules plus semantic checks |
//! | [`versions`] | `v1alpha1`, conversions, the merged CRD |
//!
//! Invariants: JSON names and defaults are KubeRay's; every rule the API
//! server enforces is also in [`validation::validate`]. `cel` imports no
//! module here; the type modules import `cel`; `validation` and `versions`
//! read the types.

pub mod cel;
pub mod deletion;
pub mod spec;
pub mod status;
pub mod submitter;
pub mod validation;
pub mod versions;

pub use spec::{RayJob, RayJobSpec};
pub use status::{JobDeploymentStatus, JobFailedReason, JobStatus, RayJobStatus};
pub use submitter::SubmissionMode;
pub use validation::validate;
pub use versions::{crd, crd_yaml, v1alpha1};
