//! A complete small domain: counters, one projection, its model and its
//! generator. It is what the documentation's examples run and what the
//! harness's own tests use; read it as the shortest whole answer to "what
//! must my domain provide?".
//!
//! Events are JSON objects `{"counter":"c1","add":3}` produced under the
//! counter's name; the `totals` projection keeps each counter's sum. An
//! `add` must be a whole number from -1000 to 1000; anything else is
//! rejected, and counted, never applied.
//!
//! ```
//! use projection_harness::domain::{Domain, fold};
//! use projection_harness::example::{Counters, Totals};
//!
//! let event = Counters.decode(r#"{"counter":"c1","add":3}"#).unwrap();
//! assert_eq!(Counters.key(&event), "c1");
//! let view = fold(Totals::default(), [event]);
//! assert_eq!(view["c1"], 3);
//! ```

use crate::domain::{BoxedProjection, Domain, DurableProjection, HistoryRecord, Model, Produced, Projection, register};
use crate::verify::Case;
use crate::verify::generate::cases;
use proptest::prelude::*;
use std::collections::BTreeMap;

/// The topic counter events go to.
pub const TOPIC: &str = "counter-events";

/// Largest `add` accepted, either way.
pub const MAX_ADD: i64 = 1000;

/// The counters domain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters;

/// A validated counter event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Add {
    pub counter: String,
    pub add: i64,
}

/// Why a record value is not a counter event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a counter event ({0}); write {{\"counter\":\"NAME\",\"add\":N}} with N from -1000 to 1000")]
pub struct NotAnEvent(String);

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    counter: String,
    add: i64,
}

impl Domain for Counters {
    type Event = Add;
    type Rejection = NotAnEvent;

    fn topic(&self) -> &str {
        TOPIC
    }

    fn decode(&self, value: &str) -> Result<Add, NotAnEvent> {
        let wire: Wire = serde_json::from_str(value).map_err(|e| NotAnEvent(e.to_string()))?;
        if wire.add.abs() > MAX_ADD {
            return Err(NotAnEvent(format!("add {} is out of range", wire.add)));
        }
        Ok(Add { counter: wire.counter, add: wire.add })
    }

    fn key<'e>(&self, event: &'e Add) -> &'e str {
        &event.counter
    }

    fn projections(&self) -> Vec<BoxedProjection<Add>> {
        vec![register(Totals::default())]
    }

    fn model(&self, produced: &[Produced]) -> Model {
        model(produced)
    }
}

/// Each counter's sum.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    sums: BTreeMap<String, i64>,
}

impl Projection for Totals {
    type Event = Add;
    type View = BTreeMap<String, i64>;

    fn group_id(&self) -> &str {
        "totals"
    }

    fn apply(&mut self, event: &Add) {
        let sum = self.sums.entry(event.counter.clone()).or_insert(0);
        // At most 1000 a record: a history would need 9e15 records to overflow.
        *sum = sum.saturating_add(event.add);
    }

    fn view(&self) -> BTreeMap<String, i64> {
        self.sums.clone()
    }
}

impl DurableProjection for Totals {
    const STATE_VERSION: u32 = 1;

    fn save_entry(&self, key: &str) -> Option<String> {
        self.sums.get(key).map(i64::to_string)
    }

    fn load_entry(&mut self, key: &str, state: &str) -> Result<(), String> {
        let sum = state.parse().map_err(|e| format!("not a sum ({e})"))?;
        self.sums.insert(key.to_string(), sum);
        Ok(())
    }
}

/// The reference model: its own parsing (a JSON value, not the domain's
/// typed decoder) and its own key rule.
pub fn model(produced: &[Produced]) -> Model {
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    let mut rejected = Vec::new();
    for (position, record) in produced {
        match valid(&record.value) {
            Some((counter, add)) if record.key.as_deref() == Some(counter.as_str()) => {
                *sums.entry(counter).or_insert(0) += add;
            }
            _ => rejected.push(*position),
        }
    }
    Model { views: BTreeMap::from([("totals".to_string(), crate::domain::AnyView::new(sums))]), rejected }
}

