//! Exact amounts of money, in integer cents.
//!
//! Prices arrive on the wire as JSON numbers (`9.99`), which serde reads as
//! `f64`. They are converted to cents exactly once, at the edge
//! ([`Cents::from_price`]), and every total after that is integer arithmetic.
//! No total is ever a sum of `f64`.

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

/// Why a wire price cannot be turned into cents.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    #[error("price {0} is not a finite number; send a decimal such as 9.99")]
    NotFinite(String),
    #[error("price {0} is negative; prices are at least 0.00")]
    Negative(String),
    #[error("price {0} is above the maximum of 1000000.00")]
    TooLarge(String),
    #[error("price {0} has more than two decimals; prices are whole cents such as 9.99")]
    FractionalCents(String),
}

impl Cents {
    pub const ZERO: Cents = Cents(0);

    /// Converts a wire price to cents, exactly, or says why it cannot.
    ///
    /// Exactness argument: for an integer `n < 2^53`, `n as f64 / 100.0` is
    /// the double nearest to `n/100` (IEEE division is correctly rounded),
    /// which is also what a JSON parser returns for the decimal text of
    /// `n/100`. So a price with at most two decimals round-trips through
    /// `round(price * 100)` exactly, and any price that does not round-trip
    /// had more than two decimals.
    pub fn from_price(price: f64) -> Result<Cents, PriceError> {
        if !price.is_finite() {
            return Err(PriceError::NotFinite(price.to_string()));
        }
        if price < 0.0 {
            return Err(PriceError::Negative(price.to_string()));
        }
        if price > MAX_PRICE_CENTS as f64 / 100.0 {
            return Err(PriceError::TooLarge(price.to_string()));
        }
        let cents = (price * 100.0).round();
        if cents / 100.0 != price {
            return Err(PriceError::FractionalCents(price.to_string()));
        }
        // In range by the checks above: 0 <= cents <= MAX_PRICE_CENTS.
        Ok(Cents(cents as u128))
    }

    /// The wire price of a whole number of cents: the inverse of
    /// `from_price` for every amount up to [`MAX_PRICE_CENTS`]. Above it the
    /// price is still written (and then rejected when read back).
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
    fn whole_cents_convert_exactly() {
        for n in 0..=100_000u64 {
            let price = n as f64 / 100.0;
            assert_eq!(Cents::from_price(price), Ok(Cents(u128::from(n))), "{price}");
        }
        assert_eq!(Cents::from_price(999_999.99), Ok(Cents(99_999_999)));
        assert_eq!(Cents::from_price(1_000_000.0), Ok(Cents(100_000_000)));
    }

    #[test]
    fn wire_text_converts_exactly() {
        for (text, cents) in [("9.99", 999), ("0.1", 10), ("0.08", 8), ("15.0", 1500), ("0.03", 3)] {
            let price: f64 = text.parse().unwrap();
            assert_eq!(Cents::from_price(price), Ok(Cents(cents)));
        }
    }

    #[test]
    fn bad_prices_are_refused() {
        assert!(matches!(Cents::from_price(9.999), Err(PriceError::FractionalCents(_))));
        assert!(matches!(Cents::from_price(0.001), Err(PriceError::FractionalCents(_))));
        assert!(matches!(Cents::from_price(-0.01), Err(PriceError::Negative(_))));
        assert!(matches!(Cents::from_price(f64::NAN), Err(PriceError::NotFinite(_))));
        assert!(matches!(Cents::from_price(f64::INFINITY), Err(PriceError::NotFinite(_))));
        assert!(matches!(Cents::from_price(1_000_000.01), Err(PriceError::TooLarge(_))));
    }

    #[test]
    fn display_is_dollars_and_two_decimals() {
        assert_eq!(Cents(12543).to_string(), "$125.43");
        assert_eq!(Cents(5).to_string(), "$0.05");
        assert_eq!(Cents(0).to_string(), "$0.00");
    }
}
