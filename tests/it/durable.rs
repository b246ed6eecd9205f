//! The durable runner and its view store: every property holds across
//! process restarts (runners dropped and rebuilt from the store), and the
//! store refuses what it cannot trust with a named error.

use crate::support::scratch_log;
use event_sourced_cart::anomaly::Kind;
use event_sourced_cart::cart::event::DomainEvent;
use event_sourced_cart::cart::generate::case_with;
use event_sourced_cart::cart::projection::{CartState, CartStateView};
use event_sourced_cart::cart::{Cart, TOPIC};
use event_sourced_cart::domain::{
    AnyView, BoxedProjection, Domain, DurableProjection, Model, Produced, Projection, fold, register,
};
use event_sourced_cart::durable::{CheckpointError, DurableRunner};
use event_sourced_cart::log::{Log, MerkqlLog};
use event_sourced_cart::projector;
use event_sourced_cart::runner::{GroupRunner, PhaseOptions, RunError};
use event_sourced_cart::store::StoreError;
use projection_harness::properties::Properties;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

/// Every property of the suite, in memory and on the durable system with
/// restarts: the harness's one call, as any domain's tests make it.
#[test]
fn every_property_holds_in_memory_and_across_restarts() {
    Properties::new(Cart).named("durable_restarts").regressions("proptest-regressions/durable.txt").run(case_with(60));
}

/// A log of `events` canonical-style records in `partitions` partitions.
fn log_with(partitions: u32, events: usize) -> (tempfile::TempDir, MerkqlLog) {
    let (dir, log) = scratch_log(partitions);
    for i in 0..events {
        let cart = format!("cart-{}", i % 3);
        let value = format!(r#"{{"type":"AddItem","cart_id":"{cart}","item":"i{i}","qty":1,"price":1.5}}"#);
        log.append(Some(&cart), &value).expect("append");
    }
    (dir, log)
}

/// One durable phase of cart-state into `store`, its runner then dropped
/// (as a stopped process leaves the store).
fn one_phase(log: &MerkqlLog, store: &std::path::Path) {
    let mut first = runner(store);
    first.phase(log, PhaseOptions::default()).expect("phase");
    first.release_consumer().expect("release");
}

fn runner(store: &std::path::Path) -> DurableRunner<Cart> {
    let projection = Cart.projections().into_iter().next().expect("cart-state");
    DurableRunner::durable(Cart, projection, "cart-state", store.to_path_buf())
}

#[test]
fn a_restarted_runner_resumes_from_the_store_even_when_merkql_forgot_its_offsets() {
    let (dir, mut log) = log_with(2, 9);
    let store = dir.path().join("views.sqlite");
    let mut first = runner(&store);
    let report = first.phase(&log, PhaseOptions::default()).expect("phase");
    assert_eq!(report.applied.len(), 9);
    first.release_consumer().expect("release");
    let view = first.view();
    drop(first);

    // merkql's group offsets lost: every record comes back, none re-applied.
    let offsets: Vec<_> = walk(dir.path()).into_iter().filter(|p| p.ends_with("offsets.bin")).collect();
    assert!(!offsets.is_empty(), "merkql keeps the group's offsets in offsets.bin");
    offsets.iter().for_each(|file| std::fs::remove_file(file).expect("remove offsets.bin"));
    log.reopen().expect("reopen: merkql reads its offsets again");
    let mut second = runner(&store);
    let report = second.phase(&log, PhaseOptions::default()).expect("phase");
    assert_eq!((report.applied.len(), report.duplicates.len()), (0, 9));
    assert_eq!(second.view(), view, "the view is the stored one");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { found.extend(walk(&path)) } else { found.push(path) }
    }
    found
}

