//! Replay files hold the exact case: every record's key (or its absence)
//! and its raw value byte for byte, plus the schedule. Rendering then
//! parsing gives back the same case, for every generated case and for any
//! keys and values; the `replay` command produces exactly those records.

use event_sourced_cart::cart::Cart;
use event_sourced_cart::cart::generate::{NoiseKind, case};
use event_sourced_cart::domain::HistoryRecord;
use event_sourced_cart::verify::replay_file::{parse, render};
use event_sourced_cart::verify::{Phase, Schedule};
use proptest::prelude::*;
use std::process::Command;

proptest! {
    #![proptest_config(crate::support::proptest_config("proptest-regressions/replay_files.txt"))]

    /// Every generated case survives render then parse.
    #[test]
    fn generated_cases_round_trip(case in case()) {
        let file = parse(&Cart, &render(&case.history, &case.schedule)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(file.history, case.history);
        prop_assert_eq!(file.schedule, Some(case.schedule));
    }

    /// Any keys and values survive, whitespace, newlines, control
    /// characters, JSON that is not one line and text that only looks like
    /// JSON included.
    #[test]
    fn any_records_round_trip(
        records in prop::collection::vec(
            (
                prop::option::of(any::<String>()),
                prop_oneof![
                    any::<String>(),
                    "[ \t\r\n]{0,2}\\{\"type\":\"Checkout\",\"cart_id\":\"[a-z\\\\\"]{0,4}\"\\}[ \t\r\n]{0,2}",
                    prop::sample::select(vec!["{}", "null", "1e999", "\"\\ud800\"", "[1,\n2]", "{\"a\":1,\"a\":2}", "", " "]).prop_map(str::to_string),
                ],
            ),
            0..8,
        ),
    ) {
        let history: Vec<HistoryRecord> = records.into_iter().map(|(key, value)| HistoryRecord { key, value }).collect();
        let schedule = Schedule::new(2, vec![Phase { produce: 1, ..Phase::default() }], Some(1)).unwrap();
        let text = render(&history, &schedule);
        prop_assert_eq!(text.lines().count(), history.len() + 1, "one line per record: {}", text);
        let file = parse(&Cart, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(file.history, history);
        prop_assert_eq!(file.schedule, Some(schedule));
    }
}

#[test]
fn values_that_are_one_line_of_json_are_written_verbatim() {
    let schedule = Schedule::new(1, vec![], None).unwrap();
    let history = vec![
        HistoryRecord { key: Some("c".into()), value: r#"{"type":"Checkout","cart_id":"c"}"#.into() },
        HistoryRecord { key: None, value: "not json".into() },
        HistoryRecord { key: Some("c".into()), value: r#" {"type":"Checkout","cart_id":"c"}"#.into() },
    ];
    let text = render(&history, &schedule);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], r#"{"format":"records","schedule":{"partitions":1,"phases":[]}}"#);
    assert_eq!(lines[1], r#"{"key":"c","json":{"type":"Checkout","cart_id":"c"}}"#);
    assert_eq!(lines[2], r#"{"text":"not json"}"#);
    assert_eq!(lines[3], r#"{"key":"c","text":" {\"type\":\"Checkout\",\"cart_id\":\"c\"}"}"#);
}

#[test]
fn malformed_record_lines_name_the_line() {
    for (text, message) in [
        ("{\"format\":\"records\"}\n{\"key\":\"c\"}\n", "line 2: a record line holds exactly one of"),
        (
            "{\"format\":\"records\"}\n{\"key\":\"c\",\"json\":1,\"text\":\"1\"}\n",
            "line 2: a record line holds exactly one of",
        ),
        ("{\"format\":\"records\"}\n{\"key\":1,\"json\":1}\n", "line 2: not a record line"),
        ("{\"format\":\"records\"}\n{\"value\":\"x\"}\n", "line 2: not a record line (unknown field `value`"),
        ("{\"format\":\"bytes\"}\n", "line 1: unknown format \"bytes\""),
    ] {
        let error = parse(&Cart, text).unwrap_err().to_string();
        assert!(error.starts_with(message), "{text:?}: {error}");
    }
}

/// The `replay` command reads a records file holding every noise kind and
/// produces each record exactly: each is rejected once, at its own line,
/// for its own reason, and the valid events around them apply.
#[test]
fn the_replay_command_produces_every_noise_kind_exactly() {
    let mut history = vec![HistoryRecord {
        key: Some("cart-1".into()),
        value: r#"{"type":"AddItem","cart_id":"cart-1","item":"Widget","qty":2,"price":9.99}"#.into(),
    }];
    history.extend(NoiseKind::ALL.iter().map(|kind| kind.record("cart-1", "cart-2")));
    history
        .push(HistoryRecord { key: Some("cart-1".into()), value: r#"{"type":"Checkout","cart_id":"cart-1"}"#.into() });
    let schedule = Schedule::new(3, vec![Phase { produce: 4, ..Phase::default() }], None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("noise.jsonl");
    std::fs::write(&path, render(&history, &schedule)).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_event-sourced-cart"))
        .args(["replay", path.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rejected = json["rejected"].as_array().unwrap();
    let mut lines: Vec<u64> = rejected.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    lines.sort_unstable();
    // Line 1 is the header, line 2 the first AddItem: the noise follows.
    let noise_lines = 3..3 + NoiseKind::ALL.len() as u64;
    assert_eq!(lines, noise_lines.collect::<Vec<u64>>());
    let error_of =
        |line: u64| rejected.iter().find(|r| r["line"] == line).unwrap()["error"].as_str().unwrap().to_string();
    assert!(error_of(9).contains("the record has no key; its event's key is \"cart-1\""), "no key: {}", error_of(9));
    assert!(error_of(8).contains("record key \"cart-2-other\" differs"), "wrong key: {}", error_of(8));
    assert!(error_of(11).contains("duplicate field \"cart_id\""), "{}", error_of(11));
    assert!(error_of(12).contains("not JSON"), "{}", error_of(12));
    assert_eq!(json["revenue"]["total_cents"], 1998);
    assert_eq!(json["units_sold"]["items"]["Widget"], 2);
}

#[test]
fn a_failure_is_written_where_the_settings_say_as_a_records_file() {
    let history = vec![HistoryRecord { key: None, value: "not json".into() }];
    let schedule = Schedule::new(1, vec![], None).unwrap();
    let path =
        event_sourced_cart::verify::replay_file::write_failure("write-failure-test", &history, &schedule).unwrap();
    assert_eq!(path, crate::support::settings().failures_dir.join("write-failure-test.jsonl"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), render(&history, &schedule));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn lines_are_read_with_a_bound_and_reading_stops_at_the_first_broken_limit() {
    use event_sourced_cart::verify::replay_file::{MAX_LINE_BYTES, read};
    let event = r#"{"type":"Checkout","cart_id":"c"}"#;
    // A blank line of exactly the bound is read (and skipped); one byte more is refused.
    let at_bound = format!("{}\n{event}\n", " ".repeat(MAX_LINE_BYTES));
    assert_eq!(parse(&Cart, &at_bound).unwrap().history.len(), 1);
    let over = format!("{event}\n{}\r\n{event}\n", " ".repeat(MAX_LINE_BYTES + 1));
    let error = parse(&Cart, &over).unwrap_err();
    assert_eq!(error.line, 2);
    assert!(error.message.contains(&format!("longer than {MAX_LINE_BYTES} bytes")), "{error}");

    // An endless line is refused after the bound: the reader is not read to its end.
    let endless = std::io::BufReader::new(std::io::repeat(b'x'));
    let error = read(&Cart, endless).unwrap_err();
    assert!((error.line, error.message.contains("longer than")) == (1, true), "{error}");

    // Invalid UTF-8 is found on its own line, before any later line is read.
    let bytes = [event.as_bytes(), b"\n\xff\n", event.as_bytes()].concat();
    assert_eq!(read(&Cart, &bytes[..]).unwrap_err().line, 2);

    // A schedule is refused at its 65th phase, not after reading every phase.
    let phases = vec![r#"{"produce":1}"#; 200_000].join(",");
    let error = parse(&Cart, &format!("{{\"schedule\":{{\"partitions\":1,\"phases\":[{phases}]}}}}\n{event}\n"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("more than 64 phases; use at most 64 at column 948"), "{error}");
    let error = parse(&Cart, "{\"schedule\":{\"partitions\":1,\"phases\":{}}}\n").unwrap_err().to_string();
    assert!(error.contains("expected a list of at most 64 phases"), "{error}");
}

/// `replay` under a 256 MiB address-space limit: reading whole what the
/// file holds would abort the process.
fn replay_with_little_memory(file: &str) -> std::process::Output {
    Command::new("sh")
        .args(["-c", "ulimit -v 262144 && exec \"$0\" replay \"$1\"", env!("CARGO_BIN_EXE_event-sourced-cart"), file])
        .output()
        .unwrap()
}

#[test]
fn endless_and_huge_files_are_refused_in_bounded_memory() {
    let out = replay_with_little_memory("/dev/zero");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/dev/zero: line 1: the line is longer than"));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schedule.jsonl");
    let phases = vec![r#"{"produce":1}"#; 3_000_000].join(",");
    std::fs::write(&path, format!("{{\"schedule\":{{\"partitions\":1,\"phases\":[{phases}]}}}}\n")).unwrap();
    let out = replay_with_little_memory(path.to_str().unwrap());
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1: the line is longer than"));
}

#[test]
fn an_endless_line_is_read_no_further_than_the_bound() {
    use event_sourced_cart::verify::replay_file::{MAX_LINE_BYTES, read};
    let mut input = std::io::Cursor::new(vec![b'x'; 3 * MAX_LINE_BYTES]);
    let error = read(&Cart, &mut input).unwrap_err();
    assert_eq!(error.line, 1, "{error}");
    assert_eq!(input.position(), MAX_LINE_BYTES as u64 + 2, "bytes taken from the reader");
}
