//! Deliberately broken systems: each property must be seen catching one.
//!
//! Every bug is built from the production code with one step changed, so
//! that the broken system cannot drift from the real one:
//! - runner bugs are the production [`Runner`]'s [`Steps`] with one step
//!   replaced ([`RunnerBug::steps`]);
//! - projection bugs feed the real `CartState` one changed event
//!   ([`ProjectionBug`]);
//! - decoding bugs wrap the real decoder with one rule relaxed
//!   ([`DecodeBug`]), each letting through one kind of noise.

use event_sourced_cart::cart::Cart;
use event_sourced_cart::cart::event::{CartEvent, DecodeError, DomainEvent, InvalidEvent, check_name, parse_event};
use event_sourced_cart::cart::generate::NoiseKind;
use event_sourced_cart::cart::money::{Cents, PriceError};
use event_sourced_cart::cart::projection::{CartState, CartStateView};
use event_sourced_cart::domain::{
    BoxedProjection, Domain, DurableProjection, Model, Produced, Projection, Rejected, decode_record, register,
};
use event_sourced_cart::log::{GroupConsumer, Log, LogError};
use event_sourced_cart::record::LogRecord;
use event_sourced_cart::runner::{Checkpoint, PhaseReport, RunError, Runner, Step, Steps};
use event_sourced_cart::verify::{Production, WithSteps};
use std::collections::HashMap;

/// Bugs planted in the runner's steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunnerBug {
    /// Commits right after the poll, then applies (the order of the steps).
    CommitsBeforeApplying,
    /// Skips the last record each partition returns in a poll (an
    /// off-by-one in a range loop). Per partition, so the bug does not
    /// depend on the order of the blocks in a poll.
    DropsLastRecord,
    /// Applies redelivered records again (no skip of applied offsets).
    NoDuplicateTracking,
    /// Reads with a new group id every phase, so never resumes from a commit.
    ForgetsCommits,
}

impl RunnerBug {
    /// The production steps with the one this bug changes, for a runner
    /// with checkpoint `C` (in memory or durable).
    pub fn steps<D: Domain, C: Checkpoint>(self) -> Steps<D, C> {
        let production = Steps::production();
        match self {
            RunnerBug::CommitsBeforeApplying => Steps { order: [Step::Commit, Step::Apply], ..production },
            RunnerBug::DropsLastRecord => Steps { apply: apply_all_but_last_of_each_partition, ..production },
            RunnerBug::NoDuplicateTracking => Steps { apply: apply_every_record, ..production },
            RunnerBug::ForgetsCommits => Steps { consumer: consumer_of_a_new_group, ..production },
        }
    }
}

fn apply_all_but_last_of_each_partition<D: Domain, C: Checkpoint>(
    runner: &mut Runner<D, C>,
    records: &[LogRecord],
    report: &mut PhaseReport<D::Rejection>,
) -> Result<(), RunError> {
    let last_of_block = |i: usize| records.get(i + 1).is_none_or(|next| next.partition != records[i].partition);
    let kept: Vec<LogRecord> =
        records.iter().enumerate().filter(|(i, _)| !last_of_block(*i)).map(|(_, r)| r.clone()).collect();
    runner.apply_batch(&kept, report)
}

fn apply_every_record<D: Domain, C: Checkpoint>(
    runner: &mut Runner<D, C>,
    records: &[LogRecord],
    report: &mut PhaseReport<D::Rejection>,
) -> Result<(), RunError> {
    for record in records {
        runner.apply_record(record, report);
    }
    Ok(())
}

fn consumer_of_a_new_group<D: Domain, C: Checkpoint>(
    runner: &mut Runner<D, C>,
    log: &dyn Log,
    _reuse: bool,
) -> Result<Box<dyn GroupConsumer>, LogError> {
    runner.close_consumer()?;
    log.consumer(&format!("{}-{}", runner.group(), runner.phases_run()))
}

/// A planted runner bug on the cart domain.
pub fn runner_bug(bug: RunnerBug) -> WithSteps<Cart> {
    WithSteps { domain: Cart, steps: bug.steps() }
}

/// Bugs planted in the cart-state projection, each as one changed event
/// fed to the real `CartState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectionBug {
    /// A re-added item takes the new price instead of keeping the first
    /// (the line is replaced by one at the new price with the summed qty).
    KeepsLastPrice,
    /// `RemoveItem` is dropped.
    IgnoresRemovals,
    /// New lines take the price an item was first seen at in *any* cart,
    /// so the view depends on the order of carts across partitions.
    SharesPricesAcrossCarts,
    /// Items are matched by their trimmed, lowercased name: a line added as
    /// "Widget" takes a later "widget " (the first spelling stays). Names
    /// with no near twin in their cart are unaffected.
    ConfusesNearNames,
}

