//! What the page highlights: each violation and each anomaly as one
//! finding, with the groups whose lanes it concerns, the phase it
//! happened in (when it names one) and the records it involves.

use crate::anomaly::Anomaly;
use crate::domain::Domain;
use crate::record::Position;
use crate::verify::check::Violation;
use crate::verify::execute::Execution;

/// Most findings listed (and given a highlight) on one page: a faulted
/// run names one anomaly per kind and group, so a few dozen at most.
pub const MAX_FINDINGS: usize = 64;

/// One violation or anomaly, as the page shows it.
pub struct Finding {
    /// `violation` or `anomaly`.
    pub what: &'static str,
    /// The property (`only new events`) or the anomaly (`lost-write`).
    pub name: String,
    /// The checker's full text.
    pub text: String,
    /// What the anomaly means, for anomalies.
    pub explanation: Option<&'static str>,
    /// Group ids whose lanes it concerns; empty for the log's own.
    pub groups: Vec<String>,
    /// The phase it happened in, when it names one.
    pub phase: Option<usize>,
    /// The records it involves, in (partition, offset) order.
    pub positions: Vec<Position>,
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

/// The violations, then the anomalies no violation already reports, at
/// most [`MAX_FINDINGS`].
pub fn findings<D: Domain>(execution: &Execution<D>, violations: &[Violation]) -> Vec<Finding> {
    let reported: Vec<&Anomaly> = violations
        .iter()
        .filter_map(|v| match v {
            Violation::Anomaly(anomaly) => Some(anomaly),
            _ => None,
        })
        .collect();
    let from_violations = violations.iter().map(|v| of_violation(execution, v));
    let from_anomalies =
        execution.anomalies.iter().filter(|a| !reported.contains(a)).map(|a| of_anomaly(execution, a, "anomaly"));
    from_violations.chain(from_anomalies).take(MAX_FINDINGS).collect()
}

fn of_violation<D: Domain>(execution: &Execution<D>, violation: &Violation) -> Finding {
    if let Violation::Anomaly(anomaly) = violation {
        let mut finding = of_anomaly(execution, anomaly, "violation");
        finding.name = format!("{}: {}", violation.property(), anomaly.kind);
        finding.text = violation.to_string();
        return finding;
    }
    let projection_groups = |projection: &str, kinds: &[&str]| -> Vec<String> {
        execution
            .traces()
            .filter(|t| t.projection == projection && kinds.iter().any(|k| t.group_id.ends_with(k)))
            .map(|t| t.group_id.clone())
            .collect()
    };
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
            (projection_groups(projection, &["-full", "-incremental"]), None)
        }
        Violation::LateGroupMismatch { projection, .. } => {
            (projection_groups(projection, &["-incremental", "-late"]), None)
        }
        Violation::PartitionOrder { projection, .. } => (projection_groups(projection, &["-full"]), None),
        Violation::OffsetGap { .. } | Violation::ModelMissing { .. } | Violation::Anomaly(_) => (Vec::new(), None),
    };
    Finding {
        what: "violation",
        name: violation.property().to_string(),
        text: violation.to_string(),
        explanation: None,
        groups,
        phase,
        positions: violation.positions(),
    }
}

fn of_anomaly<D: Domain>(execution: &Execution<D>, anomaly: &Anomaly, what: &'static str) -> Finding {
    // A runner's stop is in the phase it stopped in.
    let phase = anomaly.group.as_ref().and_then(|group| {
        let trace = execution.traces().find(|t| &t.group_id == group)?;
        trace.stopped.as_ref().filter(|stop| stop.anomaly == anomaly.kind).map(|stop| stop.phase)
    });
    let mut positions = anomaly.positions.clone();
    positions.sort();
    positions.dedup();
    Finding {
        what,
        name: anomaly.kind.to_string(),
        text: anomaly.to_string(),
        explanation: Some(anomaly.explanation),
        groups: anomaly.group.iter().cloned().collect(),
        phase,
        positions,
    }
}
