//! `event-sourced-cart`: the canonical scenario (default) and `replay`.

use clap::{Parser, Subcommand};
use event_sourced_cart::event::Rejected;
use event_sourced_cart::log::scratch_dir;
use event_sourced_cart::projection::{CartStateView, RevenueView};
use event_sourced_cart::report;
use event_sourced_cart::scenario::{DEFAULT_PARTITIONS, run_canonical};
use event_sourced_cart::verify::schedule::MAX_PHASES;
use event_sourced_cart::verify::{self, Production, Schedule, check, replay_file};
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// Event-sourced CQRS projections on merkql, and their verification harness.
///
/// With no command: runs the seed's canonical 30+5 scenario on a merkql log
/// in a temporary directory and prints the projections.
#[derive(Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Run in DIR (created if missing) and keep the log there for inspection.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Partition count of the cart-events topic.
    #[arg(long, default_value_t = DEFAULT_PARTITIONS)]
    partitions: u32,
}

#[derive(Subcommand)]
enum Command {
    /// Produce an events file into a fresh log, project it by full replay and
    /// by split replay, and compare. Exit 0: they agree; 1: they differ;
    /// 2: bad input; 3: the log failed.
    Replay {
        /// JSON lines, one event per line, optionally headed by a schedule
        /// line (as written by failing property tests).
        file: PathBuf,
        /// Partition count (default 1; not with a file that has a schedule).
        #[arg(long)]
        partitions: Option<u32>,
        /// Commit points of the split replay: events before K are produced,
        /// then polled and committed. Repeat for more points.
        #[arg(long = "split-at", value_name = "K")]
        split_at: Vec<usize>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => canonical(cli.data_dir, cli.partitions),
        Some(Command::Replay { file, partitions, split_at, json }) => replay(&file, partitions, &split_at, json),
    }
}

fn canonical(data_dir: Option<PathBuf>, partitions: u32) -> ExitCode {
    let temp;
    let dir = match data_dir {
        Some(dir) => dir,
        None => match tempfile::tempdir() {
            Ok(t) => {
                temp = t;
                temp.path().to_path_buf()
            }
            Err(e) => {
                eprintln!("error: cannot create a temporary directory ({e}); pass --data-dir DIR");
                return ExitCode::from(2);
            }
        },
    };
    let run = match run_canonical(&dir, partitions) {
        Ok(run) => run,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", report::canonical_text(&run));
    if let Err(reason) = run.check_incremental() {
        eprintln!("error: incremental update is wrong: {reason}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

fn replay(path: &PathBuf, partitions: Option<u32>, split_at: &[usize], json: bool) -> ExitCode {
    let bad_input = |message: String| {
        eprintln!("error: {}: {message}", path.display());
        ExitCode::from(2)
    };
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => return bad_input(format!("cannot read it ({e})")),
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let bytes = e.as_bytes();
            let line = 1 + bytes[..e.utf8_error().valid_up_to()].iter().filter(|b| **b == b'\n').count();
            return bad_input(format!("line {line}: not valid UTF-8; save the file as UTF-8"));
        }
    };
    let file = match replay_file::parse(&text) {
        Ok(file) => file,
        Err(e) => return bad_input(e.to_string()),
    };
    let events = file.history.len();
    let schedule = match (&file.schedule, partitions, split_at.is_empty()) {
        (Some(schedule), None, true) => schedule.clone(),
        (Some(_), _, _) => {
            return bad_input("the file carries its own schedule; drop --partitions and --split-at".into());
        }
        (None, partitions, _) => {
            if split_at.len() > MAX_PHASES {
                return bad_input(format!("{} --split-at points; use at most {MAX_PHASES}", split_at.len()));
            }
            if let Some(k) = split_at.iter().find(|k| **k > events) {
                return bad_input(format!("--split-at {k} is past the end: the file has {events} events"));
            }
            let schedule = Schedule::split_at(partitions.unwrap_or(1), split_at);
            if let Err(m) = schedule.validate() {
                return bad_input(m);
            }
            schedule
        }
    };
    let dir = match scratch_dir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("error: cannot create a temporary directory ({e})");
            return ExitCode::from(3);
        }
    };
    let execution = match verify::execute(&Production, &file.history, &schedule, dir.path()) {
        Ok(execution) => execution,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
    };
    let violations = check::check_all(&execution);
    let full = &execution.full;
    let line_by_position: HashMap<(u32, u64), usize> =
        execution.produced.iter().zip(&file.lines).map(|((p, _), line)| ((p.partition, p.offset), *line)).collect();
    let line_of = |r: &Rejected| line_by_position.get(&(r.partition, r.offset)).copied();
    if json {
        let out = ReplayJson {
            events,
            partitions: schedule.partitions,
            split_at: split_points(&schedule, events),
            agree: violations.is_empty(),
            violations: violations.iter().map(ToString::to_string).collect(),
            rejected: full
                .cart_state
                .rejected
                .iter()
                .map(|r| RejectedJson {
                    topic: &r.topic,
                    partition: r.partition,
                    offset: r.offset,
                    line: line_of(r),
                    error: r.error.to_string(),
                })
                .collect(),
            cart_state: &full.cart_state.view,
            revenue: &full.revenue.view,
        };
        // Serialized directly (not through serde_json::Value, which cannot
        // hold the u128 totals above u64::MAX).
        println!("{}", serde_json::to_string_pretty(&out).expect("the replay report serializes"));
    } else {
        println!(
            "Replayed {events} events: {} partitions, split at {:?}.",
            schedule.partitions,
            split_points(&schedule, events)
        );
        for r in &full.cart_state.rejected {
            match line_of(r) {
                Some(line) => println!("line {line}: {r}"),
                None => println!("{r}"),
            }
        }
        println!("\nCart state (full replay):");
        print!("{}", report::cart_state_text(&full.cart_state.view));
        println!("\nRevenue (full replay):");
        print!("{}", report::revenue_text(&full.revenue.view));
        println!();
        if violations.is_empty() {
            println!("Full replay and split replay agree; every property holds.");
        }
        for v in &violations {
            println!("VIOLATION: {v}");
        }
    }
    if violations.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

/// The `--json` shape of `replay` (documented in the README).
#[derive(Serialize)]
struct ReplayJson<'a> {
    events: usize,
    partitions: u32,
    split_at: Vec<usize>,
    agree: bool,
    violations: Vec<String>,
    rejected: Vec<RejectedJson<'a>>,
    cart_state: &'a CartStateView,
    revenue: &'a RevenueView,
}

#[derive(Serialize)]
struct RejectedJson<'a> {
    topic: &'a str,
    partition: u32,
    offset: u64,
    line: Option<usize>,
    error: String,
}

/// The cumulative commit points of a schedule, clamped to the history.
fn split_points(schedule: &Schedule, events: usize) -> Vec<usize> {
    let mut total = 0usize;
    schedule
        .phases
        .iter()
        .map(|p| {
            total = total.saturating_add(p.produce).min(events);
            total
        })
        .collect()
}
