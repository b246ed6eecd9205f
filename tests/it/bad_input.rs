//! An event log may hold anything: malformed or unknown records never panic
//! and are never silently dropped; they are counted with their positions.

use crate::support::scratch_log;
use event_sourced_cart::cart::Cart;
use event_sourced_cart::cart::event::DecodeError;
use event_sourced_cart::cart::projection::{CartState, Revenue, RevenueView};
use event_sourced_cart::domain::{RecordError, register};
use event_sourced_cart::log::Log;
use event_sourced_cart::runner::{CrashPoint, GroupRunner, PhaseOptions, Runner};
use proptest::prelude::*;

#[test]
fn malformed_records_are_rejected_with_their_positions_and_the_rest_applies() {
    let (_dir, log) = scratch_log(1);
    let records: [(Option<&str>, &str); 7] = [
        (Some("c"), r#"{"type":"AddItem","cart_id":"c","item":"ok","qty":1,"price":2.5}"#),
        (Some("c"), "not json"),
        (Some("c"), r#"{"type":"Refund","cart_id":"c"}"#),
        (Some("c"), r#"{"type":"AddItem","cart_id":"c","item":"x","qty":1,"price":-1}"#),
        (Some("other"), r#"{"type":"Checkout","cart_id":"c"}"#),
        (None, r#"{"type":"Checkout","cart_id":"c"}"#),
        (Some("c"), r#"{"type":"Checkout","cart_id":"c","note":"extra fields are fine"}"#),
    ];
    for (key, value) in records {
        log.append(key, value).unwrap();
    }
    let mut runner = Runner::new(Cart, register(Revenue::new()));
    let report = runner.catch_up(&log).unwrap();
    assert_eq!(report.applied.len(), 2);
    let offsets: Vec<u64> = runner.rejected().iter().map(|r| r.offset).collect();
    assert_eq!(offsets, [1, 2, 3, 4, 5]);
    assert!(matches!(runner.rejected()[0].error, RecordError::Invalid(DecodeError::NotJson(_))));
    assert!(matches!(runner.rejected()[1].error, RecordError::Invalid(DecodeError::NotAnEvent(_))));
    assert!(matches!(runner.rejected()[3].error, RecordError::WrongKey { .. }));
    let view = runner.view();
    assert_eq!(view.downcast_ref::<RevenueView>().expect("a revenue view").total_cents.0, 250);
}

#[test]
fn a_redelivered_rejected_record_is_counted_once() {
    let (_dir, log) = scratch_log(1);
    log.append(Some("c"), "garbage").unwrap();
    let mut runner = Runner::new(Cart, register(CartState::new()));
    let crash = PhaseOptions { crash: Some(CrashPoint::BeforeCommit), ..Default::default() };
    runner.phase(&log, crash).unwrap();
    runner.catch_up(&log).unwrap();
    assert_eq!(runner.rejected().len(), 1);
}

proptest! {
    #![proptest_config(crate::support::proptest_config("proptest-regressions/bad_input.txt"))]

    /// Whatever the values and keys, every record is applied or rejected,
    /// exactly once, and nothing panics.
    #[test]
    fn any_record_is_applied_or_rejected(
        values in prop::collection::vec(
            prop_oneof![
                any::<String>(),
                "\\{\"type\":\"(AddItem|RemoveItem|Checkout)\",\"cart_id\":\"c\",\"item\":\".{0,3}\",\"qty\":-?[0-9]{1,11},\"price\":-?[0-9]{1,7}(\\.[0-9]{0,4})?(e[0-9]{1,3})?\\}",
            ],
            0..12,
        ),
    ) {
        let (_dir, log) = scratch_log(2);
        for value in &values {
            log.append(Some("c"), value).unwrap();
        }
        let mut runner = Runner::new(Cart, register(CartState::new()));
        let report = runner.catch_up(&log).unwrap();
        prop_assert_eq!(report.applied.len() + runner.rejected().len(), values.len());
        prop_assert_eq!(report.delivered.len(), values.len());
    }
}
