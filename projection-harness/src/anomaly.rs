//! Named anomalies: what can go wrong between a log and a projection, each
//! with a name a user can search for and a paragraph saying what it means.
//!
//! Log-level names are the Jepsen Kafka workload's (lost-write, unseen,
//! duplicate, poll-skip, nonmonotonic-poll, nonmonotonic-send,
//! inconsistent-offsets); projection-level ones are this harness's own.
//! The log adapter ([`crate::log::LogError::Damaged`]), the runners
//! ([`crate::runner::RunError::anomaly`]) and the history checker
//! ([`crate::verify::history`]) all report with these names.

use crate::record::Position;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Positions an anomaly lists at most; the rest are counted.
pub const MAX_LISTED_POSITIONS: usize = 10;

/// One anomaly found: its kind, the group it concerns (none for the log's
/// own), the positions involved and what was seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    #[serde(rename = "anomaly")]
    pub kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The first [`MAX_LISTED_POSITIONS`] positions involved.
    pub positions: Vec<Position>,
    /// How many positions are involved in all.
    pub count: usize,
    /// What was seen, for the first occurrence.
    pub detail: String,
    pub explanation: &'static str,
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(group) = &self.group {
            write!(f, ": group {}", crate::text::quoted(group))?;
        }
        write!(f, ": {}", self.detail)?;
        if self.count > 1 {
            write!(f, " ({} positions in all: {}", self.count, crate::record::Positions(&self.positions))?;
            if self.count > self.positions.len() {
                write!(f, ", ...")?;
            }
            write!(f, ")")?;
        }
        Ok(())
    }
}

/// Anomalies as they are found, one entry per kind and group: the first
/// occurrence's detail, the first positions, and a count.
#[derive(Clone, Debug, Default)]
pub struct Anomalies(BTreeMap<(Kind, Option<String>), Anomaly>);

impl Anomalies {
    /// Records one occurrence at `positions` (may be empty).
    pub fn add(&mut self, kind: Kind, group: Option<&str>, positions: &[Position], detail: impl FnOnce() -> String) {
        self.add_counted(kind, group, positions, positions.len(), detail);
    }

    /// Records `count` positions of which `positions` are the first ones
    /// (a range too long to list: a skip over millions of offsets).
    pub fn add_counted(
        &mut self,
        kind: Kind,
        group: Option<&str>,
        positions: &[Position],
        count: usize,
        detail: impl FnOnce() -> String,
    ) {
        let entry = self.0.entry((kind, group.map(str::to_string))).or_insert_with(|| Anomaly {
            kind,
            group: group.map(str::to_string),
            positions: Vec::new(),
            count: 0,
            detail: detail(),
            explanation: kind.explanation(),
        });
        entry.count = entry.count.saturating_add(count.max(1));
        let room = MAX_LISTED_POSITIONS.saturating_sub(entry.positions.len());
        entry.positions.extend(positions.iter().take(room));
    }

    /// Every anomaly, by kind then group.
    pub fn into_vec(self) -> Vec<Anomaly> {
        self.0.into_values().collect()
    }
}

/// One kind of anomaly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    LostWrite,
    Unseen,
    Duplicate,
    PollSkip,
    NonmonotonicPoll,
    NonmonotonicSend,
    InconsistentOffsets,
    DuplicateApply,
    SkippedApply,
    PerKeyReorder,
    CheckpointAheadOfLog,
    CheckpointBehindView,
    ApplyPanic,
}

impl Kind {
    /// Every kind, log-level first.
    pub const ALL: [Kind; 13] = [
        Kind::LostWrite,
        Kind::Unseen,
        Kind::Duplicate,
        Kind::PollSkip,
        Kind::NonmonotonicPoll,
        Kind::NonmonotonicSend,
        Kind::InconsistentOffsets,
        Kind::DuplicateApply,
        Kind::SkippedApply,
        Kind::PerKeyReorder,
        Kind::CheckpointAheadOfLog,
        Kind::CheckpointBehindView,
        Kind::ApplyPanic,
    ];

