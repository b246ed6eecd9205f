//! Runs a history under a schedule against a real log, recording what every
//! group saw. Judging is the checker's job ([`super::check`]).
//!
//! Three kinds of groups read the topic, one group per registered
//! projection each: *incremental* groups poll and commit at every phase,
//! *late* groups join at `late_join`, and *full* groups replay everything
//! once at the end.

use super::FastMap;
use super::blocks::{block_orders, decode_blocks, fold_blocks, partition_blocks};
use super::history::{Recording, projection_anomalies};
use super::schedule::{Phase, Schedule};
use crate::domain::{AnyView, BoxedProjection, Domain, HistoryRecord, Model, Produced, Rejected};
use crate::log::{Log, LogError};
use crate::record::{LogRecord, Position};
use crate::runner::{GroupRunner, PhaseOptions, PhaseReport, RunError, Runner, Steps};

/// The system under test: a domain and how its runners are made. The
/// harness's own are [`Production`] (the runner in memory),
/// `Durable` (the runner with its checkpoint in the view store, feature
/// `sqlite`) and [`WithSteps`] (a planted bug); a team checks its own
/// projector by implementing this and [`GroupRunner`] for it.
///
/// ```
/// use projection_harness::example::Counters;
/// use projection_harness::log::MerkqlLog;
/// use projection_harness::verify::check::check_all;
/// use projection_harness::verify::{Production, Schedule, execute};
/// use projection_harness::domain::HistoryRecord;
///
/// let dir = tempfile::tempdir()?;
/// let mut log = MerkqlLog::create(dir.path(), "counter-events", 2)?;
/// let history = vec![HistoryRecord { key: Some("c1".into()), value: r#"{"counter":"c1","add":3}"#.into() }];
/// let schedule = Schedule::split_at(2, &[1], history.len())?;
/// let execution = execute(&Production(Counters), &history, &schedule, &mut log)?;
/// assert!(check_all(&execution).is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait System {
    type Domain: Domain;
    type Runner: GroupRunner<Self::Domain>;
    fn domain(&self) -> &Self::Domain;
    /// A runner of `projection` reading with `group_id`.
    fn runner(&self, projection: BoxedProjection<<Self::Domain as Domain>::Event>, group_id: &str) -> Self::Runner;
}

/// The production system: the domain's projections driven by [`Runner`].
#[derive(Clone, Debug, Default)]
pub struct Production<D>(pub D);

impl<D: Domain> System for Production<D> {
    type Domain = D;
    type Runner = Runner<D>;
    fn domain(&self) -> &D {
        &self.0
    }
    fn runner(&self, projection: BoxedProjection<D::Event>, group_id: &str) -> Runner<D> {
        Runner::with_group(self.0.clone(), projection, group_id)
    }
}

/// The production runner with other [`Steps`]: how the test suite plants
/// bugs in a runner without re-implementing it.
pub struct WithSteps<D: Domain> {
    pub domain: D,
    pub steps: Steps<D>,
}

impl<D: Domain> System for WithSteps<D> {
    type Domain = D;
    type Runner = Runner<D>;
    fn domain(&self) -> &D {
        &self.domain
    }
    fn runner(&self, projection: BoxedProjection<D::Event>, group_id: &str) -> Runner<D> {
        Runner::with_steps(self.domain.clone(), projection, group_id, self.steps)
    }
}

/// What one group did in one phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhaseTrace<R> {
    /// Index of the phase (`schedule.phases().len()` for the final one).
    pub phase: usize,
    /// Positions produced since the group's last commit: what a correct
    /// poll returns, in any order across partitions.
    pub expected_new: Vec<Position>,
    /// The crashed poll, if the phase had one.
    pub crashed: Option<PhaseReport<R>>,
    /// The poll that committed.
    pub committed: PhaseReport<R>,
    /// Times this phase was run again after a failed poll
    /// ([`LogError::PollFailed`]) or a projection's panic
    /// ([`RunError::ProjectionPanicked`]), as a service would retry.
    pub retries: usize,
    /// Each partition's end offset when the phase began polling.
    pub log_ends: Vec<u64>,
}

