//! Faults injected into real merkql logs at generated points of a history:
//! the durable runner's views equal the model or it stops with a named
//! anomaly, never a silent difference; a naive runner (in-memory view,
//! applies whatever merkql's own poll returns) diverges on every class, and
//! the history checker names what happened.

use crate::support::broken::{RunnerBug, runner_bug};
use crate::support::{proptest_config, scratch_log};
use event_sourced_cart::anomaly::Kind;
use event_sourced_cart::cart::Cart;
use event_sourced_cart::cart::generate::case_with;
use event_sourced_cart::domain::HistoryRecord;
use event_sourced_cart::log::Fault;
use event_sourced_cart::verify::check::check_under_faults;
use event_sourced_cart::verify::generate::{with_faults, with_restarts};
use event_sourced_cart::verify::replay::{self, Exit};
use event_sourced_cart::verify::replay_file::{ReplayFile, write_failure};
use event_sourced_cart::verify::{Case, Durable, Execution, Phase, Schedule, System, execute};
use proptest::prelude::*;

/// Runs `case` with `system` on a fresh log, its polls verified or not.
fn run<S: System<Domain = Cart>>(system: &S, case: &Case, verified: bool) -> Execution<Cart> {
    let (_dir, mut log) = scratch_log(case.schedule.partitions());
    log.set_verified_reads(verified);
    execute(system, &case.history, &case.schedule, &mut log).expect("the run completes")
}

/// The durable system with its store in its own scratch directory.
fn durable() -> (tempfile::TempDir, Durable<Cart>) {
    let dir = event_sourced_cart::settings::scratch_dir().expect("a scratch directory");
    let store = dir.path().join("views.sqlite");
    (dir, Durable { domain: Cart, store })
}

/// The runner that trusts the log: it applies every record a poll returns.
fn naive() -> event_sourced_cart::verify::WithSteps<Cart> {
    runner_bug(RunnerBug::NoDuplicateTracking)
}

