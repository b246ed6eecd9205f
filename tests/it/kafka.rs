//! The Kafka-protocol backend (`cargo test --features kafka`): the
//! canonical scenario gives the seed's figures, and generated histories
//! and schedules pass every property, as they do on merkql. They run on
//! librdkafka's in-process mock cluster, or on the broker of
//! `KAFKA_BOOTSTRAP` when it is set (each in a new topic, deleted after);
//! broker faults need the mock cluster, so that property always uses one.

use crate::support::proptest_config;
use event_sourced_cart::anomaly::Kind;
use event_sourced_cart::cart::generate::case_with;
use event_sourced_cart::cart::scenario::{run_canonical, run_canonical_on};
use event_sourced_cart::cart::{Cart, TOPIC, report};
use event_sourced_cart::log::Log;
use event_sourced_cart::log::kafka::{DEFAULT_TIMEOUT, KafkaLog, PRODUCER_QUEUE_RECORDS, create_on_mock, unique_topic};
use event_sourced_cart::record::{LogRecord, Position, Positions};
use event_sourced_cart::text::quoted;
use event_sourced_cart::verify::check::check_all;
use event_sourced_cart::verify::{Production, execute};
use proptest::prelude::*;
use rdkafka::mocking::MockCluster;

/// Where a test's topics live: the broker of `KAFKA_BOOTSTRAP`, or a new
/// mock cluster of 3 brokers.
enum Broker {
    Mock(MockCluster<'static, rdkafka::producer::DefaultProducerContext>),
    Real(String),
}

impl Broker {
    fn new() -> Broker {
        match &crate::support::settings().kafka_bootstrap {
            Some(bootstrap) => Broker::Real(bootstrap.clone()),
            None => Broker::Mock(MockCluster::new(3).expect("a mock cluster")),
        }
    }

    fn bootstrap(&self) -> String {
        match self {
            Broker::Mock(cluster) => cluster.bootstrap_servers(),
            Broker::Real(bootstrap) => bootstrap.clone(),
        }
    }

