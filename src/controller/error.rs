//! The reconcile's errors, one variant per step.
//!
//! Invariant: every error maps to a metric label ([`ReconcileError::step`])
//! and an Event reason ([`ReconcileError::reason`]), so a failure is visible to
//! users with `kubectl describe` (KubeRay #2189), never only in logs, and never
//! as a crash.

use thiserror::Error;

/// Why one reconcile failed.
#[derive(Debug, Error)]
pub enum ReconcileError {
    /// The RayCluster could not be decoded into the current types.
    #[error("observe: the RayCluster does not decode: {0}")]
    Decode(String),
    /// The journal step failed (reconciling continued without it).
    #[error("journal: {0}")]
    Journal(#[from] crate::journaling::JournalError),
    /// A command failed against the API server.
    #[error("apply: {0}")]
    Apply(#[from] crate::apply::ApplyError),
    /// The status could not be written.
    #[error("status: {0}")]
    Status(#[source] kube::Error),
}

impl ReconcileError {
    /// The step that failed, as a metric label.
    #[must_use]
    pub fn step(&self) -> &'static str {
        match self {
            ReconcileError::Decode(_) => "observe",
            ReconcileError::Journal(_) => "journal",
            ReconcileError::Apply(_) => "apply",
            ReconcileError::Status(_) => "status",
        }
    }

    /// The Event reason users see.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            ReconcileError::Decode(_) => "InvalidObject",
            ReconcileError::Journal(_) => "JournalUnavailable",
            ReconcileError::Apply(_) => "ApplyFailed",
            ReconcileError::Status(_) => "StatusUpdateFailed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_has_a_label_and_a_reason() {
        let errors = [
            ReconcileError::Decode("x".into()),
            ReconcileError::Journal(crate::journaling::JournalError::Task("x".into())),
            ReconcileError::Apply(crate::apply::ApplyError::NothingBuilt("x".into())),
        ];
        let steps: Vec<_> = errors.iter().map(ReconcileError::step).collect();
        assert_eq!(steps, ["observe", "journal", "apply"]);
        assert!(errors.iter().all(|e| !e.reason().is_empty()));
    }
}
