//! Faults a log can have injected: merkql 0.2's silent failure modes, made
//! to happen at a chosen point of a history.
//!
//! Each fault is what a real broker directory suffers (a torn write, a
//! corrupted file, retention, a failed read), not a simulation in the
//! reader: [`super::MerkqlLog`] applies them to its files and broker, so
//! that the runners meet merkql's own reaction to them. A fault names its
//! target by partition and offset; both are taken modulo what the log holds
//! at the time (a fault on an empty partition does nothing and says so), so
//! any generated fault applies, and the same fault on the same history
//! does the same thing on every replay.

use serde::{Deserialize, Serialize};

/// One injected fault. Serialized in replay files as
/// `{"fault":"flip-payload-byte","partition":1,"offset":3}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Fault {
    /// Every consumer group's `offsets.bin` overwritten with bytes that fail
    /// its checksum; the broker is reopened. merkql then forgets the groups'
    /// commits without an error and starts them at the earliest record.
    CorruptGroupOffsets,
    /// Every consumer group's `offsets.bin` deleted; the broker is reopened.
    /// Same effect as a corrupt file.
    DeleteGroupOffsets,
    /// Retention evicts the partition's first `evict` records (at most all
    /// of them). A group that had not read them silently starts after them.
    Retention { partition: u32, evict: u64 },
    /// The last `records` entries of the partition's offset index are cut
    /// off, as a torn write leaves them; the broker is reopened. merkql
    /// gives their offsets to the next records appended, also to offsets
    /// a group has already committed past.
    TruncateIndexTail { partition: u32, records: u64 },
    /// The object of the record at `offset` disappears from the partition's
    /// pack file (its index entry stays); the broker is reopened. merkql's
    /// `poll` then leaves the record out without an error.
    MissingObject { partition: u32, offset: u64 },
    /// One byte of the value of the record at `offset` is changed in the
    /// pack file (a digit to another digit where the value has one, so the
    /// record stays readable and plausible). merkql returns it as is. The
    /// broker stays open: it reads the pack file afresh on every poll.
    FlipPayloadByte { partition: u32, offset: u64 },
    /// The next poll of any consumer fails after merkql has advanced its
    /// positions, as merkql's `poll` does when a read fails part-way.
    PollError,
    /// Not a log fault: a projection panics in `apply`, once, on the
    /// record after the next `after` records applied in the phase (by any
    /// group, in the order the groups run). The harness's executor arms it
    /// ([`crate::verify::execute()`]); a log refuses it. Which record it hits
    /// follows the order of a poll's records, which is the same on every
    /// run (partitions in order, each in offset order).
    PanicInApply { after: u32 },
}

/// Most faults one phase may inject (explicit bound, TigerStyle).
pub const MAX_FAULTS_PER_PHASE: usize = 8;

impl Fault {
    /// Whether applying it drops and reopens the broker (the fault needs
    /// every consumer released first, as [`super::Log::reopen`] does).
    pub fn reopens_the_broker(&self) -> bool {
        matches!(
            self,
            Fault::CorruptGroupOffsets
                | Fault::DeleteGroupOffsets
                | Fault::TruncateIndexTail { .. }
                | Fault::MissingObject { .. }
        )
    }

    /// Its kebab-case name, as in replay files.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::CorruptGroupOffsets => "corrupt-group-offsets",
            Fault::DeleteGroupOffsets => "delete-group-offsets",
            Fault::Retention { .. } => "retention",
            Fault::TruncateIndexTail { .. } => "truncate-index-tail",
            Fault::MissingObject { .. } => "missing-object",
            Fault::FlipPayloadByte { .. } => "flip-payload-byte",
            Fault::PollError => "poll-error",
            Fault::PanicInApply { .. } => "panic-in-apply",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_read_and_write_as_tagged_json() {
        let faults = [
            Fault::CorruptGroupOffsets,
            Fault::DeleteGroupOffsets,
            Fault::Retention { partition: 1, evict: 2 },
            Fault::TruncateIndexTail { partition: 0, records: 1 },
            Fault::MissingObject { partition: 2, offset: 3 },
            Fault::FlipPayloadByte { partition: 1, offset: 0 },
            Fault::PollError,
            Fault::PanicInApply { after: 3 },
        ];
        for fault in faults {
            let json = serde_json::to_string(&fault).unwrap();
            assert!(json.starts_with(&format!("{{\"fault\":\"{}\"", fault.name())), "{json}");
            assert_eq!(serde_json::from_str::<Fault>(&json).unwrap(), fault);
        }
        let error = serde_json::from_str::<Fault>(r#"{"fault":"retention","partition":1,"evict":2,"x":1}"#);
        assert!(error.is_err(), "unknown fields are refused");
    }
}
