//! `units-sold`: units sold per item, across the carts that checked out.
//!
//! Semantics, the same as `revenue`'s: a cart counts once it has a
//! `Checkout`, with its *current* lines, so items added after the checkout
//! count and items removed after it no longer do. A second checkout
//! changes nothing. Items are told apart by their exact name (bytes): two
//! names that differ only in case, spaces or Unicode form are two items.
//! An item is listed while at least one checked-out cart holds a line of
//! it. Units are summed in `u128`, so no history can overflow a sum.

use super::cart_state::Carts;
use crate::cart::event::DomainEvent;
use crate::domain::Projection;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// Units per item name, and their sum.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UnitsSoldView {
    pub items: BTreeMap<String, u128>,
    pub total_units: u128,
}

/// The `units-sold` projection: keeps its own item state, like `revenue`.
#[derive(Clone, Debug, Default)]
pub struct UnitsSold {
    items: Carts,
    checked_out: HashSet<String, foldhash::fast::RandomState>,
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
        match event {
            DomainEvent::Checkout { cart_id } => {
                if !self.checked_out.contains(cart_id.as_str()) {
                    self.checked_out.insert(cart_id.clone());
                }
            }
            _ => self.items.apply_items(event),
        }
    }

    fn view(&self) -> UnitsSoldView {
        let mut view = UnitsSoldView::default();
        for cart in self.checked_out.iter().filter_map(|id| self.items.get(id)) {
            for line in &cart.lines {
                let units = u128::from(line.qty);
                *view.items.entry(line.item.clone()).or_default() += units;
                view.total_units += units;
            }
        }
        view
    }
}
