//! `rayop_journal_damage_total` and `rayop_journal_healthy`: journal damage
//! and whether the journal works now, read at scrape time.
//!
//! Role: the controller's journal handle already counts its failed
//! operations ([`JournalHandle::damage_count`]); this collector exposes that
//! count, plus the damage found when the journal was opened, without a hook
//! in every journal call.
//!
//! Invariant: both series only grow (the handle's count is monotonic, and
//! open-time findings are only ever added).

use std::sync::{
    Arc, OnceLock,
    atomic::{AtomicU64, Ordering},
};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{MetricType, counter::ConstCounter, gauge::ConstGauge},
};

use super::labels::DamageLabels;
use std::path::Path;

use rayop_journal::Options;

use super::Metrics;
use crate::journaling::{JournalHandle, Opened};

/// Open-time findings and the journal whose failed operations are counted.
#[derive(Default)]
pub struct JournalDamage {
    at_open: AtomicU64,
    journal: OnceLock<Arc<JournalHandle>>,
}

impl std::fmt::Debug for JournalDamage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalDamage")
            .field("at_open", &self.at_open)
            .finish_non_exhaustive()
    }
}

impl JournalDamage {
    /// Adds damage found when the journal was opened.
    pub fn add_at_open(&self, findings: u64) {
        self.at_open.fetch_add(findings, Ordering::Relaxed);
    }

    /// Counts the failed operations of `journal` from now on (first call wins).
    pub fn watch(&self, journal: Arc<JournalHandle>) {
        let _ = self.journal.set(journal);
    }

    fn operations(&self) -> u64 {
        self.journal.get().map_or(0, |j| j.damage_count())
    }

    fn healthy(&self) -> bool {
        self.journal.get().is_none_or(|j| j.is_healthy())
    }
}

/// Findings of a journal open that count as damage: a database moved aside,
/// lost acknowledged writes, quarantined streams, undecodable metadata.
#[must_use]
pub fn findings(report: &rayop_journal::OpenReport) -> u64 {
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    u64::from(report.moved_aside.is_some())
        + u64::from(report.lost_writes.is_some())
        + count(report.quarantined.len())
        + count(report.damaged_metadata.len())
}

impl Collector for JournalDamage {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        {
            let mut family = encoder.encode_descriptor(
                "rayop_journal_damage",
                "Journal damage: found when the journal was opened (a database moved aside, lost acknowledged writes), or failed journal operations while running",
                None,
                MetricType::Counter,
            )?;
            for (when, value) in [
                ("open", self.at_open.load(Ordering::Relaxed)),
                ("operation", self.operations()),
            ] {
                let labels = DamageLabels { when };
                ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
            }
        }
        let healthy = encoder.encode_descriptor(
            "rayop_journal_healthy",
            "1 while the journal records decisions (or is disabled), 0 while it is failing and reopening is retried",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(i64::from(self.healthy())).encode(healthy)?;
        Ok(())
    }
}

/// [`JournalHandle::open_or_later`], logging the outcome and counting
/// open-time damage in `metrics`: what `rayop run` does at start.
///
/// # Errors
/// As [`JournalHandle::open_or_later`].
pub fn open_journal(
    dir: &Path,
    options: Options,
    metrics: &Metrics,
) -> Result<(JournalHandle, Opened), rayop_journal::Error> {
    let (handle, opened) = JournalHandle::open_or_later(dir, options)?;
    match &opened {
        Opened::Open(report) => {
            metrics.journal_opened(report);
            if report.is_clean() {
                tracing::info!(dir = %dir.display(), "journal open");
            } else {
                tracing::warn!(dir = %dir.display(), ?report, "journal was damaged and has been moved aside; a fresh one started");
            }
        }
        Opened::Later(error) => {
            tracing::warn!(%error, dir = %dir.display(), "journal unavailable; running without one and retrying to open it");
        }
    }
    Ok((handle, opened))
}