    /// A new topic of `partitions` partitions, never used before.
    fn log(&self, partitions: u32) -> KafkaLog {
        let topic = unique_topic(TOPIC);
        match self {
            Broker::Mock(cluster) => create_on_mock(cluster, &topic, partitions),
            Broker::Real(bootstrap) => KafkaLog::create(bootstrap, &topic, partitions),
        }
        .expect("a new topic")
    }
}

#[test]
fn the_canonical_scenario_on_kafka_gives_the_seed_figures() {
    let broker = Broker::new();
    let mut log = broker.log(3);
    let on_kafka = run_canonical_on(&mut log, "Kafka").expect("the scenario runs");
    on_kafka.check_incremental().expect("each group polls exactly the 5 new events");
    let dir = tempfile::tempdir().expect("a directory");
    let on_merkql = run_canonical(&dir.path().join("log"), 3).expect("the scenario runs on merkql");
    let (kafka_text, merkql_text) = (report::canonical_text(&on_kafka), report::canonical_text(&on_merkql));
    let header = format!("Event-sourced cart on Kafka: topic {}, 3 partitions", log.topic());
    assert_eq!(kafka_text.lines().next(), Some(header.as_str()));
    // Everything after the first line (which names the log) is the same.
    assert_eq!(kafka_text.split_once('\n').map(|t| t.1), merkql_text.split_once('\n').map(|t| t.1));
    assert_eq!(log.end_offsets().expect("ends").iter().sum::<u64>(), 35);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..proptest_config("proptest-regressions/kafka.txt") })]

    /// Every property of `check::all`.
    #[test]
    fn generated_histories_pass_every_property_on_kafka(case in case_with(40)) {
        let broker = Broker::new();
        let mut log = broker.log(case.schedule.partitions());
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
    let broker = Broker::new();
    let log = broker.log(1);
    let topic = log.topic().to_string();
    log.append(Some("cart-1"), r#"{"type":"Checkout","cart_id":"cart-1"}"#).expect("append");
    let raw: BaseProducer =
        rdkafka::ClientConfig::new().set("bootstrap.servers", broker.bootstrap()).create().expect("a producer");
    let bytes: &[u8] = b"{\"type\":\"Checkout\",\"cart_id\":\"cart-\xff\"}";
    raw.send(BaseRecord::to(&topic).key("cart-1").payload(bytes).partition(0)).map_err(|(e, _)| e).expect("send");
    raw.flush(std::time::Duration::from_secs(30)).expect("flush");

    let mut consumer = log.consumer("cart-state").expect("a consumer");
    let error = consumer.poll().expect_err("the poll refuses the record");
    let message = error.to_string();
    assert!(message.contains("partition 0, offset 1 has a value that is not UTF-8"), "{message}");
    let place = format!("the poll failed in topic {} on {}:", quoted(&topic), quoted(&broker.bootstrap()));
    assert!(message.starts_with(&place), "{message}");
    assert!(matches!(consumer.commit(), Err(event_sourced_cart::log::LogError::CommitAfterFailedPoll)));
}

/// Each record is read back at the position its append was acknowledged
/// at; past the end, or in a partition the topic does not have, there is
/// none.
#[test]
fn single_records_are_read_at_their_acknowledged_positions() {
    let broker = Broker::new();
    let log = broker.log(2);
    let batch = [(Some("a"), "value a"), (Some("b"), "value b"), (None, "keyless")];
    let positions = log.append_batch(&batch).expect("appends");
    for (position, (key, value)) in positions.iter().zip(batch) {
        let record = log.record_at(*position).expect("a read").expect("the record");
        assert_eq!((record.partition, record.offset), (position.partition, position.offset));
        assert_eq!((record.key.as_deref(), record.value.as_str(), record.topic.as_str()), (key, value, log.topic()));
    }
    let ends = log.end_offsets().expect("ends");
    assert_eq!(log.record_at(Position { partition: 0, offset: ends[0] }).expect("a read"), None);
    assert_eq!(log.record_at(Position { partition: 2, offset: 0 }).expect("a read"), None);
}

/// A batch larger than the producer's queue waits for acknowledgements as
/// it goes, and every record is acknowledged in order.
#[test]
fn a_batch_larger_than_the_producer_queue_is_acknowledged_whole_and_in_order() {
    let broker = Broker::new();
    let log = broker.log(1);
    let records = PRODUCER_QUEUE_RECORDS * 5 / 4;
    let values: Vec<String> = (0..records).map(|i| format!("value {i}")).collect();
    let batch: Vec<(Option<&str>, &str)> = values.iter().map(|v| (Some("k"), v.as_str())).collect();
    let positions = log.append_batch(&batch).expect("appends");
    let expected: Vec<Position> = (0..records as u64).map(|offset| Position { partition: 0, offset }).collect();
    assert!(positions == expected, "acknowledged {}, expected {}", Positions(&positions), Positions(&expected));
    let acknowledged: Vec<(Position, &str)> = positions.into_iter().zip(values.iter().map(String::as_str)).collect();
    let read = log.consumer("g").expect("a consumer").poll().expect("a poll");
    assert_read_back(&acknowledged, &read);
}

/// The read-back check names what it finds (seen failing, not only passing).
#[test]
#[should_panic(
    expected = "lost-write: acknowledged, not read back: p0@1..2 (2 of 4)\ninconsistent-offsets: another record read where an append was acknowledged: p1@0 (1 of 4)"
)]
fn the_read_back_check_names_lost_writes_and_changed_records() {
    let at = |partition, offset| Position { partition, offset };
    let record = |partition, offset, value: &str| LogRecord {
        topic: "t".into(),
        partition,
        offset,
        key: None,
        value: value.into(),
    };
    let acknowledged = [(at(0, 0), "a"), (at(0, 1), "b"), (at(0, 2), "c"), (at(1, 0), "d")];
    assert_read_back(&acknowledged, &[record(0, 0, "a"), record(1, 0, "D")]);
}

