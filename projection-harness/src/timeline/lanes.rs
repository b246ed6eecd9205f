//! The timeline itself: one column per phase (then the full replay), one
//! lane per partition with the records produced in each phase, and one
//! lane per group with what each phase's poll returned, applied and
//! committed. Records and positions a finding involves carry its number
//! (`data-f`), which the page's style lights when the finding is chosen.

use super::findings::Finding;
use super::html::{Page, excerpt, text};
use crate::domain::Domain;
use crate::log::Fault;
use crate::record::Position;
use crate::runner::{CrashPoint, PhaseReport};
use crate::verify::check::extra_and_missing;
use crate::verify::execute::{Execution, PhaseTrace, Trace};
use crate::verify::schedule::Schedule;
use std::collections::BTreeMap;

/// Records drawn in one partition cell; the rest are counted where they
/// were left out (a record a finding lights is always drawn).
pub const MAX_RECORDS_PER_CELL: usize = 200;

/// Records drawn on one page in all, lit ones aside (which the findings
/// bound): past it, cells draw only lit records.
pub const MAX_RECORDS_PER_PAGE: usize = 4_000;

/// Runs of positions drawn in one list; the rest are counted (a lit run
/// is always drawn).
pub const MAX_RUNS_PER_LIST: usize = 200;

/// Runs drawn on one page in all, lit ones aside.
pub const MAX_RUNS_PER_PAGE: usize = 20_000;

/// Characters of a record's short form.
const SHORT_FORM_CHARS: usize = 48;

/// Characters of a record's value in its tooltip.
const TOOLTIP_CHARS: usize = 600;

/// Characters of a key shown in a record box.
const KEY_CHARS: usize = 40;

/// What the lanes are drawn from.
pub struct Lanes<'a, D: Domain> {
    execution: &'a Execution<D>,
    schedule: &'a Schedule,
    findings: &'a [Finding],
    /// Each column's history indexes `from..to` (the full replay's empty).
    ranges: Vec<(usize, usize)>,
    /// Each column's records, by partition: indexes into `produced`.
    by_partition: Vec<Vec<Vec<usize>>>,
    /// Each partition's record count once each column's records are in.
    ends: Vec<Vec<u64>>,
    /// What the page may still draw: (records, runs).
    budget: std::cell::Cell<(usize, usize)>,
}

impl<'a, D: Domain> Lanes<'a, D> {
    /// The lanes of `execution`, run under `schedule`, lit by `findings`.
    pub fn new(execution: &'a Execution<D>, schedule: &'a Schedule, findings: &'a [Finding]) -> Self {
        let columns = schedule.phases().len() + 2;
        let partitions = schedule.partitions() as usize;
        let total = execution.produced.len();
        let mut ranges = Vec::with_capacity(columns);
        let mut from = 0usize;
        for phase in schedule.phases() {
            let to = from.saturating_add(phase.produce).min(total);
            ranges.push((from, to));
            from = to;
        }
        ranges.push((from, total));
        ranges.push((total, total));
        let mut by_partition = vec![vec![Vec::new(); partitions]; columns];
        let mut ends = vec![vec![0u64; partitions]; columns];
        let mut counts = vec![0u64; partitions];
        for (column, &(from, to)) in ranges.iter().enumerate() {
            for (index, (position, _)) in execution.produced[from..to].iter().enumerate() {
                // A log may give out any partition; only the schedule's have lanes.
                if let Some(cell) = by_partition[column].get_mut(position.partition as usize) {
                    cell.push(from + index);
                    counts[position.partition as usize] += 1;
                }
            }
            ends[column].clone_from(&counts);
        }
        Lanes {
            execution,
            schedule,
            findings,
            ranges,
            by_partition,
            ends,
            budget: std::cell::Cell::new((MAX_RECORDS_PER_PAGE, MAX_RUNS_PER_PAGE)),
        }
    }

    /// The final phase's index; the full replay's column is the next one.
    fn final_phase(&self) -> usize {
        self.schedule.phases().len()
    }

    /// Takes one record (or run) from the page's budget, if any is left.
    fn spend(&self, record: bool) -> bool {
        let (records, runs) = self.budget.get();
        let left = if record { records } else { runs };
        if left == 0 {
            return false;
        }
        self.budget.set(if record { (records - 1, runs) } else { (records, runs - 1) });
        true
    }