impl<R> PhaseTrace<R> {
    /// The crashed poll (if any), then the committed one.
    pub fn reports(&self) -> impl Iterator<Item = &PhaseReport<R>> {
        self.crashed.iter().chain(std::iter::once(&self.committed))
    }
}

/// Everything one group saw, and its final view.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace<R> {
    /// The projection's own group id (its name).
    pub projection: String,
    /// The group this trace read with.
    pub group_id: String,
    pub phases: Vec<PhaseTrace<R>>,
    pub view: AnyView,
    pub rejected: Vec<Rejected<R>>,
    /// Why the group stopped, if it did: it ran no phase after that one,
    /// and its view is the one it had before the phase.
    pub stopped: Option<Stop>,
}

/// A runner stopped with a named anomaly ([`RunError::anomaly`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stop {
    /// The phase it stopped in.
    pub phase: usize,
    /// The anomaly it stopped for.
    pub anomaly: crate::anomaly::Kind,
    /// The runner's error message.
    pub message: String,
    /// The records it stopped at, the first ones ([`RunError::involved`]).
    pub positions: Vec<Position>,
    /// How many records it stopped at in all (0 when it does not say).
    pub count: usize,
}

/// A fault a phase injected, and what the log says it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InjectedFault {
    pub phase: usize,
    pub fault: crate::log::Fault,
    pub effect: String,
}

impl<R> Trace<R> {
    /// Every position applied, in order, crashed polls included.
    pub fn applied(&self) -> impl Iterator<Item = Position> + '_ {
        self.phases.iter().flat_map(PhaseTrace::reports).flat_map(|r| r.applied.iter().copied())
    }
}

/// The traces of one kind of group: one per projection, in registration order.
pub type Groups<R> = Vec<Trace<R>>;

/// A finished execution.
#[derive(Clone, Debug)]
pub struct Execution<D: Domain> {
    /// Every produced record with the position the log gave it, in order.
    pub produced: Vec<Produced>,
    /// Groups that polled and committed at every phase.
    pub incremental: Groups<D::Rejection>,
    /// Groups that joined at `schedule.late_join()`, if any.
    pub late: Option<Groups<D::Rejection>>,
    /// Groups that replayed everything once, at the end.
    pub full: Groups<D::Rejection>,
    /// The full replay's poll re-folded block by block in other partition
    /// orders; the first entry is arrival order.
    pub block_orders: Vec<BlockOrderFold>,
    /// The domain's reference model of `produced`.
    pub model: Model,
    /// The faults injected, in order.
    pub faults: Vec<InjectedFault>,
    /// What the history checker found ([`super::history`]): the log's
    /// anomalies, then the runners', by kind.
    pub anomalies: Vec<crate::anomaly::Anomaly>,
}

/// The views of one partition-block order of the full replay's poll.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockOrderFold {
    /// Partition ids in the order their blocks were folded.
    pub partitions: Vec<u32>,
    /// (projection, view), in registration order.
    pub views: Vec<(String, AnyView)>,
}

impl<D: Domain> Execution<D> {
    /// Every group of every kind.
    pub fn traces(&self) -> impl Iterator<Item = &Trace<D::Rejection>> {
        self.incremental.iter().chain(self.late.iter().flatten()).chain(self.full.iter())
    }
}

/// The records the full-replay groups received, in arrival order.
fn full_replay_records<R>(topic: &str, produced: &[Produced], full: &Groups<R>) -> Vec<LogRecord> {
    let by_position: FastMap<Position, &HistoryRecord> = produced.iter().map(|(p, r)| (*p, r)).collect();
    let Some(first) = full.first() else { return Vec::new() };
    let delivered = first.phases.iter().flat_map(|t| t.committed.delivered.iter());
    // A position no record was produced at (a log that invents records) is
    // left out here; the only-new-events check reports it.
    delivered
        .filter_map(|p| {
            let record = by_position.get(p)?;
            Some(LogRecord {
                topic: topic.to_string(),
                partition: p.partition,
                offset: p.offset,
                key: record.key.clone(),
                value: record.value.clone(),
            })
        })
        .collect()
}

