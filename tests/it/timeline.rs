//! Timeline pages of the cart's planted-bug failures: the page opens on a
//! violation lit in the partition lanes and in the group lanes; the
//! views a violation names are shown side by side with every differing
//! line marked; and no input text becomes markup.
//!
//! Each page is also written under `target/tmp/timeline-pages/`, where
//! `.ci/run` opens them in a real browser (`.ci/browser/check_pages.py`).

use crate::support::broken::{ProjectionBug, RunnerBug, projection_bug, runner_bug};
use crate::support::run;
use event_sourced_cart::cart::event::{DomainEvent, encode};
use event_sourced_cart::cart::money::Cents;
use event_sourced_cart::domain::HistoryRecord;
use event_sourced_cart::timeline::Timeline;
use event_sourced_cart::verify::check::{Violation, check_all};
use event_sourced_cart::verify::{Case, Schedule, System};
use proptest::prelude::*;

fn add(cart: &str, item: &str, qty: u32, cents: u128) -> HistoryRecord {
    encode(&DomainEvent::AddItem { cart_id: cart.into(), item: item.into(), qty, unit_price: Cents(cents) })
}

fn remove(cart: &str, item: &str) -> HistoryRecord {
    encode(&DomainEvent::RemoveItem { cart_id: cart.into(), item: item.into() })
}

/// Runs `history` in phases of `split_at` over `partitions` partitions,
/// checks every property and renders the page; the page is also written
/// for the browser check, as `<name>.html`.
fn page<S: System>(
    name: &str,
    system: &S,
    history: Vec<HistoryRecord>,
    partitions: u32,
    split_at: &[usize],
) -> (String, Vec<Violation>) {
    let schedule = Schedule::split_at(partitions, split_at, history.len()).expect("a valid schedule");
    let case = Case { history, schedule };
    let execution = run(system, &case);
    let violations = check_all(&execution);
    let html = Timeline::new(&execution, &case.schedule, &violations)
        .title(name)
        .replay_command(&format!("cargo run -- replay {name}.jsonl"))
        .html();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("timeline-pages");
    std::fs::create_dir_all(&dir).expect("a page directory");
    std::fs::write(dir.join(format!("{name}.html")), &html).expect("the page is written");
    (html, violations)
}

/// The rows of the timeline whose class is `class`.
fn rows<'a>(html: &'a str, class: &str) -> Vec<&'a str> {
    let marker = format!("<tr class=\"{class}\">");
    html.split(marker.as_str()).skip(1).map(|row| &row[..row.find("</tr>").expect("rows end")]).collect()
}

/// The cart's planted runner bug, on its page: the page opens on the
/// first violation, lit in a partition lane and in a group lane. (Which
/// records exactly, lane by lane, is the harness's own test:
/// `projection_harness::timeline`'s.)
#[test]
fn a_planted_runner_bug_opens_its_page_lit_in_both_kinds_of_lane() {
    let history: Vec<HistoryRecord> = (0..12)
        .map(|i| add(&format!("cart-{}", i % 4), &format!("item-{i}"), 1 + i % 3, 100 + u128::from(i)))
        .collect();
    let (html, violations) =
        page("planted-drops-last-record", &runner_bug(RunnerBug::DropsLastRecord), history, 3, &[5]);
    assert!(!violations[0].positions().is_empty(), "the first violation names records: {violations:?}");
    assert!(html.contains("id=\"focus-0\" checked"), "the page opens on it");
    let lit = |row: &&str| row.contains("data-f=\" 0 ");
    assert!(rows(&html, "partition").iter().any(lit), "its records are lit in a partition lane");
    assert!(rows(&html, "group").iter().any(lit), "and in a group lane");
}