    /// The numbers of the findings that light `position` in `group`'s lane
    /// (`None`: a partition lane) at `phase`, as a `data-f` attribute.
    fn lit(&self, group: Option<&str>, phase: Option<usize>, positions: &[Position]) -> String {
        numbers(self.findings.iter().map(|f| positions.iter().any(|p| f.lights(group, phase, *p))))
    }

    /// Writes the table.
    pub fn write(&self, page: &mut Page) {
        let columns = self.final_phase() + 2;
        page.markup("<div class=\"scroll\"><table class=\"timeline\"><thead><tr><th>lane</th>");
        for column in 0..columns {
            page.markup("<th>");
            self.column_head(page, column);
            page.markup("</th>");
        }
        page.markup("</tr></thead><tbody>");
        self.schedule_lane(page, columns);
        self.partition_lanes(page, columns);
        for trace in self.execution.traces() {
            self.group_lane(page, trace, columns);
        }
        page.markup("</tbody></table></div>");
    }

    fn column_head(&self, page: &mut Page, column: usize) {
        let final_phase = self.final_phase();
        if column == final_phase + 1 {
            page.format(format_args!(
                "full replay (phase {column})<div class=\"sub\">new groups read everything</div>"
            ));
            return;
        }
        let (from, to) = self.produced_range(column);
        if column == final_phase {
            page.format(format_args!("final phase {column}"));
        } else {
            page.format(format_args!("phase {column}"));
        }
        match to - from {
            0 => page.markup("<div class=\"sub\">produces nothing</div>"),
            1 => page.format(format_args!("<div class=\"sub\">produces record {}</div>", from + 1)),
            _ => page.format(format_args!("<div class=\"sub\">produces records {}–{to}</div>", from + 1)),
        };
    }

    /// The history indexes `from..to` produced in `phase`.
    pub(super) fn produced_range(&self, phase: usize) -> (usize, usize) {
        let total = self.execution.produced.len();
        self.ranges.get(phase).copied().unwrap_or((total, total))
    }

    /// What the schedule did before each phase polled.
    fn schedule_lane(&self, page: &mut Page, columns: usize) {
        page.markup("<tr class=\"events\"><th>schedule</th>");
        for column in 0..columns {
            page.markup("<td>");
            if let Some(phase) = self.schedule.phases().get(column) {
                for injected in self.execution.faults.iter().filter(|f| f.phase == column) {
                    let positions = self.fault_positions(&injected.fault, column);
                    page.format(format_args!(
                        "<div class=\"flag fault\"{}>fault <b>{}</b>: {}</div>",
                        self.lit(None, None, &positions),
                        injected.fault.name(),
                        text(&injected.effect)
                    ));
                }
                if phase.reopen {
                    page.markup("<div class=\"flag\">broker reopened</div>");
                }
                if phase.restart {
                    page.markup("<div class=\"flag\">process restarted: runners rebuilt</div>");
                }
                if let Some(point) = phase.crash {
                    page.format(format_args!(
                        "<div class=\"flag crash\">a consumer crashes {}</div>",
                        crash_point(point)
                    ));
                }
                if phase.reuse_consumer {
                    page.markup("<div class=\"flag\">incremental groups poll with their last consumer</div>");
                }
            }
            if self.schedule.late_join() == Some(column) {
                page.markup("<div class=\"flag\">late groups join</div>");
            }
            page.markup("</td>");
        }
        page.markup("</tr>");
    }

    /// The records a fault names, where it names some (the first
    /// [`super::findings::MAX_LIT_POSITIONS`] of a range).
    pub(super) fn fault_positions(&self, fault: &Fault, phase: usize) -> Vec<Position> {
        let at = |partition: u32, offset: u64| Position { partition, offset };
        let end_of =
            |partition: u32| self.ends.get(phase).and_then(|ends| ends.get(partition as usize)).copied().unwrap_or(0);
        let range = |partition: u32, from: u64, to: u64| {
            (from..to).take(super::findings::MAX_LIT_POSITIONS).map(|o| at(partition, o)).collect()
        };
        match *fault {
            Fault::MissingObject { partition, offset } | Fault::FlipPayloadByte { partition, offset } => {
                vec![at(partition, offset)]
            }
            Fault::Retention { partition, evict } => range(partition, 0, evict.min(end_of(partition))),
            Fault::TruncateIndexTail { partition, records } => {
                let end = end_of(partition);
                range(partition, end.saturating_sub(records), end)
            }
            Fault::CorruptGroupOffsets | Fault::DeleteGroupOffsets | Fault::PollError | Fault::PanicInApply { .. } => {
                Vec::new()
            }
        }
    }

