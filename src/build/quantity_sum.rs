//! Exact sums of Kubernetes quantities, written back in the API's canonical
//! form, for the `desired*` resource totals of `status`.
//!
//! Role: a quantity is kept as a whole number of nano-units (the finest
//! precision the API keeps; anything finer rounds up) plus the format its
//! text was written in: binary (`Ki`…`Ei`), decimal (`m`, `k`, `M`, …, or
//! none) or exponent (`e3`). [`SummedQuantity::canonical`] prints it as the
//! API server does: the largest suffix that keeps the number whole, in
//! steps of three decimal powers or of 1024; a binary value below 1024 or
//! not whole falls back to decimal. So `1` + `500m` is `1500m`, `1Gi` +
//! `512Mi` is `1536Mi`, `2` × `500m` is `1`.
//!
//! Invariants:
//! - Pure and exact: integer arithmetic only; a sum too large saturates
//!   instead of wrapping.
//! - A sum takes the format of the first non-zero quantity added to it (a
//!   zero sum takes the format of what is added), so it reads as its parts
//!   were written; zero is `0` in any format.

use super::quantity::{parse_decimal, split_number, suffix_scale};

/// Nano-units per unit.
const NANOS: u128 = 1_000_000_000;

/// How a quantity was written, which decides how a sum of it is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QuantityFormat {
    /// A binary suffix: `Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`.
    Binary,
    /// A decimal suffix or none: `n`, `u`, `m`, ``, `k`, `M`, `G`, `T`, `P`, `E`.
    #[default]
    Decimal,
    /// A decimal exponent: `1e3`.
    Exponent,
}

/// A non-negative quantity, exactly, with the format it prints in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SummedQuantity {
    /// The value in nano-units, sub-nano amounts rounded up.
    pub nanos: u128,
    /// The format the value prints in.
    pub format: QuantityFormat,
}

impl SummedQuantity {
    /// Parses a quantity such as `500m`, `1.5Gi` or `1e3`; `None` when it is
    /// malformed, negative or too large.
    #[must_use]
    pub fn parse(quantity: &str) -> Option<Self> {
        let (mantissa, suffix) = split_number(quantity.trim())?;
        let (digits, fraction_len) = parse_decimal(mantissa)?;
        let (pow10, pow2) = suffix_scale(suffix)?;
        let format = if pow2 > 0 {
            QuantityFormat::Binary
        } else if suffix.starts_with(['e', 'E']) {
            QuantityFormat::Exponent
        } else {
            QuantityFormat::Decimal
        };
        let exp10 = pow10
            .checked_add(9)?
            .checked_sub(i32::try_from(fraction_len).ok()?)?;
        let scaled = digits.checked_mul(1u128.checked_shl(pow2)?)?;
        let nanos = if exp10 >= 0 {
            scaled.checked_mul(10u128.checked_pow(exp10.unsigned_abs())?)?
        } else {
            match 10u128.checked_pow(exp10.unsigned_abs()) {
                Some(divisor) => scaled.div_ceil(divisor),
                // Smaller than any power of ten u128 holds: under one nano.
                None => u128::from(scaled > 0),
            }
        };
        Some(Self { nanos, format })
    }

    /// `self + other`, taking `other`'s format when `self` is zero.
    #[must_use]
    pub fn plus(self, other: Self) -> Self {
        Self {
            nanos: self.nanos.saturating_add(other.nanos),
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        }
    }

    /// `self × factor`, in the same format.
    #[must_use]
    pub fn times(self, factor: u64) -> Self {
        Self {
            nanos: self.nanos.saturating_mul(u128::from(factor)),
            format: self.format,
        }
    }

    /// The value in the API server's canonical text.
    #[must_use]
    pub fn canonical(self) -> String {
        if self.nanos == 0 {
            return "0".to_owned();
        }
        if self.format == QuantityFormat::Binary
            && self.nanos >= 1024 * NANOS
            && self.nanos.is_multiple_of(NANOS)
        {
            return binary(self.nanos / NANOS);
        }
        decimal(self.nanos, self.format)
    }
}

