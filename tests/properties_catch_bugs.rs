//! Every property is seen failing: each runs against a deliberately broken
//! runner or projection, must find a counterexample, must report that
//! specific violation, and must shrink it to a handful of events.

mod support;

use event_sourced_cart::verify::check::{
    Check, check_late_group, check_model_agreement, check_only_new_events, check_partition_order_independence,
    check_per_key_ordering, check_redelivery, check_split_equivalence,
};
use event_sourced_cart::verify::generate::{Case, case, case_with};
use event_sourced_cart::verify::{HistoryRecord, Schedule, System, Violation};
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use support::broken::{BrokenSystem, ProjectionBug, RunnerBug};
use support::evaluate;

/// Most events a shrunk counterexample may keep.
const SMALL: usize = 8;

/// Most phases a shrunk counterexample may keep.
const FEW_PHASES: usize = 3;

/// Longest generated history when searching for a planted bug: every bug
/// here shows on a few events, and short histories shrink fast.
const SEARCH_EVENTS: usize = 40;

/// The search's settings: a fixed seed, so that these tests are
/// deterministic; at least 256 cases and 4096 shrink steps whatever
/// `PROPTEST_CASES` and `PROPTEST_MAX_SHRINK_ITERS` say (a search that ends
/// early would wrongly report the property as unproven); nothing persisted
/// (these failures are expected).
fn search_config() -> Config {
    let defaults = Config::default();
    Config {
        cases: defaults.cases.max(256),
        max_shrink_iters: defaults.max_shrink_iters.max(4096),
        rng_seed: RngSeed::Fixed(0x5eed_ca57),
        failure_persistence: None,
        ..defaults
    }
}

/// Searches generated cases for one where `check` fails on `system`, and
/// returns the shrunk case with its violation. Fails the test if the
/// property never fails (it would be unproven). Some planted bugs depend on
/// merkql's partition-block order, which varies between consumers, so the
/// violation is recorded when the case fails rather than re-run afterwards.
fn counterexample<S: System>(system: &S, check: Check) -> (Violation, Vec<HistoryRecord>, Schedule) {
    let last_failure = std::cell::RefCell::new(None);
    let mut runner = TestRunner::new(search_config());
    let result = runner.run(&case_with(SEARCH_EVENTS), |case| {
        evaluate(system, check, &case).map_err(|violation| {
            let message = violation.to_string();
            *last_failure.borrow_mut() = Some(violation);
            TestCaseError::fail(message)
        })
    });
    match result {
        Err(TestError::Fail(reason, Case { schedule, history })) => {
            let violation = last_failure.into_inner().expect("a failing case recorded its violation");
            assert_eq!(reason.message(), violation.to_string());
            assert!(
                history.len() <= SMALL,
                "shrunk to {} events, expected at most {SMALL}: {schedule:?} {violation}",
                history.len()
            );
            assert!(schedule.phases.len() <= FEW_PHASES, "shrunk to {} phases: {schedule:?}", schedule.phases.len());
            (violation, history, schedule)
        }
        Err(TestError::Abort(reason)) => panic!("the search aborted: {reason}"),
        Ok(()) => panic!("the property never failed against the planted bug: it is unproven"),
    }
}

#[test]
fn split_equivalence_catches_a_runner_that_drops_the_last_record_of_a_poll() {
    let (violation, ..) = counterexample(&BrokenSystem::runner(RunnerBug::DropsLastRecord), check_split_equivalence);
    assert!(matches!(violation, Violation::SplitMismatch { .. }), "{violation}");
}

#[test]
fn only_new_events_catches_a_runner_that_forgets_its_commits() {
    let (violation, ..) = counterexample(&BrokenSystem::runner(RunnerBug::ForgetsCommits), check_only_new_events);
    assert!(matches!(violation, Violation::NotOnlyNew { .. }), "{violation}");
}

#[test]
fn per_key_ordering_catches_a_runner_that_drops_the_last_record_of_a_poll() {
    let (violation, ..) = counterexample(&BrokenSystem::runner(RunnerBug::DropsLastRecord), check_per_key_ordering);
    assert!(matches!(violation, Violation::CartOrder { .. }), "{violation}");
}

