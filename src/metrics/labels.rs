//! Label sets of the metric families.
//!
//! Invariant: every label value comes from a closed set (results, phases,
//! verbs, resource kinds), so no family grows with the number of clusters.

use prometheus_client::encoding::EncodeLabelSet;

/// `result` of a reconcile.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// ok, error or skipped.
    pub result: &'static str,
}

/// `from` and `to` of a phase transition.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransitionLabels {
    /// The phase left.
    pub from: String,
    /// The phase entered.
    pub to: String,
}

/// `phase` of a cluster.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    /// The machine's phase.
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

/// `version` of the build.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VersionLabels {
    /// The crate version.
    pub version: String,
}

/// `when` journal damage was found.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DamageLabels {
    /// `open` (found when the journal was opened) or `operation` (a failed
    /// append, restore or mark).
    pub when: &'static str,
}
