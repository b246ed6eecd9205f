//! Item 6 of the benchmarks issue: the cost of one `send` (`Log::append` of
//! `MerkqlLog`) by log size, with 1 and with 8 partitions, on tmpfs and on disk.
//!
//! Each iteration appends one workload event (encoded and keyed by cart id,
//! `common::append`) and times it.
//! The log grows by the few hundred records a benchmark appends, so the
//! sizes are the sizes at the start. With 8 partitions each partition holds
//! about 1/8 of the log.
//!
//! Disk fixtures go to the system temp dir (`/tmp`, or `HARNESS_BENCH_DISK_DIR`).
//! Also `send_batch10`: merkql's `Producer::send_batch` of 10 records, with
//! the throughput in records per second, to compare with one `send`.
//! Sizes: 1k, 10k, 100k; 1M with `HARNESS_BENCH_1M=1`.

mod common;

use common::{Fixture, label, lean, sizes};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use event_sourced_cart::cart::event::encode;
use std::time::{Duration, Instant};
use tempfile::TempDir;

fn disk_dir() -> TempDir {
    let parent = common::settings().bench_disk_dir.clone().unwrap_or_else(std::env::temp_dir);
    tempfile::Builder::new().prefix("cart-bench-").tempdir_in(parent).expect("a directory on disk")
}

fn bench(c: &mut Criterion) {
    for (medium, make_dir) in [
        ("tmpfs", event_sourced_cart::settings::scratch_dir as fn() -> std::io::Result<TempDir>),
        ("disk", || Ok(disk_dir())),
    ] {
        for n in sizes(&[1_000, 10_000, 100_000, 1_000_000]) {
            for partitions in [1u32, 8] {
                let mut fixture = Fixture::build_in(make_dir().expect("a directory"), medium, n, partitions);
                let mut group = c.benchmark_group(format!("send/{medium}/p{partitions}"));
                lean(&mut group, 10, Duration::from_millis(10));
                group.throughput(Throughput::Elements(1));
                group.bench_function(BenchmarkId::new("send", label(n)), |b| {
                    b.iter_custom(|iters| {
                        let mut timed = Duration::ZERO;
                        for _ in 0..iters {
                            let event = common::event(fixture.next);
                            fixture.next += 1;
                            let start = Instant::now();
                            common::append(fixture.log(), &event);
                            timed += start.elapsed();
                        }
                        timed
                    })
                });
                if partitions == 1 && n <= 100_000 {
                    group.throughput(Throughput::Elements(10));
                    group.bench_function(BenchmarkId::new("send_batch10", label(n)), |b| {
                        b.iter_custom(|iters| {
                            let mut timed = Duration::ZERO;
                            for _ in 0..iters {
                                let wire: Vec<_> = common::events(fixture.next, 10).iter().map(encode).collect();
                                fixture.next += 10;
                                let batch: Vec<(Option<&str>, &str)> =
                                    wire.iter().map(|r| (r.key.as_deref(), r.value.as_str())).collect();
                                let start = Instant::now();
                                fixture.log().send_batch(&batch).expect("send_batch");
                                timed += start.elapsed();
                            }
                            timed
                        })
                    });
                }
                group.finish();
            }
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