/// Checks a read of a whole topic against what its appends acknowledged,
/// and fails naming what differs as the history checker names it:
/// `lost-write` (acknowledged, not in the read), `inconsistent-offsets`
/// (another record at an acknowledged position), `duplicate` (an
/// acknowledged record read again at another position), and records no
/// append acknowledged, each with their positions.
fn assert_read_back(acknowledged: &[(Position, &str)], read: &[LogRecord]) {
    let read: std::collections::BTreeMap<Position, &str> =
        read.iter().map(|r| (r.position(), r.value.as_str())).collect();
    let acknowledged_at: std::collections::BTreeMap<Position, &str> = acknowledged.iter().copied().collect();
    let values: std::collections::HashSet<&str> = acknowledged.iter().map(|(_, v)| *v).collect();
    let lost: Vec<Position> = acknowledged_at.keys().filter(|p| !read.contains_key(p)).copied().collect();
    let changed: Vec<Position> =
        acknowledged_at.iter().filter(|(p, v)| read.get(p).is_some_and(|r| r != *v)).map(|(p, _)| *p).collect();
    let extra = |duplicate: bool| -> Vec<Position> {
        read.iter()
            .filter(|(p, v)| !acknowledged_at.contains_key(p) && values.contains(*v) == duplicate)
            .map(|(p, _)| *p)
            .collect()
    };
    let mut differences = Vec::new();
    for (what, positions) in [
        (format!("{}: acknowledged, not read back", Kind::LostWrite), lost),
        (format!("{}: another record read where an append was acknowledged", Kind::InconsistentOffsets), changed),
        (format!("{}: an acknowledged record read again at another position", Kind::Duplicate), extra(true)),
        ("records no append acknowledged".to_string(), extra(false)),
    ] {
        if !positions.is_empty() {
            differences.push(format!(
                "{what}: {} ({} of {})",
                Positions(&positions),
                positions.len(),
                acknowledged.len()
            ));
        }
    }
    assert!(differences.is_empty(), "the read differs from the acknowledged appends:\n{}", differences.join("\n"));
}

/// A broker that is down acknowledges nothing: an append fails by name
/// within the log's timeout, also a batch larger than the producer's
/// queue, and what it had queued is dropped rather than sent once the
/// broker is back.
#[test]
fn appends_to_a_broker_that_is_down_fail_by_name_and_are_not_sent_later() {
    use event_sourced_cart::log::LogError;
    use std::time::Duration;
    let cluster = MockCluster::new(1).expect("a mock cluster");
    let mut log =
        create_on_mock(&cluster, &unique_topic(TOPIC), 1).expect("a topic").with_timeout(Duration::from_secs(1));
    cluster.broker_down(1).expect("the broker down");
    for records in [1, PRODUCER_QUEUE_RECORDS + 1] {
        let batch = vec![(Some("k"), "never acknowledged"); records];
        // It returns (a hang is ended by the test runner's timeout, not
        // timed here: a test that times itself is a flaky benchmark).
        let error = log.append_batch(&batch).expect_err("nothing is acknowledged");
        assert!(matches!(error, LogError::Backend { action: "append" | "flush the appends", .. }), "{error}");
    }
    cluster.broker_up(1).expect("the broker up");
    log = log.with_timeout(DEFAULT_TIMEOUT);
    let positions = log.append_batch(&[(Some("k"), "kept 0"), (Some("k"), "kept 1")]).expect("appends");
    for (position, value) in positions.iter().zip(["kept 0", "kept 1"]) {
        assert_eq!(log.record_at(*position).expect("a read").map(|r| r.value).as_deref(), Some(value));
    }
    assert_eq!(log.end_offsets().expect("ends"), [2], "the failed batches were dropped, not sent later");
}

/// A reopen makes new clients, as a restarted process would: while the
/// broker is down it fails by name within the log's timeout, and once the
/// broker is back the reopened log reads what was appended before.
#[test]
fn a_reopen_connects_again_and_fails_by_name_while_the_broker_is_down() {
    use std::time::Duration;
    let cluster = MockCluster::new(1).expect("a mock cluster");
    let mut log =
        create_on_mock(&cluster, &unique_topic(TOPIC), 1).expect("a topic").with_timeout(Duration::from_secs(1));
    log.append(Some("k"), "before").expect("an append");
    cluster.broker_down(1).expect("the broker down");
    let error = log.reopen().expect_err("no broker to connect to");
    assert!(error.to_string().contains("read the topic's metadata"), "{error}");
    cluster.broker_up(1).expect("the broker up");
    log = log.with_timeout(DEFAULT_TIMEOUT);
    log.reopen().expect("a reopen");
    let mut consumer = log.consumer("g").expect("a consumer");
    let values: Vec<String> = consumer.poll().expect("a poll").into_iter().map(|r| r.value).collect();
    assert_eq!(values, ["before"]);
}

