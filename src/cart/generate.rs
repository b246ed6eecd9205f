//! proptest strategies for cart histories.
//!
//! Histories are built from small pools of cart ids and item names and a
//! list of operations that index into them, so that re-adds of an item,
//! removals of present items, changes after checkout and second checkouts
//! are common, and so that shrinking works well: operations shrink away,
//! indices shrink toward the first cart and item, names toward plain ones.
//!
//! Pools hold *near-collisions* as a real catalogue does: names that differ
//! only in case, a space, a zero-width character, a homoglyph, a combining
//! accent or one letter. A projection that confuses two of them fails model
//! agreement. About 1 in 37 records is noise ([`NoiseKind`]): a record the
//! projections must reject, exactly as the model does.

use super::event::DomainEvent;
use super::money::Cents;
use crate::domain::HistoryRecord;
use crate::verify::generate::{Case, cases};
use proptest::prelude::*;

/// Bounds of generated histories.
pub const MAX_CARTS: usize = 20;
pub const MAX_ITEMS: usize = 8;
pub const MAX_EVENTS: usize = 300;
/// Highest generated price: 999.99.
pub const MAX_GENERATED_PRICE_CENTS: u128 = 99_999;
/// Most near-collisions added to each pool.
const MAX_NEAR_NAMES: usize = 3;

/// One operation of a history, by pool index.
#[derive(Clone, Debug)]
pub enum Op {
    Add { cart: usize, item: usize, qty: u32, cents: u128 },
    Remove { cart: usize, item: usize },
    Checkout { cart: usize },
    Noise { kind: NoiseKind, cart: usize, other: usize },
}

/// Records a real log may hold that are not events under their key. Each
/// must be rejected; a failure file keeps each one byte for byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoiseKind {
    /// Cut off mid-object.
    TruncatedJson,
    /// A `type` no version of the domain knows.
    UnknownType,
    /// `qty` 0.
    ZeroQuantity,
    /// A price with three decimals.
    FractionalCents,
    /// A negative price.
    NegativePrice,
    /// A valid event under another cart's key.
    WrongKey,
    /// A valid event with no key at all.
    NoKey,
    /// An empty `cart_id`, under the empty key (so that only the
    /// empty-name rule rejects it).
    EmptyCartId,
    /// `cart_id` named twice, with two values.
    DuplicateField,
    /// A value that is not JSON at all.
    NotJson,
    /// A price a hair off whole cents (`9.990000000000000001`, `1e-400`):
    /// a rule decided on the parsed double accepts it.
    NearCentPrice,
}

/// Prices within a rounding error of whole cents, none of them whole
/// cents: a parser's double for each is (or may be) that of a whole-cent
/// price. Which one a record gets depends on its other cart's name, so
/// that histories hold several.
pub const NEAR_CENT_PRICES: [&str; 6] =
    ["9.990000000000000001", "9.999999999999999", "19.990000000000002", "1e-400", "-1e-400", "0.30000000000000004"];

impl NoiseKind {
    pub const ALL: [NoiseKind; 11] = [
        NoiseKind::TruncatedJson,
        NoiseKind::UnknownType,
        NoiseKind::ZeroQuantity,
        NoiseKind::FractionalCents,
        NoiseKind::NegativePrice,
        NoiseKind::WrongKey,
        NoiseKind::NoKey,
        NoiseKind::EmptyCartId,
        NoiseKind::DuplicateField,
        NoiseKind::NotJson,
        NoiseKind::NearCentPrice,
    ];

    /// The record of this kind for cart `cart_id` (`other` is a second cart).
    pub fn record(self, cart_id: &str, other: &str) -> HistoryRecord {
        let id = serde_json::to_string(cart_id).unwrap_or_default();
        let keyed = |value: String| HistoryRecord { key: Some(cart_id.to_string()), value };
        let checkout = format!("{{\"type\":\"Checkout\",\"cart_id\":{id}}}");
        match self {
            NoiseKind::TruncatedJson => keyed(format!("{{\"type\":\"Checkout\",\"cart_id\":{id}")),
            NoiseKind::UnknownType => keyed(format!("{{\"type\":\"checkout\",\"cart_id\":{id}}}")),
            NoiseKind::ZeroQuantity => {
                keyed(format!("{{\"type\":\"AddItem\",\"cart_id\":{id},\"item\":\"x\",\"qty\":0,\"price\":1.5}}"))
            }
            NoiseKind::FractionalCents => {
                keyed(format!("{{\"type\":\"AddItem\",\"cart_id\":{id},\"item\":\"x\",\"qty\":1,\"price\":1.005}}"))
            }
            NoiseKind::NegativePrice => {
                keyed(format!("{{\"type\":\"AddItem\",\"cart_id\":{id},\"item\":\"x\",\"qty\":1,\"price\":-2}}"))
            }
            NoiseKind::WrongKey => HistoryRecord { key: Some(format!("{other}-other")), value: checkout },
            NoiseKind::NoKey => HistoryRecord { key: None, value: checkout },
            NoiseKind::EmptyCartId => HistoryRecord {
                key: Some(String::new()),
                value: "{\"type\":\"Checkout\",\"cart_id\":\"\"}".to_string(),
            },
            NoiseKind::DuplicateField => {
                let other = serde_json::to_string(&format!("{other}-other")).unwrap_or_default();
                keyed(format!("{{\"type\":\"Checkout\",\"cart_id\":{other},\"cart_id\":{id}}}"))
            }
            NoiseKind::NotJson => keyed(format!("checkout {cart_id}\u{1}\t\u{fffd}")),
            NoiseKind::NearCentPrice => {
                let price = NEAR_CENT_PRICES[other.len() % NEAR_CENT_PRICES.len()];
                keyed(format!("{{\"type\":\"AddItem\",\"cart_id\":{id},\"item\":\"x\",\"qty\":1,\"price\":{price}}}"))
            }
        }
    }
}

