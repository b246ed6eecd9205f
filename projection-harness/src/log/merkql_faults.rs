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

/// Bytes of a pack entry's header: data length (u32 LE), then the hash.
const PACK_HEADER_BYTES: u64 = 36;

/// Where the object of the record at `offset` sits in `objects.pack`: the
/// byte offset of its entry header and its data length; `None` if the pack
/// holds no such object (already removed). The pack is scanned header by
/// header, never read whole.
fn find_object(partition_dir: &Path, offset: u64) -> Result<Option<(u64, u64)>, LogError> {
    use std::io::{Read, Seek, SeekFrom};
    let index = partition_dir.join("offsets.idx");
    let entry = read_index_entries(&index, offset, 1).map_err(|e| io("read", &index, e))?;
    let hash = &entry[4..];
    let pack_path = partition_dir.join("objects.pack");
    let file = std::fs::File::open(&pack_path).map_err(|e| io("open", &pack_path, e))?;
    let end = file.metadata().map_err(|e| io("read the size of", &pack_path, e))?.len();
    let mut reader = std::io::BufReader::new(file);
    let mut at = 0u64;
    let mut header = [0u8; PACK_HEADER_BYTES as usize];
    while at + PACK_HEADER_BYTES <= end {
        reader.read_exact(&mut header).map_err(|e| io("read", &pack_path, e))?;
        let length = u64::from(u32::from_le_bytes([header[0], header[1], header[2], header[3]]));
        if at + PACK_HEADER_BYTES + length > end {
            let message = format!("the entry at byte {at} runs past the end of the pack ({end} bytes)");
            return Err(io("scan", &pack_path, std::io::Error::other(message)));
        }
        if &header[4..] == hash {
            return Ok(Some((at, length)));
        }
        at += PACK_HEADER_BYTES + length;
        reader.seek(SeekFrom::Start(at)).map_err(|e| io("read", &pack_path, e))?;
    }
    Ok(None)
}

/// Writes `bytes` at `at` in the file at `path`, in place.
fn write_in_place(path: &Path, at: u64, bytes: &[u8]) -> Result<(), LogError> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new().write(true).open(path).map_err(|e| io("open", path, e))?;
    file.write_all_at(bytes, at).map_err(|e| io("write", path, e))?;
    file.sync_all().map_err(|e| io("sync", path, e))
}

/// Makes the object unfindable: its stored hash is changed and the pack's
/// persisted index removed, so that merkql rebuilds the index by scanning
/// and files the object under a hash no index entry names.
fn remove_object(partition_dir: &Path, offset: u64) -> Result<bool, LogError> {
    let Some((at, _)) = find_object(partition_dir, offset)? else { return Ok(false) };
    let pack_path = partition_dir.join("objects.pack");
    let first_hash_byte = read_at(&pack_path, at + 4, 1)?[0];
    write_in_place(&pack_path, at + 4, &[first_hash_byte ^ 0xff])?;
    let objects_index = partition_dir.join("objects.idx");
    match std::fs::remove_file(&objects_index) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(io("delete", &objects_index, e)),
    }
}

/// `length` bytes of the file at `path` from `at`.
fn read_at(path: &Path, at: u64, length: u64) -> Result<Vec<u8>, LogError> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path).map_err(|e| io("open", path, e))?;
    let mut bytes = vec![0; length as usize];
    file.read_exact_at(&mut bytes, at).map_err(|e| io("read", path, e))?;
    Ok(bytes)
}

