//! Rendering cart views: the seed's text format. Every name read from the
//! log goes through [`crate::text::name`].

use super::projection::{CartStateView, RevenueView, UnitsSoldView};
use super::scenario::CanonicalRun;
use crate::domain::{AnyView, Rejected};
use crate::text::name;
use std::fmt::{Display, Write};

/// `cart-1: 7 items, total $125.43` then `  Widget x3 @ $9.99 = $29.97` lines.
pub fn cart_state_text(view: &CartStateView) -> String {
    let mut out = String::new();
    for (id, cart) in &view.carts {
        let _ = writeln!(out, "{}: {} items, total {}", name(id), cart.item_count(), cart.total());
        for line in &cart.lines {
            let _ = writeln!(out, "  {} x{} @ {} = {}", name(&line.item), line.qty, line.unit_price, line.total());
        }
    }
    out
}

/// `cart-1 (checked out): $125.43` lines then `Total revenue: $266.68`.
pub fn revenue_text(view: &RevenueView) -> String {
    let mut out = String::new();
    for (id, total) in &view.carts {
        let _ = writeln!(out, "{} (checked out): {total}", name(id));
    }
    let _ = writeln!(out, "Total revenue: {}", view.total_cents);
    out
}

/// `Widget: 3 units` lines then `Total units sold: 62`.
pub fn units_sold_text(view: &UnitsSoldView) -> String {
    let mut out = String::new();
    for (item, units) in &view.items {
        let _ = writeln!(out, "{}: {units} units", name(item));
    }
    let _ = writeln!(out, "Total units sold: {}", view.total_units);
    out
}

/// Any cart projection's view as text; a view this module has no format
/// for (a projection registered without one) is printed as JSON.
pub fn view_text(view: &AnyView) -> String {
    if let Some(view) = view.downcast_ref::<CartStateView>() {
        cart_state_text(view)
    } else if let Some(view) = view.downcast_ref::<RevenueView>() {
        revenue_text(view)
    } else if let Some(view) = view.downcast_ref::<UnitsSoldView>() {
        units_sold_text(view)
    } else {
        view.to_json_pretty() + "\n"
    }
}

/// A projection's title from its group id: `cart-state` is "cart state".
pub fn title(group_id: &str) -> String {
    name(group_id).replace('-', " ")
}

/// `text` with its first letter in upper case: "Cart state".
pub fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// One line per rejected record, or nothing.
pub fn rejected_text<R: Display>(rejected: &[Rejected<R>]) -> String {
    let mut out = String::new();
    if !rejected.is_empty() {
        let _ = writeln!(out, "Rejected {} records:", rejected.len());
        for r in rejected {
            let _ = writeln!(out, "  {r}");
        }
    }
    out
}

/// The main job's whole report, in the seed's format, with a section per
/// registered projection.
pub fn canonical_text(run: &CanonicalRun) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "Event-sourced cart on merkql: topic {}, {}",
        super::TOPIC,
        crate::text::count(run.partitions, "partition")
    );
    let _ = writeln!(w, "Produced {} events.", run.first_batch);
    for (number, projection) in run.projections.iter().enumerate() {
        let _ = writeln!(w);
        let _ = writeln!(
            w,
            "Projection {} - {} (group {})",
            number + 1,
            title(&projection.group_id),
            name(&projection.group_id)
        );
        let _ = writeln!(w, "Polled {} records.", projection.first.report.delivered.len());
        w.push_str(&rejected_text(&projection.first.report.rejected));
        w.push_str(&view_text(&projection.first.view));
    }
    let _ = writeln!(w);
    let expected = run.new_positions.len();
    let _ = writeln!(w, "Produced {expected} new events.");
    let labels: Vec<String> =
        run.projections.iter().map(|p| format!("{} consumer:", capitalized(&title(&p.group_id)))).collect();
    let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    for (label, projection) in labels.iter().zip(&run.projections) {
        // The seed pads "Revenue consumer:" with three spaces: align the
        // shorter labels one column left of the longest, as it does.
        let padding = " ".repeat((width - label.chars().count()).max(1));
        let polled = projection.incremental.report.delivered.len();
        let _ = writeln!(w, "{label}{padding}Polled {polled} new records (expected {expected}).");
    }
    for projection in &run.projections {
        let _ = writeln!(w);
        let _ = writeln!(w, "Updated {}:", title(&projection.group_id));
        w.push_str(&view_text(&projection.incremental.view));
    }
    out
}
