//! The long-running projector: a domain's projections as a service on a
//! persistent log directory. `append` adds events to the log; `project`
//! brings every projection up to date from its checkpoint in the view
//! store, once or continuously; `views` prints what the store holds.
//!
//! One process owns a log directory at a time (merkql is embedded, and two
//! brokers on one directory corrupt it): each command holds the
//! directory's lock while it uses the log. `project --follow` takes it for
//! each catch-up and lets it go in between, so that `append` can add
//! events while a projector follows; when the lock is busy, that catch-up
//! waits for the next interval.

use crate::domain::{AnyView, Domain};
use crate::durable::{DurableRunner, StoreCheckpoint};
use crate::log::{Log, LogError, MerkqlLog};
use crate::runner::RunError;
use crate::runner::{Batch, Checkpoint, LogDigests, Runner, Steps};
use crate::store::ViewStore;
use crate::verify::replay_file::ReplayFile;
use std::path::{Path, PathBuf};

/// The view store's file in a log directory, unless `--store` says otherwise.
pub const STORE_FILE: &str = "views.sqlite";

/// Partitions of a log the projector creates when none is given.
pub const DEFAULT_PARTITIONS: u32 = 3;

/// Records per store transaction of `project`.
pub const DEFAULT_BATCH_RECORDS: usize = 1_000;

/// Takes the projector's lock on `store` (a file beside it,
/// `<store>.lock`), held for as long as the returned file lives: one
/// projector per view store, even while `--follow` lets the log's lock go
/// between catch-ups. A second projector gets an error that says so.
pub fn lock_store(store: &Path) -> Result<std::fs::File, String> {
    let mut name = store.as_os_str().to_owned();
    name.push(".lock");
    let shown = crate::text::path(store);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(PathBuf::from(name))
        .map_err(|e| format!("cannot open the lock file of the view store {shown} ({e})"))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(format!("the view store {shown} is in use by another projector; stop it first, or use another --store"))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(format!("cannot lock the view store {shown} ({e})")),
    }
}

/// The store of `dir`'s log: `store` if given, else `dir/views.sqlite`.
pub fn store_path(dir: &Path, store: Option<&Path>) -> PathBuf {
    store.map_or_else(|| dir.join(STORE_FILE), Path::to_path_buf)
}

/// Opens the log of `topic` in `dir`, or creates it (with `partitions`,
/// default [`DEFAULT_PARTITIONS`]) if the directory holds none. A given
/// partition count must match an existing log's.
pub fn open_or_create(dir: &Path, topic: &str, partitions: Option<u32>) -> Result<MerkqlLog, LogError> {
    let log = match MerkqlLog::open(dir, topic) {
        Ok(log) => log,
        Err(LogError::Missing { .. }) => {
            let log = MerkqlLog::create(dir, topic, partitions.unwrap_or(DEFAULT_PARTITIONS))?;
            // An empty topic is a whole log: appends are acknowledged chunk by chunk.
            log.mark_complete()?;
            return Ok(log);
        }
        Err(e) => return Err(e),
    };
    match partitions {
        Some(wanted) if wanted != log.partitions() => Err(LogError::Backend {
            action: "open the log",
            place: crate::text::path(dir),
            message: format!(
                "it has {}, not {wanted}; drop --partitions or use another directory",
                crate::text::count(log.partitions(), "partition")
            ),
        }),
        _ => Ok(log),
    }
}

/// Appends `file`'s records to `log` in chunks of `chunk` records, calling
/// `acknowledged(records so far, line of the last one)` after each chunk
/// is in the log.
pub fn append(
    log: &dyn Log,
    file: &ReplayFile,
    chunk: usize,
    mut acknowledged: impl FnMut(usize, usize),
) -> Result<usize, LogError> {
    let mut done = 0;
    for records in file.history.chunks(chunk.max(1)) {
        let batch: Vec<(Option<&str>, &str)> = records.iter().map(|r| (r.key.as_deref(), r.value.as_str())).collect();
        log.append_batch(&batch)?;
        crate::crash::point("after-append");
        done += records.len();
        acknowledged(done, file.lines.get(done - 1).copied().unwrap_or(done));
    }
    Ok(done)
}

/// What one catch-up did for one projection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    pub group: String,
    pub applied: usize,
    pub duplicates: usize,
    pub rejected: usize,
}

