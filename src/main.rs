//! `event-sourced-cart`: the canonical scenario (default) and `replay`.

use clap::{Parser, Subcommand};
use event_sourced_cart::cart::replay_report::{indented, json_report, text_report};
use event_sourced_cart::cart::report;
use event_sourced_cart::cart::scenario::{DEFAULT_PARTITIONS, run_canonical, run_canonical_on};
use event_sourced_cart::cart::soak as cart_soak;
use event_sourced_cart::cart::{Cart, TOPIC};
use event_sourced_cart::log::{Log, PerRecord};
use event_sourced_cart::log::{LogError, MAX_PARTITIONS, MerkqlLog};
use event_sourced_cart::progress::{ReplayProgress, SoakProgress};
use event_sourced_cart::projector;
use event_sourced_cart::runner::RunError;
use event_sourced_cart::scratch::{ScratchDir, remove_scratch_logs_on_signals};
use event_sourced_cart::settings::Settings;
use event_sourced_cart::verify::replay::{self, Exit, Verdict};
use event_sourced_cart::verify::replay_file::ReplayFile;
use event_sourced_cart::verify::soak::Limit;
use event_sourced_cart::verify::{Durable, ExecuteError, Production, Schedule};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Event-sourced CQRS projections on merkql, and their verification harness.
///
/// With no command: runs the seed's canonical 30+5 scenario on a merkql log
/// in a temporary directory and prints the projections.
/// Every path argument, checked by [`event_sourced_cart::log::check_path`].
fn path_arg() -> impl clap::builder::TypedValueParser<Value = PathBuf> {
    use clap::builder::TypedValueParser;
    clap::builder::OsStringValueParser::new()
        .try_map(|s: std::ffi::OsString| event_sourced_cart::log::check_path(s.as_os_str()))
}

#[derive(Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Run in DIR (created if missing) and keep the log there for inspection.
    #[arg(long, value_name = "DIR", value_parser = path_arg())]
    data_dir: Option<PathBuf>,
    /// Partition count of the cart-events topic (1-256).
    #[arg(long, default_value_t = DEFAULT_PARTITIONS, value_parser = clap::value_parser!(u32).range(1..=MAX_PARTITIONS as i64))]
    partitions: u32,
    /// Run on the Kafka-protocol broker at HOST:PORT instead, in a new
    /// topic deleted afterwards (builds with `--features kafka`).
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "data_dir", value_parser = bootstrap_arg, hide = !cfg!(feature = "kafka"))]
    kafka: Option<String>,
}

fn bootstrap_arg(text: &str) -> Result<String, String> {
    event_sourced_cart::settings::check_bootstrap(text)?;
    Ok(text.to_string())
}

