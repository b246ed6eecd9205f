//! Replay files: a history as JSON lines, optionally headed by the schedule
//! that ran it. The same format is read by `event-sourced-cart replay` and
//! written by the property tests for every shrunk failure.
//!
//! ```text
//! {"schedule":{"partitions":2,"phases":[{"produce":3,"crash":"BeforeCommit"}]}}
//! {"type":"AddItem","cart_id":"c1","item":"Widget","qty":2,"price":9.99}
//! {"type":"Checkout","cart_id":"c1"}
//! ```
//! Every other line is one record value, produced verbatim and keyed by its
//! `cart_id`. Blank lines are skipped.

use super::execute::HistoryRecord;
use super::schedule::Schedule;
use std::path::{Path, PathBuf};

/// Most records one replay file may hold (explicit bound).
pub const MAX_RECORDS: usize = 1_000_000;

/// A parsed replay file.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayFile {
    pub history: Vec<HistoryRecord>,
    /// 1-based line number of each history record.
    pub lines: Vec<usize>,
    pub schedule: Option<Schedule>,
}

/// What is wrong with a line of a replay file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct InputError {
    pub line: usize,
    pub message: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    schedule: Schedule,
}

/// Parses a replay file. A line that is not a JSON object, or has no string
/// `cart_id` to key its record by, is an error naming the line.
pub fn parse(text: &str) -> Result<ReplayFile, InputError> {
    let mut file = ReplayFile { history: Vec::new(), lines: Vec::new(), schedule: None };
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let fail = |message: String| InputError { line, message };
        let value = raw.trim_end_matches('\r');
        if value.trim().is_empty() {
            continue;
        }
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(value)
            .map_err(|e| fail(format!("not a JSON object ({}); write one event object per line", without_line(&e))))?;
        if object.contains_key("schedule") && !object.contains_key("type") {
            if file.schedule.is_some() || !file.history.is_empty() {
                return Err(fail("a schedule line must be the first line, and there is at most one".into()));
            }
            let header: Header =
                serde_json::from_str(value).map_err(|e| fail(format!("bad schedule ({})", without_line(&e))))?;
            header.schedule.validate().map_err(|m| fail(format!("bad schedule: {m}")))?;
            file.schedule = Some(header.schedule);
            continue;
        }
        let Some(serde_json::Value::String(cart_id)) = object.get("cart_id") else {
            return Err(fail("no string \"cart_id\" to key the record by; every event names its cart".into()));
        };
        if file.history.len() >= MAX_RECORDS {
            return Err(fail(format!("more than {MAX_RECORDS} records; split the file")));
        }
        file.history.push(HistoryRecord { key: Some(cart_id.clone()), value: value.to_string() });
        file.lines.push(line);
    }
    Ok(file)
}

/// serde_json's message without its "line 1" (each replay line is parsed
/// alone, so only the column means something).
fn without_line(e: &serde_json::Error) -> String {
    e.to_string().replace(" at line 1 column ", " at column ")
}

/// Renders a history and its schedule as a replay file.
pub fn render(history: &[HistoryRecord], schedule: &Schedule) -> String {
    let header = serde_json::json!({ "schedule": schedule });
    let mut out = header.to_string();
    out.push('\n');
    for record in history {
        out.push_str(&record.value);
        out.push('\n');
    }
    out
}

/// Where failing cases are written: `$CART_FAILURES_DIR`, else
/// `target/failures` under the package root (the working directory of
/// `cargo test`).
pub fn failures_dir() -> PathBuf {
    std::env::var_os("CART_FAILURES_DIR").map(PathBuf::from).unwrap_or_else(|| Path::new("target").join("failures"))
}

/// Writes a failing case as `<dir>/<name>.jsonl` and returns its path.
/// Each failure of a property overwrites the last, so after shrinking the
/// file holds the minimal case.
pub fn write_failure(name: &str, history: &[HistoryRecord], schedule: &Schedule) -> std::io::Result<PathBuf> {
    let dir = failures_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.jsonl"));
    std::fs::write(&path, render(history, schedule))?;
    Ok(path)
}
