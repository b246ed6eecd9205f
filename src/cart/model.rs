//! The model: a plain, independent fold of the produced history.
//!
//! It shares no code with what it checks: it validates records with its own
//! reading of the rules (on `serde_json::Value` pairs, with prices decided
//! on the number's text as written, by moving its decimal point in a
//! string, where the decoder counts digits), groups
//! the history by cart, walks each cart's own events in order, and sums
//! with plain `u128` arithmetic. Only the view types are shared, so that
//! the two can be compared. A bug planted in validation, in money or in a
//! projection (last price kept, removals ignored, ...) makes them disagree.
//!
//! Each projection has its part here: `cart-state`, `revenue`,
//! `units-sold`. Arithmetic follows the rules of docs/guide.md, "Cart
//! semantics": quantities saturate at `u64::MAX`; sums are `u128` and
//! cannot overflow for any history of fewer than 2^37 records, so they are
//! plain (saturating, to match the system's `Cents` addition if they ever
//! could).

use super::money::Cents;
use super::projection::{Cart, CartState, CartStateView, Line, Revenue, RevenueView, UnitsSold, UnitsSoldView};
use crate::domain::{AnyView, HistoryRecord, Model, Produced};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::collections::BTreeMap;

/// One valid event as the model reads it.
enum ModelEvent {
    Add { item: String, qty: u64, cents: u128 },
    Remove { item: String },
    Checkout,
}

/// Folds the produced history into the model of every cart projection.
pub fn model(produced: &[Produced]) -> Model {
    let mut per_cart: BTreeMap<String, Vec<(crate::record::Position, ModelEvent)>> = BTreeMap::new();
    let mut rejected = Vec::new();
    for (position, record) in produced {
        match read(record) {
            Some((cart_id, event)) => per_cart.entry(cart_id).or_default().push((*position, event)),
            None => rejected.push(*position),
        }
    }
    let mut cart_state = CartStateView::default();
    let mut revenue = RevenueView::default();
    let mut units_sold = UnitsSoldView::default();
    for (cart_id, events) in &per_cart {
        let (lines, created, checked_out) = fold_one_cart(events.iter().map(|(_, e)| e));
        if checked_out {
            let total = lines
                .iter()
                .fold(0u128, |sum, (_, qty, cents)| sum.saturating_add(u128::from(*qty).saturating_mul(*cents)));
            revenue.carts.insert(cart_id.clone(), Cents(total));
            revenue.total_cents = Cents(revenue.total_cents.0.saturating_add(total));
            for (item, qty, _) in &lines {
                let units = units_sold.items.entry(item.clone()).or_insert(0);
                *units = units.saturating_add(u128::from(*qty));
                units_sold.total_units = units_sold.total_units.saturating_add(u128::from(*qty));
            }
        }
        if created {
            let lines =
                lines.into_iter().map(|(item, qty, cents)| Line { item, qty, unit_price: Cents(cents) }).collect();
            cart_state.carts.insert(cart_id.clone(), Cart { lines });
        }
    }
    let views = BTreeMap::from([
        (CartState::GROUP_ID.to_string(), AnyView::new(cart_state)),
        (Revenue::GROUP_ID.to_string(), AnyView::new(revenue)),
        (UnitsSold::GROUP_ID.to_string(), AnyView::new(units_sold)),
    ]);
    Model { views, rejected }
}

/// One cart's events: its lines (item, qty, unit cents), whether it was
/// ever created (added to), and whether it checked out.
fn fold_one_cart<'a>(events: impl Iterator<Item = &'a ModelEvent>) -> (Vec<(String, u64, u128)>, bool, bool) {
    let mut lines: Vec<(String, u64, u128)> = Vec::new();
    let (mut created, mut checked_out) = (false, false);
    for event in events {
        match event {
            ModelEvent::Add { item, qty, cents } => {
                created = true;
                match lines.iter().position(|(name, _, _)| name == item) {
                    Some(i) => lines[i].1 = lines[i].1.saturating_add(*qty),
                    None => lines.push((item.clone(), *qty, *cents)),
                }
            }
            ModelEvent::Remove { item } => lines.retain(|(name, _, _)| name != item),
            ModelEvent::Checkout => checked_out = true,
        }
    }
    (lines, created, checked_out)
}