#[test]
fn a_view_violation_shows_both_views_with_every_differing_line_marked() {
    let history =
        vec![add("c1", "apple", 1, 100), add("c2", "pear", 2, 250), remove("c1", "apple"), add("c1", "fig", 1, 50)];
    let (html, violations) =
        page("planted-ignores-removals", &projection_bug(ProjectionBug::IgnoresRemovals), history, 2, &[2]);
    let diff = violations
        .iter()
        .find_map(|v| match v {
            Violation::ModelMismatch { diff, .. } => Some(diff.clone()),
            _ => None,
        })
        .expect("the dropped removal is a model mismatch");
    let cells = |class: &str| -> Vec<String> {
        html.split(&format!("<td class=\"{class}\">"))
            .skip(1)
            .map(|cell| cell[..cell.find("</td>").unwrap()].replace("&quot;", "\""))
            .collect()
    };
    let (removed, added) = (cells("del"), cells("ins"));
    let changed = |sign: char| {
        diff.lines().filter(move |l| l.starts_with(sign) && !l.starts_with("---") && !l.starts_with("+++"))
    };
    for line in changed('-') {
        assert!(removed.iter().any(|cell| cell == &line[1..]), "{line:?} is marked on the model's side");
    }
    for line in changed('+') {
        assert!(added.iter().any(|cell| cell == &line[1..]), "{line:?} is marked on the group's side");
    }
    assert!(changed('-').count() + changed('+').count() > 0, "the diff has changed lines: {diff}");
    assert!(html.contains("<details class=\"pair\" open>"), "a violation's views are shown open");
}

/// Every `<` of the page opens one of its own elements: no input text
/// became markup.
fn only_own_markup(html: &str) -> Result<(), String> {
    const OWN: &[&str] = &[
        "!DOCTYPE", "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p", "code",
        "section", "ol", "li", "input", "label", "span", "b", "pre", "div", "table", "thead", "tbody", "tr", "th",
        "td", "i", "details", "summary",
    ];
    for tag in html.split('<').skip(1) {
        let name: String =
            tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '!').collect();
        if !OWN.contains(&name.as_str()) {
            return Err(format!("markup not the page's own: <{}", tag.chars().take(40).collect::<String>()));
        }
    }
    Ok(())
}

const HOSTILE: &[&str] = &[
    "<script>window.__pwned=1</script>",
    "<img src=x onerror=\"window.__pwned=1\">",
    "\"><b>",
    "'",
    "&amp;",
    "</td></tr>",
    "<!--",
    "\u{202e}",
    "\n",
    "\u{1b}[2J",
];

#[test]
fn hostile_keys_and_items_show_as_text() {
    let key = HOSTILE[0];
    let item = HOSTILE[1];
    let history =
        vec![add(key, item, 1, 100), add("c2", "pear", 1, 250), remove(key, item), add(key, "</td></tr>", 2, 5)];
    let (html, violations) = page("hostile-text", &runner_bug(RunnerBug::DropsLastRecord), history, 2, &[2]);
    assert!(!violations.is_empty(), "the planted bug is caught");
    only_own_markup(&html).unwrap();
    assert!(html.contains("&lt;script&gt;window.__pwned=1&lt;/script&gt;"), "the key shows as text");
    assert!(html.contains("<i>&lt;script&gt;window.__pwned=1&lt;/script&gt;</i>"), "the key shows as text in its lane");
    assert!(html.contains("item=&lt;img src=x onerror=&quot;window.__pwned="), "the item shows as text in its lane");
}

fn hostile_name() -> impl Strategy<Value = String> {
    (prop::collection::vec(prop::sample::select(HOSTILE), 1..4), 0..100u32)
        .prop_map(|(pieces, n)| format!("{}{n}", pieces.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever the keys, items and raw values hold, the page's markup is
    /// its own.
    #[test]
    fn no_input_becomes_markup(carts in prop::collection::vec(hostile_name(), 2), items in prop::collection::vec(hostile_name(), 2), raw in hostile_name()) {
        let history = vec![
            add(&carts[0], &items[0], 1, 100),
            add(&carts[1], &items[1], 2, 250),
            remove(&carts[0], &items[0]),
            HistoryRecord { key: Some(carts[1].clone()), value: raw },
            HistoryRecord { key: Some(raw_key(&carts)), value: encode(&DomainEvent::Checkout { cart_id: carts[0].clone() }).value },
        ];
        let system = projection_bug(ProjectionBug::IgnoresRemovals);
        let schedule = Schedule::split_at(2, &[2], history.len()).unwrap();
        let case = Case { history, schedule };
        let execution = run(&system, &case);
        let violations = check_all(&execution);
        let html = Timeline::new(&execution, &case.schedule, &violations).title(&carts[0]).replay_command(&items[0]).html();
        prop_assert!(only_own_markup(&html).is_ok(), "{}", only_own_markup(&html).unwrap_err());
        prop_assert!(!html.chars().any(|c| c.is_control() && c != '\n'), "no raw control character");
    }
}

/// A key that is not the event's cart: the record is rejected, with a
/// reason quoting both.
fn raw_key(carts: &[String]) -> String {
    format!("{}{}", carts[1], HOSTILE[2])
}
