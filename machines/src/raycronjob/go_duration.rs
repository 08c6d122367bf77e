//! Go's duration syntax (`time.ParseDuration`), as `@every <duration>` takes it.
//!
//! A duration is a sequence of decimal numbers, each with an optional
//! fraction and a unit (`ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`), such as
//! `1h30m` or `1.5s`; `0` stands alone without a unit. A sign is accepted and
//! returned, the caller decides what a negative duration means.
//!
//! Invariant: exact integer arithmetic in nanoseconds; a duration beyond
//! Go's range (about 292 years) is refused, as Go refuses it.

/// Nanoseconds of each unit, longest spelling first where one is a prefix
/// of another (`ms` before `m`).
const UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// The largest duration Go represents, in nanoseconds (`math.MaxInt64`).
const MAX_NANOS: u128 = i64::MAX as u128;

/// `text` in nanoseconds, negative for a leading `-`; `None` when it is not
/// a Go duration or overflows.
#[must_use]
pub fn parse_nanos(text: &str) -> Option<i128> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let whole_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let whole = &rest[..whole_len];
        rest = &rest[whole_len..];
        let mut fraction = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let len = after_dot
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after_dot.len());
            fraction = &after_dot[..len];
            rest = &after_dot[len..];
        }
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let (unit, nanos_per_unit) = UNITS.iter().find(|(u, _)| rest.starts_with(u))?;
        rest = &rest[unit.len()..];
        total = total.checked_add(amount(whole, fraction, *nanos_per_unit)?)?;
        if total > MAX_NANOS {
            return None;
        }
    }
    let total = i128::try_from(total).ok()?;
    Some(if negative { -total } else { total })
}

/// `whole.fraction` units in nanoseconds, the fraction's excess digits cut.
fn amount(whole: &str, fraction: &str, nanos_per_unit: u128) -> Option<u128> {
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut nanos = whole.checked_mul(nanos_per_unit)?;
    let mut scale = nanos_per_unit;
    for digit in fraction.bytes() {
        scale /= 10;
        if scale == 0 {
            break;
        }
        nanos = nanos.checked_add(u128::from(digit - b'0') * scale)?;
    }
    Some(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i128 = 1_000_000_000;

    #[test]
    fn gos_examples_parse() {
        assert_eq!(parse_nanos("1h30m"), Some(5400 * SECOND));
        assert_eq!(parse_nanos("90s"), Some(90 * SECOND));
        assert_eq!(parse_nanos("1.5h"), Some(5400 * SECOND));
        assert_eq!(parse_nanos("2h45m30.5s"), Some(9930 * SECOND + SECOND / 2));
        assert_eq!(parse_nanos("300ms"), Some(300_000_000));
        assert_eq!(parse_nanos("1µs"), Some(1000));
        assert_eq!(parse_nanos("1us"), Some(1000));
        assert_eq!(parse_nanos(".5m"), Some(30 * SECOND));
        assert_eq!(parse_nanos("0"), Some(0));
        assert_eq!(parse_nanos("-1m"), Some(-60 * SECOND));
    }

    #[test]
    fn what_go_refuses_is_refused() {
        for bad in [
            "", "1", "h", "1d", "1h 30m", "1.h2", ".", "-", "3000000h", "1x",
        ] {
            assert_eq!(parse_nanos(bad), None, "{bad:?}");
        }
    }
}
