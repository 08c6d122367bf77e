//! Build for RayServices: pure functions from a RayService (and a cluster
//! index or name, as the RayService machine's commands carry them) to the
//! objects the controller creates and the hashes it tells the machine.
//!
//! | Module | What it builds |
//! |---|---|
//! | [`names`] | the cluster name `<rs>-<index>`, the head and serve Service names |
//! | [`service_meta`] | the owner reference to the RayService and its origin labels |
//! | [`cluster_hash`] | the muted, compatible, full and serve-config hashes, and the cluster's hash annotations |
//! | [`child_cluster`] | the RayCluster of an index, with the RayService's env vars |
//! | [`head_service`](mod@head_service) | `<rs>-head-svc`, selecting one cluster's head |
//! | [`serve_service`](mod@serve_service) | the serve Service, selecting one cluster's serving pods |
//!
//! Invariants: nothing here reads the API server, the clock or the
//! environment, and nothing depends on the machine's types (the controller
//! maps them); every name derives from the RayService and the index, so
//! replaying a command rebuilds the same object. Errors are
//! [`ServiceBuildError`]s whose message starts with the field to fix.

pub mod child_cluster;
pub mod cluster_hash;
pub mod error;
pub mod head_service;
pub mod names;
pub mod serve_service;
pub mod service_meta;

pub use child_cluster::child_cluster;
pub use cluster_hash::ServiceHashes;
pub use error::ServiceBuildError;
pub use head_service::head_service;
pub use serve_service::serve_service;
pub use service_meta::ServiceIdentity;