/// The model's reading of one record: its cart and event, or `None` if the
/// record must be rejected (the rules of docs/guide.md, "Which records are
/// rejected").
fn read(record: &HistoryRecord) -> Option<(String, ModelEvent)> {
    const MAX_NAME: usize = 1024;
    if nesting_depth(&record.value) > MAX_NESTING {
        return None;
    }
    let Pairs(raw_pairs) = serde_json::from_str(&record.value).ok()?;
    // Every value must be valid JSON as serde_json reads it (numbers within
    // a double's range, no lone surrogates), the price's text kept.
    let mut pairs = Vec::with_capacity(raw_pairs.len());
    for (name, raw) in &raw_pairs {
        pairs.push((name.clone(), serde_json::from_str::<Value>(raw.get()).ok()?));
    }
    let price_texts: BTreeMap<&str, &str> = raw_pairs
        .iter()
        .filter(|(_, raw)| raw.get().starts_with(|c: char| c == '-' || c.is_ascii_digit()))
        .map(|(name, raw)| (name.as_str(), raw.get()))
        .collect();
    let mut names: Vec<&str> = pairs.iter().map(|(name, _)| name.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return None; // a field named twice
    }
    let object: BTreeMap<&str, &Value> = pairs.iter().map(|(name, value)| (name.as_str(), value)).collect();
    let text = |field: &str| object.get(field)?.as_str().map(str::to_string);
    let cart_id = text("cart_id")?;
    if cart_id.is_empty() || cart_id.len() > MAX_NAME || record.key.as_deref() != Some(cart_id.as_str()) {
        return None;
    }
    let event = match object.get("type")?.as_str()? {
        "AddItem" => {
            let item = text("item").filter(|i| i.len() <= MAX_NAME)?;
            let qty = object.get("qty")?.as_u64().filter(|q| (1..=u64::from(u32::MAX)).contains(q))?;
            let cents = price_in_cents(price_texts.get("price")?)?;
            ModelEvent::Add { item, qty, cents }
        }
        "RemoveItem" => ModelEvent::Remove { item: text("item").filter(|i| i.len() <= MAX_NAME)? },
        "Checkout" => ModelEvent::Checkout,
        _ => return None,
    };
    Some((cart_id, event))
}

/// Deepest nesting of arrays and objects a value may have, the event
/// object included: what a JSON parser with serde_json's default recursion
/// limit (128) reads in one pass.
const MAX_NESTING: usize = 127;

/// How deeply `text` nests arrays and objects, counted on its characters
/// outside strings (the model's own count, not the parser's).
fn nesting_depth(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for byte in text.bytes() {
        match (in_string, escaped, byte) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (true, false, _) => {}
            (false, _, b'"') => in_string = true,
            (false, _, b'[' | b'{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (false, _, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// A JSON number's text as whole cents from 0.00 to 1,000,000.00, or
/// `None`: the decimal point is moved by the exponent, in a string of
/// digits, and what lies right of it must be at most two digits (after
/// dropping zeros). `-0` is zero.
fn price_in_cents(text: &str) -> Option<u128> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], &unsigned[at + 1..]),
        None => (unsigned, "0"),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: String = format!("{whole}{fraction}");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let significant = digits.trim_matches('0');
    if significant.is_empty() {
        return Some(0);
    }
    if unsigned.len() != text.len() {
        return None; // negative and not zero
    }
    // Where the decimal point sits, counted in digits from the left of
    // `digits`. An exponent too long for i64 puts it far out of range.
    let exponent: i64 = exponent.strip_prefix('+').unwrap_or(exponent).parse().ok()?;
    let point = (whole.len() as i64).checked_add(exponent)?;
    // A nonzero price of at most 1,000,000.00 has its point at most 7
    // digits right of its first nonzero digit, and its last nonzero digit
    // at most 2 right of the point: bound the string before building it.
    let leading_zeros = (digits.len() - digits.trim_start_matches('0').len()) as i64;
    let last_nonzero = leading_zeros + significant.len() as i64;
    if point - leading_zeros > 7 || last_nonzero - point > 2 {
        return None;
    }
    let mut shifted = digits.clone();
    if point < 0 {
        shifted.insert_str(0, &"0".repeat(point.unsigned_abs() as usize));
    }
    let point = point.max(0) as usize;
    if shifted.len() < point + 2 {
        shifted.push_str(&"0".repeat(point + 2 - shifted.len()));
    }
    let (left, right) = shifted.split_at(point);
    let (cents_digits, rest) = right.split_at(2);
    if rest.bytes().any(|b| b != b'0') {
        return None;
    }
    let cents: u128 = format!("{left}{cents_digits}").parse().ok()?;
    (cents <= 100_000_000).then_some(cents)
}

