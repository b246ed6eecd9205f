//! The view store: each durable projection's state and the log offsets it
//! reflects, in one SQLite database, written together in one transaction
//! per applied batch.
//!
//! merkql's group offsets cannot be the checkpoint of a view: they live in
//! another file, are committed separately, and `offsets.bin` silently
//! resets when corrupt. Here the checkpoint is stored with the state it
//! describes, as Marten's projection progression table or Kafka Streams'
//! changelog with its offsets do; merkql's commit, made after the store's,
//! is only a hint of where to start polling.
//!
//! # Tables (read them with `sqlite3 FILE`)
//! - `store_meta(key, value)`: `schema_version`, `topic`, `partitions`:
//!   what identifies the log the store follows.
//! - `projections(projection, state_version, applied, duplicates,
//!   rejected)`: one row per projection (by group id) and its counters.
//! - `checkpoints(projection, partition, next_offset, last_digest)`: the
//!   next offset of each partition the projection has not applied yet, and
//!   the digest ([`crate::record::digest`]) of the record before it, the
//!   last one the checkpoint covers: read back from the log, it tells a
//!   log rewritten under the checkpoint (schema version 2; a version 1
//!   store gains the column, empty, when opened).
//! - `entries(projection, key, state)`: the projection's state per entity
//!   key (per entity id), as JSON.
//! - `rejected(projection, partition, offset, reason)`: every record the
//!   projection rejected.
//!
//! Each batch writes only the entries it changed, its checkpoints and its
//! counters: a commit costs O(batch), not O(view).

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The store's own table layout. A store written by a newer layout is
/// refused, never read wrongly.
pub const SCHEMA_VERSION: u32 = 2;

/// Why the store cannot be used; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the view store {path} failed to {action}: {message}; check that it is a view store written by the `project` command (or pass a new path to make one), on a writable disk with space"
    )]
    Sqlite { path: String, action: &'static str, message: String },
    #[error(
        "the view store {path} has schema version {found}; this version reads up to {SCHEMA_VERSION}; use a newer version of the tool or a new store"
    )]
    NewerSchema { path: String, found: String },
    #[error(
        "the view store {path} follows topic {stored_topic} with {stored_partitions} partitions, but the log has topic {topic} with {partitions}; use the store of this log or a new one"
    )]
    OtherLog { path: String, stored_topic: String, stored_partitions: String, topic: String, partitions: u32 },
    #[error(
        "projection {projection} in the view store {path} has state version {found}; this version reads up to {supported}; use a newer version of the tool or delete its rows to rebuild it"
    )]
    NewerState { path: String, projection: String, found: u32, supported: u32 },
    #[error("there is no view store at {path}; run the `project` command first, or pass the right --store")]
    Missing { path: String },
    #[error("projection {projection} in the view store {path}: {message}; delete its rows to rebuild it from the log")]
    BadState { path: String, projection: String, message: String },
}

/// What the store holds for one projection.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stored {
    /// Next offset to apply, by partition (absent: 0).
    pub next_offsets: BTreeMap<u32, u64>,
    /// Digest of the record before the next offset, by partition (absent:
    /// none stored, in a store written before schema version 2).
    pub last_digests: BTreeMap<u32, String>,
    /// State per entity key, as the projection wrote it (JSON text).
    pub entries: Vec<(String, String)>,
    pub applied: u64,
    pub duplicates: u64,
    pub rejected: u64,
}

pub use crate::runner::Batch;

/// An open view store.
pub struct ViewStore {
    connection: Connection,
    path: PathBuf,
}

