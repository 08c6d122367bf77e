//! Writing to streams: appends and deletion marks.
//!
//! Invariants:
//! - the entries of one append are stored as one sled value (atomic, see
//!   `batch`), and sequence numbers are assigned under the stream's mutex,
//!   so each stream stays contiguous even with concurrent appenders;
//! - an append returns `Ok` only after a group flush (see `commit`) that
//!   started after its entries were inserted.

use std::ops::Range;

use crate::batch;
use crate::error::{Error, Result};
use crate::keys::seq_key;
use crate::schema::{self, Versioned};
use crate::store::Store;
use crate::timestamp::Timestamp;

/// Appends `entries` to `stream` (created under `index_key` if new) and
/// returns their seqs once durable.
pub(crate) fn append<T: Versioned>(
    store: &Store,
    stream: &str,
    index_key: &str,
    entries: &[(Timestamp, T)],
) -> Result<Range<u64>> {
    let mut payloads = Vec::with_capacity(entries.len());
    for (ts, payload) in entries {
        payloads.push((*ts, to_json(payload)?));
    }
    let items: Vec<batch::Item<'_>> = payloads
        .iter()
        .map(|(ts, json)| (T::VERSION, *ts, json.as_slice()))
        .collect();
    append_items(store, stream, index_key, &items)
}

/// Appends one entry; returns its seq.
pub(crate) fn append_one<T: Versioned>(
    store: &Store,
    stream: &str,
    index_key: &str,
    ts: Timestamp,
    payload: &T,
) -> Result<u64> {
    let json = to_json(payload)?;
    let range = append_items(store, stream, index_key, &[(T::VERSION, ts, &json)])?;
    Ok(range.start)
}

fn to_json<T: Versioned>(payload: &T) -> Result<Vec<u8>> {
    schema::to_json(payload).map_err(|source| Error::Serialize {
        what: "entry payload",
        source,
    })
}

fn append_items(
    store: &Store,
    stream: &str,
    index_key: &str,
    items: &[batch::Item<'_>],
) -> Result<Range<u64>> {
    let n = items.len() as u64;
    let range = loop {
        let handle = store.stream_for_append(stream, index_key)?;
        let mut st = store.lock_stream(&handle);
        if st.removed {
            continue;
        }
        if st.meta.index_key != index_key {
            return Err(Error::IndexKeyMismatch {
                stream: stream.to_string(),
                existing: st.meta.index_key.clone(),
                given: index_key.to_string(),
            });
        }
        let first = st.last_seq + 1;
        if n == 0 {
            return Ok(first..first);
        }
        let last = first + n - 1;
        // One value per append: atomic with a plain insert (see `batch`).
        store
            .trees()
            .entries
            .insert(seq_key(st.meta.no, last), batch::encode(items))
            .map_err(|e| Error::storage(format!("append to stream {stream}"), e))?;
        st.last_seq = last;
        break first..last + 1;
    };
    store.make_durable()?;
    Ok(range)
}

/// Marks `stream` as deleted at `at`, durably.
pub(crate) fn mark_deleted(store: &Store, stream: &str, at: Timestamp) -> Result<()> {
    let handle = store.stream(stream)?;
    {
        let mut st = store.lock_stream(&handle);
        st.meta.deleted_at = Some(at);
        store.write_meta(&st)?;
    }
    store.make_durable()
}
