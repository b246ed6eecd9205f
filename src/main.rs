//! `event-sourced-cart`: the canonical scenario (default) and `replay`.

use clap::{Parser, Subcommand};
use event_sourced_cart::cart::event::DecodeError;
use event_sourced_cart::cart::report::{self, capitalized, title, view_text};
use event_sourced_cart::cart::scenario::{DEFAULT_PARTITIONS, run_canonical};
use event_sourced_cart::cart::{Cart, TOPIC};
use event_sourced_cart::domain::{AnyView, Rejected};
use event_sourced_cart::log::{Log, PerRecord};
use event_sourced_cart::log::{LogError, MAX_PARTITIONS, MerkqlLog};
use event_sourced_cart::progress::ReplayProgress;
use event_sourced_cart::runner::RunError;
use event_sourced_cart::scratch::{ScratchDir, remove_scratch_logs_on_signals};
use event_sourced_cart::settings::Settings;
use event_sourced_cart::text::quoted_if_needed;
use event_sourced_cart::verify::replay::{self, Exit, Verdict};
use event_sourced_cart::verify::replay_file::ReplayFile;
use event_sourced_cart::verify::{ExecuteError, Production, Schedule};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
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
    /// Partition count of the cart-events topic (1-256).
    #[arg(long, default_value_t = DEFAULT_PARTITIONS, value_parser = clap::value_parser!(u32).range(1..=MAX_PARTITIONS as i64))]
    partitions: u32,
}

#[derive(Subcommand)]
enum Command {
    /// Produce an events file into a fresh log, project it by full replay and
    /// by split replay, and compare. Exit 0: they agree; 1: they differ;
    /// 2: bad input; 3: the log failed.
    Replay {
        /// JSON lines: a records file (as written by failing property
        /// tests) or one event per line, optionally headed by a schedule.
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
        /// Produce each record with its own merkql send, as a real producer
        /// does (quadratic: each send rewrites the partition's index),
        /// instead of the bulk loader's batches (linear, same layout).
        #[arg(long)]
        send_each: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = Settings::get() {
        print_error(&e.to_string());
        return Exit::BadInput.into();
    }
    if let Err(e) = remove_scratch_logs_on_signals() {
        print_error(&format!("cannot install the signal handler that removes scratch logs ({e})"));
        return Exit::LogFailed.into();
    }
    let exit = match cli.command {
        None => canonical(cli.data_dir.as_deref(), cli.partitions),
        Some(Command::Replay { file, partitions, split_at, json, send_each }) => {
            replay(&file, partitions, &split_at, json, send_each)
        }
    };
    exit.into()
}

/// How a log error ends the process: the caller's mistake (2) or the log's
/// failure (3).
fn exit_for(error: &LogError) -> Exit {
    match error {
        LogError::AlreadyExists { .. }
        | LogError::InUse { .. }
        | LogError::Missing { .. }
        | LogError::BadPartitionCount(_)
        | LogError::BadTopic(_)
        | LogError::BadGroupId(_) => Exit::BadInput,
        LogError::ConsumersStillOpen(_) | LogError::CommitAfterFailedPoll | LogError::Backend { .. } => Exit::LogFailed,
    }
}

fn canonical(data_dir: Option<&Path>, partitions: u32) -> Exit {
    let temp;
    let dir = match data_dir {
        Some(dir) => dir,
        None => match ScratchDir::new() {
            Ok(t) => {
                temp = t;
                temp.path()
            }
            Err(e) => {
                print_error(&format!("cannot create a temporary directory ({e}); pass --data-dir DIR"));
                return Exit::LogFailed;
            }
        },
    };
    let run = match run_canonical(dir, partitions) {
        Ok(run) => run,
        Err(RunError::Log(e)) => {
            print_error(&e.to_string());
            return exit_for(&e);
        }
    };
    let verdict = match run.check_incremental() {
        Ok(()) => Exit::Agree,
        Err(reason) => {
            print_error(&format!("incremental update is wrong: {reason}"));
            Exit::Violations
        }
    };
    emit(&report::canonical_text(&run), verdict)
}

/// Writes the report to stdout, then ends with `verdict`. A closed pipe
/// (`| head -1`) ends quietly with the verdict, as `cat` does; any other
/// write failure (a full disk) is an error: exit 3.
fn emit(text: &str, verdict: Exit) -> Exit {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => verdict,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => verdict,
        Err(e) => {
            print_error(&format!(
                "cannot write the report to standard output ({e}); check the disk or the file it goes to"
            ));
            Exit::LogFailed
        }
    }
}

