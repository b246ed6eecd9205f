//! Exact amounts of money, in integer cents.
//!
//! Prices arrive on the wire as JSON numbers (`9.99`). They are converted to
//! cents exactly once, at the edge, from the number's decimal *text*
//! ([`Cents::from_decimal`]), never through `f64`: a float parser may round
//! `9.999999999999999` or `9.990000000000000001` to the double of `10` or
//! `9.99`, and a rule checked on that double would accept a price with more
//! than two decimals. Every total after the edge is integer arithmetic.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The highest unit price accepted on the wire: 1,000,000.00.
///
/// An explicit bound keeps every conversion exact (far below 2^53) and
/// catches prices that are obviously wrong (a total pasted into a price).
pub const MAX_PRICE_CENTS: u64 = 100_000_000;

/// An exact, non-negative amount of money in cents.
///
/// `u128` so that no sequence of events can overflow a total: a line is at
/// most `u64::MAX` units of at most [`MAX_PRICE_CENTS`], and a cart or a
/// revenue total would need more than 2^64 such lines to overflow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cents(pub u128);

/// Why a wire price cannot be turned into cents. Each carries the price's
/// text, shortened to [`PRICE_EXCERPT_CHARS`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    #[error("price {0} is not a JSON number; send a decimal such as 9.99")]
    NotANumber(String),
    #[error("price {0} is negative; prices are at least 0.00")]
    Negative(String),
    #[error("price {0} is above the maximum of 1000000.00")]
    TooLarge(String),
    #[error("price {0} has more than two decimals; prices are whole cents such as 9.99")]
    FractionalCents(String),
}

/// Longest piece of a price's text quoted in a [`PriceError`].
pub const PRICE_EXCERPT_CHARS: usize = 40;

impl Cents {
    pub const ZERO: Cents = Cents(0);

    /// Converts a price, given as the decimal text of a JSON number
    /// (`9.99`, `1e2`, `0.0999E+2`), to cents, exactly, or says why it
    /// cannot.
    ///
    /// The rule is decided on the text: the number it spells must be a
    /// whole number of cents from 0.00 to 1,000,000.00. `-0` and `-0.00` are
    /// zero and accepted; `1e-400` is not zero but one 10^-400th, so it has
    /// more than two decimals. The text is read in one pass over its bytes
    /// with no allocation, whatever its length or exponent.
    pub fn from_decimal(text: &str) -> Result<Cents, PriceError> {
        let number = DecimalText::parse(text).ok_or_else(|| PriceError::NotANumber(excerpt(text)))?;
        // The value is significand * 10^exponent, where the significand has
        // no trailing zeros (they were moved into the exponent) and no
        // leading zeros; zero has no significant digits.
        if number.significant_digits == 0 {
            return Ok(Cents::ZERO);
        }
        if number.negative {
            return Err(PriceError::Negative(excerpt(text)));
        }
        // In cents: significand * 10^(exponent + 2). Its magnitude is below
        // 10^(significant_digits + exponent + 2).
        let cents_exponent = number.exponent.saturating_add(2);
        let magnitude = cents_exponent.saturating_add(number.significant_digits);
        // MAX_PRICE_CENTS = 10^8 has 9 digits: anything of 10 or more is above it.
        if magnitude > 9 {
            return Err(PriceError::TooLarge(excerpt(text)));
        }
        if cents_exponent < 0 {
            return Err(PriceError::FractionalCents(excerpt(text)));
        }
        // Now at most 9 digits and a small exponent: exact in u64.
        let cents = number.significand * 10u64.pow(cents_exponent as u32);
        if cents > MAX_PRICE_CENTS {
            return Err(PriceError::TooLarge(excerpt(text)));
        }
        Ok(Cents(u128::from(cents)))
    }

