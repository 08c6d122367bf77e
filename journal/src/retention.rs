//! Retention: bounded disk under endless churn.
//!
//! Rules applied by [`crate::Journal::prune`] with a caller-supplied `now`:
//! - **live stream**: entries are stored one record per append, and a record
//!   is removed only if every entry in it may go. An entry may go only if it
//!   is outside *both*
//!   windows — older than the last K entries *and* stamped before
//!   `now - T` — and at or before the latest snapshot. Removal stops at the
//!   first entry that must stay, so only a prefix is ever removed and the
//!   retained entries stay contiguous. A stream without a snapshot keeps all
//!   its entries (replay must be possible from seq 1). Snapshots older than
//!   the latest are removed.
//! - **deleted stream** (see [`crate::Journal::mark_deleted`]): the live rule
//!   applies until `deleted_at + deleted_retention <= now`; then its entries,
//!   snapshots, index row and metadata are all removed (no tombstone: after
//!   the window, `lookup` no longer returns it).
//!
//! Invariant: removal goes in bounded batches from the lowest seq up, and a
//! deleted stream's metadata is removed last, so a crash mid-prune leaves a
//! state the next prune finishes.
//!
//! What bounds the *files*: sled is log-structured; removed keys become
//! garbage in its segments, and its background flusher rewrites segments
//! whose live fraction dropped below a threshold and reuses freed segments
//! (the `db` file is not normally shrunk, its free segments are reused).
//! The churn test in `tests/retention.rs` checks that the files stay
//! bounded (the level they settle at is in the README); `Journal::compact`
//! (see `compaction`) rewrites them down to the live data.

use std::sync::Arc;

use serde::Serialize;

use crate::batch;
use crate::error::{Error, Result};
use crate::keys::{index_row, seq_key, split_seq_key, stream_prefix};
use crate::records::{first_available, last_stored_seq};
use crate::store::Store;
use crate::stream::StreamState;
use crate::timestamp::Timestamp;

/// Keys removed per sled batch, so one prune never builds one huge batch.
const BATCH: usize = 512;

/// What one [`crate::Journal::prune`] removed; all of it is durable when returned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// Entries removed from retained streams and removed streams.
    pub entries_removed: u64,
    /// Snapshots removed: all but the latest of live streams, all of removed ones.
    pub snapshots_removed: u64,
    /// Streams removed entirely (deleted and past their window).
    pub streams_removed: Vec<String>,
}

/// Applies the retention rules (module docs) as of `now`, and waits until
/// the removals are durable.
pub(crate) fn prune(store: &Store, now: Timestamp) -> Result<PruneReport> {
    let mut report = PruneReport::default();
    let handles = store.handles();
    for handle in handles {
        let removed_id = {
            let mut st = store.lock_stream(&handle);
            if st.removed {
                continue;
            }
            let expired = st
                .meta
                .deleted_at
                .is_some_and(|at| at.saturating_add(store.options().deleted_retention) <= now);
            if expired {
                remove_stream(store, &mut st, &mut report)?;
                Some(st.id.clone())
            } else {
                prune_live(store, &st, now, &mut report)?;
                None
            }
        };
        if let Some(id) = removed_id {
            let mut registry = store.registry_write();
            if registry.get(&id).is_some_and(|h| Arc::ptr_eq(h, &handle)) {
                registry.remove(&id);
            }
            report.streams_removed.push(id);
        }
    }
    store.make_durable()?;
    Ok(report)
}

fn prune_live(
    store: &Store,
    st: &StreamState,
    now: Timestamp,
    report: &mut PruneReport,
) -> Result<()> {
    let trees = store.trees();
    let no = st.meta.no;
    let err = |e| Error::storage(format!("prune stream {}", st.id), e);
    let snapshot = last_stored_seq(&trees.snapshots, no).map_err(err)?;
    if snapshot == 0 {
        return Ok(());
    }
    // Older snapshots.
    report.snapshots_removed +=
        remove_range(&trees.snapshots, no, 1, snapshot.saturating_sub(1)).map_err(err)?;

    let keep = store.options().effective_keep_entries();
    let count_limit = st.last_seq.saturating_sub(keep);
    let seq_limit = count_limit.min(snapshot);
    let time_cutoff = now.saturating_sub(store.options().keep_for);
    let mut doomed = Vec::new();
    let mut removed_entries = 0;
    // Whole records (appends) only, from the oldest, while every entry
    // in the record may go.
    for row in trees.entries.scan_prefix(stream_prefix(no)) {
        let (key, value) = row.map_err(err)?;
        let Some((_, last)) = split_seq_key(&key) else {
            break;
        };
        let Ok(entries) = batch::decode(&value) else {
            break;
        };
        if last > seq_limit || entries.iter().any(|e| e.ts >= time_cutoff) {
            break;
        }
        removed_entries += entries.len() as u64;
        doomed.push(key);
    }
    remove_keys(&trees.entries, doomed).map_err(err)?;
    report.entries_removed += removed_entries;
    Ok(())
}

fn remove_stream(store: &Store, st: &mut StreamState, report: &mut PruneReport) -> Result<()> {
    let trees = store.trees();
    let no = st.meta.no;
    let err = |e| Error::storage(format!("remove stream {}", st.id), e);
    let last = st.last_seq;
    let first = first_available(trees, st)?;
    remove_range(&trees.entries, no, 1, u64::MAX).map_err(err)?;
    report.entries_removed += (last + 1).saturating_sub(first);
    report.snapshots_removed += remove_range(&trees.snapshots, no, 1, u64::MAX).map_err(err)?;
    trees
        .index
        .remove(index_row(&st.meta.index_key, &st.id))
        .map_err(err)?;
    trees.streams.remove(st.id.as_bytes()).map_err(err)?;
    st.removed = true;
    Ok(())
}

/// Removes keys `from ..= to` of stream `no` from `tree`, lowest first.
fn remove_range(tree: &sled::Tree, no: u64, from: u64, to: u64) -> sled::Result<u64> {
    if to < from {
        return Ok(0);
    }
    let mut keys = Vec::new();
    for row in tree.range(seq_key(no, from)..=seq_key(no, to)) {
        keys.push(row?.0);
    }
    remove_keys(tree, keys)
}

fn remove_keys(tree: &sled::Tree, keys: Vec<sled::IVec>) -> sled::Result<u64> {
    let n = keys.len() as u64;
    for chunk in keys.chunks(BATCH) {
        let mut batch = sled::Batch::default();
        for key in chunk {
            batch.remove(key.clone());
        }
        tree.apply_batch(batch)?;
    }
    Ok(n)
}