/// Prints `error: <message>` on stderr, through the last gate every error
/// passes: whatever a message embeds, it stays one line of safe text.
/// Returns the message as printed.
fn print_error(message: &str) -> String {
    let message = event_sourced_cart::text::escaped(message).into_owned();
    eprintln!("error: {message}");
    message
}

/// Reports an error on stderr and, for `--json`, as `{"error": ..., "exit": N}`
/// on stdout too, so that a script reading stdout learns why.
fn fail(json: bool, exit: Exit, message: String) -> Exit {
    let message = print_error(&message);
    if !json {
        return exit;
    }
    let object = serde_json::json!({ "error": message, "exit": exit.code() });
    match emit(&event_sourced_cart::text::json_escaped(&format!("{object:#}\n")), exit) {
        Exit::LogFailed => Exit::LogFailed,
        _ => exit,
    }
}

fn replay(path: &Path, partitions: Option<u32>, split_at: &[usize], json: bool, send_each: bool) -> Exit {
    let bad_input =
        |message: String| fail(json, Exit::BadInput, format!("{}: {message}", event_sourced_cart::text::path(path)));
    // Made before the file is read (which may block, on a pipe), so that
    // an interrupt at any point finds it registered and removes it.
    let scratch = match ScratchDir::new() {
        Ok(scratch) => scratch,
        Err(e) => return fail(json, Exit::LogFailed, format!("cannot create a temporary directory ({e})")),
    };
    let progress = ReplayProgress::reading(&event_sourced_cart::text::path(path));
    // Each error path clears the progress display before it prints.
    let file = match replay::load(&Cart, path) {
        Ok(file) => file,
        Err(message) => {
            drop(progress);
            return bad_input(message);
        }
    };
    let schedule = match replay::schedule_for(&file, partitions, split_at) {
        Ok(schedule) => schedule,
        Err(message) => {
            drop(progress);
            return bad_input(message);
        }
    };
    let verdict = run_on_scratch_log(&scratch, &file, &schedule, send_each, &progress);
    drop(progress);
    let verdict = match verdict {
        Ok(verdict) => verdict,
        Err(e) => return fail(json, Exit::LogFailed, e),
    };
    let text = if json { json_report(&file, &schedule, &verdict) } else { text_report(&file, &schedule, &verdict) };
    emit(&text, verdict.exit())
}

fn run_on_scratch_log(
    dir: &ScratchDir,
    file: &ReplayFile,
    schedule: &Schedule,
    send_each: bool,
    progress: &ReplayProgress,
) -> Result<Verdict<Cart>, String> {
    let log = MerkqlLog::create(dir.path(), TOPIC, schedule.partitions()).map_err(|e| e.to_string())?;
    let mut log: Box<dyn Log> = if send_each { Box::new(PerRecord(log)) } else { Box::new(log) };
    replay::run_with_progress(&Production(Cart), file, schedule, log.as_mut(), &mut |stage| progress.stage(stage))
        .map_err(|e: ExecuteError| e.to_string())
}

/// The records the full replay rejected, in the order of the file (a
/// poll's partition blocks come in an order merkql chooses, so arrival
/// order would make the report differ from run to run).
fn rejected_in_file_order<'a>(file: &'a ReplayFile, verdict: &'a Verdict<Cart>) -> Vec<&'a Rejected<DecodeError>> {
    let line_of = line_of(file, verdict);
    let mut rejected: Vec<&Rejected<DecodeError>> =
        verdict.execution.full.first().map(|t| t.rejected.iter().collect()).unwrap_or_default();
    rejected.sort_by_key(|r| (line_of(r), r.partition, r.offset));
    rejected
}

