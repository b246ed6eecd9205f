//! The views that differ, side by side: what was expected (the model's
//! view, the full replay's, the incremental group's, arrival order's) on
//! the left, what the group built on the right, line by line of their
//! pretty JSON, the differing lines marked.

use super::html::{Page, text};
use crate::domain::{AnyView, Domain};
use crate::verify::check::Violation;
use crate::verify::execute::Execution;

/// Pairs of views shown on one page; more are named, not drawn.
pub const MAX_PAIRS: usize = 12;

/// Equal lines kept on each side of a change; longer equal runs fold.
const CONTEXT_LINES: usize = 3;

/// Rows drawn for one pair; the rest are counted (a stopped group's view
/// of a big history differs from the model's in thousands of lines).
pub const MAX_ROWS_PER_PAIR: usize = 400;

/// Two views to compare, and why they are compared.
pub struct Pair<'a> {
    pub left_name: String,
    pub left: &'a AnyView,
    pub right_name: String,
    pub right: &'a AnyView,
    /// What it shows: the violation, or that the group stopped.
    pub why: String,
    /// Whether a violation names it (else the run excuses it).
    pub violation: bool,
}

/// The pairs the violations name, then every group whose view differs
/// from the model's (a stopped group's, or one the violations shown
/// already explain), each pair once.
pub fn pairs<'a, D: Domain>(execution: &'a Execution<D>, violations: &[Violation]) -> Vec<Pair<'a>> {
    let trace = |group: &str| execution.traces().find(|t| t.group_id == group);
    let of_kind = |traces: &'a [crate::verify::execute::Trace<D::Rejection>], projection: &str| {
        traces.iter().find(|t| t.projection == projection)
    };
    let mut pairs: Vec<Pair<'a>> = Vec::new();
    let model = |group: &str| {
        let trace = trace(group)?;
        let expected = execution.model.views.get(&trace.projection)?;
        Some((expected, trace))
    };
    for violation in violations {
        let why = format!("violation: {}", violation.property());
        let pair = match violation {
            Violation::ModelMismatch { group, .. } | Violation::SilentDivergence { group, .. } => {
                model(group).map(|(expected, trace)| Pair {
                    left_name: "model".into(),
                    left: expected,
                    right_name: trace.group_id.clone(),
                    right: &trace.view,
                    why,
                    violation: true,
                })
            }
            Violation::SplitMismatch { projection, .. } => of_kind(&execution.full, projection)
                .zip(of_kind(&execution.incremental, projection))
                .map(|(full, split)| Pair {
                    left_name: full.group_id.clone(),
                    left: &full.view,
                    right_name: split.group_id.clone(),
                    right: &split.view,
                    why,
                    violation: true,
                }),
            Violation::LateGroupMismatch { projection, .. } => execution
                .late
                .as_deref()
                .and_then(|late| of_kind(late, projection))
                .zip(of_kind(&execution.incremental, projection))
                .map(|(late, incremental)| Pair {
                    left_name: incremental.group_id.clone(),
                    left: &incremental.view,
                    right_name: late.group_id.clone(),
                    right: &late.view,
                    why,
                    violation: true,
                }),
            Violation::PartitionOrder { projection, order, .. } => {
                let view_of = |fold: &'a crate::verify::execute::BlockOrderFold| {
                    fold.views.iter().find(|(name, _)| name == projection).map(|(_, view)| view)
                };
                let arrival = execution.block_orders.first().and_then(view_of);
                let other = execution.block_orders.iter().find(|f| &f.partitions == order).and_then(view_of);
                arrival.zip(other).map(|(arrival, other)| Pair {
                    left_name: format!("{projection}, partitions in arrival order"),
                    left: arrival,
                    right_name: format!("{projection}, partitions in order {order:?}"),
                    right: other,
                    why,
                    violation: true,
                })
            }
            _ => None,
        };
        pairs.extend(pair);
    }
    for trace in execution.traces() {
        let Some(expected) = execution.model.views.get(&trace.projection) else { continue };
        let shown = pairs.iter().any(|p| p.right_name == trace.group_id && p.left_name == "model");
        if shown || &trace.view == expected {
            continue;
        }
        let why = match &trace.stopped {
            Some(stop) => format!("the group stopped in phase {} with {}", stop.phase, stop.anomaly),
            None => "the group's view differs from the model's".into(),
        };
        pairs.push(Pair {
            left_name: "model".into(),
            left: expected,
            right_name: trace.group_id.clone(),
            right: &trace.view,
            why,
            violation: false,
        });
    }
    pairs
}

