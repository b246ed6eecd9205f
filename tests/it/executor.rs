//! The executor itself: it refuses a log that is not fresh, and labels
//! every group's phases as the schedule numbers them.

use crate::support::scratch_log;
use event_sourced_cart::cart::Cart;
use event_sourced_cart::cart::event::encode;
use event_sourced_cart::cart::scenario::canonical_events;
use event_sourced_cart::log::Log;
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
