//! `revenue`: totals of the carts that checked out.
//!
//! Semantics (the seed's): a cart counts once it has a `Checkout`, with its
//! *current* items, so items added or removed after the checkout change its
//! revenue (the canonical log adds items to carts 1 and 2 after checkout).
//! A second checkout changes nothing. A cart checked out without items
//! counts with $0.00. Carts that never checked out are not listed.

use super::cart_state::CheckedOutCarts;
use crate::cart::event::DomainEvent;
use crate::cart::money::Cents;
use crate::domain::{DurableProjection, Projection};
use serde::Serialize;
use std::collections::BTreeMap;

/// Checked-out carts by id with their current totals, and the sum.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RevenueView {
    pub carts: BTreeMap<String, Cents>,
    pub total_cents: Cents,
}

/// The `revenue` projection: keeps its own item state, independent of
/// `cart-state` (each projection is a separate read model).
#[derive(Clone, Debug, Default)]
pub struct Revenue {
    carts: CheckedOutCarts,
}

impl Revenue {
    pub const GROUP_ID: &'static str = "revenue";

    pub fn new() -> Self {
        Self::default()
    }
}

impl Projection for Revenue {
    type Event = DomainEvent;
    type View = RevenueView;

    fn group_id(&self) -> &str {
        Self::GROUP_ID
    }

    fn apply(&mut self, event: &DomainEvent) {
        self.carts.apply(event);
    }

    fn view(&self) -> RevenueView {
        let carts: BTreeMap<String, Cents> = self
            .carts
            .checked_out()
            .map(|(id, cart)| (id.clone(), cart.map(|c| c.total()).unwrap_or_default()))
            .collect();
        let total_cents = carts.values().copied().sum();
        RevenueView { carts, total_cents }
    }
}

impl DurableProjection for Revenue {
    const STATE_VERSION: u32 = super::cart_state::STATE_VERSION;

    fn save_entry(&self, cart_id: &str) -> Option<String> {
        self.carts.save_entry(cart_id)
    }

    fn load_entry(&mut self, cart_id: &str, state: &str) -> Result<(), String> {
        self.carts.load_entry(cart_id, state)
    }
}
