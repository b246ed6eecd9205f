//! `cart-state`: the current contents of every cart.
//!
//! Semantics (the seed's, see "Cart semantics" in docs/guide.md):
//! - `AddItem` creates the cart on its first add. An item already in the cart
//!   gets its `qty` added and keeps the unit price it was first added at; a
//!   new item is appended, so lines stay in the order first added.
//! - `RemoveItem` drops the whole line. On an unknown cart or item it changes
//!   nothing and creates nothing. A cart whose lines are all removed stays,
//!   with 0 items.
//! - `Checkout` changes no items and creates no cart.
//!
//! Quantities accumulate in `u64` and saturate at `u64::MAX`; reaching it
//! takes more than four billion maximal `AddItem`s of one item.

use crate::cart::event::DomainEvent;
use crate::cart::money::Cents;
use crate::domain::{DurableProjection, Projection};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, HashMap};

/// Per-map random seeds (like std's), with a much cheaper hash than
/// SipHash: cart ids come from the log, so the seed keeps crafted
/// colliding ids from being computed offline.
type Seeded = foldhash::fast::RandomState;

/// One line of a cart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub item: String,
    pub qty: u64,
    pub unit_price: Cents,
}

impl Line {
    pub fn total(&self) -> Cents {
        self.unit_price.times(self.qty)
    }
}

/// One cart: its lines in the order first added.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cart {
    pub lines: Vec<Line>,
}

impl Cart {
    /// Number of lines ("7 items" in the seed counts lines, not units).
    pub fn item_count(&self) -> usize {
        self.lines.len()
    }

    pub fn total(&self) -> Cents {
        self.lines.iter().map(Line::total).sum()
    }

    fn add(&mut self, item: &str, qty: u32, unit_price: Cents) {
        // Linear scan: carts hold few lines, and a Vec keeps first-added order.
        match self.lines.iter_mut().find(|line| line.item == item) {
            Some(line) => line.qty = line.qty.saturating_add(u64::from(qty)),
            None => self.lines.push(Line { item: item.to_string(), qty: u64::from(qty), unit_price }),
        }
    }

    fn remove(&mut self, item: &str) {
        self.lines.retain(|line| line.item != item);
    }
}

/// Carts by id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct CartStateView {
    pub carts: BTreeMap<String, Cart>,
}

/// The working store of both projections: carts by id in a hash map, so
/// that applying an event costs one hash instead of a dozen string
/// comparisons down a B-tree. Views sort it ([`Carts::to_view`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct Carts {
    by_id: HashMap<String, Cart, Seeded>,
}

impl Carts {
    /// Applies the item-changing part of an event (shared with `revenue`).
    pub(crate) fn apply_items(&mut self, event: &DomainEvent) {
        match event {
            DomainEvent::AddItem { cart_id, item, qty, unit_price } => {
                // `get_mut` first: no key allocation for an existing cart.
                match self.by_id.get_mut(cart_id.as_str()) {
                    Some(cart) => cart.add(item, *qty, *unit_price),
                    None => {
                        let mut cart = Cart::default();
                        cart.add(item, *qty, *unit_price);
                        self.by_id.insert(cart_id.clone(), cart);
                    }
                }
            }
            DomainEvent::RemoveItem { cart_id, item } => {
                if let Some(cart) = self.by_id.get_mut(cart_id.as_str()) {
                    cart.remove(item);
                }
            }
            DomainEvent::Checkout { .. } => {}
        }
    }

    pub(crate) fn get(&self, cart_id: &str) -> Option<&Cart> {
        self.by_id.get(cart_id)
    }

    pub(crate) fn insert(&mut self, cart_id: &str, cart: Cart) {
        self.by_id.insert(cart_id.to_string(), cart);
    }

    /// Carts by id, sorted.
    pub(crate) fn to_view(&self) -> CartStateView {
        CartStateView { carts: self.by_id.iter().map(|(id, cart)| (id.clone(), cart.clone())).collect() }
    }
}

/// The working store of the projections that count checked-out carts
/// (`revenue`, `units-sold`): every cart's items, and which carts have a
/// `Checkout`. Each projection keeps its own copy (separate read models).
#[derive(Clone, Debug, Default)]
pub(crate) struct CheckedOutCarts {
    items: Carts,
    checked_out: std::collections::HashSet<String, Seeded>,
}

impl CheckedOutCarts {
    /// A `Checkout` marks its cart (a second one changes nothing); other
    /// events change items.
    pub(crate) fn apply(&mut self, event: &DomainEvent) {
        match event {
            DomainEvent::Checkout { cart_id } => {
                if !self.checked_out.contains(cart_id.as_str()) {
                    self.checked_out.insert(cart_id.clone());
                }
            }
            _ => self.items.apply_items(event),
        }
    }

