//! The cart's domain events: the seed's wire type, its validated form, and
//! decoding a log record into an event (fallible, with the record's position).
//!
//! # Which records are rejected
//! A record is *rejected* (counted and reported with its topic, partition
//! and offset, never applied, never a panic) when its value:
//! - is not JSON, or is JSON but not one of the three event shapes
//!   (unknown `type`, a missing field, a field of the wrong type, a `qty`
//!   that is not a whole number in `0..=4294967295`);
//! - has `qty` 0;
//! - has a `price` that is not a number, is negative, is above
//!   1,000,000.00, or has more than two decimals, decided exactly on the
//!   number's decimal text (see [`crate::cart::money::Cents::from_decimal`]:
//!   `9.990000000000000001` and `1e-400` are rejected, `-0` and `1e2` are
//!   not);
//! - has an empty `cart_id`, or a `cart_id` or `item` longer than
//!   [`MAX_NAME_BYTES`];
//! - is not one valid JSON text as a whole (a lone surrogate escape or a
//!   number out of range anywhere, even in a field no event reads), or
//!   names a field twice;
//! - sits under a record key other than its `cart_id` (checked by the
//!   harness for every domain: [`crate::domain::decode_record`]).
//!
//! Unknown extra fields are accepted and ignored, so that producers can add
//! fields without breaking older projections. Item names may be any string,
//! including the empty string.

use super::money::{Cents, PriceError};
use serde::{Deserialize, Serialize};

/// Longest accepted `cart_id` or `item`, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;

/// The wire format, exactly as in the seed: `#[serde(tag = "type")]`, so
/// `{"type":"AddItem","cart_id":"cart-1","item":"Widget","qty":2,"price":9.99}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum CartEvent {
    AddItem { cart_id: String, item: String, qty: u32, price: f64 },
    RemoveItem { cart_id: String, item: String },
    Checkout { cart_id: String },
}

impl CartEvent {
    /// The cart this event belongs to: also the record key.
    pub fn cart_id(&self) -> &str {
        match self {
            CartEvent::AddItem { cart_id, .. }
            | CartEvent::RemoveItem { cart_id, .. }
            | CartEvent::Checkout { cart_id } => cart_id,
        }
    }

    /// The wire JSON of this event (the seed's exact bytes).
    pub fn to_json(&self) -> String {
        // Strings, integers and finite floats always serialize; a non-finite
        // price (never produced from a validated event) is written as null.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Checks the domain rules and converts the price to exact cents, for
    /// an event built in code. The price is decided on the shortest decimal
    /// text of its `f64` (what [`CartEvent::to_json`] writes), which is
    /// exact for a double meant as a price; a record read from a log is
    /// decided on its own text instead ([`parse_event`]).
    pub fn validate(self) -> Result<DomainEvent, InvalidEvent> {
        match self {
            CartEvent::AddItem { cart_id, item, qty, price } => {
                // A non-finite double is written as `null`: not a number.
                let text = serde_json::to_string(&price).unwrap_or_default();
                validate_add(cart_id, item, qty, &text)
            }
            CartEvent::RemoveItem { cart_id, item } => {
                check_name("cart_id", &cart_id, false)?;
                check_name("item", &item, true)?;
                Ok(DomainEvent::RemoveItem { cart_id, item })
            }
            CartEvent::Checkout { cart_id } => {
                check_name("cart_id", &cart_id, false)?;
                Ok(DomainEvent::Checkout { cart_id })
            }
        }
    }
}

/// The rules of an `AddItem`, in order: its names, its quantity, then its
/// price, given as the decimal text of a JSON number.
pub fn validate_add(cart_id: String, item: String, qty: u32, price: &str) -> Result<DomainEvent, InvalidEvent> {
    check_name("cart_id", &cart_id, false)?;
    check_name("item", &item, true)?;
    if qty == 0 {
        return Err(InvalidEvent::ZeroQuantity);
    }
    let unit_price = Cents::from_decimal(price).map_err(InvalidEvent::Price)?;
    Ok(DomainEvent::AddItem { cart_id, item, qty, unit_price })
}

pub fn check_name(field: &'static str, value: &str, may_be_empty: bool) -> Result<(), InvalidEvent> {
    if value.is_empty() && !may_be_empty {
        return Err(InvalidEvent::EmptyName { field });
    }
    if value.len() > MAX_NAME_BYTES {
        return Err(InvalidEvent::NameTooLong { field, bytes: value.len() });
    }
    Ok(())
}

/// A validated event: what projections apply. Prices are exact cents.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DomainEvent {
    AddItem { cart_id: String, item: String, qty: u32, unit_price: Cents },
    RemoveItem { cart_id: String, item: String },
    Checkout { cart_id: String },
}

