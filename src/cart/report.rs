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

pub use crate::cli::replay_report::{capitalized, title};

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

/// A step heading in the seed's layout: `--- Step 4: Projection 1 — Cart state ---`.
fn heading(w: &mut String, step: &str, title: &str) {
    let _ = writeln!(w, "--- {step}: {title} ---");
}

/// The seed's step number for the report of projection `index` (from 0):
/// the seed's two projections are steps 4 and 5; projections it does not
/// have (units sold) follow step 5 as 5b, 5c, ... so that every other step
/// keeps the seed's number and the two documents read side by side.
fn projection_step(index: usize) -> String {
    match index {
        0 => "Step 4".to_string(),
        1 => "Step 5".to_string(),
        extra => match u8::try_from(extra - 1).ok().filter(|n| *n < 26) {
            Some(n) => format!("Step 5{}", char::from(b'a' + n)),
            None => format!("Step 5.{extra}"),
        },
    }
}

/// A projection's name in a step heading: the seed calls the revenue
/// projection "Revenue report"; others are their capitalized title.
fn projection_heading(group_id: &str) -> String {
    match group_id {
        super::projection::Revenue::GROUP_ID => "Revenue report".to_string(),
        other => capitalized(&title(other)),
    }
}

/// The main job's whole report in the seed's layout: its step headings,
/// its lines and its indentation, with a section per registered
/// projection. Step 1 (defining the event types) prints nothing in the
/// seed, so it has no heading here either.
pub fn canonical_text(run: &CanonicalRun) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "Event-sourced cart on {}: topic {}, {}",
        run.backend,
        crate::text::name(&run.topic),
        crate::text::count(run.partitions, "partition")
    );
    let _ = writeln!(w);
    heading(w, "Steps 2\u{2013}3", "Produce cart events");
    let _ = writeln!(w, "Produced {} events.", run.first_batch);
    for (index, projection) in run.projections.iter().enumerate() {
        let _ = writeln!(w);
        let title = format!("Projection {} \u{2014} {}", index + 1, projection_heading(&projection.group_id));
        heading(w, &projection_step(index), &title);
        let _ = writeln!(w, "Polled {} records.", projection.first.report.delivered.len());
        w.push_str(&rejected_text(&projection.first.report.rejected));
        w.push_str(&view_text(&projection.first.view));
    }
    let _ = writeln!(w);
    heading(w, "Step 6", "Produce incremental events");
    let expected = run.new_positions.len();
    let _ = writeln!(w, "Produced {expected} new events.");
    let _ = writeln!(w);
    heading(w, "Step 7", "Incremental projection updates");
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
    let _ = writeln!(w);
    heading(w, "Step 8", "Updated projections");
    for (index, projection) in run.projections.iter().enumerate() {
        if index > 0 {
            let _ = writeln!(w);
        }
        let _ = writeln!(w, "Updated {}:", title(&projection.group_id));
        w.push_str(&view_text(&projection.incremental.view));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projections_keep_the_seed_step_numbers_and_extra_ones_follow_step_5() {
        let steps: Vec<String> = [0, 1, 2, 3, 26, 27].into_iter().map(projection_step).collect();
        assert_eq!(steps, ["Step 4", "Step 5", "Step 5b", "Step 5c", "Step 5z", "Step 5.27"]);
    }

    #[test]
    fn the_revenue_projection_is_the_seed_revenue_report() {
        assert_eq!(projection_heading("revenue"), "Revenue report");
        assert_eq!(projection_heading("cart-state"), "Cart state");
        assert_eq!(projection_heading("units-sold"), "Units sold");
    }
}
