//! `replay`'s reports: the text report and the `--json` object, from a
//! finished replay of a domain's file. Every piece of input-derived text goes
//! through [`crate::text`] (names in views, rejected records, violations);
//! the JSON form is escaped by serde_json and [`crate::text::json_escaped`].

use crate::domain::{AnyView, Domain, Rejected};
use crate::text::quoted_if_needed;
use crate::verify::Schedule;
use crate::verify::replay::Verdict;
use crate::verify::replay_file::ReplayFile;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The records the full replay rejected, in the order of the file (a
/// poll's partition blocks come in an order merkql chooses, so arrival
/// order would make the report differ from run to run).
fn rejected_in_file_order<'a, D: Domain>(
    file: &'a ReplayFile,
    verdict: &'a Verdict<D>,
) -> Vec<&'a Rejected<D::Rejection>> {
    let line_of = line_of(file, verdict);
    let mut rejected: Vec<&Rejected<D::Rejection>> =
        verdict.execution.full.first().map(|t| t.rejected.iter().collect()).unwrap_or_default();
    rejected.sort_by_key(|r| (line_of(r), r.partition, r.offset));
    rejected
}

/// The line of the file each rejected record came from.
fn line_of<'a, D: Domain>(
    file: &'a ReplayFile,
    verdict: &'a Verdict<D>,
) -> impl Fn(&Rejected<D::Rejection>) -> Option<usize> + 'a {
    let by_position: HashMap<(u32, u64), usize> = verdict
        .execution
        .produced
        .iter()
        .zip(&file.lines)
        .map(|((p, _), line)| ((p.partition, p.offset), *line))
        .collect();
    move |r| by_position.get(&(r.partition, r.offset)).copied()
}

/// The text report: the header, rejected records by line, each
/// projection's full-replay view, then the verdict.
pub fn text_report<D: Domain>(
    file: &ReplayFile,
    schedule: &Schedule,
    verdict: &Verdict<D>,
    view_text: ViewText,
) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let events = file.history.len();
    let _ = writeln!(
        out,
        "Replayed {}: {}, split at {:?}.",
        crate::text::count(events as u64, "event"),
        crate::text::count(schedule.partitions(), "partition"),
        schedule.split_points(events)
    );
    let line_of = line_of(file, verdict);
    for r in rejected_in_file_order(file, verdict) {
        let _ = match line_of(r) {
            Some(line) => writeln!(out, "line {line}: {r}"),
            None => writeln!(out, "{r}"),
        };
    }
    let execution = &verdict.execution;
    if !execution.faults.is_empty() {
        let _ = writeln!(out, "\nFaults injected:");
        for injected in &execution.faults {
            let _ = writeln!(out, "  phase {}: {}: {}", injected.phase, injected.fault.name(), injected.effect);
        }
    }
    for trace in &execution.full {
        let title = capitalized(&title(&trace.projection));
        let _ = writeln!(out, "\n{title} (full replay):");
        if let Some(stop) = &trace.stopped {
            let _ = writeln!(
                out,
                "  (stopped in phase {} with {}; the view is what it had applied)",
                stop.phase, stop.anomaly
            );
        }
        out.push_str(&indented(&view_text(&trace.view)));
    }
    if !execution.anomalies.is_empty() {
        let _ = writeln!(out, "\nAnomalies found:");
        for anomaly in &execution.anomalies {
            let _ = writeln!(out, "  {}", quoted_if_needed_lines(&anomaly.to_string()));
        }
    }
    let _ = writeln!(out);
    if verdict.violations.is_empty() && schedule.has_faults() {
        let _ = writeln!(
            out,
            "No silent divergence: every group equals the model, stopped with a named anomaly, or lacks only what the log lost; no runner anomaly."
        );
    } else if verdict.violations.is_empty() {
        let _ = writeln!(out, "Full replay and split replay agree; every property holds.");
    }
    for v in &verdict.violations {
        let _ = writeln!(out, "VIOLATION: {}", quoted_if_needed_lines(&v.to_string()));
    }
    out
}

/// How a domain shows one view in a report: text ending with a newline.
pub type ViewText = fn(&AnyView) -> String;

/// A view as pretty JSON: how a domain with no report of its own shows it.
pub fn json_view_text(view: &AnyView) -> String {
    view.to_json_pretty() + "\n"
}

/// A projection's title from its group id: `order-state` is "order state".
pub fn title(group_id: &str) -> String {
    crate::text::name(group_id).replace('-', " ")
}

/// `text` with its first letter in upper case: "Order state".
pub fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// `text` with every line indented by two spaces: in the replay report a
/// line at the left margin is always the harness's own (a header, a
/// rejected record's `line N:`, `VIOLATION:`), never one that starts with
/// a name read from the input (an entity named `VIOLATION` would
/// otherwise print `VIOLATION: 1 items, ...`).
pub fn indented(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}

/// A violation's text: its lines are the harness's own (diffs span lines),
/// but each line's input-derived parts are already quoted by the checks.
fn quoted_if_needed_lines(text: &str) -> String {
    text.lines().map(|line| quoted_if_needed(line).into_owned()).collect::<Vec<_>>().join("\n")
}

/// The `--json` shape of `replay` (documented in docs/reference.md,
/// "Output"): fixed fields, then one field per projection, named by its
/// group id with `_` for `-`.
#[derive(Serialize)]
struct ReplayJson<'a> {
    events: usize,
    partitions: u32,
    split_at: Vec<usize>,
    agree: bool,
    violations: Vec<String>,
    /// What the history checker found (empty when all is well).
    anomalies: &'a [crate::anomaly::Anomaly],
    /// The faults the schedule injected and what each did.
    faults: Vec<FaultJson<'a>>,
    rejected: Vec<RejectedJson>,
    #[serde(flatten)]
    views: BTreeMap<String, &'a AnyView>,
}

#[derive(Serialize)]
struct FaultJson<'a> {
    phase: usize,
    #[serde(flatten)]
    fault: &'a crate::log::Fault,
    effect: &'a str,
}

#[derive(Serialize)]
struct RejectedJson {
    topic: String,
    partition: u32,
    offset: u64,
    line: Option<usize>,
    error: String,
}

/// The `--json` object; an error only if a view does not serialize.
pub fn json_report<D: Domain>(
    file: &ReplayFile,
    schedule: &Schedule,
    verdict: &Verdict<D>,
) -> Result<String, serde_json::Error> {
    let events = file.history.len();
    let line_of = line_of(file, verdict);
    let full = &verdict.execution.full;
    let out = ReplayJson {
        events,
        partitions: schedule.partitions(),
        split_at: schedule.split_points(events),
        agree: verdict.violations.is_empty(),
        violations: verdict.violations.iter().map(ToString::to_string).collect(),
        anomalies: &verdict.execution.anomalies,
        faults: verdict
            .execution
            .faults
            .iter()
            .map(|f| FaultJson { phase: f.phase, fault: &f.fault, effect: &f.effect })
            .collect(),
        rejected: rejected_in_file_order(file, verdict)
            .into_iter()
            .map(|r| RejectedJson {
                topic: r.topic.clone(),
                partition: r.partition,
                offset: r.offset,
                line: line_of(r),
                error: r.error.to_string(),
            })
            .collect(),
        views: full.iter().map(|t| (t.projection.replace('-', "_"), &t.view)).collect(),
    };
    // Serialized directly (not through serde_json::Value, which cannot hold
    // the u128 totals above u64::MAX). Views are plain data.
    serde_json::to_string_pretty(&out).map(|text| crate::text::json_escaped(&text).into_owned() + "\n")
}
