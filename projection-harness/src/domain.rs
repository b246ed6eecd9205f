//! The domain seam: everything the harness needs to know about a domain.
//!
//! A domain is a set of events on one topic, the projections built from
//! them, and an independent reference model. The harness (runner, executor,
//! checks, replay files) is written against [`Domain`] and [`Projection`]
//! only; the counters of [`crate::example`] are one implementation. Adding a
//! projection to a domain is one registration line in its
//! [`Domain::projections`]; every domain-free property then covers it.
//!
//! Views of different projections have different types. The harness holds
//! them as [`AnyView`]: comparable (by the view type's own `PartialEq`),
//! printable as JSON (for diffs and reports) and downcastable back to the
//! concrete type, so that a projection author writes plain typed code and
//! never implements a harness trait beyond [`Projection`].

use crate::record::{LogRecord, Position};
use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;

/// What a view must be: deterministic (ordered maps), comparable, and
/// serializable (for readable diffs and `replay --json`).
pub trait View: Clone + PartialEq + fmt::Debug + serde::Serialize + Send + Sync + 'static {}

impl<T: Clone + PartialEq + fmt::Debug + serde::Serialize + Send + Sync + 'static> View for T {}

/// One read model: a pure fold of a domain's validated events.
///
/// A projection never touches the log: reading, committing and counting
/// rejected records are the runner's job ([`crate::runner`]).
pub trait Projection {
    /// The validated event it folds.
    type Event;
    /// Its materialized view.
    type View: View;

    /// The consumer group this projection reads with in production; also
    /// its name in reports, diffs and the model.
    fn group_id(&self) -> &str;

    /// Applies one event. Must not panic for any event sequence.
    fn apply(&mut self, event: &Self::Event);

    /// The current view.
    fn view(&self) -> Self::View;
}

/// A projection whose state can be stored: the view store keeps it per
/// entity key, so that a killed process resumes where it stopped instead
/// of replaying the log. Every registered projection is one
/// ([`register`]): the durable runner, the projector service and the
/// fault campaigns need it, and a projection that lacks it is a compile
/// error at its registration, never a failure at run time.
///
/// The state is kept per key (the key its events are produced under,
/// [`Domain::key`]), so that a batch writes only the entities it touched.
/// Entries are text, JSON by convention (`serde_json::to_string` and
/// `from_str` are the whole of it), so that the projection owns its stored
/// format and validates it on load.
///
/// ```
/// use projection_harness::domain::{DurableProjection, Projection};
/// use std::collections::BTreeMap;
///
/// #[derive(Default)]
/// struct Balances(BTreeMap<String, i64>);
///
/// impl Projection for Balances {
///     type Event = (String, i64);
///     type View = BTreeMap<String, i64>;
///     fn group_id(&self) -> &str { "balances" }
///     fn apply(&mut self, (account, amount): &(String, i64)) {
///         *self.0.entry(account.clone()).or_default() += amount;
///     }
///     fn view(&self) -> Self::View { self.0.clone() }
/// }
///
/// impl DurableProjection for Balances {
///     const STATE_VERSION: u32 = 1;
///     fn save_entry(&self, account: &str) -> Option<String> {
///         self.0.get(account).map(i64::to_string)
///     }
///     fn load_entry(&mut self, account: &str, state: &str) -> Result<(), String> {
///         self.0.insert(account.to_string(), state.parse().map_err(|e| format!("{e}"))?);
///         Ok(())
///     }
/// }
/// ```
pub trait DurableProjection: Projection {
    /// The version of the stored format. Raise it when the format changes:
    /// a store holding a newer version is refused by name, and an older
    /// one is read by [`DurableProjection::load_entry`].
    const STATE_VERSION: u32;

    /// The state this projection keeps for `key`; `None` if it keeps none
    /// (the stored entry is then deleted).
    fn save_entry(&self, key: &str) -> Option<String>;

    /// Restores the state of `key` that [`DurableProjection::save_entry`]
    /// wrote, or says what is wrong with it.
    fn load_entry(&mut self, key: &str, state: &str) -> Result<(), String>;
}

/// Folds events into a fresh projection: a full replay without a log.
pub fn fold<P: Projection>(mut projection: P, events: impl IntoIterator<Item = P::Event>) -> P::View {
    for event in events {
        projection.apply(&event);
    }
    projection.view()
}

/// A registered projection of events `E`, its view type erased.
pub type BoxedProjection<E> = Box<dyn ErasedProjection<E>>;

/// The object-safe face of a [`Projection`]; implemented for every one.
pub trait ErasedProjection<E>: Send {
    fn group_id(&self) -> &str;
    fn apply(&mut self, event: &E);
    fn view(&self) -> AnyView;
    fn state_version(&self) -> u32;
    fn save_entry(&self, key: &str) -> Option<String>;
    fn load_entry(&mut self, key: &str, state: &str) -> Result<(), String>;
}

