//! The stored form of one snapshot: a small binary header around a JSON
//! payload. (Entries are stored per append, several to a value: see
//! `batch`.)
//!
//! Layout of a stored value (all integers big-endian):
//!
//! | bytes  | field                                            |
//! |--------|--------------------------------------------------|
//! | 0      | envelope format, currently [`FORMAT`]            |
//! | 1..5   | schema version of the payload (u32)              |
//! | 5..13  | caller-supplied timestamp, ms since epoch (i64)  |
//! | 13..17 | CRC-32 of bytes 0..13 followed by the payload    |
//! | 17..   | payload: compact JSON                            |
//!
//! The sequence number is not stored in the value: it is the key (see
//! `keys`). Invariant: [`decode`] never panics on any input; every malformed
//! value yields an [`EnvelopeError`]. The CRC covers the header and payload so
//! that damage that slipped past sled's own checks (or bytes written by
//! something else) is detected rather than misread.

use crate::Timestamp;

/// The envelope format written by this version of the crate.
pub const FORMAT: u8 = 1;

/// Size of the fixed header in front of the payload.
pub const HEADER_LEN: usize = 17;

/// Why stored bytes are not a valid envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Fewer bytes than the fixed header.
    #[error("envelope is {len} bytes, shorter than its {HEADER_LEN}-byte header (truncated?)")]
    TooShort {
        /// Number of bytes found, fewer than `HEADER_LEN`.
        len: usize,
    },
    /// The first byte names a format this crate does not know.
    #[error("unknown envelope format {found} (this build reads format {FORMAT})")]
    UnknownFormat {
        /// The format byte found; this build knows only `FORMAT`.
        found: u8,
    },
    /// The checksum does not match the bytes.
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x} (bytes damaged)")]
    Checksum {
        /// The CRC-32 stored in the header, over bytes 0..13 and the payload.
        stored: u32,
        /// CRC computed over the bytes read.
        computed: u32,
    },
    /// The payload is not valid JSON.
    #[error("payload is not valid JSON: {0}")]
    Json(String),
    /// The structure is inconsistent (bad count, lengths, trailing bytes).
    #[error("malformed record: {0}")]
    Malformed(String),
}

/// A decoded envelope whose payload is still JSON bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decoded<'a> {
    pub version: u32,
    pub ts: Timestamp,
    pub payload: &'a [u8],
}

/// Encodes an envelope around already-serialized JSON `payload`.
pub(crate) fn encode(version: u32, ts: Timestamp, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.push(FORMAT);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&ts.as_millis().to_be_bytes());
    let crc = checksum(&out, payload);
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn checksum(header: &[u8], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(header);
    h.update(payload);
    h.finalize()
}

/// Decodes and checks an envelope. The payload is checked against the CRC but
/// not parsed; see [`check_json`].
pub(crate) fn decode(bytes: &[u8]) -> Result<Decoded<'_>, EnvelopeError> {
    let (Some(header), Some(payload)) = (bytes.get(..13), bytes.get(HEADER_LEN..)) else {
        return Err(EnvelopeError::TooShort { len: bytes.len() });
    };
    let format = header[0];
    if format != FORMAT {
        return Err(EnvelopeError::UnknownFormat { found: format });
    }
    let version = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    let mut ts = [0_u8; 8];
    ts.copy_from_slice(&header[5..13]);
    let stored = u32::from_be_bytes([bytes[13], bytes[14], bytes[15], bytes[16]]);
    let computed = checksum(header, payload);
    if stored != computed {
        return Err(EnvelopeError::Checksum { stored, computed });
    }
    Ok(Decoded {
        version,
        ts: Timestamp::from_millis(i64::from_be_bytes(ts)),
        payload,
    })
}

/// Checks that `payload` is one valid JSON value, without building it.
pub(crate) fn check_json(payload: &[u8]) -> Result<(), EnvelopeError> {
    serde_json::from_slice::<serde::de::IgnoredAny>(payload)
        .map(|_| ())
        .map_err(|e| EnvelopeError::Json(e.to_string()))
}

/// Parses a payload as JSON text, keeping its bytes (for raw reads and
/// export, which pass payloads on verbatim).
pub(crate) fn raw_json(payload: &[u8]) -> Result<Box<serde_json::value::RawValue>, EnvelopeError> {
    serde_json::from_slice(payload).map_err(|e| EnvelopeError::Json(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip() {
        let bytes = encode(3, Timestamp::from_millis(-5), br#"{"a":1}"#);
        let d = decode(&bytes).unwrap();
        assert_eq!(d.version, 3);
        assert_eq!(d.ts.as_millis(), -5);
        assert_eq!(d.payload, br#"{"a":1}"#);
        check_json(d.payload).unwrap();
    }

    #[test]
    fn damage_is_an_error() {
        let mut bytes = encode(1, Timestamp::from_millis(1), b"[1,2,3]");
        assert!(matches!(
            decode(&bytes[..10]),
            Err(EnvelopeError::TooShort { len: 10 })
        ));
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        assert!(matches!(
            decode(&bytes),
            Err(EnvelopeError::Checksum { .. })
        ));
        bytes[0] = 9;
        assert_eq!(
            decode(&bytes),
            Err(EnvelopeError::UnknownFormat { found: 9 })
        );
        assert!(check_json(b"{not json").is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn any_single_bit_flip_is_detected(
            payload in proptest::collection::vec(any::<u8>(), 0..32),
            bit in 0_usize..8,
            at in 0_usize..1000,
        ) {
            let mut bytes = encode(2, Timestamp::from_millis(42), &payload);
            let at = at % bytes.len();
            bytes[at] ^= 1 << bit;
            prop_assert!(decode(&bytes).is_err());
        }
    }
}