    fn partition_lanes(&self, page: &mut Page, columns: usize) {
        let produced = &self.execution.produced;
        let rejected = self.rejected_reasons();
        let faulted: BTreeMap<Position, &str> = self
            .execution
            .faults
            .iter()
            .flat_map(|f| self.fault_positions(&f.fault, f.phase).into_iter().map(|p| (p, f.fault.name())))
            .collect();
        for partition in 0..self.schedule.partitions() {
            page.format(format_args!("<tr class=\"partition\"><th>partition {partition}</th>"));
            for column in 0..columns {
                page.markup("<td>");
                let cell = self.by_partition.get(column).and_then(|c| c.get(partition as usize));
                let mut drawn = 0usize;
                // Records left out since the last one drawn, said where they were.
                let mut left_out = 0usize;
                for &index in cell.into_iter().flatten() {
                    let (position, record) = &produced[index];
                    let lit = self.lit(None, None, std::slice::from_ref(position));
                    if lit.is_empty() && (drawn >= MAX_RECORDS_PER_CELL || !self.spend(true)) {
                        left_out += 1;
                        continue;
                    }
                    left_out_marker(page, std::mem::take(&mut left_out), "records");
                    drawn += 1;
                    let reason = rejected.get(position);
                    let fault = faulted.get(position);
                    let class = match (reason.is_some(), fault.is_some()) {
                        (true, true) => "rec rejected faulted",
                        (true, false) => "rec rejected",
                        (false, true) => "rec faulted",
                        (false, false) => "rec",
                    };
                    page.format(format_args!(
                        "<div class=\"{class}\"{lit} title=\"{}\"><b>@{}</b> ",
                        text(&excerpt(&record.value, TOOLTIP_CHARS)),
                        position.offset
                    ));
                    match &record.key {
                        Some(key) => page.format(format_args!("<i>{}</i> ", text(&excerpt(key, KEY_CHARS)))),
                        None => page.markup("<i class=\"none\">(no key)</i> "),
                    };
                    page.text(&short_form(&record.value, record.key.as_deref()));
                    if let Some(fault) = fault {
                        page.format(format_args!(" <span class=\"fault-mark\">⚡ {fault}</span>"));
                    }
                    if let Some(reason) = reason {
                        page.format(format_args!(
                            "<div class=\"reason\">rejected: {}</div>",
                            text(&excerpt(reason, TOOLTIP_CHARS))
                        ));
                    }
                    page.markup("</div>");
                }
                left_out_marker(page, left_out, "records");
                page.markup("</td>");
            }
            page.markup("</tr>");
        }
    }

    /// Why each rejected record was rejected, as the first group that
    /// rejected it says.
    fn rejected_reasons(&self) -> BTreeMap<Position, String> {
        let mut reasons = BTreeMap::new();
        for trace in self.execution.traces() {
            for rejected in &trace.rejected {
                reasons.entry(rejected.position()).or_insert_with(|| rejected.error.to_string());
            }
        }
        reasons
    }

    fn group_lane(&self, page: &mut Page, trace: &Trace<D::Rejection>, columns: usize) {
        let group = trace.group_id.as_str();
        let lit = numbers(self.findings.iter().map(|f| f.groups.iter().any(|g| g == group)));
        page.format(format_args!("<tr class=\"group\"><th{lit}><span class=\"name\">{}</span>", text(group)));
        if trace.projection != group {
            page.format(format_args!("<div class=\"sub\">projection {}</div>", text(&trace.projection)));
        }
        page.markup("</th>");
        for column in 0..columns {
            page.markup("<td>");
            if let Some(phase) = trace.phases.iter().find(|p| p.phase == column) {
                self.phase_steps(page, group, phase);
            }
            if let Some(stop) = trace.stopped.as_ref().filter(|s| s.phase == column) {
                // Lit by the findings this group stopped for (a stop may
                // name no record: a panic that escaped the runner).
                let lit = numbers(self.findings.iter().map(|f| {
                    f.groups.iter().any(|g| g == group)
                        && (f.stopped_in == Some(column)
                            || stop.positions.iter().any(|p| f.lights(Some(group), Some(column), *p)))
                }));
                page.format(format_args!(
                    "<div class=\"step stopped\"{lit}><div class=\"head\">stopped: <b>{}</b></div>",
                    stop.anomaly
                ));
                if !stop.positions.is_empty() {
                    page.markup("<div>at ");
                    self.chips(page, Some(group), Some(column), &stop.positions);
                    page.markup("</div>");
                }
                page.format(format_args!(
                    "<details><summary>why</summary>{}</details><div class=\"sub\">no later phase ran; its view is what it had applied</div></div>",
                    text(&stop.message)
                ));
            }
            page.markup("</td>");
        }
        page.markup("</tr>");
    }