/// Writes the pairs, each as a two-column table of their JSON lines.
pub fn write(page: &mut Page, pairs: &[Pair<'_>]) {
    if pairs.is_empty() {
        page.markup("<p>Every group's view equals the model's.</p>");
        return;
    }
    for pair in pairs.iter().take(MAX_PAIRS) {
        // A pair a violation names is open; one the run excuses (a group
        // that stopped) is folded, one click away.
        let open = if pair.violation { " open" } else { "" };
        page.format(format_args!(
            "<details class=\"pair\"{open}><summary><h3>{} <span class=\"vs\">vs</span> {}</h3> <span class=\"why\">{}</span></summary>",
            text(&pair.left_name),
            text(&pair.right_name),
            text(&pair.why)
        ));
        page.format(format_args!(
            "<table class=\"diff\"><thead><tr><th></th><th>{} (expected)</th><th>{}</th></tr></thead><tbody>",
            text(&pair.left_name),
            text(&pair.right_name)
        ));
        side_by_side(page, &pair.left.to_json_pretty(), &pair.right.to_json_pretty());
        page.markup("</tbody></table></details>");
    }
    if pairs.len() > MAX_PAIRS {
        page.markup("<p>Also differing: ");
        let rest: Vec<String> =
            pairs[MAX_PAIRS..].iter().map(|p| format!("{} vs {}", text(&p.left_name), text(&p.right_name))).collect();
        page.markup(&rest.join(", "));
        page.markup(".</p>");
    }
}

/// The rows of two texts aligned by a line diff: equal lines side by
/// side, removed lines left, added lines right, changed lines paired; at
/// most [`MAX_ROWS_PER_PAIR`], then a count of the lines left out.
fn side_by_side(page: &mut Page, left: &str, right: &str) {
    let old: Vec<&str> = left.lines().collect();
    let new: Vec<&str> = right.lines().collect();
    if old == new {
        page.markup(
            "<tr class=\"same\"><td></td><td colspan=\"2\">the two views are unequal but print the same JSON</td></tr>",
        );
    }
    let mut rows = Rows { page, drawn: 0, left_out: 0 };
    let ops = similar::capture_diff_slices(similar::Algorithm::Myers, &old, &new);
    let last = ops.len().saturating_sub(1);
    for (index, op) in ops.iter().enumerate() {
        match *op {
            similar::DiffOp::Equal { old_index, len, .. } => {
                let lines = &old[old_index..old_index + len];
                let keep_head = if index == 0 { 0 } else { CONTEXT_LINES };
                let keep_tail = if index == last { 0 } else { CONTEXT_LINES };
                if len > keep_head + keep_tail + 1 {
                    lines[..keep_head].iter().for_each(|line| rows.same(line));
                    rows.fold(len - keep_head - keep_tail);
                    lines[len - keep_tail..].iter().for_each(|line| rows.same(line));
                } else {
                    lines.iter().for_each(|line| rows.same(line));
                }
            }
            similar::DiffOp::Delete { old_index, old_len, .. } => {
                for line in &old[old_index..old_index + old_len] {
                    rows.changed(Some(line), None);
                }
            }
            similar::DiffOp::Insert { new_index, new_len, .. } => {
                for line in &new[new_index..new_index + new_len] {
                    rows.changed(None, Some(line));
                }
            }
            similar::DiffOp::Replace { old_index, old_len, new_index, new_len } => {
                for row in 0..old_len.max(new_len) {
                    let left = (row < old_len).then(|| old[old_index + row]);
                    let right = (row < new_len).then(|| new[new_index + row]);
                    rows.changed(left, right);
                }
            }
        }
    }
    if rows.left_out > 0 {
        let left_out = rows.left_out;
        rows.page.format(format_args!(
            "<tr class=\"fold\"><td></td><td colspan=\"2\">… {left_out} more rows not drawn (a page draws {MAX_ROWS_PER_PAIR} per pair)</td></tr>"
        ));
    }
}

/// The rows of one pair, counted against [`MAX_ROWS_PER_PAIR`].
struct Rows<'p> {
    page: &'p mut Page,
    drawn: usize,
    left_out: usize,
}

