//! The `soak` command's campaign on a domain: which cases, which system,
//! which checks, and the report.
//!
//! Without faults: the domain's generated cases on the production system,
//! every property ([`check::all`]). With faults: the
//! same cases with restarts and generated faults on the durable system,
//! the properties that hold under faults ([`check::under_faults`]); a
//! failure then replays with `replay --durable`.

use crate::domain::Domain;
use crate::verify::Case;
use crate::verify::check;
use crate::verify::generate::{with_faults, with_restarts};
use crate::verify::soak::{self, Limit, Outcome, Plan, Shard, Summary};
use crate::verify::{Durable, Production};
use proptest::strategy::SBoxedStrategy;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

/// Largest `--max-events`.
pub const MAX_EVENTS_LIMIT: usize = 10_000;

/// What `soak` was asked to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub limit: Limit,
    pub seed: u64,
    pub threads: usize,
    pub shard: Shard,
    pub max_events: usize,
    pub faults: bool,
    pub out: PathBuf,
}

impl Options {
    fn plan(&self) -> Plan {
        Plan {
            limit: self.limit,
            seed: self.seed,
            threads: self.threads,
            shard: self.shard,
            out: self.out.clone(),
            replay_options: if self.faults { "--durable".into() } else { String::new() },
        }
    }
}

/// A domain's generated cases of at most the given number of records.
pub type Cases = fn(usize) -> SBoxedStrategy<Case>;

/// Runs the campaign on `domain` with cases from `cases`; `on_outcome` sees
/// each case as it finishes.
pub fn run<D: Domain>(
    domain: &D,
    cases: Cases,
    options: &Options,
    stop: &AtomicBool,
    on_outcome: &mut dyn FnMut(&Outcome, &Summary),
) -> Summary {
    let plan = options.plan();
    if options.faults {
        let cases = with_faults(with_restarts(cases(options.max_events)));
        let system = |dir: &std::path::Path| Durable { domain: domain.clone(), store: dir.join("views.sqlite") };
        soak::run(&plan, &cases, &system, &check::under_faults::<D>(), stop, on_outcome)
    } else {
        let cases = cases(options.max_events);
        let system = |_: &std::path::Path| Production(domain.clone());
        soak::run(&plan, &cases, &system, &check::all::<D>(), stop, on_outcome)
    }
}

fn limit_text(limit: Limit) -> String {
    match limit {
        Limit::Cases(n) => format!("cases below {n}"),
        Limit::Duration(d) => format!("{} s", d.as_secs()),
    }
}

/// The summary as text: a header, the rates, failures with their replay
/// commands, violations and anomalies by name, the digest.
pub fn text_report(options: &Options, summary: &Summary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let per_second = |n: u64| if summary.seconds > 0.0 { n as f64 / summary.seconds } else { 0.0 };
    let _ = writeln!(
        out,
        "Soak{}: {} on shard {}/{}, seed {}, {} thread(s), up to {} events a case, limit {}.",
        if options.faults { " with faults" } else { "" },
        crate::text::count(summary.cases, "case"),
        options.shard.index,
        options.shard.count,
        options.seed,
        options.threads,
        options.max_events,
        limit_text(options.limit),
    );
    let _ = writeln!(
        out,
        "{} events in {:.1} s: {:.1} histories/s, {:.0} events/s.",
        summary.events,
        summary.seconds,
        per_second(summary.cases),
        per_second(summary.events)
    );
    if summary.interrupted {
        let _ = writeln!(out, "Interrupted: the cases in flight finished; the rest did not run.");
    }
    let _ = writeln!(out, "Failures: {}.", summary.failures.len());
    for failure in &summary.failures {
        let violation = failure.violation.lines().next().unwrap_or_default();
        let _ = writeln!(
            out,
            "  case {}: {} ({} events after shrinking)",
            failure.case,
            crate::text::escaped(violation),
            failure.events
        );
        let _ = writeln!(out, "    replay: {}", failure.replay);
        if let Some(page) = &failure.page {
            let _ = writeln!(out, "    page: {}", crate::text::path(page));
        }
    }
    let counts = |map: &std::collections::BTreeMap<String, u64>| {
        if map.is_empty() {
            "none".to_string()
        } else {
            map.iter().map(|(name, n)| format!("{name} {n}")).collect::<Vec<_>>().join(", ")
        }
    };
    let _ = writeln!(out, "Violations by property (cases): {}.", counts(&summary.violations));
    let _ = writeln!(out, "Anomalies by name (cases): {}.", counts(&summary.anomalies));
    let _ = writeln!(out, "Digest of the cases and verdicts: {}.", summary.digest);
    out
}

/// The summary as one JSON object (the options, then the summary's fields).
pub fn json_report(options: &Options, summary: &Summary) -> String {
    #[derive(serde::Serialize)]
    struct Report<'a> {
        seed: u64,
        shard: String,
        threads: usize,
        max_events: usize,
        faults: bool,
        histories_per_second: f64,
        events_per_second: f64,
        #[serde(flatten)]
        summary: &'a Summary,
    }
    let per_second = |n: u64| if summary.seconds > 0.0 { n as f64 / summary.seconds } else { 0.0 };
    let report = Report {
        seed: options.seed,
        shard: format!("{}/{}", options.shard.index, options.shard.count),
        threads: options.threads,
        max_events: options.max_events,
        faults: options.faults,
        histories_per_second: per_second(summary.cases),
        events_per_second: per_second(summary.events),
        summary,
    };
    // Plain data: it serializes.
    let text = serde_json::to_string_pretty(&report).unwrap_or_default();
    crate::text::json_escaped(&text).into_owned() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::soak::Failure;

    #[test]
    fn the_text_summary_gives_each_failure_its_replay_command_and_page() {
        let options = Options {
            limit: Limit::Cases(10),
            seed: 5,
            threads: 2,
            shard: Shard::ALL,
            max_events: 300,
            faults: true,
            out: PathBuf::from("out"),
        };
        let failure = |case: u64, page: Option<&str>| Failure {
            case,
            property: "history".into(),
            violation: "history: lost-write\ndetail".into(),
            events: 4,
            file: Some(PathBuf::from(format!("out/soak-{case}.jsonl"))),
            replay: format!("cargo run --release -- replay out/soak-{case}.jsonl"),
            page: page.map(PathBuf::from),
        };
        let summary = Summary {
            cases: 10,
            events: 40,
            seconds: 2.0,
            failures: vec![failure(3, Some("out/soak-3.html")), failure(7, None)],
            violations: [("history".to_string(), 2)].into(),
            anomalies: std::collections::BTreeMap::new(),
            digest: "ab".into(),
            interrupted: false,
        };
        let text = text_report(&options, &summary);
        assert!(text.starts_with("Soak with faults: 10 cases on shard 0/1, seed 5, 2 thread(s)"), "{text}");
        assert!(text.contains(
            "  case 3: history: lost-write (4 events after shrinking)\n    replay: cargo run --release -- replay out/soak-3.jsonl\n    page: out/soak-3.html\n  case 7:"
        ), "{text}");
        assert_eq!(text.matches("    page: ").count(), 1, "no page line without a page");
        assert!(text.contains("Failures: 2.\n") && text.contains("Violations by property (cases): history 2.\n"));
    }
}