/// A poll the broker does not serve in time fails by name, listing the
/// partitions still behind (not those at their end) and the last error,
/// and commits nothing.
#[test]
fn a_poll_the_broker_does_not_serve_in_time_names_the_partitions_behind() {
    use event_sourced_cart::log::LogError;
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    let cluster = MockCluster::new(1).expect("a mock cluster");
    let log = create_on_mock(&cluster, &unique_topic(TOPIC), 2)
        .expect("a topic")
        .with_timeout(std::time::Duration::from_secs(1));
    // Records in partition 1 only, so that partition 0 stays at its end,
    // 0: keys are placed on a probe topic of as many partitions first (the
    // partitioner depends on the key and the count only).
    let probe = create_on_mock(&cluster, &unique_topic(TOPIC), 2).expect("a probe topic");
    let keys: Vec<String> = (0..)
        .map(|i| format!("key-{i}"))
        .filter(|key| probe.append(Some(key), "probe").expect("an append").partition == 1)
        .take(2)
        .collect();
    for key in &keys {
        assert_eq!(log.append(Some(key), "value").expect("an append").partition, 1);
    }
    assert_eq!(log.end_offsets().expect("ends"), [0, 2]);
    cluster.request_errors(
        RDKafkaApiKey::Fetch,
        &vec![RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION; 100_000],
    );
    let mut consumer = log.consumer("g").expect("a consumer");
    let error = consumer.poll().expect_err("no fetch is served");
    let message = error.to_string();
    assert!(message.contains("did not deliver up to the end within 1s (partition 1 at 0 of 2)"), "{message}");
    assert!(matches!(consumer.commit(), Err(LogError::CommitAfterFailedPoll)));
}

/// Batches appended from several threads at once each get their own
/// records' acknowledgements: every record is where its append said.
#[test]
fn batches_from_several_threads_each_get_their_own_acknowledgements() {
    let broker = Broker::new();
    let log = broker.log(2);
    let values: Vec<Vec<String>> =
        (0..4).map(|thread| (0..300).map(|i| format!("thread {thread} value {i}")).collect()).collect();
    let positions: Vec<Vec<Position>> = std::thread::scope(|scope| {
        let appends: Vec<_> = values
            .iter()
            .map(|batch| {
                let log = &log;
                scope.spawn(move || {
                    let batch: Vec<(Option<&str>, &str)> =
                        batch.iter().map(|v| (Some(v.as_str()), v.as_str())).collect();
                    log.append_batch(&batch).expect("appends")
                })
            })
            .collect();
        appends.into_iter().map(|append| append.join().expect("an appending thread")).collect()
    });
    let acknowledged: Vec<(Position, &str)> = values
        .iter()
        .zip(&positions)
        .flat_map(|(batch, positions)| positions.iter().copied().zip(batch.iter().map(String::as_str)))
        .collect();
    assert_eq!(acknowledged.len(), 1200, "every append acknowledged every record of its batch");
    let read = log.consumer("g").expect("a consumer").poll().expect("a poll");
    assert_read_back(&acknowledged, &read);
}

/// A partition count out of range is refused before any broker is asked.
#[test]
fn a_topic_of_0_or_too_many_partitions_is_refused_before_any_request() {
    let nowhere = "127.0.0.1:1";
    for bad in [0, event_sourced_cart::log::MAX_PARTITIONS + 1] {
        let error = KafkaLog::create(nowhere, "t", bad).err().expect("refused");
        assert!(matches!(error, event_sourced_cart::log::LogError::BadPartitionCount(n) if n == bad), "{error}");
    }
}

/// How long an operation waits for the broker while faults last.
const FAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// A broker fault of librdkafka's mock cluster, injected before a phase.
#[derive(Clone, Debug)]
enum BrokerFault {
    /// The next `count` requests of one kind fail with one error code.
    RequestErrors { api: rdkafka::types::RDKafkaApiKey, error: rdkafka::types::RDKafkaRespErr, count: usize },
    /// Partition `partition`'s leadership moves to broker `broker`.
    LeaderMoves { partition: u32, broker: i32 },
    /// Broker `broker` is down for the phase (its connections closed, new
    /// ones refused) and up again after it.
    BrokerDown { broker: i32 },
}

