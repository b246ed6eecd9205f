//! `replay`'s cost by history size: produce a history into a fresh log
//! (8 partitions), split at three points (a quarter, half, three quarters),
//! and run every property, as `event-sourced-cart replay FILE --partitions 8
//! --split-at ...` does after reading the file.
//!
//! - `replay/bulk`: production through the bulk loader (`Log::append_batch`
//!   of `MerkqlLog`, the default): linear in the history, so the time per
//!   event stays flat from 1k to 100k (and 1M with `HARNESS_BENCH_1M=1`).
//! - `replay/send_each`: one merkql `send` per record (`replay --send-each`):
//!   each send rewrites the partition's whole index, so the time per event
//!   grows with the history.
//! - `replay/bulk_unverified`: `replay/bulk` with the log's poll
//!   verification off (no content hash per record read, no hole check):
//!   the ratio to `replay/bulk` is what verified polls cost.
//!
//! Throughput is in events (elements) per second. Logs go to tmpfs unless
//! `HARNESS_SCRATCH_DIR` says otherwise.

mod common;

use common::{label, lean, sizes};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use event_sourced_cart::cart::event::encode;
use event_sourced_cart::cart::{Cart, TOPIC};
use event_sourced_cart::log::{Log, MerkqlLog, PerRecord};
use event_sourced_cart::verify::replay::{self, Exit};
use event_sourced_cart::verify::replay_file::ReplayFile;
use event_sourced_cart::verify::{Production, Schedule};
use std::time::Duration;

const PARTITIONS: u32 = 8;

fn file(n: usize) -> (ReplayFile, Schedule) {
    let history: Vec<_> = common::events(0, n).iter().map(encode).collect();
    let schedule = Schedule::split_at(PARTITIONS, &[n / 4, n / 2, 3 * n / 4], n).expect("a valid schedule");
    (ReplayFile { history, lines: (1..=n).collect(), schedule: None }, schedule)
}

/// One replay on a fresh scratch log; it must agree.
fn run(file: &ReplayFile, schedule: &Schedule, send_each: bool, verified: bool) {
    let dir = event_sourced_cart::settings::scratch_dir().expect("a scratch directory");
    let mut log = MerkqlLog::create(dir.path(), TOPIC, PARTITIONS).expect("a new log");
    log.set_verified_reads(verified);
    let mut log: Box<dyn Log> = if send_each { Box::new(PerRecord(log)) } else { Box::new(log) };
    let verdict = replay::run(&Production(Cart), file, schedule, log.as_mut()).expect("the replay runs");
    assert_eq!(verdict.exit(), Exit::Agree, "{:?}", verdict.violations);
}

fn bench(c: &mut Criterion) {
    for (name, send_each, verified, all) in [
        ("replay/bulk", false, true, &[1_000, 10_000, 100_000, 1_000_000][..]),
        ("replay/bulk_unverified", false, false, &[1_000, 10_000, 100_000][..]),
        ("replay/send_each", true, true, &[1_000, 10_000][..]),
    ] {
        let mut group = c.benchmark_group(name);
        lean(&mut group, 10, Duration::from_secs(20));
        for n in sizes(all) {
            let (file, schedule) = file(n);
            group.throughput(Throughput::Elements(n as u64));
            group.bench_function(label(n), |b| b.iter(|| run(&file, &schedule, send_each, verified)));
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