/// Re-folds the full replay's records in every block order, the orders
/// shared out over the machine's cores (each fold is independent: fresh
/// projections over the same decoded events).
fn fold_block_orders<D: Domain>(domain: &D, records: Vec<LogRecord>) -> Vec<BlockOrderFold> {
    let blocks = partition_blocks(records);
    let events = decode_blocks(domain, &blocks);
    let partition_ids: Vec<u32> = blocks.iter().map(|block| block[0].partition).collect();
    drop(blocks);
    let orders = block_orders(partition_ids.len());
    let fold = |order: &Vec<usize>| BlockOrderFold {
        partitions: order.iter().map(|&i| partition_ids[i]).collect(),
        views: domain
            .projections()
            .into_iter()
            .map(|projection| {
                let name = projection.group_id().to_string();
                (name, fold_blocks(projection, &events, order))
            })
            .collect(),
    };
    super::parallel::map_on_cores(&orders, true, fold)
}

/// A scoped thread's result; its panic, if it panicked, goes on in the
/// caller (as if the work had run there).
fn join_or_resume_panic<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// A group being driven, with what it has been expected to see.
struct Driven<S: System> {
    runner: S::Runner,
    projection: String,
    phases: Vec<PhaseTrace<<S::Domain as Domain>::Rejection>>,
    /// How many produced records the group's last commit covered.
    committed_upto: usize,
    stopped: Option<Stop>,
}

impl<S: System> Driven<S> {
    /// Runs one phase. A runner error naming an anomaly stops the group
    /// (recorded, not returned), and so does a panic that escapes the
    /// runner (a runner that does not catch its projection's); a failed
    /// poll or a caught panic is retried once, as a service would; any
    /// other error ends the execution.
    fn run_phase(&mut self, log: &dyn Log, index: usize, phase: &Phase, produced: &[Produced]) -> Result<(), RunError> {
        if self.stopped.is_some() {
            return Ok(());
        }
        let (outcome, escaped) = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.try_phase(log, index, phase, produced)
        })) {
            Ok(outcome) => (outcome, false),
            Err(panic) => {
                let error = RunError::ProjectionPanicked {
                    group: crate::text::quoted(self.runner.group_id()),
                    partition: 0,
                    offset: 0,
                    message: crate::text::quoted(&crate::runner::panic_message(panic.as_ref())),
                };
                (Err(error), true)
            }
        };
        match outcome {
            Err(error) if let Some(anomaly) = error.anomaly() => {
                // A panic that escaped the runner says not which record.
                let (positions, count) = if escaped { (Vec::new(), 0) } else { error.involved() };
                self.stopped = Some(Stop { phase: index, anomaly, message: error.to_string(), positions, count });
                // The consumer may be mid-phase; a stopped group holds none.
                self.runner.release_consumer()
            }
            other => other,
        }
    }

    fn try_phase(&mut self, log: &dyn Log, index: usize, phase: &Phase, produced: &[Produced]) -> Result<(), RunError> {
        let expected_new = produced[self.committed_upto..].iter().map(|(p, _)| *p).collect();
        let log_ends = log.end_offsets()?;
        let mut retries = 0;
        let crashed = match phase.crash {
            Some(point) => Some(self.retrying_once(
                log,
                PhaseOptions { reuse_consumer: phase.reuse_consumer, crash: Some(point) },
                &mut retries,
            )?),
            None => None,
        };
        let options = PhaseOptions { reuse_consumer: phase.reuse_consumer && crashed.is_none(), crash: None };
        let committed = self.retrying_once(log, options, &mut retries)?;
        self.committed_upto = produced.len();
        self.phases.push(PhaseTrace { phase: index, expected_new, crashed, committed, retries, log_ends });
        Ok(())
    }

    /// A phase, run again once with a new consumer after a failed poll or
    /// a panic the runner caught (it has reloaded its state).
    fn retrying_once(
        &mut self,
        log: &dyn Log,
        options: PhaseOptions,
        retries: &mut usize,
    ) -> Result<PhaseReport<<S::Domain as Domain>::Rejection>, RunError> {
        match self.runner.phase(log, options) {
            Err(RunError::Log(LogError::PollFailed { .. }) | RunError::ProjectionPanicked { .. }) => {
                *retries += 1;
                // Released: the retry polls with a new consumer, whatever
                // the options say about reusing one.
                self.runner.release_consumer()?;
                self.runner.phase(log, options)
            }
            other => other,
        }
    }

    fn finish(mut self) -> Result<Trace<<S::Domain as Domain>::Rejection>, RunError> {
        self.runner.release_consumer()?;
        let rejected =
            self.phases.iter().flat_map(PhaseTrace::reports).flat_map(|r| r.rejected.iter().cloned()).collect();
        Ok(Trace {
            projection: self.projection,
            group_id: self.runner.group_id().to_string(),
            phases: self.phases,
            view: self.runner.view(),
            rejected,
            stopped: self.stopped,
        })
    }
}

