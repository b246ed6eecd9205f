//! No input forges a line of `replay`'s text report. Histories whose cart
//! ids, item names, record keys, `type` values and raw values are hostile
//! text (newlines, CR, ESC sequences, C1 controls, bidirectional overrides,
//! line separators, quotes, backslashes, look-alike report lines) give a
//! report that:
//! - holds no raw unsafe character and no planted line;
//! - has exactly the lines of the same history with every hostile name
//!   renamed to a plain one (the same carts, items and rejections, so the
//!   same report structure): a name that broke out of its line would add
//!   lines.
//!
//! A failing case is written as a replay file, as every property's is.

use crate::support::{proptest_config, scratch_log};
use event_sourced_cart::cart::Cart;
use event_sourced_cart::cart::event::{DomainEvent, encode};
use event_sourced_cart::cart::money::Cents;
use event_sourced_cart::cart::report::view_text;
use event_sourced_cart::cli::replay_report::text_report;
use event_sourced_cart::domain::HistoryRecord;
use event_sourced_cart::verify::replay::{self, Exit};
use event_sourced_cart::verify::replay_file::{ReplayFile, write_failure};
use event_sourced_cart::verify::{Production, Schedule};
use proptest::prelude::*;

/// Pieces of hostile text; "FORGED" marks what a broken-out line would start with.
const PIECES: &[&str] = &[
    "VIOLATION",
    "Total revenue",
    "Full replay and split replay agree; every property holds.",
    "line 1",
    "\u{061c}",
    "\n",
    "\r",
    "\r\n",
    "\u{1b}[2J",
    "\u{1b}]0;title\u{7}",
    "\u{9b}31m",
    "\u{7f}",
    "\u{0}",
    "\t",
    "\u{202e}",
    "\u{2066}",
    "\u{200f}",
    "\u{2028}",
    "\u{2029}",
    "\"",
    "\\",
    "\\n",
    "VIOLATION: x",
    "Total revenue: $1.00",
    "cart-1: 1 items, total $1.00",
    " ",
    "ñ",
    "カート",
    "\u{200b}",
    "a",
];

fn hostile_text() -> impl Strategy<Value = String> {
    (prop::collection::vec(prop::sample::select(PIECES), 0..6), any::<bool>()).prop_map(|(pieces, forge)| {
        let text = pieces.concat();
        if forge { format!("{text}\nFORGED") } else { text }
    })
}

/// One record of a history, by index into the name pools.
#[derive(Clone, Debug)]
enum Op {
    Add {
        cart: usize,
        item: usize,
        qty: u32,
        cents: u128,
    },
    Remove {
        cart: usize,
        item: usize,
    },
    Checkout {
        cart: usize,
    },
    /// A `type` no event has, holding hostile text.
    UnknownType {
        cart: usize,
        kind: String,
    },
    /// A value that is not JSON at all.
    RawText {
        cart: usize,
        text: String,
    },
    /// A valid checkout under a hostile key.
    HostileKey {
        cart: usize,
        key: String,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 0..3usize, 1..4u32, 0..1000u128).prop_map(|(cart, item, qty, cents)| Op::Add { cart, item, qty, cents }),
        1 => (0..3usize, 0..3usize).prop_map(|(cart, item)| Op::Remove { cart, item }),
        2 => (0..3usize).prop_map(|cart| Op::Checkout { cart }),
        1 => (0..3usize, hostile_text()).prop_map(|(cart, kind)| Op::UnknownType { cart, kind }),
        1 => (0..3usize, hostile_text()).prop_map(|(cart, text)| Op::RawText { cart, text }),
        1 => (0..3usize, hostile_text()).prop_map(|(cart, key)| Op::HostileKey { cart, key }),
    ]
}

/// Three distinct, non-empty hostile names.
fn names() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(hostile_text(), 3)
        .prop_map(|names| names.into_iter().enumerate().map(|(i, name)| format!("{name}#{i}")).collect())
}

fn record(op: &Op, carts: &[String], items: &[String]) -> HistoryRecord {
    let event = |event: DomainEvent| encode(&event);
    match op.clone() {
        Op::Add { cart, item, qty, cents } => event(DomainEvent::AddItem {
            cart_id: carts[cart].clone(),
            item: items[item].clone(),
            qty,
            unit_price: Cents(cents),
        }),
        Op::Remove { cart, item } => {
            event(DomainEvent::RemoveItem { cart_id: carts[cart].clone(), item: items[item].clone() })
        }
        Op::Checkout { cart } => event(DomainEvent::Checkout { cart_id: carts[cart].clone() }),
        Op::UnknownType { cart, kind } => HistoryRecord {
            key: Some(carts[cart].clone()),
            value: serde_json::json!({ "type": kind, "cart_id": carts[cart] }).to_string(),
        },
        Op::RawText { cart, text } => HistoryRecord { key: Some(carts[cart].clone()), value: text },
        Op::HostileKey { cart, key } => HistoryRecord {
            key: Some(key),
            value: encode(&DomainEvent::Checkout { cart_id: carts[cart].clone() }).value,
        },
    }
}

