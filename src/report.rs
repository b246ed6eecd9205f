//! Rendering views: the seed's text format.

use crate::event::Rejected;
use crate::projection::{CartStateView, RevenueView};
use crate::scenario::CanonicalRun;
use std::fmt::Write;

/// A cart id or item name as printed: as is, unless it holds control
/// characters (a newline could forge a report line), then quoted and escaped.
pub fn name(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) { format!("{text:?}").into() } else { text.into() }
}

/// `cart-1: 7 items, total $125.43` then `  Widget x3 @ $9.99 = $29.97` lines.
pub fn cart_state_text(view: &CartStateView) -> String {
    let mut out = String::new();
    for (id, cart) in &view.carts {
        writeln!(out, "{}: {} items, total {}", name(id), cart.item_count(), cart.total()).unwrap();
        for line in &cart.lines {
            writeln!(out, "  {} x{} @ {} = {}", name(&line.item), line.qty, line.unit_price, line.total()).unwrap();
        }
    }
    out
}

/// `cart-1 (checked out): $125.43` lines then `Total revenue: $266.68`.
pub fn revenue_text(view: &RevenueView) -> String {
    let mut out = String::new();
    for (id, total) in &view.carts {
        writeln!(out, "{} (checked out): {total}", name(id)).unwrap();
    }
    writeln!(out, "Total revenue: {}", view.total_cents).unwrap();
    out
}

/// One line per rejected record, or nothing.
pub fn rejected_text(rejected: &[Rejected]) -> String {
    let mut out = String::new();
    if !rejected.is_empty() {
        writeln!(out, "Rejected {} records:", rejected.len()).unwrap();
        for r in rejected {
            writeln!(out, "  {r}").unwrap();
        }
    }
    out
}

/// The main job's whole report, in the seed's format.
pub fn canonical_text(run: &CanonicalRun) -> String {
    let mut out = String::new();
    let w = &mut out;
    writeln!(w, "Event-sourced cart on merkql: topic cart-events, {} partitions", run.partitions).unwrap();
    writeln!(w, "Produced {} events.", run.first_batch).unwrap();
    writeln!(w).unwrap();
    writeln!(w, "Projection 1 - cart state (group cart-state)").unwrap();
    writeln!(w, "Polled {} records.", run.cart_state.report.delivered.len()).unwrap();
    w.push_str(&rejected_text(&run.cart_state.report.rejected));
    w.push_str(&cart_state_text(&run.cart_state.view));
    writeln!(w).unwrap();
    writeln!(w, "Projection 2 - revenue (group revenue)").unwrap();
    writeln!(w, "Polled {} records.", run.revenue.report.delivered.len()).unwrap();
    w.push_str(&rejected_text(&run.revenue.report.rejected));
    w.push_str(&revenue_text(&run.revenue.view));
    writeln!(w).unwrap();
    let expected = run.new_positions.len();
    writeln!(w, "Produced {expected} new events.").unwrap();
    writeln!(
        w,
        "Cart state consumer: Polled {} new records (expected {expected}).",
        run.cart_state_incremental.report.delivered.len()
    )
    .unwrap();
    writeln!(
        w,
        "Revenue consumer:   Polled {} new records (expected {expected}).",
        run.revenue_incremental.report.delivered.len()
    )
    .unwrap();
    writeln!(w).unwrap();
    writeln!(w, "Updated cart state:").unwrap();
    w.push_str(&cart_state_text(&run.cart_state_incremental.view));
    writeln!(w).unwrap();
    writeln!(w, "Updated revenue:").unwrap();
    w.push_str(&revenue_text(&run.revenue_incremental.view));
    out
}