/// The requests whose errors the property injects.
const FAULTED_APIS: [rdkafka::types::RDKafkaApiKey; 6] = {
    use rdkafka::types::RDKafkaApiKey as Api;
    [Api::Fetch, Api::ListOffsets, Api::OffsetCommit, Api::OffsetFetch, Api::Produce, Api::Metadata]
};

fn broker_fault() -> impl Strategy<Value = BrokerFault> {
    use rdkafka::types::RDKafkaRespErr as Code;
    // One arm per request, as the cases in proptest-regressions/kafka.txt
    // were drawn.
    let [a, b, c, d, e, f] = FAULTED_APIS;
    let api = prop_oneof![Just(a), Just(b), Just(c), Just(d), Just(e), Just(f)];
    let error = prop_oneof![
        Just(Code::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION),
        Just(Code::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT),
        Just(Code::RD_KAFKA_RESP_ERR_NOT_COORDINATOR),
        Just(Code::RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS),
        Just(Code::RD_KAFKA_RESP_ERR__TRANSPORT),
    ];
    prop_oneof![
        (api, error, 1..4usize).prop_map(|(api, error, count)| BrokerFault::RequestErrors { api, error, count }),
        (0..3u32, 1..=3i32).prop_map(|(partition, broker)| BrokerFault::LeaderMoves { partition, broker }),
        (1..=3i32).prop_map(|broker| BrokerFault::BrokerDown { broker }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..proptest_config("proptest-regressions/kafka.txt") })]

    /// The durable runners under broker faults: every phase either ends
    /// or fails with a named log error (never a wrong view, never a
    /// panic), and once the faults are over, one more phase brings every
    /// view to the model's.
    #[test]
    fn durable_views_reach_the_model_or_fail_by_name_under_broker_faults(
        history in event_sourced_cart::cart::generate::history_with(30),
        partitions in 1..=3u32,
        phases in prop::collection::vec((0..12usize, prop::option::of(broker_fault())), 1..4),
    ) {
        use event_sourced_cart::domain::Domain;
        use event_sourced_cart::durable::DurableRunner;
        use event_sourced_cart::runner::{GroupRunner, PhaseOptions, RunError};
        let cluster = MockCluster::new(3).expect("a mock cluster");
        let topic = unique_topic(TOPIC);
        let mut log = create_on_mock(&cluster, &topic, partitions).expect("a topic");
        let dir = tempfile::tempdir().expect("a directory");
        let store = dir.path().join("views.sqlite");
        let mut runners: Vec<DurableRunner<Cart>> = Cart
            .projections()
            .into_iter()
            .map(|projection| {
                let group = projection.group_id().to_string();
                DurableRunner::durable(Cart, projection, &group, store.clone())
            })
            .collect();
        let records = event_sourced_cart::cart::generate::to_records(&history);
        let mut produced = Vec::new();
        let mut failures = Vec::new();
        for (size, fault) in &phases {
            let end = (produced.len() + size).min(records.len());
            let batch: Vec<(Option<&str>, &str)> =
                records[produced.len()..end].iter().map(|r| (r.key.as_deref(), r.value.as_str())).collect();
            // Appends have the usual time (a producer reconnecting to a
            // broker that came back may take a second or two) ...
            log = log.with_timeout(DEFAULT_TIMEOUT);
            let positions = log.append_batch(&batch).expect("appends are retried by the producer");
            produced.extend(positions.into_iter().zip(records[produced.len()..end].iter().cloned()));
            match fault {
                Some(BrokerFault::RequestErrors { api, error, count }) => cluster.request_errors(*api, &vec![*error; *count]),
                Some(BrokerFault::LeaderMoves { partition, broker }) => {
                    cluster.partition_leader(&topic, (*partition % partitions) as i32, Some(*broker)).expect("a leader");
                }
                Some(BrokerFault::BrokerDown { broker }) => cluster.broker_down(*broker).expect("a broker down"),
                None => {}
            }
            // ... while the faults last, an operation the broker does not
            // answer fails after a second (a broker that is down would cost
            // 30 s each).
            log = log.with_timeout(FAULT_TIMEOUT);
            for runner in &mut runners {
                if let Err(error) = runner.phase(&log, PhaseOptions::default()) {
                    prop_assert!(matches!(error, RunError::Log(_)), "{error}");
                    failures.push(error.to_string());
                    runner.release_consumer().expect("release");
                }
            }
            for api in FAULTED_APIS {
                cluster.clear_request_errors(api);
            }
            if let Some(BrokerFault::BrokerDown { broker }) = fault {
                cluster.broker_up(*broker).expect("the broker up again");
            }
        }
        // The faults are over: the broker gets its usual time again.
        log = log.with_timeout(DEFAULT_TIMEOUT);
        let rest: Vec<(Option<&str>, &str)> =
            records[produced.len()..].iter().map(|r| (r.key.as_deref(), r.value.as_str())).collect();
        let positions = log.append_batch(&rest).expect("append");
        produced.extend(positions.into_iter().zip(records[produced.len()..].iter().cloned()));
        let model = Cart.model(&produced);
        for runner in &mut runners {
            runner.phase(&log, PhaseOptions::default()).map_err(|e| TestCaseError::fail(format!("after the faults: {e}")))?;
            let expected = &model.views[runner.group_id()];
            prop_assert_eq!(&runner.view(), expected, "group {} (failures on the way: {:?})", runner.group_id(), failures);
        }
    }
}

