//! Real crash tests: the binary appends a generated history to a log
//! directory and projects it into its view store, and is killed again and
//! again (SIGKILL from this test at seeded moments, read from its output,
//! and self-aborts at every named crash point, `HARNESS_CRASH_AT`), then
//! restarted on the same directories. After the last restart:
//! - every append the binary acknowledged is in the log;
//! - each stored view equals the model of what the log holds;
//! - each projection applied or rejected every record in the log exactly
//!   once (the stored counters), none twice, none skipped.
//!
//! A failing run writes the history as a replay file and the kill
//! schedule next to it.

use crate::support::settings;
use event_sourced_cart::cart::Cart;
use event_sourced_cart::cart::generate::case_with_noise;
use event_sourced_cart::crash::POINTS;
use event_sourced_cart::domain::{Domain, HistoryRecord, Produced};
use event_sourced_cart::log::{Log, MerkqlLog};
use event_sourced_cart::projector::stored_views;
use event_sourced_cart::verify::replay_file::{render, write_failure};
use event_sourced_cart::verify::{Phase, Schedule};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngSeed, TestRunner};
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};

/// A small deterministic generator for kill moments (xorshift64*).
struct Moments(u64);

impl Moments {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// One run of the binary and how it ended.
#[derive(Debug)]
struct Run {
    #[allow(dead_code, reason = "printed in the kill schedule")]
    args: Vec<String>,
    crash_at: Option<String>,
    killed_after_lines: Option<u64>,
    lines: Vec<String>,
    exit: Option<i32>,
}

fn cart_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_event-sourced-cart"))
}

/// Runs the binary with `args`; kills it (SIGKILL) once it has printed
/// `kill_after` lines, if it gets that far.
fn run(args: &[String], crash_at: Option<String>, kill_after: Option<u64>) -> Run {
    let mut command = cart_bin();
    command.args(args).stdout(Stdio::piped()).stderr(Stdio::null()).env_remove("HARNESS_CRASH_AT");
    if let Some(point) = &crash_at {
        command.env("HARNESS_CRASH_AT", point);
    }
    let mut child = command.spawn().expect("the binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = Vec::new();
    let mut killed = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        lines.push(line);
        if Some(lines.len() as u64) == kill_after {
            let _ = child.kill();
            killed = kill_after;
            break;
        }
    }
    let status = child.wait().expect("the binary ends");
    Run { args: args.to_vec(), crash_at, killed_after_lines: killed, lines, exit: status.code() }
}

/// How many records an `append` run acknowledged.
fn acknowledged(run: &Run) -> usize {
    run.lines.iter().filter_map(|l| l.strip_prefix("acknowledged ")?.split(' ').next()?.parse().ok()).max().unwrap_or(0)
}

/// Everything the log in `dir` holds, read by a fresh group.
fn log_contents(dir: &Path) -> Vec<Produced> {
    let log = MerkqlLog::open(dir, event_sourced_cart::cart::TOPIC).expect("the log opens");
    let mut consumer = log.consumer("crash-test-reader").expect("a consumer");
    let records = consumer.poll().expect("a poll");
    consumer.close().expect("close");
    records.into_iter().map(|r| (r.position(), HistoryRecord { key: r.key, value: r.value })).collect()
}