/// Cart ids: mostly `cart-N`, sometimes unicode, quotes or spaces.
pub fn cart_id() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (1..100u32).prop_map(|i| format!("cart-{i}")),
        1 => "[^\u{0}-\u{1f}]{1,12}",
        1 => prop::sample::select(vec!["cart \"quoted\"", "carrito ñ", "カート", " spaced cart ", "\\back\\slash"])
            .prop_map(str::to_string),
    ]
}

/// Item names: mostly plain words, sometimes unicode, quotes, spaces or empty.
pub fn item_name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[A-Z][a-z]{2,7}",
        1 => Just(String::new()),
        1 => "[^\u{0}-\u{1f}]{0,10}",
        1 => prop::sample::select(vec!["Widget \"Pro\"", "two  spaces", "Öl", "🛒 cart", "tab\tbed", "new\nline"])
            .prop_map(str::to_string),
    ]
}

/// How a near-collision differs from the name it imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NearCollision {
    /// The first letter's case flipped: `Widget` / `widget`.
    Case,
    /// A trailing space: `Widget` / `Widget `.
    TrailingSpace,
    /// A zero-width space inside: `Widget` / `Wid\u{200b}get`.
    ZeroWidth,
    /// A Latin letter replaced by its Cyrillic look-alike: `Widget` / `Wіdget`.
    Homoglyph,
    /// A combining acute accent after the first character (`e` + U+0301
    /// beside a precomposed-looking name).
    CombiningMark,
    /// The last character dropped: `Widget` / `Widge`.
    Prefix,
    /// The last character doubled: `Widget` / `Widgett`.
    Doubled,
}

impl NearCollision {
    const ALL: [NearCollision; 7] = [
        NearCollision::Case,
        NearCollision::TrailingSpace,
        NearCollision::ZeroWidth,
        NearCollision::Homoglyph,
        NearCollision::CombiningMark,
        NearCollision::Prefix,
        NearCollision::Doubled,
    ];

    /// A name that differs from `name` by this kind of near-collision
    /// (always a different string).
    pub fn apply(self, name: &str) -> String {
        let mut chars: Vec<char> = name.chars().collect();
        match self {
            NearCollision::Case => match chars.first() {
                Some(c) if c.is_lowercase() => chars[0] = c.to_uppercase().next().unwrap_or(*c),
                Some(c) if c.is_uppercase() => chars[0] = c.to_lowercase().next().unwrap_or(*c),
                _ => chars.insert(0, 'x'),
            },
            NearCollision::TrailingSpace => chars.push(' '),
            NearCollision::ZeroWidth => chars.insert(chars.len() / 2, '\u{200b}'),
            NearCollision::Homoglyph => {
                const PAIRS: [(char, char); 6] =
                    [('a', 'а'), ('e', 'е'), ('o', 'о'), ('i', 'і'), ('c', 'с'), ('p', 'р')];
                match chars.iter().position(|c| PAIRS.iter().any(|(latin, _)| latin == c)) {
                    Some(i) => chars[i] = PAIRS.iter().find(|(latin, _)| *latin == chars[i]).map_or('а', |p| p.1),
                    None => chars.push('а'),
                }
            }
            NearCollision::CombiningMark => chars.insert(chars.len().min(1), '\u{301}'),
            NearCollision::Prefix => {
                if chars.pop().is_none() {
                    chars.push('-');
                }
            }
            NearCollision::Doubled => chars.push(chars.last().copied().unwrap_or('x')),
        }
        chars.into_iter().collect()
    }
}

/// A pool of names from `name`, with up to three near-collisions of its
/// members appended.
fn pool(name: impl Strategy<Value = String>, size: usize) -> impl Strategy<Value = Vec<String>> {
    let near = (0..size, prop::sample::select(NearCollision::ALL.to_vec()));
    (prop::collection::vec(name, 1..=size), prop::collection::vec(near, 0..=MAX_NEAR_NAMES)).prop_map(
        |(mut names, near)| {
            for (of, kind) in near {
                let twin = kind.apply(&names[of % names.len()]);
                names.push(twin);
            }
            names
        },
    )
}

