//! The Kubernetes API client as rayop builds it: the layers every request
//! passes through, and the leader's write fence.
//!
//! Role: [`ApiWriteLayer`] wraps the kube client's service, counts each
//! write by verb and kind (into [`crate::metrics::Metrics`]) and refuses
//! writes while the [`WriteGate`] is closed. [`crate::leader::Leadership`]
//! implements the gate; `rayop run` puts the layer on the client it hands to
//! the controller and the elector.
//!
//! Layering: this module sits with [`crate::metrics`] and [`crate::leader`],
//! below the reconcile steps and the controller. It imports only
//! [`crate::metrics`] (to count); the leader imports it (to be the gate),
//! never the other way round.
//!
//! Invariants: see [`api_writes`] (reads pass untouched; a closed gate
//! refuses every write but the Lease's, before it is sent; write kinds come
//! from a closed set).

pub mod api_writes;

pub use self::api_writes::{ApiWriteLayer, ApiWrites, WriteGate};
