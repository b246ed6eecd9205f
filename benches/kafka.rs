//! The Kafka-protocol backend on librdkafka's in-process mock cluster
//! beside merkql (`cargo bench --features kafka --bench kafka`):
//! - `kafka_vs_merkql/catch_up_5/{merkql,kafka}/N`: each iteration appends
//!   5 workload events (untimed), then times the catch-up of `cart-state`
//!   and `revenue` (new consumer, poll to the end, apply, commit);
//! - `kafka_vs_merkql/full/{merkql,kafka}/N`: a full replay of N events by
//!   both projections in new groups;
//! - `kafka_vs_merkql/append_1000/{merkql,kafka}`: `Log::append_batch` of
//!   1,000 events into a topic of 1k events that grows by 1,000 each
//!   iteration (merkql: the bulk loader's batches; Kafka: produce, then
//!   wait for every acknowledgement).
//!
//! Sizes 1k and 100k, 3 partitions, 3 mock brokers. The mock cluster runs
//! in this process over loopback: it measures the client's protocol work
//! and round trips, not a networked, replicated cluster's.

mod common;

use common::{Fixture, events, label, lean};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use event_sourced_cart::cart::event::encode;
use event_sourced_cart::cart::projection::{CartState, Revenue};
use event_sourced_cart::cart::{Cart, TOPIC};
use event_sourced_cart::domain::{HistoryRecord, register};
use event_sourced_cart::log::Log;
use event_sourced_cart::log::kafka::{KafkaLog, create_on_mock, unique_topic};
use event_sourced_cart::runner::Runner;
use rdkafka::mocking::MockCluster;
use std::time::{Duration, Instant};

const PARTITIONS: u32 = 3;

fn runners() -> (Runner<Cart>, Runner<Cart>) {
    (Runner::new(Cart, register(CartState::new())), Runner::new(Cart, register(Revenue::new())))
}

fn catch_up_both(log: &dyn Log, runners: &mut (Runner<Cart>, Runner<Cart>)) -> usize {
    runners.0.catch_up(log).expect("cart-state catch-up").applied.len()
        + runners.1.catch_up(log).expect("revenue catch-up").applied.len()
}

fn records(from: usize, n: usize) -> Vec<HistoryRecord> {
    events(from, n).iter().map(encode).collect()
}

fn append(log: &dyn Log, records: &[HistoryRecord]) {
    let batch: Vec<(Option<&str>, &str)> = records.iter().map(|r| (r.key.as_deref(), r.value.as_str())).collect();
    assert_eq!(log.append_batch(&batch).expect("append").len(), records.len());
}

/// A Kafka topic holding workload events `0..n`.
fn kafka_fixture<C: rdkafka::ClientContext>(cluster: &MockCluster<'_, C>, n: usize) -> KafkaLog {
    let log = create_on_mock(cluster, &unique_topic(TOPIC), PARTITIONS).expect("a topic");
    let start = Instant::now();
    for from in (0..n).step_by(10_000) {
        append(&log, &records(from, (n - from).min(10_000)));
    }
    eprintln!("kafka fixture: {n} events produced in {:.3} s", start.elapsed().as_secs_f64());
    log
}

fn bench(c: &mut Criterion) {
    let cluster = MockCluster::new(3).expect("a mock cluster");
    let mut group = c.benchmark_group("kafka_vs_merkql");
    lean(&mut group, 10, Duration::from_secs(5));
    for n in [1_000, 100_000] {
        let merkql = Fixture::build(n, PARTITIONS);
        let kafka = kafka_fixture(&cluster, n);
        let logs: [(&str, &dyn Log); 2] = [("merkql", merkql.log()), ("kafka", &kafka)];
        for (name, log) in logs {
            let mut caught_up = runners();
            assert_eq!(catch_up_both(log, &mut caught_up), 2 * n);
            // The full replay first, while the topic holds exactly n events.
            let mut replay = 0;
            group.bench_function(BenchmarkId::new(format!("full/{name}"), label(n)), |b| {
                b.iter(|| {
                    // New groups each time: a full replay from offset 0.
                    replay += 1;
                    let mut fresh = (
                        Runner::with_group(Cart, register(CartState::new()), &format!("full-cart-state-{replay}")),
                        Runner::with_group(Cart, register(Revenue::new()), &format!("full-revenue-{replay}")),
                    );
                    assert_eq!(catch_up_both(log, &mut fresh), 2 * n, "every event, by both");
                })
            });
            let mut next = n;
            group.bench_function(BenchmarkId::new(format!("catch_up_5/{name}"), label(n)), |b| {
                b.iter_custom(|iterations| {
                    let mut timed = Duration::ZERO;
                    for _ in 0..iterations {
                        append(log, &records(next, 5));
                        next += 5;
                        let start = Instant::now();
                        assert_eq!(catch_up_both(log, &mut caught_up), 10, "only the 5 new events, by both");
                        timed += start.elapsed();
                    }
                    timed
                })
            });
        }
    }
    let merkql = Fixture::build(1_000, PARTITIONS);
    let kafka = kafka_fixture(&cluster, 1_000);
    let logs: [(&str, &dyn Log); 2] = [("merkql", merkql.log()), ("kafka", &kafka)];
    let batch = records(1_000, 1_000);
    for (name, log) in logs {
        group.throughput(criterion::Throughput::Elements(1_000));
        group.bench_function(BenchmarkId::new("append_1000", name), |b| b.iter(|| append(log, &batch)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