/// A whole number of units with the largest binary suffix that keeps it whole.
fn binary(mut units: u128) -> String {
    const SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    let mut power = 0;
    while power + 1 < SUFFIXES.len() && units.is_multiple_of(1024) {
        units /= 1024;
        power += 1;
    }
    format!("{units}{}", SUFFIXES[power])
}

/// Nano-units as a whole mantissa times a power of ten that is a multiple of
/// three, the largest such power, spelled as a decimal suffix or exponent.
fn decimal(nanos: u128, format: QuantityFormat) -> String {
    let mut mantissa = nanos;
    let mut exponent: i32 = -9;
    while mantissa.is_multiple_of(10) {
        mantissa /= 10;
        exponent += 1;
    }
    while exponent.rem_euclid(3) != 0 {
        mantissa = mantissa.saturating_mul(10);
        exponent -= 1;
    }
    let suffix = match (format, exponent) {
        (_, 0) => String::new(),
        (QuantityFormat::Exponent, e) => format!("e{e}"),
        (_, -9) => "n".to_owned(),
        (_, -6) => "u".to_owned(),
        (_, -3) => "m".to_owned(),
        (_, 3) => "k".to_owned(),
        (_, 6) => "M".to_owned(),
        (_, 9) => "G".to_owned(),
        (_, 12) => "T".to_owned(),
        (_, 15) => "P".to_owned(),
        (_, 18) => "E".to_owned(),
        (_, e) => format!("e{e}"),
    };
    format!("{mantissa}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> SummedQuantity {
        SummedQuantity::parse(text).unwrap()
    }

    fn sum(parts: &[&str]) -> String {
        parts
            .iter()
            .fold(SummedQuantity::default(), |acc, p| acc.plus(q(p)))
            .canonical()
    }

    #[test]
    fn single_quantities_print_canonically() {
        for (given, canonical) in [
            ("1", "1"),
            ("500m", "500m"),
            ("1000m", "1"),
            ("1.5", "1500m"),
            ("0.5", "500m"),
            ("1500", "1500"),
            ("2000", "2k"),
            ("1G", "1G"),
            ("1.5G", "1500M"),
            ("2Gi", "2Gi"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("512", "512"),
            ("1Ki", "1Ki"),
            ("0.5Ki", "512"),
            ("1e3", "1e3"),
            ("1500e0", "1500"),
            ("1e-3", "1e-3"),
            ("0", "0"),
            ("0Gi", "0"),
        ] {
            assert_eq!(q(given).canonical(), canonical, "{given}");
        }
    }

    #[test]
    fn sums_keep_the_first_non_zero_format() {
        assert_eq!(sum(&["1", "500m"]), "1500m");
        assert_eq!(sum(&["1", "1"]), "2");
        assert_eq!(sum(&["1Gi", "512Mi"]), "1536Mi");
        assert_eq!(sum(&["1Gi", "1G"]), "2073741824");
        assert_eq!(sum(&["1G", "1Gi"]), "2073741824");
        assert_eq!(sum(&["1Gi", "1Gi"]), "2Gi");
        assert_eq!(sum(&["1G", "1G"]), "2G");
        assert_eq!(sum(&["0", "2Gi"]), "2Gi");
        assert_eq!(sum(&[]), "0");
    }

    #[test]
    fn products_scale_exactly() {
        assert_eq!(q("500m").times(2).canonical(), "1");
        assert_eq!(q("1Gi").times(3).canonical(), "3Gi");
        assert_eq!(q("1Gi").times(0).canonical(), "0");
        assert_eq!(q("1").times(4096).canonical(), "4096");
    }

    #[test]
    fn sub_nano_rounds_up_and_malformed_is_none() {
        assert_eq!(q("0.0000000001").canonical(), "1n");
        assert_eq!(q("1e-40").nanos, 1);
        for bad in ["", "-1", "abc", "1Gb", "1e"] {
            assert_eq!(SummedQuantity::parse(bad), None, "{bad:?}");
        }
    }
}
