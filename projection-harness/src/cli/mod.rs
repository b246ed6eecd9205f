//! A domain's command line in one call. [`App`] gives a binary the
//! harness's commands, all on the domain's own topic:
//!
//! - `replay FILE`: produce a file's records into a fresh log, project
//!   them by full and split replay (or by the file's schedule, with its
//!   crashes, restarts and faults), check every property;
//! - `append FILE --data-dir DIR`: add a file's records to a log;
//! - `project --data-dir DIR [--follow]`: the projections as a service,
//!   their views and checkpoints in the view store;
//! - `views --data-dir DIR`: what the store holds;
//! - `soak`: a campaign of generated cases, in parallel, each reproducible
//!   from (seed, case index).
//!
//! With the `kafka` feature, `replay`, `append` and `project` take
//! `--kafka HOST:PORT` and work on the broker's topic instead.
//!
//! ```no_run
//! use projection_harness::cli::App;
//! use projection_harness::example::{Counters, counter_cases};
//! use proptest::strategy::Strategy;
//!
//! fn main() -> std::process::ExitCode {
//!     App::new(Counters, "Counters, checked by projection-harness")
//!         .cases(|max| counter_cases(max).sboxed())
//!         .run()
//! }
//! ```
//!
//! Exit codes: 0 every property holds (or the command did its work), 1 a
//! property is violated, 2 bad input (a file, an option, a setting, a log
//! of another topic), 3 the log failed, 128 + N stopped by signal N. This
//! module is the command line: it is the one place that prints.

pub mod output;
pub mod replay_report;
pub mod soak;

use crate::domain::{AnyView, Domain};
use crate::log::{LogError, MAX_PARTITIONS, MerkqlLog, PerRecord};
use crate::progress::{ReplayProgress, SoakProgress};
use crate::projector;
use crate::scratch::{ScratchDir, remove_scratch_logs_on_signals};
use crate::settings::Settings;
use crate::verify::replay::{self, Exit, Verdict};
use crate::verify::replay_file::ReplayFile;
use crate::verify::soak::{Limit, Shard};
use crate::verify::{Durable, ExecuteError, Production, Schedule};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
pub use output::{emit, exit_for, fail, print_error, scratch_failure_exit, write_line};
pub use replay_report::{ViewText, json_view_text};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The domain's main job: what the binary does with no command, on a
/// fresh log of the domain's topic (`backend` names it for the report).
/// It returns the report and, if the job failed, why (printed as an error
/// before the report, and the exit is 1).
pub type MainJob =
    fn(&mut dyn crate::log::Log, backend: &str) -> Result<(String, Option<String>), crate::runner::RunError>;

/// A domain's command line: [`App::new`], optional parts, [`App::run`].
pub struct App<D: Domain> {
    domain: D,
    about: &'static str,
    version: &'static str,
    /// The program's name in `--version` and errors: its file name (read
    /// once, from the arguments, and kept for the process's life).
    name: &'static str,
    cases: Option<soak::Cases>,
    view_text: ViewText,
    main_job: Option<MainJob>,
}

impl<D: Domain> App<D> {
    /// The commands for `domain`; `about` is the program's description in
    /// `--help`. Views print as JSON until [`App::view_text`] says how.
    pub fn new(domain: D, about: &'static str) -> App<D> {
        App {
            domain,
            about,
            version: env!("CARGO_PKG_VERSION"),
            name: "app",
            cases: None,
            view_text: json_view_text,
            main_job: None,
        }
    }

    /// The version `--version` prints: `env!("CARGO_PKG_VERSION")` of your
    /// binary's crate (the harness's own version by default).
    pub fn version(mut self, version: &'static str) -> Self {
        self.version = version;
        self
    }

    /// The domain's generated cases of at most N records: enables `soak`.
    pub fn cases(mut self, cases: soak::Cases) -> Self {
        self.cases = Some(cases);
        self
    }

    /// How reports show a view (text ending with a newline).
    pub fn view_text(mut self, view_text: ViewText) -> Self {
        self.view_text = view_text;
        self
    }

    /// What the binary does with no command (a domain's canonical
    /// scenario, say); without one, it prints its help.
    pub fn main_job(mut self, job: MainJob) -> Self {
        self.main_job = Some(job);
        self
    }

    /// Parses the process's arguments, runs the command, and returns the
    /// exit code for `main` to return.
    pub fn run(self) -> ExitCode {
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        self.run_with(&args).into()
    }

