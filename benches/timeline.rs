//! What a timeline page costs to render, and how big it is: a history of
//! 300 and of 3,000 records over 8 partitions, in three phases, a byte of
//! a record flipped before the second phase polls (so that every group
//! stops, and the page has findings, lit records and views to show), run
//! once by the durable runner; the bench renders the page of that
//! execution. Each size's page size is printed once, before its samples.
//!
//! The figure is `timeline/render/300`; the 3,000-record page shows
//! how rendering grows (per-cell limits bound what a bigger history adds).

mod common;

use common::{label, lean};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use event_sourced_cart::cart::Cart;
use event_sourced_cart::cart::event::encode;
use event_sourced_cart::log::{Fault, MerkqlLog};
use event_sourced_cart::timeline::Timeline;
use event_sourced_cart::verify::check::check_under_faults;
use event_sourced_cart::verify::{Durable, Execution, Phase, Schedule, execute};
use std::time::Duration;

const PARTITIONS: u32 = 8;

/// The execution of `n` records and its schedule.
fn faulted_execution(n: usize) -> (Execution<Cart>, Schedule, tempfile::TempDir) {
    let history: Vec<_> = common::events(0, n).iter().map(encode).collect();
    let fault = Fault::FlipPayloadByte { partition: 3, offset: 5 };
    let phases = vec![
        Phase { produce: n / 3, ..Phase::default() },
        Phase { produce: n / 3, faults: vec![fault], ..Phase::default() },
    ];
    let schedule = Schedule::new(PARTITIONS, phases, None).expect("a valid schedule");
    let dir = common::fixture_dir();
    let system = Durable { domain: Cart, store: dir.path().join("views.sqlite") };
    let mut log =
        MerkqlLog::create(&dir.path().join("log"), event_sourced_cart::cart::TOPIC, PARTITIONS).expect("a scratch log");
    let execution = execute(&system, &history, &schedule, &mut log).expect("the log works");
    (execution, schedule, dir)
}

fn render(c: &mut Criterion) {
    let mut group = c.benchmark_group("timeline/render");
    lean(&mut group, 20, Duration::from_secs(3));
    for n in [300usize, 3_000] {
        let (execution, schedule, _dir) = faulted_execution(n);
        let violations = check_under_faults(&execution);
        let page = |execution: &Execution<Cart>| {
            Timeline::new(execution, &schedule, &violations).replay_command("replay FILE --durable").html()
        };
        eprintln!("timeline/render/{}: the page is {} bytes", label(n), page(&execution).len());
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(label(n), |b| b.iter(|| page(&execution)));
    }
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
