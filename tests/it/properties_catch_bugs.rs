//! Every property is seen failing: each runs against a deliberately broken
//! system (`crate::support::broken`: the production code with one step changed),
//! must find a counterexample, must report that specific violation, and
//! must shrink it to a handful of events.
//!
//! Failure files are seen replaying: for every kind of noise record, a bug
//! that only that kind exposes is found, its shrunk case is written as a
//! replay file, read back through the `replay` command's own steps and run
//! again with the same broken system: same violation, exit code 1.

use crate::support::broken::{DecodeBug, ProjectionBug, RunnerBug, decode_bug, no_bug, projection_bug, runner_bug};
use crate::support::{evaluate, scratch_log};
use event_sourced_cart::anomaly::Kind;
use event_sourced_cart::cart::Cart;
use event_sourced_cart::cart::event::DomainEvent;
use event_sourced_cart::cart::generate::{NEAR_CENT_PRICES, NoiseKind, case, case_with, case_with_noise};
use event_sourced_cart::domain::{Domain, HistoryRecord};
use event_sourced_cart::durable::DurableWithSteps;
use event_sourced_cart::verify::check::{
    self, Check, check_late_group, check_model_agreement, check_only_new_events, check_partition_order_independence,
    check_per_key_ordering, check_redelivery, check_split_equivalence,
};
use event_sourced_cart::verify::generate::with_faults;
use event_sourced_cart::verify::replay::{self, Exit};
use event_sourced_cart::verify::replay_file::render;
use event_sourced_cart::verify::{Case, Schedule, System, Violation};
use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};

/// Most events a shrunk counterexample may keep.
const SMALL: usize = 8;

/// Most phases a shrunk counterexample may keep.
const FEW_PHASES: usize = 3;

/// Longest generated history when searching for a planted bug: every bug
/// here shows on a few events, and short histories shrink fast.
const SEARCH_EVENTS: usize = 40;