    fn phase_steps(&self, page: &mut Page, group: &str, phase: &PhaseTrace<D::Rejection>) {
        let index = phase.phase;
        if let Some(crashed) = &phase.crashed {
            let point = self.schedule.phases().get(index).and_then(|p| p.crash);
            page.format(format_args!(
                "<div class=\"step crashed\"><div class=\"head\">poll, then the consumer crashes {}</div>",
                point.map_or("", crash_point)
            ));
            self.report(page, group, phase, crashed);
            page.markup("<div class=\"bad\">not committed: the records must come back</div></div>");
        }
        let consumer = if phase.crashed.is_some() { "a new consumer polls" } else { "poll" };
        page.format(format_args!("<div class=\"step\"><div class=\"head\">{consumer}"));
        if phase.retries > 0 {
            page.format(format_args!(
                " <span class=\"flag crash\">retried {}× after a failed poll or a panic</span>",
                phase.retries
            ));
        }
        page.markup("</div>");
        self.report(page, group, phase, &phase.committed);
        if phase.committed.committed {
            page.markup("<div class=\"ok\">committed");
            if let Some(checkpoint) = &phase.committed.checkpoint {
                let next: Vec<String> = checkpoint.iter().map(|(p, next)| format!("p{p}→{next}")).collect();
                page.format(format_args!(" · checkpoint {}", next.join(" ")));
            }
            page.markup("</div>");
        } else {
            page.markup("<div class=\"bad\">did not commit</div>");
        }
        page.markup("</div>");
    }

    /// One poll: what it returned against what was due, what it applied,
    /// skipped and rejected.
    fn report(
        &self,
        page: &mut Page,
        group: &str,
        phase: &PhaseTrace<D::Rejection>,
        report: &PhaseReport<D::Rejection>,
    ) {
        let index = Some(phase.phase);
        let mut delivered = report.delivered.clone();
        delivered.sort();
        page.format(format_args!("<div>returned {}: ", delivered.len()));
        self.chips(page, Some(group), index, &delivered);
        page.markup("</div>");
        let (extra, missing) = extra_and_missing(&phase.expected_new, &report.delivered);
        if !missing.is_empty() {
            page.markup("<div class=\"bad\">due but not returned: ");
            self.chips(page, Some(group), index, &missing);
            page.markup("</div>");
        }
        if !extra.is_empty() {
            page.markup("<div class=\"bad\">returned but not due: ");
            self.chips(page, Some(group), index, &extra);
            page.markup("</div>");
        }
        let mut applied = report.applied.clone();
        applied.sort();
        if applied == delivered {
            page.markup("<div>applied them all</div>");
        } else {
            page.format(format_args!("<div>applied {}: ", applied.len()));
            self.chips(page, Some(group), index, &report.applied);
            page.markup("</div>");
        }
        let handled: std::collections::BTreeSet<Position> = report
            .applied
            .iter()
            .chain(&report.duplicates)
            .copied()
            .chain(report.rejected.iter().map(|r| r.position()))
            .collect();
        let unapplied: Vec<Position> = delivered.iter().filter(|p| !handled.contains(p)).copied().collect();
        if !unapplied.is_empty() {
            // Expected of a poll that crashes before applying; a committed
            // poll that leaves records unapplied has lost them.
            let class = if report.committed { "bad" } else { "sub" };
            page.format(format_args!("<div class=\"{class}\">returned, not applied: "));
            self.chips(page, Some(group), index, &unapplied);
            page.markup("</div>");
        }
        if !report.duplicates.is_empty() {
            page.markup("<div>skipped as already applied: ");
            self.chips(page, Some(group), index, &report.duplicates);
            page.markup("</div>");
        }
        if !report.rejected.is_empty() {
            let rejected: Vec<Position> = report.rejected.iter().map(|r| r.position()).collect();
            page.markup("<div>rejected: ");
            self.chips(page, Some(group), index, &rejected);
            page.markup("</div>");
        }
    }

