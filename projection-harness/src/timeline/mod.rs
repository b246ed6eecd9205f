//! A timeline page of one execution: a single, self-contained HTML file
//! (no script, no network, its style inline) that shows what happened and
//! what the checker found, in the manner of Jepsen's `timeline.html`.
//!
//! - one lane per partition with its records in offset order, by the
//!   phase that produced them (rejected records carry their reason, the
//!   records a fault hit are marked);
//! - one lane per group (incremental, late, full replay) with each phase's
//!   poll: what it returned against what was due, what it applied,
//!   skipped and rejected, its commit and checkpoint, crashed polls,
//!   retries, and where it stopped;
//! - the schedule's faults, restarts and reopens above the phase they
//!   come before;
//! - every violation and anomaly, with its explanation: choosing one
//!   (a radio button: the page needs no script) lights the records and
//!   positions it names in both kinds of lane (an anomaly names its first
//!   ten; a finding says how many more it involves);
//! - the views that differ, side by side, the differing lines marked;
//! - the command that replays the case, and its seed and case index.
//!
//! A page stays small whatever the history: a partition cell draws at
//! most 200 records and a page 4,000 (records a finding lights are always
//! drawn), a list of positions 200 runs, a pair of views 400 rows; what is
//! left out is counted where it was left out.
//!
//! Every text that comes from the input (keys, values, names, messages
//! quoting them) is escaped, and the page's content
//! security policy forbids scripts and any fetch, so a record holding
//! markup shows as text.
//!
//! ```
//! use projection_harness::example::Counters;
//! use projection_harness::log::MerkqlLog;
//! use projection_harness::timeline::Timeline;
//! use projection_harness::verify::check::check_all;
//! use projection_harness::verify::{Production, Schedule, execute};
//! use projection_harness::domain::HistoryRecord;
//!
//! let dir = tempfile::tempdir()?;
//! let mut log = MerkqlLog::create(dir.path(), "counter-events", 2)?;
//! let history = vec![HistoryRecord { key: Some("c1".into()), value: r#"{"counter":"c1","add":3}"#.into() }];
//! let schedule = Schedule::split_at(2, &[1], history.len())?;
//! let execution = execute(&Production(Counters), &history, &schedule, &mut log)?;
//! let violations = check_all(&execution);
//! let page = Timeline::new(&execution, &schedule, &violations)
//!     .replay_command("cargo run -- replay case.jsonl")
//!     .html();
//! assert!(page.starts_with("<!DOCTYPE html>"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod findings;
mod html;
mod lanes;
#[cfg(test)]
mod tests;
mod views;

use crate::domain::Domain;
use crate::verify::check::Violation;
use crate::verify::execute::Execution;
use crate::verify::schedule::Schedule;
use findings::{Finding, What, findings};
use html::{Page, text};
use std::path::Path;

/// A finding's detail longer than this many lines starts folded.
const FOLDED_DETAIL_LINES: usize = 6;

/// The page's style: plain CSS, no font or image to fetch.
const STYLE: &str = include_str!("page.css");

/// A page of one execution and the violations found in it.
pub struct Timeline<'a, D: Domain> {
    execution: &'a Execution<D>,
    schedule: &'a Schedule,
    violations: &'a [Violation],
    title: Option<String>,
    command: Option<String>,
    case: Option<(u64, u64)>,
}

impl<'a, D: Domain> Timeline<'a, D> {
    /// The page of `execution`, run under `schedule`, with `violations`
    /// (those the checks found; empty for a run that passed).
    pub fn new(execution: &'a Execution<D>, schedule: &'a Schedule, violations: &'a [Violation]) -> Self {
        Timeline { execution, schedule, violations, title: None, command: None, case: None }
    }

    /// What the page is about (the file, the property), shown as its title.
    pub fn title(mut self, title: &str) -> Self {
        self.title = Some(title.to_string());
        self
    }