/// The projector as a service on a broker's topic that other producers
/// write: `append --kafka` adds the 30 first canonical events to the
/// domain's topic, a foreign producer (librdkafka with the Java client's
/// partitioner) the 5 last, and `project --kafka --store` then `views`
/// give exactly the views of the same 35 events appended and projected on
/// merkql. On the mock cluster: the domain's topic name is fixed, and a
/// shared broker may hold one of that name already.
#[test]
fn the_projector_runs_on_a_broker_topic_that_other_producers_write() {
    use event_sourced_cart::cart::event::encode;
    use event_sourced_cart::cart::scenario::canonical_events;
    use event_sourced_cart::verify::replay_file::render;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let cluster = MockCluster::new(3).expect("a mock cluster");
    cluster.create_topic(TOPIC, 3, 1).expect("the domain's topic");
    let bootstrap = cluster.bootstrap_servers();
    let dir = tempfile::tempdir().expect("a directory");
    let records: Vec<_> = canonical_events().iter().map(encode).collect();
    let schedule = event_sourced_cart::verify::Schedule::new(1, Vec::new(), None).expect("a schedule");
    let (first, last) = records.split_at(30);
    let first_file = dir.path().join("first.jsonl");
    std::fs::write(&first_file, render(first, &schedule)).expect("the first events");
    let all_file = dir.path().join("all.jsonl");
    std::fs::write(&all_file, render(&records, &schedule)).expect("all events");
    let cart = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_event-sourced-cart"))
            .args(args)
            .output()
            .expect("the binary runs");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let path = |p: &std::path::Path| p.to_str().expect("a UTF-8 path").to_string();

    cart(&["append", "--kafka", &bootstrap, &path(&first_file)]);
    let foreign: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("partitioner", "murmur2_random")
        .create()
        .expect("a producer");
    for record in last {
        let key = record.key.as_deref().expect("keyed");
        foreign.send(BaseRecord::to(TOPIC).key(key).payload(record.value.as_str())).map_err(|(e, _)| e).expect("send");
    }
    foreign.flush(std::time::Duration::from_secs(30)).expect("flush");
    let store = path(&dir.path().join("kafka-views.sqlite"));
    let projected = cart(&["project", "--kafka", &bootstrap, "--store", &store]);
    assert!(projected.contains("cart-state: applied 35, duplicates 0, rejected 0"), "{projected}");
    let again = cart(&["project", "--kafka", &bootstrap, "--store", &store]);
    assert!(again.contains("cart-state: applied 0, duplicates 0, rejected 0"), "only new events: {again}");
    let on_kafka = cart(&["views", "--store", &store, "--json"]);

    let merkql = path(&dir.path().join("merkql"));
    cart(&["append", "--data-dir", &merkql, &path(&all_file)]);
    cart(&["project", "--data-dir", &merkql]);
    assert_eq!(on_kafka, cart(&["views", "--data-dir", &merkql, "--json"]));
}