/// The text report of `history` replayed split at `split`.
fn report(history: Vec<HistoryRecord>, schedule: &Schedule) -> (String, Exit) {
    let lines = (1..=history.len()).collect();
    let file = ReplayFile { history, lines, schedule: None };
    let (_dir, mut log) = scratch_log(schedule.partitions());
    let verdict = replay::run(&Production(Cart), &file, schedule, &mut log).expect("the log works");
    (text_report(&file, schedule, &verdict, view_text), verdict.exit())
}

/// What makes a report line unsafe: a character that could end the line,
/// move the cursor or reorder the text (independent of `text.rs`).
fn unsafe_char(line: &str) -> Option<char> {
    line.chars().find(|&c| {
        (c.is_control() && c != '\t')
            || matches!(
                c,
                '\u{061c}' | '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
            )
    })
}

fn no_forged_lines(history: &[HistoryRecord], schedule: &Schedule, text: &str, plain: &str) -> Result<(), String> {
    let fail = |why: String| {
        let saved = write_failure("hostile_text", history, schedule).map_or_else(
            |e| format!("could not write the replay file: {e}"),
            |p| format!("case written to {}", p.display()),
        );
        Err(format!("{why}\n{saved}\n--- report:\n{text}"))
    };
    if let Some((n, c)) = text.lines().enumerate().find_map(|(n, line)| unsafe_char(line).map(|c| (n + 1, c))) {
        return fail(format!("report line {n} holds a raw {c:?}"));
    }
    if let Some(line) = text.lines().find(|l| l.starts_with("FORGED") || l.starts_with("VIOLATION")) {
        return fail(format!("a planted line: {line:?}"));
    }
    if text.lines().count() != plain.lines().count() {
        return fail(format!(
            "{} lines, but {} with plain names:\n{plain}",
            text.lines().count(),
            plain.lines().count()
        ));
    }
    Ok(())
}

proptest! {
    #![proptest_config(proptest_config("proptest-regressions/hostile_text.txt"))]

    #[test]
    fn hostile_text_in_any_field_forges_no_report_line(
        carts in names(),
        items in names(),
        ops in prop::collection::vec(op(), 1..16),
        partitions in 1..4u32,
    ) {
        let plain = |prefix: &str| (0..3).map(|i| format!("{prefix}-{i}")).collect::<Vec<_>>();
        let history: Vec<HistoryRecord> = ops.iter().map(|op| record(op, &carts, &items)).collect();
        let renamed: Vec<HistoryRecord> = ops.iter().map(|op| record(op, &plain("cart"), &plain("item"))).collect();
        let schedule = Schedule::split_at(partitions, &[history.len() / 2], history.len()).expect("a valid schedule");
        let (text, exit) = report(history.clone(), &schedule);
        let (plain_text, _) = report(renamed, &schedule);
        prop_assert_eq!(exit, Exit::Agree, "{}", text);
        no_forged_lines(&history, &schedule, &text, &plain_text).map_err(TestCaseError::fail)?;
    }
}

#[test]
fn violations_are_reported_one_line_each_and_escaped() {
    use event_sourced_cart::record::Position;
    use event_sourced_cart::verify::Violation;
    let history = vec![encode(&DomainEvent::Checkout { cart_id: "c".into() })];
    let file = ReplayFile { history, lines: vec![1], schedule: None };
    let schedule = Schedule::new(1, vec![], None).unwrap();
    let (_dir, mut log) = scratch_log(1);
    let mut verdict = replay::run(&Production(Cart), &file, &schedule, &mut log).expect("the log works");
    let position = Position { partition: 0, offset: 0 };
    verdict.violations.push(Violation::AppliedTwice { group: "g".into(), position, count: 2 });
    verdict.violations.push(Violation::AppliedTwice { group: "h\u{1b}[2J".into(), position, count: 3 });
    let text = text_report(&file, &schedule, &verdict, view_text);
    let violations: Vec<&str> = text.lines().filter(|l| l.starts_with("VIOLATION: ")).collect();
    assert_eq!(
        violations,
        [
            "VIOLATION: per-key ordering: group g applied the record at p0@0 2 times",
            "VIOLATION: \"per-key ordering: group h\\u{1b}[2J applied the record at p0@0 3 times\"",
        ],
        "{text}"
    );
}