#[derive(Subcommand)]
enum Command {
    /// Produce an events file into a fresh log, project it by full replay and
    /// by split replay, and compare. Exit 0: they agree; 1: they differ;
    /// 2: bad input; 3: the log failed.
    Replay {
        /// JSON lines: a records file (as written by failing property
        /// tests) or one event per line, optionally headed by a schedule.
        #[arg(value_parser = path_arg())]
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
        /// Run the projections with the durable runner, their views and
        /// checkpoints in a view store next to the scratch log, as
        /// `project` runs them, instead of in memory. For files whose
        /// schedule restarts the process or injects faults.
        #[arg(long)]
        durable: bool,
        /// Replay on the Kafka-protocol broker at HOST:PORT, in a new topic
        /// deleted afterwards (builds with `--features kafka`).
        #[arg(long, value_name = "HOST:PORT", conflicts_with = "send_each", value_parser = bootstrap_arg, hide = !cfg!(feature = "kafka"))]
        kafka: Option<String>,
    },
    /// Append the records of an events file (either replay format) to the
    /// log in DIR, creating it if needed. Prints a line as each chunk is
    /// acknowledged (in the log).
    Append {
        #[arg(value_parser = path_arg())]
        file: PathBuf,
        /// The log's directory (created with --partitions if it holds no log).
        #[arg(long, value_name = "DIR", value_parser = path_arg())]
        data_dir: PathBuf,
        /// Partition count of a new log (default 3); must match an existing one.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_PARTITIONS as i64))]
        partitions: Option<u32>,
        /// Records per appended (and acknowledged) chunk.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        chunk: u64,
    },
    /// Bring every projection up to date from its checkpoint in the view
    /// store (DIR/views.sqlite unless --store), once or, with --follow,
    /// until Ctrl-C or SIGTERM (which stop it after the current batch).
    Project {
        #[arg(long, value_name = "DIR", value_parser = path_arg())]
        data_dir: PathBuf,
        /// The view store (SQLite file).
        #[arg(long, value_name = "FILE", value_parser = path_arg())]
        store: Option<PathBuf>,
        /// Keep polling for new events every --interval-ms.
        #[arg(long)]
        follow: bool,
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
        interval_ms: u64,
        /// Records per store transaction.
        #[arg(long, default_value_t = projector::DEFAULT_BATCH_RECORDS as u64, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        batch: u64,
    },
    /// Run a soak campaign: generated cases checked in parallel by the test
    /// suite's own checks, each reproducible from (seed, case index). A
    /// failure is shrunk and written to --out with the command that
    /// replays it. Exit 0: every case passed; 1: some failed; 2: bad
    /// input; 130/143: interrupted (after the summary).
    Soak {
        /// Run the cases with indexes below N (of this shard).
        #[arg(long, value_name = "N", conflicts_with = "duration")]
        cases: Option<u64>,
        /// Run for this long instead (`90s`, `10m`, `2h`).
        #[arg(long, value_parser = event_sourced_cart::verify::soak::parse_duration)]
        duration: Option<std::time::Duration>,
        /// The campaign's seed (default: from the clock; printed).
        #[arg(long)]
        seed: Option<u64>,
        /// Worker threads (default: the machine's cores).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
        threads: Option<u64>,
        /// Run shard I of N: the case indexes equal to I modulo N.
        #[arg(long, value_name = "I/N", default_value = "0/1", value_parser = event_sourced_cart::verify::soak::Shard::parse)]
        shard: event_sourced_cart::verify::soak::Shard,
        /// Most events in a generated history.
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(0..=cart_soak::MAX_EVENTS_LIMIT as u64))]
        max_events: u64,
        /// Inject generated faults (and restarts) and run the durable system.
        #[arg(long)]
        faults: bool,
        /// Where replay files of failures go.
        #[arg(long, value_name = "DIR", default_value = "target/soak", value_parser = path_arg())]
        out: PathBuf,
        /// Print the summary as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Print the views the view store holds, in the report format or as
    /// the replay JSON (--json). Reads the store only: safe while a
    /// projector runs.
    Views {
        /// The log's directory (its store is DIR/views.sqlite).
        #[arg(long, value_name = "DIR", required_unless_present = "store", value_parser = path_arg())]
        data_dir: Option<PathBuf>,
        /// The view store (SQLite file).
        #[arg(long, value_name = "FILE", value_parser = path_arg())]
        store: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Only `replay` and `views` take --json; any argument spelled so asks
    // for JSON errors, even when the command line does not parse.
    let json = args.iter().skip(1).any(|a| a == "--json");
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e, &args, json).into(),
    };
    if let Err(e) = Settings::get() {
        return fail(json, Exit::BadInput, e.to_string()).into();
    }
    event_sourced_cart::verify::execute::silence_injected_panics();
    // Commands on scratch logs remove them on a signal; `project --follow`
    // stops after its current batch instead; the others die as usual.
    let scratch = matches!(cli.command, None | Some(Command::Replay { .. }));
    if scratch && let Err(e) = remove_scratch_logs_on_signals() {
        print_error(&format!("cannot install the signal handler that removes scratch logs ({e})"));
        return Exit::LogFailed.into();
    }
    let exit = match cli.command {
        None => canonical(cli.data_dir.as_deref(), cli.partitions, cli.kafka.as_deref()),
        Some(Command::Replay { file, partitions, split_at, json, send_each, durable, kafka }) => {
            replay(&file, partitions, &split_at, json, ReplayRun { send_each, durable, kafka })
        }
        Some(Command::Append { file, data_dir, partitions, chunk }) => append(&file, &data_dir, partitions, chunk),
        Some(Command::Project { data_dir, store, follow, interval_ms, batch }) => {
            project(&data_dir, store.as_deref(), follow, interval_ms, batch)
        }
        Some(Command::Views { data_dir, store, json }) => views(data_dir.as_deref(), store.as_deref(), json),
        Some(Command::Soak { cases, duration, seed, threads, shard, max_events, faults, out, json }) => {
            let limit = match (cases, duration) {
                (_, Some(duration)) => Limit::Duration(duration),
                (cases, None) => Limit::Cases(cases.unwrap_or(DEFAULT_SOAK_CASES)),
            };
            let threads =
                threads.map_or_else(|| std::thread::available_parallelism().map_or(1, usize::from), |t| t as usize);
            let seed = seed.unwrap_or_else(seed_from_the_clock);
            let options =
                cart_soak::Options { limit, seed, threads, shard, max_events: max_events as usize, faults, out };
            soak(&options, json)
        }
    };
    exit.into()
}

