//! Replay files: a history and, optionally, the schedule that ran it. The
//! same format is read by the `replay` command and written by the
//! property tests for every shrunk failure.
//!
//! Two formats, told apart by the first line:
//!
//! **Records** (what failing properties write): a header line with
//! `"format":"records"`, then one record per line with its key and its raw
//! value, byte for byte. `json` holds a value that is one line of JSON,
//! verbatim; `text` holds any other value as a JSON string; a record
//! without `key` has no key.
//! ```text
//! {"format":"records","schedule":{"partitions":2,"phases":[{"produce":1,"crash":"BeforeCommit"}]}}
//! {"key":"c1","json":{"counter":"c1","add":2}}
//! {"key":"other","json":{"counter":"c1","add":-1}}
//! {"key":"c1","text":"{\"counter\":\"c1\""}
//! {"text":"not json at all"}
//! ```
//!
//! **Plain** (hand-written): one record value per line, produced verbatim
//! under the key the domain reads from it ([`Domain::key_of_value`]; for
//! the counters of [`crate::example`], the `counter`), optionally headed by
//! `{"schedule":{...}}`.
//!
//! In both, blank lines are skipped and lines end with LF or CRLF; a CR
//! anywhere else in a line, or a leading byte-order mark, is an error that
//! names the cause. A line holds at most [`MAX_LINE_BYTES`], a file at most
//! [`MAX_RECORDS`] records.

use super::schedule::Schedule;
use crate::domain::{Domain, HistoryRecord};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::io::{BufRead, Read};
use std::path::PathBuf;

/// Most records one replay file may hold (explicit bound).
pub const MAX_RECORDS: usize = 1_000_000;

/// The `format` of a records file's header.
const RECORDS_FORMAT: &str = "records";

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

/// The first line of a records file, or of a plain file with a schedule.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schedule: Option<Schedule>,
}

/// One line of a records file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordLine<'a> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    /// `Some` even for a `null` value (serde reads a plain `Option` of
    /// `null` as `None`).
    #[serde(default, borrow, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    json: Option<&'a RawValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
}

/// Longest line a replay file may hold, in bytes, without its line end.
/// Lines are read with this bound, so a file without line ends
/// (`/dev/zero`) is refused after reading this much, never read whole.
pub const MAX_LINE_BYTES: usize = 4 << 20;

/// Parses a replay file held in memory; see [`read`].
pub fn parse<D: Domain>(domain: &D, text: &str) -> Result<ReplayFile, InputError> {
    read(domain, text.as_bytes())
}

/// Reads a replay file line by line, each line read with a bound of
/// [`MAX_LINE_BYTES`] and checked before the next is read, so reading
/// stops at the first line that breaks a limit and memory stays
/// proportional to what was accepted. Plain lines are keyed by `domain`; a
/// line that cannot be keyed, or any malformed line, is an error naming
/// the line.
pub fn read<D: Domain>(domain: &D, mut reader: impl BufRead) -> Result<ReplayFile, InputError> {
    let mut file = ReplayFile { history: Vec::new(), lines: Vec::new(), schedule: None };
    let mut records_format = false;
    let mut seen_first = false;
    let mut bytes = Vec::new();
    for line in 1.. {
        let fail = |message: String| InputError { line, message };
        bytes.clear();
        let read = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 2)
            .read_until(b'\n', &mut bytes)
            .map_err(|e| fail(format!("cannot read it ({e})")))?;
        if read == 0 {
            break;
        }
        // LF or CRLF ends a line; a CR before the end of the file without
        // an LF after it is a CR line ending (refused below).
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        if bytes.len() > MAX_LINE_BYTES {
            return Err(fail(format!(
                "the line is longer than {MAX_LINE_BYTES} bytes (is this a replay file?); split long values or check the file"
            )));
        }
        let value = std::str::from_utf8(&bytes).map_err(|_| fail("not valid UTF-8; save the file as UTF-8".into()))?;
        if line == 1 && value.starts_with('\u{feff}') {
            return Err(fail("the file starts with a byte-order mark (U+FEFF); save it as UTF-8 without a BOM".into()));
        }
        if value.contains('\r') {
            return Err(fail(
                "a carriage return (CR) inside the line: the file seems to use CR line endings; convert them to LF or CRLF"
                    .into(),
            ));
        }
        if value.trim().is_empty() {
            continue;
        }
        let first = !seen_first;
        seen_first = true;
        if first && let Some(header) = header(value).map_err(fail)? {
            records_format = header.format.is_some();
            file.schedule = header.schedule;
            continue;
        }
        if file.history.len() >= MAX_RECORDS {
            return Err(fail(format!("more than {MAX_RECORDS} records; split the file")));
        }
        let record = if records_format { record_line(value) } else { plain_line(domain, value) }.map_err(fail)?;
        file.history.push(record);
        file.lines.push(line);
    }
    Ok(file)
}