impl DomainEvent {
    pub fn cart_id(&self) -> &str {
        match self {
            DomainEvent::AddItem { cart_id, .. }
            | DomainEvent::RemoveItem { cart_id, .. }
            | DomainEvent::Checkout { cart_id } => cart_id,
        }
    }

    /// The wire form. `validate(to_wire(e)) == e` for every valid event.
    pub fn to_wire(&self) -> CartEvent {
        match self.clone() {
            DomainEvent::AddItem { cart_id, item, qty, unit_price } => {
                CartEvent::AddItem { cart_id, item, qty, price: unit_price.to_price() }
            }
            DomainEvent::RemoveItem { cart_id, item } => CartEvent::RemoveItem { cart_id, item },
            DomainEvent::Checkout { cart_id } => CartEvent::Checkout { cart_id },
        }
    }
}

/// Why a well-formed wire event breaks a domain rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEvent {
    #[error("qty is 0; an AddItem adds at least one unit")]
    ZeroQuantity,
    #[error(transparent)]
    Price(PriceError),
    #[error("{field} is empty; every event names its cart")]
    EmptyName { field: &'static str },
    #[error("{field} is {bytes} bytes long; the limit is {MAX_NAME_BYTES}")]
    NameTooLong { field: &'static str, bytes: usize },
}

/// Why a record's value is not an event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error(
        "value is not JSON ({0}); expected one event object such as {{\"type\":\"Checkout\",\"cart_id\":\"cart-1\"}}"
    )]
    NotJson(String),
    #[error("value is not a cart event ({0}); expected type AddItem, RemoveItem or Checkout with their fields")]
    NotAnEvent(String),
    #[error(transparent)]
    Invalid(#[from] InvalidEvent),
}

/// Parses and validates a JSON text as one event (the key is the
/// harness's business: [`crate::domain::decode_record`]).
///
/// The value must be one valid JSON text as a whole (no lone surrogate
/// escapes, no number out of range, even in fields no event reads) and an
/// object that names no field twice (a duplicated field, read or not, is
/// ambiguous: readers disagree on which copy wins). Then it must be one of
/// the three event shapes of the seed's tagged enum: a known `type` with
/// every field its variant needs, of the right type; fields the variant
/// does not read are ignored, whatever their type.
pub fn parse_event(json: &str) -> Result<DomainEvent, DecodeError> {
    // serde_json says "at line 1 column 33"; a value is read on its own, so
    // for a one-line value only the column means something (the record may
    // sit on line 36 of a file).
    let located = |e: serde_json::Error| {
        let text = e.to_string();
        if json.contains('\n') { text } else { text.replace(" at line 1 column ", " at column ") }
    };
    let fields: wire::Fields = serde_json::from_str(json).map_err(|e| match e.classify() {
        // The pass stops at the first data error (a duplicated field, not an
        // object); the text may still be invalid JSON further on, and that
        // is what it is first.
        serde_json::error::Category::Data => match wire::check_json(json) {
            Ok(()) => DecodeError::NotAnEvent(located(e)),
            Err(not_json) => DecodeError::NotJson(located(not_json)),
        },
        _ => DecodeError::NotJson(located(e)),
    })?;
    let event = fields.into_event().map_err(DecodeError::NotAnEvent)?;
    Ok(event?)
}

