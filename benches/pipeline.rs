//! Item 3 of the benchmarks issue: what decoding and applying add to merkql's
//! own read cost, on a 100k-event log (3 partitions, tmpfs unless
//! `CART_BENCH_DIR` is set), in one run.
//!
//! - `pipeline/raw_poll`: a new consumer of a group that never commits,
//!   subscribe, one `poll` of all 100k records (merkql's cost, plus the
//!   adapter's move into `LogRecord`s).
//! - `pipeline/poll_decode_apply`: the same poll, then `event::decode` of
//!   every record and `Projection::apply` of `CartState` and `Revenue`.
//! - `pipeline/decode_apply`: decode and apply alone, on records polled
//!   before the timing (for profiling the hot path); `pipeline/decode` and
//!   `pipeline/apply` split it further.
//!
//! Throughput is in records (elements) per second.

mod common;

use common::{Fixture, lean};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use event_sourced_cart::event::{DomainEvent, decode};
use event_sourced_cart::log::EventLog;
use event_sourced_cart::projection::{CartState, Projection, Revenue};
use event_sourced_cart::record::LogRecord;
use std::hint::black_box;
use std::time::Duration;

const EVENTS: usize = 100_000;
/// Never commits, so every consumer of it starts at the earliest record.
const GROUP: &str = "bench-pipeline";

fn poll(log: &EventLog) -> Vec<LogRecord> {
    let mut consumer = log.consumer(GROUP).expect("consumer");
    let records = consumer.poll().expect("poll");
    consumer.close().expect("close");
    records
}

fn decode_apply(records: &[LogRecord]) -> (CartState, Revenue) {
    let mut cart_state = CartState::new();
    let mut revenue = Revenue::new();
    for record in records {
        let event = decode(record).expect("the workload is valid");
        cart_state.apply(&event);
        revenue.apply(&event);
    }
    (cart_state, revenue)
}

fn bench(c: &mut Criterion) {
    let fixture = Fixture::default_partitions(EVENTS);
    let log = fixture.log();
    assert_eq!(poll(log).len(), EVENTS);

    let mut group = c.benchmark_group("pipeline");
    lean(&mut group, 10, Duration::from_secs(3));
    group.warm_up_time(Duration::from_millis(500));
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("raw_poll", |b| b.iter(|| poll(log)));
    group.bench_function("poll_decode_apply", |b| {
        b.iter(|| {
            let records = poll(log);
            decode_apply(&records)
        })
    });
    let records = poll(log);
    group.bench_function("decode_apply", |b| b.iter(|| black_box(decode_apply(&records))));
    group.bench_function("decode", |b| {
        b.iter(|| records.iter().map(|r| decode(r).expect("valid")).collect::<Vec<DomainEvent>>())
    });
    let events: Vec<DomainEvent> = records.iter().map(|r| decode(r).expect("valid")).collect();
    group.bench_function("apply", |b| {
        b.iter(|| {
            let mut cart_state = CartState::new();
            let mut revenue = Revenue::new();
            for event in &events {
                cart_state.apply(event);
                revenue.apply(event);
            }
            (cart_state, revenue)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
