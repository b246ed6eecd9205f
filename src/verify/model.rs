//! The model: a plain, independent fold of the produced history.
//!
//! It shares no code with what it checks: it validates records with its own
//! reading of the rules (on `serde_json::Value`, with prices converted to
//! cents through their decimal text rather than by arithmetic), groups the
//! history by cart, walks each cart's own events in order, and sums money
//! with plain `u128` arithmetic. Only the view types are shared, so that
//! the two can be compared. A bug planted in validation, in money or in a
//! projection (last price kept, removals ignored, ...) makes them disagree.

use super::execute::HistoryRecord;
use crate::money::Cents;
use crate::projection::{Cart, CartStateView, Line, RevenueView};
use crate::record::Position;
use serde_json::Value;
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

/// One valid event as the model reads it.
enum ModelEvent {
    Add { item: String, qty: u64, cents: u128 },
    Remove { item: String },
    Checkout,
}

/// Folds the produced history into the model.
pub fn model(produced: &[(Position, HistoryRecord)]) -> Model {
    let mut per_cart: BTreeMap<String, Vec<(Position, ModelEvent)>> = BTreeMap::new();
    let mut rejected = Vec::new();
    for (position, record) in produced {
        match read(record) {
            Some((cart_id, event)) => per_cart.entry(cart_id).or_default().push((*position, event)),
            None => rejected.push(*position),
        }
    }
    let mut cart_state = CartStateView::default();
    let mut revenue = RevenueView::default();
    for (cart_id, events) in &per_cart {
        let (lines, created, checked_out) = fold_one_cart(events.iter().map(|(_, e)| e));
        if checked_out {
            let total: u128 = lines.iter().map(|(_, qty, cents)| u128::from(*qty).saturating_mul(*cents)).sum();
            revenue.carts.insert(cart_id.clone(), Cents(total));
            revenue.total_cents = Cents(revenue.total_cents.0 + total);
        }
        if created {
            let lines =
                lines.into_iter().map(|(item, qty, cents)| Line { item, qty, unit_price: Cents(cents) }).collect();
            cart_state.carts.insert(cart_id.clone(), Cart { lines });
        }
    }
    let per_cart =
        per_cart.into_iter().map(|(id, events)| (id, events.into_iter().map(|(p, _)| p).collect())).collect();
    Model { cart_state, revenue, rejected, per_cart }
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
/// record must be rejected (the rules of README "Which records are rejected").
fn read(record: &HistoryRecord) -> Option<(String, ModelEvent)> {
    const MAX_NAME: usize = 1024;
    let value: Value = serde_json::from_str(&record.value).ok()?;
    let object = value.as_object()?;
    let text = |field: &str| object.get(field)?.as_str().map(str::to_string);
    let cart_id = text("cart_id")?;
    if cart_id.is_empty() || cart_id.len() > MAX_NAME || record.key.as_deref() != Some(cart_id.as_str()) {
        return None;
    }
    let event = match object.get("type")?.as_str()? {
        "AddItem" => {
            let item = text("item").filter(|i| i.len() <= MAX_NAME)?;
            let qty = object.get("qty")?.as_u64().filter(|q| (1..=u64::from(u32::MAX)).contains(q))?;
            let cents = price_in_cents(object.get("price")?)?;
            ModelEvent::Add { item, qty, cents }
        }
        "RemoveItem" => ModelEvent::Remove { item: text("item").filter(|i| i.len() <= MAX_NAME)? },
        "Checkout" => ModelEvent::Checkout,
        _ => return None,
    };
    Some((cart_id, event))
}

/// A JSON price in cents through its shortest decimal text: whole cents
/// from 0.00 to 1,000,000.00, or `None`.
fn price_in_cents(price: &Value) -> Option<u128> {
    let number = price.as_f64()?;
    if number == 0.0 {
        return Some(0);
    }
    // Rust prints an f64 as the shortest decimal that reads back to it,
    // without an exponent: "9.99", "0.1", "1000000".
    let text = format!("{number}");
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    if whole.starts_with('-') || fraction.len() > 2 {
        return None;
    }
    let cents = whole.parse::<u128>().ok()? * 100 + format!("{fraction:0<2}").parse::<u128>().ok()?;
    (cents <= 100_000_000).then_some(cents)
}
