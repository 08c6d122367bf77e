//! Schema versions and upcasting of old payloads.
//!
//! Every stored payload carries the schema version it was written with. A
//! reader names its type's current version through [`Versioned`]; a payload
//! written with an older version is passed, as a JSON value, through
//! [`Versioned::upcast`] before it is deserialized.
//!
//! Invariants:
//! - a payload at the current version is deserialized directly from its bytes
//!   (no detour through `serde_json::Value`);
//! - a payload from a *newer* version is never guessed at: it is an error
//!   ([`DecodeError::NewerVersion`]), so an old binary cannot silently
//!   misread a journal written by a newer one.

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

/// A payload type stored in the journal, with its schema version.
pub trait Versioned: Serialize + DeserializeOwned {
    /// The schema version this type is written with. Bump it whenever the
    /// serialized form changes incompatibly, and teach [`Versioned::upcast`]
    /// to convert the previous form.
    const VERSION: u32;

    /// Converts `value`, written with schema version `from` (always less than
    /// [`Versioned::VERSION`]), to the JSON form of the current version.
    ///
    /// The default knows no older versions and fails.
    fn upcast(from: u32, value: Value) -> Result<Value, UpcastError> {
        let _ = value;
        Err(UpcastError::Unsupported {
            from,
            to: Self::VERSION,
        })
    }
}

/// An upcaster could not convert an old payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpcastError {
    /// No conversion exists from this version.
    #[error("no upcast from schema version {from} to {to}")]
    Unsupported {
        /// The version stored with the payload; older than `to`.
        from: u32,
        /// The reader's [`Versioned::VERSION`].
        to: u32,
    },
    /// The old payload did not have the expected shape.
    #[error("cannot upcast from schema version {from}: {reason}")]
    Malformed {
        /// The version stored with the payload that failed to convert.
        from: u32,
        /// What the upcaster found wrong with the old shape, in words.
        reason: String,
    },
}

/// Why a payload could not be turned into the reader's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The payload was written by a newer schema than the reader knows.
    #[error("payload has schema version {found}, newer than this reader's {current}")]
    NewerVersion {
        /// The version stored with the payload; greater than `current`.
        found: u32,
        /// The reader's [`Versioned::VERSION`]; a newer binary is needed to read this payload.
        current: u32,
    },
    /// The payload is older and [`Versioned::upcast`] could not convert it.
    #[error(transparent)]
    Upcast(#[from] UpcastError),
    /// The JSON did not deserialize into the reader's type.
    #[error("payload does not deserialize: {0}")]
    Json(String),
}

/// Serializes a payload as compact JSON.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(value)
}

/// Decodes `payload`, stored with schema `version`, into `T`, upcasting if
/// the version is older than `T::VERSION`.
pub(crate) fn decode_payload<T: Versioned>(version: u32, payload: &[u8]) -> Result<T, DecodeError> {
    use std::cmp::Ordering;
    match version.cmp(&T::VERSION) {
        Ordering::Equal => {
            serde_json::from_slice(payload).map_err(|e| DecodeError::Json(e.to_string()))
        }
        Ordering::Greater => Err(DecodeError::NewerVersion {
            found: version,
            current: T::VERSION,
        }),
        Ordering::Less => {
            let value: Value =
                serde_json::from_slice(payload).map_err(|e| DecodeError::Json(e.to_string()))?;
            let value = T::upcast(version, value)?;
            serde_json::from_value(value).map_err(|e| DecodeError::Json(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct V2 {
        name: String,
        replicas: u32,
    }

    impl Versioned for V2 {
        const VERSION: u32 = 2;
        fn upcast(from: u32, mut value: Value) -> Result<Value, UpcastError> {
            match from {
                1 => {
                    let obj = value.as_object_mut().ok_or(UpcastError::Malformed {
                        from,
                        reason: "not an object".into(),
                    })?;
                    obj.insert("replicas".into(), Value::from(1));
                    Ok(value)
                }
                _ => Err(UpcastError::Unsupported { from, to: 2 }),
            }
        }
    }

    #[test]
    fn current_older_and_newer_versions() {
        let v: V2 = decode_payload(2, br#"{"name":"a","replicas":3}"#).unwrap();
        assert_eq!(
            v,
            V2 {
                name: "a".into(),
                replicas: 3
            }
        );
        let v: V2 = decode_payload(1, br#"{"name":"a"}"#).unwrap();
        assert_eq!(v.replicas, 1);
        assert!(matches!(
            decode_payload::<V2>(3, b"{}"),
            Err(DecodeError::NewerVersion {
                found: 3,
                current: 2
            })
        ));
        assert!(matches!(
            decode_payload::<V2>(0, b"{}"),
            Err(DecodeError::Upcast(_))
        ));
        assert!(matches!(
            decode_payload::<V2>(1, b"[]"),
            Err(DecodeError::Upcast(_))
        ));
        assert!(matches!(
            decode_payload::<V2>(2, b"{}"),
            Err(DecodeError::Json(_))
        ));
    }
}
