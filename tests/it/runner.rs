//! The runner's invariants against a real log, including a real `poll()`
//! failure: merkql advances the positions of partitions it read before the
//! failing one, so a commit after a failed poll would skip their records.

use crate::support::{CountingLog, scratch_log};
use event_sourced_cart::cart::Cart;
use event_sourced_cart::cart::event::{DomainEvent, encode};
use event_sourced_cart::cart::money::Cents;
use event_sourced_cart::cart::projection::CartState;
use event_sourced_cart::domain::{AnyView, Projection, fold, register};
use event_sourced_cart::log::{Log, LogError};
use event_sourced_cart::runner::{CrashPoint, GroupRunner, PhaseOptions, RunError, Runner};

fn one_add_per_cart(n: usize) -> Vec<DomainEvent> {
    (0..n)
        .map(|i| DomainEvent::AddItem {
            cart_id: format!("cart-{i}"),
            item: "x".into(),
            qty: 1,
            unit_price: Cents(100),
        })
        .collect()
}

#[test]
fn a_failed_poll_commits_nothing_and_every_record_comes_back() {
    let (dir, log) = scratch_log(4);
    let events = one_add_per_cart(20);
    for event in &events {
        let record = encode(event);
        log.append(record.key.as_deref(), &record.value).unwrap();
    }
    // Corrupt the CRC of the first index entry of the last non-empty
    // partition: merkql's poll then fails there, after reading the others.
    let partition = log.end_offsets().unwrap().iter().rposition(|n| *n > 0).unwrap();
    let index = dir.path().join(format!(".merkql/topics/cart-events/partitions/{partition}/offsets.idx"));
    let original = std::fs::read(&index).unwrap();
    let mut corrupted = original.clone();
    corrupted[0] ^= 0xff;
    std::fs::write(&index, &corrupted).unwrap();

    let mut consumer = log.consumer(CartState::GROUP_ID).unwrap();
    let error = consumer.poll().unwrap_err();
    assert!(error.to_string().contains("CRC mismatch"), "{error}");
    assert!(matches!(consumer.commit(), Err(LogError::CommitAfterFailedPoll)));
    drop(consumer);

    let mut runner = Runner::new(Cart, register(CartState::new()));
    assert!(matches!(runner.catch_up(&log), Err(RunError::Log(LogError::PollFailed { .. }))));

    std::fs::write(&index, &original).unwrap();
    let report = runner.catch_up(&log).unwrap();
    assert_eq!(report.delivered.len(), events.len(), "nothing was committed past, nothing is lost");
    assert_eq!(runner.view(), AnyView::new(fold(CartState::new(), events)));
}

#[test]
fn a_group_id_that_would_escape_the_log_directory_is_refused() {
    let (_dir, log) = scratch_log(1);
    for bad in ["", "../x", "a/b", ".hidden", "spaces not allowed"] {
        assert!(matches!(log.consumer(bad), Err(LogError::BadGroupId(_))), "{bad:?}");
    }
    let mut runner = Runner::with_group(Cart, register(CartState::new()), "../escape");
    assert!(runner.catch_up(&log).is_err());
    assert_eq!(CartState::new().group_id(), "cart-state");
}

#[test]
fn a_topic_name_that_would_escape_the_log_directory_is_refused() {
    let dir = event_sourced_cart::settings::scratch_dir().unwrap();
    for bad in ["", "../x", "a/b", ".hidden", "spaces not allowed"] {
        let created = event_sourced_cart::log::MerkqlLog::create(dir.path(), bad, 1);
        assert!(matches!(created, Err(LogError::BadTopic(_))), "{bad:?}");
        let opened = event_sourced_cart::log::MerkqlLog::open(dir.path(), bad);
        assert!(matches!(opened, Err(LogError::BadTopic(_))), "{bad:?}");
    }
    assert!(!dir.path().join(".merkql").exists(), "nothing was created");
}

#[test]
fn reopen_is_refused_while_a_consumer_holds_the_broker() {
    let (_dir, mut log) = scratch_log(2);
    let consumer = log.consumer("g").unwrap();
    assert!(matches!(log.reopen(), Err(LogError::ConsumersStillOpen(1))));
    drop(consumer);
    log.reopen().unwrap();
    assert_eq!(log.partitions(), 2);
}

#[test]
fn a_phase_reuses_the_previous_consumer_only_when_asked() {
    let (_dir, log) = scratch_log(2);
    let log = CountingLog::new(log);
    let mut runner = Runner::new(Cart, register(CartState::new()));
    let reuse = PhaseOptions { reuse_consumer: true, crash: None };
    runner.phase(&log, reuse).unwrap();
    assert_eq!(log.consumers.get(), 1, "no consumer to reuse yet");
    runner.phase(&log, reuse).unwrap();
    assert_eq!(log.consumers.get(), 1, "the previous consumer is reused");
    runner.phase(&log, PhaseOptions::default()).unwrap();
    assert_eq!(log.consumers.get(), 2, "a new consumer unless asked to reuse");
    let crash = PhaseOptions { reuse_consumer: true, crash: Some(CrashPoint::BeforeCommit) };
    runner.phase(&log, crash).unwrap();
    assert_eq!(log.consumers.get(), 2, "the crashed phase reused the consumer");
    runner.phase(&log, reuse).unwrap();
    assert_eq!(log.consumers.get(), 3, "a crashed consumer is gone: a new one");
}