impl<P> ErasedProjection<P::Event> for P
where
    P: DurableProjection + Send,
{
    fn group_id(&self) -> &str {
        Projection::group_id(self)
    }
    fn apply(&mut self, event: &P::Event) {
        Projection::apply(self, event)
    }
    fn view(&self) -> AnyView {
        AnyView::new(Projection::view(self))
    }
    fn state_version(&self) -> u32 {
        P::STATE_VERSION
    }
    fn save_entry(&self, key: &str) -> Option<String> {
        DurableProjection::save_entry(self, key)
    }
    fn load_entry(&mut self, key: &str, state: &str) -> Result<(), String> {
        DurableProjection::load_entry(self, key, state)
    }
}

/// Registers a projection: `register(Revenue::new())` in
/// [`Domain::projections`]. It must be a [`DurableProjection`].
pub fn register<P: DurableProjection + Send + 'static>(projection: P) -> BoxedProjection<P::Event> {
    Box::new(projection)
}

/// A view of any projection.
pub struct AnyView(Box<dyn ErasedView>);

trait ErasedView: erased_serde::Serialize + fmt::Debug + Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn equals(&self, other: &dyn ErasedView) -> bool;
    fn clone_box(&self) -> Box<dyn ErasedView>;
}

impl<V: View> ErasedView for V {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn equals(&self, other: &dyn ErasedView) -> bool {
        other.as_any().downcast_ref::<V>() == Some(self)
    }
    fn clone_box(&self) -> Box<dyn ErasedView> {
        Box::new(self.clone())
    }
}

erased_serde::serialize_trait_object!(ErasedView);

impl AnyView {
    pub fn new<V: View>(view: V) -> AnyView {
        AnyView(Box::new(view))
    }

    /// The concrete view, if it is a `V`.
    pub fn downcast_ref<V: View>(&self) -> Option<&V> {
        self.0.as_any().downcast_ref()
    }

    /// Pretty JSON, for diffs. Views are plain data, so this cannot fail
    /// for any view type this crate defines; a failure is rendered as text.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("<view does not serialize: {e}>"))
    }
}

/// Views of different types are never equal.
impl PartialEq for AnyView {
    fn eq(&self, other: &AnyView) -> bool {
        self.0.equals(other.0.as_ref())
    }
}

impl Clone for AnyView {
    fn clone(&self) -> AnyView {
        AnyView(self.0.clone_box())
    }
}

impl fmt::Debug for AnyView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl serde::Serialize for AnyView {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        erased_serde::serialize(self.0.as_ref(), serializer)
    }
}

/// One record of a history as produced: its key and its raw value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HistoryRecord {
    pub key: Option<String>,
    pub value: String,
}

/// A produced record and the position the log gave it.
pub type Produced = (Position, HistoryRecord);

/// What a domain's reference model says of a produced history.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Model {
    /// The view of each projection it models, by the projection's group id.
    pub views: BTreeMap<String, AnyView>,
    /// Positions of the records it rejects (not events, or under another key).
    pub rejected: Vec<Position>,
}

/// A domain: how records decode, which key an event sits under, the
/// projections, and the independent reference model.
///
/// [`crate::example`] is a whole domain in under 200 lines; this is its
/// decoding and keying at work:
///
/// ```
/// use projection_harness::domain::Domain;
/// use projection_harness::example::Counters;
///
/// assert_eq!(Counters.topic(), "counter-events");
/// let event = Counters.decode(r#"{"counter":"c1","add":3}"#).unwrap();
/// assert_eq!(Counters.key(&event), "c1");
/// assert!(Counters.decode(r#"{"counter":"c1","add":1.5}"#).is_err());
/// assert_eq!(Counters.projections().len(), 1);
/// ```
///
/// The harness applies the key rule itself (a record whose key is not its
/// event's [`Domain::key`] is rejected, see [`decode_record`]), so that no
/// domain can forget it; the model must apply it too, with its own code.
pub trait Domain: Clone + Send + Sync + 'static {
    /// A validated event: what projections apply. `Send + Sync` so that
    /// the harness can fold a decoded history on several threads.
    type Event: fmt::Debug + Send + Sync;
    /// Why a record value is not an event of this domain.
    type Rejection: std::error::Error + Clone + PartialEq + Send + Sync + 'static;

    /// The topic its events are produced to.
    fn topic(&self) -> &str;

    /// Decodes and validates one record value.
    fn decode(&self, value: &str) -> Result<Self::Event, Self::Rejection>;

    /// The key an event must be produced under (its entity id).
    fn key<'e>(&self, event: &'e Self::Event) -> &'e str;

    /// The key a hand-written value is produced under, in a plain replay
    /// file (one value per line, no key given), or what is wrong with it.
    /// By default the key of the decoded event; a domain may key values it
    /// rejects too, so that files can hold invalid events.
    fn key_of_value(&self, value: &str) -> Result<String, String> {
        let event = self.decode(value).map_err(|e| e.to_string())?;
        Ok(self.key(&event).to_string())
    }

    /// Fresh instances of every projection, in a fixed order.
    fn projections(&self) -> Vec<BoxedProjection<Self::Event>>;

    /// The reference model of a produced history: independent code (its own
    /// parsing, validation and arithmetic), so that a bug in the system is
    /// not repeated in its judge.
    fn model(&self, produced: &[Produced]) -> Model;
}