/// The header, if `value` is one: an object whose keys are only `format`
/// and `schedule` (a plain event never is).
fn header(value: &str) -> Result<Option<Header>, String> {
    // A line that starts like a header is one, or it is an error that says
    // why (not a plain record that happens to lack a key field).
    let looks_like_header = ["{\"format\"", "{\"schedule\""].iter().any(|start| value.trim_start().starts_with(start));
    // Only the field names are kept: a long line costs no more than itself.
    let object = match serde_json::from_str::<std::collections::BTreeMap<String, serde::de::IgnoredAny>>(value) {
        Ok(object) => object,
        Err(e) if looks_like_header => {
            return Err(format!("a header line that is not one JSON object ({})", without_line(&e)));
        }
        Err(_) => return Ok(None),
    };
    let is_header = !object.is_empty() && object.keys().all(|k| k == "format" || k == "schedule");
    if !is_header {
        if looks_like_header {
            let other = object.keys().find(|k| *k != "format" && *k != "schedule").map_or("", String::as_str);
            return Err(format!(
                "a header line with the field {}; a header holds only \"format\" and \"schedule\"",
                crate::text::quoted_excerpt(other, 64)
            ));
        }
        return Ok(None);
    }
    let header: Header =
        serde_json::from_str(value).map_err(|e| format!("bad schedule line ({})", without_line(&e)))?;
    match header.format.as_deref() {
        None | Some(RECORDS_FORMAT) => Ok(Some(header)),
        Some(other) => Err(format!(
            "unknown format {}; this version reads \"{RECORDS_FORMAT}\" files and plain files",
            crate::text::quoted(other)
        )),
    }
}

fn record_line(value: &str) -> Result<HistoryRecord, String> {
    let line: RecordLine = serde_json::from_str(value).map_err(|e| {
        format!(
            "not a record line ({}); write {{\"key\":\"...\",\"json\":...}} or {{\"key\":\"...\",\"text\":\"...\"}}",
            without_line(&e)
        )
    })?;
    let value = match (line.json, line.text) {
        (Some(json), None) => json.get().to_string(),
        (None, Some(text)) => text,
        _ => return Err("a record line holds exactly one of \"json\" and \"text\"".into()),
    };
    Ok(HistoryRecord { key: line.key, value })
}

fn plain_line<D: Domain>(domain: &D, value: &str) -> Result<HistoryRecord, String> {
    if value.trim_start().starts_with("{\"schedule\"") {
        return Err("a schedule line must be the first line, and there is at most one".into());
    }
    let key = domain.key_of_value(value)?;
    Ok(HistoryRecord { key: Some(key), value: value.to_string() })
}

/// serde_json's message without its "line 1" (each replay line is parsed
/// alone, so only the column means something), escaped: serde quotes an
/// unknown field or variant name verbatim.
fn without_line(e: &serde_json::Error) -> String {
    crate::text::escaped(&e.to_string()).replace(" at line 1 column ", " at column ")
}

/// Renders a history and its schedule as a records file: every key and
/// value exactly, so that parsing it gives back the same case.
pub fn render(history: &[HistoryRecord], schedule: &Schedule) -> String {
    let header = Header { format: Some(RECORDS_FORMAT.to_string()), schedule: Some(schedule.clone()) };
    let mut out = serde_json::to_string(&header).unwrap_or_default();
    out.push('\n');
    for record in history {
        let verbatim = verbatim_json(&record.value);
        let line = RecordLine {
            key: record.key.clone(),
            json: verbatim,
            text: if verbatim.is_some() { None } else { Some(record.value.clone()) },
        };
        // Strings and raw JSON always serialize.
        out.push_str(&serde_json::to_string(&line).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// `value` as raw JSON if it reads back byte for byte from a `json` field:
/// one JSON value, on one line, with no surrounding whitespace.
fn verbatim_json(value: &str) -> Option<&RawValue> {
    if value.contains(['\n', '\r']) || value.trim() != value {
        return None;
    }
    let raw: &RawValue = serde_json::from_str(value).ok()?;
    (raw.get() == value).then_some(raw)
}

/// Writes a failing case as `<failures dir>/<name>.jsonl` and returns its
/// path. Each failure of a property overwrites the last, so after
/// shrinking the file holds the minimal case.
pub fn write_failure(name: &str, history: &[HistoryRecord], schedule: &Schedule) -> std::io::Result<PathBuf> {
    let settings =
        crate::settings::Settings::get().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    std::fs::create_dir_all(&settings.failures_dir)?;
    let path = settings.failures_dir.join(format!("{name}.jsonl"));
    std::fs::write(&path, render(history, schedule))?;
    Ok(path)
}
