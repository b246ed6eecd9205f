//! Shared by the benchmarks: a deterministic cart workload and fixture logs.
#![allow(dead_code)]

use criterion::{BenchmarkGroup, SamplingMode, measurement::WallTime};
use event_sourced_cart::cart::TOPIC;
use event_sourced_cart::cart::event::{DomainEvent, encode};
use event_sourced_cart::cart::money::Cents;
use event_sourced_cart::cart::scenario::DEFAULT_PARTITIONS;
use event_sourced_cart::log::{Log, MerkqlLog};
use event_sourced_cart::settings::scratch_dir;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const ITEMS: [&str; 20] = [
    "Widget",
    "Gadget",
    "Gizmo",
    "Doohickey",
    "Sprocket",
    "Flange",
    "Bolt",
    "Nut",
    "Washer",
    "Spring",
    "Lever",
    "Pulley",
    "Gear",
    "Cam",
    "Valve",
    "Piston",
    "Rotor",
    "Stator",
    "Bearing",
    "Bushing",
];

/// Event number `i` of an endless, deterministic workload: 1000 carts are
/// open at a time; each gets 10 events (7 adds, a remove, an add, a
/// checkout), then the next 1000 carts start. So every cart has at most 8
/// lines, carts keep arriving, and a million events touch 100,000 carts.
pub fn event(i: usize) -> DomainEvent {
    let cart = i % 1000 + 1000 * (i / 10_000);
    let step = (i / 1000) % 10;
    let cart_id = format!("cart-{cart}");
    let item = |s: usize| ITEMS[(cart * 3 + s) % ITEMS.len()].to_string();
    match step {
        0..=6 | 8 => DomainEvent::AddItem {
            cart_id,
            item: item(step),
            qty: 1 + (step % 3) as u32,
            unit_price: Cents(100 + ((cart * 7 + step) % 900) as u128),
        },
        7 => DomainEvent::RemoveItem { cart_id, item: item(2) },
        _ => DomainEvent::Checkout { cart_id },
    }
}

/// Events `from..from + n` of the workload.
pub fn events(from: usize, n: usize) -> Vec<DomainEvent> {
    (from..from + n).map(event).collect()
}

/// The environment settings; a bad value stops the bench naming the variable.
pub fn settings() -> &'static event_sourced_cart::settings::Settings {
    event_sourced_cart::settings::Settings::get().unwrap_or_else(|e| panic!("{e}"))
}

/// Where fixture logs go: `HARNESS_BENCH_DIR` if set (for example a directory
/// on disk), else tmpfs (`/dev/shm`) via `scratch_dir`.
pub fn fixture_dir() -> TempDir {
    match &settings().bench_dir {
        Some(parent) => tempfile::Builder::new().prefix("cart-bench-").tempdir_in(parent),
        None => scratch_dir(),
    }
    .expect("a fixture directory")
}

/// Human name of where fixtures live, printed with the results.
pub fn fixture_medium() -> String {
    match &settings().bench_dir {
        Some(dir) => format!("HARNESS_BENCH_DIR={}", dir.display()),
        None => "tmpfs (/dev/shm)".to_string(),
    }
}

/// A log of `n` workload events in `partitions` partitions, bulk loaded.
pub struct Fixture {
    pub dir: TempDir,
    pub log: Option<MerkqlLog>,
    /// Number of the next workload event to append.
    pub next: usize,
}

impl Fixture {
    pub fn build(n: usize, partitions: u32) -> Fixture {
        Fixture::build_in(fixture_dir(), &fixture_medium(), n, partitions)
    }

    /// A fixture in `dir` (`medium` names it in the output).
    pub fn build_in(dir: TempDir, medium: &str, n: usize, partitions: u32) -> Fixture {
        let log = MerkqlLog::create(dir.path(), TOPIC, partitions).expect("a new log");
        let start = Instant::now();
        // Generated in slices so that a million events never sit in memory twice.
        let mut from = 0;
        while from < n {
            let chunk = (n - from).min(100_000);
            let records = events(from, chunk).into_iter().map(|event| {
                let record = encode(&event);
                (record.key, record.value)
            });
            log.bulk_append_owned_records(records).expect("bulk load");
            from += chunk;
        }
        let took = start.elapsed();
        eprintln!(
            "fixture: {n} events in {partitions} partition(s) on {medium} bulk-loaded in {:.3} s ({:.0} events/s)",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64()
        );
        Fixture { dir, log: Some(log), next: n }
    }

    pub fn default_partitions(n: usize) -> Fixture {
        Fixture::build(n, DEFAULT_PARTITIONS)
    }

    pub fn log(&self) -> &MerkqlLog {
        self.log.as_ref().expect("the log is open")
    }

    /// Appends the next `n` workload events one by one with [`Log::append`]
    /// (merkql `send`), each [`encode`]d under its cart id, as a producer would.
    pub fn append_next(&mut self, n: usize) {
        for event in events(self.next, n) {
            append(self.log(), &event);
        }
        self.next += n;
    }
}

/// Appends one event as the cart produces it: [`encode`]d (wire JSON under
/// its cart id), then [`Log::append`] (merkql `send`).
pub fn append(log: &MerkqlLog, event: &DomainEvent) {
    let record = encode(event);
    log.append(record.key.as_deref(), &record.value).expect("append");
}

/// Log sizes of the catch-up benchmarks: 1k, 10k, 100k, and 1M when
/// `HARNESS_BENCH_1M=1`.
pub fn sizes(all: &[usize]) -> Vec<usize> {
    let big = settings().bench_1m;
    all.iter().copied().filter(|&n| n < 1_000_000 || big).collect()
}

/// Few samples, flat sampling, short warm-up: each iteration of these
/// benchmarks has untimed set-up (appends) that can cost far more than the
/// timed part, and criterion sizes its loops by the timed part only.
pub fn lean(group: &mut BenchmarkGroup<'_, WallTime>, samples: usize, measurement: Duration) {
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(samples);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(measurement);
}

pub fn label(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1000 && n % 1000 == 0 => format!("{}k", n / 1000),
        n => n.to_string(),
    }
}