#[test]
fn a_store_behind_the_groups_merkql_offsets_is_refused() {
    let (dir, log) = log_with(1, 5);
    let store = dir.path().join("views.sqlite");
    one_phase(&log, &store);
    // The store says 3 records were applied (as an older copy of it would;
    // its digest is left out, as a store of schema version 1 has none);
    // merkql's group is at 5: records 3 and 4 would never be delivered again.
    let connection = rusqlite::Connection::open(&store).expect("open the store");
    connection.execute("UPDATE checkpoints SET next_offset = 3, last_digest = NULL", []).expect("rewind");
    drop(connection);
    log.append(Some("cart-0"), r#"{"type":"Checkout","cart_id":"cart-0"}"#).expect("append");
    let error = runner(&store).phase(&log, PhaseOptions::default()).unwrap_err();
    assert!(
        matches!(
            error,
            RunError::Checkpoint(CheckpointError::OffsetsAhead { partition: 0, stored_next: 3, delivered_from: 5, .. })
        ),
        "{error}"
    );
    assert!(error.to_string().contains("records 3..5 would never be applied"), "{error}");
}

/// A real merkql log whose polls lose the record at one offset (a fault
/// of the kind merkql's index repair can cause).
struct LosesOffset {
    log: MerkqlLog,
    offset: u64,
}

struct LosingConsumer {
    inner: Box<dyn event_sourced_cart::log::GroupConsumer>,
    offset: u64,
}

impl event_sourced_cart::log::GroupConsumer for LosingConsumer {
    fn poll(&mut self) -> Result<Vec<event_sourced_cart::record::LogRecord>, event_sourced_cart::log::LogError> {
        Ok(self.inner.poll()?.into_iter().filter(|r| r.offset != self.offset).collect())
    }
    fn commit(&mut self) -> Result<(), event_sourced_cart::log::LogError> {
        self.inner.commit()
    }
    fn close(self: Box<Self>) -> Result<(), event_sourced_cart::log::LogError> {
        self.inner.close()
    }
}

impl Log for LosesOffset {
    fn topic(&self) -> &str {
        self.log.topic()
    }
    fn partitions(&self) -> u32 {
        self.log.partitions()
    }
    fn append(
        &self,
        key: Option<&str>,
        value: &str,
    ) -> Result<event_sourced_cart::record::Position, event_sourced_cart::log::LogError> {
        self.log.append(key, value)
    }
    fn end_offsets(&self) -> Result<Vec<u64>, event_sourced_cart::log::LogError> {
        self.log.end_offsets()
    }
    fn consumer(
        &self,
        group_id: &str,
    ) -> Result<Box<dyn event_sourced_cart::log::GroupConsumer>, event_sourced_cart::log::LogError> {
        Ok(Box::new(LosingConsumer { inner: self.log.consumer(group_id)?, offset: self.offset }))
    }
    fn reopen(&mut self) -> Result<(), event_sourced_cart::log::LogError> {
        self.log.reopen()
    }
    fn record_at(
        &self,
        position: event_sourced_cart::record::Position,
    ) -> Result<Option<event_sourced_cart::record::LogRecord>, event_sourced_cart::log::LogError> {
        self.log.record_at(position)
    }
}

#[test]
fn a_gap_in_a_poll_stops_the_runner_before_applying_past_it() {
    let (dir, log) = log_with(1, 6);
    let faulty = LosesOffset { log, offset: 2 };
    let mut durable = runner(&dir.path().join("views.sqlite"));
    let error = durable.phase(&faulty, PhaseOptions::default()).unwrap_err();
    assert!(matches!(error, RunError::Gap { partition: 0, expected: 2, got: 3, .. }), "{error}");
    assert!(error.to_string().contains("records 2..3 are missing"), "{error}");
    // Nothing past the gap reached the store.
    let store = rusqlite::Connection::open(dir.path().join("views.sqlite")).expect("open the store");
    let stored: i64 = store.query_row("SELECT count(*) FROM checkpoints", [], |row| row.get(0)).expect("count");
    assert_eq!(stored, 0, "the batch with the gap was not committed");
}

#[test]
fn a_log_that_went_backwards_is_refused() {
    let (dir, log) = log_with(1, 5);
    let store = dir.path().join("views.sqlite");
    let mut first = runner(&store);
    first.phase(&log, PhaseOptions::default()).expect("phase");
    first.release_consumer().expect("release");
    drop((first, log));
    let (_other_dir, shorter) = log_with(1, 2);
    let error = runner(&store).phase(&shorter, PhaseOptions::default()).unwrap_err();
    assert!(
        matches!(
            error,
            RunError::Checkpoint(CheckpointError::LogWentBackwards { partition: 0, log_end: 2, stored_next: 5, .. })
        ),
        "{error}"
    );
}

#[test]
fn a_store_of_another_log_or_a_newer_version_is_refused() {
    let (dir, log) = log_with(2, 3);
    let store = dir.path().join("views.sqlite");
    one_phase(&log, &store);

    let (_three_dir, three) = log_with(3, 1);
    let error = runner(&store).phase(&three, PhaseOptions::default()).unwrap_err();
    assert!(
        matches!(error, RunError::Checkpoint(CheckpointError::Store(StoreError::OtherLog { partitions: 3, .. }))),
        "{error}"
    );

    let connection = rusqlite::Connection::open(&store).expect("open the store");
    connection.execute("UPDATE projections SET state_version = 99", []).expect("newer state");
    let error = runner(&store).phase(&log, PhaseOptions::default()).unwrap_err();
    assert!(
        matches!(error, RunError::Checkpoint(CheckpointError::Store(StoreError::NewerState { found: 99, .. }))),
        "{error}"
    );
    connection.execute("UPDATE store_meta SET value = '3' WHERE key = 'schema_version'", []).expect("newer schema");
    let error = runner(&store).phase(&log, PhaseOptions::default()).unwrap_err();
    assert!(matches!(error, RunError::Checkpoint(CheckpointError::Store(StoreError::NewerSchema { .. }))), "{error}");
    assert_eq!(TOPIC, log.topic());
}

/// Panics once, when armed, on the first add of item "boom" (after the
/// event changed its state); otherwise the real `CartState`, named `name`.
struct PanicsOnce {
    name: &'static str,
    armed: Arc<AtomicBool>,
    state: CartState,
}

impl Projection for PanicsOnce {
    type Event = DomainEvent;
    type View = CartStateView;
    fn group_id(&self) -> &str {
        self.name
    }
    fn apply(&mut self, event: &DomainEvent) {
        self.state.apply(event);
        if matches!(event, DomainEvent::AddItem { item, .. } if item == "boom") && self.armed.swap(false, SeqCst) {
            panic!("boom in apply, after the event changed the state");
        }
    }
    fn view(&self) -> CartStateView {
        self.state.view()
    }
}

impl DurableProjection for PanicsOnce {
    const STATE_VERSION: u32 = CartState::STATE_VERSION;
    fn save_entry(&self, key: &str) -> Option<String> {
        self.state.save_entry(key)
    }
    fn load_entry(&mut self, key: &str, state: &str) -> Result<(), String> {
        self.state.load_entry(key, state)
    }
}

/// The cart domain with a `PanicsOnce` named "cart-state" as its one
/// projection, armed by `armed`.
#[derive(Clone)]
struct PanickyCart {
    armed: Arc<AtomicBool>,
}

impl Domain for PanickyCart {
    type Event = DomainEvent;
    type Rejection = <Cart as Domain>::Rejection;
    fn topic(&self) -> &str {
        Cart.topic()
    }
    fn decode(&self, value: &str) -> Result<DomainEvent, Self::Rejection> {
        Cart.decode(value)
    }
    fn key<'e>(&self, event: &'e DomainEvent) -> &'e str {
        Cart.key(event)
    }
    fn projections(&self) -> Vec<BoxedProjection<DomainEvent>> {
        vec![register(PanicsOnce { name: "cart-state", armed: Arc::clone(&self.armed), state: CartState::new() })]
    }
    fn model(&self, produced: &[Produced]) -> Model {
        Cart.model(produced)
    }
}