fn qty() -> impl Strategy<Value = u32> {
    prop_oneof![8 => 1..=5u32, 1 => 1..=1000u32, 1 => (u32::MAX - 3)..=u32::MAX]
}

fn price_cents() -> impl Strategy<Value = u128> {
    prop_oneof![4 => 0..=2_000u128, 1 => 0..=MAX_GENERATED_PRICE_CENTS, 1 => Just(MAX_GENERATED_PRICE_CENTS)]
}

/// One operation; `noise_weight` out of 37 are noise (0: none).
pub fn op(noise_weight: u32) -> impl Strategy<Value = Op> {
    let index = || 0..MAX_CARTS + MAX_NEAR_NAMES;
    let kind = prop::sample::select(NoiseKind::ALL.to_vec());
    prop_oneof![
        24 => (index(), index(), qty(), price_cents()).prop_map(|(cart, item, qty, cents)| Op::Add { cart, item, qty, cents }),
        8 => (index(), index()).prop_map(|(cart, item)| Op::Remove { cart, item }),
        4 => index().prop_map(|cart| Op::Checkout { cart }),
        noise_weight => (kind, index(), index()).prop_map(|(kind, cart, other)| Op::Noise { kind, cart, other }),
    ]
}

/// The pools a history draws from: cart ids and item names.
#[derive(Clone, Debug)]
pub struct Pools {
    pub carts: Vec<String>,
    pub items: Vec<String>,
}

pub fn pools() -> impl Strategy<Value = Pools> {
    (pool(cart_id(), MAX_CARTS), pool(item_name(), MAX_ITEMS)).prop_map(|(carts, items)| Pools { carts, items })
}

/// The record of one operation.
pub fn render(pools: &Pools, op: Op) -> HistoryRecord {
    let cart = |i: usize| pools.carts[i % pools.carts.len()].clone();
    let item = |i: usize| pools.items[i % pools.items.len()].clone();
    let event = match op {
        Op::Add { cart: c, item: i, qty, cents } => {
            DomainEvent::AddItem { cart_id: cart(c), item: item(i), qty, unit_price: Cents(cents) }
        }
        Op::Remove { cart: c, item: i } => DomainEvent::RemoveItem { cart_id: cart(c), item: item(i) },
        Op::Checkout { cart: c } => DomainEvent::Checkout { cart_id: cart(c) },
        Op::Noise { kind, cart: c, other } => return kind.record(&cart(c), &cart(other)),
    };
    super::event::encode(&event)
}

/// Cases of up to `max_events` records, about 1 in 37 of them noise.
pub fn case_with(max_events: usize) -> impl Strategy<Value = Case> {
    case_with_noise(max_events, 1)
}

/// Cases of up to `max_events` records, `noise_weight` in 36 + weight noise.
pub fn case_with_noise(max_events: usize, noise_weight: u32) -> impl Strategy<Value = Case> {
    cases(pools(), op(noise_weight), max_events, render)
}

/// Cases of up to [`MAX_EVENTS`] records.
pub fn case() -> impl Strategy<Value = Case> {
    case_with(MAX_EVENTS)
}

/// A valid history of 0 to `max_events` events.
pub fn history_with(max_events: usize) -> impl Strategy<Value = Vec<DomainEvent>> {
    (pools(), prop::collection::vec(op(0), 0..=max_events)).prop_map(|(pools, ops)| {
        ops.into_iter()
            .filter_map(|op| {
                let record = render(&pools, op);
                super::event::parse_event(&record.value).ok()
            })
            .collect()
    })
}

/// A valid history of up to [`MAX_EVENTS`] events.
pub fn history() -> impl Strategy<Value = Vec<DomainEvent>> {
    history_with(MAX_EVENTS)
}

/// The records of a valid history: keyed by cart id, in the wire format.
pub fn to_records(history: &[DomainEvent]) -> Vec<HistoryRecord> {
    history.iter().map(super::event::encode).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_collisions_always_differ() {
        for name in ["Widget", "widget", "", "Öl", "x", "🛒 cart", "cart-1"] {
            for kind in NearCollision::ALL {
                assert_ne!(kind.apply(name), name, "{kind:?} of {name:?}");
            }
        }
        assert_eq!(NearCollision::Homoglyph.apply("Widget"), "Wіdget");
        assert_eq!(NearCollision::Case.apply("Widget"), "widget");
    }

    #[test]
    fn every_noise_kind_is_rejected_by_the_decoder_or_the_key_rule() {
        for kind in NoiseKind::ALL {
            let record = kind.record("cart-1", "cart-2");
            let decoded = super::super::event::parse_event(&record.value);
            let under_own_key = decoded.as_ref().is_ok_and(|e| record.key.as_deref() == Some(e.cart_id()));
            assert!(!under_own_key, "{kind:?}: {record:?} would be applied");
        }
    }
}