fn valid(value: &str) -> Option<(String, i64)> {
    let serde_json::Value::Object(object) = serde_json::from_str(value).ok()? else { return None };
    if object.len() != 2 {
        return None;
    }
    let counter = object.get("counter")?.as_str()?.to_string();
    let add = object.get("add")?.as_i64().filter(|add| (-MAX_ADD..=MAX_ADD).contains(add))?;
    Some((counter, add))
}

/// One generated operation: an add to one of the case's counters, or a
/// record the domain must reject.
#[derive(Clone, Debug)]
pub enum Op {
    Add {
        counter: usize,
        add: i64,
    },
    /// An add produced under another counter's key.
    WrongKey {
        counter: usize,
        other: usize,
    },
    /// A value that is not an event.
    Garbage,
}

/// Cases of up to `max_records` records over up to 5 counters, about one
/// record in ten rejected.
pub fn counter_cases(max_records: usize) -> impl Strategy<Value = Case> {
    let counters = prop::collection::vec("[a-c][0-9]", 1..=5).prop_map(Names);
    let op = prop_oneof![
        18 => (0..5usize, -MAX_ADD..=MAX_ADD).prop_map(|(counter, add)| Op::Add { counter, add }),
        1 => (0..5usize, 0..5usize).prop_map(|(counter, other)| Op::WrongKey { counter, other }),
        1 => Just(Op::Garbage),
    ];
    cases(counters, op, max_records, render)
}

/// The counter names a case draws from (at least one).
#[derive(Clone, Debug)]
pub struct Names(pub Vec<String>);

/// The record of one operation.
pub fn render(counters: &Names, op: Op) -> HistoryRecord {
    let name = |i: usize| counters.0[i % counters.0.len()].clone();
    let add = |counter: &str, add: i64| serde_json::json!({"counter": counter, "add": add}).to_string();
    match op {
        Op::Add { counter, add: n } => HistoryRecord { key: Some(name(counter)), value: add(&name(counter), n) },
        Op::WrongKey { counter, other } => {
            HistoryRecord { key: Some(format!("{}-not", name(other))), value: add(&name(counter), 1) }
        }
        Op::Garbage => HistoryRecord { key: Some(name(0)), value: "{\"counter\":".into() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Position;

    #[test]
    fn decode_and_model_agree_on_what_is_an_event() {
        for (value, ok) in [
            (r#"{"counter":"a","add":3}"#, true),
            (r#"{"counter":"a","add":1001}"#, false),
            (r#"{"counter":"a","add":-1000}"#, true),
            (r#"{"counter":"a","add":1.5}"#, false),
            (r#"{"counter":"a","add":1,"x":0}"#, false),
            (r#"{"counter":7,"add":1}"#, false),
            ("{", false),
        ] {
            assert_eq!(Counters.decode(value).is_ok(), ok, "{value}");
            assert_eq!(valid(value).is_some(), ok, "{value}");
        }
    }

    #[test]
    fn the_model_sums_and_rejects_foreign_keys() {
        let at = |offset| Position { partition: 0, offset };
        let record = |key: &str, value: &str| HistoryRecord { key: Some(key.into()), value: value.into() };
        let model = model(&[
            (at(0), record("a", r#"{"counter":"a","add":2}"#)),
            (at(1), record("b", r#"{"counter":"a","add":5}"#)),
            (at(2), record("a", r#"{"counter":"a","add":-7}"#)),
        ]);
        assert_eq!(model.rejected, [at(1)]);
        assert_eq!(
            model.views["totals"].downcast_ref::<BTreeMap<String, i64>>(),
            Some(&BTreeMap::from([("a".to_string(), -5)]))
        );
    }
}
