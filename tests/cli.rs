//! The binary, as a user runs it: the main job and `replay`.

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
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a merkql log"));
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