    /// The command line that replays the case.
    pub fn replay_command(mut self, command: &str) -> Self {
        self.command = Some(command.to_string());
        self
    }

    /// The campaign seed and case index the case was drawn with.
    pub fn case(mut self, seed: u64, index: u64) -> Self {
        self.case = Some((seed, index));
        self
    }

    /// The page, as HTML text.
    pub fn html(&self) -> String {
        let (findings, unlisted) = findings(self.execution, self.violations);
        let focus = default_focus(&findings);
        let mut page = Page::default();
        let title = self.title.as_deref().unwrap_or("an execution");
        page.markup(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Timeline: ",
        );
        page.text(title).markup("</title><style>").markup(STYLE);
        highlight_rules(&mut page, findings.len());
        page.markup("</style></head><body>");
        self.header(&mut page, title, &findings);
        page.markup("<section id=\"findings\"><h2>What the checker found</h2>");
        write_findings(&mut page, &findings, unlisted, focus);
        page.markup("</section><section id=\"timeline\"><h2>Timeline</h2>");
        page.markup(
            "<p class=\"legend\">Columns are phases, left to right: each produces its records, then every group polls. \
             <span class=\"rec\">@3</span> a record at offset 3 (its key in italics; hover for its value), \
             <span class=\"rec rejected\">dashed</span> rejected, <span class=\"rec faulted\">⚡</span> hit by a fault, \
             <span class=\"pos\">p1@0..2</span> partition 1, offsets 0 to 2. \
             <span class=\"lit-sample\">Lit</span>: involved in the finding chosen above.</p>",
        );
        lanes::Lanes::new(self.execution, self.schedule, &findings).write(&mut page);
        page.markup("</section><section id=\"views\"><h2>Views that differ</h2>");
        views::write(&mut page, &views::pairs(self.execution, self.violations));
        page.markup("</section></body></html>\n");
        page.into_string()
    }

    /// Writes the page to `path`.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.html())
    }

    fn header(&self, page: &mut Page, title: &str, findings: &[Finding]) {
        let anomalies = findings.iter().filter(|f| f.what == What::Anomaly).count();
        let (class, verdict) = match (self.violations.len(), anomalies) {
            (0, 0) => ("pass", "every property holds".to_string()),
            (0, 1) => ("pass", "no violation; 1 anomaly named".to_string()),
            (0, n) => ("pass", format!("no violation; {n} anomalies named")),
            (v, _) => ("fail", crate::text::count(v as u64, "violation")),
        };
        page.markup("<header><h1 class=\"").markup(class).markup("\">");
        page.text(title).markup(": ").markup(&verdict).markup("</h1><p class=\"summary\">");
        let records = self.execution.produced.len();
        page.format(format_args!(
            "{} in {}, {} then the final phase and a full replay.",
            crate::text::count(records as u64, "record"),
            crate::text::count(self.schedule.partitions(), "partition"),
            crate::text::count(self.schedule.phases().len() as u64, "phase"),
        ));
        if let Some((seed, index)) = self.case {
            page.format(format_args!(" Seed <code>{seed}</code>, case <code>{index}</code>."));
        }
        page.markup("</p>");
        if let Some(command) = &self.command {
            page.markup("<p class=\"replay\">Replay it: <code>").text(command).markup("</code></p>");
        }
        page.markup("</header>");
    }
}

/// The finding lit when the page opens: the first violation that names
/// records, or else the first violation, or else the first anomaly of a
/// group that names records, or else the first that names records.
fn default_focus(findings: &[Finding]) -> Option<usize> {
    let violation = |f: &Finding| f.what == What::Violation;
    findings
        .iter()
        .position(|f| violation(f) && !f.positions.is_empty())
        .or_else(|| findings.iter().position(violation))
        .or_else(|| findings.iter().position(|f| !f.groups.is_empty() && !f.positions.is_empty()))
        .or_else(|| findings.iter().position(|f| !f.positions.is_empty()))
        .or(if findings.is_empty() { None } else { Some(0) })
}