/// Changes one byte of the record's value in place: its last ASCII digit
/// to another digit (the record stays a plausible event), else the lowest
/// bit of its last byte (an ASCII byte stays ASCII, a UTF-8 sequence's
/// last byte stays a continuation byte: the value stays valid UTF-8).
/// Returns whether there was a byte to change (an empty value has none).
fn flip_value_byte(partition_dir: &Path, offset: u64) -> Result<bool, LogError> {
    let Some((at, length)) = find_object(partition_dir, offset)? else { return Ok(false) };
    let pack_path = partition_dir.join("objects.pack");
    let data = read_at(&pack_path, at + PACK_HEADER_BYTES, length)?;
    // The stored data is a compression marker byte, then the record.
    let Some((&UNCOMPRESSED, encoded)) = data.split_first() else {
        return Err(io("find an uncompressed record in", &pack_path, std::io::Error::other("compressed pack")));
    };
    let record: merkql::record::Record = bincode::deserialize(encoded)
        .map_err(|e| io("decode the record in", &pack_path, std::io::Error::other(e.to_string())))?;
    // bincode 1: Option tag (1 byte), key (u64 length + bytes), value
    // (u64 length + bytes).
    let value_at = 1 + record.key.as_ref().map_or(0, |k| 8 + k.len()) + 8;
    let value = record.value.as_bytes();
    debug_assert_eq!(&encoded[value_at..value_at + value.len()], value, "the value sits where bincode 1 puts it");
    let Some(i) = value.iter().rposition(u8::is_ascii_digit).or(value.len().checked_sub(1)) else {
        return Ok(false);
    };
    let at_byte = at + PACK_HEADER_BYTES + 1 + (value_at + i) as u64;
    write_in_place(&pack_path, at_byte, &[value[i] ^ 0x01])?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A partition directory whose offset index names `target` at offset 0
    /// and whose pack holds `entries` (hash, data) in order.
    fn partition(target: [u8; 32], entries: &[([u8; 32], &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("offsets.idx"), index_entry(target)).unwrap();
        let mut pack = Vec::new();
        for (hash, data) in entries {
            pack.extend_from_slice(&(data.len() as u32).to_le_bytes());
            pack.extend_from_slice(hash);
            pack.extend_from_slice(data);
        }
        std::fs::write(dir.path().join("objects.pack"), pack).unwrap();
        dir
    }

    /// An index entry: a 4-byte checksum (not read here), then the hash.
    fn index_entry(hash: [u8; 32]) -> Vec<u8> {
        let mut entry = vec![0u8; 4];
        entry.extend_from_slice(&hash);
        assert_eq!(entry.len() as u64, INDEX_ENTRY_BYTES);
        entry
    }

    #[test]
    fn the_object_is_found_wherever_it_sits_in_the_pack_even_last() {
        let dir = partition([7; 32], &[([1; 32], b"ab"), ([7; 32], b"xyz")]);
        assert_eq!(find_object(dir.path(), 0).unwrap(), Some((38, 3)), "second entry, ending the pack");
        let dir = partition([7; 32], &[([7; 32], b"x"), ([1; 32], b"")]);
        assert_eq!(find_object(dir.path(), 0).unwrap(), Some((0, 1)));
        let dir = partition([9; 32], &[([1; 32], b"ab")]);
        assert_eq!(find_object(dir.path(), 0).unwrap(), None, "not in the pack");
    }

    #[test]
    fn an_entry_that_runs_past_the_end_of_the_pack_is_an_error_not_a_panic() {
        let dir = partition([7; 32], &[([1; 32], b"ab")]);
        let pack = dir.path().join("objects.pack");
        let mut bytes = std::fs::read(&pack).unwrap();
        bytes[0] = 200; // claims 200 bytes of data, holds 2
        std::fs::write(&pack, bytes).unwrap();
        let error = find_object(dir.path(), 0).unwrap_err();
        assert!(error.to_string().contains("runs past the end of the pack"), "{error}");
    }

    #[test]
    fn removing_an_object_changes_its_hash_and_drops_the_pack_index() {
        let dir = partition([7; 32], &[([1; 32], b"ab"), ([7; 32], b"xyz")]);
        std::fs::write(dir.path().join("objects.idx"), b"stale").unwrap();
        assert!(remove_object(dir.path(), 0).unwrap());
        assert!(!dir.path().join("objects.idx").exists());
        assert_eq!(find_object(dir.path(), 0).unwrap(), None, "no object under its hash any more");
        // The pack index already gone is no error; the object already gone
        // is nothing to do.
        assert!(!remove_object(dir.path(), 0).unwrap());
        let dir = partition([7; 32], &[([7; 32], b"xyz")]);
        assert!(remove_object(dir.path(), 0).unwrap(), "without an objects.idx");
        // A pack index that cannot be removed is an error, not ignored.
        let dir = partition([7; 32], &[([7; 32], b"xyz")]);
        std::fs::create_dir(dir.path().join("objects.idx")).unwrap();
        let error = remove_object(dir.path(), 0).unwrap_err();
        assert!(error.to_string().contains("objects.idx"), "{error}");
    }
}