/// Arms [`crate::log::Fault::PanicInApply`]: how many more applies before
/// one panics, shared by every projection the executor hands out;
/// negative when disarmed.
#[derive(Clone)]
struct PanicCountdown(std::sync::Arc<std::sync::atomic::AtomicI64>);

impl PanicCountdown {
    fn new() -> PanicCountdown {
        PanicCountdown(std::sync::Arc::new(std::sync::atomic::AtomicI64::new(-1)))
    }

    fn arm(&self, after: u32) {
        self.0.store(i64::from(after), std::sync::atomic::Ordering::SeqCst);
    }

    fn disarm(&self) {
        self.0.store(-1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether this apply is the one that panics (then disarmed).
    fn fires(&self) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        self.0.fetch_update(SeqCst, SeqCst, |left| (left >= 0).then_some(left - 1)) == Ok(0)
    }

    /// `projection`, panicking in `apply` when the countdown fires.
    fn wrap<E: 'static>(&self, projection: BoxedProjection<E>) -> BoxedProjection<E> {
        Box::new(Countdown { inner: projection, countdown: self.clone() })
    }
}

/// The message of the panic the fault `panic-in-apply` injects.
pub const INJECTED_PANIC: &str = "an injected panic in apply (fault panic-in-apply), after the event was applied";

/// Keeps the panics the fault `panic-in-apply` injects off stderr: they are
/// the schedule's, caught and reported as `apply-panic`, and a panic trace
/// on a passing run reads as a crash. Every other panic is printed by the
/// hook that was installed before. For programs (the binary) to call once.
pub fn silence_injected_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&INJECTED_PANIC) {
            previous(info);
        }
    }));
}

/// A projection that panics when the executor's countdown fires.
struct Countdown<E> {
    inner: BoxedProjection<E>,
    countdown: PanicCountdown,
}

impl<E> crate::domain::ErasedProjection<E> for Countdown<E> {
    fn group_id(&self) -> &str {
        self.inner.group_id()
    }
    fn apply(&mut self, event: &E) {
        self.inner.apply(event);
        if self.countdown.fires() {
            std::panic::panic_any(INJECTED_PANIC);
        }
    }
    fn view(&self) -> AnyView {
        self.inner.view()
    }
    fn state_version(&self) -> u32 {
        self.inner.state_version()
    }
    fn save_entry(&self, key: &str) -> Option<String> {
        self.inner.save_entry(key)
    }
    fn load_entry(&mut self, key: &str, state: &str) -> Result<(), String> {
        self.inner.load_entry(key, state)
    }
}

/// One group per registered projection, reading with `<projection>-<kind>`.
struct DrivenGroups<S: System>(Vec<Driven<S>>);

impl<S: System> DrivenGroups<S> {
    fn new(system: &S, kind: &str, countdown: &PanicCountdown) -> Self {
        let projections = system.domain().projections();
        DrivenGroups(
            projections
                .into_iter()
                .map(|projection| {
                    let name = projection.group_id().to_string();
                    let runner = system.runner(countdown.wrap(projection), &format!("{name}-{kind}"));
                    Driven { runner, projection: name, phases: Vec::new(), committed_upto: 0, stopped: None }
                })
                .collect(),
        )
    }

    fn run_phase(&mut self, log: &dyn Log, index: usize, phase: &Phase, produced: &[Produced]) -> Result<(), RunError> {
        self.0.iter_mut().try_for_each(|group| group.run_phase(log, index, phase, produced))
    }

