//! `event-sourced-cart`: the canonical scenario (default) and `replay`.

use clap::{Parser, Subcommand};
use event_sourced_cart::cart::replay_report::{json_report, text_report};
use event_sourced_cart::cart::report;
use event_sourced_cart::cart::scenario::{DEFAULT_PARTITIONS, run_canonical};
use event_sourced_cart::cart::{Cart, TOPIC};
use event_sourced_cart::log::{Log, PerRecord};
use event_sourced_cart::log::{LogError, MAX_PARTITIONS, MerkqlLog};
use event_sourced_cart::progress::ReplayProgress;
use event_sourced_cart::runner::RunError;
use event_sourced_cart::scratch::{ScratchDir, remove_scratch_logs_on_signals};
use event_sourced_cart::settings::Settings;
use event_sourced_cart::verify::replay::{self, Exit, Verdict};
use event_sourced_cart::verify::replay_file::ReplayFile;
use event_sourced_cart::verify::{ExecuteError, Production, Schedule};
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
        Err(other) => {
            print_error(&other.to_string());
            return Exit::LogFailed;
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
    let text = if json {
        match json_report(&file, &schedule, &verdict) {
            Ok(text) => text,
            Err(e) => return fail(json, Exit::LogFailed, format!("the replay report does not serialize ({e})")),
        }
    } else {
        text_report(&file, &schedule, &verdict)
    };
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