    fn command(&self) -> clap::Command {
        Cli::command().name(self.name).about(self.about).version(self.version)
    }

    fn run_with(mut self, args: &[std::ffi::OsString]) -> Exit {
        if let Some(name) = args.first().and_then(|arg0| Path::new(arg0).file_name()) {
            self.name = Box::leak(name.to_string_lossy().into_owned().into_boxed_str());
        }
        // Only `replay`, `views` and `soak` take --json; any argument
        // spelled so asks for JSON errors, even when the line does not parse.
        let json = args.iter().skip(1).any(|a| a == "--json");
        let cli = match self.command().try_get_matches_from(args).and_then(|m| Cli::from_arg_matches(&m)) {
            Ok(cli) => cli,
            Err(e) => return self.usage_error(&e, args, json),
        };
        if let Err(e) = Settings::get() {
            return fail(json, Exit::BadInput, e.to_string());
        }
        crate::verify::execute::silence_injected_panics();
        // Commands on scratch logs remove them on a signal; `project --follow`
        // stops after its current batch instead; the others die as usual.
        let scratch = matches!(cli.command, None | Some(Command::Replay { .. }));
        if scratch && let Err(e) = remove_scratch_logs_on_signals() {
            print_error(&format!("cannot install the signal handler that removes scratch logs ({e})"));
            return Exit::LogFailed;
        }
        match cli.command {
            None => match self.main_job {
                Some(job) => self.main(job, cli.data_dir.as_deref(), cli.partitions, cli.kafka.as_deref()),
                None => emit(&self.command().render_help().to_string(), Exit::BadInput),
            },
            Some(Command::Replay { file, partitions, split_at, json, send_each, durable, kafka, html }) => {
                let page = html.map(|path| (path, output::replay_command(args)));
                self.replay(&file, partitions, &split_at, json, ReplayRun { send_each, durable, kafka }, page)
            }
            Some(Command::Append { file, data_dir, partitions, chunk, kafka }) => {
                self.append(&file, data_dir.as_deref(), partitions, chunk, kafka.as_deref())
            }
            Some(Command::Project { data_dir, store, follow, interval_ms, batch, kafka }) => {
                self.project(data_dir.as_deref(), store.as_deref(), follow, interval_ms, batch, kafka.as_deref())
            }
            Some(Command::Views { data_dir, store, json }) => self.views(data_dir.as_deref(), store.as_deref(), json),
            Some(Command::Soak { cases, duration, seed, threads, shard, max_events, faults, out, json }) => {
                let Some(generate) = self.cases else {
                    return fail(json, Exit::BadInput, "this program has no generated cases to soak".into());
                };
                let limit = match (cases, duration) {
                    (_, Some(duration)) => Limit::Duration(duration),
                    (cases, None) => Limit::Cases(cases.unwrap_or(DEFAULT_SOAK_CASES)),
                };
                let threads =
                    threads.map_or_else(|| std::thread::available_parallelism().map_or(1, usize::from), |t| t as usize);
                let seed = seed.unwrap_or_else(seed_from_the_clock);
                let options =
                    soak::Options { limit, seed, threads, shard, max_events: max_events as usize, faults, out };
                self.soak(generate, &options, json)
            }
        }
    }

    /// A command line that does not parse, or `--help` / `--version`. clap
    /// quotes arguments verbatim in its messages, so the message is rendered
    /// again from the arguments escaped ([`crate::text::escaped`]): no
    /// argument can forge a line.
    fn usage_error(&self, error: &clap::Error, args: &[std::ffi::OsString], json: bool) -> Exit {
        use clap::error::ErrorKind;
        if matches!(error.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
            return emit(&error.render().to_string(), Exit::Agree);
        }
        let escaped: Vec<String> =
            args.iter().map(|a| crate::text::escaped(&a.to_string_lossy()).into_owned()).collect();
        let message = match self.command().try_get_matches_from(&escaped) {
            Err(e) => e.render().to_string(),
            Ok(_) => "the command line does not parse".to_string(),
        };
        let message = message.trim_start_matches("error: ").trim_end();
        if !json {
            use std::io::Write;
            let _ = writeln!(std::io::stderr().lock(), "error: {}", output::bounded(message));
            return Exit::BadInput;
        }
        let first_line = message.lines().next().unwrap_or("the command line does not parse").to_string();
        fail(json, Exit::BadInput, first_line)
    }