/// A JSON object's fields in order, duplicates kept (a `serde_json::Map`
/// would keep only the last), every value read in full.
struct Pairs(Vec<(String, Box<serde_json::value::RawValue>)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Pairs, D::Error> {
        struct PairsVisitor;
        impl<'de> Visitor<'de> for PairsVisitor {
            type Value = Pairs;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<String, Box<serde_json::value::RawValue>>()? {
                    pairs.push(pair);
                }
                Ok(Pairs(pairs))
            }
        }
        deserializer.deserialize_map(PairsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_may_be_1024_bytes_and_no_longer() {
        let record = |cart: &str, item: &str| HistoryRecord {
            key: Some(cart.to_string()),
            value: format!(r#"{{"type":"AddItem","cart_id":"{cart}","item":"{item}","qty":1,"price":1}}"#),
        };
        let (ok, long) = ("c".repeat(1024), "c".repeat(1025));
        assert!(read(&record(&ok, &ok)).is_some());
        assert!(read(&record(&long, "i")).is_none());
        assert!(read(&record("c", &long)).is_none());
    }

    /// JSON number texts of every shape: sign, whole part, fraction,
    /// exponent (small and huge), leading and trailing zeros.
    fn number_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let digits = |range: std::ops::RangeInclusive<usize>| {
            proptest::collection::vec(prop_oneof![3 => Just('0'), 7 => proptest::char::range('0', '9')], range)
        };
        (
            any::<bool>(),
            prop_oneof![
                Just("0".to_string()),
                (proptest::char::range('1', '9'), digits(0..=12))
                    .prop_map(|(d, rest)| std::iter::once(d).chain(rest).collect())
            ],
            proptest::option::of(digits(1..=14).prop_map(|d| d.into_iter().collect::<String>())),
            proptest::option::of((
                prop_oneof![Just('e'), Just('E')],
                prop_oneof![Just(""), Just("+"), Just("-")],
                prop_oneof![0..=30i64, 0..=500i64],
            )),
        )
            .prop_map(|(negative, whole, fraction, exponent)| {
                let mut text = if negative { "-".to_string() } else { String::new() };
                text.push_str(&whole);
                if let Some(fraction) = fraction {
                    text.push('.');
                    text.push_str(&fraction);
                }
                if let Some((e, sign, n)) = exponent {
                    text.push_str(&format!("{e}{sign}{n}"));
                }
                text
            })
    }

    /// The model's price rule and the decoder's (`Cents::from_decimal`)
    /// are independent code; they agree on every number text. 5,000 cases
    /// whatever `PROPTEST_CASES` says (the `proptest!` macro would let the
    /// variable override them): it is cheap.
    #[test]
    fn the_model_and_the_decoder_decide_every_price_alike() {
        use proptest::test_runner::{Config, TestRunner};
        let mut runner = TestRunner::new(Config { cases: 5_000, failure_persistence: None, ..Config::default() });
        runner
            .run(&number_text(), |text| {
                let decoder = Cents::from_decimal(&text).ok().map(|c| c.0);
                proptest::prop_assert_eq!(price_in_cents(&text), decoder, "{}", text);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn only_number_prices_are_read_and_negative_zero_is_zero() {
        let record = |price: &str| HistoryRecord {
            key: Some("c".into()),
            value: format!(r#"{{"type":"AddItem","cart_id":"c","item":"i","qty":1,"price":{price}}}"#),
        };
        assert!(read(&record("-0")).is_some());
        assert!(read(&record("-0.00")).is_some());
        assert!(read(&record(r#""5""#)).is_none());
        assert!(read(&record("-1")).is_none());
    }

    #[test]
    fn prices_are_read_through_their_decimal_text() {
        let cents = price_in_cents;
        assert_eq!(cents("9.99"), Some(999));
        assert_eq!(cents("0.0999E+2"), Some(999));
        assert_eq!(cents("-0.0"), Some(0));
        assert_eq!(cents("1e2"), Some(10_000));
        assert_eq!(cents("100000000e-2"), Some(100_000_000));
        for near in ["9.999999999999999", "19.990000000000002", "9.990000000000000001", "1e-400", "-1e-400"] {
            assert_eq!(cents(near), None, "{near}");
        }
        assert_eq!(cents("1e99999999999999999999"), None);
        // Leading zeros before an exponent, a point left of every digit,
        // zeros after the cents: pinned here, whatever PROPTEST_CASES does
        // to the 5,000-case property above.
        assert_eq!(cents("0.05e6"), Some(5_000_000));
        assert_eq!(cents("1e-2"), Some(1));
        assert_eq!(cents("9.990"), Some(999));
        // Far exponents are decided before any string of that length is built.
        assert_eq!(cents("1e999999999999"), None);
        assert_eq!(cents("1e-999999999999"), None);
        assert_eq!(cents("1000000"), Some(100_000_000));
        assert_eq!(cents("1000000.01"), None);
        assert_eq!(cents("1.005"), None);
        assert_eq!(cents("-2"), None);
        // Whole parts of 37 to 39 digits: too large, never an overflow.
        for huge in ["1e36", "1e37", "3e38", "170141183460469231731687303715884105728", "1e39", "1.7e308"] {
            assert_eq!(cents(huge), None, "{huge}");
        }
    }
}
