//! Soak campaigns: many generated cases, checked in parallel, each
//! reproducible from its seed and index.
//!
//! Case `i` of seed `S` is drawn from a ChaCha generator seeded with
//! `(S, i)` alone, so it is the same case whatever the thread count, the
//! shard or the order cases finish in. Shard `I/N` runs the indexes
//! `i ≡ I (mod N)`: the shards of a seed never overlap and together run
//! exactly the unsharded campaign. A failing case is shrunk with proptest,
//! written as a replay file, and reported with the command that replays
//! it. The checks are the test suite's own ([`super::check`]).

use super::check::Check;
use super::replay_file::render;
use super::{Case, Execution, System, execute};
use crate::anomaly::Kind;
use crate::domain::Domain;
use crate::log::MerkqlLog;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// When a campaign ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// After the cases with indexes below this (those of the shard).
    Cases(u64),
    /// When this much time has passed (cases in flight finish).
    Duration(Duration),
}

/// One shard of a campaign: `index` of `count`, from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The whole campaign.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Reads `I/N` (0 ≤ I < N ≤ 1024).
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad =
            || format!("shard {} is not I/N with 0 <= I < N <= 1024 (for example 0/4)", crate::text::quoted(text));
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let index: u64 = index.parse().map_err(|_| bad())?;
        let count: u64 = count.parse().map_err(|_| bad())?;
        if index >= count || count > 1024 {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The `k`-th case index of this shard.
    pub fn case_index(self, k: u64) -> Option<u64> {
        k.checked_mul(self.count)?.checked_add(self.index)
    }
}

/// Reads a duration: a whole number with a unit, `s`, `m` or `h`
/// (`90s`, `10m`, `2h`), at most 7 days.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "duration {} is not a whole number of s, m or h up to 7 days (for example 10m)",
            crate::text::quoted(text)
        )
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => Some(number),
        "m" => number.checked_mul(60),
        "h" => number.checked_mul(3600),
        _ => None,
    }
    .ok_or_else(bad)?;
    if seconds == 0 || seconds > 7 * 24 * 3600 {
        return Err(bad());
    }
    Ok(Duration::from_secs(seconds))
}

/// Failures shrunk per campaign; later ones are saved as they were drawn
/// (a systematic bug fails every case, and shrinking each would take the
/// campaign's whole time).
pub const MAX_SHRUNK_FAILURES: u64 = 8;

/// What a campaign runs.
#[derive(Clone, Debug)]
pub struct Plan {
    pub limit: Limit,
    pub seed: u64,
    /// Worker threads (at least 1).
    pub threads: usize,
    pub shard: Shard,
    /// Where replay files of failures go.
    pub out: PathBuf,
    /// The `replay` options that reproduce a failure (`--durable` when the
    /// campaign runs the durable system).
    pub replay_options: String,
}

/// The generator of case `index` of `seed`: a ChaCha RNG seeded with the
/// two numbers alone.
pub fn case_runner(seed: u64, index: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&index.to_le_bytes());
    // Only `new_tree` and `run_one` use this runner, and neither reads or
    // writes proptest's failure persistence: failures are saved as replay
    // files by the campaign itself.
    let config = Config { max_shrink_iters: 4096, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// Case `index` of `seed` from `cases`.
pub fn case_at(cases: &impl Strategy<Value = Case>, seed: u64, index: u64) -> Case {
    let mut runner = case_runner(seed, index);
    match cases.new_tree(&mut runner) {
        Ok(tree) => tree.current(),
        // Case strategies here have no filters, so they never reject.
        Err(reason) => unreachable!("a case strategy rejected: {reason}"),
    }
}

/// A failed case, shrunk.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    pub case: u64,
    /// The property that failed first on the original case.
    pub property: String,
    /// The violation on the shrunk case.
    pub violation: String,
    pub events: usize,
    /// The replay file, if it could be written.
    pub file: Option<PathBuf>,
    /// The command that replays it (or why there is none).
    pub replay: String,
    /// Its timeline page ([`crate::timeline`]), beside the replay file,
    /// if it could be written.
    pub page: Option<PathBuf>,
}

