//! Projections: folds of the event stream into read models (views).
//!
//! A projection is pure: it sees validated [`DomainEvent`]s one at a time and
//! never touches the log. Reading the log, committing offsets and counting
//! rejected records are the runner's job ([`crate::runner`]).

mod cart_state;
mod revenue;

pub use cart_state::{Cart, CartState, CartStateView, Line};
pub use revenue::{Revenue, RevenueView};

use crate::event::DomainEvent;
use serde::Serialize;
use std::fmt::Debug;

/// One read model built from the cart event stream.
pub trait Projection {
    /// The materialized view: deterministic (ordered maps) and comparable.
    type View: Clone + PartialEq + Debug + Serialize;

    /// The consumer group this projection reads with in production.
    fn group_id(&self) -> &str;

    /// Applies one event. Must not panic for any event sequence.
    fn apply(&mut self, event: &DomainEvent);

    /// The current view.
    fn view(&self) -> Self::View;
}

/// Folds events into a fresh projection: the model of a full replay.
pub fn fold<P: Projection>(mut projection: P, events: impl IntoIterator<Item = DomainEvent>) -> P::View {
    for event in events {
        projection.apply(&event);
    }
    projection.view()
}
