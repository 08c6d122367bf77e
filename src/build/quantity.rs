//! Kubernetes resource quantities (`500m`, `2Gi`, `1.5`, `1e3`) as whole
//! numbers, for the `ray start` flags derived from a container's resources.
//!
//! Role: parse the quantity grammar exactly (decimal mantissa, then a binary
//! suffix `Ki`…`Ei`, a decimal suffix `n u m k M G T P E`, or an exponent
//! `e±N`) and round up to a whole number, as Kubernetes' own `Value()` does:
//! `500m` CPU is 1, `1.5Gi` is 1610612736 bytes.
//!
//! Invariant: arithmetic is exact (integers, no floating point) and checked;
//! a negative, malformed or out-of-range quantity is `None`, never a guess.

/// `quantity` rounded up to a whole number, or `None` if it is not a valid,
/// non-negative quantity that fits in a `u64`.
#[must_use]
pub fn ceil_whole(quantity: &str) -> Option<u64> {
    let (mantissa, suffix) = split_number(quantity.trim())?;
    let (digits, fraction_len) = parse_decimal(mantissa)?;
    let (pow10, pow2) = suffix_scale(suffix)?;
    let exp10 = pow10.checked_sub(i32::try_from(fraction_len).ok()?)?;
    let scaled = digits.checked_mul(1u128.checked_shl(pow2)?)?;
    let value = if exp10 >= 0 {
        scaled.checked_mul(10u128.checked_pow(exp10.unsigned_abs())?)?
    } else {
        let divisor = 10u128.checked_pow(exp10.unsigned_abs())?;
        scaled.div_ceil(divisor)
    };
    u64::try_from(value).ok()
}

/// Splits `"1.5Gi"` into `("1.5", "Gi")`; an optional leading `+` is dropped.
pub(super) fn split_number(quantity: &str) -> Option<(&str, &str)> {
    let quantity = quantity.strip_prefix('+').unwrap_or(quantity);
    let end = quantity
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(quantity.len());
    let (number, suffix) = quantity.split_at(end);
    (!number.is_empty()).then_some((number, suffix))
}

/// `"1.25"` as `(125, 2)`: the digits as an integer and the number of
/// fraction digits. At most one `.` and at least one digit.
pub(super) fn parse_decimal(number: &str) -> Option<(u128, u32)> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.contains('.') || (whole.is_empty() && fraction.is_empty()) {
        return None;
    }
    let mut digits: u128 = 0;
    for b in whole.bytes().chain(fraction.bytes()) {
        digits = digits
            .checked_mul(10)?
            .checked_add(u128::from(b.checked_sub(b'0')?))?;
    }
    Some((digits, u32::try_from(fraction.len()).ok()?))
}

/// The suffix as `(power of ten, power of two)`.
pub(super) fn suffix_scale(suffix: &str) -> Option<(i32, u32)> {
    let scale = match suffix {
        "" => (0, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        exponent => {
            let digits = exponent
                .strip_prefix('e')
                .or_else(|| exponent.strip_prefix('E'))?;
            let unsigned = digits
                .strip_prefix('+')
                .or_else(|| digits.strip_prefix('-'))
                .unwrap_or(digits);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (digits.parse::<i32>().ok()?, 0)
        }
    };
    Some(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_rounds_up() {
        assert_eq!(ceil_whole("500m"), Some(1));
        assert_eq!(ceil_whole("1"), Some(1));
        assert_eq!(ceil_whole("1500m"), Some(2));
        assert_eq!(ceil_whole("2.1"), Some(3));
        assert_eq!(ceil_whole("0"), Some(0));
        assert_eq!(ceil_whole("0.0"), Some(0));
        assert_eq!(ceil_whole(".5"), Some(1));
        assert_eq!(ceil_whole("+4"), Some(4));
    }

    #[test]
    fn memory_in_bytes() {
        assert_eq!(ceil_whole("2Gi"), Some(2 * 1024 * 1024 * 1024));
        assert_eq!(ceil_whole("512Mi"), Some(512 * 1024 * 1024));
        assert_eq!(ceil_whole("1.5Gi"), Some(1_610_612_736));
        assert_eq!(ceil_whole("1G"), Some(1_000_000_000));
        assert_eq!(ceil_whole("1k"), Some(1000));
        assert_eq!(ceil_whole("1Ki"), Some(1024));
        assert_eq!(ceil_whole("1e3"), Some(1000));
        assert_eq!(ceil_whole("1E-3"), Some(1));
        assert_eq!(ceil_whole("129e6"), Some(129_000_000));
    }

    #[test]
    fn malformed_or_negative_is_none() {
        for bad in [
            "", "-1", "1.2.3", "abc", "1Gb", "1e", "1e+", "Gi", ".", "1 Gi", "1e99",
        ] {
            assert_eq!(ceil_whole(bad), None, "{bad:?}");
        }
    }
}
