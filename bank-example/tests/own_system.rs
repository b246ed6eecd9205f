//! A team's own projector, checked by the harness: written here, outside
//! the harness, the way a service is often first written. It keeps the
//! balances in SQLite tables of its own and trusts the log's committed
//! group offsets as its only checkpoint. The harness runs it through the
//! `System` seam with a fault that deletes the group offsets (merkql's
//! `offsets.bin`), finds that it applies records twice, names it
//! `duplicate-apply` and shrinks the case.

use bank_example::{Balances, Bank, Event, bank_cases};
use projection_harness::anomaly::Kind;
use projection_harness::domain::{AnyView, BoxedProjection, Domain, Model, Produced, decode_record, register};
use projection_harness::log::{Fault, GroupConsumer, Log, MerkqlLog};
use projection_harness::record::LogRecord;
use projection_harness::runner::{GroupRunner, PhaseOptions, PhaseReport, RunError};
use projection_harness::verify::check::check_under_faults;
use projection_harness::verify::generate::with_faults;
use projection_harness::verify::{Case, Phase, Schedule, System, Violation, execute};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use rusqlite::{Connection, params};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The bank with its `balances` projection only: the one the team's
/// projector serves.
#[derive(Clone, Copy, Debug, Default)]
struct BalancesOnly;

impl Domain for BalancesOnly {
    type Event = Event;
    type Rejection = <Bank as Domain>::Rejection;
    fn topic(&self) -> &str {
        bank_example::TOPIC
    }
    fn decode(&self, value: &str) -> Result<Event, Self::Rejection> {
        Bank::default().decode(value)
    }
    fn key<'e>(&self, event: &'e Event) -> &'e str {
        event.account()
    }
    fn projections(&self) -> Vec<BoxedProjection<Event>> {
        vec![register(Balances::default())]
    }
    fn model(&self, produced: &[Produced]) -> Model {
        let mut model = Bank::default().model(produced);
        model.views.retain(|name, _| name == "balances");
        model
    }
}

/// The team's projector: balances in its own SQLite table, one transaction
/// per poll, then a commit on the log. No offsets of its own.
struct NaiveProjector {
    group_id: String,
    db: Connection,
    consumer: Option<Box<dyn GroupConsumer>>,
}

impl NaiveProjector {
    fn open(path: PathBuf, group_id: &str) -> NaiveProjector {
        let db = Connection::open(path).expect("its database opens");
        db.execute_batch("CREATE TABLE IF NOT EXISTS balances (account TEXT PRIMARY KEY, cents INTEGER NOT NULL)")
            .expect("its table");
        NaiveProjector { group_id: group_id.to_string(), db, consumer: None }
    }
}

impl GroupRunner<BalancesOnly> for NaiveProjector {
    fn group_id(&self) -> &str {
        &self.group_id
    }

    fn phase(
        &mut self,
        log: &dyn Log,
        options: PhaseOptions,
    ) -> Result<PhaseReport<<BalancesOnly as Domain>::Rejection>, RunError> {
        let mut consumer = match self.consumer.take() {
            Some(consumer) if options.reuse_consumer => consumer,
            _ => log.consumer(&self.group_id)?,
        };
        let records: Vec<LogRecord> = consumer.poll()?;
        let mut report =
            PhaseReport { delivered: records.iter().map(LogRecord::position).collect(), ..PhaseReport::default() };
        if options.crash.is_some() {
            return Ok(report);
        }
        let tx = self.db.transaction().expect("a transaction");
        for record in &records {
            match decode_record(&BalancesOnly, record) {
                Ok(event) => {
                    let (account, change) = match &event {
                        Event::Deposit { account, cents } => (account, *cents as i64),
                        Event::Withdraw { account, cents } => (account, -(*cents as i64)),
                    };
                    tx.execute(
                        "INSERT INTO balances (account, cents) VALUES (?1, ?2)
                         ON CONFLICT (account) DO UPDATE SET cents = cents + excluded.cents",
                        params![account, change],
                    )
                    .expect("an update");
                    report.applied.push(record.position());
                }
                Err(rejected) => report.rejected.push(rejected),
            }
        }
        tx.commit().expect("a commit");
        consumer.commit()?;
        report.committed = true;
        self.consumer = Some(consumer);
        Ok(report)
    }