/// One case's verdict.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub case: u64,
    pub events: usize,
    pub failure: Option<Failure>,
    pub anomalies: Vec<Kind>,
    /// Digest of (index, case, verdict): XORed over a campaign, so that
    /// shards combine and thread counts can be compared.
    pub digest: u64,
}

/// A campaign's results.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Summary {
    pub cases: u64,
    pub events: u64,
    pub seconds: f64,
    pub failures: Vec<Failure>,
    /// Failed cases by the first property each violated.
    pub violations: BTreeMap<String, u64>,
    /// Anomalies named by the history checker, by name: cases they were
    /// found in.
    pub anomalies: BTreeMap<String, u64>,
    /// XOR of the cases' digests, in hex: equal for two runs of the same
    /// cases with the same verdicts; a shard's XOR the others' gives the
    /// whole campaign's.
    pub digest: String,
    /// Whether a signal stopped it before its limit.
    pub interrupted: bool,
}

impl Summary {
    fn add(&mut self, outcome: &Outcome, digest: &mut u64) {
        self.cases += 1;
        self.events += outcome.events as u64;
        *digest ^= outcome.digest;
        for kind in outcome.anomalies.iter().collect::<std::collections::BTreeSet<_>>() {
            *self.anomalies.entry(kind.name().to_string()).or_default() += 1;
        }
        if let Some(failure) = &outcome.failure {
            *self.violations.entry(failure.property.clone()).or_default() += 1;
            self.failures.push(failure.clone());
        }
    }
}

