//! The durable checkpoint: a projection's state and offsets in the view
//! store ([`crate::store`]), so that a restarted process resumes exactly
//! where the store says, whatever the log's group offsets say. With it the
//! one runner ([`crate::runner::Runner`]) is durable ([`DurableRunner`]).
//!
//! A phase: poll; skip every record below the stored next offset of its
//! partition (counted as a duplicate: a lost or reset group offset costs
//! time, never correctness); stop at a gap (a record above the next
//! offset: never apply past it); apply the rest; write the changed entries,
//! the next offsets and the counters in one store transaction; then commit
//! on the log, as a hint of where to poll next. On first use the runner
//! loads its projection and offsets from the store. Before every poll it
//! checks its checkpoint against the log: a log that ends below a stored
//! offset went backwards, and a log whose record before a stored offset is
//! not the one the checkpoint covers (its digest differs) was rewritten;
//! either stops the runner, since applying on would silently skip records.
//!
//! A projection that panics in `apply` stops the phase: the panic is
//! caught, nothing of the batch is stored or committed, the in-memory
//! state is dropped and reloaded from the store by the next phase, and the
//! phase fails with [`RunError::ProjectionPanicked`].

use crate::anomaly::Kind;
use crate::domain::{BoxedProjection, Domain};
use crate::log::Log;
use crate::runner::{Batch, Checkpoint, Resume, RunError, Runner, Steps};
use crate::store::{StoreError, ViewStore};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The one runner with its checkpoint in the view store.
pub type DurableRunner<D> = Runner<D, StoreCheckpoint>;

/// What only a durable checkpoint finds: a store it cannot use, or a log
/// that no longer matches what the store says was applied.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "projection {group}: in partition {partition} the consumer group's poll started at offset {delivered_from} (its committed offset, or the partition's end if that offset is past it), ahead of the view store's next offset ({stored_next}): records {stored_next}..{delivered_from} would never be applied. The store is older than the group's offsets on the log (a restored or replaced store?): use the store that belongs to these offsets, or {advice} (the store skips what it has applied)"
    )]
    OffsetsAhead { group: String, partition: u32, stored_next: u64, delivered_from: u64, advice: String },
    #[error(
        "projection {group}: partition {partition} ends at offset {log_end}, but the view store has applied up to {stored_next}: the log went backwards (replaced or truncated?). Use the log the store was built from, or delete the store to rebuild the views"
    )]
    LogWentBackwards { group: String, partition: u32, log_end: u64, stored_next: u64 },
    #[error(
        "projection {group}: partition {partition} holds another record at offset {offset} (digest {found}) than the one the view store's checkpoint covers (digest {stored}): the log was rewritten under the checkpoint (a repaired index tail gives its offsets out again), and the records now at and after it were never applied. Use the log the store was built from, or delete the store to rebuild the views"
    )]
    LogRewritten { group: String, partition: u32, offset: u64, stored: String, found: String },
}

impl CheckpointError {
    /// The named anomaly this error stops a runner for, if any.
    pub fn anomaly(&self) -> Option<Kind> {
        match self {
            CheckpointError::Store(_) => None,
            CheckpointError::OffsetsAhead { .. } => Some(Kind::SkippedApply),
            CheckpointError::LogWentBackwards { .. } | CheckpointError::LogRewritten { .. } => {
                Some(Kind::CheckpointAheadOfLog)
            }
        }
    }

    /// The positions it is about, listed and counted as
    /// [`RunError::involved`] does: the records the store would skip, the
    /// records it applied that the log no longer holds, or the rewritten
    /// record.
    pub fn involved(&self) -> (Vec<crate::record::Position>, usize) {
        use crate::runner::listed;
        match self {
            CheckpointError::Store(_) => (Vec::new(), 0),
            CheckpointError::OffsetsAhead { partition, stored_next, delivered_from, .. } => {
                listed(*partition, *stored_next, *delivered_from)
            }
            CheckpointError::LogWentBackwards { partition, log_end, stored_next, .. } => {
                listed(*partition, *log_end, *stored_next)
            }
            CheckpointError::LogRewritten { partition, offset, .. } => listed(*partition, *offset, offset + 1),
        }
    }
}

impl From<StoreError> for RunError {
    fn from(error: StoreError) -> RunError {
        RunError::Checkpoint(CheckpointError::Store(error))
    }
}

/// A checkpoint in the view store at a path (opened on first use). Clones
/// share one connection ([`StoreCheckpoint::shared`]), so that runners of
/// one process can store a catch-up of every projection in one transaction
/// ([`crate::projector::catch_up`]).
#[derive(Clone)]
pub struct StoreCheckpoint {
    path: PathBuf,
    store: Arc<Mutex<Option<ViewStore>>>,
}

impl StoreCheckpoint {
    /// The checkpoint in the store at `path` (created on first use), with
    /// a connection of its own.
    pub fn new(path: PathBuf) -> StoreCheckpoint {
        StoreCheckpoint { path, store: Arc::new(Mutex::new(None)) }
    }

