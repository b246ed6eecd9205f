//! A domain's command line in one call: `cli::main(MyDomain, "about")`
//! gives a binary the `replay` command, which reads a replay file (the
//! ones failing properties write), runs it on a fresh merkql log of the
//! domain's topic, and checks every property.
//!
//! ```no_run
//! use projection_harness::example::Counters;
//!
//! fn main() -> std::process::ExitCode {
//!     projection_harness::cli::main(Counters, "Counters, checked by projection-harness")
//! }
//! ```
//!
//! Exit codes: 0 every property holds, 1 a property is violated, 2 bad
//! input (the file, an option or a setting), 3 the log failed. This module
//! is the command line: it is the one place that prints.

use crate::domain::Domain;
use crate::log::MerkqlLog;
use crate::verify::replay::{self, Exit, Verdict};
use crate::verify::{Durable, Production};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Replays a replay file on a fresh log and checks every property.
    Replay {
        /// The replay file (records, or one event per line).
        file: PathBuf,
        /// Partitions of the log, for a file without its own schedule.
        #[arg(long)]
        partitions: Option<u32>,
        /// Commit points, for a file without its own schedule (repeatable).
        #[arg(long = "split-at")]
        split_at: Vec<usize>,
        /// Runs the durable runner (views and checkpoints in a view store)
        /// instead of the in-memory one.
        #[arg(long)]
        durable: bool,
    },
}

/// Parses the process's arguments and runs the command for `domain`;
/// `about` is the program's description in `--help`.
pub fn main<D: Domain>(domain: D, about: &'static str) -> ExitCode {
    let command = <Cli as clap::CommandFactory>::command().about(about);
    let cli = match command.try_get_matches().and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m)) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { Exit::BadInput.code() } else { 0 });
        }
    };
    let exit = match cli.command {
        Command::Replay { file, partitions, split_at, durable } => {
            replay_file(&domain, &file, partitions, &split_at, durable)
        }
    };
    exit.into()
}

fn replay_file<D: Domain>(domain: &D, path: &Path, partitions: Option<u32>, split_at: &[usize], durable: bool) -> Exit {
    let shown = crate::text::path(path);
    let file = match replay::load(domain, path) {
        Ok(file) => file,
        Err(message) => return fail(Exit::BadInput, &format!("{shown}: {message}")),
    };
    let schedule = match replay::schedule_for(&file, partitions, split_at) {
        Ok(schedule) => schedule,
        Err(message) => return fail(Exit::BadInput, &format!("{shown}: {message}")),
    };
    let dir = match crate::settings::scratch_dir() {
        Ok(dir) => dir,
        Err(e) => return fail(Exit::LogFailed, &format!("cannot create a temporary directory ({e})")),
    };
    let mut log = match MerkqlLog::create(dir.path(), domain.topic(), schedule.partitions()) {
        Ok(log) => log,
        Err(e) => return fail(Exit::LogFailed, &e.to_string()),
    };
    let verdict = if durable {
        let system = Durable { domain: domain.clone(), store: dir.path().join("views.sqlite") };
        replay::run(&system, &file, &schedule, &mut log)
    } else {
        replay::run(&Production(domain.clone()), &file, &schedule, &mut log)
    };
    match verdict {
        Ok(verdict) => report(&verdict, durable),
        Err(e) => fail(Exit::LogFailed, &e.to_string()),
    }
}

fn report<D: Domain>(verdict: &Verdict<D>, durable: bool) -> Exit {
    let runner = if durable { "durable" } else { "in-memory" };
    let records = verdict.execution.produced.len();
    let mut text = String::new();
    if verdict.violations.is_empty() {
        text.push_str(&format!("Replayed {records} records with the {runner} runner: every property holds.\n"));
    } else {
        let violated = match verdict.violations.len() {
            1 => "1 property".to_string(),
            n => format!("{n} properties"),
        };
        text.push_str(&format!("Replayed {records} records with the {runner} runner: {violated} violated.\n"));
        for violation in &verdict.violations {
            text.push_str(&format!("\n{violation}\n"));
        }
    }
    let exit = verdict.exit();
    match std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes()) {
        Ok(()) => exit,
        // A closed pipe: nothing more can be said on stdout.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit,
        Err(e) => fail(Exit::LogFailed, &format!("cannot write the report ({e})")),
    }
}

fn fail(exit: Exit, message: &str) -> Exit {
    eprintln!("error: {message}");
    exit
}
