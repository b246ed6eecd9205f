//! The cart's projections: folds of the event stream into read models.
//!
//! Each is pure: it sees validated [`DomainEvent`](super::event::DomainEvent)s
//! one at a time and never touches the log. Each has its own file and one
//! registration line in [`super::Cart`]'s `projections`.

mod cart_state;
mod revenue;
mod units_sold;

pub use cart_state::{Cart, CartState, CartStateView, Line};
pub use revenue::{Revenue, RevenueView};
pub use units_sold::{UnitsSold, UnitsSoldView};