    /// Its kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::LostWrite => "lost-write",
            Kind::Unseen => "unseen",
            Kind::Duplicate => "duplicate",
            Kind::PollSkip => "poll-skip",
            Kind::NonmonotonicPoll => "nonmonotonic-poll",
            Kind::NonmonotonicSend => "nonmonotonic-send",
            Kind::InconsistentOffsets => "inconsistent-offsets",
            Kind::DuplicateApply => "duplicate-apply",
            Kind::SkippedApply => "skipped-apply",
            Kind::PerKeyReorder => "per-key-reorder",
            Kind::CheckpointAheadOfLog => "checkpoint-ahead-of-log",
            Kind::CheckpointBehindView => "checkpoint-behind-view",
            Kind::ApplyPanic => "apply-panic",
        }
    }

    /// Whether the log itself lost or changed acknowledged records: no
    /// reader can then build the view of everything that was written.
    pub fn is_data_loss(self) -> bool {
        matches!(self, Kind::LostWrite | Kind::InconsistentOffsets | Kind::NonmonotonicSend)
    }

    /// What it means, in one paragraph.
    pub fn explanation(self) -> &'static str {
        match self {
            Kind::LostWrite => {
                "An acknowledged append was never read back, although readers read past its offset after it was written: the log lost it (a truncated index, a missing object, retention). Every view built from this log lacks it."
            }
            Kind::Unseen => {
                "An acknowledged append was never read by any group, and no group read past it. It may be lost or only unread (every reader stopped before it)."
            }
            Kind::Duplicate => {
                "A record written once was read at another offset than the one its append was given: the log holds it twice."
            }
            Kind::PollSkip => {
                "A consumer's poll jumped over offsets of a partition: it returned a record past the next offset it should have returned, so the records in between never reached it (retention evicted them, their objects are missing)."
            }
            Kind::NonmonotonicPoll => {
                "A consumer received an offset at or below one it (or its group's last commit) had already passed: the group is read again from an earlier position (its committed offsets were lost, as a corrupt or deleted offsets.bin does in merkql)."
            }
            Kind::NonmonotonicSend => {
                "An append was given an offset at or below one an earlier append to the same partition was given: the log gave an offset out twice (a repaired index tail does)."
            }
            Kind::InconsistentOffsets => {
                "One offset holds different records: a read returned another record than the one acknowledged there (a damaged byte), or two appends were acknowledged at the same offset."
            }
            Kind::DuplicateApply => {
                "A projection applied the same record twice: its view counts it twice. The runner did not skip a redelivered record (its checkpoint was behind its view)."
            }
            Kind::SkippedApply => {
                "A projection never applied a record it should have (one the model accepts): its view lacks it. The runner's checkpoint passed a record it had not applied, or the log never delivered it."
            }
            Kind::PerKeyReorder => {
                "A projection applied one key's records in another order than they were produced: a fold that depends on order (a running balance, a state machine) may differ."
            }
            Kind::CheckpointAheadOfLog => {
                "A checkpoint covers offsets the log no longer holds, or holds other records at (the log was truncated or rewritten under it): the records now at those offsets would never be applied."
            }
            Kind::CheckpointBehindView => {
                "A view holds records its checkpoint does not cover: after a restart they would be delivered and applied again."
            }
            Kind::ApplyPanic => {
                "A projection panicked while applying a record. A durable runner stores nothing of the batch and reloads its state; a runner that commits anyway (merkql's auto-commit on Drop) skips the batch."
            }
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::{Anomalies, Kind, MAX_LISTED_POSITIONS};
    use crate::record::Position;

    #[test]
    fn anomalies_are_grouped_by_kind_and_group_with_bounded_positions() {
        let mut anomalies = Anomalies::default();
        let at = |offset| Position { partition: 1, offset };
        for offset in 0..25 {
            anomalies.add(Kind::LostWrite, None, &[at(offset)], || format!("first at {offset}"));
        }
        anomalies.add(Kind::DuplicateApply, Some("g"), &[], || "no position".into());
        anomalies.add(Kind::DuplicateApply, Some("h"), &[at(7), at(8)], || "two".into());
        let all = anomalies.into_vec();
        assert_eq!(all.len(), 3);
        assert_eq!((all[0].kind, all[0].count, all[0].positions.len()), (Kind::LostWrite, 25, MAX_LISTED_POSITIONS));
        assert_eq!(all[0].detail, "first at 0");
        assert!(
            all[0].to_string().starts_with("lost-write: first at 0 (25 positions in all: p1@0..9, ...)"),
            "{}",
            all[0]
        );
        assert_eq!(all[1].to_string(), "duplicate-apply: group \"g\": no position");
        assert_eq!(all[2].to_string(), "duplicate-apply: group \"h\": two (2 positions in all: p1@7..8)");
    }

    #[test]
    fn names_are_unique_kebab_case_and_serialize_as_themselves() {
        let mut names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        for kind in Kind::ALL {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{}\"", kind.name()));
            assert_eq!(kind.to_string(), kind.name());
            assert!(kind.explanation().ends_with('.') && kind.explanation().len() > 80, "{kind}");
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Kind::ALL.len());
        let loss: Vec<Kind> = Kind::ALL.into_iter().filter(|k| k.is_data_loss()).collect();
        assert_eq!(loss, [Kind::LostWrite, Kind::NonmonotonicSend, Kind::InconsistentOffsets]);
    }
}