/// The decoder's single pass over a value: one borrowing visitor that
/// reads the five fields events use, validates everything else, and
/// refuses duplicated fields.
mod wire {
    use super::{CartEvent, DomainEvent, InvalidEvent};
    use crate::text::quoted_excerpt;
    use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde_json::value::RawValue;
    use std::borrow::Cow;
    use std::collections::HashSet;
    use std::fmt;

    /// Longest excerpt of input quoted in a message.
    const EXCERPT_CHARS: usize = 64;

    /// A top-level field's value, as much as the decoder needs of it.
    #[derive(Debug)]
    pub(super) enum Scalar<'a> {
        Str(Cow<'a, str>),
        Unsigned(u64),
        Negative(i64),
        Float(f64),
        /// null, a boolean, an array or an object (validated, then dropped).
        Other(&'static str),
    }

    impl Scalar<'_> {
        fn describe(&self) -> String {
            match self {
                Scalar::Str(s) => format!("the string {}", quoted_excerpt(s, EXCERPT_CHARS)),
                Scalar::Unsigned(n) => format!("the number {n}"),
                Scalar::Negative(n) => format!("the number {n}"),
                // Past 2^53 the parser's f64 has rounded the text's digits
                // (18446744073709551616 reads as 18446744073709552000):
                // say so rather than echo digits that were not written.
                Scalar::Float(x) if x.abs() >= 9_007_199_254_740_992.0 => format!("a number of about {x:e}"),
                // `{x}` writes every digit of 1e-300; beyond 32 characters
                // the scientific form is as exact and short.
                Scalar::Float(x) if x.to_string().len() > 32 => format!("the number {x:e}"),
                Scalar::Float(x) => format!("the number {x}"),
                Scalar::Other(kind) => (*kind).to_string(),
            }
        }
    }

