//! The harness's eight properties over generated histories and schedules,
//! on real merkql logs, with the production runner in memory (the durable
//! runner across restarts is `durable::every_property_holds_in_memory_and_across_restarts`).
//!
//! Each case is executed once and that one execution feeds every property
//! check ([`Properties`]); a failing case is shrunk for the first property
//! it broke, reported under that property's name, its seed persisted in
//! `proptest-regressions/properties.txt` and the minimal case written as a
//! replay file (`cargo run -- replay target/failures/properties-<property>.jsonl`).
//!
//! `cargo test` checks [`DEFAULT_CASES`] cases of up to 300 records;
//! `PROPTEST_CASES` raises it, and CI's nightly soak runs the same
//! properties on tens of thousands more.
//!
//! [`DEFAULT_CASES`]: projection_harness::properties::DEFAULT_CASES

use event_sourced_cart::cart::Cart;
use event_sourced_cart::cart::generate::case;
use projection_harness::properties::Properties;

/// Split equivalence, only new events, per-key ordering, model agreement,
/// partition-order independence, late groups, redelivery and the history
/// checker, on every case.
#[test]
fn every_property_holds_in_memory() {
    Properties::new(Cart).regressions("proptest-regressions/properties.txt").in_memory_only().run(case());
}
