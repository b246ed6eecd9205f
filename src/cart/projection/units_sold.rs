//! `units-sold`: units sold per item, across the carts that checked out.
//!
//! Semantics, the same as `revenue`'s: a cart counts once it has a
//! `Checkout`, with its *current* lines, so items added after the checkout
//! count and items removed after it no longer do. A second checkout
//! changes nothing. Items are told apart by their exact name (bytes): two
//! names that differ only in case, spaces or Unicode form are two items.
//! An item is listed while at least one checked-out cart holds a line of
//! it. Units are summed in `u128`, so no history can overflow a sum.

use super::cart_state::CheckedOutCarts;
use crate::cart::event::DomainEvent;
use crate::domain::{DurableProjection, Projection};
use serde::Serialize;
use std::collections::BTreeMap;

/// Units per item name, and their sum.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UnitsSoldView {
    pub items: BTreeMap<String, u128>,
    pub total_units: u128,
}

/// The `units-sold` projection: keeps its own item state, like `revenue`.
#[derive(Clone, Debug, Default)]
pub struct UnitsSold {
    carts: CheckedOutCarts,
}

impl UnitsSold {
    pub const GROUP_ID: &'static str = "units-sold";

    pub fn new() -> Self {
        Self::default()
    }
}

impl Projection for UnitsSold {
    type Event = DomainEvent;
    type View = UnitsSoldView;

    fn group_id(&self) -> &str {
        Self::GROUP_ID
    }

    fn apply(&mut self, event: &DomainEvent) {
        self.carts.apply(event);
    }

    fn view(&self) -> UnitsSoldView {
        let mut view = UnitsSoldView::default();
        for cart in self.carts.checked_out().filter_map(|(_, cart)| cart) {
            for line in &cart.lines {
                let units = u128::from(line.qty);
                *view.items.entry(line.item.clone()).or_default() += units;
                view.total_units += units;
            }
        }
        view
    }
}

impl DurableProjection for UnitsSold {
    const STATE_VERSION: u32 = super::cart_state::STATE_VERSION;

    fn save_entry(&self, cart_id: &str) -> Option<String> {
        self.carts.save_entry(cart_id)
    }

    fn load_entry(&mut self, cart_id: &str, state: &str) -> Result<(), String> {
        self.carts.load_entry(cart_id, state)
    }
}