/// The durable runners of every projection of `domain`, each reading with
/// its projection's own group id, all sharing one connection to the store
/// at `store`.
pub fn runners<D: Domain>(domain: &D, store: &Path, batch_records: usize) -> Vec<DurableRunner<D>> {
    let checkpoint = StoreCheckpoint::new(store.to_path_buf());
    domain
        .projections()
        .into_iter()
        .map(|projection| {
            let group = projection.group_id().to_string();
            Runner::with_checkpoint(domain.clone(), projection, &group, Steps::production(), checkpoint.shared())
                .with_batch_records(batch_records)
        })
        .collect()
}

/// One catch-up of every runner: each polls what is new; then, in rounds
/// of at most the batch size per runner, each applies and every runner's
/// batch is stored in one store transaction; only then does each group
/// commit on the log. The store is never behind the log, and a catch-up
/// of several projections costs one sync to disk per round instead of one
/// per projection. On any failure every runner drops its uncommitted poll
/// and reloads its state from the store in its next catch-up.
pub fn catch_up<D: Domain>(log: &dyn Log, runners: &mut [DurableRunner<D>]) -> Result<Vec<Progress>, RunError> {
    let caught_up = catch_up_in_rounds(log, runners);
    if caught_up.is_err() {
        for runner in runners.iter_mut() {
            runner.abandon_staged();
            let _ = runner.close_consumer();
        }
    }
    caught_up
}

fn catch_up_in_rounds<D: Domain>(log: &dyn Log, runners: &mut [DurableRunner<D>]) -> Result<Vec<Progress>, RunError> {
    let mut read = LogDigests::default();
    for runner in runners.iter_mut() {
        runner.stage_poll(log, &mut read)?;
    }
    loop {
        let mut round = Vec::new();
        for (index, runner) in runners.iter_mut().enumerate() {
            if let Some(batch) = runner.stage_apply()? {
                round.push((index, runner.group().to_string(), batch));
            }
        }
        if round.is_empty() {
            break;
        }
        crate::crash::point("before-store-commit");
        store_round(runners, round)?;
        crate::crash::point("after-store-commit");
    }
    let mut progress = Vec::with_capacity(runners.len());
    for runner in runners.iter_mut() {
        let report = runner.stage_commit()?;
        runner.close_consumer()?;
        progress.push(Progress {
            group: runner.group().to_string(),
            applied: report.applied.len(),
            duplicates: report.duplicates.len(),
            rejected: report.rejected.len(),
        });
    }
    Ok(progress)
}

/// Stores one round: in one transaction when every runner shares the
/// first one's connection (as [`runners`] makes them), else each batch
/// through its own runner's checkpoint.
fn store_round<D: Domain>(
    runners: &mut [DurableRunner<D>],
    round: Vec<(usize, String, Batch)>,
) -> Result<(), RunError> {
    let first = runners[0].checkpoint().shared();
    if runners.iter().all(|runner| runner.checkpoint().same_store(&first)) {
        let batches: Vec<(String, Batch)> = round.into_iter().map(|(_, group, batch)| (group, batch)).collect();
        return first.shared().save_all(&batches);
    }
    for (index, group, batch) in round {
        runners[index].checkpoint().shared().save(&group, &batch)?;
    }
    Ok(())
}

/// The views the store at `store` holds for every projection of
/// `domain`, by group id; `None` for a projection the store has never seen.
pub fn stored_views<D: Domain>(
    domain: &D,
    store: &Path,
) -> Result<Vec<(String, Option<AnyView>)>, crate::store::StoreError> {
    let mut opened = ViewStore::open_existing(store)?;
    let mut views = Vec::new();
    for mut projection in domain.projections() {
        let group = projection.group_id().to_string();
        let version = projection.state_version();
        let Some(stored) = opened.load_existing(&group, version)? else {
            views.push((group, None));
            continue;
        };
        for (key, state) in &stored.entries {
            projection.load_entry(key, state).map_err(|message| crate::store::StoreError::BadState {
                path: crate::text::path(store),
                projection: crate::text::quoted(&group),
                message: format!("the entry of key {}: {message}", crate::text::quoted(key)),
            })?;
        }
        views.push((group, Some(projection.view())));
    }
    Ok(views)
}