    /// The fields events read, each at most once.
    #[derive(Debug, Default)]
    pub(super) struct Fields<'a> {
        kind: Option<Scalar<'a>>,
        cart_id: Option<Scalar<'a>>,
        item: Option<Scalar<'a>>,
        qty: Option<Scalar<'a>>,
        price: Option<PriceField<'a>>,
    }

    /// The `price` field: a number, kept as its text so that the price rule
    /// is decided exactly, or any other value.
    #[derive(Debug)]
    pub(super) enum PriceField<'a> {
        Number(&'a str),
        Other(Scalar<'a>),
    }

    impl<'de> Deserialize<'de> for PriceField<'de> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let raw = <&'de RawValue>::deserialize(deserializer)?;
            let text: &'de str = raw.get().trim_matches([' ', '\t', '\n', '\r']);
            if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
                // Out of a double's range is not JSON here, as in every
                // other field (serde_json's rule); the text is still what
                // decides the price.
                return match text.parse::<f64>() {
                    Ok(x) if x.is_finite() => Ok(PriceField::Number(text)),
                    _ => Err(de::Error::custom("number out of range")),
                };
            }
            serde_json::from_str::<Scalar<'de>>(text).map(PriceField::Other).map_err(de::Error::custom)
        }
    }

    fn take_string(name: &str, field: Option<Scalar<'_>>) -> Result<String, String> {
        match field {
            Some(Scalar::Str(s)) => Ok(s.into_owned()),
            Some(other) => Err(format!("field `{name}` is {}, expected a string", other.describe())),
            None => Err(format!("missing field `{name}`")),
        }
    }

    impl Fields<'_> {
        /// The event these fields spell, as serde's tagged enum reads it,
        /// then validated; the outer error says it is no event at all.
        pub(super) fn into_event(self) -> Result<Result<DomainEvent, InvalidEvent>, String> {
            let kind = take_string("type", self.kind)?;
            let variant = match kind.as_str() {
                "AddItem" | "RemoveItem" | "Checkout" => kind.as_str(),
                other => {
                    return Err(format!(
                        "field `type` is {}, expected AddItem, RemoveItem or Checkout",
                        quoted_excerpt(other, EXCERPT_CHARS)
                    ));
                }
            };
            let cart_id = take_string("cart_id", self.cart_id)?;
            Ok(match variant {
                "Checkout" => CartEvent::Checkout { cart_id }.validate(),
                "RemoveItem" => CartEvent::RemoveItem { cart_id, item: take_string("item", self.item)? }.validate(),
                _ => {
                    let item = take_string("item", self.item)?;
                    let qty = match self.qty {
                        Some(Scalar::Unsigned(n)) if n <= u64::from(u32::MAX) => n as u32,
                        Some(other) => {
                            return Err(format!(
                                "field `qty` is {}, expected a whole number from 0 to {}",
                                other.describe(),
                                u32::MAX
                            ));
                        }
                        None => return Err("missing field `qty`".into()),
                    };
                    let price = match self.price {
                        Some(PriceField::Number(text)) => text,
                        Some(PriceField::Other(other)) => {
                            return Err(format!("field `price` is {}, expected a number", other.describe()));
                        }
                        None => return Err("missing field `price`".into()),
                    };
                    super::validate_add(cart_id, item, qty, price)
                }
            })
        }
    }

    impl<'de> Deserialize<'de> for Fields<'de> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_map(FieldsVisitor)
        }
    }

    struct FieldsVisitor;

    impl<'de> Visitor<'de> for FieldsVisitor {
        type Value = Fields<'de>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
            let mut fields = Fields::default();
            let mut others: HashSet<Cow<'de, str>> = HashSet::new();
            while let Some(Key(key)) = map.next_key::<Key>()? {
                let slot = match &*key {
                    "type" => Some(&mut fields.kind),
                    "cart_id" => Some(&mut fields.cart_id),
                    "item" => Some(&mut fields.item),
                    "qty" => Some(&mut fields.qty),
                    "price" => {
                        if fields.price.is_some() {
                            return Err(de::Error::custom(format_args!(
                                "duplicate field {}",
                                quoted_excerpt("price", EXCERPT_CHARS)
                            )));
                        }
                        fields.price = Some(map.next_value::<PriceField>()?);
                        continue;
                    }
                    _ => None,
                };
                let duplicate =
                    || de::Error::custom(format_args!("duplicate field {}", quoted_excerpt(&key, EXCERPT_CHARS)));
                match slot {
                    Some(slot) if slot.is_some() => return Err(duplicate()),
                    Some(slot) => *slot = Some(map.next_value::<Scalar>()?),
                    None => {
                        if others.contains(&key) {
                            return Err(duplicate());
                        }
                        map.next_value::<Validated>()?;
                        others.insert(key);
                    }
                }
            }
            Ok(fields)
        }
    }

    /// A field name, borrowed from the input when it holds no escapes.
    struct Key<'a>(Cow<'a, str>);

    impl<'de> Deserialize<'de> for Key<'de> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_str(KeyVisitor)
        }
    }

    struct KeyVisitor;

    impl<'de> Visitor<'de> for KeyVisitor {
        type Value = Key<'de>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a field name")
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
            Ok(Key(Cow::Borrowed(v)))
        }
        fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
            Ok(Key(Cow::Owned(v.to_string())))
        }
    }

    impl<'de> Deserialize<'de> for Scalar<'de> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(ScalarVisitor)
        }
    }

    struct ScalarVisitor;

    impl<'de> Visitor<'de> for ScalarVisitor {
        type Value = Scalar<'de>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'de>, E> {
            Ok(Scalar::Str(Cow::Borrowed(v)))
        }
        fn visit_str<E>(self, v: &str) -> Result<Scalar<'de>, E> {
            Ok(Scalar::Str(Cow::Owned(v.to_string())))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Scalar<'de>, E> {
            Ok(Scalar::Unsigned(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Scalar<'de>, E> {
            Ok(if v >= 0 { Scalar::Unsigned(v as u64) } else { Scalar::Negative(v) })
        }
        fn visit_f64<E>(self, v: f64) -> Result<Scalar<'de>, E> {
            Ok(Scalar::Float(v))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Scalar<'de>, E> {
            Ok(Scalar::Other("a boolean"))
        }
        fn visit_unit<E>(self) -> Result<Scalar<'de>, E> {
            Ok(Scalar::Other("null"))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar<'de>, A::Error> {
            ValidatedVisitor.visit_seq(seq)?;
            Ok(Scalar::Other("an array"))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar<'de>, A::Error> {
            ValidatedVisitor.visit_map(map)?;
            Ok(Scalar::Other("an object"))
        }
    }

    /// Whether `json` is one valid JSON text as a whole (slow path: only
    /// on errors).
    pub(super) fn check_json(json: &str) -> Result<(), serde_json::Error> {
        serde_json::from_str::<Validated>(json).map(|_| ())
    }

    /// Any JSON value, read in full (so that every string escape and every
    /// number is checked) and dropped.
    struct Validated;

    impl<'de> Deserialize<'de> for Validated {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(ValidatedVisitor)
        }
    }

    struct ValidatedVisitor;

    impl<'de> Visitor<'de> for ValidatedVisitor {
        type Value = Validated;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_str<E>(self, _: &str) -> Result<Validated, E> {
            Ok(Validated)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Validated, E> {
            Ok(Validated)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Validated, E> {
            Ok(Validated)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Validated, E> {
            Ok(Validated)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Validated, E> {
            Ok(Validated)
        }
        fn visit_unit<E>(self) -> Result<Validated, E> {
            Ok(Validated)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Validated, A::Error> {
            while seq.next_element::<Validated>()?.is_some() {}
            Ok(Validated)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Validated, A::Error> {
            while map.next_entry::<Validated, Validated>()?.is_some() {}
            Ok(Validated)
        }
    }
}

/// The wire JSON of `event` under its own key: how the cart produces it.
pub fn encode(event: &DomainEvent) -> crate::domain::HistoryRecord {
    crate::domain::HistoryRecord { key: Some(event.cart_id().to_string()), value: event.to_wire().to_json() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_is_the_seeds() {
        let e = CartEvent::AddItem { cart_id: "cart-1".into(), item: "Widget".into(), qty: 2, price: 9.99 };
        assert_eq!(e.to_json(), r#"{"type":"AddItem","cart_id":"cart-1","item":"Widget","qty":2,"price":9.99}"#);
    }

    #[test]
    fn names_may_be_1024_bytes_and_no_longer() {
        let add = |cart: &str, item: &str| {
            parse_event(&format!(r#"{{"type":"AddItem","cart_id":"{cart}","item":"{item}","qty":1,"price":1}}"#))
        };
        let (ok, long) = ("c".repeat(MAX_NAME_BYTES), "c".repeat(MAX_NAME_BYTES + 1));
        assert!(add(&ok, &ok).is_ok());
        assert_eq!(
            add(&long, "i"),
            Err(DecodeError::Invalid(InvalidEvent::NameTooLong { field: "cart_id", bytes: MAX_NAME_BYTES + 1 }))
        );
        assert_eq!(
            add("c", &long),
            Err(DecodeError::Invalid(InvalidEvent::NameTooLong { field: "item", bytes: MAX_NAME_BYTES + 1 }))
        );
    }

    #[test]
    fn messages_say_what_was_found_and_what_was_expected() {
        let message = |json: &str| match parse_event(json) {
            Err(DecodeError::NotAnEvent(m)) => m,
            other => panic!("{json}: {other:?}"),
        };
        assert_eq!(
            message(r#"{"type":"AddItem","cart_id":"c","item":"i","qty":"5","price":1}"#),
            "field `qty` is the string \"5\", expected a whole number from 0 to 4294967295"
        );
        assert_eq!(
            message(r#"{"type":"AddItem","cart_id":"c","item":"i","qty":-3,"price":1}"#),
            "field `qty` is the number -3, expected a whole number from 0 to 4294967295"
        );
        assert_eq!(
            message(r#"{"type":"AddItem","cart_id":"c","item":"i","qty":1,"price":[1]}"#),
            "field `price` is an array, expected a number"
        );
        assert_eq!(
            message(r#"{"type":"Checkout","cart_id":2.5}"#),
            "field `cart_id` is the number 2.5, expected a string"
        );
        assert_eq!(
            message(r#"{"type":"AddItem","cart_id":"c","item":"i","qty":18446744073709551616,"price":1}"#),
            "field `qty` is a number of about 1.8446744073709552e19, expected a whole number from 0 to 4294967295"
        );
        assert_eq!(
            message(r#"{"type":"Checkout","cart_id":4294967296.5}"#),
            "field `cart_id` is the number 4294967296.5, expected a string"
        );
        assert_eq!(
            message(r#"{"type":"Checkout","cart_id":1e-300}"#),
            "field `cart_id` is the number 1e-300, expected a string"
        );
        assert_eq!(message(r#"{"type":"Checkout","cart_id":null}"#), "field `cart_id` is null, expected a string");
        assert_eq!(
            message(r#"{"type":"\u001b[2J","cart_id":"c"}"#),
            "field `type` is \"\\u{1b}[2J\", expected AddItem, RemoveItem or Checkout"
        );
        assert!(message("[1]").starts_with("invalid type: sequence, expected a JSON object"), "{}", message("[1]"));
    }

    #[test]
    fn bad_values_are_classified() {
        assert!(matches!(parse_event("{"), Err(DecodeError::NotJson(_))));
        assert!(matches!(parse_event(r#"{"type":"Pay","cart_id":"c"}"#), Err(DecodeError::NotAnEvent(_))));
        assert!(
            matches!(parse_event(r#"{"type":"Checkout","cart_id":"a","cart_id":"b"}"#), Err(DecodeError::NotAnEvent(m)) if m.contains("duplicate field \"cart_id\""))
        );
        assert!(matches!(
            parse_event(r#"{"type":"Checkout","cart_id":"a","n":1,"n":2}"#),
            Err(DecodeError::NotAnEvent(_))
        ));
        assert!(matches!(
            parse_event(r#"{"type":"Checkout","cart_id":"a","n":"\ud800"}"#),
            Err(DecodeError::NotJson(_))
        ));
        assert!(matches!(
            parse_event(r#"{"type":"Checkout","cart_id":"a","n":[1e999]}"#),
            Err(DecodeError::NotJson(_))
        ));
        assert_eq!(
            parse_event(r#"{"type":"Checkout","cart_id":"a","qty":"x","n":{"m":[null,true]}}"#),
            Ok(DomainEvent::Checkout { cart_id: "a".into() })
        );
        assert!(matches!(
            parse_event(r#"{"type":"AddItem","cart_id":"c","item":"i","qty":-1,"price":1}"#),
            Err(DecodeError::NotAnEvent(_))
        ));
        assert_eq!(
            parse_event(r#"{"type":"AddItem","cart_id":"c","item":"i","qty":0,"price":1}"#),
            Err(DecodeError::Invalid(InvalidEvent::ZeroQuantity))
        );
        assert!(matches!(
            parse_event(r#"{"type":"AddItem","cart_id":"c","item":"i","qty":1,"price":1.001}"#),
            Err(DecodeError::Invalid(InvalidEvent::Price(PriceError::FractionalCents(_))))
        ));
        assert_eq!(
            parse_event(r#"{"type":"Checkout","cart_id":""}"#),
            Err(DecodeError::Invalid(InvalidEvent::EmptyName { field: "cart_id" }))
        );
    }
}
