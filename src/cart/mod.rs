//! The shopping-cart domain: one implementation of [`Domain`].
//!
//! Its events ([`event`]), exact money ([`money`]), its projections
//! ([`projection`]: `cart-state`, `revenue`, `units-sold`), the independent
//! reference model ([`model`]), history generators ([`generate`]), the
//! seed's canonical scenario ([`scenario`]) and its text report
//! ([`report`]: also how the command line shows the cart's views).

pub mod event;
pub mod generate;
pub mod model;
pub mod money;
pub mod projection;
pub mod report;
pub mod scenario;

use crate::domain::{BoxedProjection, Domain, Model, Produced, register};
use event::{DecodeError, DomainEvent};

/// The topic cart events go to.
pub const TOPIC: &str = "cart-events";

/// The cart domain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cart;

impl Domain for Cart {
    type Event = DomainEvent;
    type Rejection = DecodeError;

    fn topic(&self) -> &str {
        TOPIC
    }

    fn decode(&self, value: &str) -> Result<DomainEvent, DecodeError> {
        event::parse_event(value)
    }

    fn key<'e>(&self, event: &'e DomainEvent) -> &'e str {
        event.cart_id()
    }

    /// Any JSON object with a string `cart_id`, valid event or not, so that
    /// hand-written files can hold records the projections must reject.
    fn key_of_value(&self, value: &str) -> Result<String, String> {
        // Raw values, borrowed: a long value costs no more than its text.
        // A field named twice keeps its last copy here; decoding rejects it.
        let object: std::collections::BTreeMap<String, &serde_json::value::RawValue> = serde_json::from_str(value)
            .map_err(|e| {
                format!(
                    "not a JSON object ({}); write one event object per line",
                    e.to_string().replace(" at line 1 column ", " at column ")
                )
            })?;
        match object.get("cart_id").map(|raw| serde_json::from_str::<String>(raw.get())) {
            Some(Ok(cart_id)) => Ok(cart_id),
            // A string that does not decode (a lone surrogate escape) is
            // not a missing one: say which.
            Some(Err(e)) if raw_is_string(object["cart_id"]) => Err(format!(
                "\"cart_id\" is a string that does not decode ({}); write it as valid UTF-8 text",
                e.to_string().replace(" at line 1 column ", " at column ")
            )),
            _ => Err("no string \"cart_id\" to key the record by; every event names its cart".into()),
        }
    }

    /// The registered projections: one line each.
    fn projections(&self) -> Vec<BoxedProjection<DomainEvent>> {
        vec![
            register(projection::CartState::new()),
            register(projection::Revenue::new()),
            register(projection::UnitsSold::new()),
        ]
    }

    fn model(&self, produced: &[Produced]) -> Model {
        model::model(produced)
    }
}

/// Whether a raw JSON value is a string (its text starts with a quote).
fn raw_is_string(raw: &serde_json::value::RawValue) -> bool {
    raw.get().starts_with('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_keyed_by_its_string_cart_id_and_a_bad_one_is_named() {
        assert_eq!(Cart.key_of_value(r#"{"cart_id":"c-1","type":"x"}"#), Ok("c-1".to_string()));
        let missing = "no string \"cart_id\" to key the record by; every event names its cart";
        assert_eq!(Cart.key_of_value(r#"{"type":"Checkout"}"#).unwrap_err(), missing);
        assert_eq!(Cart.key_of_value(r#"{"cart_id":7}"#).unwrap_err(), missing);
        let lone = Cart.key_of_value(r#"{"cart_id":"c\ud800"}"#).unwrap_err();
        assert!(lone.starts_with("\"cart_id\" is a string that does not decode ("), "{lone}");
        assert!(lone.ends_with("write it as valid UTF-8 text"), "{lone}");
        assert!(Cart.key_of_value("[1]").unwrap_err().starts_with("not a JSON object ("));
    }
}