/// Cases of a soak run given neither `--cases` nor `--duration`.
const DEFAULT_SOAK_CASES: u64 = 1_000;

/// A seed for a campaign that was given none: the clock's nanoseconds.
fn seed_from_the_clock() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// Runs a soak campaign; SIGINT or SIGTERM stop it after the cases in
/// flight, and the summary is still printed.
fn soak(options: &cart_soak::Options, json: bool) -> Exit {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let signal = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for number in [SIGINT, SIGTERM] {
        let registered = signal_hook::flag::register(number, std::sync::Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register_usize(number, std::sync::Arc::clone(&signal), number as usize));
        if let Err(e) = registered {
            return fail(json, Exit::LogFailed, format!("cannot install the signal handlers ({e})"));
        }
    }
    eprintln!(
        "soak: seed {}, shard {}/{}, {} thread(s){}",
        options.seed,
        options.shard.index,
        options.shard.count,
        options.threads,
        if options.faults { ", with faults" } else { "" }
    );
    let total = match options.limit {
        Limit::Cases(n) => Some(n.saturating_sub(options.shard.index).div_ceil(options.shard.count)),
        Limit::Duration(_) => None,
    };
    let mut progress = SoakProgress::new(total);
    let summary = cart_soak::run(options, &stop, &mut |outcome, summary| progress.update(outcome, summary));
    drop(progress);
    let text = if json { cart_soak::json_report(options, &summary) } else { cart_soak::text_report(options, &summary) };
    let verdict = if summary.failures.is_empty() { Exit::Agree } else { Exit::Violations };
    let exit = emit(&text, verdict);
    match signal.load(std::sync::atomic::Ordering::SeqCst) {
        0 => exit,
        number => Exit::Interrupted(number as u8),
    }
}

fn append(path: &Path, dir: &Path, partitions: Option<u32>, chunk: u64) -> Exit {
    let file = match replay::load(&Cart, path) {
        Ok(file) => file,
        Err(message) => {
            return fail(false, Exit::BadInput, format!("{}: {message}", event_sourced_cart::text::path(path)));
        }
    };
    let log = match projector::open_or_create(dir, TOPIC, partitions) {
        Ok(log) => log,
        Err(e) => return fail(false, exit_for(&e), e.to_string()),
    };
    let mut out_failed = None;
    let appended = projector::append(&log, &file, chunk as usize, |records, line| {
        if out_failed.is_none() {
            out_failed = write_line(&format!("acknowledged {records} records, through line {line}")).err();
        }
    });
    match (appended, out_failed) {
        (Err(e), _) => fail(false, exit_for(&e), e.to_string()),
        (Ok(_), Some(exit)) => exit,
        (Ok(_), None) => Exit::Agree,
    }
}

/// Writes one line to stdout now (a line a watching process acts on); a
/// closed pipe or a full disk is the exit it calls for.
fn write_line(line: &str) -> Result<(), Exit> {
    match emit(&format!("{line}\n"), Exit::Agree) {
        Exit::Agree => Ok(()),
        other => Err(other),
    }
}