    /// Every checked-out cart with its current contents (`None`: checked
    /// out without ever getting an item), in no particular order.
    pub(crate) fn checked_out(&self) -> impl Iterator<Item = (&String, Option<&Cart>)> {
        self.checked_out.iter().map(|id| (id, self.items.get(id)))
    }
}

impl CheckedOutCarts {
    /// One cart's stored state: `{"items": [...], "total_cents": N,
    /// "checked_out": B}` (`items` and `total_cents` absent for a cart
    /// checked out without items), or `None` for a cart it never saw.
    pub(crate) fn save_entry(&self, cart_id: &str) -> Option<String> {
        let checked_out = self.checked_out.contains(cart_id);
        let entry = match self.items.get(cart_id) {
            Some(cart) => StoredCart { items: Some(cart.lines.clone()), total_cents: Some(cart.total()), checked_out },
            None if checked_out => StoredCart { items: None, total_cents: None, checked_out },
            None => return None,
        };
        serde_json::to_string(&entry).ok()
    }

    pub(crate) fn load_entry(&mut self, cart_id: &str, state: &str) -> Result<(), String> {
        let entry: StoredCartIn = serde_json::from_str(state).map_err(|e| format!("not a stored cart ({e})"))?;
        if let Some(items) = entry.items {
            self.items.insert(cart_id, Cart { lines: items.into_iter().map(StoredLine::into_line).collect() });
        }
        if entry.checked_out {
            self.checked_out.insert(cart_id.to_string());
        }
        Ok(())
    }
}

/// Version of the stored carts below.
pub(crate) const STATE_VERSION: u32 = 1;

/// A stored cart, as written: the replay JSON of its lines and total, and
/// whether it checked out (`revenue`, `units-sold`).
#[derive(Serialize)]
struct StoredCart {
    #[serde(skip_serializing_if = "Option::is_none")]
    items: Option<Vec<Line>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_cents: Option<Cents>,
    checked_out: bool,
}

/// A stored cart, as read back: only what the state needs (totals are
/// recomputed).
#[derive(serde::Deserialize)]
struct StoredCartIn {
    #[serde(default)]
    items: Option<Vec<StoredLine>>,
    #[serde(default)]
    checked_out: bool,
}

#[derive(serde::Deserialize)]
struct StoredLine {
    item: String,
    qty: u64,
    unit_price_cents: Cents,
}

impl StoredLine {
    fn into_line(self) -> Line {
        Line { item: self.item, qty: self.qty, unit_price: self.unit_price_cents }
    }
}

/// The `cart-state` projection.
#[derive(Clone, Debug, Default)]
pub struct CartState {
    carts: Carts,
}

impl CartState {
    pub const GROUP_ID: &'static str = "cart-state";

    pub fn new() -> Self {
        Self::default()
    }
}

impl Projection for CartState {
    type Event = DomainEvent;
    type View = CartStateView;

    fn group_id(&self) -> &str {
        Self::GROUP_ID
    }

    fn apply(&mut self, event: &DomainEvent) {
        self.carts.apply_items(event);
    }

    fn view(&self) -> CartStateView {
        self.carts.to_view()
    }
}

impl DurableProjection for CartState {
    const STATE_VERSION: u32 = STATE_VERSION;

    /// The cart's replay JSON: `{"items": [...], "total_cents": N}`.
    fn save_entry(&self, cart_id: &str) -> Option<String> {
        serde_json::to_string(self.carts.get(cart_id)?).ok()
    }

    fn load_entry(&mut self, cart_id: &str, state: &str) -> Result<(), String> {
        let entry: StoredCartIn = serde_json::from_str(state).map_err(|e| format!("not a stored cart ({e})"))?;
        let lines = entry.items.ok_or("a stored cart without items")?.into_iter().map(StoredLine::into_line).collect();
        self.carts.insert(cart_id, Cart { lines });
        Ok(())
    }
}

/// `{"item","qty","unit_price_cents","line_total_cents"}`, the replay JSON.
impl Serialize for Line {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Line", 4)?;
        st.serialize_field("item", &self.item)?;
        st.serialize_field("qty", &self.qty)?;
        st.serialize_field("unit_price_cents", &self.unit_price)?;
        st.serialize_field("line_total_cents", &self.total())?;
        st.end()
    }
}

/// `{"items": [...], "total_cents": N}`, the replay JSON.
impl Serialize for Cart {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Cart", 2)?;
        st.serialize_field("items", &self.lines)?;
        st.serialize_field("total_cents", &self.total())?;
        st.end()
    }
}
