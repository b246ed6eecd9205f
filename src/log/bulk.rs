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
//! - records without a key go round-robin from a counter of this call,
//!   starting at partition 0 (merkql's own counter lives in the `Topic` and
//!   starts at 0 when the broker opens), so they match `send` on a broker
//!   that has not sent keyless records yet;
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
        let batch_records = batch_records.max(1);
        let partitions = self.partitions() as usize;
        let mut pending: Vec<Vec<Record>> = (0..partitions).map(|_| Vec::new()).collect();
        let mut round_robin = 0usize;
        let mut appended = 0u64;
        for (key, value) in records {
            let partition = match &key {
                Some(k) => partition_for_key(k, self.partitions()) as usize,
                None => {
                    round_robin += 1;
                    (round_robin - 1) % partitions
                }
            };
            pending[partition].push(Record {
                key,
                value,
                topic: self.topic().to_string(),
                partition: 0,
                offset: 0,
                timestamp: chrono::Utc::now(),
            });
            if pending[partition].len() >= batch_records {
                appended += self.append_batch(partition as u32, &mut pending[partition])?;
            }
        }
        for (partition, batch) in pending.iter_mut().enumerate() {
            appended += self.append_batch(partition as u32, batch)?;
        }
        Ok(appended)
    }

    /// Appends `batch` to one partition in one `append_batch`, and empties it.
    fn append_batch(&self, partition: u32, batch: &mut Vec<Record>) -> Result<u64, LogError> {
        if batch.is_empty() {
            return Ok(0);
        }
        let fail = |message: String| self.error("bulk-append a batch", anyhow::anyhow!(message));
        let topic = self.broker.topic(self.topic()).ok_or_else(|| fail("the topic is missing".into()))?;
        let partition = topic.partition(partition).ok_or_else(|| fail(format!("partition {partition} is missing")))?;
        let mut guard = partition.write().map_err(|_| fail("a partition lock is poisoned".into()))?;
        let offsets = guard.append_batch(batch).map_err(|e| self.error("bulk-append a batch", e))?;
        batch.clear();
        Ok(offsets.len() as u64)
    }
}