/// The real `CartState` behind one planted bug.
pub struct BuggyCartState {
    bug: ProjectionBug,
    inner: CartState,
    first_seen_price: HashMap<String, Cents>,
    /// (cart, folded name) to the first spelling seen.
    first_spelling: HashMap<(String, String), String>,
}

impl BuggyCartState {
    fn first_spelling(&mut self, cart_id: &str, item: String) -> String {
        let folded = item.trim().to_lowercase();
        self.first_spelling.entry((cart_id.to_string(), folded)).or_insert(item).clone()
    }
}

impl Projection for BuggyCartState {
    type Event = DomainEvent;
    type View = CartStateView;

    fn group_id(&self) -> &str {
        self.inner.group_id()
    }

    fn apply(&mut self, event: &DomainEvent) {
        let changed = match (self.bug, event.clone()) {
            (ProjectionBug::IgnoresRemovals, DomainEvent::RemoveItem { .. }) => return,
            (ProjectionBug::KeepsLastPrice, DomainEvent::AddItem { cart_id, item, qty, unit_price }) => {
                let line = self
                    .inner
                    .view()
                    .carts
                    .get(&cart_id)
                    .and_then(|c| c.lines.iter().find(|l| l.item == item).cloned());
                match line {
                    Some(line) => {
                        self.inner.apply(&DomainEvent::RemoveItem { cart_id: cart_id.clone(), item: item.clone() });
                        let total = line.qty.saturating_add(u64::from(qty)).min(u64::from(u32::MAX)) as u32;
                        DomainEvent::AddItem { cart_id, item, qty: total, unit_price }
                    }
                    None => DomainEvent::AddItem { cart_id, item, qty, unit_price },
                }
            }
            (ProjectionBug::SharesPricesAcrossCarts, DomainEvent::AddItem { cart_id, item, qty, unit_price }) => {
                let unit_price = *self.first_seen_price.entry(item.clone()).or_insert(unit_price);
                DomainEvent::AddItem { cart_id, item, qty, unit_price }
            }
            (ProjectionBug::ConfusesNearNames, DomainEvent::AddItem { cart_id, item, qty, unit_price }) => {
                let item = self.first_spelling(&cart_id, item);
                DomainEvent::AddItem { cart_id, item, qty, unit_price }
            }
            (ProjectionBug::ConfusesNearNames, DomainEvent::RemoveItem { cart_id, item }) => {
                let item = self.first_spelling(&cart_id, item);
                DomainEvent::RemoveItem { cart_id, item }
            }
            (_, event) => event,
        };
        self.inner.apply(&changed);
    }

    fn view(&self) -> CartStateView {
        self.inner.view()
    }
}

/// Stores what the real `CartState` stores; the bug's own tables are not
/// kept (a restart forgets them), which no planted-bug test relies on.
impl DurableProjection for BuggyCartState {
    const STATE_VERSION: u32 = CartState::STATE_VERSION;
    fn save_entry(&self, key: &str) -> Option<String> {
        self.inner.save_entry(key)
    }
    fn load_entry(&mut self, key: &str, state: &str) -> Result<(), String> {
        self.inner.load_entry(key, state)
    }
}

/// Bugs planted in decoding: each relaxes one rule of the real decoder, so
/// that one kind of noise gets applied (or, for [`DecodeBug::SkipsNonJson`],
/// silently dropped instead of counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeBug {
    /// Closes a truncated object with `}` and reads it again.
    RepairsTruncatedJson,
    /// Matches `type` case-insensitively.
    CaseInsensitiveType,
    /// Accepts `qty` 0.
    AcceptsZeroQuantity,
    /// Rounds prices to whole cents instead of rejecting extra decimals.
    RoundsPrices,
    /// Reads a negative price as 0.00.
    ClampsNegativePrices,
    /// Skips the key rule.
    IgnoresTheKey,
    /// Applies the key rule only to records that have a key.
    AcceptsMissingKeys,
    /// Accepts an empty `cart_id`.
    AcceptsEmptyCartIds,
    /// Reads the last copy of a duplicated field.
    LastDuplicateWins,
    /// Skips values that are not JSON objects without counting them.
    SkipsNonJson,
    /// Decides the price on the double a float parser reads (the rule
    /// checked on `f64`), not on the number's text.
    DecidesPricesOnTheDouble,
}

