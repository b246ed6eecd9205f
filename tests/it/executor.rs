//! The executor itself: it refuses a log that is not fresh, and labels
//! every group's phases as the schedule numbers them.

use crate::support::{CountingLog, scratch_log};
use event_sourced_cart::cart::Cart;
use event_sourced_cart::cart::event::encode;
use event_sourced_cart::cart::scenario::canonical_events;
use event_sourced_cart::domain::{Domain, HistoryRecord};
use event_sourced_cart::log::{Log, LogError};
use event_sourced_cart::verify::{ExecuteError, Phase, Production, Schedule, execute};

#[test]
fn a_log_that_is_not_fresh_is_refused() {
    let history: Vec<_> = canonical_events().iter().take(3).map(encode).collect();
    let schedule = Schedule::new(2, vec![], None).unwrap();

    let (_dir, mut other_partitions) = scratch_log(3);
    let error = execute(&Production(Cart), &history, &schedule, &mut other_partitions).unwrap_err();
    assert!(matches!(error, ExecuteError::NotFresh { partitions: 3, records: 0, wanted: 2, .. }), "{error}");

    let (_dir, mut not_empty) = scratch_log(2);
    not_empty.append(Some("cart-1"), "{}").unwrap();
    let error = execute(&Production(Cart), &history, &schedule, &mut not_empty).unwrap_err();
    assert!(matches!(error, ExecuteError::NotFresh { partitions: 2, records: 1, wanted: 2, .. }), "{error}");
    assert!(error.to_string().contains("create a new log"), "{error}");

    let (_dir, mut fresh) = scratch_log(2);
    assert!(execute(&Production(Cart), &history, &schedule, &mut fresh).is_ok());
}

#[test]
fn phases_are_numbered_as_the_schedule_numbers_them() {
    let history: Vec<_> = canonical_events().iter().take(4).map(encode).collect();
    let phases = vec![Phase { produce: 1, ..Phase::default() }, Phase { produce: 2, ..Phase::default() }];
    let schedule = Schedule::new(1, phases, Some(1)).unwrap();
    let (_dir, mut log) = scratch_log(1);
    let execution = execute(&Production(Cart), &history, &schedule, &mut log).unwrap();
    let numbers = |traces: &[event_sourced_cart::verify::execute::Trace<_>]| -> Vec<Vec<usize>> {
        traces.iter().map(|t| t.phases.iter().map(|p| p.phase).collect()).collect()
    };
    // Two listed phases and the final one (2); the late group from 1; the
    // full replay after the final phase (3).
    assert!(numbers(&execution.incremental).iter().all(|n| n == &[0, 1, 2]));
    assert!(numbers(execution.late.as_deref().unwrap()).iter().all(|n| n == &[1, 2]));
    assert!(numbers(&execution.full).iter().all(|n| n == &[3]));
    assert_eq!(execution.produced.len(), 4);
}

#[test]
fn no_late_group_without_a_late_join() {
    let history: Vec<_> = canonical_events().iter().take(2).map(encode).collect();
    let phases = vec![Phase { produce: 1, ..Phase::default() }, Phase::default()];
    let (_dir, mut log) = scratch_log(1);
    let schedule = Schedule::new(1, phases, None).unwrap();
    let execution = execute(&Production(Cart), &history, &schedule, &mut log).unwrap();
    assert!(execution.late.is_none());
}

#[test]
fn progress_names_every_stage_in_order() {
    use event_sourced_cart::verify::{Stage, execute_with_progress};
    let history: Vec<_> = canonical_events().iter().take(4).map(encode).collect();
    let phases = vec![Phase { produce: 1, ..Phase::default() }, Phase { produce: 2, ..Phase::default() }];
    let schedule = Schedule::new(2, phases, None).unwrap();
    let (_dir, mut log) = scratch_log(2);
    let mut stages = Vec::new();
    execute_with_progress(&Production(Cart), &history, &schedule, &mut log, &mut |stage| stages.push(stage)).unwrap();
    assert_eq!(
        stages,
        vec![
            Stage::Produced { records: 1, of: 4 },
            Stage::Polling { index: 0, of: 3 },
            Stage::Produced { records: 3, of: 4 },
            Stage::Polling { index: 1, of: 3 },
            Stage::Produced { records: 4, of: 4 },
            Stage::Polling { index: 2, of: 3 },
            Stage::FullReplay,
            Stage::Model,
        ]
    );
}

/// A log that invents a record (a position nothing was produced at) and
/// delivers it twice: per-key ordering reports it applied twice.
#[test]
fn an_invented_record_applied_twice_is_reported() {
    use event_sourced_cart::record::Position;
    use event_sourced_cart::verify::check::check_per_key_ordering;
    use event_sourced_cart::verify::{Violation, execute};
    let history: Vec<_> = canonical_events().iter().take(2).map(encode).collect();
    let (_dir, mut log) = scratch_log(1);
    let mut execution =
        execute(&Production(Cart), &history, &Schedule::new(1, vec![], None).unwrap(), &mut log).unwrap();
    let invented = Position { partition: 0, offset: 99 };
    let report = &mut execution.incremental[0].phases[0].committed;
    report.applied.extend([invented, invented]);
    match check_per_key_ordering(&execution) {
        Err(Violation::AppliedTwice { position, count: 2, .. }) => assert_eq!(position, invented),
        other => panic!("expected the invented record applied twice, got {other:?}"),
    }
}

#[test]
fn a_phase_polls_with_a_new_consumer_unless_its_schedule_says_reuse() {
    let history: Vec<HistoryRecord> = (0..3)
        .map(|i| HistoryRecord {
            key: Some("c".into()),
            value: format!(r#"{{"type":"AddItem","cart_id":"c","item":"i{i}","qty":1,"price":1}}"#),
        })
        .collect();
    let phase = |reuse_consumer| Phase { produce: 1, reuse_consumer, ..Phase::default() };
    let schedule = Schedule::new(1, vec![phase(false), phase(true), phase(false)], None).unwrap();
    let (_dir, log) = scratch_log(1);
    let mut log = CountingLog::new(log);
    execute(&Production(Cart), &history, &schedule, &mut log).unwrap();
    // Per projection: phases 0, 2 and the final phase take a new consumer,
    // phase 1 reuses phase 0's; then one for the full replay.
    let projections = Cart.projections().len();
    assert_eq!(log.consumers.get(), projections * 4);
}

#[test]
fn a_log_that_does_not_inject_faults_says_so() {
    use event_sourced_cart::log::Fault;
    let (_dir, log) = scratch_log(1);
    let mut log = CountingLog::new(log);
    let refused = log.inject(&Fault::PollError);
    assert!(matches!(refused, Err(LogError::FaultUnsupported("poll-error"))), "{refused:?}");
}

#[test]
fn per_record_forwards_reads_and_faults() {
    use event_sourced_cart::log::{Fault, PerRecord};
    let (_dir, log) = scratch_log(1);
    let mut log = PerRecord(log);
    let position = log.append(Some("c"), "v").unwrap();
    assert_eq!(log.record_at(position).unwrap().map(|r| r.value), Some("v".to_string()));
    assert!(log.inject(&Fault::PollError).unwrap().contains("next poll fails"));
    let mut consumer = log.consumer("g").unwrap();
    assert!(matches!(consumer.poll(), Err(LogError::PollFailed { .. })), "the fault reached the log");
}