    /// The wire price of a whole number of cents: `from_decimal` of its
    /// JSON text gives back `self` for every amount up to
    /// [`MAX_PRICE_CENTS`] (the double nearest to `n/100`, for `n < 2^53`,
    /// prints as the shortest decimal that reads back to it, which is
    /// `n/100`'s own). Above it the price is still written (and then
    /// rejected when read back).
    pub fn to_price(self) -> f64 {
        self.0 as f64 / 100.0
    }

    /// `self * qty`, exact.
    pub fn times(self, qty: u64) -> Cents {
        // Cannot overflow: self <= MAX_PRICE_CENTS for unit prices, and
        // u64::MAX * 10^8 < u128::MAX. Saturate anyway rather than panic.
        Cents(self.0.saturating_mul(u128::from(qty)))
    }
}

/// A JSON number's text, as much as the price rule needs: its sign, its
/// significand with trailing zeros moved into the exponent (at most 9
/// significant digits kept: more can only mean a price that is too large
/// or has too many decimals), and its count of significant digits.
struct DecimalText {
    negative: bool,
    /// The first (at most 9) significant digits, as a number.
    significand: u64,
    significant_digits: i64,
    /// The power of ten of the significand's last digit.
    exponent: i64,
}

impl DecimalText {
    /// Reads `text` by the JSON number grammar,
    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, or `None`.
    fn parse(text: &str) -> Option<DecimalText> {
        let bytes = text.as_bytes();
        let mut at = 0;
        let negative = bytes.first() == Some(&b'-');
        if negative {
            at += 1;
        }
        let whole_start = at;
        while bytes.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        let whole = &bytes[whole_start..at];
        if whole.is_empty() || (whole.len() > 1 && whole[0] == b'0') {
            return None;
        }
        let mut fraction: &[u8] = &[];
        if bytes.get(at) == Some(&b'.') {
            let start = at + 1;
            at = start;
            while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            fraction = &bytes[start..at];
            if fraction.is_empty() {
                return None;
            }
        }
        // The written exponent, saturated: beyond +-10^15 every nonzero
        // significand is far out of range either way.
        let mut written_exponent: i64 = 0;
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1;
            let exponent_negative = match bytes.get(at) {
                Some(b'-') => {
                    at += 1;
                    true
                }
                Some(b'+') => {
                    at += 1;
                    false
                }
                _ => false,
            };
            let start = at;
            while let Some(digit) = bytes.get(at).filter(|b| b.is_ascii_digit()) {
                written_exponent = (written_exponent * 10 + i64::from(digit - b'0')).min(1_000_000_000_000_000);
                at += 1;
            }
            if at == start {
                return None;
            }
            if exponent_negative {
                written_exponent = -written_exponent;
            }
        }
        if at != bytes.len() {
            return None;
        }
        // The digits whole ++ fraction, read as an integer D, spell the
        // value D * 10^(written_exponent - fraction.len()).
        let digits = whole.iter().chain(fraction);
        let last_nonzero = whole.len() + fraction.len() - digits.clone().rev().take_while(|d| **d == b'0').count();
        let first_nonzero = digits.clone().take_while(|d| **d == b'0').count();
        if first_nonzero >= last_nonzero {
            return Some(DecimalText { negative, significand: 0, significant_digits: 0, exponent: 0 });
        }
        let significant_digits = (last_nonzero - first_nonzero) as i64;
        let significand = digits
            .skip(first_nonzero)
            .take((last_nonzero - first_nonzero).min(9))
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        let trailing_zeros = (whole.len() + fraction.len() - last_nonzero) as i64;
        let exponent = written_exponent - fraction.len() as i64 + trailing_zeros;
        Some(DecimalText { negative, significand, significant_digits, exponent })
    }
}

/// `text` cut to [`PRICE_EXCERPT_CHARS`], escaped if it holds anything
/// that could forge output.
fn excerpt(text: &str) -> String {
    match text.char_indices().nth(PRICE_EXCERPT_CHARS) {
        None => crate::text::quoted_if_needed(text).into_owned(),
        Some((cut, _)) => format!("{}…", crate::text::quoted_if_needed(&text[..cut])),
    }
}

