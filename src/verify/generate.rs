//! proptest strategies for histories and schedules.
//!
//! Histories are built from small pools of cart ids and item names and a
//! list of operations that index into them, so that re-adds of an item,
//! removals of present items, changes after checkout and second checkouts
//! are common, and so that shrinking works well: operations shrink away,
//! indices shrink toward the first cart and item, names toward plain ones.

use super::execute::HistoryRecord;
use super::schedule::{MAX_PHASES, Phase, Schedule};
use crate::event::DomainEvent;
use crate::money::Cents;
use crate::runner::CrashPoint;
use proptest::prelude::*;

/// Bounds of generated histories and schedules.
pub const MAX_CARTS: usize = 20;
pub const MAX_ITEMS: usize = 8;
pub const MAX_EVENTS: usize = 300;
pub const MAX_GENERATED_PARTITIONS: u32 = 8;
/// Highest generated price: 999.99.
pub const MAX_GENERATED_PRICE_CENTS: u128 = 99_999;

/// One operation of a history, by pool index.
#[derive(Clone, Debug)]
enum Op {
    Add {
        cart: usize,
        item: usize,
        qty: u32,
        cents: u128,
    },
    Remove {
        cart: usize,
        item: usize,
    },
    Checkout {
        cart: usize,
    },
    /// A malformed or wrongly keyed record (about 1 in 37 records).
    Noise {
        kind: usize,
        cart: usize,
        other: usize,
    },
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

fn qty() -> impl Strategy<Value = u32> {
    prop_oneof![8 => 1..=5u32, 1 => 1..=1000u32, 1 => (u32::MAX - 3)..=u32::MAX]
}

fn price_cents() -> impl Strategy<Value = u128> {
    prop_oneof![4 => 0..=2_000u128, 1 => 0..=MAX_GENERATED_PRICE_CENTS, 1 => Just(MAX_GENERATED_PRICE_CENTS)]
}

/// Malformed records a real log may hold; each must be rejected.
const NOISE_KINDS: usize = 7;

fn noise_value(kind: usize, cart_id: &str, other_cart: &str) -> HistoryRecord {
    let id = serde_json::to_string(cart_id).expect("strings serialize");
    let keyed = |value: String| HistoryRecord { key: Some(cart_id.to_string()), value };
    match kind % NOISE_KINDS {
        0 => keyed(format!("{{\"type\":\"AddItem\",\"cart_id\":{id}")),
        1 => keyed(format!("{{\"type\":\"Refund\",\"cart_id\":{id}}}")),
        2 => keyed(format!("{{\"type\":\"AddItem\",\"cart_id\":{id},\"item\":\"x\",\"qty\":0,\"price\":1.5}}")),
        3 => keyed(format!("{{\"type\":\"AddItem\",\"cart_id\":{id},\"item\":\"x\",\"qty\":1,\"price\":1.005}}")),
        4 => keyed(format!("{{\"type\":\"AddItem\",\"cart_id\":{id},\"item\":\"x\",\"qty\":1,\"price\":-2}}")),
        5 => HistoryRecord {
            key: Some(format!("{other_cart}-other")),
            value: format!("{{\"type\":\"Checkout\",\"cart_id\":{id}}}"),
        },
        _ => keyed("{\"type\":\"Checkout\",\"cart_id\":\"\"}".to_string()),
    }
}

fn op(with_noise: bool) -> impl Strategy<Value = Op> {
    let index = || 0..MAX_CARTS.max(MAX_ITEMS);
    let noise_weight = if with_noise { 1 } else { 0 };
    prop_oneof![
        24 => (index(), index(), qty(), price_cents()).prop_map(|(cart, item, qty, cents)| Op::Add { cart, item, qty, cents }),
        8 => (index(), index()).prop_map(|(cart, item)| Op::Remove { cart, item }),
        4 => index().prop_map(|cart| Op::Checkout { cart }),
        noise_weight => (0..NOISE_KINDS, index(), index()).prop_map(|(kind, cart, other)| Op::Noise { kind, cart, other }),
    ]
}

/// Records, each with the commit points that follow it.
fn steps(max_events: usize, with_noise: bool) -> impl Strategy<Value = Vec<(HistoryRecord, Vec<Phase>)>> {
    (
        prop::collection::vec(cart_id(), 1..=MAX_CARTS),
        prop::collection::vec(item_name(), 1..=MAX_ITEMS),
        prop::collection::vec((op(with_noise), commit_points_after_event()), 0..=max_events),
    )
        .prop_map(|(carts, items, ops)| {
            let cart = |i: usize| carts[i % carts.len()].clone();
            let item = |i: usize| items[i % items.len()].clone();
            ops.into_iter()
                .map(|(op, points)| {
                    let event = match op {
                        Op::Add { cart: c, item: i, qty, cents } => {
                            DomainEvent::AddItem { cart_id: cart(c), item: item(i), qty, unit_price: Cents(cents) }
                        }
                        Op::Remove { cart: c, item: i } => DomainEvent::RemoveItem { cart_id: cart(c), item: item(i) },
                        Op::Checkout { cart: c } => DomainEvent::Checkout { cart_id: cart(c) },
                        Op::Noise { kind, cart: c, other } => {
                            return (noise_value(kind, &cart(c), &cart(other)), points);
                        }
                    };
                    (to_records(std::slice::from_ref(&event)).remove(0), points)
                })
                .collect()
        })
}

/// A valid history of 0 to `max_events` events over 1 to 20 carts.
pub fn history_with(max_events: usize) -> impl Strategy<Value = Vec<DomainEvent>> {
    steps(max_events, false).prop_map(|steps| {
        steps
            .into_iter()
            .map(|(record, _)| crate::event::parse_event(&record.value).expect("noise-free steps are valid events"))
            .collect()
    })
}

/// A valid history of up to [`MAX_EVENTS`] events.
pub fn history() -> impl Strategy<Value = Vec<DomainEvent>> {
    history_with(MAX_EVENTS)
}

/// How a commit point runs (its `produce` is filled in by [`case`]).
fn commit_point() -> impl Strategy<Value = Phase> {
    (
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.3),
        prop_oneof![
            6 => Just(None),
            1 => Just(Some(CrashPoint::BeforeApply)),
            1 => Just(Some(CrashPoint::BeforeCommit)),
        ],
    )
        .prop_map(|(reopen, reuse_consumer, crash)| Phase { produce: 0, reopen, reuse_consumer, crash })
}