impl DecodeBug {
    /// The bug that lets `kind` through.
    pub fn for_noise(kind: NoiseKind) -> DecodeBug {
        match kind {
            NoiseKind::TruncatedJson => DecodeBug::RepairsTruncatedJson,
            NoiseKind::UnknownType => DecodeBug::CaseInsensitiveType,
            NoiseKind::ZeroQuantity => DecodeBug::AcceptsZeroQuantity,
            NoiseKind::FractionalCents => DecodeBug::RoundsPrices,
            NoiseKind::NegativePrice => DecodeBug::ClampsNegativePrices,
            NoiseKind::WrongKey => DecodeBug::IgnoresTheKey,
            NoiseKind::NoKey => DecodeBug::AcceptsMissingKeys,
            NoiseKind::EmptyCartId => DecodeBug::AcceptsEmptyCartIds,
            NoiseKind::DuplicateField => DecodeBug::LastDuplicateWins,
            NoiseKind::NotJson => DecodeBug::SkipsNonJson,
            NoiseKind::NearCentPrice => DecodeBug::DecidesPricesOnTheDouble,
        }
    }
}

/// The cart domain with planted bugs: the real one where none is planted.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlantedCart {
    pub projection: Option<ProjectionBug>,
    pub decode: Option<DecodeBug>,
}

impl Domain for PlantedCart {
    type Event = DomainEvent;
    type Rejection = DecodeError;

    fn topic(&self) -> &str {
        Cart.topic()
    }

    fn decode(&self, value: &str) -> Result<DomainEvent, DecodeError> {
        let real = parse_event(value);
        let Err(error) = &real else { return real };
        match (self.decode, error) {
            (Some(DecodeBug::RepairsTruncatedJson), DecodeError::NotJson(_)) => {
                parse_event(&format!("{value}}}")).or(real)
            }
            (Some(DecodeBug::CaseInsensitiveType), DecodeError::NotAnEvent(m)) if m.starts_with("field `type`") => {
                with_field(value, "type", |v| match v.as_str() {
                    Some(t) if t.eq_ignore_ascii_case("checkout") => serde_json::json!("Checkout"),
                    _ => v,
                })
                .or(real)
            }
            (Some(DecodeBug::AcceptsZeroQuantity), DecodeError::Invalid(InvalidEvent::ZeroQuantity)) => {
                validate_without(value, Rule::Quantity).or(real)
            }
            (
                Some(DecodeBug::RoundsPrices),
                DecodeError::Invalid(InvalidEvent::Price(PriceError::FractionalCents(_))),
            ) => validate_without(value, Rule::WholeCents).or(real),
            (
                Some(DecodeBug::ClampsNegativePrices),
                DecodeError::Invalid(InvalidEvent::Price(PriceError::Negative(_))),
            ) => with_field(value, "price", |_| serde_json::json!(0)).or(real),
            (
                Some(DecodeBug::DecidesPricesOnTheDouble),
                DecodeError::Invalid(InvalidEvent::Price(PriceError::FractionalCents(_) | PriceError::Negative(_))),
            ) => serde_json::from_str::<CartEvent>(value)
                .ok()
                .and_then(|wire| wire.validate().ok())
                .ok_or_else(|| error.clone()),
            (Some(DecodeBug::AcceptsEmptyCartIds), DecodeError::Invalid(InvalidEvent::EmptyName { .. })) => {
                validate_without(value, Rule::EmptyName).or(real)
            }
            (Some(DecodeBug::LastDuplicateWins), DecodeError::NotAnEvent(_)) => {
                // Through serde_json's map, where the last copy wins.
                serde_json::from_str::<serde_json::Value>(value)
                    .ok()
                    .and_then(|v| parse_event(&v.to_string()).ok())
                    .ok_or_else(|| error.clone())
            }
            _ => real,
        }
    }

    fn key<'e>(&self, event: &'e DomainEvent) -> &'e str {
        Cart.key(event)
    }

    fn key_of_value(&self, value: &str) -> Result<String, String> {
        Cart.key_of_value(value)
    }

    fn projections(&self) -> Vec<BoxedProjection<DomainEvent>> {
        let Some(bug) = self.projection else { return Cart.projections() };
        // The cart's own list, cart-state replaced by its buggy twin.
        Cart.projections()
            .into_iter()
            .map(|projection| match projection.group_id() {
                CartState::GROUP_ID => register(BuggyCartState {
                    bug,
                    inner: CartState::new(),
                    first_seen_price: HashMap::new(),
                    first_spelling: HashMap::new(),
                }),
                _ => projection,
            })
            .collect()
    }

    fn model(&self, produced: &[Produced]) -> Model {
        Cart.model(produced)
    }
}

