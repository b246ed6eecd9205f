//! Injecting [`Fault`]s into a merkql log: its files and broker are
//! changed as the real failure would change them, then merkql is left to
//! react as it does (see `KNOWN-ANOMALIES.md`).
//!
//! File layout used here (merkql 0.2, uncompressed, unsegmented: what this
//! adapter creates): per partition, `offsets.idx` holds one 36-byte entry
//! per offset (CRC-32 of the hash, then the record's SHA-256 content hash);
//! `objects.pack` holds entries `[length u32 LE][hash 32 bytes][data]`
//! (data: a compression marker byte, 0 for none, then the object),
//! indexed by `objects.idx` (rebuilt by scanning the pack when absent); a
//! record's data is its bincode encoding (key, value, topic, ...). Group
//! commits are in `.merkql/groups/<group>/offsets.bin`.

use super::merkql::{INDEX_ENTRY_BYTES, read_index_entries};
use super::{Fault, Log, LogError, MerkqlLog};
use std::path::Path;
use std::sync::atomic::Ordering;

impl MerkqlLog {
    /// Applies `fault`; see [`Fault`] for each one's effect.
    pub(super) fn inject_fault(&mut self, fault: &Fault) -> Result<String, LogError> {
        if fault.reopens_the_broker() {
            let holders = std::sync::Arc::strong_count(&self.broker) - 1;
            if holders > 0 {
                return Err(LogError::ConsumersStillOpen(holders));
            }
        }
        let ends = self.end_offsets()?;
        let partitions = self.partitions();
        // Targets taken modulo what the log holds: any fault applies.
        let target = |partition: u32| {
            let partition = partition % partitions;
            (partition, ends[partition as usize])
        };
        let done = match *fault {
            Fault::CorruptGroupOffsets | Fault::DeleteGroupOffsets => {
                let delete = *fault == Fault::DeleteGroupOffsets;
                let groups = self.damage_group_offsets(delete)?;
                self.reopen()?;
                format!("{} the offsets of {groups} group(s)", if delete { "deleted" } else { "corrupted" })
            }
            Fault::Retention { partition, evict } => {
                let (partition, end) = target(partition);
                let keep_from = evict.min(end);
                let topic = self.broker.topic(self.topic()).ok_or_else(|| self.missing_partition(partition))?;
                let handle = topic.partition(partition).ok_or_else(|| self.missing_partition(partition))?;
                let mut guard = handle.write().map_err(|_| self.missing_partition(partition))?;
                guard.advance_retention(keep_from).map_err(|e| self.error("advance retention", e))?;
                format!("partition {partition} keeps offsets from {keep_from} (of {end})")
            }
            Fault::TruncateIndexTail { partition, records } => {
                let (partition, end) = target(partition);
                let cut = records.min(end);
                let path = self.partition_dir(partition).join("offsets.idx");
                let file = std::fs::OpenOptions::new().write(true).open(&path).map_err(|e| io("open", &path, e))?;
                file.set_len((end - cut) * INDEX_ENTRY_BYTES).map_err(|e| io("truncate", &path, e))?;
                file.sync_all().map_err(|e| io("sync", &path, e))?;
                drop(file);
                self.reopen()?;
                format!("partition {partition}'s index cut from {end} to {} entries", end - cut)
            }
            Fault::MissingObject { partition, offset } | Fault::FlipPayloadByte { partition, offset } => {
                let (partition, end) = target(partition);
                if end == 0 {
                    return Ok(format!("nothing to damage: partition {partition} is empty"));
                }
                let offset = offset % end;
                let dir = self.partition_dir(partition);
                let (damaged, done) = if matches!(fault, Fault::MissingObject { .. }) {
                    let removed = remove_object(&dir, offset)?;
                    self.reopen()?;
                    (removed, "removed the object of")
                } else {
                    (flip_value_byte(&dir, offset)?, "changed a byte of the value of")
                };
                if damaged {
                    format!("{done} partition {partition}, offset {offset}")
                } else {
                    format!(
                        "nothing to damage: the object of partition {partition}, offset {offset} is already missing"
                    )
                }
            }
            Fault::PollError => {
                self.poll_fault.store(true, Ordering::SeqCst);
                "the next poll fails".to_string()
            }
            Fault::PanicInApply { .. } => return Err(LogError::FaultUnsupported(fault.name())),
        };
        Ok(done)
    }

    fn missing_partition(&self, partition: u32) -> LogError {
        self.error("find a partition", anyhow::anyhow!("partition {partition} is missing"))
    }

