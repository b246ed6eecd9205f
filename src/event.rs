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
//! - has a `price` that is negative, not finite, above 1,000,000.00, or has
//!   more than two decimals (see [`crate::money::Cents::from_price`]);
//! - has an empty `cart_id`, or a `cart_id` or `item` longer than
//!   [`MAX_NAME_BYTES`];
//! - sits under a record key other than its `cart_id` (it would break the
//!   per-cart ordering that keyed routing gives).
//!
//! Unknown extra fields are accepted and ignored, so that producers can add
//! fields without breaking older projections. Item names may be any string,
//! including the empty string.

use crate::money::{Cents, PriceError};
use crate::record::LogRecord;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

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
        serde_json::to_string(self).expect("a CartEvent always serializes")
    }

    /// Checks the domain rules and converts the price to exact cents.
    pub fn validate(self) -> Result<DomainEvent, InvalidEvent> {
        check_name("cart_id", self.cart_id(), false)?;
        Ok(match self {
            CartEvent::AddItem { cart_id, item, qty, price } => {
                check_name("item", &item, true)?;
                if qty == 0 {
                    return Err(InvalidEvent::ZeroQuantity);
                }
                let unit_price = Cents::from_price(price).map_err(InvalidEvent::Price)?;
                DomainEvent::AddItem { cart_id, item, qty, unit_price }
            }
            CartEvent::RemoveItem { cart_id, item } => {
                check_name("item", &item, true)?;
                DomainEvent::RemoveItem { cart_id, item }
            }
            CartEvent::Checkout { cart_id } => DomainEvent::Checkout { cart_id },
        })
    }
}

fn check_name(field: &'static str, value: &str, may_be_empty: bool) -> Result<(), InvalidEvent> {
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
    #[error("record key {key:?} differs from the event's cart_id {cart_id:?}; produce events keyed by cart_id")]
    KeyMismatch { key: Option<String>, cart_id: String },
}

/// Parses and validates a JSON text as one event (no key check).
pub fn parse_event(json: &str) -> Result<DomainEvent, DecodeError> {
    let wire = match parse_flat(json) {
        Some(wire) => wire,
        None => parse_tagged(json)?,
    };
    Ok(wire.validate()?)
}

/// The three event shapes in one flat object, strings borrowed where they
/// hold no escapes: the fast path of [`parse_event`] (serde's internally
/// tagged enums buffer every object into a map of `Content` values before
/// reading it again, which doubled the decoding time).
#[derive(Deserialize)]
struct FlatWire<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    cart_id: Cow<'a, str>,
    #[serde(borrow, default)]
    item: Option<Cow<'a, str>>,
    #[serde(default)]
    qty: Option<u32>,
    #[serde(default)]
    price: Option<f64>,
}

/// The fast path: `Some` only for a JSON object that the tagged enum reads
/// as the same `CartEvent` (a known `type` with every field it needs, of
/// the right type). Anything else (not an object, an error, a missing
/// field, a wrong type, even in a field the variant ignores, a duplicate
/// field) returns `None`, and [`parse_tagged`] decides and classifies it,
/// so accepted values and error messages are exactly the tagged enum's.
fn parse_flat(json: &str) -> Option<CartEvent> {
    if !json.trim_start().starts_with('{') {
        return None;
    }
    let flat: FlatWire = serde_json::from_str(json).ok()?;
    let cart_id = flat.cart_id.into_owned();
    Some(match (&*flat.kind, flat.item, flat.qty, flat.price) {
        ("AddItem", Some(item), Some(qty), Some(price)) => {
            CartEvent::AddItem { cart_id, item: item.into_owned(), qty, price }
        }
        ("RemoveItem", Some(item), _, _) => CartEvent::RemoveItem { cart_id, item: item.into_owned() },
        ("Checkout", _, _, _) => CartEvent::Checkout { cart_id },
        _ => return None,
    })
}

/// The reference path: serde's internally tagged `CartEvent`.
fn parse_tagged(json: &str) -> Result<CartEvent, DecodeError> {
    serde_json::from_str(json).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => DecodeError::NotAnEvent(e.to_string()),
        _ => DecodeError::NotJson(e.to_string()),
    })
}

/// A record that could not be applied, with where it sits in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rejected {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    #[serde(serialize_with = "serialize_display")]
    pub error: DecodeError,
}

fn serialize_display<S: serde::Serializer>(e: &DecodeError, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(e)
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rejected record at topic {} partition {} offset {}: {}. It was counted and not \
             applied; fix the producer that wrote it.",
            self.topic, self.partition, self.offset, self.error
        )
    }
}

/// Decodes one log record into a validated event, checking that it sits
/// under its own cart's key.
pub fn decode(record: &LogRecord) -> Result<DomainEvent, Rejected> {
    let reject =
        |error| Rejected { topic: record.topic.clone(), partition: record.partition, offset: record.offset, error };
    let event = parse_event(&record.value).map_err(reject)?;
    if record.key.as_deref() != Some(event.cart_id()) {
        return Err(reject(DecodeError::KeyMismatch { key: record.key.clone(), cart_id: event.cart_id().to_string() }));
    }
    Ok(event)
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
    fn bad_values_are_classified() {
        assert!(matches!(parse_event("{"), Err(DecodeError::NotJson(_))));
        assert!(matches!(parse_event(r#"{"type":"Pay","cart_id":"c"}"#), Err(DecodeError::NotAnEvent(_))));
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

    #[test]
    fn key_must_be_the_cart_id() {
        let record = LogRecord {
            topic: "cart-events".into(),
            partition: 2,
            offset: 7,
            key: Some("cart-2".into()),
            value: r#"{"type":"Checkout","cart_id":"cart-1"}"#.into(),
        };
        let rejected = decode(&record).unwrap_err();
        assert_eq!((rejected.partition, rejected.offset), (2, 7));
        assert!(matches!(rejected.error, DecodeError::KeyMismatch { .. }));
        assert!(rejected.to_string().contains("partition 2 offset 7"));
    }
}