impl ViewStore {
    /// Opens the store at `path`, creating it if needed, for the log of
    /// `topic` with `partitions` partitions; refuses a store of another
    /// log or of a newer schema.
    pub fn open(path: &Path, topic: &str, partitions: u32) -> Result<ViewStore, StoreError> {
        let shown = crate::text::path(path);
        let fail = |action: &'static str| {
            let shown = shown.clone();
            move |e: rusqlite::Error| StoreError::Sqlite { path: shown, action, message: e.to_string() }
        };
        let mut connection = Connection::open(path).map_err(fail("open"))?;
        // WAL: readers (sqlite3) never block the projector; FULL: a
        // committed batch survives a power loss, not only a crash.
        connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;")
            .map_err(fail("set its journal mode"))?;
        let tx = connection.transaction().map_err(fail("begin a transaction"))?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS projections (
                 projection TEXT PRIMARY KEY, state_version INTEGER NOT NULL,
                 applied INTEGER NOT NULL DEFAULT 0, duplicates INTEGER NOT NULL DEFAULT 0,
                 rejected INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE IF NOT EXISTS checkpoints (
                 projection TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
                 last_digest TEXT, PRIMARY KEY (projection, partition));
             CREATE TABLE IF NOT EXISTS entries (
                 projection TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL,
                 PRIMARY KEY (projection, key));
             CREATE TABLE IF NOT EXISTS rejected (
                 projection TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
                 reason TEXT NOT NULL, PRIMARY KEY (projection, partition, offset));",
        )
        .map_err(fail("create its tables"))?;
        let meta = |key: &str| -> Result<Option<String>, StoreError> {
            tx.query_row("SELECT value FROM store_meta WHERE key = ?1", [key], |row| row.get(0))
                .optional()
                .map_err(fail("read store_meta"))
        };
        match meta("schema_version")? {
            None => {
                for (key, value) in [
                    ("schema_version", SCHEMA_VERSION.to_string()),
                    ("topic", topic.to_string()),
                    ("partitions", partitions.to_string()),
                ] {
                    tx.execute("INSERT INTO store_meta (key, value) VALUES (?1, ?2)", params![key, value])
                        .map_err(fail("write store_meta"))?;
                }
            }
            Some(found) if found.parse::<u32>().is_ok_and(|v| v <= SCHEMA_VERSION) => {
                let (stored_topic, stored_partitions) = (meta("topic")?, meta("partitions")?);
                migrate(&tx, &found).map_err(fail("upgrade its schema"))?;
                if stored_topic.as_deref() != Some(topic) || stored_partitions != Some(partitions.to_string()) {
                    return Err(StoreError::OtherLog {
                        path: shown,
                        stored_topic: crate::text::quoted(stored_topic.as_deref().unwrap_or("(none)")),
                        stored_partitions: stored_partitions.unwrap_or_else(|| "(none)".into()),
                        topic: crate::text::quoted(topic),
                        partitions,
                    });
                }
            }
            Some(found) => return Err(StoreError::NewerSchema { path: shown, found: crate::text::quoted(&found) }),
        }
        tx.commit().map_err(fail("commit its tables"))?;
        Ok(ViewStore { connection, path: path.to_path_buf() })
    }

    fn shown(&self) -> String {
        crate::text::path(&self.path)
    }

    fn sqlite(&self, action: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |e| StoreError::Sqlite { path: self.shown(), action, message: e.to_string() }
    }

    /// Opens an existing store to read it (`views`), whatever log it
    /// follows; refuses a missing file or a newer schema.
    pub fn open_existing(path: &Path) -> Result<ViewStore, StoreError> {
        use rusqlite::OpenFlags;
        let shown = crate::text::path(path);
        if !path.is_file() {
            return Err(StoreError::Missing { path: shown });
        }
        let mut connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|e| StoreError::Sqlite { path: shown.clone(), action: "open", message: e.to_string() })?;
        let version: Option<String> = connection
            .query_row("SELECT value FROM store_meta WHERE key = 'schema_version'", [], |row| row.get(0))
            .optional()
            .map_err(|e| StoreError::Sqlite {
                path: shown.clone(),
                action: "read store_meta",
                message: e.to_string(),
            })?;
        match version {
            Some(v) if v.parse::<u32>().is_ok_and(|v| v <= SCHEMA_VERSION) => {
                let upgrade = |e: rusqlite::Error| StoreError::Sqlite {
                    path: shown.clone(),
                    action: "upgrade its schema",
                    message: e.to_string(),
                };
                let tx = connection.transaction().map_err(upgrade)?;
                migrate(&tx, &v).map_err(upgrade)?;
                tx.commit().map_err(upgrade)?;
                Ok(ViewStore { connection, path: path.to_path_buf() })
            }
            Some(v) => Err(StoreError::NewerSchema { path: shown, found: crate::text::quoted(&v) }),
            None => Err(StoreError::Missing { path: shown }),
        }
    }

    /// What is stored for `projection`, or `None` if it was never stored;
    /// refuses state of a version newer than `state_version`.
    pub fn load_existing(&mut self, projection: &str, state_version: u32) -> Result<Option<Stored>, StoreError> {
        let registered: bool = self
            .connection
            .query_row("SELECT count(*) FROM projections WHERE projection = ?1", [projection], |row| {
                row.get::<_, i64>(0)
            })
            .map_err(self.sqlite("read projections"))?
            > 0;
        if registered { self.load(projection, state_version).map(Some) } else { Ok(None) }
    }

    /// Everything stored for `projection`, registering it with
    /// `state_version` if it is new; refuses state of a newer version.
    pub fn load(&mut self, projection: &str, state_version: u32) -> Result<Stored, StoreError> {
        let found: Option<(u32, i64, i64, i64)> = self
            .connection
            .query_row(
                "SELECT state_version, applied, duplicates, rejected FROM projections WHERE projection = ?1",
                [projection],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .optional()
            .map_err(self.sqlite("read projections"))?;
        let mut stored = Stored::default();
        match found {
            None => {
                self.connection
                    .execute(
                        "INSERT INTO projections (projection, state_version) VALUES (?1, ?2)",
                        params![projection, state_version],
                    )
                    .map_err(self.sqlite("register a projection"))?;
                return Ok(stored);
            }
            Some((found, ..)) if found > state_version => {
                return Err(StoreError::NewerState {
                    path: self.shown(),
                    projection: crate::text::quoted(projection),
                    found,
                    supported: state_version,
                });
            }
            Some((_, applied, duplicates, rejected)) => {
                // Counters only grow from 0; a negative one was written by hand.
                let count = |n: i64| u64::try_from(n).unwrap_or(0);
                (stored.applied, stored.duplicates, stored.rejected) =
                    (count(applied), count(duplicates), count(rejected));
            }
        }
        let bad = |message: String| StoreError::BadState {
            path: self.shown(),
            projection: crate::text::quoted(projection),
            message,
        };
        let mut statement = self
            .connection
            .prepare("SELECT partition, next_offset, last_digest FROM checkpoints WHERE projection = ?1")
            .map_err(self.sqlite("read checkpoints"))?;
        let rows = statement
            .query_map([projection], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, Option<String>>(2)?))
            })
            .map_err(self.sqlite("read checkpoints"))?;
        for row in rows {
            let (partition, next, digest) = row.map_err(self.sqlite("read checkpoints"))?;
            let partition = u32::try_from(partition).map_err(|_| bad(format!("partition {partition} is negative")))?;
            let next = u64::try_from(next).map_err(|_| bad(format!("next offset {next} is negative")))?;
            stored.next_offsets.insert(partition, next);
            if let Some(digest) = digest {
                stored.last_digests.insert(partition, digest);
            }
        }
        let mut statement = self
            .connection
            .prepare("SELECT key, state FROM entries WHERE projection = ?1")
            .map_err(self.sqlite("read entries"))?;
        let rows = statement
            .query_map([projection], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
            .map_err(self.sqlite("read entries"))?;
        for row in rows {
            stored.entries.push(row.map_err(self.sqlite("read entries"))?);
        }
        Ok(stored)
    }

    /// Writes one applied batch of `projection`: its changed entries, next
    /// offsets, counters and rejected records, in one transaction.
    pub fn commit(&mut self, projection: &str, batch: &Batch) -> Result<(), StoreError> {
        let path = self.shown();
        let fail = |action: &'static str| {
            let path = path.clone();
            move |e: rusqlite::Error| StoreError::Sqlite { path, action, message: e.to_string() }
        };
        let tx = self.connection.transaction().map_err(fail("begin a transaction"))?;
        write_batch(&tx, projection, batch).map_err(fail("write a batch"))?;
        tx.commit().map_err(fail("commit a batch"))
    }

    /// Writes the batches of several projections in one transaction: one
    /// sync to disk for a catch-up of every projection.
    pub fn commit_all(&mut self, batches: &[(String, Batch)]) -> Result<(), StoreError> {
        let path = self.shown();
        let fail = |action: &'static str| {
            let path = path.clone();
            move |e: rusqlite::Error| StoreError::Sqlite { path, action, message: e.to_string() }
        };
        let tx = self.connection.transaction().map_err(fail("begin a transaction"))?;
        for (projection, batch) in batches {
            write_batch(&tx, projection, batch).map_err(fail("write a batch"))?;
        }
        tx.commit().map_err(fail("commit a batch"))
    }
}

