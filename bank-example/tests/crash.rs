//! The bank's projector survives being killed, as the cart's does: the
//! `bank` binary appends a history to a log directory and projects it,
//! aborting itself at each named crash point (`HARNESS_CRASH_AT`, an abort
//! is as sudden as SIGKILL), then runs again on the same directory. After
//! the restart, the views the store holds equal the model of the log.

use bank_example::{Bank, bank_cases};
use projection_harness::crash::POINTS;
use projection_harness::domain::{Domain, HistoryRecord, Produced};
use projection_harness::log::{Log, MerkqlLog};
use projection_harness::projector::stored_views;
use projection_harness::verify::replay_file::render;
use projection_harness::verify::{Phase, Schedule};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::path::Path;
use std::process::{Command, Output};

fn bank(args: &[&str], crash_at: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bank"));
    command.args(args).env_remove("HARNESS_CRASH_AT").env_remove("BANK_PLANTED_BUG");
    if let Some(point) = crash_at {
        command.env("HARNESS_CRASH_AT", point);
    }
    command.output().expect("the bank binary runs")
}

/// A generated bank history of `records` records, noise included.
fn history(records: usize) -> Vec<HistoryRecord> {
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &[11; 32]));
    loop {
        let case = bank_cases(records).new_tree(&mut runner).expect("a case").current();
        if case.history.len() >= records / 2 {
            return case.history;
        }
    }
}

/// The stored views equal the model of what the log holds.
fn views_match_the_log(dir: &Path) -> Result<(), String> {
    let log = MerkqlLog::open(dir, bank_example::TOPIC).map_err(|e| e.to_string())?;
    let mut produced: Vec<Produced> = Vec::new();
    for (partition, end) in log.end_offsets().map_err(|e| e.to_string())?.into_iter().enumerate() {
        for offset in 0..end {
            let position = projection_harness::record::Position { partition: partition as u32, offset };
            let record = log.record_at(position).map_err(|e| e.to_string())?.ok_or("a record")?;
            produced.push((position, HistoryRecord { key: record.key, value: record.value }));
        }
    }
    drop(log);
    let model = Bank::default().model(&produced);
    for (group, view) in stored_views(&Bank::default(), &dir.join("views.sqlite")).map_err(|e| e.to_string())? {
        let view = view.ok_or(format!("{group} was never projected"))?;
        if model.views.get(&group) != Some(&view) {
            return Err(format!("{group}: {view:?} differs from the model {:?}", model.views.get(&group)));
        }
    }
    Ok(())
}

#[test]
fn the_bank_projector_survives_an_abort_at_every_crash_point() {
    let history = history(12);
    let schedule = Schedule::new(2, Vec::<Phase>::new(), None).expect("a schedule");
    for point in POINTS {
        let dir = tempfile::tempdir().expect("a directory");
        let (log_dir, input) = (dir.path().join("log"), dir.path().join("input.jsonl"));
        let log_arg = log_dir.to_str().expect("a UTF-8 path");
        std::fs::write(&input, render(&history, &schedule)).expect("the input");
        let input_arg = input.to_str().expect("a UTF-8 path");
        let append = ["append", "--data-dir", log_arg, "--partitions", "2", "--chunk", "5", input_arg];
        let project = ["project", "--data-dir", log_arg, "--batch", "4"];
        let crash = format!("{point}:2");
        if point == "after-append" {
            let crashed = bank(&append, Some(&crash));
            assert_ne!(crashed.status.code(), Some(0), "{point}: the append aborted");
        } else {
            assert_eq!(bank(&append, None).status.code(), Some(0), "{point}");
            let crashed = bank(&project, Some(&crash));
            assert_ne!(crashed.status.code(), Some(0), "{point}: the projector aborted");
        }
        let restarted = bank(&project, None);
        assert_eq!(restarted.status.code(), Some(0), "{point}: {}", String::from_utf8_lossy(&restarted.stderr));
        if let Err(why) = views_match_the_log(&log_dir) {
            panic!("crash point {point}: {why}");
        }
    }
}

#[test]
fn a_log_of_another_topic_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("a directory");
    let log = MerkqlLog::create(dir.path(), "cart-events", 1).expect("another domain's log");
    log.mark_complete().expect("complete");
    drop(log);
    let input = dir.path().join("input.jsonl");
    std::fs::write(&input, "{\"type\":\"Deposit\",\"account\":\"a\",\"cents\":5}\n").expect("the input");
    let dir_arg = dir.path().to_str().expect("a UTF-8 path");
    for args in [
        vec!["append", "--data-dir", dir_arg, input.to_str().expect("a UTF-8 path")],
        vec!["project", "--data-dir", dir_arg],
    ] {
        let out = bank(&args, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("holds a log of topic \"cart-events\", not of topic \"bank-events\""), "{stderr}");
    }
}