    fn main(&self, job: MainJob, data_dir: Option<&Path>, partitions: u32, kafka: Option<&str>) -> Exit {
        let topic = self.domain.topic();
        let on_merkql = |dir: &Path| -> Result<(String, Option<String>), crate::runner::RunError> {
            let mut log = MerkqlLog::create(dir, topic, partitions)?;
            let run = job(&mut log, "merkql")?;
            log.mark_complete()?;
            Ok(run)
        };
        let run = match (kafka, data_dir) {
            (Some(bootstrap), _) => kafka_log(bootstrap, topic, partitions)
                .map_err(crate::runner::RunError::Log)
                .and_then(|mut log| job(log.as_mut(), &format!("Kafka at {}", crate::text::quoted(bootstrap)))),
            (None, Some(dir)) => on_merkql(dir),
            (None, None) => match ScratchDir::new() {
                Ok(temp) => on_merkql(temp.path()),
                Err(e) => {
                    print_error(&format!("cannot create a temporary directory ({e}); pass --data-dir DIR"));
                    return scratch_failure_exit();
                }
            },
        };
        let (report, failure) = match run {
            Ok(run) => run,
            Err(crate::runner::RunError::Log(e)) => {
                print_error(&e.to_string());
                return exit_for(&e);
            }
            Err(other) => {
                print_error(&other.to_string());
                return Exit::LogFailed;
            }
        };
        let verdict = match failure {
            None => Exit::Agree,
            Some(reason) => {
                print_error(&reason);
                Exit::Violations
            }
        };
        emit(&report, verdict)
    }