/// The checks after the last restart; `Err` says what broke.
fn verify(dir: &Path, acknowledged_records: &[HistoryRecord]) -> Result<(), String> {
    let produced = log_contents(dir);
    let mut in_log: std::collections::HashMap<&HistoryRecord, usize> = std::collections::HashMap::new();
    for (_, record) in &produced {
        *in_log.entry(record).or_default() += 1;
    }
    for record in acknowledged_records {
        match in_log.get_mut(record) {
            Some(n) if *n > 0 => *n -= 1,
            _ => return Err(format!("an acknowledged append is not in the log: {record:?}")),
        }
    }
    let model = Cart.model(&produced);
    for (group, view) in stored_views(&Cart, &dir.join("views.sqlite")).map_err(|e| e.to_string())? {
        let expected = model.views.get(&group).ok_or_else(|| format!("the model has no view of {group}"))?;
        match view {
            Some(view) if &view == expected => {}
            Some(view) => {
                return Err(format!(
                    "{group}: the stored view differs from the model\nstored: {view:?}\nmodel: {expected:?}"
                ));
            }
            None => return Err(format!("{group}: no stored view")),
        }
    }
    let connection = rusqlite::Connection::open(dir.join("views.sqlite")).map_err(|e| e.to_string())?;
    let mut statement =
        connection.prepare("SELECT projection, applied, rejected FROM projections").map_err(|e| e.to_string())?;
    let counters: Vec<(String, i64, i64)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .map_err(|e| e.to_string())?
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    for (group, applied, rejected) in counters {
        if (applied + rejected) as usize != produced.len() || rejected as usize != model.rejected.len() {
            return Err(format!(
                "{group}: applied {applied} + rejected {rejected} records, the log holds {} ({} rejected by the model): a record was applied twice or skipped",
                produced.len(),
                model.rejected.len()
            ));
        }
    }
    Ok(())
}

/// The history: a generated case with noise, from a fixed seed.
fn history(seed: u64) -> Vec<HistoryRecord> {
    let mut runner = TestRunner::new(Config { rng_seed: RngSeed::Fixed(seed), ..Config::default() });
    let mut history = Vec::new();
    while history.len() < 60 {
        history.extend(case_with_noise(120, 4).new_tree(&mut runner).expect("a case").current().history);
    }
    history
}

#[test]
fn killed_and_restarted_appends_and_projections_lose_and_repeat_nothing() {
    let seed = settings().proptest_rng_seed.unwrap_or(7);
    let target_kills = (settings().proptest_cases.unwrap_or(256) / 8).max(20) as usize;
    let mut moments = Moments(seed | 1);
    let dir = tempfile::tempdir().expect("a directory");
    let (log_dir, input) = (dir.path().join("log"), dir.path().join("input.jsonl"));
    let history = history(seed);
    let schedule = Schedule::new(3, Vec::<Phase>::new(), None).expect("a schedule");
    let mut runs: Vec<Run> = Vec::new();
    let mut acknowledged_records: Vec<HistoryRecord> = Vec::new();
    let (mut next, mut kills, mut round) = (0usize, 0usize, 0u64);
    let dir_arg = log_dir.to_str().expect("a UTF-8 path").to_string();
    while next < history.len() || kills < target_kills {
        round += 1;
        // Append the next part (or, once everything is in, one record again
        // so that there is something to project), killed at a seeded moment.
        let part = if next < history.len() {
            &history[next..history.len().min(next + 1 + moments.below(40) as usize)]
        } else {
            &history[moments.below(history.len() as u64) as usize..][..1]
        };
        std::fs::write(&input, render(part, &schedule)).expect("write the input");
        let chunk = 1 + moments.below(6);
        let args: Vec<String> = ["append", "--data-dir", &dir_arg, "--partitions", "3", "--chunk", &chunk.to_string()]
            .iter()
            .map(|s| s.to_string())
            .chain([input.to_str().expect("a UTF-8 path").to_string()])
            .collect();
        let chunks = part.len().div_ceil(chunk as usize) as u64;
        let (crash_at, kill_after) = match moments.below(3) {
            0 => (Some(format!("after-append:{}", 1 + moments.below(chunks))), None),
            1 => (None, Some(1 + moments.below(chunks))),
            _ => (None, None),
        };
        let append = run(&args, crash_at, kill_after);
        let acked = acknowledged(&append).min(part.len());
        acknowledged_records.extend_from_slice(&part[..acked]);
        if next < history.len() {
            next += acked;
        }
        kills += usize::from(append.exit != Some(0));
        runs.push(append);

        // Project, killed or self-aborted at a seeded point, until a run
        // finishes.
        loop {
            let batch = 1 + moments.below(8);
            let args: Vec<String> = ["project", "--data-dir", &dir_arg, "--batch", &batch.to_string()]
                .iter()
                .map(|s| s.to_string())
                .collect();
            let (crash_at, kill_after) = match moments.below(4) {
                0 | 1 => {
                    let point = POINTS[1 + moments.below(POINTS.len() as u64 - 1) as usize];
                    (Some(format!("{point}:{}", 1 + moments.below(6))), None)
                }
                2 => (None, Some(1 + moments.below(3))),
                _ => (None, None),
            };
            let project = run(&args, crash_at, kill_after);
            let finished = project.exit == Some(0) && project.killed_after_lines.is_none();
            kills += usize::from(!finished);
            runs.push(project);
            if finished {
                break;
            }
        }
        assert!(round < 1_000, "the rounds end");
    }
    if let Err(why) = verify(&log_dir, &acknowledged_records) {
        let saved = write_failure("crash_restarts", &history, &schedule).expect("write the replay file");
        let kill_schedule = saved.with_extension("kills.txt");
        let text: String = runs.iter().map(|r| format!("{r:?}\n")).collect();
        std::fs::write(&kill_schedule, text).expect("write the kill schedule");
        panic!("{why}\nseed {seed}; history in {}, kill schedule in {}", saved.display(), kill_schedule.display());
    }
    assert!(kills >= target_kills, "{kills} kills");
    let points_hit: std::collections::BTreeSet<&str> =
        runs.iter().filter(|r| r.exit != Some(0)).filter_map(|r| r.crash_at.as_deref()?.split(':').next()).collect();
    assert!(points_hit.len() >= 2, "self-aborts at several points: {points_hit:?}");
}

