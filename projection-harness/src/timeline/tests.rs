//! The page, on the counters domain: findings light exactly their records
//! in both kinds of lane, lanes hold what the execution did, views pair
//! as the violations say, and input never becomes markup.

use super::findings::{Finding, findings};
use super::lanes::Lanes;
use super::*;
use crate::domain::{AnyView, HistoryRecord, Model};
use crate::example::Counters;
use crate::log::{Fault, MerkqlLog};
use crate::record::{LogRecord, Position};
use crate::runner::{PhaseReport, RunError, Runner, Steps};
use crate::verify::check::check_all;
use crate::verify::execute::{InjectedFault, Stop, Trace};
use crate::verify::{Phase, Violation, WithSteps, execute};
use std::collections::BTreeSet;

fn at(partition: u32, offset: u64) -> Position {
    Position { partition, offset }
}

fn add(counter: &str, n: i64) -> HistoryRecord {
    HistoryRecord { key: Some(counter.into()), value: format!(r#"{{"counter":"{counter}","add":{n}}}"#) }
}

/// A planted runner bug: the last record each partition returns in a
/// poll is not applied.
fn drops_last_record(
    runner: &mut Runner<Counters>,
    records: &[LogRecord],
    report: &mut PhaseReport<crate::example::NotAnEvent>,
) -> Result<(), RunError> {
    let last = |i: usize| records.get(i + 1).is_none_or(|next| next.partition != records[i].partition);
    let kept: Vec<LogRecord> = records.iter().enumerate().filter(|(i, _)| !last(*i)).map(|(_, r)| r.clone()).collect();
    runner.apply_batch(&kept, report)
}

/// Twelve records on three partitions in two phases, run by the planted
/// runner: it fails.
fn planted() -> (Execution<Counters>, Schedule, Vec<Violation>) {
    let history: Vec<HistoryRecord> = (0..12).map(|i| add(&format!("c{}", i % 4), i64::from(i % 5) + 1)).collect();
    let schedule = Schedule::split_at(3, &[5], history.len()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut log = MerkqlLog::create(dir.path(), "counter-events", 3).unwrap();
    let system = WithSteps { domain: Counters, steps: Steps { apply: drops_last_record, ..Steps::production() } };
    let execution = execute(&system, &history, &schedule, &mut log).unwrap();
    let violations = check_all(&execution);
    assert!(!violations.is_empty(), "the planted bug is caught");
    (execution, schedule, violations)
}

/// The numbers in the `data-f` attribute of the element `element` opens.
fn lit_by(element: &str) -> BTreeSet<usize> {
    let start_tag = &element[..element.find('>').unwrap_or(element.len())];
    start_tag
        .split_once("data-f=\"")
        .map(|(_, rest)| {
            rest.split('"').next().unwrap_or("").split_whitespace().filter_map(|n| n.parse().ok()).collect()
        })
        .unwrap_or_default()
}

/// The rows of the timeline of class `class`: (header, row).
fn rows<'a>(html: &'a str, class: &str) -> Vec<(&'a str, &'a str)> {
    let marker = format!("<tr class=\"{class}\">");
    html.split(marker.as_str())
        .skip(1)
        .map(|row| {
            let row = &row[..row.find("</tr>").unwrap()];
            (&row[..row.find("</th>").unwrap()], row)
        })
        .collect()
}

/// The records lit for `finding` in the partition lanes.
fn lit_records(html: &str, finding: usize) -> BTreeSet<Position> {
    let mut lit = BTreeSet::new();
    for (header, row) in rows(html, "partition") {
        let partition: u32 = header.rsplit(' ').next().unwrap().parse().unwrap();
        for element in row.split("<div class=\"rec").skip(1) {
            if lit_by(element).contains(&finding) {
                let offset = element.split("<b>@").nth(1).and_then(|rest| rest.split('<').next()).unwrap();
                lit.insert(at(partition, offset.parse().unwrap()));
            }
        }
    }
    lit
}

/// The positions lit for `finding` in the lane of each group, by group.
fn lit_in_groups(html: &str, finding: usize) -> std::collections::BTreeMap<String, BTreeSet<Position>> {
    let mut lit = std::collections::BTreeMap::<String, BTreeSet<Position>>::new();
    for (header, row) in rows(html, "group") {
        let name = header.split("<span class=\"name\">").nth(1).unwrap();
        let group = name[..name.find("</span>").unwrap()].to_string();
        for element in row.split("<span class=\"pos\"").skip(1) {
            if !lit_by(element).contains(&finding) {
                continue;
            }
            let run = &element[element.find('>').unwrap() + 1..element.find("</span>").unwrap()];
            let (partition, offsets) = run.trim_start_matches('p').split_once('@').unwrap();
            let (first, last) = offsets.split_once("..").unwrap_or((offsets, offsets));
            for offset in first.parse::<u64>().unwrap()..=last.parse().unwrap() {
                lit.entry(group.clone()).or_default().insert(at(partition.parse().unwrap(), offset));
            }
        }
    }
    lit
}

#[test]
fn each_finding_lights_exactly_its_records_and_only_in_its_groups_lanes() {
    let (execution, schedule, violations) = planted();
    let html = Timeline::new(&execution, &schedule, &violations).html();
    let (findings, unlisted) = findings(&execution, &violations);
    assert_eq!(unlisted, 0);
    assert_eq!(
        findings.len(),
        violations.len() + execution.anomalies.len() - 1,
        "the history violation is one anomaly"
    );
    let mut seen_in_groups = 0;
    for (number, finding) in findings.iter().enumerate() {
        let involved: BTreeSet<Position> = finding.positions.iter().copied().collect();
        assert_eq!(lit_records(&html, number), involved, "partition lanes, finding {number}: {}", finding.text);
        for (group, lit) in lit_in_groups(&html, number) {
            assert!(
                finding.groups.is_empty() || finding.groups.contains(&group),
                "{group} is not {:?}",
                finding.groups
            );
            assert!(lit.is_subset(&involved), "{group} lights only finding {number}'s records");
            seen_in_groups += 1;
        }
    }
    assert!(seen_in_groups > 0, "some group lane is lit");
    for number in 0..findings.len() {
        // The style lights what carries a finding's number when it is chosen.
        let rule = format!("body:has(#focus-{number}:checked) td [data-f~=\"{number}\"]{{background:var(--lit)");
        assert!(html.contains(&rule), "no rule lights finding {number}");
    }
    // The first violation names records, and the page opens with it lit.
    assert!(!findings[0].positions.is_empty());
    assert!(html.contains("id=\"focus-0\" checked"));
    assert_eq!(html.matches(" checked").count(), 1, "one finding is chosen");
}

#[test]
fn a_finding_lights_by_group_and_phase_when_it_names_them() {
    let finding = Finding {
        what: super::findings::What::Violation,
        name: "only new events".into(),
        text: String::new(),
        explanation: None,
        groups: vec!["g".into()],
        phase: Some(1),
        stopped_in: None,
        positions: vec![at(0, 1), at(1, 0)],
        count: 2,
    };
    assert!(finding.lights(None, None, at(0, 1)), "partition lanes ignore group and phase");
    assert!(finding.lights(Some("g"), Some(1), at(1, 0)));
    assert!(finding.lights(Some("g"), None, at(1, 0)));
    assert!(!finding.lights(Some("h"), Some(1), at(1, 0)), "another group's lane");
    assert!(!finding.lights(Some("g"), Some(2), at(1, 0)), "another phase");
    assert!(!finding.lights(None, None, at(0, 2)), "another record");
    let of_the_log = Finding { groups: Vec::new(), phase: None, ..finding };
    assert!(of_the_log.lights(Some("any"), Some(7), at(0, 1)), "the log's anomaly lights every lane");
}

fn trace(group: &str, projection: &str, view: AnyView) -> Trace<crate::example::NotAnEvent> {
    Trace {
        projection: projection.into(),
        group_id: group.into(),
        phases: Vec::new(),
        view,
        rejected: Vec::new(),
        stopped: None,
    }
}

/// An execution of nine records (three phases of three) over two
/// partitions, with hand-made traces.
fn by_hand(
    incremental: Vec<Trace<crate::example::NotAnEvent>>,
    full: Vec<Trace<crate::example::NotAnEvent>>,
) -> Execution<Counters> {
    let produced = (0..9u64).map(|i| (at((i % 2) as u32, i / 2), add("c", 1))).collect();
    Execution {
        produced,
        incremental,
        late: None,
        full,
        block_orders: Vec::new(),
        model: Model { views: [("totals".to_string(), AnyView::new(3u32))].into(), rejected: Vec::new() },
        faults: Vec::new(),
        anomalies: Vec::new(),
    }
}

fn three_phases() -> Schedule {
    let phase = Phase { produce: 3, ..Phase::default() };
    Schedule::new(2, vec![phase.clone(), phase], None).unwrap()
}

#[test]
fn each_phase_column_holds_the_records_it_produced() {
    let execution = by_hand(Vec::new(), Vec::new());
    let schedule = three_phases();
    let lanes = Lanes::new(&execution, &schedule, &[]);
    assert_eq!(lanes.produced_range(0), (0, 3));
    assert_eq!(lanes.produced_range(1), (3, 6));
    assert_eq!(lanes.produced_range(2), (6, 9), "the final phase produces the rest");
    assert_eq!(lanes.produced_range(3), (9, 9), "the full replay produces nothing");
    let long = Schedule::new(2, vec![Phase { produce: 7, ..Phase::default() }; 2], None).unwrap();
    let lanes = Lanes::new(&execution, &long, &[]);
    assert_eq!((lanes.produced_range(1), lanes.produced_range(2)), ((7, 9), (9, 9)), "clamped to the history");
}

#[test]
fn a_fault_marks_the_records_it_names() {
    let execution = by_hand(Vec::new(), Vec::new());
    let schedule = three_phases();
    let lanes = Lanes::new(&execution, &schedule, &[]);
    // Before phase 1 polls, partition 0 holds offsets 0..3 (records 0, 2, 4).
    assert_eq!(lanes.fault_positions(&Fault::FlipPayloadByte { partition: 1, offset: 2 }, 1), [at(1, 2)]);
    assert_eq!(lanes.fault_positions(&Fault::MissingObject { partition: 0, offset: 0 }, 0), [at(0, 0)]);
    assert_eq!(lanes.fault_positions(&Fault::Retention { partition: 0, evict: 9 }, 1), [at(0, 0), at(0, 1), at(0, 2)]);
    assert_eq!(lanes.fault_positions(&Fault::TruncateIndexTail { partition: 0, records: 2 }, 1), [at(0, 1), at(0, 2)]);
    assert_eq!(lanes.fault_positions(&Fault::TruncateIndexTail { partition: 1, records: 9 }, 0), [at(1, 0)]);
    assert!(lanes.fault_positions(&Fault::PollError, 1).is_empty());
    let mut faulted = execution.clone();
    faulted.faults.push(InjectedFault {
        phase: 1,
        fault: Fault::FlipPayloadByte { partition: 1, offset: 2 },
        effect: "changed <b>".into(),
    });
    let html = Timeline::new(&faulted, &schedule, &[]).html();
    assert!(html.contains("fault <b>flip-payload-byte</b>: changed &lt;b&gt;"), "the schedule lane names it");
    assert_eq!(html.matches("<div class=\"rec faulted\"").count(), 1, "one record is marked");
    let marked = html.split("<div class=\"rec faulted\"").nth(1).unwrap();
    assert!(marked.contains("<b>@2</b>") && marked.contains("⚡ flip-payload-byte"), "{marked}");
}

#[test]
fn a_stopped_group_shows_where_and_why_and_is_lit_by_its_anomaly() {
    let mut stopped = trace("totals-incremental", "totals", AnyView::new(1u32));
    stopped.stopped = Some(Stop {
        phase: 1,
        anomaly: crate::anomaly::Kind::PollSkip,
        message: "a gap <here>".into(),
        positions: vec![at(0, 1)],
        count: 1,
    });
    let mut execution = by_hand(vec![stopped], Vec::new());
    let mut anomalies = crate::anomaly::Anomalies::default();
    anomalies.add(crate::anomaly::Kind::PollSkip, Some("totals-incremental"), &[at(0, 1)], || "stopped".into());
    execution.anomalies = anomalies.into_vec();
    let html = Timeline::new(&execution, &three_phases(), &[]).html();
    let (_, row) = rows(&html, "group")[0];
    let cells: Vec<&str> = row.split("<td>").skip(1).map(|cell| cell.strip_suffix("</td>").unwrap()).collect();
    assert!(cells[0].is_empty() && cells[2].is_empty(), "only phase 1 shows the stop");
    assert!(cells[1].starts_with("<div class=\"step stopped\" data-f=\" 0 \">"), "{}", cells[1]);
    assert!(cells[1].contains("stopped: <b>poll-skip</b>") && cells[1].contains("a gap &lt;here&gt;"));
    assert_eq!(lit_records(&html, 0), [at(0, 1)].into(), "and its record in the partition lane");
    assert!(html.contains("the group stopped in phase 1 with poll-skip"), "its view is paired with the model's");
    assert!(html.contains("<details class=\"pair\">"), "folded: a stop is not a violation");
}

#[test]
fn views_pair_as_the_violation_says() {
    let full = trace("totals-full", "totals", AnyView::new(3u32));
    let split = trace("totals-incremental", "totals", AnyView::new(2u32));
    let execution = by_hand(vec![split], vec![full]);
    let violations = check_all(&execution);
    let pairs = views::pairs(&execution, &violations);
    let names: Vec<(&str, &str, bool)> =
        pairs.iter().map(|p| (p.left_name.as_str(), p.right_name.as_str(), p.violation)).collect();
    assert!(names.contains(&("totals-full", "totals-incremental", true)), "split equivalence: {names:?}");
    assert!(names.contains(&("model", "totals-incremental", true)), "model agreement: {names:?}");
    assert_eq!(names.len(), 2, "each pair once: {names:?}");
    let html = Timeline::new(&execution, &three_phases(), &violations).html();
    assert!(html.contains("<td class=\"mark\">≠</td><td class=\"del\">3</td><td class=\"ins\">2</td>"), "{html}");
    assert_eq!(html.matches("<details class=\"pair\" open>").count(), 2);
}

/// Every element and attribute of `html` is one the page writes itself:
/// input text added none (an unquoted value would add attributes, a raw
/// `<` elements).
fn only_own_markup(html: &str) -> Result<(), String> {
    const ELEMENTS: &[&str] = &[
        "!DOCTYPE", "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p", "code",
        "section", "ol", "li", "input", "label", "span", "b", "pre", "div", "table", "thead", "tbody", "tr", "th",
        "td", "i", "details", "summary",
    ];
    const ATTRIBUTES: &[&str] = &[
        "html",
        "lang",
        "charset",
        "http-equiv",
        "content",
        "name",
        "class",
        "data-f",
        "title",
        "id",
        "type",
        "for",
        "checked",
        "open",
        "colspan",
    ];
    for tag in html.split('<').skip(1) {
        let tag = &tag[..tag.find('>').ok_or("a tag that does not end")?];
        let tag = tag.strip_prefix('/').unwrap_or(tag);
        // Quoted values removed, what is left is the element and its
        // attributes' names.
        let unquoted: String = tag.split('"').step_by(2).collect::<Vec<_>>().join("\"\"");
        let mut words = unquoted.split_whitespace();
        let element = words.next().unwrap_or("");
        if !ELEMENTS.contains(&element) {
            return Err(format!("element not the page's own: <{tag}>"));
        }
        for word in words {
            let attribute = word.split('=').next().unwrap_or("");
            if !ATTRIBUTES.contains(&attribute) || (word.contains('=') && !word.ends_with("\"\"")) {
                return Err(format!("attribute not the page's own: {word} in <{tag}>"));
            }
        }
    }
    Ok(())
}

#[test]
fn no_input_text_becomes_markup() {
    let hostile = "<script>alert(1)</script><img src=x onerror=alert(1)>\" onmouseover=alert(1) x='&amp;\u{202e}";
    let mut stopped = trace(hostile, hostile, AnyView::new(hostile.to_string()));
    stopped.stopped = Some(Stop {
        phase: 1,
        anomaly: crate::anomaly::Kind::ApplyPanic,
        message: hostile.into(),
        positions: vec![at(0, 0)],
        count: 1,
    });
    stopped.rejected.push(crate::domain::Rejected {
        topic: hostile.into(),
        partition: 0,
        offset: 0,
        error: crate::domain::RecordError::WrongKey { key: Some(hostile.into()), expected: hostile.into() },
    });
    let mut execution = by_hand(vec![stopped], Vec::new());
    execution.produced[0].1 = HistoryRecord { key: Some(hostile.into()), value: hostile.into() };
    execution.faults.push(InjectedFault { phase: 0, fault: Fault::PollError, effect: hostile.into() });
    let mut anomalies = crate::anomaly::Anomalies::default();
    anomalies.add(crate::anomaly::Kind::ApplyPanic, Some(hostile), &[at(0, 0)], || hostile.into());
    execution.anomalies = anomalies.into_vec();
    let violations = [Violation::ModelMismatch { group: hostile.into(), diff: hostile.into() }];
    let html = Timeline::new(&execution, &three_phases(), &violations).title(hostile).replay_command(hostile).html();
    only_own_markup(&html).unwrap();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "shown as text");
    assert!(html.contains("&amp;amp;"), "an entity in the input shows as itself");
    assert!(!html.contains('\u{202e}'), "a bidirectional override shows escaped");
    assert!(html.contains("default-src 'none'"), "and the page forbids scripts and fetches");
    // Every place input text goes: title, command, key, value, group,
    // projection, stop message, rejection, fault effect, finding, view.
    let shown = html.matches("&lt;script&gt;alert(1)&lt;/script&gt;").count();
    assert!(shown >= 11, "the hostile text is shown in every place: {shown}");
}

#[test]
fn a_phase_finding_lights_only_that_phase_of_its_group() {
    let phase = |index: usize| phase_trace(index, &[], report(&[at(0, 0)], &[], true));
    let mut group = trace("totals-incremental", "totals", AnyView::new(3u32));
    group.phases = vec![phase(0), phase(1), phase(2)];
    let mut other = group.clone();
    other.group_id = "totals-late".into();
    let execution = by_hand(vec![group, other], Vec::new());
    let violation = Violation::NotOnlyNew {
        group: "totals-incremental".into(),
        phase: 1,
        expected: Vec::new(),
        got: vec![at(0, 0)],
    };
    let html = Timeline::new(&execution, &three_phases(), std::slice::from_ref(&violation)).html();
    let lit_cells: Vec<(String, usize)> = rows(&html, "group")
        .into_iter()
        .flat_map(|(header, row)| {
            let name = header.split("<span class=\"name\">").nth(1).unwrap();
            let group = name[..name.find("</span>").unwrap()].to_string();
            row.split("<td>")
                .skip(1)
                .enumerate()
                .filter(|(_, cell)| cell.split("<span class=\"pos\"").skip(1).any(|chip| lit_by(chip).contains(&0)))
                .map(move |(column, _)| (group.clone(), column))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(lit_cells, [("totals-incremental".to_string(), 1)], "its group, its phase");
    assert_eq!(lit_records(&html, 0), [at(0, 0)].into(), "and the record in its partition lane");
}

#[test]
fn a_big_cell_shows_its_first_records_and_counts_the_rest() {
    let produced: Vec<_> = (0..500u64).map(|i| (at(0, i), add("c", 1))).collect();
    let execution = Execution { produced, ..by_hand(Vec::new(), Vec::new()) };
    let schedule = Schedule::new(1, Vec::new(), None).unwrap();
    let html = Timeline::new(&execution, &schedule, &[]).html();
    assert_eq!(html.matches("<div class=\"rec\"").count(), lanes::MAX_RECORDS_PER_CELL);
    assert!(html.contains(&format!("… {} more records", 500 - lanes::MAX_RECORDS_PER_CELL)));
}

#[test]
fn the_page_opens_on_the_first_finding_that_lights_records() {
    let execution = by_hand(vec![trace("totals-incremental", "totals", AnyView::new(2u32))], Vec::new());
    let violations = [
        Violation::ModelMismatch { group: "totals-incremental".into(), diff: String::new() },
        Violation::AppliedTwice { group: "totals-incremental".into(), position: at(0, 1), count: 2 },
    ];
    let html = Timeline::new(&execution, &three_phases(), &violations).html();
    assert!(html.contains("id=\"focus-1\" checked"), "the first violation names no record");
    assert!(html.contains("<h1 class=\"fail\">an execution: 2 violations</h1>"));
    let mut anomalies = crate::anomaly::Anomalies::default();
    anomalies.add(crate::anomaly::Kind::Unseen, None, &[at(0, 0)], || "unseen".into());
    anomalies.add(crate::anomaly::Kind::PollSkip, Some("totals-incremental"), &[at(0, 2)], || "skip".into());
    let mut execution = execution;
    execution.anomalies = anomalies.into_vec();
    let html = Timeline::new(&execution, &three_phases(), &[]).html();
    let first_with_a_group = if html.find("<b>poll-skip</b>") < html.find("<b>unseen</b>") { 0 } else { 1 };
    assert!(html.contains(&format!("id=\"focus-{first_with_a_group}\" checked")), "a group's anomaly first");
    assert!(html.contains("<h1 class=\"pass\">an execution: no violation; 2 anomalies named</h1>"), "{html}");
}

#[test]
fn a_page_is_written_as_rendered() {
    let execution = by_hand(Vec::new(), Vec::new());
    let schedule = three_phases();
    let timeline = Timeline::new(&execution, &schedule, &[]).title("t");
    let dir = tempfile::tempdir().unwrap();
    timeline.write(&dir.path().join("page.html")).unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("page.html")).unwrap(), timeline.html());
    assert!(timeline.html().contains("<h1 class=\"pass\">t: every property holds</h1>"));
    assert!(timeline.write(&dir.path().join("no-such-dir").join("page.html")).is_err());
}

/// A report of one poll.
fn report(delivered: &[Position], applied: &[Position], committed: bool) -> PhaseReport<crate::example::NotAnEvent> {
    PhaseReport { delivered: delivered.to_vec(), applied: applied.to_vec(), committed, ..PhaseReport::default() }
}

/// Phase `index` of a group: `expected` was due, `committed` is its poll.
fn phase_trace(
    index: usize,
    expected: &[Position],
    committed: PhaseReport<crate::example::NotAnEvent>,
) -> crate::verify::execute::PhaseTrace<crate::example::NotAnEvent> {
    crate::verify::execute::PhaseTrace {
        phase: index,
        expected_new: expected.to_vec(),
        crashed: None,
        committed,
        retries: 0,
        log_ends: Vec::new(),
    }
}

/// An execution that does a bit of everything a page draws: a crash and a
/// retry, a fault, a reopen, a restart, a reused consumer, a late group
/// that stops, a rejected and a keyless record, a poll that returns what
/// was not due and leaves what was due, and findings of every shape.
fn everything() -> (Execution<Counters>, Schedule, Vec<Violation>) {
    use crate::runner::CrashPoint;
    let schedule = Schedule::new(
        2,
        vec![
            Phase {
                produce: 3,
                crash: Some(CrashPoint::BeforeCommit),
                faults: vec![Fault::FlipPayloadByte { partition: 1, offset: 0 }],
                ..Phase::default()
            },
            Phase { produce: 1, reopen: true, restart: true, reuse_consumer: true, ..Phase::default() },
            Phase { produce: 0, ..Phase::default() },
        ],
        Some(1),
    )
    .unwrap();
    let mut produced: Vec<_> =
        [at(0, 0), at(1, 0), at(0, 1), at(1, 1), at(0, 2), at(1, 2)].into_iter().map(|p| (p, add("c1", 1))).collect();
    produced[3].1 = HistoryRecord { key: Some("c2".into()), value: "not json".into() };
    produced[5].1 = HistoryRecord { key: None, value: r#"{"counter":"c3","add":2}"#.into() };
    let rejected = crate::domain::Rejected {
        topic: "counter-events".into(),
        partition: 1,
        offset: 1,
        error: crate::domain::RecordError::WrongKey { key: Some("c2".into()), expected: "c9".into() },
    };
    let first = [at(0, 0), at(1, 0), at(0, 1)];
    let mut incremental = trace("totals-incremental", "totals", AnyView::new(2u32));
    incremental.phases = vec![
        crate::verify::execute::PhaseTrace {
            crashed: Some(report(&first, &[at(0, 0), at(1, 0)], false)),
            retries: 1,
            ..phase_trace(0, &first, {
                let mut committed = report(&first, &[at(0, 1)], true);
                committed.duplicates = vec![at(0, 0), at(1, 0)];
                committed.checkpoint = Some([(0, 2), (1, 1)].into());
                committed
            })
        },
        phase_trace(1, &[at(1, 1)], {
            let mut committed = report(&[at(1, 1), at(0, 0)], &[], true);
            committed.rejected = vec![rejected.clone()];
            committed
        }),
        phase_trace(2, &[], report(&[], &[], true)),
        phase_trace(3, &[at(0, 2), at(1, 2)], report(&[at(0, 2), at(1, 2)], &[at(0, 2), at(1, 2)], true)),
    ];
    incremental.rejected = vec![rejected];
    let mut late = trace("totals-late", "totals", AnyView::new(1u32));
    late.phases = vec![phase_trace(1, &[at(0, 0), at(1, 0), at(0, 1), at(1, 1)], report(&first, &first, false))];
    late.stopped = Some(Stop {
        phase: 2,
        anomaly: crate::anomaly::Kind::PollSkip,
        message: "partition 0 skipped".into(),
        positions: vec![at(0, 2)],
        count: 3,
    });
    let all: Vec<Position> = produced.iter().map(|(p, _)| *p).collect();
    let mut full = trace("totals-full", "totals", AnyView::new(3u32));
    full.phases = vec![phase_trace(4, &all, report(&all, &all[..5], true))];
    let mut anomalies = crate::anomaly::Anomalies::default();
    let unseen: Vec<Position> = (0..10).map(|o| at(0, o)).collect();
    anomalies.add_counted(crate::anomaly::Kind::Unseen, None, &unseen, 15, || "never read".into());
    anomalies.add_counted(crate::anomaly::Kind::PollSkip, Some("totals-late"), &[at(0, 2)], 3, || "stopped".into());
    anomalies.add(crate::anomaly::Kind::DuplicateApply, Some("totals-incremental"), &[at(0, 0)], || "twice".into());
    let anomalies = anomalies.into_vec();
    let execution = Execution {
        produced,
        incremental: vec![incremental],
        late: Some(vec![late]),
        full: vec![full],
        block_orders: Vec::new(),
        model: Model { views: [("totals".to_string(), AnyView::new(3u32))].into(), rejected: vec![at(1, 1)] },
        faults: vec![InjectedFault {
            phase: 0,
            fault: Fault::FlipPayloadByte { partition: 1, offset: 0 },
            effect: "changed a byte".into(),
        }],
        anomalies: anomalies.clone(),
    };
    let violations = vec![
        Violation::NotOnlyNew {
            group: "totals-incremental".into(),
            phase: 1,
            expected: vec![at(1, 1)],
            got: vec![at(1, 1), at(0, 0)],
        },
        Violation::ModelMismatch {
            group: "totals-incremental".into(),
            diff: "--- model\n+++ totals-incremental\n-3\n+2\n 1\n 2\n 3\n 4\n 5".into(),
        },
        Violation::Anomaly(anomalies[anomalies.len() - 1].clone()),
    ];
    (execution, schedule, violations)
}

/// The page's body, one element per line: what a change to the page
/// changes, for review (the style is left out).
fn reviewable(html: &str) -> String {
    let body = &html[html.find("<body>").unwrap()..];
    ["<tr", "<div", "<li", "<section", "<details", "<p", "<h"]
        .iter()
        .fold(body.to_string(), |text, tag| text.replace(tag, &format!("\n{tag}")))
}

#[test]
fn the_page_of_an_execution_that_does_everything() {
    let (execution, schedule, violations) = everything();
    let html = Timeline::new(&execution, &schedule, &violations)
        .title("everything")
        .replay_command("cargo run -- replay everything.jsonl --durable")
        .case(7, 42)
        .html();
    insta::assert_snapshot!(reviewable(&html));
}

#[test]
fn a_page_draws_a_bounded_number_of_records_and_runs() {
    // 30 partitions of 200 records in one phase: more than a page draws.
    let produced: Vec<_> = (0..6_000u64).map(|i| (at((i % 30) as u32, i / 30), add("c", 1))).collect();
    // Two groups, each with 64 phases returning 400 scattered records.
    let scattered: Vec<Position> = (0..400u64).map(|i| at(0, 2 * i)).collect();
    let phases: Vec<_> =
        (0..64).map(|index| phase_trace(index, &scattered, report(&scattered, &scattered, true))).collect();
    let mut one = trace("totals-incremental", "totals", AnyView::new(3u32));
    one.phases = phases;
    let mut two = one.clone();
    two.group_id = "totals-late".into();
    let execution = Execution { produced, ..by_hand(vec![one, two], Vec::new()) };
    let schedule = Schedule::new(30, vec![Phase::default(); 63], None).unwrap();
    let html = Timeline::new(&execution, &schedule, &[]).html();
    let lanes = &html[html.find("<table class=\"timeline\"").unwrap()..];
    assert_eq!(lanes.matches("<div class=\"rec\"").count(), lanes::MAX_RECORDS_PER_PAGE);
    assert_eq!(lanes.matches("<span class=\"pos\"").count(), lanes::MAX_RUNS_PER_PAGE);
    assert!(html.contains("… 200 more records"), "a partition past the budget says what it left out");
}

#[test]
fn findings_name_the_groups_and_the_stop_they_concern() {
    let mut stopped = trace("totals-incremental", "totals", AnyView::new(1u32));
    stopped.stopped = Some(Stop {
        phase: 2,
        anomaly: crate::anomaly::Kind::PollSkip,
        message: String::new(),
        positions: vec![],
        count: 0,
    });
    let mut execution = by_hand(
        vec![stopped, trace("other-incremental", "other", AnyView::new(1u32))],
        vec![trace("totals-full", "totals", AnyView::new(1u32)), trace("other-full", "other", AnyView::new(1u32))],
    );
    let mut anomalies = crate::anomaly::Anomalies::default();
    anomalies.add(crate::anomaly::Kind::PollSkip, Some("totals-incremental"), &[], || "stop".into());
    anomalies.add(crate::anomaly::Kind::DuplicateApply, Some("totals-incremental"), &[], || "not the stop".into());
    anomalies.add(crate::anomaly::Kind::PollSkip, Some("other-incremental"), &[], || "did not stop".into());
    execution.anomalies = anomalies.into_vec();
    let violations = [Violation::SplitMismatch { projection: "totals".into(), diff: String::new() }];
    let (findings, unlisted) = findings(&execution, &violations);
    assert_eq!(unlisted, 0);
    assert_eq!(findings[0].groups, ["totals-full", "totals-incremental"], "the projection's full and split groups");
    let stop_of = |group: &str, name: &str| {
        findings.iter().find(|f| f.groups == [group] && f.name == name).map(|f| f.stopped_in).unwrap()
    };
    assert_eq!(stop_of("totals-incremental", "poll-skip"), Some(2));
    assert_eq!(stop_of("totals-incremental", "duplicate-apply"), None, "it stopped for another anomaly");
    assert_eq!(stop_of("other-incremental", "poll-skip"), None, "that group did not stop");
}

#[test]
fn a_page_lists_its_first_findings_and_counts_the_rest() {
    let mut execution = by_hand(Vec::new(), Vec::new());
    let mut anomalies = crate::anomaly::Anomalies::default();
    // The log's own anomalies first: one naming no record, one naming some.
    anomalies.add(crate::anomaly::Kind::InconsistentOffsets, None, &[], || "no record".into());
    anomalies.add(crate::anomaly::Kind::LostWrite, None, &[at(0, 1)], || "lost".into());
    for group in 0..70 {
        anomalies.add(crate::anomaly::Kind::DuplicateApply, Some(&format!("g{group}")), &[], || "twice".into());
    }
    execution.anomalies = anomalies.into_vec();
    let (listed, unlisted) = findings(&execution, &[]);
    assert_eq!((listed.len(), unlisted), (findings::MAX_FINDINGS, 72 - findings::MAX_FINDINGS));
    let html = Timeline::new(&execution, &three_phases(), &[]).html();
    assert!(html.contains(&format!("… and {} more not listed", 72 - findings::MAX_FINDINGS)));
    let lost = html.find("<b>lost-write</b>").unwrap();
    let chosen = html.find(" checked>").unwrap();
    assert!(chosen < lost && html[chosen..lost].matches("<li").count() == 0, "the finding naming a record is chosen");
    let few = Timeline::new(&by_hand(Vec::new(), Vec::new()), &three_phases(), &[]).html();
    assert!(!few.contains("more not listed"));
}

#[test]
fn a_stop_that_names_no_record_is_lit_by_the_anomaly_it_stopped_for_only() {
    let mut stopped = trace("totals-incremental", "totals", AnyView::new(1u32));
    // A panic that escaped the runner says not which record.
    stopped.stopped = Some(Stop {
        phase: 1,
        anomaly: crate::anomaly::Kind::ApplyPanic,
        message: String::new(),
        positions: vec![],
        count: 0,
    });
    let mut execution = by_hand(vec![stopped], Vec::new());
    let mut anomalies = crate::anomaly::Anomalies::default();
    anomalies.add(crate::anomaly::Kind::ApplyPanic, Some("totals-incremental"), &[], || "panicked".into());
    anomalies.add(crate::anomaly::Kind::DuplicateApply, Some("totals-incremental"), &[], || "twice".into());
    execution.anomalies = anomalies.into_vec();
    let (findings, _) = findings(&execution, &[]);
    let panic = findings.iter().position(|f| f.name == "apply-panic").unwrap();
    let html = Timeline::new(&execution, &three_phases(), &[]).html();
    assert!(html.contains(&format!("<div class=\"step stopped\" data-f=\" {panic} \">")), "{html}");
}

#[test]
fn a_long_list_of_positions_says_how_many_it_left_out_and_where() {
    let scattered: Vec<Position> = (0..450u64).map(|i| at(0, 2 * i)).collect();
    let mut group = trace("totals-incremental", "totals", AnyView::new(3u32));
    group.phases = vec![phase_trace(0, &scattered, report(&scattered, &scattered, true))];
    let execution = by_hand(vec![group], Vec::new());
    let html = Timeline::new(&execution, &three_phases(), &[]).html();
    assert!(html.contains("<span class=\"pos\">p0@398</span> <span class=\"more\">… 250 more</span>"), "{html}");
    // A lit record past the list's limit is drawn where it is.
    let violation = Violation::AppliedTwice { group: "totals-incremental".into(), position: at(0, 600), count: 2 };
    let html = Timeline::new(&execution, &three_phases(), std::slice::from_ref(&violation)).html();
    let lit = "<span class=\"more\">… 100 more</span> <span class=\"pos\" data-f=\" 0 \">p0@600</span> <span class=\"more\">… 149 more</span>";
    assert!(html.contains(lit), "{html}");
}

#[test]
fn late_and_partition_order_violations_pair_their_views() {
    let incremental = trace("totals-incremental", "totals", AnyView::new(3u32));
    let mut execution = by_hand(vec![incremental], Vec::new());
    execution.late = Some(vec![trace("totals-late", "totals", AnyView::new(2u32))]);
    let fold = |partitions: Vec<u32>, n: u32| crate::verify::execute::BlockOrderFold {
        partitions,
        views: vec![("other".into(), AnyView::new(0u32)), ("totals".into(), AnyView::new(n))],
    };
    execution.block_orders = vec![fold(vec![0, 1], 3), fold(vec![1, 0], 4), fold(vec![0, 1, 2], 5)];
    let violations = [
        Violation::LateGroupMismatch { projection: "totals".into(), joined: 1, diff: String::new() },
        Violation::PartitionOrder {
            projection: "totals".into(),
            arrival: vec![0, 1],
            order: vec![1, 0],
            diff: String::new(),
        },
    ];
    let pairs = views::pairs(&execution, &violations);
    let shown: Vec<(String, String, String, String)> = pairs
        .iter()
        .map(|p| (p.left_name.clone(), p.left.to_json_pretty(), p.right_name.clone(), p.right.to_json_pretty()))
        .collect();
    assert_eq!(shown[0], ("totals-incremental".into(), "3".into(), "totals-late".into(), "2".into()));
    assert_eq!(
        shown[1],
        (
            "totals, partitions in arrival order".into(),
            "3".into(),
            "totals, partitions in order [1, 0]".into(),
            "4".into()
        )
    );
    assert_eq!(pairs.len(), 3, "and the late group against the model: {shown:?}");
}

#[test]
fn a_page_draws_its_first_pairs_of_views_and_names_the_rest() {
    let groups = |n: usize| (0..n).map(|i| trace(&format!("g{i}"), "totals", AnyView::new(1u32))).collect::<Vec<_>>();
    let html = Timeline::new(&by_hand(groups(views::MAX_PAIRS), Vec::new()), &three_phases(), &[]).html();
    assert_eq!(html.matches("<details class=\"pair\"").count(), views::MAX_PAIRS);
    assert!(!html.contains("Also differing"));
    let html = Timeline::new(&by_hand(groups(views::MAX_PAIRS + 1), Vec::new()), &three_phases(), &[]).html();
    assert_eq!(html.matches("<details class=\"pair\"").count(), views::MAX_PAIRS);
    assert!(html.contains(&format!("Also differing: model vs g{}.", views::MAX_PAIRS)), "{html}");
}

#[test]
fn a_run_of_positions_stays_within_one_partition() {
    let mut group = trace("totals-incremental", "totals", AnyView::new(3u32));
    let delivered = [at(0, 0), at(1, 1), at(1, 2)];
    group.phases = vec![phase_trace(0, &delivered, report(&delivered, &delivered, true))];
    let html = Timeline::new(&by_hand(vec![group], Vec::new()), &three_phases(), &[]).html();
    let runs = "returned 3: <span class=\"pos\">p0@0</span> <span class=\"pos\">p1@1..2</span> </div>";
    assert!(html.contains(runs), "{html}");
}