/// The search's settings: a fixed seed, so that these tests are
/// deterministic; at least 256 cases and 4096 shrink steps whatever the
/// environment says (a search that ends early would wrongly report the
/// property as unproven); nothing persisted (these failures are expected).
fn search_config() -> Config {
    let settings = crate::support::settings();
    Config {
        cases: settings.proptest_cases.unwrap_or(256).max(256),
        max_shrink_iters: settings.proptest_max_shrink_iters.unwrap_or(4096).max(4096),
        rng_seed: RngSeed::Fixed(0x5eed_ca57),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Searches `cases` for one where `check` fails on `system`, and returns
/// the shrunk case with its violation. Fails the test if the property never
/// fails (it would be unproven). The violation is recorded when the case
/// fails rather than re-run afterwards, so that a system whose runs vary
/// still gives the violation that was found.
fn counterexample_in<S: System>(
    system: &S,
    check: Check<S::Domain>,
    cases: impl Strategy<Value = Case>,
) -> (Violation, Vec<HistoryRecord>, Schedule) {
    search(|case| evaluate(system, check, case), cases)
}

/// [`counterexample_in`] for any way of running a case.
fn search(
    run: impl Fn(&Case) -> Result<(), Violation>,
    cases: impl Strategy<Value = Case>,
) -> (Violation, Vec<HistoryRecord>, Schedule) {
    let last_failure = std::cell::RefCell::new(None);
    let mut runner = TestRunner::new(search_config());
    let result = runner.run(&cases, |case| {
        run(&case).map_err(|violation| {
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
            assert!(
                schedule.phases().len() <= FEW_PHASES,
                "shrunk to {} phases: {schedule:?}",
                schedule.phases().len()
            );
            (violation, history, schedule)
        }
        Err(TestError::Abort(reason)) => panic!("the search aborted: {reason}"),
        Ok(()) => panic!("the property never failed against the planted bug: it is unproven"),
    }
}

fn counterexample<S: System>(system: &S, check: Check<S::Domain>) -> (Violation, Vec<HistoryRecord>, Schedule) {
    counterexample_in(system, check, case_with(SEARCH_EVENTS))
}

/// A counterexample of `check` for the durable runner with `bug` planted,
/// each case on a fresh log and a fresh view store.
fn durable_counterexample(bug: RunnerBug, check: Check<Cart>) -> (Violation, Vec<HistoryRecord>, Schedule) {
    let run = |case: &Case| {
        let dir = event_sourced_cart::settings::scratch_dir().expect("a scratch directory");
        let system = DurableWithSteps { domain: Cart, store: dir.path().join("views.sqlite"), steps: bug.steps() };
        evaluate(&system, check, case)
    };
    search(run, case_with(SEARCH_EVENTS))
}

/// Every property at once: the first violation, if any.
fn any_property(execution: &event_sourced_cart::verify::Execution<Cart>) -> Result<(), Violation> {
    check::check_all(execution).into_iter().next().map_or(Ok(()), Err)
}

/// The planted runner bugs on the durable runner (the one `project`
/// ships): each is caught by one of the properties, shrunk to one record.
#[test]
fn every_planted_runner_bug_is_caught_on_the_durable_runner_too() {
    let caught = |bug: RunnerBug| {
        let (violation, history, _) = durable_counterexample(bug, any_property);
        assert_eq!(history.len(), 1, "{bug:?}: {violation}");
        violation
    };
    let anomaly = |violation: &Violation| match violation {
        Violation::Anomaly(anomaly) => Some(anomaly.kind),
        _ => None,
    };
    // It commits before applying, so the next poll starts past what the
    // store applied: the durable runner stops rather than skip them.
    let v = caught(RunnerBug::CommitsBeforeApplying);
    assert_eq!(anomaly(&v), Some(Kind::SkippedApply), "{v}");
    let v = caught(RunnerBug::DropsLastRecord);
    assert_eq!(anomaly(&v), Some(Kind::SkippedApply), "{v}");
    let v = caught(RunnerBug::NoDuplicateTracking);
    assert_eq!(anomaly(&v), Some(Kind::DuplicateApply), "{v}");
    let v = caught(RunnerBug::ForgetsCommits);
    assert!(matches!(v, Violation::NotOnlyNew { .. }), "{v}");
}

#[test]
fn split_equivalence_catches_a_runner_that_drops_the_last_record_of_a_poll() {
    let (violation, ..) = counterexample(&runner_bug(RunnerBug::DropsLastRecord), check_split_equivalence);
    assert!(matches!(violation, Violation::SplitMismatch { .. }), "{violation}");
}

#[test]
fn only_new_events_catches_a_runner_that_forgets_its_commits() {
    let (violation, ..) = counterexample(&runner_bug(RunnerBug::ForgetsCommits), check_only_new_events);
    assert!(matches!(violation, Violation::NotOnlyNew { .. }), "{violation}");
}

#[test]
fn per_key_ordering_catches_a_runner_that_drops_the_last_record_of_a_poll() {
    let (violation, ..) = counterexample(&runner_bug(RunnerBug::DropsLastRecord), check_per_key_ordering);
    assert!(matches!(violation, Violation::KeyOrder { .. }), "{violation}");
}

#[test]
fn per_key_ordering_catches_a_runner_that_applies_redeliveries_twice() {
    let (violation, ..) = counterexample(&runner_bug(RunnerBug::NoDuplicateTracking), check_per_key_ordering);
    assert!(matches!(violation, Violation::AppliedTwice { .. }), "{violation}");
}

#[test]
fn model_agreement_catches_a_projection_that_keeps_the_last_price() {
    let (violation, history, _) = counterexample(&projection_bug(ProjectionBug::KeepsLastPrice), check_model_agreement);
    assert!(matches!(violation, Violation::ModelMismatch { .. }), "{violation}");
    assert_eq!(history.len(), 2, "the minimal case is two adds of one item at two prices: {history:?}");
}

#[test]
fn model_agreement_catches_a_projection_that_ignores_removals() {
    let (violation, history, _) =
        counterexample(&projection_bug(ProjectionBug::IgnoresRemovals), check_model_agreement);
    assert!(matches!(violation, Violation::ModelMismatch { .. }), "{violation}");
    assert_eq!(history.len(), 2, "the minimal case is an add then its removal: {history:?}");
}

#[test]
fn model_agreement_catches_a_projection_that_confuses_near_identical_names() {
    let (violation, history, _) =
        counterexample(&projection_bug(ProjectionBug::ConfusesNearNames), check_model_agreement);
    assert!(matches!(violation, Violation::ModelMismatch { .. }), "{violation}");
    // The bug changes nothing for a name alone: the generator must have put
    // two spellings of one name in one cart.
    let items: std::collections::BTreeSet<String> = history
        .iter()
        .filter_map(|r| match Cart.decode(&r.value) {
            Ok(DomainEvent::AddItem { item, .. } | DomainEvent::RemoveItem { item, .. }) => Some(item),
            _ => None,
        })
        .collect();
    let folded: std::collections::BTreeSet<String> = items.iter().map(|i| i.trim().to_lowercase()).collect();
    assert!(folded.len() < items.len(), "two near-identical names: {history:?}");
    assert_eq!(history.len(), 2, "the minimal case is two adds of near-identical names: {history:?}");
}

#[test]
fn model_agreement_catches_a_runner_that_commits_before_applying() {
    let (violation, _, schedule) = counterexample(&runner_bug(RunnerBug::CommitsBeforeApplying), check_model_agreement);
    assert!(matches!(violation, Violation::ModelMismatch { .. }), "{violation}");
    assert!(schedule.phases().iter().any(|p| p.crash.is_some()), "only a crash exposes it: {schedule:?}");
}

#[test]
fn partition_order_independence_catches_a_projection_that_shares_prices_across_carts() {
    let (violation, history, _) =
        counterexample(&projection_bug(ProjectionBug::SharesPricesAcrossCarts), check_partition_order_independence);
    assert!(matches!(violation, Violation::PartitionOrder { .. }), "{violation}");
    let carts: std::collections::BTreeSet<&Option<String>> = history.iter().map(|r| &r.key).collect();
    assert!(carts.len() >= 2, "needs two carts in two partitions: {history:?}");
}

#[test]
fn late_group_catches_a_runner_that_drops_the_last_record_of_a_poll() {
    let (violation, _, schedule) = counterexample(&runner_bug(RunnerBug::DropsLastRecord), check_late_group);
    assert!(matches!(violation, Violation::LateGroupMismatch { .. }), "{violation}");
    assert!(schedule.late_join().is_some());
}

#[test]
fn redelivery_catches_a_runner_that_applies_redeliveries_twice() {
    let (violation, _, schedule) = counterexample(&runner_bug(RunnerBug::NoDuplicateTracking), check_redelivery);
    assert!(matches!(violation, Violation::Redelivery { .. }), "{violation}");
    assert!(schedule.phases().iter().any(|p| p.crash.is_some()));
}

#[test]
fn redelivery_catches_a_runner_that_commits_before_applying() {
    let (violation, ..) = counterexample(&runner_bug(RunnerBug::CommitsBeforeApplying), check_redelivery);
    assert!(matches!(violation, Violation::Redelivery { .. }), "{violation}");
}

#[test]
fn history_catches_a_runner_that_applies_redeliveries_twice() {
    let (violation, ..) = counterexample(&runner_bug(RunnerBug::NoDuplicateTracking), check::check_history);
    assert!(matches!(&violation, Violation::Anomaly(a) if a.kind == Kind::DuplicateApply), "{violation}");
}

#[test]
fn history_catches_a_runner_that_drops_the_last_record_of_a_poll() {
    let (violation, ..) = counterexample(&runner_bug(RunnerBug::DropsLastRecord), check::check_history);
    assert!(matches!(&violation, Violation::Anomaly(a) if a.kind == Kind::SkippedApply), "{violation}");
}

#[test]
fn no_silent_divergence_catches_a_runner_that_trusts_the_log_under_faults() {
    // A crashed poll or a lost offsets.bin, whichever shrinks smaller:
    // both redeliver, and the runner applies again.
    let (violation, ..) = counterexample_in(
        &runner_bug(RunnerBug::NoDuplicateTracking),
        check::check_no_silent_divergence,
        with_faults(case_with(SEARCH_EVENTS)),
    );
    assert!(matches!(violation, Violation::SilentDivergence { .. }), "{violation}");
}

#[test]
fn runner_anomalies_catches_a_runner_that_trusts_the_log_under_faults() {
    let (violation, ..) = counterexample_in(
        &runner_bug(RunnerBug::NoDuplicateTracking),
        check::check_runner_anomalies,
        with_faults(case_with(SEARCH_EVENTS)),
    );
    assert!(matches!(&violation, Violation::Anomaly(a) if a.kind == Kind::DuplicateApply), "{violation}");
}

#[test]
fn runner_anomalies_catches_a_runner_that_drops_the_last_record_of_a_poll_under_faults() {
    let (violation, ..) = counterexample_in(
        &runner_bug(RunnerBug::DropsLastRecord),
        check::check_runner_anomalies,
        with_faults(case_with(SEARCH_EVENTS)),
    );
    assert!(matches!(&violation, Violation::Anomaly(a) if a.kind == Kind::SkippedApply), "{violation}");
}

#[test]
fn the_planted_bug_machinery_without_a_bug_passes_every_check() {
    // Guards the broken systems themselves: without a bug they must be
    // correct, so the failures above come from the planted bugs alone.
    let mut runner = TestRunner::new(Config { cases: 32, failure_persistence: None, ..Config::default() });
    runner
        .run(&case(), |case| {
            for (_, check) in check::all() {
                evaluate(&no_bug(), check, &case).map_err(|v| TestCaseError::fail(v.to_string()))?;
            }
            Ok(())
        })
        .unwrap();
}

/// Whether `record` is of noise kind `kind`, judged from its bytes.
fn is_noise_of_kind(kind: NoiseKind, record: &HistoryRecord) -> bool {
    let value = &record.value;
    let valid_under_own_key = Cart.decode(value).is_ok_and(|event| record.key.as_deref() == Some(Cart.key(&event)));
    !valid_under_own_key
        && match kind {
            NoiseKind::TruncatedJson => value.starts_with('{') && !value.ends_with('}'),
            NoiseKind::UnknownType => value.contains("\"type\":\"checkout\""),
            NoiseKind::ZeroQuantity => value.contains("\"qty\":0,"),
            NoiseKind::FractionalCents => value.contains("\"price\":1.005"),
            NoiseKind::NegativePrice => value.contains("\"price\":-"),
            NoiseKind::WrongKey => record.key.as_deref().is_some_and(|k| k.ends_with("-other")),
            NoiseKind::NoKey => record.key.is_none(),
            NoiseKind::EmptyCartId => value.contains("\"cart_id\":\"\""),
            NoiseKind::DuplicateField => value.matches("\"cart_id\"").count() == 2,
            NoiseKind::NotJson => !value.starts_with('{'),
            NoiseKind::NearCentPrice => NEAR_CENT_PRICES.iter().any(|p| value.ends_with(&format!("\"price\":{p}}}"))),
        }
}

/// One noise kind: the bug it exposes is found, the shrunk case holds a
/// record of that kind, and its replay file, read back by the `replay`
/// command's own steps, gives the same violation and exit code 1, while
/// the real system replays it cleanly (it rejects the record).
fn failure_file_of_noise_replays_with_the_same_violation(kind: NoiseKind) {
    let system = decode_bug(DecodeBug::for_noise(kind));
    // Every decoding bug applies, or silently skips, a record the model
    // rejects: model agreement sees it.
    let check: Check<_> = check_model_agreement;
    let (violation, history, schedule) = counterexample_in(&system, check, case_with_noise(12, 24));
    assert!(history.iter().any(|r| is_noise_of_kind(kind, r)), "{kind:?}: shrunk case lacks it: {history:?}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{kind:?}.jsonl"));
    std::fs::write(&path, render(&history, &schedule)).unwrap();
    let file = replay::load(system.domain(), &path).unwrap();
    assert_eq!((&file.history, file.schedule.as_ref()), (&history, Some(&schedule)), "{kind:?}: exact round trip");
    let schedule = replay::schedule_for(&file, None, &[]).unwrap();
    let (_dir, mut log) = scratch_log(schedule.partitions());
    let verdict = replay::run(&system, &file, &schedule, &mut log).unwrap();
    assert_eq!(verdict.exit(), Exit::Violations, "{kind:?}");
    assert_eq!(verdict.exit().code(), 1);
    assert_eq!(check(&verdict.execution), Err(violation.clone()), "{kind:?}: model agreement again");
    assert!(verdict.violations.contains(&violation), "{kind:?}");

    let (_dir, mut log) = scratch_log(schedule.partitions());
    let production = replay::run(&event_sourced_cart::verify::Production(Cart), &file, &schedule, &mut log).unwrap();
    assert_eq!(production.exit(), Exit::Agree, "{kind:?}: the real system rejects it: {:?}", production.violations);
}

/// A test per noise kind.
macro_rules! noise_replay_tests {
    ($($name:ident: $kind:expr,)*) => {
        $(
            #[test]
            fn $name() {
                failure_file_of_noise_replays_with_the_same_violation($kind);
            }
        )*
        #[test]
        fn every_noise_kind_has_its_replay_test() {
            assert_eq!([$($kind),*], NoiseKind::ALL);
        }
    };
}

noise_replay_tests! {
    failure_file_with_truncated_json_replays: NoiseKind::TruncatedJson,
    failure_file_with_an_unknown_type_replays: NoiseKind::UnknownType,
    failure_file_with_a_zero_quantity_replays: NoiseKind::ZeroQuantity,
    failure_file_with_fractional_cents_replays: NoiseKind::FractionalCents,
    failure_file_with_a_negative_price_replays: NoiseKind::NegativePrice,
    failure_file_with_a_wrong_key_replays: NoiseKind::WrongKey,
    failure_file_with_no_key_replays: NoiseKind::NoKey,
    failure_file_with_an_empty_cart_id_replays: NoiseKind::EmptyCartId,
    failure_file_with_a_duplicated_field_replays: NoiseKind::DuplicateField,
    failure_file_with_a_non_json_value_replays: NoiseKind::NotJson,
    failure_file_with_a_near_cent_price_replays: NoiseKind::NearCentPrice,
}

/// The naive runner (view in memory, resuming from merkql's committed
/// offsets) fails split equivalence as soon as the process restarts: the
/// restarted runner starts empty where its group committed. The durable
/// runner passes the same property (`tests/it/durable.rs`).
#[test]
fn split_equivalence_catches_the_in_memory_runner_across_a_restart() {
    let cases = event_sourced_cart::verify::generate::with_restarts(case_with(SEARCH_EVENTS));
    let naive = event_sourced_cart::verify::Production(Cart);
    let (violation, _, schedule) = counterexample_in(&naive, check_split_equivalence, cases);
    assert!(schedule.phases().iter().any(|p| p.restart), "{schedule:?}");
    assert!(matches!(violation, Violation::SplitMismatch { .. }), "{violation}");
}
