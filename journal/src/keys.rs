//! Byte layout of the keys in the journal's sled trees.
//!
//! Invariants:
//! - entry and snapshot keys are `stream number (u64 BE) ‖ seq (u64 BE)`, 16
//!   bytes, so sled's lexicographic order is (stream, seq) order and one
//!   stream's keys form one contiguous prefix range. For entries the seq is
//!   that of the *last* entry of the append stored under the key (see
//!   `batch`); for snapshots it is the snapshot's `at_seq`;
//! - the stream number is a compact internal alias of the opaque stream id, so
//!   the (long) id is not repeated in every entry key;
//! - index keys are `len(index_key) (u32 BE) ‖ index_key ‖ stream id`, so the
//!   prefix for one index key never matches a longer index key that merely
//!   starts with the same bytes.

/// Length of an entry or snapshot key.
pub(crate) const SEQ_KEY_LEN: usize = 16;

/// The key of entry (or snapshot) `seq` of stream number `no`.
pub(crate) fn seq_key(no: u64, seq: u64) -> [u8; SEQ_KEY_LEN] {
    let mut k = [0_u8; SEQ_KEY_LEN];
    k[..8].copy_from_slice(&no.to_be_bytes());
    k[8..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// The prefix shared by all keys of stream number `no`.
pub(crate) fn stream_prefix(no: u64) -> [u8; 8] {
    no.to_be_bytes()
}

/// Splits an entry or snapshot key into (stream number, seq); `None` if the
/// key does not have the expected length.
pub(crate) fn split_seq_key(key: &[u8]) -> Option<(u64, u64)> {
    if key.len() != SEQ_KEY_LEN {
        return None;
    }
    let mut no = [0_u8; 8];
    let mut seq = [0_u8; 8];
    no.copy_from_slice(&key[..8]);
    seq.copy_from_slice(&key[8..]);
    Some((u64::from_be_bytes(no), u64::from_be_bytes(seq)))
}

/// The prefix of all index rows of `index_key`.
pub(crate) fn index_prefix(index_key: &str) -> Vec<u8> {
    let len = u32::try_from(index_key.len()).unwrap_or(u32::MAX);
    let mut k = Vec::with_capacity(4 + index_key.len());
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(index_key.as_bytes());
    k
}

/// The index row that maps `index_key` to `stream_id`.
pub(crate) fn index_row(index_key: &str, stream_id: &str) -> Vec<u8> {
    let mut k = index_prefix(index_key);
    k.extend_from_slice(stream_id.as_bytes());
    k
}

/// Splits an index row into (index key, stream id); `None` if malformed.
pub(crate) fn split_index_row(row: &[u8]) -> Option<(String, String)> {
    let len_bytes: [u8; 4] = row.get(..4)?.try_into().ok()?;
    let len = usize::try_from(u32::from_be_bytes(len_bytes)).ok()?;
    let key = row.get(4..4 + len)?;
    let id = row.get(4 + len..)?;
    Some((
        String::from_utf8(key.to_vec()).ok()?,
        String::from_utf8(id.to_vec()).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_keys_sort_by_stream_then_seq() {
        assert!(seq_key(1, u64::MAX) < seq_key(2, 0));
        assert!(seq_key(1, 255) < seq_key(1, 256));
        assert_eq!(split_seq_key(&seq_key(7, 9)), Some((7, 9)));
        assert_eq!(split_seq_key(b"short"), None);
    }

    #[test]
    fn index_prefix_does_not_match_longer_keys() {
        let row = index_row("ns/ab", "uid-1");
        assert!(!row.starts_with(&index_prefix("ns/a")));
        assert!(row.starts_with(&index_prefix("ns/ab")));
        assert_eq!(
            split_index_row(&row),
            Some(("ns/ab".into(), "uid-1".into()))
        );
        assert_eq!(split_index_row(&[0, 0, 0, 9, b'x']), None);
    }
}