    fn release(&mut self) -> Result<(), RunError> {
        self.0.iter_mut().try_for_each(|group| group.runner.release_consumer())
    }

    /// Releases every consumer of `groups`.
    fn release_all(groups: [Option<&mut Self>; 2]) -> Result<(), RunError> {
        groups.into_iter().flatten().try_for_each(Self::release)
    }

    /// A process restart: every runner is dropped with its in-memory state
    /// (its consumer closed first, as a clean shutdown would; a crash
    /// without it is a crashed phase) and rebuilt by the system.
    fn restart(&mut self, system: &S, countdown: &PanicCountdown) -> Result<(), RunError> {
        self.release()?;
        for (group, projection) in self.0.iter_mut().zip(system.domain().projections()) {
            let group_id = group.runner.group_id().to_string();
            group.runner = system.runner(countdown.wrap(projection), &group_id);
        }
        Ok(())
    }

    fn finish(self) -> Result<Groups<<S::Domain as Domain>::Rejection>, RunError> {
        self.0.into_iter().map(Driven::finish).collect()
    }
}

/// Why an execution could not run.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error(
        "the log is not fresh: its topic {topic} has {partitions} partitions holding {records} records, the schedule needs {wanted} empty partitions; create a new log"
    )]
    NotFresh { topic: String, partitions: u32, records: u64, wanted: u32 },
    #[error(
        "two registered projections share the group id {0}; give each projection its own (it names its consumer groups and its part of the model)"
    )]
    DuplicateProjection(String),
    #[error(
        "the log appended a batch of {given} records but returned {positions} positions; its append_batch breaks the Log contract"
    )]
    BadBatch { given: usize, positions: usize },
    #[error(transparent)]
    Run(#[from] RunError),
}

impl From<LogError> for ExecuteError {
    fn from(e: LogError) -> Self {
        ExecuteError::Run(RunError::Log(e))
    }
}

/// Where an execution is, for a progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// `records` of the history's `of` are in the log.
    Produced { records: usize, of: usize },
    /// The incremental (and late) groups are polling phase `index` of `of`
    /// (the last one being the final phase).
    Polling { index: usize, of: usize },
    /// The full-replay groups are replaying everything.
    FullReplay,
    /// The full replay is re-folded in other partition orders and the model
    /// is built.
    Model,
}

/// Records appended per [`Log::append_batch`] call: bounds the progress
/// steps and the batch a log holds at once.
pub const PRODUCE_CHUNK_RECORDS: usize = 100_000;

/// Produces `history` into `log` (a new, empty log with the schedule's
/// partition count) following `schedule`, driving incremental, late and
/// full-replay groups of every projection of the system's domain.
pub fn execute<S: System>(
    system: &S,
    history: &[HistoryRecord],
    schedule: &Schedule,
    log: &mut dyn Log,
) -> Result<Execution<S::Domain>, ExecuteError> {
    execute_with_progress(system, history, schedule, log, &mut |_| ())
}

/// [`execute`], telling `progress` where it is. Each phase's records are
/// appended with [`Log::append_batch`], in chunks of
/// [`PRODUCE_CHUNK_RECORDS`], so producing costs what the log's batch path
/// costs (linear in the history, on merkql).
pub fn execute_with_progress<S: System>(
    system: &S,
    history: &[HistoryRecord],
    schedule: &Schedule,
    log: &mut dyn Log,
    progress: &mut dyn FnMut(Stage),
) -> Result<Execution<S::Domain>, ExecuteError> {
    let mut recording = Recording::new(log);
    let mut execution = execute_recorded(system, history, schedule, &mut recording, progress)?;
    let mut anomalies = recording.anomalies();
    anomalies.extend(projection_anomalies(&execution));
    anomalies.sort_by(|a, b| (a.kind, &a.group).cmp(&(b.kind, &b.group)));
    execution.anomalies = anomalies;
    Ok(execution)
}