/// One rule per finding: when its radio button is checked, the records,
/// positions and steps that carry its number are lit, and the lanes of
/// the groups it concerns are marked; `all` lights every finding's.
fn highlight_rules(page: &mut Page, count: usize) {
    let lit = "{background:var(--lit);outline:2px solid var(--lit-edge)}";
    let lane = "{background:var(--lane);box-shadow:inset 5px 0 0 var(--lit-edge)}";
    for i in 0..count {
        page.format(format_args!("body:has(#focus-{i}:checked) td [data-f~=\"{i}\"]{lit}"));
        page.format(format_args!("body:has(#focus-{i}:checked) th[data-f~=\"{i}\"]{lane}"));
    }
    page.format(format_args!("body:has(#focus-all:checked) td [data-f]{lit}"));
    page.format(format_args!("body:has(#focus-all:checked) th[data-f]{lane}"));
}

/// The findings, each with its radio button, then how many more were not
/// listed.
fn write_findings(page: &mut Page, findings: &[Finding], unlisted: usize, focus: Option<usize>) {
    if findings.is_empty() {
        page.markup("<p>Nothing: every property holds and the history checker named no anomaly.</p>");
        return;
    }
    page.markup(
        "<p class=\"hint\">Choose one to light the records it involves in the timeline.</p><ol class=\"findings\">",
    );
    for (i, finding) in findings.iter().enumerate() {
        let checked = if focus == Some(i) { " checked" } else { "" };
        page.format(format_args!(
            "<li class=\"finding {}\"><input type=\"radio\" name=\"focus\" id=\"focus-{i}\"{checked}><label for=\"focus-{i}\"><span class=\"what\">{}</span> <b>{}</b>",
            finding.what.name(), finding.what.name(), text(&finding.name)
        ));
        if !finding.groups.is_empty() {
            let groups: Vec<String> = finding.groups.iter().map(|g| text(g).into_owned()).collect();
            page.format(format_args!(" · {}", groups.join(", ")));
        }
        if let Some(phase) = finding.phase {
            page.format(format_args!(" · phase {phase}"));
        }
        if !finding.positions.is_empty() {
            page.format(format_args!(" · <span class=\"pos\">{}</span>", crate::record::Positions(&finding.positions)));
        }
        if finding.count > finding.positions.len() {
            // Anomalies keep their first positions, a page lights its
            // first ones: say that the rest exist.
            let more = finding.count - finding.positions.len();
            page.format(format_args!(" and {more} more, not lit"));
        }
        // The first line says what differs; the detail (lists, a diff
        // that the views section also shows) folds when it is long.
        let (first, detail) = finding.text.split_once('\n').unwrap_or((&finding.text, ""));
        page.markup("</label><pre>").text(first).markup("</pre>");
        if !detail.is_empty() {
            let open = if detail.lines().count() <= FOLDED_DETAIL_LINES { " open" } else { "" };
            page.format(format_args!(
                "<details class=\"detail\"{open}><summary>detail</summary><pre>{}</pre></details>",
                html::lines(detail)
            ));
        }
        // An anomaly's meaning is said once, at its first finding.
        let explained_before = findings[..i].iter().any(|f| f.explanation == finding.explanation);
        if let (Some(explanation), false) = (finding.explanation, explained_before) {
            page.markup("<p class=\"explanation\">").text(explanation).markup("</p>");
        }
        page.markup("</li>");
    }
    page.markup("<li class=\"finding all\"><input type=\"radio\" name=\"focus\" id=\"focus-all\"><label for=\"focus-all\">light every finding at once</label></li></ol>");
    if unlisted > 0 {
        page.format(format_args!(
            "<p class=\"hint\">… and {unlisted} more not listed (a page lists {}); the text and JSON reports name them all.</p>",
            findings::MAX_FINDINGS
        ));
    }
}
