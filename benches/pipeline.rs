//! Item 3 of the benchmarks issue: what decoding and applying add to merkql's
//! own read cost, on a 100k-event log (3 partitions, tmpfs unless
//! `HARNESS_BENCH_DIR` is set), in one run.
//!
//! - `pipeline/raw_poll`: a new consumer of a group that never commits,
//!   subscribe, one `poll` of all 100k records (merkql's cost, plus the
//!   adapter's move into `LogRecord`s).
//! - `pipeline/poll_decode_apply`: the same poll, then `domain::decode_record`
//!   of every record (the runner's decoding path: `parse_event` and the key
//!   check) and `Projection::apply` into a new `CartState` and a new `Revenue`.
//!
//! Each iteration frees what it produced (records; records and views) after
//! its timing. Freeing costs `pipeline/drop_records` and `pipeline/drop_views`,
//! and having freed the views also slows the next poll (the allocator's state
//! after ~200k small frees), inside `poll_decode_apply`'s timing:
//! `pipeline/raw_poll_after_pipeline` is the raw poll in that same state (an
//! untimed poll + decode + apply + free before each timed poll), the baseline
//! that isolates what decoding and applying add.
//!
//! `pipeline/raw_poll_unverified` is `raw_poll` with the log's poll
//! verification off: the difference is what verified polls cost (a
//! SHA-256 of each record read, against its offset index entry).
//!
//! `pipeline/decode_apply`, `pipeline/decode` and `pipeline/apply` split the
//! work on records polled before the timing (for profiling the hot path).
//! Throughput is in records (elements) per second.

mod common;

use common::{Fixture, lean};
use criterion::{BatchSize, Bencher, Criterion, Throughput, criterion_group, criterion_main};
use event_sourced_cart::cart::Cart;
use event_sourced_cart::cart::event::{DecodeError, DomainEvent};
use event_sourced_cart::cart::projection::{CartState, Revenue};
use event_sourced_cart::domain::{Projection, Rejected, decode_record};
use event_sourced_cart::log::{Log, MerkqlLog};
use event_sourced_cart::record::LogRecord;
use std::hint::black_box;
use std::time::{Duration, Instant};

const EVENTS: usize = 100_000;
/// Never commits, so every consumer of it starts at the earliest record.
const GROUP: &str = "bench-pipeline";

fn poll(log: &MerkqlLog) -> Vec<LogRecord> {
    let mut consumer = log.consumer(GROUP).expect("consumer");
    let records = consumer.poll().expect("poll");
    consumer.close().expect("close");
    records
}

/// The runner's decoding of one record: value and key.
fn decode(record: &LogRecord) -> Result<DomainEvent, Rejected<DecodeError>> {
    decode_record(&Cart, record)
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

/// Times `f` and frees its output after the timing, iteration by iteration
/// (criterion's `iter_with_large_drop` keeps every output of a sample alive
/// until the sample ends, so each iteration would touch fresh memory).
fn timed<O>(b: &mut Bencher<'_>, mut f: impl FnMut() -> O) {
    b.iter_custom(|iters| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let start = Instant::now();
            let output = f();
            total += start.elapsed();
            drop(black_box(output));
        }
        total
    })
}

fn bench(c: &mut Criterion) {
    let mut fixture = Fixture::default_partitions(EVENTS);
    let log = fixture.log();
    assert_eq!(poll(log).len(), EVENTS);

    let mut group = c.benchmark_group("pipeline");
    lean(&mut group, 10, Duration::from_secs(3));
    group.warm_up_time(Duration::from_millis(500));
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("raw_poll", |b| timed(b, || poll(log)));
    group.bench_function("poll_decode_apply", |b| {
        timed(b, || {
            let records = poll(log);
            let views = decode_apply(&records);
            (records, views)
        })
    });

    let records = poll(log);
    group.bench_function("decode_apply", |b| timed(b, || decode_apply(&records)));
    group.bench_function("decode", |b| {
        timed(b, || records.iter().map(|r| decode(r).expect("valid")).collect::<Vec<DomainEvent>>())
    });
    let events: Vec<DomainEvent> = records.iter().map(|r| decode(r).expect("valid")).collect();
    group.bench_function("apply", |b| {
        timed(b, || {
            let mut cart_state = CartState::new();
            let mut revenue = Revenue::new();
            for event in &events {
                cart_state.apply(event);
                revenue.apply(event);
            }
            (cart_state, revenue)
        })
    });

    group.bench_function("drop_records", |b| b.iter_batched(|| poll(log), drop, BatchSize::PerIteration));
    group.bench_function("drop_views", |b| b.iter_batched(|| decode_apply(&records), drop, BatchSize::PerIteration));
    group.bench_function("raw_poll_after_pipeline", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // An untimed `poll_decode_apply` iteration first, so that the
                // heap is in the state `poll_decode_apply` polls in.
                let previous = poll(log);
                let views = decode_apply(&previous);
                drop(black_box((previous, views)));
                let start = Instant::now();
                let polled = poll(log);
                total += start.elapsed();
                drop(black_box(polled));
            }
            total
        })
    });
    // What verified polls cost: the same raw poll with the log's
    // verification off (no content hash per record, no hole check).
    let log = fixture.log.as_mut().expect("the log is open");
    log.set_verified_reads(false);
    let log = fixture.log();
    group.bench_function("raw_poll_unverified", |b| timed(b, || poll(log)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