const BOOM: &str = r#"{"type":"AddItem","cart_id":"cart-0","item":"boom","qty":1,"price":2}"#;

fn log_values(log: &MerkqlLog) -> Vec<String> {
    let mut consumer = log.consumer("read-all").unwrap();
    let values = consumer.poll().unwrap().into_iter().map(|r| r.value).collect();
    consumer.close().unwrap();
    values
}

#[test]
fn a_panic_in_apply_stores_nothing_of_the_batch_and_the_next_phase_resumes_from_the_store() {
    let (dir, log) = log_with(1, 3);
    log.append(Some("cart-0"), BOOM).unwrap();
    log.append(Some("cart-1"), r#"{"type":"AddItem","cart_id":"cart-1","item":"after","qty":1,"price":3}"#).unwrap();
    let store = dir.path().join("views.sqlite");
    let domain = PanickyCart { armed: Arc::new(AtomicBool::new(true)) };
    let projection = domain.projections().into_iter().next().unwrap();
    let mut durable = DurableRunner::durable(domain, projection, "cart-state", store.clone());
    let error = durable.phase(&log, PhaseOptions::default()).unwrap_err();
    assert!(matches!(&error, RunError::ProjectionPanicked { partition: 0, offset: 3, .. }), "{error}");
    assert!(error.to_string().contains("boom in apply"), "{error}");
    assert_eq!(error.anomaly(), Some(Kind::ApplyPanic));
    let connection = rusqlite::Connection::open(&store).unwrap();
    let stored: i64 = connection.query_row("SELECT count(*) FROM checkpoints", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, 0, "nothing of the batch was stored");
    // The state the panic left half-applied is gone: the next phase
    // reloads from the store and applies everything once.
    let report = durable.phase(&log, PhaseOptions::default()).unwrap();
    assert_eq!(report.applied.len(), 5);
    let expected = fold(CartState::new(), log_values(&log).iter().map(|v| Cart.decode(v).unwrap()));
    assert_eq!(durable.view(), AnyView::new(expected));
}

#[test]
fn a_panic_in_a_projection_its_domain_cannot_rebuild_stops_every_later_phase() {
    let (dir, log) = log_with(1, 1);
    log.append(Some("cart-0"), BOOM).unwrap();
    let armed = Arc::new(AtomicBool::new(true));
    let projection = register(PanicsOnce { name: "not-registered", armed, state: CartState::new() });
    let mut durable = DurableRunner::durable(Cart, projection, "other", dir.path().join("views.sqlite"));
    let error = durable.phase(&log, PhaseOptions::default()).unwrap_err();
    assert!(matches!(error, RunError::ProjectionPanicked { .. }), "{error}");
    let error = durable.phase(&log, PhaseOptions::default()).unwrap_err();
    assert!(matches!(&error, RunError::NotRebuildable(group) if group == "\"other\""), "{error}");
}

#[test]
fn a_store_of_schema_version_1_is_upgraded_when_opened() {
    let (dir, log) = log_with(1, 3);
    let store = dir.path().join("views.sqlite");
    one_phase(&log, &store);
    let connection = rusqlite::Connection::open(&store).expect("open the store");
    connection
        .execute_batch(
            "ALTER TABLE checkpoints DROP COLUMN last_digest;
             UPDATE store_meta SET value = '1' WHERE key = 'schema_version';",
        )
        .expect("make it a version 1 store");
    drop(connection);
    log.append(Some("cart-0"), r#"{"type":"Checkout","cart_id":"cart-0"}"#).expect("append");
    let mut second = runner(&store);
    let report = second.phase(&log, PhaseOptions::default()).expect("a version 1 store is read");
    assert_eq!(report.applied.len(), 1, "it resumed from the version 1 checkpoint");
    let connection = rusqlite::Connection::open(&store).expect("open the store");
    let version: String =
        connection.query_row("SELECT value FROM store_meta WHERE key = 'schema_version'", [], |r| r.get(0)).unwrap();
    assert_eq!(version, "2");
    let digest: Option<String> = connection.query_row("SELECT last_digest FROM checkpoints", [], |r| r.get(0)).unwrap();
    assert_eq!(digest.map(|d| d.len()), Some(16), "the new checkpoint has its digest");
}

/// The three cart projections write one stored-cart format, so a store
/// holding any of them records the same format version for each: a
/// projection declaring another version would refuse, or be refused by,
/// state its sibling wrote in that same format.
#[test]
fn every_cart_projection_stores_its_carts_under_the_one_format_version() {
    let (dir, log) = log_with(2, 6);
    let store = dir.path().join("views.sqlite");
    for projection in Cart.projections() {
        let group = projection.group_id().to_string();
        let mut runner = DurableRunner::durable(Cart, projection, &group, store.clone());
        runner.phase(&log, PhaseOptions::default()).expect("phase");
        runner.release_consumer().expect("release");
    }
    let connection = rusqlite::Connection::open(&store).expect("open the store");
    let versions: Vec<(String, u32)> = connection
        .prepare("SELECT projection, state_version FROM projections ORDER BY projection")
        .and_then(|mut rows| rows.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.collect())
        .expect("the stored versions");
    assert_eq!(versions.len(), Cart.projections().len(), "{versions:?}");
    assert!(versions.iter().all(|(_, version)| *version == versions[0].1), "{versions:?}");
}

/// Two projections: the real `CartState` first, then a `PanicsOnce`
/// copy of it, armed by `armed`.
#[derive(Clone)]
struct TwoCartStates {
    armed: Arc<AtomicBool>,
}

impl Domain for TwoCartStates {
    type Event = DomainEvent;
    type Rejection = <Cart as Domain>::Rejection;
    fn topic(&self) -> &str {
        Cart.topic()
    }
    fn decode(&self, value: &str) -> Result<DomainEvent, Self::Rejection> {
        Cart.decode(value)
    }
    fn key<'e>(&self, event: &'e DomainEvent) -> &'e str {
        Cart.key(event)
    }
    fn projections(&self) -> Vec<BoxedProjection<DomainEvent>> {
        vec![
            register(CartState::new()),
            register(PanicsOnce { name: "cart-state-again", armed: Arc::clone(&self.armed), state: CartState::new() }),
        ]
    }
    fn model(&self, produced: &[Produced]) -> Model {
        Cart.model(produced)
    }
}

