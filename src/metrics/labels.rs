//! Label sets of the metric families.
//!
//! Invariant: every label value comes from a closed set (results, phases,
//! verbs, resource kinds), so no family grows with the number of clusters.

use prometheus_client::encoding::EncodeLabelSet;

/// `result` of a reconcile, on `rayop_reconciles` and its duration histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `ok`, `error` or `skipped`, from [`super::ReconcileResult::as_str`].
    pub result: &'static str,
}

/// `from` and `to` of a phase transition.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransitionLabels {
    /// The phase the machine left, as [`rayop_machines::Phase::as_str`] names it.
    pub from: String,
    /// The phase the machine entered.
    pub to: String,
}

/// `phase` of a cluster, on `rayop_clusters`; every phase but Deleted exists from the start.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    /// The machine's phase name; a cluster counts under exactly one.
    pub phase: String,
}

/// `verb` and `kind` of an API write.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WriteLabels {
    /// create, update, apply, patch or delete.
    pub verb: &'static str,
    /// The object's kind, with `/subresource` when one is written.
    pub kind: String,
}

/// `version` of the build, on the `rayop_build` info metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VersionLabels {
    /// `CARGO_PKG_VERSION` of the running binary.
    pub version: String,
}

/// `when` journal damage was found, on `rayop_journal_damage`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DamageLabels {
    /// `open` (found when the journal was opened) or `operation` (a failed
    /// append, restore or mark).
    pub when: &'static str,
}