    /// Damages (or deletes) every group's `offsets.bin`; returns how many.
    fn damage_group_offsets(&self, delete: bool) -> Result<usize, LogError> {
        let groups = self.dir().join(".merkql").join("groups");
        let entries = match std::fs::read_dir(&groups) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io("list", &groups, e)),
        };
        let mut damaged = 0;
        for entry in entries {
            let path = entry.map_err(|e| io("list", &groups, e))?.path().join("offsets.bin");
            if !path.exists() {
                continue;
            }
            if delete {
                std::fs::remove_file(&path).map_err(|e| io("delete", &path, e))?;
            } else {
                let mut bytes = std::fs::read(&path).map_err(|e| io("read", &path, e))?;
                bytes.iter_mut().for_each(|b| *b = !*b);
                std::fs::write(&path, bytes).map_err(|e| io("write", &path, e))?;
            }
            damaged += 1;
        }
        Ok(damaged)
    }
}

fn io(action: &str, path: &Path, e: std::io::Error) -> LogError {
    LogError::Backend {
        action: "inject a fault",
        place: crate::text::path(path),
        message: format!("cannot {action} it: {e}"),
    }
}

/// merkql's marker of an uncompressed object.
const UNCOMPRESSED: u8 = 0x00;

/// Where the object of the record at `offset` sits in `objects.pack`: the
/// pack's bytes, the byte offset of its entry header and its data length;
/// `None` if the pack holds no such object (already removed).
fn find_object(partition_dir: &Path, offset: u64) -> Result<Option<(Vec<u8>, u64, usize)>, LogError> {
    let index = partition_dir.join("offsets.idx");
    let entry = read_index_entries(&index, offset, 1).map_err(|e| io("read", &index, e))?;
    let hash = &entry[4..];
    let pack_path = partition_dir.join("objects.pack");
    let pack = std::fs::read(&pack_path).map_err(|e| io("read", &pack_path, e))?;
    let mut at = 0usize;
    while at + 36 <= pack.len() {
        let length = u32::from_le_bytes([pack[at], pack[at + 1], pack[at + 2], pack[at + 3]]) as usize;
        if &pack[at + 4..at + 36] == hash {
            return Ok(Some((pack, at as u64, length)));
        }
        at += 36 + length;
    }
    Ok(None)
}

/// Makes the object unfindable: its stored hash is changed and the pack's
/// persisted index removed, so that merkql rebuilds the index by scanning
/// and files the object under a hash no index entry names.
fn remove_object(partition_dir: &Path, offset: u64) -> Result<bool, LogError> {
    let Some((mut pack, at, _)) = find_object(partition_dir, offset)? else { return Ok(false) };
    pack[at as usize + 4] ^= 0xff;
    let pack_path = partition_dir.join("objects.pack");
    std::fs::write(&pack_path, pack).map_err(|e| io("write", &pack_path, e))?;
    let objects_index = partition_dir.join("objects.idx");
    match std::fs::remove_file(&objects_index) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(io("delete", &objects_index, e)),
    }
}

/// Changes one byte of the record's value in place: its last digit to
/// another digit, else its last ASCII letter's case, so that the value
/// stays valid UTF-8 and, for a cart event, usually a valid event.
fn flip_value_byte(partition_dir: &Path, offset: u64) -> Result<bool, LogError> {
    let Some((mut pack, at, length)) = find_object(partition_dir, offset)? else { return Ok(false) };
    let pack_path = partition_dir.join("objects.pack");
    // The stored data is a compression marker byte, then the record.
    if length == 0 || pack[at as usize + 36] != UNCOMPRESSED {
        return Err(io("find an uncompressed record in", &pack_path, std::io::Error::other("compressed pack")));
    }
    let data_at = at as usize + 37;
    let data = &pack[data_at..data_at + length - 1];
    let record: merkql::record::Record = bincode::deserialize(data)
        .map_err(|e| io("decode the record in", &pack_path, std::io::Error::other(e.to_string())))?;
    // bincode 1: Option tag (1 byte), key (u64 length + bytes), value
    // (u64 length + bytes).
    let value_at = data_at + 1 + record.key.as_ref().map_or(0, |k| 8 + k.len()) + 8;
    let value = &mut pack[value_at..value_at + record.value.len()];
    debug_assert_eq!(value, record.value.as_bytes(), "the value sits where bincode 1 puts it");
    let choice = value
        .iter()
        .rposition(u8::is_ascii_digit)
        .map(|i| (i, 0x01))
        .or_else(|| value.iter().rposition(u8::is_ascii_alphabetic).map(|i| (i, 0x20)));
    let Some((i, mask)) = choice else {
        return Err(io(
            "find a byte to change in",
            &pack_path,
            std::io::Error::other("the value has no ASCII letter or digit"),
        ));
    };
    value[i] ^= mask;
    std::fs::write(&pack_path, pack).map_err(|e| io("write", &pack_path, e))?;
    Ok(true)
}