#[test]
fn per_key_ordering_catches_a_runner_that_applies_redeliveries_twice() {
    let (violation, ..) = counterexample(&BrokenSystem::runner(RunnerBug::NoDuplicateTracking), check_per_key_ordering);
    assert!(matches!(violation, Violation::AppliedTwice { .. }), "{violation}");
}

#[test]
fn model_agreement_catches_a_projection_that_keeps_the_last_price() {
    let (violation, history, _) =
        counterexample(&BrokenSystem::projection(ProjectionBug::KeepsLastPrice), check_model_agreement);
    assert!(matches!(violation, Violation::ModelMismatch { .. }), "{violation}");
    assert_eq!(history.len(), 2, "the minimal case is two adds of one item at two prices: {history:?}");
}

#[test]
fn model_agreement_catches_a_projection_that_ignores_removals() {
    let (violation, history, _) =
        counterexample(&BrokenSystem::projection(ProjectionBug::IgnoresRemovals), check_model_agreement);
    assert!(matches!(violation, Violation::ModelMismatch { .. }), "{violation}");
    assert_eq!(history.len(), 2, "the minimal case is an add then its removal: {history:?}");
}

#[test]
fn model_agreement_catches_a_runner_that_commits_before_applying() {
    let (violation, _, schedule) =
        counterexample(&BrokenSystem::runner(RunnerBug::CommitsBeforeApplying), check_model_agreement);
    assert!(matches!(violation, Violation::ModelMismatch { .. }), "{violation}");
    assert!(schedule.phases.iter().any(|p| p.crash.is_some()), "only a crash exposes it: {schedule:?}");
}

#[test]
fn partition_order_independence_catches_a_projection_that_shares_prices_across_carts() {
    let (violation, history, _) = counterexample(
        &BrokenSystem::projection(ProjectionBug::SharesPricesAcrossCarts),
        check_partition_order_independence,
    );
    assert!(matches!(violation, Violation::PartitionOrder { .. }), "{violation}");
    let carts: std::collections::BTreeSet<&Option<String>> = history.iter().map(|r| &r.key).collect();
    assert!(carts.len() >= 2, "needs two carts in two partitions: {history:?}");
}

#[test]
fn late_group_catches_a_runner_that_drops_the_last_record_of_a_poll() {
    let (violation, _, schedule) = counterexample(&BrokenSystem::runner(RunnerBug::DropsLastRecord), check_late_group);
    assert!(matches!(violation, Violation::LateGroupMismatch { .. }), "{violation}");
    assert!(schedule.late_join.is_some());
}

#[test]
fn redelivery_catches_a_runner_that_applies_redeliveries_twice() {
    let (violation, _, schedule) =
        counterexample(&BrokenSystem::runner(RunnerBug::NoDuplicateTracking), check_redelivery);
    assert!(matches!(violation, Violation::Redelivery { .. }), "{violation}");
    assert!(schedule.phases.iter().any(|p| p.crash.is_some()));
}

#[test]
fn redelivery_catches_a_runner_that_commits_before_applying() {
    let (violation, ..) = counterexample(&BrokenSystem::runner(RunnerBug::CommitsBeforeApplying), check_redelivery);
    assert!(matches!(violation, Violation::Redelivery { .. }), "{violation}");
}

#[test]
fn the_unbroken_test_runner_passes_every_check() {
    // Guards the broken runner itself: without a bug it must be correct, so
    // the failures above come from the planted bugs alone.
    let checks: [Check; 7] = [
        check_split_equivalence,
        check_only_new_events,
        check_per_key_ordering,
        check_model_agreement,
        check_partition_order_independence,
        check_late_group,
        check_redelivery,
    ];
    let mut runner = TestRunner::new(Config { cases: 32, failure_persistence: None, ..Config::default() });
    runner
        .run(&case(), |case| {
            for check in checks {
                evaluate(&BrokenSystem::default(), check, &case).map_err(|v| TestCaseError::fail(v.to_string()))?;
            }
            Ok(())
        })
        .unwrap();
}
