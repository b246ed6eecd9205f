//! The shopping-cart domain: one implementation of [`Domain`].
//!
//! Its events ([`event`]), exact money ([`money`]), its projections
//! ([`projection`]: `cart-state`, `revenue`, `units-sold`), the independent
//! reference model ([`model`]), history generators ([`generate`]), the
//! seed's canonical scenario ([`scenario`]), its text report
//! ([`report`]), `replay`'s reports ([`replay_report`]) and the `soak`
//! command's campaign ([`soak`]).

pub mod event;
pub mod generate;
pub mod model;
pub mod money;
pub mod projection;
pub mod replay_report;
pub mod report;
pub mod scenario;
pub mod soak;

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