impl std::ops::Add for Cents {
    type Output = Cents;
    fn add(self, other: Cents) -> Cents {
        Cents(self.0.saturating_add(other.0))
    }
}

impl std::iter::Sum for Cents {
    fn sum<I: Iterator<Item = Cents>>(iter: I) -> Cents {
        iter.fold(Cents::ZERO, |a, b| a + b)
    }
}

/// `$125.43`, the seed's format.
impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}.{:02}", self.0 / 100, self.0 % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_cents_convert_exactly_both_ways() {
        for n in (0..=100_000u64).chain(99_990_000..=MAX_PRICE_CENTS) {
            let text = serde_json::to_string(&Cents(u128::from(n)).to_price()).unwrap();
            assert_eq!(Cents::from_decimal(&text), Ok(Cents(u128::from(n))), "{text}");
        }
    }

    #[test]
    fn the_rule_is_decided_on_the_text() {
        for (text, cents) in [
            ("9.99", 999),
            ("0.1", 10),
            ("0.08", 8),
            ("15.0", 1500),
            ("0", 0),
            ("-0", 0),
            ("-0.00", 0),
            ("0e999999999999999999999", 0),
            ("1e2", 10_000),
            ("0.0999E+2", 999),
            ("999e-2", 999),
            ("99.90e-1", 999),
            ("1000000", MAX_PRICE_CENTS),
            ("1000000.000000000000000000", MAX_PRICE_CENTS),
            ("100000000e-2", MAX_PRICE_CENTS),
            ("1.00000000000000000000e0", 100),
            ("0.10", 10),
            ("0.0000000001e12", 10_000),
            ("0.000012345e9", 1_234_500),
        ] {
            assert_eq!(Cents::from_decimal(text), Ok(Cents(u128::from(cents))), "{text}");
        }
        for text in [
            "9.999999999999999",
            "19.990000000000002",
            "0.30000000000000004",
            "9.990000000000000001",
            "1e-400",
            "0.001",
            "1.005",
            "999999.999",
        ] {
            assert!(matches!(Cents::from_decimal(text), Err(PriceError::FractionalCents(_))), "{text}");
        }
        for text in ["-1e-400", "-0.01", "-2", "-1e400"] {
            assert!(matches!(Cents::from_decimal(text), Err(PriceError::Negative(_))), "{text}");
        }
        for text in ["1000000.01", "1e400", "1e999999999999999999999999", "1000001", "12345678901234567890.5"] {
            assert!(matches!(Cents::from_decimal(text), Err(PriceError::TooLarge(_))), "{text}");
        }
        for text in [
            "", "-", "01", "1.", ".5", "1e", "1e+", "+1", "1.5.5", "NaN", "Infinity", " 1", "1 ", "0x10", "1_000", "１",
        ] {
            assert!(matches!(Cents::from_decimal(text), Err(PriceError::NotANumber(_))), "{text:?}");
        }
    }

    #[test]
    fn price_errors_say_which_price() {
        assert_eq!(
            Cents::from_decimal("1.005").unwrap_err().to_string(),
            "price 1.005 has more than two decimals; prices are whole cents such as 9.99"
        );
        assert_eq!(
            Cents::from_decimal("-2").unwrap_err().to_string(),
            "price -2 is negative; prices are at least 0.00"
        );
    }

    #[test]
    fn price_errors_quote_a_bounded_escaped_excerpt() {
        let long = format!("1.{}1", "0".repeat(100_000));
        let message = Cents::from_decimal(&long).unwrap_err().to_string();
        assert!(message.len() < 200, "{message}");
        let message = Cents::from_decimal("1\n2\u{1b}").unwrap_err().to_string();
        assert!(!message.contains(['\n', '\u{1b}']), "{message}");
    }

    #[test]
    fn display_is_dollars_and_two_decimals() {
        assert_eq!(Cents(12543).to_string(), "$125.43");
        assert_eq!(Cents(5).to_string(), "$0.05");
        assert_eq!(Cents(0).to_string(), "$0.00");
    }
}
