//! Journal times as RFC 3339 text, and `--since`/`--until` parsing.
//!
//! Role: the journal stores caller-supplied milliseconds since the Unix epoch
//! ([`rayop_journal::Timestamp`], which rayop fills with the event time);
//! people read and type RFC 3339. Formatting is always UTC with millisecond
//! precision (`2023-11-14T22:13:21.000Z`), so lines of a timeline align.
//!
//! Invariant: formatting never fails; a value outside the representable
//! calendar range is printed as raw milliseconds.

use k8s_openapi::jiff;
use rayop_journal::Timestamp;

/// `ts` as RFC 3339 in UTC with milliseconds, e.g. `2023-11-14T22:13:21.000Z`.
#[must_use]
pub fn rfc3339(ts: Timestamp) -> String {
    rfc3339_millis(ts.as_millis())
}

/// Milliseconds since the epoch as RFC 3339 in UTC with milliseconds.
#[must_use]
pub fn rfc3339_millis(millis: i64) -> String {
    match jiff::Timestamp::from_millisecond(millis) {
        Ok(t) => format!("{t:.3}"),
        Err(_) => format!("{millis}ms"),
    }
}

/// Parses an RFC 3339 time (`2024-05-01T10:00:00Z`, `2024-05-01T12:00:00+02:00`,
/// fractions allowed) into a journal timestamp. Used as a clap value parser.
///
/// # Errors
/// A sentence saying what was expected.
pub fn parse_rfc3339(text: &str) -> Result<Timestamp, String> {
    let t: jiff::Timestamp = text.parse().map_err(|e| {
        format!("{text:?} is not an RFC 3339 time such as 2024-05-01T10:00:00Z ({e})")
    })?;
    Ok(Timestamp::from_millis(t.as_millisecond()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let ts = Timestamp::from_millis(1_700_000_001_000);
        assert_eq!(rfc3339(ts), "2023-11-14T22:13:21.000Z");
        assert_eq!(parse_rfc3339("2023-11-14T22:13:21Z"), Ok(ts));
        assert_eq!(parse_rfc3339("2023-11-14T23:13:21.000+01:00"), Ok(ts));
        assert!(parse_rfc3339("yesterday").is_err());
        assert!(parse_rfc3339("2023-11-14").is_err());
        assert_eq!(rfc3339_millis(i64::MAX), format!("{}ms", i64::MAX));
    }
}
