//! The Kafka-protocol backend on librdkafka's in-process mock cluster
//! (`cargo test --features kafka`): the canonical scenario gives the
//! seed's figures, and generated histories and schedules pass every
//! property, as they do on merkql.

use crate::support::proptest_config;
use event_sourced_cart::cart::generate::case_with;
use event_sourced_cart::cart::scenario::{run_canonical, run_canonical_on};
use event_sourced_cart::cart::{Cart, TOPIC, report};
use event_sourced_cart::log::Log;
use event_sourced_cart::log::kafka::create_on_mock;
use event_sourced_cart::verify::check::check_all;
use event_sourced_cart::verify::{Production, execute};
use proptest::prelude::*;
use rdkafka::mocking::MockCluster;
use std::sync::atomic::{AtomicU32, Ordering};

/// A topic name not used before in this process: each case gets a fresh
/// topic, as each gets a fresh merkql directory.
fn fresh_topic() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("{TOPIC}-{}", NEXT.fetch_add(1, Ordering::SeqCst))
}

#[test]
fn the_canonical_scenario_on_a_mock_cluster_gives_the_seed_figures() {
    let cluster = MockCluster::new(3).expect("a mock cluster");
    let mut log = create_on_mock(&cluster, &fresh_topic(), 3).expect("a topic");
    let on_kafka = run_canonical_on(&mut log).expect("the scenario runs");
    on_kafka.check_incremental().expect("each group polls exactly the 5 new events");
    let dir = tempfile::tempdir().expect("a directory");
    let on_merkql = run_canonical(&dir.path().join("log"), 3).expect("the scenario runs on merkql");
    assert_eq!(report::canonical_text(&on_kafka), report::canonical_text(&on_merkql));
    assert_eq!(log.end_offsets().expect("ends").iter().sum::<u64>(), 35);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..proptest_config("proptest-regressions/kafka.txt") })]

    /// Every property of `check::all` on a mock cluster of 3 brokers.
    #[test]
    fn generated_histories_pass_every_property_on_a_mock_cluster(case in case_with(40)) {
        let cluster = MockCluster::new(3).expect("a mock cluster");
        let mut log = create_on_mock(&cluster, &fresh_topic(), case.schedule.partitions()).expect("a topic");
        let execution = execute(&Production(Cart), &case.history, &case.schedule, &mut log)
            .map_err(|e| TestCaseError::fail(format!("the log failed: {e}")))?;
        let violations = check_all(&execution);
        prop_assert!(violations.is_empty(), "{}", violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
    }
}

/// A Kafka topic may hold bytes that are not UTF-8 (another producer's);
/// the seam carries text, so the poll fails naming the record, commits
/// nothing, and never hands on an altered (U+FFFD) value.
#[test]
fn a_value_that_is_not_utf8_fails_the_poll_with_its_place() {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let cluster = MockCluster::new(1).expect("a mock cluster");
    let topic = fresh_topic();
    let log = create_on_mock(&cluster, &topic, 1).expect("a topic");
    log.append(Some("cart-1"), r#"{"type":"Checkout","cart_id":"cart-1"}"#).expect("append");
    let raw: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .create()
        .expect("a producer");
    let bytes: &[u8] = b"{\"type\":\"Checkout\",\"cart_id\":\"cart-\xff\"}";
    raw.send(BaseRecord::to(&topic).key("cart-1").payload(bytes).partition(0)).map_err(|(e, _)| e).expect("send");
    raw.flush(std::time::Duration::from_secs(30)).expect("flush");

    let mut consumer = log.consumer("cart-state").expect("a consumer");
    let error = consumer.poll().expect_err("the poll refuses the record");
    let message = error.to_string();
    assert!(message.contains("partition 0, offset 1 has a value that is not UTF-8"), "{message}");
    assert!(matches!(consumer.commit(), Err(event_sourced_cart::log::LogError::CommitAfterFailedPoll)));
}
