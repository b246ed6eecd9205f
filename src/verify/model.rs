//! The model: a plain, independent fold of the produced history.
//!
//! It shares no fold code with the projections: it groups the history by
//! cart and walks each cart's own events in order, which is the seed's
//! semantics stated as directly as possible. A bug planted in a projection
//! (last price kept, removals ignored, ...) makes the two disagree.

use super::execute::HistoryRecord;
use crate::event::{DomainEvent, parse_event};
use crate::money::Cents;
use crate::projection::{Cart, CartStateView, Line, RevenueView};
use crate::record::Position;
use std::collections::BTreeMap;

/// What the model says the views are.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub cart_state: CartStateView,
    pub revenue: RevenueView,
    /// Positions of records that are not valid events under their key.
    pub rejected: Vec<Position>,
    /// Each cart's valid records, in produced order.
    pub per_cart: BTreeMap<String, Vec<Position>>,
}

/// Folds the produced history into the model.
pub fn model(produced: &[(Position, HistoryRecord)]) -> Model {
    let mut per_cart: BTreeMap<String, Vec<(Position, DomainEvent)>> = BTreeMap::new();
    let mut rejected = Vec::new();
    for (position, record) in produced {
        match parse_event(&record.value) {
            Ok(event) if record.key.as_deref() == Some(event.cart_id()) => {
                per_cart.entry(event.cart_id().to_string()).or_default().push((*position, event));
            }
            _ => rejected.push(*position),
        }
    }
    let mut cart_state = CartStateView::default();
    let mut revenue = RevenueView::default();
    for (cart_id, events) in &per_cart {
        let (cart, checked_out) = fold_one_cart(events.iter().map(|(_, e)| e));
        if checked_out {
            let total = cart.as_ref().map(Cart::total).unwrap_or(Cents::ZERO);
            revenue.carts.insert(cart_id.clone(), total);
            revenue.total_cents = revenue.total_cents + total;
        }
        if let Some(cart) = cart {
            cart_state.carts.insert(cart_id.clone(), cart);
        }
    }
    let per_cart =
        per_cart.into_iter().map(|(id, events)| (id, events.into_iter().map(|(p, _)| p).collect())).collect();
    Model { cart_state, revenue, rejected, per_cart }
}

/// One cart's events: its cart (if ever added to) and whether it checked out.
fn fold_one_cart<'a>(events: impl Iterator<Item = &'a DomainEvent>) -> (Option<Cart>, bool) {
    let mut cart: Option<Cart> = None;
    let mut checked_out = false;
    for event in events {
        match event {
            DomainEvent::AddItem { item, qty, unit_price, .. } => {
                let lines = &mut cart.get_or_insert_with(Cart::default).lines;
                let existing = lines.iter().position(|l| &l.item == item);
                match existing {
                    Some(i) => lines[i].qty = lines[i].qty.saturating_add(u64::from(*qty)),
                    None => lines.push(Line { item: item.clone(), qty: u64::from(*qty), unit_price: *unit_price }),
                }
            }
            DomainEvent::RemoveItem { item, .. } => {
                if let Some(cart) = cart.as_mut() {
                    cart.lines.retain(|l| &l.item != item);
                }
            }
            DomainEvent::Checkout { .. } => checked_out = true,
        }
    }
    (cart, checked_out)
}
