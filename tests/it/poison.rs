//! Poison records: values that are not cart events (arbitrary text, control
//! characters, escaped lone surrogates, JSON nested thousands deep,
//! megabyte strings, numbers out of every range, duplicated fields) and
//! keys that are missing or not the event's cart.
//!
//! The policy (docs/guide.md, "Which records are rejected", under "Poison
//! records"): a poison record is skipped and reported (counted, with its
//! topic, partition, offset and reason; the durable runner stores it in the
//! view store's `rejected` table), and the rest of the stream is projected.
//! Nothing panics.

use crate::support::broken::{DecodeBug, PlantedCart};
use crate::support::{proptest_config, scratch_log};
use event_sourced_cart::cart::Cart;
use event_sourced_cart::cart::generate::case_with;
use event_sourced_cart::domain::{Domain, HistoryRecord};
use event_sourced_cart::record::Position;
use event_sourced_cart::verify::check::check_all;
use event_sourced_cart::verify::{Case, Durable, Schedule, execute};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};

/// Values that are almost, or not at all, cart events.
pub fn poison_value() -> impl Strategy<Value = String> {
    let deep = (100..3000usize, prop::bool::ANY).prop_map(|(depth, arrays)| {
        let (open, close) = if arrays { ("[", "]") } else { ("{\"a\":", "}") };
        let inner = format!("{}1{}", open.repeat(depth), close.repeat(depth));
        format!(r#"{{"type":"Checkout","cart_id":"c","x":{inner}}}"#)
    });
    let number = prop::sample::select(vec![
        "1e400",
        "-1e400",
        "-0.0",
        "-0",
        "1e-400",
        "9007199254740993",
        "18446744073709551616",
        "0.0000001",
        "1.005",
        "NaN",
        "Infinity",
        "0x10",
        "01",
        "1.",
        ".5",
        "+1",
    ]);
    let field_value = prop_oneof![
        number.prop_map(str::to_string),
        "[\\x00-\\x1f]{1,3}".prop_map(|c| format!("\"c{c}\"")),
        prop::sample::select(vec!["\"\\ud800\"", "\"\\udc00x\"", "\"\\ud83d\"", "\"\\u0000\"", "\"\\uZZZZ\""])
            .prop_map(str::to_string),
        Just("\"c\"".to_string()),
    ];
    let event = (0..3usize, field_value.clone(), field_value.clone(), field_value, prop::bool::ANY).prop_map(
        |(kind, cart, qty, price, twice)| {
            let kind = ["AddItem", "RemoveItem", "Checkout"][kind];
            let duplicate = if twice { r#","qty":1"# } else { "" };
            format!(r#"{{"type":"{kind}","cart_id":{cart},"item":"i","qty":{qty},"price":{price}{duplicate}}}"#)
        },
    );
    // Weights per 2,000 values: a megabyte string costs a megabyte parse,
    // a deep nest a few thousand bytes, so both stay a small share.
    prop_oneof![
        600 => any::<String>(),
        500 => prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        800 => event,
        60 => deep,
        39 => Just(r#"{"type":"AddItem","cart_id":"c","item":"i","qty":1,"price":1,"type":"Checkout"}"#.to_string()),
        1 => (0..2usize).prop_map(|_| format!(r#"{{"type":"Checkout","cart_id":"{}"}}"#, "x".repeat(1 << 20))),
    ]
}

/// Decodes `values` with `domain` (under key "c") and has its model judge
/// the same records: nothing panics, every rejection says why, and the two
/// decide every value alike.
fn decoded_as_the_model_decides<D: Domain>(domain: &D, values: &[String]) -> Result<(), TestCaseError> {
    let produced: Vec<_> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let record = HistoryRecord { key: Some("c".into()), value: v.clone() };
            (Position { partition: 0, offset: i as u64 }, record)
        })
        .collect();
    let model = domain.model(&produced);
    let rejected_by_model: std::collections::HashSet<u64> = model.rejected.iter().map(|p| p.offset).collect();
    for (i, value) in values.iter().enumerate() {
        let decoded = domain.decode(value);
        if let Err(reason) = &decoded {
            prop_assert!(!reason.to_string().is_empty());
        }
        // The key rule: an event of another cart than "c" is rejected by
        // the model under key "c"; the decoder alone accepts it.
        let accepted = decoded.as_ref().is_ok_and(|event| domain.key(event) == "c");
        prop_assert_eq!(
            accepted,
            !rejected_by_model.contains(&(i as u64)),
            "decoder and model disagree on {:.200}",
            value
        );
    }
    Ok(())
}

/// Values per batch: the model judges a batch at once.
const BATCH: usize = 1_000;

/// 100,000 poison values through the decoder and the model. The case count
/// is fixed (decoding is cheap; `PROPTEST_CASES` does not lower it).
#[test]
fn a_hundred_thousand_poison_values_decode_without_a_panic_and_as_the_model_decides() {
    const VALUES: u32 = 100_000;
    let config = proptest_config("proptest-regressions/poison.txt");
    let mut runner = TestRunner::new(Config { cases: VALUES / BATCH as u32, ..config });
    let batches = prop::collection::vec(poison_value(), BATCH);
    runner.run(&batches, |values| decoded_as_the_model_decides(&Cart, &values)).unwrap();
}

/// The same check, against the decoder with one rule relaxed (a field
/// named twice: its last copy wins), must fail.
#[test]
fn the_poison_check_catches_a_decoder_that_lets_duplicated_fields_through() {
    let planted = PlantedCart { decode: Some(DecodeBug::LastDuplicateWins), ..PlantedCart::default() };
    let config = Config { cases: 20, failure_persistence: None, rng_seed: RngSeed::Fixed(7), ..Config::default() };
    let mut runner = TestRunner::new(config);
    let batches = prop::collection::vec(poison_value(), BATCH);
    let error = runner.run(&batches, |values| decoded_as_the_model_decides(&planted, &values)).unwrap_err();
    assert!(error.to_string().contains("decoder and model disagree"), "{error}");
}

/// Poison mixed into generated valid histories, some with no key or
/// another cart's key: on the durable system every property holds (model
/// agreement includes rejecting exactly the poison), so the rest of the
/// stream is projected as if the poison were not there.
fn with_poison(cases: impl Strategy<Value = Case>) -> impl Strategy<Value = Case> {
    let key = prop_oneof![Just(None), Just(Some("c".to_string())), Just(Some("cart-0".to_string()))];
    (cases, prop::collection::vec(prop::option::weighted(0.3, (key, poison_value())), 30)).prop_map(|(case, poison)| {
        let mut history = Vec::with_capacity(case.history.len() * 2);
        for (record, poison) in case.history.into_iter().zip(poison.into_iter().chain(std::iter::repeat(None))) {
            history.push(record);
            if let Some((key, value)) = poison {
                history.push(HistoryRecord { key, value });
            }
        }
        Case { history, ..case }
    })
}

proptest! {
    #![proptest_config(Config { cases: 64, ..proptest_config("proptest-regressions/poison.txt") })]

    #[test]
    fn poison_in_a_valid_history_is_rejected_and_the_rest_projected(case in with_poison(case_with(30))) {
        let (dir, mut log) = scratch_log(case.schedule.partitions());
        let system = Durable { domain: Cart, store: dir.path().join("views.sqlite") };
        let execution = execute(&system, &case.history, &case.schedule, &mut log).expect("the run completes");
        let violations = check_all(&execution);
        prop_assert!(violations.is_empty(), "{}", violations[0]);
    }
}

#[test]
fn the_view_store_lists_every_poison_record_with_its_position_and_reason() {
    let valid = |cart: &str| HistoryRecord {
        key: Some(cart.into()),
        value: format!(r#"{{"type":"AddItem","cart_id":"{cart}","item":"w","qty":1,"price":1.5}}"#),
    };
    let poison = [
        HistoryRecord { key: Some("c".into()), value: "\u{0}not json".into() },
        HistoryRecord { key: None, value: valid("c").value },
        HistoryRecord { key: Some("other".into()), value: valid("c").value },
        HistoryRecord { key: Some("c".into()), value: format!("{}1{}", "[".repeat(5000), "]".repeat(5000)) },
        HistoryRecord { key: Some("c".into()), value: r#"{"type":"Checkout","cart_id":"\ud800"}"#.into() },
        HistoryRecord {
            key: Some("c".into()),
            value: r#"{"type":"AddItem","cart_id":"c","item":"w","qty":1,"price":1e400}"#.into(),
        },
    ];
    let mut history = vec![valid("c")];
    history.extend(poison.iter().cloned());
    history.push(valid("d"));
    let case = Case { schedule: Schedule::new(2, vec![], None).unwrap(), history };
    let (dir, mut log) = scratch_log(2);
    let store = dir.path().join("views.sqlite");
    let system = Durable { domain: Cart, store: store.clone() };
    let execution = execute(&system, &case.history, &case.schedule, &mut log).unwrap();
    assert_eq!(check_all(&execution), []);
    let connection = rusqlite::Connection::open(&store).unwrap();
    let mut statement = connection
        .prepare("SELECT partition, offset, reason FROM rejected WHERE projection = 'cart-state-full' ORDER BY 1, 2")
        .unwrap();
    let rows: Vec<(u32, i64, String)> =
        statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
    assert_eq!(rows.len(), poison.len(), "{rows:?}");
    let positions: Vec<(u32, i64)> = rows.iter().map(|(p, o, _)| (*p, *o)).collect();
    let mut expected: Vec<(u32, i64)> =
        execution.produced[1..=poison.len()].iter().map(|(p, _)| (p.partition, p.offset as i64)).collect();
    expected.sort_unstable();
    assert_eq!(positions, expected);
    for (_, _, reason) in &rows {
        assert!(!reason.is_empty() && !reason.contains('\u{0}'), "{reason}");
    }
    let applied: i64 = connection
        .query_row("SELECT applied FROM projections WHERE projection = 'cart-state-full'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(applied, 2, "both valid events are projected");
}
