//! Reading a stream's stored records: where its entries start and end, and
//! a checked walk over them.
//!
//! These are functions over the [`Trees`] and a locked [`StreamState`]; they
//! never write (reporting damage and quarantining is the caller's job, see
//! `store`).
//!
//! Invariant: [`scan_entries`] visits consecutive seqs starting exactly at
//! the requested seq, or reports where that stopped — a gap, a record that
//! does not decode, or a visitor's rejection — never a silently shortened
//! run.

use crate::batch;
use crate::envelope::{Decoded, EnvelopeError};
use crate::error::{DamageCause, Error, Result};
use crate::keys::{seq_key, split_seq_key, stream_prefix};
use crate::stream::StreamState;
use crate::trees::Trees;

/// Highest seq stored for stream number `no` in `tree` (for entries, the
/// last key is the last entry's seq), or 0.
pub(crate) fn last_stored_seq(tree: &sled::Tree, no: u64) -> sled::Result<u64> {
    Ok(match tree.scan_prefix(stream_prefix(no)).next_back() {
        Some(row) => key_seq(&row?.0),
        None => 0,
    })
}

/// The seq in an entry or snapshot key (0 if malformed).
pub(crate) fn key_seq(key: &[u8]) -> u64 {
    split_seq_key(key).map_or(0, |(_, seq)| seq)
}

/// The first seq held by the entry record at `key`; if the record does not
/// decode, its key seq (the scan that meets it reports the damage).
pub(crate) fn record_first_seq(key: &[u8], value: &[u8]) -> u64 {
    let last = key_seq(key);
    match batch::decode(value) {
        Ok(entries) => (last + 1).saturating_sub(entries.len() as u64).max(1),
        Err(_) => last,
    }
}

/// First seq stored for the stream (or `last_seq + 1` if none).
pub(crate) fn first_available(trees: &Trees, st: &StreamState) -> Result<u64> {
    match trees.entries.scan_prefix(stream_prefix(st.meta.no)).next() {
        Some(row) => {
            let (key, value) = row.map_err(|e| Error::storage(format!("read {}", st.id), e))?;
            Ok(record_first_seq(&key, &value))
        }
        None => Ok(st.last_seq + 1),
    }
}

/// Walks entries from `from`, checking contiguity and records and calling
/// `visit` on each. Returns the first damage found, if any.
pub(crate) fn scan_entries(
    trees: &Trees,
    st: &StreamState,
    from: u64,
    mut visit: impl FnMut(u64, Decoded<'_>) -> Result<(), DamageCause>,
) -> Result<Option<(u64, DamageCause)>> {
    let start = from.max(1);
    let first = first_available(trees, st)?;
    if start < first && start <= st.last_seq {
        return Err(Error::Pruned {
            stream: st.id.clone(),
            requested: start,
            first_available: first,
        });
    }
    let no = st.meta.no;
    let mut expected = start;
    let mut first_record = true;
    // Records are keyed by their last seq: the first key >= start holds it.
    for row in trees
        .entries
        .range(seq_key(no, start)..=seq_key(no, u64::MAX))
    {
        let (key, value) = row.map_err(|e| Error::storage(format!("read {}", st.id), e))?;
        let last = key_seq(&key);
        let decoded = match batch::decode(&value) {
            Ok(d) => d,
            Err(e) => return Ok(Some((expected, e.into()))),
        };
        let n = decoded.len() as u64;
        let Some(record_first) = (last + 1).checked_sub(n).filter(|f| *f >= 1) else {
            let why = format!("record at seq {last} holds {n} entries");
            return Ok(Some((expected, EnvelopeError::Malformed(why).into())));
        };
        let contiguous = if first_record {
            record_first <= expected
        } else {
            record_first == expected
        };
        if !contiguous {
            let cause = DamageCause::Gap {
                expected,
                found: Some(record_first),
            };
            return Ok(Some((expected, cause)));
        }
        for (seq, entry) in (record_first..).zip(decoded) {
            if seq < expected {
                continue;
            }
            if let Err(cause) = visit(seq, entry) {
                return Ok(Some((seq, cause)));
            }
        }
        expected = last + 1;
        first_record = false;
    }
    if expected <= st.last_seq {
        return Ok(Some((
            expected,
            DamageCause::Gap {
                expected,
                found: None,
            },
        )));
    }
    Ok(None)
}