/// `value` with one top-level field rewritten, through the real decoder.
fn with_field(
    value: &str,
    field: &str,
    change: impl FnOnce(serde_json::Value) -> serde_json::Value,
) -> Result<DomainEvent, DecodeError> {
    let mut object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(value).map_err(|e| DecodeError::NotJson(e.to_string()))?;
    if let Some(v) = object.remove(field) {
        object.insert(field.to_string(), change(v));
    }
    parse_event(&serde_json::Value::Object(object).to_string())
}

/// A rule of `CartEvent::validate` a decoding bug skips.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rule {
    Quantity,
    WholeCents,
    EmptyName,
}

/// The price's text, as the real decoder reads it.
#[derive(serde::Deserialize)]
struct PriceText<'a> {
    #[serde(borrow)]
    price: Option<&'a serde_json::value::RawValue>,
}

/// The real decoder's rules, from its public parts, with `skipped` left out.
fn validate_without(value: &str, skipped: Rule) -> Result<DomainEvent, DecodeError> {
    let wire: CartEvent = serde_json::from_str(value).map_err(|e| DecodeError::NotAnEvent(e.to_string()))?;
    let price_text: PriceText = serde_json::from_str(value).map_err(|e| DecodeError::NotAnEvent(e.to_string()))?;
    check_name("cart_id", wire.cart_id(), skipped == Rule::EmptyName)?;
    Ok(match wire {
        CartEvent::AddItem { cart_id, item, qty, price } => {
            check_name("item", &item, true)?;
            if qty == 0 && skipped != Rule::Quantity {
                return Err(InvalidEvent::ZeroQuantity.into());
            }
            let unit_price = match Cents::from_decimal(price_text.price.map_or("", |raw| raw.get())) {
                Err(PriceError::FractionalCents(_)) if skipped == Rule::WholeCents => {
                    Cents((price * 100.0).round() as u128)
                }
                other => other.map_err(InvalidEvent::Price)?,
            };
            DomainEvent::AddItem { cart_id, item, qty, unit_price }
        }
        CartEvent::RemoveItem { cart_id, item } => {
            check_name("item", &item, true)?;
            DomainEvent::RemoveItem { cart_id, item }
        }
        CartEvent::Checkout { cart_id } => DomainEvent::Checkout { cart_id },
    })
}

/// The real key rule, applied to a record re-keyed by its own event when
/// `rekey` says so: the rule can then not fail.
fn decode_rekeyed(domain: &PlantedCart, record: &LogRecord, rekey: bool) -> Result<DomainEvent, Rejected<DecodeError>> {
    match domain.decode(&record.value) {
        Ok(event) if rekey => {
            let rekeyed = LogRecord { key: Some(domain.key(&event).to_string()), ..record.clone() };
            decode_record(domain, &rekeyed)
        }
        _ => decode_record(domain, record),
    }
}

fn decode_ignoring_the_key(domain: &PlantedCart, record: &LogRecord) -> Result<DomainEvent, Rejected<DecodeError>> {
    decode_rekeyed(domain, record, true)
}

fn decode_accepting_missing_keys(
    domain: &PlantedCart,
    record: &LogRecord,
) -> Result<DomainEvent, Rejected<DecodeError>> {
    decode_rekeyed(domain, record, record.key.is_none())
}

fn apply_skipping_non_json<C: Checkpoint>(
    runner: &mut Runner<PlantedCart, C>,
    records: &[LogRecord],
    report: &mut PhaseReport<DecodeError>,
) -> Result<(), RunError> {
    let objects: Vec<LogRecord> = records.iter().filter(|r| r.value.trim_start().starts_with('{')).cloned().collect();
    runner.apply_batch(&objects, report)
}

/// A planted decoding bug: in the domain's decoder, or for the key rule
/// and silent skips, in the runner's decode or apply step.
pub fn decode_bug(bug: DecodeBug) -> WithSteps<PlantedCart> {
    let production = Steps::production();
    let steps = match bug {
        DecodeBug::IgnoresTheKey => Steps { decode: decode_ignoring_the_key, ..production },
        DecodeBug::AcceptsMissingKeys => Steps { decode: decode_accepting_missing_keys, ..production },
        DecodeBug::SkipsNonJson => Steps { apply: apply_skipping_non_json, ..production },
        _ => production,
    };
    WithSteps { domain: PlantedCart { projection: None, decode: Some(bug) }, steps }
}

/// A planted projection bug.
pub fn projection_bug(bug: ProjectionBug) -> Production<PlantedCart> {
    Production(PlantedCart { projection: Some(bug), decode: None })
}

/// The planted-bug machinery with no bug planted: must pass every check.
pub fn no_bug() -> WithSteps<PlantedCart> {
    WithSteps { domain: PlantedCart::default(), steps: Steps::production() }
}