/// Longest excerpt of a key quoted in a message, in characters.
pub const KEY_EXCERPT_CHARS: usize = 200;

/// Why a record could not be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError<R> {
    /// The value is not a valid event.
    #[error(transparent)]
    Invalid(R),
    /// A valid event under a key other than its own, or under none: it
    /// would break the per-key ordering that keyed routing gives.
    #[error("{}; produce each event under its own key", wrong_key(.key, .expected))]
    WrongKey { key: Option<String>, expected: String },
}

fn wrong_key(key: &Option<String>, expected: &str) -> String {
    // Keys may be megabytes long: the message quotes a bounded excerpt.
    let expected = crate::text::quoted_excerpt(expected, KEY_EXCERPT_CHARS);
    match key {
        Some(key) => format!(
            "record key {} differs from its event's key {expected}",
            crate::text::quoted_excerpt(key, KEY_EXCERPT_CHARS)
        ),
        None => format!("the record has no key; its event's key is {expected}"),
    }
}

/// A record that could not be applied, with where it sits in the log.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(bound(serialize = "R: fmt::Display"))]
pub struct Rejected<R> {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    #[serde(serialize_with = "serialize_display")]
    pub error: RecordError<R>,
}

impl<R> Rejected<R> {
    pub fn position(&self) -> Position {
        Position { partition: self.partition, offset: self.offset }
    }
}

fn serialize_display<R: fmt::Display, S: serde::Serializer>(e: &RecordError<R>, s: S) -> Result<S::Ok, S::Error>
where
    RecordError<R>: fmt::Display,
{
    s.collect_str(e)
}

impl<R: fmt::Display> fmt::Display for Rejected<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rejected record at topic {} partition {} offset {}: {}. It was counted and not applied; fix the \
             producer that wrote it.",
            crate::text::quoted_if_needed(&self.topic),
            self.partition,
            self.offset,
            self.error
        )
    }
}

/// Decodes one log record into an event of `domain`, checking that it sits
/// under its own key: the one decoding path of every runner.
pub fn decode_record<D: Domain>(domain: &D, record: &LogRecord) -> Result<D::Event, Rejected<D::Rejection>> {
    let reject =
        |error| Rejected { topic: record.topic.clone(), partition: record.partition, offset: record.offset, error };
    let event = domain.decode(&record.value).map_err(|e| reject(RecordError::Invalid(e)))?;
    let expected = domain.key(&event);
    if record.key.as_deref() != Some(expected) {
        return Err(reject(RecordError::WrongKey { key: record.key.clone(), expected: expected.to_string() }));
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_view_compares_by_value_and_type() {
        let a = AnyView::new(BTreeMap::from([("a".to_string(), 1u64)]));
        assert_eq!(a, AnyView::new(BTreeMap::from([("a".to_string(), 1u64)])));
        assert_ne!(a, AnyView::new(BTreeMap::from([("a".to_string(), 2u64)])));
        assert_ne!(AnyView::new(1u64), AnyView::new(1u32), "views of different types are never equal");
        assert_eq!(a.downcast_ref::<BTreeMap<String, u64>>().map(|m| m["a"]), Some(1));
        assert_eq!(a.downcast_ref::<u64>(), None);
        assert_eq!(a.clone(), a);
    }

    #[test]
    fn any_view_prints_its_json() {
        let view = AnyView::new(BTreeMap::from([("key-1".to_string(), u128::MAX)]));
        assert_eq!(view.to_json_pretty(), format!("{{\n  \"key-1\": {}\n}}", u128::MAX));
        assert_eq!(serde_json::to_string(&view).unwrap(), format!("{{\"key-1\":{}}}", u128::MAX));
        assert_eq!(format!("{view:?}"), format!("{{\"key-1\": {}}}", u128::MAX));
    }

    #[test]
    fn a_rejected_record_says_where_it_is_what_is_wrong_and_what_to_do() {
        let rejected = Rejected {
            topic: "shop-events".to_string(),
            partition: 2,
            offset: 7,
            error: RecordError::<std::fmt::Error>::WrongKey { key: None, expected: "a".into() },
        };
        assert_eq!(rejected.position(), Position { partition: 2, offset: 7 });
        assert_eq!(
            rejected.to_string(),
            "rejected record at topic shop-events partition 2 offset 7: the record has no key; its event's key is \
             \"a\"; produce each event under its own key. It was counted and not applied; fix the producer that \
             wrote it."
        );
    }

    #[test]
    fn the_key_rule_rejects_foreign_and_missing_keys() {
        let wrong = RecordError::<std::fmt::Error>::WrongKey { key: Some("b\n".into()), expected: "a".into() };
        assert_eq!(
            wrong.to_string(),
            "record key \"b\\n\" differs from its event's key \"a\"; produce each event under its own key"
        );
        let none = RecordError::<std::fmt::Error>::WrongKey { key: None, expected: "a".into() };
        assert_eq!(
            none.to_string(),
            "the record has no key; its event's key is \"a\"; produce each event under its own key"
        );
    }
}