    fn release_consumer(&mut self) -> Result<(), RunError> {
        if let Some(consumer) = self.consumer.take() {
            consumer.close()?;
        }
        Ok(())
    }

    fn view(&self) -> AnyView {
        let mut statement = self.db.prepare("SELECT account, cents FROM balances").expect("a query");
        let rows = statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))).expect("rows");
        AnyView::new(rows.map(|row| row.expect("a row")).collect::<BTreeMap<String, i64>>())
    }
}

/// The team's system: one database per consumer group in `dir`.
struct TeamSystem {
    dir: PathBuf,
}

impl System for TeamSystem {
    type Domain = BalancesOnly;
    type Runner = NaiveProjector;
    fn domain(&self) -> &BalancesOnly {
        &BalancesOnly
    }
    fn runner(&self, _projection: BoxedProjection<Event>, group_id: &str) -> NaiveProjector {
        NaiveProjector::open(self.dir.join(format!("{group_id}.sqlite")), group_id)
    }
}

/// Bank cases whose only fault is a deletion of the group offsets, and no
/// crashed polls (this projector does not claim to survive those).
fn cases_with_deleted_offsets() -> impl Strategy<Value = Case> {
    with_faults(bank_cases(30)).prop_map(|case| {
        let phases = case
            .schedule
            .phases()
            .iter()
            .map(|phase| Phase {
                crash: None,
                faults: phase.faults.iter().filter(|f| matches!(f, Fault::DeleteGroupOffsets)).cloned().collect(),
                ..phase.clone()
            })
            .collect();
        let schedule =
            Schedule::new(case.schedule.partitions(), phases, case.schedule.late_join()).expect("a schedule");
        Case { schedule, ..case }
    })
}

/// Every violation of the properties under faults.
fn run(case: &Case) -> Vec<Violation> {
    let dir = tempfile::tempdir().expect("a directory");
    let system = TeamSystem { dir: dir.path().to_path_buf() };
    let log_dir = dir.path().join("log");
    let mut log = MerkqlLog::create(&log_dir, BalancesOnly.topic(), case.schedule.partitions()).expect("a log");
    let execution = execute(&system, &case.history, &case.schedule, &mut log).expect("the run");
    check_under_faults(&execution)
}

fn fails(case: &Case) -> Result<(), TestCaseError> {
    match run(case).first() {
        None => Ok(()),
        Some(violation) => Err(TestCaseError::fail(violation.to_string())),
    }
}

#[test]
fn the_harness_finds_the_team_projectors_duplicate_apply_on_deleted_offsets_and_shrinks_it() {
    let config = Config { cases: 256, rng_seed: RngSeed::Fixed(7), failure_persistence: None, ..Config::default() };
    let result = TestRunner::new(config).run(&cases_with_deleted_offsets(), |case| fails(&case));
    let Err(TestError::Fail(reason, case)) = result else { panic!("the naive projector was never caught: {result:?}") };
    let violations = run(&case);
    let named = violations.iter().any(|v| matches!(v, Violation::Anomaly(a) if a.kind == Kind::DuplicateApply));
    assert!(named, "duplicate-apply is named: {reason}\n{violations:?}");
    assert!(case.history.len() <= 3, "shrunk to a few records: {case:?}");
    let faults: Vec<&Fault> = case.schedule.phases().iter().flat_map(|p| &p.faults).collect();
    assert_eq!(faults, [&Fault::DeleteGroupOffsets], "{case:?}");
}

/// Without the fault, the same projector passes: the harness blames the
/// deleted offsets, not the test.
#[test]
fn without_the_fault_the_team_projector_passes() {
    let config = Config { cases: 64, rng_seed: RngSeed::Fixed(7), failure_persistence: None, ..Config::default() };
    let no_faults = cases_with_deleted_offsets().prop_map(|case| {
        let phases = case.schedule.phases().iter().map(|p| Phase { faults: Vec::new(), ..p.clone() }).collect();
        let schedule =
            Schedule::new(case.schedule.partitions(), phases, case.schedule.late_join()).expect("a schedule");
        Case { schedule, ..case }
    });
    TestRunner::new(config)
        .run(&no_faults, |case| fails(&case))
        .expect("the naive projector is right while the log keeps its offsets");
}
