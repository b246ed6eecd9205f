//! Building large logs fast: the fixture builder of the benchmarks.
//!
//! Producing a million events through `Producer::send` is quadratic: every
//! `send` fsyncs and rewrites the partition's whole object index, so its cost
//! grows with the partition (BENCHMARKS.md, "Per-send cost"). merkql's
//! `Partition::append_batch` does that work once per batch instead, so
//! [`MerkqlLog::bulk_append`] groups records by partition and hands each
//! partition batches of up to [`BULK_BATCH_RECORDS`] records.
//!
//! The layout is exactly what `send` would produce (`tests/it/bulk_load.rs`
//! checks it): records are routed like merkql's `Topic::route` (the first 4
//! bytes, big-endian, of SHA-256 of the key, modulo the partition count),
//! keep their input order within each partition, and get the partition's
//! next offsets. A later [`Log::append`] continues after them.
//!
//! Differences from `send`, none of which a consumer can see:
//! - records without a key go round-robin by the log's own counter, kept
//!   exactly as merkql keeps the one in its `Topic` (from 0 when the broker
//!   opens, one per keyless record), so they land where `send` would put
//!   them; single keyless appends use the same counter
//!   (`tests/it/bulk_load.rs` compares with merkql's own `send`);
//! - retention is not applied (this adapter never configures it);
//! - no producer notification is sent (the `notify` feature is off).

use super::{Log, LogError, MerkqlLog};
use crate::record::Position;
use merkql::broker::Broker;
use merkql::hash::Hash;
use merkql::record::{ProducerRecord, Record};

/// Largest batch handed to `Partition::append_batch`: bounds the memory a
/// bulk load holds (records are about 150 bytes) while keeping the number of
/// whole-index rewrites (one per batch) small.
pub const BULK_BATCH_RECORDS: usize = 100_000;

/// The partition merkql's `Topic::route` picks for a keyed record: the first
/// 4 bytes (big-endian) of SHA-256 of the key, modulo the partition count.
pub fn partition_for_key(key: &str, partitions: u32) -> u32 {
    let hash = Hash::digest(key.as_bytes());
    u32::from_be_bytes([hash.0[0], hash.0[1], hash.0[2], hash.0[3]]) % partitions
}

impl MerkqlLog {
    /// Appends `records` (key, value) as `send` would lay them out, in a few
    /// fsyncs per partition instead of one per record. Returns the number of
    /// records appended. Meant for building fixtures: it holds up to
    /// [`BULK_BATCH_RECORDS`] records per partition in memory.
    pub fn bulk_append<'a>(
        &self,
        records: impl IntoIterator<Item = (Option<&'a str>, &'a str)>,
    ) -> Result<u64, LogError> {
        self.bulk_append_in_batches(records, BULK_BATCH_RECORDS)
    }

    /// [`MerkqlLog::bulk_append`] with at most `batch_records` (at least 1)
    /// records per `append_batch`.
    pub fn bulk_append_in_batches<'a>(
        &self,
        records: impl IntoIterator<Item = (Option<&'a str>, &'a str)>,
        batch_records: usize,
    ) -> Result<u64, LogError> {
        let owned = records.into_iter().map(|(key, value)| (key.map(str::to_string), value.to_string()));
        self.bulk_append_owned(owned, batch_records)
    }

    /// [`MerkqlLog::bulk_append`] for owned records.
    pub fn bulk_append_owned_records(
        &self,
        records: impl IntoIterator<Item = (Option<String>, String)>,
    ) -> Result<u64, LogError> {
        self.bulk_append_owned(records, BULK_BATCH_RECORDS)
    }

    /// Appends `records` with merkql's `Producer::send_batch`, for measuring
    /// it: in merkql 0.2 it calls `send` once per record (one fsync and one
    /// whole-index rewrite each), so it is no faster than [`Log::append`].
    pub fn send_batch(&self, records: &[(Option<&str>, &str)]) -> Result<Vec<Position>, LogError> {
        let batch: Vec<ProducerRecord> = records
            .iter()
            .map(|(key, value)| ProducerRecord::new(self.topic(), key.map(str::to_string), *value))
            .collect();
        let sent = Broker::producer(&self.broker).send_batch(&batch).map_err(|e| self.error("append a batch", e))?;
        Ok(sent.iter().map(|r| Position { partition: r.partition, offset: r.offset }).collect())
    }

    fn bulk_append_owned(
        &self,
        records: impl IntoIterator<Item = (Option<String>, String)>,
        batch_records: usize,
    ) -> Result<u64, LogError> {
        Ok(self.bulk_append_positions(records, batch_records)?.len() as u64)
    }

    /// The bulk loader's core: appends `records` and returns their
    /// positions, in input order.
    pub(super) fn bulk_append_positions(
        &self,
        records: impl IntoIterator<Item = (Option<String>, String)>,
        batch_records: usize,
    ) -> Result<Vec<Position>, LogError> {
        use std::sync::atomic::Ordering;
        let batch_records = batch_records.max(1);
        let partitions = self.partitions() as usize;
        // Per partition: the records waiting, and their indexes in the input.
        let mut pending: Vec<(Vec<Record>, Vec<usize>)> = (0..partitions).map(|_| Default::default()).collect();
        let mut positions: Vec<Position> = Vec::new();
        for (index, (key, value)) in records.into_iter().enumerate() {
            let partition = match &key {
                Some(k) => partition_for_key(k, self.partitions()) as usize,
                // As merkql's AtomicU32 counter: wrapping, modulo the count.
                None => (self.keyless_sent.fetch_add(1, Ordering::Relaxed) % self.partitions()) as usize,
            };
            let (batch, indexes) = &mut pending[partition];
            batch.push(Record {
                key,
                value,
                topic: self.topic().to_string(),
                partition: 0,
                offset: 0,
                timestamp: chrono::Utc::now(),
            });
            indexes.push(index);
            positions.push(Position { partition: partition as u32, offset: u64::MAX });
            if batch.len() >= batch_records {
                self.append_batch(partition as u32, batch, indexes, &mut positions)?;
            }
        }
        for (partition, (batch, indexes)) in pending.iter_mut().enumerate() {
            self.append_batch(partition as u32, batch, indexes, &mut positions)?;
        }
        debug_assert!(positions.iter().all(|p| p.offset != u64::MAX), "every record got its offset");
        Ok(positions)
    }

    /// Appends `batch` to one partition in one `append_batch`, writes the
    /// offsets it got into `positions` at `indexes`, and empties both.
    fn append_batch(
        &self,
        partition: u32,
        batch: &mut Vec<Record>,
        indexes: &mut Vec<usize>,
        positions: &mut [Position],
    ) -> Result<(), LogError> {
        if batch.is_empty() {
            return Ok(());
        }
        let fail = |message: String| self.error("bulk-append a batch", anyhow::anyhow!(message));
        let topic = self.broker.topic(self.topic()).ok_or_else(|| fail("the topic is missing".into()))?;
        let partition = topic.partition(partition).ok_or_else(|| fail(format!("partition {partition} is missing")))?;
        let mut guard = partition.write().map_err(|_| fail("a partition lock is poisoned".into()))?;
        let offsets = guard.append_batch(batch).map_err(|e| self.error("bulk-append a batch", e))?;
        if offsets.len() != indexes.len() {
            return Err(fail(format!("{} records appended, {} offsets returned", indexes.len(), offsets.len())));
        }
        for (index, offset) in indexes.iter().zip(offsets) {
            positions[*index].offset = offset;
        }
        batch.clear();
        indexes.clear();
        Ok(())
    }
}