/// Brings a store of schema `found` (at most [`SCHEMA_VERSION`]) to the
/// current schema: version 1 had no `checkpoints.last_digest`.
fn migrate(tx: &Transaction<'_>, found: &str) -> rusqlite::Result<()> {
    if found == "1" {
        tx.execute_batch(
            "ALTER TABLE checkpoints ADD COLUMN last_digest TEXT;
             UPDATE store_meta SET value = '2' WHERE key = 'schema_version';",
        )?;
    }
    Ok(())
}

fn write_batch(tx: &Transaction<'_>, projection: &str, batch: &Batch) -> rusqlite::Result<()> {
    let mut upsert = tx.prepare_cached(
        "INSERT INTO entries (projection, key, state) VALUES (?1, ?2, ?3)
         ON CONFLICT (projection, key) DO UPDATE SET state = excluded.state",
    )?;
    let mut delete = tx.prepare_cached("DELETE FROM entries WHERE projection = ?1 AND key = ?2")?;
    for (key, state) in &batch.entries {
        match state {
            Some(state) => upsert.execute(params![projection, key, state])?,
            None => delete.execute(params![projection, key])?,
        };
    }
    let mut checkpoint = tx.prepare_cached(
        "INSERT INTO checkpoints (projection, partition, next_offset, last_digest) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (projection, partition) DO UPDATE
         SET next_offset = excluded.next_offset, last_digest = excluded.last_digest",
    )?;
    for (partition, next) in &batch.next_offsets {
        let digest = batch.last_digests.get(partition);
        checkpoint.execute(params![projection, partition, i64::try_from(*next).unwrap_or(i64::MAX), digest])?;
    }
    let mut rejected = tx.prepare_cached(
        "INSERT OR IGNORE INTO rejected (projection, partition, offset, reason) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (partition, offset, reason) in &batch.rejected {
        rejected.execute(params![projection, partition, i64::try_from(*offset).unwrap_or(i64::MAX), reason])?;
    }
    let mut counters = tx.prepare_cached(
        "UPDATE projections SET applied = applied + ?2, duplicates = duplicates + ?3, rejected = rejected + ?4
         WHERE projection = ?1",
    )?;
    counters.execute(params![
        projection,
        i64::try_from(batch.applied).unwrap_or(i64::MAX),
        i64::try_from(batch.duplicates).unwrap_or(i64::MAX),
        i64::try_from(batch.rejected.len()).unwrap_or(i64::MAX)
    ])?;
    Ok(())
}
