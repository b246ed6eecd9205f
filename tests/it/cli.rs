//! The binary, as a user runs it: the main job and `replay`.

use event_sourced_cart::cart::Cart;
use event_sourced_cart::domain::Domain;
use std::process::{Command, Output};

fn cart(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_event-sourced-cart")).args(args).output().expect("the binary runs")
}

fn canonical_file() -> String {
    format!("{}/data/canonical-events.jsonl", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn main_job_prints_the_seed_figures_and_exits_0() {
    let out = cart(&[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "Polled 30 records.",
        "cart-1: 7 items, total $125.43",
        "  Widget x3 @ $9.99 = $29.97",
        "cart-1 (checked out): $125.43",
        "Total revenue: $266.68",
        "Cart state consumer: Polled 5 new records (expected 5).",
        "Revenue consumer:   Polled 5 new records (expected 5).",
        "cart-3: 8 items, total $76.00",
        "Total revenue: $342.68",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn main_job_refuses_a_data_dir_that_holds_a_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    assert!(cart(&["--data-dir", path]).status.success());
    assert!(dir.path().join(".merkql").is_dir(), "the log is kept for inspection");
    let again = cart(&["--data-dir", path]);
    assert_eq!(again.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already holds a log"), "{stderr}");
    assert!(!stderr.contains("partial"), "a finished run's log is not said to be partial: {stderr}");
}

#[test]
fn replay_json_of_the_canonical_file_gives_the_seed_figures() {
    let out = cart(&["replay", &canonical_file(), "--partitions", "3", "--split-at", "30", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["events"], 35);
    assert_eq!(json["rejected"], serde_json::json!([]));
    assert_eq!(json["cart_state"]["cart-1"]["total_cents"], 12543);
    assert_eq!(json["cart_state"]["cart-3"]["total_cents"], 7600);
    assert_eq!(
        json["cart_state"]["cart-1"]["items"][0],
        serde_json::json!({"item": "Widget", "qty": 3, "unit_price_cents": 999, "line_total_cents": 2997})
    );
    assert_eq!(
        json["revenue"],
        serde_json::json!({"carts": {"cart-1": 12543, "cart-2": 14125, "cart-3": 7600}, "total_cents": 34268})
    );
}

#[test]
fn replay_reports_rejected_records_with_partition_offset_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    std::fs::write(
        &file,
        "{\"type\":\"AddItem\",\"cart_id\":\"a\",\"item\":\"x\",\"qty\":1,\"price\":1.001}\n\n{\"type\":\"Checkout\",\"cart_id\":\"a\"}\n",
    )
    .unwrap();
    let out = cart(&["replay", file.to_str().unwrap(), "--json", "--split-at", "1"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rejected = &json["rejected"][0];
    assert_eq!(
        (rejected["partition"].as_u64(), rejected["offset"].as_u64(), rejected["line"].as_u64()),
        (Some(0), Some(0), Some(1))
    );
    assert!(rejected["error"].as_str().unwrap().contains("more than two decimals"));
    assert_eq!(json["revenue"]["carts"]["a"], 0);
}

#[test]
fn replay_exits_2_on_bad_input_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    std::fs::write(&file, "{\"type\":\"Checkout\",\"cart_id\":\"a\"}\n[1,2]\n").unwrap();
    let out = cart(&["replay", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2: not a JSON object"));

    std::fs::write(&file, "{\"type\":\"Checkout\"}\n").unwrap();
    let out = cart(&["replay", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1: no string \"cart_id\""));

    let out = cart(&["replay", &canonical_file(), "--split-at", "36"]);
    assert_eq!(out.status.code(), Some(2));
    let out = cart(&["replay", &canonical_file(), "--partitions", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

fn write(dir: &tempfile::TempDir, text: &str) -> String {
    let file = dir.path().join("events.jsonl");
    std::fs::write(&file, text).unwrap();
    file.to_str().unwrap().to_string()
}

#[test]
fn replay_json_prints_totals_beyond_u64() {
    let dir = tempfile::tempdir().unwrap();
    let add = "{\"type\":\"AddItem\",\"cart_id\":\"big\",\"item\":\"x\",\"qty\":4294967295,\"price\":1000000}\n";
    let file = write(&dir, &(add.repeat(50) + "{\"type\":\"Checkout\",\"cart_id\":\"big\"}\n"));
    let out = cart(&["replay", &file, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let expected = (50u128 * 4_294_967_295 * 100_000_000).to_string();
    assert!(text.contains(&format!("\"total_cents\": {expected}")), "{text}");
}

#[test]
fn replay_refuses_schedule_typos_and_late_schedule_lines() {
    let dir = tempfile::tempdir().unwrap();
    let event = "{\"type\":\"Checkout\",\"cart_id\":\"a\"}\n";
    let typo = write(
        &dir,
        &format!(
            "{{\"schedule\":{{\"partitions\":2,\"phases\":[{{\"produce\":1,\"crsh\":\"BeforeCommit\"}}]}}}}\n{event}"
        ),
    );
    let out = cart(&["replay", &typo]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1: bad schedule line (unknown field `crsh`"));

    let late = write(&dir, &format!("{event}{{\"schedule\":{{\"partitions\":1}}}}\n"));
    let out = cart(&["replay", &late]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2: a schedule line must be the first line"));
}

#[test]
fn replay_of_a_schedule_file_runs_that_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        "{\"schedule\":{\"partitions\":2,\"phases\":[{\"produce\":1,\"crash\":\"BeforeCommit\"},{\"produce\":1,\"reopen\":true}],\"late_join\":1}}\n\
         {\"type\":\"AddItem\",\"cart_id\":\"a\",\"item\":\"x\",\"qty\":2,\"price\":1.25}\n\
         {\"type\":\"Checkout\",\"cart_id\":\"a\"}\n",
    );
    let out = cart(&["replay", &file, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((json["partitions"].as_u64(), json["split_at"].clone()), (Some(2), serde_json::json!([1, 2])));
    assert_eq!(json["revenue"]["total_cents"], 250);
    assert_eq!(
        cart(&["replay", &file, "--split-at", "1"]).status.code(),
        Some(2),
        "a schedule file takes no --split-at"
    );
}

#[test]
fn names_cannot_forge_report_lines() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        "{\"type\":\"AddItem\",\"cart_id\":\"c\\nTotal revenue: $1000000.00\",\"item\":\"x\\nc2: 1 items, total $999.00\",\"qty\":1,\"price\":1}\n",
    );
    let out = cart(&["replay", &file]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.lines().any(|l| l.starts_with("c2: ") || l.starts_with("Total revenue: $1000000")), "{text}");
    assert!(text.contains(r#""c\nTotal revenue: $1000000.00": 1 items, total $1.00"#), "{text}");
}

#[test]
fn replay_names_the_line_of_invalid_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    std::fs::write(&file, b"{\"type\":\"Checkout\",\"cart_id\":\"a\"}\n{\"type\":\"Checkout\",\"cart_id\":\"\xff\"}\n")
        .unwrap();
    let out = cart(&["replay", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2: not valid UTF-8"));
}

#[test]
fn the_main_job_separates_bad_input_from_a_failed_log() {
    let out = cart(&["--partitions", "0"]);
    assert_eq!(out.status.code(), Some(2), "a partition count out of range is bad input");
    let out = Command::new(env!("CARGO_BIN_EXE_event-sourced-cart")).env("HARNESS_SCRATCH_DIR", "").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("environment variable HARNESS_SCRATCH_DIR=\"\": it is empty")
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    let under_a_file = file.path().join("log");
    let out = cart(&["--data-dir", under_a_file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "a log that cannot be created is a failed log: {out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("the log failed to"), "{out:?}");
}

#[test]
fn replay_json_shows_every_projection() {
    let out = cart(&["replay", &canonical_file(), "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fields: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
    let mut expected: Vec<String> =
        ["events", "partitions", "split_at", "agree", "violations", "anomalies", "faults", "rejected"]
            .map(String::from)
            .to_vec();
    // Then one field per registered projection, in name order.
    let mut projections: Vec<String> =
        event_sourced_cart::cart::Cart.projections().iter().map(|p| p.group_id().replace('-', "_")).collect();
    projections.sort();
    expected.extend(projections);
    assert_eq!(fields, expected);
    assert_eq!(json["anomalies"], serde_json::json!([]), "a clean history has no anomaly");
    assert_eq!(json["faults"], serde_json::json!([]));
    for field in ["cart_state", "revenue", "units_sold"] {
        assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
    }
    assert_eq!(json["units_sold"]["total_units"], 647);
    assert_eq!(json["units_sold"]["items"]["Bolt"], 100);
}

/// Runs the binary with stdout on a pipe whose reading end is already
/// closed: every write fails with a broken pipe, whatever the timing.
fn with_closed_stdout(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_event-sourced-cart"))
        .args(args)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_pipe_ends_quietly_with_the_verdict() {
    for args in [&[][..], &["replay", &canonical_file()][..], &["replay", &canonical_file(), "--json"][..]] {
        let out = with_closed_stdout(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stderr.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn a_full_disk_is_an_error_with_exit_code_3() {
    // /dev/full (every write fails with "no space left") exists on Linux,
    // where CI runs; elsewhere there is nothing to test this with.
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else { return };
    let out = Command::new(env!("CARGO_BIN_EXE_event-sourced-cart"))
        .args(["replay", &canonical_file(), "--json"])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write the report to standard output"), "{out:?}");
}

#[test]
fn json_errors_reach_stdout_as_an_object() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "{\"type\":\"Checkout\",\"cart_id\":\"a\"}\n[1]\n");
    let out = cart(&["replay", &file, "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["exit"], 2);
    assert!(json["error"].as_str().unwrap().contains("line 2: not a JSON object"), "{json}");
    let out = cart(&["replay", &file]);
    assert!(out.stdout.is_empty(), "text mode writes errors to stderr only");
}

#[test]
fn the_causes_of_unreadable_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let bom = write(&dir, "\u{feff}{\"type\":\"Checkout\",\"cart_id\":\"a\"}\n");
    let out = cart(&["replay", &bom]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1: the file starts with a byte-order mark"), "{out:?}");

    let cr_only = write(&dir, "{\"type\":\"Checkout\",\"cart_id\":\"a\"}\r{\"type\":\"Checkout\",\"cart_id\":\"b\"}\r");
    let out = cart(&["replay", &cr_only]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1: a carriage return (CR) inside the line"), "{out:?}");

    let crlf =
        write(&dir, "{\"type\":\"Checkout\",\"cart_id\":\"a\"}\r\n{\"type\":\"Checkout\",\"cart_id\":\"b\"}\r\n");
    assert_eq!(cart(&["replay", &crlf]).status.code(), Some(0), "CRLF line endings are fine");
}

#[test]
fn a_rejection_on_a_later_line_gives_only_the_column_and_counts_agree_in_number() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        "{\"format\":\"records\"}\n{\"key\":\"a\",\"json\":{\"type\":\"Checkout\",\"cart_id\":\"a\"}}\n\
         {\"key\":\"a\",\"text\":\"{\\\"type\\\":\\\"Checkout\\\",\\\"cart_id\\\":\\\"a\\\"\"}\n",
    );
    let out = cart(&["replay", &file]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("Replayed 2 events: 1 partition, split at []."), "{text}");
    assert!(text.contains("line 3: rejected record"), "{text}");
    assert!(text.contains("at column 32") && !text.contains("line 1 column"), "{text}");
}

#[test]
fn a_second_process_on_a_log_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path()).unwrap();
    // This test process holds the lock, as a running main job would.
    let lock = std::fs::File::create(dir.path().join(".projection-harness.lock")).unwrap();
    lock.try_lock().unwrap();
    let out = cart(&["--data-dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is in use by another process"), "{out:?}");
    assert!(!dir.path().join(".merkql").exists(), "nothing was created");
    drop(lock);
    assert!(cart(&["--data-dir", dir.path().to_str().unwrap()]).status.success(), "free once the lock is gone");
    assert!(!dir.path().join(".projection-harness.incomplete").exists(), "a finished run leaves no marker");
}

#[test]
fn a_log_left_by_a_killed_run_is_said_to_be_partial() {
    let dir = tempfile::tempdir().unwrap();
    // A log created and never marked complete: what `kill -9` leaves.
    drop(event_sourced_cart::log::MerkqlLog::create(dir.path(), event_sourced_cart::cart::TOPIC, 3).unwrap());
    let out = cart(&["--data-dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already holds a log written by a run that did not finish"), "{stderr}");
    assert!(stderr.contains("may be partial"), "{stderr}");
}

/// Whether `output` holds a character that could forge a line or move the
/// cursor, or a line planted by the input.
fn forged(output: &Output) -> Option<String> {
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let unsafe_char = text.chars().find(|&c| {
        (c.is_control() && c != '\n') || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    });
    if let Some(c) = unsafe_char {
        return Some(format!("raw {c:?} in\n{text}"));
    }
    text.lines().any(|l| l.starts_with("FORGED")).then(|| format!("a forged line in\n{text}"))
}

#[test]
fn no_input_text_reaches_any_output_raw() {
    let dir = tempfile::tempdir().unwrap();
    let event = r#"{"type":"Checkout","cart_id":"c"}"#;
    for evil in ["\nFORGED", "\u{1b}[2J", "\u{202e}x", "\u{2028}x", "\r\nFORGED", "\u{0}", "\u{9b}31m"] {
        let e = serde_json::to_string(evil).unwrap();
        let files = [
            format!(r#"{{"schedule":{{"partitions":1,{e}:1}}}}"#),
            format!(r#"{{"schedule":{{"partitions":1,"phases":[{{"produce":1,"crash":{e}}}]}}}}"#),
            format!("{{\"format\":\"records\"}}\n{{\"key\":\"c\",{e}:1}}"),
            format!("{{\"format\":{e}}}"),
            format!(r#"{{"type":{e},"cart_id":"c"}}"#),
            format!(r#"{{"type":"AddItem","cart_id":"c","item":"x","qty":{e},"price":1}}"#),
            format!(r#"{{"type":"AddItem","cart_id":{e},"item":{e},"qty":1,"price":1}}"#),
            format!("{{\"format\":\"records\"}}\n{{\"key\":{e},\"json\":{event}}}\n{{\"text\":{e}}}"),
            format!(r#"{{"type":"Checkout","cart_id":"c",{e}:1,{e}:2}}"#),
        ];
        for (i, text) in files.iter().enumerate() {
            let file = dir.path().join(format!("f{i}.jsonl"));
            std::fs::write(&file, format!("{text}\n{event}\n")).unwrap();
            for json in [false, true] {
                let args = [&["replay", file.to_str().unwrap()][..], if json { &["--json"] } else { &[] }].concat();
                let out = cart(&args);
                assert_ne!(out.status.code(), Some(101), "panic on {text:?}");
                assert_eq!(forged(&out), None, "file {text:?}, --json {json}");
            }
        }
        let path = dir.path().join(format!("missing{}", evil.replace('\0', "")));
        assert_eq!(forged(&cart(&["replay", path.to_str().unwrap()])), None, "path {evil:?}");
        let data_dir = dir.path().join(format!("log{}", evil.replace('\0', ""))).join("x");
        std::fs::create_dir_all(&data_dir).unwrap();
        std::fs::write(data_dir.join("occupied"), "").unwrap();
        assert_eq!(forged(&cart(&["--data-dir", data_dir.to_str().unwrap()])), None, "--data-dir {evil:?}");
    }
}

/// `replay` reading from a FIFO the test holds open, so that it is
/// certainly running (its scratch directory made, its input not yet at
/// its end) when the signal arrives; then the scratch directory is gone
/// and the exit code is 128 + the signal.
fn interrupted_replay_removes_its_scratch_log(signal: &str, code: i32) {
    let dir = tempfile::tempdir().unwrap();
    let (scratch, fifo) = (dir.path().join("scratch"), dir.path().join("events.fifo"));
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_event-sourced-cart"))
        .args(["replay", fifo.to_str().unwrap()])
        .env("HARNESS_SCRATCH_DIR", &scratch)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Opening for writing returns once the child opened it for reading,
    // which it does after making its scratch directory.
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    std::io::Write::write_all(&mut writer, b"{\"type\":\"Checkout\",\"cart_id\":\"c\"}\n").unwrap();
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 1, "one scratch log while it runs");
    assert!(Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    drop(writer);
    assert_eq!(status.code(), Some(code), "{signal}");
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0, "{signal}: the scratch log is removed");
}

#[test]
fn sigint_removes_the_scratch_log_and_exits_130() {
    interrupted_replay_removes_its_scratch_log("-INT", 130);
}

#[test]
fn sigterm_removes_the_scratch_log_and_exits_143() {
    interrupted_replay_removes_its_scratch_log("-TERM", 143);
}

#[test]
fn send_each_and_the_bulk_loader_give_the_same_replay() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = std::fs::read_to_string(canonical_file()).unwrap();
    // Keyless and wrongly keyed records too, in a records file.
    text = format!(
        "{{\"format\":\"records\"}}\n{}{{\"text\":\"no key\"}}\n{{\"key\":\"cart-9\",\"json\":{{\"type\":\"Checkout\",\"cart_id\":\"cart-1\"}}}}\n{{\"text\":\"no key again\"}}\n",
        text.lines()
            .map(|l| format!(
                "{{\"key\":{},\"json\":{l}}}\n",
                serde_json::to_string(&Cart.key_of_value(l).unwrap()).unwrap()
            ))
            .collect::<String>()
    );
    let file = write(&dir, &text);
    let args = ["replay", file.as_str(), "--partitions", "3", "--split-at", "10", "--split-at", "36", "--json"];
    let bulk = cart(&args);
    let each = cart(&[&args[..], &["--send-each"]].concat());
    assert_eq!(bulk.status.code(), Some(0), "{}", String::from_utf8_lossy(&bulk.stderr));
    assert_eq!(String::from_utf8(bulk.stdout).unwrap(), String::from_utf8(each.stdout).unwrap());
    // Off a terminal, no progress display: stderr stays empty.
    assert_eq!(String::from_utf8_lossy(&bulk.stderr), "");
}

#[test]
fn messages_quote_bounded_excerpts_of_long_input() {
    let dir = tempfile::tempdir().unwrap();
    let key = "k".repeat(100_000);
    let file = write(
        &dir,
        &format!(
            "{{\"format\":\"records\"}}\n{{\"key\":\"{key}\",\"json\":{{\"type\":\"Checkout\",\"cart_id\":\"a\"}}}}\n{{\"key\":\"a\",\"json\":{{\"type\":\"AddItem\",\"cart_id\":\"a\",\"item\":\"i\",\"qty\":1e308,\"price\":1}}}}\n{{\"key\":\"a\",\"{key}\":1}}\n"
        ),
    );
    let out = cart(&["replay", &file]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.len() < 2_200, "the error line is bounded: {} bytes", stderr.len());
    let ok = write(
        &dir,
        &format!(
            "{{\"format\":\"records\"}}\n{{\"key\":\"{key}\",\"json\":{{\"type\":\"Checkout\",\"cart_id\":\"a\"}}}}\n{{\"key\":\"a\",\"json\":{{\"type\":\"AddItem\",\"cart_id\":\"a\",\"item\":\"i\",\"qty\":1e308,\"price\":1}}}}\n"
        ),
    );
    let out = cart(&["replay", &ok]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let longest = text.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 700, "report lines are bounded: {longest} bytes");
    assert!(text.contains("field `qty` is a number of about 1e308"), "{text}");
}

#[test]
fn broken_headers_a_final_cr_and_an_unusable_scratch_dir_are_named() {
    let dir = tempfile::tempdir().unwrap();
    for (text, expected) in [
        ("{\"schedule\":{\"partitions\":2}\n", "line 1: a header line that is not one JSON object"),
        ("{\"schedule\":{\"partitions\":2},\"x\":1}\n", "line 1: a header line with the field \"x\""),
        ("{\"format\":\"records\",\"x\":1}\n", "line 1: a header line with the field \"x\""),
        ("{\"type\":\"Checkout\",\"cart_id\":\"a\"}\r", "line 1: a carriage return (CR) inside the line"),
    ] {
        let out = cart(&["replay", &write(&dir, text)]);
        assert_eq!(out.status.code(), Some(2), "{text:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(expected),
            "{text:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let file = write(&dir, "{\"type\":\"Checkout\",\"cart_id\":\"a\"}\n");
    let out = Command::new(env!("CARGO_BIN_EXE_event-sourced-cart"))
        .args(["replay", &file])
        .env("HARNESS_SCRATCH_DIR", dir.path().join("events.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("HARNESS_SCRATCH_DIR="),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn over_long_or_empty_paths_are_refused_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("a".repeat(300));
    let long = long.to_str().unwrap();
    for args in [
        vec!["--data-dir", long],
        vec!["project", "--data-dir", long],
        vec!["views", "--store", long],
        vec!["append", "--data-dir", "x", long],
        vec!["--data-dir", ""],
    ] {
        let out = cart(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("use at most 255") || stderr.contains("the path is empty"), "{stderr}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing was created");
    let out = Command::new(env!("CARGO_BIN_EXE_event-sourced-cart")).env("HARNESS_SCRATCH_DIR", long).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("HARNESS_SCRATCH_DIR") && stderr.contains("use at most 255"), "{stderr}");
}

#[test]
fn the_replay_report_of_a_fault_file_lists_its_faults_and_anomalies() {
    let file = format!("{}/data/anomalies/flip-payload-byte.jsonl", env!("CARGO_MANIFEST_DIR"));
    let out = cart(&["replay", "--durable", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\nFaults injected:\n  phase 1: flip-payload-byte: changed a byte"), "{text}");
    assert!(text.contains("(stopped in phase 3 with inconsistent-offsets;"), "{text}");
    assert!(text.contains("\nAnomalies found:\n"), "{text}");
    assert!(text.contains("No silent divergence:"), "{text}");
    assert!(!text.contains("Full replay and split replay agree"), "{text}");
    // A file without faults has none of these.
    let out = cart(&["replay", &canonical_file()]);
    let text = String::from_utf8(out.stdout).unwrap();
    for absent in ["Faults injected", "stopped in phase", "Anomalies found", "No silent divergence"] {
        assert!(!text.contains(absent), "{absent}: {text}");
    }
    assert!(text.contains("Full replay and split replay agree; every property holds."));
}

/// A panic the schedule injects is reported as `apply-panic`, not printed
/// as a panic trace: a passing run has a quiet stderr.
#[test]
fn injected_panics_are_reported_not_printed() {
    let file = format!("{}/data/anomalies/panic-in-apply.jsonl", env!("CARGO_MANIFEST_DIR"));
    for durable in [true, false] {
        let args: Vec<&str> = if durable { vec!["replay", "--durable", &file] } else { vec!["replay", &file] };
        let out = cart(&args);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "durable: {durable}");
        // The durable runner retries the phase from its store; the
        // in-memory one stops, named.
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.contains("the runner stopped in phase 1: projection"), !durable, "{stdout}");
        assert!(stdout.contains("panic-in-apply"), "{stdout}");
    }
}

/// A command line that does not parse is answered in the form it asked
/// for: clap's text on stderr, or with `--json` anywhere in it, one JSON
/// object on stdout.
#[test]
fn an_unparsable_command_line_answers_in_text_unless_json_is_asked_for() {
    let text = cart(&["replay", "--bogus"]);
    assert_eq!(text.status.code(), Some(2));
    assert!(text.stdout.is_empty(), "{}", String::from_utf8_lossy(&text.stdout));
    let stderr = String::from_utf8_lossy(&text.stderr);
    assert!(stderr.starts_with("error: unexpected argument '--bogus'"), "{stderr}");
    assert!(stderr.contains("Usage: event-sourced-cart replay"), "{stderr}");

    let json = cart(&["replay", "--bogus", "--json"]);
    assert_eq!(json.status.code(), Some(2));
    let answer: serde_json::Value = serde_json::from_slice(&json.stdout).expect("one JSON object on stdout");
    assert_eq!(answer["error"], "unexpected argument '--bogus' found");
    assert_eq!(answer["exit"], 2);
}

/// `--kafka` takes host:port entries, as `KAFKA_BOOTSTRAP` does (one rule),
/// and not together with a merkql directory.
#[test]
fn kafka_addresses_are_checked_before_anything_runs() {
    for args in [&["--kafka", "localhost"][..], &["replay", &canonical_file(), "--kafka", "host:0"][..]] {
        let out = cart(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("is not host:port"), "{args:?}: {stderr}");
    }
    let out = cart(&["--kafka", "localhost:9092", "--data-dir", "/nonexistent/x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}

/// A build without the `kafka` feature says how to get the backend.
#[cfg(not(feature = "kafka"))]
#[test]
fn kafka_without_the_feature_says_how_to_build_it() {
    for args in [&["--kafka", "localhost:9092"][..], &["replay", &canonical_file(), "--kafka", "localhost:9092"][..]] {
        let out = cart(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--features kafka"), "{args:?}: {stderr}");
    }
}

#[test]
fn replay_html_writes_the_timeline_page_and_keeps_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("failure.html");
    let file = format!("{}/data/anomalies/flip-payload-byte.jsonl", env!("CARGO_MANIFEST_DIR"));
    let out = cart(&["replay", &file, "--durable", "--html", page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.ends_with(&format!("Timeline page: {}\n", page.display())), "{text}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("fault <b>flip-payload-byte</b>"), "the fault is on the page");
    assert!(html.contains(&format!("replay {file} --durable</code>")), "with the command that replays it, no --html");
    let json = cart(&["replay", &file, "--durable", "--json", "--html", page.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("the JSON keeps its shape");
    assert_eq!(report["agree"], true);
}

#[test]
fn replay_html_refuses_before_the_run_a_page_it_cannot_write_or_the_input_itself() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "{\"type\":\"Checkout\",\"cart_id\":\"c1\"}\n");
    let missing_dir = dir.path().join("no-such-dir").join("page.html");
    let out = cart(&["replay", &file, "--html", missing_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "no report: nothing ran");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot write the timeline page to") && stderr.contains("writable directory"), "{stderr}");
    let before = std::fs::read(&file).unwrap();
    let out = cart(&["replay", &file, "--html", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is the file being replayed"));
    assert_eq!(std::fs::read(&file).unwrap(), before, "the input is untouched");
}

#[test]
fn replay_html_that_cannot_be_written_after_the_run_keeps_the_report_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "{\"type\":\"Checkout\",\"cart_id\":\"c1\"}\n");
    // /dev/full opens for writing and fails every write (ENOSPC).
    let out = cart(&["replay", &file, "--html", "/dev/full"]);
    assert_eq!(out.status.code(), Some(3), "the output could not be written");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("every property holds"), "the report stands: {report}");
    assert!(!report.contains("Timeline page:"), "{report}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write the timeline page to /dev/full"));
}