/// The line of the file each rejected record came from.
fn line_of<'a>(
    file: &'a ReplayFile,
    verdict: &'a Verdict<Cart>,
) -> impl Fn(&Rejected<DecodeError>) -> Option<usize> + 'a {
    let by_position: HashMap<(u32, u64), usize> = verdict
        .execution
        .produced
        .iter()
        .zip(&file.lines)
        .map(|((p, _), line)| ((p.partition, p.offset), *line))
        .collect();
    move |r| by_position.get(&(r.partition, r.offset)).copied()
}

fn text_report(file: &ReplayFile, schedule: &Schedule, verdict: &Verdict<Cart>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let events = file.history.len();
    let _ = writeln!(
        out,
        "Replayed {}: {}, split at {:?}.",
        event_sourced_cart::text::count(events as u64, "event"),
        event_sourced_cart::text::count(schedule.partitions(), "partition"),
        schedule.split_points(events)
    );
    let line_of = line_of(file, verdict);
    for r in rejected_in_file_order(file, verdict) {
        let _ = match line_of(r) {
            Some(line) => writeln!(out, "line {line}: {r}"),
            None => writeln!(out, "{r}"),
        };
    }
    for trace in &verdict.execution.full {
        let title = capitalized(&title(&trace.projection));
        let _ = writeln!(out, "\n{title} (full replay):");
        out.push_str(&view_text(&trace.view));
    }
    let _ = writeln!(out);
    if verdict.violations.is_empty() {
        let _ = writeln!(out, "Full replay and split replay agree; every property holds.");
    }
    for v in &verdict.violations {
        let _ = writeln!(out, "VIOLATION: {}", quoted_if_needed_lines(&v.to_string()));
    }
    out
}

/// A violation's text: its lines are the harness's own (diffs span lines),
/// but each line's input-derived parts are already quoted by the checks.
fn quoted_if_needed_lines(text: &str) -> String {
    text.lines().map(|line| quoted_if_needed(line).into_owned()).collect::<Vec<_>>().join("\n")
}

/// The `--json` shape of `replay` (documented in the README): fixed fields,
/// then one field per projection, named by its group id with `_` for `-`.
#[derive(Serialize)]
struct ReplayJson<'a> {
    events: usize,
    partitions: u32,
    split_at: Vec<usize>,
    agree: bool,
    violations: Vec<String>,
    rejected: Vec<RejectedJson>,
    #[serde(flatten)]
    views: BTreeMap<String, &'a AnyView>,
}

#[derive(Serialize)]
struct RejectedJson {
    topic: String,
    partition: u32,
    offset: u64,
    line: Option<usize>,
    error: String,
}

fn json_report(file: &ReplayFile, schedule: &Schedule, verdict: &Verdict<Cart>) -> String {
    let events = file.history.len();
    let line_of = line_of(file, verdict);
    let full = &verdict.execution.full;
    let out = ReplayJson {
        events,
        partitions: schedule.partitions(),
        split_at: schedule.split_points(events),
        agree: verdict.violations.is_empty(),
        violations: verdict.violations.iter().map(ToString::to_string).collect(),
        rejected: rejected_in_file_order(file, verdict)
            .into_iter()
            .map(|r| RejectedJson {
                topic: r.topic.clone(),
                partition: r.partition,
                offset: r.offset,
                line: line_of(r),
                error: r.error.to_string(),
            })
            .collect(),
        views: full.iter().map(|t| (t.projection.replace('-', "_"), &t.view)).collect(),
    };
    // Serialized directly (not through serde_json::Value, which cannot hold
    // the u128 totals above u64::MAX). Views are plain data.
    match serde_json::to_string_pretty(&out) {
        Ok(text) => event_sourced_cart::text::json_escaped(&text).into_owned() + "\n",
        Err(e) => {
            print_error(&format!("the replay report does not serialize ({e})"));
            String::new()
        }
    }
}
