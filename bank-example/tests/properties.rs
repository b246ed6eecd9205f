//! The bank, checked by the harness: every property holds, and a bug
//! planted in a projection is caught, shrunk, saved and replayed by the
//! bank's own binary.

use bank_example::{Bank, PlantedBug, bank_cases};
use projection_harness::properties::Properties;
use std::process::Command;

#[test]
fn the_bank_holds_every_property_in_memory_and_durable() {
    Properties::new(Bank::default())
        .named("bank")
        .regressions("proptest-regressions/properties.txt")
        .reproduce_with("cargo run -p bank-example --")
        .run(bank_cases(80));
}

#[test]
fn a_planted_bug_is_caught_shrunk_and_replayed_by_the_binary_with_exit_1() {
    let planted = Bank { planted: Some(PlantedBug::IgnoresWithdrawalsOf100) };
    let failure = Properties::new(planted)
        .named("bank-planted")
        .cases(256)
        .check(bank_cases(80))
        .expect_err("the planted bug is caught");
    assert_eq!(failure.property, "model_agreement", "{failure}");
    let [record] = failure.case.history.as_slice() else { panic!("shrunk to one record: {failure}") };
    assert_eq!(record.value, r#"{"type":"Withdraw","account":"acct-a","cents":100}"#, "{failure}");
    let path = failure.replay_file.as_ref().expect("a replay file");

    let replay = |bug: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_bank"));
        command.arg("replay").arg(path);
        if let Some(bug) = bug {
            command.env("BANK_PLANTED_BUG", bug);
        }
        command.output().expect("the bank binary runs")
    };
    let buggy = replay(Some("ignores-withdrawals-of-100"));
    let stdout = String::from_utf8_lossy(&buggy.stdout);
    assert_eq!(buggy.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&buggy.stderr));
    assert!(stdout.contains("model agreement: group balances"), "{stdout}");
    let fixed = replay(None);
    assert_eq!(fixed.status.code(), Some(0), "{}", String::from_utf8_lossy(&fixed.stdout));
}

#[test]
fn the_binary_describes_itself_and_refuses_a_bad_file_with_exit_2() {
    let help = Command::new(env!("CARGO_BIN_EXE_bank")).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).starts_with("Bank accounts, checked by projection-harness"));
    let version = Command::new(env!("CARGO_BIN_EXE_bank")).arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout), format!("bank {}\n", env!("CARGO_PKG_VERSION")));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"type\":\"Deposit\"}\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bank")).arg("replay").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}