/// Each crash point, deterministically: abort there once, restart, and the
/// views equal the model of the log.
#[test]
fn every_crash_point_is_survived() {
    let history = history(11);
    let schedule = Schedule::new(2, Vec::<Phase>::new(), None).expect("a schedule");
    for point in POINTS {
        let dir = tempfile::tempdir().expect("a directory");
        let (log_dir, input) = (dir.path().join("log"), dir.path().join("input.jsonl"));
        std::fs::write(&input, render(&history, &schedule)).expect("write the input");
        let dir_arg = log_dir.to_str().expect("a UTF-8 path").to_string();
        let append: Vec<String> =
            ["append", "--data-dir", &dir_arg, "--partitions", "2", "--chunk", "7", input.to_str().expect("utf-8")]
                .iter()
                .map(|s| s.to_string())
                .collect();
        let project: Vec<String> =
            ["project", "--data-dir", &dir_arg, "--batch", "5"].iter().map(|s| s.to_string()).collect();
        let appending = point == "after-append";
        let crashed = run(&append, appending.then(|| format!("{point}:2")), None);
        let mut acknowledged_records = history[..acknowledged(&crashed)].to_vec();
        if appending {
            assert_ne!(crashed.exit, Some(0), "{point}: the append aborted");
            let rest: Vec<HistoryRecord> = history[acknowledged(&crashed)..].to_vec();
            std::fs::write(&input, render(&rest, &schedule)).expect("write the input");
            let again = run(&append, None, None);
            assert_eq!(again.exit, Some(0), "{point}");
            acknowledged_records.extend(rest);
        }
        let first = run(&project, (!appending).then(|| format!("{point}:2")), None);
        if !appending {
            assert_ne!(first.exit, Some(0), "{point}: the projector aborted");
        }
        assert_eq!(run(&project, None, None).exit, Some(0), "{point}: the restart finishes");
        if let Err(why) = verify(&log_dir, &acknowledged_records) {
            panic!("crash point {point}: {why}");
        }
    }
}