impl Rows<'_> {
    /// Whether one more row may be drawn (else it is counted).
    fn room(&mut self) -> bool {
        if self.drawn < MAX_ROWS_PER_PAIR {
            self.drawn += 1;
            true
        } else {
            self.left_out += 1;
            false
        }
    }

    fn same(&mut self, line: &str) {
        if self.room() {
            let line = text(line);
            self.page.format(format_args!("<tr class=\"same\"><td></td><td>{line}</td><td>{line}</td></tr>"));
        }
    }

    fn fold(&mut self, lines: usize) {
        if self.room() {
            self.page.format(format_args!(
                "<tr class=\"fold\"><td></td><td colspan=\"2\">… {lines} equal lines …</td></tr>"
            ));
        }
    }

    fn changed(&mut self, left: Option<&str>, right: Option<&str>) {
        if !self.room() {
            return;
        }
        let cell = |class: &str, line: Option<&str>| match line {
            Some(line) => format!("<td class=\"{class}\">{}</td>", text(line)),
            None => "<td class=\"gap\"></td>".to_string(),
        };
        self.page.format(format_args!(
            "<tr class=\"changed\"><td class=\"mark\">≠</td>{}{}</tr>",
            cell("del", left),
            cell("ins", right)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(left: &str, right: &str) -> String {
        let mut page = Page::default();
        side_by_side(&mut page, left, right);
        page.into_string()
    }

    #[test]
    fn changed_lines_are_paired_and_long_equal_runs_fold() {
        let left = "a\nb\nc\nd\ne\nf\ng\nh\nx\n";
        let right = "a\nb\nc\nd\ne\nf\ng\nh\ny\nz\n";
        let html = rows_of(left, right);
        assert!(html.contains("<td class=\"mark\">≠</td><td class=\"del\">x</td><td class=\"ins\">y</td>"), "{html}");
        assert!(html.contains("<td class=\"mark\">≠</td><td class=\"gap\"></td><td class=\"ins\">z</td>"), "{html}");
        assert!(html.contains("… 5 equal lines …"), "the run before the change folds to its last 3: {html}");
        assert!(html.contains("<td>f</td><td>f</td>") && !html.contains("<td>e</td>"), "{html}");
    }

    #[test]
    fn an_equal_run_between_changes_keeps_three_lines_each_side() {
        let equal: String = (0..10).map(|i| format!("e{i}\n")).collect();
        let html = rows_of(&format!("a\n{equal}b\n"), &format!("A\n{equal}B\n"));
        assert!(html.contains("… 4 equal lines …"), "{html}");
        assert!(html.contains("<td>e2</td>") && !html.contains("<td>e3</td>") && html.contains("<td>e7</td>"));
        let seven: String = (0..7).map(|i| format!("e{i}\n")).collect();
        let html = rows_of(&format!("a\n{seven}b\n"), &format!("A\n{seven}B\n"));
        assert!(!html.contains("equal lines"), "a run of seven is shown whole: {html}");
    }

    #[test]
    fn added_lines_are_marked_on_the_right() {
        let html = rows_of("a\nb\nc\n", "a\nb\nc\nx\ny\n");
        assert!(html.contains("<td class=\"gap\"></td><td class=\"ins\">x</td>"), "{html}");
        assert!(html.contains("<td class=\"gap\"></td><td class=\"ins\">y</td>"), "{html}");
    }

    #[test]
    fn removed_lines_are_marked_on_the_left() {
        let html = rows_of("a\nb\nc\nx\ny\n", "a\nb\nc\n");
        assert!(html.contains("<td class=\"del\">x</td><td class=\"gap\"></td>"), "{html}");
        assert!(html.contains("<td class=\"del\">y</td><td class=\"gap\"></td>"), "{html}");
    }

    #[test]
    fn a_pair_draws_a_bounded_number_of_rows_and_counts_the_rest() {
        let left: String = (0..1000).map(|i| format!("l{i}\n")).collect();
        let html = rows_of(&left, "");
        assert_eq!(html.matches("<tr class=\"changed\">").count(), MAX_ROWS_PER_PAIR);
        assert!(html.contains(&format!("… {} more rows not drawn", 1000 - MAX_ROWS_PER_PAIR)), "{html}");
    }
}