fn execute_recorded<S: System>(
    system: &S,
    history: &[HistoryRecord],
    schedule: &Schedule,
    log: &mut dyn Log,
    progress: &mut dyn FnMut(Stage),
) -> Result<Execution<S::Domain>, ExecuteError> {
    let records: u64 = log.end_offsets()?.iter().sum();
    if log.partitions() != schedule.partitions() || records > 0 {
        return Err(ExecuteError::NotFresh {
            topic: crate::text::quoted(log.topic()),
            partitions: log.partitions(),
            records,
            wanted: schedule.partitions(),
        });
    }
    let mut names = std::collections::BTreeSet::new();
    for projection in system.domain().projections() {
        if !names.insert(projection.group_id().to_string()) {
            return Err(ExecuteError::DuplicateProjection(crate::text::quoted(projection.group_id())));
        }
    }
    let mut produced: Vec<Produced> = Vec::with_capacity(history.len());
    let countdown = PanicCountdown::new();
    let mut incremental = DrivenGroups::new(system, "incremental", &countdown);
    let mut late: Option<DrivenGroups<S>> = None;
    let mut faults = Vec::new();

    let final_phase = Phase { produce: usize::MAX, ..Phase::default() };
    let phases = schedule.phases().iter().chain(std::iter::once(&final_phase));
    let phase_count = schedule.phases().len() + 1;
    for (index, phase) in phases.enumerate() {
        let end = produced.len().saturating_add(phase.produce).min(history.len());
        while produced.len() < end {
            let chunk = &history[produced.len()..end.min(produced.len() + PRODUCE_CHUNK_RECORDS)];
            let batch: Vec<(Option<&str>, &str)> = chunk.iter().map(|r| (r.key.as_deref(), r.value.as_str())).collect();
            let positions = log.append_batch(&batch)?;
            if positions.len() != chunk.len() {
                return Err(ExecuteError::BadBatch { given: chunk.len(), positions: positions.len() });
            }
            produced.extend(positions.into_iter().zip(chunk.iter().cloned()));
            progress(Stage::Produced { records: produced.len(), of: history.len() });
        }
        progress(Stage::Polling { index, of: phase_count });
        if !phase.faults.is_empty() {
            DrivenGroups::release_all([Some(&mut incremental), late.as_mut()])?;
            for fault in &phase.faults {
                let effect = match fault {
                    crate::log::Fault::PanicInApply { after } => {
                        countdown.arm(*after);
                        format!("a projection panics on the record after the next {after} applied")
                    }
                    _ => log.inject(fault)?,
                };
                faults.push(InjectedFault { phase: index, fault: fault.clone(), effect });
            }
        }
        if phase.reopen {
            DrivenGroups::release_all([Some(&mut incremental), late.as_mut()])?;
            log.reopen()?;
        }
        if phase.restart {
            incremental.restart(system, &countdown)?;
            if let Some(late) = late.as_mut() {
                late.restart(system, &countdown)?;
            }
        }
        if schedule.late_join() == Some(index) {
            late = Some(DrivenGroups::new(system, "late", &countdown));
        }
        incremental.run_phase(log, index, phase, &produced)?;
        if let Some(late) = late.as_mut() {
            late.run_phase(log, index, &Phase::default(), &produced)?;
        }
        countdown.disarm();
    }
    debug_assert_eq!(produced.len(), history.len(), "the final phase produces the rest of the history");

    progress(Stage::FullReplay);
    let mut full = DrivenGroups::new(system, "full", &countdown);
    full.run_phase(log, schedule.phases().len() + 1, &Phase::default(), &produced)?;
    let full = full.finish()?;
    progress(Stage::Model);
    let domain = system.domain();
    let full_records = full_replay_records(log.topic(), &produced, &full);
    // The model on its own thread while the block orders fold.
    let (block_orders, model) = std::thread::scope(|scope| {
        let model = scope.spawn(|| domain.model(&produced));
        let block_orders = fold_block_orders(domain, full_records);
        (block_orders, join_or_resume_panic(model))
    });
    Ok(Execution {
        produced,
        incremental: incremental.finish()?,
        late: late.map(DrivenGroups::finish).transpose()?,
        full,
        block_orders,
        model,
        faults,
        anomalies: Vec::new(),
    })
}