    /// Another handle on this checkpoint's store and connection.
    pub fn shared(&self) -> StoreCheckpoint {
        self.clone()
    }

    /// Whether `other` writes through the same connection.
    pub fn same_store(&self, other: &StoreCheckpoint) -> bool {
        Arc::ptr_eq(&self.store, &other.store)
    }

    /// Writes the batches of several projections in one transaction.
    pub fn save_all(&mut self, batches: &[(String, Batch)]) -> Result<(), RunError> {
        if let Some(store) = lock(&self.store).as_mut() {
            store.commit_all(batches)?;
        }
        Ok(())
    }
}

/// The connection, whatever a panicking holder left behind (the store's
/// own transactions keep its data whole).
fn lock(store: &Mutex<Option<ViewStore>>) -> std::sync::MutexGuard<'_, Option<ViewStore>> {
    store.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Checkpoint for StoreCheckpoint {
    const DURABLE: bool = true;

    fn load<E>(
        &mut self,
        group_id: &str,
        log: &dyn Log,
        projection: &mut BoxedProjection<E>,
    ) -> Result<Resume, RunError> {
        let mut guard = lock(&self.store);
        let store = match guard.as_mut() {
            Some(store) => store,
            None => guard.insert(ViewStore::open(&self.path, log.topic(), log.partitions())?),
        };
        let stored = store.load(group_id, projection.state_version())?;
        for (key, state) in &stored.entries {
            projection.load_entry(key, state).map_err(|message| StoreError::BadState {
                path: crate::text::path(&self.path),
                projection: crate::text::quoted(group_id),
                message: format!("the entry of key {}: {message}", crate::text::quoted(key)),
            })?;
        }
        Ok(Resume { next_offsets: stored.next_offsets, last_digests: stored.last_digests })
    }

    fn save(&mut self, group_id: &str, batch: &Batch) -> Result<(), RunError> {
        if let Some(store) = lock(&self.store).as_mut() {
            store.commit(group_id, batch)?;
        }
        Ok(())
    }

    fn forget(&mut self) {
        *lock(&self.store) = None;
    }
}

impl<D: Domain> Runner<D, StoreCheckpoint> {
    /// A durable runner of `projection` reading with `group_id`, its state
    /// in the store at `store_path` (created on first use).
    pub fn durable(domain: D, projection: BoxedProjection<D::Event>, group_id: &str, store_path: PathBuf) -> Self {
        Runner::with_checkpoint(domain, projection, group_id, Steps::production(), StoreCheckpoint::new(store_path))
    }
}

/// The durable system: the domain's projections driven by
/// [`DurableRunner`]s whose state lives in the view store at `store`.
#[derive(Clone, Debug)]
pub struct Durable<D> {
    pub domain: D,
    pub store: std::path::PathBuf,
}

impl<D: Domain> crate::verify::System for Durable<D> {
    type Domain = D;
    type Runner = DurableRunner<D>;
    fn domain(&self) -> &D {
        &self.domain
    }
    fn runner(&self, projection: BoxedProjection<D::Event>, group_id: &str) -> DurableRunner<D> {
        DurableRunner::durable(self.domain.clone(), projection, group_id, self.store.clone())
    }
}

/// The durable runner with other [`Steps`]: how a test plants a bug in the
/// durable configuration without re-implementing the runner.
pub struct DurableWithSteps<D: Domain> {
    pub domain: D,
    pub store: PathBuf,
    pub steps: Steps<D, StoreCheckpoint>,
}

impl<D: Domain> crate::verify::System for DurableWithSteps<D> {
    type Domain = D;
    type Runner = DurableRunner<D>;
    fn domain(&self) -> &D {
        &self.domain
    }
    fn runner(&self, projection: BoxedProjection<D::Event>, group_id: &str) -> DurableRunner<D> {
        Runner::with_checkpoint(
            self.domain.clone(),
            projection,
            group_id,
            self.steps,
            StoreCheckpoint::new(self.store.clone()),
        )
    }
}

#[cfg(test)]
mod involved_tests {
    use super::CheckpointError;
    use crate::record::Position;

    #[test]
    fn a_checkpoint_error_names_the_records_it_is_about() {
        let at = |partition, offset| Position { partition, offset };
        let ahead = CheckpointError::OffsetsAhead {
            group: "g".into(),
            partition: 1,
            stored_next: 2,
            delivered_from: 5,
            advice: String::new(),
        };
        assert_eq!(ahead.involved(), (vec![at(1, 2), at(1, 3), at(1, 4)], 3), "the records it would skip");
        let backwards =
            CheckpointError::LogWentBackwards { group: "g".into(), partition: 0, log_end: 4, stored_next: 6 };
        assert_eq!(backwards.involved(), (vec![at(0, 4), at(0, 5)], 2), "applied, no longer in the log");
        let rewritten = CheckpointError::LogRewritten {
            group: "g".into(),
            partition: 3,
            offset: 9,
            stored: String::new(),
            found: String::new(),
        };
        assert_eq!(rewritten.involved(), (vec![at(3, 9)], 1));
    }
}