    /// `page`: where to write the timeline page, and the command that
    /// replays the file (shown on it).
    fn replay(
        &self,
        path: &Path,
        partitions: Option<u32>,
        split_at: &[usize],
        json: bool,
        run: ReplayRun,
        page: Option<(PathBuf, String)>,
    ) -> Exit {
        if run.kafka.is_some() && !cfg!(feature = "kafka") {
            return fail(json, Exit::BadInput, LogError::KafkaNotBuilt.to_string());
        }
        let bad_input = |message: String| fail(json, Exit::BadInput, format!("{}: {message}", crate::text::path(path)));
        // Made before the file is read (which may block, on a pipe), so that
        // an interrupt at any point finds it registered and removes it.
        let scratch = match ScratchDir::new() {
            Ok(scratch) => scratch,
            Err(e) => return fail(json, scratch_failure_exit(), format!("cannot create a temporary directory ({e})")),
        };
        let progress = ReplayProgress::reading(&crate::text::path(path));
        // Each error path clears the progress display before it prints.
        let file = match replay::load(&self.domain, path) {
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
        // The page's file is made before the run, so that a path it cannot
        // be written to is said before the work, not after.
        if let Some((page_path, _)) = &page
            && let Err(message) = output::create_page_file(page_path, path)
        {
            drop(progress);
            return fail(json, Exit::BadInput, message);
        }
        let verdict = self.run_on_scratch_log(&scratch, &file, &schedule, run, &progress);
        drop(progress);
        let verdict = match verdict {
            Ok(verdict) => verdict,
            Err(e) => {
                // No run, no page: the empty file made for it goes.
                if let Some((page_path, _)) = &page {
                    let _ = std::fs::remove_file(page_path);
                }
                return fail(json, Exit::LogFailed, e);
            }
        };
        let page_written = page.as_ref().map(|(page_path, command)| {
            crate::timeline::Timeline::new(&verdict.execution, &schedule, &verdict.violations)
                .title(&path.to_string_lossy())
                .replay_command(command)
                .write(page_path)
                .map_err(|e| {
                    format!("cannot write the timeline page to {} ({e}); check the disk", crate::text::path(page_path))
                })
        });
        let mut text = if json {
            match replay_report::json_report(&file, &schedule, &verdict) {
                Ok(text) => text,
                Err(e) => return fail(json, Exit::LogFailed, format!("the replay report does not serialize ({e})")),
            }
        } else {
            replay_report::text_report(&file, &schedule, &verdict, self.view_text)
        };
        if let (Some((page_path, _)), Some(Ok(())), false) = (&page, &page_written, json) {
            text.push_str(&format!("Timeline page: {}\n", crate::text::path(page_path)));
        }
        let exit = emit(&text, verdict.exit());
        match page_written {
            // The report stands; the page is output that could not be written.
            Some(Err(message)) => {
                print_error(&message);
                Exit::LogFailed
            }
            _ => exit,
        }
    }

    fn run_on_scratch_log(
        &self,
        dir: &ScratchDir,
        file: &ReplayFile,
        schedule: &Schedule,
        run: ReplayRun,
        progress: &ReplayProgress,
    ) -> Result<Verdict<D>, String> {
        let topic = self.domain.topic();
        let mut log: Box<dyn crate::log::Log> = match &run.kafka {
            Some(bootstrap) => kafka_log(bootstrap, topic, schedule.partitions()).map_err(|e| e.to_string())?,
            None => {
                let log = MerkqlLog::create(dir.path(), topic, schedule.partitions()).map_err(|e| e.to_string())?;
                if run.send_each { Box::new(PerRecord(log)) } else { Box::new(log) }
            }
        };
        let mut stage = |stage| {
            crate::scratch::exit_if_interrupted();
            progress.stage(stage)
        };
        let verdict = if run.durable {
            let system = Durable { domain: self.domain.clone(), store: dir.path().join("views.sqlite") };
            replay::run_with_progress(&system, file, schedule, log.as_mut(), &mut stage)
        } else {
            replay::run_with_progress(&Production(self.domain.clone()), file, schedule, log.as_mut(), &mut stage)
        };
        verdict.map_err(|e: ExecuteError| e.to_string())
    }

    fn append(
        &self,
        path: &Path,
        dir: Option<&Path>,
        partitions: Option<u32>,
        chunk: u64,
        kafka: Option<&str>,
    ) -> Exit {
        let file = match replay::load(&self.domain, path) {
            Ok(file) => file,
            Err(message) => return fail(false, Exit::BadInput, format!("{}: {message}", crate::text::path(path))),
        };
        let log = match self.persistent_log(dir, kafka, partitions) {
            Ok(log) => log,
            Err(exit) => return exit,
        };
        let mut out_failed = None;
        let appended = projector::append(log.as_ref(), &file, chunk as usize, |records, line| {
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

    /// The log a persistent command works on: the merkql log in `dir`
    /// (created with `partitions` if the directory holds none), or the
    /// domain's existing topic on the broker at `kafka`.
    fn persistent_log(
        &self,
        dir: Option<&Path>,
        kafka: Option<&str>,
        partitions: Option<u32>,
    ) -> Result<Box<dyn crate::log::Log>, Exit> {
        let opened = match (kafka, dir) {
            (Some(bootstrap), _) => kafka_topic(bootstrap, self.domain.topic(), partitions),
            (None, Some(dir)) => {
                projector::open_or_create(dir, self.domain.topic(), partitions).map(|log| Box::new(log) as Box<_>)
            }
            (None, None) => return Err(fail(false, Exit::BadInput, "pass --data-dir DIR or --kafka HOST:PORT".into())),
        };
        opened.map_err(|e| fail(false, exit_for(&e), e.to_string()))
    }

    #[allow(clippy::too_many_arguments)]
    fn project(
        &self,
        dir: Option<&Path>,
        store: Option<&Path>,
        follow: bool,
        interval_ms: u64,
        batch: u64,
        kafka: Option<&str>,
    ) -> Exit {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        if follow {
            for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                if let Err(e) = signal_hook::flag::register(signal, stop.clone()) {
                    return fail(false, Exit::LogFailed, format!("cannot install the signal handler ({e})"));
                }
            }
        }
        let store = match (dir, store, kafka) {
            (Some(dir), store, _) => projector::store_path(dir, store),
            (None, Some(store), Some(_)) => store.to_path_buf(),
            _ => {
                return fail(
                    false,
                    Exit::BadInput,
                    "pass --data-dir DIR, or --kafka HOST:PORT with --store FILE".into(),
                );
            }
        };
        if let (None, Some(dir)) = (kafka, dir)
            && !dir.join(".merkql").is_dir()
        {
            return fail(
                false,
                Exit::BadInput,
                format!("{} holds no log; append events to it first", crate::text::path(dir)),
            );
        }
        let _projector_lock = match projector::lock_store(&store) {
            Ok(lock) => lock,
            Err(message) => return fail(false, Exit::BadInput, message),
        };
        let mut runners = projector::runners(&self.domain, &store, batch as usize);
        let topic = self.domain.topic();
        loop {
            // merkql: the directory's lock is taken for each catch-up and let
            // go in between, so that `append` can add events meanwhile.
            let opened: Result<Box<dyn crate::log::Log>, LogError> = match (kafka, dir) {
                (Some(bootstrap), _) => kafka_topic(bootstrap, topic, None),
                (None, Some(dir)) => MerkqlLog::open(dir, topic).map(|log| Box::new(log) as Box<_>),
                (None, None) => unreachable!("checked above: a store path needs --data-dir or --kafka"),
            };
            match opened {
                Ok(log) => match projector::catch_up(log.as_ref(), &mut runners) {
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

    fn views(&self, dir: Option<&Path>, store: Option<&Path>, json: bool) -> Exit {
        let store = match (dir, store) {
            (_, Some(store)) => store.to_path_buf(),
            (Some(dir), None) => projector::store_path(dir, None),
            (None, None) => return fail(json, Exit::BadInput, "pass --data-dir DIR or --store FILE".into()),
        };
        let views = match projector::stored_views(&self.domain, &store) {
            Ok(views) => views,
            Err(e) => return fail(json, Exit::BadInput, e.to_string()),
        };
        let text = if json {
            let object: std::collections::BTreeMap<String, Option<&AnyView>> =
                views.iter().map(|(group, view)| (group.replace('-', "_"), view.as_ref())).collect();
            match serde_json::to_string_pretty(&object) {
                Ok(text) => crate::text::json_escaped(&text).into_owned() + "\n",
                Err(e) => return fail(json, Exit::LogFailed, format!("the views do not serialize ({e})")),
            }
        } else {
            let mut out = String::new();
            for (group, view) in &views {
                out.push_str(&format!("{}:\n", replay_report::capitalized(&replay_report::title(group))));
                match view {
                    Some(view) => out.push_str(&replay_report::indented(&(self.view_text)(view))),
                    None => out.push_str("(not projected yet)\n"),
                }
                out.push('\n');
            }
            out
        };
        emit(&text, Exit::Agree)
    }

    /// Runs a soak campaign; SIGINT or SIGTERM stop it after the cases in
    /// flight, and the summary is still printed.
    fn soak(&self, cases: soak::Cases, options: &soak::Options, json: bool) -> Exit {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let signal = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for number in [SIGINT, SIGTERM] {
            let registered = signal_hook::flag::register(number, std::sync::Arc::clone(&stop)).and_then(|_| {
                signal_hook::flag::register_usize(number, std::sync::Arc::clone(&signal), number as usize)
            });
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
        let summary =
            soak::run(&self.domain, cases, options, &stop, &mut |outcome, summary| progress.update(outcome, summary));
        drop(progress);
        let text = if json { soak::json_report(options, &summary) } else { soak::text_report(options, &summary) };
        let verdict = if summary.failures.is_empty() { Exit::Agree } else { Exit::Violations };
        let exit = emit(&text, verdict);
        match signal.load(std::sync::atomic::Ordering::SeqCst) {
            0 => exit,
            number => Exit::Interrupted(number as u8),
        }
    }
}

/// Cases of a soak run given neither `--cases` nor `--duration`.
const DEFAULT_SOAK_CASES: u64 = 1_000;

/// A seed for a campaign that was given none: the clock's nanoseconds.
fn seed_from_the_clock() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// How `replay` runs the file.
#[derive(Clone)]
struct ReplayRun {
    send_each: bool,
    durable: bool,
    /// The broker to replay on instead of a scratch merkql log.
    kafka: Option<String>,
}

/// A new topic named after `topic`, of `partitions` partitions, on the
/// broker at `bootstrap`, deleted when the log is dropped.
#[cfg(feature = "kafka")]
fn kafka_log(bootstrap: &str, topic: &str, partitions: u32) -> Result<Box<dyn crate::log::Log>, LogError> {
    use crate::log::kafka::{KafkaLog, unique_topic};
    Ok(Box::new(KafkaLog::create(bootstrap, &unique_topic(topic), partitions)?))
}

/// The existing topic `topic` on the broker at `bootstrap`, whatever its
/// partition count (which must be `partitions` if given).
#[cfg(feature = "kafka")]
fn kafka_topic(bootstrap: &str, topic: &str, partitions: Option<u32>) -> Result<Box<dyn crate::log::Log>, LogError> {
    Ok(Box::new(crate::log::kafka::KafkaLog::open_existing(bootstrap, topic, partitions)?))
}

/// Without the `kafka` feature, `--kafka` says how to get it.
#[cfg(not(feature = "kafka"))]
fn kafka_log(_: &str, _: &str, _: u32) -> Result<Box<dyn crate::log::Log>, LogError> {
    Err(LogError::KafkaNotBuilt)
}

#[cfg(not(feature = "kafka"))]
fn kafka_topic(_: &str, _: &str, _: Option<u32>) -> Result<Box<dyn crate::log::Log>, LogError> {
    Err(LogError::KafkaNotBuilt)
}

/// Every path argument, checked by [`crate::log::check_path`].
fn path_arg() -> impl clap::builder::TypedValueParser<Value = PathBuf> {
    use clap::builder::TypedValueParser;
    clap::builder::OsStringValueParser::new().try_map(|s: std::ffi::OsString| crate::log::check_path(s.as_os_str()))
}

fn bootstrap_arg(text: &str) -> Result<String, String> {
    crate::settings::check_bootstrap(text)?;
    Ok(text.to_string())
}

#[derive(Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Run the main job in DIR (created if missing) and keep the log there
    /// for inspection.
    #[arg(long, value_name = "DIR", value_parser = path_arg())]
    data_dir: Option<PathBuf>,
    /// Partition count of the main job's topic (1-256).
    #[arg(long, default_value_t = projector::DEFAULT_PARTITIONS, value_parser = clap::value_parser!(u32).range(1..=MAX_PARTITIONS as i64))]
    partitions: u32,
    /// Run the main job on the Kafka-protocol broker at HOST:PORT instead,
    /// in a new topic deleted afterwards (builds with `--features kafka`).
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "data_dir", value_parser = bootstrap_arg, hide = !cfg!(feature = "kafka"))]
    kafka: Option<String>,
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
        /// Also write the run's timeline page to OUT: one self-contained
        /// HTML file showing each partition's records, each group's polls
        /// and commits, the faults, what the checker found (lit in the
        /// lanes) and the views that differ.
        #[arg(long, value_name = "OUT", value_parser = path_arg())]
        html: Option<PathBuf>,
    },
    /// Append the records of an events file (either replay format) to the
    /// log in DIR, creating it if needed, or to the domain's topic on a
    /// broker. Prints a line as each chunk is acknowledged (in the log).
    Append {
        #[arg(value_parser = path_arg())]
        file: PathBuf,
        /// The log's directory (created with --partitions if it holds no log).
        #[arg(long, value_name = "DIR", value_parser = path_arg(), required_unless_present = "kafka")]
        data_dir: Option<PathBuf>,
        /// Partition count of a new log (default 3); must match an existing one.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_PARTITIONS as i64))]
        partitions: Option<u32>,
        /// Records per appended (and acknowledged) chunk.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        chunk: u64,
        /// Append to the domain's existing topic on the Kafka-protocol
        /// broker at HOST:PORT (builds with `--features kafka`).
        #[arg(long, value_name = "HOST:PORT", conflicts_with = "data_dir", value_parser = bootstrap_arg, hide = !cfg!(feature = "kafka"))]
        kafka: Option<String>,
    },
    /// Bring every projection up to date from its checkpoint in the view
    /// store (DIR/views.sqlite unless --store), once or, with --follow,
    /// until Ctrl-C or SIGTERM (which stop it after the current batch).
    Project {
        #[arg(long, value_name = "DIR", value_parser = path_arg(), required_unless_present = "kafka")]
        data_dir: Option<PathBuf>,
        /// The view store (SQLite file).
        #[arg(long, value_name = "FILE", value_parser = path_arg(), required_if_eq_any = [("data_dir", "")])]
        store: Option<PathBuf>,
        /// Keep polling for new events every --interval-ms.
        #[arg(long)]
        follow: bool,
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
        interval_ms: u64,
        /// Records per store transaction.
        #[arg(long, default_value_t = projector::DEFAULT_BATCH_RECORDS as u64, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        batch: u64,
        /// Project the domain's existing topic on the Kafka-protocol broker
        /// at HOST:PORT, with --store (builds with `--features kafka`).
        #[arg(long, value_name = "HOST:PORT", conflicts_with = "data_dir", requires = "store", value_parser = bootstrap_arg, hide = !cfg!(feature = "kafka"))]
        kafka: Option<String>,
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
        #[arg(long, value_parser = crate::verify::soak::parse_duration)]
        duration: Option<std::time::Duration>,
        /// The campaign's seed (default: from the clock; printed).
        #[arg(long)]
        seed: Option<u64>,
        /// Worker threads (default: the machine's cores).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
        threads: Option<u64>,
        /// Run shard I of N: the case indexes equal to I modulo N.
        #[arg(long, value_name = "I/N", default_value = "0/1", value_parser = Shard::parse)]
        shard: Shard,
        /// Most events in a generated history.
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(0..=soak::MAX_EVENTS_LIMIT as u64))]
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