/// The commit points that follow one event: usually none, sometimes one or
/// two (a repeated commit point).
fn commit_points_after_event() -> impl Strategy<Value = Vec<Phase>> {
    prop_oneof![12 => Just(Vec::new()), 1 => prop::collection::vec(commit_point(), 1..=2)]
}

/// A history and the schedule that runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    pub schedule: Schedule,
    /// Mostly valid events in the wire format, keyed by cart id, with a few
    /// malformed or wrongly keyed records mixed in.
    pub history: Vec<HistoryRecord>,
}

/// Cases of up to `max_events` records (about 1 in 37 malformed), 1-8 partitions, commit points
/// anywhere (none, or repeated), new or reused consumers, broker reopens,
/// crashed polls and a late group.
///
/// Commit points are generated *with the event they follow*, so that when
/// shrinking removes an event its commit points go too: the history and the
/// schedule shrink together to a handful of events and phases. (A separate
/// schedule with `produce` counts pins the history's length while it
/// shrinks, since proptest shrinks tuple members one after another.)
pub fn case_with(max_events: usize) -> impl Strategy<Value = Case> {
    (
        1..=MAX_GENERATED_PARTITIONS,
        prop::option::weighted(0.4, 0..=MAX_PHASES),
        prop::collection::vec(commit_point(), 0..=1),
        steps(max_events, true),
    )
        .prop_map(|(partitions, late, leading, steps)| {
            let mut phases: Vec<Phase> = leading;
            let mut history = Vec::with_capacity(steps.len());
            for (index, (record, points)) in steps.into_iter().enumerate() {
                history.push(record);
                for mut phase in points {
                    let produced: usize = phases.iter().map(|p| p.produce).sum();
                    phase.produce = index + 1 - produced;
                    phases.push(phase);
                }
            }
            phases.truncate(MAX_PHASES);
            // Modulo, not min: spreads joins over every phase of short schedules.
            let late_join = late.map(|k| k % (phases.len() + 1));
            Case { schedule: Schedule { partitions, phases, late_join }, history }
        })
}

/// Cases of up to [`MAX_EVENTS`] events.
pub fn case() -> impl Strategy<Value = Case> {
    case_with(MAX_EVENTS)
}

/// The records of a valid history: keyed by cart id, in the wire format.
pub fn to_records(history: &[DomainEvent]) -> Vec<HistoryRecord> {
    history.iter().map(|e| HistoryRecord { key: Some(e.cart_id().to_string()), value: e.to_wire().to_json() }).collect()
}
