//! The projector commands as a user runs them: `append`, `project`
//! (once and `--follow`), `views`, on one persistent log directory.

use std::io::BufRead;
use std::process::{Command, Output, Stdio};

fn cart(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_event-sourced-cart")).args(args).output().expect("the binary runs")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The canonical file split 30 + 5, written into `dir`.
fn canonical_parts(dir: &std::path::Path) -> (String, String) {
    let all = std::fs::read_to_string(format!("{}/data/canonical-events.jsonl", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let lines: Vec<&str> = all.lines().collect();
    let (first, last) = (dir.join("first.jsonl"), dir.join("last.jsonl"));
    std::fs::write(&first, lines[..30].join("\n") + "\n").unwrap();
    std::fs::write(&last, lines[30..].join("\n") + "\n").unwrap();
    (first.to_str().unwrap().to_string(), last.to_str().unwrap().to_string())
}

#[test]
fn append_project_and_views_give_the_seed_figures_and_catch_up_only_the_new_events() {
    let dir = tempfile::tempdir().unwrap();
    let (first, last) = canonical_parts(dir.path());
    let log = dir.path().join("log");
    let log = log.to_str().unwrap();
    let out = cart(&["append", "--data-dir", log, &first, "--chunk", "12"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "acknowledged 12 records, through line 12\nacknowledged 24 records, through line 24\nacknowledged 30 records, through line 30\n"
    );
    let out = cart(&["project", "--data-dir", log]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("revenue: applied 30, duplicates 0, rejected 0"),
        "{}",
        text(&out)
    );
    let views = String::from_utf8(cart(&["views", "--data-dir", log]).stdout).unwrap();
    assert!(views.contains("Total revenue: $266.68"), "{views}");

    assert_eq!(cart(&["append", "--data-dir", log, &last]).status.code(), Some(0));
    let out = cart(&["project", "--data-dir", log]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("cart-state: applied 5, duplicates 0, rejected 0"),
        "{}",
        text(&out)
    );
    let views = String::from_utf8(cart(&["views", "--data-dir", log]).stdout).unwrap();
    assert!(views.contains("Total revenue: $342.68") && views.contains("cart-3: 8 items, total $76.00"), "{views}");
    let json: serde_json::Value =
        serde_json::from_slice(&cart(&["views", "--data-dir", log, "--json"]).stdout).unwrap();
    assert_eq!(json["revenue"]["total_cents"], 34268);
    assert_eq!(json["units_sold"]["total_units"], 647);

    // The store as a user reads it with sqlite3.
    let store = rusqlite::Connection::open(dir.path().join("log/views.sqlite")).unwrap();
    let total: i64 = store
        .query_row(
            "SELECT sum(json_extract(state, '$.total_cents')) FROM entries WHERE projection = 'revenue' AND json_extract(state, '$.checked_out')",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(total, 34268);
}

#[test]
fn a_follower_catches_up_appends_refuses_a_second_projector_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (first, last) = canonical_parts(dir.path());
    let log = dir.path().join("log");
    let log = log.to_str().unwrap();
    assert_eq!(cart(&["append", "--data-dir", log, &first]).status.code(), Some(0));
    let mut follower = Command::new(env!("CARGO_BIN_EXE_event-sourced-cart"))
        .args(["project", "--data-dir", log, "--follow", "--interval-ms", "20"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(follower.stdout.take().unwrap()).lines();
    let mut next_line = || lines.next().expect("a line").expect("UTF-8");
    assert_eq!(next_line(), "cart-state: applied 30, duplicates 0, rejected 0");

    let second = cart(&["project", "--data-dir", log]);
    assert_eq!(second.status.code(), Some(2));
    assert!(text(&second).contains("is in use by another projector"), "{}", text(&second));

    // The follower lets the log's lock go between catch-ups: an append
    // gets in (retried while a catch-up holds it).
    let appended = (0..1000).find_map(|_| {
        let out = cart(&["append", "--data-dir", log, &last]);
        match out.status.code() {
            Some(0) => Some(out),
            Some(2) if text(&out).contains("is in use by another process") => None,
            _ => panic!("{}", text(&out)),
        }
    });
    assert!(appended.is_some(), "the append got the lock");
    let caught_up = (0..6).map(|_| next_line()).find(|l| l == "revenue: applied 5, duplicates 0, rejected 0");
    assert!(caught_up.is_some(), "the follower applied the 5 new events");

    assert!(Command::new("kill").args(["-TERM", &follower.id().to_string()]).status().unwrap().success());
    assert_eq!(follower.wait().unwrap().code(), Some(0), "SIGTERM stops the follower cleanly");
    let views = String::from_utf8(cart(&["views", "--data-dir", log]).stdout).unwrap();
    assert!(views.contains("Total revenue: $342.68"), "{views}");
}

#[test]
fn a_missing_log_or_store_is_named_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().to_str().unwrap();
    let out = cart(&["project", "--data-dir", empty]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("holds no log; append events to it first"), "{}", text(&out));
    let out = cart(&["views", "--data-dir", empty, "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["error"].as_str().unwrap().contains("there is no view store"), "{json}");
}

/// Damage done to the log directory between two runs of the projector:
/// records it already applied are in its views; a damaged or missing
/// record it has yet to apply stops it with the anomaly named, exit 3, and
/// its views stay as they were; a log rewritten under its checkpoint too.
#[test]
fn the_projector_stops_with_a_named_anomaly_on_a_damaged_log_and_keeps_its_views() {
    use event_sourced_cart::cart::TOPIC;
    use event_sourced_cart::log::{Fault, Log, MerkqlLog};
    // Offsets 30-34 are appended after the first projection: not applied.
    let cases: [(Fault, &str); 3] = [
        (Fault::FlipPayloadByte { partition: 0, offset: 32 }, "inconsistent-offsets: partition 0, offset 32"),
        (Fault::MissingObject { partition: 0, offset: 32 }, "poll-skip: partition 0, offset 32"),
        (Fault::TruncateIndexTail { partition: 0, records: 35 }, "the log went backwards"),
    ];
    for (fault, named) in cases {
        let dir = tempfile::tempdir().unwrap();
        let log_dir = dir.path().join("log");
        let log_arg = log_dir.to_str().unwrap();
        let (first, last) = canonical_parts(dir.path());
        assert_eq!(cart(&["append", "--data-dir", log_arg, "--partitions", "1", &first]).status.code(), Some(0));
        assert_eq!(cart(&["project", "--data-dir", log_arg]).status.code(), Some(0));
        let before = cart(&["views", "--data-dir", log_arg, "--json"]);
        assert_eq!(cart(&["append", "--data-dir", log_arg, &last]).status.code(), Some(0));
        let mut log = MerkqlLog::open(&log_dir, TOPIC).unwrap();
        log.inject(&fault).unwrap();
        drop(log);
        let out = cart(&["project", "--data-dir", log_arg]);
        assert_eq!(out.status.code(), Some(3), "{fault:?}: {}", text(&out));
        assert!(text(&out).contains(named), "{fault:?}: {}", text(&out));
        let after = cart(&["views", "--data-dir", log_arg, "--json"]);
        assert_eq!(after.stdout, before.stdout, "{fault:?}: the views are untouched");
    }
}
