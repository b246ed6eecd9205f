//! Durable projections: what the view store costs against the in-memory
//! runners, on logs of the benchmark workload (3 partitions, bulk loaded
//! once, outside the timings), all three cart projections.
//!
//! - `durable/full_replay/N` and `memory/full_replay/N`: every projection
//!   replays the whole log from a new group, into a new store (transactions
//!   of 1000 records) or into memory.
//! - `durable/catch_up_5/N` and `memory/catch_up_5/N`: each iteration
//!   appends 5 events (untimed), then every projection catches up with a
//!   new consumer: poll, apply, (one store transaction for all three,)
//!   merkql commits.
//! - `restart/broker_open/N`, `restart/store_load/N`,
//!   `restart/catch_up_5/N`: a restart in its three parts: each iteration
//!   appends 5 events and drops everything (untimed), then times opening
//!   the broker (`MerkqlLog::open`), opening the store and loading every
//!   projection's state from it, and the first catch-up.
//!
//! Sizes 1k and 100k; 1M with `HARNESS_BENCH_1M=1`. Fixtures and stores on
//! tmpfs unless `HARNESS_BENCH_DIR` names another parent directory (a disk).

mod common;

use common::{Fixture, label, lean, sizes};
use criterion::{Criterion, criterion_group, criterion_main};
use event_sourced_cart::cart::{Cart, TOPIC};
use event_sourced_cart::domain::Domain;
use event_sourced_cart::durable::{DurableRunner, StoreCheckpoint};
use event_sourced_cart::log::{Log, MerkqlLog};
use event_sourced_cart::projector;
use event_sourced_cart::runner::{GroupRunner, PhaseOptions, Runner, Steps};
use std::path::Path;
use std::time::{Duration, Instant};

const NEW_EVENTS: usize = 5;

/// Every projection's durable runner, sharing one store connection as
/// the projector's do.
fn durable(store: &Path, tag: &str) -> Vec<DurableRunner<Cart>> {
    let checkpoint = StoreCheckpoint::new(store.to_path_buf());
    Cart.projections()
        .into_iter()
        .map(|p| {
            let group = format!("{}-{tag}", p.group_id());
            Runner::with_checkpoint(Cart, p, &group, Steps::production(), checkpoint.shared()).with_batch_records(1000)
        })
        .collect()
}

/// One catch-up of every durable runner, as the projector makes it: one
/// store transaction per round for all of them.
fn catch_up_durable(log: &dyn Log, runners: &mut [DurableRunner<Cart>]) -> usize {
    projector::catch_up(log, runners).expect("a catch-up").iter().map(|p| p.applied).sum()
}

fn memory(tag: &str) -> Vec<Runner<Cart>> {
    Cart.projections()
        .into_iter()
        .map(|p| {
            let group = format!("{}-{tag}", p.group_id());
            Runner::with_group(Cart, p, &group)
        })
        .collect()
}

/// One catch-up of every runner, with a new consumer each.
fn catch_up<R: GroupRunner<Cart>>(log: &dyn Log, runners: &mut [R]) -> usize {
    runners
        .iter_mut()
        .map(|runner| {
            let report = runner.phase(log, PhaseOptions::default()).expect("a phase");
            runner.release_consumer().expect("release");
            report.applied.len()
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    for n in sizes(&[1_000, 100_000, 1_000_000]) {
        let mut fixture = Fixture::default_partitions(n);
        let samples = if n >= 1_000_000 { 10 } else { 20 };
        let store_dir = common::fixture_dir();
        let mut fresh = 0usize;

        let mut group = c.benchmark_group("durable/full_replay");
        lean(&mut group, samples.min(10), Duration::from_secs(if n >= 100_000 { 30 } else { 3 }));
        group.bench_function(label(n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    fresh += 1;
                    let store = store_dir.path().join(format!("full-{fresh}.sqlite"));
                    let mut runners = durable(&store, &format!("full-{fresh}"));
                    let start = Instant::now();
                    catch_up_durable(fixture.log(), &mut runners);
                    total += start.elapsed();
                    drop(runners);
                    let _ = std::fs::remove_file(&store);
                }
                total
            })
        });
        group.finish();
        let mut group = c.benchmark_group("memory/full_replay");
        lean(&mut group, samples.min(10), Duration::from_secs(if n >= 100_000 { 30 } else { 3 }));
        group.bench_function(label(n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    fresh += 1;
                    let mut runners = memory(&format!("memory-full-{fresh}"));
                    let start = Instant::now();
                    catch_up(fixture.log(), &mut runners);
                    total += start.elapsed();
                }
                total
            })
        });
        group.finish();

        // Runners at the log's tail, kept across iterations.
        let store = store_dir.path().join("tail.sqlite");
        let mut durable_runners = durable(&store, "tail");
        let mut memory_runners = memory("memory-tail");
        catch_up_durable(fixture.log(), &mut durable_runners);
        catch_up(fixture.log(), &mut memory_runners);
        for (name, use_durable) in [("durable/catch_up_5", true), ("memory/catch_up_5", false)] {
            let mut group = c.benchmark_group(name);
            lean(&mut group, samples, Duration::from_secs(3));
            group.bench_function(label(n), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        fixture.append_next(NEW_EVENTS);
                        // Both sets stay at the tail; only one is timed.
                        let start = Instant::now();
                        let applied = if use_durable {
                            catch_up_durable(fixture.log(), &mut durable_runners)
                        } else {
                            catch_up(fixture.log(), &mut memory_runners)
                        };
                        total += start.elapsed();
                        if use_durable {
                            catch_up(fixture.log(), &mut memory_runners);
                        } else {
                            catch_up_durable(fixture.log(), &mut durable_runners);
                        }
                        assert!(applied >= NEW_EVENTS, "{applied}");
                    }
                    total
                })
            });
            group.finish();
        }
        drop(durable_runners);

        // A restart in three parts.
        let parts = ["restart/broker_open", "restart/store_load", "restart/catch_up_5"];
        for (part, name) in parts.iter().enumerate() {
            let mut group = c.benchmark_group(*name);
            lean(&mut group, samples.min(10), Duration::from_secs(if n >= 1_000_000 { 20 } else { 3 }));
            group.bench_function(label(n), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        fixture.append_next(NEW_EVENTS);
                        drop(fixture.log.take());
                        let start = Instant::now();
                        let log = MerkqlLog::open(fixture.dir.path(), TOPIC).expect("the log opens");
                        let opened = start.elapsed();
                        let mut runners = durable(&store, "tail");
                        let start = Instant::now();
                        for runner in &mut runners {
                            runner.open(&log).expect("the store loads");
                        }
                        let loaded = start.elapsed();
                        let start = Instant::now();
                        catch_up_durable(&log, &mut runners);
                        let caught_up = start.elapsed();
                        total += [opened, loaded, caught_up][part];
                        fixture.log = Some(log);
                    }
                    total
                })
            });
            group.finish();
        }
        drop(memory_runners);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