    /// `positions` in their order as runs of consecutive offsets, a run
    /// broken where the findings lighting it change; at most
    /// [`MAX_RUNS_PER_LIST`] runs that no finding lights (and what is left
    /// of the page's budget), the rest counted where they were left out.
    fn chips(&self, page: &mut Page, group: Option<&str>, phase: Option<usize>, positions: &[Position]) {
        if positions.is_empty() {
            page.markup("none");
            return;
        }
        let mut drawn = 0usize;
        let mut left_out = 0usize;
        let mut start = 0usize;
        let mut lit = self.lit(group, phase, &positions[..1]);
        while start < positions.len() {
            let mut end = start + 1;
            let mut next_lit = String::new();
            while end < positions.len() {
                let consecutive = positions[end].partition == positions[end - 1].partition
                    && positions[end - 1].offset.checked_add(1) == Some(positions[end].offset);
                next_lit = self.lit(group, phase, &positions[end..=end]);
                if !consecutive || next_lit != lit {
                    break;
                }
                end += 1;
            }
            if lit.is_empty() && (drawn >= MAX_RUNS_PER_LIST || !self.spend(false)) {
                left_out += end - start;
            } else {
                left_out_marker(page, std::mem::take(&mut left_out), "");
                drawn += 1;
                let run = crate::record::Positions(&positions[start..end]);
                page.format(format_args!("<span class=\"pos\"{lit}>{run}</span> "));
            }
            start = end;
            lit = next_lit;
        }
        left_out_marker(page, left_out, "");
    }
}

/// Says where `count` records (or positions) were left out, if any.
fn left_out_marker(page: &mut Page, count: usize, noun: &str) {
    match (count, noun.is_empty()) {
        (0, _) => {}
        (n, true) => {
            page.format(format_args!("<span class=\"more\">… {n} more</span> "));
        }
        (n, false) => {
            page.format(format_args!("<div class=\"more\">… {n} more {noun}</div>"));
        }
    }
}

/// The `data-f` attribute of an element lit by the findings for which
/// `lights` yields true (by their numbers), or nothing.
fn numbers(lights: impl Iterator<Item = bool>) -> String {
    let numbers: Vec<String> = lights.enumerate().filter(|(_, lit)| *lit).map(|(i, _)| i.to_string()).collect();
    if numbers.is_empty() { String::new() } else { format!(" data-f=\" {} \"", numbers.join(" ")) }
}

fn crash_point(point: CrashPoint) -> &'static str {
    match point {
        CrashPoint::BeforeApply => "before applying",
        CrashPoint::BeforeCommit => "after applying, before committing",
    }
}

/// A record's value in a few words, whatever the domain: a JSON object's
/// first string value bare (usually its type), then its other fields as
/// `name=value` (the one holding the key left out); any other value, the
/// start of its text.
pub fn short_form(value: &str, key: Option<&str>) -> String {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str::<serde_json::Value>(value) else {
        return excerpt(value, SHORT_FORM_CHARS).into_owned();
    };
    let scalar = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(_) => "{…}".into(),
        serde_json::Value::Array(_) => "[…]".into(),
        other => other.to_string(),
    };
    let mut parts = Vec::new();
    for (i, (name, field)) in fields.iter().enumerate() {
        if key.is_some() && field.as_str() == key {
            continue;
        }
        match field {
            serde_json::Value::String(s) if i == 0 => parts.push(s.clone()),
            other => parts.push(format!("{name}={}", scalar(other))),
        }
    }
    excerpt(&parts.join(" "), SHORT_FORM_CHARS).into_owned()
}

#[cfg(test)]
mod tests {
    use super::short_form;

    #[test]
    fn a_short_form_names_the_type_and_the_fields_but_not_the_key() {
        let value = r#"{"type":"Deposit","account":"a1","amount":2,"memo":"rent"}"#;
        assert_eq!(short_form(value, Some("a1")), "Deposit amount=2 memo=rent");
        assert_eq!(short_form(r#"{"n":[1],"o":{}}"#, None), "n=[…] o={…}");
        assert_eq!(short_form("not json", None), "not json");
        assert_eq!(short_form(&"x".repeat(60), None).chars().count(), 49);
    }
}