/// Runs `case` with a system made for its scratch directory and applies
/// `checks` in order: the first violation, with its property's name, or the
/// anomalies the history checker named.
pub fn evaluate<S: System>(
    make_system: &(dyn Fn(&Path) -> S + Sync),
    checks: &[(&'static str, Check<S::Domain>)],
    case: &Case,
) -> Result<Vec<Kind>, (String, String)> {
    evaluate_keeping(make_system, checks, case).map_err(|failed| (failed.property, failed.message))
}

/// A case that failed, with the execution it failed in (none when the
/// run itself failed): what its page is drawn from.
struct Failed<D: Domain> {
    property: String,
    message: String,
    execution: Option<Box<Execution<D>>>,
}

/// [`evaluate`], keeping the execution of a failure.
fn evaluate_keeping<S: System>(
    make_system: &(dyn Fn(&Path) -> S + Sync),
    checks: &[(&'static str, Check<S::Domain>)],
    case: &Case,
) -> Result<Vec<Kind>, Failed<S::Domain>> {
    let failed = |property: &str, message: String| Failed { property: property.to_string(), message, execution: None };
    let dir = crate::settings::scratch_dir().map_err(|e| failed("scratch", format!("no scratch directory: {e}")))?;
    let system = make_system(dir.path());
    let log_dir = dir.path().join("log");
    let mut log = MerkqlLog::create(&log_dir, system.domain().topic(), case.schedule.partitions())
        .map_err(|e| failed("log", e.to_string()))?;
    let execution = execute(&system, &case.history, &case.schedule, &mut log)
        .map_err(|e| failed("execution", format!("the run failed: {e}")))?;
    for (name, check) in checks {
        if let Err(violation) = check(&execution) {
            return Err(Failed {
                property: name.to_string(),
                message: violation.to_string(),
                execution: Some(Box::new(execution)),
            });
        }
    }
    Ok(execution.anomalies.iter().map(|a| a.kind).collect())
}

/// Case `index`: drawn, run, and on failure shrunk and saved.
fn run_case<S: System>(
    plan: &Plan,
    cases: &(impl Strategy<Value = Case> + Sync),
    make_system: &(dyn Fn(&Path) -> S + Sync),
    checks: &[(&'static str, Check<S::Domain>)],
    stop: &AtomicBool,
    shrunk: &AtomicU64,
    index: u64,
) -> Outcome {
    let mut runner = case_runner(plan.seed, index);
    let tree = match cases.new_tree(&mut runner) {
        Ok(tree) => tree,
        Err(reason) => unreachable!("a case strategy rejected: {reason}"),
    };
    let case = tree.current();
    let verdict = evaluate_keeping(make_system, checks, &case);
    let digest = case_digest(index, &case, verdict.as_ref().map(|_| "ok").unwrap_or_else(|f| &f.property));
    let (anomalies, failure) = match verdict {
        Ok(anomalies) => (anomalies, None),
        Err(Failed { property, message: violation, execution }) => {
            let failure = if shrunk.fetch_add(1, Ordering::SeqCst) < MAX_SHRUNK_FAILURES {
                shrink_and_save(plan, &mut runner, tree, make_system, checks, stop, index, property, execution)
            } else {
                save(
                    plan,
                    checks,
                    &case,
                    index,
                    property.clone(),
                    format!("{property}: {violation} (not shrunk: {MAX_SHRUNK_FAILURES} failures were)"),
                    execution,
                )
            };
            (Vec::new(), Some(failure))
        }
    };
    Outcome { case: index, events: case.history.len(), failure, anomalies, digest }
}

#[allow(clippy::too_many_arguments)]
fn shrink_and_save<S: System>(
    plan: &Plan,
    runner: &mut TestRunner,
    tree: impl ValueTree<Value = Case>,
    make_system: &(dyn Fn(&Path) -> S + Sync),
    checks: &[(&'static str, Check<S::Domain>)],
    stop: &AtomicBool,
    index: u64,
    property: String,
    original_execution: Option<Box<Execution<S::Domain>>>,
) -> Failure {
    let original = tree.current();
    // The minimal case is the last one that failed: its execution is the
    // last one kept.
    let last_failed: std::cell::RefCell<Option<Box<Execution<S::Domain>>>> = std::cell::RefCell::new(None);
    let shrunk = runner.run_one(tree, |case| {
        if stop.load(Ordering::SeqCst) {
            // Interrupted: the smallest case so far is kept.
            return Ok(());
        }
        evaluate_keeping(make_system, checks, &case).map(drop).map_err(|failed| {
            *last_failed.borrow_mut() = failed.execution;
            TestCaseError::fail(format!("{}: {}", failed.property, failed.message))
        })
    });
    let (case, violation, execution) = match shrunk {
        Err(TestError::Fail(reason, minimal)) => (minimal, reason.message().to_string(), last_failed.into_inner()),
        // The failure did not recur (a flaky system): keep the original.
        _ => (original, format!("{property}: failed once, did not fail again when re-run"), original_execution),
    };
    save(plan, checks, &case, index, property, violation, execution)
}

/// Writes `case` into the plan's output directory, with the timeline page
/// of `execution` (the run it failed in) beside it, and says how to
/// replay it.
fn save<D: Domain>(
    plan: &Plan,
    checks: &[(&'static str, Check<D>)],
    case: &Case,
    index: u64,
    property: String,
    violation: String,
    execution: Option<Box<Execution<D>>>,
) -> Failure {
    let name = format!("soak-{:016x}-{index}.jsonl", plan.seed);
    let written = std::fs::create_dir_all(&plan.out)
        .and_then(|()| std::fs::write(plan.out.join(&name), render(&case.history, &case.schedule)))
        .map(|()| plan.out.join(&name));
    let (file, replay) = match written {
        Ok(path) => {
            let options =
                if plan.replay_options.is_empty() { String::new() } else { format!("{} ", plan.replay_options) };
            let replay = format!("cargo run --release -- replay {options}{}", crate::text::path(&path));
            (Some(path), replay)
        }
        Err(e) => (None, format!("the replay file could not be written to {}: {e}", crate::text::path(&plan.out))),
    };
    let page = file.as_ref().zip(execution).and_then(|(file, execution)| {
        let path = file.with_extension("html");
        let violations: Vec<_> = checks.iter().filter_map(|(_, check)| check(&execution).err()).collect();
        crate::timeline::Timeline::new(&execution, &case.schedule, &violations)
            .title(&format!("soak case {index}, property {property}"))
            .replay_command(&replay)
            .case(plan.seed, index)
            .write(&path)
            .ok()
            .map(|()| path)
    });
    Failure { case: index, property, violation, events: case.history.len(), file, replay, page }
}

/// SHA-256 of the case index, the case's records and schedule, and the
/// verdict, cut to 64 bits.
fn case_digest(index: u64, case: &Case, verdict: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(index.to_le_bytes());
    hasher.update(render(&case.history, &case.schedule).as_bytes());
    hasher.update(verdict.as_bytes());
    let hash = hasher.finalize();
    u64::from_le_bytes([hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7]])
}

/// Runs a campaign on `plan.threads` threads. `on_outcome` sees every
/// case's outcome as it finishes (for progress); `stop` ends it early
/// (after the cases in flight).
pub fn run<S: System>(
    plan: &Plan,
    cases: &(impl Strategy<Value = Case> + Sync),
    make_system: &(dyn Fn(&Path) -> S + Sync),
    checks: &[(&'static str, Check<S::Domain>)],
    stop: &AtomicBool,
    on_outcome: &mut dyn FnMut(&Outcome, &Summary),
) -> Summary {
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let shrunk = AtomicU64::new(0);
    let (sender, receiver) = std::sync::mpsc::channel::<Outcome>();
    let mut summary = Summary::default();
    let mut digest = 0u64;
    std::thread::scope(|scope| {
        for _ in 0..plan.threads.max(1) {
            let sender = sender.clone();
            let (next, shrunk) = (&next, &shrunk);
            scope.spawn(move || {
                loop {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Some(index) = plan.shard.case_index(next.fetch_add(1, Ordering::SeqCst)) else { break };
                    let done = match plan.limit {
                        Limit::Cases(n) => index >= n,
                        Limit::Duration(d) => started.elapsed() >= d,
                    };
                    if done {
                        break;
                    }
                    if sender.send(run_case(plan, cases, make_system, checks, stop, shrunk, index)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        for outcome in receiver {
            summary.add(&outcome, &mut digest);
            on_outcome(&outcome, &summary);
        }
    });
    summary.failures.sort_by_key(|f| f.case);
    summary.seconds = started.elapsed().as_secs_f64();
    summary.digest = format!("{digest:016x}");
    summary.interrupted = stop.load(Ordering::SeqCst);
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_is_judged_by_the_first_check_that_fails() {
        use crate::example::Counters;
        use crate::verify::Production;
        use crate::verify::check::Violation;
        fn fails(_: &Execution<Counters>) -> Result<(), Violation> {
            Err(Violation::ModelMissing { projection: "totals".into() })
        }
        let system = |_: &Path| Production(Counters);
        let case = Case {
            history: vec![crate::domain::HistoryRecord {
                key: Some("c1".into()),
                value: r#"{"counter":"c1","add":1}"#.into(),
            }],
            schedule: crate::verify::Schedule::split_at(1, &[1], 1).unwrap(),
        };
        let checks: Vec<(&'static str, Check<Counters>)> = crate::verify::check::all().to_vec();
        assert_eq!(evaluate(&system, &checks, &case), Ok(Vec::new()), "every property holds, no anomaly");
        let failing: Vec<(&'static str, Check<Counters>)> = vec![("first", checks[0].1), ("planted", fails)];
        let (property, message) = evaluate(&system, &failing, &case).unwrap_err();
        assert_eq!(property, "planted");
        assert!(message.starts_with("model agreement: the model has no view of projection totals"), "{message}");
    }

    #[test]
    fn shards_split_the_indexes_without_overlap() {
        let shard = Shard::parse("1/3").unwrap();
        let indexes: Vec<u64> = (0..4).filter_map(|k| shard.case_index(k)).collect();
        assert_eq!(indexes, [1, 4, 7, 10]);
        assert_eq!(Shard::parse("0/1").unwrap(), Shard::ALL);
        for bad in ["3/3", "1", "a/2", "0/0", "0/1025", "-1/2", "1/2/3"] {
            assert!(Shard::parse(bad).unwrap_err().contains("I/N"), "{bad}");
        }
        assert_eq!(Shard { index: 1, count: u64::MAX }.case_index(2), None, "no overflow");
    }

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("168h"), Ok(Duration::from_secs(168 * 3600)));
        for bad in ["", "10", "m", "0s", "169h", "1d", "1.5h", "99999999999999999999s", "10 m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_case_depends_on_its_seed_and_index_alone() {
        let cases = crate::example::counter_cases(20);
        assert_eq!(case_at(&cases, 7, 3), case_at(&cases, 7, 3));
        assert_ne!(case_at(&cases, 7, 3), case_at(&cases, 7, 4));
        assert_ne!(case_at(&cases, 7, 3), case_at(&cases, 8, 3));
    }
}
