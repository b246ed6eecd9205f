//! What the page highlights: each violation and each anomaly as one
//! finding, with the groups whose lanes it concerns, the phase it
//! happened in (when it names one) and the records it involves.

use crate::anomaly::Anomaly;
use crate::domain::Domain;
use crate::record::Position;
use crate::verify::check::Violation;
use crate::verify::execute::{Execution, Trace};

/// Most findings listed (and given a highlight) on one page: a faulted
/// run names one anomaly per kind and group, so a few dozen at most; the
/// rest are counted.
pub const MAX_FINDINGS: usize = 64;

/// Most records one finding lights; the rest are counted. Anomalies list
/// their first [`crate::anomaly::MAX_LISTED_POSITIONS`] already; a
/// violation may name a whole partition (a poll that returned nothing).
pub const MAX_LIT_POSITIONS: usize = 500;

/// Whether a finding is a violated property or a named anomaly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    Violation,
    Anomaly,
}

impl What {
    pub fn name(self) -> &'static str {
        match self {
            What::Violation => "violation",
            What::Anomaly => "anomaly",
        }
    }
}

/// One violation or anomaly, as the page shows it.
pub struct Finding {
    pub what: What,
    /// The property (`only new events`) or the anomaly (`lost-write`).
    pub name: String,
    /// The checker's full text.
    pub text: String,
    /// What the anomaly means, for anomalies.
    pub explanation: Option<&'static str>,
    /// Group ids whose lanes it concerns; empty for the log's own.
    pub groups: Vec<String>,
    /// The phase it happened in, when it names one: it lights records in
    /// that phase's column of its groups' lanes only.
    pub phase: Option<usize>,
    /// The phase a group's runner stopped in for it, if one did.
    pub stopped_in: Option<usize>,
    /// The records it lights, in (partition, offset) order: its first
    /// [`MAX_LIT_POSITIONS`].
    pub positions: Vec<Position>,
    /// How many records it involves in all.
    pub count: usize,
}

impl Finding {
    /// Whether it lights `position` in `group`'s lane at `phase`: a
    /// finding of other groups, or of another phase, does not.
    pub fn lights(&self, group: Option<&str>, phase: Option<usize>, position: Position) -> bool {
        let group_matches = match group {
            None => true,
            Some(group) => self.groups.is_empty() || self.groups.iter().any(|g| g == group),
        };
        let phase_matches = match (self.phase, phase) {
            (Some(mine), Some(theirs)) => mine == theirs,
            _ => true,
        };
        group_matches && phase_matches && self.positions.binary_search(&position).is_ok()
    }
}

/// The violations, then the anomalies no violation already reports: the
/// first [`MAX_FINDINGS`], and how many more there are.
pub fn findings<D: Domain>(execution: &Execution<D>, violations: &[Violation]) -> (Vec<Finding>, usize) {
    let reported: Vec<&Anomaly> = violations
        .iter()
        .filter_map(|v| match v {
            Violation::Anomaly(anomaly) => Some(anomaly),
            _ => None,
        })
        .collect();
    let from_violations = violations.iter().map(|v| of_violation(execution, v));
    let from_anomalies =
        execution.anomalies.iter().filter(|a| !reported.contains(a)).map(|a| of_anomaly(execution, a, What::Anomaly));
    let mut all: Vec<Finding> = from_violations.chain(from_anomalies).collect();
    let more = all.len().saturating_sub(MAX_FINDINGS);
    all.truncate(MAX_FINDINGS);
    (all, more)
}

fn of_violation<D: Domain>(execution: &Execution<D>, violation: &Violation) -> Finding {
    if let Violation::Anomaly(anomaly) = violation {
        let mut finding = of_anomaly(execution, anomaly, What::Violation);
        finding.name = format!("{}: {}", violation.property(), anomaly.kind);
        finding.text = violation.to_string();
        return finding;
    }
    let of_projection = |groups: &[&[Trace<D::Rejection>]], projection: &str| -> Vec<String> {
        groups
            .iter()
            .flat_map(|g| g.iter())
            .filter(|t| t.projection == projection)
            .map(|t| t.group_id.clone())
            .collect()
    };
    let late = execution.late.as_deref().unwrap_or_default();
    let (groups, phase) = match violation {
        Violation::NotOnlyNew { group, phase, .. } | Violation::Redelivery { group, phase, .. } => {
            (vec![group.clone()], Some(*phase))
        }
        Violation::KeyOrder { group, .. }
        | Violation::AppliedTwice { group, .. }
        | Violation::ModelMismatch { group, .. }
        | Violation::RejectedMismatch { group, .. }
        | Violation::SilentDivergence { group, .. } => (vec![group.clone()], None),
        Violation::SplitMismatch { projection, .. } => {
            (of_projection(&[&execution.full, &execution.incremental], projection), None)
        }
        Violation::LateGroupMismatch { projection, .. } => {
            (of_projection(&[&execution.incremental, late], projection), None)
        }
        Violation::PartitionOrder { projection, .. } => (of_projection(&[&execution.full], projection), None),
        Violation::OffsetGap { .. } | Violation::ModelMissing { .. } | Violation::Anomaly(_) => (Vec::new(), None),
    };
    let mut positions = violation.positions();
    positions.sort();
    positions.dedup();
    let count = positions.len();
    positions.truncate(MAX_LIT_POSITIONS);
    Finding {
        what: What::Violation,
        name: violation.property().to_string(),
        text: violation.to_string(),
        explanation: None,
        groups,
        phase,
        stopped_in: None,
        positions,
        count,
    }
}

fn of_anomaly<D: Domain>(execution: &Execution<D>, anomaly: &Anomaly, what: What) -> Finding {
    // The history checker merges every occurrence of a kind in a group, a
    // runner's stop included: it lights its records in every phase, and
    // the stop's step too.
    let stopped_in = anomaly.group.as_ref().and_then(|group| {
        let trace = execution.traces().find(|t| &t.group_id == group)?;
        trace.stopped.as_ref().filter(|stop| stop.anomaly == anomaly.kind).map(|stop| stop.phase)
    });
    let mut positions = anomaly.positions.clone();
    positions.sort();
    positions.dedup();
    positions.truncate(MAX_LIT_POSITIONS);
    Finding {
        what,
        name: anomaly.kind.to_string(),
        text: anomaly.to_string(),
        explanation: Some(anomaly.explanation),
        groups: anomaly.group.iter().cloned().collect(),
        phase: None,
        stopped_in,
        count: anomaly.count.max(positions.len()),
        positions,
    }
}