/// `records` adds to two carts; every value ends in a price digit.
fn history(records: usize) -> Vec<HistoryRecord> {
    (0..records)
        .map(|i| {
            let cart = format!("c{}", i % 2);
            HistoryRecord {
                key: Some(cart.clone()),
                value: format!(r#"{{"type":"AddItem","cart_id":"{cart}","item":"i{i}","qty":2,"price":1.25}}"#),
            }
        })
        .collect()
}

fn phase(produce: usize, faults: Vec<Fault>) -> Phase {
    Phase { produce, faults, ..Phase::default() }
}

/// One partition, 9 records: 3 produced and committed, then `second`,
/// then the rest in the final phase.
fn case(second: Phase) -> Case {
    Case { schedule: Schedule::new(1, vec![phase(3, vec![]), second], None).unwrap(), history: history(9) }
}

/// Each fault class, the case that shows it, and what the checker must
/// name when the naive runner meets it.
fn classes() -> Vec<(&'static str, Case, Kind)> {
    vec![
        ("corrupt offsets.bin", case(phase(3, vec![Fault::CorruptGroupOffsets])), Kind::DuplicateApply),
        ("deleted offsets.bin", case(phase(3, vec![Fault::DeleteGroupOffsets])), Kind::DuplicateApply),
        ("retention", case(phase(3, vec![Fault::Retention { partition: 0, evict: 5 }])), Kind::PollSkip),
        (
            "truncated index tail",
            case(phase(1, vec![Fault::TruncateIndexTail { partition: 0, records: 2 }])),
            Kind::LostWrite,
        ),
        ("missing object", case(phase(3, vec![Fault::MissingObject { partition: 0, offset: 4 }])), Kind::PollSkip),
        (
            "flipped payload byte",
            case(phase(3, vec![Fault::FlipPayloadByte { partition: 0, offset: 4 }])),
            Kind::InconsistentOffsets,
        ),
    ]
}

fn kinds(execution: &Execution<Cart>) -> Vec<Kind> {
    execution.anomalies.iter().map(|a| a.kind).collect()
}

#[test]
fn a_naive_runner_diverges_silently_on_every_fault_class_and_the_checker_names_it() {
    for (class, case, named) in classes() {
        let execution = run(&naive(), &case, false);
        let diverged: Vec<&str> = execution
            .traces()
            .filter(|t| t.stopped.is_none() && Some(&t.view) != execution.model.views.get(&t.projection))
            .map(|t| t.group_id.as_str())
            .collect();
        assert!(!diverged.is_empty(), "{class}: the naive runner should diverge");
        assert!(execution.traces().all(|t| t.stopped.is_none()), "{class}: the naive runner never stops");
        assert!(kinds(&execution).contains(&named), "{class}: expected {named} in {:?}", kinds(&execution));
        let data_lost = execution.anomalies.iter().any(|a| a.kind.is_data_loss());
        if !data_lost {
            assert!(!check_under_faults(&execution).is_empty(), "{class}: the properties under faults fail it");
        }
    }
}

#[test]
fn a_runner_that_lacks_only_what_the_log_lost_is_not_blamed() {
    // Retention evicts records the full-replay groups never read; on a log
    // whose reads are not verified the in-memory runner skips them without
    // stopping. It skipped what the log lost (lost-write), nothing else.
    let case = case(phase(3, vec![Fault::Retention { partition: 0, evict: 5 }]));
    let execution = run(&event_sourced_cart::verify::Production(Cart), &case, false);
    let found = kinds(&execution);
    assert!(found.contains(&Kind::LostWrite) && found.contains(&Kind::SkippedApply), "{found:?}");
    assert_eq!(check_under_faults(&execution), []);
}

#[test]
fn the_durable_runner_equals_the_model_or_stops_with_a_named_anomaly_on_every_fault_class() {
    let mut classes = classes();
    classes.push(("failed poll", case(phase(3, vec![Fault::PollError])), Kind::PollSkip));
    classes.push(("panic in apply", case(phase(3, vec![Fault::PanicInApply { after: 1 }])), Kind::ApplyPanic));
    for (class, case, _) in classes {
        let (_store_dir, system) = durable();
        let execution = run(&system, &case, true);
        let violations = check_under_faults(&execution);
        assert!(violations.is_empty(), "{class}: {violations:?}");
        for trace in execution.traces() {
            let equal = Some(&trace.view) == execution.model.views.get(&trace.projection);
            let data_lost = execution.anomalies.iter().any(|a| a.kind.is_data_loss());
            assert!(equal || trace.stopped.is_some() || data_lost, "{class}: {} diverged silently", trace.group_id);
        }
    }
}

#[test]
fn the_durable_runner_stops_where_each_class_needs_it() {
    let expected = [
        ("corrupt offsets.bin", None),
        ("deleted offsets.bin", None),
        ("retention", Some(Kind::PollSkip)),
        ("truncated index tail", Some(Kind::CheckpointAheadOfLog)),
        ("missing object", Some(Kind::PollSkip)),
        ("flipped payload byte", Some(Kind::InconsistentOffsets)),
    ];
    for ((class, case, _), (name, stop)) in classes().into_iter().zip(expected) {
        assert_eq!(class, name);
        let (_store_dir, system) = durable();
        let execution = run(&system, &case, true);
        let incremental = &execution.incremental[0];
        assert_eq!(incremental.stopped.as_ref().map(|s| s.anomaly), stop, "{class}: {:?}", incremental.stopped);
        if stop.is_none() {
            assert_eq!(Some(&incremental.view), execution.model.views.get(&incremental.projection), "{class}");
        }
    }
}

#[test]
fn a_truncated_tail_refilled_before_the_runner_polls_is_caught_by_the_checkpoint_digest() {
    // The tail is cut and new records fill its offsets again before the
    // durable runner polls: the log ends past the checkpoint, so only the
    // digest of the last applied record tells the log was rewritten.
    let case = Case {
        schedule: Schedule::new(
            1,
            vec![phase(4, vec![]), Phase { produce: 0, ..phase(0, vec![]) }, phase(0, vec![])],
            None,
        )
        .unwrap(),
        history: history(9),
    };
    // Cut in the second phase after its (empty) production; the third
    // phase's production (the rest) refills the offsets before it polls.
    let mut phases = case.schedule.phases().to_vec();
    phases[1].faults = vec![Fault::TruncateIndexTail { partition: 0, records: 2 }];
    phases[1].produce = 0;
    let case = Case { schedule: Schedule::new(1, phases, None).unwrap(), ..case };
    let (_store_dir, system) = durable();
    let execution = run(&system, &case, true);
    let stop = execution.incremental[0].stopped.as_ref().expect("the incremental group stops");
    assert_eq!(stop.anomaly, Kind::CheckpointAheadOfLog);
}

#[test]
fn a_flipped_byte_in_the_last_applied_record_is_damage_and_the_view_stays_exact() {
    // The record the checkpoint's digest names is damaged after it was
    // applied: what was applied from it is in the view, so the durable
    // runner goes on rather than blame a rewritten log.
    let phases =
        vec![phase(4, vec![]), phase(0, vec![Fault::FlipPayloadByte { partition: 0, offset: 3 }]), phase(0, vec![])];
    let case = Case { schedule: Schedule::new(1, phases, None).unwrap(), history: history(9) };
    let (_store_dir, system) = durable();
    let execution = run(&system, &case, true);
    for group in &execution.incremental {
        assert!(group.stopped.is_none(), "{}: {:?}", group.group_id, group.stopped);
    }
    let problems = check_under_faults(&execution);
    assert!(problems.is_empty(), "{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
}

proptest! {
    #![proptest_config(proptest_config("proptest-regressions/faults.txt"))]

    /// Generated histories with generated faults and restarts: the durable
    /// runner never diverges silently. A failure is saved with its faults
    /// and replays with `replay --durable`.
    #[test]
    fn the_durable_runner_never_diverges_silently(case in with_faults(with_restarts(case_with(30)))) {
        let (_store_dir, system) = durable();
        let (_dir, mut log) = scratch_log(case.schedule.partitions());
        let failure = match execute(&system, &case.history, &case.schedule, &mut log) {
            Ok(execution) => check_under_faults(&execution).first().map(ToString::to_string),
            Err(error) => Some(format!("the run failed: {error}")),
        };
        if let Some(failure) = failure {
            let saved = write_failure("durable_faults", &case.history, &case.schedule)
                .map_or_else(|e| format!("could not write the replay file: {e}"), |p| format!("case written to {}; reproduce with: cargo run -- replay --durable {}", p.display(), p.display()));
            return Err(TestCaseError::fail(format!("{failure}\n{saved}")));
        }
    }
}

#[test]
fn a_failure_file_carries_its_faults_and_replays_them() {
    let (_, case, _) = classes().into_iter().find(|(class, ..)| *class == "flipped payload byte").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("case.jsonl");
    let text = event_sourced_cart::verify::replay_file::render(&case.history, &case.schedule);
    std::fs::write(&path, &text).unwrap();
    assert!(text.contains(r#""faults":[{"fault":"flip-payload-byte","partition":0,"offset":4}]"#), "{text}");
    let file: ReplayFile = replay::load(&Cart, &path).unwrap();
    assert_eq!(file.schedule.as_ref(), Some(&case.schedule));
    // From the file alone: the naive runner's view differs from the model
    // again, and the checker names why.
    let (_log_dir, mut log) = scratch_log(1);
    log.set_verified_reads(false);
    let verdict = replay::run(&naive(), &file, &case.schedule, &mut log).unwrap();
    let incremental = &verdict.execution.incremental[0];
    assert_ne!(Some(&incremental.view), verdict.execution.model.views.get(&incremental.projection));
    assert!(kinds(&verdict.execution).contains(&Kind::InconsistentOffsets), "{:?}", kinds(&verdict.execution));
    // The durable runner on the same file stops with the same name.
    let (_log_dir, mut log) = scratch_log(1);
    let (_store_dir, system) = durable();
    let verdict = replay::run(&system, &file, &case.schedule, &mut log).unwrap();
    assert_eq!(verdict.exit(), Exit::Agree, "{:?}", verdict.violations);
    let stop = verdict.execution.incremental[0].stopped.as_ref().map(|s| s.anomaly);
    assert_eq!(stop, Some(Kind::InconsistentOffsets));
}

/// The replay files of `KNOWN-ANOMALIES.md` replay with the durable
/// runner to exit 0 (no silent divergence), each naming what it shows.
#[test]
fn every_known_anomaly_file_replays_with_its_named_anomalies() {
    let expected: [(&str, &[Kind]); 8] = [
        ("corrupt-group-offsets", &[Kind::NonmonotonicPoll]),
        ("delete-group-offsets", &[Kind::NonmonotonicPoll]),
        ("retention", &[Kind::PollSkip]),
        ("truncate-index-tail", &[Kind::LostWrite, Kind::NonmonotonicSend, Kind::CheckpointAheadOfLog]),
        ("missing-object", &[Kind::PollSkip]),
        ("flip-payload-byte", &[Kind::InconsistentOffsets]),
        ("poll-error", &[]),
        ("panic-in-apply", &[]),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/anomalies");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), expected.len(), "a file per class, each tested");
    for (name, kinds_named) in expected {
        let file = replay::load(&Cart, &dir.join(format!("{name}.jsonl"))).unwrap();
        let schedule = file.schedule.clone().unwrap();
        let (_log_dir, mut log) = scratch_log(schedule.partitions());
        let (_store_dir, system) = durable();
        let verdict = replay::run(&system, &file, &schedule, &mut log).unwrap();
        assert_eq!(verdict.exit(), Exit::Agree, "{name}: {:?}", verdict.violations);
        let found = kinds(&verdict.execution);
        for kind in kinds_named {
            assert!(found.contains(kind), "{name}: {kind} in {found:?}");
        }
        if kinds_named.is_empty() {
            assert_eq!(found, [], "{name}");
            assert_eq!(verdict.execution.incremental[0].phases[1].retries, 1, "{name}: the failed poll was retried");
        }
    }
}

#[test]
fn a_panic_in_apply_is_retried_by_the_durable_runner_and_stops_the_in_memory_one() {
    let case = case(phase(3, vec![Fault::PanicInApply { after: 1 }]));
    let (_store_dir, system) = durable();
    let execution = run(&system, &case, true);
    let first = &execution.incremental[0];
    assert_eq!(first.stopped, None);
    assert_eq!(first.phases[1].retries, 1, "the panicking phase ran again from the store");
    assert_eq!(Some(&first.view), execution.model.views.get(&first.projection));
    assert_eq!(check_under_faults(&execution), []);

    // The in-memory runner cannot know what the panic left half-applied:
    // its group stops, named; the others go on.
    let execution = run(&event_sourced_cart::verify::Production(Cart), &case, true);
    let stop = execution.incremental[0].stopped.as_ref().expect("the in-memory runner stops");
    assert_eq!(stop.anomaly, Kind::ApplyPanic);
    assert!(stop.message.contains("panic-in-apply"), "{}", stop.message);
    assert!(execution.incremental[1..].iter().all(|t| t.stopped.is_none()));
    assert_eq!(check_under_faults(&execution), []);
}

proptest! {
    #![proptest_config(proptest_config("proptest-regressions/faults.txt"))]

    /// Without restarts (which lose an in-memory view by design), the
    /// in-memory runner on a verified log never diverges silently either:
    /// it skips what it applied before and stops on damage.
    #[test]
    fn the_in_memory_runner_never_diverges_silently_without_restarts(case in with_faults(case_with(30))) {
        let execution = run(&event_sourced_cart::verify::Production(Cart), &case, true);
        let violations = check_under_faults(&execution);
        prop_assert!(violations.is_empty(), "{}", violations[0]);
    }
}