fn project(dir: &Path, store: Option<&Path>, follow: bool, interval_ms: u64, batch: u64) -> Exit {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    if follow {
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            if let Err(e) = signal_hook::flag::register(signal, stop.clone()) {
                return fail(false, Exit::LogFailed, format!("cannot install the signal handler ({e})"));
            }
        }
    }
    let store = projector::store_path(dir, store);
    if !dir.join(".merkql").is_dir() {
        return fail(
            false,
            Exit::BadInput,
            format!("{} holds no log; append events to it first", event_sourced_cart::text::path(dir)),
        );
    }
    let _projector_lock = match projector::lock_store(&store) {
        Ok(lock) => lock,
        Err(message) => return fail(false, Exit::BadInput, message),
    };
    let mut runners = projector::runners(&Cart, &store, batch as usize);
    loop {
        match MerkqlLog::open(dir, TOPIC) {
            Ok(log) => match projector::catch_up(&log, &mut runners) {
                Ok(progress) => {
                    for p in progress.iter().filter(|p| !follow || p.applied + p.duplicates + p.rejected > 0) {
                        let line = format!(
                            "{}: applied {}, duplicates {}, rejected {}",
                            p.group, p.applied, p.duplicates, p.rejected
                        );
                        if let Err(exit) = write_line(&line) {
                            return exit;
                        }
                    }
                }
                Err(e) => return fail(false, Exit::LogFailed, e.to_string()),
            },
            // Following: an appender holds the directory; try again later.
            Err(LogError::InUse { .. }) if follow => {}
            Err(e) => return fail(false, exit_for(&e), e.to_string()),
        }
        if !follow || stop.load(Ordering::SeqCst) {
            return Exit::Agree;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(interval_ms);
        while std::time::Instant::now() < deadline && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(interval_ms.min(50)));
        }
        if stop.load(Ordering::SeqCst) {
            return Exit::Agree;
        }
    }
}

fn views(dir: Option<&Path>, store: Option<&Path>, json: bool) -> Exit {
    let store = match (dir, store) {
        (_, Some(store)) => store.to_path_buf(),
        (Some(dir), None) => projector::store_path(dir, None),
        (None, None) => return fail(json, Exit::BadInput, "pass --data-dir DIR or --store FILE".into()),
    };
    let views = match projector::stored_views(&Cart, &store) {
        Ok(views) => views,
        Err(e) => return fail(json, Exit::BadInput, e.to_string()),
    };
    let text = if json {
        let object: std::collections::BTreeMap<String, Option<&event_sourced_cart::domain::AnyView>> =
            views.iter().map(|(group, view)| (group.replace('-', "_"), view.as_ref())).collect();
        match serde_json::to_string_pretty(&object) {
            Ok(text) => event_sourced_cart::text::json_escaped(&text).into_owned() + "\n",
            Err(e) => return fail(json, Exit::LogFailed, format!("the views do not serialize ({e})")),
        }
    } else {
        let mut out = String::new();
        for (group, view) in &views {
            out.push_str(&format!("{}:\n", report::capitalized(&report::title(group))));
            match view {
                Some(view) => out.push_str(&indented(&report::view_text(view))),
                None => out.push_str("(not projected yet)\n"),
            }
            out.push('\n');
        }
        out
    };
    emit(&text, Exit::Agree)
}

/// A command line that does not parse, or `--help` / `--version`. clap
/// quotes arguments verbatim in its messages, so the message is rendered
/// again from the arguments escaped ([`event_sourced_cart::text::escaped`]):
/// no argument can forge a line.
fn usage_error(error: &clap::Error, args: &[std::ffi::OsString], json: bool) -> Exit {
    use clap::error::ErrorKind;
    if matches!(error.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        return emit(&error.render().to_string(), Exit::Agree);
    }
    let escaped: Vec<String> =
        args.iter().map(|a| event_sourced_cart::text::escaped(&a.to_string_lossy()).into_owned()).collect();
    let message = match Cli::try_parse_from(&escaped) {
        Err(e) => e.render().to_string(),
        Ok(_) => "the command line does not parse".to_string(),
    };
    let message = message.trim_start_matches("error: ").trim_end();
    if !json {
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), "error: {}", bounded(message));
        return Exit::BadInput;
    }
    let first_line = message.lines().next().unwrap_or("the command line does not parse").to_string();
    fail(json, Exit::BadInput, first_line)
}

/// A scratch directory that cannot be made: the caller's mistake (2) when
/// `HARNESS_SCRATCH_DIR` chose the place, else the machine's (3).
fn scratch_failure_exit() -> Exit {
    match Settings::get() {
        Ok(settings) if settings.scratch_dir.is_some() => Exit::BadInput,
        _ => Exit::LogFailed,
    }
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
        | LogError::BadGroupId(_)
        | LogError::FaultUnsupported(_)
        | LogError::KafkaNotBuilt => Exit::BadInput,
        LogError::ConsumersStillOpen(_)
        | LogError::CommitAfterFailedPoll
        | LogError::Backend { .. }
        | LogError::PollFailed { .. }
        | LogError::Damaged { .. }
        | LogError::BadLayout { .. } => Exit::LogFailed,
    }
}