/// A projector catch-up that fails midway (one projection panics after
/// another applied the round in memory) stores nothing of the round; the
/// next catch-up reloads every runner from the store and both stored
/// views end complete: no runner skips what it had applied but not stored.
#[test]
fn a_failed_projector_catch_up_reloads_every_runner_and_the_next_one_stores_everything() {
    let (dir, log) = log_with(1, 3);
    log.append(Some("cart-0"), BOOM).unwrap();
    let store = dir.path().join("views.sqlite");
    let domain = TwoCartStates { armed: Arc::new(AtomicBool::new(true)) };
    let mut runners = projector::runners(&domain, &store, 1000);
    let error = projector::catch_up(&log, &mut runners).expect_err("the second projection panics");
    assert!(matches!(error, RunError::ProjectionPanicked { .. }), "{error}");
    let progress = projector::catch_up(&log, &mut runners).expect("the next catch-up");
    assert!(progress.iter().all(|p| p.applied == 4 && p.duplicates == 0), "{progress:?}");
    let events: Vec<DomainEvent> = log_values(&log).iter().map(|v| Cart.decode(v).unwrap()).collect();
    let expected = AnyView::new(fold(CartState::new(), events));
    for (group, view) in projector::stored_views(&domain, &store).unwrap() {
        assert_eq!(view.as_ref(), Some(&expected), "{group}");
    }
}
