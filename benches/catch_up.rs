//! Items 1 and 4 of the benchmarks issue: incremental catch-up versus full
//! replay by log size, and restart cost (`Broker::open` + first catch-up).
//!
//! For each size a log of that many workload events (3 partitions) is bulk
//! loaded once, outside the timings, and read to its tail by the production
//! groups (`cart-state`, `revenue`). Then:
//! - `catch_up/incremental/N`: each iteration appends 5 new events with
//!   `Log::append` (untimed), then times `Runner::catch_up` of both
//!   projections: new consumer, subscribe, poll, decode, apply, commit.
//! - `catch_up/incremental_cold/N`: the same, but between the appends and
//!   the timing a 768 MiB buffer is written over, so that every size starts
//!   from equally cold CPU caches (see `CacheFlush`).
//! - `catch_up/full/N`: a full replay into fresh groups (both projections).
//! - `restart/open_and_catch_up/N`: each iteration appends 5 events and
//!   drops the log (untimed), then times `MerkqlLog::open` (`Broker::open`)
//!   and the first catch-up of both projections with new runners;
//!   `restart/open_only/N` times `MerkqlLog::open` alone.
//! - Sizes 1k, 100k and 1M for `restart` (not 10k).
//!
//! Sizes: 1k, 10k, 100k; 1M with `HARNESS_BENCH_1M=1`. Fixtures on tmpfs unless
//! `HARNESS_BENCH_DIR` names another parent directory.

mod common;

use common::{Fixture, label, lean, sizes};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use event_sourced_cart::cart::projection::{CartState, Revenue};
use event_sourced_cart::cart::{Cart, TOPIC};
use event_sourced_cart::domain::register;
use event_sourced_cart::log::MerkqlLog;
use event_sourced_cart::runner::Runner;
use std::hint::black_box;
use std::time::{Duration, Instant};

const NEW_EVENTS: usize = 5;

/// A buffer larger than the CPU's last-level cache (480 MiB L3 on the
/// machine of BENCHMARKS.md; `HARNESS_BENCH_FLUSH_MB`, default 768), written
/// over before each `incremental_cold` catch-up so that every log size
/// starts from equally cold caches. Without it the comparison between sizes
/// also measures how much of the cache merkql's `send`s just evicted (their
/// whole-index rewrites grow with the partition) and how much of the
/// working set a small log keeps in cache between iterations.
struct CacheFlush(Vec<u8>);

impl CacheFlush {
    fn new() -> CacheFlush {
        let mb = common::settings().bench_flush_mb as usize;
        CacheFlush(vec![1; mb << 20])
    }

    fn evict(&mut self) {
        for i in (0..self.0.len()).step_by(64) {
            self.0[i] = self.0[i].wrapping_add(1);
        }
        black_box(&self.0);
    }
}

/// Both production projections catching up: returns how many records each applied.
fn catch_up_both(log: &MerkqlLog, cart_state: &mut Runner<Cart>, revenue: &mut Runner<Cart>) -> (usize, usize) {
    let a = cart_state.catch_up(log).expect("cart-state catch-up").applied.len();
    let b = revenue.catch_up(log).expect("revenue catch-up").applied.len();
    (a, b)
}

/// The production runners of `cart-state` and `revenue`, reading with
/// their own group ids.
fn production_runners() -> (Runner<Cart>, Runner<Cart>) {
    (Runner::new(Cart, register(CartState::new())), Runner::new(Cart, register(Revenue::new())))
}

fn bench(c: &mut Criterion) {
    let mut flush = CacheFlush::new();
    for n in sizes(&[1_000, 10_000, 100_000, 1_000_000]) {
        let mut fixture = Fixture::default_partitions(n);
        let (mut cart_state, mut revenue) = production_runners();
        let start = Instant::now();
        assert_eq!(catch_up_both(fixture.log(), &mut cart_state, &mut revenue), (n, n));
        eprintln!("initial full replay of {n} events by both groups: {:.3} s", start.elapsed().as_secs_f64());

        let mut group = c.benchmark_group("catch_up");
        // 40 samples: single catch-ups at 1M spread widely (see BENCHMARKS.md).
        lean(&mut group, 40, Duration::from_millis(40));
        group.bench_function(BenchmarkId::new("incremental", label(n)), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    fixture.append_next(NEW_EVENTS);
                    let start = Instant::now();
                    let applied = catch_up_both(fixture.log(), &mut cart_state, &mut revenue);
                    timed += start.elapsed();
                    assert_eq!(applied, (NEW_EVENTS, NEW_EVENTS), "the catch-up sees exactly the new events");
                }
                timed
            })
        });

        // About one iteration per sample: each one writes over the flush buffer.
        lean(&mut group, 40, Duration::from_millis(10));
        group.bench_function(BenchmarkId::new("incremental_cold", label(n)), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    fixture.append_next(NEW_EVENTS);
                    flush.evict();
                    let start = Instant::now();
                    let applied = catch_up_both(fixture.log(), &mut cart_state, &mut revenue);
                    timed += start.elapsed();
                    assert_eq!(applied, (NEW_EVENTS, NEW_EVENTS), "the catch-up sees exactly the new events");
                }
                timed
            })
        });

        lean(&mut group, 10, Duration::from_millis(10));
        let mut replay = 0usize;
        group.bench_function(BenchmarkId::new("full", label(n)), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    replay += 1;
                    let mut cs =
                        Runner::with_group(Cart, register(CartState::new()), &format!("full-cart-state-{replay}"));
                    let mut rev = Runner::with_group(Cart, register(Revenue::new()), &format!("full-revenue-{replay}"));
                    let start = Instant::now();
                    let applied = catch_up_both(fixture.log(), &mut cs, &mut rev);
                    timed += start.elapsed();
                    black_box(applied);
                }
                timed
            })
        });
        group.finish();

        if n == 10_000 {
            continue;
        }
        let mut group = c.benchmark_group("restart");
        lean(&mut group, 10, Duration::from_millis(10));
        group.bench_function(BenchmarkId::new("open_and_catch_up", label(n)), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    fixture.append_next(NEW_EVENTS);
                    drop(fixture.log.take());
                    let start = Instant::now();
                    let log = MerkqlLog::open(fixture.dir.path(), TOPIC).expect("open");
                    let (mut cs, mut rev) = production_runners();
                    let applied = catch_up_both(&log, &mut cs, &mut rev);
                    timed += start.elapsed();
                    assert_eq!(applied, (NEW_EVENTS, NEW_EVENTS));
                    fixture.log = Some(log);
                }
                timed
            })
        });
        group.bench_function(BenchmarkId::new("open_only", label(n)), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    drop(fixture.log.take());
                    let start = Instant::now();
                    let log = MerkqlLog::open(fixture.dir.path(), TOPIC).expect("open");
                    timed += start.elapsed();
                    fixture.log = Some(log);
                }
                timed
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
