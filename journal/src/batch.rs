//! The stored form of one append: all its entries in one sled value.
//!
//! Why: sled 0.34's `Tree::apply_batch` (its only multi-key atomic write
//! short of transactions) takes a process-wide write lock and forces an I/O
//! buffer write per call, which serialises every appender; and every sled
//! record costs a key plus per-record overhead on disk. Storing an append as
//! one value makes it atomic with a plain `insert` and amortises the
//! overhead over its entries.
//!
//! The key is `stream no ‖ seq of the LAST entry` (see `keys`), so the
//! stream's last seq is the last key, and a read from seq `s` starts at the
//! first key `>= s`.
//!
//! Layout (varints are LEB128; `ts` is zig-zag encoded, the first entry's
//! relative to 0 and each next one relative to the previous):
//!
//! ```text
//! format (u8 = 2) | count (varint >= 1)
//! count × [ schema version (varint) | ts delta (zig-zag varint) | len (varint) | payload (len bytes of JSON) ]
//! crc32 (u32 BE) of everything before it
//! ```
//!
//! Invariant: [`decode`] never panics; any malformed value is an
//! [`EnvelopeError`].

use crate::Timestamp;
use crate::envelope::{Decoded, EnvelopeError};

/// The format byte of a batch value.
pub const FORMAT: u8 = 2;

/// One entry to encode: (schema version, timestamp, JSON payload).
pub(crate) type Item<'a> = (u32, Timestamp, &'a [u8]);

/// Encodes entries (at least one) as one batch value.
pub(crate) fn encode(items: &[Item<'_>]) -> Vec<u8> {
    let payload: usize = items.iter().map(|(_, _, p)| p.len() + 12).sum();
    let mut out = Vec::with_capacity(payload + 10);
    out.push(FORMAT);
    put_varint(&mut out, items.len() as u64);
    let mut prev = 0_i64;
    for (version, ts, json) in items {
        put_varint(&mut out, u64::from(*version));
        put_varint(&mut out, zigzag(ts.as_millis().wrapping_sub(prev)));
        prev = ts.as_millis();
        put_varint(&mut out, json.len() as u64);
        out.extend_from_slice(json);
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// Decodes and checks a batch value.
pub(crate) fn decode(bytes: &[u8]) -> Result<Vec<Decoded<'_>>, EnvelopeError> {
    if bytes.len() < 6 {
        return Err(EnvelopeError::TooShort { len: bytes.len() });
    }
    if bytes[0] != FORMAT {
        return Err(EnvelopeError::UnknownFormat { found: bytes[0] });
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let computed = crc32fast::hash(body);
    if stored != computed {
        return Err(EnvelopeError::Checksum { stored, computed });
    }
    let mut cur = Cursor { bytes: body, at: 1 };
    let count = cur.varint()?;
    if count == 0 {
        return Err(EnvelopeError::Malformed("empty batch".into()));
    }
    let mut out = Vec::with_capacity(usize::try_from(count.min(1024)).unwrap_or(1024));
    let mut prev = 0_i64;
    for _ in 0..count {
        let version = u32::try_from(cur.varint()?)
            .map_err(|_| EnvelopeError::Malformed("schema version out of range".into()))?;
        let ts = prev.wrapping_add(unzigzag(cur.varint()?));
        prev = ts;
        let len = usize::try_from(cur.varint()?)
            .map_err(|_| EnvelopeError::Malformed("length out of range".into()))?;
        let payload = cur.take(len)?;
        out.push(Decoded {
            version,
            ts: Timestamp::from_millis(ts),
            payload,
        });
    }
    if cur.at != body.len() {
        return Err(EnvelopeError::Malformed(format!(
            "{} trailing bytes after {count} entries",
            body.len() - cur.at
        )));
    }
    Ok(out)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn varint(&mut self) -> Result<u64, EnvelopeError> {
        let mut value = 0_u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.bytes.get(self.at) else {
                return Err(EnvelopeError::TooShort {
                    len: self.bytes.len(),
                });
            };
            self.at += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(EnvelopeError::Malformed(
            "varint longer than 10 bytes".into(),
        ))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], EnvelopeError> {
        let end = self.at.checked_add(len).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(EnvelopeError::TooShort {
                len: self.bytes.len(),
            });
        };
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_size() {
        let items = [
            (
                1,
                Timestamp::from_millis(1_700_000_000_000),
                &br#"{"a":1}"#[..],
            ),
            (1, Timestamp::from_millis(1_700_000_000_000), &b"[]"[..]),
            (3, Timestamp::from_millis(-5), &b"null"[..]),
        ];
        let bytes = encode(&items);
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded.len(), 3);
        for (d, (v, ts, p)) in decoded.iter().zip(items) {
            assert_eq!((d.version, d.ts, d.payload), (v, ts, p));
        }
        // 1 format + 1 count + 4 crc, and per entry 1 version + ts + 1 len.
        let payloads: usize = items.iter().map(|i| i.2.len()).sum();
        assert!(
            bytes.len() <= 6 + payloads + 3 * 2 + 7 + 1 + 10,
            "{}",
            bytes.len()
        );
    }

    #[test]
    fn damage_is_an_error() {
        let mut bytes = encode(&[(1, Timestamp::from_millis(9), &b"{}"[..])]);
        assert!(matches!(
            decode(&bytes[..3]),
            Err(EnvelopeError::TooShort { .. })
        ));
        bytes[3] ^= 0x40;
        assert!(matches!(
            decode(&bytes),
            Err(EnvelopeError::Checksum { .. })
        ));
        bytes[0] = 1;
        assert!(matches!(
            decode(&bytes),
            Err(EnvelopeError::UnknownFormat { found: 1 })
        ));
    }

    proptest! {
        #[test]
        fn round_trips(entries in proptest::collection::vec((any::<u32>(), any::<i64>(), proptest::collection::vec(any::<u8>(), 0..40)), 1..8)) {
            let items: Vec<Item<'_>> = entries.iter().map(|(v, t, p)| (*v, Timestamp::from_millis(*t), p.as_slice())).collect();
            let bytes = encode(&items);
            let decoded = decode(&bytes).unwrap();
            prop_assert_eq!(decoded.len(), items.len());
            for (d, (v, t, p)) in decoded.iter().zip(items) {
                prop_assert_eq!((d.version, d.ts, d.payload), (v, t, p));
            }
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn any_single_bit_flip_is_detected(bit in 0_usize..8, at in 0_usize..1000) {
            let mut bytes = encode(&[(2, Timestamp::from_millis(42), &br#"{"x":[1,2]}"#[..]), (2, Timestamp::from_millis(43), &b"7"[..])]);
            let at = at % bytes.len();
            bytes[at] ^= 1 << bit;
            prop_assert!(decode(&bytes).is_err());
        }
    }
}