fn canonical(data_dir: Option<&Path>, partitions: u32, kafka: Option<&str>) -> Exit {
    let run = match (kafka, data_dir) {
        (Some(bootstrap), _) => kafka_log(bootstrap, partitions).map_err(RunError::Log).and_then(|mut log| {
            run_canonical_on(log.as_mut(), &format!("Kafka at {}", event_sourced_cart::text::quoted(bootstrap)))
        }),
        (None, Some(dir)) => run_canonical(dir, partitions),
        (None, None) => match ScratchDir::new() {
            Ok(temp) => run_canonical(temp.path(), partitions),
            Err(e) => {
                print_error(&format!("cannot create a temporary directory ({e}); pass --data-dir DIR"));
                return scratch_failure_exit();
            }
        },
    };
    let run = match run {
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
    event_sourced_cart::scratch::exit_if_interrupted();
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
    use std::io::Write;
    // After a signal, failures are the interruption's doing: the run ends
    // with 128 + the signal and says nothing more.
    event_sourced_cart::scratch::exit_if_interrupted();
    let message = bounded(&event_sourced_cart::text::escaped(message));
    // A stderr that cannot be written (closed, full) loses the message,
    // never the exit code.
    let _ = writeln!(std::io::stderr().lock(), "error: {message}");
    message
}

/// Longest error message printed, in characters: messages quote input,
/// and no input makes an error line longer than this.
const MAX_MESSAGE_CHARS: usize = 2_000;

fn bounded(message: &str) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        None => message.to_string(),
        Some((cut, _)) => format!("{}… (cut at {MAX_MESSAGE_CHARS} characters)", &message[..cut]),
    }
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

/// How `replay` runs the file.
#[derive(Clone)]
struct ReplayRun {
    send_each: bool,
    durable: bool,
    /// The broker to replay on instead of a scratch merkql log.
    kafka: Option<String>,
}

/// A new topic of `partitions` partitions on the broker at `bootstrap`,
/// deleted when the log is dropped.
#[cfg(feature = "kafka")]
fn kafka_log(bootstrap: &str, partitions: u32) -> Result<Box<dyn Log>, LogError> {
    use event_sourced_cart::log::kafka::{KafkaLog, unique_topic};
    Ok(Box::new(KafkaLog::create(bootstrap, &unique_topic(TOPIC), partitions)?))
}

/// Without the `kafka` feature, `--kafka` says how to get it.
#[cfg(not(feature = "kafka"))]
fn kafka_log(_bootstrap: &str, _partitions: u32) -> Result<Box<dyn Log>, LogError> {
    Err(LogError::KafkaNotBuilt)
}

fn replay(path: &Path, partitions: Option<u32>, split_at: &[usize], json: bool, run: ReplayRun) -> Exit {
    if run.kafka.is_some() && !cfg!(feature = "kafka") {
        return fail(json, Exit::BadInput, LogError::KafkaNotBuilt.to_string());
    }
    let bad_input =
        |message: String| fail(json, Exit::BadInput, format!("{}: {message}", event_sourced_cart::text::path(path)));
    // Made before the file is read (which may block, on a pipe), so that
    // an interrupt at any point finds it registered and removes it.
    let scratch = match ScratchDir::new() {
        Ok(scratch) => scratch,
        Err(e) => return fail(json, scratch_failure_exit(), format!("cannot create a temporary directory ({e})")),
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
    let verdict = run_on_scratch_log(&scratch, &file, &schedule, run, &progress);
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
    run: ReplayRun,
    progress: &ReplayProgress,
) -> Result<Verdict<Cart>, String> {
    let mut log: Box<dyn Log> = match &run.kafka {
        Some(bootstrap) => kafka_log(bootstrap, schedule.partitions()).map_err(|e| e.to_string())?,
        None => {
            let log = MerkqlLog::create(dir.path(), TOPIC, schedule.partitions()).map_err(|e| e.to_string())?;
            if run.send_each { Box::new(PerRecord(log)) } else { Box::new(log) }
        }
    };
    let mut stage = |stage| {
        event_sourced_cart::scratch::exit_if_interrupted();
        progress.stage(stage)
    };
    let verdict = if run.durable {
        let system = Durable { domain: Cart, store: dir.path().join("views.sqlite") };
        replay::run_with_progress(&system, file, schedule, log.as_mut(), &mut stage)
    } else {
        replay::run_with_progress(&Production(Cart), file, schedule, log.as_mut(), &mut stage)
    };
    verdict.map_err(|e: ExecuteError| e.to_string())
}
